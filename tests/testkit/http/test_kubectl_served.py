"""kubectl workflows that need resources beyond plain CRUD (issue 14): ``kubectl scale``,
``kubectl auth can-i`` / ``whoami``, ``kubectl create token``; against the fake over HTTP
with the default kubectl, 1.27 and 1.33 (fixtures from test_kubectl)."""

from __future__ import annotations

import base64
import json

import pytest
from test_kubectl import Kubectl, versions
from test_kubectl import kubectl as kubectl  # the fixture

from kubeplan.testkit.apiserver.http import FakeApiHttpServer

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"""


@versions
async def test_kubectl_scale_deployment(kubectl: Kubectl, http: FakeApiHttpServer) -> None:
    await kubectl("create", "-f", "-", stdin=DEPLOYMENT)
    out = await kubectl("scale", "deployment", "web", "--replicas=3")
    assert "deployment.apps/web scaled" in out
    got = await kubectl.json("get", "deployment", "web")
    assert got["spec"]["replicas"] == 3
    assert got["metadata"]["generation"] == 2
    # --current-replicas reads the Scale and writes it back with its resourceVersion
    out = await kubectl("scale", "deployment", "web", "--current-replicas=3", "--replicas=1")
    assert "scaled" in out
    with pytest.raises(AssertionError, match="Expected replicas to be 5, was 1"):
        await kubectl("scale", "deployment", "web", "--current-replicas=5", "--replicas=2")
    raw = await kubectl("get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale")
    scale = json.loads(raw)
    assert scale["spec"] == {"replicas": 1} and scale["status"]["selector"] == "app=web"


@versions
async def test_kubectl_auth_can_i_and_whoami(
    kubectl: Kubectl, request: pytest.FixtureRequest
) -> None:
    assert (await kubectl("auth", "can-i", "create", "deployments")).strip() == "yes"
    assert (await kubectl("auth", "can-i", "get", "/healthz")).strip() == "yes"
    if request.node.callspec.params["kubectl"] == "1.27":
        # 1.27 asks only for v1alpha1/v1beta1 SelfSubjectReviews, which neither server serves
        with pytest.raises(AssertionError, match="selfsubjectreviews API is not enabled"):
            await kubectl("auth", "whoami")
        return
    out = await kubectl("auth", "whoami")
    assert "admin" in out and "system:masters" in out
    who = await kubectl.json("auth", "whoami")
    assert who["status"]["userInfo"]["username"] == "admin"


@versions
async def test_kubectl_create_token(kubectl: Kubectl) -> None:
    await kubectl(
        "create", "-f", "-", stdin="apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: bot}\n"
    )
    token = (await kubectl("create", "token", "bot", "--duration=2h")).strip()
    _header, payload, _signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "system:serviceaccount:default:bot"
    assert claims["exp"] - claims["iat"] == 7200
    with pytest.raises(AssertionError, match='serviceaccounts "nope" not found'):
        await kubectl("create", "token", "nope")


NODE_AND_POD = """\
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: default}
spec: {nodeName: n1, containers: [{name: c, image: nginx}]}
"""


@versions
async def test_kubectl_get_new_kinds_and_drain_a_node(kubectl: Kubectl) -> None:
    resources = await kubectl("api-resources", "--no-headers")
    names = {line.split()[0] for line in resources.splitlines()}
    assert {"nodes", "endpoints", "horizontalpodautoscalers", "storageclasses"} <= names
    await kubectl("create", "-f", "-", stdin=NODE_AND_POD)
    assert "n1" in await kubectl("get", "no")
    # the fake deletes a pod at once (no kubelet to wait for, no graceful deletion); the
    # real server keeps a bound pod Terminating, so there drain waits for a kubelet
    out = await kubectl("drain", "n1", "--force", "--timeout=20s")
    assert "node/n1 cordoned" in out and "pod/p1 evicted" in out
    node = await kubectl.json("get", "node", "n1")
    assert node["spec"]["unschedulable"] is True
    assert "p1" not in await kubectl("get", "pods")
