"""`kubeplan plan --all` end to end, on the chosen server (`--kube-apiserver=real` for the
real kube-apiserver): the echo-server operator converges two parents and stops; the same
version then previews nothing to do (exit 0) and a new version previews its recreates
(exit 2), as text and as JSON, and nothing on the server changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from e2e_support import (
    E2E,
    EXAMPLES,
    ROOT,
    RawObject,
    eventually,
    is_synced,
    load_yaml,
    meta,
    register,
    untouched,
)

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

ECHO = K8sType("example.kubeplan.dev/v1", "EchoServer", "echoservers")
TARGET = "examples/echo-server/echo_server_operator.py:operator"
OLD_IMAGE = 'IMAGE = "hashicorp/http-echo:1.0"'
NEW_IMAGE = 'IMAGE = "hashicorp/http-echo:1.1"'


def _plan_all(e2e: E2E, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kubeplan.cli", "plan", target, "--all",
               "-n", e2e.namespace, "--kubeconfig", str(e2e.endpoint.kubeconfig), *args]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _everything(e2e: E2E) -> dict[tuple[str, str], RawObject]:
    """The parents and children in the test's namespace, by (resource, name)."""
    return {(type_.plural, meta(obj)["name"]): obj
            for type_ in (ECHO, core_v1.Pod, core_v1.Service)
            for obj in e2e.admin.list(type_, e2e.namespace)}


def test_plan_all_previews_a_new_version_on_a_live_server(
        e2e: E2E, tmp_path: Path) -> None:
    admin, ns = e2e.admin, e2e.namespace
    register(ECHO)
    sample = load_yaml(EXAMPLES / "echo-server" / "echoserver.yaml")
    for name, replicas in (("alpha", 2), ("beta", 1)):
        admin.create(ECHO, {**sample, "metadata": {"name": name, "namespace": ns},
                            "spec": {**sample["spec"], "replicas": replicas}})
        e2e.remember(ECHO, name, ns)
    operator = e2e.operator(TARGET)

    def converged() -> bool:
        parents = admin.list(ECHO, ns)
        pods = {meta(p)["name"] for p in admin.list(core_v1.Pod, ns)}
        return (len(parents) == 2 and all(is_synced(p) for p in parents)
                and pods == {"alpha-0", "alpha-1", "beta-0"})

    eventually(converged, what="alpha and beta converged", context=e2e.logs)
    assert operator.stop() == 0
    before = _everything(e2e)

    same = _plan_all(e2e, TARGET)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "2 parents: 0 would change, 2 up to date, 0 failed; 0 actions" in same.stdout

    source = (ROOT / TARGET.partition(":")[0]).read_text()
    assert OLD_IMAGE in source
    new = tmp_path / "echo_v2.py"
    new.write_text(source.replace(OLD_IMAGE, NEW_IMAGE))
    changed = _plan_all(e2e, f"{new}:operator")
    assert changed.returncode == 2, changed.stdout + changed.stderr
    lines = changed.stdout.splitlines()
    assert lines[1:3] == ["2 parents: 2 would change, 0 up to date, 0 failed; 3 actions",
                          "  recreate  v1/Pod  3"]
    assert f"{ECHO} {ns}/alpha: 2 actions" in lines
    assert any(line.startswith(f"  recreate v1/Pod {ns}/beta-0: spec.containers[name=echo]"
                               ".image") for line in lines)

    as_json = _plan_all(e2e, f"{new}:operator", "-o", "json")
    assert as_json.returncode == 2, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["namespaces"] == [ns]
    assert data["totals"] == {"parents": 2, "changed": 2, "up_to_date": 0, "failed": 0,
                              "actions": 3, "problems": 0}

    after = _everything(e2e)
    assert sorted(after) == sorted(before) and len(before) == 2 + 3 + 2
    for key, obj in before.items():  # previewed, never carried out: same uid and version
        assert untouched(obj, after[key]), key
