"""What RBAC authorisation costs the fake, per request, against the admin's path.

One ``FakeApiServer``, requests sent straight to ``handle`` (no client, no HTTP): a GET of
a ConfigMap as the admin (which reads no RBAC object), and the same GET as a
ServiceAccount allowed by a ClusterRoleBinding among ``--bindings`` others that name
someone else (each is read, as the real authorizer reads its informer's list), and a
GET that RBAC refuses (every binding read, then the 403). Each figure is the best of
``--repeats`` rounds of ``--requests`` requests, so scheduling noise on a shared machine
inflates none of them.

    python bench/rbac_bench.py [--requests 2000] [--repeats 7] [--bindings 0,50,500]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

from kubeplan.testkit.apiserver import ApiRequest, FakeApiServer
from kubeplan.testkit.apiserver.authn import UserInfo, service_account_user

RBAC = "/apis/rbac.authorization.k8s.io/v1"
CM = "/api/v1/namespaces/default/configmaps/settings"


async def _admin(server: FakeApiServer, path: str, body: dict[str, object]) -> None:
    answer = await server.handle(ApiRequest("POST", path, body=orjson.dumps(body),
                                            content_type="application/json"))
    assert answer.status == 201, answer.body


def _binding(name: str, subject: str) -> dict[str, object]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": subject, "namespace": "ops"}]}


async def _server(bindings: int) -> FakeApiServer:
    server = FakeApiServer(controllers=False)
    await _admin(server, "/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}})
    await _admin(server, f"{RBAC}/clusterroles", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]})
    for i in range(bindings):
        await _admin(server, f"{RBAC}/clusterrolebindings", _binding(f"other-{i:04d}", f"o{i}"))
    # sorted after the others: the allowed request reads every binding before its own
    await _admin(server, f"{RBAC}/clusterrolebindings", _binding("zz-bot", "bot"))
    return server


async def _per_request(server: FakeApiServer, identity: UserInfo | None, expect: int,
                       requests: int, repeats: int) -> float:
    request = ApiRequest("GET", CM, user=identity.name if identity else "admin",
                         identity=identity)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(requests):
            answer = server.handle_shared(request)
        elapsed = time.perf_counter() - start
        assert not isinstance(answer, asyncio.Future) and getattr(answer, "status", 0) == expect
        best = min(best, elapsed / requests)
    return best * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bindings", default="0,50,500")
    args = parser.parse_args()
    print(f"GET of one ConfigMap through FakeApiServer.handle, best of {args.repeats} x "
          f"{args.requests} requests (microseconds per request)")
    print(f"  {'other bindings':>14}  {'admin':>8}  {'allowed SA':>10}  {'refused SA':>10}")
    for count in (int(b) for b in args.bindings.split(",")):
        server = await _server(count)
        admin = await _per_request(server, None, 200, args.requests, args.repeats)
        allowed = await _per_request(server, service_account_user("ops", "bot"), 200,
                                     args.requests, args.repeats)
        refused = await _per_request(server, service_account_user("ops", "nobody"), 403,
                                     args.requests, args.repeats)
        print(f"  {count:>14}  {admin:>8.1f}  {allowed:>10.1f}  {refused:>10.1f}")


if __name__ == "__main__":
    asyncio.run(main())
