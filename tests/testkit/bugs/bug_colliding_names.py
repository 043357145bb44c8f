"""Planted bug 1: two parents whose children's names collide.

The buggy operator names its ConfigMap after the widget's *team*; two widgets of one team
want the same ConfigMap, and only the first gets it. The fix names the child after the
widget itself (parent names are unique within a namespace).
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


@attrs.frozen
class TeamSpec:
    team: Literal["red", "blue"] = "red"
    size: Literal[1, 2, 3] = 1


config = OperatorConfig("teams", Widget).with_child(core_v1.ConfigMap, ChildConfig.replace())


def buggy_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(TeamSpec)
    child = configmap(f"{spec.team}-settings", request.namespace, size=str(spec.size))
    return SyncResponse(children=[child], status={"team": spec.team})


def fixed_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(TeamSpec)
    child = configmap(f"{request.name}-settings", request.namespace, team=spec.team,
                      size=str(spec.size))
    return SyncResponse(children=[child], status={"team": spec.team})


buggy = OperatorDefinition(config, buggy_sync, spec_class=TeamSpec)
fixed = OperatorDefinition(config, fixed_sync, spec_class=TeamSpec)

#: the names both versions give their children, so scenario steps edit and block them
CHILD_NAMES = ("red-settings", "blue-settings", "p0-settings", "p1-settings")
