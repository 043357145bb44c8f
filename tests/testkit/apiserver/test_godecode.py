"""Built-in bodies as their Go structs keep them: unknown fields (fieldValidation) and the
empty values of omitempty fields; and what the field manager, which runs on that struct
before the strategy, credits a main-resource write with."""

from __future__ import annotations

import copy
from typing import Any

from apiserver_harness import CM, DEPLOY, NS, call, cm, deployment, new_server

from kubeplan.testkit.apiserver.godecode import decode_builtin

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


def _managed(obj: dict[str, Any]) -> dict[str, Any]:
    [entry] = obj["metadata"]["managedFields"]
    fields: dict[str, Any] = entry["fieldsV1"]
    return fields


async def test_unknown_fields_are_dropped_and_warned_of_refused_or_ignored() -> None:
    server = new_server()
    warned = await call(server, "POST", CM, {**cm("warn"), "unknown": {"x": 1}})
    assert warned.status == 201 and "unknown" not in warned.body
    assert warned.headers["Warning"] == '299 - "unknown field \\"unknown\\""'
    strict = await call(server, "POST", CM, {**cm("strict"), "unknown": 1, "other": 2},
                        query={"fieldValidation": "Strict"})
    assert strict.status == 400 and strict.body["reason"] == "BadRequest"
    assert strict.body["message"] == (
        'strict decoding error: unknown field "unknown", unknown field "other"')
    assert (await call(server, "GET", f"{CM}/strict")).status == 404
    ignored = await call(server, "POST", CM, {**cm("ignored"), "unknown": 1},
                         query={"fieldValidation": "Ignore"})
    assert ignored.status == 201 and "Warning" not in ignored.headers
    assert "unknown" not in ignored.body


async def test_nested_unknown_fields_are_named_by_their_path() -> None:
    server = new_server()
    body = deployment("d")
    body["spec"]["template"]["spec"]["containers"][0]["bogus"] = True
    body["spec"]["selector"]["matchLabels"] = {"app": "d"}
    body["metadata"]["nope"] = "x"
    created = await call(server, "POST", DEPLOY, body)
    assert created.status == 201, created.body
    assert created.headers["Warning"] == (
        '299 - "unknown field \\"metadata.nope\\"", '
        '299 - "unknown field \\"spec.template.spec.containers[0].bogus\\""')
    assert "bogus" not in created.body["spec"]["template"]["spec"]["containers"][0]
    # a patch's result is decoded the same way; the patch handler refuses it as a 422
    # of no kind on the field "patch"
    patched = await call(server, "PATCH", f"{DEPLOY}/d", {"spec": {"paused": True, "zap": 1}},
                         content_type=MERGE_PATCH, query={"fieldValidation": "Strict"})
    assert patched.status == 422 and patched.body["reason"] == "Invalid"
    [cause] = patched.body["details"].pop("causes")
    assert patched.body["details"] == {}
    assert (cause["field"], cause["reason"]) == ("patch", "FieldValueInvalid")
    assert cause["message"].endswith(': strict decoding error: unknown field "spec.zap"')
    warned = await call(server, "PATCH", f"{DEPLOY}/d", {"spec": {"zap": 1}},
                        content_type=MERGE_PATCH)
    assert warned.status == 200
    assert warned.headers["Warning"] == '299 - "unknown field \\"spec.zap\\""'


async def test_a_patch_whose_result_does_not_decode_is_invalid() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("c"))
    number = await call(server, "PATCH", f"{CM}/c", {"data": {"a": 1}}, content_type=MERGE_PATCH)
    assert number.status == 422 and number.body["reason"] == "Invalid"
    [cause] = number.body["details"]["causes"]
    assert (cause["field"], cause["reason"]) == ("patch", "FieldValueInvalid")
    assert "cannot unmarshal number into Go struct field ConfigMap.data" in cause["message"]
    # a create of the same body is the decoder's 400
    created = await call(server, "POST", CM, {**cm("d"), "data": {"a": 1}})
    assert created.status == 400


async def test_empty_omitempty_values_are_not_stored_nor_owned() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("c", labels={}, finalizers=[]))).body
    assert "labels" not in created["metadata"] and "finalizers" not in created["metadata"]
    assert "f:metadata" not in _managed(created)
    body = deployment("d")
    body["spec"]["template"]["spec"].update(
        hostNetwork=False, volumes=[{"name": "v", "emptyDir": {}}])
    body["spec"]["replicas"] = 0  # a pointer: zero is written
    made = (await call(server, "POST", DEPLOY, body)).body
    pod = made["spec"]["template"]["spec"]
    assert "hostNetwork" not in pod and made["spec"]["replicas"] == 0
    assert pod["volumes"] == [{"name": "v", "emptyDir": {}}]
    emptied = await call(server, "PATCH", f"{DEPLOY}/d",
                         [{"op": "remove", "path": "/spec/template/spec/volumes/0"}],
                         content_type=JSON_PATCH)
    assert emptied.status == 200, emptied.body
    assert "volumes" not in emptied.body["spec"]["template"]["spec"]
    owned = _managed(emptied.body)["f:spec"]["f:template"]["f:spec"]
    assert "f:volumes" not in owned


def test_decode_builtin_walks_maps_lists_and_inline_structs() -> None:
    service: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "annotations": {}},
        "spec": {"ports": [{"port": 80, "name": "", "wrong": 1}], "selector": {"a": "b"},
                 "externalIPs": None}}
    assert decode_builtin(service, "v1", "Service") == ["spec.ports[0].wrong"]
    assert service == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                       "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    # a volume's source is an inline struct: its fields are the volume's own
    pod: dict[str, Any] = {"spec": {"containers": [], "volumes": [
        {"name": "v", "configMap": {"name": "c", "bad": 1}, "worse": 2}]}}
    assert decode_builtin(pod, "v1", "Pod") == [
        "spec.volumes[0].configMap.bad", "spec.volumes[0].worse"]
    assert decode_builtin({"x": 1}, "example.com/v1", "Widget") is None


def test_a_clean_level_is_passed_over_but_what_it_holds_is_still_decoded() -> None:
    # every field known and non-empty at the top and in metadata: the fast path, which
    # must still walk into the fields that have a message of their own
    pod: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u", "odd": 1}]},
        "spec": {"containers": [{"name": "c", "image": "i", "tty": False}]}}
    assert decode_builtin(pod, "v1", "Pod") == ["metadata.ownerReferences[0].odd"]
    assert pod["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u"}]
    assert pod["spec"]["containers"] == [{"name": "c", "image": "i"}]


def test_what_a_merge_patch_kept_of_the_decoded_base_is_not_walked_again() -> None:
    base: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    # the patched object shares the base's metadata and ports (as a merge patch's result
    # does); a marker the decoder would drop shows that shared parts are left unvisited
    base["metadata"]["planted"] = {"x": 1}
    patched = {**base, "spec": {**base["spec"], "type": "", "typo": 1}}
    assert decode_builtin(patched, "v1", "Service", decoded=base) == ["spec.typo"]
    assert patched["metadata"] is base["metadata"] and "planted" in patched["metadata"]
    assert patched["spec"] == {"ports": [{"port": 80}], "selector": {"a": "b"}}
    # an equal copy is no shared part: it is decoded
    copied = {**base, "metadata": copy.deepcopy(base["metadata"])}
    assert decode_builtin(copied, "v1", "Service", decoded=base) == ["metadata.planted"]


async def test_a_merge_patch_decodes_what_it_changed_and_keeps_the_rest() -> None:
    server = new_server()
    body = deployment("d")
    body["spec"]["selector"]["matchLabels"] = {"app": "d"}
    assert (await call(server, "POST", DEPLOY, body)).status == 201
    patched = await call(server, "PATCH", f"{DEPLOY}/d", {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "i", "stdin": False, "nope": 1}]}}},
        "metadata": {"labels": {"x": "y"}}}, content_type=MERGE_PATCH)
    assert patched.status == 200, patched.body
    assert patched.headers["Warning"] == (
        '299 - "unknown field \\"spec.template.spec.containers[0].nope\\""')
    [container] = patched.body["spec"]["template"]["spec"]["containers"]
    assert "stdin" not in container and "nope" not in container
    assert patched.body["metadata"]["labels"] == {"x": "y"}
    stored = (await call(server, "GET", f"{DEPLOY}/d")).body
    assert stored["spec"]["selector"] == {"matchLabels": {"app": "d"}}
    assert stored["metadata"]["managedFields"] == patched.body["metadata"]["managedFields"]


async def test_a_deployments_annotations_move_its_generation() -> None:
    # its strategy compares annotations too (they are copied to its ReplicaSets)
    server = new_server()
    created = (await call(server, "POST", DEPLOY, deployment("d"))).body
    annotated = await call(server, "PATCH", f"{DEPLOY}/d",
                           {"metadata": {"annotations": {"a": "1"}}}, content_type=MERGE_PATCH)
    assert annotated.body["metadata"]["generation"] == created["metadata"]["generation"] + 1
    labelled = await call(server, "PATCH", f"{DEPLOY}/d",
                          {"metadata": {"labels": {"a": "1"}}}, content_type=MERGE_PATCH)
    assert labelled.body["metadata"]["generation"] == annotated.body["metadata"]["generation"]


async def test_a_main_resource_write_owns_no_status_nor_what_prepare_for_create_sets() -> None:
    # ResetFields: status is the status subresource's; a namespace's "kubernetes"
    # finalizer is added by PrepareForCreate, after the field manager has run
    server = new_server()
    namespace = (await call(server, "POST", NS, {"metadata": {"name": "team"}})).body
    assert namespace["status"] == {"phase": "Active"}
    assert namespace["spec"] == {"finalizers": ["kubernetes"]}
    assert set(_managed(namespace)) == {"f:metadata"}
    claims = "/api/v1/namespaces/default/persistentvolumeclaims"
    claim = (await call(server, "POST", claims, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound"}})).body
    assert claim["status"] == {"phase": "Pending"}
    assert "f:status" not in _managed(claim) and "f:spec" in _managed(claim)
    # finalizers the client sends are its own
    sent = (await call(server, "POST", NS, {
        "metadata": {"name": "mine"}, "spec": {"finalizers": ["example.com/x"]}})).body
    assert _managed(sent)["f:spec"] == {"f:finalizers": {}}
