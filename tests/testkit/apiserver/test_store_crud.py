"""CRUD and resourceVersion semantics of the fake API server (spec §1-§2)."""

from __future__ import annotations

from apiserver_harness import CM, DEPLOY, NS, call, cm, deployment, new_server


async def test_initial_namespaces_exist() -> None:
    server = new_server()
    listing = await call(server, "GET", NS)
    names = [i["metadata"]["name"] for i in listing.body["items"]]
    assert names == ["default", "kube-public", "kube-system"]
    ns = listing.body["items"][0]
    assert ns["status"] == {"phase": "Active"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "default"}


async def test_create_sets_system_fields_and_global_rv() -> None:
    server = new_server()
    before = server.resource_version
    created = await call(server, "POST", CM, cm("a"))
    assert created.status == 201
    meta = created.body["metadata"]
    assert meta["resourceVersion"] == str(before + 1)
    assert meta["creationTimestamp"] == "2024-05-01T10:00:00Z"
    assert len(meta["uid"]) == 36
    assert "generation" not in meta  # ConfigMaps keep no generation
    assert meta["namespace"] == "default"
    assert created.body["apiVersion"] == "v1" and created.body["kind"] == "ConfigMap"
    dep = await call(server, "POST", DEPLOY, deployment("d"))
    assert dep.body["metadata"]["resourceVersion"] == str(before + 2)  # one counter for all types
    assert dep.body["metadata"]["generation"] == 1
    got = await call(server, "GET", f"{CM}/a")
    assert got.status == 200 and got.body == created.body


async def test_create_existing_is_409_already_exists() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    again = await call(server, "POST", CM, cm("a"))
    assert again.status == 409
    assert again.body["reason"] == "AlreadyExists"
    assert again.body["message"] == 'configmaps "a" already exists'
    assert again.body["details"] == {"name": "a", "kind": "configmaps"}


async def test_invalid_without_a_name_leaves_the_name_out_of_its_details() -> None:
    # StatusDetails.name is omitempty: a create with neither name nor generateName, and
    # a list's refused ListOptions, name nothing
    server = new_server()
    nameless = await call(server, "POST", CM, {"apiVersion": "v1", "kind": "ConfigMap"})
    assert nameless.status == 422
    assert set(nameless.body["details"]) == {"kind", "causes"}
    assert nameless.body["details"]["kind"] == "ConfigMap"
    options = await call(server, "GET", CM, query={"resourceVersionMatch": "NotOlderThan"})
    assert options.status == 422
    assert {k: v for k, v in options.body["details"].items() if k != "causes"} == {
        "group": "meta.k8s.io", "kind": "ListOptions"}
    named = await call(server, "POST", CM, cm("Bad_Name"))
    assert named.status == 422 and named.body["details"]["name"] == "Bad_Name"


async def test_get_missing_is_404_with_details() -> None:
    server = new_server()
    missing = await call(server, "GET", f"{CM}/nope")
    assert missing.status == 404
    assert missing.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "configmaps"},
        "code": 404,
    }
    dep = await call(server, "GET", f"{DEPLOY}/nope")
    assert dep.body["message"] == 'deployments.apps "nope" not found'
    assert dep.body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_update_with_stale_rv_is_409_conflict() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("a"))).body
    first = dict(created, data={"k": "2"})
    ok = await call(server, "PUT", f"{CM}/a", first)
    assert ok.status == 200
    assert int(ok.body["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    stale = await call(server, "PUT", f"{CM}/a", dict(created, data={"k": "3"}))
    assert stale.status == 409
    assert stale.body["reason"] == "Conflict"
    assert stale.body["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )


async def test_update_without_rv_is_unconditional_for_builtins() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    body = cm("a", {"k": "new"})
    response = await call(server, "PUT", f"{CM}/a", body)
    assert response.status == 200 and response.body["data"] == {"k": "new"}


async def test_update_missing_object_is_404() -> None:
    server = new_server()
    response = await call(server, "PUT", f"{CM}/a", cm("a"))
    assert response.status == 404


async def test_noop_update_keeps_rv_and_emits_no_event() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("a"))).body
    rv = server.resource_version
    same = await call(server, "PUT", f"{CM}/a", created)
    assert same.status == 200
    assert same.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert server.resource_version == rv
    patched = await call(
        server,
        "PATCH",
        f"{CM}/a",
        {"data": {"k": "v"}},
        content_type="application/merge-patch+json",
    )
    assert patched.status == 200 and server.resource_version == rv


async def test_system_fields_are_restored_on_update() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("a"))).body
    body = dict(created)
    body["metadata"] = dict(
        created["metadata"], creationTimestamp="2000-01-01T00:00:00Z", generation=5
    )
    body["data"] = {"k": "x"}
    response = await call(server, "PUT", f"{CM}/a", body)
    assert response.body["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z"
    assert "generation" not in response.body["metadata"]


async def test_uid_precondition_mismatch_on_update() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("a"))).body
    body = dict(created, data={"k": "x"})
    body["metadata"] = dict(created["metadata"], uid="other")
    response = await call(server, "PUT", f"{CM}/a", body)
    assert response.status == 409
    assert response.body["message"].endswith(
        f"Precondition failed: UID in precondition: other, UID in object meta: "
        f"{created['metadata']['uid']}"
    )


async def test_generate_name() -> None:
    server = new_server()
    body = {"metadata": {"generateName": "job-"}, "data": {}}
    first = await call(server, "POST", CM, body)
    second = await call(server, "POST", CM, body)
    for response in (first, second):
        assert response.status == 201
        name = response.body["metadata"]["name"]
        assert name.startswith("job-") and len(name) == 9
        assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert first.body["metadata"]["name"] != second.body["metadata"]["name"]
    assert first.body["metadata"]["generateName"] == "job-"


async def test_missing_name_is_422() -> None:
    server = new_server()
    response = await call(server, "POST", CM, {"metadata": {}, "data": {}})
    assert response.status == 422
    assert response.body["message"] == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert response.body["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: name or generateName is required",
            "field": "metadata.name",
        }
    ]


async def test_invalid_name_is_422() -> None:
    server = new_server()
    response = await call(server, "POST", CM, cm("Bad_Name"))
    assert response.status == 422
    assert response.body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase '
        "RFC 1123 subdomain"
    )


async def test_create_with_resource_version_is_500_unknown() -> None:
    server = new_server()
    response = await call(server, "POST", CM, cm("a", resourceVersion="5"))
    assert response.status == 500
    assert response.body["message"] == "resourceVersion should not be set on objects to be created"
    assert "reason" not in response.body


async def test_dry_run_create_stores_nothing_and_has_no_rv() -> None:
    server = new_server()
    rv = server.resource_version
    response = await call(server, "POST", CM, cm("a"), query={"dryRun": "All"})
    assert response.status == 201
    assert "resourceVersion" not in response.body["metadata"]
    assert response.body["metadata"]["uid"]
    assert server.resource_version == rv
    assert (await call(server, "GET", f"{CM}/a")).status == 404
    bad = await call(server, "POST", CM, cm("a"), query={"dryRun": "Yes"})
    assert bad.status == 422


async def test_dry_run_update_and_delete() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("a"))).body
    rv = server.resource_version
    upd = await call(
        server, "PUT", f"{CM}/a", dict(created, data={"k": "z"}), query={"dryRun": "All"}
    )
    assert upd.status == 200 and upd.body["data"] == {"k": "z"}
    dele = await call(server, "DELETE", f"{CM}/a", query={"dryRun": "All"})
    assert dele.status == 200
    assert server.resource_version == rv
    assert (await call(server, "GET", f"{CM}/a")).body["data"] == {"k": "v"}


async def test_namespace_defaulted_and_mismatch_rejected() -> None:
    server = new_server()
    wrong = await call(server, "POST", CM, cm("a", namespace="other"))
    assert wrong.status == 400
    assert wrong.body["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )


async def test_name_mismatch_on_put_is_400() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    response = await call(server, "PUT", f"{CM}/a", cm("b"))
    assert response.status == 400
    assert response.body["message"] == (
        "the name of the object (b) does not match the name on the URL (a)"
    )


async def test_delete_returns_success_status() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("a"))).body
    response = await call(server, "DELETE", f"{CM}/a")
    assert response.status == 200
    assert response.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "a", "kind": "configmaps", "uid": created["metadata"]["uid"]},
    }
    assert (await call(server, "GET", f"{CM}/a")).status == 404
    assert (await call(server, "DELETE", f"{CM}/a")).status == 404


async def test_delete_preconditions() -> None:
    server = new_server()
    created = (await call(server, "POST", CM, cm("a"))).body
    bad_uid = await call(server, "DELETE", f"{CM}/a", {"preconditions": {"uid": "x"}})
    assert bad_uid.status == 409 and bad_uid.body["reason"] == "Conflict"
    bad_rv = await call(server, "DELETE", f"{CM}/a", {"preconditions": {"resourceVersion": "1"}})
    assert bad_rv.status == 409
    ok = await call(
        server, "DELETE", f"{CM}/a", {"preconditions": {"uid": created["metadata"]["uid"]}}
    )
    assert ok.status == 200


async def test_secret_string_data_is_merged_into_data() -> None:
    server = new_server()
    response = await call(
        server,
        "POST",
        "/api/v1/namespaces/default/secrets",
        {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}, "data": {"a": "Yg=="}},
    )
    assert response.status == 201
    assert response.body["data"] == {"a": "Yg==", "password": "aHVudGVyMg=="}
    assert "stringData" not in response.body
    assert response.body["type"] == "Opaque"


async def test_pod_delete_returns_the_object() -> None:
    server = new_server()
    pods = "/api/v1/namespaces/default/pods"
    await call(
        server,
        "POST",
        pods,
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
    )
    response = await call(server, "DELETE", f"{pods}/p")
    assert response.status == 200 and response.body["kind"] == "Pod"


async def test_cluster_scoped_body_namespace_is_cleared() -> None:
    server = new_server()
    response = await call(
        server,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {"metadata": {"name": "r", "namespace": "x"}, "rules": []},
    )
    assert response.status == 201
    assert "namespace" not in response.body["metadata"]


async def test_get_with_too_large_rv_is_504() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    response = await call(server, "GET", f"{CM}/a", query={"resourceVersion": "999"})
    assert response.status == 504
    assert response.body["reason"] == "Timeout"
    assert response.body["message"].startswith("Timeout: Too large resource version: 999")


async def test_request_log_records_verbs() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    await call(server, "GET", f"{CM}/a")
    await call(server, "GET", CM)
    await call(server, "DELETE", f"{CM}/b")
    records = [(r.verb, r.status, r.resource, r.name) for r in server.requests]
    assert records == [
        ("create", 201, "configmaps", "a"),  # named from the created object
        ("get", 200, "configmaps", "a"),
        ("list", 200, "configmaps", None),
        ("delete", 404, "configmaps", "b"),
    ]
