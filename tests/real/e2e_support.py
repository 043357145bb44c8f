"""What the end-to-end tests share: operators run as ``kubeplan run`` subprocesses, an admin
face of either server (a ``KubeEndpoint``), and polling with bounded timeouts.

Everything here talks to the server the way a user would (HTTP through the endpoint, the
operator through its kubeconfig), never through the fake's internals, so one test holds
on the fake and on a real kube-apiserver alike.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import yaml

from kubeplan.core.k8s import builtin_type, core_v1
from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition
from kubeplan.core.types import K8sType
from kubeplan.testkit.endpoint import EndpointError, KubeEndpoint

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

RawObject = dict[str, Any]
T = TypeVar("T")

#: a convergence on a loaded 2-core machine: generous, since a failure costs only time
CONVERGE = 45.0
#: a Namespace's removal: the real namespace controller empties it first (seconds)
NAMESPACE_GONE = 90.0
#: the garbage collector's work: kube-controller-manager learns of a CRD installed after it
#: started only at its discovery resync (every 30 s), so the dependents of a new kind's
#: objects may wait that long once; the fake collects at once
COLLECTED = 90.0
#: the examples' CRDs, installed on a server the first time a test meets it (so that the
#: real garbage collector's resync has usually passed before a test needs it)
#: (crd-NAME.yaml: an example of several operators has one CRD per operator)
EXAMPLE_CRDS = tuple(sorted([*EXAMPLES.glob("*/crd.yaml"), *EXAMPLES.glob("*/crd-*.yaml")]))
POLL = 0.1

#: the field manager of the tests' own server-side applies
TEST_MANAGER = "kubeplan-e2e"


class Timeout(AssertionError):
    """A condition a test waited for did not hold in time."""


def eventually(check: Callable[[], T | None], *, what: str, timeout: float = CONVERGE,
               interval: float = POLL, context: Callable[[], str] | None = None) -> T:
    """Poll ``check`` until it returns something truthy, and return that.

    A set-up request failing (``EndpointError``, say a 404 while an object is not there
    yet) counts as "not yet". On timeout the message names ``what``, the last value seen
    and ``context()`` (the operator's log, as a rule).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
        except EndpointError as exc:
            value, last = None, exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{context()}" if context is not None else ""
            raise Timeout(f"{what}: not within {timeout:.0f} s; last seen: {last!r}{extra}")
        time.sleep(interval)


async def eventually_async(check: Callable[[], Awaitable[T | None] | T | None], *, what: str,
                           timeout: float = CONVERGE, interval: float = POLL) -> T:
    """``eventually`` for a test sharing its event loop with an operator: waits with
    ``asyncio.sleep`` so the operator runs meanwhile. ``check`` may be a coroutine."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
        except EndpointError as exc:
            value, last = None, exc
        else:
            last = value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise Timeout(f"{what}: not within {timeout:.0f} s; last seen: {last!r}")
        await asyncio.sleep(interval)


def example_target(name: str) -> str:
    """``kubeplan run``'s ``MODULE:ATTR`` for ``examples/<name>`` (relative to ``ROOT``):
    each example's operator is ``<name>_operator.py``, dashes written as underscores."""
    return f"examples/{name}/{name.replace('-', '_')}_operator.py:operator"


def load_example(name: str) -> Any:
    """The ``operator`` (an OperatorDefinition) of ``examples/<name>/<name>_operator.py``."""
    module_name = f"kubeplan_example_{name.replace('-', '_')}"
    if module_name not in sys.modules:  # registered: type hints resolve through it
        path = ROOT / example_target(name).rpartition(":")[0]
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name].operator


def stays(check: Callable[[], bool], *, what: str, duration: float,
          interval: float = 0.2) -> None:
    """Assert that ``check`` holds at every poll for ``duration`` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(interval)


# -- reading objects ------------------------------------------------------------------------


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def condition(obj: Mapping[str, Any] | None, type_: str = "Synced") -> dict[str, Any] | None:
    for item in ((obj or {}).get("status") or {}).get("conditions") or ():
        if item.get("type") == type_:
            return dict(item)
    return None


def is_synced(obj: Mapping[str, Any] | None) -> bool:
    """The operator reports ``Synced=True`` for the parent's current generation."""
    if not obj:
        return False
    synced = condition(obj)
    status = obj.get("status") or {}
    return bool(synced and synced.get("status") == "True"
                and status.get("observedGeneration") == meta(obj).get("generation"))


def owner_uids(obj: Mapping[str, Any]) -> list[str]:
    return [ref.get("uid", "") for ref in meta(obj).get("ownerReferences") or ()]


def untouched(before: Mapping[str, Any], after: Mapping[str, Any] | None) -> bool:
    """``after`` is ``before`` as it was: same uid and resourceVersion (nobody wrote it)."""
    return after is not None and all(
        meta(after).get(key) == meta(before).get(key) for key in ("uid", "resourceVersion"))


def unique(prefix: str) -> str:
    """A name no other test run in this server session uses (cluster-scoped objects)."""
    return f"{prefix}-{secrets.token_hex(3)}"


def load_yaml(path: Path) -> RawObject:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), path
    return loaded


# -- the admin ----------------------------------------------------------------------------


class Admin:
    """The test's own requests, as the cluster's administrator, through a KubeEndpoint."""

    def __init__(self, endpoint: KubeEndpoint) -> None:
        self.endpoint = endpoint

    @property
    def is_real(self) -> bool:
        return self.endpoint.is_real

    def get(self, type_: K8sType, name: str, namespace: str | None = None) -> RawObject | None:
        try:
            return self.endpoint.request("GET", type_.path(namespace, name))
        except EndpointError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, type_: K8sType, namespace: str | None = None, *,
             label_selector: str | None = None) -> list[RawObject]:
        query = f"?{urlencode({'labelSelector': label_selector})}" if label_selector else ""
        answer = self.endpoint.request("GET", type_.path(namespace) + query)
        return list(answer.get("items") or ())

    def create(self, type_: K8sType, obj: RawObject) -> RawObject:
        namespace = meta(obj).get("namespace")
        return self.endpoint.request("POST", type_.path(namespace), obj)

    def merge_patch(self, type_: K8sType, name: str, patch: RawObject,
                    namespace: str | None = None) -> RawObject:
        return self.endpoint.request("PATCH", type_.path(namespace, name), patch,
                                     content_type="application/merge-patch+json")

    def apply(self, obj: RawObject, type_: K8sType | None = None) -> RawObject:
        """Server-side apply (create or update) as the test's own field manager."""
        type_ = type_ or type_of(obj)
        m = meta(obj)
        path = type_.path(m.get("namespace"), m["name"])
        query = urlencode({"fieldManager": TEST_MANAGER, "force": "true"})
        return self.endpoint.request("PATCH", f"{path}?{query}", obj,
                                     content_type="application/apply-patch+yaml")

    def delete(self, type_: K8sType, name: str, namespace: str | None = None) -> None:
        self.endpoint.request("DELETE", type_.path(namespace, name), expect=(200, 202, 404))

    def events(self, namespace: str, involved: str, reason: str | None = None,
               ) -> builtins.list[RawObject]:
        """core/v1 Events about the object named ``involved`` in ``namespace``."""
        return [e for e in self.list(core_v1.Event, namespace)
                if (e.get("involvedObject") or {}).get("name") == involved
                and (reason is None or e.get("reason") == reason)]

    def install_crd(self, path: Path) -> RawObject:
        """Create the CRD (an existing one is kept) and wait until it is Established and
        its resource is served."""
        crd = load_yaml(path)
        with contextlib.suppress(EndpointError):
            self.create(CustomResourceDefinition, crd)
        name = crd["metadata"]["name"]

        def established() -> RawObject | None:
            found = self.get(CustomResourceDefinition, name)
            return found if found and condition(found, "Established") and (
                condition(found, "Established") or {}).get("status") == "True" else None

        eventually(established, what=f"CRD {name} Established", timeout=30)
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served"))
        served = K8sType(f"{spec['group']}/{version}", spec["names"]["kind"],
                         spec["names"]["plural"], namespaced=spec["scope"] == "Namespaced")
        eventually(lambda: self.endpoint.request("GET", served.path()) is not None,
                   what=f"{served} served", timeout=30)
        return crd

    def make_namespace(self, name: str) -> str:
        self.create(core_v1.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": name}})
        if self.is_real:  # the service account controller makes `default` shortly after
            eventually(lambda: self.get(core_v1.ServiceAccount, "default", name),
                       what=f"serviceaccount {name}/default", timeout=30)
        return name

    def gone(self, type_: K8sType, name: str, namespace: str | None = None, *,
             timeout: float = COLLECTED, context: Callable[[], str] | None = None) -> None:
        eventually(lambda: self.get(type_, name, namespace) is None,
                   what=f"{type_} {namespace or ''}/{name} gone", timeout=timeout,
                   context=context)


_KNOWN: dict[tuple[str, str], K8sType] = {}


def type_of(obj: Mapping[str, Any]) -> K8sType:
    """The type of a built-in object (or one of the examples' parents, once registered)."""
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    found = builtin_type(*key) or _KNOWN.get(key)
    if found is None:
        raise KeyError(f"no K8sType known for {key}")
    return found


def register(*types: K8sType) -> None:
    for type_ in types:
        _KNOWN[(type_.api_version, type_.kind)] = type_


# -- operators as processes -----------------------------------------------------------------


class OperatorProcess:
    """``kubeplan run TARGET --kubeconfig K`` in a process of its own, its output in a log
    file. Stopped by its pid: SIGTERM (then SIGKILL after ``grace``), or killed outright.

    Nothing is served: no ``--health-port`` (it would bind 0.0.0.0).
    """

    def __init__(self, target: str, kubeconfig: Path, log: Path, *,
                 args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 more_targets: Sequence[str] = ()) -> None:
        self.target = target
        #: further operators run in the same process (``kubeplan run A B``)
        self.more_targets = tuple(more_targets)
        self.kubeconfig = kubeconfig
        self.log_path = log
        self.args = tuple(args)
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        command = [sys.executable, "-m", "kubeplan.cli", "run", self.target, *self.more_targets,
                   "--kubeconfig", str(self.kubeconfig), "--grace-period", "5", *self.args]
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1",
               "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def describe(self) -> str:
        state = ("running" if self.alive() else
                 f"exited {self.proc.returncode}" if self.proc else "not started")
        tail = "\n".join("    " + line for line in self.log().splitlines()[-25:])
        return f"operator {self.target} ({state}), the end of its log:\n{tail}"

    def wait_ready(self, timeout: float = 60.0) -> OperatorProcess:
        """Wait until its caches have listed (the runtime logs ``caches synced``)."""
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"kubeplan run exited early\n{self.describe()}")
            return "caches synced" in self.log()

        eventually(ready, what=f"{self.target} ready", timeout=timeout, context=self.describe)
        return self

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM by pid; SIGKILL if it is not gone after ``grace``. The exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        """A crash: SIGKILL by pid, nothing released."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log_size(self) -> int:
        return len(self.log())

    def planned_for(self, since: int = 0) -> set[str]:
        """The parents (``namespace/name``) this process executed plans for, from its
        log after offset ``since`` (the runtime logs ``<operator>: <ns>/<name>: N actions``
        for each)."""
        found = set()
        for line in self.log()[since:].splitlines():
            if line.endswith(" actions") and "kubeplan.adapters.runtime" in line:
                found.add(line.rsplit(": ", 2)[-2])
        return found


class WatchRecorder:
    """Every watch event of one collection from a resourceVersion on, read by a thread.

    The order of writes across collections is read from the events' resourceVersions
    (etcd revisions on the real server, the fake's one counter): exact, where polling
    would miss a transition a fast server makes between two polls. The thread watches in
    short requests, each resumed from the last event, so it stops within one of them.
    """

    def __init__(self, endpoint: KubeEndpoint, type_: K8sType, namespace: str | None = None,
                 *, resource_version: str, field_selector: str | None = None) -> None:
        self._endpoint = endpoint
        self._path = type_.path(namespace)
        self._field_selector = field_selector
        self._resource_version = resource_version
        self.events: list[RawObject] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> WatchRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def _read(self) -> None:
        headers = {"Accept": "application/json"}
        if self._endpoint.token:
            headers["Authorization"] = f"Bearer {self._endpoint.token}"
        context = self._endpoint.ssl_context()
        try:
            while not self._stop.is_set():
                query = {"watch": "true", "timeoutSeconds": "1",
                         "resourceVersion": self._resource_version}
                if self._field_selector:
                    query["fieldSelector"] = self._field_selector
                request = urllib.request.Request(
                    f"{self._endpoint.url}{self._path}?{urlencode(query)}", headers=headers)
                with urllib.request.urlopen(request, timeout=30, context=context) as answer:
                    for line in answer:
                        if line.strip():
                            event = json.loads(line)
                            self.events.append(event)
                            rv = meta(event.get("object") or {}).get("resourceVersion")
                            if event.get("type") != "ERROR" and rv:
                                self._resource_version = rv
        except Exception as exc:  # reported by the test that reads the events
            self.error = exc

    def of(self, name: str, kind: str | None = None) -> list[RawObject]:
        return [e for e in list(self.events) if meta(e.get("object") or {}).get("name") == name
                and (kind is None or e.get("type") == kind)]

    def deleted_at(self, name: str) -> int | None:
        """The resourceVersion of the object's DELETED event, if it came."""
        found = self.of(name, "DELETED")
        return int(meta(found[0]["object"])["resourceVersion"]) if found else None


def list_resource_version(admin: Admin, type_: K8sType, namespace: str | None = None) -> str:
    """The resourceVersion of a list of ``type_``: a watch from it misses nothing later."""
    answer = admin.endpoint.request("GET", type_.path(namespace))
    return str(answer["metadata"]["resourceVersion"])


_CRDS_INSTALLED: set[str] = set()


def ensure_example_crds(admin: Admin) -> None:
    """Install every example's CRD on this server once per session."""
    if admin.endpoint.url in _CRDS_INSTALLED:
        return
    for path in EXAMPLE_CRDS:
        admin.install_crd(path)
    _CRDS_INSTALLED.add(admin.endpoint.url)


class E2E:
    """One test's world: the server, the admin, the operators it started and what it made.

    ``close()`` stops the operators first (by pid), then removes what the test created
    (finalizers stripped, so nothing is left waiting for an operator that is gone).
    """

    def __init__(self, endpoint: KubeEndpoint, folder: Path) -> None:
        self.endpoint = endpoint
        self.admin = Admin(endpoint)
        self.folder = folder
        self.namespace = endpoint.namespace
        self.operators: list[OperatorProcess] = []
        self._made: list[tuple[K8sType, str, str | None]] = []

    @property
    def is_real(self) -> bool:
        return self.endpoint.is_real

    def operator(self, target: str, *, kubeconfig: Path | None = None,
                 args: Iterable[str] = (), env: Mapping[str, str] | None = None,
                 name: str | None = None, ready: bool = True,
                 more_targets: Iterable[str] = ()) -> OperatorProcess:
        label = name or f"operator-{len(self.operators)}"
        process = OperatorProcess(target, kubeconfig or self.endpoint.kubeconfig,
                                  self.folder / f"{label}.log", args=tuple(args), env=env,
                                  more_targets=tuple(more_targets))
        self.operators.append(process)
        process.start()
        return process.wait_ready() if ready else process

    def logs(self) -> str:
        return "\n".join(op.describe() for op in self.operators)

    def remember(self, type_: K8sType, name: str, namespace: str | None = None) -> None:
        """Remove this object when the test ends (whatever state it is in then)."""
        self._made.append((type_, name, namespace))

    def namespace_for_test(self, suffix: str) -> str:
        name = f"{self.namespace}-{suffix}"[:63].rstrip("-")
        self.remember(core_v1.Namespace, name)
        return self.admin.make_namespace(name)

    def close(self) -> None:
        for process in self.operators:
            process.stop()
        for type_, name, namespace in reversed(self._made):
            with contextlib.suppress(EndpointError, OSError):
                if self.admin.get(type_, name, namespace) is not None:
                    self.admin.merge_patch(type_, name, {"metadata": {"finalizers": None}},
                                           namespace)
                    self.admin.delete(type_, name, namespace)


@contextlib.contextmanager
def world(endpoint: KubeEndpoint, folder: Path) -> Iterator[E2E]:
    e2e = E2E(endpoint, folder)
    ensure_example_crds(e2e.admin)
    try:
        yield e2e
    finally:
        e2e.close()
