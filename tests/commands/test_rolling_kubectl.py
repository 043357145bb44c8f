"""The rolling example's README session, as a new user tries it: `kubeplan run ...
--embedded` in one process, kubectl in another. A rollout halts when a member's check
fails (`ready=false`) and goes on once it passes, one member at a time."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from embedded_run import embedded_run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "rolling"
TARGET = f"{EXAMPLE / 'rolling_operator.py'}:operator"
ROLLED_OUT = ('{range .status.conditions[?(@.type=="RolledOut")]}'
              '{.reason}: {.message}{"\\n"}{end}')

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="needs kubectl on PATH")


def test_a_rollout_halts_on_a_failing_check_and_goes_on_once_it_passes(
    tmp_path: Path,
) -> None:
    with embedded_run(TARGET, tmp_path) as run:
        kubeconfig = run.kubeconfig

        def kubectl(*args: str) -> str:
            done = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args],
                                  capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 0, (args, done.stderr, run.stderr()[-2000:])
            return done.stdout

        def versions() -> dict[str, tuple[str, str]]:
            items = json.loads(kubectl("get", "configmaps", "-l", "fleet=web", "-o",
                                       "json"))["items"]
            return {cm["metadata"]["name"]: (cm["metadata"]["labels"].get("version", ""),
                                             cm["metadata"]["labels"].get("ready", ""))
                    for cm in items}

        def rolled_out() -> str:
            return kubectl("get", "fleet", "web", "-o", f"jsonpath={ROLLED_OUT}").strip()

        def until(what: str, check: object, seconds: float = 60) -> None:
            deadline = time.monotonic() + seconds
            seen = None
            while time.monotonic() < deadline:
                seen = check() if callable(check) else None
                if seen:
                    return
                time.sleep(0.2)
            raise AssertionError(f"{what}: last seen {seen!r}; now "
                                 f"{versions()} / {rolled_out()!r}")

        kubectl("apply", "-f", str(EXAMPLE / "fleet.yaml"))
        until("three members at v1", lambda: versions() == {
            f"web-{i}": ("v1", "") for i in range(3)})
        kubectl("label", "configmap", "web-0", "web-1", "web-2", "ready=true")
        until("rolled out at v1", lambda: rolled_out().startswith("Complete"))

        kubectl("patch", "fleet", "web", "--type", "merge", "-p",
                '{"spec":{"version":"v2"}}')
        until("web-0 updated first, alone", lambda: versions() == {
            "web-0": ("v2", ""), "web-1": ("v1", "true"), "web-2": ("v1", "true")})
        assert rolled_out() == (
            "Progressing: ConfigMap: 1 of 3 updated, 2 ready, updating web-0, 2 waiting")

        kubectl("label", "configmap", "web-0", "ready=false")
        until("halted on web-0", lambda: rolled_out() == (
            "CheckFailed: halted: ConfigMap web-0: check app_ready failed (2 waiting)"))
        time.sleep(2)  # halted: no other member moves while the check fails
        assert versions() == {
            "web-0": ("v2", "false"), "web-1": ("v1", "true"), "web-2": ("v1", "true")}

        kubectl("label", "configmap", "web-0", "ready=true", "--overwrite")
        until("web-1 next", lambda: versions().get("web-1", ("",))[0] == "v2")
        assert versions()["web-2"] == ("v1", "true")
        kubectl("label", "configmap", "web-1", "ready=true")
        until("web-2 last", lambda: versions().get("web-2", ("",))[0] == "v2")
        kubectl("label", "configmap", "web-2", "ready=true", "--overwrite")
        until("complete at v2", lambda: rolled_out().startswith("Complete"))
        assert versions() == {f"web-{i}": ("v2", "true") for i in range(3)}
