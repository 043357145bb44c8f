"""Two decorators: children attached to objects kubeplan does not own.

``network_policy``: every Service annotated ``example.kubeplan.dev/network-policy: isolate``
gets a NetworkPolicy that lets only pods of its own namespace reach the Service's pods, on
the Service's target ports. Remove the annotation and the NetworkPolicy is deleted
(``unmatched_children="delete"``); delete the Service and garbage collection removes it.

``namespace_quota``: every Namespace labelled ``example.kubeplan.dev/quota=small`` or
``=large`` gets a ResourceQuota ``default-quota`` sized by the label: a namespaced child
of a cluster-scoped parent. The label selector goes to the API server, so unlabelled
Namespaces are never cached; a Namespace whose label is removed keeps its quota (the
default, ``unmatched_children="keep"``).

Neither writes its parent: a Service's or a Namespace's status belongs to Kubernetes.
"""

from __future__ import annotations

from typing import Any

from kubeplan.core import ChildConfig, OperatorConfig, OperatorDefinition, SyncRequest, SyncResponse
from kubeplan.core.k8s import core_v1, networking_v1

POLICY_ANNOTATION = "example.kubeplan.dev/network-policy"
QUOTA_LABEL = "example.kubeplan.dev/quota"

QUOTAS: dict[str, dict[str, str]] = {
    "small": {"pods": "10", "requests.cpu": "2", "requests.memory": "4Gi"},
    "large": {"pods": "100", "requests.cpu": "16", "requests.memory": "64Gi"},
}

policy_config = (
    OperatorConfig("network-policy", core_v1.Service)
    .decorating()
    .selecting(annotations={POLICY_ANNOTATION: "isolate"}, unmatched_children="delete")
    .with_child(networking_v1.NetworkPolicy, ChildConfig.replace())
)


def isolate(request: SyncRequest) -> SyncResponse:
    """A NetworkPolicy for the Service's pods: ingress only from its own namespace."""
    selector = request.spec.get("selector") or {}
    if not selector:
        # without a selector the Service picks no pods (an external endpoint): an empty
        # podSelector would isolate every pod of the namespace instead
        return SyncResponse(children=[])
    ports: list[dict[str, Any]] = []
    for port in request.spec.get("ports") or ():
        target = port.get("targetPort", port.get("port"))
        entry = {"protocol": port.get("protocol", "TCP"), "port": target}
        if entry not in ports:
            ports.append(entry)
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"isolate-{request.name}"},
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], **({"ports": ports} if ports else {})}],
        },
    }
    return SyncResponse(children=[policy])


network_policy = OperatorDefinition(
    policy_config, isolate,
    description="a NetworkPolicy for every Service annotated network-policy: isolate",
)

quota_config = (
    OperatorConfig("namespace-quota", core_v1.Namespace)
    .decorating()
    .selecting(labels=f"{QUOTA_LABEL} in (small,large)")
    .with_child(core_v1.ResourceQuota, ChildConfig.replace())
)


def quota(request: SyncRequest) -> SyncResponse:
    """The ResourceQuota of a Namespace, in that Namespace (the parent is cluster-scoped)."""
    size = request.parent["metadata"]["labels"][QUOTA_LABEL]  # the selector guarantees it
    resource_quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "default-quota", "namespace": request.name},
        "spec": {"hard": dict(QUOTAS[size])},
    }
    return SyncResponse(children=[resource_quota])


namespace_quota = OperatorDefinition(
    quota_config, quota,
    description="a ResourceQuota in every Namespace labelled quota=small or quota=large",
)

#: what ``kubeplan run examples/decorator/decorator_operator.py:operator`` runs (the
#: Namespace decorator is ``:namespace_quota``)
operator = network_policy
