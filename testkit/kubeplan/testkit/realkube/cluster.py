"""A throwaway real control plane on 127.0.0.1: etcd, kube-apiserver and
kube-controller-manager, started in that order and stopped in the reverse one.

Everything lives in one data folder (certificates, etcd's data, logs), removed on stop.
Children are stopped by their own pids (SIGTERM, then SIGKILL after a grace period) and
are started with ``PR_SET_PDEATHSIG`` so that they die with their parent even when the
parent itself is killed and cannot clean up.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import yaml

from kubeplan.core.errors import KubeplanError
from kubeplan.testkit.endpoint import EndpointError, KubeEndpoint
from kubeplan.testkit.private_files import write_private
from kubeplan.testkit.processes import stop_by_pid
from kubeplan.testkit.realkube.assets import KubeAssets
from kubeplan.testkit.realkube.pki import Pki, make_pki

HOST = "127.0.0.1"
CONTEXT = "kubeplan-real"
#: the controllers an operator relies on, plus the cheap workload ones so that
#: Deployments, Jobs and StatefulSets behave (no kubelet runs: pods stay Pending)
CONTROLLERS = (
    "garbage-collector-controller", "namespace-controller", "serviceaccount-controller",
    "serviceaccount-token-controller", "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller", "deployment-controller", "replicaset-controller",
    "statefulset-controller", "daemonset-controller", "job-controller", "cronjob-controller",
    "endpoints-controller", "endpointslice-controller", "disruption-controller",
    "resourcequota-controller", "ttl-after-finished-controller",
)
_PR_SET_PDEATHSIG = 1


class RealKubeError(KubeplanError, RuntimeError):
    """The control plane did not start or died; the message says which part and why."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line[:400] for line in text[-lines:])


@attrs.define
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def died(self) -> str | None:
        code = self.proc.poll()
        if code is None:
            return None
        return f"{self.name} exited with code {code}; the end of its log ({self.log}):\n" \
               f"{_tail(self.log)}"

    def stop(self, grace: float = 10.0) -> None:
        stop_by_pid(self.proc, grace)


@attrs.define
class RealKubeApiServer:
    """A real control plane; use as a context manager, or call start() and stop().

    ``compaction_interval`` is kube-apiserver's ``--etcd-compaction-interval``: tests of
    410 Gone shorten it so the server compacts while they run.
    """

    assets: KubeAssets
    port: int = 0
    compaction_interval: str = "5m"
    start_timeout: float = 90.0
    extra_apiserver_args: tuple[str, ...] = ()
    workdir: Path | None = None
    token: str = attrs.field(factory=lambda: secrets.token_hex(16))
    pki: Pki | None = None
    url: str = ""
    kubeconfig: Path | None = None
    _children: list[_Child] = attrs.field(factory=list)
    _own_workdir: bool = False

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> RealKubeApiServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self.port and not _port_free(self.port):
            raise RealKubeError(f"cannot serve on {HOST}:{self.port}: the port is in use "
                                "(pick another --port, or 0 for a free one)")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="kubeplan-kube-"))
            self._own_workdir = True
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        try:
            self.pki = make_pki(self.workdir / "pki")
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url)
            self.kubeconfig = self.write_kubeconfig(self.workdir / "admin.kubeconfig")
            self._start_controller_manager()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def check(self) -> None:
        """Raise RealKubeError if a part of the control plane has died."""
        for child in self._children:
            reason = child.died()
            if reason:
                raise RealKubeError(reason)

    @property
    def pids(self) -> list[int]:
        return [child.proc.pid for child in self._children]

    # -- the parts --------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> _Child:
        assert self.workdir is not None
        log = self.workdir / "logs" / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=self.workdir,
                                    start_new_session=True, preexec_fn=_die_with_parent)
        child = _Child(name, proc, log)
        self._children.append(child)
        return child

    def _wait(self, child: _Child, ready: Any, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            reason = child.died()
            if reason:
                raise RealKubeError(f"{what} failed: {reason}")
            try:
                if ready():
                    return
            except (OSError, ValueError, EndpointError) as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RealKubeError(f"{what} not ready after {self.start_timeout:.0f} s ({last}); "
                            f"the end of its log ({child.log}):\n{_tail(child.log)}")

    def _start_etcd(self) -> str:
        assert self.workdir is not None
        client, peer = free_port(), free_port()
        url = f"http://{HOST}:{client}"
        child = self._spawn("etcd", [
            str(self.assets.etcd), "--name=kubeplan", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://{HOST}:{peer}",
            f"--initial-advertise-peer-urls=http://{HOST}:{peer}",
            f"--initial-cluster=kubeplan=http://{HOST}:{peer}",
            "--unsafe-no-fsync=true",  # a throwaway store: speed over durability
            "--log-level=warn",
        ])

        def healthy() -> bool:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")

        self._wait(child, healthy, "etcd")
        return url

    def _start_apiserver(self, etcd_url: str) -> None:
        assert self.workdir is not None and self.pki is not None
        pki = self.pki
        port = self.port or free_port()
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},kubeplan-admin,kubeplan-admin,"system:masters"\n')
        tokens.chmod(0o600)
        child = self._spawn("kube-apiserver", [
            str(self.assets.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={port}",
            f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}", f"--token-auth-file={tokens}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            f"--etcd-compaction-interval={self.compaction_interval}",
            f"--cert-dir={self.workdir / 'pki'}",
            "--profiling=false",
            "--v=0",
            *self.extra_apiserver_args,
        ])
        self.url = f"https://{HOST}:{port}"
        endpoint = self.endpoint()

        def ready() -> bool:
            try:
                endpoint.request("GET", "/readyz", timeout=2)
            except EndpointError:
                return False
            return True

        self._wait(child, ready, "kube-apiserver")

    def _start_controller_manager(self) -> None:
        assert self.workdir is not None and self.pki is not None
        binary = self.assets.controller_manager
        if binary is None:  # envtest's folder has none: no GC, no namespace deletion
            return
        child = self._spawn("kube-controller-manager", [
            str(binary), f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            f"--bind-address={HOST}", f"--secure-port={free_port()}",
            f"--controllers={','.join(CONTROLLERS)}",
            f"--service-account-private-key-file={self.pki.service_account_key}",
            f"--root-ca-file={self.pki.ca_cert}",
            f"--cluster-signing-cert-file={self.pki.ca_cert}",
            f"--cluster-signing-key-file={self.pki.ca_key}",
            "--leader-elect=false", "--use-service-account-credentials=false",
            "--concurrent-gc-syncs=10", "--v=0",
        ])

        # ready once the service account controller has made `default` in `default`
        def ready() -> bool:
            found = self.endpoint().request(
                "GET", "/api/v1/namespaces/default/serviceaccounts/default", expect=(200, 404))
            return bool(found.get("kind") == "ServiceAccount")

        self._wait(child, ready, "kube-controller-manager")

    # -- clients ----------------------------------------------------------------------------

    def endpoint(self, namespace: str = "default") -> KubeEndpoint:
        """The server as tests reach it: URL, the admin kubeconfig, token and CA."""
        assert self.pki is not None
        return KubeEndpoint("real", self.url, self.kubeconfig or Path(os.devnull),
                            token=self.token, ca_file=self.pki.ca_cert, namespace=namespace)

    def write_kubeconfig(self, path: str | os.PathLike[str], context: str = CONTEXT,
                         namespace: str = "default") -> Path:
        """A kubeconfig whose current context is the admin (bearer token); a second
        context, ``<context>-cert``, authenticates with the admin client certificate."""
        assert self.pki is not None
        config = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": context, "cluster": {
                "server": self.url, "certificate-authority": str(self.pki.ca_cert)}}],
            "users": [
                {"name": f"{context}-admin", "user": {"token": self.token}},
                {"name": f"{context}-admin-cert", "user": {
                    "client-certificate": str(self.pki.admin_cert),
                    "client-key": str(self.pki.admin_key)}},
            ],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": f"{context}-admin",
                                              "namespace": namespace}},
                {"name": f"{context}-cert", "context": {
                    "cluster": context, "user": f"{context}-admin-cert",
                    "namespace": namespace}},
            ],
            "current-context": context,
        }
        return write_private(path, yaml.safe_dump(config, sort_keys=False))
