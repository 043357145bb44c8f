"""Parent filters in the real runtime against the fake, in virtual time (and as a property)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from kubeplan.adapters import runtime
from kubeplan.core import (
    ChildConfig,
    FinalizeResponse,
    K8sType,
    OperatorConfig,
    OperatorDefinition,
    SyncRequest,
    SyncResponse,
)
from kubeplan.core.k8s import core_v1
from kubeplan.testkit import (
    CreateParent,
    DeleteParent,
    FilteredParentWritten,
    PatchParent,
    RestartOperator,
    Scenario,
    Settle,
    assert_filters_respected,
    assert_invariants,
    check_operator,
    run_scenario,
)

Shelf = K8sType("filters.kubeplan.dev/v1", "Shelf", "shelves")
CONFIG = (
    OperatorConfig("shelf", Shelf)
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
    .selecting(labels="team=books", annotations={"example.com/stock": {"on", "full"}})
)


class ShelfHandler:
    """A ConfigMap per shelf, a status, and a finalizer (so leaving matters)."""

    def sync(self, request: SyncRequest) -> SyncResponse:
        child = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"shelf-{request.name}"}, "data": {"size": "1"}}
        return SyncResponse(children=[child], status={"stocked": True})

    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        return FinalizeResponse(finalized=True)


SHELF = OperatorDefinition(CONFIG, ShelfHandler())
SELECTED = {"labels": {"team": "books"}, "annotations": {"example.com/stock": "on"}}


def test_a_parent_leaving_the_label_selection_keeps_its_children_and_loses_our_finalizer(
) -> None:
    trace = run_scenario(SHELF, Scenario([
        CreateParent("p0", {}, metadata=SELECTED),
        Settle(),
        PatchParent("p0", {"metadata": {"labels": {"team": "games"}}}),
        Settle(),
    ]))
    assert_invariants(trace, SHELF)
    assert trace.final is not None
    (parent,) = trace.final.parents
    assert CONFIG.finalizer not in parent["metadata"].get("finalizers", [])
    assert parent["status"]["stocked"] is True  # written while it was selected, never since
    (child,) = trace.final.objects[core_v1.ConfigMap]
    assert child["metadata"]["name"] == "shelf-p0"
    left = trace.steps[2].request_index
    late = [w for w in trace.operator_writes if w.request_index >= left
            and w.resource == "shelves"]
    assert [(w.verb, w.subresource) for w in late] == [("patch", None)]  # the finalizer


def test_a_parent_that_left_can_be_deleted_and_one_that_returns_is_synced_again() -> None:
    trace = run_scenario(SHELF, Scenario([
        CreateParent("p0", {}, metadata=SELECTED),
        CreateParent("p1", {}, metadata=SELECTED),
        Settle(),
        PatchParent("p0", {"metadata": {"annotations": {"example.com/stock": None}}}),
        PatchParent("p1", {"metadata": {"labels": {"team": None}}}),
        Settle(),
        DeleteParent("p0"),
        PatchParent("p1", {"metadata": {"labels": {"team": "books"}}}),
        Settle(),
    ]))
    assert_invariants(trace, SHELF)
    assert trace.final is not None
    (parent,) = trace.final.parents  # p0 is gone: nothing held it up
    assert parent["metadata"]["name"] == "p1"
    assert CONFIG.finalizer in parent["metadata"]["finalizers"]  # selected again


def test_an_unselected_parent_is_never_synced_nor_written() -> None:
    trace = run_scenario(SHELF, Scenario([
        CreateParent("p0", {}, metadata={"labels": {"team": "books"}}),
        CreateParent("p1", {}, metadata={"annotations": {"example.com/stock": "full"}}),
        Settle(),
    ]))
    assert_invariants(trace, SHELF)
    assert [w for w in trace.operator_writes] == []
    assert trace.calls == {} or all(c.syncs == 0 for c in trace.calls.values())


def test_the_invariant_catches_a_runtime_that_syncs_unselected_parents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def sync_anyway(self, key, parent):  # type: ignore[no-untyped-def]
        return await self._sync(key, parent, self.syncs)

    monkeypatch.setattr(runtime.Operator, "_sync_unmatched", sync_anyway)
    trace = run_scenario(SHELF, Scenario([  # cached (the labels match), then filtered out
        CreateParent("p0", {}, metadata={"labels": {"team": "books"},
                                         "annotations": {"example.com/stock": "empty"}}),
        Settle(),
    ]))
    with pytest.raises(FilteredParentWritten, match=r"wrote/status Shelf default/p0"):
        assert_filters_respected(trace)


def test_the_whole_filtered_operator_keeps_its_invariants() -> None:
    check_operator(SHELF, settings=settings(max_examples=40, deadline=None, database=None))


def test_a_failing_predicate_writes_nothing_and_spares_the_other_parents(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fussy(parent: dict) -> bool:
        if parent["metadata"]["name"] == "p1":
            raise RuntimeError("cannot tell")
        return True

    config = OperatorConfig("shelf", Shelf).with_child(core_v1.ConfigMap).selecting(
        where=fussy)
    definition = OperatorDefinition(config, ShelfHandler())
    trace = run_scenario(definition, Scenario([
        CreateParent("p0", {}), CreateParent("p1", {}), Settle(),
    ]))
    written = {w.name for w in trace.operator_writes if w.resource == "shelves"}
    assert written == {"p0"}
    assert "where() raised RuntimeError('cannot tell')" in caplog.text


def test_a_created_parents_metadata_round_trips_through_yaml() -> None:
    scenario = Scenario([CreateParent("p0", {}, metadata=SELECTED), CreateParent("p1")])
    text = scenario.to_yaml()
    assert Scenario.from_yaml(text) == scenario
    assert text.count("metadata") == 1  # left out when empty


def test_drawn_metadata_falls_on_both_sides_of_the_filter() -> None:
    from hypothesis import find

    from kubeplan.testkit.strategies import filter_metadata, filter_metadata_patches

    def parent(metadata: dict) -> dict:
        return {"apiVersion": Shelf.api_version, "kind": "Shelf",
                "metadata": {"name": "p", **metadata}}

    drawn = filter_metadata(CONFIG.filters)
    assert CONFIG.selects(parent(find(drawn, lambda m: CONFIG.selects(parent(m)))))
    assert not CONFIG.selects(parent(find(drawn, lambda m: not CONFIG.selects(parent(m)))))
    patches = filter_metadata_patches(CONFIG.filters)
    find(patches, lambda p: p["metadata"].get("labels", {}).get("team", "") is None)


def test_a_parent_relabelled_out_of_the_selection_while_deleting_is_released() -> None:
    """Found by the property test above: deleted while it held our finalizer, then moved
    out of the selection before the operator saw the deletion. The operator lets it go
    as every unmatched parent (its finalizer removed, finalize not called), and the
    finalized invariant accepts that; the parent is gone."""
    trace = run_scenario(SHELF, Scenario([
        CreateParent("p0", {}, metadata={"labels": {"team": "books"},
                                         "annotations": {"example.com/stock": "full"}}),
        Settle(),
        DeleteParent("p0"),
        PatchParent("p0", {"spec": {}}),
        PatchParent("p0", {"metadata": {"labels": {"team": "other"}}}),
    ]))
    assert any("no longer matches" in plan.text and "finalizer" in plan.text
               for plan in trace.plans)
    assert trace.final is not None and not trace.final.parents
    assert_invariants(trace, SHELF)


def test_a_parent_relabelled_out_while_no_operator_watched_is_released_at_start() -> None:
    """Found by the property test above: relabelled out of the selection, then the
    operator restarts before it saw the change. The selected watch never lists it again,
    so the start-up sweep (one unselected list) must find it and remove our finalizer."""
    trace = run_scenario(SHELF, Scenario([
        CreateParent("p0", {}, metadata={"labels": {"team": "books"},
                                         "annotations": {"example.com/stock": "full"}}),
        Settle(),
        PatchParent("p0", {"metadata": {"labels": {"team": "other"}}}),
        RestartOperator(),
    ]))
    assert trace.final is not None
    (parent,) = trace.final.parents
    assert CONFIG.finalizer not in parent["metadata"].get("finalizers", [])
    assert_invariants(trace, SHELF)
