"""Kubernetes Events on the parent, aggregated so a failing operator cannot flood etcd.

The same (parent, type, reason, message) within ``window`` seconds does not create a new
Event: the existing one gets ``count + 1`` and a new ``lastTimestamp`` (one PATCH), as
the kubelet's recorder does. Posting is best effort: a failed post is logged and never
fails a sync. ``core/v1`` Events are used (not ``events.k8s.io/v1``) because
``kubectl describe`` and ``kubectl get events`` show them everywhere.
"""

from __future__ import annotations

import logging
import os
import random
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Literal

import attrs

from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.errors import ApiError, NotFound
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.core.k8s.core_v1 import Event

log = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
_MAX_MESSAGE = 1024


@attrs.define
class _Posted:
    name: str
    namespace: str
    count: int
    posted_at: float


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Posts Events about parents for one operator (``component``)."""

    def __init__(
        self,
        client: ApiClient,
        component: str,
        *,
        window: float = 600.0,
        enabled: bool = True,
        clock: Clock | None = None,
        max_remembered: int = 4096,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.component = component
        self.window = window
        self.enabled = enabled
        #: Event timestamps (``now``) and the aggregation window (``monotonic``)
        self.clock: Clock = clock or SystemClock()
        self.max_remembered = max_remembered
        #: Event name suffixes come from ``rng`` when given (a seeded run names its Events
        #: the same way every time), else from uuid4
        self.rng = rng
        self.instance = os.environ.get("HOSTNAME") or "kubeplan"
        self._posted: OrderedDict[tuple[str, str, str, str], _Posted] = OrderedDict()

    async def post(
        self, parent: RawObject, type_: EventType, reason: str, message: str
    ) -> None:
        if not self.enabled:
            return
        meta = parent.get("metadata") or {}
        message = message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
        key = (meta.get("uid") or "", type_, reason, message)
        now = self.clock.now()
        try:
            seen = self._posted.get(key)
            if seen is not None and self.clock.monotonic() - seen.posted_at < self.window:
                try:
                    await self.client.patch(
                        Event, seen.name,
                        {"count": seen.count + 1, "lastTimestamp": _timestamp(now)},
                        namespace=seen.namespace, patch_type="merge",
                    )
                    seen.count += 1
                    self._posted.move_to_end(key)
                    return
                except NotFound:
                    pass  # expired (events have a TTL): post a fresh one
            namespace = meta.get("namespace") or "default"
            suffix = (f"{self.rng.getrandbits(64):016x}" if self.rng is not None
                      else uuid.uuid4().hex[:16])
            name = f"{meta.get('name', 'unknown')}.{suffix}"
            await self.client.create(Event, self._event(parent, name, namespace, type_, reason,
                                                        message, now), namespace=namespace)
            self._posted[key] = _Posted(name, namespace, 1, self.clock.monotonic())
            self._posted.move_to_end(key)
            while len(self._posted) > self.max_remembered:
                self._posted.popitem(last=False)
        except ApiError as exc:
            log.warning("could not post %s Event %s on %s/%s: %s", type_, reason,
                        meta.get("namespace"), meta.get("name"), exc)

    def _event(
        self, parent: RawObject, name: str, namespace: str, type_: EventType, reason: str,
        message: str, now: datetime,
    ) -> RawObject:
        meta = parent.get("metadata") or {}
        involved = {
            "apiVersion": parent.get("apiVersion"),
            "kind": parent.get("kind"),
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        stamp = _timestamp(now)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "type": type_,
            "reason": reason,
            "message": message,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        }
