"""Names and namespaces from the path that no object can have: the real server's answers.

Probed on a real kube-apiserver v1.36.3 (raw requests, so nothing cleaned the path).
``%2F`` is decoded before routing there as here, so ``namespaces/default%2Fconfigmaps``
lists the ConfigMaps of ``default`` on both (``test_http_hardening.py`` checks that
over HTTP).
"""

from __future__ import annotations

from typing import Any

import pytest
from apiserver_harness import CM, call, cm, install_crd, new_server

NS = "/api/v1/namespaces"


def no_reason_500(message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "code": 500}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"{CM}/.."), ("GET", f"{CM}/."), ("DELETE", f"{CM}/.."), ("PUT", f"{CM}/.."),
    ("PATCH", f"{CM}/.."), ("GET", f"{NS}/.."), ("GET", f"{NS}/../status"),
    ("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/.."),
    ("GET", f"{NS}/default/pods/../status"),
    ("GET", f"{CM}/a%b"), ("GET", f"{NS}/../configmaps/.."),
])
async def test_an_object_name_that_cannot_be_one_is_400(method: str, path: str) -> None:
    server = new_server()
    name = path.rsplit("/", 2)[-2] if path.endswith("/status") else path.rsplit("/", 1)[-1]
    body = {**cm(name)} if method in ("PUT", "PATCH") else None
    answer = await call(server, method, path, body,
                        content_type="application/merge-patch+json" if method == "PATCH"
                        else None)
    assert answer.status == 400, answer.body
    problem = "may not contain '%'" if "%" in name else f"may not be '{name}'"
    assert answer.body["reason"] == "BadRequest"
    assert answer.body["message"] == f'Name parameter invalid: "{name}": {problem}'


@pytest.mark.parametrize(("method", "path", "key"), [
    ("GET", f"{NS}/../configmaps", "/configmaps/.."),
    ("GET", f"{NS}/./configmaps/x", "/configmaps/./x"),
    ("DELETE", f"{NS}/../configmaps", "/configmaps/.."),
    ("DELETE", f"{NS}/../configmaps/x", "/configmaps/../x"),
    ("GET", f"{NS}/../services", "/services/specs/.."),
    ("GET", f"{NS}/../pods/x/status", "/pods/../x"),
    ("GET", "/apis/apps/v1/namespaces/../deployments", "/deployments/.."),
    ("GET", "/apis/example.com/v1/namespaces/../widgets", "/example.com/widgets/.."),
])
async def test_a_dot_namespace_is_the_real_servers_invalid_key(
    method: str, path: str, key: str
) -> None:
    server = new_server()
    await install_crd(server)
    answer = await call(server, method, path)
    assert (answer.status, answer.body) == (500, no_reason_500(f'invalid key: "{key}"'))


async def test_a_watch_in_a_dot_namespace_is_refused_too() -> None:
    answer = await call(new_server(), "GET", f"{NS}/../configmaps", query={"watch": "true"})
    assert (answer.status, answer.body) == (500, no_reason_500('invalid key: "/configmaps/.."'))


@pytest.mark.parametrize(("namespace", "problem"), [
    ("..", "may not be '..'"), (".", "may not be '.'"), ("a%b", "may not contain '%'"),
])
async def test_a_create_in_a_namespace_that_cannot_be_one_is_500(
    namespace: str, problem: str
) -> None:
    answer = await call(new_server(), "POST", f"{NS}/{namespace}/configmaps", cm("x"))
    assert answer.status == 500
    detail = f'invalid resource name "{namespace}": [{problem}]'
    assert answer.body["reason"] == "InternalError"
    assert answer.body["message"] == f"Internal error occurred: {detail}"
    assert answer.body["details"]["causes"] == [{"message": detail}]


async def test_names_with_dots_inside_are_fine() -> None:
    server = new_server()
    assert (await call(server, "POST", CM, cm("a.b"))).status == 201
    assert (await call(server, "GET", f"{CM}/a.b")).status == 200
    listed = await call(server, "GET", f"{NS}/a%b/configmaps")  # a list's key may hold %
    assert listed.status == 200 and listed.body["items"] == []
