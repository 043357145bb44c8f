"""The fake API server's clocks and its time format.

Timestamps, watch timeouts, bookmark periods, fault latency and the emulated
controllers all read time through a ``Clock`` so that a test can run hours of
operator behaviour in milliseconds. There is one virtual clock,
``kubeplan.testkit.vtime.LoopClock`` (time read from a ``VirtualTimeLoop``, which jumps
over idle waits and can also be stepped by hand with ``advance``/``set``);
``VirtualClock`` is the same class under the name this package has always exported.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.testkit.vtime import LoopClock

__all__ = ["Clock", "SystemClock", "VirtualClock", "format_time", "parse_time"]

#: The one virtual clock under its old name (the same class, not a second mechanism).
VirtualClock = LoopClock


def format_time(when: datetime) -> str:
    """RFC 3339 with seconds precision in UTC, as Kubernetes renders ``metav1.Time``."""
    # A write formats "now" several times, and every write in a second gives the same
    # text: remember the last second (the text depends on nothing else).
    global _last_formatted
    second = when.timestamp() // 1
    if _last_formatted[0] != second:
        _last_formatted = (second, when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _last_formatted[1]


_last_formatted: tuple[float, str] = (float("nan"), "")


def parse_time(text: str) -> datetime:
    """The inverse of ``format_time`` (accepts fractional seconds too)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
