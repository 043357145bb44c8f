"""Status conditions, written the Kubernetes way and without reading a clock.

kubeplan reports on each parent through one condition, ``Synced``: ``True`` when the last pass
planned from a valid response, ``False`` with reason ``SyncFailed`` (the handler raised),
``InvalidResponse`` (it returned something unusable) or ``ChildConflict`` (a desired child's name
is taken by an object this parent does not own). The adapters use ``with_condition`` too, to
report a plan that failed to execute.

``lastTransitionTime`` changes only when a condition's status changes, so a parent that stays
healthy keeps an identical status and is not written again. Time is always an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CONDITION_SYNCED",
    "REASON_CHILD_CONFLICT",
    "REASON_INVALID_RESPONSE",
    "REASON_SYNCED",
    "REASON_SYNC_FAILED",
    "find_condition",
    "format_time",
    "with_condition",
]

CONDITION_SYNCED = "Synced"
REASON_SYNCED = "Synced"
REASON_SYNC_FAILED = "SyncFailed"
REASON_INVALID_RESPONSE = "InvalidResponse"
REASON_CHILD_CONFLICT = "ChildConflict"

MAX_MESSAGE = 2048
"""Condition messages are cut to this many characters (the API allows 32768; nobody reads more)."""


def format_time(now: datetime) -> str:
    """RFC 3339 in UTC with seconds precision, as the API server writes times."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_condition(status: Mapping[str, Any] | None, type_: str) -> dict[str, Any] | None:
    """The condition of this type in a status, or None."""
    if not isinstance(status, Mapping):
        return None
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return None
    for condition in conditions:
        if isinstance(condition, dict) and condition.get("type") == type_:
            return condition
    return None


def _previous_condition(previous: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    # ``previous`` may be the previous status (holding conditions) or the previous condition.
    if not isinstance(previous, Mapping):
        return None
    if "conditions" not in previous and previous.get("type") == type_:
        return previous
    return find_condition(previous, type_)


def transition_time(
    status_value: str, previous: Mapping[str, Any] | None, now: datetime
) -> str:
    if previous is not None and previous.get("status") == status_value:
        kept = previous.get("lastTransitionTime")
        if isinstance(kept, str) and kept:
            return kept
    return format_time(now)


def with_condition(
    status: Mapping[str, Any] | None,
    type: str,  # the Kubernetes field name, and the name callers use
    status_value: str,
    reason: str,
    message: str,
    now: datetime,
    previous: Mapping[str, Any] | None = None,
    *,
    observed_generation: int | None = None,
) -> dict[str, Any]:
    """A copy of ``status`` with the condition of ``type`` set (replacing one of that type).

    ``previous`` is the status as currently stored, or the stored condition itself; when it
    holds a condition of this type with the same status value its ``lastTransitionTime`` is kept.
    Without ``previous`` the condition found in ``status`` plays that role. Other conditions
    keep their place; a new condition is appended.
    """
    if isinstance(status_value, bool):
        status_value = "True" if status_value else "False"
    base = dict(status) if isinstance(status, Mapping) else {}
    before = _previous_condition(previous if previous is not None else base, type)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    condition: dict[str, Any] = {
        "type": type,
        "status": status_value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition_time(status_value, before, now),
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    conditions = base.get("conditions")
    conditions = list(conditions) if isinstance(conditions, list) else []
    for index, existing in enumerate(conditions):
        if isinstance(existing, dict) and existing.get("type") == type:
            conditions[index] = condition
            break
    else:
        conditions.append(condition)
    base["conditions"] = conditions
    return base


def fill_transition_times(
    status: dict[str, Any], previous: Mapping[str, Any] | None, now: datetime
) -> None:
    """Give the user's conditions that lack one a ``lastTransitionTime`` (in place).

    A pure handler cannot read the clock, so it leaves the time out; it is kept from the stored
    condition of the same type while the condition's status does not change.
    """
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return
    for index, condition in enumerate(conditions):
        if isinstance(condition, dict) and "lastTransitionTime" not in condition:
            before = find_condition(previous, condition.get("type", ""))
            filled = dict(condition)
            filled["lastTransitionTime"] = transition_time(
                str(condition.get("status", "")), before, now
            )
            conditions[index] = filled
