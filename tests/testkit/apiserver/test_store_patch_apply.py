"""The four patch types and server-side apply through the store."""

from __future__ import annotations

import yaml
from apiserver_harness import (
    CM,
    DEPLOY,
    WIDGETS,
    call,
    cm,
    deployment,
    install_crd,
    new_server,
    widget,
)

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


async def test_merge_patch() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a", {"x": "1", "y": "2"}))
    response = await call(
        server, "PATCH", f"{CM}/a", {"data": {"x": None, "z": "3"}}, content_type=MERGE
    )
    assert response.status == 200 and response.body["data"] == {"y": "2", "z": "3"}


async def test_json_patch_and_its_errors() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    ok = await call(
        server,
        "PATCH",
        f"{CM}/a",
        [{"op": "add", "path": "/data/n", "value": "1"}],
        content_type=JSON,
    )
    assert ok.status == 200 and ok.body["data"] == {"k": "v", "n": "1"}
    failed = await call(
        server,
        "PATCH",
        f"{CM}/a",
        [{"op": "test", "path": "/data/k", "value": "other"}],
        content_type=JSON,
    )
    assert failed.status == 422
    not_list = await call(server, "PATCH", f"{CM}/a", {"op": "add"}, content_type=JSON)
    assert not_list.status == 400


async def test_patch_with_stale_rv_in_body_conflicts() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    response = await call(
        server,
        "PATCH",
        f"{CM}/a",
        {"metadata": {"resourceVersion": "1"}, "data": {"k": "2"}},
        content_type=MERGE,
    )
    assert response.status == 409 and response.body["reason"] == "Conflict"


async def test_patch_missing_object_is_404() -> None:
    server = new_server()
    response = await call(server, "PATCH", f"{CM}/nope", {"data": {}}, content_type=MERGE)
    assert response.status == 404


async def test_strategic_merge_patch_merges_containers_by_name() -> None:
    server = new_server()
    await call(server, "POST", DEPLOY, deployment("d"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    response = await call(server, "PATCH", f"{DEPLOY}/d", patch, content_type=SMP)
    assert response.status == 200
    names = [c["name"] for c in response.body["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["c", "side"]
    assert response.body["metadata"]["generation"] == 2


async def test_unknown_patch_type_is_415_listing_builtin_types() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    response = await call(server, "PATCH", f"{CM}/a", {"data": {}}, content_type="text/plain")
    assert response.status == 415
    assert response.body["reason"] == "UnsupportedMediaType"
    assert "application/strategic-merge-patch+json" in response.body["message"]


async def test_force_on_non_apply_patch_is_422() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    response = await call(
        server, "PATCH", f"{CM}/a", {"data": {}}, content_type=MERGE, query={"force": "true"}
    )
    assert response.status == 422
    assert response.body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for '
        "non-apply patch"
    )


async def test_apply_creates_then_updates_with_managed_fields() -> None:
    server = new_server()
    body = yaml.safe_dump(cm("a", {"x": "1"})).encode()
    created = await call(
        server, "PATCH", f"{CM}/a", raw=body, content_type=APPLY, query={"fieldManager": "alice"}
    )
    assert created.status == 201, created.body
    entry = created.body["metadata"]["managedFields"][0]
    assert entry["manager"] == "alice" and entry["operation"] == "Apply"
    assert entry["fieldsV1"]["f:data"] == {"f:x": {}}
    updated = await call(
        server,
        "PATCH",
        f"{CM}/a",
        raw=yaml.safe_dump(cm("a", {"x": "2"})).encode(),
        content_type=APPLY,
        query={"fieldManager": "alice"},
    )
    assert updated.status == 200 and updated.body["data"] == {"x": "2"}
    same = await call(
        server,
        "PATCH",
        f"{CM}/a",
        raw=yaml.safe_dump(cm("a", {"x": "2"})).encode(),
        content_type=APPLY,
        query={"fieldManager": "alice"},
    )
    assert same.body["metadata"]["resourceVersion"] == updated.body["metadata"]["resourceVersion"]


async def test_apply_conflict_then_force() -> None:
    server = new_server()
    await call(
        server,
        "PATCH",
        f"{CM}/a",
        raw=yaml.safe_dump(cm("a", {"x": "1"})).encode(),
        content_type=APPLY,
        query={"fieldManager": "alice"},
    )
    conflict = await call(
        server,
        "PATCH",
        f"{CM}/a",
        raw=yaml.safe_dump(cm("a", {"x": "2"})).encode(),
        content_type=APPLY,
        query={"fieldManager": "bob"},
    )
    assert conflict.status == 409
    assert conflict.body["reason"] == "Conflict"
    assert (
        conflict.body["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.x'
    )
    # NewApplyConflict's details hold the causes alone (no name, group or kind)
    assert conflict.body["details"] == {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.x"}
    ]}
    forced = await call(
        server,
        "PATCH",
        f"{CM}/a",
        raw=yaml.safe_dump(cm("a", {"x": "2"})).encode(),
        content_type=APPLY,
        query={"fieldManager": "bob", "force": "true"},
    )
    assert forced.status == 200 and forced.body["data"] == {"x": "2"}
    managers = {e["manager"] for e in forced.body["metadata"]["managedFields"]}
    assert "bob" in managers


async def test_apply_requires_field_manager_and_rejects_managed_fields() -> None:
    server = new_server()
    body = yaml.safe_dump(cm("a")).encode()
    no_manager = await call(server, "PATCH", f"{CM}/a", raw=body, content_type=APPLY)
    assert no_manager.status == 422
    assert no_manager.body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for '
        "apply patch"
    )
    with_mf = cm("a", managedFields=[{"manager": "x"}])
    response = await call(
        server,
        "PATCH",
        f"{CM}/a",
        raw=yaml.safe_dump(with_mf).encode(),
        content_type=APPLY,
        query={"fieldManager": "m"},
    )
    assert response.status == 400
    assert response.body["message"] == "metadata.managedFields must be nil"


async def test_apply_to_custom_resource_and_status() -> None:
    server = new_server()
    await install_crd(server)
    created = await call(
        server,
        "PATCH",
        f"{WIDGETS}/w1",
        raw=yaml.safe_dump(widget("w1", size=2)).encode(),
        content_type=APPLY,
        query={"fieldManager": "op"},
    )
    assert created.status == 201, created.body
    status_body = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "status": {"phase": "Ready"},
    }
    applied = await call(
        server,
        "PATCH",
        f"{WIDGETS}/w1/status",
        raw=yaml.safe_dump(status_body).encode(),
        content_type=APPLY,
        query={"fieldManager": "op"},
    )
    assert applied.status == 200, applied.body
    assert applied.body["status"] == {"phase": "Ready"}
    assert applied.body["spec"]["size"] == 2
    assert applied.body["metadata"]["generation"] == 1


async def test_apply_treats_resource_version_and_uid_as_preconditions() -> None:
    server = new_server()
    query = {"fieldManager": "op", "force": "true"}
    created = await call(
        server, "PATCH", f"{CM}/a", cm("a", {"x": "1"}), content_type=APPLY, query=query
    )
    meta = created.body["metadata"]
    stale = cm("a", {"x": "2"}, resourceVersion="1")
    response = await call(server, "PATCH", f"{CM}/a", stale, content_type=APPLY, query=query)
    assert response.status == 409 and response.body["reason"] == "Conflict"
    wrong_uid = cm("a", {"x": "2"}, uid="00000000-0000-0000-0000-000000000000")
    response = await call(server, "PATCH", f"{CM}/a", wrong_uid, content_type=APPLY, query=query)
    assert response.status == 409 and "Precondition failed: UID" in response.body["message"]
    fresh = cm("a", {"x": "2"}, uid=meta["uid"], resourceVersion=meta["resourceVersion"])
    response = await call(server, "PATCH", f"{CM}/a", fresh, content_type=APPLY, query=query)
    assert response.status == 200 and response.body["data"] == {"x": "2"}
    assert response.body["metadata"]["uid"] == meta["uid"]
    assert response.body["metadata"]["resourceVersion"] != meta["resourceVersion"]


async def test_apply_conflict_with_an_update_manager_names_its_version() -> None:
    # apimachinery prints an Update manager with the version it wrote: the cause says
    # 'conflict with "gamma" using v1' like the message does
    server = new_server()
    await call(server, "POST", CM, cm("a", {"x": "1"}), query={"fieldManager": "gamma"})
    conflict = await call(
        server,
        "PATCH",
        f"{CM}/a",
        raw=yaml.safe_dump(cm("a", {"x": "2"})).encode(),
        content_type=APPLY,
        query={"fieldManager": "alpha"},
    )
    assert conflict.status == 409
    assert conflict.body["message"] == (
        'Apply failed with 1 conflict: conflict with "gamma" using v1: .data.x'
    )
    assert [c["message"] for c in conflict.body["details"]["causes"]] == [
        'conflict with "gamma" using v1'
    ]


async def test_a_failed_json_patch_is_a_422_with_empty_details() -> None:
    # NewGenericServerResponse(422, ..., isUnexpectedResponse=false): no cause
    server = new_server()
    await call(server, "POST", CM, cm("a", {"x": "1"}))
    failed = await call(server, "PATCH", f"{CM}/a",
                        [{"op": "test", "path": "/data/x", "value": "2"}],
                        content_type="application/json-patch+json")
    assert failed.status == 422 and failed.body["reason"] == "Invalid"
    assert failed.body["message"] == (
        "the server rejected our request due to an error in our request")
    assert failed.body["details"] == {}
