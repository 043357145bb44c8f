"""`kubeplan plan`: offline from files, read-only against a cluster, exit 0 / 2 / 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeplan.cli import main
from kubeplan.commands._loading import load_definition

ROOT = Path(__file__).resolve().parents[2]
ECHO = f"{ROOT}/examples/echo-server/echo_server_operator.py:operator"
ECHO_PARENT = ROOT / "examples/echo-server/echoserver.yaml"


def plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["plan", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_offline_plan_of_a_new_parent_creates_its_children(capsys) -> None:
    code, out, err = plan(capsys, ECHO, "-f", str(ECHO_PARENT))
    assert code == 2, err
    assert "create  v1/Pod default/hello-0: missing" in out
    assert "create  v1/Pod default/hello-1: missing" in out
    assert "create  v1/Service default/hello: missing" in out


def test_offline_plan_with_observed_children_shows_the_recreate(capsys, tmp_path) -> None:
    # what the operator wrote for the parent, then the parent's greeting changes
    definition = load_definition(ECHO)
    parent = yaml.safe_load(ECHO_PARENT.read_text())
    from kubeplan.commands.plan import plan_request, request_offline

    first = plan_request(definition, request_offline(definition.config, parent, []))
    observed = tmp_path / "observed"
    observed.mkdir()
    written = first.desired_objects()
    (observed / "children.yaml").write_text(yaml.safe_dump_all(written))
    changed = {**parent, "spec": {**parent["spec"], "greeting": "Hi"}}
    changed_file = tmp_path / "changed.yaml"
    changed_file.write_text(yaml.safe_dump(changed))

    code, out, _ = plan(capsys, ECHO, "-f", str(changed_file), "--observed", str(observed),
                        "-o", "json")
    assert code == 2
    data = json.loads(out)
    verbs = {(a["action"], a["ref"]["name"]) for a in data["actions"]}
    assert ("recreate", "hello-0") in verbs and ("recreate", "hello-1") in verbs
    assert not any(verb == "replace" for verb, _ in verbs)  # the Service did not change


def test_a_file_that_is_not_a_parent_of_the_operator_says_what_it_expected(capsys) -> None:
    code, _, err = plan(capsys, ECHO, "-f", str(ROOT / "examples/member/member.yaml"))
    assert code == 1
    assert "not a parent of operator 'echo-server'" in err and "kind: EchoServer" in err


def test_a_target_that_does_not_import_is_explained(capsys, tmp_path) -> None:
    code, _, err = plan(capsys, "no_such_module:operator", "-f", str(ECHO_PARENT))
    assert code == 1 and "module 'no_such_module' was not found" in err
    broken = tmp_path / "broken.py"
    broken.write_text("operator = 42\n")
    code, _, err = plan(capsys, f"{broken}:operator", "-f", str(ECHO_PARENT))
    assert code == 1 and "not an OperatorDefinition" in err


def test_observed_objects_of_undeclared_types_are_refused(capsys, tmp_path) -> None:
    observed = tmp_path / "observed"
    observed.mkdir()
    (observed / "secret.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}}
    ))
    code, _, err = plan(capsys, ECHO, "-f", str(ECHO_PARENT), "--observed", str(observed))
    assert code == 1 and "neither a child type nor a related type" in err


def test_an_unreachable_cluster_is_explained(capsys, tmp_path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    from kubeplan.testkit.apiserver.http import write_kubeconfig

    write_kubeconfig(kubeconfig, "http://127.0.0.1:9")  # discard port: nothing listens
    code, _, err = plan(capsys, ECHO, "-f", str(ECHO_PARENT), "--kubeconfig", str(kubeconfig))
    assert code == 1
    assert "cannot reach the cluster at http://127.0.0.1:9" in err


def _converge(server: Any, definition: Any, parent: dict[str, Any]) -> None:
    """Run the real operator against the fake until it has nothing left to do."""

    async def run() -> None:
        from kubeplan.adapters.runtime import Operator
        from kubeplan.adapters.settings import RuntimeSettings
        from kubeplan.core.crd import crd_of
        from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition

        client = server.client()
        await client.create(CustomResourceDefinition, crd_of(definition))
        await server.settle()
        await client.create(definition.config.parent, parent)
        operator = Operator(definition.config, definition.handler, server.client(),
                            settings=RuntimeSettings(resync_period=None))
        task = asyncio.create_task(operator.run())
        await operator.settle(timeout=10)
        await operator.stop()
        await task

    return run()  # type: ignore[return-value]


def test_against_a_cluster_an_up_to_date_parent_has_nothing_to_do(capsys, tmp_path) -> None:
    from kubeplan.testkit.apiserver.http import ThreadedFakeApiServer

    definition = load_definition(ECHO)
    parent = yaml.safe_load(ECHO_PARENT.read_text())
    with ThreadedFakeApiServer(kubeconfig_path=tmp_path / "kubeconfig") as fake:
        fake.call(lambda server: _converge(server, definition, parent), timeout=30)
        before = fake.call(lambda server: server.resource_version)
        kubeconfig = str(fake.kubeconfig_path)

        code, out, err = plan(capsys, ECHO, "-f", str(ECHO_PARENT), "--kubeconfig", kubeconfig)
        assert code == 0, out + err
        assert "nothing" in out and "up to date" in out

        changed = tmp_path / "changed.yaml"
        changed.write_text(yaml.safe_dump({**parent, "spec": {**parent["spec"], "replicas": 3}}))
        code, out, err = plan(capsys, ECHO, "-f", str(changed), "--kubeconfig", kubeconfig)
        assert code == 2, err
        assert "create  v1/Pod default/hello-2: missing" in out
        assert "hello-0" not in out  # unchanged Pods are left alone

        # read-only: nothing was written by either plan
        assert fake.call(lambda server: server.resource_version) == before


def test_against_a_cluster_a_foreign_object_in_the_way_is_reported(capsys, tmp_path) -> None:
    from kubeplan.core.k8s import core_v1
    from kubeplan.testkit.apiserver.http import ThreadedFakeApiServer

    async def foreign_service(server: Any) -> None:
        await server.client().create(core_v1.Service, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]},
        })

    with ThreadedFakeApiServer(kubeconfig_path=tmp_path / "kubeconfig") as fake:
        fake.call(foreign_service)
        code, out, _ = plan(capsys, ECHO, "-f", str(ECHO_PARENT),
                            "--kubeconfig", str(fake.kubeconfig_path))
    assert code == 2
    assert "problem" in out and "v1/Service default/hello already exists" in out
    assert "create  v1/Service" not in out


def test_help_explains_the_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    out = capsys.readouterr().out
    assert "Exit codes: 0 the plan is empty" in out and "--observed" in out


def test_a_parent_the_filters_do_not_select_plans_nothing(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The decorator example: a Service without the annotation is left alone."""
    from kubeplan.cli import main

    root = Path(__file__).resolve().parents[2] / "examples" / "decorator"
    target = f"{root / 'decorator_operator.py'}:operator"
    sample = (root / "service.yaml").read_text()
    assert main(["plan", target, "-f", str(root / "service.yaml")]) == 2
    assert "create  networking.k8s.io/v1/NetworkPolicy default/isolate-web" in (
        capsys.readouterr().out)
    unselected = tmp_path / "service.yaml"
    unselected.write_text(sample.replace("network-policy: isolate", "network-policy: allow"))
    assert main(["plan", target, "-f", str(unselected)]) == 0
    assert "NetworkPolicy" not in capsys.readouterr().out
