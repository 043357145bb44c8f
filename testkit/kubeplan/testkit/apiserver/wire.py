"""The connections under the HTTP face: what Go's net/http does before the real API
server sees a request, done for the fake's aiohttp server.

aiohttp parses HTTP for the fake where net/http does for a real kube-apiserver. Two
things of that layer matter to a client and differ out of the box:

* Timeouts. The real server's ``http.Server`` (k8s.io/apiserver
  ``pkg/server/secure_serving.go``) sets ``ReadHeaderTimeout`` 32 s and
  ``IdleTimeout`` 90 s. A connection that sends nothing for 32 s is closed without an
  answer, one that sent part of a request's headers gets ``400 Bad Request`` and is
  closed, and a keep-alive connection idle for 90 s between requests is closed.
  aiohttp has no header timeout and keeps idle connections for an hour, so a client
  that stalls could hold file descriptors forever. net/http has no body timeout
  either (a real server keeps a connection whose body stalled for as long as the
  client likes); the fake bounds body reads as well
  (``body_timeout``, default 60 s, the real server's ``--request-timeout``, after
  which its handler gives up on a request) and answers 504 ``Timeout``. The
  timeouts are attributes of the HTTP face, read when a connection or body starts,
  so tests can make them small.
* Malformed HTTP (a bad request line, header, Content-Length or Transfer-Encoding) is
  answered the way net/http answers it: plain text such as ``400 Bad Request``
  (``431``, ``501``, ``505`` where net/http uses those) with ``Connection: close``.
  aiohttp's own answer, and the error it logs, quote the offending line, which may be
  an ``Authorization`` header: here nothing the client sent is echoed or logged. A
  malformed *chunked body* is different: the real server's handler reads bodies
  itself, so its answer is a 500 ``Status`` with net/http's error text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import attrs
import orjson
from aiohttp import web, web_protocol
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.streams import StreamReader

from kubeplan.testkit.apiserver import status

__all__ = [
    "BODY_TIMEOUT",
    "IDLE_TIMEOUT",
    "READ_HEADER_TIMEOUT",
    "Connection",
    "HttpServer",
    "Refusal",
    "refusal_for",
]

log = logging.getLogger(__name__)

#: the real server's ``http.Server`` (k8s.io/apiserver pkg/server/secure_serving.go)
READ_HEADER_TIMEOUT = 32.0
IDLE_TIMEOUT = 90.0
#: the real server's default ``--request-timeout`` (k8s.io/apiserver pkg/server/config.go)
BODY_TIMEOUT = 60.0

_PLAIN = "text/plain; charset=utf-8"


class Timeouts(Protocol):
    """Where a connection reads its timeouts (the HTTP face), in seconds."""

    read_header_timeout: float
    idle_timeout: float
    body_timeout: float


@attrs.frozen
class Refusal:
    """How the real server answers one request it cannot read."""

    code: int
    phrase: str
    """The status line after the code, e.g. ``Bad Request: missing required Host header``."""
    body: bytes
    content_type: str = _PLAIN

    def raw(self) -> bytes:
        """The whole answer as net/http writes it on the socket (then it hangs up)."""
        head = (f"HTTP/1.1 {self.code} {self.phrase}\r\nContent-Type: {self.content_type}\r\n")
        if self.content_type != _PLAIN:
            head += f"Content-Length: {len(self.body)}\r\n"
        return (head + "Connection: close\r\n\r\n").encode() + self.body

    def response(self) -> web.Response:
        """The same answer from a request handler; the connection closes after it."""
        reason = self.phrase.split(": ", 1)[0] if self.content_type == _PLAIN else None
        answer = web.Response(status=self.code, reason=reason, body=self.body)
        answer.headers["Content-Type"] = self.content_type
        answer.force_close()
        return answer


def _plain(code: int, phrase: str, body: str | None = None) -> Refusal:
    return Refusal(code, phrase, (body if body is not None else f"{code} {phrase}").encode())


def _status_500(message: str) -> Refusal:
    """A 500 ``Status`` without a reason: how the real server renders a plain Go error."""
    body = orjson.dumps(status.status_body(500, None, message))
    return Refusal(500, "Internal Server Error", body, "application/json")


BAD_REQUEST = _plain(400, "Bad Request")
_TOO_LARGE = _plain(431, "Request Header Fields Too Large")
_NO_HOST = _plain(400, "Bad Request: missing required Host header")
_BAD_VERSION = _plain(505, "HTTP Version Not Supported: unsupported protocol version")
_BAD_ENCODING = _plain(501, "Not Implemented", "Unsupported transfer encoding")
_BAD_CHUNK_SIZE = _status_500("invalid byte in chunk length")
_BAD_CHUNKS = _status_500("malformed chunked encoding")


def _description(exc: BaseException) -> str:
    """aiohttp's description of a parse error, without the quoted request bytes.

    Its messages read ``<description>:\\n\\n  b'<the bad line>'\\n  ^`` (status-line
    errors with a ``Bad status line:`` prefix); the part after the description is
    dropped. Only used to choose an answer: neither logged nor sent.
    """
    message = getattr(exc, "message", "")
    text = message if isinstance(message, str) else ""
    text = text.removeprefix("Bad status line:").strip()
    return text.split(":\n", 1)[0].strip()


def refusal_for(exc: BaseException) -> Refusal:
    """net/http's answer to a request aiohttp could not parse (``exc``)."""
    if isinstance(exc, LineTooLong):
        return _TOO_LARGE
    description = _description(exc)
    if description.startswith("Too many headers"):
        return _TOO_LARGE
    if description.startswith("Missing 'Host' header"):
        return _NO_HOST
    if "Invalid HTTP version" in description:
        return _BAD_VERSION
    if description.startswith("Request has invalid `Transfer-Encoding`"):
        return _BAD_ENCODING
    lowered = description.lower()
    if "chunk size" in lowered:
        return _BAD_CHUNK_SIZE
    if "chunk" in lowered or "transfer length" in lowered:
        return _BAD_CHUNKS
    return BAD_REQUEST


class _Written(web.StreamResponse):
    """A response already written to the socket by hand: aiohttp must not write it."""

    async def prepare(self, request: web.BaseRequest) -> Any:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


class Connection(web_protocol.RequestHandler):
    """One client connection, with the real server's header timeout and its answers
    to malformed HTTP (the idle timeout is aiohttp's keep-alive timeout).

    The HTTP face tells the connection when it starts and ends handling a request
    (``request_started``/``request_finished``) and which body it is reading
    (``reading``), so a parse error in that body fails the read at once.
    """

    def __init__(self, manager: web.Server, *, timeouts: Timeouts, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._timeouts = timeouts
        # One timer per connection, moved rather than re-armed for every request (a
        # timer per request costs about what parsing the request does): it fires at
        # the earliest deadline and looks at ``_header_deadline`` then.
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_deadline = 0.0
        self._first = True  # no request handled yet: the deadline runs from the connect
        self._partial = False  # bytes of a request not yet handed to the handler
        self._handling = 0
        self.reading: StreamReader | None = None

    # -- the header timeout ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._set_header_deadline()

    def data_received(self, data: bytes) -> None:
        if not self._handling and not self._partial:
            self._partial = True
            if not self._first:  # net/http: a later request's deadline runs from its start
                self._set_header_deadline()
        if self.reading is None:
            super().data_received(data)
            return
        queue: Sequence[tuple[Any, Any]] = getattr(self, "_messages", ())
        queued = len(queue)
        super().data_received(data)
        if len(queue) > queued:
            error = getattr(queue[-1][0], "exc", None)  # a parse error, not a request
            if isinstance(error, HttpProcessingError):
                self.reading.set_exception(error)  # the body being read is broken

    def request_started(self) -> None:
        """The handler has a complete request: its headers arrived in time."""
        self._handling += 1
        self._partial = self._first = False

    def request_finished(self) -> None:
        self._handling -= 1

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _set_header_deadline(self) -> None:
        timeout = self._timeouts.read_header_timeout
        if timeout > 0:
            loop = asyncio.get_running_loop()
            self._header_deadline = loop.time() + timeout
            if self._header_timer is None:
                self._header_timer = loop.call_at(self._header_deadline, self._header_timeout)

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self._handling or getattr(self, "_messages", None):
            return  # a request arrived complete: it is being (or about to be) handled
        if not (self._partial or self._first):
            return  # idle between requests: aiohttp's keep-alive timeout applies
        loop = asyncio.get_running_loop()
        if loop.time() < self._header_deadline:  # the deadline moved on since
            self._header_timer = loop.call_at(self._header_deadline, self._header_timeout)
            return
        if self._partial and self.transport is not None:
            self.transport.write(BAD_REQUEST.raw())  # as net/http answers a half request
        log.info("fake apiserver: closed a connection that sent no complete request "
                 "headers within %ss", self._timeouts.read_header_timeout)
        self.force_close()

    # -- malformed requests ------------------------------------------------------------

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp's hook for requests it could not parse (and handler failures that
        escaped the HTTP face, which catches its own): answered as the real server does,
        logged without a byte of the request."""
        if isinstance(exc, HttpProcessingError):
            refusal = refusal_for(exc)
            log.warning("fake apiserver: malformed HTTP request from %s (%s): answered %s %s",
                        request.remote, type(exc).__name__, refusal.code, refusal.phrase)
        else:
            log.error("fake apiserver: request from %s failed", request.remote, exc_info=exc)
            refusal = _status_500("Internal error occurred: the request could not be served")
        if self.transport is not None:
            self.transport.write(refusal.raw())
        self.force_close()
        return _Written(status=refusal.code)


class HttpServer(web.Server):
    """aiohttp's low-level server, making ``Connection``s with live timeouts."""

    def __init__(self, handler: Any, *, timeouts: Timeouts, **kwargs: Any) -> None:
        self._timeouts = timeouts
        self._connection_kwargs = {
            k: kwargs.pop(k) for k in list(kwargs) if k not in ("request_factory",
                                                               "handler_cancellation", "loop")
        }
        super().__init__(handler, **kwargs)
        self._connection_loop = asyncio.get_running_loop()

    def __call__(self) -> web_protocol.RequestHandler:
        return Connection(self, loop=self._connection_loop, timeouts=self._timeouts,
                          keepalive_timeout=self._timeouts.idle_timeout,
                          **self._connection_kwargs)
