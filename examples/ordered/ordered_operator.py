"""ordered: a ``Workspace`` owns a Namespace and objects inside it, created and torn down
in order.

- **Creation order**: the plan creates the Namespace first (kubeplan ranks Namespaces
  before other cluster-scoped children, and those before namespaced ones), so the
  ConfigMap and ServiceAccount inside it never hit "namespace not found".
- **Ordered teardown with finalize**: when a Workspace is deleted, ``finalize`` first
  returns only the Namespace (the objects inside are deleted), then, once they are gone,
  nothing (the Namespace is deleted), and only when the Namespace is gone says
  ``finalized=True``, which lets kubeplan remove its finalizer and the Workspace go away.
  Each pass is a pure function of what is observed; kubeplan calls ``finalize`` again
  whenever a child disappears.
"""

from __future__ import annotations

from typing import Any

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.types import K8sType

Workspace = K8sType("example.kubeplan.dev/v1", "Workspace", "workspaces", namespaced=False)


@attrs.frozen
class WorkspaceSpec:
    """A Namespace with a ServiceAccount and settings for one team."""

    owner: str = attrs.field(metadata={"description": "who the workspace is for"})
    settings: dict[str, str] = attrs.field(factory=dict, metadata={
        "description": "written to the ConfigMap 'settings' in the namespace",
    })


@attrs.frozen
class WorkspaceStatus:
    phase: str = "Ready"
    namespace: str | None = None


config = (
    OperatorConfig("ordered", Workspace)
    .with_child(core_v1.Namespace, ChildConfig.replace())
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
    .with_child(core_v1.ServiceAccount, ChildConfig.replace())
)


def namespace_name(request: SyncRequest) -> str:
    return f"ws-{request.name}"[:63].rstrip("-")


def desired(request: SyncRequest, spec: WorkspaceSpec) -> tuple[dict[str, Any], list[dict]]:
    ns = namespace_name(request)
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": ns, "labels": {"example.kubeplan.dev/owner": "workspace"}}}
    inside = [
        # listed before the Namespace on purpose: the plan still creates the Namespace first
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings",
                                                               "namespace": ns},
         "data": {**spec.settings, "owner": spec.owner}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "workspace", "namespace": ns}},
    ]
    return namespace, inside


class WorkspaceHandler:
    """``sync`` builds the workspace; ``finalize`` tears it down from the inside out."""

    def sync(self, request: SyncRequest) -> SyncResponse:
        spec = request.spec_as(WorkspaceSpec)
        namespace, inside = desired(request, spec)
        return SyncResponse(children=[*inside, namespace],
                            status=WorkspaceStatus("Ready", namespace_name(request)))

    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        ns = namespace_name(request)
        inside = len(request.children.of(core_v1.ConfigMap)) + len(
            request.children.of(core_v1.ServiceAccount))
        namespace = request.children.of(core_v1.Namespace).get(ns)
        if inside:  # step 1: keep only the Namespace (as sync built it, so it is not
            # rewritten); the objects inside are deleted
            keep, _ = desired(request, request.spec_as(WorkspaceSpec))
            return FinalizeResponse(children=[keep],
                                    status=WorkspaceStatus("DeletingContents", ns))
        if namespace is not None:  # step 2: the Namespace itself
            return FinalizeResponse(children=[], status=WorkspaceStatus("DeletingNamespace", ns))
        return FinalizeResponse(finalized=True, status=WorkspaceStatus("Deleted", None))


operator = OperatorDefinition(
    config=config,
    handler=WorkspaceHandler(),
    spec_class=WorkspaceSpec,
    status_class=WorkspaceStatus,
    description="A team Namespace with its objects, created and deleted in order.",
)
