"""The ``/scale`` subresource: an ``autoscaling/v1`` Scale view of a workload.

GET answers a Scale built from the object (``spec.replicas``, ``status.replicas`` and
``status.selector`` as a label-selector string); PUT and PATCH change the replicas of
the object through it. The write goes through the object's own update path, so it
bumps ``metadata.generation`` (spec changed) and is recorded in managedFields with
``subresource: scale`` -- without a time, as the real server's scale entries are
(its managed-fields conversion for scale drops it).

Built-ins keep replicas at ``.spec.replicas`` and ``.status.replicas`` and their
selector at ``.spec.selector`` (a LabelSelector, or a plain map for a
ReplicationController); custom resources name the paths in their CRD's
``subresources.scale``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kubeplan.testkit.apiserver import patching, status
from kubeplan.testkit.apiserver.codec import copy_obj, decode_json
from kubeplan.testkit.apiserver.registry import ResourceInfo
from kubeplan.testkit.apiserver.store import Obj
from kubeplan.testkit.apiserver.writes import (
    PATCH_JSON,
    PATCH_MERGE,
    PATCH_STRATEGIC,
    Target,
    WriteOptions,
    Writer,
    WriteResult,
)

__all__ = ["get_scale", "patch_scale", "selector_string", "update_scale"]

_CRD_RESOURCE = "customresourcedefinitions.apiextensions.k8s.io"


@attrs.frozen
class _Paths:
    spec_replicas: tuple[str, ...] = ("spec", "replicas")
    status_replicas: tuple[str, ...] = ("status", "replicas")
    selector: tuple[str, ...] | None = None
    """A custom resource's labelSelectorPath (a string there); None for built-ins."""


def _split(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.lstrip(".").split(".") if p)


def _paths(writer: Writer, info: ResourceInfo) -> _Paths:
    if not info.custom:
        return _Paths()
    crd = writer.store.get(_CRD_RESOURCE, "", info.crd_name) or {}
    for version in (crd.get("spec") or {}).get("versions") or ():
        if version.get("name") == info.version:
            scale = (version.get("subresources") or {}).get("scale") or {}
            selector = scale.get("labelSelectorPath")
            return _Paths(
                _split(scale.get("specReplicasPath") or ".spec.replicas"),
                _split(scale.get("statusReplicasPath") or ".status.replicas"),
                _split(selector) if selector else None,
            )
    return _Paths()


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def selector_string(selector: Any) -> str:
    """A LabelSelector (or a map of labels) as ``labels.Selector.String()`` renders it:
    requirements sorted by key, ``k=v``, ``k in (a,b)``, ``k notin (a)``, ``k``, ``!k``."""
    if not isinstance(selector, Mapping):
        return ""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        labels: Mapping[str, Any] = selector  # a ReplicationController's plain map
        expressions: list[Any] = []
    else:
        labels = selector.get("matchLabels") or {}
        expressions = list(selector.get("matchExpressions") or ())
    parts: list[tuple[str, str]] = [(str(k), f"{k}={v}") for k, v in labels.items()]
    for expression in expressions:
        if not isinstance(expression, Mapping):
            continue
        key = str(expression.get("key", ""))
        operator = expression.get("operator")
        values = ",".join(sorted(str(v) for v in expression.get("values") or ()))
        if operator == "In":
            parts.append((key, f"{key} in ({values})"))
        elif operator == "NotIn":
            parts.append((key, f"{key} notin ({values})"))
        elif operator == "Exists":
            parts.append((key, key))
        elif operator == "DoesNotExist":
            parts.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(parts, key=lambda part: part[0]))


def scale_of(obj: Obj, paths: _Paths) -> dict[str, Any]:
    """The Scale view of one object."""
    meta = obj.get("metadata") or {}
    scale_meta = {
        key: meta[key]
        for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if key in meta
    }
    replicas = _dig(obj, paths.spec_replicas)
    observed = _dig(obj, paths.status_replicas)
    state: dict[str, Any] = {"replicas": observed if isinstance(observed, int) else 0}
    if paths.selector is None:
        selector = selector_string(_dig(obj, ("spec", "selector")))
    else:
        found = _dig(obj, paths.selector)
        selector = found if isinstance(found, str) else ""
    if selector:
        state["selector"] = selector
    spec: dict[str, Any] = {}
    if isinstance(replicas, int):
        spec["replicas"] = replicas
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": spec,
        "status": state,
    }


def _current(writer: Writer, target: Target) -> Obj:
    assert target.name is not None
    current = writer.store.get(target.group_resource, target.namespace, target.name)
    if current is None:
        raise status.not_found(target.info.plural, target.info.group, target.name)
    return current


def get_scale(writer: Writer, target: Target) -> dict[str, Any]:
    """``GET .../NAME/scale``."""
    return scale_of(_current(writer, target), _paths(writer, target.info))


def _invalid(name: str, field: str, message: str) -> status.StatusError:
    return status.invalid(
        "Scale", "autoscaling", name, [status.cause("FieldValueInvalid", field, message)]
    )


def update_scale(writer: Writer, target: Target, body: Any, opts: WriteOptions) -> WriteResult:
    """``PUT .../NAME/scale``: a Scale whose spec.replicas becomes the object's."""
    name = target.name or ""
    if not isinstance(body, dict):
        raise status.bad_request("the body of a Scale must be a JSON object")
    kind = body.get("kind") or "Scale"
    api_version = body.get("apiVersion") or "autoscaling/v1"
    if kind != "Scale" or api_version != "autoscaling/v1":
        raise status.bad_request(
            f"the body names {api_version}, Kind={kind}; the scale subresource takes "
            "autoscaling/v1, Kind=Scale"
        )
    raw_meta = body.get("metadata")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    if (meta.get("name") or "") != name:
        raise status.bad_request(
            f"the name of the object ({meta.get('name') or ''}) does not match the name on "
            f"the URL ({name})"
        )
    raw_spec = body.get("spec")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    replicas = spec.get("replicas", 0)
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise status.bad_request(
            f"spec.replicas of a Scale must be an integer, not {type(replicas).__name__}"
        )
    if replicas < 0:
        raise _invalid(
            name, "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"
        )
    if replicas > 2**31 - 1:
        raise status.bad_request(
            f"spec.replicas of a Scale must fit in an int32, {replicas} does not"
        )
    current = _current(writer, target)
    paths = _paths(writer, target.info)
    new: Obj = copy_obj(current)
    holder: dict[str, Any] = new
    for key in paths.spec_replicas[:-1]:
        child = holder.get(key)
        if not isinstance(child, dict):
            child = holder[key] = {}
        holder = child
    holder[paths.spec_replicas[-1]] = replicas
    new_meta = new["metadata"]
    for key in ("resourceVersion", "uid"):  # the Scale's preconditions
        if meta.get(key):
            new_meta[key] = meta[key]
    new_meta.pop("managedFields", None)
    info = target.info
    new = writer._managed(current, new, info, opts, "scale")
    for entry in new["metadata"].get("managedFields") or ():
        if entry.get("subresource") == "scale" and entry.get("manager") == opts.manager:
            entry.pop("time", None)
    whole = Target(info, target.namespace, target.name)
    result = writer._update(whole, current, new, opts, managed_done=True)
    return attrs.evolve(result, body=scale_of(result.body, paths))


def patch_scale(
    writer: Writer, target: Target, body: bytes, content_type: str | None, opts: WriteOptions
) -> WriteResult:
    """``PATCH .../NAME/scale``: the patch applies to the Scale, then as ``update_scale``."""
    accepted = [PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC]
    if content_type not in accepted:
        raise status.unsupported_media_type(content_type or "", accepted)
    try:
        patch_doc = decode_json(body)
    except status.StatusError:
        raise status.bad_request(
            "error decoding patch: invalid character in the patch body"
        ) from None
    scale = get_scale(writer, target)
    try:
        if content_type == PATCH_JSON:
            patched = patching.apply_json_patch(scale, patch_doc)
        else:  # a Scale has no lists: strategic merge is a merge patch
            patched = patching.apply_merge_patch(scale, patch_doc)
    except patching.PatchError as exc:
        if exc.code == 422:
            raise status.patch_refused() from None
        raise status.bad_request(exc.message) from None
    if isinstance(patched, dict):
        meta = patched.get("metadata")
        if isinstance(meta, dict) and not meta.get("resourceVersion"):
            meta["resourceVersion"] = scale["metadata"].get("resourceVersion")
    return update_scale(writer, target, patched, opts)
