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

It binds 127.0.0.1 unless told otherwise. With a token, every request (health probes
and /version excepted) must carry "Authorization: Bearer TOKEN"; the kubeconfig
written (mode 0600) holds the token. The token comes from --token-file PATH, or the
environment variable KUBEPLAN_FAKE_APISERVER_TOKEN, or --token (which every local user
can read in `ps`: prefer the other two).

The server speaks plain HTTP unless --tls is given; then it serves HTTPS with a
certificate for 127.0.0.1, localhost and --host, signed by a CA made for this run, and
the kubeconfig trusts that CA (certificate-authority-data). kubectl (client-go) sends a
kubeconfig's token only over TLS: with a token, use --tls for kubectl; plain HTTP with a
token suits Python clients and curl.

    kubeplan fake-apiserver --tls --token-file token.txt --kubeconfig /tmp/k.yaml &
    KUBECONFIG=/tmp/k.yaml kubectl get namespaces

--controllers adds emulated controllers to the default ones (garbage collector,
namespace lifecycle, CRDs): "kubelet" (pods bound to a fake node, started and made
Ready), "workloads" (ReplicaSets, Deployments and StatefulSets make their pods and
report their status), "serviceaccount", "rootca"; "none" runs no controller at all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from kubeplan.core.errors import InvalidArgument

HELP = "run the in-memory fake Kubernetes API server (for kubectl and tests)"
TOKEN_VARIABLE = "KUBEPLAN_FAKE_APISERVER_TOKEN"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to bind; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--kubeconfig", required=True, metavar="PATH",
                        help="where to write a kubeconfig pointing at the server")
    tokens = parser.add_mutually_exclusive_group()
    tokens.add_argument("--token-file", default=None, metavar="PATH",
                        help="require the bearer token this file holds on every request")
    tokens.add_argument("--token", default=None,
                        help="require this bearer token on every request (visible in ps:"
                             f" prefer --token-file or ${TOKEN_VARIABLE})")
    parser.add_argument("--context", default="kubeplan-fake",
                        help="context name in the kubeconfig (default: %(default)s)")
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a certificate from a CA made for this run "
                             "(the kubeconfig trusts it)")
    parser.add_argument("--controllers", default=None, metavar="NAME,...",
                        help="emulated controllers to add to the defaults: kubelet, "
                             "workloads, serviceaccount, rootca (or none for no controller)")


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"kubeplan fake-apiserver: --port must be 0-65535, not {args.port}",
              file=sys.stderr)
        return 2
    try:
        token = _token(args)
    except ValueError as exc:
        print(f"kubeplan fake-apiserver: {exc}", file=sys.stderr)
        return 2
    from kubeplan.adapters.gctuning import tune_gc
    from kubeplan.testkit.apiserver.controllers import parse_controllers
    from kubeplan.testkit.apiserver.serve import serve

    try:
        controllers = None if args.controllers is None else parse_controllers(args.controllers)
    except ValueError as exc:
        print(f"kubeplan fake-apiserver: --controllers: {exc}", file=sys.stderr)
        return 2

    tune_gc()  # the store is one large JSON cache, like an operator's
    try:
        return asyncio.run(serve(args.host, args.port, args.kubeconfig, token,
                                 args.context, tls=args.tls, controllers=controllers))
    except OSError as exc:
        print(f"kubeplan fake-apiserver: cannot serve on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 1


def _token(args: argparse.Namespace) -> str | None:
    """The bearer token to require: --token-file, else the environment, else --token."""
    token: str | None
    if args.token_file is not None:
        try:
            token = Path(args.token_file).read_text().strip()
        except OSError as exc:
            raise InvalidArgument(f"--token-file {args.token_file}: {exc.strerror}") from None
        if not token:
            raise InvalidArgument(f"--token-file {args.token_file}: the file is empty")
    else:
        token = args.token if args.token is not None else os.environ.get(TOKEN_VARIABLE)
    if token is not None and (not token or any(c.isspace() for c in token)):
        raise InvalidArgument("a bearer token must be non-empty and hold no whitespace")
    return token
