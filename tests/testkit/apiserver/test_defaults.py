"""The defaults the fake gives built-in objects, each as an upstream function writes it
(kube-apiserver v1.36: pkg/apis/*/v1/defaults.go, the registry strategies and the
Service REST storage)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from apiserver_harness import DEPLOY, call, deployment, new_server

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.quantity import canonical

PODS = "/api/v1/namespaces/default/pods"
SVCS = "/api/v1/namespaces/default/services"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
APPS = "/apis/apps/v1/namespaces/default"
APPLY = "application/apply-patch+yaml"


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec}}


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}


async def created(server: FakeApiServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await call(server, "POST", path, body)
    assert response.status == 201, response.body
    assert response.body is not None
    return response.body


# --- pods and pod templates ---------------------------------------------------------------


async def test_a_pod_gets_the_pod_spec_and_container_defaults() -> None:
    server = new_server()
    container = {
        "name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "readinessProbe": {"httpGet": {"port": 8080}},
    }
    body = await created(server, PODS, pod("p", containers=[container], volumes=[
        {"name": "cm", "configMap": {"name": "x"}}, {"name": "bare"}]))
    spec = body["spec"]
    # SetDefaults_PodSpec
    assert spec["dnsPolicy"] == "ClusterFirst" and spec["restartPolicy"] == "Always"
    assert spec["schedulerName"] == "default-scheduler" and spec["securityContext"] == {}
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["enableServiceLinks"] is True  # SetDefaults_Pod
    c = spec["containers"][0]
    # SetDefaults_Container; resources is a struct Go always writes
    assert c["imagePullPolicy"] == "IfNotPresent" and c["resources"] == {}
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]  # generated: Protocol
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"  # ..._ObjectFieldSelector
    # SetDefaults_Probe and SetDefaults_HTTPGetAction
    assert c["readinessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
        "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    # SetDefaults_ConfigMapVolumeSource (0644) and SetDefaults_Volume (no source: emptyDir)
    assert spec["volumes"] == [{"name": "cm", "configMap": {"name": "x", "defaultMode": 420}},
                               {"name": "bare", "emptyDir": {}}]
    # podStrategy.PrepareForCreate: generation 1, phase Pending, the QoS class
    assert body["metadata"]["generation"] == 1
    assert body["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("registry.example.com:5000/team/app", "Always"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"), ("Nginx", "IfNotPresent"),
])
async def test_the_pull_policy_follows_the_image_tag(image: str, policy: str) -> None:
    # SetDefaults_Container: Always for ":latest" (or no tag), else IfNotPresent
    server = new_server()
    body = await created(server, PODS, pod("p", containers=[{"name": "c", "image": image}]))
    assert body["spec"]["containers"][0]["imagePullPolicy"] == policy


async def test_requests_default_to_limits_and_set_the_qos_class() -> None:
    server = new_server()
    limited = {"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "0.5",
                                                                     "memory": "1024Mi"}}}
    body = await created(server, PODS, pod("p", containers=[limited]))
    # SetDefaults_Pod copies limits into requests; SetDefaults_ResourceList writes the
    # canonical quantities; ComputePodQOS: requests equal limits for cpu and memory
    assert body["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}
    assert body["status"]["qosClass"] == "Guaranteed"
    burstable = {"name": "c", "image": "x:1", "resources": {"requests": {"cpu": "100m"}}}
    body = await created(server, PODS, pod("q", containers=[burstable]))
    assert body["status"]["qosClass"] == "Burstable"


async def test_pod_level_limits_give_pod_level_requests() -> None:
    # defaultPodRequests (PodLevelResources, on in v1.36): the containers' requests
    # summed for cpu and memory, else the pod's limits
    server = new_server()
    containers = [{"name": "a", "image": "x:1", "resources": {"requests": {"cpu": "100m"}}},
                  {"name": "b", "image": "x:1", "resources": {"requests": {"cpu": "0.2"}}}]
    body = await created(server, PODS, pod("p", containers=containers,
                                           resources={"limits": {"cpu": "1", "memory": "1Gi"}}))
    assert body["spec"]["resources"]["requests"] == {"cpu": "300m", "memory": "1Gi"}


async def test_scheduling_gates_add_the_pod_scheduled_condition() -> None:
    # applySchedulingGatedCondition (podStrategy.PrepareForCreate)
    server = new_server()
    body = await created(server, PODS, pod("p", schedulingGates=[{"name": "wait"}]))
    condition = body["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "PodScheduled", "False", "SchedulingGated")


async def test_deleting_a_pod_answers_it_stamped_with_a_new_generation() -> None:
    # a graceful delete (rest.BeforeDelete) bumps the generation; an unscheduled pod
    # goes at once, with grace period 0
    server = new_server()
    await created(server, PODS, pod("p"))
    response = await call(server, "DELETE", f"{PODS}/p")
    meta = response.body["metadata"]
    assert meta["generation"] == 2 and meta["deletionGracePeriodSeconds"] == 0
    assert "deletionTimestamp" in meta


async def test_a_status_write_keeps_the_qos_class() -> None:
    # podStatusStrategy.PrepareForUpdate: an empty qosClass keeps the stored one
    server = new_server()
    body = await created(server, PODS, pod("p"))
    body["status"] = {"phase": "Running"}
    response = await call(server, "PUT", f"{PODS}/p/status", body)
    assert response.body["status"] == {"phase": "Running", "qosClass": "BestEffort"}


async def test_a_pod_template_gets_the_pod_spec_defaults_but_not_the_pods() -> None:
    server = new_server()
    body = await created(server, DEPLOY, deployment("web"))
    template_spec = body["spec"]["template"]["spec"]
    assert template_spec["dnsPolicy"] == "ClusterFirst"  # SetDefaults_PodSpec
    assert "enableServiceLinks" not in template_spec  # SetDefaults_Pod is for pods only


# --- workloads ----------------------------------------------------------------------------


async def test_a_deployment_gets_its_defaults() -> None:
    server = new_server()
    bare = deployment("web")
    del bare["spec"]["replicas"]
    spec = (await created(server, DEPLOY, bare))["spec"]
    # SetDefaults_Deployment
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600


async def test_a_put_without_the_defaults_is_no_change() -> None:
    # defaults apply to every write body: resending the manifest changes nothing
    server = new_server()
    first = await created(server, DEPLOY, deployment("web"))
    again = deployment("web", resourceVersion=first["metadata"]["resourceVersion"])
    response = await call(server, "PUT", f"{DEPLOY}/web", again)
    assert response.status == 200
    assert response.body["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert response.body["metadata"]["generation"] == 1
    assert response.body["spec"]["strategy"]["type"] == "RollingUpdate"


async def test_a_stateful_set_gets_its_defaults_and_zero_status() -> None:
    server = new_server()
    body = deployment("db")
    body["kind"] = "StatefulSet"
    body["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    out = await created(server, f"{APPS}/statefulsets", body)
    spec = out["spec"]
    # SetDefaults_StatefulSet
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                            "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    # the v1 conversion's TypeMeta; SetDefaults_PersistentVolumeClaim(Spec)
    assert (claim["apiVersion"], claim["kind"]) == ("v1", "PersistentVolumeClaim")
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    # statefulSetStrategy.PrepareForCreate resets status; replicas are written at 0
    assert out["status"] == {"replicas": 0, "availableReplicas": 0}


async def test_a_daemon_set_counts_its_template_generation() -> None:
    server = new_server()
    body = deployment("agent")
    body["kind"] = "DaemonSet"
    del body["spec"]["replicas"]
    out = await created(server, f"{APPS}/daemonsets", body)
    # SetDefaults_DaemonSet
    assert out["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    # daemonSetStrategy.PrepareForCreate: templateGeneration 1, written as the annotation
    annotation = "deprecated.daemonset.template.generation"
    assert out["metadata"]["annotations"] == {annotation: "1"}
    assert out["status"] == {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                             "desiredNumberScheduled": 0, "numberReady": 0}
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    updated = await call(server, "PUT", f"{APPS}/daemonsets/agent", out)
    # PrepareForUpdate: a changed template is the next template generation
    assert updated.body["metadata"]["annotations"][annotation] == "2"
    updated.body["metadata"]["labels"] = {"x": "y"}
    relabelled = await call(server, "PUT", f"{APPS}/daemonsets/agent", updated.body)
    assert relabelled.body["metadata"]["annotations"][annotation] == "2"


async def test_a_job_gets_its_defaults_and_a_selector_nobody_owns() -> None:
    server = new_server()
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "x:1"}]}}}}
    out = await created(server, JOBS, body)
    spec = out["spec"]
    # SetDefaults_Job
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"  # JobPodReplacementPolicy
    assert spec["manualSelector"] is False
    # generateSelector (jobStrategy.PrepareForCreate): the uid and name labels
    uid = out["metadata"]["uid"]
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "controller-uid": uid, "batch.kubernetes.io/controller-uid": uid,
        "job-name": "once", "batch.kubernetes.io/job-name": "once"}
    # SetDefaults_Job again as the stored Job is read back: a Job without labels shows
    # its template's (`kubectl create job`, `--from=cronjob/...`)
    assert out["metadata"]["labels"] == spec["template"]["metadata"]["labels"]
    # an old kubectl's `creationTimestamp: null` in the template is a zero time, not kept
    null_time = {**body, "metadata": {"name": "old-kubectl"}, "spec": {"template": {
        **body["spec"]["template"], "metadata": {"creationTimestamp": None}}}}
    template_meta = (await created(server, JOBS, null_time))["spec"]["template"]["metadata"]
    assert "creationTimestamp" not in template_meta
    labelled = {**body, "metadata": {"name": "mine", "labels": {"team": "a"}}}
    assert (await created(server, JOBS, labelled))["metadata"]["labels"] == {"team": "a"}
    # the strategy runs after the field manager: the creator owns the defaults only
    fields = out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert "f:backoffLimit" in fields and "f:selector" not in fields
    assert "f:metadata" not in fields["f:template"]


async def test_a_cron_job_gets_its_defaults() -> None:
    server = new_server()
    body = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "x:1"}]}}}}}}
    spec = (await created(server, "/apis/batch/v1/namespaces/default/cronjobs", body))["spec"]
    # SetDefaults_CronJob; the job template gets no SetDefaults_Job
    assert spec["concurrencyPolicy"] == "Allow" and spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]
    assert spec["jobTemplate"]["metadata"] == {}  # an empty struct, written as {}


# --- services -----------------------------------------------------------------------------


async def test_a_service_gets_its_defaults_and_a_cluster_ip() -> None:
    server = new_server()
    out = await created(server, SVCS, service("web", ports=[{"port": 80, "name": "http"},
                                                            {"port": 53, "name": "dns",
                                                             "protocol": "UDP"}]))
    spec = out["spec"]
    # SetDefaults_Service
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"][0] == {"port": 80, "name": "http", "protocol": "TCP", "targetPort": 80}
    assert spec["ports"][1]["targetPort"] == 53
    assert spec["internalTrafficPolicy"] == "Cluster" and "externalTrafficPolicy" not in spec
    # the REST storage's allocation: an address of the service range, one IPv4 family
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/16")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert out["status"] == {"loadBalancer": {}}
    # allocation runs after the field manager: nobody owns the address
    fields = out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert "f:clusterIP" not in fields and "f:internalTrafficPolicy" in fields


async def test_node_ports_and_the_traffic_policies() -> None:
    server = new_server()
    spec = (await created(server, SVCS, service("np", type="NodePort")))["spec"]
    assert 30000 <= spec["ports"][0]["nodePort"] <= 32767  # initNodePorts
    assert spec["externalTrafficPolicy"] == "Cluster"  # ExternallyAccessible
    spec = (await created(server, SVCS, service("lb", type="LoadBalancer",
                                                externalTrafficPolicy="Local")))["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert 30000 <= spec["healthCheckNodePort"] <= 32767  # allocHealthCheckNodePort
    assert spec["healthCheckNodePort"] != spec["ports"][0]["nodePort"]


async def test_a_taken_address_or_port_is_refused() -> None:
    server = new_server()
    await created(server, SVCS, service("a", clusterIP="10.96.5.5", type="NodePort",
                                        ports=[{"port": 80, "nodePort": 30080}]))
    response = await call(server, "POST", SVCS, service("b", clusterIP="10.96.5.5"))
    assert response.status == 422
    assert response.body["message"] == (
        'Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.96.5.5"]: failed to '
        "allocate IP 10.96.5.5: provided IP is already allocated")
    response = await call(server, "POST", SVCS, service(
        "c", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert response.status == 422
    assert response.body["details"]["causes"][0]["field"] == "spec.ports[0].nodePort"
    response = await call(server, "POST", SVCS, service("d", clusterIP="10.97.0.1"))
    assert "does not match the current range" in response.body["message"]
    await call(server, "DELETE", f"{SVCS}/a")  # the address is free again
    await created(server, SVCS, service("b", clusterIP="10.96.5.5"))


async def test_an_update_keeps_what_was_allocated() -> None:
    server = new_server()
    first = await created(server, SVCS, service("web", type="NodePort"))
    assert first["spec"]["clusterIP"] and first["spec"]["ports"][0]["nodePort"]
    resent = service("web", type="NodePort")
    resent["metadata"]["resourceVersion"] = first["metadata"]["resourceVersion"]
    response = await call(server, "PUT", f"{SVCS}/web", resent)
    # patchAllocatedValues: the manifest without clusterIP and nodePort is no change
    assert response.body["spec"] == first["spec"]
    assert response.body["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    external = dict(response.body, spec={**response.body["spec"], "type": "ExternalName",
                                         "externalName": "example.com"})
    response = await call(server, "PUT", f"{SVCS}/web", external)
    # dropTypeDependentFields: what an ExternalName service does not use goes
    for gone in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy",
                 "externalTrafficPolicy", "internalTrafficPolicy"):
        assert gone not in response.body["spec"], gone
    assert "nodePort" not in response.body["spec"]["ports"][0]


async def test_a_headless_service_without_selector_requires_dual_stack() -> None:
    # initIPFamilyFields: headless and selectorless defaults to RequireDualStack
    server = new_server()
    body = service("h", clusterIP="None")
    del body["spec"]["selector"]
    spec = (await created(server, SVCS, body))["spec"]
    assert spec["clusterIPs"] == ["None"]
    assert spec["ipFamilyPolicy"] == "RequireDualStack"
    assert spec["ipFamilies"] == ["IPv4", "IPv6"]


async def test_an_applier_owns_no_defaults_and_a_reapply_changes_nothing() -> None:
    server = new_server()
    manifest = deployment("web")
    manifest["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    first = await call(server, "PATCH", f"{DEPLOY}/web", manifest,
                       query={"fieldManager": "op"}, content_type=APPLY)
    assert first.status == 201
    template = first.body["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]
    assert "f:dnsPolicy" not in template["f:spec"]  # the defaults are nobody's
    again = await call(server, "PATCH", f"{DEPLOY}/web", manifest,
                       query={"fieldManager": "op"}, content_type=APPLY)
    assert again.body["metadata"]["resourceVersion"] == first.body["metadata"]["resourceVersion"]
    ports = again.body["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 80, "protocol": "TCP"}]
    # an Update manager owns what the decoder defaulted (as the real field manager does)
    created_by_post = await created(server, DEPLOY, deployment("other"))
    update_fields = created_by_post["metadata"]["managedFields"][0]["fieldsV1"]
    assert "f:dnsPolicy" in update_fields["f:spec"]["f:template"]["f:spec"]


# --- the other kinds ----------------------------------------------------------------------


async def test_the_other_kinds_get_their_defaults() -> None:
    server = new_server()
    ns = "/namespaces/default"
    netpol = await created(server, f"/apis/networking.k8s.io/v1{ns}/networkpolicies", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {"ingress": [{"ports": [{"port": 80}]}], "egress": [{}]}})
    # SetDefaults_NetworkPolicy, SetDefaults_NetworkPolicyPort; podSelector is a struct
    assert netpol["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert netpol["spec"]["ingress"][0]["ports"][0]["protocol"] == "TCP"
    assert netpol["spec"]["podSelector"] == {}
    claim = await created(server, f"/api/v1{ns}/persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1024Mi"}}}})
    # SetDefaults_PersistentVolumeClaim(Spec), SetDefaults_ResourceList
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["spec"]["resources"]["requests"] == {"storage": "1Gi"}
    assert claim["status"] == {"phase": "Pending"}
    secret = await created(server, f"/api/v1{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
    assert secret["type"] == "Opaque"  # SetDefaults_Secret
    binding = await created(server, f"/apis/rbac.authorization.k8s.io/v1{ns}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}]})
    # SetDefaults_RoleBinding, SetDefaults_Subject
    assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert binding["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in binding["subjects"][1]
    pdb = await created(server, f"/apis/policy/v1{ns}/poddisruptionbudgets", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "d"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"a": "b"}}}})
    # podDisruptionBudgetStrategy.PrepareForCreate: the reset status's counters
    assert pdb["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0,
                             "desiredHealthy": 0, "expectedPods": 0}
    event = await created(server, f"/api/v1{ns}/events", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "R", "message": "m"})
    # fields without omitempty are written at their zero value
    assert (event["eventTime"], event["firstTimestamp"], event["lastTimestamp"]) == (
        None, None, None)
    assert (event["reportingComponent"], event["source"]) == ("", {})


@pytest.mark.parametrize(("given", "stored"), [
    ("0.5", "500m"), ("1024Mi", "1Gi"), ("1000m", "1"), ("1.5Gi", "1536Mi"),
    ("100m", "100m"), ("1000", "1k"), ("1500", "1500"), ("1e3", "1e3"), (2, "2"),
    ("0.0001", "1m"), ("1500u", "2m"), ("3072Ki", "3Mi"),
])
def test_quantities_are_written_in_canonical_form(given: Any, stored: str) -> None:
    # resource.Quantity's CanonicalizeBytes, after SetDefaults_ResourceList's RoundUp(milli)
    assert canonical(given, milli=True) == stored
