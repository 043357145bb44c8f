"""Deploy manifests: least-privilege RBAC from the declared types, and the Deployment."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplan.core import manifests
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.crd import crd_for
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.types import K8sType

Widget = K8sType("example.com/v1", "Widget", "widgets")
Tenant = K8sType("example.com/v1", "Tenant", "tenants", namespaced=False)

CONFIG = (
    OperatorConfig("widgets", Widget)
    .with_child(apps_v1.Deployment, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.recreate())
    .with_child(core_v1.ConfigMap, ChildConfig.on_delete())
)
TARGET = "widgets.main:operator"


def definition(config: OperatorConfig = CONFIG, **kwargs: Any) -> OperatorDefinition:
    return OperatorDefinition(config=config, handler=print, **kwargs)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def verbs_of(rules: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in out, "a resource appears in two rules"
                out[(group, resource)] = rule["verbs"]
    return out


# --------------------------------------------------------------------------------------
# RBAC


def test_rules_grant_exactly_the_verbs_kubeplan_uses() -> None:
    granted = verbs_of(manifests.rbac_rules(CONFIG, leader_election=False))
    child = ["get", "list", "watch", "create", "update", "patch", "delete"]
    assert granted == {
        ("example.com", "widgets"): ["get", "list", "watch", "update", "patch"],
        ("example.com", "widgets/status"): ["get", "update", "patch"],
        ("example.com", "widgets/finalizers"): ["update"],
        ("apps", "deployments"): child,
        ("", "services"): child,
        ("", "configmaps"): child,
        ("", "events"): ["create", "patch"],
    }


def test_children_may_block_their_parents_deletion() -> None:
    """Every child's ownerReference sets blockOwnerDeletion; with the
    OwnerReferencesPermissionEnforcement admission plugin (OpenShift has it on) creating
    such a child needs ``update`` on the parent's finalizers, and nothing more (found on
    a real kube-apiserver: every create was refused with 403)."""
    for config in (CONFIG, OperatorConfig("tenants", Tenant).with_child(core_v1.Namespace)):
        granted = verbs_of(manifests.rbac_rules(config, leader_election=False))
        parent = config.parent
        assert granted[(parent.group, f"{parent.plural}/finalizers")] == ["update"]


def test_leader_election_adds_leases() -> None:
    granted = verbs_of(manifests.rbac_rules(CONFIG))
    assert granted[("coordination.k8s.io", "leases")] == [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ]


def test_rules_are_grouped_and_sorted_for_stable_output() -> None:
    rules = manifests.rbac_rules(CONFIG)
    assert [r["apiGroups"][0] for r in rules] == sorted(r["apiGroups"][0] for r in rules)
    core_child = next(r for r in rules if "services" in r["resources"])
    assert core_child["resources"] == ["configmaps", "services"]  # one rule, sorted
    reordered = (
        OperatorConfig("widgets", Widget)
        .with_child(core_v1.ConfigMap)
        .with_child(core_v1.Service)
        .with_child(apps_v1.Deployment)
    )
    assert manifests.rbac_rules(reordered) == rules


def test_a_type_that_is_parent_and_child_gets_the_union_of_verbs() -> None:
    config = OperatorConfig("widgets", Widget).with_child(Widget)
    granted = verbs_of(manifests.rbac_rules(config, leader_election=False))
    assert granted[("example.com", "widgets")] == [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ]


# --------------------------------------------------------------------------------------
# manifests_for


def test_objects_come_in_apply_order() -> None:
    objects = manifests.manifests_for(definition(), target=TARGET)
    assert [o["kind"] for o in objects] == [
        "CustomResourceDefinition", "Namespace", "ServiceAccount",
        "ClusterRole", "ClusterRoleBinding", "Deployment",
    ]
    assert objects[0] == crd_for(Widget)
    assert objects[1]["metadata"]["name"] == "kubeplan-system"


def test_cluster_role_binds_the_service_account() -> None:
    objects = manifests.manifests_for(definition(), target=TARGET, namespace="ops")
    (role,) = by_kind(objects, "ClusterRole")
    (binding,) = by_kind(objects, "ClusterRoleBinding")
    (account,) = by_kind(objects, "ServiceAccount")
    assert role["rules"] == manifests.rbac_rules(CONFIG, leader_election=False)
    assert "namespace" not in role["metadata"]
    assert account["metadata"] == {**account["metadata"], "name": "widgets", "namespace": "ops"}
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "widgets",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "widgets", "namespace": "ops"}
    ]


def test_an_operator_restricted_to_namespaces_gets_roles_there() -> None:
    config = CONFIG.within_namespaces("team-b", "team-a")
    objects = manifests.manifests_for(definition(config), target=TARGET, namespace="team-a")
    assert not by_kind(objects, "ClusterRole")
    roles = by_kind(objects, "Role")
    assert [r["metadata"]["namespace"] for r in roles] == ["team-a", "team-b"]
    bindings = by_kind(objects, "RoleBinding")
    assert [b["metadata"]["namespace"] for b in bindings] == ["team-a", "team-b"]
    assert all(b["subjects"][0]["namespace"] == "team-a" for b in bindings)


def test_cluster_scoped_types_force_a_cluster_role() -> None:
    config = OperatorConfig("tenants", Tenant, namespaces={"x"}).with_child(core_v1.Namespace)
    objects = manifests.manifests_for(definition(config), target=TARGET)
    assert by_kind(objects, "ClusterRole") and not by_kind(objects, "Role")
    with pytest.raises(ValueError, match=r"cluster-scoped types .*only a ClusterRole"):
        manifests.manifests_for(definition(config), target=TARGET, cluster_scoped=False)
    with pytest.raises(ValueError, match="watches all namespaces"):
        manifests.manifests_for(definition(), target=TARGET, cluster_scoped=False)


def test_forcing_a_cluster_role_for_a_restricted_operator() -> None:
    config = CONFIG.within_namespaces("a")
    objects = manifests.manifests_for(definition(config), target=TARGET, cluster_scoped=True)
    assert by_kind(objects, "ClusterRole")


def test_several_replicas_turn_on_leader_election_with_a_lease_role() -> None:
    objects = manifests.manifests_for(definition(), target=TARGET, replicas=3)
    (lease_role,) = by_kind(objects, "Role")
    assert lease_role["metadata"]["namespace"] == "kubeplan-system"
    assert lease_role["rules"] == manifests.lease_rules()
    (cluster_role,) = by_kind(objects, "ClusterRole")
    assert not any("leases" in r["resources"] for r in cluster_role["rules"])
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "KUBEPLAN_LEADER_ELECTION", "value": "true"} in env


def test_one_replica_without_leader_election_never_overlaps() -> None:
    objects = manifests.manifests_for(definition(), target=TARGET)
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not by_kind(objects, "Role")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "KUBEPLAN_LEADER_ELECTION", "value": "false"} in env


def test_the_deployment_runs_the_target_safely_with_probes() -> None:
    objects = manifests.manifests_for(definition(), target=TARGET, image="reg/w:1")
    (deployment,) = by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert pod["serviceAccountName"] == "widgets"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == manifests.RUN_AS_USER
    (container,) = pod["containers"]
    assert container["image"] == "reg/w:1"
    assert container["command"] == ["kubeplan", "run"]
    assert container["args"] == [TARGET, "--health-port", "8080"]
    assert container["ports"] == [{"name": "health", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_the_namespace_can_be_left_out() -> None:
    objects = manifests.manifests_for(definition(), target=TARGET, include_namespace=False)
    assert not by_kind(objects, "Namespace")


def test_the_explicit_crd_is_used() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}
    objects = manifests.manifests_for(definition(crd=crd), target=TARGET)
    assert objects[0] is crd


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicas": 0}, "replicas must be at least 1"),
        ({"replicas": 2, "leader_election": False}, "without leader election"),
        ({"namespace": "Not_Valid"}, "is not a DNS label"),
        ({"target": "no-colon"}, "MODULE:ATTR"),
    ],
)
def test_bad_inputs_are_explained(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"target": TARGET, **kwargs}
    with pytest.raises(ValueError, match=message):
        manifests.manifests_for(definition(), **kwargs)


def test_output_is_deterministic() -> None:
    assert manifests.manifests_for(definition(), target=TARGET, replicas=2) == (
        manifests.manifests_for(definition(), target=TARGET, replicas=2)
    )
