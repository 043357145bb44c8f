"""The benchmark harness: processes, their /proc figures, the server's request counters,
and an observer that watches the API server the way a user would check the result.

Every process is measured from the outside, so kubeplan, kopf and controller-runtime
are held to the same ruler:

* ``ApiServerProcess``: ``kubeplan fake-apiserver --port 0`` or ``kubeplan
  kube-apiserver --port 0`` (etcd, kube-apiserver and kube-controller-manager) in its
  own process tree (one fresh per run), bound to 127.0.0.1; its CPU time is read from
  ``/proc`` so its cost can be reported apart from the operator's;
* ``OperatorProcess``: the operator under test (kubeplan, ``kopf run`` or the
  controller-runtime peer in Go), CPU time and peak RSS (``VmHWM``) from ``/proc``;
* requests are counted by the server (``apiserver_request_total`` on ``/metrics``),
  not by the client, so every framework is counted the same way;
* ``Observer``: list+watch of the children and the parents from the harness, with the
  time each child and each status was first seen.

Every process is stopped by its own pid (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import os
import re
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

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


SERVER_KINDS = ("fake", "real")
_SERVING = re.compile(r"serving at (https?://\S+)")
_DISPATCHED = "apiserver_flowcontrol_dispatched_requests_total{"
_OPERATOR_SA = "kubeplan-bench-operator"
#: API priority and fairness verbs -> the verb labels of ``apiserver_request_total``
#: (``patch`` is split into PATCH and APPLY in ``request_counts``; ``watch`` not counted)
_APF_VERBS = {"get": "GET", "list": "LIST", "create": "POST", "update": "PUT",
              "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETECOLLECTION"}
#: what the benchmark's operators use (anything else is counted as resource "other")
_COUNTED_RESOURCES = ("deployments", "services", "configmaps", "trios", "trios/status",
                      "events")


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (``/proc/*/stat``: parent pids)."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(stat[stat.rindex(")") + 2:].split()[1])].append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(parents.get(current, ()))
    return out


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return str(pid)


def kube_apiserver_available() -> str | None:
    """None when ``kubeplan kube-apiserver`` can run here, else why not (its binaries
    are found or built by ``--build-only``, which can take minutes the first time)."""
    import subprocess

    command = [sys.executable, "-c", _CLI, "kube-apiserver"]
    try:
        helped = subprocess.run([*command, "--help"], capture_output=True, text=True,
                                timeout=60, check=False)
        if helped.returncode != 0:
            return "`kubeplan kube-apiserver` does not exist here: " + (
                helped.stderr.strip().splitlines() or ["(no output)"])[-1]
        built = subprocess.run([*command, "--build-only"], capture_output=True, text=True,
                               timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`kubeplan kube-apiserver` did not answer: {exc}"
    if built.returncode != 0:
        return "`kubeplan kube-apiserver --build-only` failed: " + (
            built.stderr.strip().splitlines() or ["(no output)"])[-1]
    return None


_CLI = "import sys; from kubeplan.cli import main; sys.exit(main())"


def _credentials(kubeconfig: Path) -> tuple[ssl.SSLContext | None, str | None]:
    """The current context's certificate authority (as an SSL context) and bearer
    token, from a kubeconfig (paths relative to the kubeconfig's folder)."""
    config = yaml.safe_load(kubeconfig.read_text())
    name = config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next((u["user"] for u in config.get("users") or () if u["name"] == context.get(
        "user")), {})
    ctx = None
    if cluster.get("certificate-authority-data"):
        ctx = ssl.create_default_context(cadata=base64.b64decode(
            cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        ctx = ssl.create_default_context(cafile=str(
            kubeconfig.parent / cluster["certificate-authority"]))
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (kubeconfig.parent / user["tokenFile"]).read_text().strip()
    return ctx, token


class ApiServerProcess:
    """A fresh API server in its own process, with a kubeconfig pointing at it.

    ``kind="fake"``: ``kubeplan fake-apiserver`` (one Python process, plain HTTP).
    ``kind="real"``: ``kubeplan kube-apiserver``: etcd, kube-apiserver and
    kube-controller-manager below one supervising process, HTTPS; the harness's own
    session then trusts the kubeconfig's certificate authority and sends its bearer
    token (``/metrics`` needs it too). ``cpu()`` is the CPU of the whole process tree
    (for the fake, the one process); ``cpu_parts()`` splits it by process name.
    """

    def __init__(self, kind: str = "fake") -> None:
        if kind not in SERVER_KINDS:
            raise ValueError(f"server kind {kind!r}: not one of {SERVER_KINDS}")
        self.kind = kind
        self.dir = tempfile.TemporaryDirectory(prefix="kubeplan-bench-")
        self.kubeconfig = Path(self.dir.name) / "kubeconfig"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.session: aiohttp.ClientSession | None = None
        self.pids: list[int] = []
        #: the kubeconfig operators run with: the harness's own on the fake; on the real
        #: server a service account of its own, so that its requests can be told apart
        self.operator_kubeconfig = self.kubeconfig
        #: whether ``request_counts`` includes the harness's own requests (the fake
        #: counts every client; the real server's counts are the operator's only)
        self.counts_harness = kind == "fake"
        self._schemas: dict[str, tuple[str, str, str]] = {}
        #: real server: every client's resource requests but watches, at the last
        #: ``request_counts`` (``until_idle(cluster=True)``)
        self.cluster_total = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        if self.kind == "fake":
            return [*_profiled("fake-apiserver"), sys.executable, "-c", _CLI,
                    "fake-apiserver", "--host", "127.0.0.1", "--port", "0",
                    "--kubeconfig", str(self.kubeconfig)]
        return [sys.executable, "-c", _CLI, "kube-apiserver", "--port", "0",
                "--kubeconfig", str(self.kubeconfig)]

    async def __aenter__(self) -> ApiServerProcess:
        # the real server picks its ports (etcd's two, its own) before binding them: on a
        # shared machine another process can take one in between, and it exits ("address
        # already in use"); a fresh start picks new ones
        attempts = 1 if self.kind == "fake" else 3
        for attempt in range(1, attempts + 1):
            try:
                match = await self._start()
                break
            except RuntimeError as exc:
                if attempt == attempts or "address already in use" not in str(exc):
                    raise
                print(f"harness: {exc.args[0].splitlines()[0]} (port taken in between); "
                      f"starting it again ({attempt + 1}/{attempts})", file=sys.stderr)
        self.url = match.group(1)
        headers = {"User-Agent": "kubeplan-bench-harness"}
        ssl: Any = None
        if self.kind == "real":
            ssl, token = _credentials(self.kubeconfig)
            if token:
                headers["Authorization"] = f"Bearer {token}"
        self.session = aiohttp.ClientSession(
            base_url=self.url, connector=aiohttp.TCPConnector(limit=64, ssl=ssl),
            headers=headers,
        )
        self.pids = _descendants(self.proc.pid)
        if self.kind == "real":
            try:
                await self._operator_identity()
            except BaseException:
                await self.__aexit__(None, None, None)
                raise
        return self

    async def _start(self) -> re.Match[str]:
        """Spawn the server; its "serving at" line, or RuntimeError with its log's end."""
        log_path = Path(self.dir.name) / f"{self.kind}-apiserver.log"
        log_path.unlink(missing_ok=True)
        log = log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.command(), stdout=asyncio.subprocess.PIPE, stderr=log,
            start_new_session=True,
        )
        log.close()
        assert self.proc.stdout is not None
        match, line = None, b""
        timeout = 30 if self.kind == "fake" else 180  # etcd, apiserver, controllers
        try:
            for _ in range(5):  # py-spy, when profiling, prints a line first
                line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
                match = _SERVING.search(line.decode())
                if match or not line:
                    break
        except TimeoutError:
            pass
        if not match:
            await _stop_process(self.proc)
            tail = log_path.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{self.kind} API server did not start: {line!r}\n{tail}")
        return match

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            await _stop_process(self.proc, grace=30.0)
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
        """(verb, resource, subresource) -> requests served so far (``/metrics``).

        Fake: ``apiserver_request_total`` (every client: the operator and the harness).
        Real: the operator's requests only, from the API priority and fairness counter
        of the flow schemas ``_operator_identity`` made for it; one schema per verb and
        resource says which, and of its patches, the server-side applies are
        ``apiserver_request_total``'s APPLY of that resource (no other client applies).
        Watches are left out in both (the fake counts them when they end)."""
        assert self.session is not None
        async with self.session.get("/metrics") as resp:
            text = await resp.text()
        counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        if self.kind == "fake":
            for line in text.splitlines():
                match = _METRIC.match(line)
                if match:
                    labels = dict(_LABEL.findall(match.group("labels")))
                    if not labels.get("resource"):
                        continue  # /metrics, /readyz, discovery: the fake counts none
                    counts[(labels["verb"], labels["resource"], labels["subresource"])] += \
                        int(match.group("value"))
            return counts
        applies: collections.Counter[tuple[str, str]] = collections.Counter()
        cluster = 0
        for line in text.splitlines():
            if line.startswith(_DISPATCHED):
                labels = dict(_LABEL.findall(line[:line.rindex("}")]))
                key = self._schemas.get(labels.get("flow_schema", ""))
                if key is not None:
                    counts[key] += int(float(line.rsplit(" ", 1)[1]))
            elif line.startswith("apiserver_request_total{"):
                labels = dict(_LABEL.findall(line[:line.rindex("}")]))
                if not labels.get("resource") or labels.get("verb") == "WATCH":
                    continue
                value = int(float(line.rsplit(" ", 1)[1]))
                cluster += value
                if labels.get("verb") == "APPLY":
                    applies[(labels["resource"], labels["subresource"])] += value
        self.cluster_total = cluster
        for (verb, resource, sub), n in list(counts.items()):
            if verb == "PATCH" and applies.get((resource, sub)):
                applied = min(n, applies[(resource, sub)])
                counts[("APPLY", resource, sub)] += applied
                counts[(verb, resource, sub)] -= applied
        return +counts

    async def _operator_identity(self) -> None:
        """A service account (cluster-admin) for the operator under test, its kubeconfig,
        and flow schemas that count its requests by verb and resource.

        The real server has other clients (kube-controller-manager makes ReplicaSets
        and Pods for every Deployment, the API server its leases and IP addresses, the
        harness watches), and ``apiserver_request_total`` has no label saying whose a
        request is; API priority and fairness counts requests per flow schema, so the
        operator gets a schema per (verb, resource) it may use, all at the ``exempt``
        priority level (as unthrottled as the admin the harness and the controllers use)."""
        ns, sa = workload.NAMESPACE, _OPERATOR_SA
        await self.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                           {"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": sa}})
        await self.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": sa},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]})
        granted = await self.request(
            "POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": 4 * 3600}})
        config = yaml.safe_load(self.kubeconfig.read_text())
        current = config["current-context"]
        context = next(c for c in config["contexts"] if c["name"] == current)["context"]
        config["users"] = [{"name": sa, "user": {"token": granted["status"]["token"]}}]
        config["contexts"] = [{"name": sa, "context": {**context, "user": sa}}]
        config["current-context"] = sa
        self.operator_kubeconfig = Path(self.dir.name) / "operator.kubeconfig"
        self.operator_kubeconfig.write_text(yaml.safe_dump(config))
        self.operator_kubeconfig.chmod(0o600)

        subject = {"kind": "ServiceAccount", "serviceAccount": {"name": sa, "namespace": ns}}
        schemas: list[tuple[str, int, dict[str, Any]]] = []
        for verb, label in _APF_VERBS.items():
            for resource in (*_COUNTED_RESOURCES, "*"):
                name = f"kubeplan-bench-{verb}-{resource.replace('/', '-').replace('*', 'other')}"
                res, _, sub = resource.partition("/")
                self._schemas[name] = (label, "other" if res == "*" else res, sub)
                schemas.append((name, 50 if res != "*" else 60, {"resourceRules": [{
                    "verbs": [verb], "apiGroups": ["*"], "resources": [resource],
                    "namespaces": ["*"], "clusterScope": True}]}))
        schemas.append(("kubeplan-bench-uncounted", 70, {  # watches and discovery
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                               "namespaces": ["*"], "clusterScope": True}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}))
        for name, precedence, rules in schemas:
            await self.request("POST", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas", {
                "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
                "metadata": {"name": name},
                "spec": {"priorityLevelConfiguration": {"name": "exempt"},
                         "matchingPrecedence": precedence,
                         "rules": [{"subjects": [subject], **rules}]}})
        await self._await_schemas()

    async def _await_schemas(self) -> None:
        """Until the server matches the operator's requests to its flow schemas (its
        configuration controller picks new schemas up after a moment)."""
        _, token = _credentials(self.operator_kubeconfig)
        probe = f"/api/v1/namespaces/{workload.NAMESPACE}/configmaps/kubeplan-bench-probe"
        assert self.session is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with self.session.get(probe, headers={"Authorization": f"Bearer {token}"}):
                pass
            if (await self.request_counts()).get(("GET", "configmaps", "")):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the operator's flow schemas were not in effect within 60 s")

    def cpu(self) -> float:
        """CPU seconds of the server: its process and (real server) its children."""
        return sum(cpu_seconds(pid) for pid in self.pids or [self.pid])

    def cpu_parts(self) -> dict[str, float]:
        """CPU seconds by process name (``etcd``, ``kube-apiserver``, ...)."""
        out: dict[str, float] = collections.Counter()
        for pid in self.pids or [self.pid]:
            out[_process_name(pid)] += cpu_seconds(pid)
        return {name: round(value, 2) for name, value in sorted(out.items())}

    # -- the workload -------------------------------------------------------------------

    async def install_crd(self) -> None:
        """Create the ``Trio`` CRD and wait until it is Established and its collection
        answers (a real server takes a moment for both; the fake none)."""
        crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        await self.request("POST", crd_path, workload.CRD)
        assert self.session is not None
        name = workload.CRD["metadata"]["name"]
        collection = (f"/apis/{workload.GROUP}/{workload.VERSION}/namespaces/"
                      f"{workload.NAMESPACE}/{workload.PLURAL}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            crd = await self.request("GET", f"{crd_path}/{name}")
            established = any(c.get("type") == "Established" and c.get("status") == "True"
                              for c in (crd.get("status") or {}).get("conditions") or ())
            if established:
                async with self.session.get(collection) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.05)
        raise RuntimeError("the benchmark CRD was not established and served within 60 s")

    async def create_parents(self, count: int, concurrency: int = 32) -> None:
        path = f"/apis/{workload.GROUP}/{workload.VERSION}/namespaces/{workload.NAMESPACE}/" \
               f"{workload.PLURAL}"
        indexes = iter(range(count))

        async def worker() -> None:
            for i in indexes:
                await self.request("POST", path, workload.parent(i))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


# -- the children check ---------------------------------------------------------------

def differences(have: Any, want: Any, path: str = "") -> list[str]:
    """Where ``have`` (an object as the server holds it) does not contain ``want``:
    every key of ``want`` must be in ``have`` with an equal value, recursively, and every
    list as long as ``want``'s; keys only ``have`` has are the server's (defaults,
    managedFields, status, uid...) and are ignored."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{path or '.'}: {type(have).__name__}, not an object"]
        out: list[str] = []
        for key, value in want.items():
            if key not in have:
                out.append(f"{path}.{key}: missing")
            else:
                out.extend(differences(have[key], value, f"{path}.{key}"))
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return [f"{path}: {have!r} is not a list of {len(want)}"]
        return [d for i, (h, w) in enumerate(zip(have, want, strict=True))
                for d in differences(h, w, f"{path}[{i}]")]
    return [] if have == want else [f"{path}: {have!r} != {want!r}"]


_CHILD_PATHS = {
    "Deployment": f"/apis/apps/v1/namespaces/{workload.NAMESPACE}/deployments",
    "Service": f"/api/v1/namespaces/{workload.NAMESPACE}/services",
    "ConfigMap": f"/api/v1/namespaces/{workload.NAMESPACE}/configmaps",
}


async def check_children(server: ApiServerProcess, parents: int,
                         sample: int = 20) -> dict[str, Any]:
    """Compare the children the server holds for ``sample`` parents (spread over all)
    with what ``workload.children`` builds for them, plus the namespace and a controller
    owner reference to the parent; the server's own fields are ignored
    (``differences``). Labels and annotations beyond workload.py's (a framework's
    bookkeeping, e.g. kubeplan's) and the field managers are reported, not failed."""
    parents_path = (f"/apis/{workload.GROUP}/{workload.VERSION}/namespaces/"
                    f"{workload.NAMESPACE}/{workload.PLURAL}")
    step = max(1, parents // sample)
    mismatches: list[str] = []
    extra: set[str] = set()
    managers: set[str] = set()
    checked = 0
    for index in range(0, parents, step):
        name = workload.parent(index)["metadata"]["name"]
        parent = await server.request("GET", f"{parents_path}/{name}")
        owner = {"apiVersion": parent["apiVersion"], "kind": parent["kind"], "name": name,
                 "uid": parent["metadata"]["uid"], "controller": True,
                 "blockOwnerDeletion": True}
        for want in workload.children(name, parent["spec"]):
            want["metadata"]["namespace"] = workload.NAMESPACE
            want["metadata"]["ownerReferences"] = [owner]
            have = await server.request("GET", f"{_CHILD_PATHS[want['kind']]}/{name}",
                                        expect=(200, 404))
            checked += 1
            if not have:
                mismatches.append(f"{want['kind']} {name}: missing")
                continue
            mismatches.extend(f"{want['kind']} {name} {d}" for d in differences(have, want))
            meta = have["metadata"]
            for field in ("labels", "annotations"):
                extra.update(f"{field}: {key}" for key in (meta.get(field) or {})
                             if key not in (want["metadata"].get(field) or {}))
            managers.update(f"{m.get('manager')} ({m.get('operation')})"
                            for m in meta.get("managedFields") or ())
    return {"children_checked": checked, "equal": not mismatches,
            "mismatches": mismatches[:10], "mismatch_count": len(mismatches),
            "extra_metadata": sorted(extra), "field_managers": sorted(managers)}


#: the name the other benchmarks (``scale_bench.py``, ``transport_bench.py``) use
FakeApiProcess = ApiServerProcess


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


_GO_PEER: dict[str, Any] = {}


def go_peer() -> dict[str, Any]:
    """The controller-runtime peer's binary, built once per process (``gopeer.build``):
    ``{"path": ..., "seconds": ..., "cached": ...}`` or ``{"path": None, "reason": ...}``."""
    if not _GO_PEER:
        import gopeer

        _GO_PEER.update(gopeer.build())
    return _GO_PEER


def go_peer_binary() -> str:
    built = go_peer()
    if not built.get("path"):
        raise RuntimeError(built.get("reason") or "no controller-runtime peer")
    return str(built["path"])


FRAMEWORKS = ("kubeplan", "kopf", "controller-runtime")


class OperatorProcess:
    """The operator under test in its own process: ``kubeplan``, ``kopf`` or
    ``controller-runtime`` (the Go peer's cached binary, ``gopeer.py``)."""

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
        if self.framework == "controller-runtime":
            return [go_peer_binary(), "--kubeconfig", str(self.kubeconfig),
                    "--workers", str(self.workers)]
        return [sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
                str(PEERS / "kopf_operator.py")]

    async def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"}
        command = self.command()  # before the clock starts: it may build the Go peer
        log = (self.log_dir / f"{self.framework}.log").open("ab")
        self.started = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *_profiled(self.framework), *command, stdout=asyncio.subprocess.PIPE,
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


async def until_idle(fake: ApiServerProcess, op: OperatorProcess, *, quiet: float = 1.0,
                     limit: float = 60.0, step: float = 0.25,
                     cluster: bool = False) -> float:
    """Wait until the operator made no request and used (almost) no CPU for ``quiet``
    seconds; returns the time waited. Gives up after ``limit`` seconds.

    ``cluster``: on the real server, also until no other client (the controller
    manager making ReplicaSets and Pods for the Deployments, at its own 20 requests a
    second) has made a request for ``quiet`` seconds, so that what follows starts from
    a world at rest. ``/metrics`` of the real server is ~2 MB: it is read every 0.5 s."""
    cluster = cluster and fake.kind == "real"
    if fake.kind == "real":
        step = max(step, 0.5)
    started = time.perf_counter()
    last_total = sum((await fake.request_counts()).values()) + (
        fake.cluster_total if cluster else 0)
    last_cpu = op.cpu()
    still_since = time.perf_counter()
    while time.perf_counter() - started < limit:
        await asyncio.sleep(step)
        total = sum((await fake.request_counts()).values()) + (
            fake.cluster_total if cluster else 0)
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

    def __init__(self, fake: ApiServerProcess, parents: int) -> None:
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
