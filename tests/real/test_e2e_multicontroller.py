"""examples/multicontroller end to end: secret-sync and service-account-sync in one
`kubeplan run` process on the chosen server, both converging on the namespaces of a team,
following a namespace that joins it and a source that changes."""

from __future__ import annotations

import base64
from collections.abc import Callable

from e2e_support import E2E, EXAMPLES, RawObject, eventually, is_synced, meta, owner_uids, unique

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

SecretSync = K8sType("example.kubeplan.dev/v1", "SecretSync", "secretsyncs", namespaced=False)
ServiceAccountSync = K8sType("example.kubeplan.dev/v1", "ServiceAccountSync",
                             "serviceaccountsyncs", namespaced=False)
FOLDER = "examples/multicontroller"
TARGETS = (f"{FOLDER}/secret_sync_operator.py:operator",
           f"{FOLDER}/service_account_sync_operator.py:operator")
TEAM_LABEL = "example.kubeplan.dev/team"


def _join(e2e: E2E, suffix: str, team: str) -> str:
    name = e2e.namespace_for_test(suffix)
    e2e.admin.merge_patch(core_v1.Namespace, name, {"metadata": {"labels": {TEAM_LABEL: team}}})
    return name


def _found(e2e: E2E, type_: K8sType, name: str, namespace: str,
           check: Callable[[RawObject], bool] | None = None) -> RawObject:
    def look() -> RawObject | None:
        found = e2e.admin.get(type_, name, namespace)
        return found if found and (check is None or check(found)) else None

    return eventually(look, what=f"{type_.kind} {namespace}/{name}", context=e2e.logs)


def test_two_operators_in_one_process_converge_on_a_team(e2e: E2E) -> None:
    assert (EXAMPLES / "multicontroller" / "crd-secret-sync.yaml").is_file()
    admin, ns = e2e.admin, e2e.namespace
    team = unique("team")[:40]
    first = _join(e2e, "t1", team)
    token = base64.b64encode(b"one").decode()
    admin.create(core_v1.Secret, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                  "metadata": {"name": "registry", "namespace": ns},
                                  "data": {"token": token}})
    e2e.operator(TARGETS[0], more_targets=TARGETS[1:])
    secret_sync, account_sync = unique("registry"), unique("deployer")
    e2e.remember(SecretSync, secret_sync)
    e2e.remember(ServiceAccountSync, account_sync)
    secrets_uid = meta(admin.create(SecretSync, {
        "apiVersion": SecretSync.api_version, "kind": SecretSync.kind,
        "metadata": {"name": secret_sync},
        "spec": {"source": {"name": "registry", "namespace": ns}, "team": team}}))["uid"]
    accounts_uid = meta(admin.create(ServiceAccountSync, {
        "apiVersion": ServiceAccountSync.api_version, "kind": ServiceAccountSync.kind,
        "metadata": {"name": account_sync},
        "spec": {"name": "deployer", "team": team, "imagePullSecrets": ["registry"]}}))["uid"]

    copy = _found(e2e, core_v1.Secret, "registry", first)
    assert copy["data"] == {"token": token} and owner_uids(copy) == [secrets_uid]
    account = _found(e2e, core_v1.ServiceAccount, "deployer", first)
    assert account["imagePullSecrets"] == [{"name": "registry"}]
    assert owner_uids(account) == [accounts_uid]

    # a namespace joins the team: both operators hear it through their one Namespace watch
    second = _join(e2e, "t2", team)
    _found(e2e, core_v1.Secret, "registry", second)
    _found(e2e, core_v1.ServiceAccount, "deployer", second)

    # the source changes: every copy follows
    rotated = base64.b64encode(b"two").decode()
    admin.merge_patch(core_v1.Secret, "registry", {"data": {"token": rotated}}, ns)
    for where in (first, second):
        _found(e2e, core_v1.Secret, "registry", where,
               lambda s: s.get("data") == {"token": rotated})
    for type_, name in ((SecretSync, secret_sync), (ServiceAccountSync, account_sync)):
        eventually(lambda t=type_, n=name: is_synced(admin.get(t, n)) or None,
                   what=f"{type_.kind} {name} synced", context=e2e.logs)
