"""Planted bug 4: an operator that deletes its children on an error.

The buggy operator "starts clean" whenever its parent reports a failed sync: it returns
no children, so kubeplan deletes them. When the failure lasts (here: a ConfigMap name held
by someone else's object, which kubeplan reports as a ChildConflict) this never ends:
children are deleted, the conflict disappears with them, they are created again, the
conflict is back. The fix leaves error handling to kubeplan (children stay as they are,
the condition says what is wrong).
"""

from __future__ import annotations

from typing import Literal

import attrs
from widgets import Widget, configmap

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.status import CONDITION_SYNCED, find_condition


@attrs.frozen
class MessageSpec:
    message: Literal["hi", "bye"] = "hi"


config = OperatorConfig("resets", Widget).with_child(core_v1.ConfigMap, ChildConfig.replace())


def _children(request: SyncRequest) -> list[dict[str, object]]:
    spec = request.spec_as(MessageSpec)
    return [
        configmap(request.name, request.namespace, message=spec.message),
        configmap(f"{request.name}-copy", request.namespace, message=spec.message),
    ]


def buggy_sync(request: SyncRequest) -> SyncResponse:
    synced = find_condition(request.status, CONDITION_SYNCED) or {}
    if synced.get("status") == "False":
        return SyncResponse(children=[], status={"phase": "resetting"})
    return SyncResponse(children=_children(request), status={"phase": "ready"})


def fixed_sync(request: SyncRequest) -> SyncResponse:
    return SyncResponse(children=_children(request), status={"phase": "ready"})


buggy = OperatorDefinition(config, buggy_sync, spec_class=MessageSpec)
fixed = OperatorDefinition(config, fixed_sync, spec_class=MessageSpec)
