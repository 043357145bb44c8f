"""examples/configmap-sync end to end: a cluster-scoped parent copying a related (read,
never written) source ConfigMap into other namespaces, through `kubeplan run` on the
chosen server."""

from __future__ import annotations

from typing import Any

from e2e_support import (
    E2E,
    EXAMPLES,
    RawObject,
    condition,
    eventually,
    is_synced,
    load_yaml,
    meta,
    owner_uids,
    stays,
    unique,
    untouched,
)

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

CMS = K8sType("example.kubeplan.dev/v1", "ConfigMapSync", "configmapsyncs", namespaced=False)
CM = core_v1.ConfigMap
TARGET = "examples/configmap-sync/configmap_sync_operator.py:operator"


def _copy(e2e: E2E, namespace: str, data: dict[str, str]) -> RawObject:
    def check() -> RawObject | None:
        found = e2e.admin.get(CM, "settings", namespace)
        return found if found and found.get("data") == data else None

    return eventually(check, what=f"copy in {namespace} holding {data}", context=e2e.logs)


def _status(e2e: E2E, name: str, **expected: object) -> RawObject:
    def check() -> RawObject | None:
        found = e2e.admin.get(CMS, name)
        status = (found or {}).get("status") or {}
        ok = is_synced(found) and all(status.get(k) == v for k, v in expected.items())
        return found if ok else None

    return eventually(check, what=f"ConfigMapSync {name} synced with {expected}",
                      context=e2e.logs)


def test_configmap_sync_copies_follows_repairs_and_is_collected(e2e: E2E) -> None:
    admin, ns = e2e.admin, e2e.namespace
    a, b, c = (e2e.namespace_for_test(s) for s in ("a", "b", "c"))
    source = admin.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "settings", "namespace": ns},
                               "data": {"log-level": "info", "region": "eu-west-1"}})
    e2e.operator(TARGET)
    parent = load_yaml(EXAMPLES / "configmap-sync" / "configmapsync.yaml")
    name = unique("shared-settings")
    parent["metadata"]["name"] = name
    parent["spec"] = {"source": {"name": "settings", "namespace": ns},
                      "targetNamespaces": [a, b, ns]}  # its own namespace is skipped
    e2e.remember(CMS, name)
    uid = meta(admin.create(CMS, parent))["uid"]

    first = {"log-level": "info", "region": "eu-west-1"}
    for target in (a, b):
        assert owner_uids(_copy(e2e, target, first)) == [uid]
    _status(e2e, name, sourceFound=True, copies=[f"{a}/settings", f"{b}/settings"])
    assert untouched(source, admin.get(CM, "settings", ns)), "the source was written"

    # the related source changes: every copy follows
    admin.merge_patch(CM, "settings", {"data": {"log-level": "debug"}}, ns)
    second = {"log-level": "debug", "region": "eu-west-1"}
    for target in (a, b):
        _copy(e2e, target, second)

    # the spec changes: a copy appears in c, the one in a is deleted
    admin.merge_patch(CMS, name, {"spec": {"targetNamespaces": [b, c]}})
    _copy(e2e, c, second)
    admin.gone(CM, "settings", a, context=e2e.logs)
    _status(e2e, name, copies=[f"{b}/settings", f"{c}/settings"])

    # drift: a copy edited by hand is put back, a deleted one made again
    admin.merge_patch(CM, "settings", {"data": {"region": "moon"}}, b)
    _copy(e2e, b, second)
    admin.delete(CM, "settings", c)
    _copy(e2e, c, second)

    # the source goes: the copies are kept as they are, the status says so
    admin.delete(CM, "settings", ns)
    _status(e2e, name, sourceFound=False, copies=[f"{b}/settings", f"{c}/settings"])
    assert admin.get(CM, "settings", b) is not None

    # the parent goes while no operator runs: the collector removes the copies in other
    # namespaces (a cluster-scoped owner may own namespaced objects)
    assert e2e.operators[0].stop() == 0, e2e.logs()
    admin.delete(CMS, name)
    for target in (b, c):
        admin.gone(CM, "settings", target)


def test_configmap_sync_leaves_a_foreign_copy_alone_and_reports_it(e2e: E2E) -> None:
    admin, ns = e2e.admin, e2e.namespace
    d = e2e.namespace_for_test("d")
    admin.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "settings", "namespace": ns}, "data": {"k": "v"}})
    foreign = admin.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "settings", "namespace": d},
                                "data": {"someone": "else"}})
    e2e.operator(TARGET)
    name = unique("clashing")
    e2e.remember(CMS, name)
    admin.create(CMS, {"apiVersion": CMS.api_version, "kind": "ConfigMapSync",
                       "metadata": {"name": name},
                       "spec": {"source": {"name": "settings", "namespace": ns},
                                "targetNamespaces": [d]}})

    def clash() -> dict[str, Any] | None:
        synced = condition(admin.get(CMS, name))
        return synced if synced and synced.get("reason") == "ChildConflict" else None

    reported = eventually(clash, what=f"{name} reports the clash", context=e2e.logs)
    assert reported["status"] == "False" and f"{d}/settings" in reported["message"]
    # Events about a cluster-scoped parent go to the default namespace
    eventually(lambda: admin.events("default", name, "ChildConflict"),
               what=f"a ChildConflict Event on {name}", context=e2e.logs)
    stays(lambda: untouched(foreign, admin.get(CM, "settings", d)),
          what="the foreign ConfigMap was written", duration=2.0)
