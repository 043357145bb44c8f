"""Each example operator running as the ServiceAccount `kubeplan manifests` generates, with
exactly the RBAC it generates, on either server (RBAC authorisation on the real
kube-apiserver; the fake authorises the tokens it issues by the RBAC objects it stores);
the member example again with one verb taken away: a 403 naming the verb and the
resource, the same words on both; and the refusals themselves, body for body, on both.

Everything the manifests hold is applied except the Deployment (no kubelet runs pods);
the operator gets a token for the ServiceAccount from the TokenRequest API and runs as
`kubeplan run` with a kubeconfig holding that token and the CA. It must converge a
parent, repair a deleted child and see the parent through its deletion, and no request
may be refused: a 403 is logged by whichever part met it (watch caches, the executor's
failures, Event posts, Leases) and would show as a ``Synced=False`` condition.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from e2e_support import (
    E2E,
    EXAMPLES,
    ROOT,
    OperatorProcess,
    RawObject,
    condition,
    eventually,
    example_target,
    is_synced,
    load_yaml,
    meta,
    type_of,
    unique,
    world,
)

from kubeplan.core.k8s import core_v1
from kubeplan.core.k8s.coordination_v1 import Lease
from kubeplan.core.types import K8sType
from kubeplan.testkit.endpoint import EndpointError, KubeEndpoint
from kubeplan.testkit.permissions import without_verb
from kubeplan.testkit.plugin import real_assets_or_skip, selected_servers

CM, NS = core_v1.ConfigMap, core_v1.Namespace


@attrs.frozen
class Case:
    """One example, and how to exercise it: a parent, one child to delete by hand."""

    example: str
    operator: str  # its config.name: the ServiceAccount's and the roles' name
    parent_type: K8sType
    #: (e2e, the namespace parents go in) -> the parent to create
    parent: Callable[[E2E, str], RawObject]
    #: (e2e, parent name, work namespace) -> (type, name, namespace) of a child
    child: Callable[[E2E, str, str], tuple[K8sType, str, str | None]]
    replicas: int = 1
    mode: tuple[str, ...] = ()


def _sample(example: str, file: str, work: str) -> RawObject:
    obj = load_yaml(EXAMPLES / example / file)
    obj["metadata"]["namespace"] = work
    return obj


def _cluster_sample(example: str, file: str) -> Callable[[E2E, str], RawObject]:
    def make(e2e: E2E, _work: str) -> RawObject:
        obj = load_yaml(EXAMPLES / example / file)
        obj["metadata"]["name"] = unique(example)
        return obj

    return make


def _configmap_sync(e2e: E2E, work: str) -> RawObject:
    target = e2e.namespace_for_test("copies")
    e2e.admin.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "settings", "namespace": work},
                          "data": {"k": "v"}})
    return {"apiVersion": "example.kubeplan.dev/v1", "kind": "ConfigMapSync",
            "metadata": {"name": unique("sync")},
            "spec": {"source": {"name": "settings", "namespace": work},
                     "targetNamespaces": [target]}}


MEMBER = K8sType("example.kubeplan.dev/v1", "Member", "members")
MEMBER_CASE = Case("member", "member", MEMBER,
                   lambda e2e, work: _sample("member", "member.yaml", work),
                   lambda _e2e, _name, work: (CM, "member-ada", work))
ORDERED_CASE = Case(
    "ordered", "ordered",
    K8sType("example.kubeplan.dev/v1", "Workspace", "workspaces", namespaced=False),
    _cluster_sample("ordered", "workspace.yaml"),
    lambda _e2e, name, _work: (CM, "settings", f"ws-{name}"))
CASES = [
    MEMBER_CASE,
    Case("echo-server", "echo-server",
         K8sType("example.kubeplan.dev/v1", "EchoServer", "echoservers"),
         lambda e2e, work: _sample("echo-server", "echoserver.yaml", work),
         lambda _e2e, _name, work: (core_v1.Pod, "hello-0", work)),
    Case("configmap-sync", "configmap-sync",
         K8sType("example.kubeplan.dev/v1", "ConfigMapSync", "configmapsyncs",
                 namespaced=False),
         _configmap_sync,
         lambda e2e, _name, _work: (CM, "settings", f"{e2e.namespace}-copies")),
    ORDERED_CASE,
    Case("temp-namespace", "temp-namespace",
         K8sType("example.kubeplan.dev/v1", "TempNamespace", "tempnamespaces",
                 namespaced=False),
         _cluster_sample("temp-namespace", "tempnamespace.yaml"),
         lambda _e2e, name, _work: (NS, name, None)),
    # the Lease Role the manifests add for replicas > 1, used by either scale-out mode
    attrs.evolve(MEMBER_CASE, replicas=2, mode=("--leader-election",)),
    attrs.evolve(MEMBER_CASE, replicas=2, mode=("--sharding",)),
]


def _manifests(case: Case, namespace: str) -> list[RawObject]:
    out = subprocess.run(
        [sys.executable, "-m", "kubeplan.cli", "manifests",
         example_target(case.example), "--namespace", namespace,
         "--no-namespace", "--replicas", str(case.replicas), "-o", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout)["items"])


def _token(e2e: E2E, account: str) -> str:
    answer = e2e.endpoint.request(
        "POST", core_v1.ServiceAccount.path(e2e.namespace, account) + "/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": 3600}})
    return str(answer["status"]["token"])


def _kubeconfig(e2e: E2E, token: str, path: Path) -> Path:
    cluster: dict[str, str] = {"server": e2e.endpoint.url}
    if e2e.endpoint.ca_file is not None:  # the fake serves plain HTTP
        cluster["certificate-authority"] = str(e2e.endpoint.ca_file)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "real", "cluster": cluster}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "real", "user": "operator"}}],
        "current-context": "operator"}))
    path.chmod(0o600)
    return path


#: NamespaceLifecycle admission answers 403 for writes into a terminating namespace: a
#: parent an earlier test left there while its namespace goes says nothing of RBAC
_TERMINATING = "because it is being terminated"


def _refused(log: str) -> list[str]:
    """Lines of the operator's log that tell of a refusal, read past each line's time stamp
    (whose milliseconds can be 403 too)."""
    def message(line: str) -> str:
        return line.split(" ", 2)[-1]
    return [line for line in log.splitlines()
            if re.search(r"\b403\b|forbidden", message(line), re.IGNORECASE)
            and _TERMINATING not in line]


def _case_id(case: Case) -> str:
    return f"{case.example}{'-'.join(('', *case.mode)).replace('--', '')}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_generated_rbac_is_enough(e2e: E2E, case: Case, tmp_path: Path) -> None:
    _runs_as_its_service_account(e2e, case, tmp_path)


@pytest.fixture(scope="module")
def enforcing(request: pytest.FixtureRequest) -> Iterator[KubeEndpoint]:
    """A real control plane with the OwnerReferencesPermissionEnforcement admission
    plugin (off by default in kube-apiserver, on in OpenShift): setting
    ``blockOwnerDeletion`` needs ``update`` on the owner's finalizers there."""
    if "real" not in selected_servers(request.config):
        pytest.skip("needs the real kube-apiserver: run pytest with --kube-apiserver=real "
                    "(or both)")
    from kubeplan.testkit.realkube import RealKubeApiServer

    assets = real_assets_or_skip()
    plugin = "--enable-admission-plugins=OwnerReferencesPermissionEnforcement"
    with RealKubeApiServer(assets, extra_apiserver_args=(plugin,)) as server:
        yield server.endpoint()
        server.check()


@pytest.mark.parametrize("case", [MEMBER_CASE, ORDERED_CASE], ids=_case_id)
def test_the_generated_rbac_is_enough_where_owner_references_are_enforced(
        enforcing: KubeEndpoint, case: Case, tmp_path: Path) -> None:
    namespace = unique(f"enforced-{case.example}")
    enforcing.request("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    with world(enforcing.with_namespace(namespace), tmp_path) as e2e:
        e2e.remember(NS, namespace)
        _runs_as_its_service_account(e2e, case, tmp_path)


def _apply_generated(e2e: E2E, case: Case,
                     edit: Callable[[list[RawObject]], list[RawObject]] | None = None,
                     ) -> list[RawObject]:
    """Everything ``kubeplan manifests`` generates but the Deployment (nothing runs pods
    here), applied as the admin; ``edit`` changes the objects first."""
    objects = _manifests(case, e2e.namespace)
    kinds = [o["kind"] for o in objects]
    assert "Deployment" in kinds and "ClusterRole" in kinds
    objects = [o for o in objects if o["kind"] != "Deployment"]
    if edit is not None:
        objects = edit(objects)
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            e2e.remember(type_of(obj), meta(obj)["name"])
        e2e.admin.apply(obj)
    return objects


def _start_as_service_account(e2e: E2E, case: Case, tmp_path: Path) -> OperatorProcess:
    account = case.operator
    kubeconfig = _kubeconfig(e2e, _token(e2e, account), tmp_path / "operator.kubeconfig")
    return e2e.operator(
        example_target(case.example), kubeconfig=kubeconfig,
        args=case.mode, env={"POD_NAME": f"{account}-0", "POD_NAMESPACE": e2e.namespace})


def _runs_as_its_service_account(e2e: E2E, case: Case, tmp_path: Path) -> None:
    admin = e2e.admin
    _apply_generated(e2e, case)
    account = case.operator
    operator = _start_as_service_account(e2e, case, tmp_path)

    work = e2e.namespace_for_test("work")
    parent = case.parent(e2e, work)
    name = meta(parent)["name"]
    parent_ns = work if case.parent_type.namespaced else None
    if not case.parent_type.namespaced:
        e2e.remember(case.parent_type, name)
    admin.create(case.parent_type, parent)

    def synced() -> RawObject | None:
        found = admin.get(case.parent_type, name, parent_ns)
        return found if is_synced(found) else None

    eventually(synced, what=f"{case.example} {name} synced as its ServiceAccount",
               context=lambda: f"{condition(admin.get(case.parent_type, name, parent_ns))}"
                               f"\n{e2e.logs()}")
    child_type, child_name, child_ns = case.child(e2e, name, work)
    if not case.parent_type.namespaced and child_type == NS:
        e2e.remember(NS, child_name)
    child = eventually(lambda: admin.get(child_type, child_name, child_ns),
                       what=f"child {child_name}", context=e2e.logs)
    if child_type == NS:  # a deleted Namespace takes seconds to go: edit it instead
        admin.merge_patch(NS, child_name, {"metadata": {"labels": {
            "example.kubeplan.dev/temporary": "tampered"}}})
        eventually(lambda: meta(admin.get(NS, child_name) or {}).get("labels", {}).get(
            "example.kubeplan.dev/temporary") == "true", what="the Namespace repaired",
            context=e2e.logs)
    else:
        admin.delete(child_type, child_name, child_ns)
        eventually(lambda: (found := admin.get(child_type, child_name, child_ns)) and
                   meta(found)["uid"] != meta(child)["uid"], what=f"{child_name} made again",
                   context=e2e.logs)
    if case.mode == ("--leader-election",):
        lease = eventually(lambda: admin.get(Lease, f"{account}-leader", e2e.namespace),
                           what="the leader Lease", context=e2e.logs)
        assert lease["spec"]["holderIdentity"] == f"{account}-0"
    if case.mode == ("--sharding",):
        eventually(lambda: admin.get(Lease, f"{account}-member-{account}-0", e2e.namespace),
                   what="the member Lease", context=e2e.logs)

    if case.example == "member" and not case.mode:
        # a clash repeated on each retry: the same Event again is a PATCH of its count
        admin.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "member-bob", "namespace": work}})
        admin.create(MEMBER, {"apiVersion": MEMBER.api_version, "kind": "Member",
                              "metadata": {"name": "bob", "namespace": work},
                              "spec": {"name": "Bob"}})
        eventually(lambda: any(e.get("count", 0) >= 2 for e in admin.events(
            work, "bob", "ChildConflict")), what="a ChildConflict Event counted twice",
            context=e2e.logs)

    # deleted while the operator runs: finalize (if any) runs as the ServiceAccount too
    admin.delete(case.parent_type, name, parent_ns)
    admin.gone(case.parent_type, name, parent_ns, context=e2e.logs)
    assert operator.alive()
    assert operator.stop() == 0, e2e.logs()
    assert not _refused(operator.log()), e2e.logs()


# -- on either server: the generated RBAC, and one verb less ---------------------------------


def test_the_member_operator_runs_under_its_generated_rbac_on_either_server(
        e2e: E2E, tmp_path: Path) -> None:
    _runs_as_its_service_account(e2e, MEMBER_CASE, tmp_path)


def test_one_verb_less_is_a_403_naming_the_verb_and_the_resource(
        e2e: E2E, tmp_path: Path) -> None:
    objects = _apply_generated(e2e, MEMBER_CASE, without_verb("create", "configmaps"))
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    assert not any("create" in r["verbs"] for r in role["rules"] if "configmaps" in r["resources"])
    operator = _start_as_service_account(e2e, MEMBER_CASE, tmp_path)
    work = e2e.namespace_for_test("work")
    parent = MEMBER_CASE.parent(e2e, work)
    e2e.admin.create(MEMBER, parent)
    refusal = (f'configmaps is forbidden: User "system:serviceaccount:{e2e.namespace}:member" '
               f'cannot create resource "configmaps" in API group "" in the namespace "{work}"')

    def refused() -> RawObject | None:
        synced = condition(e2e.admin.get(MEMBER, meta(parent)["name"], work))
        return synced if synced and synced["status"] == "False" else None

    synced = eventually(refused, what="Synced=False on the member", context=e2e.logs)
    assert synced["message"] == ("create of ConfigMap " f"{work}/member-ada failed: "
                                 f"403 Forbidden: {refusal}"), e2e.logs()
    eventually(lambda: refusal in operator.log(), what="the 403 in the operator's log",
               context=e2e.logs)
    assert e2e.admin.get(CM, "member-ada", work) is None
    assert operator.stop() == 0, e2e.logs()


# -- the refusals themselves, body for body ---------------------------------------------------


def _as(e2e: E2E, token: str) -> KubeEndpoint:
    return attrs.evolve(e2e.endpoint, token=token)


def _refusal(endpoint: KubeEndpoint, method: str, path: str, body: Any = None) -> RawObject:
    try:
        endpoint.request(method, path, body)
    except EndpointError as exc:
        assert exc.status == 403, exc.body
        return exc.body
    raise AssertionError(f"{method} {path} was allowed")


def test_refusals_and_reviews_read_the_same_on_either_server(e2e: E2E) -> None:
    """A ServiceAccount bound to one Role (and to one that is missing): the 403 bodies and
    the access reviews the two servers give, compared word for word."""
    ns, admin = e2e.namespace, e2e.admin
    account = "reader"
    admin.create(core_v1.ServiceAccount, {"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": account, "namespace": ns}})
    rbac = "rbac.authorization.k8s.io/v1"
    admin.apply({"apiVersion": rbac, "kind": "Role", "metadata": {"name": "cm", "namespace": ns},
                 "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                            "verbs": ["get", "list"], "resourceNames": ["settings"]}]})
    admin.apply({"apiVersion": rbac, "kind": "RoleBinding",
                 "metadata": {"name": "cm", "namespace": ns},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                             "name": "cm"},
                 "subjects": [{"kind": "ServiceAccount", "name": account}]})
    user = f"system:serviceaccount:{ns}:{account}"
    reader = _as(e2e, _token(e2e, account))
    admin.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "settings", "namespace": ns}})
    eventually(lambda: reader.request("GET", CM.path(ns, "settings")),
               what="the Role in force", context=lambda: "")

    def status(message: str, **details: str) -> RawObject:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": "Forbidden", "details": details, "code": 403}

    assert _refusal(reader, "GET", CM.path(ns)) == status(
        f'configmaps is forbidden: User "{user}" cannot list resource "configmaps" in API '
        f'group "" in the namespace "{ns}"', kind="configmaps")
    assert _refusal(reader, "DELETE", CM.path(ns, "settings")) == status(
        f'configmaps "settings" is forbidden: User "{user}" cannot delete resource '
        f'"configmaps" in API group "" in the namespace "{ns}"', name="settings",
        kind="configmaps")
    assert _refusal(reader, "GET", "/apis/apps/v1/deployments?watch=1") == status(
        f'deployments.apps is forbidden: User "{user}" cannot watch resource "deployments" '
        'in API group "apps" at the cluster scope', group="apps", kind="deployments")
    assert _refusal(reader, "GET", "/metrics") == status(
        f'forbidden: User "{user}" cannot get path "/metrics"')
    # a binding to a Role that is not there is the refusal's reason
    admin.apply({"apiVersion": rbac, "kind": "RoleBinding",
                 "metadata": {"name": "dangling", "namespace": ns},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                             "name": "missing"},
                 "subjects": [{"kind": "ServiceAccount", "name": account}]})
    dangling = status(
        f'secrets is forbidden: User "{user}" cannot list resource "secrets" in API group "" '
        f'in the namespace "{ns}": RBAC: role.rbac.authorization.k8s.io "missing" not found',
        kind="secrets")
    eventually(lambda: _refusal(reader, "GET", core_v1.Secret.path(ns)) == dangling,
               what="the dangling binding's reason", context=lambda: "")

    def review(**attributes: str) -> RawObject:
        answer = reader.request(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
             "spec": attributes})
        return dict(answer["status"])

    assert review(resourceAttributes={"namespace": ns, "verb": "get", "resource": "configmaps",
                                      "name": "settings"}) == {
        "allowed": True, "reason": f'RBAC: allowed by RoleBinding "cm/{ns}" of Role "cm" to '
                                   f'ServiceAccount "{account}/{ns}"'}
    assert review(resourceAttributes={"namespace": ns, "verb": "get",
                                      "resource": "configmaps", "name": "other"}) == {
        "allowed": False,
        "reason": 'RBAC: role.rbac.authorization.k8s.io "missing" not found'}
    assert review(nonResourceAttributes={"path": "/healthz", "verb": "get"})["allowed"] is True
    whoami = reader.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert whoami["status"]["userInfo"]["username"] == user
    assert whoami["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]


#: the fake's rule-matching table (tests/testkit/apiserver), asked of either server
RULE_CASES: list[RawObject] = yaml.safe_load(
    (ROOT / "tests" / "testkit" / "apiserver" / "rbac_rule_cases.yaml").read_text())


def test_the_rule_matching_table_holds_on_either_server(e2e: E2E) -> None:
    """Each rule of the table in a ClusterRole of its own, bound to an account of its own;
    the account's access review of the table's request gives the table's verdict. A
    sentinel rule (one ConfigMap name) tells when the role is in force, so a "no" is
    never only a binding the authorizer has not seen yet."""
    ns, admin = e2e.namespace, e2e.admin
    rbac = "rbac.authorization.k8s.io/v1"
    readers = []
    for index, case in enumerate(RULE_CASES):
        account, name = f"rule-{index}", f"{ns}-rule-{index}"
        admin.create(core_v1.ServiceAccount, {"apiVersion": "v1", "kind": "ServiceAccount",
                                              "metadata": {"name": account, "namespace": ns}})
        sentinel = {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
                    "resourceNames": [f"sentinel-{index}"]}
        for obj in ({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": name},
                     "rules": [case["rule"], sentinel]},
                    {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": name},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                 "kind": "ClusterRole", "name": name},
                     "subjects": [{"kind": "ServiceAccount", "name": account,
                                   "namespace": ns}]}):
            e2e.remember(type_of(obj), name)
            admin.apply(obj)
        readers.append(_as(e2e, _token(e2e, account)))

    def allowed(reader: KubeEndpoint, spec: RawObject) -> bool:
        answer = reader.request(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
             "spec": spec})
        return bool(answer["status"]["allowed"])

    wrong = []
    for index, (case, reader) in enumerate(zip(RULE_CASES, readers, strict=True)):
        eventually(lambda r=reader, i=index: allowed(r, {"resourceAttributes": {
            "namespace": ns, "verb": "get", "resource": "configmaps",
            "name": f"sentinel-{i}"}}), what=f"rule {index} in force", context=lambda: "")
        if allowed(reader, case["request"]) is not case["allowed"]:
            wrong.append(case)
    assert not wrong, yaml.safe_dump(wrong, sort_keys=False)
