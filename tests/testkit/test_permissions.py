"""Testing under real permissions: the member example run as the ServiceAccount
``kubeplan manifests`` generates, bound by the RBAC it generates, on the fake.

With the generated rules unchanged it converges; with one verb taken away (``create`` on
configmaps) the parent's ``Synced`` condition carries the 403 naming the verb and the
resource, as the operator would meet it in a cluster. tests/real/test_e2e_rbac.py runs the
same pair on the real kube-apiserver (and on the fake, over HTTP).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.permissions import (
    generated_permissions,
    generated_service_account,
    without_verb,
)
from kubeplan.testkit.simulation import OPERATOR_USER

MEMBER = Path(__file__).resolve().parents[2] / "examples" / "member"
sys.path.insert(0, str(MEMBER))
from member_operator import operator  # noqa: E402

ADA = yaml.safe_load((MEMBER / "member.yaml").read_text())


def _synced(parent: dict[str, Any] | None) -> dict[str, Any]:
    assert parent is not None
    conditions = (parent.get("status") or {}).get("conditions") or ()
    return next(c for c in conditions if c["type"] == "Synced")


async def test_the_member_operator_converges_under_its_generated_rbac(
        fake_apiserver: FakeApiServer, operator_harness: Any) -> None:
    access = await generated_service_account(fake_apiserver, operator, namespace="ops")
    assert access.user.name == "system:serviceaccount:ops:member"
    harness = await operator_harness(operator, identity=access.user)
    await harness.assert_converges(ADA)
    operator_requests = [r for r in fake_apiserver.requests if r.user == OPERATOR_USER]
    assert operator_requests and all(r.status != 403 for r in operator_requests)


async def test_without_create_on_configmaps_the_operator_reports_the_403(
        fake_apiserver: FakeApiServer, operator_harness: Any) -> None:
    access = await generated_service_account(
        fake_apiserver, operator, namespace="ops", edit=without_verb("create", "configmaps"))
    role = next(o for o in access.objects if o["kind"] == "ClusterRole")
    configmaps = [r for r in role["rules"] if "configmaps" in r["resources"]]
    assert configmaps and all("create" not in r["verbs"] and "get" in r["verbs"]
                              for r in configmaps)
    harness = await operator_harness(operator, identity=access.user)
    await harness.apply_parent(ADA)
    await harness.settle()
    synced = _synced(harness.parent("ada", namespace="default"))
    assert synced["status"] == "False"
    assert synced["message"] == (
        "create of ConfigMap default/member-ada failed: 403 Forbidden: configmaps is "
        'forbidden: User "system:serviceaccount:ops:member" cannot create resource '
        '"configmaps" in API group "" in the namespace "default"')
    assert harness.children("ada", namespace="default") == []


def test_without_verb_refuses_to_take_away_what_was_never_granted() -> None:
    objects = generated_permissions(operator, namespace="ops")
    with pytest.raises(ValueError, match="no generated role grants 'delete' on 'secrets'"):
        without_verb("delete", "secrets")(objects)
    edited = without_verb("update", "members", "example.kubeplan.dev")(objects)
    kinds = [o["kind"] for o in edited]
    assert "Deployment" not in kinds and "ServiceAccount" in kinds
    role = next(o for o in edited if o["kind"] == "ClusterRole")
    members = next(r for r in role["rules"] if r["resources"] == ["members"])
    assert "update" not in members["verbs"] and "patch" in members["verbs"]
    assert objects != edited  # the generated objects themselves are left as they were


async def test_the_plugin_fixture_gives_the_same_account(
        operator_service_account: Any, fake_apiserver: FakeApiServer) -> None:
    access = await operator_service_account(operator, namespace="team")
    assert access.user.name == "system:serviceaccount:team:member"
    assert fake_apiserver.authenticate(access.token) == access.user
    assert [o["kind"] for o in access.objects] == [
        "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    listed = await access.client().list(operator.config.parent, "default")
    assert listed["items"] == []
