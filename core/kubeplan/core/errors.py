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
    └── HandlerError(KubeplanError)                  the handler raised; wraps the user's exception

Every ``InvalidResponse`` carries ``parent`` (e.g. ``"EchoServer default/demo"``), ``child`` (e.g.
``'apps/v1/Deployment "web"'``, or None when the problem is not about one child) and ``field``
(e.g. ``"metadata.namespace"``), and its message names all three, because the person reading it
is looking at a status condition, not at the code that produced the child.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChildSetsStatus",
    "DuplicateChild",
    "HandlerError",
    "InvalidField",
    "InvalidResponse",
    "InvalidStatus",
    "KubeplanError",
    "MissingField",
    "NamespaceNotAllowed",
    "NotAnObject",
    "NotSerializable",
    "ServerFieldSet",
    "UndeclaredChildType",
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
