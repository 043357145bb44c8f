"""kubeplan.core stays pure: no I/O libraries, no clock, nothing of ours outside the core.

Checked on the source (AST), so that an import hidden in a function or behind a condition is
caught too, and once at run time in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import kubeplan.core

CORE = Path(kubeplan.core.__file__).resolve().parent
MODULES = sorted(CORE.rglob("*.py"))
FORBIDDEN = ("asyncio", "kubernetes_asyncio", "aiohttp", "socket", "time")
CLOCK_READS = {"now", "utcnow", "today", "monotonic", "perf_counter", "time_ns"}


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("kubeplan", "core", *parts))


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, absolute (relative imports resolved against the file)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(
        ".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names
                         if target in ("kubeplan", "kubeplan.core"))
    return found


def test_the_core_has_modules() -> None:
    assert len(MODULES) > 10
    assert CORE / "planner.py" in MODULES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_no_io_imports_and_nothing_of_ours_outside_the_core(path: Path) -> None:
    for line, name in imported_names(path):
        top = name.split(".")[0]
        assert top not in FORBIDDEN, f"{path.name}:{line} imports {name}"
        if top == "kubeplan":
            assert name == "kubeplan.core" or name.startswith("kubeplan.core."), (
                f"{path.name}:{line} imports {name}, outside kubeplan.core"
            )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_no_clock_reads(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK_READS, (
                f"{path.name}:{node.lineno} reads the clock ({node.func.attr}); time is an input"
            )


def test_importing_the_core_loads_no_io_library() -> None:
    names = [module_name(path) for path in MODULES]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in ('asyncio', 'kubernetes_asyncio', 'aiohttp', 'socket', "
        "'deepdiff') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
