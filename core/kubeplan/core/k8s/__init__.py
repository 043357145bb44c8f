"""A catalogue of built-in resource types, one module per API group version.

``from kubeplan.core.k8s import core_v1, apps_v1`` then ``core_v1.Pod``, ``apps_v1.Deployment``.
``BUILTIN_TYPES`` lists them all; ``builtin_type(api_version, kind)`` looks one up.
"""

from __future__ import annotations

from kubeplan.core.k8s import (
    admissionregistration_v1,
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
        admissionregistration_v1,
    )
    for t in vars(module).values()
    if isinstance(t, K8sType)
)

_BY_GVK = {(t.api_version, t.kind): t for t in BUILTIN_TYPES}


def builtin_type(api_version: str, kind: str) -> K8sType | None:
    """The built-in type with this apiVersion and kind, or None."""
    return _BY_GVK.get((api_version, kind))


def is_builtin(type_: K8sType) -> bool:
    """Whether ``type_`` is served by the API server itself rather than by a CRD: in the
    catalogue, or of a group without a dot (a CRD's group must contain one: ``apps``,
    ``batch``, ``policy`` and the core group are built in)."""
    return (type_.api_version, type_.kind) in _BY_GVK or "." not in type_.group


__all__ = [
    "BUILTIN_TYPES",
    "admissionregistration_v1",
    "apiextensions_v1",
    "apps_v1",
    "batch_v1",
    "builtin_type",
    "coordination_v1",
    "core_v1",
    "events_v1",
    "is_builtin",
    "networking_v1",
    "policy_v1",
    "rbac_v1",
]
