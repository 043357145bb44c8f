"""`kubeplan run` and `kubeplan plan` as a newcomer meets them (issue 17): a kubeconfig or
context that does not work is one line and exit 1, an unreachable cluster ends the start-up
with the reason, Ctrl-C exits 130 as the README says, the README's Quickstart module runs
on the embedded server, and messages name what the user wrote."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from embedded_run import embedded_run

from kubeplan.cli import main
from kubeplan.testkit.apiserver.http import write_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
MEMBER = f"{ROOT}/examples/member/member_operator.py:operator"
MEMBER_PARENT = ROOT / "examples/member/member.yaml"
ECHO_FILE = ROOT / "examples/echo-server/echo_server_operator.py"
ECHO = f"{ECHO_FILE}:operator"
ECHO_PARENT = ROOT / "examples/echo-server/echoserver.yaml"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _kubeconfig(tmp_path: Path, url: str = "http://127.0.0.1:9") -> Path:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, url)
    return path


# -- a kubeconfig or a context that does not work -------------------------------------------


@pytest.mark.parametrize("command", [["run", MEMBER], ["plan", MEMBER, "-f", str(MEMBER_PARENT)]])
def test_a_missing_kubeconfig_is_one_line_and_exit_1(capsys, command: list[str]) -> None:
    code = main([*command, "--kubeconfig", "/missing/kubeconfig"])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert line == (f"kubeplan {command[0]}: kubeconfig '/missing/kubeconfig' does not exist: "
                    "pass --kubeconfig the path of a kubeconfig file, or leave it out to use "
                    "$KUBECONFIG or ~/.kube/config")


def test_with_json_logs_the_reason_is_a_json_line_too(capsys) -> None:
    code = main(["run", MEMBER, "--kubeconfig", "/missing/kubeconfig", "--log-format", "json"])
    line = json.loads(_one_line(capsys.readouterr().err))
    assert code == 1
    assert (line["level"], line["logger"]) == ("ERROR", "kubeplan.run")
    assert line["message"].startswith("kubeplan run: kubeconfig '/missing/kubeconfig' does not")


@pytest.mark.parametrize("command", [["run", MEMBER], ["plan", MEMBER, "-f", str(MEMBER_PARENT)]])
def test_an_unknown_context_is_one_line_and_exit_1(capsys, tmp_path, command: list[str]) -> None:
    kubeconfig = _kubeconfig(tmp_path)
    contexts = yaml.safe_load(kubeconfig.read_text())
    current = contexts["current-context"]
    code = main([*command, "--kubeconfig", str(kubeconfig), "--context", "nope"])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert f"context 'nope' is not in kubeconfig {kubeconfig}" in line
    assert f"(its contexts: '{current}')" in line
    assert f"leave --context out to use its current-context '{current}'" in line


def test_a_kubeconfig_without_current_context_says_to_pass_one(capsys, tmp_path) -> None:
    kubeconfig = _kubeconfig(tmp_path)
    doc = yaml.safe_load(kubeconfig.read_text())
    del doc["current-context"]
    kubeconfig.write_text(yaml.safe_dump(doc))
    code = main(["run", MEMBER, "--kubeconfig", str(kubeconfig)])
    line = _one_line(capsys.readouterr().err)
    assert code == 1 and "has no current-context" in line and "pass --context NAME" in line


def test_kubeconfig_from_the_environment_that_does_not_exist(capsys, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/missing/env-kubeconfig")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code = main(["run", MEMBER])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert "$KUBECONFIG names '/missing/env-kubeconfig', which does not exist" in line


# -- an unreachable cluster, a cluster without the CRD ---------------------------------------


def test_run_against_an_unreachable_cluster_gives_up_after_the_startup_timeout(
    capsys, tmp_path, caplog
) -> None:
    kubeconfig = _kubeconfig(tmp_path)  # the discard port: nothing listens
    with caplog.at_level(logging.WARNING, logger="kubeplan.run"):
        code = main(["run", MEMBER, "--kubeconfig", str(kubeconfig), "--startup-timeout", "0.3"])
    err = capsys.readouterr().err
    assert code == 1
    line = _one_line(err)
    assert line.startswith("kubeplan run: the API server at http://127.0.0.1:9 was not ready "
                           "within 0.3s: GET /version: cannot connect to 127.0.0.1:9")
    assert line.endswith("or wait longer with --startup-timeout")
    waits = [r.getMessage() for r in caplog.records if r.name == "kubeplan.run"]
    assert len(waits) == 1 and waits[0].startswith("waiting up to 0.3s for the API server")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_stop_during_the_startup_wait_is_a_clean_stop(tmp_path, signum: int,
                                                         code: int) -> None:
    kubeconfig = _kubeconfig(tmp_path)  # the discard port: the wait goes on
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubeplan.cli", "run", MEMBER, "--kubeconfig", str(kubeconfig),
         "--startup-timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the wait has begun
        assert "waiting up to 120s for the API server" in first, first
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == code, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_against_a_cluster_that_does_not_serve_the_parent_says_install_the_crd(
    capsys, tmp_path
) -> None:
    from kubeplan.testkit.processes import FakeApiServerProcess

    with FakeApiServerProcess(tmp_path / "kubeconfig") as server:
        code = main(["run", MEMBER, "--kubeconfig", str(server.kubeconfig),
                     "--startup-timeout", "0.3"])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert ("does not serve example.kubeplan.dev/v1 members: install the CRD "
            "(kubeplan crd MODULE:ATTR | kubectl apply -f -)") in line


def test_the_startup_timeout_is_in_the_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "--startup-timeout" in out and "default: 30" in out
    assert "Ctrl-C 130" in out


def test_the_readme_and_the_command_agree_on_the_exit_codes() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "`130` interrupted" in readme
    assert "an unreachable cluster" in readme
    assert "`--startup-timeout` (default 30" in readme
    assert "SIGTERM stops it with exit code 0, Ctrl-C with 130." in readme
    from kubeplan.commands import run

    assert run.EXIT_INTERRUPTED == 130
    assert "130 stopped by Ctrl-C" in (run.__doc__ or "")


# -- the README's Quickstart module, embedded; Ctrl-C ----------------------------------------


def _quickstart_module() -> str:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- test -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert blocks and "operator = OperatorDefinition(config, sync)" in blocks[0]
    return blocks[0]


def test_the_quickstart_module_runs_embedded_and_ctrl_c_exits_130(tmp_path) -> None:
    (tmp_path / "readme_module.py").write_text(_quickstart_module())
    folder = tmp_path / "out"
    folder.mkdir()
    with embedded_run("readme_module:operator", folder, ready="installed CRD",
                      cwd=tmp_path) as run:
        greeting = asyncio.run(_member_greeting(run.kubeconfig))
        assert greeting == "Hello, Ada! Welcome to analytical-engines."
        note = next(line for line in run.lines if line.startswith("installed CRD"))
        assert note.strip() == (
            "installed CRD members.example.kubeplan.dev, which accepts any spec and status "
            "(x-kubernetes-preserve-unknown-fields): the OperatorDefinition has no spec_class "
            "and no crd to derive a schema from")
    assert run.proc.returncode == 130, run.stderr()
    logged = run.stderr()
    assert " 404" not in logged and "NotFound" not in logged, logged
    assert "default/ada: 2 actions" in logged  # the ConfigMap and the status


async def _member_greeting(kubeconfig: str) -> str:
    from kubeplan.adapters.client import KubeClient
    from kubeplan.adapters.errors import NotFound
    from kubeplan.core.k8s import core_v1
    from kubeplan.core.types import K8sType

    member = K8sType("example.kubeplan.dev/v1", "Member", "members")
    client = await KubeClient.from_kubeconfig(kubeconfig)
    try:
        await client.create(member, {
            "apiVersion": "example.kubeplan.dev/v1", "kind": "Member",
            "metadata": {"name": "ada", "namespace": "default"},
            "spec": {"name": "Ada", "memberOf": "analytical-engines"}})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                configmap = await client.get(core_v1.ConfigMap, "member-ada", "default")
                return str(configmap["data"]["greeting"])
            except NotFound:
                await asyncio.sleep(0.05)
        raise AssertionError("the operator did not create the ConfigMap")
    finally:
        await client.close()


# -- kubeplan plan --observed with a parent file that has no uid -----------------------------


def _observed_service(tmp_path: Path, *uids: str) -> Path:
    folder = tmp_path / "observed"
    folder.mkdir()
    for index, uid in enumerate(uids):
        (folder / f"svc{index}.yaml").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"hello{'' if index == 0 else index}", "namespace": "default",
                         "uid": f"svc-{index}",
                         "ownerReferences": [{"apiVersion": "example.kubeplan.dev/v1",
                                              "kind": "EchoServer", "name": "hello",
                                              "uid": uid, "controller": True}]},
            "spec": {"ports": [{"port": 80}]},
        }))
    return folder


def test_a_parent_without_uid_takes_it_from_the_observed_children(capsys, tmp_path) -> None:
    observed = _observed_service(tmp_path, "abcd-1234")
    code = main(["plan", ECHO, "-f", str(ECHO_PARENT), "--observed", str(observed)])
    out, err = capsys.readouterr()
    assert code == 2
    assert _one_line(err) == (
        f"kubeplan plan: the parent in {ECHO_PARENT} has no metadata.uid; using abcd-1234, "
        "the uid the observed objects name as their controller")
    assert "not owned by" not in out and "problem" not in out
    assert "replace v1/Service default/hello:" in out


def test_observed_children_of_different_parents_say_the_parent_has_no_uid(
    capsys, tmp_path
) -> None:
    observed = _observed_service(tmp_path, "uid-old", "uid-new")
    code = main(["plan", ECHO, "-f", str(ECHO_PARENT), "--observed", str(observed)])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert f"the parent in {ECHO_PARENT} has no metadata.uid" in line
    assert "uid-new by Service hello1; uid-old by Service hello" in line


# -- messages name what the user wrote ----------------------------------------------------------


def test_a_missing_attribute_names_the_file_not_the_internal_module(capsys) -> None:
    code = main(["plan", f"{ECHO_FILE}:nope", "-f", str(ECHO_PARENT)])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert line == (f"kubeplan plan: file '{ECHO_FILE}' has no attribute 'nope'; its "
                    "OperatorDefinitions are: operator")
    assert "_kubeplan_target_" not in line


def test_a_function_is_a_function(capsys) -> None:
    code = main(["plan", f"{ECHO_FILE}:sync", "-f", str(ECHO_PARENT)])
    line = _one_line(capsys.readouterr().err)
    assert code == 1 and f"{ECHO_FILE}:sync is a function, not an OperatorDefinition" in line


def test_an_example_is_an_example(capsys) -> None:
    code = main(["plan", ECHO, "-f", str(MEMBER_PARENT)])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert f"{MEMBER_PARENT} is an example.kubeplan.dev/v1/Member, not a parent" in line


def test_the_runtime_log_counts_one_action_in_the_singular(caplog) -> None:
    from kubeplan.core import OperatorConfig, OperatorDefinition, SyncResponse
    from kubeplan.core.types import K8sType
    from kubeplan.testkit import CreateParent, Scenario, run_scenario

    parent = K8sType("log.kubeplan.dev/v1", "Note", "notes")
    definition = OperatorDefinition(OperatorConfig("notes", parent),
                                    lambda request: SyncResponse(status={"seen": True}))
    with caplog.at_level(logging.INFO, logger="kubeplan.adapters.runtime"):
        run_scenario(definition, Scenario(steps=[CreateParent("n0", {})]))
    counts = [r.getMessage() for r in caplog.records if "default/n0:" in r.getMessage()]
    assert counts and all(m.endswith("1 action") for m in counts), counts


def test_a_recording_that_cannot_be_written_is_one_line_and_exit_1(capsys, tmp_path) -> None:
    target = tmp_path / "no-such-folder" / "run.jsonl"
    code = main(["run", MEMBER, "--embedded", "--record", str(target)])
    line = _one_line(capsys.readouterr().err)
    assert code == 1
    assert line == (f"kubeplan run: --record {target}: cannot write it "
                    "(No such file or directory)")
