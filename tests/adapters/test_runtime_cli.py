"""``kubeplan run --embedded``: starts, reconciles a parent created from outside, and exits
cleanly on SIGTERM within the grace period."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from adapter_testing import eventually, get_or_none

from kubeplan.adapters.client import KubeClient
from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

ROOT = Path(__file__).resolve().parents[2]
MEMBER = K8sType("example.kubeplan.dev/v1", "Member", "members")

# the operator runs in another process, on the wall clock: so does the test
pytestmark = pytest.mark.real_time


async def _start() -> tuple[asyncio.subprocess.Process, str, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubeplan.cli", "run", "examples/member/member_operator.py:operator",
        "--embedded", "--grace-period", "5",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(20):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                pytest.fail(f"kubeplan run exited early: {''.join(lines)}")
            lines.append(line)
            if line.startswith("kubeconfig: "):
                return proc, line.split(": ", 1)[1].strip(), lines


async def _stop(proc: asyncio.subprocess.Process, lines: list[str]) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout is not None
    rest = await asyncio.wait_for(proc.stdout.read(), 10)
    code = await asyncio.wait_for(proc.wait(), 10)
    output = "".join(lines) + rest.decode()
    assert code == 0, output
    assert "stopped" in output
    return time.monotonic() - started


async def test_run_embedded_reconciles_and_stops_cleanly_on_sigterm():
    proc, kubeconfig, lines = await _start()
    try:
        client = await KubeClient.from_kubeconfig(kubeconfig)
        try:
            member = yaml.safe_load((ROOT / "examples/member/member.yaml").read_text())
            await client.create(MEMBER, member)
            configmap = await eventually(
                lambda: get_or_none(client, core_v1.ConfigMap, "member-ada", "default"))
            assert configmap["data"]["greeting"] == "Hello, ada! Welcome to analytical-engines."
            status = await eventually(lambda: _status(client))
            assert status["greeting"].startswith("Hello, ada!")
        finally:
            await client.close()
    finally:
        if proc.returncode is None:
            elapsed = await _stop(proc, lines)
    assert elapsed < 5


async def _status(client: KubeClient) -> dict | None:
    return (await client.get(MEMBER, "ada", "default")).get("status")


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
async def test_run_embedded_with_kubectl():
    proc, kubeconfig, lines = await _start()
    try:
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        applied = await asyncio.to_thread(
            subprocess.run, ["kubectl", "apply", "-f", "examples/member/member.yaml"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
        assert applied.returncode == 0, applied.stderr

        async def greeting() -> str:
            got = await asyncio.to_thread(
                subprocess.run, ["kubectl", "get", "configmap", "member-ada", "-o",
                                 "jsonpath={.data.greeting}"],
                env=env, capture_output=True, text=True, timeout=30)
            return got.stdout if got.returncode == 0 else ""

        assert "Welcome to analytical-engines" in await eventually(greeting)
    finally:
        await _stop(proc, lines)
