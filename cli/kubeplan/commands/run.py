"""Run an operator: watch its parents and children and reconcile them until stopped.

MODULE:ATTR names the OperatorDefinition: a dotted module (my_operator.main:operator)
or a file (examples/member/member_operator.py:operator).

Several MODULE:ATTR run several operators in this one process (their names must
differ): one client, one watch cache per collection they share (one LIST and WATCH,
one copy of each object), one health server (/readyz ready when all are) and one
/metrics (each series labelled with its operator); each keeps its own queue, workers
and Leases. If one of them fails, the others are stopped gracefully and the command
exits 1 naming it.

Configuration: --kubeconfig / --context when given, else in-cluster when running in a
pod, else $KUBECONFIG or ~/.kube/config.

--embedded starts kubeplan's fake API server in this process instead (HTTP on
127.0.0.1), installs the operators' CRDs, and prints a kubeconfig path for kubectl: a
whole operator on a laptop, no cluster needed.

Several replicas: --leader-election (one active, the others warm standbys) or
--sharding (every replica syncs its share of the parents), coordinated through Lease
objects in the pod's namespace ($POD_NAMESPACE); the replica's identity is $POD_NAME.
$KUBEPLAN_LEADER_ELECTION=true / $KUBEPLAN_SHARDING=true do the same (the Deployment
that `kubeplan manifests --replicas N` emits sets the first).

Before it starts, the operator waits up to --startup-timeout seconds (default 30; 0:
no wait) for the API server to answer and to serve the parent type, and exits 1 with
the reason when it does not; once running, it retries whatever fails.

A parent type with several versions (OperatorDefinition(versions=...)) makes the
operator serve its conversion webhook over HTTPS on --webhook-port (default 9443) with
--tls-cert-file / --tls-key-file, reloaded when they change; --embedded needs neither
(the fake calls the conversions in process).

--embedded installs the operator's CRD: its own, or one derived from its spec and
status classes, or, with neither, one that accepts any spec and status
(x-kubernetes-preserve-unknown-fields), and says so.

SIGTERM or Ctrl-C stops taking work and lets running syncs finish within the grace
period (--grace-period); then SIGTERM exits 0 and Ctrl-C 130 (a second Ctrl-C stops
at once).

--record FILE writes what the operator saw and did (watch events, the answers to its
writes, each sync's plan) to FILE as it runs, Secret values redacted unless
--record-secrets; kubeplan.testkit.replay turns the file into a test.
--qps N (with --burst, default 10) limits the operator's API requests on the client
side; --log-format json writes one JSON object per line (time, level, logger,
message, and parent, sync_id, action, child where known) for a log pipeline.

Examples:
  kubeplan run examples/member/member_operator.py:operator --embedded
  kubeplan run examples/member/member_operator.py:operator --embedded --record run.jsonl
  kubeplan run my_operator:operator --context prod --workers 8 --health-port 8080
  kubeplan run examples/multicontroller/secret_sync_operator.py:operator \
      examples/multicontroller/service_account_sync_operator.py:operator --embedded

Exit codes: 0 stopped cleanly (SIGTERM); 1 the operator could not start (a kubeconfig
or context that does not work, an API server that does not answer within the start-up
timeout) or crashed, explained on stderr; 2 bad usage; 130 stopped by Ctrl-C (SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import AlreadyExists, ApiError
from kubeplan.adapters.group import OperatorGroup
from kubeplan.adapters.logs import JsonFormatter, configure_logging
from kubeplan.adapters.process import serve
from kubeplan.adapters.protocol import ApiClient
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import ENV_LEADER_ELECTION, ENV_SHARDING, RuntimeSettings
from kubeplan.commands import _webhooks
from kubeplan.commands._cluster import ClusterError, connect, wait_until_served
from kubeplan.commands._loading import LoadError, load_definition
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import builtin_type
from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition

log = logging.getLogger("kubeplan.run")

#: the exit code of a process stopped by SIGINT (128 + 2), as shells report it
EXIT_INTERRUPTED = 130

HELP = "run an operator against a cluster (or an embedded fake API server)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", metavar="MODULE:ATTR", nargs="+",
                        help="the OperatorDefinition to run (several: run them side by side "
                             "in this process)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster or ~/.kube)")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument("--embedded", action="store_true",
                        help="run against a fake API server started in this process")
    parser.add_argument("--controllers", default=None, metavar="NAME,...",
                        help="with --embedded: emulated controllers to add to the fake's "
                             "defaults (kubelet, workloads, serviceaccount, rootca)")
    parser.add_argument("--workers", type=int, default=4, help="parallel syncs (default: 4)")
    parser.add_argument("--health-port", type=int, default=None,
                        help="serve /healthz /readyz /metrics on this port (0: any free port)")
    parser.add_argument("--grace-period", type=float, default=30.0,
                        help="seconds running syncs get to finish on SIGTERM (default: 30)")
    parser.add_argument("--resync-period", type=float, default=600.0,
                        help="seconds between full resyncs (default: 600)")
    parser.add_argument("--startup-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for the API server to answer and serve the "
                             "parent type before exiting 1 (default: 30; 0: no wait)")
    parser.add_argument("--leader-election", action="store_true",
                        help=f"Lease-based leader election (or ${ENV_LEADER_ELECTION}=true)")
    parser.add_argument("--sharding", action="store_true",
                        help=f"share the parents with the other replicas (or ${ENV_SHARDING})")
    parser.add_argument("--record", metavar="FILE",
                        help="record what the operator sees and does to FILE (JSON lines; "
                             "replay it with kubeplan.testkit.replay)")
    parser.add_argument("--record-secrets", action="store_true",
                        help="write Secret values into the recording (default: redacted)")
    parser.add_argument("--qps", type=_positive_float, default=None, metavar="N",
                        help="client-side limit: API requests a second (default: none; "
                             "the server's 429 + Retry-After are always honoured)")
    parser.add_argument("--burst", type=_positive_int, default=10, metavar="N",
                        help="requests --qps lets through at once (default: 10)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text lines, or one JSON object per line with the parent, the "
                             "sync id and the action (default: text)")
    _webhooks.add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="debug logging (each plan in full)")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_format,
                      level=logging.DEBUG if args.verbose else logging.INFO)
    args.fake_controllers = None
    if args.controllers is not None:
        if not args.embedded:
            print("kubeplan run: --controllers needs --embedded (they run in the fake)",
                  file=sys.stderr)
            return 2
        from kubeplan.testkit.apiserver.controllers import parse_controllers

        try:
            args.fake_controllers = parse_controllers(args.controllers)
        except ValueError as exc:
            print(f"kubeplan run: --controllers: {exc}", file=sys.stderr)
            return 2
    try:
        definitions = [load_definition(target) for target in args.targets]
    except LoadError as exc:
        _fail(args, f"kubeplan run: {exc}")
        return 1
    clash = _name_clash(args.targets, definitions)
    if clash:
        print(f"kubeplan run: {clash}", file=sys.stderr)
        return 2
    if args.workers < 1:
        _fail(args, "kubeplan run: --workers must be at least 1")
        return 2
    if problem := _webhooks.problem(definitions, args):
        print(f"kubeplan run: {problem}", file=sys.stderr)
        return 2
    leader_election = args.leader_election or _env_flag(ENV_LEADER_ELECTION)
    sharding = args.sharding or _env_flag(ENV_SHARDING)
    if leader_election and sharding:
        _fail(args, "kubeplan run: choose --leader-election or --sharding, not both")
        return 2
    settings = RuntimeSettings(
        workers=args.workers, health_port=args.health_port, grace_period=args.grace_period,
        resync_period=args.resync_period or None, leader_election=leader_election,
        shards=sharding, record=args.record, record_secrets=args.record_secrets,
        qps=args.qps, burst=args.burst,
    )
    if args.record is not None:
        try:  # said now, not in a log line once the operator runs without it
            Path(args.record).open("ab").close()
        except OSError as exc:
            print(f"kubeplan run: --record {args.record}: cannot write it ({exc.strerror})",
                  file=sys.stderr)
            return 1
    from kubeplan.adapters.gctuning import tune_gc

    tune_gc()  # this process is the operator's own
    try:
        stopped_by = asyncio.run(_main(definitions, args, settings))
    except KeyboardInterrupt:  # Ctrl-C before the operator ran, or a second one
        return EXIT_INTERRUPTED
    except ClusterError as exc:
        _fail(args, f"kubeplan run: {exc}")
        return 1
    except (ApiError, OSError, RuntimeError, ValueError) as exc:
        _fail(args, f"kubeplan run: {exc}")
        return 1
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else 0


def _fail(args: argparse.Namespace, message: str) -> None:
    """The one line saying why the command stops: as text, or with ``--log-format json`` as
    one more JSON log line (level ERROR), so a log pipeline parses every line."""
    if args.log_format == "json":
        record = logging.LogRecord(log.name, logging.ERROR, __file__, 0, message, None, None)
        print(JsonFormatter().format(record), file=sys.stderr)
    else:
        print(message, file=sys.stderr)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _name_clash(targets: list[str], definitions: list[OperatorDefinition]) -> str:
    """What is wrong when two targets name operators of one name (else "")."""
    seen: dict[str, str] = {}
    for target, definition in zip(targets, definitions, strict=True):
        name = definition.config.name
        if name in seen:
            return (f"{seen[name]} and {target} are both operators named {name!r}; the "
                    "operators of one process need unique names (they name its Leases, "
                    "field manager and metrics)")
        seen[name] = target
    return ""


def _runner(definitions: list[OperatorDefinition], client: ApiClient,
            settings: RuntimeSettings, *, owns_client: bool) -> Operator | OperatorGroup:
    """One operator as ever; several as one ``OperatorGroup`` on the one client."""
    if len(definitions) == 1:
        [definition] = definitions
        return Operator(definition.config, definition.handler, client, settings=settings,
                        owns_client=owns_client)
    group = OperatorGroup(client, settings=settings, owns_client=owns_client)
    for definition in definitions:
        group.add_definition(definition)
    return group


async def _main(definitions: list[OperatorDefinition], args: argparse.Namespace,
                settings: RuntimeSettings) -> signal.Signals | None:
    """Run until stopped; the signal that stopped the operators, if one did."""
    if args.embedded:
        return await _run_embedded(definitions, settings, args.fake_controllers)
    if args.startup_timeout > 0:
        for definition in definitions:
            stopped = await _unless_stopped(wait_until_served(
                args.kubeconfig, args.context, definition.config.parent,
                timeout=args.startup_timeout, on_wait=log.warning))
            if stopped is not None:
                return stopped
    client = await connect(args.kubeconfig, args.context)
    async with _webhooks.serving(definitions, args):
        return await _serve(_runner(definitions, client, settings, owns_client=True))


async def _unless_stopped(waiting: Awaitable[object]) -> signal.Signals | None:
    """Await ``waiting`` (the start-up wait) unless SIGTERM or SIGINT comes first: then
    it is cancelled and the signal returned, so a stop while waiting is a clean stop."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(waiting)
    received: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        received.append(sig)
        task.cancel()

    with _on_stop_signals(loop, stop):
        try:
            await task
        except asyncio.CancelledError:
            if not received:
                raise
            log.info("%s: stopping before the operator started", received[0].name)
    return received[0] if received else None


@contextlib.contextmanager
def _on_stop_signals(loop: asyncio.AbstractEventLoop,
                     stop: Callable[[signal.Signals], None]) -> Iterator[None]:
    """``stop(signal)`` on SIGTERM and SIGINT while the block runs (where the loop can
    take signal handlers); the handlers are removed after it."""
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop, sig)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _serve(operator: Operator | OperatorGroup) -> signal.Signals | None:
    """``serve`` with this command's signal handling: SIGTERM or SIGINT stops the
    operator gracefully; the first SIGINT also gives Ctrl-C back its default, so a second
    one interrupts at once (``KeyboardInterrupt``)."""
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []
    stopping: list[asyncio.Task[None]] = []

    def stop(sig: signal.Signals) -> None:
        if not received:
            log.info("%s: stopping", sig.name)
            stopping.append(loop.create_task(operator.stop()))
        received.append(sig)
        if sig == signal.SIGINT:
            loop.remove_signal_handler(signal.SIGINT)

    with _on_stop_signals(loop, stop):
        if isinstance(operator, OperatorGroup):
            await operator.run(collect_between_bursts=True)
        else:
            await serve([operator], install_signal_handlers=False, collect_between_bursts=True)
    return received[0] if received else None


async def _run_embedded(definitions: list[OperatorDefinition], settings: RuntimeSettings,
                        controllers: frozenset[str] | None = None) -> signal.Signals | None:
    # the root package composes the layers: only here do adapters meet the testkit
    from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig
    from kubeplan.testkit.apiserver.server import FakeApiServer

    with tempfile.TemporaryDirectory(prefix="kubeplan-") as tmp:
        fake = FakeApiServer(controllers=True if controllers is None else controllers)
        async with fake as server, FakeApiHttpServer(server) as http:
            kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", http.url)
            client = await KubeClient.from_kubeconfig(kubeconfig)
            # a versioned parent converts through the operator's conversions, in process
            for definition in definitions:
                server.conversion_webhooks.serve_operator(definition)
            try:
                notes = [await _install_crd(client, definition) for definition in definitions]
                for definition in definitions:  # validators and mutators, in process
                    notes.append(await _register_admission(client, server, definition))
                print(f"fake API server on {http.url}", flush=True)
                print(f"kubeconfig: {kubeconfig}", flush=True)
                print(f"  export KUBECONFIG={kubeconfig}", flush=True)
                for note in notes:
                    if note:
                        print(note, flush=True)
                stopped_by = await _serve(_runner(definitions, client, settings,
                                                  owns_client=False))
            finally:
                await client.close()
        print("stopped", flush=True)
    return stopped_by


async def _register_admission(client: KubeClient, server: Any,
                              definition: OperatorDefinition) -> str:
    """Register the operator's webhook configurations in the embedded fake, answered in
    process by its validators and mutators; what to tell the user about them."""
    from kubeplan.core.admission import MUTATING_CONFIGURATION, VALIDATING_CONFIGURATION

    configurations = server.admission_webhooks.serve_operator(definition)
    for configuration in configurations:
        kind = (MUTATING_CONFIGURATION if configuration["kind"].startswith("Mutating")
                else VALIDATING_CONFIGURATION)
        await client.create(kind, configuration)
    if not configurations:
        return ""
    names = ", ".join(b.webhook_name for b in definition.admission)
    return f"admission webhooks (in process): {names}"


async def _install_crd(client: KubeClient, definition: OperatorDefinition) -> str:
    """Install the parent's CRD in the embedded server; what to tell the user about it.

    The definition's own CRD, else the one derived from its spec and status classes; with
    neither, the derived CRD accepts any spec and status (preserve-unknown-fields), so the
    operator of the README's Quickstart runs as it is. A built-in parent needs none.
    """
    from kubeplan.core.crd import crd_of

    parent = definition.config.parent
    if builtin_type(parent.api_version, parent.kind) is not None:
        return ""
    crd = crd_of(definition)
    with contextlib.suppress(AlreadyExists):
        await client.create(CustomResourceDefinition, crd)
    if definition.crd is None and definition.spec_class is None:
        return (
            f"installed CRD {crd['metadata']['name']}, which accepts any spec and status "
            "(x-kubernetes-preserve-unknown-fields): the OperatorDefinition has no "
            "spec_class and no crd to derive a schema from"
        )
    return ""
