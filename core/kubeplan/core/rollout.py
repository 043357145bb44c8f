"""Rolling updates of one child type: which child goes next, which wait, and why.

``ChildConfig.rolling(in_place=..., max_unavailable=N, check=..., timeout=...)`` declares a
child type whose changed children are updated at most N at a time (in place, or deleted and
created again), each next one only once the ``check`` passes on the updated children. This
module is the pure part: ``Rolling`` and ``Check`` (the declaration) and ``gate`` (the
decision the planner asks for on every pass). Nothing is remembered between passes: all the
state is in the observed children:

- a child counts as *in flight* from the moment it is written by a rollout (replaced,
  deleted to be created again, or created) until its check passes: while it is missing,
  being deleted, or up to date with a check that has not passed;
- every write of a rolling child carries the annotation ``kubeplan.dev/updated-at`` (the
  sync's ``now``), read back from the observed child to tell when its check timed out;
- a changed child starts only while fewer than N are in flight; the others *wait*, in name
  order (``web-2`` before ``web-10``), each with a reason the plan shows;
- a check that fails (``check`` returns False) or has not passed within ``timeout`` of the
  update *halts* the type: no further update starts until that child's check passes or
  its desired state changes again; the parent's ``RolledOut`` condition names the child.

Creating a missing child is never held back (a missing child is never better than a new
one): the first children of a parent are all created at once, and counted in flight.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from kubeplan.core.errors import InvalidArgument, WrongArgumentType
from kubeplan.core.objects import annotations_of, generation_of
from kubeplan.core.status import find_condition, format_time

__all__ = [
    "ANNOTATION_UPDATED_AT",
    "CONDITION_ROLLED_OUT",
    "REASON_CHECK_FAILED",
    "REASON_CHECK_TIMED_OUT",
    "REASON_COMPLETE",
    "REASON_PROGRESSING",
    "Check",
    "CheckFunction",
    "Decision",
    "Rolling",
    "RolloutChild",
    "TypeRollout",
    "condition_of",
    "gate",
    "name_order",
    "updated_at_of",
    "with_updated_at",
]

ANNOTATION_UPDATED_AT = "kubeplan.dev/updated-at"
"""Annotation on every child of a rolling type: when kubeplan last wrote it (RFC 3339)."""

CONDITION_ROLLED_OUT = "RolledOut"
REASON_COMPLETE = "Complete"
REASON_PROGRESSING = "Progressing"
REASON_CHECK_FAILED = "CheckFailed"
REASON_CHECK_TIMED_OUT = "CheckTimedOut"

CheckFunction = Callable[[Mapping[str, Any]], "bool | None"]


@attrs.frozen
class Check:
    """A status check on a condition of the child: ``Check(condition="Ready")``.

    Passes (True) when the child's ``status.conditions`` holds ``condition`` with ``status``;
    fails (False) when ``failed_condition`` is given and holds with status ``"True"``; else
    not yet (None). A condition (or the status) that carries an ``observedGeneration`` older
    than the child's ``metadata.generation`` speaks of an older spec and counts as not yet.
    """

    condition: str = attrs.field(validator=attrs.validators.instance_of(str))
    status: str = "True"
    failed_condition: str | None = None

    def __call__(self, child: Mapping[str, Any]) -> bool | None:
        status = child.get("status")
        if not isinstance(status, Mapping):
            return None
        generation = generation_of(child)
        if _stale(status, generation):
            return None
        if self.failed_condition is not None:
            failed = find_condition(status, self.failed_condition)
            if failed is not None and failed.get("status") == "True" and not _stale(
                failed, generation
            ):
                return False
        found = find_condition(status, self.condition)
        if found is None or _stale(found, generation):
            return None
        return True if found.get("status") == self.status else None

    def describe(self) -> str:
        return f"{self.condition}={self.status}"


def _stale(holder: Mapping[str, Any], generation: int | None) -> bool:
    observed = holder.get("observedGeneration")
    return isinstance(observed, int) and generation is not None and observed < generation


def _check_max(_instance: Any, _attribute: Any, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(
            f"max_unavailable must be a whole number of at least 1, got {value!r}")


def _check_check(_instance: Any, _attribute: Any, value: Any) -> None:
    if not callable(value):
        raise WrongArgumentType(
            "check must be a function check(child) -> True (passed) / False (failed) / None "
            f"(not yet), or Check(condition='Ready'); got {value!r}"
        )


def _check_timeout(_instance: Any, _attribute: Any, value: timedelta | None) -> None:
    if value is not None and (not isinstance(value, timedelta) or value <= timedelta(0)):
        raise InvalidArgument(f"timeout must be a positive timedelta or None, got {value!r}")


@attrs.frozen
class Rolling:
    """How a rolling child type is rolled: at most ``max_unavailable`` in flight, each until
    ``check(child)`` passes, halting when it fails or ``timeout`` passes (None: never)."""

    max_unavailable: int = attrs.field(default=1, validator=_check_max)
    check: CheckFunction = attrs.field(factory=lambda: Check("Ready"), validator=_check_check)
    timeout: timedelta | None = attrs.field(
        default=timedelta(minutes=10), validator=_check_timeout
    )

    def describe_check(self) -> str:
        check = self.check
        if isinstance(check, Check):
            return f"check {check.describe()}"
        return f"check {getattr(check, '__name__', type(check).__name__)}"


def updated_at_of(child: Mapping[str, Any]) -> datetime | None:
    """The time in the child's ``kubeplan.dev/updated-at`` annotation, or None."""
    text = annotations_of(child).get(ANNOTATION_UPDATED_AT)
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def with_updated_at(obj: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A copy of ``obj`` (top level and metadata) carrying the updated-at annotation."""
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations[ANNOTATION_UPDATED_AT] = format_time(now)
    meta["annotations"] = annotations
    out = dict(obj)
    out["metadata"] = meta
    return out


@attrs.frozen
class RolloutChild:
    """One desired child of a rolling type as the planner found it.

    ``observed`` is the child as it is (None: missing); ``terminating`` whether it is being
    deleted; ``changed`` whether it differs from its desired state (an update is planned
    for it, to start or to wait).
    """

    name: str
    observed: Mapping[str, Any] | None
    terminating: bool = False
    changed: bool = False


@attrs.frozen
class TypeRollout:
    """What a pass decided for one rolling type; ``progress`` is its ``status.rollout`` entry."""

    kind: str
    total: int
    updated: int
    ready: int
    in_flight: tuple[str, ...]
    started: tuple[str, ...]
    waiting: tuple[str, ...]
    halted: str | None = None
    halt_reason: str | None = None
    recheck_after: float | None = None

    @property
    def progress(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "total": self.total,
            "updated": self.updated,
            "ready": self.ready,
            "updating": sorted({*self.in_flight, *self.started}),
            "waiting": len(self.waiting),
        }
        if self.halted:
            out["halted"] = self.halted
        return out


@attrs.frozen
class Decision:
    """``gate``'s answer: the names to update now, the ones that wait and why, and the
    summary of the type."""

    start: tuple[str, ...]
    waits: Mapping[str, str]
    rollout: TypeRollout


_DIGITS = re.compile(r"(\d+)")


def name_order(name: str) -> tuple[tuple[int, int | str], ...]:
    """The order children are rolled in: by name, with the numbers in names compared as
    numbers (``web-2`` before ``web-10``)."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part)
        for part in _DIGITS.split(name) if part
    )


def gate(
    kind: str,
    rolling: Rolling,
    children: Sequence[RolloutChild],
    now: datetime,
) -> Decision:
    """Decide which changed children of one rolling type start now (pure).

    ``children`` are the desired children of the type, in any order: they are taken in
    ``name_order``.
    """
    ordered = sorted(children, key=lambda child: name_order(child.name))
    in_flight: list[str] = []
    halted: str | None = None
    halt_reason: str | None = None
    recheck: float | None = None
    ready = 0
    ready_before: set[str] = set()
    updated = 0
    for child in ordered:
        obj = child.observed
        if child.changed:
            if obj is not None and rolling.check(obj) is True:
                ready_before.add(child.name)  # ready at its old state, until it starts
            continue
        if obj is None or child.terminating:
            in_flight.append(child.name)
            updated += obj is None  # created by this pass
            continue
        updated += 1
        result = rolling.check(obj)
        if result is True:
            ready += 1
            continue
        in_flight.append(child.name)
        if halted is not None:
            continue
        since = updated_at_of(obj)
        if result is False:
            halted = f"{kind} {child.name}: {rolling.describe_check()} failed"
            halt_reason = REASON_CHECK_FAILED
        elif rolling.timeout is not None and since is not None:
            left = (since + rolling.timeout - now).total_seconds()
            if left <= 0:
                halted = (
                    f"{kind} {child.name}: {rolling.describe_check()} has not passed "
                    f"within {_seconds(rolling.timeout)} of its update at {format_time(since)}"
                )
                halt_reason = REASON_CHECK_TIMED_OUT
            else:
                recheck = left if recheck is None else min(recheck, left)
    candidates = [child.name for child in ordered if child.changed and child.observed is not None]
    start: list[str] = []
    waits: dict[str, str] = {}
    budget = rolling.max_unavailable - len(in_flight)
    for name in candidates:
        if halted is not None:
            waits[name] = f"rollout halted: {halted}"
        elif budget > 0:
            start.append(name)
            budget -= 1
        else:
            waits[name] = (
                f"rollout: {len(in_flight) + len(start)} of at most {rolling.max_unavailable} "
                f"updating ({', '.join([*in_flight, *start][:5])}"
                f"{', ...' if len(in_flight) + len(start) > 5 else ''})"
            )
    summary = TypeRollout(
        kind=kind,
        total=len(ordered),
        updated=updated + len(start),
        ready=ready + len(ready_before - set(start)),
        in_flight=tuple(in_flight),
        started=tuple(start),
        waiting=tuple(waits),
        halted=halted,
        halt_reason=halt_reason,
        recheck_after=recheck if halted is None else None,
    )
    return Decision(tuple(start), waits, summary)


def condition_of(rollouts: Sequence[TypeRollout]) -> tuple[str, str, str]:
    """The ``RolledOut`` condition (status, reason, message) for a parent's rolling types."""
    halted = [r for r in rollouts if r.halted]
    if halted:
        first = halted[0]
        return "False", first.halt_reason or REASON_CHECK_FAILED, "; ".join(
            f"halted: {r.halted} ({len(r.waiting)} waiting)" for r in halted
        )
    moving = [r for r in rollouts if r.waiting or r.in_flight or r.started]
    if moving:
        return "False", REASON_PROGRESSING, "; ".join(_moving(r) for r in moving)
    return "True", REASON_COMPLETE, ""


def _moving(rollout: TypeRollout) -> str:
    names = rollout.progress["updating"]
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return (
        f"{rollout.kind}: {rollout.updated} of {rollout.total} updated, {rollout.ready} ready, "
        f"updating {shown or 'none'}, {len(rollout.waiting)} waiting"
    )


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():g}s"
