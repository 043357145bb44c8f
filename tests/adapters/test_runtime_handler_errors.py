"""``PermanentError`` and ``RetryAfter`` in the runtime, on virtual time: a permanent error is
not retried (no backoff, no resync) until an input changes (the parent's spec, labels or
annotations; a child or related object's resourceVersion), and a ``RetryAfter`` is retried
after exactly the delay it names, never by backoff."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from adapter_testing import BUNDLE_CONFIG, Bundle, bundle, configmap, eventually

from kubeplan.core import PermanentError, RetryAfter, SyncRequest, SyncResponse
from kubeplan.core.k8s import core_v1
from kubeplan.core.status import find_condition

CM = core_v1.ConfigMap


class Handler:
    """``spec.mode``: ``permanent``, ``retry`` (``spec.seconds``) or anything else (ok)."""

    def __init__(self) -> None:
        self.calls: list[float] = []  # the (virtual) time of each call, in seconds

    def sync(self, request: SyncRequest) -> SyncResponse:
        self.calls.append(request.now.timestamp())  # the sync's one clock reading
        mode = request.spec.get("mode")
        if mode == "permanent":
            raise PermanentError("InvalidSpec", f"size {request.spec.get('size')} is not offered")
        if mode == "retry":
            raise RetryAfter(request.spec["seconds"], reason="QuotaExceeded")
        children = [configmap(c["metadata"]["name"], request.namespace)
                    for c in request.spec.get("children") or []]
        return SyncResponse(children=children, status={"ok": True})


async def _synced(kube: Any, name: str = "b") -> dict[str, Any] | None:
    parent = await kube.get(Bundle, name, "default")
    return find_condition(parent.get("status") or {}, "Synced")


async def test_permanent_error_is_reported_and_not_retried(fake, kube, start_operator):
    handler = Handler()
    operator = await start_operator(BUNDLE_CONFIG, handler, resync_period=5.0)
    await kube.create(Bundle, bundle("b", [], mode="permanent", size="XL"))
    condition = await eventually(lambda: _synced(kube))
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False", "InvalidSpec", "size XL is not offered")
    await operator.settle()
    calls = len(handler.calls)
    assert calls == 1
    await asyncio.sleep(60.0)  # twelve resync periods and any backoff would have run
    assert len(handler.calls) == calls, handler.calls
    assert operator.queue.failures(("default", "b")) == 0  # no backoff either
    syncs = operator.metrics.registry.get_sample_value(
        "kubeplan_syncs_total", {"operator": "bundles", "outcome": "held"})
    assert syncs is not None and syncs >= 10  # the resyncs came and were held
    await operator.executor.drain_events()
    events = (await kube.list(core_v1.Event, "default"))["items"]
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "InvalidSpec")]


async def test_a_status_write_by_someone_else_is_not_a_change(fake, kube, start_operator):
    handler = Handler()
    operator = await start_operator(BUNDLE_CONFIG, handler, resync_period=5.0)
    await kube.create(Bundle, bundle("b", [], mode="permanent"))
    await eventually(lambda: _synced(kube))
    await operator.settle()
    await kube.patch(Bundle, "b", {"status": {"note": "hello"}}, namespace="default",
                     subresource="status")
    await asyncio.sleep(12.0)  # two resyncs
    assert len(handler.calls) == 1


async def test_a_spec_change_retries_once(fake, kube, start_operator):
    handler = Handler()
    operator = await start_operator(BUNDLE_CONFIG, handler)
    await kube.create(Bundle, bundle("b", [], mode="permanent", size="XL"))
    await eventually(lambda: _synced(kube))
    await operator.settle()
    await kube.patch(Bundle, "b", {"spec": {"size": "XXL"}}, namespace="default")
    await eventually(lambda: _message_has(kube, "XXL"))
    await operator.settle()
    assert len(handler.calls) == 2
    await kube.patch(Bundle, "b", {"metadata": {"labels": {"team": "a"}}}, namespace="default")
    await operator.settle()
    await asyncio.sleep(1.0)
    assert len(handler.calls) == 3  # a label is an input too (selectors, handlers read it)
    await kube.patch(Bundle, "b", {"spec": {"mode": "ok"}}, namespace="default")
    condition = await eventually(lambda: _status_is(kube, "True"))
    assert condition["reason"] == "Synced"
    assert ("default", "b") not in operator._held


async def test_a_child_change_retries(fake, kube, start_operator):
    handler = Handler()
    operator = await start_operator(BUNDLE_CONFIG, handler)
    await kube.create(Bundle, bundle("b", [configmap("one")]))
    await eventually(lambda: _status_is(kube, "True"))
    await operator.settle()
    await kube.patch(Bundle, "b", {"spec": {"mode": "permanent"}}, namespace="default")
    await eventually(lambda: _status_is(kube, "False"))
    await operator.settle()
    before = len(handler.calls)
    await asyncio.sleep(5.0)
    assert len(handler.calls) == before
    # someone edits the child the failed sync read: its resourceVersion changes
    await kube.patch(CM, "one", {"data": {"x": "y"}}, namespace="default")
    await operator.settle()
    assert len(handler.calls) == before + 1


async def test_retry_after_is_exact_and_resets_the_backoff(fake, kube, start_operator):
    handler = Handler()
    operator = await start_operator(BUNDLE_CONFIG, handler, backoff_base=0.5)
    await kube.create(Bundle, bundle("b", [], mode="retry", seconds=7))
    condition = await eventually(lambda: _synced(kube))
    assert (condition["status"], condition["reason"]) == ("False", "QuotaExceeded")
    await asyncio.sleep(30.0)
    calls = handler.calls
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(calls)]
    assert len(gaps) >= 3 and all(gap == 7.0 for gap in gaps), gaps  # no jitter, no growth
    assert operator.queue.failures(("default", "b")) == 0


async def test_retry_after_follows_a_failure_and_ends_its_backoff(fake, kube, start_operator):
    handler = Handler()
    operator = await start_operator(BUNDLE_CONFIG, handler, backoff_base=4.0,
                                    backoff_cap=100.0, backoff_jitter=0.0)
    # a failing child write first: a backoff of 4 s, then 8 s would follow
    await kube.create(Bundle, bundle("b", [configmap("bad:name")]))
    await eventually(lambda: _status_is(kube, "False"))
    assert operator.queue.failures(("default", "b")) >= 1
    await kube.patch(Bundle, "b", {"spec": {"mode": "retry", "seconds": 1}},
                     namespace="default")
    await eventually(lambda: _reason_is(kube, "QuotaExceeded"))
    assert operator.queue.failures(("default", "b")) == 0
    start = len(handler.calls)
    await asyncio.sleep(3.5)
    assert len(handler.calls) - start == 3  # every second, not at 4 s and 12 s


async def _message_has(kube: Any, text: str) -> bool:
    condition = await _synced(kube)
    return condition is not None and text in condition["message"]


async def _status_is(kube: Any, status: str) -> dict[str, Any] | None:
    condition = await _synced(kube)
    return condition if condition is not None and condition["status"] == status else None


async def _reason_is(kube: Any, reason: str) -> dict[str, Any] | None:
    condition = await _synced(kube)
    return condition if condition is not None and condition["reason"] == reason else None
