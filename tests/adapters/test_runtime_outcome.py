"""One outcome per sync, acted on in one place: the metrics count each sync once."""

from __future__ import annotations

from typing import Any

import pytest
from adapter_testing import BUNDLE_CONFIG, Bundle, BundleHandler, bundle, configmap, eventually

from kubeplan.adapters.outcome import Next, SyncOutcome


def _count(operator: Any, outcome: str) -> float:
    return operator.metrics.syncs.labels("bundles", outcome)._value.get()


async def test_a_crashed_sync_is_counted_once_and_backs_off(kube: Any,
                                                          start_operator: Any) -> None:
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
    execute = operator.executor.execute
    crashes: list[int] = []

    async def crash_once(plan: Any, parent: Any, **options: Any) -> Any:
        if not crashes:
            crashes.append(1)
            raise KeyError("a bug of ours")
        return await execute(plan, parent, **options)

    operator.executor.execute = crash_once
    await kube.create(Bundle, bundle("b", [configmap("one")]))
    await eventually(lambda: _async(_count(operator, "ok") >= 1))
    assert _count(operator, "crashed") == 1
    # the crash was not also counted as a success (it was, by sync()'s own bookkeeping)
    assert _count(operator, "ok") == operator.syncs - 1


def test_outcomes_say_what_the_queue_does() -> None:
    assert SyncOutcome.ok().next is Next.DONE
    assert SyncOutcome.ok(wrote_children=True).next is Next.REQUEUE
    assert SyncOutcome.ok(after=30).after == 30
    assert [SyncOutcome.failed(k).label for k in ("handler", "actions", "child_conflict")] == [
        "error", "failed_actions", "child_conflict"]
    assert SyncOutcome.gone().next is Next.FORGET
    assert SyncOutcome.skipped().label is None
    with pytest.raises(ValueError, match="unknown kind 'oops'"):
        SyncOutcome.failed("oops")


async def _async(value: Any) -> Any:
    return value
