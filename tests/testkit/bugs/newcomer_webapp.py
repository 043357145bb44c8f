"""The operator a newcomer writes in the first hour (issue 17), and the bugs they planted.

A ``WebApp`` gets a Deployment, a Service and a ConfigMap, an Ingress when it names a
host and a PodDisruptionBudget when it asks for one. Its spec is an attrs class whose
fields carry validators *and* the same bounds as OpenAPI metadata, as ``kubeplan.core.crd``
recommends; ``check_operator`` draws specs within those bounds.

``fixed`` is correct. Each other operator is ``fixed`` with one newcomer's bug:

- ``stamped``: a child annotation holds the time of the sync (``request.now``), so every
  resync rewrites the Deployment;
- ``wall_clock``: the status holds a reading of the wall clock (``time.time()``);
- ``invalid_names``: the ConfigMap is named after the parent in capitals, a name the
  API server refuses (422), so the operator never converges;
- ``counter``: the status counts the syncs, so each status write triggers the next sync;
- ``unbounded_replicas``: ``replicas`` has no lower bound and goes into the Deployment as
  it is; the API server refuses a negative count (422), as the fake does now that it
  validates built-in objects like kube-apiserver.

``fixed`` keeps the tier out of the Deployment's selector: a selector is immutable, and
once the fake refused changing it (as kube-apiserver does), a WebApp whose tier changed
could never be applied again; ``check_operator`` found that in the first version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import apps_v1, core_v1, networking_v1, policy_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

WebApp = K8sType("web.kubeplan.dev/v1", "WebApp", "webapps")

IMAGE = r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[a-zA-Z0-9_.-]{1,20})?$"
HOST = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


@attrs.frozen
class WebAppSpec:
    """A web application: its image, how many replicas, its port, an optional host."""

    image: str = attrs.field(
        default="nginx:1.27",
        validator=attrs.validators.matches_re(IMAGE),
        metadata={"pattern": IMAGE, "maxLength": 80},
    )
    replicas: int = attrs.field(
        default=1,
        validator=[attrs.validators.ge(1), attrs.validators.le(20)],
        metadata={"minimum": 1, "maximum": 20},
    )
    port: int = attrs.field(
        default=8080,
        validator=[attrs.validators.ge(1024), attrs.validators.le(65535)],
        metadata={"minimum": 1024, "maximum": 65535},
    )
    host: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.matches_re(HOST)),
        metadata={"pattern": HOST, "maxLength": 63},
    )
    tier: Literal["frontend", "backend"] = "frontend"
    disruption_budget: bool = False


config = (
    OperatorConfig("webapp", WebApp)
    .with_child(apps_v1.Deployment, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.replace())
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
    .with_child(networking_v1.Ingress, ChildConfig.replace())
    .with_child(policy_v1.PodDisruptionBudget, ChildConfig.replace())
)

Raw = dict[str, Any]


def _children(request: SyncRequest, spec: WebAppSpec, *, configmap_name: str) -> list[Raw]:
    name = request.name
    labels = {"app.kubernetes.io/name": name, "tier": spec.tier}
    # a Deployment's selector is immutable: it names what never changes, the tier is
    # only a label of the pods
    selector = {"app.kubernetes.io/name": name}
    deployment: Raw = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": spec.image,
                            "ports": [{"containerPort": spec.port}],
                            "envFrom": [{"configMapRef": {"name": configmap_name}}],
                        }
                    ]
                },
            },
        },
    }
    service: Raw = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": spec.port}]},
    }
    configmap: Raw = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": configmap_name},
        "data": {"PORT": str(spec.port), "TIER": spec.tier},
    }
    children = [deployment, service, configmap]
    if spec.host:
        children.append({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name},
            "spec": {"rules": [{"host": spec.host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"number": 80}}},
            }]}}]},
        })
    if spec.disruption_budget:
        children.append({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
        })
    return children


def _status(spec: WebAppSpec) -> Raw:
    return {"replicas": spec.replicas, "url": f"http://{spec.host}/" if spec.host else None}


def fixed_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(WebAppSpec)
    children = _children(request, spec, configmap_name=f"{request.name}-config")
    return SyncResponse(children=children, status=_status(spec))


def stamped_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(WebAppSpec)
    children = _children(request, spec, configmap_name=f"{request.name}-config")
    assert request.now is not None
    children[0]["metadata"]["annotations"] = {"web.kubeplan.dev/rendered-at":
                                              request.now.isoformat()}
    return SyncResponse(children=children, status=_status(spec))


def wall_clock_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(WebAppSpec)
    children = _children(request, spec, configmap_name=f"{request.name}-config")
    return SyncResponse(children=children,
                        status={**_status(spec), "lastSynced": repr(time.time())})


def invalid_names_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(WebAppSpec)
    children = _children(request, spec, configmap_name=request.name.upper())
    return SyncResponse(children=children, status=_status(spec))


def counter_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(WebAppSpec)
    children = _children(request, spec, configmap_name=f"{request.name}-config")
    syncs = int((request.parent.get("status") or {}).get("syncs") or 0) + 1
    return SyncResponse(children=children, status={**_status(spec), "syncs": syncs})


@attrs.frozen
class UnboundedWebAppSpec(WebAppSpec):
    """The spec as first written: ``replicas`` with neither validator nor bounds."""

    replicas: int = 1


def unbounded_replicas_sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(UnboundedWebAppSpec)
    children = _children(request, spec, configmap_name=f"{request.name}-config")
    return SyncResponse(children=children, status=_status(spec))


def _operator(sync: Callable[[SyncRequest], SyncResponse],
              spec_class: type[WebAppSpec] = WebAppSpec) -> OperatorDefinition:
    return OperatorDefinition(config, sync, spec_class=spec_class)


fixed = _operator(fixed_sync)
stamped = _operator(stamped_sync)
wall_clock = _operator(wall_clock_sync)
invalid_names = _operator(invalid_names_sync)
counter = _operator(counter_sync)
unbounded_replicas = _operator(unbounded_replicas_sync, UnboundedWebAppSpec)
