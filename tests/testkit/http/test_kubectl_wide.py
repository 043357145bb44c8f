"""``kubectl get -o wide`` of Services, Deployments and Pods against the fake (issue 14):
the columns and cells the real server's printers give them (checked against a real
kube-apiserver v1.36 with kubectl 1.27 and 1.33: the same output but for allocated
addresses and ages). Fixtures from test_kubectl."""

from __future__ import annotations

import json
import re

from test_kubectl import Kubectl, versions
from test_kubectl import kubectl as kubectl  # the fixture

OBJECTS = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web, tier: front}
  ports: [{port: 80, name: http}, {port: 443, name: https}]
---
apiVersion: v1
kind: Service
metadata: {name: np, namespace: default}
spec:
  type: NodePort
  selector: {app: web}
  externalIPs: [1.2.3.4]
  ports: [{port: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: example.com}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 0
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front, back]},
                       {key: zone, operator: Exists}]
  template:
    metadata: {labels: {app: web, tier: front, zone: a}}
    spec:
      containers: [{name: app, image: nginx:1.25}, {name: side, image: busybox:1.36}]
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: default}
spec:
  nodeName: node-a
  readinessGates: [{conditionType: example.com/ready}]
  initContainers: [{name: init, image: busybox}]
  containers: [{name: app, image: nginx}, {name: two, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: default}
spec:
  containers: [{name: app, image: nginx}]
"""

P2_STATUS = {"status": {
    "phase": "Running", "podIP": "10.1.2.3", "podIPs": [{"ip": "10.1.2.3"}],
    "nominatedNodeName": "n9", "conditions": [{"type": "Ready", "status": "False"}],
    "containerStatuses": [{
        "name": "app", "image": "nginx", "imageID": "", "ready": False, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "startedAt": "2020-01-01T00:00:00Z",
                                     "finishedAt": "2020-01-01T00:01:00Z"}}}]}}
P1_STATUS = {"status": {
    "phase": "Pending",
    "conditions": [{"type": "Initialized", "status": "False"},
                   {"type": "example.com/ready", "status": "True"}],
    "initContainerStatuses": [{
        "name": "init", "image": "busybox", "imageID": "", "ready": False, "restartCount": 1,
        "state": {"terminated": {"exitCode": 2, "startedAt": "2020-01-01T00:00:00Z",
                                 "finishedAt": "2020-01-01T00:01:00Z"}}}]}}


def _rows(out: str) -> dict[str, list[str]]:
    """The output's rows by name, cells split on the runs of spaces kubectl pads with."""
    return {cells[0]: cells for cells in
            (re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip())}


@versions
async def test_get_wide_services_deployments_pods(kubectl: Kubectl) -> None:
    await kubectl("create", "-f", "-", stdin=OBJECTS)
    services = _rows(await kubectl("get", "services", "-o", "wide"))
    assert services["NAME"] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
                                "SELECTOR"]
    web = services["web"]
    assert web[1] == "ClusterIP" and re.fullmatch(r"10\.96\.\d+\.\d+", web[2])
    assert web[3:5] == ["<none>", "80/TCP,443/TCP"] and web[6] == "app=web,tier=front"
    assert services["np"][1] == "NodePort" and services["np"][3:5] == [
        "1.2.3.4", "8080:30080/TCP"]
    assert services["ext"][1:5] == ["ExternalName", "<none>", "example.com", "<none>"]
    assert services["ext"][6] == "<none>"
    # without -o wide kubectl hides the priority-1 columns itself
    assert "SELECTOR" not in (await kubectl("get", "services")).splitlines()[0]

    deployments = _rows(await kubectl("get", "deployments", "-o", "wide"))
    assert deployments["NAME"] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE",
                                   "CONTAINERS", "IMAGES", "SELECTOR"]
    web = deployments["web"]
    assert web[1:4] == ["0/0", "0", "0"]
    assert web[5:] == ["app,side", "nginx:1.25,busybox:1.36", "app=web,tier in (back,front),zone"]

    for name, status in (("p1", P1_STATUS), ("p2", P2_STATUS)):
        await kubectl("patch", "pod", name, "--subresource=status", "--type=merge",
                      "-p", json.dumps(status))
    pods = _rows(await kubectl("get", "pods", "-o", "wide"))
    assert pods["NAME"] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                            "NOMINATED NODE", "READINESS GATES"]
    p1, p2 = pods["p1"], pods["p2"]
    assert p1[1:4] == ["0/2", "Init:ExitCode:2", "1"]
    assert p1[5:] == ["<none>", "node-a", "<none>", "1/1"]
    assert p2[1:3] == ["0/1", "CrashLoopBackOff"] and re.fullmatch(r"4 \(\S+ ago\)", p2[3])
    assert p2[5:] == ["10.1.2.3", "<none>", "n9", "<none>"]
