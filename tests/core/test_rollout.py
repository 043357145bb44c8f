"""The rolling-update decision (kubeplan.core.rollout.gate), alone and as a property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubeplan.core.rollout import (
    ANNOTATION_UPDATED_AT,
    Check,
    Rolling,
    RolloutChild,
    condition_of,
    gate,
    name_order,
    updated_at_of,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def member(ready: bool | None, updated_at: str | None = "2026-01-01T11:59:00Z") -> dict[str, Any]:
    annotations = {ANNOTATION_UPDATED_AT: updated_at} if updated_at else {}
    labels = {} if ready is None else {"ready": "true" if ready else "false"}
    return {"metadata": {"annotations": annotations, "labels": labels}}


def by_label(child: Any) -> bool | None:
    value = child["metadata"]["labels"].get("ready")
    return None if value is None else value == "true"


ROLLING = Rolling(1, by_label, timeout=timedelta(minutes=5))


def test_changed_children_start_in_name_order_within_the_budget() -> None:
    children = [RolloutChild(n, member(True), changed=True) for n in ("c", "a", "b")]
    decision = gate("ConfigMap", Rolling(2, by_label), children, NOW)
    assert decision.start == ("a", "b")
    assert list(decision.waits) == ["c"]
    assert "2 of at most 2 updating (a, b)" in decision.waits["c"]


def test_missing_and_terminating_children_are_in_flight_and_hold_the_others() -> None:
    children = [RolloutChild("a", None), RolloutChild("b", member(True), terminating=True),
                RolloutChild("c", member(True), changed=True)]
    decision = gate("ConfigMap", Rolling(2, by_label), children, NOW)
    assert decision.start == ()
    assert decision.rollout.in_flight == ("a", "b")


def test_a_failed_check_halts_and_a_pending_one_asks_for_a_recheck_at_its_timeout() -> None:
    failed = gate("ConfigMap", ROLLING, [RolloutChild("a", member(False)),
                                         RolloutChild("b", member(True), changed=True)], NOW)
    assert failed.start == () and "check by_label failed" in failed.waits["b"]
    assert condition_of([failed.rollout])[:2] == ("False", "CheckFailed")
    pending = gate("ConfigMap", ROLLING, [RolloutChild("a", member(None)),
                                          RolloutChild("b", member(True), changed=True)], NOW)
    assert pending.rollout.recheck_after == 240  # updated a minute ago, timeout 5 minutes
    assert condition_of([pending.rollout])[:2] == ("False", "Progressing")
    late = gate("ConfigMap", ROLLING, [RolloutChild("a", member(None, "2026-01-01T11:00:00Z"))],
                NOW)
    assert late.rollout.halt_reason == "CheckTimedOut"


def test_numbers_in_names_are_ordered_as_numbers() -> None:
    names = ["web-10", "web-2", "web-1", "api", "web-1a"]
    assert sorted(names, key=name_order) == ["api", "web-1", "web-1a", "web-2", "web-10"]
    children = [RolloutChild(n, member(True), changed=True) for n in ("m-10", "m-9")]
    assert gate("ConfigMap", ROLLING, children, NOW).start == ("m-9",)


def test_a_rolled_out_type_is_complete() -> None:
    done = gate("ConfigMap", ROLLING, [RolloutChild("a", member(True))], NOW)
    assert condition_of([done.rollout]) == ("True", "Complete", "")
    assert done.rollout.progress == {"total": 1, "updated": 1, "ready": 1, "updating": [],
                                     "waiting": 0}


def test_check_reads_the_condition_of_the_current_generation_only() -> None:
    ready = {"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": 3}
    assert Check("Ready")({"metadata": {"generation": 3}, "status": ready}) is True
    assert Check("Ready")({"metadata": {"generation": 4}, "status": ready}) is None
    assert Check("Ready")({"metadata": {}}) is None
    assert updated_at_of({"metadata": {"annotations": {ANNOTATION_UPDATED_AT: "nonsense"}}}) is None


states = st.sampled_from(["missing", "terminating", "ready", "pending", "changed"])


@given(st.lists(states, max_size=8), st.integers(1, 4))
def test_never_more_than_n_in_flight_once_the_plan_runs(kinds: list[str], n: int) -> None:
    children = []
    for index, kind in enumerate(kinds):
        name = f"m{index}"
        if kind == "missing":
            children.append(RolloutChild(name, None))
        elif kind == "terminating":
            children.append(RolloutChild(name, member(True), terminating=True))
        else:
            children.append(RolloutChild(name, member(kind != "pending" or None),
                                         changed=kind == "changed"))
    decision = gate("ConfigMap", Rolling(n, by_label, timeout=None), children, NOW)
    in_flight = len(decision.rollout.in_flight)
    assert len(decision.start) + in_flight <= max(n, in_flight)
    assert not decision.start or in_flight + len(decision.start) <= n
    changed = sorted((c.name for c in children if c.changed), key=name_order)
    assert list(decision.start) == changed[: len(decision.start)]
    assert set(decision.start) | set(decision.waits) == set(changed)
