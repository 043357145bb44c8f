"""Finding the operator a ``MODULE:ATTR`` argument names, with errors that say what to fix.

``MODULE`` is a dotted module path (``my_operator.main``) or a Python file
(``path/to/my_operator.py``); ``ATTR`` names an ``OperatorDefinition`` in it (dotted
attributes such as ``operators.widgets`` are followed). The current directory is put on
``sys.path`` first, as ``python -m`` does, so a module next to the user is found.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from types import ModuleType

from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import KubeplanError


class LoadError(KubeplanError):
    """The target could not be loaded; the message says why and what to do."""


def load_definition(target: str) -> OperatorDefinition:
    """The ``OperatorDefinition`` that ``target`` (``MODULE:ATTR``) names."""
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise LoadError(
            f"{target!r} is not MODULE:ATTR; write e.g. 'my_operator:operator' or "
            "'path/to/my_operator.py:operator'"
        )
    module = _import(module_part)
    value: object = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise LoadError(_missing_attribute(module, module_part, attr))
        value = getattr(value, part)
    if not isinstance(value, OperatorDefinition):
        raise LoadError(
            f"{target} is {_described(value)}, not an "
            "OperatorDefinition; wrap the operator as "
            "OperatorDefinition(config=OperatorConfig(...), handler=sync, ...) and name that"
        )
    return value


def _import(module_part: str) -> ModuleType:
    if _is_file(module_part):
        return _import_file(Path(module_part))
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        if exc.name and module_part.startswith(exc.name):
            raise LoadError(
                f"module {module_part!r} was not found (no {exc.name!r} on sys.path: "
                f"{sys.path}); run from the directory that holds it, set PYTHONPATH, or "
                "give a file path such as 'path/to/my_operator.py:ATTR'"
            ) from exc
        raise LoadError(f"importing {module_part!r} failed: {exc}") from exc
    except Exception as exc:
        raise LoadError(
            f"importing {module_part!r} raised {type(exc).__name__}: {exc}"
        ) from exc


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise LoadError(f"file {str(path)!r} does not exist (looked in {os.getcwd()})")
    # one module per file (two projects' files may share a name, say main.py), loaded
    # once: classes resolve their annotations through sys.modules, so a second load must
    # not replace it
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    name = f"_kubeplan_target_{re.sub(r'[^0-9a-zA-Z_]', '_', path.stem)}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(resolved):
        return loaded
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise LoadError(f"{str(path)!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # the file's own folder first, so its sibling modules import as they would when run
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise LoadError(f"importing {str(path)!r} raised {type(exc).__name__}: {exc}") from exc
    return module


def _described(value: object) -> str:
    """``a function``, ``an int``, ``a kubeplan.core.config.OperatorConfig``: what a
    value is, its module left out for built-in types."""
    kind = type(value)
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        name = "function"
    elif kind.__module__ == "builtins":
        name = kind.__qualname__
    else:
        name = f"{kind.__module__}.{kind.__qualname__}"
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _missing_attribute(module: ModuleType, module_part: str, attr: str) -> str:
    found = sorted(
        name for name, value in vars(module).items() if isinstance(value, OperatorDefinition)
    )
    hint = (
        f"its OperatorDefinitions are: {', '.join(found)}"
        if found
        else "it defines no OperatorDefinition at module level"
    )
    # a file's module has a made-up name: name the file as the user wrote it
    where = f"file {module_part!r}" if _is_file(module_part) else f"module {module_part!r}"
    return f"{where} has no attribute {attr!r}; {hint}"


def _is_file(module_part: str) -> bool:
    return module_part.endswith(".py") or os.sep in module_part or "/" in module_part
