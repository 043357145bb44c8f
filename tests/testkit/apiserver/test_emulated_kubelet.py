"""The emulated kubelet and workload controllers (``controllers={"kubelet", "workloads"}``):
pods bound, started and made Ready, deleted gracefully; ReplicaSets, Deployments and
StatefulSets making their pods and reporting their status; all of it off by default."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from apiserver_harness import DEPLOY, call, deployment, new_server

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.controllers import DEFAULT_CONTROLLERS

PODS = "/api/v1/namespaces/default/pods"
RS = "/apis/apps/v1/namespaces/default/replicasets"
STS = "/apis/apps/v1/namespaces/default/statefulsets"
ON = DEFAULT_CONTROLLERS | {"kubelet", "workloads"}


def pod(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}


async def started(**kwargs: Any) -> FakeApiServer:
    server = new_server(controllers=kwargs.pop("controllers", ON), **kwargs)
    server.start()
    return server


def pod_changes(server: FakeApiServer, name: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e.type, e.obj)
        for e in server.store.entries_after(0)
        if e.group_resource == "pods" and e.name == name
    ]


async def test_a_pod_is_bound_started_and_ready_as_the_kubelet_reports_it() -> None:
    server = await started()
    assert (await call(server, "POST", PODS, pod("p"))).status == 201
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    st = got["status"]
    assert got["spec"]["nodeName"] == "kubeplan-node"
    assert st["phase"] == "Running"
    assert [c["type"] for c in st["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled",
    ]
    assert all(c["status"] == "True" for c in st["conditions"])
    assert all(c["lastTransitionTime"] == "2024-05-01T10:00:00Z" for c in st["conditions"])
    assert conditions(got)["Ready"]["observedGeneration"] == 1
    assert st["hostIP"] == "172.18.0.2" and st["hostIPs"] == [{"ip": "172.18.0.2"}]
    assert st["podIP"].startswith("10.244.") and st["podIPs"] == [{"ip": st["podIP"]}]
    assert st["startTime"] == "2024-05-01T10:00:00Z"
    assert st["qosClass"] == "BestEffort"
    [container] = st["containerStatuses"]
    assert container["name"] == "app" and container["ready"] and container["started"]
    assert container["image"] == "docker.io/library/nginx:1.27"
    assert container["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert container["containerID"].startswith("containerd://")
    assert container["restartCount"] == 0
    assert container["state"] == {"running": {"startedAt": "2024-05-01T10:00:00Z"}}
    kubelet = [m for m in got["metadata"]["managedFields"] if m["manager"] == "kubelet"]
    assert [(m["operation"], m.get("subresource")) for m in kubelet] == [("Update", "status")]
    node = (await call(server, "GET", "/api/v1/nodes/kubeplan-node")).body
    assert conditions(node)["Ready"]["status"] == "True"
    # the steps a watcher sees: created, bound, containers being created, running
    steps = [(t, o.get("spec", {}).get("nodeName"), o["status"].get("phase"),
              [s["state"] for s in o["status"].get("containerStatuses") or ()])
             for t, o in pod_changes(server, "p")]
    assert steps == [
        ("ADDED", None, "Pending", []),
        ("MODIFIED", "kubeplan-node", "Pending", []),
        ("MODIFIED", "kubeplan-node", "Pending", [{"waiting": {"reason": "ContainerCreating"}}]),
        ("MODIFIED", "kubeplan-node", "Running",
         [{"running": {"startedAt": "2024-05-01T10:00:00Z"}}]),
    ]
    await server.stop()


async def test_container_statuses_carry_resources_mounts_and_the_user() -> None:
    server = await started()
    body = pod("p", securityContext={"runAsUser": 1000, "runAsGroup": 3000,
                                     "supplementalGroups": [4000]},
               volumes=[{"name": "data", "emptyDir": {}}, {"name": "conf", "emptyDir": {}}])
    body["spec"]["containers"][0].update(
        resources={"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}},
        volumeMounts=[{"name": "data", "mountPath": "/data"},
                      {"name": "conf", "mountPath": "/etc/app", "readOnly": True}],
    )
    await call(server, "POST", PODS, body)
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    [container] = got["status"]["containerStatuses"]
    assert container["allocatedResources"] == {"cpu": "100m"}
    assert container["resources"] == {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}}
    assert container["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {"name": "conf", "mountPath": "/etc/app", "readOnly": True,
         "recursiveReadOnly": "Disabled"},
    ]
    assert container["user"] == {"linux": {"uid": 1000, "gid": 3000,
                                           "supplementalGroups": [3000, 4000]}}
    assert got["status"]["qosClass"] == "Burstable"
    # before the runtime made it: the spec's image, no image ID, no container ID
    creating = pod_changes(server, "p")[2][1]["status"]["containerStatuses"][0]
    assert (creating["image"], creating["imageID"]) == ("nginx:1.27", "")
    assert "containerID" not in creating and "started" not in creating
    assert "resources" not in creating and "volumeMounts" in creating
    await server.stop()


async def test_each_pod_gets_its_own_ip_and_a_freed_one_is_used_again() -> None:
    server = await started()
    for name in ("a", "b"):
        await call(server, "POST", PODS, pod(name))
    await server.settle()
    ips = {n: (await call(server, "GET", f"{PODS}/{n}")).body["status"]["podIP"] for n in "ab"}
    assert len(set(ips.values())) == 2
    await call(server, "DELETE", f"{PODS}/a", query={"gracePeriodSeconds": "0"})
    await server.settle()
    await call(server, "POST", PODS, pod("c"))
    await server.settle()
    assert (await call(server, "GET", f"{PODS}/c")).body["status"]["podIP"] == ips["a"]
    await server.stop()


async def test_host_network_pods_take_the_node_ip_and_gated_pods_stay_unscheduled() -> None:
    server = await started()
    await call(server, "POST", PODS, pod("host", hostNetwork=True))
    await call(server, "POST", PODS, pod("gated", schedulingGates=[{"name": "example.com/x"}]))
    await server.settle()
    host = (await call(server, "GET", f"{PODS}/host")).body
    assert host["status"]["podIP"] == "172.18.0.2"
    gated = (await call(server, "GET", f"{PODS}/gated")).body
    assert "nodeName" not in gated["spec"] and gated["status"]["phase"] == "Pending"
    assert conditions(gated)["PodScheduled"]["reason"] == "SchedulingGated"
    await server.stop()


async def test_init_containers_complete_and_sidecars_keep_running() -> None:
    server = await started()
    body = pod("p", initContainers=[
        {"name": "setup", "image": "busybox"},
        {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
    ])
    await call(server, "POST", PODS, body)
    await server.settle()
    st = (await call(server, "GET", f"{PODS}/p")).body["status"]
    setup, proxy = st["initContainerStatuses"]
    assert setup["state"]["terminated"]["reason"] == "Completed"
    assert setup["state"]["terminated"]["exitCode"] == 0 and not setup["started"]
    assert "running" in proxy["state"] and proxy["ready"]
    assert st["phase"] == "Running"
    await server.stop()


async def test_an_unready_pod_runs_but_is_not_ready() -> None:
    server = await started()
    await call(server, "POST", PODS, pod("p", {"kubeplan.dev/fake-kubelet": "unready"}))
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert got["status"]["phase"] == "Running"
    ready = conditions(got)["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [app]"
    assert conditions(got)["ContainersReady"]["status"] == "False"
    [container] = got["status"]["containerStatuses"]
    assert container["started"] and not container["ready"]
    await server.stop()


async def test_a_crashing_pod_is_not_ready_and_restarts() -> None:
    server = await started()
    await call(server, "POST", PODS, pod("p", {"kubeplan.dev/fake-kubelet": "crash"}))
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert conditions(got)["Ready"]["status"] == "False"
    [container] = got["status"]["containerStatuses"]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert container["restartCount"] == 1 and not container["ready"]
    # the annotation taken away: the container runs and turns ready
    got["metadata"]["annotations"] = {}
    assert (await call(server, "PUT", f"{PODS}/p", got)).status == 200
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert conditions(got)["Ready"]["status"] == "True"
    await server.stop()


@pytest.mark.parametrize(("mode", "policy", "phase", "exit_code"), [
    ("succeed", "Never", "Succeeded", 0),
    ("fail", "Never", "Failed", 1),
    ("succeed", "OnFailure", "Succeeded", 0),
    ("fail", "OnFailure", "Running", 1),  # restarted: a crash loop
    ("succeed", "Always", "Running", 0),
])
async def test_containers_that_exit_end_the_pod_unless_its_policy_restarts_them(
    mode: str, policy: str, phase: str, exit_code: int
) -> None:
    server = await started()
    await call(server, "POST", PODS, pod("p", {"kubeplan.dev/fake-kubelet": mode},
                                         restartPolicy=policy))
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert got["status"]["phase"] == phase
    [container] = got["status"]["containerStatuses"]
    assert not container["ready"]
    ready = conditions(got)["Ready"]
    assert ready["status"] == "False"
    if phase == "Running":
        assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert container["lastState"]["terminated"]["exitCode"] == exit_code
    else:
        assert container["state"]["terminated"]["exitCode"] == exit_code
        assert ready["reason"] == ("PodCompleted" if exit_code == 0 else "ContainersNotReady")
        assert conditions(got)["PodReadyToStartContainers"]["status"] == "False"
        # a finished pod is deleted at once, kubelet or not
        await call(server, "DELETE", f"{PODS}/p")
        assert (await call(server, "GET", f"{PODS}/p")).status == 404
    await server.stop()


async def test_a_pending_pod_never_starts() -> None:
    server = await started()
    await call(server, "POST", PODS, pod("p", {"kubeplan.dev/fake-kubelet": "pending"}))
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert got["status"]["phase"] == "Pending"
    assert got["status"]["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ContainerCreating"}
    }
    assert conditions(got)["PodReadyToStartContainers"]["status"] == "False"
    await server.stop()


async def test_readiness_delay_follows_the_virtual_clock() -> None:
    server = await started()
    await call(server, "POST", PODS, pod("p", {"kubeplan.dev/fake-kubelet-ready-after": "10"}))
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert got["status"]["phase"] == "Running"
    assert conditions(got)["Ready"]["status"] == "False"
    await asyncio.sleep(9)
    await server.settle()
    assert conditions((await call(server, "GET", f"{PODS}/p")).body)["Ready"]["status"] == "False"
    await asyncio.sleep(2)
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    ready = conditions(got)["Ready"]
    assert ready["status"] == "True" and ready["lastTransitionTime"] == "2024-05-01T10:00:10Z"
    assert got["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] == (
        "2024-05-01T10:00:00Z"
    )
    await server.stop()


async def test_the_kubelets_ready_delay_applies_to_every_pod() -> None:
    server = await started()
    assert server.controllers.kubelet is not None
    server.controllers.kubelet.ready_delay = 5
    await call(server, "POST", PODS, pod("p"))
    await server.settle()
    assert conditions((await call(server, "GET", f"{PODS}/p")).body)["Ready"]["status"] == "False"
    await asyncio.sleep(6)
    await server.settle()
    assert conditions((await call(server, "GET", f"{PODS}/p")).body)["Ready"]["status"] == "True"
    await server.stop()


async def test_a_graceful_delete_waits_for_the_kubelet_to_stop_the_pod() -> None:
    server = await started()
    await call(server, "POST", PODS, pod("p"))
    await server.settle()
    deleted = await call(server, "DELETE", f"{PODS}/p")
    assert deleted.status == 200
    meta = deleted.body["metadata"]
    assert meta["deletionTimestamp"] == "2024-05-01T10:00:30Z"
    assert meta["deletionGracePeriodSeconds"] == 30
    assert meta["generation"] == 2
    assert (await call(server, "GET", f"{PODS}/p")).status == 200  # kept for the kubelet
    await server.settle()
    assert (await call(server, "GET", f"{PODS}/p")).status == 404
    changes = pod_changes(server, "p")
    assert [t for t, _ in changes[-3:]] == ["MODIFIED", "MODIFIED", "DELETED"]
    stopped = changes[-2][1]
    assert stopped["status"]["phase"] == "Succeeded"
    terminated = stopped["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    assert conditions(stopped)["Ready"]["status"] == "False"
    await server.stop()


@pytest.mark.parametrize(("stop_after", "gone_at", "exit_code", "phase"),
                         [("8", 8, 0, "Succeeded"), ("60", 30, 137, "Failed")])
async def test_containers_that_take_time_to_stop_keep_the_pod_terminating(
    stop_after: str, gone_at: int, exit_code: int, phase: str
) -> None:
    server = await started()
    await call(server, "POST", PODS, pod("p", {"kubeplan.dev/fake-kubelet-stop-after": stop_after}))
    await server.settle()
    await call(server, "DELETE", f"{PODS}/p")
    await server.settle()
    await asyncio.sleep(gone_at - 0.5)
    await server.settle()
    terminating = (await call(server, "GET", f"{PODS}/p")).body
    assert terminating["status"]["phase"] == "Running"
    assert terminating["metadata"]["deletionTimestamp"] == "2024-05-01T10:00:30Z"
    await asyncio.sleep(1)
    await server.settle()
    assert (await call(server, "GET", f"{PODS}/p")).status == 404
    stopped = pod_changes(server, "p")[-2][1]
    assert stopped["status"]["phase"] == phase
    terminated = stopped["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == exit_code
    assert terminated["finishedAt"] == f"2024-05-01T10:00:{gone_at:02d}Z"
    await server.stop()


async def test_a_finalizer_still_holds_a_pod_the_kubelet_stopped() -> None:
    server = await started()
    await call(server, "POST", PODS, {**pod("p"), "metadata": {"name": "p",
                                                               "finalizers": ["x.io/hold"]}})
    await server.settle()
    await call(server, "DELETE", f"{PODS}/p", query={"gracePeriodSeconds": "5"})
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert got["metadata"]["deletionGracePeriodSeconds"] == 0
    assert got["status"]["phase"] == "Succeeded"
    got["metadata"]["finalizers"] = []
    assert (await call(server, "PUT", f"{PODS}/p", got)).status == 200
    assert (await call(server, "GET", f"{PODS}/p")).status == 404
    await server.stop()


async def test_unscheduled_and_grace_zero_deletes_are_immediate() -> None:
    server = await started()
    await call(server, "POST", PODS, pod("gated", schedulingGates=[{"name": "example.com/x"}]))
    await call(server, "POST", PODS, pod("p"))
    await server.settle()
    assert (await call(server, "DELETE", f"{PODS}/gated")).status == 200
    assert (await call(server, "GET", f"{PODS}/gated")).status == 404
    await call(server, "DELETE", f"{PODS}/p", query={"gracePeriodSeconds": "0"})
    assert (await call(server, "GET", f"{PODS}/p")).status == 404
    await server.stop()


async def test_controllers_off_nothing_changes() -> None:
    server = await started(controllers=True)
    await call(server, "POST", PODS, pod("p"))
    await call(server, "POST", DEPLOY, deployment("web", 2))
    await server.settle()
    got = (await call(server, "GET", f"{PODS}/p")).body
    assert "nodeName" not in got["spec"] and got["status"] == {
        "phase": "Pending", "qosClass": "BestEffort"
    }
    assert (await call(server, "GET", RS)).body["items"] == []
    assert (await call(server, "GET", "/api/v1/nodes")).body["items"] == []
    assert "status" not in (await call(server, "GET", f"{DEPLOY}/web")).body or not (
        (await call(server, "GET", f"{DEPLOY}/web")).body["status"].get("replicas")
    )
    deleted = await call(server, "DELETE", f"{PODS}/p")
    assert deleted.body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert (await call(server, "GET", f"{PODS}/p")).status == 404  # gone at once, as before
    await server.stop()


def test_unknown_controllers_are_named() -> None:
    with pytest.raises(ValueError, match="kubelett"):
        FakeApiServer(controllers={"kubelett"})


# --- workloads ------------------------------------------------------------------------------


async def rollout(server: FakeApiServer, name: str) -> dict[str, Any]:
    await server.settle()
    return (await call(server, "GET", f"{DEPLOY}/{name}")).body


async def test_a_deployment_becomes_ready_through_its_replicaset_and_pods() -> None:
    server = await started()
    await call(server, "POST", DEPLOY, deployment("web", 3))
    got = await rollout(server, "web")
    st = got["status"]
    assert st["replicas"] == st["readyReplicas"] == st["availableReplicas"] == 3
    assert st["updatedReplicas"] == 3 and st["observedGeneration"] == 1
    assert "unavailableReplicas" not in st
    assert got["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    available, progressing = st["conditions"]
    assert (available["type"], available["status"], available["reason"]) == (
        "Available", "True", "MinimumReplicasAvailable"
    )
    assert available["message"] == "Deployment has minimum availability."
    [rs] = (await call(server, "GET", RS)).body["items"]
    rs_name = rs["metadata"]["name"]
    hash_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs_name == f"web-{hash_}"
    assert (progressing["type"], progressing["reason"], progressing["message"]) == (
        "Progressing",
        "NewReplicaSetAvailable",
        f'ReplicaSet "{rs_name}" has successfully progressed.',
    )
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash_}
    assert rs["metadata"]["annotations"] == {
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
        "deployment.kubernetes.io/revision": "1",
    }
    assert rs["metadata"]["ownerReferences"][0]["uid"] == got["metadata"]["uid"]
    assert rs["status"] == {
        "replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "terminatingReplicas": 0, "observedGeneration": 1,
    }
    pods = (await call(server, "GET", PODS)).body["items"]
    assert len(pods) == 3
    for p in pods:
        assert p["metadata"]["name"].startswith(f"{rs_name}-")
        assert len(p["metadata"]["name"]) == len(rs_name) + 6
        assert p["metadata"]["generateName"] == f"{rs_name}-"
        assert p["metadata"]["labels"] == {"app": "web", "pod-template-hash": hash_}
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    managers = {(m["manager"], m.get("subresource")) for m in got["metadata"]["managedFields"]}
    assert ("kube-controller-manager", "status") in managers
    await server.stop()


async def test_without_the_kubelet_a_deployment_has_pods_but_none_ready() -> None:
    server = await started(controllers=DEFAULT_CONTROLLERS | {"workloads"})
    await call(server, "POST", DEPLOY, deployment("web", 2))
    st = (await rollout(server, "web"))["status"]
    assert st["replicas"] == 2 and st["unavailableReplicas"] == 2
    assert "readyReplicas" not in st
    available = next(c for c in st["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert [c["type"] for c in st["conditions"]] == ["Available", "Progressing"]
    pods = (await call(server, "GET", PODS)).body["items"]
    assert len(pods) == 2 and all("nodeName" not in p["spec"] for p in pods)
    await server.stop()


async def test_scaling_a_deployment_up_and_down() -> None:
    server = await started()
    await call(server, "POST", DEPLOY, deployment("web", 2))
    await rollout(server, "web")
    patch = {"spec": {"replicas": 5}}
    await call(server, "PATCH", f"{DEPLOY}/web", patch,
               content_type="application/merge-patch+json")
    st = (await rollout(server, "web"))["status"]
    assert st["readyReplicas"] == 5 and st["observedGeneration"] == 2
    assert len((await call(server, "GET", PODS)).body["items"]) == 5
    await call(server, "PATCH", f"{DEPLOY}/web", {"spec": {"replicas": 1}},
               content_type="application/merge-patch+json")
    st = (await rollout(server, "web"))["status"]
    assert st["replicas"] == st["readyReplicas"] == 1
    assert len((await call(server, "GET", PODS)).body["items"]) == 1
    await server.stop()


async def test_a_crashing_template_leaves_the_deployment_unavailable_then_timed_out() -> None:
    server = await started()
    body = deployment("web", 2)
    body["spec"]["progressDeadlineSeconds"] = 60
    body["spec"]["template"]["metadata"]["annotations"] = {"kubeplan.dev/fake-kubelet": "crash"}
    await call(server, "POST", DEPLOY, body)
    st = (await rollout(server, "web"))["status"]
    assert st["replicas"] == 2 and "readyReplicas" not in st
    assert conditions({"status": st})["Available"]["status"] == "False"
    assert conditions({"status": st})["Progressing"]["status"] == "True"
    await asyncio.sleep(62)
    st = (await rollout(server, "web"))["status"]
    progressing = conditions({"status": st})["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"].endswith("has timed out progressing.")
    await server.stop()


async def test_a_template_change_rolls_out_a_new_replicaset() -> None:
    server = await started()
    await call(server, "POST", DEPLOY, deployment("web", 3))
    await rollout(server, "web")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}
    await call(server, "PATCH", f"{DEPLOY}/web", patch,
               content_type="application/strategic-merge-patch+json")
    got = await rollout(server, "web")
    assert got["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    st = got["status"]
    assert st["updatedReplicas"] == st["readyReplicas"] == st["replicas"] == 3
    replica_sets = (await call(server, "GET", RS)).body["items"]
    by_revision = {
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in replica_sets
    }
    assert by_revision["1"]["spec"]["replicas"] == 0 and by_revision["2"]["spec"]["replicas"] == 3
    pods = (await call(server, "GET", PODS)).body["items"]
    assert len(pods) == 3
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:2"}
    # never more than replicas + maxSurge pods at once, never fewer than replicas available
    assert conditions(got)["Progressing"]["reason"] == "NewReplicaSetAvailable"
    await server.stop()


async def test_min_ready_seconds_delays_availability() -> None:
    server = await started()
    body = deployment("web", 1)
    body["spec"]["minReadySeconds"] = 20
    await call(server, "POST", DEPLOY, body)
    st = (await rollout(server, "web"))["status"]
    assert st["readyReplicas"] == 1 and "availableReplicas" not in st
    await asyncio.sleep(21)
    st = (await rollout(server, "web"))["status"]
    assert st["availableReplicas"] == 1
    assert conditions({"status": st})["Available"]["status"] == "True"
    await server.stop()


def statefulset(name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "redis"}]},
                **spec,
            },
        },
    }


async def test_a_statefulset_creates_its_pods_in_order_and_reports_them() -> None:
    server = await started()
    await call(server, "POST", STS, statefulset("db", 3))
    await server.settle()
    got = (await call(server, "GET", f"{STS}/db")).body
    st = got["status"]
    revision = st["updateRevision"]
    assert revision.startswith("db-") and st["currentRevision"] == revision
    assert st["replicas"] == st["readyReplicas"] == st["availableReplicas"] == 3
    assert st["currentReplicas"] == st["updatedReplicas"] == 3
    assert st["observedGeneration"] == 1 and st["collisionCount"] == 0
    created = [e.name for e in server.store.entries_after(0)
               if e.group_resource == "pods" and e.type == "ADDED"]
    assert created == ["db-0", "db-1", "db-2"]
    # each pod came after the one before was ready
    log = server.store.entries_after(0)
    ready_at = {
        e.name: e.rv for e in log
        if e.group_resource == "pods" and conditions(e.obj).get("Ready", {}).get("status") == "True"
        and e.type == "MODIFIED"
    }
    added_at = {e.name: e.rv for e in log if e.group_resource == "pods" and e.type == "ADDED"}
    assert ready_at["db-0"] < added_at["db-1"] and ready_at["db-1"] < added_at["db-2"]
    p1 = (await call(server, "GET", f"{PODS}/db-1")).body
    assert p1["metadata"]["labels"] == {
        "app": "db",
        "controller-revision-hash": revision,
        "statefulset.kubernetes.io/pod-name": "db-1",
        "apps.kubernetes.io/pod-index": "1",
    }
    assert p1["spec"]["hostname"] == "db-1" and p1["spec"]["subdomain"] == "db"
    await call(server, "PATCH", f"{STS}/db", {"spec": {"replicas": 1}},
               content_type="application/merge-patch+json")
    await server.settle()
    names = sorted(p["metadata"]["name"] for p in (await call(server, "GET", PODS)).body["items"])
    assert names == ["db-0"]
    deleted = [e.name for e in server.store.entries_after(0)
               if e.group_resource == "pods" and e.type == "DELETED"]
    assert deleted == ["db-2", "db-1"]
    assert (await call(server, "GET", f"{STS}/db")).body["status"]["replicas"] == 1
    await server.stop()


async def test_a_statefulset_rolls_a_new_template_from_the_highest_ordinal() -> None:
    server = await started()
    await call(server, "POST", STS, statefulset("db", 2))
    await server.settle()
    old = (await call(server, "GET", f"{STS}/db")).body["status"]["updateRevision"]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "redis:8"}]}}}}
    await call(server, "PATCH", f"{STS}/db", patch,
               content_type="application/strategic-merge-patch+json")
    await server.settle()
    st = (await call(server, "GET", f"{STS}/db")).body["status"]
    assert st["updateRevision"] != old and st["currentRevision"] == st["updateRevision"]
    assert st["updatedReplicas"] == st["readyReplicas"] == 2
    pods = (await call(server, "GET", PODS)).body["items"]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"redis:8"}
    deleted = [e.name for e in server.store.entries_after(0)
               if e.group_resource == "pods" and e.type == "DELETED"]
    assert deleted == ["db-1", "db-0"]
    await server.stop()
