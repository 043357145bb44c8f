"""`kubeplan plan MODULE:ATTR --all`: a new version of an operator previewed over every live
parent of a fake the current version has converged, read-only; exit 0 / 2 / 1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplan.cli import main
from kubeplan.commands._loading import load_definition
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.http import ThreadedFakeApiServer, write_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
ECHO_FILE = ROOT / "examples/echo-server/echo_server_operator.py"
ECHO = f"{ECHO_FILE}:operator"
ECHO_TYPE = "example.kubeplan.dev/v1/EchoServer"

#: three parents in two namespaces: hello (2 Pods), bonjour (1) in default, hola (1) in team-a
PARENTS = [
    ("default", "hello", {"greeting": "Hello", "replicas": 2}),
    ("default", "bonjour", {"greeting": "Bonjour", "replicas": 1}),
    ("team-a", "hola", {"greeting": "Hola", "replicas": 1}),
]


def echo_server(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "example.kubeplan.dev/v1", "kind": "EchoServer",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def new_version(tmp_path: Path, name: str, *, edits: dict[str, str] | None = None,
                append: str = "") -> str:
    """A copy of the echo-server operator, edited as its author would edit it."""
    text = ECHO_FILE.read_text()
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.py"
    path.write_text(text + append)
    return f"{path}:operator"


NEW_IMAGE = {'IMAGE = "hashicorp/http-echo:1.0"': 'IMAGE = "hashicorp/http-echo:1.1"'}
NEW_PORT = {'"port": 80, "targetPort"': '"port": 8080, "targetPort"'}


async def _converge(server: Any) -> None:
    """The current echo-server operator runs against the fake until it is quiet."""
    from kubeplan.adapters.runtime import Operator
    from kubeplan.adapters.settings import RuntimeSettings
    from kubeplan.core.crd import crd_of
    from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition

    definition = load_definition(ECHO)
    client = server.client()
    await client.create(CustomResourceDefinition, crd_of(definition))
    await client.create(core_v1.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "team-a"}})
    await server.settle()
    for namespace, name, spec in PARENTS:
        await client.create(definition.config.parent, echo_server(namespace, name, spec))
    operator = Operator(definition.config, definition.handler, server.client(),
                        settings=RuntimeSettings(resync_period=None))
    task = asyncio.create_task(operator.run())
    await operator.settle(timeout=10)
    await operator.stop()
    await task


class Cluster:
    """The converged fake, and a check that nothing but reads reached it."""

    def __init__(self, fake: ThreadedFakeApiServer) -> None:
        self.fake = fake
        self.kubeconfig = str(fake.kubeconfig_path)

    def mark(self) -> tuple[int, str]:
        return self.fake.call(lambda s: (len(s.requests), s.resource_version))

    def only_read_since(self, mark: tuple[int, str]) -> set[str]:
        """The methods of the requests since ``mark`` (asserting the store is unchanged)."""
        count, version = mark
        methods, now = self.fake.call(
            lambda s: ({r.method for r in s.requests[count:]}, s.resource_version))
        assert now == version, "something was written"
        return methods


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("plan-all")
    with ThreadedFakeApiServer(kubeconfig_path=folder / "kubeconfig") as fake:
        fake.call(_converge, timeout=60)
        yield Cluster(fake)


def plan_all(capsys: pytest.CaptureFixture[str], target: str, cluster: Cluster,
             *args: str) -> tuple[int, str, str]:
    code = main(["plan", target, "--all", "--kubeconfig", cluster.kubeconfig, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_converged_cluster_previews_nothing_to_do(capsys, cluster) -> None:
    mark = cluster.mark()
    code, out, err = plan_all(capsys, ECHO, cluster)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[:2] == ["operator 'echo-server', EchoServer parents in every namespace",
                         "3 parents: 0 would change, 3 up to date, 0 failed; 0 actions"]
    assert lines[3:] == [f"{ECHO_TYPE} default/bonjour: up to date",
                         f"{ECHO_TYPE} default/hello: up to date",
                         f"{ECHO_TYPE} team-a/hola: up to date"]
    assert cluster.only_read_since(mark) == {"GET"}


def test_a_new_version_shows_counts_and_each_action_by_parent(capsys, cluster, tmp_path) -> None:
    target = new_version(tmp_path, "echo_v2", edits={**NEW_IMAGE, **NEW_PORT})
    mark = cluster.mark()
    code, out, err = plan_all(capsys, target, cluster)
    assert code == 2, out + err
    assert err == ""
    head, *blocks = out.split("\n\n")
    assert head.splitlines()[1:] == [
        "3 parents: 3 would change, 0 up to date, 0 failed; 7 actions",
        "  replace   v1/Service  3",
        "  recreate  v1/Pod      4",
    ]
    image = ('spec.containers[name=echo].image "hashicorp/http-echo:1.0" -> '
             '"hashicorp/http-echo:1.1"')
    assert blocks[1].splitlines() == [
        f"{ECHO_TYPE} default/hello: 3 actions",
        f"  recreate v1/Pod default/hello-0: {image}",
        f"  recreate v1/Pod default/hello-1: {image}",
        "  replace v1/Service default/hello: spec.ports[name=http].port 80 -> 8080",
    ]
    assert [b.splitlines()[0] for b in blocks] == [
        f"{ECHO_TYPE} default/bonjour: 2 actions", f"{ECHO_TYPE} default/hello: 3 actions",
        f"{ECHO_TYPE} team-a/hola: 2 actions"]
    assert cluster.only_read_since(mark) == {"GET"}  # previewed, not carried out


def test_json_output_for_ci_gates(capsys, cluster, tmp_path) -> None:
    target = new_version(tmp_path, "echo_v3", edits=NEW_PORT)
    code, out, _ = plan_all(capsys, target, cluster, "-o", "json")
    assert code == 2
    data = json.loads(out)
    assert data["schema"] == "kubeplan.dev/plan-summary/v1"
    assert data["operator"] == "echo-server" and data["namespaces"] is None
    assert data["totals"] == {"parents": 3, "changed": 3, "up_to_date": 0, "failed": 0,
                              "actions": 3, "problems": 0}
    assert data["counts"] == [{"action": "replace", "type": "v1/Service", "count": 3}]
    entry = data["parents"][1]
    assert (entry["parent"]["name"], entry["outcome"]) == ("hello", "changed")
    (action,) = entry["plan"]["actions"]
    assert action["action"] == "replace" and action["ref"]["name"] == "hello"
    assert action["obj"]["spec"]["ports"][0]["port"] == 8080

    code, out, _ = plan_all(capsys, ECHO, cluster, "-o", "json")
    assert code == 0 and json.loads(out)["totals"]["up_to_date"] == 3


def test_a_handler_failing_for_one_parent_fails_the_preview(capsys, cluster, tmp_path) -> None:
    target = new_version(tmp_path, "echo_broken", edits=NEW_IMAGE, append='''

_sync = sync


def sync(request):
    if request.name == "bonjour":
        raise KeyError("greeting")
    return _sync(request)


operator = attrs.evolve(operator, handler=sync)
''')
    mark = cluster.mark()
    code, out, err = plan_all(capsys, target, cluster)
    assert code == 1, out + err
    assert err == "kubeplan plan: the handler failed for 1 of 3 parents: default/bonjour\n"
    assert "3 parents: 2 would change, 0 up to date, 1 failed; 4 actions" in out
    first = out.split("\n\n")[1].splitlines()
    assert first[0] == f"{ECHO_TYPE} default/bonjour: FAILED"
    assert first[1].startswith("  error   ") and "KeyError" in first[1]
    assert "recreate v1/Pod default/bonjour-0" not in out  # failure never plans children
    assert "recreate v1/Pod team-a/hola-0" in out  # the others are still planned
    assert cluster.only_read_since(mark) == {"GET"}

    code, out, _ = plan_all(capsys, target, cluster, "-o", "json")
    assert code == 1 and json.loads(out)["totals"]["failed"] == 1


def test_namespaces_default_to_those_the_operator_watches(capsys, cluster, tmp_path) -> None:
    code, out, _ = plan_all(capsys, ECHO, cluster, "-n", "team-a")
    assert code == 0
    assert out.splitlines()[:2] == [
        "operator 'echo-server', EchoServer parents in namespace team-a",
        "1 parent: 0 would change, 1 up to date, 0 failed; 0 actions"]

    restricted = new_version(tmp_path, "echo_default_only", edits=NEW_PORT, append='''
operator = attrs.evolve(operator, config=config.within_namespaces("default"))
''')
    code, out, _ = plan_all(capsys, restricted, cluster, "-o", "json")
    data = json.loads(out)
    assert code == 2 and data["namespaces"] == ["default"]
    assert [e["parent"]["name"] for e in data["parents"]] == ["bonjour", "hello"]

    code, out, err = plan_all(capsys, restricted, cluster, "-n", "team-a")
    assert code == 1 and out == ""
    assert err == ("kubeplan plan: operator 'echo-server' does not watch namespace 'team-a' "
                   "(it watches: default); its parents there are never synced\n")


def test_a_name_held_by_someone_else_is_a_problem_not_a_create(capsys, tmp_path) -> None:
    async def setup(server: Any) -> None:
        from kubeplan.core.crd import crd_of
        from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition

        definition = load_definition(ECHO)
        client = server.client()
        await client.create(CustomResourceDefinition, crd_of(definition))
        await server.settle()
        await client.create(definition.config.parent,
                            echo_server("default", "lonely", {"greeting": "Hi"}))
        await client.create(core_v1.Service, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "lonely", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]}})

    with ThreadedFakeApiServer(kubeconfig_path=tmp_path / "kubeconfig") as fake:
        fake.call(setup)
        code, out, _ = plan_all(capsys, ECHO, Cluster(fake))
    assert code == 2
    assert "  create  v1/Pod default/lonely-0: missing" in out
    assert "  problem " in out and "v1/Service default/lonely already exists" in out
    assert "create  v1/Service" not in out


def test_usage_mistakes_are_explained(capsys, tmp_path) -> None:
    code = main(["plan", ECHO, "-f", "x.yaml", "-n", "team-a"])
    assert code == 1
    assert "-n/--namespace goes with --all" in capsys.readouterr().err
    code = main(["plan", ECHO, "--all", "--observed", str(tmp_path)])
    assert code == 1 and "--observed is for one parent" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["plan", ECHO, "--all", "-f", "x.yaml"])
    assert caught.value.code == 2
    assert "not allowed with argument --all" in capsys.readouterr().err

    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, "http://127.0.0.1:9")  # discard port: nothing listens
    code = main(["plan", ECHO, "--all", "--kubeconfig", str(kubeconfig)])
    assert code == 1
    assert "cannot reach the cluster at http://127.0.0.1:9" in capsys.readouterr().err


def test_help_says_what_the_empty_memo_implies_and_the_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--all" in out and "The apply memo is empty" in out
    assert "1 also when the handler failed for any parent" in out
    assert "kubeplan.dev/plan-summary/v1" in out



def test_both_plan_modes_read_clusters_through_a_client_that_cannot_write(cluster) -> None:
    import argparse

    from kubeplan.adapters.readonly import WriteRefused
    from kubeplan.commands._planning import connect_readonly

    async def try_to_write() -> str:
        args = argparse.Namespace(kubeconfig=cluster.kubeconfig, context=None)
        client, host = await connect_readonly(args)
        assert host == cluster.fake.url
        try:
            await client.get(core_v1.Namespace, "team-a")  # reads work
            with pytest.raises(WriteRefused) as caught:
                await client.delete(core_v1.Namespace, "team-a")
            return str(caught.value)
        finally:
            await client.close()

    mark = cluster.mark()
    message = asyncio.run(try_to_write())
    assert message.startswith("kubeplan plan is read-only: refused to delete v1/Namespace team-a")
    assert cluster.only_read_since(mark) == {"GET"}
