"""Replaying a recording (``kubeplan run --record FILE``) against an operator, in virtual
time: an incident becomes a test that fails until the operator is fixed.

A recording is not a ``Scenario``: a scenario is steps to perform (create this parent,
inject that fault) and lets the fake work out what follows; a recording is what was
observed (the watch events the caches took, the server's answers to each write) and
what was decided (each sync's request digest and plan). Replaying it needs no API
server, only those answers, so it has its own format (``kubeplan.adapters.recording``).

``replay(recording, operator)``:

1. builds the real ``Operator`` from the definition, on a ``VirtualTimeLoop`` whose
   clock starts where the recording began, with a scripted client that answers each
   request from the recording instead of a server;
2. walks the records in order: each list and watch event is handed to the watch cache
   that took it (``WatchCache.replay_list`` / ``replay_event``), time moves to each
   record's instant, and at each recorded sync the operator's own ``sync`` runs for the
   same parent at the same instant (the handler, the planner, the executor);
3. compares, sync by sync, the request's digest (did the caches hold what they held
   then?) and the plan (``Plan.lines()``: actions and reasons) with the recorded ones,
   and checks every request the executor makes has a recorded answer;
4. stops at the first divergence, and says which sync, which parent, what was expected
   and what came (``ReplayResult.first_divergence``).

Limits: a sync's writes are answered as the server answered them then, so a replay
checks decisions, not what the server would do with different writes; an operator that
writes Secrets replays with redacted values unless recorded with ``record_secrets``.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import orjson

from kubeplan.adapters.cache import WatchCache
from kubeplan.adapters.errors import ApiError, error_from_status
from kubeplan.adapters.protocol import PatchType, PropagationPolicy, RawObject
from kubeplan.adapters.recording import (
    FORMAT,
    Recorder,
    current_sync,
    plan_lines,
    redact,
    request_digest,
    type_name,
)
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.errors import KubeplanError
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.plan import Plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit.simulation import as_definition
from kubeplan.testkit.vtime import LoopClock, run_virtual

__all__ = [
    "REPLAY_SETTINGS",
    "Divergence",
    "Recording",
    "RecordingError",
    "ReplayResult",
    "areplay",
    "assert_replays",
    "replay",
]

#: how the replayed operator runs: handlers on the loop (deterministic), no Events (they
#: are not decisions), no resync or requeue timers (the recording says when syncs ran)
REPLAY_SETTINGS = RuntimeSettings(
    handler_threads=False, post_events=False, resync_period=None, requeue_base=0.0,
    requeue_qps=None, seed=0,
)

#: the fields each kind of record must have
_FIELDS: dict[str, tuple[str, ...]] = {
    "header": ("format", "operator", "parent", "started"),
    "list": ("type", "namespace", "selector", "items", "resourceVersion", "t"),
    "event": ("type", "namespace", "selector", "event", "t"),
    "watch_error": ("type", "t"),
    "call": ("sync", "verb", "type", "namespace", "name", "code", "t"),
    "sync": ("sync", "namespace", "name", "now", "digest", "t"),
    "plan": ("sync", "namespace", "name", "lines", "t"),
    "done": ("sync", "namespace", "name", "outcome", "t"),
}


class RecordingError(KubeplanError, ValueError):
    """A recording that cannot be read or does not fit the operator; names the line."""


@attrs.frozen
class Recording:
    """A loaded recording: the header and the records, each with its line number."""

    source: str
    header: Mapping[str, Any]
    records: tuple[tuple[int, Mapping[str, Any]], ...]
    #: the file was cut off (loaded with ``partial=True``): its last line was dropped
    truncated: bool = False

    @classmethod
    def load(cls, path: str | Path, *, partial: bool = False) -> Recording:
        """Read a recording file; ``RecordingError`` names the line that is wrong.

        ``partial=True`` accepts a file cut off in its last line (the process was killed
        before it flushed): that line is dropped, and a replay stops before the first
        sync whose end the file does not hold."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RecordingError(f"cannot read the recording {path}: {exc}") from None
        return cls.parse(data, source=str(path), partial=partial)

    @classmethod
    def parse(cls, data: bytes | str, *, source: str = "<recording>",
              partial: bool = False) -> Recording:
        """Parse a recording's JSON lines (``source`` names it in errors)."""
        raw = data.encode() if isinstance(data, str) else data
        lines = raw.split(b"\n")
        ends_cleanly = raw.endswith(b"\n")
        if ends_cleanly:
            lines.pop()
        records: list[tuple[int, Mapping[str, Any]]] = []
        truncated = False
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                if number == len(lines) and not ends_cleanly:
                    if partial and records:
                        truncated = True
                        break
                    raise RecordingError(
                        f"{source} line {number}: truncated (the last record is cut off: "
                        f"was the operator killed before the recording was flushed?)"
                    ) from None
                raise RecordingError(f"{source} line {number}: not JSON ({exc})") from None
            if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
                raise RecordingError(
                    f"{source} line {number}: not a record (a JSON object with a 'kind')")
            kind = record["kind"]
            if kind not in _FIELDS:
                raise RecordingError(f"{source} line {number}: unknown record kind {kind!r} "
                                     f"(known: {', '.join(sorted(_FIELDS))})")
            missing = [f for f in _FIELDS[kind] if f not in record]
            if missing:
                raise RecordingError(f"{source} line {number}: a {kind!r} record without "
                                     f"{', '.join(repr(m) for m in missing)}")
            if (kind == "header") != (not records):
                raise RecordingError(
                    f"{source} line {number}: " + ("a second header" if kind == "header"
                                                   else "the first record is not a header"))
            records.append((number, record))
        if not records:
            raise RecordingError(f"{source}: empty (no header)")
        header = records[0][1]
        if header["format"] != FORMAT:
            raise RecordingError(f"{source} line {records[0][0]}: format "
                                 f"{header['format']!r}, expected {FORMAT!r}")
        return cls(source=source, header=header, records=tuple(records[1:]),
                   truncated=truncated)

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.header["started"])

    @property
    def syncs(self) -> int:
        """How many syncs were recorded."""
        return sum(1 for _, record in self.records if record["kind"] == "sync")


@attrs.frozen
class Divergence:
    """Where the replay first differed from the recording.

    ``what``: ``request`` (the sync saw other objects than it did then: the caches were
    fed differently, or the definition watches other things), ``plan`` (the operator
    decided differently), ``call`` (it made a request the recording holds no answer
    for) or ``sync`` (the replay could not sync that parent at all)."""

    sync: int
    parent: str
    what: str
    expected: tuple[str, ...]
    got: tuple[str, ...]
    line: int

    def __str__(self) -> str:
        def block(lines: tuple[str, ...]) -> str:
            return "\n".join(f"    {line}" for line in lines) or "    (nothing)"

        return (f"replay diverged at sync {self.sync} of {self.parent} (recording line "
                f"{self.line}): the {self.what} differs\n  expected:\n{block(self.expected)}"
                f"\n  got:\n{block(self.got)}")


@attrs.define
class ReplayResult:
    """What a replay came to: the plans it made (sync number, parent, plan lines) and the
    first divergence, if any."""

    source: str
    plans: list[tuple[int, str, tuple[str, ...]]] = attrs.field(factory=list)
    first_divergence: Divergence | None = None

    @property
    def diverged(self) -> bool:
        return self.first_divergence is not None

    @property
    def syncs(self) -> int:
        """Syncs replayed and found equal."""
        return len(self.plans)

    def __str__(self) -> str:
        if self.first_divergence is not None:
            return f"{self.source}: {self.first_divergence}"
        return f"{self.source}: {self.syncs} syncs replayed, every plan the same"


class _Diverged(Exception):
    def __init__(self, divergence: Divergence) -> None:
        super().__init__(str(divergence))
        self.divergence = divergence


def _parent_name(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


class _Tap(Recorder):
    """The replayed operator's recorder: compares each sync with the recorded one."""

    def __init__(self, recording: Recording) -> None:
        super().__init__("<replay>")
        self.redacted = bool(recording.header.get("redacted", True))
        self.plans: dict[int, tuple[int, Mapping[str, Any]]] = {}
        for line, record in recording.records:
            if record["kind"] == "plan":
                self.plans[record["sync"]] = (line, record)
        self.expected: tuple[int, Mapping[str, Any]] | None = None
        self.started: int | None = None
        self.made: list[tuple[int, str, tuple[str, ...]]] = []

    def _diverge(self, what: str, expected: list[str], got: list[str]) -> _Diverged:
        assert self.expected is not None
        line, record = self.expected
        return _Diverged(Divergence(
            sync=record["sync"], parent=_parent_name(record["namespace"], record["name"]),
            what=what, expected=tuple(expected), got=tuple(got), line=line))

    def sync_started(self, number: int, key: tuple[str, str], request: SyncRequest) -> None:
        if self.expected is None:
            return
        self.started = number
        record = self.expected[1]
        digest = request_digest(request, redacted=self.redacted)
        if digest != record["digest"]:
            raise self._diverge(
                "request", [f"digest {record['digest']}"],
                [f"digest {digest}", *_describe_request(request)])

    def planned(self, number: int, key: tuple[str, str], plan: Plan) -> None:
        if self.expected is None:
            return
        got = plan_lines(plan, redacted=self.redacted)
        recorded = self.plans.get(number)
        if recorded is None:
            raise self._diverge("plan", ["(no plan recorded: the sync ended before "
                                         "planning)"], got)
        expected = list(recorded[1]["lines"])
        if got != expected:
            self.expected = (recorded[0], self.expected[1])
            raise self._diverge("plan", expected, got)
        self.made.append((number, _parent_name(key[0] or None, key[1]), tuple(got)))


def _describe_request(request: SyncRequest) -> list[str]:
    meta = request.parent.get("metadata") or {}
    out = [f"parent resourceVersion {meta.get('resourceVersion')}, now "
           f"{request.now.isoformat() if request.now else None}"]
    for type_ in request.children.types:
        for obj in request.children.of(type_).objects():
            m = obj.get("metadata") or {}
            out.append(f"child {type_} {m.get('name')} resourceVersion "
                       f"{m.get('resourceVersion')}")
    return out


class _ScriptedClient:
    """Answers the replayed operator's requests from the recording (by sync number,
    verb, type, namespace and name); lists and watches are never made (the replay feeds
    the caches itself)."""

    def __init__(self, recording: Recording) -> None:
        self.calls: dict[int | None, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
        for line, record in recording.records:
            if record["kind"] == "call":
                self.calls[record["sync"]].append((line, record))
        self.unanswered: list[str] = []

    def _answer(self, verb: str, type_: K8sType, namespace: str | None,
                name: str | None) -> RawObject:
        sync = current_sync.get()
        queue = self.calls.get(sync, [])
        wanted = (verb, type_name(type_), namespace, name)
        for index, (_line, record) in enumerate(queue):
            if (record["verb"], record["type"], record["namespace"], record["name"]) == wanted:
                del queue[index]
                if "error" in record:
                    raise error_from_status(int(record["code"]), dict(record["error"]))
                answer: RawObject = copy.deepcopy(record["object"])
                return answer
        where = f"{namespace}/{name}" if namespace else str(name)
        self.unanswered.append(f"{verb} {type_} {where}")
        raise ApiError(0, "NotRecorded", f"the recording holds no answer to {verb} "
                                         f"{type_} {where} in sync {sync}")

    async def get(self, type_: K8sType, name: str, namespace: str | None = None) -> RawObject:
        return self._answer("get", type_, namespace, name)

    async def list(self, type_: K8sType, namespace: str | None = None,
                   **_kw: Any) -> RawObject:
        raise ApiError(0, "NotRecorded", f"a replay makes no list ({type_})")

    def watch(self, type_: K8sType, namespace: str | None = None,
              **_kw: Any) -> AsyncIterator[RawObject]:
        raise ApiError(0, "NotRecorded", f"a replay makes no watch ({type_})")

    async def create(self, type_: K8sType, obj: RawObject, *, namespace: str | None = None,
                     dry_run: bool = False, field_manager: str | None = None) -> RawObject:
        meta = obj.get("metadata") or {}
        return self._answer("create", type_, namespace or meta.get("namespace"),
                            meta.get("name"))

    async def replace(self, type_: K8sType, obj: RawObject, *,
                      dry_run: bool = False) -> RawObject:
        meta = obj.get("metadata") or {}
        return self._answer("replace", type_, meta.get("namespace"), meta.get("name"))

    async def apply(self, type_: K8sType, obj: RawObject, *, field_manager: str,
                    force: bool = True, dry_run: bool = False,
                    subresource: str | None = None) -> RawObject:
        meta = obj.get("metadata") or {}
        verb = f"apply/{subresource}" if subresource else "apply"
        return self._answer(verb, type_, meta.get("namespace"), meta.get("name"))

    async def patch(self, type_: K8sType, name: str, patch: Any, *,
                    namespace: str | None = None, patch_type: PatchType = "merge",
                    field_manager: str | None = None, subresource: str | None = None,
                    dry_run: bool = False) -> RawObject:
        verb = f"patch/{subresource}" if subresource else "patch"
        return self._answer(verb, type_, namespace, name)

    async def replace_status(self, type_: K8sType, obj: RawObject) -> RawObject:
        meta = obj.get("metadata") or {}
        return self._answer("replace/status", type_, meta.get("namespace"), meta.get("name"))

    async def delete(self, type_: K8sType, name: str, namespace: str | None = None, *,
                     uid: str | None = None, resource_version: str | None = None,
                     propagation_policy: PropagationPolicy | None = None,
                     dry_run: bool = False) -> RawObject:
        return self._answer("delete", type_, namespace, name)

    async def close(self) -> None:
        return None


def _redacted_result(result: Any) -> Any:
    """A handler's result with its Secret children redacted as the recording's objects
    are, so that a Secret it wrote compares equal to the one recorded."""
    if isinstance(result, SyncResponse | FinalizeResponse) and result.children:
        return attrs.evolve(result, children=[redact(child) for child in result.children])
    return result


class _Redacting:
    """The handler, its results redacted (a recording without Secret values)."""

    def __init__(self, handler: Any) -> None:
        self._info = HandlerInfo.of(handler)
        if self._info.finalize is not None:
            self.finalize = self._finalize

    async def sync(self, request: SyncRequest) -> Any:
        return _redacted_result(await self._call(self._info.sync, request))

    async def _finalize(self, request: SyncRequest) -> Any:
        assert self._info.finalize is not None
        return _redacted_result(await self._call(self._info.finalize, request))

    @staticmethod
    async def _call(fn: Any, request: SyncRequest) -> Any:
        result = fn(request)
        return await result if inspect.isawaitable(result) else result


class _PinnedClock(LoopClock):
    """The loop's virtual clock, whose ``now()`` is pinned to a recorded sync's instant
    while that sync runs (the recording holds it to the microsecond)."""

    pinned: datetime | None = None

    def now(self) -> datetime:
        return self.pinned if self.pinned is not None else super().now()


async def areplay(recording: Recording | str | Path, operator: Any, *,
                  settings: RuntimeSettings | None = None) -> ReplayResult:
    """``replay`` on the running event loop (a ``VirtualTimeLoop``: ``run_virtual``)."""
    rec = recording if isinstance(recording, Recording) else Recording.load(recording)
    definition = as_definition(operator)
    config = definition.config
    if rec.header["parent"] != type_name(config.parent):
        raise RecordingError(
            f"{rec.source}: recorded operator {rec.header['operator']!r} watched parents "
            f"{rec.header['parent']}, but this operator's parent is {type_name(config.parent)}")
    if config.sources:
        raise RecordingError(
            f"operator {config.name!r} reads external sources ({', '.join(config.sources)}), "
            "and recordings do not hold their answers yet: it cannot be replayed")
    clock = _PinnedClock(epoch=rec.started)
    tap = _Tap(rec)
    client = _ScriptedClient(rec)
    handler = _Redacting(definition.handler) if tap.redacted else definition.handler
    op = Operator(config, handler, client, settings=settings or REPLAY_SETTINGS,
                  clock=clock, recorder=tap)
    caches: dict[tuple[str, str | None, str | None], WatchCache] = {
        (type_name(cache.type), cache.namespace, cache.label_selector): cache
        for cache in op.caches
    }
    result = ReplayResult(source=rec.source)
    ended = {record["sync"] for _, record in rec.records if record["kind"] == "done"}
    loop = asyncio.get_running_loop()
    for line, record in rec.records:
        kind = record["kind"]
        if kind not in ("list", "event", "sync"):
            continue
        at = record["t"] / 1e6
        if at > loop.time():
            clock.advance(at - loop.time())
            await asyncio.sleep(0)  # what is due runs (the queue's timers)
        if kind in ("list", "event"):
            cache = caches.get((record["type"], record["namespace"], record["selector"]))
            if cache is None:
                raise RecordingError(
                    f"{rec.source} line {line}: a {kind} of {record['type']} (namespace "
                    f"{record['namespace']}, selector {record['selector']}) this operator "
                    f"does not watch")
            if kind == "list":
                cache.replay_list(list(record["items"]), record["resourceVersion"])
            else:
                cache.replay_event(dict(record["event"]))
            continue
        # a sync: the same parent, at the same instant, numbered as it was
        if rec.truncated and record["sync"] not in ended:
            break  # the file was cut off before this sync ended: the replay ends here
        tap.expected, tap.started = (line, record), None
        clock.pinned = (datetime.fromisoformat(record["now"]) if record["now"]
                        else rec.started + timedelta(microseconds=record["t"]))
        op.syncs = record["sync"] - 1
        key = (record["namespace"] or "", record["name"])
        try:
            await op.sync(key)
        except _Diverged as exc:
            result.first_divergence = exc.divergence
            break
        finally:
            clock.pinned = None
        parent = _parent_name(record["namespace"], record["name"])
        if tap.started != record["sync"]:
            result.first_divergence = Divergence(
                sync=record["sync"], parent=parent, what="sync",
                expected=("synced",),
                got=("not synced: the parent is not in the replayed cache, or is "
                     "terminating without our finalizer",), line=line)
            break
        if client.unanswered:
            result.first_divergence = Divergence(
                sync=record["sync"], parent=parent, what="call",
                expected=("only requests the recording answers",),
                got=tuple(client.unanswered), line=line)
            break
    result.plans = tap.made
    return result


def replay(recording: Recording | str | Path, operator: Any, *,
           settings: RuntimeSettings | None = None) -> ReplayResult:
    """Replay ``recording`` (a ``Recording`` or a file) against ``operator`` (an
    ``OperatorDefinition`` or a ``(config, handler)`` pair) on a fresh virtual-time loop;
    see the module docstring. Must not be called from a running event loop (``areplay``)."""
    return run_virtual(areplay(recording, operator, settings=settings))


class ReplayDiverged(KubeplanError, AssertionError):
    """A replay whose plans are not the recorded ones (``assert_replays``)."""


def assert_replays(recording: Recording | str | Path, operator: Any, *,
                   settings: RuntimeSettings | None = None) -> ReplayResult:
    """``replay``, raising ``ReplayDiverged`` (an ``AssertionError``) with the first
    divergence (a pytest test in one line); returns the result when every plan is the
    same."""
    result = replay(recording, operator, settings=settings)
    if result.first_divergence is not None:
        raise ReplayDiverged(str(result))
    return result
