"""A CRD as the real server keeps it: the decoder's defaults (owned by the writer), its
first status, the apiextensions controllers' status writes recorded as ``kube-apiserver``
on the status subresource, the Terminating condition of a deleted CRD, and the refusal
of a CRD without a storage version."""

from __future__ import annotations

from typing import Any

from apiserver_harness import CRDS, WIDGETS, call, crd, install_crd, new_server, widget

CRD = f"{CRDS}/widgets.example.com"


def _entries(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
        for e in obj["metadata"].get("managedFields") or ()
    }


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"] or ()}


async def test_created_crd_has_conversion_none_owned_by_its_writer_and_no_conditions() -> None:
    server = new_server(controllers=False)
    created = await call(server, "POST", CRDS, crd())
    assert created.status == 201, created.body
    assert created.body["spec"]["conversion"] == {"strategy": "None"}
    assert created.body["status"] == {
        "acceptedNames": {"kind": "", "plural": ""},
        "conditions": None,
        "storedVersions": ["v1"],
    }
    [(key, fields)] = _entries(created.body).items()
    assert key == ("tests", "Update", "")
    assert fields["f:spec"]["f:conversion"] == {".": {}, "f:strategy": {}}
    assert "f:status" not in fields


async def test_a_crd_written_without_conversion_gets_it_again() -> None:
    server = new_server(controllers=False)
    created = (await call(server, "POST", CRDS, crd())).body
    del created["spec"]["conversion"]
    created["spec"]["conversion"] = None
    replaced = await call(server, "PUT", CRD, created)
    assert replaced.status == 200, replaced.body
    assert replaced.body["spec"]["conversion"] == {"strategy": "None"}


async def test_a_webhook_service_port_defaults_to_443() -> None:
    server = new_server(controllers=False)
    body = crd()
    body["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"service": {"name": "s", "namespace": "n", "path": "/c"}}}}
    created = await call(server, "POST", CRDS, body)
    assert created.status == 201, created.body
    service = created.body["spec"]["conversion"]["webhook"]["clientConfig"]["service"]
    assert service["port"] == 443


async def test_establishing_is_a_status_write_of_kube_apiserver() -> None:
    server = new_server()
    await install_crd(server)
    stored = (await call(server, "GET", CRD)).body
    entries = _entries(stored)
    assert set(entries) == {("tests", "Update", ""), ("kube-apiserver", "Update", "status")}
    status_fields = entries["kube-apiserver", "Update", "status"]["f:status"]
    assert set(status_fields["f:acceptedNames"]) >= {"f:kind", "f:plural", "f:singular",
                                                     "f:listKind", "f:shortNames"}
    # conditions was null, not absent: the list's own node is nobody's
    assert set(status_fields["f:conditions"]) == {
        'k:{"type":"Established"}', 'k:{"type":"NamesAccepted"}'}
    assert "f:storedVersions" not in status_fields  # set at create, by nobody
    assert "f:status" not in entries["tests", "Update", ""]
    assert [c["type"] for c in stored["status"]["conditions"]] == ["NamesAccepted",
                                                                    "Established"]


async def test_deleted_crd_is_pending_then_in_progress_then_gone() -> None:
    server = new_server()
    await install_crd(server)
    held = await call(server, "POST", WIDGETS, widget("held", finalizers=["example.com/x"]))
    assert held.status == 201, held.body
    deleted = await call(server, "DELETE", CRD)
    assert deleted.status == 200
    terminating = _conditions(deleted.body)["Terminating"]
    assert (terminating["status"], terminating["reason"], terminating["message"]) == (
        "True", "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon")
    # the Delete writes storage directly: nobody's managedFields change
    assert deleted.body["metadata"]["managedFields"] == (
        (await call(server, "GET", CRD)).body["metadata"]["managedFields"])
    await server.settle()
    stored = (await call(server, "GET", CRD)).body
    terminating = _conditions(stored)["Terminating"]
    assert (terminating["status"], terminating["reason"], terminating["message"]) == (
        "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress")
    fields = _entries(stored)["kube-apiserver", "Update", "status"]["f:status"]
    assert 'k:{"type":"Terminating"}' in fields["f:conditions"]
    assert stored["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    released = await call(server, "PATCH", f"{WIDGETS}/held", {"metadata": {"finalizers": None}},
                          content_type="application/merge-patch+json")
    assert released.status == 200, released.body
    await server.settle()
    assert (await call(server, "GET", CRD)).status == 404


def _causes(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["field"], c["reason"]) for c in body["details"]["causes"]}


async def test_a_crd_without_versions_or_a_storage_version_is_refused_twice() -> None:
    server = new_server()
    none = crd()
    none["spec"]["versions"] = []
    refused = await call(server, "POST", CRDS, none)
    assert refused.status == 422
    assert _causes(refused.body) == {("spec.versions", "FieldValueInvalid"),
                                     ("status.storedVersions", "FieldValueInvalid")}
    unstored = crd()
    unstored["spec"]["versions"][0]["storage"] = False
    refused = await call(server, "POST", CRDS, unstored)
    assert refused.status == 422
    assert _causes(refused.body) == {("spec.versions", "FieldValueInvalid"),
                                     ("status.storedVersions", "FieldValueInvalid")}


async def test_a_new_storage_version_joins_the_stored_versions() -> None:
    server = new_server()
    await install_crd(server, versions=("v1", "v2"))
    current = (await call(server, "GET", CRD)).body
    for version in current["spec"]["versions"]:
        version["storage"] = version["name"] == "v2"
    replaced = await call(server, "PUT", CRD, current)
    assert replaced.status == 200, replaced.body
    assert replaced.body["status"]["storedVersions"] == ["v1", "v2"]


def _scaled_crd() -> dict[str, Any]:
    body = crd()
    version = body["spec"]["versions"][0]
    version["schema"]["openAPIV3Schema"] = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"},
                                                  "replicas": {"type": "integer"}}},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                    "selector": {"type": "string"}}}}}
    version["subresources"] = {"status": {}, "scale": {
        "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector"}}
    return body


async def test_a_scale_path_through_a_non_object_is_refused_by_its_path() -> None:
    server = new_server()
    created = await call(server, "POST", CRDS, _scaled_crd())
    assert created.status == 201, created.body
    await server.settle()
    refused = await call(server, "POST", WIDGETS, {**widget("w"), "spec": "not an object"})
    assert refused.status == 422, refused.body
    scale = [c for c in refused.body["details"]["causes"] if c["field"] == ".spec.replicas"]
    assert scale == [{
        "reason": "FieldValueInvalid", "field": ".spec.replicas",
        "message": "Invalid value: 0: .spec.replicas accessor error: not an object is of the "
                   "type string, expected map[string]interface{}"}]
    negative = await call(server, "POST", WIDGETS, {**widget("w"), "spec": {"replicas": -1}})
    assert negative.status == 422, negative.body
    assert [(c["field"], c["message"]) for c in negative.body["details"]["causes"]] == [
        (".spec.replicas", "Invalid value: -1: should be a non-negative integer")]
    fine = await call(server, "POST", WIDGETS, {**widget("w"), "spec": {"replicas": 2}})
    assert fine.status == 201, fine.body
    bad_status = await call(server, "PUT", f"{WIDGETS}/w/status", {
        **fine.body, "spec": "ignored", "status": {"selector": {"a": "b"}}})
    assert bad_status.status == 422, bad_status.body
    # the schema's type check, and the scale's (of the pruned map)
    assert [(c["field"], c["message"]) for c in bad_status.body["details"]["causes"]] == [
        ("status.selector",
         'Invalid value: "object": selector in body must be of type string: "object"'),
        (".status.selector", 'Invalid value: "": .status.selector accessor error: map[] is '
                             "of the type map[string]interface {}, expected string")]


async def test_a_crd_without_a_scope_or_version_flags_is_refused_as_the_real_one() -> None:
    server = new_server()
    unscoped = crd()
    del unscoped["spec"]["scope"]
    refused = await call(server, "POST", CRDS, unscoped)
    assert refused.status == 422, refused.body
    assert refused.body["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.scope"}]
    flagless = crd()
    del flagless["spec"]["versions"][0]["served"]
    del flagless["spec"]["versions"][0]["storage"]
    refused = await call(server, "POST", CRDS, flagless)
    assert refused.status == 422, refused.body
    assert _causes(refused.body) == {("spec.versions", "FieldValueInvalid"),
                                     ("status.storedVersions", "FieldValueInvalid")}
    stored = next(c for c in refused.body["details"]["causes"]
                  if c["field"] == "status.storedVersions")
    assert stored["message"] == "Invalid value: null: must have at least one stored version"
