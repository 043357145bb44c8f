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
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import orjson

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.kubeconfig import StaticConfig
from kubeplan.adapters.transport import Answer
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse

if TYPE_CHECKING:
    from kubeplan.testkit.apiserver.server import FakeApiServer

__all__ = ["InProcessAnswer", "InProcessClient", "InProcessTransport"]

#: what the client believes it talks to; no socket is ever opened
INPROC_URL = "http://fake-apiserver.inproc"


class InProcessAnswer:
    """An ``ApiResponse`` as the client reads an HTTP answer."""

    def __init__(self, response: ApiResponse) -> None:
        self.status = response.status
        self._response = response
        self._headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.items()}

    def header(self, name: str) -> str | None:
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


class InProcessTransport:
    """``kubeplan.adapters.transport.HttpTransport`` over a ``FakeApiServer``."""

    def __init__(self, server: FakeApiServer, *, user: str = "admin") -> None:
        self.server = server
        self.user = user

    async def send(self, method: str, target: str, headers: dict[str, str],
                   body: bytes | None, *, total: float | None, stream: bool) -> Answer:
        path, _, query = target.partition("?")
        request = ApiRequest(
            method=method,
            path=unquote(path),
            query=dict(parse_qsl(query, keep_blank_values=True)),
            body=body or b"",
            content_type=headers.get("Content-Type") if body is not None else None,
            user=self.user,
            user_agent=headers.get("User-Agent"),
        )
        # a real client always suspends on I/O; without this, a worker whose requests all
        # answer at once would hold the event loop (watch events, timers, other workers
        # starve) for as long as it keeps finding work
        await asyncio.sleep(0)
        return InProcessAnswer(await self.server.handle(request))

    async def close(self) -> None:
        return None


class InProcessClient(KubeClient):
    """``KubeClient`` against a ``FakeApiServer`` in the same process, as ``user``."""

    def __init__(self, server: FakeApiServer, *, user: str = "admin",
                 user_agent: str = "kubeplan-inproc/0.1", **kw: Any) -> None:
        super().__init__(static=StaticConfig(server=INPROC_URL),
                         http=InProcessTransport(server, user=user),
                         user_agent=user_agent, **kw)
        self.server = server
        self.user = user
