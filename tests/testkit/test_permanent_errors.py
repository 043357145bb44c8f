"""The invariant "a permanent error is not retried until something changes": the testkit
detects a repeat (``InstrumentedHandler``, ``assert_permanent_held``), the runtime passes it
in scenarios (the handler is called once per change) and under ``check_operator``."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest
from hypothesis import settings

from kubeplan.core import PermanentError, RetryAfter
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit import (
    Advance,
    CreateParent,
    EditChild,
    PatchParent,
    PermanentRetried,
    RestartOperator,
    Scenario,
    Settle,
    assert_invariants,
    assert_permanent_held,
    check_operator,
    run_scenario,
)
from kubeplan.testkit.instrument import InstrumentedHandler
from kubeplan.testkit.trace import HandlerCalls
from kubeplan.testkit.vtime import run_virtual

Order = K8sType("errors.kubeplan.dev/v1", "Order", "orders")
CONFIG = OperatorConfig("orders", Order).with_child(core_v1.ConfigMap, ChildConfig.replace())


@attrs.frozen
class OrderSpec:
    size: int = attrs.field(default=1, metadata={"minimum": 0, "maximum": 9})


def sync(request: SyncRequest) -> SyncResponse:
    """Sizes above 5 are not offered: a permanent error; otherwise one ConfigMap."""
    size = int(request.spec.get("size", 1))
    if size > 5:
        raise PermanentError("SizeNotOffered", f"size {size} is not offered (at most 5)")
    child = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": request.name}, "data": {"size": str(size)}}
    return SyncResponse(children=[child], status={"size": size})


ORDERS = OperatorDefinition(CONFIG, sync, spec_class=OrderSpec)


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def sync(self, request: SyncRequest) -> SyncResponse:
        self.calls += 1
        return sync(request)


def _parent(size: int, rv: str = "1") -> dict[str, Any]:
    return {"apiVersion": Order.api_version, "kind": Order.kind,
            "metadata": {"name": "o", "namespace": "default", "uid": "u1",
                         "resourceVersion": rv, "generation": 1},
            "spec": {"size": size}}


def test_the_instrument_counts_a_call_on_unchanged_inputs() -> None:
    async def main() -> HandlerCalls:
        handler = InstrumentedHandler(sync, clock=lambda: 0.0)
        request = SyncRequest(parent=_parent(7), children=Children.empty())
        for _ in range(2):
            with pytest.raises(PermanentError):
                await handler.sync(request)
        # our own status write: a new resourceVersion and a status, nothing else
        written = copy.deepcopy(_parent(7, rv="2"))
        written["status"] = {"conditions": []}
        with pytest.raises(PermanentError):
            await handler.sync(SyncRequest(parent=written, children=Children.empty()))
        # a real change (the spec): not a repeat; then fixed
        with pytest.raises(PermanentError):
            await handler.sync(SyncRequest(parent=_parent(8, rv="3"),
                                           children=Children.empty()))
        await handler.sync(SyncRequest(parent=_parent(2, rv="4"), children=Children.empty()))
        await handler.sync(SyncRequest(parent=_parent(2, rv="4"), children=Children.empty()))
        return handler.calls["u1"]

    calls = run_virtual(main())
    # four raised; the 2nd and the 3rd (after only a status write) repeated the 1st
    assert (calls.permanent, calls.repeated_permanent) == (4, 2)
    assert calls.where == "default/o"


def test_the_invariant_names_the_parent() -> None:
    trace = run_scenario(ORDERS, Scenario(steps=[CreateParent("o", {"size": 7}), Settle()]))
    assert_permanent_held(trace)
    bad = attrs.evolve(trace, calls={"u": HandlerCalls(permanent=1, repeated_permanent=3,
                                                       where="default/o", first_repeat=600.0)})
    with pytest.raises(PermanentRetried, match=r"parent default/o: the handler raised "
                       r"PermanentError and was called again 3 times .* t=600\.000s"):
        assert_permanent_held(bad)


def test_the_handler_is_called_once_per_change() -> None:
    handler = Counting()
    steps = [
        CreateParent("o", {"size": 7}), Settle(),     # 1: the create
        Advance(3600), Settle(),                      # resyncs: held
        PatchParent("o", {"spec": {"size": 8}}), Settle(),  # 2: a spec change
        Advance(3600), Settle(),
        PatchParent("o", {"metadata": {"labels": {"team": "a"}}}), Settle(),  # 3: a label
        Advance(3600), Settle(),
    ]
    trace = run_scenario((CONFIG, handler), Scenario(steps=steps))
    assert handler.calls == 3, handler.calls
    assert_invariants(trace, (CONFIG, handler), allow_handler_errors=True)
    condition = next(c for c in trace.final.parents[0]["status"]["conditions"]
                     if c["type"] == "Synced")
    assert (condition["status"], condition["reason"]) == ("False", "SizeNotOffered")


def test_a_fix_clears_the_error_and_a_child_edit_retries() -> None:
    handler = Counting()
    steps = [
        CreateParent("o", {"size": 2}), Settle(),
        PatchParent("o", {"spec": {"size": 7}}), Settle(),
        Advance(1200), Settle(),
        EditChild("v1/ConfigMap", "o", {"data": {"size": "x"}}), Settle(),  # an input changed
        Advance(1200), Settle(),
        RestartOperator(), Settle(),  # a restart forgets what was held: one more call
        PatchParent("o", {"spec": {"size": 3}}), Settle(),
    ]
    trace = run_scenario((CONFIG, handler), Scenario(steps=steps))
    assert_invariants(trace, (CONFIG, handler), allow_handler_errors=True)
    calls = trace.calls[trace.final.parents[0]["metadata"]["uid"]]
    assert calls.permanent == 3  # the patch, the child edit, the restart
    condition = next(c for c in trace.final.parents[0]["status"]["conditions"]
                     if c["type"] == "Synced")
    assert condition["status"] == "True"


def test_check_operator_holds_for_an_operator_with_permanent_errors() -> None:
    check_operator(ORDERS, max_steps=5, allow_handler_errors=True,
                   settings=settings(max_examples=30, deadline=None, database=None))


def test_a_permanent_error_whose_status_write_failed_is_synced_again() -> None:
    """Found by check_operator: the error's status write met an injected 500, and the
    sync that followed to get it written was counted as retrying the permanent error."""
    scenario = Scenario.from_yaml("""
steps:
- {kind: create_parent, name: p0, spec: {size: 6}}
- {kind: inject_fault, fault: {kind: error, code: 500}}
- {kind: settle}
""")
    trace = run_scenario(ORDERS, scenario)
    assert any(plan.failures for plan in trace.plans)  # the write did fail
    assert_invariants(trace, ORDERS, allow_handler_errors=True)
    assert all(calls.repeated_permanent == 0 for calls in trace.calls.values())


def _later(request: SyncRequest) -> SyncResponse:
    """Sizes above 5 must wait for capacity: retried every 30 s."""
    size = int(request.spec.get("size", 1))
    if size > 5:
        raise RetryAfter(30, reason="NoCapacity", message=f"no capacity for size {size} yet")
    return sync(request)


def test_retry_after_is_retried_on_time_and_stays_quiet() -> None:
    calls: list[tuple[int, float]] = []  # (size, time of the call)

    def counted(request: SyncRequest) -> SyncResponse:
        assert request.now is not None
        calls.append((int(request.spec.get("size", 1)), request.now.timestamp()))
        return _later(request)

    steps = [CreateParent("o", {"size": 2}), Settle(),
             PatchParent("o", {"spec": {"size": 7}}), Settle(),
             Advance(95), Settle()]
    trace = run_scenario((CONFIG, counted), Scenario(steps=steps))
    assert [size for size, _ in calls[:3]] == [2, 2, 7]  # the create (twice: it wrote), the patch
    patched = calls[2][1]
    retries = [round(at - patched, 6) for size, at in calls[2:] if size == 7]
    assert retries[:4] == [0.0, 30.0, 60.0, 90.0], retries  # every 30 s exactly, no backoff
    assert_invariants(trace, (CONFIG, counted), allow_handler_errors=True)
    check_operator(OperatorDefinition(CONFIG, _later, spec_class=OrderSpec), max_steps=4,
                   allow_handler_errors=True,
                   settings=settings(max_examples=10, deadline=None, database=None))
