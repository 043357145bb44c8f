"""The 'admitted' invariant: nothing the operator's validators deny is stored, and the
operator never writes what its own validators deny; both can fail."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplan.core.admission import AdmissionRequest, Allowed, Denied, Validator
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit.invariants import NotAdmitted, assert_admitted
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import CreateParent, Scenario, Settle

Vault = K8sType("example.kubeplan.dev/v1", "Vault", "vaults")
CONFIG = OperatorConfig("vault", Vault).with_child(core_v1.ConfigMap, ChildConfig.replace())


def sync(request: SyncRequest) -> SyncResponse:
    data: dict[str, Any] = dict(request.spec.get("data") or {})
    return SyncResponse(children=[{
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": request.name, "namespace": request.namespace},
        "data": data}])


def no_passwords(request: AdmissionRequest) -> Allowed | Denied:
    data = (request.object or {}).get("data") or {}
    return Denied("no passwords in configmaps") if "password" in data else Allowed()


def small_vaults(request: AdmissionRequest) -> Allowed | Denied:
    data = request.spec.get("data") or {}
    return Denied("at most one key") if len(data) > 1 else Allowed()


def test_an_operator_writing_a_child_its_own_validator_denies_is_caught() -> None:
    definition = OperatorDefinition(CONFIG, sync, validators=[
        Validator(no_passwords, for_type=core_v1.ConfigMap)])
    trace = run_scenario(definition, Scenario([
        CreateParent(name="v", spec={"data": {"password": "x"}}), Settle()]))
    with pytest.raises(NotAdmitted, match=r"own write for default/v was denied: .*"
                                          r"no passwords in configmaps"):
        assert_admitted(trace, definition)


def test_a_stored_object_its_validators_deny_is_caught() -> None:
    without = OperatorDefinition(CONFIG, sync)
    trace = run_scenario(without, Scenario([
        CreateParent(name="v", spec={"data": {"a": "1", "b": "2"}}), Settle()]))
    assert_admitted(trace, without)  # nothing to check without validators
    strict = OperatorDefinition(CONFIG, sync, validators=[small_vaults])
    with pytest.raises(NotAdmitted, match=r"Vault default/v is stored, but its validators "
                                          r"deny it: .*at most one key"):
        assert_admitted(trace, strict)


def test_with_its_validators_registered_the_denied_parent_is_never_stored() -> None:
    strict = OperatorDefinition(CONFIG, sync, validators=[small_vaults])
    trace = run_scenario(strict, Scenario([
        CreateParent(name="v", spec={"data": {"a": "1", "b": "2"}}),
        CreateParent(name="w", spec={"data": {"a": "1"}}), Settle()]))
    assert trace.steps[0].outcome.startswith("rejected: 403")
    assert trace.final is not None
    assert [p["metadata"]["name"] for p in trace.final.parents] == ["w"]
    assert_admitted(trace, strict)
