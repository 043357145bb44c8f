"""The operator's webhooks over HTTPS: one server, one route per webhook.

The API server calls a CRD's conversion webhook with a ``ConversionReview`` (POST, JSON)
and accepts only HTTPS. ``WebhookServer`` serves a route per webhook (``/convert`` from
:func:`conversion_route`; admission webhooks get routes of their own the same way) and
``/healthz``; :func:`admission_route` serves a validator or mutator at its own path
(``/validate/OPERATOR/NAME``, ``/mutate/OPERATOR/NAME``): sync functions run in a daemon
thread, async ones on the loop, each within its declared ``timeout_seconds`` (past it,
the failure policy answers). A route is a function from the decoded JSON body to the
JSON answer; one that raises ``ValueError`` is answered 400 with the message (a
malformed review), and anything else it raises 500.

The certificate and key come from PEM files, as cert-manager writes them into a Secret
volume: :class:`TlsFiles` loads them into one ``ssl.SSLContext`` and loads them again
when they change (checked every ``reload_interval`` seconds, and by
``reload_if_changed()``). New connections get the new certificate; a pair that does not
load (a half-written rotation) is logged and the old one kept until the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kubeplan.adapters.threads import DaemonThreadPool
from kubeplan.core import admission
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.versions import CONVERT_PATH, WEBHOOK_PORT, VersionSet, review

log = logging.getLogger(__name__)

Route = Callable[[Any], Any | Awaitable[Any]]

#: ConversionReviews carry whole lists; the API server's own request limit is 3 MiB per
#: object, so the body limit is generous
MAX_BODY = 64 * 1024 * 1024


def conversion_route(versions: VersionSet) -> Route:
    """The ``/convert`` route: a ConversionReview answered by ``versions``."""

    def convert(body: Any) -> Any:
        return review(versions, body)

    return convert


#: what a webhook function's time budget leaves of its ``timeout_seconds`` for the answer
ANSWER_MARGIN = 0.5
MIN_BUDGET = 0.5

_admission_threads: DaemonThreadPool | None = None


def _threads() -> DaemonThreadPool:
    global _admission_threads
    if _admission_threads is None:
        _admission_threads = DaemonThreadPool(8, name="kubeplan-admission")
    return _admission_threads


async def run_webhook(webhook: admission.Webhook, request: admission.AdmissionRequest) -> Any:
    """The function's outcome on ``request``: its value, or the exception it raised
    (``TimeoutError`` past its budget; a sync function runs in a daemon thread, which a
    timeout abandons). The budget is ``timeout_seconds`` less ``ANSWER_MARGIN``, so that
    the failure policy's answer reaches the API server before it gives up on the call."""
    timeout = max(MIN_BUDGET, webhook.timeout_seconds - ANSWER_MARGIN)
    try:
        if inspect.iscoroutinefunction(webhook.function):
            return await asyncio.wait_for(webhook.function(request), timeout)
        future = asyncio.wrap_future(_threads().submit(webhook.function, request))
        outcome = await asyncio.wait_for(future, timeout)
        if inspect.isawaitable(outcome):
            outcome = await asyncio.wait_for(outcome, timeout)
        return outcome
    except TimeoutError:
        return TimeoutError(f"no answer within {timeout:g}s")
    except Exception as exc:
        log.warning("webhook %s raised: %s", webhook.name, exc, exc_info=True)
        return exc


def admission_route(webhook: admission.Webhook) -> Route:
    """The route of one validator or mutator: an AdmissionReview in, its answer out."""

    async def handle(body: Any) -> Any:
        request = admission.request_of(body)
        outcome = await run_webhook(webhook, request)
        return admission.review(webhook, body, lambda _r: outcome)

    return handle


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class TlsFiles:
    """A server ``SSLContext`` from a certificate and key in PEM files, reloaded on change.

    Kubernetes updates a Secret volume by swapping a symlink, so the files' inode, size
    and modification time are compared (through the link).
    """

    def __init__(self, cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]):
        self.cert_file, self.key_file = Path(cert_file), Path(key_file)
        self._stamps = self._read_stamps()
        self._current = self._load()
        #: the context to serve with: each handshake switches to the pair loaded last
        #: (the SNI callback runs for every ClientHello, with or without a server name)
        self.context = self._load()
        self.context.sni_callback = self._select
        #: how many times the files were loaded (1 after construction)
        self.loads = 1

    def _load(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidArgument(
                f"cannot load the webhook certificate {self.cert_file} with key "
                f"{self.key_file}: {exc}"
            ) from exc
        return context

    def _select(self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None,
                _context: ssl.SSLContext) -> None:
        connection.context = self._current

    def _read_stamps(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        try:
            return (_stamp(self.cert_file), _stamp(self.key_file))
        except OSError as exc:
            raise InvalidArgument(f"cannot read the webhook certificate or key: {exc}") from exc

    def reload_if_changed(self) -> bool:
        """Load the files again if they changed since the last load; whether it did.

        A running server hands the new pair to every connection made from now on; a pair
        that does not load leaves the old one in use.
        """
        try:
            stamps = self._read_stamps()
        except ValueError as exc:
            log.warning("webhook certificate not reloaded: %s", exc)
            return False
        if stamps == self._stamps:
            return False
        try:
            self._current = self._load()
        except ValueError as exc:
            log.warning("webhook certificate not reloaded (keeping the old one): %s", exc)
            return False
        self._stamps = stamps
        self.loads += 1
        log.info("webhook certificate reloaded from %s", self.cert_file)
        return True


class WebhookServer:
    """An aiohttp server of webhook routes; ``start()`` returns the bound port.

    ``tls=None`` serves plain HTTP, which no API server calls: it is for tests of the
    routes alone.
    """

    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        tls: TlsFiles | None,
        host: str = "0.0.0.0",
        port: int = WEBHOOK_PORT,
        reload_interval: float = 10.0,
    ) -> None:
        for path in routes:
            if not path.startswith("/") or path == "/healthz":
                raise InvalidArgument(f"webhook route {path!r} must start with '/' and not be "
                                 "/healthz")
        self.routes = dict(routes)
        self.tls, self.host, self.port = tls, host, port
        self.reload_interval = reload_interval
        self._runner: web.AppRunner | None = None
        self._reloader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> int:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get("/healthz", self._healthz)
        for path, route in self.routes.items():
            app.router.add_post(path, self._handler(path, route))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = self.tls.context if self.tls is not None else None
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        if server is not None and server.sockets:  # type: ignore[attr-defined]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        if self.tls is not None and self.reload_interval > 0:
            self._reloader = asyncio.get_running_loop().create_task(self._reload())
        return self.port

    async def stop(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
            self._reloader = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _reload(self) -> None:
        assert self.tls is not None
        while True:
            await asyncio.sleep(self.reload_interval)
            self.tls.reload_if_changed()

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    def _handler(
        self, path: str, route: Route
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError as exc:
                return _error(400, f"{path}: the body is not JSON: {exc}")
            try:
                answer = route(body)
                if inspect.isawaitable(answer):
                    answer = await answer
            except ValueError as exc:
                return _error(400, f"{path}: {exc}")
            except Exception:
                log.exception("webhook %s failed", path)
                return _error(500, f"{path}: the webhook failed (see the operator's log)")
            return web.Response(body=orjson.dumps(answer), content_type="application/json")

        return handle


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def webhook_routes(
    versions: VersionSet | None, bound: tuple[admission.Bound, ...] = ()
) -> dict[str, Route]:
    """Every webhook route an operator serves: ``/convert`` with versions, and one per
    admission webhook."""
    routes = {} if versions is None else {CONVERT_PATH: conversion_route(versions)}
    for b in bound:
        routes[b.path] = admission_route(b.webhook)
    return routes


__all__ = [
    "MAX_BODY",
    "Route",
    "TlsFiles",
    "WebhookServer",
    "admission_route",
    "conversion_route",
    "run_webhook",
    "webhook_routes",
]
