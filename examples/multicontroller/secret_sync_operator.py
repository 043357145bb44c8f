"""secret-sync: copy one Secret into every namespace of a team.

A ``SecretSync`` (cluster-scoped) names a source Secret and a team; every namespace
labelled ``example.kubeplan.dev/team: TEAM`` gets a copy of the source (its ``type`` and
``data``), under the source's name. Two related types: the source Secret (by name) and
the team's Namespaces (by label), so a new namespace of the team gets its copy, and an
edited source updates every copy. The source's own namespace is skipped; a namespace
that leaves the team loses its copy; a missing source keeps the copies as they are.

It runs beside ``service_account_sync_operator`` in one process (``kubeplan run`` with
both): both watch Namespaces, through one shared watch cache.
"""

from __future__ import annotations

from typing import Any

import attrs
from teams import TEAM_PATTERN, live_namespaces, team_namespaces

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.related import RelatedSelector
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

SecretSync = K8sType("example.kubeplan.dev/v1", "SecretSync", "secretsyncs", namespaced=False)


@attrs.frozen
class SecretSource:
    name: str = attrs.field(metadata={"description": "the source Secret's name"})
    namespace: str = attrs.field(metadata={"description": "the source Secret's namespace"})


@attrs.frozen
class SecretSyncSpec:
    """Copies of one Secret in every namespace of a team."""

    source: SecretSource
    team: str = attrs.field(metadata={
        "description": "the team whose namespaces get a copy (label example.kubeplan.dev/team)",
        "pattern": TEAM_PATTERN, "maxLength": 63,
    })


@attrs.frozen
class SecretSyncStatus:
    source_found: bool = False
    copies: list[str] = attrs.Factory(list)


def source_of(parent: dict[str, Any]) -> RelatedSelector | None:
    """Pure: the source Secret this parent reads (None when the spec names none)."""
    source = (parent.get("spec") or {}).get("source") or {}
    if not source.get("name") or not source.get("namespace"):
        return None
    return RelatedSelector(names=[source["name"]], namespace=source["namespace"])


config = (
    OperatorConfig("secret-sync", SecretSync)
    .with_child(core_v1.Secret, ChildConfig.replace())
    .with_related(core_v1.Secret, source_of)
    .with_related(core_v1.Namespace, team_namespaces)
)


def copy(source: dict[str, Any], namespace: str) -> dict[str, Any]:
    secret: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": source["metadata"]["name"], "namespace": namespace},
        "type": source.get("type") or "Opaque",
    }
    if source.get("data"):
        secret["data"] = dict(source["data"])
    return secret


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(SecretSyncSpec)
    source = request.related.of(core_v1.Secret).get(
        spec.source.name, namespace=spec.source.namespace)
    targets = [ns for ns in live_namespaces(request, spec.team) if ns != spec.source.namespace]
    if source is None:
        # gone, or not there yet: keep the copies in the team's namespaces as they are
        observed = request.children.of(core_v1.Secret)
        children = [copy(found, ns) for ns in targets
                    if (found := observed.get(spec.source.name, namespace=ns)) is not None]
        return SyncResponse(children=children, status=SecretSyncStatus(
            source_found=False,
            copies=[f"{c['metadata']['namespace']}/{spec.source.name}" for c in children]))
    return SyncResponse(
        children=[copy(source, ns) for ns in targets],
        status=SecretSyncStatus(source_found=True,
                                copies=[f"{ns}/{spec.source.name}" for ns in targets]),
    )


operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=SecretSyncSpec,
    status_class=SecretSyncStatus,
    description="Copies a Secret into every namespace of a team.",
)
