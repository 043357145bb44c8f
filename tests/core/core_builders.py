"""Small builders shared by the core tests: types, configs, parents and children."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.plan import Plan
from kubeplan.core.planner import plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.types import K8sType

Echo = K8sType("example.com/v1", "EchoServer", "echoservers")
Tenant = K8sType("example.com/v1", "Tenant", "tenants", namespaced=False)

CONFIG = (
    OperatorConfig("echo", Echo)
    .with_child(apps_v1.Deployment, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.recreate())
    .with_child(core_v1.ConfigMap, ChildConfig.on_delete())
)
CLUSTER_CONFIG = (
    OperatorConfig("tenants", Tenant)
    .with_child(core_v1.Namespace, ChildConfig.replace())
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.recreate())
)

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
LATER = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
PARENT_UID = "uid-parent"


def parent(
    name: str = "demo",
    namespace: str | None = "default",
    *,
    kind: K8sType = Echo,
    uid: str = PARENT_UID,
    generation: int = 2,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    finalizers: list[str] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": uid,
        "resourceVersion": "10",
        "generation": generation,
        "creationTimestamp": "2024-05-01T09:00:00Z",
    }
    if namespace is not None and kind.namespaced:
        meta["namespace"] = namespace
    if finalizers is not None:
        meta["finalizers"] = list(finalizers)
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T09:30:00Z"
    obj: dict[str, Any] = {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": meta,
        "spec": spec if spec is not None else {"replicas": 2, "image": "nginx:1.25"},
    }
    if status is not None:
        obj["status"] = status
    return obj


def deployment(
    name: str = "web",
    *,
    replicas: int = 2,
    image: str = "nginx:1.25",
    cpu: str = "500m",
    namespace: str | None = None,
    **meta: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **meta}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "args": ["--port", "8080"],
                            "resources": {"limits": {"cpu": cpu}},
                        }
                    ]
                },
            },
        },
    }


def service(name: str = "web", *, port: int = 80, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port}]},
    }


def config_map(
    name: str = "settings", *, data: dict[str, str] | None = None, namespace: str | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": data if data is not None else {"greeting": "hello"},
    }


def namespace(name: str = "team-a", **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def owned(
    obj: dict[str, Any],
    *,
    uid: str,
    parent_uid: str = PARENT_UID,
    parent_kind: K8sType = Echo,
    parent_name: str = "demo",
    resource_version: str = "20",
    namespace: str | None = "default",
    deleting: bool = False,
) -> dict[str, Any]:
    """An observed child as if someone had created it owned by the parent (no memo)."""
    import copy

    out = copy.deepcopy(obj)
    meta = out["metadata"]
    if namespace is not None and "namespace" not in meta and obj["kind"] != "Namespace":
        meta["namespace"] = namespace
    meta["uid"] = uid
    meta["resourceVersion"] = resource_version
    meta["ownerReferences"] = [
        {
            "apiVersion": parent_kind.api_version,
            "kind": parent_kind.kind,
            "name": parent_name,
            "uid": parent_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T09:45:00Z"
        meta["finalizers"] = ["example.com/hold"]
    return out


def run(
    request: SyncRequest,
    result: Any,
    *,
    config: OperatorConfig = CONFIG,
    memo: ApplyMemo | None = None,
    now: datetime = NOW,
    has_finalize: bool = False,
) -> Plan:
    return plan(
        config, request, result,
        memo=memo if memo is not None else ApplyMemo.empty(), now=now, has_finalize=has_finalize,
    )
