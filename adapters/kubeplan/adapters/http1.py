"""A small HTTP/1.1 client with a keep-alive pool: kubeplan's transport to the API server.

Why hand-written: through ``KubeClient`` a request costs the client much less CPU than
over aiohttp (whose request and response objects, cookie jar, tracing, middlewares and
timers the Kubernetes API does not need), and in a convergence requests are a large share
of the operator's CPU; ``python bench/transport_bench.py`` measures both,
docs/benchmarks.md has the figures. It is used only where it
covers everything the configuration asks for: ``http``/``https`` (client certificates,
custom CAs and SNI come with the ``ssl.SSLContext``), bearer tokens (plain headers) and
no proxy. Everything else (proxies, kubernetes_asyncio's auth plugins) stays on aiohttp.

What it does: one request at a time per connection (no pipelining), ``Content-Length``
and chunked answers (chunk extensions and trailers are skipped), answers read until the
server closes, ``Connection: close``, idle connections the server closed are dropped
before reuse, at most ``limit`` connections. A response read to its end returns its
connection to the pool; one abandoned midway (a cancelled watch, a timeout) closes it.
Watches are streamed: ``Response.lines()`` yields the body line by line, with the
transport paused while too much is buffered, so a slow reader cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from kubeplan.adapters.transport import ConnectError, ProtocolError, TransportError
from kubeplan.core.errors import InvalidArgument

__all__ = ["Http1Pool", "Http1Transport", "Response"]

#: pause reading a streamed answer above this many buffered bytes, resume below a quarter
_HIGH_WATER = 4 * 2**20

_NO_BODY_STATUS = frozenset({204, 304})


class Response:
    """Status and headers of an answer; its body through ``read()`` or ``lines()``."""

    __slots__ = ("_conn", "headers", "status")

    def __init__(self, conn: _Connection, status: int, headers: dict[str, str]) -> None:
        self._conn: _Connection | None = conn
        self.status = status
        #: header names in lower case; repeated headers joined with ", "
        self.headers = headers

    async def read(self) -> bytes:
        """The whole body; the connection goes back to the pool."""
        conn = self._conn
        if conn is None:
            raise TransportError("the response was already released")
        try:
            body = await conn.body()
        except BaseException:
            self.release()
            raise
        self._conn = None
        conn.finished()
        return body

    async def lines(self) -> AsyncIterator[bytes]:
        """The body's lines (without line ends, empty ones skipped) as they arrive; ends
        when the server ends the body."""
        conn = self._conn
        if conn is None:
            raise TransportError("the response was already released")
        try:
            while True:
                line = await conn.next_line()
                if line is None:
                    break
                if line:
                    yield line
        except BaseException:
            self.release()
            raise
        self._conn = None
        conn.finished()

    def release(self) -> None:
        """Give up on the rest of the body: its connection is closed, not reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: writes a request, parses the answer as it arrives.

    The parser is a small state machine over ``_buf``: ``head`` (status line and
    headers), then the body as ``length`` (``_remaining`` bytes), ``chunk-size``,
    ``chunk-data``, ``trailer`` or ``eof`` (until the server closes), then ``done``.
    """

    def __init__(self, pool: Http1Pool) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._state = "idle"
        self._remaining = 0
        self._keep_alive = True
        self._head_waiter: asyncio.Future[Response] | None = None
        self._body: list[bytes] = []
        self._body_waiter: asyncio.Future[bytes] | None = None
        # streaming: complete lines, the partial last one, and one waiter
        self._streaming = False
        self._lines: collections.deque[bytes] = collections.deque()
        self._partial = b""
        self._buffered = 0
        self._paused = False
        self._line_waiter: asyncio.Future[None] | None = None
        self._error: TransportError | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._state == "idle":  # nothing asked: a server talking out of turn
            self._fail(ProtocolError("the server sent data without a request"))
            return
        self._buf += data
        try:
            self._parse()
        except ProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        if self._state == "eof":
            self._finish_body()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool._forget(self)
        if self._state == "eof":
            self._finish_body()
        if self._state not in ("idle", "done"):
            what = f": {exc}" if exc else ""
            self._fail(TransportError(f"the server closed the connection{what}"))

    # -- requests -------------------------------------------------------------------------

    async def exchange(self, head: bytes, body: bytes | None, *, stream: bool) -> Response:
        """Send one request; return once the answer's status and headers are in."""
        assert self.transport is not None
        if self.closed or self.transport.is_closing():  # lost between the pool and here
            raise TransportError("the connection was closed before the request was sent",
                                 sent=False)
        self._state = "head"
        self._streaming = stream
        self._keep_alive = True
        self._head_waiter = self._loop.create_future()
        self.transport.write(head + body if body else head)
        return await self._head_waiter

    async def body(self) -> bytes:
        if self._state != "done":
            if self._error is not None:
                raise self._error
            self._body_waiter = self._loop.create_future()
            await self._body_waiter
        body = b"".join(self._body) if len(self._body) != 1 else self._body[0]
        self._body = []
        return body

    async def next_line(self) -> bytes | None:
        while not self._lines:
            if self._error is not None:
                raise self._error
            if self._state == "done":
                if self._partial:
                    line, self._partial = self._partial, b""
                    return line.strip()
                return None
            self._line_waiter = self._loop.create_future()
            await self._line_waiter
        line = self._lines.popleft()
        self._buffered -= len(line)
        if self._paused and self._buffered < _HIGH_WATER // 4 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return line.rstrip(b"\r")

    def finished(self) -> None:
        """The answer was read to its end: back to the pool, or closed."""
        self._state = "idle"
        self._streaming = False
        if self._keep_alive and not self.closed and not self._buf:
            self._pool._release(self)
        else:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        self._pool._forget(self)

    # -- parsing --------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._buf
        while True:
            state = self._state
            if state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > 1 << 20:
                        raise ProtocolError("response headers larger than 1 MiB")
                    return
                head = bytes(buf[:end])
                del buf[:end + 4]
                if self._start_body(head):
                    continue
                return
            if state == "length":
                if not buf:
                    return
                take = min(self._remaining, len(buf))
                self._deliver(bytes(buf[:take]) if take < len(buf) else bytes(buf))
                del buf[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._finish_body()
                    return
                continue
            if state == "chunk-size":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
                del buf[:end + 2]
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text!r}") from None
                if size == 0:
                    self._state = "trailer"
                else:
                    self._remaining = size
                    self._state = "chunk-data"
                continue
            if state == "chunk-data":
                if len(buf) < self._remaining + 2:
                    if self._streaming and len(buf) > 0 and self._remaining > 0:
                        # hand on what is here: watch events must not wait for the chunk
                        take = min(self._remaining, len(buf))
                        self._deliver(bytes(buf[:take]))
                        del buf[:take]
                        self._remaining -= take
                    return
                self._deliver(bytes(buf[:self._remaining]))
                if buf[self._remaining:self._remaining + 2] != b"\r\n":
                    raise ProtocolError("a chunk does not end with CRLF")
                del buf[:self._remaining + 2]
                self._state = "chunk-size"
                continue
            if state == "trailer":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                line = bytes(buf[:end])
                del buf[:end + 2]
                if not line:
                    self._finish_body()
                    return
                continue
            if state == "eof":
                if buf:
                    self._deliver(bytes(buf))
                    buf.clear()
                return
            return  # done or idle: anything more is looked at by the next request

    def _start_body(self, head: bytes) -> bool:
        """Parse status line and headers; hand the Response over. True: parse on."""
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0]
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"bad header line {line[:80]!r}")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if 100 <= status < 200:  # 100 Continue and friends: the real answer follows
            return True
        connection = headers.get("connection", "").lower()
        self._keep_alive = parts[0] == "HTTP/1.1" and "close" not in connection
        encoding = headers.get("transfer-encoding", "").lower()
        if status in _NO_BODY_STATUS:
            self._state = "done"
        elif "chunked" in encoding:
            self._state = "chunk-size"
        elif "content-length" in headers:
            try:
                self._remaining = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length "
                                    f"{headers['content-length']!r}") from None
            self._state = "length" if self._remaining else "done"
        else:
            self._state = "eof"
            self._keep_alive = False
        waiter, self._head_waiter = self._head_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self, status, headers))
        if self._state == "done":
            self._finish_body()
            return False
        return True

    def _deliver(self, data: bytes) -> None:
        if not data:
            return
        if not self._streaming:
            self._body.append(data)
            return
        if self._partial:
            data = self._partial + data
        parts = data.split(b"\n")
        self._partial = parts.pop()
        if parts:
            self._lines.extend(parts)
            self._buffered += sum(len(p) for p in parts)
            self._wake_lines()
        if (self._buffered + len(self._partial) > _HIGH_WATER and not self._paused
                and self.transport is not None):
            self._paused = True
            self.transport.pause_reading()

    def _finish_body(self) -> None:
        self._state = "done"
        waiter, self._body_waiter = self._body_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(b"")
        self._wake_lines()

    def _wake_lines(self) -> None:
        waiter, self._line_waiter = self._line_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: TransportError) -> None:
        self._error = exc
        for waiter in (self._head_waiter, self._body_waiter, self._line_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
        self._head_waiter = self._body_waiter = self._line_waiter = None
        self.close()


class Http1Pool:
    """Keep-alive connections to one server (``http://host:port`` or ``https://``).

    ``request`` sends one request and returns the Response once its headers are in; the
    caller reads or releases the body. ``limit`` caps open connections (callers beyond
    it wait for one to come back).
    """

    def __init__(self, url: str, *, ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, limit: int = 100) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise InvalidArgument(f"not an http(s) URL: {url!r}")
        if parts.hostname is None:
            raise InvalidArgument(f"no host in {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")  # a server behind a path (a proxy's mount)
        self._host_header = parts.netloc.rpartition("@")[2]
        if parts.scheme == "https":
            self._ssl: ssl.SSLContext | None = ssl_context or ssl.create_default_context()
        else:
            self._ssl = None
        self._server_hostname = server_hostname
        self.limit = limit
        self._idle: collections.deque[_Connection] = collections.deque()
        self._open: set[_Connection] = set()
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    @property
    def connections(self) -> int:
        """Open connections (idle or busy)."""
        return len(self._open)

    async def request(self, method: str, target: str, headers: dict[str, str],
                      body: bytes | None = None, *, stream: bool = False,
                      connect_timeout: float | None = None) -> Response:
        """Send ``method target`` (target: path and query, already encoded)."""
        conn = await self._acquire(connect_timeout)
        lines = [f"{method} {self.prefix}{target} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            return await conn.exchange(head, body, stream=stream)
        except BaseException:
            conn.close()
            raise

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # -- the pool -------------------------------------------------------------------------

    async def _acquire(self, connect_timeout: float | None) -> _Connection:
        while True:
            if self._closed:
                raise ConnectError("the client is closed")
            while self._idle:
                conn = self._idle.pop()  # the most recent: least likely closed by now
                if not conn.closed and conn.transport is not None and \
                        not conn.transport.is_closing():
                    return conn
                conn.close()
            if len(self._open) < self.limit:
                return await self._connect(connect_timeout)
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _connect(self, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = {}
        if self._ssl is not None:
            kwargs["ssl"] = self._ssl
            kwargs["server_hostname"] = self._server_hostname or self.host
        conn = _Connection(self)
        self._open.add(conn)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: conn, self.host, self.port, **kwargs)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self._open.discard(conn)
            self._wake()
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            raise ConnectError(f"cannot connect to {self.host}:{self.port}: {reason}") from exc
        except BaseException:
            self._open.discard(conn)
            self._wake()
            raise
        return conn

    def _release(self, conn: _Connection) -> None:
        if self._closed:
            conn.close()
            return
        self._idle.append(conn)
        self._wake()

    def _forget(self, conn: _Connection) -> None:
        if conn in self._open:
            self._open.discard(conn)
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class Http1Transport:
    """``adapters.transport.HttpTransport`` on an ``Http1Pool``."""

    def __init__(self, url: str, *, ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, connect_timeout: float,
                 limit: int = 100) -> None:
        self.pool = Http1Pool(url, ssl_context=ssl_context, server_hostname=server_hostname,
                              limit=limit)
        self.connect_timeout = connect_timeout

    async def send(self, method: str, target: str, headers: dict[str, str],
                   body: bytes | None, *, total: float | None,
                   stream: bool) -> _ReadAnswer | _StreamAnswer:
        if stream:
            async with asyncio.timeout(self.connect_timeout):
                return _StreamAnswer(await self.pool.request(
                    method, target, headers, body, stream=True,
                    connect_timeout=self.connect_timeout))
        async with asyncio.timeout(total):
            response = await self.pool.request(method, target, headers, body,
                                               connect_timeout=total)
            return _ReadAnswer(response.status, response.headers, await response.read())

    async def close(self) -> None:
        await self.pool.close()


class _ReadAnswer:
    """An answer read to its end (inside the request's timeout)."""

    __slots__ = ("_body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self._body = body

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    async def read(self) -> bytes:
        return self._body

    async def lines(self) -> AsyncIterator[bytes]:
        for line in self._body.splitlines():
            if line.strip():
                yield line.strip()

    def release(self) -> None:
        pass


class _StreamAnswer:
    """A streamed answer (a watch)."""

    __slots__ = ("_response", "status")

    def __init__(self, response: Response) -> None:
        self._response = response
        self.status = response.status

    def header(self, name: str) -> str | None:
        return self._response.headers.get(name.lower())

    async def read(self) -> bytes:
        return await self._response.read()

    def lines(self) -> AsyncIterator[bytes]:
        return self._response.lines()

    def release(self) -> None:
        self._response.release()
