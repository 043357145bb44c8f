"""Tables (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``), what kubectl get
prints: the column definitions per kind, the cells, and the row objects."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import TABLE, AnyStep, Step, body_is
from diff_kinds import KINDS, LABEL, Kind, kind_id
from diff_projections import table

AREA = "tables"
def table_steps(kind: Kind) -> list[AnyStep]:
    name = kind.name("table")
    steps: list[AnyStep] = [Step("POST", kind.collection(), kind.obj(name), compare=False)]
    if kind.settled is not None:
        steps.append(Step("GET", kind.item(name), until=body_is(kind.settled), only="real"))
    selector = {"labelSelector": f"{LABEL}={{ns}}"}
    steps += [
        Step("GET", kind.collection(), query=selector, accept=TABLE, project=table,
             title="list as a Table"),
        Step("GET", kind.item(name), accept=TABLE, project=table, title="get as a Table"),
    ]
    return steps


@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
def test_table_columns(differ: Differ, kind: Kind) -> None:
    if kind.plural == "pods":
        differ.wait_for_service_account()
    differ.check(table_steps(kind))


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {LABEL: "{ns}"}}, "data": {"a": "1"}}


def test_table_options(differ: Differ) -> None:
    cms = "/api/v1/namespaces/{ns}/configmaps"
    selector = f"{LABEL}={{ns}}"
    differ.check([
        Step("POST", cms, _cm("one"), compare=False),
        Step("POST", cms, _cm("two"), compare=False),
        Step("GET", cms, query={"labelSelector": selector, "includeObject": "None"},
             accept=TABLE, project=table, title="includeObject=None"),
        Step("GET", cms, query={"labelSelector": selector, "includeObject": "Object"},
             accept=TABLE, project=table, title="includeObject=Object"),
        Step("GET", cms, query={"labelSelector": selector, "limit": "1"}, accept=TABLE,
             project=table, title="a page of a Table"),
        Step("GET", cms, query={"labelSelector": selector},
             accept="application/json;as=Table;v=v1beta1;g=meta.k8s.io", project=table,
             title="the v1beta1 Table"),
        Step("GET", cms, query={"labelSelector": selector},
             accept=f"{TABLE}, application/json", project=table,
             title="Table first, JSON second"),
        Step("GET", cms, query={"labelSelector": selector},
             accept="application/json;as=Nothing;v=v1;g=meta.k8s.io",
             title="an unknown as= only"),
        Step("GET", cms, query={"labelSelector": selector, "resourceVersion": "0"},
             watch=True, accept=TABLE, title="a watch as Tables",
             project=lambda a: {**a, "body": [
                 {"type": e.get("type"), **table({"body": e.get("object")})}
                 for e in a.get("body") or () if isinstance(e, dict)]}),
    ])


_OLD = {"startedAt": "2020-01-01T00:00:00Z", "finishedAt": "2020-01-01T00:01:00Z"}


def _container(name: str, **status: Any) -> dict[str, Any]:
    return {"name": name, "image": "registry.k8s.io/pause:3.10", "imageID": "",
            "ready": False, "restartCount": 0, **status}


#: pod statuses the printer reads into Ready, Status, Restarts, IP, Nominated Node and
#: Readiness Gates (no kubelet runs on either server, so a written status stays)
POD_STATUSES: dict[str, dict[str, Any]] = {
    "crashing": {"phase": "Running", "podIPs": [{"ip": "10.1.2.3"}], "podIP": "10.1.2.3",
                 "nominatedNodeName": "n9", "conditions": [{"type": "Ready", "status": "False"}],
                 "containerStatuses": [
                     _container("a", restartCount=4,
                                state={"waiting": {"reason": "CrashLoopBackOff"}},
                                lastState={"terminated": {"exitCode": 1, **_OLD}}),
                     _container("b", ready=True,
                                state={"running": {"startedAt": _OLD["startedAt"]}})]},
    "initialising": {"phase": "Pending",
                     "conditions": [{"type": "Initialized", "status": "False"},
                                    {"type": "example.com/gate", "status": "True"}],
                     "initContainerStatuses": [
                         _container("i", restartCount=1,
                                    state={"terminated": {"exitCode": 2, **_OLD}})]},
    "half-done": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                  "containerStatuses": [
                      _container("a", state={"terminated": {"exitCode": 0,
                                                            "reason": "Completed", **_OLD}}),
                      _container("b", ready=True,
                                 state={"running": {"startedAt": _OLD["startedAt"]}})]},
    "succeeded": {"phase": "Succeeded", "containerStatuses": [
        _container(name, state={"terminated": {"exitCode": 0, "reason": "Completed", **_OLD}})
        for name in ("a", "b")]},
}


def test_table_pod_statuses(differ: Differ) -> None:
    differ.wait_for_service_account()
    pods = "/api/v1/namespaces/{ns}/pods"
    spec = {"readinessGates": [{"conditionType": "example.com/gate"}],
            "initContainers": [{"name": "i", "image": "registry.k8s.io/pause:3.10"}],
            "containers": [{"name": n, "image": "registry.k8s.io/pause:3.10"} for n in "ab"]}
    steps: list[AnyStep] = []
    for name, status in POD_STATUSES.items():
        steps += [
            Step("POST", pods, {"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": name, "labels": {LABEL: "{ns}"}}, "spec": spec}, compare=False),
            Step("PATCH", f"{pods}/{name}/status", {"status": status},
                 content_type="application/merge-patch+json", compare=False)]
    steps.append(Step("GET", pods, query={"labelSelector": f"{LABEL}={{ns}}",
                                          "includeObject": "None"},
                      accept=TABLE, project=table, title="pods as a Table"))
    differ.check(steps)
