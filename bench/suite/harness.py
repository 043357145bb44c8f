"""The benchmark harness: processes, their /proc figures, the server's request counters,
and an observer that watches the fake API server the way a user would check the result.

Every process is measured from the outside, so kubeplan and kopf are held to the same
ruler:

* ``FakeApiProcess``: ``kubeplan fake-apiserver --port 0`` in its own process (one
  fresh per run), bound to 127.0.0.1; its own CPU time is read from ``/proc`` so its
  cost can be reported apart from the operator's;
* ``OperatorProcess``: the operator under test (kubeplan or ``kopf run``), CPU time
  and peak RSS (``VmHWM``) from ``/proc``;
* requests are counted by the server (``apiserver_request_total`` on ``/metrics``),
  not by the client, so both frameworks are counted the same way;
* ``Observer``: list+watch of the children and the parents from the harness, with the
  time each child and each status was first seen.

Every process is stopped by its own pid (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import workload

BENCH = Path(__file__).resolve().parents[1]
PEERS = BENCH / "peers"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
_TICK = os.sysconf("SC_CLK_TCK")
_METRIC = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\d+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


# -- /proc ---------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (``/proc/<pid>/stat``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (now) and ``VmHWM`` (peak) of a process, in KiB."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "kernel": os.uname().release}


# -- processes -----------------------------------------------------------------------------

def _profiled(name: str) -> list[str]:
    """A py-spy prefix when ``BENCH_PYSPY=<dir>`` is set (profiling runs: the /proc
    figures are then py-spy's own and meaningless)."""
    out = os.environ.get("BENCH_PYSPY")
    if not out:
        return []
    rate = os.environ.get("BENCH_PYSPY_RATE", "250")
    return ["py-spy", "record", "--nonblocking", "--rate", rate, "--format", "raw",
            "--output", str(Path(out) / f"{name}.{os.getpid()}.{time.time_ns()}.txt"), "--"]


async def _stop_process(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if os.environ.get("BENCH_PYSPY"):  # py-spy writes its profile on SIGINT; each
            os.killpg(proc.pid, signal.SIGINT)  # process runs in its own group
        else:
            os.kill(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()


class FakeApiProcess:
    """A fresh ``kubeplan fake-apiserver`` in its own process, with a kubeconfig."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="kubeplan-bench-")
        self.kubeconfig = Path(self.dir.name) / "kubeconfig"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.session: aiohttp.ClientSession | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def __aenter__(self) -> FakeApiProcess:
        self.proc = await asyncio.create_subprocess_exec(
            *_profiled("fake-apiserver"), sys.executable, "-c",
            "import sys; from kubeplan.cli import main; sys.exit(main())",
            "fake-apiserver", "--host", "127.0.0.1", "--port", "0",
            "--kubeconfig", str(self.kubeconfig),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        match = None
        for _ in range(5):  # py-spy, when profiling, prints a line first
            line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
            match = re.search(r"serving at (http://\S+)", line.decode())
            if match or not line:
                break
        if not match:
            await _stop_process(self.proc)
            raise RuntimeError(f"fake-apiserver did not start: {line!r}")
        self.url = match.group(1)
        self.session = aiohttp.ClientSession(
            base_url=self.url, connector=aiohttp.TCPConnector(limit=64),
            headers={"User-Agent": "kubeplan-bench-harness"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            await _stop_process(self.proc)
        self.dir.cleanup()

    async def request(self, method: str, path: str, body: Any = None,
                      content_type: str = "application/json",
                      expect: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
        assert self.session is not None
        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(method, path, data=data,
                                        headers={"Content-Type": content_type}) as resp:
            payload = await resp.read()
            if resp.status not in expect:
                raise RuntimeError(f"{method} {path}: {resp.status} {payload[:300]!r}")
            return orjson.loads(payload) if payload else {}

    async def request_counts(self) -> collections.Counter[tuple[str, str, str]]:
        """(verb, resource, subresource) -> requests served so far (``/metrics``)."""
        assert self.session is not None
        async with self.session.get("/metrics") as resp:
            text = await resp.text()
        counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        for line in text.splitlines():
            match = _METRIC.match(line)
            if match:
                labels = dict(_LABEL.findall(match.group("labels")))
                counts[(labels["verb"], labels["resource"], labels["subresource"])] += int(
                    match.group("value"))
        return counts

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    # -- the workload -------------------------------------------------------------------

    async def install_crd(self) -> None:
        await self.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                           workload.CRD)
        assert self.session is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # established and served
            async with self.session.get(f"/apis/{workload.GROUP}/{workload.VERSION}") as resp:
                if resp.status == 200:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError("the benchmark CRD was not served within 30 s")

    async def create_parents(self, count: int, concurrency: int = 32) -> None:
        path = f"/apis/{workload.GROUP}/{workload.VERSION}/namespaces/{workload.NAMESPACE}/" \
               f"{workload.PLURAL}"
        indexes = iter(range(count))

        async def worker() -> None:
            for i in indexes:
                await self.request("POST", path, workload.parent(i))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def request_delta(after: collections.Counter[tuple[str, str, str]],
                  before: collections.Counter[tuple[str, str, str]]) -> dict[str, Any]:
    """Requests between two ``/metrics`` readings: by verb, and writes by resource."""
    delta = after - before
    by_verb: collections.Counter[str] = collections.Counter()
    writes: collections.Counter[str] = collections.Counter()
    for (verb, resource, sub), n in delta.items():
        by_verb[verb] += n
        if verb in WRITE_VERBS:
            writes[f"{verb} {resource}{'/' + sub if sub else ''}"] += n
    return {"total": sum(by_verb.values()), "writes": sum(writes.values()),
            "by_verb": dict(sorted(by_verb.items())), "writes_by_resource":
            dict(sorted(writes.items()))}


class OperatorProcess:
    """The operator under test in its own process: ``kubeplan`` or ``kopf``."""

    def __init__(self, framework: str, kubeconfig: Path, *, workers: int = 8,
                 log_dir: Path | None = None, events: bool = True) -> None:
        self.framework = framework
        self.kubeconfig = kubeconfig
        self.workers = workers
        self.events = events
        self.log_dir = log_dir or Path(os.environ.get("BENCH_LOG_DIR", kubeconfig.parent))
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self.started = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        if self.framework == "kubeplan":
            cmd = [sys.executable, str(PEERS / "kubeplan_operator.py"),
                   "--kubeconfig", str(self.kubeconfig), "--workers", str(self.workers)]
            return cmd if self.events else [*cmd, "--no-events"]
        return [sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
                str(PEERS / "kopf_operator.py")]

    async def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"}
        log = (self.log_dir / f"{self.framework}.log").open("ab")
        self.started = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *_profiled(self.framework), *self.command(), stdout=asyncio.subprocess.PIPE,
            stderr=log, env=env, start_new_session=True,
        )
        log.close()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            with contextlib.suppress(orjson.JSONDecodeError):
                event = orjson.loads(line)
                if isinstance(event, dict) and "event" in event:
                    await self.lines.put(event)

    async def next_event(self, name: str, timeout: float = 120.0) -> dict[str, Any]:
        """The next JSON line ``{"event": name, ...}`` the kubeplan peer printed."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.lines.get()
                if event.get("event") == name:
                    return event

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signum)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> dict[str, int]:
        return memory_kib(self.pid)

    async def stop(self) -> None:
        if self.proc is not None:
            await _stop_process(self.proc, grace=15.0)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def until_idle(fake: FakeApiProcess, op: OperatorProcess, *, quiet: float = 1.0,
                     limit: float = 60.0, step: float = 0.25) -> float:
    """Wait until the operator made no request and used (almost) no CPU for ``quiet``
    seconds; returns the time waited. Gives up after ``limit`` seconds."""
    started = time.perf_counter()
    last_total = sum((await fake.request_counts()).values())
    last_cpu = op.cpu()
    still_since = time.perf_counter()
    while time.perf_counter() - started < limit:
        await asyncio.sleep(step)
        total = sum((await fake.request_counts()).values())
        cpu = op.cpu()
        if total != last_total or cpu - last_cpu > 0.02 * step / 0.25:
            still_since = time.perf_counter()
        last_total, last_cpu = total, cpu
        if time.perf_counter() - still_since >= quiet:
            break
    return time.perf_counter() - started


# -- the observer --------------------------------------------------------------------------

def _image(obj: dict[str, Any]) -> str | None:
    try:
        return obj["spec"]["template"]["spec"]["containers"][0]["image"]
    except (KeyError, IndexError, TypeError):
        return None


class Observer:
    """Watches the benchmark's children and parents from the harness process.

    ``converged`` is set once ``parents`` statuses are written (``status`` matching the
    spec) and ``parents * 3`` children exist; ``expect_image`` resolves when a
    Deployment is seen with a given image (for change latency)."""

    def __init__(self, fake: FakeApiProcess, parents: int) -> None:
        self.fake = fake
        self.parents = parents
        self.children: dict[str, set[str]] = {"Deployment": set(), "Service": set(),
                                              "ConfigMap": set()}
        self.status_ok: set[str] = set()
        self.converged = asyncio.Event()
        self.converged_at = 0.0
        self._images: dict[str, tuple[str, asyncio.Future[float]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._listed: list[asyncio.Event] = []

    def expect_image(self, name: str, image: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._images[name] = (image, future)
        return future

    async def start(self) -> None:
        ns = workload.NAMESPACE
        selector = f"{workload.WORKLOAD_LABEL}={workload.WORKLOAD_VALUE}"
        collections_ = [
            (f"/apis/apps/v1/namespaces/{ns}/deployments", selector, self._child("Deployment")),
            (f"/api/v1/namespaces/{ns}/services", selector, self._child("Service")),
            (f"/api/v1/namespaces/{ns}/configmaps", selector, self._child("ConfigMap")),
            (f"/apis/{workload.GROUP}/{workload.VERSION}/namespaces/{ns}/{workload.PLURAL}",
             None, self._parent),
        ]
        for path, sel, on_event in collections_:
            listed = asyncio.Event()
            self._listed.append(listed)
            self._tasks.append(asyncio.create_task(self._watch(path, sel, on_event, listed)))
        await asyncio.gather(*(e.wait() for e in self._listed))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _child(self, kind: str) -> Callable[[str, dict[str, Any]], None]:
        names = self.children[kind]

        def on_event(kind_: str, obj: dict[str, Any]) -> None:
            name = obj["metadata"]["name"]
            if kind_ == "DELETED":
                names.discard(name)
                return
            names.add(name)
            if kind == "Deployment" and self._images:
                wanted = self._images.get(name)
                if wanted is not None and _image(obj) == wanted[0] and not wanted[1].done():
                    wanted[1].set_result(time.perf_counter())
            self._check()

        return on_event

    def _parent(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        spec = obj.get("spec") or {}
        if kind != "DELETED" and status.get("children") == workload.CHILDREN and \
                status.get("image") == spec.get("image"):
            self.status_ok.add(name)
        else:
            self.status_ok.discard(name)
        self._check()

    def _check(self) -> None:
        if not self.converged.is_set() and len(self.status_ok) >= self.parents and all(
                len(names) >= self.parents for names in self.children.values()):
            self.converged_at = time.perf_counter()
            self.converged.set()

    async def _watch(self, path: str, selector: str | None,
                     on_event: Callable[[str, dict[str, Any]], None],
                     listed: asyncio.Event) -> None:
        assert self.fake.session is not None
        params = {"labelSelector": selector} if selector else {}
        async with self.fake.session.get(path, params=params) as resp:
            body = orjson.loads(await resp.read())
        for item in body.get("items") or ():
            on_event("ADDED", item)
        rv = body["metadata"]["resourceVersion"]
        listed.set()
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        while True:
            query = {**params, "watch": "true", "resourceVersion": rv,
                     "allowWatchBookmarks": "true", "timeoutSeconds": "3600"}
            async with self.fake.session.get(path, params=query, timeout=timeout) as resp:
                # whole chunks split into lines here: a readline() per event cost the
                # harness, which shares the two cores with what it measures, twice as much
                partial = b""
                async for chunk in resp.content.iter_any():
                    lines = (partial + chunk).split(b"\n")
                    partial = lines.pop()
                    for line in lines:
                        if not line.strip():
                            continue
                        event = orjson.loads(line)
                        obj = event.get("object") or {}
                        rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            on_event(event["type"], obj)
