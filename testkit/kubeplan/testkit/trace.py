"""The record of one scenario run: steps, the plans the operator executed, every API write.

A ``Trace`` is plain data collected while a scenario runs (``kubeplan.testkit.runner``) and
read afterwards by the invariants (``kubeplan.testkit.invariants``) and by people:
``str(trace)`` interleaves, in the order they happened, each step, each non-empty plan the
operator executed (the plan's own text) and each write request the fake API server logged,
with the virtual time of each. Everything in it comes from the run's virtual clock and the
seeded fake server, so the same scenario with the same seed gives the same text, byte for
byte; that is what makes a saved failing scenario a regression test.

``ClusterState`` is a snapshot of the objects an operator cares about (its parents and every
object of its child types), taken at the end of the run, so invariants can be checked after
the event loop that ran the scenario is gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kubeplan.core.config import OperatorConfig
from kubeplan.core.objects import (
    controller_ref_of,
    is_terminating,
    name_of,
    namespace_of,
    uid_of,
)
from kubeplan.core.types import K8sType
from kubeplan.testkit.scenario import Scenario

if TYPE_CHECKING:
    from kubeplan.testkit.apiserver.server import FakeApiServer

__all__ = [
    "ChildChange",
    "ClusterState",
    "ForeignObject",
    "HandlerCalls",
    "PlanRecord",
    "StepRecord",
    "Trace",
    "WriteRecord",
    "describe_key",
]

RawObject = dict[str, Any]
#: (namespace or "", name) of a parent
ParentKey = tuple[str, str]

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})

# Event names end in a random suffix chosen by the runtime (``<parent>.<16 hex>``); the
# trace masks it so that the text stays the same from run to run.
_EVENT_SUFFIX = re.compile(r"\.[0-9a-f]{16}$")


def describe_key(namespace: str | None, name: str | None) -> str:
    """``default/p0`` for a namespaced object, ``p0`` for a cluster-scoped one."""
    return f"{namespace}/{name}" if namespace else str(name)


def _time(seconds: float) -> str:
    return f"t={seconds:.3f}s"


@attrs.frozen
class StepRecord:
    """One scenario step as it ran: when, and what came of it (``ok`` or why it failed).

    ``request_index`` is the length of the fake's request log when the step began, which
    places the step among the writes; ``parent_uid`` is the uid of the parent a parent step
    acted on (the parent a ``DeleteParent`` deleted, so invariants can follow it).
    """

    index: int
    description: str
    time: float
    request_index: int
    outcome: str = "ok"
    parent_uid: str | None = None
    parent_had_finalizer: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@attrs.frozen
class PlanRecord:
    """One plan the operator executed: for which parent, during which step, what it said."""

    step: int
    time: float
    request_index: int
    parent: ParentKey
    parent_uid: str | None
    text: str
    actions: int
    failures: tuple[str, ...] = ()
    conflict: bool = False


@attrs.frozen
class WriteRecord:
    """One write request from the fake's request log (reads and watches are left out)."""

    step: int
    time: float
    request_index: int
    actor: str
    method: str
    verb: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None
    status: int

    @property
    def succeeded(self) -> bool:
        return self.status < 400

    @property
    def target(self) -> str:
        name = self.name
        if name and self.resource == "events":
            name = _EVENT_SUFFIX.sub(".*", name)
        where = describe_key(self.namespace, name) if name else f"{self.namespace or ''} (new)"
        sub = f"/{self.subresource}" if self.subresource else ""
        return f"{self.resource}{sub} {where.strip()}"

    def line(self) -> str:
        return f"{self.actor} {self.verb} {self.target} -> {self.status}"


@attrs.frozen
class ForeignObject:
    """An object the operator does not own (there before it started, or created by the
    scenario), with the stretch of the request log during which it existed."""

    resource: str
    namespace: str | None
    name: str
    uid: str
    since: int
    until: int | None = None
    origin: str = "pre-existing"

    def describe(self) -> str:
        return f"{self.resource} {describe_key(self.namespace, self.name)} ({self.origin})"


@attrs.frozen
class ChildChange:
    """One committed change of a child of a rolling type, from the fake's event log:
    ``event`` ADDED, MODIFIED or DELETED, ``obj`` the new (for DELETED: the last) state,
    ``prev`` the state before; ``request_index`` places it among the writes (the request
    that made it, when one did)."""

    time: float
    request_index: int
    type_key: str
    event: str
    namespace: str | None
    name: str
    obj: RawObject = attrs.field(repr=False)
    prev: RawObject | None = attrs.field(default=None, repr=False)


@attrs.define
class HandlerCalls:
    """How often the handler ran for one parent (by uid), and what finalize answered."""

    syncs: int = 0
    finalizes: int = 0
    finalized: int = 0
    raised: int = 0
    max_children: int = 0
    #: calls that raised ``PermanentError``, and calls made again with the inputs of one
    #: that did (the same parent but for its status, the same children and related
    #: objects at the same resourceVersions): each such repeat is a violation
    permanent: int = 0
    repeated_permanent: int = 0
    #: the parent, and the virtual time of the first repeat (for the message)
    where: str = ""
    first_repeat: float | None = None


@attrs.frozen
class ClusterState:
    """The parents of one operator and every object of its child types, at one instant;
    ``related``: every object of its related types (``with_related``); ``sources``: the
    items each external source serves."""

    config: OperatorConfig
    parents: tuple[RawObject, ...]
    objects: Mapping[K8sType, tuple[RawObject, ...]]
    time: float = 0.0
    related: Mapping[K8sType, tuple[RawObject, ...]] = attrs.field(factory=dict)
    #: each external source's items as the source serves them (``with_source``)
    sources: Mapping[str, Sequence[RawObject]] = attrs.field(factory=dict)

    @classmethod
    def capture(
        cls, server: FakeApiServer, config: OperatorConfig, time: float = 0.0,
        sources: Mapping[str, Sequence[RawObject]] | None = None,
    ) -> ClusterState:
        """Read the fake's store directly (no request, no fault, nothing logged);
        ``sources``: the external sources' items (the simulation scripts them)."""
        objects = {t: tuple(_stored(server, t)) for t in config.child_types}
        related = {t: tuple(_stored(server, t)) for t in config.related_types}
        return cls(config, tuple(_stored(server, config.parent)), objects, time, related,
                   dict(sources or {}))

    def live_parents(self) -> Iterator[RawObject]:
        """Parents that are not being deleted."""
        return (p for p in self.parents if not is_terminating(p))

    def parent_by_uid(self, uid: str | None) -> RawObject | None:
        return next((p for p in self.parents if uid_of(p) == uid), None)

    def all_children(self) -> Iterator[tuple[K8sType, RawObject]]:
        for type_, objs in self.objects.items():
            for obj in objs:
                yield type_, obj

    def owned_by(self, parent_uid: str | None) -> list[tuple[K8sType, RawObject]]:
        """Objects whose controller ownerReference points at ``parent_uid``."""
        return [
            (t, o)
            for t, o in self.all_children()
            if (controller_ref_of(o) or {}).get("uid") == parent_uid
        ]

    def find(self, type_: K8sType, namespace: str | None, name: str) -> RawObject | None:
        for obj in self.objects.get(type_, ()):
            if name_of(obj) == name and (namespace_of(obj) or None) == (namespace or None):
                return obj
        return None


def _stored(server: FakeApiServer, type_: K8sType) -> Iterable[RawObject]:
    info = server.registry.lookup(type_.group, type_.version, type_.plural)
    if info is None:
        return []
    return [server.writer.present(obj, info) for obj in server.store.objects(info.group_resource)]


@attrs.define
class Trace:
    """Everything one scenario run recorded; ``str(trace)`` is the readable, stable text.

    ``hot_loop`` is set when the run was stopped because the operator never went quiet,
    ``stopped`` when it was stopped at the first settle after a write the server refused
    as invalid (``refused_writes`` lists each such write; injected faults are not
    among them); ``quiet_writes`` are the writes of the extra resync the runner makes
    after the final settle (None when that check was not run).
    """

    scenario: Scenario
    operator: str
    has_finalize: bool = False
    steps: list[StepRecord] = attrs.field(factory=list)
    plans: list[PlanRecord] = attrs.field(factory=list)
    writes: list[WriteRecord] = attrs.field(factory=list)
    foreign: list[ForeignObject] = attrs.field(factory=list)
    calls: dict[str, HandlerCalls] = attrs.field(factory=dict)
    syncs: int = 0
    final: ClusterState | None = None
    quiet_writes: list[WriteRecord] | None = None
    quiet_since: int | None = None
    hot_loop: str | None = None
    stopped: str | None = None
    #: the operator's writes the server refused as invalid (400, 422), no fault injected
    refused_writes: list[str] = attrs.field(factory=list)
    duration: float = 0.0
    #: operator writes to parents its filters did not select (``assert_filters_respected``)
    filtered_writes: list[str] = attrs.field(factory=list)
    changes: list[ChildChange] = attrs.field(factory=list)
    """The changes of children of rolling types, in commit order (empty without one)."""

    @property
    def operator_writes(self) -> list[WriteRecord]:
        """The operator's successful writes, Events left out (they report, not change)."""
        return [
            w
            for w in self.writes
            if w.actor == "operator" and w.succeeded and w.resource != "events"
        ]

    def distinct_refusals(self) -> list[str]:
        """``refused_writes`` with each write once, its first refusal (a retry repeats
        it), oldest first."""
        first: dict[str, str] = {}
        for line in self.refused_writes:
            first.setdefault(line.split(" (during ", 1)[0], line)
        return list(first.values())

    def plans_for(self, parent_uid: str | None) -> list[PlanRecord]:
        return [p for p in self.plans if p.parent_uid == parent_uid]

    def step_label(self, index: int) -> str:
        if 0 <= index < len(self.steps):
            return f"step {index + 1} ({self.steps[index].description})"
        return "the final settle" if index >= len(self.steps) else "start-up"

    def lines(self) -> list[str]:
        title = self.scenario.name or "scenario"
        out = [
            f"Trace of {title} for operator {self.operator!r} "
            f"(seed {self.scenario.seed}, {len(self.scenario.steps)} steps)"
        ]
        events: list[tuple[int, int, int, str | list[str]]] = []
        for step in self.steps:
            outcome = "" if step.ok else f"  [{step.outcome}]"
            head = f"step {step.index + 1} {_time(step.time)}: {step.description}{outcome}"
            events.append((step.request_index, 0, step.index, head))
        for plan in self.plans:
            body = [f"  {_time(plan.time)} plan for {describe_key(*plan.parent)}:"]
            body += [f"      {line}" for line in plan.text.splitlines()]
            body += [f"      ! {failure}" for failure in plan.failures]
            if plan.conflict:
                body.append("      ! conflict: synced again")
            events.append((plan.request_index, 1, plan.step, body))
        for write in self.writes:
            line = f"  {_time(write.time)} {write.line()}"
            events.append((write.request_index, 2, write.step, line))
        # Plans are recorded with the request index at which they started executing, so
        # a plan sorts before the writes it made and after the step that caused it.
        events.sort(key=lambda e: (e[0], e[1]))
        for _, _, _, text in events:
            out.extend(text if isinstance(text, list) else [text])
        if self.hot_loop:
            out.append(f"stopped: {self.hot_loop}")
        if self.stopped:
            out.append(f"stopped: {self.stopped}")
        if self.quiet_writes is not None:
            out.append(f"quiet check (one more full resync): {len(self.quiet_writes)} writes")
            out += [f"  {w.line()}" for w in self.quiet_writes]
        if self.final is not None:
            children = sum(len(v) for v in self.final.objects.values())
            out.append(
                f"final state {_time(self.final.time)}: {len(self.final.parents)} parents, "
                f"{children} objects of child types; {self.syncs} syncs"
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the text (error messages quote this much)."""
        text = self.lines()
        if len(text) <= lines:
            return "\n".join(text)
        return "\n".join([text[0], f"... ({len(text) - lines} lines left out)", *text[-lines:]])
