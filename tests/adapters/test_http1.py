"""The http1 transport against a scripted server: framing, reuse, limits, failures, TLS.

The server below answers each request with bytes the test chose, written in pieces as
small as one byte, so every parser state is crossed at every boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kubeplan.adapters import http1
from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import ConnectionFailed
from kubeplan.adapters.http1 import ConnectError, Http1Pool, ProtocolError, TransportError
from kubeplan.core.k8s import core_v1

Answer = Callable[[bytes], list[bytes]]  # request head -> pieces to write


class ScriptedServer:
    """Answers every request with ``answer(head)``'s pieces (``None``: close)."""

    def __init__(self, answer: Answer, ssl_context: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.ssl_context = ssl_context
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.gate: asyncio.Event | None = None  # when set: answers wait for it

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0,
                                                 ssl=self.ssl_context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                if self.gate is not None:
                    await self.gate.wait()
                for piece in self.answer(head):
                    if piece is None:
                        writer.close()
                        return
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0)
        finally:
            self.open -= 1
            writer.close()


def _bytewise(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def _fixed(body: bytes, extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _chunked(*chunks: bytes, extension: bool = False, trailer: bool = False) -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for chunk in chunks:
        out += f"{len(chunk):x}{';name=value' if extension else ''}\r\n".encode() + chunk + \
            b"\r\n"
    return out + b"0\r\n" + (b"X-Trailer: yes\r\n" if trailer else b"") + b"\r\n"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(answer: Answer, **kw: object) -> ScriptedServer:
        server = ScriptedServer(answer, **kw)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.__aexit__()


async def _get(pool: Http1Pool, target: str = "/x") -> tuple[int, bytes]:
    response = await pool.request("GET", target, {"Accept": "application/json"})
    return response.status, await response.read()


@pytest.mark.parametrize("pieces", [lambda b: [b], _bytewise], ids=["whole", "bytewise"])
async def test_content_length_answers_reuse_one_connection(serve, pieces):
    server = serve(lambda head: pieces(_fixed(b'{"a": 1}')))
    async with server:
        pool = Http1Pool(server.url)
        for _ in range(3):
            assert await _get(pool) == (200, b'{"a": 1}')
        assert server.connections == 1
        await pool.close()
    assert server.requests[0].startswith(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:")


@pytest.mark.parametrize("pieces", [lambda b: [b], _bytewise], ids=["whole", "bytewise"])
async def test_chunked_answers_with_extensions_and_trailers(serve, pieces):
    server = serve(lambda head: pieces(_chunked(b'{"a":', b' 2}', extension=True,
                                                trailer=True)))
    async with server:
        pool = Http1Pool(server.url)
        assert await _get(pool) == (200, b'{"a": 2}')
        assert await _get(pool) == (200, b'{"a": 2}')
        assert server.connections == 1
        await pool.close()


async def test_a_body_read_until_the_server_closes_is_not_reused(serve):
    server = serve(lambda head: [b"HTTP/1.1 200 OK\r\n\r\n", b"all of ", b"it", None])
    async with server:
        pool = Http1Pool(server.url)
        assert await _get(pool) == (200, b"all of it")
        assert await _get(pool) == (200, b"all of it")
        assert server.connections == 2
        await pool.close()


async def test_connection_close_and_no_body_statuses(serve):
    answers = iter([
        [_fixed(b"{}", extra="Connection: close\r\n")],
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"],
        [_fixed(b"[]")],
    ])
    server = serve(lambda head: next(answers))
    async with server:
        pool = Http1Pool(server.url)
        assert await _get(pool) == (200, b"{}")
        assert await _get(pool) == (204, b"")  # a new connection: the first said close
        assert await _get(pool) == (200, b"[]")  # the 204's connection, reused
        assert server.connections == 2
        await pool.close()


async def test_an_idle_connection_the_server_closed_is_not_reused(serve):
    server = serve(lambda head: [_fixed(b"{}"), None])  # answers, then hangs up
    async with server:
        pool = Http1Pool(server.url)
        assert await _get(pool) == (200, b"{}")
        await asyncio.sleep(0.05)  # the close reaches the client while the connection idles
        assert await _get(pool) == (200, b"{}")
        assert server.connections == 2
        await asyncio.sleep(0.05)
        assert pool.connections == 0  # the second hang-up is noticed too
        await pool.close()


async def test_headers_are_parsed_case_insensitively_and_repeats_joined(serve):
    raw = (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nX-A: 1\r\nx-a: 2\r\n"
           b"Content-Length: 2\r\n\r\n{}")
    server = serve(lambda head: [raw])
    async with server:
        pool = Http1Pool(server.url)
        response = await pool.request("GET", "/", {})
        assert response.status == 429
        assert response.headers["retry-after"] == "3"
        assert response.headers["x-a"] == "1, 2"
        assert await response.read() == b"{}"
        await pool.close()


async def test_the_pool_never_opens_more_than_its_limit(serve):
    server = serve(lambda head: [_fixed(b"{}")])
    async with server:
        server.gate = asyncio.Event()
        pool = Http1Pool(server.url, limit=2)
        tasks = [asyncio.create_task(_get(pool)) for _ in range(6)]
        await asyncio.sleep(0.05)
        assert pool.connections == 2
        await asyncio.sleep(60)  # a virtual minute of waiting opens no third connection
        assert pool.connections == 2 and server.max_open == 2
        server.gate.set()
        assert await asyncio.gather(*tasks) == [(200, b"{}")] * 6
        assert server.max_open == 2
        await pool.close()


async def test_a_refused_connection_is_a_connect_error_never_sent():
    pool = Http1Pool("http://127.0.0.1:9")
    with pytest.raises(ConnectError) as raised:
        await _get(pool)
    assert raised.value.sent is False
    await pool.close()


async def test_a_server_hanging_up_mid_answer_fails_the_request(serve):
    server = serve(lambda head: [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", None])
    async with server:
        pool = Http1Pool(server.url)
        with pytest.raises(TransportError) as raised:
            await _get(pool)
        assert raised.value.sent is True
        assert pool.connections == 0
        await pool.close()


@pytest.mark.parametrize("raw", [b"SPDY/3 200 OK\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
async def test_a_malformed_answer_is_a_protocol_error(serve, raw):
    server = serve(lambda head: [raw])
    async with server:
        pool = Http1Pool(server.url)
        with pytest.raises(ProtocolError):
            await _get(pool)
        await pool.close()


async def test_streamed_lines_arrive_before_the_body_ends(serve):
    release = asyncio.Event()

    async def lines_then_wait(reader, writer):  # a watch: two events, then silence
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"n":1}\n{"n"', b':2}\n\n'):
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    server = await asyncio.start_server(lines_then_wait, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Http1Pool(f"http://127.0.0.1:{port}")
    response = await pool.request("GET", "/watch", {}, stream=True)
    got = []
    async for line in response.lines():
        got.append(line)
        if len(got) == 2:
            release.set()
    assert got == [b'{"n":1}', b'{"n":2}']
    assert pool.connections == 1  # ended cleanly: kept for reuse
    await pool.close()
    server.close()


async def test_releasing_a_stream_midway_closes_its_connection(serve):
    server = serve(lambda head: [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                 b"6\r\nline1\n\r\n"])
    async with server:
        pool = Http1Pool(server.url)
        response = await pool.request("GET", "/watch", {}, stream=True)
        async for line in response.lines():
            assert line == b"line1"
            break
        response.release()
        await asyncio.sleep(0.01)
        assert pool.connections == 0
        await pool.close()


async def test_a_slow_reader_pauses_the_stream(serve, monkeypatch):
    monkeypatch.setattr(http1, "_HIGH_WATER", 1000)
    line = b"x" * 99 + b"\n"
    body = line * 100  # 10,000 bytes: ten times the high-water mark
    server = serve(lambda head: [_fixed(body)])
    async with server:
        pool = Http1Pool(server.url)
        response = await pool.request("GET", "/watch", {}, stream=True)
        await asyncio.sleep(0.05)
        conn = response._conn
        assert conn is not None and conn._paused
        lines = [line async for line in response.lines()]
        assert lines == [b"x" * 99] * 100
        await pool.close()


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_with_a_custom_ca_through_kube_client(serve, tmp_path):
    key, cert = _certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    items = b'{"kind": "ConfigMapList", "items": [], "metadata": {}}'
    server = serve(lambda head: [_fixed(items)], ssl_context=server_context)
    async with server:
        from kubeplan.adapters.kubeconfig import StaticConfig

        client = KubeClient(static=StaticConfig(server=server.url, ca_data=cert.read_bytes(),
                                                token="t0ken"))
        assert client.transport == "http1"
        assert (await client.list(core_v1.ConfigMap, "default"))["items"] == []
        assert b"Authorization: Bearer t0ken\r\n" in server.requests[0]
        await client.close()
        # the same server, not trusted: the handshake fails, nothing was sent
        untrusting = KubeClient.for_url(server.url, read_attempts=1)
        with pytest.raises(ConnectionFailed) as raised:
            await untrusting.list(core_v1.ConfigMap, "default")
        assert raised.value.sent is False
        await untrusting.close()


def test_transport_choice():
    assert KubeClient.for_url("http://127.0.0.1:1").transport == "http1"
    assert KubeClient.for_url("http://127.0.0.1:1", transport="aiohttp").transport == "aiohttp"
    with pytest.raises(ValueError, match="transport must be"):
        KubeClient.for_url("http://127.0.0.1:1", transport="h2")  # type: ignore[arg-type]


def test_a_proxy_keeps_aiohttp():
    from kubeplan.adapters.kubeconfig import StaticConfig

    proxied = StaticConfig(server="http://10.0.0.1:6443", proxy="http://127.0.0.1:3128")
    assert KubeClient(static=proxied).transport == "aiohttp"
    with pytest.raises(ValueError, match="without a proxy"):
        KubeClient(static=proxied, transport="http1")


async def test_a_request_on_a_connection_lost_before_sending_is_never_sent(serve):
    server = serve(lambda head: [_fixed(b"{}")])
    async with server:
        pool = Http1Pool(server.url)
        assert await _get(pool) == (200, b"{}")
        [conn] = list(pool._idle)
        assert conn.transport is not None
        conn.transport.close()  # as if lost just after the pool handed it out
        with pytest.raises(TransportError) as raised:
            await conn.exchange(b"GET / HTTP/1.1\r\n\r\n", None, stream=False)
        assert raised.value.sent is False
        await pool.close()
