"""kubeplan.testkit's exports: loaded on first use, yet typed for type checkers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import kubeplan.testkit as testkit

INIT = Path(testkit.__file__)


def _type_checking_imports() -> dict[str, str]:
    """name -> the module the ``if TYPE_CHECKING:`` block imports it from."""
    tree = ast.parse(INIT.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    found[alias.asname or alias.name] = statement.module or ""
    return found


def test_all_names_every_export_and_type_checkers_see_each_one() -> None:
    exports = testkit._EXPORTS
    assert sorted(testkit.__all__) == sorted(exports)
    expected = {name: "kubeplan.testkit" + (f".{module}" if module else "")
                for name, module in exports.items()}
    assert _type_checking_imports() == expected


def test_every_export_resolves_to_the_object_of_its_module() -> None:
    import importlib

    for name, module in testkit._EXPORTS.items():
        if module:
            owner = importlib.import_module(f"kubeplan.testkit.{module}")
            assert getattr(testkit, name) is getattr(owner, name), name


def test_importing_the_testkit_loads_none_of_its_exports() -> None:
    code = ("import sys, kubeplan.testkit, kubeplan.testkit.apiserver; "
            "sys.exit(' '.join(m for m in ('hypothesis', 'kubeplan.testkit.check', "
            "'kubeplan.testkit.runner', 'kubeplan.testkit.strategies') if m in sys.modules) "
            "or None)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
