"""Every error kubeplan raises on purpose derives from ``KubeplanError`` (issue 16): a caller
can catch kubeplan's errors in one clause, and still catch the built-in base each keeps
(``ValueError``, ``TypeError``, ``AssertionError``, ...).

Two checks over every module of the four layers: each exception class they define (by a
public name) derives from ``KubeplanError``, and no ``raise`` statement raises a built-in
exception class itself, apart from the few where a protocol demands exactly that built-in
(listed below, each with its reason)."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from kubeplan.core.errors import KubeplanError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kubeplan.core", "kubeplan.adapters", "kubeplan.testkit", "kubeplan.commands")
SOURCES = [ROOT / "core/kubeplan", ROOT / "adapters/kubeplan", ROOT / "testkit/kubeplan",
           ROOT / "cli/kubeplan"]

BUILTIN_EXCEPTIONS = {
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}

#: (built-in, the function it is raised in): where a protocol requires that very class
ALLOWED = {
    ("KeyError", "__getitem__"): "the Mapping protocol",
    ("AttributeError", "__getattr__"): "a module's lazy attributes (PEP 562)",
    ("TimeoutError", "send"): "the transport protocol: the client maps it to Timeout",
    ("TimeoutError", "start"): "an asyncio server's start-up bound, as asyncio.timeout says",
    ("SystemExit", "<module>"): "a script's exit code",
}


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")]
    return names


@pytest.mark.parametrize("name", _modules())
def test_every_exception_class_is_a_kubeplan_error(name: str) -> None:
    module = importlib.import_module(name)
    wrong = [
        cls.__name__ for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, BaseException)
        and cls.__module__ == name and not cls.__name__.startswith("_")
        and not issubclass(cls, KubeplanError)
    ]
    assert not wrong, f"{name}: {wrong} must derive from KubeplanError (keep the old base too)"


def _raised_builtins(path: Path) -> list[tuple[int, str, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Raise) and child.exc is not None:
                target = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                if isinstance(target, ast.Name) and target.id in BUILTIN_EXCEPTIONS:
                    found.append((child.lineno, target.id, function))
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_no_raise_of_a_builtin_exception() -> None:
    wrong = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            for line, name, function in _raised_builtins(path):
                if (name, function) not in ALLOWED:
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: raise {name} in {function}")
    assert not wrong, ("raise a KubeplanError subclass (InvalidArgument for a ValueError, "
                       "WrongArgumentType, UsageError, NoSuchEntry, or one of the module's "
                       "own):\n" + "\n".join(wrong))


def test_the_check_finds_a_builtin_raise(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(x):\n    if x:\n        raise ValueError('no')\n    raise KeyError(x)\n")
    assert _raised_builtins(sample) == [(3, "ValueError", "f"), (4, "KeyError", "f")]


def test_the_generic_errors_keep_their_builtin_base() -> None:
    from kubeplan.core.errors import InvalidArgument, NoSuchEntry, UsageError, WrongArgumentType

    for cls, base in ((InvalidArgument, ValueError), (WrongArgumentType, TypeError),
                      (UsageError, RuntimeError), (NoSuchEntry, LookupError)):
        assert issubclass(cls, KubeplanError) and issubclass(cls, base)
    from kubeplan.adapters.errors import ApiError, NotFound

    assert issubclass(NotFound, ApiError) and issubclass(ApiError, KubeplanError)
