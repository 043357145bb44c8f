"""configmap-sync: copy a source ConfigMap's data into ConfigMaps in other namespaces.

The source is not a child (the operator does not own it and never writes it): it is a
**related object**, declared with ``OperatorConfig.with_related``. The select function is
a pure function of the parent saying which objects it reads; kubeplan watches ConfigMaps,
syncs a ConfigMapSync again whenever its source changes, and hands the matches to the
handler as ``request.related.of(ConfigMap)``. RBAC from ``kubeplan manifests`` grants
get/list/watch on ConfigMaps for it.

A ``ConfigMapSync`` is cluster-scoped because its children live in several namespaces
(an ownerReference cannot cross namespaces from a namespaced owner).
"""

from __future__ import annotations

from typing import Any

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.related import RelatedSelector
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

ConfigMapSync = K8sType("example.kubeplan.dev/v1", "ConfigMapSync", "configmapsyncs",
                        namespaced=False)


@attrs.frozen
class Source:
    name: str = attrs.field(metadata={"description": "the source ConfigMap's name"})
    namespace: str = attrs.field(metadata={"description": "the source ConfigMap's namespace"})


@attrs.frozen
class ConfigMapSyncSpec:
    """Copies of one ConfigMap in other namespaces."""

    source: Source
    target_namespaces: list[str] = attrs.field(metadata={
        "description": "namespaces that get a copy (the source's own is skipped)",
    })
    name: str | None = attrs.field(default=None, metadata={
        "description": "the copies' name (default: the source's)",
    })


@attrs.frozen
class ConfigMapSyncStatus:
    source_found: bool = False
    copies: list[str] = attrs.Factory(list)


def source_of(parent: dict[str, Any]) -> RelatedSelector | None:
    """Pure: which ConfigMap this parent reads (None when the spec names none)."""
    source = (parent.get("spec") or {}).get("source") or {}
    if not source.get("name") or not source.get("namespace"):
        return None
    return RelatedSelector(names=[source["name"]], namespace=source["namespace"])


config = (
    OperatorConfig("configmap-sync", ConfigMapSync)
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
    .with_related(core_v1.ConfigMap, source_of)
)


def copy(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": dict(data)}


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(ConfigMapSyncSpec)
    name = spec.name or spec.source.name
    source = request.related.of(core_v1.ConfigMap).get(
        spec.source.name, namespace=spec.source.namespace
    )
    namespaces = sorted({ns for ns in spec.target_namespaces if ns != spec.source.namespace})
    if source is None:
        # the source is gone (or not there yet): keep the copies as they are rather than
        # delete data because something else was deleted; the status says so
        observed = request.children.of(core_v1.ConfigMap)
        kept = [copy(name, ns, found.get("data") or {}) for ns in namespaces
                if (found := observed.get(name, namespace=ns)) is not None]
        return SyncResponse(children=kept, status=ConfigMapSyncStatus(
            source_found=False, copies=[f"{c['metadata']['namespace']}/{name}" for c in kept]
        ))
    data = source.get("data") or {}
    return SyncResponse(
        children=[copy(name, ns, data) for ns in namespaces],
        status=ConfigMapSyncStatus(source_found=True, copies=[f"{ns}/{name}" for ns in namespaces]),
    )


operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=ConfigMapSyncSpec,
    status_class=ConfigMapSyncStatus,
    description="Copies a source ConfigMap's data into ConfigMaps in other namespaces.",
)
