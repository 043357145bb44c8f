"""Helpers and operators for the adapter tests, steered entirely through the parent spec.

``Bundle`` (namespaced): ``spec.children`` is the list of desired children, returned as
given (a child without a namespace goes in the parent's); ``spec.fail`` makes the handler
raise; ``spec.resyncAfter`` asks for a resync. Child types: ConfigMap (replace), Secret
(recreate), ServiceAccount (on_delete). ``BundleWithFinalizer`` adds ``finalize``: it
returns ``spec.teardownChildren`` and says finalized once the parent carries the
annotation ``test.kubeplan.dev/finalized: "true"``.

``Tenant`` (cluster-scoped): children are a Namespace named after it (cluster-scoped) and
ConfigMaps in that namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import NotFound
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.types import K8sType

GROUP = "test.kubeplan.dev"
Bundle = K8sType(f"{GROUP}/v1", "Bundle", "bundles")
Tenant = K8sType(f"{GROUP}/v1", "Tenant", "tenants", namespaced=False)
FINALIZED = f"{GROUP}/finalized"

BUNDLE_CONFIG = (
    OperatorConfig("bundles", Bundle)
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
    .with_child(core_v1.Secret, ChildConfig.recreate())
    .with_child(core_v1.ServiceAccount, ChildConfig.on_delete())
)
TENANT_CONFIG = (
    OperatorConfig("tenants", Tenant)
    .with_child(core_v1.Namespace, ChildConfig.replace())
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
)


def crd(type_: K8sType, scope: str = "Namespaced") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{type_.plural}.{type_.group}"},
        "spec": {
            "group": type_.group,
            "scope": scope,
            "names": {"kind": type_.kind, "plural": type_.plural,
                      "singular": type_.kind.lower(), "listKind": f"{type_.kind}List"},
            "versions": [{
                "name": type_.version, "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "status": {"type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True},
                    },
                }},
            }],
        },
    }


BUNDLE_CRD = crd(Bundle)
TENANT_CRD = crd(Tenant, "Cluster")


def bundle(name: str, children: list[dict[str, Any]], namespace: str = "default",
           **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": Bundle.api_version, "kind": Bundle.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"children": children, **spec},
    }


def configmap(name: str, namespace: str | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}


def secret(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": dict(data), "type": "Opaque"}


def service_account(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "labels": dict(labels)}}


def _children_of(request: SyncRequest, field: str = "children") -> list[dict[str, Any]]:
    children = []
    for child in request.spec.get(field) or []:
        child = {**child, "metadata": dict(child.get("metadata") or {})}
        if child["apiVersion"] == "v1" and child["kind"] != "Namespace":
            child["metadata"].setdefault("namespace", request.namespace)
        children.append(child)
    return children


class BundleHandler:
    """The Bundle handler; ``calls`` counts syncs (tests assert the handler ran)."""

    def __init__(self) -> None:
        self.calls = 0

    def sync(self, request: SyncRequest) -> SyncResponse:
        self.calls += 1
        if request.spec.get("fail"):
            raise RuntimeError(str(request.spec["fail"]))
        children = _children_of(request)
        return SyncResponse(
            children=children, status={"children": len(children)},
            resync_after=request.spec.get("resyncAfter"),
        )


class BundleWithFinalizer(BundleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.finalize_calls = 0

    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        self.finalize_calls += 1
        annotations = request.parent.get("metadata", {}).get("annotations") or {}
        done = annotations.get(FINALIZED) == "true"
        return FinalizeResponse(
            status={"phase": "finalized" if done else "finalizing"}, finalized=done,
            children=_children_of(request, "teardownChildren"),
        )


def tenant(name: str, **configmaps: str) -> dict[str, Any]:
    return {"apiVersion": Tenant.api_version, "kind": Tenant.kind, "metadata": {"name": name},
            "spec": {"configmaps": configmaps}}


def tenant_sync(request: SyncRequest) -> SyncResponse:
    ns = f"tenant-{request.name}"
    children: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    ]
    for name, value in sorted((request.spec.get("configmaps") or {}).items()):
        children.append(configmap(name, ns, value=value))
    return SyncResponse(children=children, status={"namespace": ns})


#: fast timings so fault tests converge in well under a second
FAST = RuntimeSettings(
    workers=4, resync_period=None, sync_timeout=5.0, backoff_base=0.02, backoff_cap=0.5,
    watch_inactivity_timeout=10.0, watch_backoff_base=0.02, watch_backoff_cap=0.2,
    grace_period=2.0, event_aggregation_window=60.0,
)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0,
                     interval: float = 0.02) -> Any:
    """Poll ``check`` until it returns a truthy value (returned) or fails the test after
    ``timeout``; the last exception or value is in the failure message."""
    last: Any = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    last = await check()
                    if last:
                        return last
                except (AssertionError, NotFound) as exc:
                    last = exc
                await asyncio.sleep(interval)
    except TimeoutError:
        pytest.fail(f"condition not met within {timeout}s; last: {last!r}")


async def get_or_none(client: KubeClient, type_: K8sType, name: str,
                      namespace: str | None = None) -> dict[str, Any] | None:
    try:
        return await client.get(type_, name, namespace)
    except NotFound:
        return None
