"""The one request/response shape both faces of the fake speak.

The HTTP face (``http.py``) turns an aiohttp request into an ``ApiRequest`` and an
``ApiResponse`` back into HTTP; the in-process client builds ``ApiRequest`` objects
directly. Because both go through ``FakeApiServer.handle``, faults, semantics and the
request log are identical whichever face a test uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from kubeplan.testkit.apiserver.authn import UserInfo

__all__ = ["ApiRequest", "ApiResponse", "RequestHandler", "RequestRecord"]


def _frozen_mapping(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class ApiRequest:
    """One API call: method, path without query string, decoded query, raw body."""

    method: str
    path: str
    query: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    body: bytes = b""
    content_type: str | None = None
    user: str = "admin"
    user_agent: str | None = None
    """The client's User-Agent: its prefix before ``/`` is the default field manager."""
    identity: UserInfo | None = None
    """Who sends it, when not the all-powerful admin: a caller outside ``system:masters``
    is authorised by the RBAC objects stored in the server (``rbac.py``)."""


@attrs.frozen
class ApiResponse:
    """The answer: a JSON object body, or (for a watch) a stream of raw events."""

    status: int
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    stream: AsyncIterator[dict[str, Any]] | None = None


@attrs.frozen
class RequestRecord:
    """What the request log keeps of one request, for tests to assert on.

    ``injected`` is true when an injected fault gave the answer (an error or a 429), not
    the server; ``message`` is a refusal's Status message (empty for a success)."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int
    verb: str
    time: datetime
    user: str = "admin"
    resource: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    injected: bool = False
    message: str = ""


class RequestHandler(Protocol):
    """What a face sends its requests to: ``FakeApiServer`` (its ``handle``)."""

    async def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; a client's mistake is a ``kind: Status`` response."""
        ...
