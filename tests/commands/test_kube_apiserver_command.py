"""`kubeplan kube-apiserver`: starts a real control plane, serves, and leaves nothing behind
on any exit path."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplan.testkit.realkube import find_assets
from kubeplan.testkit.realkube.assets import AssetsUnavailable

KUBEPLAN = [sys.executable, "-c", "import sys; from kubeplan.cli import main; sys.exit(main())"]
SERVING = re.compile(r"kubeplan kube-apiserver serving at (https://127\.0\.0\.1:(\d+)) "
                     r"\(kubeconfig: (.+)\)")


def _assets_or_skip() -> None:
    try:
        if find_assets() is None:
            pytest.skip("no Kubernetes binaries at hand (KUBEBUILDER_ASSETS unset, cache "
                        "empty): `kubeplan kube-apiserver --build-only` builds them")
    except AssetsUnavailable as exc:
        pytest.skip(str(exc))


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _wait_gone(pids: list[int], timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [pid for pid in pids if _alive(pid)]
        if not left:
            return []
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


class Started:
    def __init__(self, proc: subprocess.Popen[str], url: str, port: int, kubeconfig: Path):
        self.proc, self.url, self.port, self.kubeconfig = proc, url, port, kubeconfig


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Started]:
    _assets_or_skip()
    proc = subprocess.Popen([*KUBEPLAN, "kube-apiserver", "--kubeconfig",
                             str(tmp_path / "k.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = SERVING.search(line)
    if match is None:
        proc.kill()
        pytest.fail(f"no serving line: {line!r} {proc.communicate()[1][-800:]}")
    try:
        yield Started(proc, match.group(1), int(match.group(2)), Path(match.group(3)))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_serves_kubectl_and_stops_cleanly_on_sigterm(started: Started) -> None:
    out = subprocess.run(["kubectl", "--kubeconfig", str(started.kubeconfig), "get",
                          "namespaces", "-o", "name"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert {"namespace/default", "namespace/kube-system"} <= set(out.stdout.split())
    # the controller manager runs: the default namespace has its service account
    account = subprocess.run(["kubectl", "--kubeconfig", str(started.kubeconfig), "get",
                              "serviceaccount", "default", "-o", "name"],
                             capture_output=True, text=True, timeout=60)
    assert account.stdout.strip() == "serviceaccount/default", account.stderr
    children = _children_of(started.proc.pid)
    assert len(children) == 3  # etcd, kube-apiserver, kube-controller-manager
    data = {Path(os.readlink(f"/proc/{pid}/cwd")) for pid in children}
    assert len(data) == 1
    os.kill(started.proc.pid, signal.SIGTERM)
    assert started.proc.wait(30) == 0
    assert _wait_gone(children) == []
    assert not data.pop().exists(), "the data folder was left behind"


def test_children_die_with_a_killed_parent(started: Started) -> None:
    children = _children_of(started.proc.pid)
    assert len(children) == 3
    os.kill(started.proc.pid, signal.SIGKILL)
    started.proc.wait()
    assert _wait_gone(children) == [], "control-plane processes outlived their parent"


def test_a_crashed_etcd_ends_the_server_with_its_reason(started: Started) -> None:
    etcd = [pid for pid in _children_of(started.proc.pid)
            if Path(f"/proc/{pid}/comm").read_text().strip() == "etcd"]
    assert len(etcd) == 1
    children = _children_of(started.proc.pid)
    os.kill(etcd[0], signal.SIGKILL)
    assert started.proc.wait(30) == 1
    assert started.proc.stderr is not None
    err = started.proc.stderr.read()
    assert "etcd exited" in err
    assert _wait_gone(children) == []


def test_a_port_in_use_is_one_clear_message(started: Started, tmp_path: Path) -> None:
    out = subprocess.run([*KUBEPLAN, "kube-apiserver", "--kubeconfig",
                          str(tmp_path / "other.yaml"), "--port", str(started.port)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"127.0.0.1:{started.port}: the port is in use" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_assets_folder_without_binaries_says_what_is_missing(tmp_path: Path) -> None:
    out = subprocess.run([*KUBEPLAN, "kube-apiserver", "--kubeconfig",
                          str(tmp_path / "k.yaml"), "--assets", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "no executable kube-apiserver or etcd" in out.stderr
    assert "Traceback" not in out.stderr


def test_without_go_or_binaries_it_says_how_to_supply_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PATH"] = str(Path(sys.executable).parent)  # python, but no go
    out = subprocess.run([*KUBEPLAN, "kube-apiserver", "--kubeconfig",
                          str(tmp_path / "k.yaml")],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1
    assert "no `go` on PATH" in out.stderr
    assert "KUBEBUILDER_ASSETS" in out.stderr
    assert "Traceback" not in out.stderr
