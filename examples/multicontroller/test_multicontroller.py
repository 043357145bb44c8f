"""Tests of the multicontroller example: each operator's sync alone, each in a scenario in
virtual time, each under check_operator, and both side by side in one OperatorGroup."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import yaml
from hypothesis import settings
from hypothesis import strategies as st
from secret_sync_operator import operator as secret_sync
from service_account_sync_operator import operator as service_account_sync
from teams import TEAM_LABEL

from kubeplan.adapters.group import OperatorGroup
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.core.plan import Delete
from kubeplan.core.request import SyncRequest
from kubeplan.testkit import CreateForeign, CreateParent, PatchParent, Scenario, run_scenario
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.invariants import assert_invariants
from kubeplan.testkit.simulation import install_crd
from kubeplan.testkit.strategies import dns_labels, parents

HERE = Path(__file__).parent
TEAM = list(yaml.safe_load_all((HERE / "team.yaml").read_text()))
NAMESPACES = [d for d in TEAM if d["kind"] == "Namespace"]
[SOURCE] = [d for d in TEAM if d["kind"] == "Secret"]
SECRET_SYNC = yaml.safe_load((HERE / "secretsync.yaml").read_text())
SA_SYNC = yaml.safe_load((HERE / "serviceaccountsync.yaml").read_text())


def namespace(name: str, team: str | None = "blue", phase: str | None = None) -> dict[str, Any]:
    ns: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": name,
                                       "labels": {TEAM_LABEL: team} if team else {}}}
    if phase:
        ns["status"] = {"phase": phase}
    return ns


def request(definition: Any, parent: dict[str, Any], related: list[dict[str, Any]],
            children: list[dict[str, Any]] = ()) -> SyncRequest:  # type: ignore[assignment]
    base = request_from_dicts(parent, children, config=definition.config)
    return SyncRequest.build(base.parent, list(children), config=definition.config,
                             related=related)


# -- 1. sync alone --------------------------------------------------------------------------


def test_the_source_secret_is_copied_into_every_namespace_of_the_team() -> None:
    plan = plan_for(secret_sync, request(secret_sync, SECRET_SYNC, [SOURCE, *NAMESPACES]))
    expect_plan(plan).creates("Secret blue-dev/registry-credentials",
                              "Secret blue-prod/registry-credentials")
    for action in plan.child_actions:
        assert action.obj["data"] == SOURCE["data"] and action.obj["type"] == "Opaque"
    expect_plan(plan).writes_status({"sourceFound": True, "copies": [
        "blue-dev/registry-credentials", "blue-prod/registry-credentials"]})


def test_a_terminating_namespace_and_the_source_s_own_get_no_copy() -> None:
    related = [SOURCE, namespace("blue-dev"), namespace("blue-old", phase="Terminating"),
               namespace("default")]
    plan = plan_for(secret_sync, request(secret_sync, SECRET_SYNC, related))
    expect_plan(plan).creates("Secret blue-dev/registry-credentials")


def test_without_its_source_the_copies_are_kept_as_they_are() -> None:
    first = request(secret_sync, SECRET_SYNC, [SOURCE, *NAMESPACES])
    done = observe(first, plan_for(secret_sync, first))
    copies = [obj for _type, obj in done.children.all()]
    gone = request(secret_sync, done.parent, list(NAMESPACES), copies)
    plan = plan_for(secret_sync, gone)
    assert not [a for a in plan.child_actions if isinstance(a, Delete)]
    expect_plan(plan).writes_status({"sourceFound": False, "copies": [
        "blue-dev/registry-credentials", "blue-prod/registry-credentials"]})


def test_each_namespace_of_the_team_gets_the_service_account() -> None:
    plan = plan_for(service_account_sync,
                    request(service_account_sync, SA_SYNC, [*NAMESPACES, namespace("red", "red")]))
    expect_plan(plan).creates("ServiceAccount blue-dev/deployer",
                              "ServiceAccount blue-prod/deployer")
    for action in plan.child_actions:
        assert action.obj["imagePullSecrets"] == [{"name": "registry-credentials"}]
    expect_plan(plan).writes_status({"namespaces": ["blue-dev", "blue-prod"]})


def test_a_namespace_leaving_the_team_loses_its_service_account() -> None:
    first = request(service_account_sync, SA_SYNC, NAMESPACES)
    done = observe(first, plan_for(service_account_sync, first))
    accounts = [obj for _type, obj in done.children.all()]
    left = request(service_account_sync, done.parent, [NAMESPACES[0]], accounts)
    expect_plan(plan_for(service_account_sync, left)).deletes("ServiceAccount blue-prod/deployer")


def test_both_converge_in_one_plan() -> None:
    for definition, parent, related in ((secret_sync, SECRET_SYNC, [SOURCE, *NAMESPACES]),
                                        (service_account_sync, SA_SYNC, NAMESPACES)):
        first = request(definition, parent, related)
        again = observe(first, plan_for(definition, first))
        again = SyncRequest(again.parent, again.children, related=first.related)
        expect_plan(plan_for(definition, again)).does_nothing()


def test_the_crds_are_the_operators() -> None:
    for definition, file in ((secret_sync, "crd-secret-sync.yaml"),
                             (service_account_sync, "crd-service-account-sync.yaml")):
        assert yaml.safe_load((HERE / file).read_text()) == crd_of(definition)


# -- 2. a scenario in virtual time ----------------------------------------------------------


def test_a_namespace_joining_the_team_gets_its_service_account_in_a_scenario() -> None:
    scenario = Scenario(seed=3, steps=[
        CreateForeign(namespace("blue-dev")),
        CreateParent("deployer", {"name": "deployer", "team": "blue",
                                  "imagePullSecrets": ["registry-credentials"]}),
        CreateForeign(namespace("blue-prod")),
        CreateForeign(namespace("red-dev", "red")),
        PatchParent("deployer", {"spec": {"imagePullSecrets": []}}),
    ])
    trace = run_scenario(service_account_sync, scenario)
    accounts = sorted((a["metadata"]["namespace"], a.get("imagePullSecrets"))
                      for a in trace.final.objects[core_v1.ServiceAccount]
                      if a["metadata"]["name"] == "deployer")
    assert accounts == [("blue-dev", None), ("blue-prod", None)]
    assert_invariants(trace, service_account_sync)  # converged on the related namespaces


def test_the_source_is_copied_and_an_unrelated_secret_ignored_in_a_scenario() -> None:
    scenario = Scenario(seed=5, steps=[
        CreateForeign(namespace("blue-dev")),
        CreateForeign(SOURCE),
        CreateParent("registry", {"source": {"name": "registry-credentials",
                                             "namespace": "default"}, "team": "blue"}),
        CreateForeign({**SOURCE, "metadata": {"name": "unrelated", "namespace": "default"}}),
    ])
    trace = run_scenario(secret_sync, scenario)
    [copy] = [s for s in trace.final.objects[core_v1.Secret]
              if s["metadata"]["namespace"] == "blue-dev"]
    assert copy["data"] == SOURCE["data"]
    assert_invariants(trace, secret_sync)


# -- 3. property tests ----------------------------------------------------------------------

teams = st.sampled_from(["blue", "red"])


def test_secret_sync_keeps_its_invariants() -> None:
    check_operator(
        secret_sync,
        parents=parents(secret_sync.config.parent, secret_sync.spec_class, overrides={
                            "SecretSyncSpec.team": teams,
                            "SecretSource.name": st.just("registry-credentials"),
                            "SecretSource.namespace": st.sampled_from(["default", "blue-dev"]),
                        }),
        settings=settings(max_examples=10, deadline=None, database=None),
    )


def test_service_account_sync_keeps_its_invariants() -> None:
    check_operator(
        service_account_sync,
        parents=parents(service_account_sync.config.parent, service_account_sync.spec_class,
                        overrides={"ServiceAccountSyncSpec.team": teams,
                                   "ServiceAccountSyncSpec.name": dns_labels(max_size=12),
                                   "ServiceAccountSyncSpec.image_pull_secrets":
                                       st.lists(dns_labels(max_size=12), max_size=2)}),
        settings=settings(max_examples=10, deadline=None, database=None),
    )


# -- both in one process --------------------------------------------------------------------


async def test_both_operators_run_in_one_group_on_one_namespace_watch() -> None:
    """The two operators in one OperatorGroup against the fake: both converge, a new
    namespace of the team reaches both through the one Namespace cache they share, and an
    edited source reaches every copy."""
    async with FakeApiServer() as server:
        for definition in (secret_sync, service_account_sync):
            await install_crd(server, crd_of(definition))
        client = server.client()
        for obj in TEAM:
            await client.create(core_v1.Namespace if obj["kind"] == "Namespace"
                                else core_v1.Secret, obj)
        await client.create(secret_sync.config.parent, SECRET_SYNC)
        await client.create(service_account_sync.config.parent, SA_SYNC)
        group = OperatorGroup(server.client(), settings=RuntimeSettings(resync_period=None))
        secrets = group.add_definition(secret_sync)
        accounts = group.add_definition(service_account_sync)
        assert secrets.related_caches[core_v1.Namespace][0] is \
            accounts.related_caches[core_v1.Namespace][0]
        task = asyncio.create_task(group.run())
        try:
            async def settle() -> None:
                for op in group.operators:
                    await op.settle(timeout=10)
                for op in group.operators:  # one's writes may have woken the other
                    await op.settle(timeout=10)

            await settle()
            for ns in ("blue-dev", "blue-prod"):
                assert (await client.get(core_v1.Secret, "registry-credentials", ns))[
                    "data"] == SOURCE["data"]
                assert (await client.get(core_v1.ServiceAccount, "deployer", ns))[
                    "imagePullSecrets"] == [{"name": "registry-credentials"}]

            await client.create(core_v1.Namespace, namespace("blue-test"))
            await settle()
            await client.get(core_v1.Secret, "registry-credentials", "blue-test")
            await client.get(core_v1.ServiceAccount, "deployer", "blue-test")

            rotated = base64.b64encode(b"rotated").decode()
            await client.patch(core_v1.Secret, "registry-credentials",
                               {"data": {"token": rotated}}, namespace="default")
            await settle()
            for ns in ("blue-dev", "blue-prod", "blue-test"):
                copy = await client.get(core_v1.Secret, "registry-credentials", ns)
                assert copy["data"] == {"token": rotated}
            namespace_lists = [r for r in server.requests
                               if r.resource == "namespaces" and r.verb == "list"]
            assert len(namespace_lists) == 1, namespace_lists
        finally:
            await group.stop()
            await task
