"""``kubeplan run --embedded --record FILE``: the echo-server example recorded on the wall
clock (HTTP, handler threads, four workers), stopped by SIGTERM (the file is flushed),
then replayed in virtual time with the same plans."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest
from adapter_testing import eventually

from kubeplan.adapters.client import KubeClient
from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType
from kubeplan.testkit.replay import assert_replays

ROOT = Path(__file__).resolve().parents[2]
ECHO_SERVER = K8sType("example.kubeplan.dev/v1", "EchoServer", "echoservers")
TARGET = "examples/echo-server/echo_server_operator.py:operator"

pytestmark = pytest.mark.real_time


def _echo_server(name: str, replicas: int) -> dict[str, object]:
    return {"apiVersion": ECHO_SERVER.api_version, "kind": ECHO_SERVER.kind,
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"greeting": "hello", "replicas": replicas}}


async def test_run_embedded_records_and_the_recording_replays(tmp_path: Path) -> None:
    recording = tmp_path / "echo.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubeplan.cli", "run", TARGET, "--embedded",
        "--grace-period", "5", "--record", str(recording),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(20):
            while not lines or not lines[-1].startswith("kubeconfig: "):
                line = (await proc.stdout.readline()).decode()
                if not line:
                    pytest.fail(f"kubeplan run exited early: {''.join(lines)}")
                lines.append(line)
        client = await KubeClient.from_kubeconfig(lines[-1].split(": ", 1)[1].strip())
        try:
            for i in range(3):
                await client.create(ECHO_SERVER, _echo_server(f"echo-{i}", 2))

            async def pods() -> bool:
                listed = await client.list(core_v1.Pod, "default")
                return len(listed["items"]) == 6

            await eventually(pods, timeout=20)
            first = await client.get(ECHO_SERVER, "echo-0", "default")
            first["spec"]["replicas"] = 1
            await client.replace(ECHO_SERVER, first)

            async def scaled_down() -> bool:
                listed = await client.list(core_v1.Pod, "default")
                return len(listed["items"]) == 5

            await eventually(scaled_down, timeout=20)
        finally:
            await client.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stdout.read(), 15)
        code = await asyncio.wait_for(proc.wait(), 15)
    assert code == 0, "".join(lines) + rest.decode()

    records = [orjson.loads(line) for line in recording.read_bytes().splitlines()]
    assert records[0]["kind"] == "header" and records[0]["operator"] == "echo-server"
    plans = [line for r in records if r["kind"] == "plan" for line in r["lines"]]
    assert any(line.startswith("delete  v1/Pod default/echo-0-1") for line in plans)
    sys.path.insert(0, str(ROOT / "examples" / "echo-server"))
    try:
        import echo_server_operator
    finally:
        sys.path.remove(str(ROOT / "examples" / "echo-server"))
    # the replay runs a virtual-time loop of its own: not inside this test's loop
    result = await asyncio.to_thread(assert_replays, recording, echo_server_operator.operator)
    assert result.syncs == sum(r["kind"] == "sync" for r in records) > 3
