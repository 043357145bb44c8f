"""`kubeplan demo`: the README's main job. It must end with the final table and exit 0."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kubeplan.cli import main


def test_the_demo_narrates_each_plan_and_ends_with_the_final_table(capsys) -> None:
    started = time.monotonic()
    code = main(["demo"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert time.monotonic() - started < 30
    # the plans, with their reasons
    assert "create  v1/Pod default/hello-0: missing" in out
    assert "create  v1/Service default/bonjour: missing" in out
    assert re.search(r'recreate v1/Pod default/hello-0: spec.containers\[name=echo\]\.args\[0\] '
                     r'"-text=Hello" -> "-text=Hello again"', out)
    assert "create  v1/Pod default/hello-2: missing" in out
    # the final table: hello has 3 ready Pods; bonjour and its children are gone
    table = out[out.index("==> final state"):]
    assert re.search(r"EchoServer\s+default/hello\s+3/3 ready\s+greeting 'Hello again', "
                     r"Synced=True", table)
    for pod in ("hello-0", "hello-1", "hello-2"):
        assert re.search(rf"Pod\s+default/{pod}\s+Ready", table)
    assert "bonjour" not in table
    assert re.search(r"Service\s+default/hello\s+ClusterIP", table)


def test_demo_help_says_what_it_does(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "echo-server" in out and "--keep" in out and "Exit codes" in out


@pytest.mark.kubectl
def test_keep_leaves_a_cluster_kubectl_can_read() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    process = subprocess.Popen(
        [sys.executable, "-m", "kubeplan.cli", "demo", "--keep"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        kubeconfig = None
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"export KUBECONFIG=(\S+)", line)
            if found:
                kubeconfig = found.group(1)
                break
        assert kubeconfig, "".join(lines)
        got = subprocess.run(
            [kubectl, "get", "echoservers,pods", "-o", "name"],
            env={**os.environ, "KUBECONFIG": kubeconfig},
            capture_output=True, text=True, timeout=30,
        )
        assert got.returncode == 0, got.stderr
        assert "echoserver.example.kubeplan.dev/hello" in got.stdout
        assert "pod/hello-2" in got.stdout
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
