"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP for kubelet probes and Prometheus.

``/healthz`` answers 200 while the operator's loops run (a crashed watch or worker task
makes it 503, so the kubelet restarts the pod); ``/readyz`` answers 200 once every watch
cache has listed (before that, a sync would plan against an empty cache); ``/metrics``
serves the operator's own registry. Several operators in one process may share one
endpoint: each check passes only if it passes for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST


class HealthServer:
    """A tiny aiohttp server; ``start()`` returns the bound port (useful with port 0)."""

    def __init__(
        self,
        *,
        live: Sequence[Callable[[], bool]],
        ready: Sequence[Callable[[], bool]],
        metrics: Sequence[Callable[[], bytes]],
        host: str = "0.0.0.0",
        port: int = 8080,
        details: Sequence[Callable[[], str]] = (),
    ) -> None:
        self.live, self.ready, self.metrics = list(live), list(ready), list(metrics)
        #: lines appended to /readyz (e.g. "is_leader: false"): a standby is ready (its
        #: caches are warm) but a human or a probe script can see which replica is active
        self.details = list(details)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        if server is not None and server.sockets:  # type: ignore[attr-defined]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        ok = all(check() for check in self.live)
        return web.Response(status=200 if ok else 503, text="ok\n" if ok else "unhealthy\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        ok = all(check() for check in self.ready)
        text = "ok\n" if ok else "caches syncing\n"
        text += "".join(f"{detail()}\n" for detail in self.details)
        return web.Response(status=200 if ok else 503, text=text)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = b"".join(render() for render in self.metrics)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
