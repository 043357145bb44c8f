"""`kubeplan fake-apiserver`: prints its URL, writes a kubeconfig, stops on a signal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

KUBEPLAN = str(Path(sys.executable).parent / "kubeplan")


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    procs: list[subprocess.Popen[str]] = []

    def _start(*extra: str) -> tuple[subprocess.Popen[str], str, Path]:
        kubeconfig = tmp_path / "k.yaml"
        proc = subprocess.Popen(
            [KUBEPLAN, "fake-apiserver", "--port", "0", "--kubeconfig", str(kubeconfig), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, f"no URL in {line!r}; stderr: {proc.stderr.read() if proc.poll() else ''}"
        return proc, match.group(0), kubeconfig

    yield _start
    for proc in procs:  # never leave a server behind, even when a test fails
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_writes_kubeconfig_and_exits_zero_on_signal(start, signum: int) -> None:
    proc, url, kubeconfig = start()
    config = yaml.safe_load(kubeconfig.read_text())
    current = config["current-context"]
    context = next(c["context"] for c in config["contexts"] if c["name"] == current)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    assert cluster["server"] == url
    status, body = get(url + "/api/v1/namespaces/default/configmaps")
    assert status == 200 and body["kind"] == "ConfigMapList"
    os.kill(proc.pid, signum)
    assert proc.wait(timeout=10) == 0


def test_token_required(start) -> None:
    proc, url, kubeconfig = start("--token", "t0ken")
    assert get(url + "/api")[0] == 401
    assert get(url + "/api", token="t0ken")[0] == 200
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["users"][0]["user"] == {"token": "t0ken"}
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_help_mentions_usage() -> None:
    out = subprocess.run(
        [KUBEPLAN, "fake-apiserver", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--kubeconfig" in out and "SIGTERM" in out
