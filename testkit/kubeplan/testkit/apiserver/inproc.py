"""The fake's in-process face: an ``HttpTransport`` over ``FakeApiServer.handle``, under the
production ``KubeClient``.

Simulations and property tests therefore exercise the very client operators run with
(its request building, retries and error mapping); only the socket is left out. Every
call is a real ``ApiRequest`` through the same entry point as the HTTP face, so faults,
the request log and every semantic are shared exactly with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.kubeconfig import StaticConfig
from kubeplan.adapters.transport import Answer
from kubeplan.testkit.apiserver.authn import UserInfo
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse, RequestHandler

__all__ = ["InProcessAnswer", "InProcessClient", "InProcessTransport"]

#: what the client believes it talks to; no socket is ever opened
INPROC_URL = "http://fake-apiserver.inproc"


class InProcessAnswer:
    """An ``ApiResponse`` as the client reads an HTTP answer."""

    def __init__(self, response: ApiResponse) -> None:
        self.status = response.status
        self._response = response
        self._headers: Mapping[str, str] | None = None  # lower-cased when first asked

    def header(self, name: str) -> str | None:
        if self._headers is None:
            self._headers = {k.lower(): v for k, v in self._response.headers.items()}
        return self._headers.get(name.lower())

    async def read(self) -> bytes:
        body = self._response.body
        return b"" if body is None else orjson.dumps(body)

    async def lines(self) -> AsyncIterator[bytes]:
        stream = self._response.stream
        if stream is None:
            return
        try:
            async for event in stream:
                yield orjson.dumps(event)
        finally:
            await self._close_stream()

    async def _close_stream(self) -> None:
        stream = self._response.stream
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()

    def release(self) -> None:
        # a watch abandoned before its end: close the stream (the server frees its watcher)
        if self._response.stream is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(self._close_stream())


async def _answer(server: RequestHandler, request: ApiRequest) -> ApiResponse:
    """The server's answer; ``handle_shared`` (no deep copy of the body, which the answer
    only serialises) when ``handle`` is the stock ``FakeApiServer.handle``: a wrapper or
    a spy on ``handle`` must still see every request, as over HTTP."""
    stock = getattr(server, "handle_is_stock", None)
    if stock is not None and stock():
        answer = server.handle_shared(request)  # type: ignore[attr-defined]
        return answer if isinstance(answer, ApiResponse) else await answer
    return await server.handle(request)


#: ``parse_qsl`` of the query strings received lately (the same few come again and again;
#: parsing one costs more than the rest of building a request); emptied when full
_PARSED_QUERIES: dict[str, tuple[tuple[str, str], ...]] = {}
_PARSED_QUERIES_KEPT = 1024


def _parsed_query(query: str) -> tuple[tuple[str, str], ...]:
    """``parse_qsl(query, keep_blank_values=True)``, remembered."""
    parsed = _PARSED_QUERIES.get(query)
    if parsed is None:
        parsed = tuple(parse_qsl(query, keep_blank_values=True))
        if len(_PARSED_QUERIES) >= _PARSED_QUERIES_KEPT:
            _PARSED_QUERIES.clear()
        _PARSED_QUERIES[query] = parsed
    return parsed


class InProcessTransport:
    """``kubeplan.adapters.transport.HttpTransport`` over a ``FakeApiServer`` (or any
    other ``RequestHandler``), as the admin named ``user`` or as ``identity`` (a caller
    the server authorises by RBAC, say ``authn.service_account_user(...)``)."""

    def __init__(self, server: RequestHandler, *, user: str | None = None,
                 identity: UserInfo | None = None) -> None:
        self.server = server
        self.identity = identity
        #: the name the request log records (the identity's, unless given)
        self.user = user or (identity.name if identity is not None else "admin")

    async def send(self, method: str, target: str, headers: dict[str, str],
                   body: bytes | None, *, total: float | None, stream: bool) -> Answer:
        path, _, query = target.partition("?")
        request = ApiRequest(
            method=method,
            path=unquote(path) if "%" in path else path,
            query=dict(_parsed_query(query)) if query else {},
            body=body or b"",
            content_type=headers.get("Content-Type") if body is not None else None,
            user=self.user,
            user_agent=headers.get("User-Agent"),
            identity=self.identity,
        )
        # a real client always suspends on I/O; without this, a worker whose requests all
        # answer at once would hold the event loop (watch events, timers, other workers
        # starve) for as long as it keeps finding work
        await asyncio.sleep(0)
        return InProcessAnswer(await _answer(self.server, request))

    async def close(self) -> None:
        return None


class InProcessClient(KubeClient):
    """``KubeClient`` against a ``FakeApiServer`` in the same process, as ``user`` (the
    admin) or as ``identity`` (authorised by the RBAC objects stored in the server)."""

    def __init__(self, server: RequestHandler, *, user: str | None = None,
                 identity: UserInfo | None = None,
                 user_agent: str = "kubeplan-inproc/0.1", **kw: Any) -> None:
        transport = InProcessTransport(server, user=user, identity=identity)
        super().__init__(static=StaticConfig(server=INPROC_URL), http=transport,
                         user_agent=user_agent, **kw)
        self.server = server
        self.user = transport.user
        self.identity = identity
