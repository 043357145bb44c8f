"""HorizontalPodAutoscalers in autoscaling/v1 and v2 (issue 14): stored as v2, v1
converted to and from it as upstream's conversion functions do, with what v1 cannot say
carried in the ``autoscaling.alpha.kubernetes.io/...`` annotations."""

from __future__ import annotations

import json
from typing import Any

from apiserver_harness import call, collect, new_server

from kubeplan.testkit.apiserver import autoscaling
from kubeplan.testkit.apiserver.discovery import (
    DiscoveryModel,
    aggregated_discovery,
    api_group,
    api_resource_list,
)

V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
V2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
MERGE = "application/merge-patch+json"
TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def v1_hpa(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": TARGET, "maxReplicas": 3, **spec}}


def v2_hpa(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": TARGET, "maxReplicas": 3, **spec}}


def cpu(utilization: int) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": utilization}}}


PODS_METRIC = {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                        "target": {"type": "AverageValue",
                                                   "averageValue": "1k"}}}


async def test_both_versions_are_discovered_v2_preferred_with_one_storage_hash() -> None:
    server = new_server(controllers=False)
    model = DiscoveryModel.from_resources(server.registry.resources())
    group = api_group("autoscaling", model.groups["autoscaling"])
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
    assert group["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    hashes = set()
    for gv in model.groups["autoscaling"]:
        entries = {r["name"]: r for r in api_resource_list(gv)["resources"]}
        assert set(entries) == {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}
        hpa = entries["horizontalpodautoscalers"]
        assert (hpa["shortNames"], hpa["categories"]) == (["hpa"], ["all"])
        hashes.add(hpa["storageVersionHash"])
    assert len(hashes) == 1  # both name the stored autoscaling/v2
    (item,) = [i for i in aggregated_discovery(model, "v2", core=False)["items"]
               if i["metadata"]["name"] == "autoscaling"]
    assert [v["version"] for v in item["versions"]] == ["v2", "v1"]


async def test_a_v1_create_reads_as_v2_with_the_cpu_metric_and_back() -> None:
    server = new_server(controllers=False)
    created = await call(server, "POST", V1, v1_hpa("a"))
    assert created.status == 201, created.body
    # minReplicas defaulted by v1, the CPU target by the conversion (none was given)
    assert created.body["spec"] == {"scaleTargetRef": TARGET, "minReplicas": 1,
                                    "maxReplicas": 3, "targetCPUUtilizationPercentage": 80}
    assert created.body["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    (entry,) = created.body["metadata"]["managedFields"]
    assert entry["apiVersion"] == "autoscaling/v1"
    as_v2 = await call(server, "GET", f"{V2}/a")
    assert as_v2.body["apiVersion"] == "autoscaling/v2"
    assert as_v2.body["spec"] == {"scaleTargetRef": TARGET, "minReplicas": 1,
                                  "maxReplicas": 3, "metrics": [cpu(80)]}
    assert as_v2.body["status"] == {"desiredReplicas": 0, "currentMetrics": None}
    assert as_v2.body["metadata"]["managedFields"][0]["apiVersion"] == "autoscaling/v1"
    assert "annotations" not in as_v2.body["metadata"]
    # a v2 write of the same object, read as v1 again
    changed = {**as_v2.body, "spec": {**as_v2.body["spec"], "metrics": [cpu(55)]}}
    updated = await call(server, "PUT", f"{V2}/a", changed)
    assert updated.status == 200, updated.body
    back = await call(server, "GET", f"{V1}/a")
    assert back.body["spec"]["targetCPUUtilizationPercentage"] == 55
    assert back.body["metadata"]["managedFields"][-1]["apiVersion"] == "autoscaling/v2"


async def test_what_v1_cannot_say_goes_round_in_annotations() -> None:
    server = new_server(controllers=False)
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    created = await call(server, "POST", V2, v2_hpa(
        "b", metrics=[PODS_METRIC, cpu(50)], behavior=behavior))
    assert created.status == 201, created.body
    as_v1 = (await call(server, "GET", f"{V1}/b")).body
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 50
    annotations = as_v1["metadata"]["annotations"]
    assert annotations[autoscaling.METRIC_SPECS] == (
        '[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"1k"}}]')
    # the internal struct's JSON: Go field names, v2's default rules filled in
    assert json.loads(annotations[autoscaling.BEHAVIOR]) == {
        "ScaleUp": {"StabilizationWindowSeconds": 0, "SelectPolicy": "Max", "Policies": [
            {"Type": "Pods", "Value": 4, "PeriodSeconds": 15},
            {"Type": "Percent", "Value": 100, "PeriodSeconds": 15}], "Tolerance": None},
        "ScaleDown": {"StabilizationWindowSeconds": 60, "SelectPolicy": "Max", "Policies": [
            {"Type": "Percent", "Value": 100, "PeriodSeconds": 15}], "Tolerance": None}}
    # a v1 write that keeps the annotations keeps the metrics and behaviour
    as_v1["spec"]["maxReplicas"] = 7
    assert (await call(server, "PUT", f"{V1}/b", as_v1)).status == 200
    again = (await call(server, "GET", f"{V2}/b")).body
    assert again["spec"]["maxReplicas"] == 7
    assert again["spec"]["metrics"] == [PODS_METRIC, cpu(50)]
    assert again["spec"]["behavior"] == created.body["spec"]["behavior"]
    assert "annotations" not in again["metadata"]


async def test_status_and_conditions_convert_both_ways() -> None:
    server = new_server(controllers=False)
    assert (await call(server, "POST", V1, v1_hpa("c", targetCPUUtilizationPercentage=40))
            ).status == 201
    patched = await call(server, "PATCH", f"{V1}/c/status", {"status": {
        "currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 55}},
        content_type=MERGE)
    assert patched.status == 200, patched.body
    as_v2 = (await call(server, "GET", f"{V2}/c")).body
    assert as_v2["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": 55}}}]
    condition = {"type": "AbleToScale", "status": "True",
                 "lastTransitionTime": "2024-05-01T10:00:00Z", "reason": "Ready",
                 "message": "a <b> & c"}
    as_v2["status"]["conditions"] = [condition]
    assert (await call(server, "PUT", f"{V2}/c/status", as_v2)).status == 200
    as_v1 = (await call(server, "GET", f"{V1}/c")).body
    assert as_v1["status"]["currentCPUUtilizationPercentage"] == 55
    assert as_v1["metadata"]["annotations"][autoscaling.CONDITIONS] == (
        '[{"type":"AbleToScale","status":"True","lastTransitionTime":"2024-05-01T10:00:00Z",'
        '"reason":"Ready","message":"a \\u003cb\\u003e \\u0026 c"}]')
    assert (await call(server, "GET", f"{V2}/c")).body["status"]["conditions"] == [condition]


async def test_round_trip_annotations_a_client_sends_are_dropped() -> None:
    server = new_server(controllers=False)
    body = v2_hpa("d")
    body["metadata"]["annotations"] = {autoscaling.METRIC_SPECS: "[]", "keep": "me"}
    created = await call(server, "POST", V2, body)
    assert created.body["metadata"]["annotations"] == {"keep": "me"}
    body = v1_hpa("e")
    body["metadata"]["annotations"] = {autoscaling.METRIC_SPECS: json.dumps(
        [{"type": "External", "external": {"metricName": "queue", "targetValue": "30"}}])}
    created = await call(server, "POST", V1, body)
    as_v2 = (await call(server, "GET", f"{V2}/e")).body
    # the annotation's metrics and no CPU target: the default is not added
    assert as_v2["spec"]["metrics"] == [{"type": "External", "external": {
        "metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}}]
    assert "annotations" not in as_v2["metadata"]


async def test_lists_and_watches_of_v1_are_converted() -> None:
    server = new_server(controllers=False)
    watch = await call(server, "GET", V1, query={"watch": "true"})
    assert watch.stream is not None
    await call(server, "POST", V2, v2_hpa("f", metrics=[cpu(30)]))
    (event,) = await collect(watch.stream, 1)
    assert event["object"]["apiVersion"] == "autoscaling/v1"
    assert event["object"]["spec"]["targetCPUUtilizationPercentage"] == 30
    listed = await call(server, "GET", V1)
    assert listed.body["apiVersion"] == "autoscaling/v1"
    assert [i["spec"]["targetCPUUtilizationPercentage"] for i in listed.body["items"]] == [30]


async def test_a_v1_object_is_validated_as_the_v2_object_it_converts_to() -> None:
    server = new_server(controllers=False)
    refused = await call(server, "POST", V1, v1_hpa(
        "g", maxReplicas=0, targetCPUUtilizationPercentage=-5))
    assert refused.status == 422
    assert [(c["field"], c["message"]) for c in refused.body["details"]["causes"]] == [
        ("spec.maxReplicas", "Required value: must be set and greater than 0"),
        ("spec.maxReplicas", "Invalid value: 0: must be greater than or equal to `minReplicas`"),
        ("spec.metrics[0].resource.target.averageUtilization",
         "Invalid value: -5: must be greater than 0"),
    ]
    no_group = v2_hpa("h")
    no_group["spec"]["scaleTargetRef"] = {"kind": "Deployment", "name": "web"}
    refused = await call(server, "POST", V2, no_group)
    assert refused.status == 422
    assert refused.body["message"] == (
        'HorizontalPodAutoscaler.autoscaling "h" is invalid: spec.scaleTargetRef.apiVersion: '
        'Invalid value: "": apiVersion must specify API group')


async def test_a_body_of_the_other_version_is_refused_once_decoded() -> None:
    server = new_server(controllers=False)
    refused = await call(server, "POST", V1, v2_hpa("i"))
    assert refused.status == 400
    assert refused.body["message"] == (
        "the API version in the data (autoscaling/v2) does not match the expected API "
        "version (autoscaling/v1)")


async def test_quantities_selectors_and_managers_per_version_as_the_real_server() -> None:
    server = new_server(controllers=False)
    selector = {"matchLabels": {"b": "1", "a": "2"}}
    target = {"describedObject": {"kind": "Service", "name": "s", "apiVersion": "v1"},
              "metric": {"name": "rps", "selector": selector},
              "target": {"type": "Value", "value": "0.5"}}
    body = v2_hpa("j", metrics=[{"type": "Object", "object": target}])
    created = await call(server, "POST", V2, body)
    assert created.body["spec"]["metrics"][0]["object"]["target"]["value"] == "500m"
    patched = await call(server, "PATCH", f"{V1}/j", {"spec": {"maxReplicas": 7}},
                         content_type=MERGE)
    assert patched.status == 200, patched.body
    again = (await call(server, "GET", f"{V2}/j")).body
    assert again["spec"]["metrics"][0]["object"]["metric"]["selector"] == selector
    # one manager, two identities: an updater's entry names the version it wrote
    entries = [(e["apiVersion"], e["fieldsV1"]["f:spec"]) for e in
               again["metadata"]["managedFields"]]
    assert [(v, sorted(f)) for v, f in entries] == [
        ("autoscaling/v1", ["f:maxReplicas"]),
        ("autoscaling/v2", ["f:metrics", "f:minReplicas", "f:scaleTargetRef"])]
