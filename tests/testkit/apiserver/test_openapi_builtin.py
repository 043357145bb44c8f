"""The real server's OpenAPI documents shipped as package data (openapi_builtin.json.gz):
written for the Kubernetes version the real-server tests build, covering every built-in
resource the fake serves, and cut to what the fake serves without dangling references."""

from __future__ import annotations

import json
import re

import pytest

from kubeplan.testkit.apiserver import openapi_builtin
from kubeplan.testkit.apiserver.openapi_gen import pool_documents
from kubeplan.testkit.apiserver.registry import BUILTIN_RESOURCES
from kubeplan.testkit.realkube import kube_version

SERVED = openapi_builtin.served_of(BUILTIN_RESOURCES)
V3_REF = re.compile(r'"\$ref": ?"#/components/schemas/([^"]+)"')


def test_the_documents_come_from_the_version_realkube_builds() -> None:
    # after a Kubernetes bump: python -m kubeplan.testkit.apiserver.openapi_gen
    assert openapi_builtin.kubernetes_version() == kube_version()


@pytest.mark.parametrize("info", BUILTIN_RESOURCES, ids=lambda i: f"{i.plural}.{i.group}")
def test_every_served_built_in_has_its_paths(info: object) -> None:
    group, version, plural = info.group, info.version, info.plural  # type: ignore[attr-defined]
    key = f"apis/{group}/{version}" if group else f"api/{version}"
    doc = openapi_builtin.v3_document(key, SERVED)
    assert doc is not None, key
    prefix = f"/{key}/" + ("namespaces/{namespace}/" if info.namespaced else "")  # type: ignore[attr-defined]
    operations = doc["paths"].get(prefix + plural) or doc["paths"].get(f"/{key}/{plural}")
    assert operations, f"no path for {plural} in {key}"
    for sub in info.subresources:  # type: ignore[attr-defined]
        assert prefix + f"{plural}/{{name}}/{sub}" in doc["paths"], f"{plural}/{sub}"


def test_a_document_holds_exactly_the_schemas_its_paths_reach() -> None:
    for key in openapi_builtin.v3_keys(SERVED):
        doc = openapi_builtin.v3_document(key, SERVED)
        assert doc is not None
        text = json.dumps(doc)
        assert set(V3_REF.findall(text)) == set((doc.get("components") or {}).get(
            "schemas", {})), key


def test_unserved_resources_are_cut_out() -> None:
    only_configmaps = {("", "v1"): {"configmaps": frozenset()}}
    doc = openapi_builtin.v3_document("api/v1", only_configmaps)
    assert doc is not None
    assert not [p for p in doc["paths"] if "pods" in p or "secrets" in p]
    assert "io.k8s.api.core.v1.ConfigMap" in doc["components"]["schemas"]
    assert "io.k8s.api.core.v1.PodSpec" not in doc["components"]["schemas"]
    assert "apis/apps/v1" not in openapi_builtin.v3_keys(only_configmaps)
    v2 = openapi_builtin.v2_document(only_configmaps)
    assert "io.k8s.api.core.v1.ConfigMap" in v2["definitions"]
    assert "io.k8s.api.apps.v1.Deployment" not in v2["definitions"]
    assert all(p.startswith(("/api/", "/apis/", "/version/")) for p in v2["paths"])


def test_pooling_keeps_each_documents_own_group_version_kind_lists() -> None:
    gvk = "x-kubernetes-group-version-kind"
    shared = {"type": "object", "description": "shared"}

    def doc(group: str) -> dict:
        delete = {"type": "object", gvk: [{"group": group, "kind": "DeleteOptions",
                                            "version": "v1"}]}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "1.36"},
                "paths": {f"/apis/{group}/v1/": {"get": {"x": {"$ref": "#/a"}}}},
                "components": {"schemas": {"Shared": shared, "DeleteOptions": delete}}}

    table = pool_documents({"apis/a/v1": doc("a"), "apis/b/v1": doc("b")})
    assert set(table["schemas"]) == {"Shared", "DeleteOptions"}
    assert table["overrides"]["apis/b/v1"]["DeleteOptions"] == [
        {"group": "b", "kind": "DeleteOptions", "version": "v1"}]
    with pytest.raises(ValueError, match="Shared differs"):
        other = doc("c")
        other["components"]["schemas"]["Shared"] = {"type": "string"}
        pool_documents({"apis/a/v1": doc("a"), "apis/c/v1": other})
