"""The real kube-apiserver's OpenAPI documents of the built-in groups, cut to what the
fake serves.

The documents come from ``openapi_builtin.json.gz`` (written by ``openapi_gen.py`` from
the real server). A served document keeps the paths of the resources and subresources
the fake serves (its discovery model) and exactly the schemas those paths reach, as
the real server's documents do: a client reading them (``kubectl explain``, client-side
validation, generators of typed clients) sees upstream's schemas, descriptions and
extensions, and no route the fake would answer 404.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = ["Served", "builtin_keys", "data", "kubernetes_version", "served_of", "v2_document",
           "v3_document", "v3_keys", "v3_schemas"]

#: (group, version) -> plural -> the subresources served
Served = Mapping[tuple[str, str], Mapping[str, frozenset[str]]]

_V3_REF = re.compile(rb'"\$ref":"#/components/schemas/([^"]+)"')
_V2_REF = re.compile(rb'"\$ref":"#/(definitions|parameters)/([^"]+)"')
_V2_DEFINITION = re.compile(rb'"\$ref":"#/definitions/([^"]+)"')
#: documents that describe no resource, kept whole
_PLAIN = ("api", "apis", "version")


@functools.cache
def data() -> dict[str, Any]:
    """The data file, parsed once per process."""
    from kubeplan.testkit.apiserver.openapi_gen import DATA_FILE

    loaded: dict[str, Any] = orjson.loads(gzip.decompress(DATA_FILE.read_bytes()))
    return loaded


def kubernetes_version() -> str:
    """The version of the server the documents were read from (``v1.36.3``)."""
    return str(data()["kubernetes"])


def served_of(resources: Iterable[Any]) -> Served:
    """The ``Served`` table of resource infos (``group``, ``version``, ``plural``,
    ``subresources``)."""
    out: dict[tuple[str, str], dict[str, frozenset[str]]] = {}
    for info in resources:
        subs = frozenset(getattr(info, "subresources", None) or ())
        out.setdefault((info.group, info.version), {})[info.plural] = subs
    return out


def _target(path: str) -> tuple[str, ...] | None:
    """What a path of a document addresses: ``("root",)`` (``/api/``, ``/apis/``,
    ``/version/``), ``("group", g)``, ``("gv", g, v)`` or ``("res", g, v, plural, sub)``
    (``sub`` is "" for the resource itself); None for anything else."""
    parts = [p for p in path.split("/") if p]
    if parts in (["api"], ["apis"], ["version"]):
        return ("root",)
    if parts[:1] == ["api"]:
        group, rest = "", parts[1:]
    elif parts[:1] == ["apis"] and len(parts) >= 2:
        if len(parts) == 2:
            return ("group", parts[1])
        group, rest = parts[1], parts[2:]
    else:
        return None
    version, rest = rest[0], rest[1:]
    if not rest:
        return ("gv", group, version)
    if rest[0] == "watch":
        rest = rest[1:]
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[1] == "{namespace}":
        rest = rest[2:]
    if not rest:
        return None
    sub = rest[2] if len(rest) >= 3 else ""
    return ("res", group, version, rest[0], sub)


def _keeps(path: str, served: Served) -> bool:
    target = _target(path)
    if target is None:
        return False
    match target:
        case ("root",):
            return True
        case ("group", group):
            return any(g == group for g, _ in served)
        case ("gv", group, version):
            return (group, version) in served
        case ("res", group, version, plural, sub):
            subs = served.get((group, version), {}).get(plural)
            return subs is not None and (not sub or sub in subs)
    return False


def _closure(start: bytes, pattern: re.Pattern[bytes], table: Mapping[str, Any],
             group: int = 1) -> set[str]:
    names = {m.group(group).decode() for m in pattern.finditer(start)}
    todo = list(names)
    while todo:
        schema = table.get(todo.pop())
        if schema is None:
            continue
        for m in pattern.finditer(orjson.dumps(schema)):
            name = m.group(group).decode()
            if name not in names:
                names.add(name)
                todo.append(name)
    return names


def v3_schemas(names: Iterable[str]) -> dict[str, Any]:
    """Upstream's schemas of ``names`` and of everything they reach (``ObjectMeta`` for the
    documents of custom resources)."""
    schemas = data()["v3"]["schemas"]
    start = orjson.dumps([{"$ref": f"#/components/schemas/{n}"} for n in names])
    return {n: schemas[n] for n in sorted(_closure(start, _V3_REF, schemas)) if n in schemas}


def builtin_keys() -> frozenset[str]:
    """Every built-in document the data file holds (``api/v1``, ``apis/apps/v1`` ...)."""
    return frozenset(data()["v3"]["documents"])


def v3_keys(served: Served) -> list[str]:
    """The built-in documents ``/openapi/v3`` lists for what is served."""
    keys = []
    for key in data()["v3"]["documents"]:
        parts = key.split("/")
        if key in _PLAIN:
            keys.append(key)
        elif parts[0] == "apis" and len(parts) == 2:
            if any(g == parts[1] for g, _ in served):
                keys.append(key)
        elif (("" if parts[0] == "api" else parts[1]), parts[-1]) in served:
            keys.append(key)
    return keys


def v3_document(key: str, served: Served) -> dict[str, Any] | None:
    """``/openapi/v3/<key>`` of a built-in group (None: the real server has none)."""
    table = data()["v3"]
    doc = table["documents"].get(key)
    if doc is None:
        return None
    paths = {p: item for p, item in doc["paths"].items() if key in _PLAIN or _keeps(p, served)}
    schemas = table["schemas"]
    names = _closure(orjson.dumps(paths), _V3_REF, schemas)
    overrides = table["overrides"].get(key, {})
    components: dict[str, Any] = {}
    for name in sorted(names):
        schema = schemas[name]
        if name in overrides:
            schema = {**schema, "x-kubernetes-group-version-kind": overrides[name]}
        components[name] = schema
    out = {"openapi": doc["openapi"], "info": doc["info"], "paths": paths}
    if components:
        out["components"] = {"schemas": components}
    return out


def v2_document(served: Served) -> dict[str, Any]:
    """``/openapi/v2`` for the built-ins served: their paths, the definitions and shared
    parameters those reach, and the document's security settings."""
    whole = data()["v2"]
    paths = {p: item for p, item in whole["paths"].items() if _keeps(p, served)}
    definitions = whole["definitions"]
    parameters = whole.get("parameters", {})
    reached = {m.group(2).decode() for m in _V2_REF.finditer(orjson.dumps(paths))
               if m.group(1) == b"parameters"}
    start = orjson.dumps([paths, [parameters[n] for n in sorted(reached) if n in parameters]])
    defs = _closure(start, _V2_DEFINITION, definitions)
    return {
        **{k: v for k, v in whole.items() if k not in ("paths", "definitions", "parameters")},
        "paths": paths,
        "definitions": {n: definitions[n] for n in sorted(defs) if n in definitions},
        "parameters": {n: parameters[n] for n in sorted(reached) if n in parameters},
    }
