"""Decoding request bodies and copying objects, with the real server's error texts.

Objects are plain JSON-shaped dicts. ``copy_obj`` (an orjson round trip) is the fast
deep copy used on the way into and out of the store, so no caller ever shares a
mutable dict with it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
import yaml

from kubeplan.testkit.apiserver import status

__all__ = ["copy_obj", "decode_json", "decode_yaml", "dumps", "encoded_size"]


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


class _K8sYamlLoader(yaml.SafeLoader):
    """YAML as the API server reads it: timestamps stay strings (sigs.k8s.io/yaml)."""


_K8sYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_json(body: bytes) -> Any:
    """Parse JSON, or raise 400 with the decoder's complaint."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def decode_yaml(body: bytes) -> Any:
    """Parse YAML (JSON is YAML) into JSON-shaped data, or raise 400."""
    if body.lstrip()[:1] == b"{":
        # Most clients send apply bodies as JSON (valid YAML); orjson is ~50x faster
        # than PyYAML, and a JSON document parses the same either way.
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # not strict JSON (e.g. YAML flow style): let the YAML parser judge
    try:
        value = yaml.load(body.decode("utf-8"), Loader=_K8sYamlLoader)
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
