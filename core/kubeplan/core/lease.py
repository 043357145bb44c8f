"""coordination.k8s.io/v1 Lease records and the expiry rule, as pure data and functions.

Leader election (``kubeplan.adapters.leader``) and shard membership
(``kubeplan.adapters.sharding``) both decide "has the holder of this Lease stopped acting?"
from what they read. That decision is the whole safety argument of both protocols, so it
lives here, without I/O or clock reads, where tests can state it exactly.

The rule is the conjunction of two clocks, each safe under its own assumption:

- *Observed time* (what client-go does): a Lease has expired once its content has not
  changed for ``leaseDurationSeconds`` of **the reader's** clock, counted from when the
  reader first saw the current version. This needs only a bounded clock *rate* difference
  between replicas, never synchronised clocks.
- *Declared time*: ``renewTime + leaseDurationSeconds`` has passed on the reader's clock.
  This is what ``kubectl get lease`` suggests to a human and needs bounded clock *skew*.

A Lease counts as expired only when both say so. Safety therefore holds if either
assumption holds; the price is liveness: a holder whose clock ran ahead by ``d`` delays a
takeover by ``d`` (see docs/sharding.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubeplan.core.errors import InvalidArgument

__all__ = [
    "LeaseObservation",
    "LeaseRecord",
    "format_micro_time",
    "lease_body",
    "observe",
    "parse_time",
]


def format_micro_time(when: datetime) -> str:
    """RFC 3339 with microseconds in UTC (``metav1.MicroTime``): ``2026-01-01T00:00:00.000000Z``."""
    if when.tzinfo is None:
        raise InvalidArgument(f"a lease time must be timezone-aware, got naive {when!r}")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parse ``metav1.Time``/``MicroTime`` (any fractional precision, ``Z`` or an offset)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    head, dot, rest = value.partition(".")
    if dot:
        # fromisoformat (3.11) accepts 3 or 6 fractional digits only; normalise to 6.
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        value = f"{head}.{(digits + '000000')[:6]}{rest}"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class LeaseRecord:
    """The part of a Lease both protocols read; ``version`` is its resourceVersion."""

    name: str
    holder: str | None
    duration: float | None
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int
    version: str
    uid: str | None
    annotations: Mapping[str, str]

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> LeaseRecord:
        """Read a raw Lease dict; malformed times are treated as absent (never raise)."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        return cls(
            name=str(meta.get("name") or ""),
            holder=spec.get("holderIdentity") or None,
            duration=float(duration) if isinstance(duration, int | float) and duration > 0
            else None,
            acquire_time=_maybe_time(spec.get("acquireTime")),
            renew_time=_maybe_time(spec.get("renewTime")),
            transitions=int(spec.get("leaseTransitions") or 0),
            version=str(meta.get("resourceVersion") or ""),
            uid=meta.get("uid"),
            annotations=dict(meta.get("annotations") or {}),
        )


def _maybe_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class LeaseObservation:
    """A Lease version and the reader-local instant it was first seen (after the read returned).

    ``observed_at`` must be taken when the response has arrived, not when the request was
    sent: the holder's write happened before that instant, so counting from it can only
    make the reader wait longer, never shorter.
    """

    record: LeaseRecord
    observed_at: datetime

    def expires_at(self, default_duration: float) -> datetime:
        """When both clocks agree the holder has stopped (see module docstring)."""
        duration = timedelta(seconds=self.record.duration or default_duration)
        observed = self.observed_at + duration
        renew = self.record.renew_time
        return observed if renew is None else max(observed, renew + duration)

    def is_free(self) -> bool:
        """Nobody holds it: released on a graceful stop, or never taken."""
        return not self.record.holder

    def is_expired(self, now: datetime, default_duration: float) -> bool:
        return self.is_free() or now >= self.expires_at(default_duration)


def observe(
    previous: LeaseObservation | None, record: LeaseRecord, now: datetime
) -> LeaseObservation:
    """Fold a fresh read into what was known: the clock restarts only when the Lease changed."""
    if previous is not None and previous.record.version == record.version and record.version:
        return previous
    return LeaseObservation(record, now)


def lease_body(
    *,
    name: str,
    namespace: str,
    holder: str | None,
    duration: float,
    acquire_time: datetime | None,
    renew_time: datetime | None,
    transitions: int,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    resource_version: str | None = None,
) -> dict[str, Any]:
    """A raw Lease; ``leaseDurationSeconds`` is rounded *up* (an int in the API) so that a
    reader never expires a holder earlier than the holder promised to stop."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    if resource_version:
        metadata["resourceVersion"] = resource_version
    spec: dict[str, Any] = {
        "leaseDurationSeconds": max(1, math.ceil(duration)),
        "leaseTransitions": transitions,
    }
    if holder:
        spec["holderIdentity"] = holder
    if acquire_time is not None:
        spec["acquireTime"] = format_micro_time(acquire_time)
    if renew_time is not None:
        spec["renewTime"] = format_micro_time(renew_time)
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": spec,
    }
