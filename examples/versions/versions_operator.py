"""A parent type in two versions: ``Greeting`` v1 has one ``name``, v2 splits it into
``givenName`` and ``familyName`` and is the storage version. The operator watches v2
(``sync`` always sees v2) and serves the conversion webhook that lets clients keep
reading and writing v1.

Run it against an embedded fake API server (the fake calls the webhook itself)::

    kubeplan run examples/versions/versions_operator.py:operator --embedded

then, with the kubeconfig it prints::

    kubectl --kubeconfig <printed path> apply -f examples/versions/greeting.yaml
    kubectl --kubeconfig <printed path> get greetings.v2.example.kubeplan.dev ada -o yaml
"""

from __future__ import annotations

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.core.versions import Version, on_spec

GROUP = "example.kubeplan.dev"
Greeting = K8sType(f"{GROUP}/v2", "Greeting", "greetings")


@attrs.frozen
class GreetingV1:
    """Who to greet, as one name."""

    name: str = attrs.field(metadata={"description": "the full name, as it is written"})


@attrs.frozen
class GreetingV2:
    """Who to greet, given name and family name apart."""

    given_name: str = attrs.field(metadata={"pattern": "^[^ ]*$"})
    family_name: str | None = None


@attrs.frozen
class GreetingStatus:
    greeting: str = ""


def v1_to_v2(spec: GreetingV1) -> GreetingV2:
    """Split at the first space; a name without one has no family name."""
    given, space, family = spec.name.partition(" ")
    return GreetingV2(given_name=given, family_name=family if space else None)


def v2_to_v1(spec: GreetingV2) -> GreetingV1:
    if spec.family_name is None:
        return GreetingV1(name=spec.given_name)
    return GreetingV1(name=f"{spec.given_name} {spec.family_name}")


def greeting_for(spec: GreetingV2) -> str:
    return f"Hello, {v2_to_v1(spec).name}!"


config = OperatorConfig("greeter", Greeting).with_child(core_v1.ConfigMap, ChildConfig.replace())


def sync(request: SyncRequest) -> SyncResponse:
    """Pure: a v2 Greeting in, one ConfigMap and a status out."""
    greeting = greeting_for(request.spec_as(GreetingV2))
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"greeting-{request.name}", "namespace": request.namespace},
        "data": {"greeting": greeting},
    }
    return SyncResponse(children=[configmap], status=GreetingStatus(greeting))


operator = OperatorDefinition(
    config=config,
    handler=sync,
    versions=[
        Version("v1", spec_class=GreetingV1, status_class=GreetingStatus),
        Version("v2", spec_class=GreetingV2, status_class=GreetingStatus, storage=True),
    ],
    conversions={("v1", "v2"): on_spec(v1_to_v2), ("v2", "v1"): on_spec(v2_to_v1)},
    description="greets every Greeting with a ConfigMap, in v1 or v2",
)
