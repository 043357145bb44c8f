"""What one sync of a parent came to, as one value: the runtime decides what happens next
(requeue, back off, forget) from it in one place, as controller-runtime does from a
``Result`` and an error.

``SyncOutcome.next`` is what the work queue does with the parent:

* ``DONE``: converged; the failure backoff is reset, and ``after`` (the handler's
  ``resync_after``) schedules a later sync;
* ``REQUEUE``: synced again as soon as this sync ends (a 409 or a stale cache: the watch
  brings the newer state in; or children were written and the handler may report on them);
  a success that wrote children resets the failure backoff too (``succeeded``);
* ``BACKOFF``: failed (handler error, failed actions, a name clash, a timeout, a crash):
  retried after the parent's next exponential backoff delay, or at ``after`` (the plan's
  ``resync_after``) when that comes first;
* ``RETRY``: the handler raised ``RetryAfter``: synced again after exactly ``after``
  seconds; the failure backoff is reset (a known retry time replaces the guess);
* ``FORGET``: not ours to retry (the parent is gone, or another replica owns it now), or
  the handler raised ``PermanentError`` (``permanent``: held until an input changes), or
  an external source it reads is failing (its poller syncs it when the source answers):
  its backoff is forgotten and nothing is scheduled;
* ``SKIP``: nothing was synced (no parent, not ours, terminating without our finalizer,
  or ``held``: a permanent error whose inputs have not changed): the queue is left alone
  and nothing is counted (but ``held``, counted as such).

``label`` is the ``outcome`` label of ``kubeplan_syncs_total`` and ``error_kind`` the
``kind`` label of ``kubeplan_sync_errors_total`` (None: not counted there).
"""

from __future__ import annotations

import enum

import attrs

from kubeplan.core.errors import InvalidArgument

__all__ = ["Next", "SyncOutcome"]


class Next(enum.Enum):
    """What the work queue does with the parent after its sync."""

    DONE = "done"
    REQUEUE = "requeue"
    RETRY = "retry"
    BACKOFF = "backoff"
    FORGET = "forget"
    SKIP = "skip"


@attrs.frozen
class SyncOutcome:
    """One sync's result for the queue and the metrics (see the module docstring)."""

    next: Next
    #: ``kubeplan_syncs_total{outcome=...}``; None for a skipped sync
    label: str | None
    #: ``kubeplan_sync_errors_total{kind=...}`` (failed syncs only)
    error_kind: str | None = None
    #: a later sync after this many seconds (``resync_after``), on top of ``next``
    after: float | None = None
    #: the sync succeeded (the failure backoff is reset even though it is requeued)
    succeeded: bool = False

    # -- the outcomes the runtime produces -------------------------------------------------

    @classmethod
    def ok(cls, *, wrote_children: bool = False, after: float | None = None) -> SyncOutcome:
        """Success; synced once more at once when it wrote children."""
        return cls(Next.REQUEUE if wrote_children else Next.DONE, "ok", after=after,
                   succeeded=True)

    @classmethod
    def conflict(cls) -> SyncOutcome:
        """A write was refused with 409: the snapshot was stale."""
        return cls(Next.REQUEUE, "conflict")

    @classmethod
    def stale(cls) -> SyncOutcome:
        """The server holds a newer parent than the cache did (confirmed before creating)."""
        return cls(Next.REQUEUE, "stale")

    @classmethod
    def failed(cls, kind: str, *, after: float | None = None) -> SyncOutcome:
        """The handler failed (``handler``), actions failed (``actions``) or a child's name
        is taken by someone else's object (``child_conflict``). ``after``: the sync the
        plan asked for still happens when it falls before the next retry (a parent that
        expires at a set time must not wait for a backoff that runs past it)."""
        label = {"handler": "error", "actions": "failed_actions",
                 "child_conflict": "child_conflict"}.get(kind)
        if label is None:
            raise InvalidArgument(f"SyncOutcome.failed: unknown kind {kind!r} "
                             "(handler, actions or child_conflict)")
        return cls(Next.BACKOFF, label, error_kind=kind, after=after)

    @classmethod
    def permanent(cls) -> SyncOutcome:
        """The handler raised ``PermanentError``: not retried until an input changes."""
        return cls(Next.FORGET, "permanent_error", error_kind="permanent")

    @classmethod
    def retry(cls, seconds: float) -> SyncOutcome:
        """The handler raised ``RetryAfter(seconds)``: retried then, not by backoff."""
        return cls(Next.RETRY, "retry_after", error_kind="retry_after", after=seconds)

    @classmethod
    def source_unavailable(cls) -> SyncOutcome:
        """A source the parent reads is failing: reported on it, not retried by backoff
        (the source's poller syncs the parent again when it answers)."""
        return cls(Next.FORGET, "source_unavailable", error_kind="source")

    @classmethod
    def held(cls) -> SyncOutcome:
        """A parent held by a ``PermanentError`` whose inputs have not changed: the handler
        was not called."""
        return cls(Next.SKIP, "held")

    @classmethod
    def timeout(cls) -> SyncOutcome:
        return cls(Next.BACKOFF, "timeout")

    @classmethod
    def crashed(cls) -> SyncOutcome:
        """The sync raised (a bug of ours, not the handler's: those are ``failed``)."""
        return cls(Next.BACKOFF, "crashed")

    @classmethod
    def gone(cls) -> SyncOutcome:
        """The server says the parent is gone though the cache held it."""
        return cls(Next.FORGET, "gone")

    @classmethod
    def aborted(cls) -> SyncOutcome:
        """The write gate closed mid-plan: another replica syncs the parent now."""
        return cls(Next.FORGET, "aborted")

    @classmethod
    def cancelled(cls) -> SyncOutcome:
        """Cancelled in flight: leadership or the parent's shard was lost."""
        return cls(Next.FORGET, "cancelled")

    @classmethod
    def skipped(cls) -> SyncOutcome:
        return cls(Next.SKIP, None)
