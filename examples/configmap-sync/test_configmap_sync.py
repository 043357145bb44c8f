"""Tests of the configmap-sync example: related objects in plans and in the runtime."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from configmap_sync_operator import operator
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.core.manifests import rbac_rules
from kubeplan.core.request import SyncRequest
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.simulation import install_crd
from kubeplan.testkit.strategies import dns_labels

HERE = Path(__file__).parent
PARENT = yaml.safe_load((HERE / "configmapsync.yaml").read_text())
SOURCE = yaml.safe_load((HERE / "source.yaml").read_text())


def request_with(source: dict | None, parent: dict = PARENT) -> SyncRequest:
    request = request_from_dicts(parent, config=operator.config)
    related = [source] if source is not None else []
    return SyncRequest.build(request.parent, config=operator.config, related=related)


def test_the_source_is_copied_to_every_target_namespace() -> None:
    plan = plan_for(operator, request_with(SOURCE))
    expect_plan(plan).creates("ConfigMap team-a/settings", "ConfigMap team-b/settings")
    for action in plan.child_actions:
        assert action.obj["data"] == SOURCE["data"]
    expect_plan(plan).writes_status({"sourceFound": True,
                                     "copies": ["team-a/settings", "team-b/settings"]})


def test_a_changed_source_replaces_the_copies_and_never_touches_the_source() -> None:
    request = request_with(SOURCE)
    after = observe(request, plan_for(operator, request))
    changed = {**SOURCE, "data": {**SOURCE["data"], "log-level": "debug"}}
    plan = plan_for(operator, SyncRequest(after.parent, after.children,
                                          related=request_with(changed).related))
    expect_plan(plan).replaces("ConfigMap team-a/settings", fields=["data.log-level"])
    expect_plan(plan).replaces("ConfigMap team-b/settings").creates_nothing().deletes_nothing()
    assert all(a.ref.namespace != "default" for a in plan.child_actions)


def test_a_missing_source_keeps_the_copies() -> None:
    request = request_with(SOURCE)
    after = observe(request, plan_for(operator, request))
    plan = plan_for(operator, SyncRequest(after.parent, after.children))
    expect_plan(plan).touches_no_child().writes_status({"sourceFound": False})


def test_the_source_namespace_is_never_a_target() -> None:
    parent = {**PARENT, "spec": {**PARENT["spec"], "targetNamespaces": ["default", "team-a"]}}
    plan = plan_for(operator, request_with(SOURCE, parent))
    expect_plan(plan).creates("ConfigMap team-a/settings")


def test_the_selector_is_a_pure_function_of_the_parent() -> None:
    example = __import__(operator.handler.__module__)
    selector = example.source_of(PARENT)
    assert selector.names == ("settings",) and selector.namespace == "default"
    assert selector.matches(SOURCE)
    assert not selector.matches({**SOURCE, "metadata": {"name": "settings",
                                                        "namespace": "team-a"}})
    assert example.source_of({"spec": {}}) is None


def test_manifests_grant_read_access_to_the_related_type() -> None:
    rules = rbac_rules(operator.config, leader_election=False)
    configmaps = [r for r in rules if "configmaps" in r["resources"]]
    verbs = {v for r in configmaps for v in r["verbs"]}
    assert {"get", "list", "watch", "create", "patch", "delete"} <= verbs  # child + related


@settings(max_examples=40, deadline=None)
@given(
    st.lists(dns_labels(max_size=12), max_size=4),
    st.dictionaries(st.sampled_from(["a", "b", "c.d", "e_f"]), st.text(max_size=8), max_size=3),
)
def test_copies_match_the_source_in_every_other_target(targets, data) -> None:
    parent = {**PARENT, "spec": {**PARENT["spec"], "targetNamespaces": targets}}
    request = request_with({**SOURCE, "data": data}, parent)
    plan = plan_for(operator, request)
    expected = sorted(set(targets) - {"default"})
    assert sorted(a.ref.namespace for a in plan.child_actions) == expected
    assert all(a.obj["data"] == data for a in plan.child_actions)
    again = observe(request, plan)
    expect_plan(plan_for(operator, SyncRequest(again.parent, again.children,
                                               related=request.related))).does_nothing()


async def test_the_runtime_syncs_again_when_the_source_changes() -> None:
    """The real runtime against the fake API server: the source is watched as a related
    object, so editing it updates the copies without touching the ConfigMapSync."""
    async with FakeApiServer() as server:
        await install_crd(server, crd_of(operator))
        client = server.client()
        for namespace in ("team-a", "team-b"):
            await client.create(core_v1.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": namespace}})
        await client.create(core_v1.ConfigMap, SOURCE)
        await client.create(operator.config.parent, PARENT)
        running = Operator(operator.config, operator.handler, server.client(),
                           settings=RuntimeSettings(resync_period=None))
        task = asyncio.create_task(running.run())
        try:
            await running.settle(timeout=10)
            copy = await client.get(core_v1.ConfigMap, "settings", "team-b")
            assert copy["data"] == SOURCE["data"]

            await client.patch(core_v1.ConfigMap, "settings", {"data": {"region": "us-east-1"}},
                               namespace="default")
            await running.settle(timeout=10)
            for namespace in ("team-a", "team-b"):
                copy = await client.get(core_v1.ConfigMap, "settings", namespace)
                assert copy["data"]["region"] == "us-east-1"
            source = await client.get(core_v1.ConfigMap, "settings", "default")
            assert "ownerReferences" not in source["metadata"]  # never adopted or written

            # an unrelated ConfigMap does not wake the parent
            before = running.syncs
            await client.create(core_v1.ConfigMap, {"apiVersion": "v1", "kind": "ConfigMap",
                                                    "metadata": {"name": "other",
                                                                 "namespace": "default"}})
            await running.settle(timeout=10)
            assert running.syncs == before
        finally:
            await running.stop()
            await task


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


async def test_the_sample_runs_under_the_plugin_harness(operator_harness, fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    """The sample parent, reconciled by the real runtime through the pytest plugin's fixtures:
    it converges (Synced=True, children exist) and a further resync writes nothing."""
    harness = await operator_harness(operator)
    from kubeplan.core.k8s import core_v1

    client = fake_apiserver.client()
    source = yaml.safe_load((HERE / "source.yaml").read_text())
    await client.create(core_v1.ConfigMap, source, namespace="default")
    sample = yaml.safe_load((HERE / "configmapsync.yaml").read_text())
    for target in sample["spec"]["targetNamespaces"]:  # copies go to existing namespaces
        await client.create(core_v1.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": target}})
    sample = yaml.safe_load((HERE / "configmapsync.yaml").read_text())
    await harness.assert_converges(HERE / "configmapsync.yaml")
