"""Discovery (/api, /apis, /apis/GROUP, /apis/GROUP/VERSION, aggregated discovery) and
the OpenAPI documents' shape. Lists of named things are compared by name, so a group
or resource only one server serves is one difference."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import Answer, AnyStep, Step, keyed, project_body
from diff_projections import resources, sorted_verbs

AREA = "discovery"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
#: the group versions the fake serves (registry.BUILTIN_RESOURCES)
#: custom resources of other sequences (installed and removed as the session runs)
OTHERS = ".diff.kubeplan.dev"
GROUP_VERSIONS = (
    "apps/v1", "batch/v1", "coordination.k8s.io/v1", "events.k8s.io/v1",
    "networking.k8s.io/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
    "apiextensions.k8s.io/v1", "autoscaling/v2", "autoscaling/v1",
)


def _present(names: Any) -> dict[str, str]:
    return {str(n): "present" for n in names or () if OTHERS not in str(n)}


def _groups(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("groups"), list):
        body = {**body, "groups": [g for g in body["groups"]
                                   if OTHERS not in str(g.get("name"))]}
    return keyed(body, {"groups": "name", "groups[].versions": "groupVersion"})


def _version(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    return {"keys": _present(body), "major": body.get("major"), "minor": body.get("minor")}


def _openapi_index(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    return {"keys": _present(body), "paths": _present(body.get("paths"))}


def _openapi_group(kind: str) -> Any:
    def project(body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        schemas = (body.get("components") or {}).get("schemas") or {}
        name = next((n for n in schemas if n.endswith(f".{kind}")), None)
        schema = schemas.get(name) if name else None
        shown: dict[str, Any] = {
            "openapi": body.get("openapi"), "keys": _present(body),
            "paths": _present(body.get("paths")), "schemas": _present(schemas)}
        if isinstance(schema, dict):
            shown[f"schema of {kind}"] = {
                "type": schema.get("type"), "required": schema.get("required"),
                "properties": _present(schema.get("properties")),
                "x-kubernetes-group-version-kind": schema.get(
                    "x-kubernetes-group-version-kind")}
        return shown
    return project


def _openapi_v2(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    definitions = body.get("definitions") or {}
    deployment = definitions.get("io.k8s.api.apps.v1.Deployment") or {}
    return {"swagger": body.get("swagger"), "keys": _present(body),
            "Deployment": {"properties": _present(deployment.get("properties")),
                           "x-kubernetes-group-version-kind":
                               deployment.get("x-kubernetes-group-version-kind")}}


def _by_name(answer: Answer) -> Answer:
    body = answer.get("body")
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        body = {**body, "items": {str((i.get("metadata") or {}).get("name") or ""): i
                                  for i in body["items"] if isinstance(i, dict)
                                  and OTHERS not in str((i.get("metadata") or {}).get("name"))}}
    return {**answer, "body": sorted_verbs(_aggregated_items(body))}


def _aggregated_items(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("items"), dict):
        return body
    out = dict(body)
    out["items"] = {name: keyed(item, {"versions": "version",
                                       "versions[].resources": "resource",
                                       "versions[].resources[].subresources": "subresource"})
                    for name, item in body["items"].items()}
    return out


SEQUENCES: dict[str, list[AnyStep]] = {
    "legacy": [
        Step("GET", "/api"),
        Step("GET", "/api/v1", project=project_body(resources)),
        Step("GET", "/version", project=project_body(_version)),
    ],
    "groups": [
        Step("GET", "/apis", project=project_body(_groups)),
        *(Step("GET", f"/apis/{group}",
               project=project_body(lambda b: keyed(b, {"versions": "groupVersion"})))
          for group in dict.fromkeys(gv.split("/")[0] for gv in GROUP_VERSIONS)),
        *(Step("GET", f"/apis/{gv}", project=project_body(resources))
          for gv in GROUP_VERSIONS),
        Step("GET", "/apis/nothing.example.com"),
        Step("GET", "/apis/apps/v2"),
    ],
    "aggregated": [
        Step("GET", "/api", accept=AGGREGATED, project=_by_name),
        Step("GET", "/apis", accept=AGGREGATED, project=_by_name),
    ],
    "openapi": [
        Step("GET", "/openapi/v3", project=project_body(_openapi_index)),
        Step("GET", "/openapi/v3/api/v1", project=project_body(_openapi_group("ConfigMap"))),
        Step("GET", "/openapi/v3/apis/apps/v1",
             project=project_body(_openapi_group("Deployment"))),
        Step("GET", "/openapi/v3/apis/batch/v1", project=project_body(_openapi_group("Job"))),
        Step("GET", "/openapi/v3/apis/autoscaling/v1",
             project=project_body(_openapi_group("HorizontalPodAutoscaler"))),
        Step("GET", "/openapi/v3/apis/nothing.example.com/v1",
             project=lambda a: {"code": a["code"]}),
        Step("GET", "/openapi/v2", project=project_body(_openapi_v2)),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_discovery(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])
