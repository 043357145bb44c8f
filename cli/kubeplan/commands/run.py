"""Run an operator: watch its parents and children and reconcile them until stopped.

MODULE:ATTR names the OperatorDefinition: a dotted module (my_operator.main:operator)
or a file (examples/member/operator.py:operator).

Configuration: --kubeconfig / --context when given, else in-cluster when running in a
pod, else $KUBECONFIG or ~/.kube/config.

--embedded starts kubeplan's fake API server in this process instead (HTTP on
127.0.0.1), installs the operator's CRD, and prints a kubeconfig path for kubectl: a
whole operator on a laptop, no cluster needed.

Several replicas: --leader-election (one active, the others warm standbys) or
--sharding (every replica syncs its share of the parents), coordinated through Lease
objects in the pod's namespace ($POD_NAMESPACE); the replica's identity is $POD_NAME.
$KUBEPLAN_LEADER_ELECTION=true / $KUBEPLAN_SHARDING=true do the same (the Deployment
that `kubeplan manifests --replicas N` emits sets the first).

SIGTERM or Ctrl-C stops taking work, lets running syncs finish within the grace
period (--grace-period) and exits 0.

Examples:
  kubeplan run examples/member/operator.py:operator --embedded
  kubeplan run my_operator:operator --context prod --workers 8 --health-port 8080

Exit codes: 0 stopped cleanly; 1 the operator could not start or crashed (explained
on stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import AlreadyExists, ApiError
from kubeplan.adapters.runtime import Operator, serve
from kubeplan.adapters.settings import ENV_LEADER_ELECTION, ENV_SHARDING, RuntimeSettings
from kubeplan.commands._loading import LoadError, load_definition
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition

HELP = "run an operator against a cluster (or an embedded fake API server)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE:ATTR", help="the OperatorDefinition to run")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster or ~/.kube)")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument("--embedded", action="store_true",
                        help="run against a fake API server started in this process")
    parser.add_argument("--workers", type=int, default=4, help="parallel syncs (default: 4)")
    parser.add_argument("--health-port", type=int, default=None,
                        help="serve /healthz /readyz /metrics on this port (0: any free port)")
    parser.add_argument("--grace-period", type=float, default=30.0,
                        help="seconds running syncs get to finish on SIGTERM (default: 30)")
    parser.add_argument("--resync-period", type=float, default=600.0,
                        help="seconds between full resyncs (default: 600)")
    parser.add_argument("--leader-election", action="store_true",
                        help=f"Lease-based leader election (or ${ENV_LEADER_ELECTION}=true)")
    parser.add_argument("--sharding", action="store_true",
                        help=f"share the parents with the other replicas (or ${ENV_SHARDING})")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="debug logging (each plan in full)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        definition = load_definition(args.target)
    except LoadError as exc:
        print(f"kubeplan run: {exc}", file=sys.stderr)
        return 1
    if args.workers < 1:
        print("kubeplan run: --workers must be at least 1", file=sys.stderr)
        return 2
    leader_election = args.leader_election or _env_flag(ENV_LEADER_ELECTION)
    sharding = args.sharding or _env_flag(ENV_SHARDING)
    if leader_election and sharding:
        print("kubeplan run: choose --leader-election or --sharding, not both", file=sys.stderr)
        return 2
    settings = RuntimeSettings(
        workers=args.workers, health_port=args.health_port, grace_period=args.grace_period,
        resync_period=args.resync_period or None, leader_election=leader_election,
        shards=sharding,
    )
    from kubeplan.adapters.gctuning import tune_gc

    tune_gc()  # this process is the operator's own
    try:
        asyncio.run(_main(definition, args, settings))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130
    except (ApiError, OSError, RuntimeError, ValueError) as exc:
        print(f"kubeplan run: {exc}", file=sys.stderr)
        return 1
    return 0


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


async def _main(definition: OperatorDefinition, args: argparse.Namespace,
                settings: RuntimeSettings) -> None:
    if args.embedded:
        await _run_embedded(definition, settings)
        return
    client = await KubeClient.from_config(args.kubeconfig, args.context)
    operator = Operator(definition.config, definition.handler, client, settings=settings,
                        owns_client=True)
    await serve([operator], collect_between_bursts=True)


async def _run_embedded(definition: OperatorDefinition, settings: RuntimeSettings) -> None:
    # the root package composes the layers: only here do adapters meet the testkit
    from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig
    from kubeplan.testkit.apiserver.server import FakeApiServer

    with tempfile.TemporaryDirectory(prefix="kubeplan-") as tmp:
        async with FakeApiServer() as server, FakeApiHttpServer(server) as http:
            kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", http.url)
            client = await KubeClient.from_kubeconfig(kubeconfig)
            try:
                await _install_crd(client, definition)
                print(f"fake API server on {http.url}", flush=True)
                print(f"kubeconfig: {kubeconfig}", flush=True)
                print(f"  export KUBECONFIG={kubeconfig}", flush=True)
                operator = Operator(definition.config, definition.handler, client,
                                    settings=settings)
                await serve([operator], collect_between_bursts=True)
            finally:
                await client.close()
        print("stopped", flush=True)


async def _install_crd(client: KubeClient, definition: OperatorDefinition) -> None:
    crd: dict[str, Any] | None = definition.crd
    if crd is None and definition.spec_class is not None:
        from kubeplan.core.crd import crd_of

        crd = crd_of(definition)
    if crd is None:
        return
    with contextlib.suppress(AlreadyExists):
        await client.create(CustomResourceDefinition, crd)
