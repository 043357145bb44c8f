"""service-account-sync: one ServiceAccount in every namespace of a team.

A ``ServiceAccountSync`` (cluster-scoped) names a ServiceAccount, a team and the pull
secrets the account uses; every namespace labelled ``example.kubeplan.dev/team: TEAM``
gets that ServiceAccount with those ``imagePullSecrets`` (the Secrets themselves are
``secret_sync_operator``'s work: the two run side by side in one process). Related type:
the team's Namespaces, watched through the cache it shares with secret-sync.
"""

from __future__ import annotations

import attrs
from teams import TEAM_PATTERN, live_namespaces, team_namespaces

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

ServiceAccountSync = K8sType("example.kubeplan.dev/v1", "ServiceAccountSync",
                             "serviceaccountsyncs", namespaced=False)

NAME_PATTERN = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


@attrs.frozen
class ServiceAccountSyncSpec:
    """One ServiceAccount in every namespace of a team."""

    name: str = attrs.field(metadata={
        "description": "the ServiceAccount's name", "pattern": NAME_PATTERN, "maxLength": 63,
    })
    team: str = attrs.field(metadata={
        "description": "the team whose namespaces get it (label example.kubeplan.dev/team)",
        "pattern": TEAM_PATTERN, "maxLength": 63,
    })
    image_pull_secrets: list[str] = attrs.field(factory=list, metadata={
        "description": "names of the Secrets the account pulls images with",
    })


@attrs.frozen
class ServiceAccountSyncStatus:
    namespaces: list[str] = attrs.Factory(list)


config = (
    OperatorConfig("service-account-sync", ServiceAccountSync)
    .with_child(core_v1.ServiceAccount, ChildConfig.replace())
    .with_related(core_v1.Namespace, team_namespaces)
)


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(ServiceAccountSyncSpec)
    namespaces = live_namespaces(request, spec.team)
    pull_secrets = [{"name": name} for name in sorted(set(spec.image_pull_secrets))]
    accounts = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": spec.name, "namespace": ns},
         **({"imagePullSecrets": pull_secrets} if pull_secrets else {})}
        for ns in namespaces
    ]
    return SyncResponse(children=accounts,
                        status=ServiceAccountSyncStatus(namespaces=namespaces))


operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=ServiceAccountSyncSpec,
    status_class=ServiceAccountSyncStatus,
    description="Keeps one ServiceAccount in every namespace of a team.",
)
