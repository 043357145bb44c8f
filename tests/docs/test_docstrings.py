"""Library docstrings quote no measured figures: those live only in docs/benchmarks.md.

A docstring that says "costs 15 ms" or "20x faster" is true on the day it was measured
and goes stale without anyone noticing; the reason (slow to import, far cheaper) stays
true. Settings and protocol values ("a 15 s lease", "the default 5 % of fault steps")
are not measurements and are not matched.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = [ROOT / "core" / "kubeplan", ROOT / "adapters" / "kubeplan",
             ROOT / "testkit" / "kubeplan", ROOT / "cli" / "kubeplan"]
_COST = r"[\w'\s]*?\b(CPU|time|request|GET|start-up|size|work)\b"
FIGURE = re.compile(
    r"\b\d[\d.,]*\s?(ms|µs|us|ns|KB|MB|GB)\b"  # a time or a size
    r"|\b\d[\d.]*\s?s (to import|of CPU)\b"  # seconds spent
    r"|~?\b\d[\d.]*x\b(?!\w)"  # a ratio: 20x, ~50x
    r"|\bprofiled\b"
    rf"|\d\s?%\s+of\s+(an|the)\s{_COST}"  # a share of the cost, in figures
    rf"|\b(a\s+(third|fifth|quarter)|half)\s+of\s+(an|the)\s{_COST}",  # or in words
)


def figures(text: str) -> list[str]:
    return [m.group(0) for m in FIGURE.finditer(text)]


def _docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                found.append((node.body[0].lineno, doc))
    return found


def test_the_pattern_finds_figures_and_leaves_settings_alone() -> None:
    assert figures("costs 15 ms to import, 0.35 s of CPU") == ["15 ms", "0.35 s of CPU"]
    assert figures("about 20x more; orjson is ~50x faster") == ["20x", "~50x"]
    assert figures("(profiled: a third)") == ["profiled"]
    assert figures("was 8% of an operator's CPU") == ["8% of an operator's CPU"]
    assert figures("about half of an object's size") == ["half of an object's size"]
    assert figures("took a\nfifth of the operator's CPU") == ["a\nfifth of the operator's CPU"]
    assert figures("aiohttp alone takes 0.1 s to import") == ["0.1 s to import"]
    assert figures("a 15 s lease; the default 5 % of fault steps; 0x1f; k8s.io") == []


def test_library_docstrings_quote_no_figures() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {found}"
        for library in LIBRARIES
        for path in sorted(library.rglob("*.py"))
        if "gomod" not in path.parts
        for line, doc in _docstrings(path)
        if (found := figures(doc))
    ]
    assert offenders == [], "figures belong in docs/benchmarks.md:\n" + "\n".join(offenders)
