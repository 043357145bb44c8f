"""Custom resources: a CRD installed and Established on both servers, then its objects
created, validated against the schema, defaulted and pruned, patched, their status
and scale subresources, printed as Tables, and removed with the CRD.

Each sequence installs its own CRD in a group named after its namespace (CRDs are
cluster-wide and a deleted one takes a while to go on the real server)."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    TABLE,
    AnyStep,
    Derived,
    Step,
    condition_true,
    gone,
    project_body,
    status_is,
)
from diff_projections import refusal, resources, table

AREA = "custom-resources"
GROUP = "{ns}.diff.kubeplan.dev"
CRD_NAME = f"widgets.{GROUP}"
CRD_PATH = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/{{ns}}/widgets"
W = f"{WIDGETS}/w"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "replicas": {"type": "integer", "default": 1},
                "tags": {"type": "array", "items": {"type": "string"},
                         "x-kubernetes-list-type": "set"},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "required": ["name"], "properties": {
                              "name": {"type": "string"}, "port": {"type": "integer"}}}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "value": {"x-kubernetes-int-or-string": True},
                "nested": {"type": "object", "default": {},
                           "properties": {"mode": {"type": "string", "default": "auto"}}},
            },
        },
        "status": {"type": "object", "properties": {
            "ready": {"type": "boolean"}, "replicas": {"type": "integer"},
            "selector": {"type": "string"}}},
    },
}


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                      "shortNames": ["wd"], "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": SCHEMA},
                "subresources": {"status": {}, "scale": {
                    "specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas",
                    "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color",
                     "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }],
        },
    }


def install() -> list[AnyStep]:
    return [
        Step("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd(),
             title="create the CRD"),
        Step("GET", CRD_PATH, until=condition_true("Established"), title="until Established"),
        # Established on the object a moment before the handler serves the new type
        Step("GET", WIDGETS, until=status_is(200), title="until its objects are served"),
    ]


def widget(name: str = "w", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": spec}


def _resize(body: dict[str, Any]) -> dict[str, Any]:
    body["spec"]["size"] = 5
    body["status"] = {"ready": True}
    return body


def _no_version(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"].pop("resourceVersion", None)
    return body


def bad(method: str, path: str, body: Any, title: str, content_type: str = "application/json",
        **query: str) -> Step:
    return Step(method, path, body, content_type=content_type, query=query, project=refusal,
                title=title)


SEQUENCES: dict[str, list[AnyStep]] = {
    "lifecycle": [
        *install(),
        Step("GET", f"/apis/{GROUP}"),
        Step("GET", f"/apis/{GROUP}/v1", project=project_body(resources)),
        Step("POST", WIDGETS, widget(size=3)),
        Step("DELETE", CRD_PATH, title="delete the CRD"),
        Step("GET", CRD_PATH, until=gone(), title="until the CRD is gone"),
        Step("GET", W, until=status_is(404), title="its objects are gone"),
        Step("GET", f"/apis/{GROUP}/v1", until=status_is(404),
             title="its group is no longer discovered"),
    ],
    "objects": [
        *install(),
        Step("POST", WIDGETS, widget(size=3, unknown="pruned", extra={"free": {"a": 1}},
                                     value="50%"), title="create: defaults and pruning"),
        Step("POST", WIDGETS, widget("strict", size=3, unknown="x"),
             query={"fieldValidation": "Strict"}, project=refusal,
             title="an unknown field with fieldValidation=Strict"),
        Step("GET", W, label="got"),
        Step("GET", WIDGETS),
        Step("PUT", W, Derived("got", _resize), title="PUT: spec changes, status is ignored"),
        Step("PUT", W, Derived("got", _no_version), project=refusal,
             title="PUT without a resourceVersion"),
        Step("PATCH", W, {"metadata": {"labels": {"a": "1"}}}, content_type=MERGE_PATCH,
             title="metadata only: generation stays"),
        Step("PATCH", f"{W}/status", {"status": {"ready": True, "replicas": 2,
                                                 "selector": "app=w"}},
             content_type=MERGE_PATCH, title="the status subresource"),
        Step("PATCH", f"{W}/status", {"spec": {"size": 9}}, content_type=MERGE_PATCH,
             title="spec through the status subresource is ignored"),
        Step("GET", f"{W}/scale", title="the scale subresource"),
        Step("PATCH", f"{W}/scale", {"spec": {"replicas": 4}}, content_type=MERGE_PATCH,
             title="patch the scale"),
        Step("PATCH", W, [{"op": "add", "path": "/spec/tags", "value": ["x", "y"]}],
             content_type=JSON_PATCH, title="a JSON patch"),
        Step("PATCH", W, {"spec": {"tags": ["z"]}}, content_type=STRATEGIC_PATCH,
             project=refusal, title="strategic merge patch is refused"),
        Step("PATCH", W, {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                          "metadata": {"name": "w"},
                          "spec": {"ports": [{"name": "a", "port": 1}]}},
             content_type=APPLY_PATCH, query={"fieldManager": "alpha"},
             title="apply: a list-map entry"),
        Step("PATCH", W, {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                          "metadata": {"name": "w"},
                          "spec": {"ports": [{"name": "b", "port": 2}], "tags": ["x"]}},
             content_type=APPLY_PATCH, query={"fieldManager": "beta"},
             title="apply: another entry, a set item shared"),
        Step("PATCH", W, {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                          "metadata": {"name": "w"},
                          "spec": {"ports": [{"name": "a", "port": 9}]}},
             content_type=APPLY_PATCH, query={"fieldManager": "beta"},
             project=refusal, title="apply: conflict on alpha's entry"),
        Step("GET", WIDGETS, accept=TABLE, project=table, title="list as a Table"),
        Step("GET", f"/apis/{GROUP}/v1/widgets", title="list across namespaces"),
        Step("DELETE", W),
        Step("DELETE", CRD_PATH, compare=False),
    ],
    "validation": [
        *install(),
        bad("POST", WIDGETS, widget(), "a required field missing"),
        bad("POST", WIDGETS, widget(size=0), "below the minimum"),
        bad("POST", WIDGETS, widget(size=11, color="green"), "above the maximum, not in enum"),
        bad("POST", WIDGETS, widget(size="big"), "a string for an integer"),
        bad("POST", WIDGETS, widget(size=1, ports=[{"port": 1}]),
            "a list-map item without its key"),
        bad("POST", WIDGETS, widget(size=1, ports=[{"name": "a"}, {"name": "a"}]),
            "a list-map key twice"),
        bad("POST", WIDGETS, widget(size=1, tags=["a", "a"]), "a set item twice"),
        bad("POST", WIDGETS, {**widget(size=1), "kind": "Gadget"}, "the wrong kind"),
        bad("POST", WIDGETS, {**widget(size=1), "spec": "not an object"},
            "a spec that is not an object"),
        Step("DELETE", CRD_PATH, compare=False),
    ],
    "invalid-crds": [
        bad("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            {**crd(), "metadata": {"name": "wrong.name"}}, "a name that is not plural.group"),
        bad("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            {**crd(), "spec": {**crd()["spec"], "versions": []}}, "no versions"),
        bad("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            {**crd(), "spec": {**crd()["spec"], "versions": [
                {**crd()["spec"]["versions"][0], "storage": False}]}}, "no storage version"),
        bad("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            {**crd(), "spec": {**crd()["spec"], "versions": [
                {"name": "v1", "served": True, "storage": True}]}}, "no schema"),
        bad("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            {**crd(), "spec": {**crd()["spec"], "scope": "Galactic"}}, "an unknown scope"),
    ],
    "invalid-conversions": [
        bad("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            {**crd(), "spec": {**crd()["spec"], "conversion": conversion}}, title)
        for conversion, title in [
            ({"strategy": "Sometimes"}, "an unknown strategy"),
            ({"strategy": "Webhook"}, "a Webhook without its webhook"),
            ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                                                 "clientConfig": {"url": "http://a/c"}}},
             "a webhook url over http"),
            ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                                                 "clientConfig": {
                                                     "url": "https://a/c?x=1#f"}}},
             "a webhook url with a query and a fragment"),
            ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                                                 "clientConfig": {}}},
             "neither url nor service"),
            ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                                                 "clientConfig": {"service": {
                                                     "name": "", "namespace": "n",
                                                     "path": "convert"}}}},
             "a service without a name, a path without '/'"),
            ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                                                 "clientConfig": {"service": {
                                                     "name": "s", "namespace": ""}}}},
             "a service without a namespace"),
            ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                                                 "clientConfig": {"url": "https://u:p@/c"}}},
             "a webhook url with user information and no host"),
            ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v9"],
                                                 "clientConfig": {"url": "https://a/c"}}},
             "no review version the server speaks"),
            ({"strategy": "None", "webhook": {"conversionReviewVersions": ["v1"],
                                              "clientConfig": {"url": "https://a/c"}}},
             "a webhook with strategy None"),
        ]
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_custom_resources(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])
