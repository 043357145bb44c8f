"""Refused writes: the status code, the reason, and the field paths (and cause reasons)
in ``details.causes``. Messages are not compared here: their wording is the server's
own (the other areas compare them where they are part of what a client acts on)."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Ref, Step
from diff_projections import refusal

AREA = "validation"
NS = "/api/v1/namespaces/{ns}"
APPS = "/apis/apps/v1/namespaces/{ns}"
BATCH = "/apis/batch/v1/namespaces/{ns}"
IMAGE = "registry.k8s.io/pause:3.10"


def bad(method: str, path: str, body: Any, title: str,
        content_type: str = "application/json", **query: str) -> Step:
    return Step(method, path, body, content_type=content_type, query=query, project=refusal,
                title=title)


def cm(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def deployment(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": spec}


def pod(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def service(name: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": list(ports)}}


def crd_with_pattern(pattern: str) -> dict[str, Any]:
    """A CRD whose one string field has ``pattern`` (refused: never created)."""
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "s": {"type": "string", "pattern": pattern}}}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "patterns.validation.kubeplan.test"},
            "spec": {"group": "validation.kubeplan.test", "scope": "Namespaced",
                     "names": {"plural": "patterns", "singular": "pattern",
                               "kind": "Pattern"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


TEMPLATE = {"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": IMAGE}]}}

SEQUENCES: dict[str, list[Step]] = {
    "metadata": [
        bad("POST", f"{NS}/configmaps", cm("Not_A_Name"), "a name that is not a DNS name"),
        bad("POST", f"{NS}/configmaps", cm("x" * 254), "a name that is too long"),
        bad("POST", f"{NS}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {}}, "no name and no generateName"),
        bad("POST", f"{NS}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "labels", "labels": {"bad key!": "x", "ok": "bad value!"}}},
            "invalid label key and value"),
        bad("POST", f"{NS}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "ann", "annotations": {"/x": "1"}}},
            "invalid annotation key"),
        bad("POST", f"{NS}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "other-ns", "namespace": "elsewhere"}},
            "the body's namespace is not the URL's"),
        bad("POST", f"{NS}/configmaps", {"apiVersion": "v1", "kind": "Secret",
                                         "metadata": {"name": "kind"}},
            "a Secret posted to configmaps"),
        bad("POST", f"{NS}/configmaps", {"apiVersion": "v2", "kind": "ConfigMap",
                                         "metadata": {"name": "version"}},
            "an apiVersion the resource is not served in"),
        bad("POST", f"{NS}/configmaps", b"{not json", "a body that is not JSON"),
        bad("POST", f"{NS}/configmaps", cm("bad-data", data={"not/a key": "x"}),
            "an invalid data key"),
        bad("POST", f"{NS}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "owner", "ownerReferences": [
                 {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": ""}]}},
            "an ownerReference without a uid"),
        bad("POST", f"{NS}/configmaps", cm("dup", data={"a": "1"}, binaryData={"a": "MQ=="}),
            "a key in both data and binaryData"),
        bad("POST", f"{NS}/secrets", {"apiVersion": "v1", "kind": "Secret",
                                      "metadata": {"name": "bad-key"},
                                      "stringData": {"not a key": "x"}},
            "an invalid Secret key in stringData"),
        bad("POST", f"{NS}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "big-ann", "annotations": {"a": "x" * 150_000,
                                                             "b": "y" * 150_000}}},
            "annotations over 256 KiB together"),
    ],
    "schemas": [
        bad("POST", CRDS, crd_with_pattern("(["), "a CRD pattern that does not compile"),
        bad("POST", CRDS, crd_with_pattern("(?<=a)b"), "a CRD pattern with look-behind"),
    ],
    "workloads": [
        bad("POST", f"{APPS}/deployments", deployment("no-selector", {"template": TEMPLATE}),
            "a Deployment without a selector"),
        bad("POST", f"{APPS}/deployments", deployment("mismatch", {
            "selector": {"matchLabels": {"app": "other"}}, "template": TEMPLATE}),
            "a selector that does not match the template"),
        bad("POST", f"{APPS}/deployments", deployment("negative", {
            "replicas": -1, "selector": {"matchLabels": {"app": "a"}}, "template": TEMPLATE}),
            "negative replicas"),
        bad("POST", f"{APPS}/deployments", deployment("no-containers", {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}}),
            "a template without containers"),
        bad("POST", f"{NS}/pods", pod("no-image", {"containers": [{"name": "c"}]}),
            "a container without an image"),
        bad("POST", f"{NS}/pods", pod("dup-names", {"containers": [
            {"name": "c", "image": IMAGE}, {"name": "c", "image": IMAGE}]}),
            "two containers with one name"),
        bad("POST", f"{NS}/pods", pod("bad-port", {"containers": [
            {"name": "c", "image": IMAGE, "ports": [{"containerPort": 70000}]}]}),
            "a port out of range"),
        bad("POST", f"{NS}/pods", pod("restart", {"restartPolicy": "Sometimes",
                                                   "containers": [{"name": "c", "image": IMAGE}]}),
            "an unknown restartPolicy"),
        bad("POST", f"{BATCH}/jobs", {"apiVersion": "batch/v1", "kind": "Job",
                                      "metadata": {"name": "always"},
                                      "spec": {"template": TEMPLATE}},
            "a Job whose pods restart Always"),
        bad("POST", f"{BATCH}/cronjobs", {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "schedule"},
            "spec": {"schedule": "not a schedule", "jobTemplate": {"spec": {"template": {
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": "c", "image": IMAGE}]}}}}}},
            "a CronJob with an invalid schedule"),
        bad("POST", f"{APPS}/deployments", deployment("empty-selector", {
            "selector": {}, "template": TEMPLATE}), "an empty Deployment selector"),
        bad("POST", f"{APPS}/deployments", deployment("bad-operator", {
            "selector": {"matchExpressions": [{"key": "app", "operator": "Foo"}]},
            "template": TEMPLATE}), "a selector operator that is not one"),
        bad("POST", f"{APPS}/deployments", deployment("strategy", {
            "selector": {"matchLabels": {"app": "a"}}, "template": TEMPLATE,
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}),
            "maxSurge and maxUnavailable both 0"),
        bad("POST", f"{APPS}/deployments", deployment("never", {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}}),
            "a Deployment whose pods restart Never"),
        bad("POST", f"{APPS}/statefulsets", {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "sts"},
            "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "b"}},
                     "template": TEMPLATE}},
            "a StatefulSet with negative replicas and a mismatched selector"),
        bad("POST", f"{APPS}/daemonsets", {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
            "spec": {"template": TEMPLATE, "updateStrategy": {"type": "Sometimes"}}},
            "a DaemonSet without a selector and with an unknown strategy"),
        bad("POST", f"{NS}/pods", pod("probes", {"dnsPolicy": "Magic", "containers": [
            {"name": "Bad_Name", "image": IMAGE, "imagePullPolicy": "Sometimes",
             "ports": [{"containerPort": 80, "protocol": "FOO", "name": "Bad_Name"}],
             "resources": {"limits": {"cpu": "100m"}, "requests": {"cpu": "200m"}}}]}),
            "a container wrong in many ways"),
        bad("POST", f"{NS}/pods", pod("mounts", {"containers": [
            {"name": "c", "image": IMAGE, "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]}),
            "a mount of a volume the pod does not have"),
        bad("POST", f"{BATCH}/jobs", {"apiVersion": "batch/v1", "kind": "Job",
                                      "metadata": {"name": "counts"},
                                      "spec": {"parallelism": -1, "backoffLimit": -1,
                                               "template": {**TEMPLATE, "spec": {
                                                   **TEMPLATE["spec"],
                                                   "restartPolicy": "Never"}}}},
            "a Job with negative counts"),
        bad("POST", f"{BATCH}/cronjobs", {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "policy"},
            "spec": {"schedule": "61 * * * *", "concurrencyPolicy": "Sometimes",
                     "timeZone": "Mars/Base", "jobTemplate": {"spec": {"template": {
                         "spec": {"restartPolicy": "Never",
                                  "containers": [{"name": "c", "image": IMAGE}]}}}}}},
            "a CronJob with a minute out of range, a policy and a time zone unknown"),
    ],
    "services": [
        bad("POST", f"{NS}/services", {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "no-ports"}, "spec": {}},
            "a Service without ports"),
        bad("POST", f"{NS}/services", {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "big-port"},
                                       "spec": {"ports": [{"port": 0}]}},
            "a Service port of 0"),
        bad("POST", f"{NS}/services", {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "type"},
                                       "spec": {"type": "Magic", "ports": [{"port": 80}]}},
            "an unknown Service type"),
        bad("POST", f"{NS}/services", {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "two-unnamed"},
                                       "spec": {"ports": [{"port": 80}, {"port": 81}]}},
            "two Service ports without names"),
        bad("POST", f"{NS}/services", service("two-http", {"name": "http", "port": 80},
                                              {"name": "http", "port": 81}),
            "two Service ports named alike"),
        bad("POST", f"{NS}/services", service("same-port", {"name": "a", "port": 80},
                                              {"name": "b", "port": 80}),
            "two Service ports on one port and protocol"),
        bad("POST", f"{NS}/services", {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "cluster-node-port"},
                                       "spec": {"ports": [{"port": 80, "nodePort": 30080,
                                                           "targetPort": "Bad_Name"}],
                                                "externalTrafficPolicy": "Local"}},
            "a ClusterIP Service with a node port and a traffic policy"),
        bad("POST", f"{NS}/services", {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "external"},
                                       "spec": {"type": "ExternalName"}},
            "an ExternalName Service without a name"),
        Step("PATCH", f"{NS}/services/op", service("op", {"name": "http", "port": 80}),
             content_type=APPLY_PATCH, query={"fieldManager": "op"}, compare=False),
        Step("PATCH", f"{NS}/services/op", {"spec": {"ports": [{"name": "http", "port": 8080}]}},
             content_type=STRATEGIC_PATCH, query={"fieldManager": "other"}, compare=False),
        bad("PATCH", f"{NS}/services/op", service("op", {"name": "http", "port": 80}),
            "an apply adding its port back beside the one another manager changed",
            content_type=APPLY_PATCH, fieldManager="op"),
    ],
    "updates": [
        Step("POST", f"{NS}/configmaps", cm("frozen", data={"a": "1"}, immutable=True),
             compare=False),
        bad("PUT", f"{NS}/configmaps/frozen", cm("frozen", data={"a": "2"}, immutable=True),
            "changing an immutable ConfigMap's data"),
        Step("POST", f"{NS}/configmaps", cm("plain", data={"a": "1"}), label="plain",
             compare=False),
        bad("PUT", f"{NS}/configmaps/plain", cm("other-name"),
            "a PUT whose body names another object"),
        bad("PUT", f"{NS}/configmaps/plain",
            {**cm("plain"), "metadata": {"name": "plain", "resourceVersion": "abc"}},
            "a resourceVersion that is not a number"),
        bad("PUT", f"{NS}/configmaps/plain",
            {**cm("plain"), "metadata": {"name": "plain", "uid": "not-the-uid"}},
            "a PUT with another uid"),
        Step("POST", f"{BATCH}/jobs", {"apiVersion": "batch/v1", "kind": "Job",
                                       "metadata": {"name": "job"},
                                       "spec": {"suspend": True, "template": {
                                           "spec": {"restartPolicy": "Never",
                                                    "containers": [{"name": "c",
                                                                    "image": IMAGE}]}}}},
             compare=False),
        bad("PATCH", f"{BATCH}/jobs/job",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "other"}]}}}},
            "changing a Job's pod template", content_type=STRATEGIC_PATCH),
        Step("POST", f"{NS}/services", {"apiVersion": "v1", "kind": "Service",
                                        "metadata": {"name": "svc"},
                                        "spec": {"ports": [{"port": 80}]}}, compare=False),
        bad("PATCH", f"{NS}/services/svc", {"spec": {"clusterIP": "10.96.99.99",
                                                      "clusterIPs": ["10.96.99.99"]}},
            "changing a Service's clusterIP", content_type=MERGE_PATCH),
        Step("POST", f"{APPS}/deployments", deployment("frozen-selector", {
            "selector": {"matchLabels": {"app": "a"}}, "template": TEMPLATE}), compare=False),
        bad("PATCH", f"{APPS}/deployments/frozen-selector",
            {"spec": {"selector": {"matchLabels": {"app": "a", "x": "y"}},
                      "template": {"metadata": {"labels": {"x": "y"}}}}},
            "changing a Deployment's selector", content_type=STRATEGIC_PATCH),
        Step("POST", f"{NS}/secrets", {"apiVersion": "v1", "kind": "Secret",
                                       "metadata": {"name": "frozen"}, "data": {"a": "MQ=="},
                                       "immutable": True}, compare=False),
        bad("PATCH", f"{NS}/secrets/frozen", {"data": {"a": "Mg=="}, "immutable": None},
            "thawing an immutable Secret and changing its data", content_type=MERGE_PATCH),
        bad("PATCH", f"{NS}/secrets/frozen", {"type": "example.com/other"},
            "changing a Secret's type", content_type=MERGE_PATCH),
        Step("POST", f"{NS}/pods", pod("fixed", {"containers": [{"name": "c", "image": IMAGE}]}),
             compare=False),
        bad("PATCH", f"{NS}/pods/fixed", {"spec": {"containers": [
            {"name": "c", "image": "registry.k8s.io/pause:3.9"}]}},
            "changing a pod's image", content_type=STRATEGIC_PATCH),
        bad("PATCH", f"{NS}/pods/fixed", {"spec": {"restartPolicy": "Never"}},
            "changing a pod's restartPolicy", content_type=MERGE_PATCH),
        Step("POST", f"{NS}/persistentvolumeclaims", {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "claim"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}, compare=False),
        bad("PATCH", f"{NS}/persistentvolumeclaims/claim",
            {"spec": {"accessModes": ["ReadWriteMany"]}},
            "changing a claim's access modes", content_type=MERGE_PATCH),
        bad("POST", f"{NS}/persistentvolumeclaims", {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "empty"},
            "spec": {}}, "a claim without access modes or a size"),
        bad("PATCH", f"{APPS}/deployments/none", {"spec": {"replicas": 2}},
            "a patch of nothing", content_type=MERGE_PATCH),
        bad("PATCH", f"{NS}/configmaps/plain", [{"op": "test", "path": "/data/a",
                                                 "value": "9"}],
            "a failing JSON patch test", content_type=JSON_PATCH),
        bad("PATCH", f"{NS}/configmaps/plain", [{"op": "remove", "path": "/data/nothing"}],
            "a JSON patch removing what is not there", content_type=JSON_PATCH),
        bad("PATCH", f"{NS}/configmaps/plain", [{"op": "jump", "path": "/data"}],
            "an unknown JSON patch op", content_type=JSON_PATCH),
        bad("PATCH", f"{NS}/configmaps/plain", {"data": {"a": "1"}},
            "a patch with an unsupported media type", content_type="text/plain"),
        bad("PATCH", f"{NS}/configmaps/plain", {"data": {"a": 1}},
            "a merge patch making data a number", content_type=MERGE_PATCH),
        bad("PATCH", f"{NS}/configmaps/plain", {"data": {"a": "1"}},
            "apply without a field manager", content_type=APPLY_PATCH),
        bad("PATCH", f"{NS}/configmaps/plain", {"apiVersion": "v1", "data": {"a": "1"}},
            "an apply without kind", content_type=APPLY_PATCH, fieldManager="m"),
        bad("PATCH", f"{NS}/configmaps/plain",
            {"metadata": {"resourceVersion": Ref("plain", "metadata.resourceVersion")},
             "data": {"a": "3"}}, "a merge patch with the current resourceVersion",
            content_type=MERGE_PATCH),
        bad("PATCH", f"{NS}/configmaps/plain",
            {"metadata": {"resourceVersion": Ref("plain", "metadata.resourceVersion")},
             "data": {"a": "4"}}, "a merge patch with a stale resourceVersion",
            content_type=MERGE_PATCH),
    ],
    "queries": [
        bad("GET", f"{NS}/configmaps", None, "an invalid label selector",
            labelSelector="a in (b"),
        bad("GET", f"{NS}/configmaps", None, "a field selector on an unsupported field",
            fieldSelector="data.a=1"),
        bad("GET", f"{NS}/pods", None, "a supported pod field selector",
            fieldSelector="status.phase=Running"),
        bad("GET", f"{NS}/configmaps", None, "a limit that is not a number", limit="many"),
        bad("GET", f"{NS}/configmaps", None, "a continue token that is not one",
            limit="1", **{"continue": "garbage"}),
        bad("POST", f"{NS}/configmaps", cm("dry"), "an unknown dryRun value",
            dryRun="Some"),
        bad("POST", f"{NS}/configmaps", cm("strict", unknown={"x": 1}),
            "an unknown field with fieldValidation=Strict", fieldValidation="Strict"),
        bad("POST", f"{NS}/configmaps", cm("warn", unknown={"x": 1}),
            "an unknown field with fieldValidation=Warn", fieldValidation="Warn"),
        bad("POST", f"{NS}/configmaps", cm("ignored", unknown={"x": 1}),
            "an unknown field, no fieldValidation"),
        bad("DELETE", f"{NS}/configmaps/ignored",
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Sideways"},
            "an unknown propagationPolicy"),
        bad("DELETE", f"{NS}/configmaps/ignored", None, "a grace period that is not a number",
            gracePeriodSeconds="abc"),
        bad("GET", f"{NS}/configmaps/ignored", None, "still there after the refused DELETE"),
        bad("GET", f"{NS}/configmaps", None, "a list resourceVersion that is not a number",
            resourceVersion="garbage"),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_refusals(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])
