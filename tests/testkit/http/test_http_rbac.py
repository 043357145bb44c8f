"""The HTTP face under RBAC: a ServiceAccount token the fake issued is that account, its
requests (discovery and other paths too) authorised by the stored RBAC; kubectl's
``auth can-i`` and ``auth whoami`` answer for it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.http import FakeApiHttpServer
from kubeplan.testkit.apiserver.request import ApiRequest
from kubeplan.testkit.permissions import ServiceAccountAccess, generated_service_account

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples" / "member"))
from member_operator import operator

ADMIN_TOKEN = "s3cret-token"
MEMBERS = "/apis/example.kubeplan.dev/v1/namespaces/team/members"


@pytest.fixture
async def access(store: FakeApiServer) -> ServiceAccountAccess:
    return await generated_service_account(store, operator, namespace="ops")


async def _get(url: str, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(headers=headers) as session, session.get(url) as resp:
        return resp.status, await resp.json(content_type=None) if resp.status != 200 or \
            resp.content_type == "application/json" else await resp.text()


@pytest.mark.parametrize("admin_token", [None, ADMIN_TOKEN])
async def test_a_service_account_token_is_authorised_by_rbac(
        store: FakeApiServer, access: ServiceAccountAccess, admin_token: str | None) -> None:
    async with FakeApiHttpServer(store, token=admin_token) as http:
        url = http.url
        assert (await _get(f"{url}{MEMBERS}", access.token))[0] == 200
        assert (await _get(f"{url}/api/v1/namespaces/team/configmaps", access.token))[0] == 200
        code, body = await _get(f"{url}/api/v1/namespaces/team/secrets", access.token)
        assert code == 403
        assert body["message"] == (
            'secrets is forbidden: User "system:serviceaccount:ops:member" cannot list '
            'resource "secrets" in API group "" in the namespace "team"')
        # discovery and probes are every authenticated caller's; /metrics is not
        for path in ("/api", "/apis", "/api/v1", "/apis/apps/v1", "/version", "/healthz",
                     "/openapi/v2"):
            assert (await _get(url + path, access.token))[0] == 200, path
        code, body = await _get(f"{url}/metrics", access.token)
        assert code == 403 and body == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'forbidden: User "system:serviceaccount:ops:member" cannot get path '
                       '"/metrics"', "reason": "Forbidden", "details": {}, "code": 403}
        # the admin keeps every right, with its token or (on an open server) without one
        assert (await _get(f"{url}/api/v1/namespaces/team/secrets", admin_token))[0] == 200
        assert (await _get(f"{url}/metrics", admin_token))[0] == 200
        assert store.requests[-1].user == "admin"


async def test_a_token_that_no_longer_authenticates_is_401(
        store: FakeApiServer, access: ServiceAccountAccess) -> None:
    async with FakeApiHttpServer(store) as http:
        tampered = access.token[:-4] + ("AAAA" if not access.token.endswith("AAAA") else "BBBB")
        code, body = await _get(f"{http.url}{MEMBERS}", tampered)
        assert code == 401 and body["reason"] == "Unauthorized"
        await store.handle(ApiRequest("DELETE", f"/api/v1/namespaces/ops/serviceaccounts/"
                                                f"{access.name}"))
        assert (await _get(f"{http.url}{MEMBERS}", access.token))[0] == 401
        # a token the fake did not issue still means the admin on a server without one
        assert (await _get(f"{http.url}{MEMBERS}", "anything"))[0] == 200


async def test_reviews_answer_for_the_token_s_account(
        store: FakeApiServer, access: ServiceAccountAccess) -> None:
    """What ``kubectl auth can-i`` and ``auth whoami`` send (kubectl itself sends no
    credentials to a plain-HTTP server: clientcmd reads a user's only for TLS)."""
    async with FakeApiHttpServer(store) as http, aiohttp.ClientSession(
            base_url=http.url, headers={"Authorization": f"Bearer {access.token}"}) as session:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview"}
        verdicts = []
        for resource in ("configmaps", "secrets"):
            spec = {"resourceAttributes": {"namespace": "team", "verb": "create",
                                           "resource": resource}}
            async with session.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                    json={**review, "spec": spec}) as resp:
                assert resp.status == 201
                verdicts.append((await resp.json())["status"])
        assert verdicts == [
            {"allowed": True, "reason": 'RBAC: allowed by ClusterRoleBinding "member" of '
                                        'ClusterRole "member" to ServiceAccount "member/ops"'},
            {"allowed": False}]
        async with session.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={
                "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}) as resp:
            user = (await resp.json())["status"]["userInfo"]
        assert user["username"] == "system:serviceaccount:ops:member"
        assert user["uid"] == access.user.uid and user["extra"][
            "authentication.kubernetes.io/credential-id"][0].startswith("JTI=")


async def test_a_rules_review_lists_the_account_s_rules(
        store: FakeApiServer, access: ServiceAccountAccess) -> None:
    """``kubectl auth can-i --list``: the rules of the bindings naming the caller."""
    path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview"}
    async with FakeApiHttpServer(store) as http, aiohttp.ClientSession(
            base_url=http.url, headers={"Authorization": f"Bearer {access.token}"}) as session:
        async with session.post(path, json={**review, "spec": {"namespace": "team"}}) as resp:
            assert resp.status == 201
            answer = await resp.json()
        async with session.post(path, json=review) as resp:
            refused = (resp.status, (await resp.json())["message"])
    assert answer["spec"] == {} and answer["status"]["incomplete"] is False
    rules = answer["status"]["resourceRules"]
    assert rules[0] == {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}
    assert any("configmaps" in r.get("resources", ()) for r in rules)
    assert not any("secrets" in r.get("resources", ()) for r in rules)
    urls = [u for r in answer["status"]["nonResourceRules"] for u in r["nonResourceURLs"]]
    assert "/healthz" in urls and "/openid/v1/jwks" in urls and "*" not in urls
    assert refused == (400, "no namespace on request")
    # the admin's rules start with cluster-admin's
    admin = await store.handle(ApiRequest("POST", path, body=json.dumps({
        **review, "spec": {"namespace": "team"}}).encode()))
    assert admin.body["status"]["resourceRules"][0] == {
        "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}


async def test_impersonation_is_the_impersonated_user_s_rights(
        store: FakeApiServer, access: ServiceAccountAccess) -> None:
    """``kubectl --as``: the admin acts as anyone; an account without the ``impersonate``
    verb is refused as a server with constrained impersonation words it."""
    secrets = "/api/v1/namespaces/team/secrets"
    member = f"system:serviceaccount:ops:{access.name}"

    async def get(headers: dict[str, str]) -> tuple[int, Any]:
        async with FakeApiHttpServer(store) as http, aiohttp.ClientSession(
                base_url=http.url, headers=headers) as session, session.get(secrets) as resp:
            return resp.status, await resp.json()

    code, body = await get({"Impersonate-User": member})
    assert code == 403 and body["message"] == (
        f'secrets is forbidden: User "{member}" cannot list resource "secrets" in API '
        'group "" in the namespace "team"')
    assert (await get({"Impersonate-User": "alice",
                       "Impersonate-Group": "system:masters"}))[0] == 200
    code, body = await get({"Impersonate-Group": "system:masters"})
    assert code == 400 and body["message"] == (
        "requested [{Group  system:masters  }] without impersonating a user")
    code, body = await get({"Authorization": f"Bearer {access.token}",
                            "Impersonate-User": "alice"})
    assert code == 403 and body["message"] == (
        f'secrets is forbidden: User "{member}" cannot impersonate-on:user-info:list '
        'resource "secrets" in API group "" in the namespace "team"')
