"""docs/architecture.md names every module of every layer, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
LAYERS = {  # section heading fragment -> the package folder its table describes
    "## Core": ROOT / "core" / "kubeplan" / "core",
    "## Adapters": ROOT / "adapters" / "kubeplan" / "adapters",
    "## Testkit": ROOT / "testkit" / "kubeplan" / "testkit",
    "## The command": ROOT / "cli" / "kubeplan",
}


def _sections() -> dict[str, str]:
    text = DOC.read_text()
    found: dict[str, str] = {}
    for heading in LAYERS:
        start = text.index(heading)
        end = text.find("\n## ", start + 1)
        found[heading] = text[start:end if end != -1 else None]
    return found


@pytest.mark.parametrize("heading", list(LAYERS))
def test_every_module_is_on_the_map(heading: str) -> None:
    section = _sections()[heading]
    named = set(re.findall(r"`([\w/]+\.py)`", section))
    package = LAYERS[heading]
    modules = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    assert modules - named == set(), f"{heading}: modules missing from docs/architecture.md"
    assert named - modules == set(), f"{heading}: docs/architecture.md names modules that are gone"
