"""List: selectors, resourceVersion semantics, limit/continue pagination."""

from __future__ import annotations

import asyncio

from apiserver_harness import CM, WIDGETS, call, cm, install_crd, new_server, widget
from hypothesis import given, settings
from hypothesis import strategies as st


async def test_list_shape_and_order() -> None:
    server = new_server()
    for name in ("b", "a", "c"):
        await call(server, "POST", CM, cm(name))
    listing = (await call(server, "GET", CM)).body
    assert listing["kind"] == "ConfigMapList" and listing["apiVersion"] == "v1"
    assert listing["metadata"] == {"resourceVersion": str(server.resource_version)}
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a", "b", "c"]


async def test_built_in_list_items_carry_no_type_meta() -> None:
    # a typed Go list (v1.ConfigMapList) writes its items' empty TypeMeta as nothing
    server = new_server()
    for name in ("a", "b"):
        await call(server, "POST", CM, cm(name))
    for query in ({}, {"limit": "1"}, {"resourceVersion": "0"}, {"labelSelector": "x!=y"}):
        listing = (await call(server, "GET", CM, query=query)).body
        assert listing["items"], query
        for item in listing["items"]:
            assert "kind" not in item and "apiVersion" not in item, (query, item)
    # the stored object keeps them: a GET and a watch event still name the kind
    got = (await call(server, "GET", f"{CM}/a")).body
    assert (got["apiVersion"], got["kind"]) == ("v1", "ConfigMap")
    removed = (await call(server, "DELETE", CM)).body
    assert removed["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in removed["items"]] == ["a", "b"]
    assert all("kind" not in i and "apiVersion" not in i for i in removed["items"])


async def test_custom_resource_list_items_keep_type_meta_and_an_empty_continue() -> None:
    # an unstructured list keeps every item's apiVersion and kind, and writes continue ""
    server = new_server()
    await install_crd(server)
    for name in ("w1", "w2"):
        assert (await call(server, "POST", WIDGETS, widget(name))).status == 201
    listing = (await call(server, "GET", WIDGETS)).body
    assert [(i["apiVersion"], i["kind"]) for i in listing["items"]] == [
        ("example.com/v1", "Widget")
    ] * 2
    assert listing["metadata"]["continue"] == ""
    page = (await call(server, "GET", WIDGETS, query={"limit": "1"})).body
    assert page["metadata"]["continue"] not in ("", None)
    rest = (
        await call(server, "GET", WIDGETS, query={"continue": page["metadata"]["continue"]})
    ).body
    assert [i["metadata"]["name"] for i in rest["items"]] == ["w2"]
    assert rest["metadata"]["continue"] == ""


async def test_a_list_at_resource_version_0_ignores_the_limit() -> None:
    # served from the watch cache on the real server: one page, whatever the limit
    server = new_server()
    for i in range(3):
        await call(server, "POST", CM, cm(f"c{i}"))
    listing = (await call(server, "GET", CM, query={"limit": "1", "resourceVersion": "0"})).body
    assert [i["metadata"]["name"] for i in listing["items"]] == ["c0", "c1", "c2"]
    assert listing["metadata"] == {"resourceVersion": str(server.resource_version)}
    rv = str(server.resource_version)
    paged = (await call(server, "GET", CM, query={"limit": "1", "resourceVersion": rv})).body
    assert len(paged["items"]) == 1 and "continue" in paged["metadata"]


async def test_label_selectors_set_based() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a", labels={"app": "x", "tier": "web"}))
    await call(server, "POST", CM, cm("b", labels={"app": "y"}))
    await call(server, "POST", CM, cm("c"))

    async def names(selector: str) -> list[str]:
        response = await call(server, "GET", CM, query={"labelSelector": selector})
        assert response.status == 200, response.body
        return [i["metadata"]["name"] for i in response.body["items"]]

    assert await names("app=x") == ["a"]
    assert await names("app!=x") == ["b", "c"]
    assert await names("app in (x,y)") == ["a", "b"]
    assert await names("app notin (x)") == ["b", "c"]
    assert await names("tier") == ["a"]
    assert await names("!tier") == ["b", "c"]
    bad = await call(server, "GET", CM, query={"labelSelector": "app in x"})
    assert bad.status == 400 and bad.body["reason"] == "BadRequest"


async def test_field_selectors() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    await call(server, "POST", CM, cm("b"))
    response = await call(
        server,
        "GET",
        "/api/v1/configmaps",
        query={"fieldSelector": "metadata.name=b,metadata.namespace=default"},
    )
    assert [i["metadata"]["name"] for i in response.body["items"]] == ["b"]
    unsupported = await call(server, "GET", CM, query={"fieldSelector": "spec.x=1"})
    assert unsupported.status == 400
    assert unsupported.body["message"] == (
        '"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    pods = await call(
        server, "GET", "/api/v1/pods", query={"fieldSelector": "status.phase=Running"}
    )
    assert pods.status == 200


async def test_pagination_with_continue_is_a_consistent_snapshot() -> None:
    server = new_server()
    for i in range(5):
        await call(server, "POST", CM, cm(f"c{i}"))
    first = (await call(server, "GET", CM, query={"limit": "2"})).body
    assert [i["metadata"]["name"] for i in first["items"]] == ["c0", "c1"]
    assert first["metadata"]["remainingItemCount"] == 3
    token = first["metadata"]["continue"]
    await call(server, "DELETE", f"{CM}/c2")
    await call(server, "POST", CM, cm("c9"))
    second = (await call(server, "GET", CM, query={"limit": "2", "continue": token})).body
    assert [i["metadata"]["name"] for i in second["items"]] == ["c2", "c3"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    third = (
        await call(
            server, "GET", CM, query={"limit": "2", "continue": second["metadata"]["continue"]}
        )
    ).body
    assert [i["metadata"]["name"] for i in third["items"]] == ["c4"]
    assert "continue" not in third["metadata"]


async def test_continue_errors() -> None:
    server = new_server()
    for i in range(3):
        await call(server, "POST", CM, cm(f"c{i}"))
    first = (await call(server, "GET", CM, query={"limit": "1"})).body
    token = first["metadata"]["continue"]
    with_rv = await call(server, "GET", CM, query={"continue": token, "resourceVersion": "5"})
    assert with_rv.status == 400
    assert (
        with_rv.body["message"] == "specifying resource version is not allowed when using continue"
    )
    garbage = await call(server, "GET", CM, query={"continue": "!!!"})
    assert garbage.status == 400
    await call(server, "POST", CM, cm("later"))
    server.truncate_event_log()
    expired = await call(server, "GET", CM, query={"continue": token})
    assert expired.status == 410 and expired.body["reason"] == "Expired"
    assert expired.body["message"].startswith("The provided continue parameter is too old")


async def test_resource_version_semantics() -> None:
    server = new_server()
    a = (await call(server, "POST", CM, cm("a"))).body
    await call(server, "POST", CM, cm("b"))
    rv_a = a["metadata"]["resourceVersion"]
    not_older = (await call(server, "GET", CM, query={"resourceVersion": rv_a})).body
    assert len(not_older["items"]) == 2
    exact = (
        await call(
            server, "GET", CM, query={"resourceVersion": rv_a, "resourceVersionMatch": "Exact"}
        )
    ).body
    assert [i["metadata"]["name"] for i in exact["items"]] == ["a"]
    assert exact["metadata"]["resourceVersion"] == rv_a
    too_new = await call(server, "GET", CM, query={"resourceVersion": "999"})
    assert too_new.status == 504
    forbidden = await call(server, "GET", CM, query={"resourceVersionMatch": "Exact"})
    assert forbidden.status == 422
    initial = await call(server, "GET", CM, query={"sendInitialEvents": "true"})
    assert initial.status == 422


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=1, max_value=6),
    st.lists(st.sampled_from(["create", "delete"]), max_size=6),
)
def test_pagination_returns_each_object_exactly_once(
    count: int, limit: int, churn: list[str]
) -> None:
    async def scenario() -> None:
        server = new_server(controllers=False)
        names = [f"cm-{i:02d}" for i in range(count)]
        for name in names:
            await call(server, "POST", CM, cm(name))
        seen: list[str] = []
        token = ""
        step = 0
        while True:
            query = {"limit": str(limit)}
            if token:
                query["continue"] = token
            page = (await call(server, "GET", CM, query=query)).body
            seen.extend(i["metadata"]["name"] for i in page["items"])
            token = page["metadata"].get("continue", "")
            if step < len(churn):  # writes between pages must not disturb the snapshot
                if churn[step] == "create":
                    await call(server, "POST", CM, cm(f"new-{step}"))
                elif names:
                    await call(server, "DELETE", f"{CM}/{names[step % len(names)]}")
                step += 1
            if not token:
                break
        assert seen == names

    asyncio.run(scenario())
