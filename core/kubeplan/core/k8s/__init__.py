"""A catalogue of built-in resource types, one module per API group version.

``from kubeplan.core.k8s import core_v1, apps_v1`` then ``core_v1.Pod``, ``apps_v1.Deployment``.
``BUILTIN_TYPES`` lists them all; ``builtin_type(api_version, kind)`` looks one up.
"""

from __future__ import annotations

from kubeplan.core.k8s import (
    apiextensions_v1,
    apps_v1,
    batch_v1,
    coordination_v1,
    core_v1,
    events_v1,
    networking_v1,
    policy_v1,
    rbac_v1,
)
from kubeplan.core.types import K8sType

BUILTIN_TYPES: tuple[K8sType, ...] = tuple(
    t
    for module in (
        core_v1,
        apps_v1,
        batch_v1,
        networking_v1,
        rbac_v1,
        policy_v1,
        coordination_v1,
        events_v1,
        apiextensions_v1,
    )
    for t in vars(module).values()
    if isinstance(t, K8sType)
)

_BY_GVK = {(t.api_version, t.kind): t for t in BUILTIN_TYPES}


def builtin_type(api_version: str, kind: str) -> K8sType | None:
    """The built-in type with this apiVersion and kind, or None."""
    return _BY_GVK.get((api_version, kind))


__all__ = [
    "BUILTIN_TYPES",
    "apiextensions_v1",
    "apps_v1",
    "batch_v1",
    "builtin_type",
    "coordination_v1",
    "core_v1",
    "events_v1",
    "networking_v1",
    "policy_v1",
    "rbac_v1",
]
