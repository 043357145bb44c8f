"""Planted bug 3: a finalize that forgets to report ``finalized``.

The buggy finalize tears the children down but never says it is done, so kubeplan keeps
the finalizer and the parent can never be deleted. The fix answers ``finalized=True``
once no child is left.
"""

from __future__ import annotations

from typing import Literal

import attrs
from widgets import Widget, configmap

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse


@attrs.frozen
class LabelSpec:
    label: Literal["a", "b"] = "a"


config = OperatorConfig("cleanup", Widget).with_child(core_v1.ConfigMap, ChildConfig.replace())


class BuggyHandler:
    def sync(self, request: SyncRequest) -> SyncResponse:
        spec = request.spec_as(LabelSpec)
        child = configmap(request.name, request.namespace, label=spec.label)
        return SyncResponse(children=[child], status={"label": spec.label})

    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        # tears down the children... and forgets to say it is done
        return FinalizeResponse(status={"phase": "tearing down"}, children=[])


class FixedHandler(BuggyHandler):
    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        done = len(request.children) == 0
        return FinalizeResponse(
            status={"phase": "tearing down"}, children=[], finalized=done
        )


buggy = OperatorDefinition(config, BuggyHandler(), spec_class=LabelSpec)
fixed = OperatorDefinition(config, FixedHandler(), spec_class=LabelSpec)
