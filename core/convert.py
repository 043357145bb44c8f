"""Between Kubernetes JSON (camelCase keys) and the user's attrs classes (snake_case fields).

One module-level cattrs ``Converter`` does both directions. Its only convention: an attrs field
``observed_generation`` is the JSON key ``observedGeneration`` (a trailing underscore is dropped,
so ``continue_`` is ``continue``). Unstructuring leaves out fields whose value is None, because in
Kubernetes JSON an absent field and a null one mean the same thing and the server drops nulls
(a status that keeps a ``null`` would differ from the stored one on every pass).

Extra JSON keys are ignored when structuring: a spec usually has fields a handler does not model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

__all__ = ["camel_case", "converter", "structure", "unstructure"]

T = TypeVar("T")


@cache
def camel_case(field_name: str) -> str:
    """``observed_generation`` -> ``observedGeneration``; ``continue_`` -> ``continue``."""
    head, *rest = field_name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _renames(cls: type) -> dict[str, Any]:
    return {
        a.name: override(rename=camel_case(a.name))
        for a in attrs.fields(cls)
        if camel_case(a.name) != a.name
    }


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)

    def unstructure_factory(cls: type) -> Callable[[Any], dict[str, Any]]:
        try:
            base = make_dict_unstructure_fn(cls, conv, **_renames(cls))
        except NameError:
            # Annotations that cannot be resolved (a class defined inside a function under
            # ``from __future__ import annotations``): go by the values' runtime types.
            names = [(a.name, camel_case(a.name)) for a in attrs.fields(cls)]

            def base(value: Any) -> dict[str, Any]:
                return {key: conv.unstructure(getattr(value, name)) for name, key in names}

        def unstructure_without_nones(value: Any) -> dict[str, Any]:
            return {k: v for k, v in base(value).items() if v is not None}

        return unstructure_without_nones

    def structure_factory(cls: type) -> Callable[[Any, Any], Any]:
        return make_dict_structure_fn(cls, conv, **_renames(cls))

    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    conv.register_structure_hook_factory(attrs.has, structure_factory)
    return conv


converter: cattrs.Converter = _make_converter()
"""The converter behind ``SyncRequest.spec_as`` and the unstructuring of attrs responses."""


def structure(value: Any, cls: type[T], conv: cattrs.Converter | None = None) -> T:
    return (conv or converter).structure(value, cls)


def unstructure(value: Any, conv: cattrs.Converter | None = None) -> Any:
    return (conv or converter).unstructure(value)
