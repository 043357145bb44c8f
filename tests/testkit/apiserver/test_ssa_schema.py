"""Server-side apply driven by upstream's schema of built-in types (``builtin_fields``):
atomic structs and maps, defaulted list keys, the Go zero value of a create."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from kubeplan.testkit.apiserver import builtin_fields
from kubeplan.testkit.apiserver.mergekeys import ssa_list_keys
from kubeplan.testkit.apiserver.ssa import ApplyConflict, apply, record_update

DEPLOY = ssa_list_keys("apps", "Deployment")
NOW = "2024-01-01T00:00:00Z"


def _deploy(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
        },
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"}, "spec": body}


def _fields(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    entry = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)
    fields: dict[str, Any] = entry["fieldsV1"]
    return fields


def _container(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "web:1", **fields}


def test_an_atomic_selector_is_owned_whole_and_replaced_not_merged() -> None:
    live = apply(None, _deploy(), manager="a", force=False, list_keys=DEPLOY, now=NOW)
    assert _fields(live, "a")["f:spec"]["f:selector"] == {}
    config = _deploy(selector={"matchLabels": {"tier": "front"}})
    config["spec"]["template"]["metadata"]["labels"] = {"tier": "front"}
    merged = apply(live, config, manager="a", force=False, list_keys=DEPLOY, now=NOW)
    # a granular merge would keep app: web beside tier: front
    assert merged["spec"]["selector"] == {"matchLabels": {"tier": "front"}}


def test_an_atomic_selector_conflicts_as_one_field() -> None:
    live = apply(None, _deploy(), manager="a", force=False, list_keys=DEPLOY, now=NOW)
    other = _deploy(selector={"matchLabels": {"app": "web", "extra": "x"}})
    del other["spec"]["template"]
    with pytest.raises(ApplyConflict) as err:
        apply(live, other, manager="b", force=False, list_keys=DEPLOY, now=NOW)
    assert err.value.conflicts == [("a", ".spec.selector")]


def test_an_env_var_field_ref_is_a_leaf() -> None:
    env = [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    config = _deploy()
    config["spec"]["template"]["spec"]["containers"] = [_container(env=env)]
    live = apply(None, config, manager="a", force=False, list_keys=DEPLOY, now=NOW)
    container = _fields(live, "a")["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"web"}']
    assert container["f:env"]['k:{"name":"POD"}']["f:valueFrom"] == {"f:fieldRef": {}}


def test_owner_references_are_atomic_items() -> None:
    config = _deploy()
    config["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u1"}]
    live = apply(None, config, manager="a", force=False, list_keys=DEPLOY, now=NOW)
    refs = _fields(live, "a")["f:metadata"]["f:ownerReferences"]
    assert refs == {'k:{"uid":"u1"}': {}}


def test_a_port_without_protocol_is_keyed_by_its_default() -> None:
    config = _deploy()
    config["spec"]["template"]["spec"]["containers"] = [
        _container(ports=[{"containerPort": 80}])]
    live = apply(None, config, manager="a", force=False, list_keys=DEPLOY, now=NOW)
    ports = _fields(live, "a")["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"web"}']["f:ports"]
    # keyed by protocol TCP, which the applier does not own
    assert ports == {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}
    # the server defaults protocol; applying the same manifest again keeps one port
    stored = copy.deepcopy(live)
    stored["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
    again = apply(stored, config, manager="a", force=False, list_keys=DEPLOY, now=NOW)
    assert again["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}]


def test_an_item_given_up_goes_whole_though_another_manager_owned_a_field_in_it() -> None:
    # checked against kube-apiserver v1.36.3: the side container is removed, and the
    # editor's entry (it owned only side's image) with it; keeping the item without the
    # applier's key field (name) would store an invalid object
    config = _deploy()
    config["spec"]["template"]["spec"]["containers"] = [
        _container(), {"name": "side", "image": "side:1"}]
    live = apply(None, config, manager="a", force=False, list_keys=DEPLOY, now=NOW)
    changed = copy.deepcopy(live)
    changed["spec"]["template"]["spec"]["containers"][1]["image"] = "side:2"
    updated = record_update(live, changed, manager="edit", now=NOW, list_keys=DEPLOY)
    config["spec"]["template"]["spec"]["containers"] = [_container()]
    after = apply(updated, config, manager="a", force=False, list_keys=DEPLOY, now=NOW)
    assert after["spec"]["template"]["spec"]["containers"] == [_container()]
    assert [e["manager"] for e in after["metadata"]["managedFields"]] == ["a"]


def test_a_create_marks_no_node_of_the_go_zero_value() -> None:
    obj = _deploy(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
    obj["spec"]["template"]["spec"]["containers"] = [_container(ports=[{"containerPort": 80}])]
    created = record_update(None, obj, manager="c", now=NOW, list_keys=DEPLOY, builtin=True)
    spec = _fields(created, "c")["f:spec"]
    # non-pointer structs (template, its metadata and spec, strategy) and a list without
    # omitempty (containers) exist in the zero value: no "."; a pointer struct
    # (rollingUpdate) and an omitempty list (ports) are added: "."
    assert "." not in spec["f:template"] and "." not in spec["f:strategy"]
    assert "." not in spec["f:template"]["f:spec"]["f:containers"]
    assert "." in spec["f:strategy"]["f:rollingUpdate"]
    container = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert "." in container and "." in container["f:ports"]


def test_an_empty_struct_of_the_zero_value_is_not_named() -> None:
    keys = ssa_list_keys("networking.k8s.io", "NetworkPolicy")
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "p"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    created = record_update(None, obj, manager="c", now=NOW, list_keys=keys, builtin=True)
    assert _fields(created, "c")["f:spec"] == {"f:policyTypes": {}}


_GO = builtin_fields.default_source()


@pytest.mark.skipif(not _GO.exists(), reason="the Go module cache has no k8s.io/kubernetes")
def test_the_committed_table_is_what_the_go_source_gives() -> None:
    assert builtin_fields.regenerate(_GO) == builtin_fields._table()


def test_the_table_knows_upstream_markers() -> None:
    # a sample checked by hand against k8s.io/api@v0.36.3 types.go
    assert builtin_fields.field_node("", "Service", ("spec", "selector")) == (
        builtin_fields.FieldNode("map", atomic=True))
    rb = builtin_fields.field_node("rbac.authorization.k8s.io", "RoleBinding", ("roleRef",))
    assert rb is not None and rb.atomic and rb.zero
    ports = builtin_fields.field_node(
        "apps", "Deployment", ("spec", "template", "spec", "containers", "ports"))
    assert ports is not None and ports.list_type == "map"
    assert ports.keys == ("containerPort", "protocol")
    assert dict(ports.key_defaults)["protocol"] == "TCP"


_API = Path.home() / "go/pkg/mod/k8s.io/api@v0.36.3"


@pytest.mark.skipif(not _API.exists(), reason="the Go module cache has no k8s.io/api")
def test_atomic_structs_match_the_go_markers() -> None:
    # every `+structType=atomic` type of core/v1 the table reaches is atomic there
    text = (_API / "core/v1/types.go").read_text()
    marked = set(re.findall(r"\+structType=atomic\n(?://.*\n)*type (\w+) struct", text))
    table = builtin_fields._table()["models"]
    reached = {name.split(".")[1] for name in table if name.startswith("corev1.")}
    atomic_fields = {spec["m"].split(".")[1] for fields in table.values()
                     for spec in fields.values()
                     if spec.get("a") and spec.get("t") == "struct"
                     and spec["m"].startswith("corev1.")}
    items = {spec["m"].split(".")[1] for fields in table.values() for spec in fields.values()
             if spec.get("ai") and spec["m"].startswith("corev1.")}
    assert marked & reached
    assert marked & reached <= atomic_fields | items | (reached - _referenced(table))


def _referenced(table: dict[str, Any]) -> set[str]:
    return {spec["m"].split(".")[1] for fields in table.values() for spec in fields.values()
            if "m" in spec and spec["m"].startswith("corev1.")}


_CRD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"spec": {"type": "object", "properties": {
        "ref": {"type": "object", "x-kubernetes-map-type": "atomic",
                "properties": {"name": {"type": "string"}, "kind": {"type": "string"}}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["port", "protocol"],
                  "items": {"type": "object", "properties": {
                      "port": {"type": "integer"},
                      "protocol": {"type": "string", "default": "TCP"}}}},
    }}},
}


def test_a_custom_resource_s_atomic_map_and_defaulted_key() -> None:
    from kubeplan.testkit.apiserver.schema import schema_list_keys

    keys = schema_list_keys(_CRD_SCHEMA)
    config = {"apiVersion": "x.example.com/v1", "kind": "W", "metadata": {"name": "w"},
              "spec": {"ref": {"name": "a", "kind": "K"}, "ports": [{"port": 80}]}}
    live = apply(None, config, manager="a", force=False, list_keys=keys, now=NOW)
    spec = _fields(live, "a")["f:spec"]
    assert spec["f:ref"] == {}
    assert list(spec["f:ports"]) == ['k:{"port":80,"protocol":"TCP"}']
    changed = copy.deepcopy(config)
    changed["spec"]["ref"] = {"name": "b"}
    merged = apply(live, changed, manager="a", force=False, list_keys=keys, now=NOW)
    assert merged["spec"]["ref"] == {"name": "b"}  # replaced, not merged (kind: K gone)
