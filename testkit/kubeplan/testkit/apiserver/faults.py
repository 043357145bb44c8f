"""Fault injection: make the next N matching requests fail, slow down or misbehave.

Operators are only as good as their handling of a misbehaving API server, so faults
are a public test hook: ``server.faults.add(Fault.error(500, verb="update"))``.
A fault matches on verb, resource plural, namespace, name and subresource (``None``
matches anything) and fires for its next ``count`` matching requests, then expires.
Faults are applied in ``FakeApiServer.handle``, so both faces see them.
"""

from __future__ import annotations

from typing import Literal

import attrs

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.apiserver import status

__all__ = ["Fault", "FaultInjector", "FaultKind"]

FaultKind = Literal["error", "too_many_requests", "latency", "watch_drop", "watch_stall"]

_DEFAULT_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@attrs.define
class Fault:
    """One injected misbehaviour; build it with the class methods."""

    kind: FaultKind
    verb: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    count: int = 1
    code: int = 500
    reason: str | None = None
    message: str | None = None
    retry_after: int = 1
    seconds: float = 0.0
    after_events: int = 0
    fired: int = 0

    @classmethod
    def error(
        cls, code: int = 500, reason: str | None = None, message: str | None = None, **match: object
    ) -> Fault:
        """Answer with a ``kind: Status`` error instead of handling the request."""
        return cls("error", code=code, reason=reason, message=message, **match)  # type: ignore[arg-type]

    @classmethod
    def too_many_requests(cls, retry_after: int = 1, **match: object) -> Fault:
        """429 with ``Retry-After`` (header and details.retryAfterSeconds)."""
        return cls("too_many_requests", code=429, retry_after=retry_after, **match)  # type: ignore[arg-type]

    @classmethod
    def latency(cls, seconds: float, **match: object) -> Fault:
        """Delay the request by ``seconds`` of clock time, then handle it normally."""
        return cls("latency", seconds=seconds, **match)  # type: ignore[arg-type]

    @classmethod
    def watch_drop(cls, after_events: int = 0, **match: object) -> Fault:
        """End a watch stream after ``after_events`` events (a dropped connection)."""
        match.setdefault("verb", "watch")
        return cls("watch_drop", after_events=after_events, **match)  # type: ignore[arg-type]

    @classmethod
    def watch_stall(cls, after_events: int = 0, **match: object) -> Fault:
        """Keep a watch open but silent after ``after_events`` events (a hung connection)."""
        match.setdefault("verb", "watch")
        return cls("watch_stall", after_events=after_events, **match)  # type: ignore[arg-type]

    @property
    def remaining(self) -> int:
        return max(0, self.count - self.fired)

    def matches(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None,
        subresource: str | None,
    ) -> bool:
        if self.remaining <= 0:
            return False
        return (
            (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource == resource)
            and (self.namespace is None or self.namespace == (namespace or ""))
            and (self.name is None or self.name == name)
            and (self.subresource is None or self.subresource == subresource)
        )

    def to_error(self) -> status.StatusError:
        if self.kind == "too_many_requests":
            return status.too_many_requests(self.retry_after, self.message)
        reason = self.reason if self.reason is not None else _DEFAULT_REASONS.get(self.code, "")
        return status.StatusError(
            status.status_body(self.code, reason, self.message or f"injected fault ({self.code})")
        )


class FaultInjector:
    """The active faults, consulted once per request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.count < 1:
            raise InvalidArgument("a fault must fire at least once (count >= 1)")
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        return [f for f in self._faults if f.remaining > 0]

    def take(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None,
        subresource: str | None,
    ) -> list[Fault]:
        """Faults firing for this request (each consumes one of its count)."""
        fired = []
        watch_taken = False
        for fault in self._faults:
            if not fault.matches(verb, resource, namespace, name, subresource):
                continue
            if fault.kind in ("watch_drop", "watch_stall"):
                if verb != "watch" or watch_taken:
                    continue
                watch_taken = True
            fault.fired += 1
            fired.append(fault)
        self._faults = [f for f in self._faults if f.remaining > 0]
        return fired
