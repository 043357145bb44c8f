"""The executor runs plans over HTTP: order, preconditions, failures, memo, Events."""

from __future__ import annotations

from datetime import UTC, datetime

from adapter_testing import BUNDLE_CONFIG, Bundle, bundle, configmap

from kubeplan.adapters.clock import SystemClock
from kubeplan.adapters.events import EventRecorder
from kubeplan.adapters.executor import Executor
from kubeplan.core.k8s import core_v1
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.objects import ObjectRef
from kubeplan.core.plan import Create, Delete, Plan, Replace, UpdateStatus
from kubeplan.core.planner import stamp

CM = core_v1.ConfigMap
NOW = datetime(2030, 1, 1, tzinfo=UTC)


class FixedClock(SystemClock):
    """Stamps every condition and Event with ``NOW``."""

    def now(self) -> datetime:
        return NOW


async def _parent(kube):
    return await kube.create(Bundle, bundle("b", []))


def _ref(parent) -> ObjectRef:
    meta = parent["metadata"]
    return ObjectRef(Bundle, meta["name"], meta["namespace"], meta["uid"])


def _child(parent, name: str, **data: str) -> dict:
    desired = configmap(name, "default", **data)
    return stamp(BUNDLE_CONFIG, _ref(parent), desired, f"hash-{name}")


async def test_a_failed_action_does_not_stop_the_others_and_is_reported(kube, crds):
    parent = await _parent(kube)
    await kube.create(CM, configmap("taken", "default", theirs="1"))
    recorder = EventRecorder(kube, "test", clock=FixedClock())
    executor = Executor(kube, BUNDLE_CONFIG, recorder=recorder, clock=FixedClock())
    plan = Plan(_ref(parent), (
        Create(ObjectRef(CM, "taken", "default"), _child(parent, "taken"), "hash-taken"),
        Create(ObjectRef(CM, "fine", "default"), _child(parent, "fine"), "hash-fine"),
    ))
    result = await executor.execute(plan, parent)
    assert [f.reason for f in result.failures] == ["ChildConflict"]
    assert "taken" in result.failures[0].message
    assert [t.kind for t, _ in result.foreign] == ["ConfigMap"]
    assert (await kube.get(CM, "fine", "default"))["metadata"]["labels"]
    assert (await kube.get(CM, "taken", "default"))["data"] == {"theirs": "1"}
    memo = result.apply_to(ApplyMemo.empty())
    assert len(memo) == 1  # only the write that happened
    reported = await kube.get(Bundle, "b", "default")
    (condition,) = reported["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Synced", "False", "ChildConflict")
    events = (await kube.list(core_v1.Event, "default"))["items"]
    assert {(e["type"], e["reason"]) for e in events} == {
        ("Normal", "Created"), ("Warning", "ChildConflict")}


async def test_stale_preconditions_are_conflicts_not_failures(kube, crds):
    parent = await _parent(kube)
    child = await kube.create(CM, _child(parent, "c", v="1"))
    executor = Executor(kube, BUNDLE_CONFIG)
    stale = Plan(_ref(parent), (
        Delete(ObjectRef(CM, "c", "default", "some-other-uid")),
        UpdateStatus(_ref(parent), {"children": 1}, {"children": 1}, resource_version="1"),
    ))
    result = await executor.execute(stale, parent)
    assert result.conflict and result.ok
    after = await kube.get(CM, "c", "default")
    assert after["metadata"]["uid"] == child["metadata"]["uid"]
    assert after["data"] == {"v": "1"}
    assert "status" not in await kube.get(Bundle, "b", "default") or \
        (await kube.get(Bundle, "b", "default"))["status"].get("children") is None


async def test_replace_applies_with_the_field_manager_and_status_goes_through_status(kube, crds):
    parent = await _parent(kube)
    child = await kube.create(CM, _child(parent, "c", a="1", b="2"))
    executor = Executor(kube, BUNDLE_CONFIG)
    plan = Plan(_ref(parent), (
        Replace(ObjectRef(CM, "c", "default", child["metadata"]["uid"]),
                _child(parent, "c", a="1"), "hash-c",
                resource_version=child["metadata"]["resourceVersion"]),
        UpdateStatus(_ref(parent), {"children": 1}, {"children": 1},
                     resource_version=parent["metadata"]["resourceVersion"]),
    ))
    result = await executor.execute(plan, parent)
    assert result.ok and not result.conflict
    assert result.parent["status"] == {"children": 1}
    replaced = await kube.get(CM, "c", "default")
    managers = {m["manager"] for m in replaced["metadata"].get("managedFields") or ()}
    assert BUNDLE_CONFIG.field_manager in managers
    # the field manager owned "b" only through the POST's manager, so apply keeps it unless
    # it was ours; what we set is there
    assert replaced["data"]["a"] == "1"


async def test_repeated_events_are_aggregated(kube, crds):
    parent = await _parent(kube)
    recorder = EventRecorder(kube, "test")
    for _ in range(3):
        await recorder.post(parent, "Warning", "SyncFailed", "boom")
    await recorder.post(parent, "Warning", "SyncFailed", "another message")
    events = (await kube.list(core_v1.Event, "default"))["items"]
    assert sorted((e["message"], e["count"]) for e in events) == [
        ("another message", 1), ("boom", 3)]


async def test_create_is_one_post_and_the_first_replace_takes_over_its_fields(kube, crds):
    """A child is created by one POST; the first replace folds the POST's ``Update``
    entry into our ``Apply`` entry, so a key the user dropped is really removed, and
    later replaces are a single apply."""
    parent = await _parent(kube)
    verbs: list[str] = []
    kube.observers.append(lambda verb, _code: verbs.append(verb))
    executor = Executor(kube, BUNDLE_CONFIG)
    ref = ObjectRef(CM, "c", "default")
    await executor.execute(
        Plan(_ref(parent), (Create(ref, _child(parent, "c", a="1", b="2"), "hash-c"),)), parent)
    assert verbs == ["create"]
    created = await kube.get(CM, "c", "default")
    assert {(m["manager"], m["operation"]) for m in created["metadata"]["managedFields"]} == {
        (BUNDLE_CONFIG.field_manager, "Update")}

    async def replace(**data: str) -> tuple[dict, list[str]]:
        live = await kube.get(CM, "c", "default")
        verbs.clear()
        result = await executor.execute(Plan(_ref(parent), (Replace(
            ObjectRef(CM, "c", "default", live["metadata"]["uid"]), _child(parent, "c", **data),
            "hash-c", resource_version=live["metadata"]["resourceVersion"]),)), parent)
        assert result.ok and not result.conflict
        sent = list(verbs)
        return await kube.get(CM, "c", "default"), sent

    replaced, sent = await replace(a="1")
    assert replaced["data"] == {"a": "1"}  # "b" was the POST's, now ours, and dropped
    assert sent == ["apply", "patch", "apply"]
    assert {(m["manager"], m["operation"]) for m in replaced["metadata"]["managedFields"]} == {
        (BUNDLE_CONFIG.field_manager, "Apply")}

    again, sent = await replace(a="2")
    assert again["data"] == {"a": "2"} and sent == ["apply"]


async def test_the_fold_leaves_other_managers_alone(kube, crds):
    parent = await _parent(kube)
    executor = Executor(kube, BUNDLE_CONFIG)
    await executor.execute(Plan(_ref(parent), (
        Create(ObjectRef(CM, "c", "default"), _child(parent, "c", a="1"), "hash-c"),)), parent)
    await kube.patch(CM, "c", {"data": {"theirs": "x"}}, namespace="default",
                     field_manager="someone-else")
    live = await kube.get(CM, "c", "default")
    await executor.execute(Plan(_ref(parent), (Replace(
        ObjectRef(CM, "c", "default", live["metadata"]["uid"]), _child(parent, "c", a="2"),
        "hash-c", resource_version=live["metadata"]["resourceVersion"]),)), parent)
    after = await kube.get(CM, "c", "default")
    assert after["data"] == {"a": "2", "theirs": "x"}
    owners = {(m["manager"], m["operation"]): m["fieldsV1"]
              for m in after["metadata"]["managedFields"]}
    assert set(owners) == {(BUNDLE_CONFIG.field_manager, "Apply"), ("someone-else", "Update")}
    assert owners[("someone-else", "Update")] == {"f:data": {"f:theirs": {}}}


async def test_a_deleted_namespace_still_terminating_is_not_taken_for_gone(kube, crds):
    """A Namespace answers its DELETE as itself, Terminating, held by ``spec.finalizers``
    (``metadata.finalizers`` is empty), as kube-apiserver does: it stays in the caches
    until the watch says it is gone, or a finalize pass waiting for it would end early
    (examples/ordered on a real server finished while its Namespace still existed)."""
    parent = await _parent(kube)
    namespace = await kube.create(core_v1.Namespace, {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}})
    child = await kube.create(CM, _child(parent, "c"))
    observed: list[tuple[str, dict]] = []
    dropped: list[tuple[str, dict]] = []
    executor = Executor(kube, BUNDLE_CONFIG,
                        observe=lambda type_, obj: observed.append((type_.kind, obj)),
                        observe_deleted=lambda type_, obj: dropped.append((type_.kind, obj)))
    plan = Plan(_ref(parent), (
        Delete(ObjectRef(core_v1.Namespace, "going", None, namespace["metadata"]["uid"])),
        Delete(ObjectRef(CM, "c", "default", child["metadata"]["uid"])),
    ))
    result = await executor.execute(plan, parent)
    assert result.ok
    assert [(kind, obj["metadata"]["name"]) for kind, obj in dropped] == [("ConfigMap", "c")]
    (kept,) = [obj for kind, obj in observed if kind == "Namespace"]
    assert kept["metadata"]["deletionTimestamp"] and kept["spec"]["finalizers"]
