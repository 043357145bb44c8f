"""The smallest kubeplan operator: a ``Member`` gets a ConfigMap ``member-<name>`` that greets it.

Run it against an embedded fake API server::

    kubeplan run examples/member/operator.py:operator --embedded

then, in another shell, with the kubeconfig it prints::

    kubectl --kubeconfig <printed path> apply -f examples/member/member.yaml
    kubectl --kubeconfig <printed path> get configmap member-ada -o yaml
"""

from __future__ import annotations

import re
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
        "metadata": {
            "name": "member-" + re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-"),
            "namespace": request.namespace,
        },
        "data": {"greeting": greeting},
    }
    return SyncResponse(children=[configmap], status={"greeting": greeting})


crd = yaml.safe_load((Path(__file__).parent / "crd.yaml").read_text())

operator = OperatorDefinition(config=config, handler=sync, crd=crd,
                              description="greets every Member with a ConfigMap")
