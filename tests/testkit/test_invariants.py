"""The invariants: each passes on a correct run and fails, naming parent and child, on a bad one."""

from __future__ import annotations

import attrs
import pytest

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.related import RelatedSelector
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit import (
    ClusterState,
    CreateForeign,
    CreateParent,
    DeleteParent,
    FakeApiServer,
    FaultSpec,
    InjectFault,
    NotConverged,
    NotFinalized,
    NotQuiet,
    PatchParent,
    RefusedWrite,
    Scenario,
    Settle,
    Simulation,
    TooManyWrites,
    Trace,
    Unsafe,
    assert_bounded_writes,
    assert_converged,
    assert_finalized,
    assert_quiet,
    assert_safe,
    assert_writes_accepted,
    run_scenario,
    virtual_time,
)
from kubeplan.testkit.simulation import install_crd
from kubeplan.testkit.trace import WriteRecord
from kubeplan.testkit.vtime import LoopClock

Shelf = K8sType("invariants.kubeplan.dev/v1", "Shelf", "shelves")
CONFIG = OperatorConfig("shelves", Shelf).with_child(core_v1.ConfigMap, ChildConfig.replace())


def _books(request: SyncRequest) -> list[dict[str, object]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{request.name}-{book}", "namespace": request.namespace},
            "data": {"title": book},
        }
        for book in request.spec.get("books", ["a"])
    ]


def sync(request: SyncRequest) -> SyncResponse:
    return SyncResponse(children=_books(request), status={"books": len(_books(request))})


SHELVES = OperatorDefinition(CONFIG, sync)
SCENARIO = Scenario(steps=[CreateParent("p0", {"books": ["a", "b"]}), Settle()])


@pytest.fixture(scope="module")
def trace() -> Trace:
    return run_scenario(SHELVES, SCENARIO)


def _with_objects(state: ClusterState, objects: list[dict[str, object]]) -> ClusterState:
    return attrs.evolve(state, objects={core_v1.ConfigMap: tuple(objects)})


def test_every_invariant_holds_on_a_correct_run(trace: Trace) -> None:
    assert_converged(trace, SHELVES)
    assert_quiet(trace)
    assert_safe(trace)
    assert_finalized(trace)
    assert_bounded_writes(trace)


def test_a_missing_child_is_named(trace: Trace) -> None:
    assert trace.final is not None
    objs = [o for o in trace.final.objects[core_v1.ConfigMap] if o["metadata"]["name"] != "p0-b"]
    with pytest.raises(NotConverged, match=r"Shelf default/p0: desired child v1/ConfigMap "
                                           r"default/p0-b does not exist"):
        assert_converged(_with_objects(trace.final, objs), SHELVES)


def test_a_differing_child_names_the_field(trace: Trace) -> None:
    assert trace.final is not None
    objs = [
        {**o, "data": {"title": "zzz"}} if o["metadata"]["name"] == "p0-a" else o
        for o in trace.final.objects[core_v1.ConfigMap]
    ]
    with pytest.raises(NotConverged, match=r"child v1/ConfigMap default/p0-a differs.*data.title"):
        assert_converged(_with_objects(trace.final, objs), SHELVES)


def test_an_extra_owned_child_is_reported(trace: Trace) -> None:
    assert trace.final is not None
    fewer = OperatorDefinition(CONFIG, lambda r: SyncResponse(children=_books(r)[:1],
                                                              status={"books": 2}))
    with pytest.raises(NotConverged, match=r"owned child v1/ConfigMap default/p0-b is not asked "
                                           r"for"):
        assert_converged(trace, fewer)


def test_a_status_that_is_not_the_desired_one_is_reported(trace: Trace) -> None:
    other = OperatorDefinition(CONFIG, lambda r: SyncResponse(children=_books(r),
                                                              status={"books": 3}))
    with pytest.raises(NotConverged, match=r"status is not the desired status \(books: "
                                           r"stored 2, desired 3\)"):
        assert_converged(trace, other)


def test_a_child_outliving_its_parent_is_an_orphan(trace: Trace) -> None:
    assert trace.final is not None
    orphaned = attrs.evolve(trace.final, parents=())
    with pytest.raises(NotConverged, match="an orphan"):
        assert_converged(orphaned, SHELVES)


def test_a_resync_that_writes_is_not_quiet(trace: Trace) -> None:
    write = WriteRecord(9, 1.0, 99, "operator", "PATCH", "patch", "configmaps", "default",
                        "p0-a", None, 200)
    noisy = attrs.evolve(trace, quiet_writes=[write])
    with pytest.raises(NotQuiet, match="a resync of a settled operator wrote: operator patch "
                                       "configmaps default/p0-a"):
        assert_quiet(noisy)


def test_a_conflict_with_a_foreign_object_is_converged_when_reported() -> None:
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p0-a"}}
    trace = run_scenario(SHELVES, Scenario(steps=[CreateForeign(foreign), CreateParent("p0")]))
    assert_converged(trace, SHELVES)
    assert_safe(trace)
    assert [f.name for f in trace.foreign] == ["p0-a"]


def test_two_parents_wanting_one_child_collide() -> None:
    def shared(request: SyncRequest) -> SyncResponse:
        child = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "shared", "namespace": request.namespace}}
        return SyncResponse(children=[child])

    # p0 settles first, so it holds the name (without the Settle the two race for it)
    trace = run_scenario((CONFIG, shared), Scenario(steps=[CreateParent("p0"), Settle(),
                                                           CreateParent("p1")]))
    with pytest.raises(NotConverged, match=r"Shelf default/p1: desired child v1/ConfigMap "
                                           r"default/shared is owned by Shelf default/p0"):
        assert_converged(trace, (CONFIG, shared))


@virtual_time
async def test_writing_to_a_foreign_object_is_unsafe() -> None:
    async with FakeApiServer(clock=LoopClock()) as server:
        await install_crd(server, {"apiVersion": "apiextensions.k8s.io/v1",
                                   **_crd_body()})
        sim = Simulation(server, SHELVES)
        await sim.start()
        sim.begin(0, "someone creates a ConfigMap")
        foreign = {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "theirs", "namespace": "default"}}
        await sim.apply(0, CreateForeign(foreign))
        # the operator's own client, misused: what assert_safe must catch
        await sim.operator_client.patch(core_v1.ConfigMap, "theirs", {"data": {"x": "1"}},
                                        namespace="default")
        trace = sim.finish_trace()
        await sim.stop()
    with pytest.raises(Unsafe, match=r"modified configmaps default/theirs \(step 1\), which it "
                                     r"does not own"):
        assert_safe(trace)


def _crd_body() -> dict[str, object]:
    from kubeplan.core.crd import crd_of

    crd = crd_of(SHELVES)
    return {k: v for k, v in crd.items() if k != "apiVersion"}


class _NeverDone:
    def sync(self, request: SyncRequest) -> SyncResponse:
        return SyncResponse(children=_books(request))

    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        return FinalizeResponse(children=[])


def test_a_parent_never_finalized_is_reported() -> None:
    definition = OperatorDefinition(CONFIG, _NeverDone())
    trace = run_scenario(definition, Scenario(steps=[CreateParent("p0"), Settle(),
                                                     DeleteParent("p0")]))
    with pytest.raises(NotFinalized, match=r"parent default/p0 was deleted at step 3 and still "
                                           r"exists.*finalized=True 0 times"):
        assert_finalized(trace)


def test_writes_beyond_the_stated_bound_are_reported() -> None:
    trace = run_scenario(SHELVES, Scenario(steps=[
        CreateParent("p0", {"books": ["a", "b"]}), Settle(),
        PatchParent("p0", {"spec": {"books": ["c", "d"]}}),
    ]))
    assert_bounded_writes(trace)  # default: 2 * children + 3 per change
    with pytest.raises(TooManyWrites, match=r"parent default/p0: \d+ writes for 2 change\(s\), "
                                            r"more than the bound of 1 per change"):
        assert_bounded_writes(trace, per_change=1)


# -- related objects: the invariants see what the runtime hands the sync -------------------

READING = (OperatorConfig("readers", Shelf).with_child(core_v1.ConfigMap, ChildConfig.replace())
           .with_related(core_v1.Secret, lambda parent: RelatedSelector(names=["key"])))


def reading_sync(request: SyncRequest) -> SyncResponse:
    """One ConfigMap per parent while the Secret ``key`` of its namespace exists."""
    found = request.related.of(core_v1.Secret).get("key") is not None
    children = [{"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"{request.name}-key", "namespace": request.namespace},
                 "data": {"found": "yes"}}] if found else []
    return SyncResponse(children=children, status={"found": found})


READERS = OperatorDefinition(READING, reading_sync)


def test_a_child_made_for_a_related_object_counts_as_converged() -> None:
    key = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "key", "namespace": "default"}}
    trace = run_scenario(READERS, Scenario(steps=[CreateForeign(key), CreateParent("p0", {}),
                                                  Settle()]))
    assert trace.final is not None and trace.final.related[core_v1.Secret]
    assert [o["metadata"]["name"] for o in trace.final.objects[core_v1.ConfigMap]
            if o["metadata"]["name"] == "p0-key"] == ["p0-key"]
    assert_converged(trace, READERS)
    # without the child the related Secret asks for, the state is not converged
    missing = attrs.evolve(trace.final, objects={core_v1.ConfigMap: ()})
    with pytest.raises(NotConverged, match=r"desired child v1/ConfigMap default/p0-key"):
        assert_converged(missing, READERS)
    # and without the Secret the child is no longer desired
    gone = attrs.evolve(trace.final, related={core_v1.Secret: ()})
    with pytest.raises(NotConverged, match=r"p0-key is not asked for"):
        assert_converged(gone, READERS)


# -- writes accepted ---------------------------------------------------------------------


def _capitals_sync(request: SyncRequest) -> SyncResponse:
    child = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": request.name.upper(), "namespace": request.namespace}}
    return SyncResponse(children=[child])


CAPITALS = OperatorDefinition(CONFIG, _capitals_sync)


def test_a_write_the_server_refuses_as_invalid_is_a_violation() -> None:
    trace = run_scenario(CAPITALS, SCENARIO)
    assert trace.refused_writes, str(trace)
    assert trace.refused_writes[0].startswith("create configmaps default (new) -> 422: "
                                              'ConfigMap "P0" is invalid')
    assert trace.stopped is None  # without stop_at_refused_write the run goes on
    with pytest.raises(RefusedWrite, match="refused the operator's writes as invalid") as caught:
        assert_writes_accepted(trace)
    # the operator's retries repeat the same refusal: it is listed once, at its first time
    assert len(trace.refused_writes) > 1
    assert caught.value.problems == [trace.refused_writes[0]]


def test_stopping_at_a_refused_write_ends_the_run_at_the_next_settle() -> None:
    long = Scenario(steps=[CreateParent("p0", {}), Settle(), PatchParent("p0", {"spec": {}}),
                           Settle()])
    full = run_scenario(CAPITALS, long)
    stopped = run_scenario(CAPITALS, long, stop_at_refused_write=True)
    assert stopped.stopped is not None and stopped.stopped.startswith(
        "the server refused a write as invalid: create configmaps")
    assert len(stopped.steps) < len(full.steps)
    with pytest.raises(RefusedWrite):
        assert_writes_accepted(stopped)


def test_an_injected_refusal_is_not_the_operators_fault() -> None:
    scenario = Scenario(steps=[
        InjectFault(FaultSpec("error", verb="create", resource="v1/ConfigMap", count=2,
                              code=422)),
        CreateParent("p0", {"books": ["a"]}),
        Settle(),
    ])
    trace = run_scenario(SHELVES, scenario, stop_at_refused_write=True)
    assert "-> 422" in str(trace)  # the fault did answer the operator's creates
    assert trace.refused_writes == [] and trace.stopped is None
    assert_writes_accepted(trace)
