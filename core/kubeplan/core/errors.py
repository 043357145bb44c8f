"""Errors of the pure core: what a handler can get wrong, described so a user can act on it.

::

    KubeplanError(Exception)
    ├── InvalidResponse(KubeplanError, ValueError)   what the handler returned is unusable
    │   ├── WrongResponseType     not the SyncResponse / FinalizeResponse expected
    │   ├── NotAnObject           a child that is neither a dict nor an attrs instance
    │   ├── MissingField          no apiVersion / kind / metadata.name (or a required namespace)
    │   ├── InvalidField          a field of the wrong type or value (labels, resync_after, ...)
    │   ├── UndeclaredChildType   a child whose type was not declared with ``with_child``
    │   ├── DuplicateChild        the same (type, namespace, name) twice
    │   ├── NamespaceNotAllowed   a child outside the namespaces it may live in
    │   ├── ChildSetsStatus       a child with a ``status`` (owned by the child's controller)
    │   ├── ServerFieldSet        a child with uid / resourceVersion / ... (copied from observed)
    │   ├── NotSerializable       a value JSON cannot carry (set, datetime, NaN, non-string key ...)
    │   └── InvalidStatus         a parent status that is not an object
    ├── HandlerError(KubeplanError)                  the handler raised; wraps the user's exception
    ├── PermanentError(KubeplanError)                raised by a handler: do not retry until
    │                                                the parent or an input changes
    ├── RetryAfter(KubeplanError)                    raised by a handler: retry in N seconds
    ├── InvalidArgument(KubeplanError, ValueError)   a kubeplan function or class was given a
    │                                                value it cannot take (names which one)
    ├── WrongArgumentType(KubeplanError, TypeError)  ... a value of a type it does not take
    ├── UsageError(KubeplanError, RuntimeError)      used in a state that does not allow it
    │                                                (started twice, used before start())
    └── NoSuchEntry(KubeplanError, LookupError)      asked for something that is not there
                                                     (a plan's action on an object it lacks)

Every error kubeplan raises on purpose, in every layer, derives from ``KubeplanError``
(``ApiError``, the testkit's and the command's errors too), keeping the built-in base a caller
may already catch (``ValueError``, ``TypeError``, ``AssertionError``, ...).

Every ``InvalidResponse`` carries ``parent`` (e.g. ``"EchoServer default/demo"``), ``child`` (e.g.
``'apps/v1/Deployment "web"'``, or None when the problem is not about one child) and ``field``
(e.g. ``"metadata.namespace"``), and its message names all three, because the person reading it
is looking at a status condition, not at the code that produced the child.

``PermanentError`` and ``RetryAfter`` are the two errors a handler raises on purpose, to say
what should happen next. Both put ``Synced=False`` with their ``reason`` and ``message`` on the
parent; a ``PermanentError`` is then not retried (no backoff, no resync) until the parent or
an object the sync read changes, and a ``RetryAfter`` is retried after exactly ``seconds``
(instead of the exponential backoff, which it resets).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "ChildSetsStatus",
    "DuplicateChild",
    "HandlerError",
    "InvalidArgument",
    "InvalidField",
    "InvalidResponse",
    "InvalidStatus",
    "KubeplanError",
    "MissingField",
    "NamespaceNotAllowed",
    "NoSuchEntry",
    "NotAnObject",
    "NotSerializable",
    "PermanentError",
    "RetryAfter",
    "ServerFieldSet",
    "UndeclaredChildType",
    "UsageError",
    "WrongArgumentType",
    "WrongResponseType",
]


class KubeplanError(Exception):
    """Base class of every error kubeplan raises on purpose."""


class InvalidResponse(KubeplanError, ValueError):
    """A handler returned something the planner cannot use; no child is touched because of it.

    ``problem`` is the part of the message after the parent and the child: it starts with the
    field when there is one (``metadata.name is missing``).
    """

    def __init__(
        self, problem: str, *, parent: str, child: str | None = None, field: str | None = None
    ) -> None:
        self.problem = problem
        self.parent = parent
        self.child = child
        self.field = field
        where = f"{parent}: child {child}: " if child else f"{parent}: "
        super().__init__(where + problem)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default Exception pickling.
        return (
            _rebuild,
            (type(self), self.problem, self.parent, self.child, self.field),
        )


def _rebuild(
    cls: type[InvalidResponse], problem: str, parent: str, child: str | None, field: str | None
) -> InvalidResponse:
    return cls(problem, parent=parent, child=child, field=field)


class WrongResponseType(InvalidResponse):
    """The handler returned something other than the response type the planner expected."""


class NotAnObject(InvalidResponse):
    """A child is neither a dict nor an attrs instance."""


class MissingField(InvalidResponse):
    """A required field is missing or empty (apiVersion, kind, metadata.name, namespace)."""


class InvalidField(InvalidResponse):
    """A field has the wrong type or an impossible value."""


class UndeclaredChildType(InvalidResponse):
    """A child's apiVersion/kind is not one of the config's declared child types."""


class DuplicateChild(InvalidResponse):
    """Two children share type, namespace and name."""


class NamespaceNotAllowed(InvalidResponse):
    """A child names a namespace it may not live in."""


class ChildSetsStatus(InvalidResponse):
    """A child sets ``status``, which belongs to whatever controls the child, not to its owner."""


class ServerFieldSet(InvalidResponse):
    """A child sets metadata only the API server may set (typically copied from observed)."""


class NotSerializable(InvalidResponse):
    """A value cannot be written as JSON."""


class InvalidStatus(InvalidResponse):
    """The parent status is not an object (or its conditions are not a list of objects)."""


class HandlerError(KubeplanError):
    """The handler raised: ``error`` is the user's exception (also the ``__cause__``)."""

    def __init__(self, error: BaseException, *, parent: str, phase: str = "sync") -> None:
        self.error = error
        self.parent = parent
        self.phase = phase
        detail = str(error)
        name = type(error).__name__
        super().__init__(f"{parent}: {phase} raised {name}: {detail}" if detail else
                         f"{parent}: {phase} raised {name}")
        self.__cause__ = error

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_handler_error, (self.error, self.parent, self.phase))


def _rebuild_handler_error(error: BaseException, parent: str, phase: str) -> HandlerError:
    return HandlerError(error, parent=parent, phase=phase)


class InvalidArgument(KubeplanError, ValueError):
    """A kubeplan function or class was given a value it cannot take; the message names the
    argument and says what it accepts. (A ``ValueError`` too, for callers catching that.)"""


class WrongArgumentType(KubeplanError, TypeError):
    """A kubeplan function or class was given a value of a type it does not take; the message
    names the argument. (A ``TypeError`` too.)"""


class UsageError(KubeplanError, RuntimeError):
    """Something was used in a state that does not allow it (an operator started twice, a
    server used before ``start()``). (A ``RuntimeError`` too.)"""


class NoSuchEntry(KubeplanError, LookupError):
    """A lookup found nothing (a plan asked for an action on an object it has none for).
    (A ``LookupError`` too.)"""


#: a condition reason as the API server validates it (metav1.Condition)
_REASON = re.compile(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?")
_MAX_REASON = 1024


def _checked_reason(reason: object, where: str) -> str:
    if not isinstance(reason, str) or not _REASON.fullmatch(reason) or len(reason) > _MAX_REASON:
        raise InvalidArgument(
            f"{where}: reason must be a condition reason in CamelCase (letters, digits, '_', "
            f"',' or ':', starting with a letter, at most {_MAX_REASON} characters), "
            f"e.g. 'QuotaExceeded'; got {reason!r}"
        )
    return reason


class PermanentError(KubeplanError):
    """Raised by a handler when retrying cannot help until something changes (an invalid
    spec, a referenced object that does not exist in the form required).

    The parent gets ``Synced=False`` with ``reason`` (CamelCase, e.g. ``"InvalidSpec"``) and
    ``message``; the sync is not retried (no backoff, no periodic resync) until the parent,
    one of its children or one of its related objects changes (a new resourceVersion).
    """

    def __init__(self, reason: str, message: str = "") -> None:
        self.reason = _checked_reason(reason, "PermanentError")
        if not isinstance(message, str):
            raise InvalidArgument(f"PermanentError: message must be a string, got {message!r}")
        self.message = message
        super().__init__(f"{reason}: {message}" if message else reason)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.message))


class RetryAfter(KubeplanError):
    """Raised by a handler that knows when to try again (a quota that resets, an external
    system that said "in 30 s"): the sync is retried after exactly ``seconds``, not after the
    exponential backoff (which is reset). The parent gets ``Synced=False`` with ``reason``
    (default ``"RetryAfter"``) and ``message``.
    """

    def __init__(self, seconds: float, reason: str = "RetryAfter", message: str = "") -> None:
        if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                or not math.isfinite(seconds) or seconds <= 0):
            raise InvalidArgument(
                f"RetryAfter: seconds must be a finite number > 0, got {seconds!r}")
        self.seconds = float(seconds)
        self.reason = _checked_reason(reason, "RetryAfter")
        if not isinstance(message, str):
            raise InvalidArgument(f"RetryAfter: message must be a string, got {message!r}")
        self.message = message
        text = f"retry in {self.seconds:g}s"
        super().__init__(f"{reason}: {message} ({text})" if message else f"{reason} ({text})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.seconds, self.reason, self.message))
