"""Errors from the Kubernetes API, one class per status a caller reacts to differently.

::

    ApiError(status, reason, message, body)
     ├── BadRequest (400)      ├── Conflict (409)       ├── TooManyRequests (429, retry_after)
     ├── Unauthorized (401)    ├── AlreadyExists (409)  ├── ServerError (5xx)
     ├── Forbidden (403)       ├── Gone (410)           └── Timeout (504 / client-side timeout)
     ├── NotFound (404)        ├── Invalid (422)
     └── UnsupportedMediaType (415)

Both the real client (adapters.client) and the testkit's in-process client raise these,
so code above them never sees transport details. ``error_from_status`` builds the right
class from a ``kind: Status`` body.
"""

from __future__ import annotations

from typing import Any

from kubeplan.core.errors import KubeplanError


class ApiError(KubeplanError):
    """A non-2xx answer from the API server, carrying its ``kind: Status`` body."""

    def __init__(
        self,
        status: int,
        reason: str = "",
        message: str = "",
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}
        self.retry_after = retry_after
        super().__init__(f"{status} {reason}: {message}" if reason else f"{status}: {message}")

    @property
    def causes(self) -> list[dict[str, Any]]:
        return list((self.body.get("details") or {}).get("causes") or [])


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409: a stale resourceVersion, a failed precondition or a field-manager conflict."""


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists: a create hit an existing name."""


class Gone(ApiError):
    """410: the requested resourceVersion is older than the server keeps; relist."""


class UnsupportedMediaType(ApiError):
    pass


class Invalid(ApiError):
    """422: the object failed validation; ``causes`` say which fields."""


class TooManyRequests(ApiError):
    """429: back off for ``retry_after`` seconds."""


class ServerError(ApiError):
    """5xx from the server."""


class Timeout(ApiError):
    """The request did not complete in time (504 or a client-side timeout)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    415: UnsupportedMediaType,
    422: Invalid,
    429: TooManyRequests,
    504: Timeout,
}


def error_from_status(
    status: int, body: dict[str, Any] | None = None, retry_after: float | None = None
) -> ApiError:
    """The ApiError subclass for an HTTP status and its ``kind: Status`` body."""
    body = body or {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or "")
    if status == 409 and reason == "AlreadyExists":
        cls: type[ApiError] = AlreadyExists
    elif status >= 500 and status != 504:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, ApiError)
    if retry_after is None and status == 429:
        retry_after = float((body.get("details") or {}).get("retryAfterSeconds") or 1)
    return cls(status, reason, message, body, retry_after)


class ConnectionFailed(ApiError):
    """The API server could not be reached (status 0): refused, reset or DNS failure.

    ``sent`` says whether the request may have reached the server; a write is retried
    only when it certainly did not.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(0, "ConnectionFailed", message)
        self.sent = sent


def is_retryable_read_error(exc: BaseException) -> bool:
    """Whether an idempotent read that failed with ``exc`` may simply be tried again."""
    return isinstance(exc, TooManyRequests | ServerError | Timeout | ConnectionFailed)
