"""A Namespace decorator with ``finalize``, run by ``test_e2e_decorator.py``: leaving the
label selection must cost the Namespace kubeplan's finalizer, or its deletion would hang."""

from __future__ import annotations

from kubeplan.core import (
    ChildConfig,
    FinalizeResponse,
    OperatorConfig,
    OperatorDefinition,
    SyncRequest,
    SyncResponse,
)
from kubeplan.core.k8s import core_v1

LABEL = "e2e.kubeplan.dev/limited"

config = (
    OperatorConfig("e2e-limits", core_v1.Namespace)
    .decorating()
    .selecting(labels=f"{LABEL}=yes")
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
)


class Limits:
    def sync(self, request: SyncRequest) -> SyncResponse:
        marker = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "limits", "namespace": request.name},
                  "data": {"limited": "yes"}}
        return SyncResponse(children=[marker])

    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        return FinalizeResponse(finalized=True)


operator = OperatorDefinition(config, Limits())
