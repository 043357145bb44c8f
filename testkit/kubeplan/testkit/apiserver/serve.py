"""Serve the fake API server over HTTP until SIGINT or SIGTERM: the body of
``kubeplan fake-apiserver``, and ``python -m kubeplan.testkit.apiserver.serve`` for tests
that want the fake in a process of its own (as the real server is).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys


async def serve(host: str, port: int, kubeconfig: str, token: str | None = None,
                context: str = "kubeplan-fake", name: str = "kubeplan fake-apiserver",
                *, tls: bool = False, controllers: frozenset[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM. ``tls``: HTTPS with a certificate for ``host`` (and
    127.0.0.1, localhost) from a CA made for this run, which the kubeconfig trusts;
    ``controllers``: the emulated controllers to run (None: the defaults)."""
    from kubeplan.adapters.gctuning import FreezeWhileBusy
    from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig
    from kubeplan.testkit.apiserver.server import FakeApiServer
    from kubeplan.testkit.certificates import (
        LOCAL_HOSTS,
        CertificateAuthority,
        server_ssl_context,
    )

    ca_pem = ssl_context = None
    if tls:
        ca = CertificateAuthority.new("kubeplan-fake-apiserver-ca")
        hosts = dict.fromkeys((*LOCAL_HOSTS, host)) if host not in ("0.0.0.0", "::") \
            else dict.fromkeys(LOCAL_HOSTS)
        ssl_context = server_ssl_context(ca.issue_server(hosts, "kubeplan-fake-apiserver"))
        ca_pem = ca.cert_pem

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with FakeApiServer(
            controllers=True if controllers is None else controllers
        ) as server, FakeApiHttpServer(
            server, host=host, port=port, token=token, ssl_context=ssl_context
        ) as http:
            path = write_kubeconfig(kubeconfig, http.url, token, context, ca_pem)
            print(f"{name} serving at {http.url} (kubeconfig: {path})", flush=True)
            # commits are the store's growth: keep it out of the collector's way in bursts
            collector = asyncio.create_task(FreezeWhileBusy(lambda: server.store.rv).run())
            try:
                await stop.wait()
            finally:
                collector.cancel()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubeplan.testkit.apiserver.serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--token", default=None)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--controllers", default=None)
    args = parser.parse_args(argv)
    from kubeplan.testkit.apiserver.controllers import parse_controllers

    try:
        controllers = None if args.controllers is None else parse_controllers(args.controllers)
    except ValueError as exc:
        parser.error(f"--controllers: {exc}")
    from kubeplan.adapters.gctuning import tune_gc

    tune_gc()  # the store is one large JSON cache, like an operator's
    try:
        # the token from the environment, as `kubeplan fake-apiserver` takes it, keeps it
        # out of `ps`
        token = args.token or os.environ.get("KUBEPLAN_FAKE_APISERVER_TOKEN") or None
        return asyncio.run(serve(args.host, args.port, args.kubeconfig, token,
                                 tls=args.tls, controllers=controllers))
    except OSError as exc:
        print(f"fake API server: cannot serve on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
