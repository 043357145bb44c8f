"""Run kubeplan's in-memory fake Kubernetes API server until interrupted.

The server speaks the Kubernetes API over HTTP, so kubectl and any Kubernetes client
can use it: CRDs, custom resources, built-ins (ConfigMaps, Deployments, ...), watches,
server-side apply. Nothing is persisted; stopping the server forgets everything.

On start it writes a kubeconfig whose current context points at the server, then
prints one line with the server's URL. It serves until SIGINT or SIGTERM.

Example::

    kubeplan fake-apiserver --port 0 --kubeconfig /tmp/k.yaml &
    KUBECONFIG=/tmp/k.yaml kubectl apply -f my-crd.yaml
    KUBECONFIG=/tmp/k.yaml kubectl get widgets

It binds 127.0.0.1 unless told otherwise. With --token, every request (health probes
and /version excepted) must carry "Authorization: Bearer TOKEN"; the kubeconfig
written holds the token. The server speaks plain HTTP, and kubectl (client-go) only
sends a kubeconfig token over TLS, so --token suits Python clients and curl; kubectl
needs a server started without it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

HELP = "run the in-memory fake Kubernetes API server (for kubectl and tests)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to bind; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--kubeconfig", required=True, metavar="PATH",
                        help="where to write a kubeconfig pointing at the server")
    parser.add_argument("--token", default=None,
                        help="require this bearer token on every request")
    parser.add_argument("--context", default="kubeplan-fake",
                        help="context name in the kubeconfig (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"kubeplan fake-apiserver: --port must be 0-65535, not {args.port}",
              file=sys.stderr)
        return 2
    from kubeplan.adapters.gctuning import tune_gc
    from kubeplan.testkit.apiserver.serve import serve

    tune_gc()  # the store is one large JSON cache, like an operator's
    try:
        return asyncio.run(serve(args.host, args.port, args.kubeconfig, args.token,
                                 args.context))
    except OSError as exc:
        print(f"kubeplan fake-apiserver: cannot serve on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 1
