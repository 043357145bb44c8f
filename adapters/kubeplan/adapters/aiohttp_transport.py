"""``HttpTransport`` over aiohttp: for proxies and kubernetes_asyncio's configurations.

Our own ``aiohttp.ClientSession``, on kubernetes_asyncio's connection pool when there is
an ApiClient (its connector, not owned) or on our own connector otherwise, with
``trust_env`` off: kubernetes_asyncio's session has ``trust_env=True``, which makes
aiohttp read ``~/.netrc`` (in a thread) and the proxy environment on *every* request
(a large share of an operator's CPU, and a thread hop per request). The client reads
the proxy environment once and passes the proxy in ``request_kwargs``.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from kubeplan.adapters.transport import ConnectError, TransportError

if TYPE_CHECKING:
    from kubernetes_asyncio import client as k8s_client

__all__ = ["AiohttpTransport"]


class AiohttpTransport:
    def __init__(self, host: str, *, api_client: k8s_client.ApiClient | None = None,
                 ssl_context: ssl.SSLContext | None = None, connect_timeout: float,
                 request_kwargs: dict[str, Any] | None = None) -> None:
        self.host = host
        self.api_client = api_client
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.request_kwargs = request_kwargs or {}
        self.session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[bool, float | None], aiohttp.ClientTimeout] = {}

    def _http(self) -> aiohttp.ClientSession:
        """The session, created in the running loop."""
        if self.session is None or self.session.closed:
            if self.api_client is not None:
                connector = self.api_client.rest_client.pool_manager.connector
                owner = False
            else:
                connector = aiohttp.TCPConnector(
                    limit=100, ssl=self.ssl_context if self.ssl_context is not None else False)
                owner = True
            self.session = aiohttp.ClientSession(
                connector=connector, connector_owner=owner, trust_env=False,
                read_bufsize=2**21,  # watch events of large objects (as kubernetes_asyncio)
            )
        return self.session

    def _timeout(self, total: float | None, stream: bool) -> aiohttp.ClientTimeout:
        key = (stream, total)
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = (
                aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout)
                if stream else aiohttp.ClientTimeout(total=total))
        return found

    async def send(self, method: str, target: str, headers: dict[str, str],
                   body: bytes | None, *, total: float | None, stream: bool) -> _Answer:
        try:
            response = await self._http().request(
                method, URL(self.host + target, encoded=True), data=body, headers=headers,
                timeout=self._timeout(total, stream), **self.request_kwargs,
            )
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(str(exc)) from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            if isinstance(exc, TimeoutError):
                raise TimeoutError(str(exc)) from exc
            raise TransportError(str(exc) or type(exc).__name__) from exc
        return _Answer(response)

    async def close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            # with an ApiClient the connector is its own (the client closes it); else ours
            await session.close()


class _Answer:
    __slots__ = ("_response", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status

    def header(self, name: str) -> str | None:
        return self._response.headers.get(name)

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except aiohttp.ClientError as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc

    async def lines(self) -> AsyncIterator[bytes]:
        try:
            while True:
                line = await self._response.content.readline()
                if not line:
                    return
                line = line.strip()
                if line:
                    yield line
        except aiohttp.ClientError as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc

    def release(self) -> None:
        self._response.release()
