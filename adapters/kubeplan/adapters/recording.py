"""Recording what an operator saw and did, as JSON lines, for replay in the testkit.

A ``Recorder`` appends one JSON object per line to a file while the ``Operator`` runs
(``RuntimeSettings.record``, ``kubeplan run --record FILE``):

* ``header``: the format version, the operator's name and types, when recording began;
* ``list``: a watch cache's (re)list as the cache took it (items without managedFields,
  the list's resourceVersion, why it listed);
* ``event``: each watch event a cache received, ERROR events (410 Expired) included;
* ``watch_error``: a watch that failed before any event (the cache then reconnects or
  relists, which the next records show);
* ``call``: one request of the runtime's own (writes, and the GETs a sync makes), with
  the server's answer (``code`` 200 for any success: the client does not tell 200 from
  201) or the status code and error body of a refusal (409 conflicts, 422, ...), tagged
  with the sync it belongs to;
* ``sync``: a sync began: its number, the parent's key, the instant it used and a digest
  of its request; ``plan``: the plan it made (``plan_lines``: ``Plan.lines()`` with the
  hash of each child desired); ``done``: its outcome.

Every record carries ``t``, microseconds since the header, read from the runtime's
``Clock`` (virtual time in the testkit), so a replay follows the same timeline.

The file is written as records come (buffered, never held whole in memory), flushed
after a sync once ``flush_interval`` has passed since the last flush, and when the
operator stops. Secrets are redacted by default: each value of a Secret's
``data`` and ``stringData`` becomes ``REDACTED_PREFIX`` plus a SHA-256 of the value, so
the keys stay and two equal values still compare equal (a plan that depends on them
replays the same), while the value itself never reaches the file.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.errors import ApiError
from kubeplan.adapters.protocol import ApiClient, PatchType, PropagationPolicy, RawObject
from kubeplan.core.config import ANNOTATION_DESIRED_HASH, OperatorConfig
from kubeplan.core.plan import Plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.types import K8sType

__all__ = [
    "FORMAT",
    "REDACTED_PREFIX",
    "Recorder",
    "RecordingClient",
    "current_sync",
    "plan_lines",
    "redact",
    "request_digest",
    "type_name",
]

log = logging.getLogger(__name__)

_MICROSECOND = timedelta(microseconds=1)

#: the ``format`` of a recording's header; a replay refuses any other
FORMAT = "kubeplan-recording/1"
#: what a redacted Secret value starts with (then the hex SHA-256 of the value)
REDACTED_PREFIX = "redacted:sha256:"

#: the number of the sync running in this task (``None`` outside syncs): the calls a
#: sync makes are tagged with it, the Events it posts in the background too
current_sync: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "kubeplan_current_sync", default=None)


def type_name(type_: K8sType) -> str:
    """``apiVersion/kind`` of a type, as recordings name it."""
    return f"{type_.api_version}/{type_.kind}"


def _redact_values(values: Any) -> Any:
    if not isinstance(values, Mapping):
        return values
    out = {}
    for key, value in values.items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        out[key] = (text if text.startswith(REDACTED_PREFIX) else
                    REDACTED_PREFIX + hashlib.sha256(text.encode()).hexdigest())
    return out


def redact(node: Any) -> Any:
    """``node`` with every Secret in it (an object, a list's items, a watch event's or
    a sync request's objects) carrying hashes instead of values in ``data`` and
    ``stringData``. Copies only what it changes; a redacted value stays as it is."""
    if isinstance(node, list):
        changed = [redact(item) for item in node]
        return changed if any(a is not b for a, b in zip(changed, node, strict=True)) else node
    if not isinstance(node, dict):
        return node
    if node.get("kind") == "Secret" and node.get("apiVersion") == "v1":
        out = dict(node)
        for field in ("data", "stringData"):
            if field in out:
                out[field] = _redact_values(out[field])
        return out
    out = node
    for field in ("items", "object", "parent", "children", "related"):
        if field in node:
            value = redact(node[field])
            if value is not node[field]:
                out = dict(out) if out is node else out
                out[field] = value
    return out


def request_view(request: SyncRequest) -> dict[str, Any]:
    """The request as plain data: what a digest covers."""
    return {
        "parent": request.parent,
        "children": {type_name(t): list(request.children.of(t).objects())
                     for t in request.children.types},
        "related": {type_name(t): list(request.related.of(t).objects())
                    for t in request.related.types},
        "finalizing": request.finalizing,
        "now": request.now.isoformat() if request.now is not None else None,
    }


def request_digest(request: SyncRequest, *, redacted: bool = True) -> str:
    """SHA-256 of the request (parent, children, related objects, finalizing, now) in
    canonical JSON; of its redacted form when ``redacted``, as a recording holds it."""
    view = request_view(request)
    if redacted:
        view = {**view, "parent": redact(view["parent"]),
                "children": {k: redact(v) for k, v in view["children"].items()},
                "related": {k: redact(v) for k, v in view["related"].items()}}
    return hashlib.sha256(orjson.dumps(view, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Recorder:
    """Appends the records of one operator run to ``path`` (JSON lines).

    ``redact_secrets=False`` writes Secret values as they are (keep such a file secret).
    The file is opened by ``start()`` (the runtime calls it when it starts, with its
    clock) and closed, flushed, by ``close()``. A failure to write is logged once and
    ends the recording; it never fails the operator.
    """

    def __init__(self, path: str | Path, *, redact_secrets: bool = True,
                 buffer_size: int = 1 << 16, flush_interval: float = 1.0) -> None:
        self.path = Path(path)
        self.redact_secrets = redact_secrets
        self.buffer_size = buffer_size
        #: after a sync, the buffer is flushed if this long has passed since the last flush
        #: (a killed process loses at most that much, and the buffer's worth)
        self.flush_interval = flush_interval
        self._flushed_at = 0.0
        self.clock: Clock = SystemClock()
        self.records = 0
        self._file: IO[bytes] | None = None
        self._started: datetime | None = None
        self._failed = False

    def __repr__(self) -> str:
        return f"<Recorder {self.path}: {self.records} records>"

    @property
    def active(self) -> bool:
        return self._file is not None

    def start(self, config: OperatorConfig, clock: Clock) -> None:
        """Open the file (truncating it) and write the header."""
        self.clock = clock
        self._started = clock.now()
        try:
            self._file = open(self.path, "wb", buffering=self.buffer_size)  # noqa: SIM115
        except OSError as exc:
            self._fail(exc)
            return
        self._flushed_at = clock.monotonic()
        self._write({
            "kind": "header", "format": FORMAT, "operator": config.name,
            "parent": type_name(config.parent),
            "children": [type_name(t) for t in config.child_types],
            "related": [type_name(t) for t in config.related_types],
            "started": self._started.isoformat(), "redacted": self.redact_secrets,
        })

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self._fail(exc)
            self._file = None

    def _fail(self, exc: OSError) -> None:
        if not self._failed:
            log.error("recording to %s stopped: %s", self.path, exc)
        self._failed = True
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()

    def _elapsed(self) -> int:
        if self._started is None:
            return 0
        return (self.clock.now() - self._started) // _MICROSECOND

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        record["t"] = self._elapsed()
        try:
            self._file.write(orjson.dumps(record) + b"\n")
        except (OSError, TypeError) as exc:
            if isinstance(exc, TypeError):  # not JSON: a bug of ours, not the disk's
                log.exception("recording to %s: a record could not be written", self.path)
                return
            self._fail(exc)
            return
        self.records += 1

    def _clean(self, node: Any) -> Any:
        return redact(node) if self.redact_secrets else node

    # -- what the caches saw --------------------------------------------------------------

    def listed(self, type_: K8sType, namespace: str | None, selector: str | None,
               items: Iterable[RawObject], resource_version: str | None,
               reason: str | None) -> None:
        if self._file is None:
            return
        self._write({"kind": "list", "type": type_name(type_), "namespace": namespace,
                     "selector": selector, "reason": reason,
                     "resourceVersion": resource_version,
                     "items": self._clean(list(items))})

    def event(self, type_: K8sType, namespace: str | None, selector: str | None,
              event: RawObject) -> None:
        if self._file is None:
            return
        self._write({"kind": "event", "type": type_name(type_), "namespace": namespace,
                     "selector": selector, "event": self._clean(event)})

    def watch_error(self, type_: K8sType, namespace: str | None, selector: str | None,
                    error: BaseException) -> None:
        if self._file is None:
            return
        code = error.status if isinstance(error, ApiError) else None
        self._write({"kind": "watch_error", "type": type_name(type_), "namespace": namespace,
                     "selector": selector, "code": code, "error": str(error)})

    # -- what the runtime did -------------------------------------------------------------

    def call(self, verb: str, type_: K8sType, namespace: str | None, name: str | None,
             *, answer: Any = None, error: ApiError | None = None) -> None:
        if self._file is None:
            return
        record: dict[str, Any] = {"kind": "call", "sync": current_sync.get(), "verb": verb,
                                  "type": type_name(type_), "namespace": namespace,
                                  "name": name}
        if error is not None:
            record["code"] = error.status
            record["error"] = self._clean(error.body) or {"message": error.message,
                                                         "reason": error.reason}
        else:
            record["code"] = 200
            record["object"] = self._clean(answer)
        self._write(record)

    def sync_started(self, number: int, key: tuple[str, str], request: SyncRequest) -> None:
        if self._file is None:
            return
        self._write({"kind": "sync", "sync": number, "namespace": key[0] or None,
                     "name": key[1],
                     "now": request.now.isoformat() if request.now is not None else None,
                     "digest": request_digest(request, redacted=self.redact_secrets)})

    def planned(self, number: int, key: tuple[str, str], plan: Plan) -> None:
        if self._file is None:
            return
        self._write({"kind": "plan", "sync": number, "namespace": key[0] or None,
                     "name": key[1], "lines": plan_lines(plan, redacted=self.redact_secrets)})

    def synced(self, number: int, key: tuple[str, str], outcome: str) -> None:
        if self._file is None:
            return
        self._write({"kind": "done", "sync": number, "namespace": key[0] or None,
                     "name": key[1], "outcome": outcome})
        now = self.clock.monotonic()
        if self._file is not None and now - self._flushed_at >= self.flush_interval:
            self._flushed_at = now
            try:
                self._file.flush()
            except OSError as exc:
                self._fail(exc)


def plan_lines(plan: Plan, *, redacted: bool = True) -> list[str]:
    """``plan.lines()`` as a recording holds them: each write of a child also names the
    hash of the object desired (so a change of content shows, not only of actions),
    and, when ``redacted``, the reason of an action on a Secret is cut (it may quote the
    values that changed) for a digest of the desired Secret as redacted."""
    shown: dict[str, str] = {}
    for action in plan.actions:
        if redacted and action.ref.type.kind == "Secret" and action.ref.type.api_version == "v1":
            shown[action.line()] = f"{action.verb:<7} {action.ref}: {_secret_reason(action)}"
        elif desired := getattr(action, "desired_hash", ""):
            shown[action.line()] = f"{action.line()} (desired {desired})"
    return [shown.get(line, line) for line in plan.lines()]


def _secret_reason(action: Any) -> str:
    """What a redacted line says of a Secret action: no reason, but a digest of the
    desired object as redacted (a changed value still changes the line)."""
    obj = getattr(action, "obj", None)
    if not isinstance(obj, dict):
        return "(reason redacted)"
    shown = redact(obj)
    meta = dict(shown.get("metadata") or {})
    # the hash kubeplan stamps is of the values: it differs between a value and its hash
    meta["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items()
                           if k != ANNOTATION_DESIRED_HASH}
    digest = hashlib.sha256(orjson.dumps({**shown, "metadata": meta},
                                         option=orjson.OPT_SORT_KEYS))
    return f"(reason redacted; desired {digest.hexdigest()[:16]})"


class RecordingClient:
    """An ``ApiClient`` that records the runtime's requests and their answers.

    Writes and GETs go through ``Recorder.call``; lists and watches pass through
    untouched (the watch caches record what they take, as they took it)."""

    def __init__(self, inner: ApiClient, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        observers = getattr(inner, "observers", None)
        if isinstance(observers, list):
            self.observers = observers

    async def _recorded(self, verb: str, type_: K8sType, namespace: str | None,
                        name: str | None, call: Any) -> RawObject:
        try:
            answer: RawObject = await call
        except ApiError as exc:
            self.recorder.call(verb, type_, namespace, name, error=exc)
            raise
        self.recorder.call(verb, type_, namespace, name, answer=answer)
        return answer

    async def get(self, type_: K8sType, name: str, namespace: str | None = None) -> RawObject:
        return await self._recorded("get", type_, namespace, name,
                                    self.inner.get(type_, name, namespace))

    async def list(self, type_: K8sType, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None) -> RawObject:
        return await self.inner.list(
            type_, namespace, label_selector=label_selector, field_selector=field_selector,
            limit=limit, continue_=continue_, resource_version=resource_version)

    def watch(self, type_: K8sType, namespace: str | None = None, *,
              label_selector: str | None = None, field_selector: str | None = None,
              resource_version: str | None = None, allow_bookmarks: bool = True,
              timeout_seconds: int | None = None) -> AsyncIterator[RawObject]:
        return self.inner.watch(
            type_, namespace, label_selector=label_selector, field_selector=field_selector,
            resource_version=resource_version, allow_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds)

    async def create(self, type_: K8sType, obj: RawObject, *, namespace: str | None = None,
                     dry_run: bool = False, field_manager: str | None = None) -> RawObject:
        meta = obj.get("metadata") or {}
        return await self._recorded(
            "create", type_, namespace or meta.get("namespace"), meta.get("name"),
            self.inner.create(type_, obj, namespace=namespace, dry_run=dry_run,
                              field_manager=field_manager))

    async def replace(self, type_: K8sType, obj: RawObject, *,
                      dry_run: bool = False) -> RawObject:
        meta = obj.get("metadata") or {}
        return await self._recorded("replace", type_, meta.get("namespace"), meta.get("name"),
                                    self.inner.replace(type_, obj, dry_run=dry_run))

    async def apply(self, type_: K8sType, obj: RawObject, *, field_manager: str,
                    force: bool = True, dry_run: bool = False,
                    subresource: str | None = None) -> RawObject:
        meta = obj.get("metadata") or {}
        verb = f"apply/{subresource}" if subresource else "apply"
        return await self._recorded(
            verb, type_, meta.get("namespace"), meta.get("name"),
            self.inner.apply(type_, obj, field_manager=field_manager, force=force,
                             dry_run=dry_run, subresource=subresource))

    async def patch(self, type_: K8sType, name: str, patch: Any, *,
                    namespace: str | None = None, patch_type: PatchType = "merge",
                    field_manager: str | None = None, subresource: str | None = None,
                    dry_run: bool = False) -> RawObject:
        verb = f"patch/{subresource}" if subresource else "patch"
        return await self._recorded(
            verb, type_, namespace, name,
            self.inner.patch(type_, name, patch, namespace=namespace, patch_type=patch_type,
                             field_manager=field_manager, subresource=subresource,
                             dry_run=dry_run))

    async def replace_status(self, type_: K8sType, obj: RawObject) -> RawObject:
        meta = obj.get("metadata") or {}
        return await self._recorded("replace/status", type_, meta.get("namespace"),
                                    meta.get("name"), self.inner.replace_status(type_, obj))

    async def delete(self, type_: K8sType, name: str, namespace: str | None = None, *,
                     uid: str | None = None, resource_version: str | None = None,
                     propagation_policy: PropagationPolicy | None = None,
                     dry_run: bool = False) -> RawObject:
        return await self._recorded(
            "delete", type_, namespace, name,
            self.inner.delete(type_, name, namespace, uid=uid,
                              resource_version=resource_version,
                              propagation_policy=propagation_policy, dry_run=dry_run))

    async def close(self) -> None:
        await self.inner.close()
