"""RBAC in the fake: the rule matching, request attributes, the authorizer over stored
objects, its 403s, and the access reviews answered by the same rules.

The expected wording is the real server's (``responsewriters.forbiddenMessage`` and
``apierrors.NewForbidden``; the reasons of the RBAC authorizer); tests/real's
``test_e2e_rbac.py`` checks the same bodies against the real kube-apiserver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.authn import (
    ADMIN,
    InvalidToken,
    UserInfo,
    service_account_user,
    sign_claims,
)
from kubeplan.testkit.apiserver.clock import VirtualClock
from kubeplan.testkit.apiserver.rbac import request_attributes, rule_allows
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse
from kubeplan.testkit.apiserver.reviews import review_attributes

BOT = service_account_user("ops", "bot")
RBAC = "/apis/rbac.authorization.k8s.io/v1"


#: (rule, request as a SelfSubjectAccessReview's spec, verdict); the same table is asked of
#: either server through access reviews in tests/real/test_e2e_rbac.py
RULE_CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "rbac_rule_cases.yaml").read_text())


def _case_id(case: dict[str, Any]) -> str:
    request = next(iter(case["request"].values()))
    target = request.get("path") or "/".join(
        p for p in (request.get("resource"), request.get("subresource")) if p)
    return f"{request['verb']}-{target}-{'allowed' if case['allowed'] else 'denied'}"


@pytest.mark.parametrize("case", RULE_CASES, ids=_case_id)
def test_rule_matching(case: dict[str, Any]) -> None:
    spec = case["request"]
    attributes = review_attributes(BOT, spec.get("resourceAttributes"),
                                   spec.get("nonResourceAttributes"))
    assert rule_allows(case["rule"], attributes) is case["allowed"]


def test_the_rule_table_covers_each_kind_of_match() -> None:
    rules = [c["rule"] for c in RULE_CASES]
    assert any("*/log" in r.get("resources", ()) for r in rules)
    assert any(r.get("resourceNames") for r in rules)
    assert any(u.endswith("*") and u != "*" for r in rules for u in r.get("nonResourceURLs", ()))
    assert {c["allowed"] for c in RULE_CASES} == {True, False}


ATTRIBUTE_CASES: list[tuple[str, str, dict[str, str], tuple[Any, ...]]] = [
    # method, path, query -> (resource request, verb, group, namespace, resource, sub, name)
    ("GET", "/api/v1/namespaces/ns/pods", {}, (True, "list", "", "ns", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "1"},
     (True, "watch", "", "ns", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "false"},
     (True, "list", "", "ns", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "FALSE"},
     (True, "list", "", "ns", "pods", "", "")),
    # the query decoder reads any other value as true
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "yes"},
     (True, "watch", "", "ns", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns/pods", {}, (True, "watch", "", "ns", "pods", "", "")),
    ("GET", "/api/v1/pods", {}, (True, "list", "", "", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods/p", {}, (True, "get", "", "ns", "pods", "", "p")),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, (True, "get", "", "ns", "pods", "log", "p")),
    ("POST", "/api/v1/namespaces/ns/pods", {}, (True, "create", "", "ns", "pods", "", "")),
    ("PUT", "/apis/apps/v1/namespaces/ns/deployments/d/status", {},
     (True, "update", "apps", "ns", "deployments", "status", "d")),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", {},
     (True, "patch", "apps", "ns", "deployments", "", "d")),
    ("DELETE", "/api/v1/namespaces/ns/pods/p", {}, (True, "delete", "", "ns", "pods", "", "p")),
    ("DELETE", "/api/v1/namespaces/ns/pods", {},
     (True, "deletecollection", "", "ns", "pods", "", "")),
    # a namespace is in itself; its status and finalize are subresources
    ("GET", "/api/v1/namespaces/team", {}, (True, "get", "", "team", "namespaces", "", "team")),
    ("PUT", "/api/v1/namespaces/team/finalize", {},
     (True, "update", "", "team", "namespaces", "finalize", "team")),
    ("GET", "/api/v1/namespaces", {}, (True, "list", "", "", "namespaces", "", "")),
    ("POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token", {},
     (True, "create", "", "ns", "serviceaccounts", "token", "sa")),
    # a list or watch of one name is authorised on that name
    ("GET", "/api/v1/namespaces/ns/configmaps", {"fieldSelector": "metadata.name=one"},
     (True, "list", "", "ns", "configmaps", "", "one")),
    ("GET", "/api/v1/namespaces/ns/configmaps", {"fieldSelector": "metadata.name!=one"},
     (True, "list", "", "ns", "configmaps", "", "")),
    ("OPTIONS", "/api/v1/namespaces/ns/pods", {}, (True, "", "", "ns", "pods", "", "")),
    # discovery is not a resource request
    ("GET", "/api/v1", {}, (False, "get", "", "", "", "", "")),
    ("GET", "/apis/apps/v1", {}, (False, "get", "", "", "", "", "")),
    ("GET", "/apis", {}, (False, "get", "", "", "", "", "")),
]


@pytest.mark.parametrize(("method", "path", "query", "expected"), ATTRIBUTE_CASES)
def test_request_attributes(method: str, path: str, query: dict[str, str],
                            expected: tuple[Any, ...]) -> None:
    a = request_attributes(BOT, method, path, query)
    assert (a.resource_request, a.verb, a.api_group, a.namespace, a.resource, a.subresource,
            a.name) == expected


# -- the authorizer over stored objects ------------------------------------------------------


async def admin(server: FakeApiServer, method: str, path: str, body: Any = None) -> Any:
    answer = await server.handle(ApiRequest(method, path, body=orjson.dumps(body) if body
                                            else b"", content_type="application/json"))
    assert answer.status < 300, answer.body
    return answer.body


async def as_user(server: FakeApiServer, user: UserInfo, method: str, path: str,
                  body: Any = None, query: dict[str, str] | None = None) -> ApiResponse:
    return await server.handle(ApiRequest(
        method, path, query or {}, orjson.dumps(body) if body is not None else b"",
        "application/json" if body is not None else None, user=user.name, identity=user))


def role(name: str, namespace: str | None, *rules: dict[str, Any],
         labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role" if namespace else "ClusterRole", "metadata": meta,
            "rules": list(rules)}


def binding(name: str, namespace: str | None, ref_kind: str, ref: str,
            *subjects: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding" if namespace else "ClusterRoleBinding", "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref},
            "subjects": list(subjects)}


SA_BOT = {"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}
READ_CM = {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["configmaps"]}


@pytest.fixture
async def server() -> Any:
    async with FakeApiServer(controllers=False) as fake:
        for ns in ("ops", "team"):
            await admin(fake, "POST", "/api/v1/namespaces",
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        yield fake


async def test_a_caller_bound_to_nothing_gets_the_real_servers_403(server: FakeApiServer) -> None:
    listed = await as_user(server, BOT, "GET", "/api/v1/namespaces/team/configmaps")
    assert listed.status == 403
    assert listed.body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps is forbidden: User "system:serviceaccount:ops:bot" cannot list '
                   'resource "configmaps" in API group "" in the namespace "team"',
        "reason": "Forbidden", "details": {"kind": "configmaps"}, "code": 403}
    named = await as_user(server, BOT, "PUT",
                          "/apis/apps/v1/namespaces/team/deployments/web/status", {})
    assert named.body is not None and named.body["message"] == (
        'deployments.apps "web" is forbidden: User "system:serviceaccount:ops:bot" cannot '
        'update resource "deployments/status" in API group "apps" in the namespace "team"')
    assert named.body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    cluster = await as_user(server, BOT, "GET", "/api/v1/namespaces", query={"watch": "true"})
    assert cluster.body is not None and cluster.body["message"] == (
        'namespaces is forbidden: User "system:serviceaccount:ops:bot" cannot watch resource '
        '"namespaces" in API group "" at the cluster scope')
    # refused before routing: an unknown resource is a 403 too, not a 404
    unknown = await as_user(server, BOT, "GET", "/apis/example.com/v1/widgets")
    assert unknown.status == 403
    assert [r.status for r in server.requests[-4:]] == [403, 403, 403, 403]


async def test_the_admin_is_never_checked(server: FakeApiServer) -> None:
    assert (await as_user(server, ADMIN, "GET", "/api/v1/namespaces/team/configmaps")).status \
        == 200
    answer = await server.handle(ApiRequest("GET", "/api/v1/secrets"))
    assert answer.status == 200


async def test_a_role_binding_grants_its_role_in_its_namespace_only(
        server: FakeApiServer) -> None:
    await admin(server, "POST", f"{RBAC}/namespaces/team/roles", role("reader", "team", READ_CM))
    await admin(server, "POST", f"{RBAC}/namespaces/team/rolebindings",
                binding("reader", "team", "Role", "reader", SA_BOT))
    assert (await as_user(server, BOT, "GET", "/api/v1/namespaces/team/configmaps")).status \
        == 200
    assert (await as_user(server, BOT, "GET", "/api/v1/namespaces/ops/configmaps")).status == 403
    assert (await as_user(server, BOT, "GET", "/api/v1/configmaps")).status == 403
    created = await as_user(server, BOT, "POST", "/api/v1/namespaces/team/configmaps",
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert created.status == 403
    assert (await as_user(server, service_account_user("team", "bot"), "GET",
                          "/api/v1/namespaces/team/configmaps")).status == 403


async def test_subjects_users_groups_and_an_account_of_the_bindings_namespace(
        server: FakeApiServer) -> None:
    await admin(server, "POST", f"{RBAC}/clusterroles", role("cm-reader", None, READ_CM))
    # a ServiceAccount subject without a namespace is one of the binding's namespace
    await admin(server, "POST", f"{RBAC}/namespaces/team/rolebindings",
                binding("local", "team", "ClusterRole", "cm-reader",
                        {"kind": "ServiceAccount", "name": "worker"}))
    await admin(server, "POST", f"{RBAC}/namespaces/ops/rolebindings",
                binding("all-ops", "ops", "ClusterRole", "cm-reader",
                        {"kind": "Group", "name": "system:serviceaccounts:ops"}))
    await admin(server, "POST", f"{RBAC}/clusterrolebindings",
                binding("jane", None, "ClusterRole", "cm-reader", {"kind": "User", "name": "jane"}))
    worker = service_account_user("team", "worker")
    assert (await as_user(server, worker, "GET", "/api/v1/namespaces/team/configmaps")).status \
        == 200
    assert (await as_user(server, worker, "GET", "/api/v1/namespaces/ops/configmaps")).status \
        == 403
    assert (await as_user(server, BOT, "GET", "/api/v1/namespaces/ops/configmaps")).status == 200
    jane = UserInfo("jane", ("system:authenticated",))
    assert (await as_user(server, jane, "GET", "/api/v1/configmaps")).status == 200
    assert (await as_user(server, jane, "DELETE", "/api/v1/namespaces/ops/configmaps")).status \
        == 403


async def test_a_missing_role_is_the_refusals_reason(server: FakeApiServer) -> None:
    await admin(server, "POST", f"{RBAC}/namespaces/team/rolebindings",
                binding("dangling", "team", "Role", "gone", SA_BOT))
    refused = await as_user(server, BOT, "GET", "/api/v1/namespaces/team/pods")
    assert refused.body is not None and refused.body["message"] == (
        'pods is forbidden: User "system:serviceaccount:ops:bot" cannot list resource "pods" '
        'in API group "" in the namespace "team": RBAC: role.rbac.authorization.k8s.io "gone" '
        "not found")


async def test_resource_names_narrow_a_rule(server: FakeApiServer) -> None:
    await admin(server, "POST", f"{RBAC}/namespaces/team/roles",
                role("one", "team", {**READ_CM, "resourceNames": ["settings"]}))
    await admin(server, "POST", f"{RBAC}/namespaces/team/rolebindings",
                binding("one", "team", "Role", "one", SA_BOT))
    await admin(server, "POST", "/api/v1/namespaces/team/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}})
    base = "/api/v1/namespaces/team/configmaps"
    assert (await as_user(server, BOT, "GET", f"{base}/settings")).status == 200
    assert (await as_user(server, BOT, "GET", f"{base}/other")).status == 403
    assert (await as_user(server, BOT, "GET", base)).status == 403
    one = await as_user(server, BOT, "GET", base, query={"fieldSelector": "metadata.name=settings"})
    assert one.status == 200 and one.body is not None and len(one.body["items"]) == 1


async def test_an_aggregated_cluster_role_has_the_rules_of_the_roles_it_selects(
        server: FakeApiServer) -> None:
    await admin(server, "POST", f"{RBAC}/clusterroles", {
        **role("aggregate", None), "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"example.com/aggregate": "true"}}]}})
    await admin(server, "POST", f"{RBAC}/clusterrolebindings",
                binding("aggregate", None, "ClusterRole", "aggregate", SA_BOT))
    assert (await as_user(server, BOT, "GET", "/api/v1/configmaps")).status == 403
    await admin(server, "POST", f"{RBAC}/clusterroles",
                role("part", None, READ_CM, labels={"example.com/aggregate": "true"}))
    await admin(server, "POST", f"{RBAC}/clusterroles",
                role("unselected", None, {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}))
    assert (await as_user(server, BOT, "GET", "/api/v1/configmaps")).status == 200
    assert (await as_user(server, BOT, "GET", "/api/v1/secrets")).status == 403


# -- reviews -----------------------------------------------------------------------------------


def _review(**attributes: Any) -> dict[str, Any]:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": attributes}


SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


async def test_access_reviews_answer_by_the_same_rules(server: FakeApiServer) -> None:
    await admin(server, "POST", f"{RBAC}/namespaces/team/roles", role("reader", "team", READ_CM))
    await admin(server, "POST", f"{RBAC}/namespaces/team/rolebindings",
                binding("reader", "team", "Role", "reader", SA_BOT))
    allowed = await as_user(server, BOT, "POST", SSAR, _review(resourceAttributes={
        "namespace": "team", "verb": "watch", "resource": "configmaps"}))
    assert allowed.status == 201 and allowed.body is not None
    assert allowed.body["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "reader/team" of Role "reader" to '
                  'ServiceAccount "bot/ops"'}
    denied = await as_user(server, BOT, "POST", SSAR, _review(resourceAttributes={
        "namespace": "team", "verb": "create", "resource": "configmaps"}))
    assert denied.body is not None and denied.body["status"] == {"allowed": False}
    health = await as_user(server, BOT, "POST", SSAR, _review(nonResourceAttributes={
        "path": "/healthz", "verb": "get"}))
    assert health.body is not None and health.body["status"]["allowed"] is True
    metrics = await as_user(server, BOT, "POST", SSAR, _review(nonResourceAttributes={
        "path": "/metrics", "verb": "get"}))
    assert metrics.body is not None and metrics.body["status"] == {"allowed": False}
    as_admin = await admin(server, "POST", SSAR, _review(resourceAttributes={
        "verb": "delete", "resource": "nodes"}))
    assert as_admin["status"] == {"allowed": True}


async def test_a_self_review_names_the_account_and_its_groups(server: FakeApiServer) -> None:
    answer = await as_user(server, BOT, "POST",
                           "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                           {"apiVersion": "authentication.k8s.io/v1",
                            "kind": "SelfSubjectReview"})
    assert answer.status == 201 and answer.body is not None
    assert answer.body["status"]["userInfo"] == {
        "username": "system:serviceaccount:ops:bot",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:ops",
                   "system:authenticated"]}


# -- tokens --------------------------------------------------------------------------------------


async def _token(server: FakeApiServer, namespace: str, name: str, seconds: int = 3600) -> str:
    await admin(server, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    answer = await admin(server, "POST",
                         f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                          "spec": {"expirationSeconds": seconds}})
    return str(answer["status"]["token"])


async def test_a_token_authenticates_its_account_until_it_expires_or_the_account_goes() -> None:
    clock = VirtualClock()
    async with FakeApiServer(controllers=False, clock=clock) as server:
        await admin(server, "POST", "/api/v1/namespaces",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}})
        token = await _token(server, "ops", "bot", seconds=600)
        user = server.authenticate(token)
        assert user is not None and user.name == BOT.name and user.groups == BOT.groups
        account = server.get_object("v1", "serviceaccounts", "bot", "ops")
        assert account is not None and user.uid == account["metadata"]["uid"]
        assert server.authenticate("not-a-jwt") is None
        with pytest.raises(InvalidToken):
            server.authenticate(sign_claims({"sub": "x"}, b"another server's key"))
        other = FakeApiServer(controllers=False)
        with pytest.raises(InvalidToken):  # each fake has a key of its own
            other.authenticate(token)
        clock.advance(600)
        with pytest.raises(InvalidToken, match="expired"):
            server.authenticate(token)
        fresh = await _token(server, "ops", "bot2")
        await admin(server, "DELETE", "/api/v1/namespaces/ops/serviceaccounts/bot2")
        with pytest.raises(InvalidToken, match="gone"):
            server.authenticate(fresh)
