"""The list of known differences stays true: every entry of an area that ran in full
this session matched something (run last: ``conftest`` moves this test to the end)."""

from __future__ import annotations

import pytest
from diff_report import collector_of


def test_every_listed_difference_still_occurs(request: pytest.FixtureRequest) -> None:
    collector = collector_of(request.config)
    complete = collector.complete_areas()
    if not complete:
        pytest.skip("no area of the differential suite ran in full in this session")
    stale = collector.stale()
    assert not stale, (
        f"{len(stale)} entr{'y' if len(stale) == 1 else 'ies'} of "
        "tests/differential/known_differences.yaml no longer match any difference "
        "(fixed in the fake? remove the entry):\n"
        + "\n".join(f"  {k.describe()}: {k.why}" for k in stale))
