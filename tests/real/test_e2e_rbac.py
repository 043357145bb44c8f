"""Each example operator running as the ServiceAccount `kubeplan manifests` generates, with
exactly the RBAC it generates, on the real kube-apiserver (RBAC authorisation on).

Everything the manifests hold is applied except the Deployment (no kubelet runs pods);
the operator gets a token for the ServiceAccount from the TokenRequest API and runs as
`kubeplan run` with a kubeconfig holding that token and the CA. It must converge a
parent, repair a deleted child and see the parent through its deletion, and no request
may be refused: a 403 is logged by whichever part met it (watch caches, the executor's
failures, Event posts, Leases) and would show as a ``Synced=False`` condition.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import yaml
from e2e_support import (
    E2E,
    EXAMPLES,
    ROOT,
    RawObject,
    condition,
    eventually,
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
from kubeplan.testkit.endpoint import KubeEndpoint
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
         f"examples/{case.example}/operator.py:operator", "--namespace", namespace,
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
    assert e2e.endpoint.ca_file is not None
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "real", "cluster": {
            "server": e2e.endpoint.url, "certificate-authority": str(e2e.endpoint.ca_file)}}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "real", "user": "operator"}}],
        "current-context": "operator"}))
    path.chmod(0o600)
    return path


#: NamespaceLifecycle admission answers 403 for writes into a terminating namespace: a
#: parent an earlier test left there while its namespace goes says nothing of RBAC
_TERMINATING = "because it is being terminated"


def _refused(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if ("403" in line or "forbidden" in line.lower()) and _TERMINATING not in line]


def _case_id(case: Case) -> str:
    return f"{case.example}{'-'.join(('', *case.mode)).replace('--', '')}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_generated_rbac_is_enough(real_e2e: E2E, case: Case, tmp_path: Path) -> None:
    _runs_as_its_service_account(real_e2e, case, tmp_path)


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


def _runs_as_its_service_account(e2e: E2E, case: Case, tmp_path: Path) -> None:
    admin = e2e.admin
    objects = _manifests(case, e2e.namespace)
    kinds = [o["kind"] for o in objects]
    assert "Deployment" in kinds and "ClusterRole" in kinds
    for obj in objects:
        if obj["kind"] == "Deployment":
            continue  # nothing runs pods here
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            e2e.remember(type_of(obj), meta(obj)["name"])
        admin.apply(obj)
    account = case.operator
    kubeconfig = _kubeconfig(e2e, _token(e2e, account), tmp_path / "operator.kubeconfig")
    operator = e2e.operator(
        f"examples/{case.example}/operator.py:operator", kubeconfig=kubeconfig,
        args=case.mode, env={"POD_NAME": f"{account}-0", "POD_NAMESPACE": e2e.namespace})

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
