"""Planted bug 2: a sync whose output depends on the clock, so it never goes quiet.

The buggy operator stamps its status with the time of the sync. Every status write is a
change of the parent, which triggers another sync, which writes a new time: a hot loop
(the same happens with anything that differs between two calls on the same input: the
order of a set, a random value). The fix reports only what follows from the input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import attrs
from widgets import Widget, configmap

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse


@attrs.frozen
class ColourSpec:
    colour: Literal["blue", "green"] = "blue"


config = OperatorConfig("colours", Widget).with_child(core_v1.ConfigMap, ChildConfig.replace())


def _child(request: SyncRequest) -> dict[str, object]:
    spec = request.spec_as(ColourSpec)
    return configmap(request.name, request.namespace, colour=spec.colour)


def buggy_sync(request: SyncRequest) -> SyncResponse:
    now = datetime.now(UTC).isoformat()
    return SyncResponse(children=[_child(request)], status={"lastSynced": now})


def fixed_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(ColourSpec)
    return SyncResponse(children=[_child(request)], status={"colour": spec.colour})


buggy = OperatorDefinition(config, buggy_sync, spec_class=ColourSpec)
fixed = OperatorDefinition(config, fixed_sync, spec_class=ColourSpec)
