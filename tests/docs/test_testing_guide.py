"""Every python sample in docs/testing.md runs, in order, in one namespace.

A sample whose first line is ``# <path>`` is instead a literal excerpt of that (tested)
file, and must appear in it verbatim.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "testing.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    return _BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_has_samples() -> None:
    assert len(_blocks()) >= 6


def test_every_sample_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPLAN_FAILURES_DIR", str(tmp_path))  # the failing sample saves
    namespace: dict[str, object] = {"__name__": "testing_guide"}
    for index, block in enumerate(_blocks()):
        first = block.splitlines()[0]
        if first.startswith("# ") and first[2:].endswith(".py"):
            source = (ROOT / first[2:].strip()).read_text(encoding="utf-8")
            excerpt = block.split("\n", 1)[1]
            assert excerpt in source, f"sample #{index + 1} is not a copy of {first[2:]}"
            continue
        code = compile(block, f"{GUIDE.name} sample #{index + 1}", "exec")
        exec(code, namespace)
