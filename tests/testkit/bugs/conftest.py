"""The planted-bug operators beside this file import by plain name (``import bug_clock_status``);
failing scenarios are saved in the test's temporary folder, not in the working tree."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _failures_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "failures"
    monkeypatch.setenv("KUBEPLAN_FAILURES_DIR", str(folder))
    return folder
