"""Testing under real permissions: an operator's generated ServiceAccount on the fake.

``generated_service_account(server, definition)`` applies to a ``FakeApiServer`` what
``kubeplan manifests`` generates for the operator -- its CRD, ServiceAccount, Roles or
ClusterRole and their bindings (the Lease Role too, for ``replicas > 1``) -- but not the
Deployment, mints a token for the account through TokenRequest, and returns a
``ServiceAccountAccess``: an in-process client acting as that account, or a kubeconfig
holding its token for the HTTP face (``kubeplan run``, kubectl). Every request made so
is authorised by the RBAC objects stored in the fake, as the real server would (a verb
the generated rules lack is a 403 in the test, not in production).

``edit`` changes the generated objects before they are applied: a test that takes a
verb away shows what the operator does without it (``without_verb`` builds that edit).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson

from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument, UsageError
from kubeplan.core.k8s import builtin_type
from kubeplan.core.manifests import manifests_for
from kubeplan.testkit.apiserver.authn import UserInfo
from kubeplan.testkit.apiserver.http import write_kubeconfig
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.request import ApiRequest
from kubeplan.testkit.apiserver.server import FakeApiServer

__all__ = [
    "ServiceAccountAccess",
    "generated_permissions",
    "generated_service_account",
    "without_verb",
]

Manifest = dict[str, Any]
Edit = Callable[[list[Manifest]], list[Manifest]]
#: the field manager the objects are applied with
MANAGER = "kubeplan-testkit"
_RBAC_KINDS = frozenset({"Role", "ClusterRole"})


def generated_permissions(definition: OperatorDefinition, *, namespace: str = "default",
                          replicas: int = 1) -> list[Manifest]:
    """What ``kubeplan manifests`` generates for ``definition`` in ``namespace``, less the
    Namespace and the Deployment: the CRD, the ServiceAccount, the roles and bindings."""
    objects = manifests_for(definition, target="operator:operator", namespace=namespace,
                            replicas=replicas, include_namespace=False)
    return [obj for obj in objects if obj["kind"] != "Deployment"]


def without_verb(verb: str, resource: str, group: str = "") -> Edit:
    """An ``edit`` taking ``verb`` on ``resource`` (of API ``group``) out of every generated
    Role and ClusterRole; a rule left with no verb is dropped. Failing if none granted it,
    so a test cannot take away what was never there."""
    def edit(objects: list[Manifest]) -> list[Manifest]:
        out, removed = [], False
        for obj in copy.deepcopy(objects):
            if obj["kind"] in _RBAC_KINDS:
                rules = []
                for rule in obj.get("rules") or ():
                    if not (resource in rule.get("resources", ()) and group in rule.get(
                            "apiGroups", ()) and verb in rule.get("verbs", ())):
                        rules.append(rule)
                        continue
                    removed = True
                    others = [r for r in rule["resources"] if r != resource]
                    if others:  # the rule's other resources keep the verb
                        rules.append({**rule, "resources": others})
                    verbs = [v for v in rule["verbs"] if v != verb]
                    if verbs:
                        rules.append({**rule, "resources": [resource], "verbs": verbs})
                obj["rules"] = rules
            out.append(obj)
        if not removed:
            raise InvalidArgument(f"no generated role grants {verb!r} on {resource!r} in API group "
                             f"{group!r}: there is nothing to take away")
        return out

    return edit


@attrs.frozen
class ServiceAccountAccess:
    """A ServiceAccount set up in a fake, and how to act as it."""

    server: FakeApiServer
    namespace: str
    name: str
    token: str
    user: UserInfo
    #: what was applied (after ``edit``)
    objects: Sequence[Manifest]

    def client(self, **kw: Any) -> InProcessClient:
        """An in-process client acting as the account (``kw``: ``InProcessClient``'s)."""
        return InProcessClient(self.server, identity=self.user, **kw)

    def kubeconfig(self, url: str, path: str | Path) -> Path:
        """A kubeconfig for the fake's HTTP face at ``url`` holding the account's token,
        written at ``path`` (0600)."""
        return write_kubeconfig(path, url, self.token, context=f"{self.name}@kubeplan-fake")


async def _admin(server: FakeApiServer, method: str, path: str, body: Manifest,
                 content_type: str = "application/json",
                 query: Mapping[str, str] | None = None) -> Manifest:
    answer = await server.handle(ApiRequest(method, path, query or {}, orjson.dumps(body),
                                            content_type=content_type,
                                            user_agent=f"{MANAGER}/1"))
    if answer.status >= 300:
        message = (answer.body or {}).get("message", "")
        raise UsageError(f"{method} {path} answered {answer.status}: {message}")
    return answer.body or {}


async def generated_service_account(
    server: FakeApiServer,
    definition: OperatorDefinition,
    *,
    namespace: str = "default",
    replicas: int = 1,
    edit: Edit | None = None,
    expiration_seconds: int = 3600,
) -> ServiceAccountAccess:
    """Apply the generated permissions of ``definition`` in ``namespace`` (made if missing),
    as the admin, wait until the CRD is served, and mint a token for its ServiceAccount."""
    objects = generated_permissions(definition, namespace=namespace, replicas=replicas)
    if edit is not None:
        objects = edit(objects)
    if server.get_object("v1", "namespaces", namespace) is None:
        await _admin(server, "POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for obj in objects:
        type_ = builtin_type(obj["apiVersion"], obj["kind"])
        if type_ is None:
            raise InvalidArgument(f"the generated {obj['kind']} is not a built-in kind")
        meta = obj["metadata"]
        path = type_.path(meta.get("namespace"), meta["name"])
        await _admin(server, "PATCH", path, obj, "application/apply-patch+yaml",
                     {"fieldManager": MANAGER, "force": "true"})
    await server.settle()  # the CRD established and served
    account = next(o for o in objects if o["kind"] == "ServiceAccount")
    name = account["metadata"]["name"]
    answer = await _admin(
        server, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": expiration_seconds}})
    token = str(answer["status"]["token"])
    user = server.authenticate(token)
    assert user is not None  # the server just issued it
    return ServiceAccountAccess(server, namespace, name, token, user, objects)
