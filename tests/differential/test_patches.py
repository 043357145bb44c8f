"""The four patch types on built-ins (JSON patch, merge patch, strategic merge patch,
apply) and what each makes of lists, maps and nulls."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    AnyStep,
    Step,
    body_is,
)
from diff_kinds import rolled_out

AREA = "patches"
NS = "/api/v1/namespaces/{ns}"
APPS = "/apis/apps/v1/namespaces/{ns}"
IMAGE = "registry.k8s.io/pause:3.10"

CM = f"{NS}/configmaps/p"
DEPLOY = f"{APPS}/deployments/web"


def patch(path: str, body: Any, content_type: str, title: str, **query: str) -> Step:
    return Step("PATCH", path, body, content_type=content_type, query=query, title=title)


def settled(steps: list[AnyStep]) -> list[AnyStep]:
    """After each write to the Deployment, wait on the real server until its controller
    has written the status for it (the fake runs none), so no answer races with it."""
    out: list[AnyStep] = []
    for step in steps:
        out.append(step)
        if (isinstance(step, Step) and step.path == DEPLOY and step.method != "GET") or (
                isinstance(step, Step) and step.method == "POST"
                and "deployments" in step.path):
            out.append(Step("GET", DEPLOY, until=body_is(rolled_out), only="real"))
    return out


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "containers": [
                         {"name": "app", "image": IMAGE, "env": [{"name": "A", "value": "1"}],
                          "ports": [{"containerPort": 80, "name": "http"}]},
                         {"name": "sidecar", "image": IMAGE}],
                     "volumes": [{"name": "v1", "emptyDir": {}}]}}}}


SEQUENCES: dict[str, list[AnyStep]] = {
    "json-patch": [
        Step("POST", f"{NS}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "p", "labels": {"a": "1"}},
                                          "data": {"x": "1", "y": "2"}}),
        patch(CM, [{"op": "add", "path": "/data/z", "value": "3"},
                   {"op": "replace", "path": "/data/x", "value": "10"},
                   {"op": "remove", "path": "/data/y"}], JSON_PATCH, "add, replace, remove"),
        patch(CM, [{"op": "test", "path": "/data/x", "value": "10"},
                   {"op": "copy", "from": "/data/x", "path": "/data/copied"},
                   {"op": "move", "from": "/data/z", "path": "/data/moved"}], JSON_PATCH,
              "test, copy, move"),
        patch(CM, [{"op": "add", "path": "/metadata/labels/b~1c", "value": "2"}], JSON_PATCH,
              "an escaped key"),
        patch(CM, [{"op": "add", "path": "/metadata/annotations", "value": {"n": "1"}}],
              JSON_PATCH, "add a whole map"),
        patch(CM, [{"op": "replace", "path": "/metadata/name", "value": "other"}],
              JSON_PATCH, "rename"),
        patch(CM, [], JSON_PATCH, "an empty patch"),
    ],
    "json-patch-deployment": [
        Step("POST", f"{APPS}/deployments", _deployment(), compare=False),
        patch(DEPLOY, [{"op": "add", "path": "/spec/template/spec/containers/1/env",
                        "value": [{"name": "B", "value": "2"}]},
                       {"op": "remove", "path": "/spec/template/spec/volumes/0"},
                       {"op": "add", "path": "/spec/template/spec/containers/-",
                        "value": {"name": "third", "image": IMAGE}}],
              JSON_PATCH, "indexes and the end of a list"),
    ],
    "merge-patch": [
        Step("POST", f"{NS}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "p", "labels": {"a": "1"}},
                                          "data": {"x": "1", "y": "2"}}),
        patch(CM, {"data": {"y": None, "z": "3"}, "metadata": {"labels": {"b": "2"}}},
              MERGE_PATCH, "null removes a key"),
        patch(CM, {"metadata": {"labels": None}}, MERGE_PATCH, "null removes a map"),
        patch(CM, {"data": {"x": "dry"}}, MERGE_PATCH, "a dry run", dryRun="All"),
        Step("GET", CM, title="unchanged by the dry run"),
        patch(CM, {"metadata": {"finalizers": ["a.example.com/x"]}}, MERGE_PATCH,
              "add a finalizer"),
        patch(CM, {"metadata": {"finalizers": None}}, MERGE_PATCH, "remove the finalizers"),
    ],
    "merge-patch-deployment": [
        Step("POST", f"{APPS}/deployments", _deployment(), compare=False),
        patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "other"}]}}}}, MERGE_PATCH, "a list is replaced whole"),
        patch(DEPLOY, {"spec": {"replicas": 0, "minReadySeconds": 1}}, MERGE_PATCH,
              "spec fields and generation"),
        patch(DEPLOY, {"metadata": {"labels": {"b": "2"}}}, MERGE_PATCH,
              "a label only: generation stays"),
        patch(DEPLOY, {"metadata": {"annotations": {"a": "1"}}}, MERGE_PATCH,
              "an annotation: a Deployment's generation moves"),
        patch(DEPLOY, {"status": {"replicas": 5}}, MERGE_PATCH,
              "status through the main resource is ignored"),
    ],
    "strategic-merge-patch-deployment": [
        Step("POST", f"{APPS}/deployments", _deployment(), compare=False),
        patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "other"}]}}}}, STRATEGIC_PATCH,
              "containers merge by name"),
        patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}, STRATEGIC_PATCH,
              "env merges by name"),
        patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "$patch": "delete"}]}}}}, STRATEGIC_PATCH,
              "$patch: delete of one container"),
        patch(DEPLOY, {"spec": {"template": {"spec": {
            "$setElementOrder/volumes": [{"name": "v2"}, {"name": "v1"}],
            "volumes": [{"name": "v2", "emptyDir": {}}]}}}}, STRATEGIC_PATCH,
              "$setElementOrder"),
        patch(DEPLOY, {"spec": {"template": {"spec": {"volumes": [
            {"name": "v1", "$patch": "replace"}]}}}}, STRATEGIC_PATCH,
              "$patch: replace inside an element"),
        patch(DEPLOY, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
              STRATEGIC_PATCH, "$retainKeys drops rollingUpdate"),
        patch(DEPLOY, {"metadata": {"finalizers": ["b.example.com/y"]}}, STRATEGIC_PATCH,
              "finalizers merge"),
        patch(DEPLOY, {"$deleteFromPrimitiveList/finalizers": ["b.example.com/y"]},
              STRATEGIC_PATCH, "$deleteFromPrimitiveList on metadata: ignored at the top"),
        patch(DEPLOY, {"metadata": {"$deleteFromPrimitiveList/finalizers":
                                    ["b.example.com/y"]}},
              STRATEGIC_PATCH, "$deleteFromPrimitiveList"),
        patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "ports": [{"containerPort": 81, "name": "alt"}]}]}}}},
              STRATEGIC_PATCH, "ports merge by containerPort"),
        patch(DEPLOY, {"spec": {"template": {"spec": {"$patch": "unknown"}}}},
              STRATEGIC_PATCH, "an unknown $patch directive"),
    ],
    "apply": [
        patch(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "p", "labels": {"a": "1"}}, "data": {"x": "1"}},
              APPLY_PATCH, "apply creates", fieldManager="alpha"),
        patch(CM, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\ndata:\n  b: '2'\n",
              APPLY_PATCH, "apply as YAML drops what the manager no longer names",
              fieldManager="alpha"),
        patch(CM, {"data": {"z": "3"}}, MERGE_PATCH, "an update by another manager",
              fieldManager="beta"),
        patch(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"},
                   "data": {"b": "2"}}, APPLY_PATCH, "apply again: beta's field stays",
              fieldManager="alpha"),
        patch(CM, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "p"}},
              APPLY_PATCH, "apply of another kind", fieldManager="alpha"),
        patch(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "q"}},
              APPLY_PATCH, "apply naming another object", fieldManager="alpha"),
    ],
    "apply-deployment": [
        patch(DEPLOY, _deployment(), APPLY_PATCH, "apply a Deployment",
              fieldManager="alpha"),
        patch(DEPLOY, {"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web"},
                       "spec": {"template": {"spec": {"containers": [
                           {"name": "extra", "image": IMAGE}]}}}},
              APPLY_PATCH, "a second manager adds a container", fieldManager="beta"),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_patches(differ: Differ, name: str) -> None:
    differ.check(settled(SEQUENCES[name]))
