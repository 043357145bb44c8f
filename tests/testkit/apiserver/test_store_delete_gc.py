"""Finalizers, deletionTimestamp, garbage collection (Background/Foreground/Orphan) and
namespace lifecycle."""

from __future__ import annotations

from typing import Any

from apiserver_harness import CM, DEPLOY, NS, call, cm, collect, deployment, new_server, summary

RS = "/apis/apps/v1/namespaces/default/replicasets"
PODS = "/api/v1/namespaces/default/pods"


def owner_ref(owner: dict[str, Any], block: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": block,
    }


async def test_finalizer_holds_object_with_deletion_timestamp() -> None:
    server = new_server()
    created = (await call(server, "POST", DEPLOY, deployment("d", finalizers=["x/hold"]))).body
    deleted = await call(server, "DELETE", f"{DEPLOY}/d")
    assert deleted.status == 200 and deleted.body["kind"] == "Deployment"
    meta = deleted.body["metadata"]
    assert meta["deletionTimestamp"] == "2024-05-01T10:00:00Z"
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["generation"] == created["metadata"]["generation"] + 1
    rv = server.resource_version
    again = await call(server, "DELETE", f"{DEPLOY}/d")
    assert again.status == 200 and server.resource_version == rv
    # no new finalizers while deleting
    body = dict(deleted.body)
    body["metadata"] = dict(meta, finalizers=["x/hold", "y/new"])
    refused = await call(server, "PUT", f"{DEPLOY}/d", body)
    assert refused.status == 422
    assert 'found new finalizers []string{"y/new"}' in refused.body["message"]
    # re-create while terminating
    dup = await call(server, "POST", DEPLOY, deployment("d"))
    assert dup.status == 409
    assert dup.body["message"] == 'object is being deleted: deployments.apps "d" already exists'


async def test_removing_last_finalizer_deletes_with_only_a_deleted_event() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a", finalizers=["x/hold"]))
    await call(server, "DELETE", f"{CM}/a")
    watch = await call(
        server, "GET", CM, query={"watch": "1", "resourceVersion": str(server.resource_version)}
    )
    response = await call(
        server,
        "PATCH",
        f"{CM}/a",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    assert response.status == 200
    assert "finalizers" not in response.body["metadata"]
    assert (await call(server, "GET", f"{CM}/a")).status == 404
    [event] = await collect(watch.stream, 1)
    assert event["type"] == "DELETED"
    assert event["object"]["metadata"]["finalizers"] == ["x/hold"]  # last persisted state
    await watch.stream.aclose()


async def test_background_deletion_collects_dependents_after_owner() -> None:
    server = new_server()
    owner = (await call(server, "POST", DEPLOY, deployment("d"))).body
    await call(server, "POST", CM, cm("child", ownerReferences=[owner_ref(owner)]))
    await call(server, "POST", CM, cm("free"))
    response = await call(server, "DELETE", f"{DEPLOY}/d", {"propagationPolicy": "Background"})
    assert response.status == 200 and response.body["kind"] == "Status"
    assert (await call(server, "GET", f"{CM}/child")).status == 200  # GC runs after the response
    await server.settle()
    assert (await call(server, "GET", f"{CM}/child")).status == 404
    assert (await call(server, "GET", f"{CM}/free")).status == 200


async def test_dependent_with_a_surviving_owner_loses_only_the_dangling_ref() -> None:
    server = new_server()
    a = (await call(server, "POST", DEPLOY, deployment("a"))).body
    b = (await call(server, "POST", DEPLOY, deployment("b"))).body
    refs = [owner_ref(a), dict(owner_ref(b), controller=False)]
    await call(server, "POST", CM, cm("child", ownerReferences=refs))
    await call(server, "DELETE", f"{DEPLOY}/a")
    await server.settle()
    child = (await call(server, "GET", f"{CM}/child")).body
    assert [r["name"] for r in child["metadata"]["ownerReferences"]] == ["b"]


async def test_dangling_owner_at_creation_is_collected() -> None:
    server = new_server()
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ghost", "uid": "nope"}
    await call(server, "POST", CM, cm("orphaned", ownerReferences=[ref]))
    await server.settle()
    assert (await call(server, "GET", f"{CM}/orphaned")).status == 404


async def test_foreground_deletion_waits_for_blocking_dependents() -> None:
    server = new_server()
    owner = (await call(server, "POST", DEPLOY, deployment("d"))).body
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "rs", "ownerReferences": [owner_ref(owner)]},
        "spec": {"selector": {"matchLabels": {"a": "b"}}},
    }
    rs = (await call(server, "POST", RS, rs)).body
    await call(
        server, "POST", CM, cm("held", ownerReferences=[owner_ref(rs)], finalizers=["x/hold"])
    )
    response = await call(server, "DELETE", f"{DEPLOY}/d", {"propagationPolicy": "Foreground"})
    assert response.status == 200
    assert response.body["metadata"]["finalizers"] == ["foregroundDeletion"]
    await server.settle()
    # the RS is deleted in the foreground too and waits for its held dependent
    rs_now = (await call(server, "GET", f"{RS}/rs")).body
    assert rs_now["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert (await call(server, "GET", f"{DEPLOY}/d")).status == 200
    await call(
        server,
        "PATCH",
        f"{CM}/held",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    await server.settle()
    assert (await call(server, "GET", f"{CM}/held")).status == 404
    assert (await call(server, "GET", f"{RS}/rs")).status == 404
    assert (await call(server, "GET", f"{DEPLOY}/d")).status == 404


async def test_orphan_deletion_strips_owner_references() -> None:
    server = new_server()
    owner = (await call(server, "POST", DEPLOY, deployment("d"))).body
    await call(server, "POST", CM, cm("child", ownerReferences=[owner_ref(owner)]))
    response = await call(server, "DELETE", f"{DEPLOY}/d", {"propagationPolicy": "Orphan"})
    assert response.body["metadata"]["finalizers"] == ["orphan"]
    await server.settle()
    assert (await call(server, "GET", f"{DEPLOY}/d")).status == 404
    child = (await call(server, "GET", f"{CM}/child")).body
    assert "ownerReferences" not in child["metadata"]


async def test_orphan_dependents_false_answers_202() -> None:
    server = new_server(controllers=False)
    await call(server, "POST", DEPLOY, deployment("d"))
    response = await call(server, "DELETE", f"{DEPLOY}/d", {"orphanDependents": False}, query={})
    assert response.status == 200  # background: deleted immediately
    await call(server, "POST", DEPLOY, deployment("e", finalizers=["x/y"]))
    held = await call(server, "DELETE", f"{DEPLOY}/e", {"orphanDependents": False})
    assert held.status == 202


async def test_gc_switched_off_leaves_dependents() -> None:
    server = new_server(controllers={"namespace", "crd"})
    owner = (await call(server, "POST", DEPLOY, deployment("d"))).body
    await call(server, "POST", CM, cm("child", ownerReferences=[owner_ref(owner)]))
    await call(server, "DELETE", f"{DEPLOY}/d")
    await server.settle()
    assert (await call(server, "GET", f"{CM}/child")).status == 200


async def test_namespace_lifecycle() -> None:
    server = new_server()
    await call(server, "POST", NS, {"metadata": {"name": "team"}})
    team_cms = "/api/v1/namespaces/team/configmaps"
    await call(server, "POST", team_cms, cm("a"))
    await call(server, "POST", team_cms, cm("held", finalizers=["x/hold"]))
    deleted = await call(server, "DELETE", f"{NS}/team")
    assert deleted.status == 200
    assert deleted.body["status"]["phase"] == "Terminating"
    assert deleted.body["metadata"]["deletionTimestamp"]
    refused = await call(server, "POST", team_cms, cm("new"))
    assert refused.status == 403
    assert refused.body["message"] == (
        'configmaps "new" is forbidden: unable to create new content in namespace team because '
        "it is being terminated"
    )
    assert refused.body["details"]["causes"][0]["type"] == "NamespaceTerminating"
    await server.settle()
    ns = (await call(server, "GET", f"{NS}/team")).body
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    reasons = {c["type"] for c in ns["status"]["conditions"]}
    assert "NamespaceFinalizersRemaining" in reasons
    assert summary(
        [{"type": "x", "object": o} for o in (await call(server, "GET", team_cms)).body["items"]]
    ) == [("x", "held")]
    await call(
        server,
        "PATCH",
        f"{team_cms}/held",
        {"metadata": {"finalizers": []}},
        content_type="application/merge-patch+json",
    )
    await server.settle()
    assert (await call(server, "GET", f"{NS}/team")).status == 404


async def test_missing_namespace_and_protected_namespaces() -> None:
    server = new_server()
    missing = await call(server, "POST", "/api/v1/namespaces/nope/configmaps", cm("a"))
    assert missing.status == 404
    assert missing.body["message"] == 'namespaces "nope" not found'
    for name in ("default", "kube-system", "kube-public"):
        refused = await call(server, "DELETE", f"{NS}/{name}")
        assert refused.status == 403
        assert refused.body["message"] == (
            f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        )


async def test_namespace_without_controller_stays_terminating_until_finalized() -> None:
    server = new_server(controllers=False)
    ns = (await call(server, "POST", NS, {"metadata": {"name": "team"}})).body
    await call(server, "DELETE", f"{NS}/team")
    assert (await call(server, "GET", f"{NS}/team")).body["status"]["phase"] == "Terminating"
    current = (await call(server, "GET", f"{NS}/team")).body
    current["spec"]["finalizers"] = []
    done = await call(server, "PUT", f"{NS}/team/finalize", current)
    assert done.status == 200
    assert (await call(server, "GET", f"{NS}/team")).status == 404
    del ns


async def test_deletecollection_with_label_selector() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a", labels={"app": "x"}))
    await call(server, "POST", CM, cm("b", labels={"app": "y"}))
    response = await call(server, "DELETE", CM, query={"labelSelector": "app=x"})
    assert response.status == 200 and response.body["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in response.body["items"]] == ["a"]
    remaining = (await call(server, "GET", CM)).body["items"]
    assert [i["metadata"]["name"] for i in remaining] == ["b"]
