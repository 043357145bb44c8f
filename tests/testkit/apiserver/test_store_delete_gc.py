"""Finalizers, deletionTimestamp, garbage collection (Background/Foreground/Orphan) and
namespace lifecycle."""

from __future__ import annotations

from typing import Any

from apiserver_harness import (
    CM,
    CRDS,
    DEPLOY,
    NS,
    WIDGETS,
    call,
    cm,
    collect,
    deployment,
    install_crd,
    new_server,
    summary,
    widget,
)

from kubeplan.testkit.vtime import LoopClock

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
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
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


def _managers(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{e['manager']}/{e['operation']}/{e.get('subresource', '')}": e["fieldsV1"]
        for e in obj["metadata"].get("managedFields") or ()
    }


async def test_the_collector_takes_the_references_it_removes_from_managed_fields() -> None:
    # its patches remove fields: they leave every manager's set (an emptied entry goes),
    # and the collector, which sets nothing, gets no entry of its own
    server = new_server()
    owner = (await call(server, "POST", CM, cm("owner"))).body
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
             "uid": "00000000-0000-0000-0000-000000000002"}
    ref = {k: owner_ref(owner)[k] for k in ("apiVersion", "kind", "name", "uid")}
    await call(server, "POST", CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "bare", "ownerReferences": [ref]}})
    await call(server, "POST", CM, cm("two", ownerReferences=[ref, ghost]))
    await server.settle()
    two = (await call(server, "GET", f"{CM}/two")).body
    assert [r["name"] for r in two["metadata"]["ownerReferences"]] == ["owner"]
    assert _managers(two) == {"tests/Update/": {
        "f:data": {".": {}, "f:k": {}},
        "f:metadata": {"f:ownerReferences": {".": {}, f'k:{{"uid":"{ref["uid"]}"}}': {}}}}}
    await call(server, "DELETE", f"{CM}/owner", {"propagationPolicy": "Orphan"})
    await server.settle()
    assert _managers((await call(server, "GET", f"{CM}/two")).body) == {
        "tests/Update/": {"f:data": {".": {}, "f:k": {}}}}
    bare = (await call(server, "GET", f"{CM}/bare")).body["metadata"]
    assert "ownerReferences" not in bare and "managedFields" not in bare


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
    assert refused.body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
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


def _conditions(ns: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(c["type"], c["status"], c["reason"], c["message"])
            for c in ns["status"]["conditions"]]


async def test_a_terminating_namespace_has_the_deleters_five_conditions() -> None:
    server = new_server()
    await call(server, "POST", NS, {"metadata": {"name": "team"}})
    team = "/api/v1/namespaces/team"
    for name in ("a", "b"):
        await call(server, "POST", f"{team}/configmaps", cm(name, finalizers=["x/hold"]))
    await call(server, "POST", f"{team}/secrets",
               {"metadata": {"name": "s", "finalizers": ["x/hold", "y/keep"]}})
    await call(server, "POST", f"{team}/configmaps", cm("free"))
    await call(server, "DELETE", f"{NS}/team")
    await server.settle()
    ns = (await call(server, "GET", f"{NS}/team")).body
    ok = ("All resources successfully discovered", "All legacy kube types successfully parsed",
          "All content successfully deleted, may be waiting on finalization")
    assert _conditions(ns) == [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", ok[0]),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions", ok[1]),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted", ok[2]),
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain",
         "Some resources are remaining: configmaps. has 2 resource instances, "
         "secrets. has 1 resource instances"),
        ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
         "Some content in the namespace has finalizers remaining: x/hold in 3 resource "
         "instances, y/keep in 1 resource instances"),
    ]
    managers = _managers(ns)
    assert set(managers) == {"kube-controller-manager/Update/status", "tests/Update/"}
    assert sorted(managers["kube-controller-manager/Update/status"]["f:status"][
        "f:conditions"]) == [".", *sorted(f'k:{{"type":"{c[0]}"}}' for c in _conditions(ns))]
    first = {c["type"]: c["lastTransitionTime"] for c in ns["status"]["conditions"]}
    # a message changes in place (its transition time kept); a status change moves it
    clock = server.clock
    assert isinstance(clock, LoopClock)
    clock.advance(30)
    unhold = {"metadata": {"finalizers": None}}
    for path in (f"{team}/configmaps/a", f"{team}/configmaps/b"):
        await call(server, "PATCH", path, unhold, content_type="application/merge-patch+json")
    await call(server, "PATCH", f"{team}/secrets/s", {"metadata": {"finalizers": ["y/keep"]}},
               content_type="application/merge-patch+json")
    await server.settle()
    ns = (await call(server, "GET", f"{NS}/team")).body
    assert _conditions(ns)[3:] == [
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain",
         "Some resources are remaining: secrets. has 1 resource instances"),
        ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
         "Some content in the namespace has finalizers remaining: y/keep in 1 resource "
         "instances"),
    ]
    assert {c["type"]: c["lastTransitionTime"] for c in ns["status"]["conditions"]} == first
    await call(server, "PATCH", f"{team}/secrets/s", unhold,
               content_type="application/merge-patch+json")
    await server.settle()
    assert (await call(server, "GET", f"{NS}/team")).status == 404


async def test_a_namespace_is_emptied_of_its_pods_first() -> None:
    # OrderedNamespaceDeletion: while a pod remains the rest waits, and the conditions
    # written meanwhile are the five "ok" ones (the content is counted only after)
    server = new_server()
    await call(server, "POST", NS, {"metadata": {"name": "team"}})
    team = "/api/v1/namespaces/team"
    pod = {"metadata": {"name": "p", "finalizers": ["x/hold"]},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await call(server, "POST", f"{team}/pods", pod)
    await call(server, "POST", f"{team}/configmaps", cm("c"))
    await call(server, "POST", f"{team}/configmaps", cm("held", finalizers=["x/hold"]))
    await call(server, "DELETE", f"{NS}/team")
    await server.settle()
    assert (await call(server, "GET", f"{team}/configmaps/c")).status == 200
    ns = (await call(server, "GET", f"{NS}/team")).body
    assert [c[1:3] for c in _conditions(ns)] == [
        ("False", "ResourcesDiscovered"), ("False", "ParsedGroupVersions"),
        ("False", "ContentDeleted"), ("False", "ContentRemoved"),
        ("False", "ContentHasNoFinalizers")]
    assert _conditions(ns)[4][3] == "All content-preserving finalizers finished"
    before = [c["lastTransitionTime"] for c in ns["status"]["conditions"]]
    clock = server.clock
    assert isinstance(clock, LoopClock)
    clock.advance(30)
    unhold = {"metadata": {"finalizers": None}}
    await call(server, "PATCH", f"{team}/pods/p", unhold,
               content_type="application/merge-patch+json")
    await server.settle()
    assert (await call(server, "GET", f"{team}/configmaps/c")).status == 404
    ns = (await call(server, "GET", f"{NS}/team")).body
    assert [c[1] for c in _conditions(ns)] == ["False", "False", "False", "True", "True"]
    after = [c["lastTransitionTime"] for c in ns["status"]["conditions"]]
    assert after[:3] == before[:3] and after[3] == after[4] != before[3]
    await call(server, "PATCH", f"{team}/configmaps/held", unhold,
               content_type="application/merge-patch+json")
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


JOBS = "/apis/batch/v1/namespaces/default/jobs"
SERVICES = "/api/v1/namespaces/default/services"
JOB_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set '
    "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
    'suppress this warning"'
)


def job(name: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox"}]}}}}


async def test_a_delete_of_a_service_answers_the_deleted_service() -> None:
    # their REST storage sets ReturnDeletedObject; a ConfigMap's answers a Status
    server = new_server()
    created = (await call(server, "POST", SERVICES, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]}})).body
    deleted = await call(server, "DELETE", f"{SERVICES}/s")
    assert deleted.status == 200
    assert (deleted.body["kind"], deleted.body["metadata"]["uid"]) == (
        "Service", created["metadata"]["uid"])
    assert deleted.body["metadata"]["resourceVersion"] == str(server.resource_version)
    assert deleted.body["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert (await call(server, "GET", f"{SERVICES}/s")).status == 404
    await call(server, "POST", "/api/v1/namespaces/default/serviceaccounts",
               {"metadata": {"name": "sa"}})
    account = await call(server, "DELETE", "/api/v1/namespaces/default/serviceaccounts/sa")
    assert account.body["kind"] == "ServiceAccount"
    await call(server, "POST", CM, cm("c"))
    assert (await call(server, "DELETE", f"{CM}/c")).body["kind"] == "Status"


async def test_a_job_is_orphaning_by_default_with_a_warning() -> None:
    # batch/v1 Jobs default to OrphanDependents "for back compatibility"
    server = new_server()
    owner = (await call(server, "POST", JOBS, job("j"))).body
    await call(server, "POST", CM, cm("child", ownerReferences=[owner_ref(owner)]))
    deleted = await call(server, "DELETE", f"{JOBS}/j")
    assert deleted.status == 200 and deleted.headers["Warning"] == JOB_WARNING
    meta = deleted.body["metadata"]
    assert deleted.body["kind"] == "Job" and meta["finalizers"] == ["orphan"]
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["generation"] == owner["metadata"]["generation"] + 1
    await server.settle()
    assert (await call(server, "GET", f"{JOBS}/j")).status == 404
    child = (await call(server, "GET", f"{CM}/child")).body
    assert "ownerReferences" not in child["metadata"]
    # a policy given: no warning; Background deletes the dependents
    owner = (await call(server, "POST", JOBS, job("k"))).body
    await call(server, "POST", CM, cm("kid", ownerReferences=[owner_ref(owner)]))
    background = await call(server, "DELETE", f"{JOBS}/k", {"propagationPolicy": "Background"})
    assert background.status == 200 and "Warning" not in background.headers
    assert background.body["kind"] == "Status"
    await server.settle()
    assert (await call(server, "GET", f"{CM}/kid")).status == 404
    # deletecollection warns once
    for name in ("l", "m"):
        await call(server, "POST", JOBS, job(name))
    collection = await call(server, "DELETE", JOBS)
    assert collection.headers["Warning"] == JOB_WARNING
    # the Job REST warns before it looks: a missing Job's 404 carries it too
    missing = await call(server, "DELETE", f"{JOBS}/nope")
    assert missing.status == 404 and missing.headers["Warning"] == JOB_WARNING


async def test_namespace_and_crd_deletes_set_no_grace_period() -> None:
    # their own Delete sets the deletionTimestamp only, not the store's markAsDeleting
    # (grace period 0, generation + 1) that any other held object gets
    server = new_server()
    await call(server, "POST", NS, {"metadata": {"name": "team"}})
    namespace = (await call(server, "DELETE", f"{NS}/team")).body
    assert namespace["metadata"]["deletionTimestamp"]
    assert "deletionGracePeriodSeconds" not in namespace["metadata"]
    created = await install_crd(server)
    await call(server, "POST", WIDGETS, widget("w", finalizers=["x/hold"]))
    deleted = (await call(server, "DELETE", f"{CRDS}/widgets.example.com")).body
    meta = deleted["metadata"]
    assert meta["deletionTimestamp"] and "deletionGracePeriodSeconds" not in meta
    assert meta["generation"] == created["metadata"]["generation"]
    held = (await call(server, "POST", CM, cm("keep", finalizers=["x/hold"]))).body
    again = (await call(server, "DELETE", f"{CM}/keep")).body["metadata"]
    assert again["deletionGracePeriodSeconds"] == 0
    assert "generation" not in held["metadata"]


async def test_an_event_delete_adds_no_gc_finalizer() -> None:
    # Events' DefaultGarbageCollectionPolicy is Unsupported
    server = new_server(controllers=False)
    events = "/api/v1/namespaces/default/events"
    await call(server, "POST", events, {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
        "involvedObject": {"kind": "ConfigMap", "name": "c", "namespace": "default"},
        "reason": "Tested", "message": "m", "type": "Normal"})
    deleted = await call(server, "DELETE", f"{events}/e", {"propagationPolicy": "Orphan"})
    assert deleted.status == 200 and deleted.body["kind"] == "Status"
    assert (await call(server, "GET", f"{events}/e")).status == 404


def test_the_controllers_take_only_changes_they_may_act_on() -> None:
    from kubeplan.testkit.apiserver.controllers import _may_concern_a_controller
    from kubeplan.testkit.apiserver.store import LogEntry

    def entry(kind: str, obj: dict[str, Any], prev: dict[str, Any] | None = None,
              resource: str = "configmaps") -> LogEntry:
        return LogEntry(1, kind, resource, "default", obj["metadata"]["name"], obj, prev)

    plain = cm("plain")
    owned = cm("owned", ownerReferences=[{"apiVersion": "v1", "kind": "X", "name": "x",
                                           "uid": "u"}])
    deleting = cm("going", finalizers=["x/hold"])
    deleting["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    # nothing to do: a plain object of a resource no controller watches, added or changed
    assert not _may_concern_a_controller(entry("ADDED", plain))
    assert not _may_concern_a_controller(entry("MODIFIED", plain, plain))
    # the garbage collector's: owners now or before, a deletion under way, any deletion
    assert _may_concern_a_controller(entry("ADDED", owned))
    assert _may_concern_a_controller(entry("MODIFIED", plain, owned))
    assert _may_concern_a_controller(entry("MODIFIED", deleting, plain))
    assert _may_concern_a_controller(entry("DELETED", plain, plain))
    # the resources the controllers watch, and the root CA the namespace defaults keep
    assert _may_concern_a_controller(entry("ADDED", {"metadata": {"name": "p"}},
                                           resource="pods"))
    assert _may_concern_a_controller(entry("MODIFIED", cm("kube-root-ca.crt"), plain))

