"""How server-side apply sees the fields of built-in types, taken from upstream's schema.

The real server drives structured-merge-diff with the OpenAPI schema generated from the
Go types of ``k8s.io/api`` (their ``+structType``/``+mapType``/``+listType``/
``+listMapKey`` markers). ``builtin_fields.json`` (package data) holds the part of that
schema apply needs, for the types the fake serves; it is regenerated from
``k8s.io/kubernetes@<version>/pkg/generated/openapi/zz_generated.openapi.go`` by::

    python -m kubeplan.testkit.apiserver.builtin_fields [path/to/zz_generated.openapi.go]

(default: the file in the Go module cache). The table, per model (``alias.Type``, e.g.
``corev1.ServiceSpec``), per field: ``t`` the shape (``struct``, ``map``, ``list``;
scalars are left out), ``m`` the model of the struct, of a list's items or of a map's
values, ``a`` 1 for an atomic struct or map (``x-kubernetes-map-type: atomic``, on the
field or on the model), ``l``/``k`` a list's ``x-kubernetes-list-type`` and
``x-kubernetes-list-map-keys``, ``d`` the schema defaults of those keys (a port's
``protocol: TCP``), ``ai`` 1 when a list's items are atomic structs, and ``z`` 1 when
the field is in the Go zero value of its parent (a non-pointer struct, which has
``default: {}``, or a required field, which has no ``omitempty``): such a node already
exists when a create starts, so its manager's entry carries no ``.`` for it.
``roots`` gives each kind's model by ``group/version/kind``.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from kubeplan.core.errors import InvalidArgument

__all__ = ["FieldNode", "atomic_names", "field_node", "has_kind", "regenerate"]

_DATA = "builtin_fields.json"


@attrs.frozen
class FieldNode:
    """One node of a built-in type: its shape and apply rules."""

    shape: str  # "struct" | "map" | "list"
    atomic: bool = False
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()
    key_defaults: tuple[tuple[str, Any], ...] = ()
    zero: bool = False
    items_atomic: bool = False


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files("kubeplan.testkit.apiserver").joinpath(_DATA).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def atomic_names() -> frozenset[str]:
    """The names of all fields that are atomic structs or maps (in any model): a quick
    "no" for every other field."""
    return frozenset(name for fields in _table()["models"].values()
                     for name, spec in fields.items() if spec.get("a"))


def has_kind(group: str, kind: str, version: str = "v1") -> bool:
    """Whether the table describes ``group``/``version``/``kind``."""
    return f"{group}/{version}/{kind}" in _table()["roots"]


@functools.lru_cache(maxsize=8192)
def field_node(group: str, kind: str, path: tuple[str, ...],
               version: str = "v1") -> FieldNode | None:
    """The node at ``path`` (field names, list items and map keys passed through) of a
    built-in kind; None for a scalar, an unknown field or kind."""
    table = _table()
    root = table["roots"].get(f"{group}/{version}/{kind}")
    if root is None:
        return None
    spec: dict[str, Any] = {"t": "struct", "m": root}
    for name in path:
        model = spec.get("m")
        if model is None:
            return None
        if spec["t"] == "map":  # ``name`` is a key: the node is the entry's value
            spec = {"t": "struct", "m": model}
            continue
        found = table["models"].get(model, {}).get(name)
        if found is None:
            return None
        spec = found
    if not path:
        return None
    return FieldNode(
        shape=spec["t"],
        atomic=bool(spec.get("a")),
        list_type=spec.get("l", "atomic"),
        keys=tuple(spec.get("k", ())),
        key_defaults=tuple(sorted((spec.get("d") or {}).items())),
        zero=bool(spec.get("z")),
        items_atomic=bool(spec.get("ai")),
    )


# --------------------------------------------------------------------------------------
# Regenerating the table from the Go source

_TOKEN = re.compile(
    r'"(?:\\.|[^"\\])*"|`[^`]*`|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|\.\w+|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[{}()\[\]:,&*]|\S'
)


class _Parser:
    """A reader of the Go composite literals in ``zz_generated.openapi.go``: structs
    and maps become dicts, slices lists, ``ref(x{}.OpenAPIModelName())`` ``{"$ref": x}``."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = _TOKEN.findall(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.i]
        if expected is not None and token != expected:
            raise InvalidArgument(f"expected {expected!r} at token {self.i}, got {token!r}")
        self.i += 1
        return token

    def skip_type(self) -> None:
        """A type before a literal's braces: ``spec.Schema``, ``[]string``, ``map[K]V``,
        ``[]interface{}``, ``&spec.Schema``."""
        while True:
            token = self.peek()
            if token in ("&", "*"):
                self.take()
            elif token == "[":
                self.take()
                self.take("]")
            elif token == "map":
                self.take()
                self.take("[")
                self.skip_type()
                self.take("]")
            elif token == "interface":
                self.take()
                self.take("{")
                self.take("}")
                return
            else:
                self.take()  # a (qualified) name
                return

    def value(self) -> Any:
        token = self.peek()
        if token.startswith('"'):
            self.take()
            return json.loads(token)
        if token.startswith("`"):
            self.take()
            return token[1:-1]
        if token[:1].isdigit() or token[:1] == "-":
            self.take()
            return float(token) if any(c in token for c in ".eE") else int(token)
        if token in ("true", "false"):
            self.take()
            return token == "true"
        if token == "nil":
            self.take()
            return None
        if token == "ref" and self.peek(1) == "(":
            self.take()
            self.take("(")
            name = self.take()
            if name.startswith('"'):
                model = json.loads(name)
            else:
                self.take("{")
                self.take("}")
                self.take(".OpenAPIModelName")
                self.take("(")
                self.take(")")
                model = name
            self.take(")")
            return {"$ref": model}
        if token == "{":  # an element literal with its type left out
            return self.literal()
        self.skip_type()
        if self.peek() == "{":
            return self.literal()
        while self.peek().startswith("."):  # a selector such as x.OpenAPIModelName()
            self.take()
            if self.peek() == "(":
                self.take()
                self.take(")")
        return {"$ident": token}

    def literal(self) -> Any:
        self.take("{")
        keyed: dict[str, Any] = {}
        items: list[Any] = []
        while self.peek() != "}":
            first = self.value()
            if self.peek() == ":":
                self.take()
                key = first if isinstance(first, str) else first.get("$ident", str(first))
                keyed[key] = self.value()
            else:
                items.append(first)
            if self.peek() == ",":
                self.take()
        self.take("}")
        return keyed if keyed or not items else items


def _definitions(text: str) -> tuple[dict[str, str], dict[str, dict[str, Any]], dict[str, str]]:
    """(import alias -> Go package, model -> schema, function -> model) of the file."""
    imports = dict(re.findall(r'^\t(\w+) "([^"]+)"$', text, re.M))
    functions = {
        fn: model
        for model, fn in re.findall(r"^\t\t(\w+\.\w+)\{\}\.OpenAPIModelName\(\):\s+(\w+)\(ref\),",
                                    text, re.M)
    }
    schemas: dict[str, dict[str, Any]] = {}
    starts = [(m.start(), m.group(1)) for m in
              re.finditer(r"^func (schema_\w+)\(ref common\.ReferenceCallback\)", text, re.M)]
    for n, (start, fn) in enumerate(starts):
        model = functions.get(fn)
        if model is None:
            continue
        end = starts[n + 1][0] if n + 1 < len(starts) else len(text)
        body = text[start:end]
        at = body.find("return common.OpenAPIDefinition{")
        if at < 0:
            continue
        parser = _Parser(body[at + len("return common.OpenAPIDefinition"):])
        try:
            definition = parser.literal()
        except (ValueError, IndexError):
            continue
        if isinstance(definition, dict) and isinstance(definition.get("Schema"), dict):
            schemas[model] = definition["Schema"]
    return imports, schemas, functions


def _props(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("SchemaProps") or {}
    return props if isinstance(props, dict) else {}


def _extensions(schema: dict[str, Any]) -> dict[str, Any]:
    vendor = schema.get("VendorExtensible") or {}
    ext = vendor.get("Extensions") if isinstance(vendor, dict) else None
    return ext if isinstance(ext, dict) else {}


def _type(props: dict[str, Any]) -> str:
    types = props.get("Type") or []
    return types[0] if isinstance(types, list) and types else ""


def _ref(props: dict[str, Any]) -> str | None:
    ref = props.get("Ref")
    return ref.get("$ref") if isinstance(ref, dict) else None


def _item_schema(props: dict[str, Any], key: str) -> dict[str, Any]:
    holder = props.get(key) or {}
    inner = holder.get("Schema") if isinstance(holder, dict) else None
    return inner if isinstance(inner, dict) else {}


def _field(schema: dict[str, Any], name: str, required: bool,
           schemas: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The table entry of one property (None for a scalar)."""
    props = _props(schema)
    ext = _extensions(schema)
    out: dict[str, Any]
    ref = _ref(props)
    kind = _type(props)
    if ref is not None:
        target = schemas.get(ref)
        if target is None or _type(_props(target)) not in ("object", ""):
            return None  # a scalar type (Quantity, Time, IntOrString...)
        if not _props(target).get("Properties") and _type(_props(target)) == "":
            return None  # a free-form value (RawExtension, JSON): atomic leaf
        out = {"t": "struct", "m": ref}
        if _extensions(target).get("x-kubernetes-map-type") == "atomic":
            out["a"] = 1
        if props.get("Default") == {} or required:
            out["z"] = 1
    elif kind == "array":
        out = {"t": "list"}
        items = _item_schema(props, "Items")
        item_ref = _ref(_props(items))
        if item_ref is not None and item_ref in schemas:
            out["m"] = item_ref
            if _extensions(schemas[item_ref]).get("x-kubernetes-map-type") == "atomic":
                out["ai"] = 1
        list_type = ext.get("x-kubernetes-list-type")
        if list_type in ("map", "set"):
            out["l"] = list_type
        keys = ext.get("x-kubernetes-list-map-keys")
        if list_type == "map" and isinstance(keys, list):
            out["k"] = keys
            item_props = _props(schemas.get(item_ref or "", {})).get("Properties") or {}
            defaults = {}
            for key in keys:
                default = _props(item_props.get(key) or {}).get("Default")
                if default not in (None, ""):
                    defaults[key] = default
            if defaults:
                out["d"] = defaults
        if required:
            out["z"] = 1
    elif kind == "object":
        out = {"t": "map"}
        values = _item_schema(props, "AdditionalProperties")
        value_ref = _ref(_props(values))
        if value_ref is not None and value_ref in schemas:
            out["m"] = value_ref
        if ext.get("x-kubernetes-map-type") == "atomic":
            out["a"] = 1
        if required:
            out["z"] = 1
    else:
        return None
    return out


#: API groups whose name is not ``<directory>.k8s.io`` (``k8s.io/api/<directory>/<v>``)
_GROUPS = {"core": "", "apps": "apps", "batch": "batch", "autoscaling": "autoscaling",
           "policy": "policy", "rbac": "rbac.authorization.k8s.io",
           "flowcontrol": "flowcontrol.apiserver.k8s.io"}


def _group_version_of(package: str) -> tuple[str, str] | None:
    """The API group and version a Go package of types serves (None: not an API)."""
    extensions = "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/"
    if package.startswith(extensions):
        return "apiextensions.k8s.io", package[len(extensions):]
    parts = package.split("/")
    if len(parts) != 4 or parts[:2] != ["k8s.io", "api"]:
        return None
    directory, version = parts[2], parts[3]
    return _GROUPS.get(directory, f"{directory}.k8s.io"), version


def _reachable(roots: list[str], schemas: dict[str, dict[str, Any]]) -> Iterator[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        model = todo.pop()
        if model in seen or model not in schemas:
            continue
        seen.add(model)
        yield model
        for prop in (_props(schemas[model]).get("Properties") or {}).values():
            props = _props(prop)
            for ref in (_ref(props), _ref(_props(_item_schema(props, "Items"))),
                        _ref(_props(_item_schema(props, "AdditionalProperties")))):
                if ref is not None:
                    todo.append(ref)


def regenerate(source: Path) -> dict[str, Any]:
    """The table from ``zz_generated.openapi.go`` at ``source``: every kind (a model with
    ``apiVersion``, ``kind`` and ``metadata``) of ``k8s.io/api`` and of apiextensions."""
    imports, schemas, _ = _definitions(source.read_text("utf-8"))
    roots: dict[str, str] = {}
    for model, schema in schemas.items():
        alias, _, name = model.partition(".")
        group_version = _group_version_of(imports.get(alias, ""))
        properties = _props(schema).get("Properties") or {}
        if group_version is None or name.endswith("List"):
            continue
        if all(key in properties for key in ("apiVersion", "kind", "metadata")):
            group, version = group_version
            roots[f"{group}/{version}/{name}"] = model
    models: dict[str, dict[str, Any]] = {}
    for model in sorted(_reachable(list(roots.values()), schemas)):
        props = _props(schemas[model])
        required = set(props.get("Required") or ())
        fields: dict[str, Any] = {}
        for name, prop in sorted((props.get("Properties") or {}).items()):
            entry = _field(prop, name, name in required, schemas)
            if entry is not None:
                fields[name] = entry
        models[model] = fields
    return {"source": _source_label(source), "roots": dict(sorted(roots.items())),
            "models": models}


def _source_label(source: Path) -> str:
    parts = source.parts
    for n, part in enumerate(parts):
        if part.startswith("kubernetes@"):
            return "/".join(("k8s.io", *parts[n:]))
    return source.name


def default_source() -> Path:
    """``zz_generated.openapi.go`` of the kube-apiserver the real-server tests build."""
    return (Path.home() / "go/pkg/mod/k8s.io/kubernetes@v1.36.3/pkg/generated/openapi"
            / "zz_generated.openapi.go")


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else default_source()
    table = regenerate(source)
    target = Path(__file__).with_name(_DATA)
    target.write_text(json.dumps(table, indent=None, separators=(",", ":"), sort_keys=False)
                      .replace('},"', '},\n"') + "\n", "utf-8")
    print(f"wrote {target} ({len(table['models'])} models, {len(table['roots'])} kinds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
