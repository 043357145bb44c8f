"""echo-server: an ``EchoServer`` runs a Pod per replica that answers HTTP with a greeting,
and a Service in front of them.

- Pods use the **recreate** strategy: a Pod's spec cannot be changed in place, so when the
  greeting or port changes kubeplan deletes each Pod (with a uid precondition) and creates
  it again once the delete has been observed.
- The Service uses **replace** (server-side apply): fields the cluster fills in, such as
  ``clusterIP``, survive.
- The status is computed from the observed children: how many Pods report ``Ready``.

Try it::

    kubeplan demo                     # this operator on a fake API server
    kubeplan crd examples/echo-server/echo_server_operator.py:operator
    kubeplan plan examples/echo-server/echo_server_operator.py:operator \
        -f examples/echo-server/echoserver.yaml
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.crd import crd_for
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

EchoServer = K8sType("example.kubeplan.dev/v1", "EchoServer", "echoservers")

IMAGE = "hashicorp/http-echo:1.0"
MAX_REPLICAS = 20


@attrs.frozen
class EchoServerSpec:
    """An HTTP server that answers every request with a greeting."""

    greeting: str = attrs.field(metadata={"description": "what every HTTP response says"})
    replicas: int = attrs.field(
        default=1, validator=[attrs.validators.ge(0), attrs.validators.le(MAX_REPLICAS)],
        metadata={"description": "how many Pods to run", "minimum": 0, "maximum": MAX_REPLICAS},
    )
    port: int = attrs.field(
        default=5678, validator=[attrs.validators.ge(1), attrs.validators.le(65535)],
        metadata={"description": "the Pods' HTTP port", "minimum": 1, "maximum": 65535},
    )


@attrs.frozen
class EchoServerStatus:
    """What the operator observed."""

    replicas: int = 0
    ready_replicas: int = 0


config = (
    OperatorConfig("echo-server", EchoServer)
    .with_child(core_v1.Pod, ChildConfig.recreate())
    .with_child(core_v1.Service, ChildConfig.replace())
)


def is_ready(pod: Mapping[str, Any]) -> bool:
    """Whether the kubelet reports the Pod ``Ready`` (its condition, not just Running)."""
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod(name: str, index: int, spec: EchoServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{index}",
            "labels": {"app.kubernetes.io/name": "echo-server", "echo.kubeplan.dev/server": name},
        },
        "spec": {
            "containers": [{
                "name": "echo",
                "image": IMAGE,
                "args": [f"-text={spec.greeting}", f"-listen=:{spec.port}"],
                "ports": [{"name": "http", "containerPort": spec.port}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
            }],
        },
    }


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"echo.kubeplan.dev/server": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def sync(request: SyncRequest) -> SyncResponse:
    """Pure: the EchoServer's spec and observed Pods in, the desired children and status out."""
    spec = request.spec_as(EchoServerSpec)
    pods = [pod(request.name, i, spec) for i in range(spec.replicas)]
    wanted = {p["metadata"]["name"] for p in pods}
    observed = request.children.of(core_v1.Pod)
    ready = sum(1 for name, p in observed.items() if name in wanted and is_ready(p))
    status = EchoServerStatus(replicas=spec.replicas, ready_replicas=ready)
    return SyncResponse(children=[*pods, service(request.name)], status=status)


operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=EchoServerSpec,
    status_class=EchoServerStatus,
    crd=crd_for(
        EchoServer,
        EchoServerSpec,
        EchoServerStatus,
        short_names=["echo"],
        printer_columns=[
            {"name": "Greeting", "type": "string", "jsonPath": ".spec.greeting"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
        ],
        description="An HTTP echo server: a Pod per replica and a Service.",
    ),
    description="An HTTP echo server: a Pod per replica and a Service.",
)
