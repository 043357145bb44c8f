"""The pytest plugin's fixtures, used directly (the plugin is loaded through ``pytest11``)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import yaml

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit import FakeApiServer, Trace

Note = K8sType("plugin.kubeplan.dev/v1", "Note", "notes")
CONFIG = OperatorConfig("notes", Note).with_child(core_v1.ConfigMap, ChildConfig.replace())


def sync(request: SyncRequest) -> SyncResponse:
    child = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": request.name, "namespace": request.namespace},
             "data": {"text": str(request.spec.get("text", ""))}}
    return SyncResponse(children=[child], status={"length": len(request.spec.get("text", ""))})


NOTES = OperatorDefinition(CONFIG, sync)


def test_the_plugin_is_registered(pytestconfig) -> None:  # type: ignore[no-untyped-def]
    assert pytestconfig.pluginmanager.has_plugin("kubeplan")


async def test_fake_apiserver_is_started(fake_apiserver: FakeApiServer) -> None:
    client = fake_apiserver.client()
    namespaces = await client.list(core_v1.Namespace)
    assert "default" in [n["metadata"]["name"] for n in namespaces["items"]]


async def test_fake_apiserver_http_serves_a_kubeconfig(fake_apiserver_http) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = Path(fake_apiserver_http.kubeconfig)
    server_url = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    assert server_url == fake_apiserver_http.url
    url = f"{server_url}/api/v1/namespaces/default"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert (await response.json())["metadata"]["name"] == "default"


async def test_operator_harness_starts_and_settles_an_operator(operator_harness) -> None:  # type: ignore[no-untyped-def]
    harness = await operator_harness(NOTES)
    await harness.apply_parent("n1", {"text": "hello"})
    await harness.settle()
    [child] = harness.children("n1")
    assert child["data"] == {"text": "hello"}
    assert harness.parent("n1")["status"]["length"] == 5
    await harness.apply_parent("n1", {"text": "bye"})  # exists: the spec is merged in
    await harness.settle()
    assert harness.children("n1")[0]["data"] == {"text": "bye"}
    assert await harness.resync_writes() == []
    assert "create  v1/ConfigMap default/n1: missing" in str(harness.trace())
    await harness.delete_parent("n1")
    await harness.settle()
    assert harness.parent("n1") is None


def test_kubeplan_scenario_runs_and_checks_a_yaml_scenario(kubeplan_scenario, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (
        "seed: 3\n"
        "steps:\n"
        "- {kind: create_parent, name: n1, spec: {text: hi}}\n"
        "- {kind: advance, seconds: 60}\n"
        "- {kind: delete_child, type_key: v1/ConfigMap, name: n1}\n"
    )
    trace = kubeplan_scenario(NOTES, text)
    assert isinstance(trace, Trace)
    saved = tmp_path / "saved.yaml"
    saved.write_text(text)
    assert str(kubeplan_scenario(NOTES, saved)) == str(trace)


def _failing_sync(request: SyncRequest) -> SyncResponse:
    raise RuntimeError("no notes today")


async def test_assert_converges_passes_a_good_operator_and_names_a_failing_one(
    operator_harness,  # type: ignore[no-untyped-def]
) -> None:
    import pytest

    good = await operator_harness(NOTES)
    stored = await good.assert_converges(
        {"apiVersion": Note.api_version, "kind": Note.kind,
         "metadata": {"name": "fine"}, "spec": {"text": "hi"}}
    )
    assert stored["status"]["length"] == 2
    await good.stop()
    failing = await operator_harness(OperatorDefinition(CONFIG, _failing_sync))
    with pytest.raises(AssertionError, match="did not converge"):
        await failing.assert_converges("broken")
