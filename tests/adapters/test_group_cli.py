"""``kubeplan run A B --embedded``: the two operators of examples/multicontroller in one
process, both converging, with one /metrics carrying both operators' series; and the
errors of a bad pair."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml
from adapter_testing import eventually, get_or_none

from kubeplan.adapters.client import KubeClient
from kubeplan.cli import main
from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "multicontroller"
SECRET_SYNC = "examples/multicontroller/secret_sync_operator.py:operator"
SA_SYNC = "examples/multicontroller/service_account_sync_operator.py:operator"
SecretSync = K8sType("example.kubeplan.dev/v1", "SecretSync", "secretsyncs", namespaced=False)
ServiceAccountSync = K8sType("example.kubeplan.dev/v1", "ServiceAccountSync",
                             "serviceaccountsyncs", namespaced=False)
PORT = re.compile(r"health and metrics on port (\d+)")


async def _start() -> tuple[asyncio.subprocess.Process, str, int, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubeplan.cli", "run", SECRET_SYNC, SA_SYNC, "--embedded",
        "--grace-period", "5", "--health-port", "0",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    kubeconfig = ""
    async with asyncio.timeout(30):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                pytest.fail(f"kubeplan run exited early: {''.join(lines)}")
            lines.append(line)
            if line.startswith("kubeconfig: "):
                kubeconfig = line.split(": ", 1)[1].strip()
            found = PORT.search(line)
            if found and kubeconfig:
                return proc, kubeconfig, int(found.group(1)), lines


@pytest.mark.real_time
async def test_two_examples_in_one_process_converge_with_one_metrics_endpoint() -> None:
    proc, kubeconfig, port, lines = await _start()
    try:
        client = await KubeClient.from_kubeconfig(kubeconfig)
        try:
            for obj in yaml.safe_load_all((EXAMPLE / "team.yaml").read_text()):
                await client.create(core_v1.Namespace if obj["kind"] == "Namespace"
                                    else core_v1.Secret, obj)
            await client.create(SecretSync, yaml.safe_load(
                (EXAMPLE / "secretsync.yaml").read_text()))
            await client.create(ServiceAccountSync, yaml.safe_load(
                (EXAMPLE / "serviceaccountsync.yaml").read_text()))
            for ns in ("blue-dev", "blue-prod"):
                await eventually(lambda ns=ns: get_or_none(
                    client, core_v1.Secret, "registry-credentials", ns))
                account = await eventually(lambda ns=ns: get_or_none(
                    client, core_v1.ServiceAccount, "deployer", ns))
                assert account["imagePullSecrets"] == [{"name": "registry-credentials"}]
        finally:
            await client.close()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                assert response.status == 200
                body = await response.text()
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                metrics = await response.text()
        assert "secret-sync: mode: single" in body and "service-account-sync: mode: single" in body
        for name in ("secret-sync", "service-account-sync"):
            assert re.search(rf'kubeplan_syncs_total{{[^}}]*operator="{name}"', metrics), name
        assert metrics.count("# TYPE kubeplan_syncs_total counter") == 1
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.stdout is not None
            rest = await asyncio.wait_for(proc.stdout.read(), 15)
            code = await asyncio.wait_for(proc.wait(), 15)
            assert code == 0, "".join(lines) + rest.decode()


def test_two_operators_of_one_name_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    target = str(ROOT / SECRET_SYNC)
    assert main(["run", target, target, "--embedded"]) == 2
    err = capsys.readouterr().err
    assert "both operators named 'secret-sync'" in err and "unique names" in err


def test_a_target_that_does_not_load_names_itself(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(ROOT / SECRET_SYNC), "no_such_module_here:operator"]) == 1
    assert "no_such_module_here" in capsys.readouterr().err
