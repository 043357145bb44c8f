"""Names and namespaces taken from a request's path, refused as the real server does.

A path segment is decoded before routing (``%2F`` splits it, as Go's ``URL.Path``
does), so a name from a path may still be ``.``, ``..`` or contain ``%``. The real
server (v1.36.3, probed) refuses those where it builds an object's storage key:

* an object name: 400 ``Name parameter invalid: "..": may not be '..'``
  (``NamespaceKeyFunc``, k8s.io/apiserver registry/generic/registry/store.go);
* a namespace of ``.`` or ``..``: 500 ``invalid key: "/configmaps/.."`` with no reason
  (``storage.PrepareKey``), the key being the resource's etcd prefix, the namespace
  and the name;
* a namespace a create cannot have (``.``, ``..``, or one with ``%``): 500
  InternalError ``invalid resource name "..": [may not be '..']``, the namespace
  lifecycle admission failing to look the namespace up.
"""

from __future__ import annotations

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.registry import ResourceInfo

__all__ = ["check_path_names", "path_segment_problems"]

#: verbs whose object name becomes part of a storage key
_NAMED_VERBS = frozenset({"get", "update", "patch", "delete"})
#: built-in resources stored under another etcd prefix than their plural
#: (k8s.io/kubernetes pkg/kubeapiserver/default_storage_factory_builder.go)
_PREFIXES = {("", "replicationcontrollers"): "controllers",
             ("", "endpoints"): "services/endpoints",
             ("", "nodes"): "minions",
             ("", "services"): "services/specs",
             ("networking.k8s.io", "ingresses"): "ingress",
             ("extensions", "ingresses"): "ingress"}


def path_segment_problems(name: str) -> list[str]:
    """Why ``name`` cannot be one segment of a path (apimachinery's IsPathSegmentName)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{part}'" for part in ("/", "%") if part in name]


def _key(info: ResourceInfo, namespace: str, name: str | None) -> str:
    prefix = f"{info.group}/{info.plural}" if info.custom else _PREFIXES.get(
        (info.group, info.plural), info.plural)
    return "/".join([f"/{prefix}", namespace] + ([name] if name is not None else []))


def check_path_names(info: ResourceInfo, namespace: str | None, name: str | None,
                     verb: str) -> None:
    """Raise the real server's error for a name or namespace no object can have."""
    if name is not None and verb in _NAMED_VERBS:
        problems = path_segment_problems(name)
        if problems:
            raise status.bad_request(f'Name parameter invalid: "{name}": {";".join(problems)}')
    if not namespace:
        return
    if verb == "create":
        problems = path_segment_problems(namespace)
        if problems:
            raise status.internal(
                f'invalid resource name "{namespace}": [{" ".join(problems)}]')
    elif namespace in (".", ".."):
        key = _key(info, namespace, name if verb in _NAMED_VERBS else None)
        raise status.unknown_500(f'invalid key: "{key}"')
