"""A small operator used by the command tests: attrs spec/status with every schema feature."""

from __future__ import annotations

import enum
from typing import Any, Literal

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.types import K8sType

Widget = K8sType("example.com/v1", "Widget", "widgets")


class Tier(enum.Enum):
    FREE = "free"
    PRO = "pro"


@attrs.define
class Port:
    """A port the widget serves on."""

    number: int = attrs.field(metadata={"description": "TCP or UDP port number"})
    protocol: Literal["TCP", "UDP"] = "TCP"


@attrs.define(kw_only=True)
class WidgetSpec:
    """What a Widget should run."""

    image: str = attrs.field(metadata={"description": "container image"})
    replicas: int = 1
    tier: Tier = Tier.FREE
    ports: list[Port] = attrs.Factory(list)
    labels: dict[str, str] = attrs.Factory(dict)
    min_replicas: int | None = None
    note: str | None = None
    extra: dict[str, Any] = attrs.Factory(dict)
    max_unavailable: int | str = attrs.field(default=1, metadata={"name": "maxUnavailable"})


@attrs.define(kw_only=True)
class WidgetStatus:
    """What the operator observed."""

    ready_replicas: int = 0
    phase: Literal["Pending", "Running", "Failed"] = "Pending"


def sync(request: Any) -> Any:  # never called by the command tests
    from kubeplan.core.response import SyncResponse

    return SyncResponse(children=[], status=WidgetStatus())


config = (
    OperatorConfig("widgets", Widget)
    .with_child(apps_v1.Deployment, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.replace())
)

operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=WidgetSpec,
    status_class=WidgetStatus,
    description="A Widget runs an image behind a Service.",
)

#: restricted to one namespace: the manifests use Roles
scoped = OperatorDefinition(
    config=config.within_namespaces("widgets"), handler=sync, spec_class=WidgetSpec
)

not_an_operator = {"config": config}
