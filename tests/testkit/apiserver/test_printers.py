"""The real server's printers re-done for the fake (issue 14): each cell as
pkg/printers/internalversion computes it, and the generated column descriptions."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubeplan.testkit.apiserver import printers, table_docs, tables

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-01-01T11:00:00Z"
SCRIPT = Path(__file__).resolve().parents[3] / "testkit" / "scripts" / "gen_table_docs.py"


def cells(group: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    obj = {"metadata": {"name": "x", "creationTimestamp": CREATED}, **obj}
    return {c.name: c.cell(obj, NOW) for c in printers.builtin_columns(group, kind)}


def pod(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "a"}, {"name": "b"}], **spec}, "status": status}


def running(name: str, ready: bool = True) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": 0, "state": {"running": {}}}


def completed(name: str, code: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": code,
                                     "reason": "Completed" if code == 0 else ""}}}


@pytest.mark.parametrize(("status", "extra", "want"), [
    ({"phase": "Pending"}, {}, ("0/2", "Pending")),
    ({"phase": "Running", "containerStatuses": [running("a"), running("b")]}, {},
     ("2/2", "Running")),
    ({"phase": "Running", "reason": "Evicted"}, {}, ("0/2", "Evicted")),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                          "reason": "SchedulingGated"}]}, {},
     ("0/2", "SchedulingGated")),
    # a finished container beside a running one: Running when the pod is Ready
    ({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
      "containerStatuses": [completed("a"), running("b")]}, {}, ("1/2", "Running")),
    ({"phase": "Running", "containerStatuses": [completed("a"), running("b")]}, {},
     ("1/2", "NotReady")),
    ({"phase": "Succeeded", "containerStatuses": [completed("a"), completed("b")]}, {},
     ("0/2", "Completed")),
    # the last container is read first: a failure behind a Completed one is the reason
    ({"phase": "Running", "containerStatuses": [completed("a"), completed("b", 3)]}, {},
     ("0/2", "ExitCode:3")),
    ({"phase": "Running", "containerStatuses": [completed("a", 3), completed("b")]}, {},
     ("0/2", "ExitCode:3")),
    # init containers: waiting, and the index of the one running
    ({"phase": "Pending", "initContainerStatuses": [
        {"name": "i", "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]},
     {"initContainers": [{"name": "i"}]}, ("0/2", "Init:ErrImagePull")),
    ({"phase": "Pending", "initContainerStatuses": [
        completed("i"), {"name": "j", "restartCount": 0, "state": {"running": {}}}]},
     {"initContainers": [{"name": "i"}, {"name": "j"}]}, ("0/2", "Init:1/2")),
    # a started sidecar (restartable init container) counts as a ready container
    ({"phase": "Running", "initContainerStatuses": [
        {"name": "s", "restartCount": 0, "started": True, "ready": True,
         "state": {"running": {}}}], "containerStatuses": [running("a"), running("b")]},
     {"initContainers": [{"name": "s", "restartPolicy": "Always"}]}, ("3/3", "Running")),
])
def test_pod_ready_and_status(status: dict[str, Any], extra: dict[str, Any],
                              want: tuple[str, str]) -> None:
    got = cells("", "Pod", pod(status, **extra))
    assert (got["Ready"], got["Status"]) == want


def test_pod_restarts_terminating_and_wide_cells() -> None:
    crashed = {"name": "a", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
               "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T11:55:00Z"}}}
    got = cells("", "Pod", pod({"phase": "Running", "containerStatuses": [crashed],
                                "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}]},
                               nodeName="n1"))
    assert got["Restarts"] == "3 (5m ago)" and got["Status"] == "CrashLoopBackOff"
    assert (got["IP"], got["Node"], got["Nominated Node"], got["Readiness Gates"]) == (
        "10.0.0.7", "n1", "<none>", "<none>")
    deleted = {**pod({"phase": "Running"}), "metadata": {
        "name": "x", "creationTimestamp": CREATED, "deletionTimestamp": CREATED}}
    assert cells("", "Pod", deleted)["Status"] == "Terminating"
    done = {**pod({"phase": "Succeeded"}), "metadata": deleted["metadata"]}
    assert cells("", "Pod", done)["Status"] == "Succeeded"
    assert printers.row_conditions("", "Pod", done) == [{
        "type": "Completed", "status": "True", "reason": "Succeeded",
        "message": "The pod has completed successfully."}]


def test_label_selectors_as_upstream_formats_them() -> None:
    selector = {"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
        {"key": "c", "operator": "NotIn", "values": ["y", "x"]},
        {"key": "aa", "operator": "DoesNotExist"}]}
    assert printers.label_selector_string(selector) == "a=1,!aa,b=2,c notin (x,y)"
    assert printers.format_label_selector({}) == "<none>"
    assert printers.label_selector_string(None) == ""
    assert printers.format_labels({"z": "1", "a": "2"}) == "a=2,z=1"


def test_events_of_both_apis_print_alike() -> None:
    core = cells("", "Event", {
        "type": "Warning", "reason": "Failed", "message": " boom \n",
        "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"},
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": "2026-01-01T11:50:00Z", "lastTimestamp": "2026-01-01T11:59:00Z",
        "count": 4})
    assert core == {"Last Seen": "60s", "Type": "Warning", "Reason": "Failed",
                    "Object": "pod/p", "Subobject": "spec.containers{a}",
                    "Source": "kubelet, n1", "Message": "boom", "First Seen": "10m",
                    "Count": 4, "Name": "x"}
    new = cells("events.k8s.io", "Event", {
        "apiVersion": "events.k8s.io/v1", "type": "Normal", "reason": "Tested",
        "note": "a note", "regarding": {"kind": "ConfigMap", "name": "c"},
        "eventTime": "2026-01-01T11:58:00.000000Z", "reportingController": "me/ctl",
        "reportingInstance": "me-1"})
    assert (new["Last Seen"], new["Object"], new["Source"], new["Message"], new["Count"]) == (
        "2m", "configmap/c", "me/ctl, me-1", "a note", 1)


def test_services_jobs_claims_and_bindings() -> None:
    lb = cells("", "Service", {"spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"],
                                        "ports": [{"port": 53, "protocol": "UDP",
                                                   "nodePort": 30053}]},
                               "status": {"loadBalancer": {"ingress": [
                                   {"ip": "5.6.7.8"}, {"hostname": "lb.example"}]}}})
    assert (lb["Cluster-IP"], lb["External-IP"], lb["Port(s)"], lb["Selector"]) == (
        "10.96.0.9", "5.6.7.8,lb.example", "53:30053/UDP", "<none>")
    job = cells("batch", "Job", {
        "spec": {"completions": 3, "template": {"spec": {"containers": [
            {"name": "c", "image": "i"}]}}},
        "status": {"succeeded": 1, "startTime": "2026-01-01T11:00:00Z",
                   "completionTime": "2026-01-01T11:30:00Z",
                   "conditions": [{"type": "Complete", "status": "True"}]}})
    assert (job["Status"], job["Completions"], job["Duration"], job["Containers"]) == (
        "Complete", "1/3", "30m", "c")
    claim = {"spec": {"volumeName": "pv1", "storageClassName": "fast",
                      "volumeMode": "Filesystem"},
             "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                        "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}
    got = cells("", "PersistentVolumeClaim", claim)
    assert (got["Capacity"], got["Access Modes"], got["StorageClass"]) == (
        "1Gi", "RWO,RWX", "fast")
    unbound = cells("", "PersistentVolumeClaim", {"spec": {}, "status": {"phase": "Pending"}})
    assert (unbound["Capacity"], unbound["VolumeMode"], unbound["VolumeAttributesClass"]) == (
        "", "<unset>", "<unset>")
    binding = cells("rbac.authorization.k8s.io", "RoleBinding", {
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s",
                                                     "namespace": "ns"},
                     {"kind": "User", "name": "v"}]})
    assert (binding["Role"], binding["Users"], binding["ServiceAccounts"]) == (
        "Role/r", "u, v", "ns/s")


def test_custom_resource_cells_are_typed_like_apiextensions() -> None:
    info = type("Info", (), {"version": "v1"})()
    crd = {"spec": {"versions": [{"name": "v1", "additionalPrinterColumns": [
        {"name": "N", "type": "string", "jsonPath": ".spec.n"},
        {"name": "M", "type": "string", "jsonPath": ".spec.m"},
        {"name": "I", "type": "integer", "jsonPath": ".spec.s"},
        {"name": "Many", "type": "string", "jsonPath": ".spec.items[*].n"}]}, {"name": "v2"}]}}
    columns = tables.columns_for(info, crd)
    assert [c.name for c in columns] == ["Name", "N", "M", "I", "Many"]
    obj = {"metadata": {"name": "w"}, "spec": {"n": 3, "m": {"b": [1, True], "a": "x"},
                                               "s": "text", "items": [{"n": 1}, {"n": 2}]}}
    assert [c.cell(obj, NOW) for c in columns] == [
        "w", "3", '{"a":"x","b":[1,true]}', None, None]
    v2 = tables.columns_for(type("Info", (), {"version": "v2"})(), crd)
    assert [(c.name, c.type) for c in v2] == [("Name", "string"), ("Age", "date")]


def test_the_generated_descriptions_are_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_table_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_table_docs"] = module
    spec.loader.exec_module(module)
    api = module.MOD / f"api@{module.RELEASE}"
    machinery = module.MOD / f"apimachinery@{module.RELEASE}"
    if not api.is_dir() or not machinery.is_dir():
        pytest.skip(f"k8s.io/api {module.RELEASE} is not in the Go module cache")
    assert module.generate(api, machinery) == Path(table_docs.__file__).read_text()


def test_hpa_cells_as_print_horizontal_pod_autoscaler_gives_them() -> None:
    metrics = [
        {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 50}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
            "type": "AverageValue", "averageValue": "1k"}}},
        {"type": "External", "external": {"metric": {"name": "q"}, "target": {
            "type": "Value", "value": "3"}}},
    ]
    v2 = {"apiVersion": "autoscaling/v2", "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
        "metrics": metrics}, "status": {"currentReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": 31}}}]}}
    got = cells("autoscaling", "HorizontalPodAutoscaler", v2)
    assert got == {"Name": "x", "Reference": "Deployment/web",
                   "Targets": "cpu: 31%/50%, <unknown>/1k + 1 more...", "MinPods": "<unset>",
                   "MaxPods": 5, "Replicas": 2, "Age": "60m"}
    # a v1 object is printed as the v2 object it converts to
    v1 = {"apiVersion": "autoscaling/v1", "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
        "maxReplicas": 3}}
    got = cells("autoscaling", "HorizontalPodAutoscaler", v1)
    assert (got["Targets"], got["MinPods"], got["Replicas"]) == ("cpu: <unknown>/80%", "1", 0)
