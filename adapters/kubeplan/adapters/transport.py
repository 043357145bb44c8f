"""What ``KubeClient`` needs of an HTTP client: one interface, two implementations.

``adapters.http1`` (our keep-alive HTTP/1.1 client, used wherever it fits) and
``adapters.aiohttp_transport`` (aiohttp, for proxies and kubernetes_asyncio's auth
plugins; imported only when used: aiohttp is slow to import). Both raise the
errors below, never their own, so the client maps failures to ``ApiError`` once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from kubeplan.core.errors import KubeplanError

__all__ = ["Answer", "ConnectError", "HttpTransport", "ProtocolError", "TransportError"]


class TransportError(KubeplanError, ConnectionError):
    """The exchange failed; ``sent`` is False only if the request certainly never left."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class ConnectError(TransportError):
    """No connection could be made (refused, unreachable, TLS handshake failed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sent=False)


class ProtocolError(TransportError):
    """The server's answer is not HTTP/1.1 as the client understands it."""


class Answer(Protocol):
    """One answer: status, headers, and its body read whole or streamed by lines."""

    status: int

    def header(self, name: str) -> str | None:
        """A header's value (name in any case), or None."""

    async def read(self) -> bytes:
        """The whole body."""

    def lines(self) -> AsyncIterator[bytes]:
        """The body's non-empty lines, stripped, as they arrive (a watch)."""

    def release(self) -> None:
        """Done with it (a body not read to its end closes the connection)."""


class HttpTransport(Protocol):
    async def send(self, method: str, target: str, headers: dict[str, str],
                   body: bytes | None, *, total: float | None, stream: bool) -> Answer:
        """Send one request (``target``: path and query, encoded). ``total`` bounds the
        whole exchange, body included (a non-stream answer is read before returning); a
        stream bounds only the connection and the answer's headers, by ``connect``
        of the transport. Raises ``TransportError`` or ``TimeoutError``."""

    async def close(self) -> None: ...
