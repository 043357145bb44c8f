"""The smallest kubeplan operator: a ``Member`` gets a ConfigMap ``member-<name>`` that greets it
(``<name>`` is the Member's own name).

Run it against an embedded fake API server::

    kubeplan run examples/member/member_operator.py:operator --embedded

then, in another shell, with the kubeconfig it prints::

    kubectl --kubeconfig <printed path> apply -f examples/member/member.yaml
    kubectl --kubeconfig <printed path> get configmap member-ada -o yaml
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

Member = K8sType("example.kubeplan.dev/v1", "Member", "members")

config = OperatorConfig("member", Member).with_child(core_v1.ConfigMap, ChildConfig.replace())


def greeting_for(name: str, member_of: str | None) -> str:
    return f"Hello, {name}!" + (f" Welcome to {member_of}." if member_of else "")


def sync(request: SyncRequest) -> SyncResponse:
    """Pure: the Member's spec in, one ConfigMap and a status out."""
    spec = request.spec
    name = str(spec.get("name") or request.name)
    greeting = greeting_for(name, spec.get("memberOf"))
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        # named after the Member object (always a valid name), not its free-text spec.name:
        # check_operator found that a spec.name such as "-" made an invalid ConfigMap name
        "metadata": {"name": f"member-{request.name}", "namespace": request.namespace},
        "data": {"greeting": greeting},
    }
    return SyncResponse(children=[configmap], status={"greeting": greeting})


crd = yaml.safe_load((Path(__file__).parent / "crd.yaml").read_text())

operator = OperatorDefinition(config=config, handler=sync, crd=crd,
                              description="greets every Member with a ConfigMap")
