"""examples/ordered end to end: a cluster-scoped Workspace owning a Namespace and objects in
it, torn down in order by ``finalize``, through `kubeplan run` on the chosen server.

The deletion is made while no operator runs, so the test sees that it waits for the
finalizer, then starts the operator and watches the teardown go inside out: the objects
in the Namespace, the Namespace (emptied by the namespace controller, real or emulated),
and only then the Workspace.
"""

from __future__ import annotations

from typing import Any

from e2e_support import (
    E2E,
    EXAMPLES,
    NAMESPACE_GONE,
    RawObject,
    WatchRecorder,
    condition,
    eventually,
    is_synced,
    list_resource_version,
    load_yaml,
    meta,
    owner_uids,
    stays,
    unique,
    untouched,
)

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

WORKSPACE = K8sType("example.kubeplan.dev/v1", "Workspace", "workspaces", namespaced=False)
CM, SA, NS = core_v1.ConfigMap, core_v1.ServiceAccount, core_v1.Namespace
TARGET = "examples/ordered/ordered_operator.py:operator"
FINALIZER = "kubeplan.dev/ordered"


def _settings(e2e: E2E, namespace: str, data: dict[str, str]) -> RawObject:
    def check() -> RawObject | None:
        found = e2e.admin.get(CM, "settings", namespace)
        return found if found and found.get("data") == data else None

    return eventually(check, what=f"ConfigMap {namespace}/settings holding {data}",
                      context=e2e.logs)


def test_ordered_builds_follows_repairs_and_finalizes_in_order(e2e: E2E) -> None:
    admin = e2e.admin
    operator = e2e.operator(TARGET)
    sample = load_yaml(EXAMPLES / "ordered" / "workspace.yaml")
    name = unique("data-team")
    sample["metadata"]["name"] = name
    e2e.remember(WORKSPACE, name)
    e2e.remember(NS, f"ws-{name}")
    uid = meta(admin.create(WORKSPACE, sample))["uid"]
    ns = f"ws-{name}"

    settings = _settings(e2e, ns, {"retention": "30d", "owner": "data@example.com"})
    namespace = admin.get(NS, ns)
    account = admin.get(SA, "workspace", ns)
    assert namespace is not None and account is not None
    assert all(owner_uids(o) == [uid] for o in (settings, namespace, account))

    def ready() -> RawObject | None:
        found = admin.get(WORKSPACE, name)
        status = (found or {}).get("status") or {}
        return found if is_synced(found) and status.get("phase") == "Ready" else None

    stored = eventually(ready, what="the Workspace Ready", context=e2e.logs)
    assert stored["status"]["namespace"] == ns
    assert FINALIZER in meta(stored)["finalizers"]

    # the spec changes: the settings follow
    admin.merge_patch(WORKSPACE, name, {"spec": {"settings": {"retention": "7d"},
                                                 "owner": "ops@example.com"}})
    _settings(e2e, ns, {"retention": "7d", "owner": "ops@example.com"})
    # drift: an object inside deleted by hand comes back; an edit is undone
    admin.delete(SA, "workspace", ns)
    eventually(lambda: (found := admin.get(SA, "workspace", ns)) and
               meta(found)["uid"] != meta(account)["uid"], what="ServiceAccount made again",
               context=e2e.logs)
    admin.merge_patch(CM, "settings", {"data": {"retention": "forever"}}, ns)
    _settings(e2e, ns, {"retention": "7d", "owner": "ops@example.com"})

    # deleted while no operator runs: the finalizer holds it, nothing is torn down
    assert operator.stop() == 0, e2e.logs()
    admin.delete(WORKSPACE, name)
    held = admin.get(WORKSPACE, name)
    assert held is not None and meta(held).get("deletionTimestamp"), held
    stays(lambda: admin.get(WORKSPACE, name) is not None
          and admin.get(CM, "settings", ns) is not None,
          what="the Workspace or its contents went without finalize", duration=2.0)

    # the operator finalizes from the inside out; the Workspace goes last. The server's
    # watch streams give the exact order of the writes (resourceVersions).
    since = list_resource_version(admin, NS)
    with WatchRecorder(admin.endpoint, WORKSPACE, resource_version=since,
                       field_selector=f"metadata.name={name}") as workspaces, \
            WatchRecorder(admin.endpoint, NS, resource_version=since,
                          field_selector=f"metadata.name={ns}") as namespaces, \
            WatchRecorder(admin.endpoint, CM, ns, resource_version=since) as contents:
        e2e.operator(TARGET)
        admin.gone(WORKSPACE, name, timeout=NAMESPACE_GONE, context=e2e.logs)
        eventually(lambda: workspaces.deleted_at(name), what="the Workspace's DELETED event")
    settings_gone = contents.deleted_at("settings")
    namespace_gone = namespaces.deleted_at(ns)
    workspace_gone = workspaces.deleted_at(name)
    assert settings_gone and namespace_gone and workspace_gone, (
        contents.events, namespaces.events, workspaces.events)
    assert settings_gone < namespace_gone < workspace_gone
    phases = [((e["object"].get("status") or {}).get("phase")) for e in workspaces.of(name)]
    steps = [p for i, p in enumerate(phases) if p and (i == 0 or phases[i - 1] != p)]
    assert steps[-3:] == ["DeletingContents", "DeletingNamespace", "Deleted"] or steps[-2:] == [
        "DeletingContents", "DeletingNamespace"], phases


def test_ordered_leaves_a_foreign_namespace_alone_and_reports_it(e2e: E2E) -> None:
    admin = e2e.admin
    name = unique("squatted")
    foreign = admin.create(NS, {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": f"ws-{name}"}})
    e2e.remember(NS, f"ws-{name}")
    e2e.remember(WORKSPACE, name)
    e2e.operator(TARGET)
    admin.create(WORKSPACE, {"apiVersion": WORKSPACE.api_version, "kind": "Workspace",
                             "metadata": {"name": name}, "spec": {"owner": "x@example.com"}})

    def clash() -> dict[str, Any] | None:
        synced = condition(admin.get(WORKSPACE, name))
        return synced if synced and synced.get("reason") == "ChildConflict" else None

    reported = eventually(clash, what=f"{name} reports the clash", context=e2e.logs)
    assert reported["status"] == "False" and f"ws-{name}" in reported["message"]
    eventually(lambda: admin.events("default", name, "ChildConflict"),
               what=f"a ChildConflict Event on {name}", context=e2e.logs)
    stays(lambda: untouched(foreign, admin.get(NS, f"ws-{name}")),
          what="the foreign Namespace was written", duration=2.0)
