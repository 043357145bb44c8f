"""`kubeplan manifests A B`: several operators in one Deployment, each with its own RBAC
bound to one ServiceAccount; the output applies to the fake API server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeplan.cli import main
from kubeplan.commands._loading import load_definition
from kubeplan.core.k8s import builtin_type
from kubeplan.core.manifests import group_manifests_for

ROOT = Path(__file__).resolve().parents[2]
SECRET_SYNC = str(ROOT / "examples/multicontroller/secret_sync_operator.py") + ":operator"
SA_SYNC = str(ROOT / "examples/multicontroller/service_account_sync_operator.py") + ":operator"
NAME = "secret-sync-service-account-sync"


def _manifests(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main(["manifests", SECRET_SYNC, SA_SYNC, *argv]) == 0
    return [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]


def _verbs(role: dict[str, Any], resource: str) -> set[str]:
    return {v for rule in role["rules"] if resource in rule["resources"] for v in rule["verbs"]}


def test_two_operators_get_one_deployment_and_each_its_own_rbac(
        capsys: pytest.CaptureFixture[str]) -> None:
    docs = _manifests(capsys, "--replicas", "2")
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert ("CustomResourceDefinition", "secretsyncs.example.kubeplan.dev") in kinds
    assert ("CustomResourceDefinition", "serviceaccountsyncs.example.kubeplan.dev") in kinds
    assert [n for k, n in kinds if k == "ServiceAccount"] == [NAME]
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    assert sorted(roles) == [f"{NAME}-secret-sync", f"{NAME}-service-account-sync"]
    # each role holds its own operator's grants, not the other's
    assert "create" in _verbs(roles[f"{NAME}-secret-sync"], "secrets")
    assert _verbs(roles[f"{NAME}-secret-sync"], "serviceaccounts") == set()
    assert "create" in _verbs(roles[f"{NAME}-service-account-sync"], "serviceaccounts")
    assert _verbs(roles[f"{NAME}-service-account-sync"], "secrets") == set()
    for binding in (d for d in docs if d["kind"] == "ClusterRoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME,
                                        "namespace": "kubeplan-system"}]
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Role"] == [
        f"{NAME}-leader-election"]
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [SECRET_SYNC, SA_SYNC, "--health-port", "8080"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == NAME


def test_the_group_manifests_apply_to_the_fake_api_server(
        capsys: pytest.CaptureFixture[str]) -> None:
    from kubeplan.testkit.apiserver import FakeApiServer

    docs = _manifests(capsys, "--name", "teams")

    async def apply() -> None:
        async with FakeApiServer() as server:
            client = server.client()
            for doc in docs:
                type_ = builtin_type(doc["apiVersion"], doc["kind"])
                assert type_ is not None, doc["kind"]
                created = await client.create(type_, doc)
                assert created["metadata"]["uid"]

    asyncio.run(apply())
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"] == ["teams"]


def test_two_operators_of_one_name_are_refused() -> None:
    definition = load_definition(SECRET_SYNC)
    with pytest.raises(ValueError, match="two operators are named 'secret-sync'"):
        group_manifests_for([definition, definition], targets=[SECRET_SYNC, SECRET_SYNC])


def test_a_name_that_is_no_dns_label_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifests", SECRET_SYNC, SA_SYNC, "--name", "Not_A_Label"]) == 1
    assert "name 'Not_A_Label' is not a DNS label" in capsys.readouterr().err
