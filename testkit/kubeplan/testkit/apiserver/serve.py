"""Serve the fake API server over HTTP until SIGINT or SIGTERM: the body of
``kubeplan fake-apiserver``, and ``python -m kubeplan.testkit.apiserver.serve`` for tests
that want the fake in a process of its own (as the real server is).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys


async def serve(host: str, port: int, kubeconfig: str, token: str | None = None,
                context: str = "kubeplan-fake", name: str = "kubeplan fake-apiserver") -> int:
    from kubeplan.adapters.gctuning import FreezeWhileBusy
    from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig
    from kubeplan.testkit.apiserver.server import FakeApiServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with FakeApiServer() as server, FakeApiHttpServer(
            server, host=host, port=port, token=token
        ) as http:
            path = write_kubeconfig(kubeconfig, http.url, token, context)
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
    args = parser.parse_args(argv)
    from kubeplan.adapters.gctuning import tune_gc

    tune_gc()  # the store is one large JSON cache, like an operator's
    try:
        return asyncio.run(serve(args.host, args.port, args.kubeconfig, args.token))
    except OSError as exc:
        print(f"fake API server: cannot serve on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
