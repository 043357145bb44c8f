"""examples/decorator end to end: children of Services and Namespaces, objects kubeplan
does not own, through `kubeplan run` on the chosen server (fake, real or both).

The Namespace decorator's label selector goes to the server. Removing the label makes
the server send the operator's watch a DELETED event for a Namespace that still exists;
the operator must not take it for a deletion (its ResourceQuota is kept, as
``unmatched_children="keep"`` says). The Service decorator filters on an annotation,
client-side; removing it deletes the NetworkPolicy. Neither writes its parent.
"""

from __future__ import annotations

from e2e_support import E2E, NAMESPACE_GONE, RawObject, eventually, meta, owner_uids, stays

from kubeplan.core.k8s import core_v1, networking_v1

TARGET = "examples/decorator/decorator_operator.py"
QUOTA_LABEL = "example.kubeplan.dev/quota"
POLICY = "example.kubeplan.dev/network-policy"


def _quota(e2e: E2E, namespace: str, pods: str) -> RawObject:
    def check() -> RawObject | None:
        found = e2e.admin.get(core_v1.ResourceQuota, "default-quota", namespace)
        return found if ((found or {}).get("spec") or {}).get("hard", {}).get(
            "pods") == pods else None

    return eventually(check, what=f"ResourceQuota {namespace}/default-quota with {pods} pods",
                      context=e2e.logs)


def test_a_namespace_gets_a_quota_and_keeps_it_when_it_leaves_the_selection(e2e: E2E) -> None:
    e2e.operator(f"{TARGET}:namespace_quota")
    admin = e2e.admin
    name = f"{e2e.namespace}-quota"[:63]
    e2e.remember(core_v1.Namespace, name)
    namespace = admin.create(core_v1.Namespace, {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {QUOTA_LABEL: "small"}}})
    quota = _quota(e2e, name, "10")
    assert owner_uids(quota) == [meta(namespace)["uid"]]

    admin.merge_patch(core_v1.Namespace, name, {"metadata": {"labels": {QUOTA_LABEL: "large"}}})
    _quota(e2e, name, "100")

    # out of the selection: the watch says DELETED, the Namespace is still there
    admin.merge_patch(core_v1.Namespace, name, {"metadata": {"labels": {QUOTA_LABEL: None}}})
    stays(lambda: admin.get(core_v1.ResourceQuota, "default-quota", name) is not None,
          what="the quota of a Namespace that left the selection was deleted", duration=3.0)
    stored = admin.get(core_v1.Namespace, name)
    assert stored is not None and not meta(stored).get("finalizers"), stored
    assert "status" not in stored or stored["status"].get("conditions") is None

    # back in: synced again (the quota follows the label)
    admin.merge_patch(core_v1.Namespace, name, {"metadata": {"labels": {QUOTA_LABEL: "small"}}})
    _quota(e2e, name, "10")


def test_an_annotated_service_gets_a_network_policy_until_the_annotation_goes(e2e: E2E) -> None:
    e2e.operator(f"{TARGET}:network_policy")
    admin, ns = e2e.admin, e2e.namespace
    service = admin.create(core_v1.Service, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": ns, "annotations": {POLICY: "isolate"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    policy = eventually(
        lambda: admin.get(networking_v1.NetworkPolicy, "isolate-web", ns),
        what="NetworkPolicy isolate-web", context=e2e.logs)
    assert owner_uids(policy) == [meta(service)["uid"]]
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}

    admin.merge_patch(core_v1.Service, "web", {"metadata": {"annotations": {POLICY: None}}}, ns)
    admin.gone(networking_v1.NetworkPolicy, "isolate-web", ns)
    stored = admin.get(core_v1.Service, "web", ns)
    assert stored is not None and not meta(stored).get("finalizers")
    assert not (stored.get("status") or {}).get("conditions")


def test_a_namespace_leaving_the_selection_loses_our_finalizer(e2e: E2E) -> None:
    """On the real server too, the DELETED event of a Namespace relabelled out of the
    selection is told from a deletion (one GET): the finalizer goes, the child stays, and
    the Namespace can then be deleted with no operator holding it up."""
    e2e.operator("tests/real/finalizing_decorator.py:operator")
    admin = e2e.admin
    name = f"{e2e.namespace}-limits"[:63]
    finalizer = "kubeplan.dev/e2e-limits"
    e2e.remember(core_v1.Namespace, name)
    admin.create(core_v1.Namespace, {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"e2e.kubeplan.dev/limited": "yes"}}})
    eventually(lambda: admin.get(core_v1.ConfigMap, "limits", name),
               what="ConfigMap limits", context=e2e.logs)
    eventually(lambda: finalizer in (meta(admin.get(core_v1.Namespace, name) or {})
                                     .get("finalizers") or ()),
               what="our finalizer on the Namespace", context=e2e.logs)

    admin.merge_patch(core_v1.Namespace, name,
                      {"metadata": {"labels": {"e2e.kubeplan.dev/limited": "no"}}})
    eventually(lambda: finalizer not in (meta(admin.get(core_v1.Namespace, name) or {})
                                         .get("finalizers") or ()),
               what="our finalizer removed once the Namespace left", context=e2e.logs)
    assert admin.get(core_v1.ConfigMap, "limits", name) is not None
    admin.delete(core_v1.Namespace, name)
    admin.gone(core_v1.Namespace, name, timeout=NAMESPACE_GONE)
