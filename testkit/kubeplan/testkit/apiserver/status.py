"""``kind: Status`` error bodies with the codes, reasons and messages of the real server.

Every failure inside the fake is raised as ``StatusError`` carrying the exact body the
real kube-apiserver would send (apimachinery ``pkg/api/errors``), and the dispatcher
turns it into a response. Messages matter: clients and users match on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubeplan.core.errors import KubeplanError

__all__ = [
    "StatusError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "gone",
    "internal",
    "invalid",
    "method_not_supported",
    "not_found",
    "not_found_path",
    "qualified_resource",
    "status_body",
    "success",
    "timeout",
    "too_large",
    "too_many_requests",
    "unsupported_media_type",
    "warning_header",
]


def warning_header(warnings: Iterable[str]) -> str:
    """The ``Warning`` header of an answer: each text as a ``299 - "..."`` value, quoted."""
    return ", ".join(
        '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in warnings
    )


def qualified_resource(plural: str, group: str) -> str:
    """``configmaps`` or ``widgets.example.com``: how messages name a resource."""
    return f"{plural}.{group}" if group else plural


def status_body(
    code: int,
    reason: str | None,
    message: str,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A failure ``Status`` object. An empty reason is omitted (StatusReasonUnknown)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    }
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = dict(details)
    body["code"] = code
    return body


class StatusError(KubeplanError):
    """A request that fails with a ``kind: Status`` body (raised, caught by the dispatcher)."""

    def __init__(self, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self.body = body
        self.headers = dict(headers or {})
        super().__init__(f"{body.get('code')} {body.get('reason', '')}: {body.get('message')}")

    @property
    def code(self) -> int:
        return int(self.body["code"])

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


def _details(name: str | None, group: str, plural: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = plural
    return details


def not_found(plural: str, group: str, name: str) -> StatusError:
    """404: ``widgets.example.com "w1" not found``."""
    return StatusError(
        status_body(
            404,
            "NotFound",
            f'{qualified_resource(plural, group)} "{name}" not found',
            _details(name, group, plural),
        )
    )


def not_found_path() -> StatusError:
    """404 for a path or resource the server does not serve."""
    return StatusError(
        status_body(404, "NotFound", "the server could not find the requested resource", {})
    )


def already_exists(
    plural: str, group: str, name: str, *, being_deleted: bool = False
) -> StatusError:
    """409 AlreadyExists; prefixed when the existing object is still terminating."""
    message = f'{qualified_resource(plural, group)} "{name}" already exists'
    if being_deleted:
        message = f"object is being deleted: {message}"
    return StatusError(status_body(409, "AlreadyExists", message, _details(name, group, plural)))


def conflict(plural: str, group: str, name: str, detail: str) -> StatusError:
    """409 Conflict: ``Operation cannot be fulfilled on <resource> "<name>": <detail>``."""
    message = (
        f'Operation cannot be fulfilled on {qualified_resource(plural, group)} "{name}": {detail}'
    )
    return StatusError(status_body(409, "Conflict", message, _details(name, group, plural)))


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def apply_conflict(
    plural: str,
    group: str,
    name: str,
    message: str,
    conflicts: Iterable[tuple[str, str]],
    causes: Iterable[Mapping[str, str]] | None = None,
) -> StatusError:
    """409 Conflict from server-side apply, one ``FieldManagerConflict`` cause per field.

    ``causes``: the apply's own (their messages name the manager as the real server
    prints it, ``"gamma" using v1`` for an Update manager); else built from ``conflicts``.
    The details hold the causes alone, as apimachinery's ``NewApplyConflict`` writes
    them: no name, group or kind (``plural``, ``group`` and ``name`` are not used).
    """
    details: dict[str, Any] = {}
    pairs = (
        [(str(cause.get("message", "")), str(cause.get("field", ""))) for cause in causes]
        if causes is not None
        else [(f'conflict with "{manager}"', path) for manager, path in conflicts]
    )
    details["causes"] = [
        {"reason": "FieldManagerConflict", "message": text, "field": path} for text, path in pairs
    ]
    return StatusError(status_body(409, "Conflict", message, details))


def _render_cause(cause: Mapping[str, Any]) -> str:
    field = cause.get("field")
    message = cause.get("message", "")
    return f"{field}: {message}" if field else str(message)


def invalid(
    kind: str,
    group: str,
    name: str,
    causes: Iterable[Mapping[str, Any]],
) -> StatusError:
    """422 Invalid: ``Widget.example.com "w1" is invalid: <aggregated causes>``.

    Causes are ``{"reason", "message", "field"}``; the summary joins them the way
    apimachinery's ``ToAggregate`` does (one: as is; several: ``[a, b]``).
    """
    cause_list = [dict(c) for c in causes]
    rendered = [_render_cause(c) for c in cause_list]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    # StatusDetails' fields are omitempty: an object without a name (yet), the
    # ListOptions of a refused list, a patch's result (no kind either) name nothing
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details["causes"] = cause_list
    return StatusError(
        status_body(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)
    )


def cause(type_: str, field: str, message: str) -> dict[str, str]:
    """One ``StatusCause``; ``message`` is the full field error text after the field."""
    return {"reason": type_, "message": message, "field": field}


def patch_refused() -> StatusError:
    """422 for a patch the server could not apply (a JSON patch ``test`` that failed):
    the patch handler's ``NewGenericServerResponse(422, ..., isUnexpectedResponse=false)``,
    generic wording and empty details (the reason itself is not sent)."""
    return StatusError(status_body(
        422, "Invalid", "the server rejected our request due to an error in our request", {}))


def bad_request(message: str) -> StatusError:
    """400 BadRequest."""
    return StatusError(status_body(400, "BadRequest", message))


def forbidden(
    plural: str, group: str, name: str, detail: str, causes: Iterable[Mapping[str, Any]] = ()
) -> StatusError:
    """403 Forbidden: ``<resource> "<name>" is forbidden: <detail>``."""
    res = qualified_resource(plural, group)
    message = f'{res} "{name}" is forbidden: {detail}' if name else f"{res} is forbidden: {detail}"
    details = _details(name, group, plural)
    cause_list = [dict(c) for c in causes]
    if cause_list:
        details["causes"] = cause_list
    return StatusError(status_body(403, "Forbidden", message, details))


def method_not_supported(plural: str, group: str, action: str) -> StatusError:
    """405 MethodNotAllowed."""
    return StatusError(
        status_body(
            405,
            "MethodNotAllowed",
            f"{action} is not supported on resources of kind {qualified_resource(plural, group)!r}"
            if plural
            else "the server does not allow this method on the requested resource",
            _details(None, group, plural) if plural else {},
        )
    )


def unsupported_media_type(content_type: str, accepted: Iterable[str]) -> StatusError:
    """415 UnsupportedMediaType listing what the endpoint accepts."""
    accepted_text = ", ".join(accepted)
    return StatusError(
        status_body(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            + accepted_text,
        )
    )


def expired(message: str) -> StatusError:
    """410 Expired (too old resource version / continue token)."""
    return StatusError(status_body(410, "Expired", message))


def gone(message: str) -> StatusError:
    """410 Gone (the older reason some endpoints still use)."""
    return StatusError(status_body(410, "Gone", message))


def too_large(message: str) -> StatusError:
    """413 RequestEntityTooLarge."""
    return StatusError(status_body(413, "RequestEntityTooLarge", message))


def internal(message: str) -> StatusError:
    """500 InternalError: ``Internal error occurred: <message>``."""
    return StatusError(
        status_body(
            500,
            "InternalError",
            f"Internal error occurred: {message}",
            {"causes": [{"message": message}]},
        )
    )


def unknown_500(message: str) -> StatusError:
    """500 with no reason: how the real server renders a plain (non-Status) error."""
    return StatusError(status_body(500, None, message))


def too_many_requests(retry_after: int = 1, message: str | None = None) -> StatusError:
    """429 TooManyRequests with ``Retry-After`` (header and ``details.retryAfterSeconds``)."""
    return StatusError(
        status_body(
            429,
            "TooManyRequests",
            message or "Too many requests, please try again later.",
            {"retryAfterSeconds": int(retry_after)},
        ),
        headers={"Retry-After": str(int(retry_after))},
    )


def timeout(
    message: str, retry_after: int = 1, causes: Iterable[Mapping[str, Any]] = ()
) -> StatusError:
    """504 Timeout: ``Timeout: <message>``."""
    details: dict[str, Any] = {"retryAfterSeconds": retry_after}
    cause_list = [dict(c) for c in causes]
    if cause_list:
        details["causes"] = cause_list
    return StatusError(status_body(504, "Timeout", f"Timeout: {message}", details))


def success(name: str, group: str, plural: str, uid: str | None) -> dict[str, Any]:
    """The ``Status`` a successful immediate DELETE answers for most types."""
    details = _details(name, group, plural)
    if uid:
        details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
