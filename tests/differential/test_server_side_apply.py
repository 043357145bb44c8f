"""Server-side apply: the stored object, its managedFields (manager, operation,
fieldsV1), conflicts (409 with causes) and force."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import APPLY_PATCH, MERGE_PATCH, Derived, Step

AREA = "server-side-apply"
NS = "/api/v1/namespaces/{ns}"
BATCH = "/apis/batch/v1/namespaces/{ns}"
NET = "/apis/networking.k8s.io/v1/namespaces/{ns}"
IMAGE = "registry.k8s.io/pause:3.10"
CM = f"{NS}/configmaps/cm"
# a CronJob's pod template: the lists of a workload, and no controller writes to it
# while suspended (a Deployment's controller would race with the sequence)
CRON = f"{BATCH}/cronjobs/web"
ING = f"{NET}/ingresses/web"


def apply(path: str, body: Any, manager: str, title: str, **query: str) -> Step:
    return Step("PATCH", path, body, content_type=APPLY_PATCH,
                query={"fieldManager": manager, **query}, title=title)


def cm(data: dict[str, str] | None = None, labels: dict[str, str] | None = None
       ) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "cm"}
    if labels is not None:
        meta["labels"] = labels
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data is not None:
        body["data"] = data
    return body


def cronjob(containers: list[dict[str, Any]], history: int | None = None
            ) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": "0 0 1 1 *", "suspend": True, "jobTemplate": {
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": containers}}}}}
    if history is not None:
        spec["successfulJobsHistoryLimit"] = history
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "web"},
            "spec": spec}


def ingress(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web"}, **fields}


def _set_data(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["a"] = "by-put"
    return body



SEQUENCES: dict[str, list[Step]] = {
    "ownership": [
        apply(CM, cm({"a": "1", "b": "2"}, {"team": "x"}), "alpha", "alpha creates"),
        apply(CM, cm({"c": "3"}), "beta", "beta adds a key"),
        apply(CM, cm({"a": "other"}), "beta", "beta conflicts with alpha"),
        apply(CM, cm({"a": "1"}), "beta", "beta shares alpha's value: no conflict"),
        apply(CM, cm({"a": "forced"}), "beta", "beta forces", force="true"),
        apply(CM, cm({"b": "2"}, {"team": "x"}), "alpha", "alpha lost a, keeps b"),
        apply(CM, cm(), "beta", "beta gives up its keys"),
        Step("GET", CM, title="the object after beta left", label="after"),
        Step("PUT", CM, Derived("after", _set_data), title="an update by PUT",
             query={"fieldManager": "gamma"}),
        apply(CM, cm({"a": "x"}, {"team": "x"}), "alpha", "alpha conflicts with gamma's update"),
        apply(CM, cm({"b": "2"}, {"team": "x"}), "alpha", "dry run", dryRun="All"),
        Step("PATCH", CM, {"data": {"d": "4"}}, content_type=MERGE_PATCH,
             title="a merge patch with the default manager"),
        Step("PATCH", CM, {"metadata": {"managedFields": [{}]}}, content_type=MERGE_PATCH,
             title="clearing managedFields"),
    ],
    "lists": [
        apply(CRON, cronjob([{"name": "app", "image": IMAGE}], history=1), "alpha",
              "alpha creates a CronJob"),
        apply(CRON, cronjob([{"name": "sidecar", "image": IMAGE}]), "beta",
              "beta adds a container (a keyed list)"),
        apply(CRON, cronjob([{"name": "app", "image": "other"}]), "beta",
              "beta changes alpha's image: conflict"),
        apply(CRON, cronjob([{"name": "app", "image": IMAGE}], history=1), "alpha",
              "alpha again, unchanged"),
        apply(CRON, cronjob([{"name": "app", "image": IMAGE, "args": ["a", "b"]}],
                            history=1), "alpha", "an atomic list (args)"),
        apply(CRON, cronjob([{"name": "app", "image": IMAGE, "args": ["c"]}]), "beta",
              "beta changes the atomic list: conflict"),
        apply(CRON, cronjob([{"name": "sidecar", "image": IMAGE}], history=2), "beta",
              "beta sets a scalar alpha owns: conflict"),
        apply(CRON, cronjob([{"name": "sidecar", "image": IMAGE}], history=2), "beta",
              "beta forces it", force="true"),
    ],
    "status": [
        apply(ING, ingress(spec={"defaultBackend": {"service": {
            "name": "web", "port": {"number": 80}}}}), "alpha", "create"),
        apply(f"{ING}/status", ingress(status={"loadBalancer": {"ingress": [
            {"ip": "192.0.2.1"}]}}), "status-writer", "apply to the status subresource"),
        apply(ING, ingress(spec={"defaultBackend": {"service": {
            "name": "web", "port": {"number": 80}}}},
            status={"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}),
              "alpha", "status through the main resource is dropped"),
        apply(ING, ingress(), "alpha", "alpha gives up the spec: the Ingress is invalid"),
        Step("GET", ING, title="the stored object"),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_server_side_apply(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])
