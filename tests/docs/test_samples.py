"""Runs the code samples of README.md and docs/*.md that are marked runnable.

A fenced ``python`` block right after a ``<!-- test -->`` line is runnable. The runnable
blocks of one file run in order in one namespace (a later block uses what an earlier one
defined), so each file is one test; a failure names the file and the block's line.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- test -->"
BLOCK = re.compile(r"^<!-- test -->\n```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
# docs/testing.md runs its samples in tests/docs/test_testing_guide.py
FILES = [ROOT / "README.md", ROOT / "docs" / "guide.md"]


def runnable_blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    blocks = [(text.count("\n", 0, m.start()) + 3, m.group(1)) for m in BLOCK.finditer(text)]
    assert len(blocks) == text.count(MARK), f"{path.name}: a {MARK} mark not followed by a block"
    return blocks


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_runnable_samples_run(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a real module, so that classes defined by the samples resolve their annotations
    module = types.ModuleType(f"kubeplan_sample_{path.stem}")
    sys.modules[module.__name__] = module
    try:
        for line, source in runnable_blocks(path):
            code = compile(source, f"{path.name}:{line}", "exec")
            exec(code, module.__dict__)
    finally:
        del sys.modules[module.__name__]
    capsys.readouterr()


def test_the_readme_and_guide_have_runnable_samples() -> None:
    assert len(runnable_blocks(ROOT / "README.md")) >= 2
    assert len(runnable_blocks(ROOT / "docs" / "guide.md")) >= 8


def test_the_readme_set_up_commands_are_the_two_documented_ones() -> None:
    text = (ROOT / "README.md").read_text()
    layers = "pip install -e ./core -e ./adapters -e ./testkit"
    assert ("python3 -m venv .venv && . .venv/bin/activate && "
            f"{layers} -e . && kubeplan demo") in text
    assert ("python3 -m venv .venv && . .venv/bin/activate && "
            f"{layers} -e '.[test]' && python -m pytest -q") in text
    # every distribution in the checkout is among those the set-up installs
    distributions = {p.parent.name for p in ROOT.glob("*/pyproject.toml")}
    assert distributions == {"core", "adapters", "testkit"}


def test_the_readme_plan_output_is_what_kubeplan_plan_prints(capsys) -> None:
    from kubeplan.cli import main

    text = (ROOT / "README.md").read_text()
    shown = text.split("$ kubeplan plan examples/echo-server/echo_server_operator.py:operator "
                       "-f examples/echo-server/echoserver.yaml\n", 1)[1].split("```", 1)[0]
    code = main(["plan", f"{ROOT}/examples/echo-server/echo_server_operator.py:operator",
                 "-f", str(ROOT / "examples/echo-server/echoserver.yaml")])
    assert code == 2
    assert capsys.readouterr().out == shown
