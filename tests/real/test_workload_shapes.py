"""The fake's workload controllers against kube-controller-manager's: the same Deployment
on both, and the Deployment -> ReplicaSet -> Pod objects they make compared in shape.

The real control plane runs the real workload controllers but no kubelet, so its pods
never turn Ready: the fake runs its ``workloads`` controllers without its kubelet, and
both must end at the same status (replicas made, none ready), the same conditions (types,
statuses, reasons, messages, order), annotations, labels, ownerReferences and
managedFields managers. Values that differ by nature are projected away: times, uids,
the hash itself (the fake's is not upstream's), the pods' random suffixes.
"""

from __future__ import annotations

import time
from typing import Any

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.controllers import DEFAULT_CONTROLLERS
from kubeplan.testkit.endpoint import KubeEndpoint
from kubeplan.testkit.vtime import LoopClock, run_virtual

Obj = dict[str, Any]


def deployment(replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def managers(obj: Obj) -> list[tuple[str, str, str]]:
    """The controllers' managedFields entries (the test's own client is named apart)."""
    return sorted(
        (m["manager"], m["operation"], m.get("subresource") or "")
        for m in obj["metadata"].get("managedFields") or ()
        if m["manager"] in ("kube-controller-manager", "kubelet")
    )


def owners(obj: Obj) -> list[tuple[str, str, bool, bool]]:
    return [
        (r["apiVersion"], r["kind"], r.get("controller", False), r.get("blockOwnerDeletion", False))
        for r in obj["metadata"].get("ownerReferences") or ()
    ]


def revision(obj: Obj) -> int:
    return int(obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


def shape(d: Obj, replica_sets: list[Obj], pods: list[Obj]) -> Obj:
    """What must agree, with the hashes, names and times taken out."""
    replica_sets = sorted(replica_sets, key=revision)
    names = {
        rs["metadata"]["name"]: f"<rs{revision(rs)}>" for rs in replica_sets
    } | {rs["metadata"]["labels"]["pod-template-hash"]: f"<hash{revision(rs)}>"
         for rs in replica_sets}

    def plain(text: str) -> str:
        for name, stands_for in names.items():
            text = text.replace(name, stands_for)
        return text

    status = d.get("status") or {}
    return {
        "deployment annotations": d["metadata"].get("annotations"),
        "deployment status": {k: v for k, v in status.items() if k != "conditions"},
        "deployment conditions": [
            (c["type"], c["status"], c["reason"], plain(c["message"]), sorted(c))
            for c in status.get("conditions") or ()
        ],
        "deployment managers": managers(d),
        "replica sets": [
            {
                "name": plain(rs["metadata"]["name"]),
                "labels": {k: plain(v) for k, v in rs["metadata"]["labels"].items()},
                "annotations": rs["metadata"].get("annotations"),
                "owners": owners(rs),
                "replicas": rs["spec"]["replicas"],
                "selector": {
                    k: plain(v) for k, v in rs["spec"]["selector"]["matchLabels"].items()
                },
                "template labels": {
                    k: plain(v) for k, v in rs["spec"]["template"]["metadata"]["labels"].items()
                },
                "status": rs.get("status"),
                "managers": managers(rs),
            }
            for rs in replica_sets
        ],
        "pods": sorted(
            (
                plain(p["metadata"]["generateName"]),
                len(p["metadata"]["name"]) - len(p["metadata"]["generateName"]),
                tuple(sorted((k, plain(v)) for k, v in p["metadata"]["labels"].items())),
                tuple(owners(p)),
                tuple(managers(p)),
                (p.get("status") or {}).get("phase"),
                p["spec"]["containers"][0]["image"],
            )
            for p in pods
        ),
    }


NEW_IMAGE = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}
STRATEGIC = "application/strategic-merge-patch+json"


def settled(read: Any, want_pods: int, want_rs: int) -> Obj:
    """Poll ``read()`` (deployment, replica sets, pods) until its shape holds still."""
    last: Obj | None = None
    steady_since = time.monotonic()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        d, rss, pods = read()
        current = (
            shape(d, rss, pods)
            if len(rss) == want_rs and len(pods) == want_pods and (d.get("status") or {})
            else None
        )
        if current is not None and current == last:
            if time.monotonic() - steady_since > 3:
                return current
        else:
            steady_since = time.monotonic()
        last = current
        time.sleep(0.3)
    raise AssertionError(f"the real controllers did not settle: {last}")


def real_shapes(server: KubeEndpoint) -> list[Obj]:
    ns = server.namespace
    apps = f"/apis/apps/v1/namespaces/{ns}"

    def read() -> tuple[Obj, list[Obj], list[Obj]]:
        return (
            server.request("GET", f"{apps}/deployments/web"),
            server.request("GET", f"{apps}/replicasets")["items"],
            server.request("GET", f"/api/v1/namespaces/{ns}/pods")["items"],
        )

    server.request("POST", f"{apps}/deployments", deployment(2))
    first = settled(read, 2, 1)
    server.request("PATCH", f"{apps}/deployments/web", NEW_IMAGE, content_type=STRATEGIC)
    return [first, settled(read, 3, 2)]


def fake_shapes() -> list[Obj]:
    async def run() -> list[Obj]:
        from kubeplan.core.k8s import apps_v1

        server = FakeApiServer(clock=LoopClock(), controllers=DEFAULT_CONTROLLERS | {"workloads"})
        shapes = []
        async with server:
            client = server.client()
            rs_info = server.registry.lookup("apps", "v1", "replicasets")
            assert rs_info is not None

            def read() -> Obj:
                d = server.get_object("apps/v1", "deployments", "web", "default")
                assert d is not None
                rss = [server.writer.present(o, rs_info)
                       for o in server.store.objects("replicasets.apps", "default")]
                return shape(d, rss, list(server.store.objects("pods", "default")))

            body = deployment(2)
            body["metadata"]["namespace"] = "default"
            await client.create(apps_v1.Deployment, body)
            await server.settle()
            shapes.append(read())
            await client.patch(apps_v1.Deployment, "web", NEW_IMAGE, namespace="default",
                               patch_type="strategic")
            await server.settle()
            shapes.append(read())
        return shapes

    return run_virtual(run())


def test_a_deployment_and_its_rollout_are_shaped_as_kube_controller_manager_makes_them(
    real_kube_apiserver: KubeEndpoint,
) -> None:
    """Created, then a new template: the new ReplicaSet gets its surge pod while the old
    one keeps both (no pod is available to give up), on both servers alike."""
    real = real_shapes(real_kube_apiserver)
    fake = fake_shapes()
    assert fake[0] == real[0]
    assert either_progress(fake[1]) == either_progress(real[1])


# kube-controller-manager writes NewReplicaSetCreated when it makes the new ReplicaSet and
# replaces it with ReplicaSetUpdated only in a later sync that sees updatedReplicas grow
# (syncRolloutStatus: DeploymentProgressing compares with the stored status). Whether that
# later sync happens before the new ReplicaSet's status lands is a race, so a settled real
# rollout shows either pair; each is upstream's own (reason, message) for the new set.
NEW_SET_PROGRESSING = {
    ("NewReplicaSetCreated", 'Created new replica set "<rs2>"'),
    ("ReplicaSetUpdated", 'ReplicaSet "<rs2>" is progressing.'),
}


def either_progress(shape: Obj) -> Obj:
    """``shape`` with the Progressing condition's reachable (reason, message) pairs merged."""
    conditions = []
    for kind, status, reason, message, keys in shape["deployment conditions"]:
        if kind == "Progressing" and status == "True" and (reason, message) in NEW_SET_PROGRESSING:
            reason, message = "<new set progressing>", "<rs2>"
        conditions.append((kind, status, reason, message, keys))
    return shape | {"deployment conditions": conditions}


def statefulset() -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "redis"}]},
            },
        },
    }


def sts_shape(sts: Obj, pods: list[Obj]) -> Obj:
    status = dict(sts.get("status") or {})
    revision = status.get("updateRevision", "")

    def plain(text: str) -> str:
        return text.replace(revision, "<revision>")

    for key in ("currentRevision", "updateRevision"):
        if key in status:
            status[key] = plain(status[key])
    return {
        "status": status,
        "revision": revision.startswith("db-"),
        "managers": managers(sts),
        "pods": sorted(
            (
                p["metadata"]["name"],
                tuple(sorted((k, plain(v)) for k, v in p["metadata"]["labels"].items())),
                tuple(owners(p)),
                tuple(managers(p)),
                p["spec"].get("hostname"),
                p["spec"].get("subdomain"),
            )
            for p in pods
        ),
    }


def test_a_statefulset_waits_at_its_first_unready_pod_as_upstreams_does(
    real_kube_apiserver: KubeEndpoint,
) -> None:
    """No kubelet on either side: ``db-0`` is made and never turns ready, so neither
    controller makes ``db-1``; the status and the pod agree."""
    server = real_kube_apiserver
    ns = server.namespace
    server.request("POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", statefulset())
    last: Obj | None = None
    steady_since = time.monotonic()
    deadline = time.monotonic() + 90
    real: Obj | None = None
    while time.monotonic() < deadline:
        sts = server.request("GET", f"/apis/apps/v1/namespaces/{ns}/statefulsets/db")
        pods = server.request("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
        current = sts_shape(sts, pods) if pods and sts.get("status") else None
        if current is not None and current == last and time.monotonic() - steady_since > 3:
            real = current
            break
        if current != last:
            steady_since = time.monotonic()
        last = current
        time.sleep(0.3)
    assert real is not None, f"the real controllers did not settle: {last}"

    async def run() -> Obj:
        from kubeplan.core.k8s import apps_v1

        fake = FakeApiServer(clock=LoopClock(), controllers=DEFAULT_CONTROLLERS | {"workloads"})
        async with fake:
            body = statefulset()
            body["metadata"]["namespace"] = "default"
            await fake.client().create(apps_v1.StatefulSet, body)
            await fake.settle()
            sts = fake.get_object("apps/v1", "statefulsets", "db", "default")
            assert sts is not None
            return sts_shape(sts, list(fake.store.objects("pods", "default")))

    assert run_virtual(run()) == real
