"""Watch kubeplan run an operator, with no cluster: the echo-server example on an
embedded fake Kubernetes API server.

The demo starts kubeplan's fake API server on 127.0.0.1 (real HTTP: the operator talks
to it through kubernetes_asyncio exactly as it would to a cluster), installs the
EchoServer CRD derived from examples/echo-server/echo_server_operator.py, then:

  1. creates two EchoServers, hello (2 replicas) and bonjour (1 replica);
  2. changes hello's greeting and replicas (its Pods are recreated: recreate strategy);
  3. deletes bonjour (Kubernetes garbage collection removes its children);

and prints every plan the operator executes, one line per action with its reason.
The fake server has no kubelet, so the demo plays one: it marks each new Pod Ready,
and the operator's next sync reports it in the EchoServer's status. It ends with a
table of what exists.

With --keep it keeps the server and the operator running after the table and prints a
kubeconfig for kubectl (kubectl get echoservers,pods,services) until Ctrl-C.

The demo runs the example from the source tree, so install kubeplan from a checkout
(pip install -e .).

Exit codes: 0 the demo ran to its end (or --keep was stopped with Ctrl-C); 1 something
went wrong (explained on stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from kubeplan.adapters.gctuning import tune_gc
from kubeplan.adapters.logs import configure_logging
from kubeplan.commands._loading import LoadError, load_definition
from kubeplan.core.errors import KubeplanError

HELP = "run the echo-server example on an embedded fake API server, narrating each plan"

EXAMPLE = "examples/echo-server/echo_server_operator.py"
NAMESPACE = "default"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep", action="store_true",
        help="keep the server and operator running after the demo; print a kubeconfig path",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0,
        help="seconds each step may take to settle (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the runtime's log as well")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="the runtime's log as text or one JSON object per line")


def example_path() -> Path:
    """The echo-server example: in the checkout this command is installed from (editable),
    else in the current folder (a wheel installed, run from a checkout)."""
    # cli/kubeplan/commands/demo.py -> the checkout's root
    beside = Path(__file__).resolve().parents[3] / EXAMPLE
    here = Path.cwd() / EXAMPLE
    return beside if beside.is_file() or not here.is_file() else here


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_format,
                      level=logging.INFO if args.verbose else logging.WARNING)
    path = example_path()
    if not path.is_file():
        print(
            f"kubeplan demo: the echo-server example is not at {path}; the demo runs it from "
            "a source checkout: clone the repository and run the demo in it",
            file=sys.stderr,
        )
        return 1
    try:
        definition = load_definition(f"{path}:operator")
    except LoadError as exc:
        print(f"kubeplan demo: {exc}", file=sys.stderr)
        return 1
    demo = Demo(definition, out=sys.stdout, timeout=args.timeout)
    try:
        tune_gc()
        asyncio.run(demo.main(keep=args.keep))
    except KeyboardInterrupt:
        return 130
    except DemoFailed as exc:
        print(f"kubeplan demo: {exc}", file=sys.stderr)
        return 1
    return 0


class DemoFailed(KubeplanError):
    """A step did not reach the state it should have; the message says which."""


class Demo:
    """The demo's script; ``main`` runs it. Output goes to ``out``."""

    def __init__(self, definition: Any, *, out: TextIO, timeout: float = 30.0) -> None:
        self.definition = definition
        self.out = out
        self.timeout = timeout
        self.started = time.monotonic()

    def say(self, text: str = "") -> None:
        try:
            print(text, file=self.out, flush=True)
        except BrokenPipeError:  # `kubeplan demo | head`: keep going, quietly
            self.out = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the demo

    def step(self, title: str) -> None:
        self.say()
        self.say(f"==> {title}")

    async def main(self, *, keep: bool = False) -> None:
        # the root package composes the layers: only here do adapters meet the testkit
        from kubeplan.adapters.client import KubeClient
        from kubeplan.adapters.runtime import Operator
        from kubeplan.adapters.settings import RuntimeSettings
        from kubeplan.testkit.apiserver import FakeApiServer
        from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig

        config = self.definition.config
        folder = Path(tempfile.mkdtemp(prefix="kubeplan-demo-"))
        async with FakeApiServer() as server, FakeApiHttpServer(server) as http:
            self.server = server
            kubeconfig = write_kubeconfig(folder / "kubeconfig", http.url)
            self.say(f"kubeplan demo: the {config.name} operator ({EXAMPLE})")
            self.say("(every plan below is printed as the operator executes it)")
            self.say(f"fake Kubernetes API server at {http.url}")
            client = await KubeClient.from_kubeconfig(kubeconfig)  # "kubectl"
            operator_client = await KubeClient.from_kubeconfig(kubeconfig)
            self.client = client
            settings = RuntimeSettings(workers=1, resync_period=None, backoff_cap=5.0)
            self.operator = Operator(config, self.definition.handler, operator_client,
                                     settings=settings, owns_client=True)
            self._narrate_plans()
            task: asyncio.Task[None] | None = None
            try:
                await self.install_crd()
                task = asyncio.create_task(self.operator.run(), name="demo operator")
                await self.settled()
                await self.script()
                await self.table()
                if keep:
                    await self.keep(kubeconfig)
            finally:
                await self.operator.stop()
                if task is not None:
                    with contextlib.suppress(Exception):
                        await task
                await client.close()
                shutil.rmtree(folder, ignore_errors=True)

    # -- the script -------------------------------------------------------------------------

    async def install_crd(self) -> None:
        from kubeplan.core.crd import crd_of
        from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition

        crd = crd_of(self.definition)
        self.step(f"install the CustomResourceDefinition {crd['metadata']['name']}")
        await self.client.create(CustomResourceDefinition, crd)
        await self.server.settle()
        self.say("   established; starting the operator (watching EchoServers, Pods, Services)")

    async def script(self) -> None:
        parent = self.definition.config.parent
        self.step("create EchoServer hello (2 replicas) and EchoServer bonjour (1 replica)")
        for name, greeting, replicas in (("hello", "Hello", 2), ("bonjour", "Bonjour", 1)):
            await self.client.create(parent, {
                "apiVersion": parent.api_version, "kind": parent.kind,
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"greeting": greeting, "replicas": replicas},
            })
        await self.settled()

        self.step("change hello: greeting 'Hello again', 3 replicas")
        await self.client.patch(
            parent, "hello", {"spec": {"greeting": "Hello again", "replicas": 3}},
            namespace=NAMESPACE,
        )
        await self.settled()

        self.step("delete bonjour")
        await self.client.delete(parent, "bonjour", NAMESPACE)
        await self.server.settle()
        await self.settled()
        self.say("   Kubernetes garbage collection removed bonjour's Pod and Service "
                 "(they are owned by it): no plan needed")
        await self.check_final_state()

    async def settled(self) -> None:
        """Let the operator finish, play the kubelet for new Pods, repeat until quiet."""
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    await self.operator.settle(timeout=self.timeout)
                    await self.server.settle()
                    if not await self.kubelet():
                        await self.operator.settle(timeout=self.timeout)
                        return
        except TimeoutError:
            raise DemoFailed(
                f"the operator did not settle within {self.timeout}s (try --timeout)"
            ) from None

    async def kubelet(self) -> int:
        """What a kubelet would do: mark each new Pod Running and Ready. Returns how many."""
        from kubeplan.core.k8s import core_v1

        listed = await self.client.list(core_v1.Pod, NAMESPACE)
        changed = 0
        for pod in listed.get("items") or ():
            meta = pod["metadata"]
            if pod_ready(pod) or meta.get("deletionTimestamp"):
                continue
            await self.client.patch(
                core_v1.Pod, meta["name"],
                {"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True"}]}},
                namespace=NAMESPACE, subresource="status",
            )
            self.say(f"   (kubelet, simulated) Pod {NAMESPACE}/{meta['name']} is Running and Ready")
            changed += 1
        return changed

    async def check_final_state(self) -> None:
        parent = self.definition.config.parent
        hello = await self.client.get(parent, "hello", NAMESPACE)
        ready = (hello.get("status") or {}).get("readyReplicas")
        if ready != 3:
            raise DemoFailed(f"hello should report 3 ready replicas, its status is "
                             f"{hello.get('status')!r}")
        from kubeplan.core.k8s import core_v1

        left = [_name(pod) for pod in await self._stored(core_v1.Pod)
                if pod["metadata"]["name"].startswith("bonjour")]
        if left:
            raise DemoFailed(f"bonjour's Pods should have been garbage-collected: {left}")

    async def keep(self, kubeconfig: Path) -> None:
        self.say()
        self.say("the fake API server and the operator keep running (--keep); in another shell:")
        self.say(f"   export KUBECONFIG={kubeconfig}")
        self.say("   kubectl get echoservers,pods,services")
        self.say("   kubectl patch echoserver hello --type merge -p '{\"spec\":{\"replicas\":1}}'")
        self.say("Ctrl-C stops them.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await stop.wait()
                if not stop.is_set():
                    await self.kubelet()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        self.say("stopped")

    # -- output -----------------------------------------------------------------------------

    def _narrate_plans(self) -> None:
        """Print each plan as the operator executes it (the runtime has no plan hook: wrap
        the executor, as the testkit's simulation does)."""
        execute: Callable[..., Any] = self.operator.executor.execute

        async def narrated(plan: Any, parent: Any, **options: Any) -> Any:
            if plan.actions or plan.error:
                count = len(plan.actions)
                self.say(f"   plan for {plan.parent.type.kind} {_where(plan.parent)} "
                         f"({count} action{'' if count == 1 else 's'}):")
                for line in plan.lines():
                    self.say(f"     {_short(line)}")
            return await execute(plan, parent, **options)

        self.operator.executor.execute = narrated  # type: ignore[method-assign]

    async def table(self) -> None:
        from kubeplan.core.k8s import core_v1

        self.step("final state")
        parent = self.definition.config.parent
        rows = [("KIND", "NAME", "STATUS", "DETAILS")]
        for obj in await self._stored(parent):
            status = obj.get("status") or {}
            synced = next((c.get("status") for c in status.get("conditions") or ()
                           if c.get("type") == "Synced"), "Unknown")
            rows.append((
                parent.kind, _name(obj),
                f"{status.get('readyReplicas', 0)}/{obj['spec'].get('replicas')} ready",
                f"greeting {obj['spec'].get('greeting')!r}, Synced={synced}",
            ))
        for pod in await self._stored(core_v1.Pod):
            rows.append(("Pod", _name(pod), "Ready" if pod_ready(pod) else "NotReady",
                         f"args {pod['spec']['containers'][0].get('args')}, "
                         f"owner {_owner(pod)}"))
        for svc in await self._stored(core_v1.Service):
            ports = ", ".join(f"{p.get('port')}->{p.get('targetPort')}"
                              for p in svc["spec"].get("ports") or ())
            rows.append(("Service", _name(svc), svc["spec"].get("type", ""),
                         f"ports {ports}, owner {_owner(svc)}"))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:3])]
            self.say("   " + "  ".join([*cells, row[3]]).rstrip())

    async def _stored(self, type_: Any) -> list[dict[str, Any]]:
        listed = await self.client.list(type_, NAMESPACE)
        return sorted(listed.get("items") or (), key=lambda o: o["metadata"]["name"])


def pod_ready(pod: dict[str, Any]) -> bool:
    """Whether a Pod's ``Ready`` condition is ``True`` (what the kubelet reports)."""
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _where(ref: Any) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name


def _name(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _owner(obj: dict[str, Any]) -> str:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return f"{ref.get('kind')} {ref.get('name')}"
    return "none"


def _short(line: str, limit: int = 120) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."
