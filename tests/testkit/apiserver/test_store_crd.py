"""CRDs: establishment, discovery registry, schema validation, pruning, status subresource,
generation, scope, deletion."""

from __future__ import annotations

from apiserver_harness import CRDS, WIDGETS, call, crd, install_crd, new_server, widget


async def test_crd_is_established_after_settle_and_registered() -> None:
    server = new_server()
    generation = server.registry.generation
    created = await call(server, "POST", CRDS, crd())
    assert created.status == 201
    assert created.body["metadata"]["generation"] == 1
    assert created.body["status"]["storedVersions"] == ["v1"]
    assert (await call(server, "GET", WIDGETS)).status == 404  # not yet established
    await server.settle()
    stored = (await call(server, "GET", f"{CRDS}/widgets.example.com")).body
    conditions = {c["type"]: c for c in stored["status"]["conditions"]}
    assert conditions["Established"]["status"] == "True"
    assert conditions["NamesAccepted"]["reason"] == "NoConflicts"
    assert stored["status"]["acceptedNames"]["kind"] == "Widget"
    assert stored["status"]["acceptedNames"]["listKind"] == "WidgetList"
    info = server.registry.lookup("example.com", "v1", "widgets")
    assert info is not None and info.namespaced and info.subresources == frozenset({"status"})
    assert info.short_names == ("wd",)
    assert server.registry.generation > generation
    listing = await call(server, "GET", WIDGETS)
    assert listing.status == 200 and listing.body["kind"] == "WidgetList"
    assert listing.body["apiVersion"] == "example.com/v1"


async def test_invalid_crd_is_422() -> None:
    server = new_server()
    bad = crd()
    bad["metadata"]["name"] = "wrong.example.com"
    response = await call(server, "POST", CRDS, bad)
    assert response.status == 422
    assert response.body["reason"] == "Invalid"
    assert response.body["details"]["causes"]


async def test_custom_resource_create_generation_and_status_dropped() -> None:
    server = new_server()
    await install_crd(server)
    body = widget("w1", size=3)
    body["status"] = {"phase": "Ready"}
    created = await call(server, "POST", WIDGETS, body)
    assert created.status == 201, created.body
    assert created.body["metadata"]["generation"] == 1
    assert "status" not in created.body  # status subresource: dropped on create
    assert created.body["spec"] == {"size": 3, "color": "red"}  # defaulted
    assert created.body["apiVersion"] == "example.com/v1" and created.body["kind"] == "Widget"


async def test_schema_validation_is_422_with_causes() -> None:
    server = new_server()
    await install_crd(server)
    body = widget("w1")
    body["spec"] = {"size": "big", "color": "green"}
    response = await call(server, "POST", WIDGETS, body)
    assert response.status == 422
    assert response.body["message"].startswith('Widget.example.com "w1" is invalid: ')
    fields = {c["field"] for c in response.body["details"]["causes"]}
    assert {"spec.size", "spec.color"} <= fields
    assert response.body["details"]["kind"] == "Widget"
    assert response.body["details"]["group"] == "example.com"
    missing = await call(
        server,
        "POST",
        WIDGETS,
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {}},
    )
    assert missing.status == 422
    assert any(c["reason"] == "FieldValueRequired" for c in missing.body["details"]["causes"])


async def test_unknown_fields_are_pruned_with_warning_or_rejected_when_strict() -> None:
    server = new_server()
    await install_crd(server)
    body = widget("w1")
    body["spec"]["extra"] = 1
    body["spec"]["free"] = {"anything": {"goes": True}}
    body["junk"] = "x"
    created = await call(server, "POST", WIDGETS, body)
    assert created.status == 201
    assert "extra" not in created.body["spec"] and "junk" not in created.body
    assert created.body["spec"]["free"] == {"anything": {"goes": True}}
    assert 'unknown field \\"spec.extra\\"' in created.headers["Warning"]
    body["metadata"]["name"] = "w2"
    strict = await call(server, "POST", WIDGETS, body, query={"fieldValidation": "Strict"})
    assert strict.status == 400
    assert strict.body["message"].startswith("strict decoding error: unknown field")


async def test_cr_put_without_rv_is_422() -> None:
    server = new_server()
    await install_crd(server)
    await call(server, "POST", WIDGETS, widget("w1"))
    response = await call(server, "PUT", f"{WIDGETS}/w1", widget("w1", size=2))
    assert response.status == 422
    # the generic store names the resource, not the kind (it does not know the kind)
    assert response.body["message"] == (
        'widgets.example.com "w1" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
        "must be specified for an update"
    )
    assert (response.body["details"]["kind"], response.body["details"]["group"]) == (
        "widgets", "example.com")


async def test_generation_bumps_on_spec_not_on_metadata_or_status() -> None:
    server = new_server()
    await install_crd(server)
    w = (await call(server, "POST", WIDGETS, widget("w1"))).body
    w = (
        await call(
            server, "PUT", f"{WIDGETS}/w1", dict(w, metadata=dict(w["metadata"], labels={"a": "b"}))
        )
    ).body
    assert w["metadata"]["generation"] == 1
    w = (await call(server, "PUT", f"{WIDGETS}/w1", dict(w, spec={"size": 2, "color": "red"}))).body
    assert w["metadata"]["generation"] == 2
    st = await call(server, "PUT", f"{WIDGETS}/w1/status", dict(w, status={"phase": "Ready"}))
    assert st.status == 200 and st.body["status"] == {"phase": "Ready"}
    assert st.body["metadata"]["generation"] == 2


async def test_status_subresource_separation() -> None:
    server = new_server()
    await install_crd(server)
    w = (await call(server, "POST", WIDGETS, widget("w1"))).body
    w = (await call(server, "PUT", f"{WIDGETS}/w1/status", dict(w, status={"phase": "A"}))).body
    # main endpoint ignores status
    main = dict(w, status={"phase": "B"}, spec={"size": 5, "color": "red"})
    w = (await call(server, "PUT", f"{WIDGETS}/w1", main)).body
    assert w["status"] == {"phase": "A"} and w["spec"]["size"] == 5
    # /status ignores spec and metadata
    sub = dict(w, status={"phase": "C"}, spec={"size": 9, "color": "red"})
    sub["metadata"] = dict(w["metadata"], labels={"x": "y"})
    w = (await call(server, "PUT", f"{WIDGETS}/w1/status", sub)).body
    assert w["status"] == {"phase": "C"} and w["spec"]["size"] == 5
    assert "labels" not in w["metadata"]
    # merge patch on /status
    patched = await call(
        server,
        "PATCH",
        f"{WIDGETS}/w1/status",
        {"status": {"observed": 2}},
        content_type="application/merge-patch+json",
    )
    assert patched.body["status"] == {"phase": "C", "observed": 2}
    # stale RV on /status PUT conflicts
    stale = await call(server, "PUT", f"{WIDGETS}/w1/status", dict(w, status={"phase": "D"}))
    assert stale.status == 409


async def test_without_status_subresource_status_is_a_normal_field() -> None:
    server = new_server()
    await install_crd(server, status=False)
    body = widget("w1")
    body["status"] = {"phase": "X"}
    w = (await call(server, "POST", WIDGETS, body)).body
    assert w["status"] == {"phase": "X"}
    assert (await call(server, "GET", f"{WIDGETS}/w1/status")).status == 404
    w = (await call(server, "PUT", f"{WIDGETS}/w1", dict(w, status={"phase": "Y"}))).body
    assert w["metadata"]["generation"] == 2  # any non-metadata change bumps


async def test_cluster_scoped_crd() -> None:
    server = new_server()
    await install_crd(server, scope="Cluster")
    path = "/apis/example.com/v1/widgets"
    created = await call(server, "POST", path, widget("w1"))
    assert created.status == 201 and "namespace" not in created.body["metadata"]
    assert (await call(server, "GET", f"{path}/w1")).status == 200
    assert (await call(server, "GET", f"{WIDGETS}/w1")).status == 404


async def test_multiple_versions_share_storage() -> None:
    server = new_server()
    await install_crd(server, versions=("v1", "v2"))
    await call(server, "POST", WIDGETS, widget("w1"))
    v2 = await call(server, "GET", "/apis/example.com/v2/namespaces/default/widgets/w1")
    assert v2.status == 200 and v2.body["apiVersion"] == "example.com/v2"


async def test_smp_on_custom_resource_is_415() -> None:
    server = new_server()
    await install_crd(server)
    await call(server, "POST", WIDGETS, widget("w1"))
    response = await call(
        server,
        "PATCH",
        f"{WIDGETS}/w1",
        {"spec": {"size": 2}},
        content_type="application/strategic-merge-patch+json",
    )
    assert response.status == 415
    assert response.body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


async def test_deleting_crd_removes_its_objects_then_itself() -> None:
    server = new_server()
    await install_crd(server)
    await call(server, "POST", WIDGETS, widget("w1"))
    held = widget("w2", finalizers=["example.com/hold"])
    await call(server, "POST", WIDGETS, held)
    deleted = await call(server, "DELETE", f"{CRDS}/widgets.example.com")
    assert deleted.status == 200
    assert "customresourcecleanup.apiextensions.k8s.io" in deleted.body["metadata"]["finalizers"]
    await server.settle()
    crd_now = (await call(server, "GET", f"{CRDS}/widgets.example.com")).body
    assert any(c["type"] == "Terminating" for c in crd_now["status"]["conditions"])
    create = await call(server, "POST", WIDGETS, widget("w3"))
    assert create.status == 403
    assert (
        "create not allowed while custom resource definition is terminating"
        in (create.body["message"])
    )
    listing = await call(server, "GET", WIDGETS)
    assert [i["metadata"]["name"] for i in listing.body["items"]] == ["w2"]
    w2 = listing.body["items"][0]
    await call(
        server,
        "PATCH",
        f"{WIDGETS}/w2",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    del w2
    await server.settle()
    assert (await call(server, "GET", f"{CRDS}/widgets.example.com")).status == 404
    assert server.registry.lookup("example.com", "v1", "widgets") is None
    assert (await call(server, "GET", WIDGETS)).status == 404


async def test_a_custom_resource_of_the_wrong_kind_is_invalid() -> None:
    # the custom resource validator's ValidateTypeMeta: 422 on "kind", named by the
    # object's own kind; a built-in's decoder refuses the same with a 400
    server = new_server()
    await install_crd(server)
    wrong = await call(server, "POST", WIDGETS, {**widget("w"), "kind": "Gadget"})
    assert wrong.status == 422
    assert wrong.body["message"] == (
        'Gadget.example.com "w" is invalid: kind: Invalid value: "Gadget": must be Widget')
    details = wrong.body["details"]
    assert (details["name"], details["group"], details["kind"]) == ("w", "example.com", "Gadget")
    assert [(c["field"], c["reason"]) for c in details["causes"]] == [("kind", "FieldValueInvalid")]
    cms = await call(server, "POST", "/api/v1/namespaces/default/configmaps",
                     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c"}})
    assert cms.status == 400
