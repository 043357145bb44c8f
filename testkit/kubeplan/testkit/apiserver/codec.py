"""Decoding request bodies and copying objects, with the real server's error texts.

Objects are plain JSON-shaped dicts. ``copy_obj`` (an orjson round trip) is the fast
deep copy used on the way into and out of the store, so no caller ever shares a
mutable dict with it.

Bodies may nest objects and arrays ``MAX_DEPTH`` levels deep, fewer than the real
server's 10000: orjson serialises at most 254 levels, and what the fake writes about
a stored object nests deeper than the object itself (its managedFields mirror it five
levels down; a list, a Table, a watch event wrap it). A deeper body is refused with the
400 the real server gives beyond its own limit, never a 500 from somewhere inside.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import orjson
import yaml

from kubeplan.testkit.apiserver import status

__all__ = ["MAX_DEPTH", "copy_obj", "decode_json", "decode_yaml", "dumps", "encoded_size"]

#: levels of objects and arrays a body may nest (the body itself is the first)
MAX_DEPTH = 200
#: the real server's (sigs.k8s.io/json, the decoder kube-apiserver reads bodies with)
REAL_MAX_DEPTH = 10000


#: a JSON object or array (copies and the values derived from them keep their type)
JsonT = TypeVar("JsonT", dict[str, Any], list[Any])


def copy_obj(obj: JsonT) -> JsonT:
    """A deep copy of a JSON-shaped value (an object stays a dict, an array a list)."""
    copied: JsonT = orjson.loads(orjson.dumps(obj))
    return copied


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def encoded_size(obj: Any) -> int:
    return len(orjson.dumps(obj))


def _too_deep(opening: str, as_yaml: bool = False) -> status.StatusError:
    """The real server's refusal of a body nested beyond its limit (400 BadRequest),
    from its JSON decoder or (``as_yaml``) its YAML converter."""
    limits = (f"the fake API server reads {MAX_DEPTH} levels of objects and arrays, "
              f"a real one {REAL_MAX_DEPTH}")
    if as_yaml:
        return status.bad_request(
            f"error converting YAML to JSON: yaml: exceeded max depth of {MAX_DEPTH} ({limits})")
    return status.bad_request(
        f"couldn't get version/kind; json parse error: invalid character '{opening}' "
        f"exceeded max depth ({limits})"
    )


#: how much deeper an object's managedFields nest than the object, so that an object the
#: fake answers with is accepted back: object > metadata > managedFields > entry >
#: fieldsV1 mirrors the object's top level, and a scalar leaf becomes ``{}``
_MANAGED_FIELDS_OFFSET = 5


def check_depth(value: Any, body: bytes, as_yaml: bool = False) -> None:
    """400 when ``value`` (decoded from ``body``) nests deeper than ``MAX_DEPTH``
    (its ``metadata.managedFields``, which mirror it, five levels more)."""
    if body.count(b"{") + body.count(b"[") <= MAX_DEPTH:
        return  # cannot be deeper than its brackets (nearly every body)
    stack: list[tuple[Any, int]] = [(value, 1)]
    meta = value.get("metadata") if isinstance(value, dict) else None
    if isinstance(meta, dict) and isinstance(meta.get("managedFields"), list):
        meta = dict(meta)  # walked below without its managedFields, which start here:
        stack = [({**value, "metadata": meta}, 1),
                 (meta.pop("managedFields"), 3 - _MANAGED_FIELDS_OFFSET)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth == MAX_DEPTH:
                    raise _too_deep("{" if isinstance(child, dict) else "[", as_yaml)
                stack.append((child, depth + 1))


class _DepthLimitedComposer(yaml.SafeLoader):
    """Refuses YAML nested beyond ``MAX_DEPTH`` while composing it (PyYAML's composer
    recurses: a deep document would exhaust Python's stack first)."""

    _depth = 0

    def compose_sequence_node(self, anchor: Any) -> Any:
        return self._nested(super().compose_sequence_node, anchor, "[")

    def compose_mapping_node(self, anchor: Any) -> Any:
        return self._nested(super().compose_mapping_node, anchor, "{")

    def _nested(self, compose: Any, anchor: Any, opening: str) -> Any:
        if self._depth >= MAX_DEPTH:
            raise _too_deep(opening, as_yaml=True)
        self._depth += 1
        try:
            return compose(anchor)
        finally:
            self._depth -= 1


class _AliasLimitedComposer(_DepthLimitedComposer):
    """Refuses a document whose aliases expand it far beyond its own size ("billion
    laughs"), by the rule of the YAML library kube-apiserver decodes with
    (go.yaml.in/yaml/v2 ``allowedAliasRatio``): past 1,000 decoded nodes and 100 of them
    under an alias, at most 99% may come from aliases, falling to 10% between 400,000
    and 4,000,000 decoded nodes. PyYAML shares an alias's node instead of copying it, so
    the expansion would only happen later, when the document is turned into JSON.

    Go checks as it decodes; this counts the whole document once it is composed (one
    walk of the document as written), which refuses the same expanding documents."""

    def compose_document(self) -> Any:
        node = super().compose_document()
        if node is not None:
            decoded, aliased = _alias_counts(node)
            if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(
                    decoded):
                raise _ExcessiveAliasing
        return node


class _ExcessiveAliasing(Exception):
    pass


def _allowed_alias_ratio(decoded: int) -> float:
    low, high = 400_000, 4_000_000
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * (decoded - low) / (high - low)


def _alias_counts(root: yaml.Node) -> tuple[int, int]:
    """(nodes decoded with every alias expanded, how many of them come from aliases)."""
    expanded: dict[int, int] = {}  # id(node) -> its size with aliases expanded

    def size(node: yaml.Node) -> int:
        known = expanded.get(id(node))
        if known is None:
            known = 1 + sum(size(child) for child in _children(node))
            expanded[id(node)] = known
        return known

    decoded = aliased = 0
    seen: set[int] = set()
    stack = [root]
    while stack:  # the document as written: a node met again is an alias of it
        node = stack.pop()
        decoded += 1
        if id(node) in seen:
            extra = size(node)
            decoded += extra
            aliased += extra
            continue
        seen.add(id(node))
        stack.extend(_children(node))
    return decoded, aliased


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _K8sYamlLoader(_AliasLimitedComposer):
    """YAML as the API server reads it (sigs.k8s.io/yaml over go.yaml.in/yaml/v2):
    timestamps stay strings, and ``y``/``Y``/``n``/``N`` are booleans as well as
    yes/no/on/off (YAML 1.1, which PyYAML follows but for those four)."""

    bool_values = {**yaml.SafeLoader.bool_values, "y": True, "n": False}


_K8sYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_K8sYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


def decode_json(body: bytes) -> Any:
    """Parse JSON, or raise 400 with the decoder's complaint."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit: 1024 levels
            raise _too_deep(_opening_at(body, exc.pos)) from None
        raise status.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    check_depth(value, body)
    return value


def _opening_at(body: bytes, pos: int) -> str:
    """The bracket orjson stopped at (``pos`` is its character offset)."""
    text = body.decode("utf-8", "replace")
    return "[" if text[pos : pos + 1] == "[" else "{"


def decode_yaml(body: bytes) -> Any:
    """Parse YAML (JSON is YAML) into JSON-shaped data, or raise 400."""
    if body.lstrip()[:1] == b"{":
        # Most clients send apply bodies as JSON (valid YAML); orjson is far faster
        # than PyYAML, and a JSON document parses the same either way.
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # not strict JSON (e.g. YAML flow style): let the YAML parser judge
        else:
            check_depth(value, body, as_yaml=True)
            return value
    try:
        value = yaml.load(body.decode("utf-8"), Loader=_K8sYamlLoader)
    except _ExcessiveAliasing:
        raise status.bad_request(
            "the object provided is unrecognized: yaml: document contains excessive "
            f"aliasing ({body[:30].hex()} ...)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        detail = str(exc).replace("\n", " ")
        raise status.bad_request(f"error converting YAML to JSON: yaml: {detail}") from None
    try:
        # Normalise to JSON types (int keys become strings, as sigs.k8s.io/yaml does).
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise status.bad_request(f"error converting YAML to JSON: {exc}") from None


def decode_object(body: bytes, content_type: str | None) -> Any:
    """Decode a create/update body (JSON or YAML by content type)."""
    if content_type and content_type.endswith("yaml"):
        return decode_yaml(body)
    return decode_json(body)
