"""Run a real Kubernetes control plane on 127.0.0.1 until interrupted.

etcd, kube-apiserver and kube-controller-manager (garbage collector, namespaces, service
accounts and their tokens, workloads) with generated certificates, an admin credential
and RBAC authorisation on: the reference kubeplan's fake API server is measured
against. Nothing is persisted; stopping it removes its data folder.

The binaries come from --assets, else ``KUBEBUILDER_ASSETS`` (envtest's folder), else
kubeplan's cache; when none has them they are built once from Go modules (needs Go; a
few minutes). On start it writes a kubeconfig whose current context is the admin, then
prints one line with the server's URL. It serves until SIGINT or SIGTERM.

Example::

    kubeplan kube-apiserver --kubeconfig /tmp/k.yaml &
    kubectl --kubeconfig /tmp/k.yaml get namespaces
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

HELP = "run a real kube-apiserver, controller manager and etcd (the reference server)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0,
                        help="port to serve HTTPS on; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--kubeconfig", metavar="PATH",
                        help="where to write a kubeconfig pointing at the server")
    parser.add_argument("--assets", default=None, metavar="DIR",
                        help="a folder with kube-apiserver and etcd (and optionally "
                             "kube-controller-manager); default: KUBEBUILDER_ASSETS, then "
                             "the cache, then a build from Go modules")
    parser.add_argument("--context", default="kubeplan-real",
                        help="context name in the kubeconfig (default: %(default)s)")
    parser.add_argument("--build-only", action="store_true",
                        help="find or build the binaries, print where they are, and exit")


def run(args: argparse.Namespace) -> int:
    from kubeplan.testkit.realkube import (
        AssetsUnavailable,
        RealKubeApiServer,
        RealKubeError,
        ensure_assets,
    )

    name = "kubeplan kube-apiserver"
    if not 0 <= args.port <= 65535:
        print(f"{name}: --port must be 0-65535, not {args.port}", file=sys.stderr)
        return 2
    if not args.kubeconfig and not args.build_only:
        print(f"{name}: --kubeconfig PATH is required (where to write the kubeconfig)",
              file=sys.stderr)
        return 2
    try:
        assets = ensure_assets(args.assets)
    except AssetsUnavailable as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    if args.build_only:
        print(f"{name}: binaries in {assets.folder} (from {assets.source})")
        return 0

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    server = RealKubeApiServer(assets, port=args.port)
    try:
        server.start()
        path = server.write_kubeconfig(args.kubeconfig, context=args.context)
        if assets.controller_manager is None:
            print(f"{name}: {assets.folder} has no kube-controller-manager: no garbage "
                  "collection, namespace deletion or service account tokens",
                  file=sys.stderr)
        print(f"{name} serving at {server.url} (kubeconfig: {path})", flush=True)
        while not stop.wait(1.0):
            server.check()  # a crashed part ends the whole, with its reason
    except RealKubeError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
