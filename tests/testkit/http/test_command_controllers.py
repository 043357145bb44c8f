"""`kubeplan fake-apiserver --controllers` and `kubeplan run --controllers`: the emulated
kubelet and workload controllers switched on from the command line, bad names refused."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

KUBEPLAN = str(Path(sys.executable).parent / "kubeplan")
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
}


def request(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [KUBEPLAN, "fake-apiserver", "--port", "0", "--kubeconfig", str(tmp_path / "k.yaml"),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    match = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
    if match is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("the fake API server did not start")
    return proc, match.group(0)


def phase_after_create(url: str) -> str:
    request(url + "/api/v1/namespaces/default/pods", POD)
    # the controllers act after the answer, in the server's own loop: poll a little
    phase = ""
    for _ in range(50):
        phase = request(url + "/api/v1/namespaces/default/pods/p")["status"]["phase"]
        if phase == "Running":
            break
        time.sleep(0.05)
    return phase


@pytest.mark.parametrize(("extra", "phase"), [(("--controllers", "kubelet"), "Running"),
                                              ((), "Pending")])
def test_the_kubelet_runs_pods_only_when_named(tmp_path: Path, extra: tuple[str, ...],
                                               phase: str) -> None:
    proc, url = serve(tmp_path, *extra)
    try:
        assert phase_after_create(url) == phase
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_unknown_controllers_are_named(tmp_path: Path) -> None:
    done = subprocess.run(
        [KUBEPLAN, "fake-apiserver", "--kubeconfig", str(tmp_path / "k.yaml"),
         "--controllers", "kubelet,kublet"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--controllers: unknown controllers kublet; choose from" in done.stderr
    assert not (tmp_path / "k.yaml").exists()


def test_run_takes_controllers_only_with_embedded() -> None:
    done = subprocess.run(
        [KUBEPLAN, "run", "examples.echo_server.operator:definition", "--controllers",
         "kubelet"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--controllers needs --embedded" in done.stderr


def test_run_embedded_with_the_kubelet_reports_ready_pods(tmp_path: Path) -> None:
    """The echo-server example on `kubeplan run --embedded --controllers kubelet`: its Pods
    run on the embedded fake and the status it writes counts them Ready."""
    root = Path(__file__).resolve().parents[3]
    example = root / "examples" / "echo-server"
    proc = subprocess.Popen(
        [KUBEPLAN, "run", f"{example / 'echo_server_operator.py'}:operator", "--embedded",
         "--controllers", "kubelet"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert match, "kubeplan run printed no URL"
        url = match.group(0)
        parent = yaml.safe_load((example / "echoserver.yaml").read_text())
        echoservers = url + "/apis/example.kubeplan.dev/v1/namespaces/default/echoservers"
        request(echoservers, parent)
        status: dict = {}
        for _ in range(100):
            got = request(echoservers + "/hello")
            status = got.get("status") or {}
            if status.get("readyReplicas") == 2:
                break
            time.sleep(0.1)
        assert status.get("readyReplicas") == 2, status
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
