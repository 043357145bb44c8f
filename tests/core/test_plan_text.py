"""Plans as data: a stable readable text, plain dicts, equality."""

from __future__ import annotations

import json

from core_builders import CONFIG, NOW, deployment, owned, parent, run, service
from world import World

from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.objects import ObjectRef
from kubeplan.core.plan import (
    AddFinalizer,
    Create,
    Delete,
    Plan,
    Recreate,
    RemoveFinalizer,
    Replace,
    UpdateStatus,
)
from kubeplan.core.planner import plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse

PARENT = ObjectRef(CONFIG.parent, "demo", "default", "uid-parent")


def busy_plan() -> Plan:
    """One plan with most kinds of action, from a world that has history."""
    world = World(CONFIG, parent())
    first = SyncResponse([deployment(), service(port=80)], status={"phase": "Ready"})
    for _ in range(2):
        world.apply(plan(CONFIG, world.request(), first, memo=world.memo, now=NOW,
                         has_finalize=False))
    world.put(owned(service("old"), uid="uid-old"))
    world.parent["metadata"]["finalizers"] = ["kubeplan.dev/echo"]
    second = SyncResponse(
        [deployment(image="nginx:1.26", replicas=3), service(port=8080),
         deployment("api", replicas=1)],
        status={"phase": "Upgrading"},
        resync_after=30,
    )
    return plan(CONFIG, world.request(), second, memo=world.memo, now=NOW, has_finalize=False)


def test_text_is_one_line_per_action_with_its_reason() -> None:
    assert str(busy_plan()) == "\n".join([
        "delete  v1/Service default/old: no longer desired",
        'replace apps/v1/Deployment default/web: spec.replicas 2 -> 3; '
        'spec.template.spec.containers[name=app].image "nginx:1.25" -> "nginx:1.26"',
        "recreate v1/Service default/web: spec.ports[name=http].port 80 -> 8080",
        "create  apps/v1/Deployment default/api: missing",
        "status  example.com/v1/EchoServer default/demo: phase",
        "remove-finalizer example.com/v1/EchoServer default/demo: the handler has no finalize",
        "resync  example.com/v1/EchoServer default/demo: after 30s",
    ])


def test_text_is_stable() -> None:
    assert str(busy_plan()) == str(busy_plan())
    assert busy_plan() == busy_plan()


def test_list_changes_are_rendered_with_deepdiff() -> None:
    world = World(CONFIG, parent(), normalise_values=False)
    world.apply(run(world.request(), SyncResponse([deployment()])))
    grown = deployment()
    grown["spec"]["template"]["spec"]["containers"][0]["args"] = ["--port", "9090", "-v"]
    result = run(world.request(), SyncResponse([grown]), memo=world.memo)
    assert result.actions[0].reason == (
        'spec.template.spec.containers[name=app].args[1] "8080" -> "9090"; '
        'spec.template.spec.containers[name=app].args[2] (absent) -> "-v"'
    )


def test_type_changes_and_long_values_are_cut() -> None:
    world = World(CONFIG, parent(), normalise_values=False)
    world.apply(run(world.request(), SyncResponse([deployment()])))
    changed = deployment()
    changed["spec"]["selector"] = "x" * 200
    reason = run(world.request(), SyncResponse([changed]), memo=world.memo).actions[0].reason
    assert reason.startswith('spec.selector {"matchLabels":{"app":"web"}} -> "xxxxx')
    assert reason.endswith("...")


def test_empty_and_failed_plans() -> None:
    assert str(Plan(PARENT)) == "nothing example.com/v1/EchoServer default/demo: up to date"
    assert not Plan(PARENT) and Plan(PARENT).is_empty
    failed = run(SyncRequest(parent()), RuntimeError("boom"))
    assert str(failed).splitlines()[0] == (
        "error   EchoServer default/demo: sync raised RuntimeError: boom"
    )
    conflict = run(SyncRequest.build(parent(), [service(namespace="default")], config=CONFIG),
                   SyncResponse([service()]))
    assert str(conflict).splitlines()[0].startswith(
        "problem example.com/v1/EchoServer default/demo: v1/Service default/web already exists"
    )


def test_to_dicts_is_plain_json() -> None:
    result = busy_plan()
    dicts = result.to_dicts()
    assert json.loads(json.dumps(dicts)) == dicts
    assert [d["action"] for d in dicts] == [
        "delete", "replace", "recreate", "create", "status", "remove-finalizer"
    ]
    delete = dicts[0]
    assert delete == {"action": "delete", "reason": "no longer desired", "ref": {
        "apiVersion": "v1", "kind": "Service", "name": "old", "namespace": "default",
        "uid": "uid-old"}}
    replace = dicts[1]
    assert replace["changes"] == [
        'metadata.annotations["kubeplan.dev/desired-hash"]',
        "spec.replicas",
        "spec.template.spec.containers[name=app].image",
    ]
    assert replace["obj"]["spec"]["replicas"] == 3
    whole = result.to_dict()
    assert json.loads(json.dumps(whole)) == whole
    assert whole["resync_after"] == 30.0 and whole["error"] is None


def test_plans_compare_in_tests() -> None:
    web = ObjectRef(apps_v1.Deployment, "web", "default", "u1")
    obj = {"kind": "Deployment", "metadata": {"name": "web"}}
    assert Plan(PARENT, [Create(web, obj, "h")]) == Plan(PARENT, (Create(web, obj, "h"),))
    assert Plan(PARENT, [Create(web, obj, "h")]) != Plan(PARENT, [Create(web, obj, "h2")])
    assert Plan(PARENT, [Delete(web)]).child_actions == (Delete(web),)
    status = UpdateStatus(PARENT, {"a": 1}, {"a": 1})
    assert Plan(PARENT, [status]).child_actions == ()
    assert Plan(PARENT, [status]).status_update is status


def test_reprs_are_short() -> None:
    web = ObjectRef(apps_v1.Deployment, "web", "default", "u1")
    big = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"x": "y" * 1000}}
    text = repr(Replace(web, big, "h", "7", ("spec.x",), "why"))
    assert len(text) < 200
    assert "<Deployment 'web'>" in text
    assert repr(Recreate(web, big, "h")).startswith("Recreate(ref=ObjectRef(")


def test_every_action_has_a_line() -> None:
    svc = ObjectRef(core_v1.Service, "s", "default", "u")
    lines = [
        AddFinalizer(PARENT, "kubeplan.dev/echo").line(),
        RemoveFinalizer(PARENT, "kubeplan.dev/echo").line(),
        Delete(svc).line(),
    ]
    assert lines == [
        "add-finalizer example.com/v1/EchoServer default/demo: the handler has finalize",
        "remove-finalizer example.com/v1/EchoServer default/demo: finalized",
        "delete  v1/Service default/s: no longer desired",
    ]
