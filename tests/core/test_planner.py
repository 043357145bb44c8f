"""The planner's rules, one at a time (decisions 1-6 of the design)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from core_builders import (
    CLUSTER_CONFIG,
    CONFIG,
    LATER,
    NOW,
    PARENT_UID,
    Tenant,
    config_map,
    deployment,
    namespace,
    owned,
    parent,
    run,
    service,
)
from world import World

from kubeplan.core.compare import desired_hash
from kubeplan.core.config import (
    ANNOTATION_DESIRED_HASH,
    LABEL_OPERATOR,
    LABEL_PARENT_UID,
    ChildConfig,
    OperatorConfig,
)
from kubeplan.core.errors import HandlerError
from kubeplan.core.k8s import core_v1, rbac_v1
from kubeplan.core.memo import ApplyMemo
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
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.status import find_condition, format_time
from kubeplan.core.validate import validate_response


def request(*children: dict[str, Any], config: OperatorConfig = CONFIG, **parent_args: Any,
            ) -> SyncRequest:
    return SyncRequest.build(parent(**parent_args), list(children), config=config)


def synced(world: World, response: Any, *, has_finalize: bool = False) -> World:
    """Plan and apply passes until nothing is left to do."""
    for _ in range(3):
        current = plan(world.config, world.request(), response, memo=world.memo, now=NOW,
                       has_finalize=has_finalize)
        if not current:
            break
        world.apply(current)
    assert not world.refused
    return world


def kinds(result: Plan) -> list[str]:
    return [type(action).__name__ for action in result.actions]


class TestOwnershipStamping:
    def test_create_carries_the_controller_reference_labels_and_hash(self) -> None:
        result = run(request(), SyncResponse([deployment(labels={"app": "web"})]))
        create = result.actions[0]
        assert isinstance(create, Create)
        assert create.ref == ObjectRef(create.ref.type, "web", "default")
        meta = create.obj["metadata"]
        assert meta["ownerReferences"] == [{
            "apiVersion": "example.com/v1", "kind": "EchoServer", "name": "demo",
            "uid": PARENT_UID, "controller": True, "blockOwnerDeletion": True,
        }]
        assert meta["labels"] == {"app": "web", LABEL_OPERATOR: "echo",
                                  LABEL_PARENT_UID: PARENT_UID}
        [normalised] = validate_response(CONFIG, request(), SyncResponse([
            deployment(labels={"app": "web"})]))
        assert meta["annotations"][ANNOTATION_DESIRED_HASH] == desired_hash(normalised)
        assert create.desired_hash == desired_hash(normalised)
        assert meta["namespace"] == "default"

    def test_other_owner_references_are_kept_after_ours(self) -> None:
        other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u-x"}
        result = run(request(), SyncResponse([deployment(ownerReferences=[other])]))
        refs = result.actions[0].obj["metadata"]["ownerReferences"]
        assert [r["uid"] for r in refs] == [PARENT_UID, "u-x"]

    def test_the_handlers_object_is_not_modified(self) -> None:
        child = deployment()
        before = copy.deepcopy(child)
        run(request(), SyncResponse([child]))
        assert child == before


class TestComparison:
    def test_an_unchanged_child_plans_nothing_even_without_memo(self) -> None:
        world = World(CONFIG, parent(), normalise_values=False)
        response = SyncResponse([deployment(), service()])
        synced(world, response)
        assert not run(world.request(), response)  # no memo: subset comparison alone

    def test_server_defaults_and_injected_items_are_ignored(self) -> None:
        world = synced(World(CONFIG, parent(), normalise_values=False),
                       SyncResponse([deployment()]))
        [child] = world.owned()

        def defaults(obj: dict[str, Any]) -> None:
            pod = obj["spec"]["template"]["spec"]
            pod["containers"][0]["imagePullPolicy"] = "IfNotPresent"
            pod["containers"].append({"name": "istio-proxy", "image": "proxy"})
            pod["dnsPolicy"] = "ClusterFirst"

        world.edit(child, defaults)
        assert not run(world.request(), SyncResponse([deployment()]))

    def test_a_changed_field_is_replaced(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([deployment()]))
        [child] = world.owned()
        result = run(world.request(), SyncResponse([deployment(image="nginx:1.26")]),
                     memo=world.memo)
        [replace] = result.child_actions
        assert isinstance(replace, Replace)
        assert replace.ref.uid == child["metadata"]["uid"]
        assert replace.resource_version == child["metadata"]["resourceVersion"]
        assert "spec.template.spec.containers[name=app].image" in replace.changes
        assert 'containers[name=app].image "nginx:1.25" -> "nginx:1.26"' in replace.reason
        assert replace.obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"

    def test_a_field_changed_by_someone_else_is_restored(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([deployment()]))
        [child] = world.owned()
        world.edit(child, lambda o: o["spec"].__setitem__("replicas", 9))
        [replace] = run(world.request(), SyncResponse([deployment()]), memo=world.memo).actions
        assert isinstance(replace, Replace)
        assert replace.changes == ("spec.replicas",)
        assert replace.reason == "spec.replicas 9 -> 2"

    def test_a_removed_field_is_caught_by_the_hash(self) -> None:
        with_labels = deployment(labels={"team": "a"})
        world = synced(World(CONFIG, parent(), normalise_values=False),
                       SyncResponse([with_labels]))
        without = deployment()
        result = run(world.request(), SyncResponse([without]))  # subset-equal, hash differs
        [replace] = result.actions
        assert isinstance(replace, Replace)
        assert replace.changes == (f'metadata.annotations["{ANNOTATION_DESIRED_HASH}"]',)
        assert "fields were removed from the desired object" in replace.reason
        world.apply(result)
        assert "team" not in world.owned()[0]["metadata"]["labels"]
        assert not run(world.request(), SyncResponse([without]))

    def test_a_child_without_our_annotation_is_written_once(self) -> None:
        observed = owned(service(), uid="c-1")  # ours, but not written from this desired object
        observed["metadata"]["labels"] = {LABEL_OPERATOR: "echo", LABEL_PARENT_UID: PARENT_UID}
        observed["metadata"]["annotations"] = {"example.com/note": "hand-made"}
        [replace] = run(request(observed), SyncResponse([service()])).child_actions
        assert replace.reason.endswith("(not written by kubeplan from this desired object)")

    def test_a_longer_positional_list_is_a_difference(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([deployment()]))
        [child] = world.owned()
        world.edit(child, lambda o: o["spec"]["template"]["spec"]["containers"][0][
            "args"].append("--debug"))
        [replace] = run(world.request(), SyncResponse([deployment()]), memo=world.memo).actions
        assert replace.changes == ("spec.template.spec.containers[name=app].args",)
        assert 'args[2] "--debug" -> (absent)' in replace.reason


class TestApplyMemo:
    def test_normalised_values_do_not_cause_a_hot_loop(self) -> None:
        world = World(CONFIG, parent())  # stores cpu "1000m" as "1"
        response = SyncResponse([deployment(cpu="1000m")])
        synced(world, response)
        assert world.writes == 1
        assert not run(world.request(), response, memo=world.memo)
        # Without the memo the normalised value looks like a change, on every pass:
        blind = run(world.request(), response)
        [replace] = blind.actions
        assert replace.reason == (
            'spec.template.spec.containers[name=app].resources.limits.cpu "1" -> "1000m"'
        )
        world.apply(blind)
        world.memo = ApplyMemo.empty()
        assert run(world.request(), response)  # the hot loop the memo prevents

    def test_a_memo_lost_on_restart_costs_one_write(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([deployment(cpu="2000m")]))
        world.memo = ApplyMemo.empty()
        first = run(world.request(), SyncResponse([deployment(cpu="2000m")]), memo=world.memo)
        assert kinds(first) == ["Replace"]
        world.apply(first)
        assert not run(world.request(), SyncResponse([deployment(cpu="2000m")]),
                       memo=world.memo)

    def test_others_writing_other_fields_keep_it_a_no_op(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([deployment(cpu="1000m")]))
        [child] = world.owned()
        world.edit(child, lambda o: o.__setitem__("status", {"readyReplicas": 2}))
        world.edit(child, lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(
            "deployment.kubernetes.io/revision", "3"))
        assert not run(world.request(), SyncResponse([deployment(cpu="1000m")]),
                       memo=world.memo)

    def test_others_writing_our_fields_are_corrected(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([deployment(cpu="1000m")]))
        [child] = world.owned()
        world.edit(child, lambda o: o["spec"].__setitem__("replicas", 5))
        result = run(world.request(), SyncResponse([deployment(cpu="1000m")]), memo=world.memo)
        [replace] = result.actions
        assert "spec.replicas" in replace.changes

    def test_a_new_desired_hash_is_compared_again(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([deployment()]))
        result = run(world.request(), SyncResponse([deployment(replicas=4)]), memo=world.memo)
        assert kinds(result) == ["Replace"]


class TestStrategies:
    def test_recreate_deletes_now_and_creates_later(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([service(port=80)]))
        [old] = world.owned()
        response = SyncResponse([service(port=8080)])
        first = run(world.request(), response, memo=world.memo)
        [recreate] = first.actions
        assert isinstance(recreate, Recreate)
        assert recreate.ref.uid == old["metadata"]["uid"]
        assert recreate.obj["spec"]["ports"][0]["port"] == 8080
        assert recreate.reason == "spec.ports[name=http].port 80 -> 8080"
        world.apply(first)
        second = run(world.request(), response, memo=world.memo)
        assert kinds(second) == ["Create"]
        assert second.actions[0].obj == recreate.obj
        world.apply(second)
        assert not run(world.request(), response, memo=world.memo)

    def test_on_delete_never_touches_an_existing_child(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([config_map(data={"a": "1"})]))
        assert not run(world.request(), SyncResponse([config_map(data={"a": "2"})]),
                       memo=world.memo)

    def test_on_delete_creates_a_missing_child(self) -> None:
        assert kinds(run(request(), SyncResponse([config_map()]))) == ["Create", "UpdateStatus"]

    @pytest.mark.parametrize("child", [deployment(replicas=5), service(port=9)],
                             ids=["replace", "recreate"])
    def test_a_terminating_child_is_left_alone(self, child: dict[str, Any]) -> None:
        observed = owned({**child, "spec": {}}, uid="c-1", deleting=True)
        assert not run(request(observed), SyncResponse([child])).child_actions
        assert not run(request(observed), SyncResponse([])).child_actions


class TestDeletion:
    def test_owned_children_no_longer_desired_are_deleted(self) -> None:
        observed = owned(service("old"), uid="c-9")
        result = run(request(observed), SyncResponse([]))
        [delete] = result.child_actions
        assert isinstance(delete, Delete)
        assert delete.ref == ObjectRef(core_v1.Service, "old", "default", "c-9")
        assert delete.reason == "no longer desired"

    def test_objects_we_do_not_own_are_never_deleted(self) -> None:
        stranger = service("stranger", namespace="default")
        others = owned(service("theirs"), uid="c-2", parent_uid="uid-someone-else")
        weak = owned(service("weak"), uid="c-3")
        weak["metadata"]["ownerReferences"][0]["controller"] = False
        result = run(request(stranger, others, weak), SyncResponse([]))
        assert result.child_actions == ()

    def test_terminating_owned_children_are_not_deleted_again(self) -> None:
        observed = owned(service("old"), uid="c-9", deleting=True)
        assert run(request(observed), SyncResponse([])).child_actions == ()


class TestConflicts:
    def test_a_name_taken_by_a_foreign_object_is_a_problem_not_an_action(self) -> None:
        stranger = service("web", namespace="default")
        result = run(request(stranger), SyncResponse([service("web"), deployment("web")]))
        assert kinds(result) == ["Create", "UpdateStatus"]  # the Deployment still goes ahead
        [problem] = result.problems
        assert problem.startswith("v1/Service default/web already exists and is not owned by "
                                  "EchoServer default/demo (it has no controller)")
        condition = find_condition(result.status_update.status, "Synced")
        assert (condition["status"], condition["reason"]) == ("False", "ChildConflict")
        assert condition["message"] == problem

    def test_the_conflict_names_the_other_controller(self) -> None:
        theirs = owned(service("web"), uid="c-2", parent_uid="uid-other", parent_name="other")
        result = run(request(theirs), SyncResponse([service("web")]))
        assert "its controller is EchoServer 'other'" in result.problems[0]
        assert result.child_actions == ()

    def test_a_terminating_foreign_object_is_waited_for(self) -> None:
        theirs = owned(service("web"), uid="c-2", parent_uid="uid-old-parent", deleting=True)
        result = run(request(theirs), SyncResponse([service("web")]))
        assert result.child_actions == () and result.problems == ()


class TestStatus:
    def test_status_gets_observed_generation_and_the_synced_condition(self) -> None:
        result = run(request(generation=4), SyncResponse([], status={"phase": "Ready"}))
        [update] = result.actions
        assert isinstance(update, UpdateStatus)
        assert update.status == {
            "phase": "Ready", "observedGeneration": 4,
            "conditions": [{"type": "Synced", "status": "True", "reason": "Synced",
                            "message": "", "lastTransitionTime": format_time(NOW),
                            "observedGeneration": 4}],
        }
        assert update.patch == update.status  # nothing stored yet
        assert update.resource_version == "10"
        assert update.reason == "conditions, observedGeneration, phase"

    def test_an_equal_status_is_not_written_again(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([], status={"phase": "Ready"}))
        again = plan(CONFIG, world.request(), SyncResponse([], status={"phase": "Ready"}),
                     memo=world.memo, now=LATER, has_finalize=False)
        assert not again

    def test_removals_are_written_as_nulls(self) -> None:
        world = synced(World(CONFIG, parent()),
                       SyncResponse([], status={"phase": "Ready", "url": "x"}))
        result = run(world.request(), SyncResponse([], status={"phase": "Ready"}))
        [update] = result.actions
        assert update.patch == {"url": None}
        assert update.reason == "url"

    def test_a_none_status_keeps_the_stored_fields(self) -> None:
        world = synced(World(CONFIG, parent()), SyncResponse([], status={"phase": "Ready"}))
        assert not run(world.request(), SyncResponse([], status=None))

    def test_user_conditions_are_kept_and_ours_replaces_a_synced_one(self) -> None:
        status = {"conditions": [{"type": "Ready", "status": "True", "reason": "Up"},
                                 {"type": "Synced", "status": "Unknown"}]}
        [update] = run(request(), SyncResponse([], status=status)).actions
        conditions = update.status["conditions"]
        assert [(c["type"], c["status"]) for c in conditions] == [("Ready", "True"),
                                                                  ("Synced", "True")]
        assert conditions[0]["lastTransitionTime"] == format_time(NOW)  # filled in for the user

    def test_status_is_written_last_among_child_actions(self) -> None:
        result = run(request(owned(service("old"), uid="c-1")),
                     SyncResponse([deployment()], status={"a": 1}))
        assert kinds(result) == ["Delete", "Create", "UpdateStatus"]


class TestFinalizers:
    def test_added_first_when_the_handler_has_finalize(self) -> None:
        result = run(request(owned(service("old"), uid="c-1")), SyncResponse([]),
                     has_finalize=True)
        assert kinds(result) == ["AddFinalizer", "Delete", "UpdateStatus"]
        add = result.actions[0]
        assert add == AddFinalizer(result.parent, "kubeplan.dev/echo",
                                   finalizers=("kubeplan.dev/echo",), resource_version="10")

    def test_not_added_again(self) -> None:
        assert kinds(run(request(finalizers=["kubeplan.dev/echo"]), SyncResponse([]),
                         has_finalize=True)) == ["UpdateStatus"]

    def test_removed_last_when_the_handler_has_no_finalize(self) -> None:
        result = run(request(finalizers=["other", "kubeplan.dev/echo"]),
                     SyncResponse([deployment()]))
        assert kinds(result) == ["Create", "UpdateStatus", "RemoveFinalizer"]
        assert result.actions[-1].finalizers == ("other",)
        assert result.actions[-1].reason == "the handler has no finalize"

    def test_finalize_children_are_the_desired_set_and_finalized_removes_last(self) -> None:
        observed = [owned(service("a"), uid="c-a"), owned(deployment("b"), uid="c-b")]
        terminating = request(*observed, finalizers=["kubeplan.dev/echo"], deleting=True)
        assert terminating.finalizing
        teardown = run(terminating, FinalizeResponse(status={"phase": "TearingDown"},
                                                     children=[deployment("b")], retry_after=5),
                       has_finalize=True)
        assert [a.ref.name for a in teardown.child_actions if isinstance(a, Delete)] == ["a"]
        assert teardown.finalized is False
        assert teardown.resync_after == 5.0
        assert not any(isinstance(a, RemoveFinalizer | AddFinalizer) for a in teardown.actions)
        done = run(terminating, FinalizeResponse(finalized=True), has_finalize=True)
        assert kinds(done) == ["Delete", "Delete", "UpdateStatus", "RemoveFinalizer"]
        assert done.finalized is True
        assert done.actions[-1].reason == "finalized"

    def test_a_terminating_parent_without_our_finalizer_gets_an_empty_plan(self) -> None:
        observed = owned(service("a"), uid="c-a")
        result = run(request(observed, deleting=True, finalizers=["other"]),
                     FinalizeResponse(finalized=True), has_finalize=True)
        assert result == Plan(result.parent)

    def test_a_terminating_parent_whose_handler_lost_finalize(self) -> None:
        result = run(request(deleting=True, finalizers=["kubeplan.dev/echo"]), None)
        assert kinds(result) == ["RemoveFinalizer"]

    def test_finalize_that_raises_keeps_the_finalizer(self) -> None:
        terminating = request(owned(service("a"), uid="c-a"), finalizers=["kubeplan.dev/echo"],
                              deleting=True)
        result = run(terminating, RuntimeError("cloud API down"), has_finalize=True)
        assert kinds(result) == ["UpdateStatus"]
        assert "finalize raised RuntimeError: cloud API down" in result.error


class TestOrder:
    def test_namespaces_then_cluster_scoped_then_handler_order(self) -> None:
        config = (OperatorConfig("tenants", Tenant)
                  .with_child(core_v1.ConfigMap).with_child(core_v1.Namespace)
                  .with_child(rbac_v1.ClusterRole).with_child(core_v1.Service))
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "reader"}, "rules": []}
        stale = owned(config_map("stale", namespace="team-a"), uid="c-s", parent_kind=Tenant,
                      parent_name="acme", namespace=None)
        req = SyncRequest.build(parent("acme", None, kind=Tenant, finalizers=["kubeplan.dev/x"]),
                                [stale], config=config)
        children = [config_map("b", namespace="team-a"), role, service("s", namespace="team-a"),
                    namespace("team-a"), config_map("a", namespace="team-a")]
        result = plan(config, req, SyncResponse(children), memo=ApplyMemo.empty(), now=NOW,
                      has_finalize=True)
        assert [action.line().split(":")[0] for action in result.actions] == [
            "add-finalizer example.com/v1/Tenant acme",
            "delete  v1/ConfigMap team-a/stale",
            "create  v1/Namespace team-a",
            "create  rbac.authorization.k8s.io/v1/ClusterRole reader",
            "create  v1/ConfigMap team-a/b",
            "create  v1/Service team-a/s",
            "create  v1/ConfigMap team-a/a",
            "status  example.com/v1/Tenant acme",
        ]


class TestFailures:
    def test_a_raising_handler_touches_no_child(self) -> None:
        observed = owned(service("a"), uid="c-a")
        result = run(request(observed, status={"phase": "Ready"}), KeyError("spec.port"))
        assert result.child_actions == ()
        assert result.error == "EchoServer default/demo: sync raised KeyError: 'spec.port'"
        [update] = result.actions
        assert update.status["phase"] == "Ready"  # the stored status is kept
        condition = find_condition(update.status, "Synced")
        assert (condition["status"], condition["reason"]) == ("False", "SyncFailed")
        assert condition["message"] == result.error
        assert "observedGeneration" not in update.status  # nothing was observed

    def test_a_handler_error_is_used_as_is(self) -> None:
        error = HandlerError(ValueError("x"), parent="P n/m", phase="sync")
        assert run(request(), error).error == "P n/m: sync raised ValueError: x"

    def test_an_invalid_response_touches_no_child(self) -> None:
        observed = owned(service("a"), uid="c-a")
        result = run(request(observed), SyncResponse([deployment(namespace="elsewhere")]))
        assert result.child_actions == ()
        condition = find_condition(result.status_update.status, "Synced")
        assert condition["reason"] == "InvalidResponse"
        assert 'metadata.namespace "elsewhere" is not allowed' in condition["message"]

    def test_a_repeated_failure_keeps_its_transition_time_and_writes_nothing(self) -> None:
        world = World(CONFIG, parent())
        world.apply(run(world.request(), RuntimeError("boom")))
        assert not plan(CONFIG, world.request(), RuntimeError("boom"), memo=world.memo, now=LATER,
                        has_finalize=False)

    def test_recovery_flips_the_condition(self) -> None:
        world = World(CONFIG, parent())
        world.apply(run(world.request(), RuntimeError("boom")))
        result = plan(CONFIG, world.request(), SyncResponse([]), memo=world.memo, now=LATER,
                      has_finalize=False)
        condition = find_condition(result.status_update.status, "Synced")
        assert condition["status"] == "True"
        assert condition["lastTransitionTime"] == format_time(LATER)

    def test_finalizer_bookkeeping_still_happens(self) -> None:
        result = run(request(), RuntimeError("boom"), has_finalize=True)
        assert kinds(result) == ["AddFinalizer", "UpdateStatus"]


def test_resync_after_is_passed_on() -> None:
    assert run(request(), SyncResponse([], resync_after=30)).resync_after == 30.0


def test_cluster_scoped_parent_with_namespaced_children() -> None:
    req = SyncRequest.build(parent("acme", None, kind=Tenant), [], config=CLUSTER_CONFIG)
    result = plan(CLUSTER_CONFIG, req, SyncResponse([config_map(namespace="team-b"),
                                                     namespace("team-b")]),
                  memo=ApplyMemo.empty(), now=NOW, has_finalize=False)
    assert [str(a.ref) for a in result.child_actions] == ["v1/Namespace team-b",
                                                          "v1/ConfigMap team-b/settings"]
    assert result.parent == ObjectRef(Tenant, "acme", None, PARENT_UID)


def test_on_delete_config_is_per_type() -> None:
    config = OperatorConfig("echo", CONFIG.parent).with_child(core_v1.Service,
                                                              ChildConfig.on_delete())
    observed = owned(service(port=1), uid="c-1")
    assert not run(request(observed, config=config), SyncResponse([service(port=2)]),
                   config=config).child_actions
