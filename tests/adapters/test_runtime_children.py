"""The operator reconciles children: create, change, restore, delete, name clashes, errors."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from adapter_testing import (
    BUNDLE_CONFIG,
    FAST,
    TENANT_CONFIG,
    Bundle,
    BundleHandler,
    Tenant,
    bundle,
    configmap,
    eventually,
    get_or_none,
    secret,
    service_account,
    tenant,
    tenant_sync,
)

from kubeplan.adapters.client import KubeClient
from kubeplan.core.config import LABEL_OPERATOR, LABEL_PARENT_UID
from kubeplan.core.k8s import core_v1

CM, SECRET, SA = core_v1.ConfigMap, core_v1.Secret, core_v1.ServiceAccount


def _uid(obj: dict[str, Any]) -> str:
    return obj["metadata"]["uid"]


async def _set_children(kube: KubeClient, name: str, children: list[dict], **spec: Any) -> None:
    await kube.patch(Bundle, name, {"spec": {"children": children, **spec}},
                     namespace="default")


async def _condition(kube: KubeClient, name: str, type_: str = "Synced") -> dict | None:
    parent = await kube.get(Bundle, name, "default")
    for condition in (parent.get("status") or {}).get("conditions") or ():
        if condition.get("type") == type_:
            return condition
    return None


async def _events(kube: KubeClient, parent_name: str, type_: str) -> list[dict]:
    listed = await kube.list(core_v1.Event, "default")
    return [e for e in listed["items"]
            if e["involvedObject"].get("name") == parent_name and e["type"] == type_]


async def test_parent_created_changed_and_deleted_with_children_of_each_strategy(
    kube, start_operator
):
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    parent = await kube.create(Bundle, bundle("b", [
        configmap("cm", x="1"), secret("sec", token="1"), service_account("sa", v="1"),
    ]))

    async def all_created():
        objs = [await get_or_none(kube, t, n, "default")
                for t, n in ((CM, "cm"), (SECRET, "sec"), (SA, "sa"))]
        return objs if all(objs) else None

    cm, sec, sa = await eventually(all_created)
    for obj in (cm, sec, sa):
        ref = obj["metadata"]["ownerReferences"][0]
        assert ref["uid"] == _uid(parent) and ref["controller"] is True
        assert obj["metadata"]["labels"][LABEL_OPERATOR] == "bundles"
        assert obj["metadata"]["labels"][LABEL_PARENT_UID] == _uid(parent)
    assert cm["data"] == {"x": "1"}

    async def status_written():
        return ((await kube.get(Bundle, "b", "default")).get("status") or {}).get("children")

    assert await eventually(status_written) == 3

    # change every child: replace updates in place, recreate makes a new object,
    # on_delete leaves the existing one alone
    await _set_children(kube, "b", [
        configmap("cm", x="2"), secret("sec", token="2"), service_account("sa", v="2"),
    ])

    async def changed():
        new_cm = await kube.get(CM, "cm", "default")
        new_sec = await get_or_none(kube, SECRET, "sec", "default")
        if new_cm["data"] != {"x": "2"} or new_sec is None or _uid(new_sec) == _uid(sec):
            return None
        return new_cm, new_sec

    new_cm, _new_sec = await eventually(changed)
    assert _uid(new_cm) == _uid(cm)
    assert (await kube.get(SA, "sa", "default"))["metadata"]["labels"]["v"] == "1"

    # deleting the parent: garbage collection removes the children
    await kube.delete(Bundle, "b", "default")

    async def all_gone():
        return all([await get_or_none(kube, t, n, "default") is None
                    for t, n in ((CM, "cm"), (SECRET, "sec"), (SA, "sa"))])

    await eventually(all_gone)


async def test_child_of_a_namespaced_parent_in_another_namespace_is_refused(
    kube, start_operator
):
    # an ownerReference cannot cross namespaces (the garbage collector would delete the
    # child at once), so the planner refuses it and nothing is written but the status
    await kube.create(core_v1.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": "elsewhere"}})
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("far", [configmap("remote", "elsewhere", k="v")]))

    async def refused():
        condition = await _condition(kube, "far")
        return condition if condition and condition["status"] == "False" else None

    condition = await eventually(refused)
    assert condition["reason"] == "InvalidResponse"
    assert "elsewhere" in condition["message"]
    assert await get_or_none(kube, CM, "remote", "elsewhere") is None


async def test_cluster_scoped_parent_gets_a_namespace_and_children_in_other_namespaces(
    kube, start_operator
):
    await start_operator(TENANT_CONFIG, tenant_sync)
    parent = await kube.create(Tenant, tenant("acme", settings="on"))
    ns = await eventually(lambda: get_or_none(kube, core_v1.Namespace, "tenant-acme"))
    assert ns["metadata"]["ownerReferences"][0]["uid"] == _uid(parent)
    cm = await eventually(lambda: get_or_none(kube, CM, "settings", "tenant-acme"))
    assert cm["data"] == {"value": "on"}
    assert cm["metadata"]["ownerReferences"][0]["uid"] == _uid(parent)


async def test_child_edited_by_someone_else_is_restored(kube, start_operator):
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("cm", x="1")]))
    await eventually(lambda: get_or_none(kube, CM, "cm", "default"))
    await kube.patch(CM, "cm", {"data": {"x": "tampered", "extra": "kept?"}},
                     namespace="default")

    async def restored():
        return (await kube.get(CM, "cm", "default"))["data"].get("x") == "1"

    await eventually(restored)


async def test_child_deleted_by_someone_else_is_restored(kube, start_operator):
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("cm", x="1")]))
    first = await eventually(lambda: get_or_none(kube, CM, "cm", "default"))
    await kube.delete(CM, "cm", "default")

    async def recreated():
        obj = await get_or_none(kube, CM, "cm", "default")
        return obj if obj is not None and _uid(obj) != _uid(first) else None

    assert (await eventually(recreated))["data"] == {"x": "1"}


async def test_child_dropped_from_the_desired_set_is_deleted(kube, start_operator):
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("keep", x="1"), configmap("drop", x="1")]))
    await eventually(lambda: get_or_none(kube, CM, "drop", "default"))
    await _set_children(kube, "b", [configmap("keep", x="1")])

    async def dropped():
        return await get_or_none(kube, CM, "drop", "default") is None

    await eventually(dropped)
    assert await get_or_none(kube, CM, "keep", "default") is not None


async def test_field_dropped_from_a_desired_child_disappears_from_the_object(
    kube, start_operator
):
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("cm", a="1", b="2")]))

    async def has_both():
        obj = await get_or_none(kube, CM, "cm", "default")
        return obj is not None and obj["data"] == {"a": "1", "b": "2"}

    await eventually(has_both)
    await _set_children(kube, "b", [configmap("cm", a="1")])

    async def b_gone():
        return (await kube.get(CM, "cm", "default"))["data"] == {"a": "1"}

    await eventually(b_gone)


async def test_foreign_object_with_a_childs_name_is_reported_and_left_alone(
    kube, start_operator
):
    foreign = await kube.create(CM, {**configmap("taken", owner="someone"),
                                     "metadata": {"name": "taken", "namespace": "default"}})
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("taken", mine="yes"), configmap("free")]))

    async def clash_reported():
        condition = await _condition(kube, "b")
        return condition if condition and condition["status"] == "False" else None

    condition = await eventually(clash_reported)
    assert condition["reason"] == "ChildConflict"
    assert "taken" in condition["message"]
    warnings = await eventually(lambda: _events(kube, "b", "Warning"))
    assert any(e["reason"] == "ChildConflict" for e in warnings)
    # the other child is created; the foreign object is untouched
    assert await eventually(lambda: get_or_none(kube, CM, "free", "default"))
    after = await kube.get(CM, "taken", "default")
    assert after["metadata"]["resourceVersion"] == foreign["metadata"]["resourceVersion"]
    assert after["data"] == {"owner": "someone"}


class _TimedHandler(BundleHandler):
    """Notes the virtual instant of every sync that raises."""

    def __init__(self) -> None:
        super().__init__()
        self.failed_at: list[float] = []
        # the operator calls a synchronous handler in a thread: it has no running loop
        self.loop = asyncio.get_running_loop()

    def sync(self, request: Any) -> Any:
        try:
            return super().sync(request)
        except RuntimeError:
            self.failed_at.append(self.loop.time())
            raise


async def test_handler_raising_keeps_all_children_and_reports_the_error(kube, start_operator):
    handler = _TimedHandler()
    await start_operator(BUNDLE_CONFIG, handler)
    await kube.create(Bundle, bundle("b", [configmap("one"), configmap("two")]))
    await eventually(lambda: get_or_none(kube, CM, "two", "default"))
    await _set_children(kube, "b", [], fail="database on fire")

    async def reported():
        condition = await _condition(kube, "b")
        return condition if condition and condition["status"] == "False" else None

    condition = await eventually(reported)
    assert "database on fire" in condition["message"]
    warnings = await eventually(lambda: _events(kube, "b", "Warning"))
    assert any("database on fire" in e["message"] for e in warnings)
    calls = handler.calls
    await asyncio.sleep(0.3)
    # backing off (base 0.02 s, cap 0.5 s): a few retries, not a hot loop
    assert handler.calls - calls < 10
    # exactly: the k-th retry comes min(0.5, 0.02 * 2**(k-1)) s (±20 %) after the failure
    await asyncio.sleep(5)
    gaps = [b - a for a, b in itertools.pairwise(handler.failed_at)]
    assert len(gaps) >= 8, gaps
    for k, gap in enumerate(gaps, 1):
        delay = min(FAST.backoff_cap, FAST.backoff_base * 2 ** (k - 1))
        assert 0.8 * delay - 1e-9 <= gap <= 1.2 * delay + 1e-9, (k, gaps)
    for name in ("one", "two"):
        assert await get_or_none(kube, CM, name, "default") is not None
    # fixing the parent recovers at once
    await _set_children(kube, "b", [configmap("one")], fail=None)

    async def recovered():
        condition = await _condition(kube, "b")
        two = await get_or_none(kube, CM, "two", "default")
        return condition is not None and condition["status"] == "True" and two is None

    await eventually(recovered)
