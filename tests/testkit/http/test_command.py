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


def test_token_from_a_file_or_the_environment_stays_out_of_ps(start, tmp_path: Path,
                                                              monkeypatch) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-from-file\n")
    proc, url, kubeconfig = start("--token-file", str(secret))
    assert get(url + "/api")[0] == 401
    assert get(url + "/api", token="s3cret-from-file")[0] == 200
    assert "s3cret" not in Path(f"/proc/{proc.pid}/cmdline").read_text()
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    monkeypatch.setenv("KUBEPLAN_FAKE_APISERVER_TOKEN", "s3cret-from-env")
    proc, url, kubeconfig = start()
    assert get(url + "/api")[0] == 401
    assert get(url + "/api", token="s3cret-from-env")[0] == 200
    assert yaml.safe_load(kubeconfig.read_text())["users"][0]["user"] == {
        "token": "s3cret-from-env"}


def test_an_existing_open_kubeconfig_is_replaced_by_a_private_one(start) -> None:
    proc, _url, kubeconfig = start("--token", "t0ken")  # learn the path, then reuse it
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    kubeconfig.write_text("old: config\n")
    kubeconfig.chmod(0o644)
    start("--token", "t0ken")
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    assert "t0ken" in kubeconfig.read_text()


@pytest.mark.parametrize("problem", ["missing", "empty"])
def test_a_bad_token_file_is_named(tmp_path: Path, problem: str) -> None:
    secret = tmp_path / "token"
    if problem == "empty":
        secret.write_text("\n")
    done = subprocess.run(
        [KUBEPLAN, "fake-apiserver", "--kubeconfig", str(tmp_path / "k.yaml"),
         "--token-file", str(secret)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert f"--token-file {secret}" in done.stderr
    assert ("empty" if problem == "empty" else "No such file") in done.stderr
    assert not (tmp_path / "k.yaml").exists()
