"""Built-in validation (builtin_validation.py): each case is sent to the fake and its
answer compared with what kube-apiserver v1.36.3 answered to the same requests (status,
message and causes recorded from the real server; tests/differential/test_validation.py
compares the two servers live)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apiserver_harness import call, new_server

from kubeplan.testkit.apiserver.builtin_validation import parse_cron_schedule

IMAGE = "registry.k8s.io/pause:3.10"
NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"
BATCH = "/apis/batch/v1/namespaces/default"
J = "application/json"
M = "application/merge-patch+json"
S = "application/strategic-merge-patch+json"

#: a request: method, path, body, content type
Step = tuple[str, str, Any, str]


def C(**kw: Any) -> dict[str, Any]:  # a container
    return {"name": "c", "image": IMAGE, **kw}


def T(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:  # a template
    spec.setdefault("containers", [C()])
    return {"metadata": {"labels": {"app": "a"} if labels is None else labels}, "spec": spec}


SEL: dict[str, Any] = {"matchLabels": {"app": "a"}}


def dep(name: str, kind: str = "Deployment", **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", SEL)
    spec.setdefault("template", T())
    for k in [k for k, v in spec.items() if v is None]:
        del spec[k]
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def pod(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [C()])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def job(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("template", T(None, restartPolicy="Never"))
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def cron(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("schedule", "*/5 * * * *")
    spec.setdefault("jobTemplate", {"spec": {"template": T(None, restartPolicy="Never")}})
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": spec}


def svc(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def rc(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"app": "a"})
    spec.setdefault("template", T())
    for k in [k for k, v in spec.items() if v is None]:
        del spec[k]
    body = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name}}
    return {**body, "spec": spec}


def post(path: str, body: dict[str, Any]) -> Step:
    return ("POST", path, body, J)


D = f"{APPS}/deployments"
P = f"{NS}/pods"

CASES: list[tuple[str, list[Step]]] = [
    ("dep no selector", [post(D, dep("d1", selector=None))]),
    ("dep mismatch", [post(D, dep("d2", selector={"matchLabels": {"app": "other"}}))]),
    ("dep negative replicas", [post(D, dep("d3", replicas=-1))]),
    ("dep no containers", [post(D, dep("d4", template=T(containers=[])))]),
    ("dep empty selector", [post(D, dep("d5", selector={}))]),
    (
        "dep bad selector expr",
        [post(D, dep("d6", selector={"matchExpressions": [{"key": "app", "operator": "Foo"}]}))],
    ),
    (
        "dep selector In no values",
        [post(D, dep("d6b", selector={"matchExpressions": [{"key": "app", "operator": "In"}]}))],
    ),
    (
        "dep selector bad label value",
        [post(D, dep("d6c", selector={"matchLabels": {"app": "a b"}}))],
    ),
    ("dep minReady neg", [post(D, dep("d7", minReadySeconds=-2))]),
    ("dep strategy bad", [post(D, dep("d8", strategy={"type": "Magic"}))]),
    (
        "dep recreate rolling",
        [post(D, dep("d9", strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}))],
    ),
    (
        "dep both zero",
        [
            post(
                D,
                dep(
                    "d10",
                    strategy={
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0},
                    },
                ),
            )
        ],
    ),
    (
        "dep percent",
        [
            post(
                D,
                dep(
                    "d11",
                    strategy={
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": "abc", "maxUnavailable": "150%"},
                    },
                ),
            )
        ],
    ),
    ("dep revhist neg", [post(D, dep("d12", revisionHistoryLimit=-1))]),
    ("dep progress", [post(D, dep("d13", progressDeadlineSeconds=5, minReadySeconds=10))]),
    ("dep restart never", [post(D, dep("d14", template=T(restartPolicy="Never")))]),
    ("dep active deadline", [post(D, dep("d15", template=T(activeDeadlineSeconds=5)))]),
    ("dep template no labels", [post(D, dep("d16", template=T(labels={})))]),
    (
        "dep selector immutable",
        [
            post(D, dep("d17")),
            (
                "PATCH",
                f"{D}/d17",
                {
                    "spec": {
                        "selector": {"matchLabels": {"app": "a", "x": "y"}},
                        "template": {"metadata": {"labels": {"x": "y"}}},
                    }
                },
                S,
            ),
        ],
    ),
    (
        "rs negative",
        [post(f"{APPS}/replicasets", dep("r1", "ReplicaSet", replicas=-1, minReadySeconds=-1))],
    ),
    (
        "rs mismatch",
        [
            post(
                f"{APPS}/replicasets",
                dep("r2", "ReplicaSet", selector={"matchLabels": {"app": "b"}}),
            )
        ],
    ),
    (
        "ds mismatch",
        [
            post(
                f"{APPS}/daemonsets",
                dep("ds1", "DaemonSet", selector={"matchLabels": {"app": "b"}}),
            )
        ],
    ),
    ("ds no selector", [post(f"{APPS}/daemonsets", dep("ds2", "DaemonSet", selector=None))]),
    (
        "ds strategy",
        [post(f"{APPS}/daemonsets", dep("ds3", "DaemonSet", updateStrategy={"type": "Foo"}))],
    ),
    (
        "ds minready",
        [
            post(
                f"{APPS}/daemonsets",
                dep("ds4", "DaemonSet", minReadySeconds=-1, revisionHistoryLimit=-1),
            )
        ],
    ),
    (
        "ds restart",
        [
            post(
                f"{APPS}/daemonsets", dep("ds5", "DaemonSet", template=T(restartPolicy="OnFailure"))
            )
        ],
    ),
    (
        "ds selector immutable",
        [
            post(f"{APPS}/daemonsets", dep("ds6", "DaemonSet")),
            (
                "PATCH",
                f"{APPS}/daemonsets/ds6",
                {
                    "spec": {
                        "selector": {"matchLabels": {"app": "a", "x": "y"}},
                        "template": {"metadata": {"labels": {"x": "y"}}},
                    }
                },
                S,
            ),
        ],
    ),
    (
        "sts mismatch",
        [
            post(
                f"{APPS}/statefulsets",
                dep("s1", "StatefulSet", selector={"matchLabels": {"app": "b"}}),
            )
        ],
    ),
    (
        "sts negative",
        [post(f"{APPS}/statefulsets", dep("s2", "StatefulSet", replicas=-1, minReadySeconds=-1))],
    ),
    (
        "sts podManagement",
        [
            post(
                f"{APPS}/statefulsets",
                dep("s3", "StatefulSet", podManagementPolicy="Foo", updateStrategy={"type": "Bar"}),
            )
        ],
    ),
    ("sts no selector", [post(f"{APPS}/statefulsets", dep("s4", "StatefulSet", selector=None))]),
    (
        "sts update forbidden",
        [
            post(f"{APPS}/statefulsets", dep("s5", "StatefulSet")),
            ("PATCH", f"{APPS}/statefulsets/s5", {"spec": {"serviceName": "x"}}, M),
        ],
    ),
    ("pod no image", [post(P, pod("p1", containers=[{"name": "c"}]))]),
    ("pod no name", [post(P, pod("p2", containers=[{"image": IMAGE}]))]),
    ("pod bad name", [post(P, pod("p3", containers=[C(name="Bad_Name")]))]),
    ("pod dup names", [post(P, pod("p4", containers=[C(), C()]))]),
    ("pod no containers", [post(P, pod("p5", containers=[]))]),
    ("pod port 70000", [post(P, pod("p6", containers=[C(ports=[{"containerPort": 70000}])]))]),
    ("pod port 0", [post(P, pod("p7", containers=[C(ports=[{"containerPort": 0}])]))]),
    (
        "pod port protocol",
        [post(P, pod("p8", containers=[C(ports=[{"containerPort": 80, "protocol": "FOO"}])]))],
    ),
    (
        "pod hostport",
        [post(P, pod("p9", containers=[C(ports=[{"containerPort": 80, "hostPort": 70000}])]))],
    ),
    (
        "pod port name",
        [
            post(
                P,
                pod(
                    "p10",
                    containers=[
                        C(
                            ports=[
                                {"containerPort": 80, "name": "Bad_Name"},
                                {"containerPort": 81, "name": "x" * 20},
                            ]
                        )
                    ],
                ),
            )
        ],
    ),
    (
        "pod port dup name",
        [
            post(
                P,
                pod(
                    "p10b",
                    containers=[
                        C(
                            ports=[
                                {"containerPort": 80, "name": "http"},
                                {"containerPort": 81, "name": "http"},
                            ]
                        )
                    ],
                ),
            )
        ],
    ),
    ("pod restart", [post(P, pod("p11", restartPolicy="Sometimes"))]),
    ("pod dns", [post(P, pod("p12", dnsPolicy="Magic"))]),
    ("pod pull", [post(P, pod("p13", containers=[C(imagePullPolicy="Sometimes")]))]),
    (
        "pod limits",
        [
            post(
                P,
                pod(
                    "p14",
                    containers=[
                        C(resources={"limits": {"cpu": "100m"}, "requests": {"cpu": "200m"}})
                    ],
                ),
            )
        ],
    ),
    ("pod neg req", [post(P, pod("p15", containers=[C(resources={"requests": {"cpu": "-1"}})]))]),
    (
        "pod bad resource",
        [post(P, pod("p15b", containers=[C(resources={"requests": {"foo": "1"}})]))],
    ),
    ("pod init", [post(P, pod("p16", initContainers=[{"name": "c", "image": IMAGE}]))]),
    ("pod term msg", [post(P, pod("p17", containers=[C(terminationMessagePolicy="X")]))]),
    (
        "pod grace neg",
        [post(P, pod("p18", terminationGracePeriodSeconds=-5, activeDeadlineSeconds=0))],
    ),
    (
        "pod env",
        [
            post(
                P,
                pod(
                    "p19",
                    containers=[
                        C(
                            env=[
                                {"name": ""},
                                {
                                    "name": "A",
                                    "value": "x",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                },
                            ]
                        )
                    ],
                ),
            )
        ],
    ),
    (
        "pod volume mount",
        [post(P, pod("p20", containers=[C(volumeMounts=[{"name": "v", "mountPath": "/x"}])]))],
    ),
    (
        "pod volume dup",
        [
            post(
                P,
                pod("p21", volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]),
            )
        ],
    ),
    ("pod volume nosource", [post(P, pod("p21b", volumes=[{"name": "v"}]))]),
    (
        "pod update image ok, other forbidden",
        [post(P, pod("p22")), ("PATCH", f"{P}/p22", {"spec": {"restartPolicy": "Never"}}, M)],
    ),
    (
        "pod image update",
        [
            post(P, pod("p23")),
            ("PATCH", f"{P}/p23", {"spec": {"containers": [C(image="nginx:1.28")]}}, S),
        ],
    ),
    (
        "pvc storage class first set",
        [
            post(
                f"{NS}/persistentvolumeclaims",
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "pvc3"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                },
            ),
            ("PATCH", f"{NS}/persistentvolumeclaims/pvc3", {"spec": {"storageClassName": "x"}}, M),
        ],
    ),
    (
        "rc negative and mismatched",
        [post(f"{NS}/replicationcontrollers", rc("rc2", selector={"app": "b"}, replicas=-1))],
    ),
    ("rc without a template", [post(f"{NS}/replicationcontrollers", rc("rc3", template=None))]),
    (
        "rc restart never",
        [post(f"{NS}/replicationcontrollers", rc("rc4", template=T(restartPolicy="Never")))],
    ),
    ("job always", [post(f"{BATCH}/jobs", job("j1", template=T(None)))]),
    (
        "job negatives",
        [
            post(
                f"{BATCH}/jobs",
                job(
                    "j2",
                    parallelism=-1,
                    completions=-1,
                    backoffLimit=-1,
                    activeDeadlineSeconds=0,
                    ttlSecondsAfterFinished=-1,
                ),
            )
        ],
    ),
    (
        "job no containers",
        [post(f"{BATCH}/jobs", job("j3", template=T(None, restartPolicy="Never", containers=[])))],
    ),
    (
        "job template immutable",
        [
            post(f"{BATCH}/jobs", job("j4", suspend=True)),
            (
                "PATCH",
                f"{BATCH}/jobs/j4",
                {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "other"}]}}}},
                S,
            ),
        ],
    ),
    (
        "job completions immutable",
        [
            post(f"{BATCH}/jobs", job("j5", suspend=True, completions=2)),
            ("PATCH", f"{BATCH}/jobs/j5", {"spec": {"completions": 3}}, M),
        ],
    ),
    ("job completionMode", [post(f"{BATCH}/jobs", job("j6", completionMode="Foo"))]),
    (
        "job manual selector",
        [
            post(
                f"{BATCH}/jobs",
                job("j7", manualSelector=True, selector={"matchLabels": {"app": "b"}}),
            )
        ],
    ),
    (
        "job selector set not manual",
        [post(f"{BATCH}/jobs", job("j8", selector={"matchLabels": {"app": "a"}}))],
    ),
    ("cron schedule", [post(f"{BATCH}/cronjobs", cron("c1", schedule="not a schedule"))]),
    ("cron schedule 6", [post(f"{BATCH}/cronjobs", cron("c2", schedule="61 * * * *"))]),
    ("cron schedule empty", [post(f"{BATCH}/cronjobs", cron("c3", schedule=""))]),
    (
        "cron concurrency",
        [
            post(
                f"{BATCH}/cronjobs",
                cron(
                    "c4",
                    concurrencyPolicy="Sometimes",
                    startingDeadlineSeconds=-1,
                    successfulJobsHistoryLimit=-1,
                    failedJobsHistoryLimit=-1,
                ),
            )
        ],
    ),
    (
        "cron restart always",
        [post(f"{BATCH}/cronjobs", cron("c5", jobTemplate={"spec": {"template": T(None)}}))],
    ),
    ("cron tz", [post(f"{BATCH}/cronjobs", cron("c6", timeZone="Mars/Base"))]),
    ("cron TZ in schedule", [post(f"{BATCH}/cronjobs", cron("c7", schedule="TZ=UTC 0 * * * *"))]),
    ("cron macro", [post(f"{BATCH}/cronjobs", cron("c8", schedule="@hourly"))]),
    ("cron names", [post(f"{BATCH}/cronjobs", cron("c9", schedule="0 0 * JAN-MAR MON"))]),
    ("cron long name", [post(f"{BATCH}/cronjobs", cron("c" * 60))]),
    ("svc no ports", [post(f"{NS}/services", svc("s1", ports=[]))]),
    ("svc port 0", [post(f"{NS}/services", svc("s2", ports=[{"port": 0}]))]),
    (
        "svc port 70000",
        [post(f"{NS}/services", svc("s2b", ports=[{"port": 70000, "targetPort": 70000}]))],
    ),
    (
        "svc targetPort name bad",
        [post(f"{NS}/services", svc("s2c", ports=[{"port": 80, "targetPort": "Bad_Name"}]))],
    ),
    ("svc type", [post(f"{NS}/services", svc("s3", type="Magic"))]),
    ("svc protocol", [post(f"{NS}/services", svc("s4", ports=[{"port": 80, "protocol": "FOO"}]))]),
    (
        "svc externalname no name",
        [post(f"{NS}/services", svc("s5", type="ExternalName", ports=[]))],
    ),
    (
        "svc externalname ok",
        [
            post(
                f"{NS}/services",
                svc("s5b", type="ExternalName", externalName="example.com", ports=[]),
            )
        ],
    ),
    ("svc affinity", [post(f"{NS}/services", svc("s6", sessionAffinity="Sticky"))]),
    (
        "svc bad port name",
        [post(f"{NS}/services", svc("s7", ports=[{"port": 80, "name": "Bad_Name"}]))],
    ),
    (
        "svc nodeport on clusterip",
        [post(f"{NS}/services", svc("s8", ports=[{"port": 80, "nodePort": 30080}]))],
    ),
    ("svc selector bad", [post(f"{NS}/services", svc("s9", selector={"a": "b c"}))]),
    ("svc clusterIP bad", [post(f"{NS}/services", svc("s10", clusterIP="not-an-ip"))]),
    (
        "svc clusterIP immutable",
        [
            post(f"{NS}/services", svc("s11")),
            (
                "PATCH",
                f"{NS}/services/s11",
                {"spec": {"clusterIP": "10.96.99.99", "clusterIPs": ["10.96.99.99"]}},
                M,
            ),
        ],
    ),
    (
        "svc clusterIP immutable2",
        [
            post(f"{NS}/services", svc("s12")),
            ("PATCH", f"{NS}/services/s12", {"spec": {"clusterIP": "10.96.99.98"}}, M),
        ],
    ),
    ("svc extTrafficPolicy", [post(f"{NS}/services", svc("s13", externalTrafficPolicy="Local"))]),
    (
        "cm immutable data",
        [
            post(
                f"{NS}/configmaps",
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "frozen"},
                    "data": {"a": "1"},
                    "immutable": True,
                },
            ),
            ("PATCH", f"{NS}/configmaps/frozen", {"data": {"a": "2"}}, M),
        ],
    ),
    (
        "cm immutable unset",
        [
            post(
                f"{NS}/configmaps",
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "frozen2"},
                    "data": {"a": "1"},
                    "immutable": True,
                },
            ),
            ("PATCH", f"{NS}/configmaps/frozen2", {"immutable": False}, M),
        ],
    ),
    (
        "cm immutable labels ok",
        [
            post(
                f"{NS}/configmaps",
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "frozen3"},
                    "data": {"a": "1"},
                    "immutable": True,
                },
            ),
            ("PATCH", f"{NS}/configmaps/frozen3", {"metadata": {"labels": {"a": "b"}}}, M),
        ],
    ),
    (
        "secret immutable",
        [
            post(
                f"{NS}/secrets",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "frozen"},
                    "data": {"a": "MQ=="},
                    "immutable": True,
                },
            ),
            ("PATCH", f"{NS}/secrets/frozen", {"data": {"a": "Mg=="}, "immutable": None}, M),
        ],
    ),
    (
        "secret type immutable",
        [
            post(
                f"{NS}/secrets",
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "typed"},
                    "data": {"a": "MQ=="},
                },
            ),
            ("PATCH", f"{NS}/secrets/typed", {"type": "foo"}, M),
        ],
    ),
    (
        "pvc spec",
        [
            post(
                f"{NS}/persistentvolumeclaims",
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "pvc"},
                    "spec": {},
                },
            )
        ],
    ),
    (
        "pvc immutable",
        [
            post(
                f"{NS}/persistentvolumeclaims",
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "pvc2"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                },
            ),
            (
                "PATCH",
                f"{NS}/persistentvolumeclaims/pvc2",
                {"spec": {"accessModes": ["ReadWriteMany"]}},
                M,
            ),
        ],
    ),
]

#: what kube-apiserver v1.36.3 answered the last request of each case (status, message,
#: causes as [reason, field]; a message of null is not compared, "{uid}" is the Job's uid)
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "builtin_validation_real.json").read_text("utf-8")
)


@pytest.mark.parametrize("title", list(EXPECTED))
async def test_the_fake_answers_as_the_real_server(title: str) -> None:
    server = new_server()
    steps = dict(CASES)[title]
    for method, path, body, content_type in steps[:-1]:
        response = await call(server, method, path, body, content_type=content_type)
        assert response.status < 300, response.body
    method, path, body, content_type = steps[-1]
    response = await call(server, method, path, body, content_type=content_type)
    expected = EXPECTED[title]
    code, message = expected["status"], expected["message"]
    causes = [tuple(c) for c in expected["causes"]]
    assert response.status == code, response.body
    if code < 300:
        return
    assert response.body is not None
    got = [
        (c["type"] if "type" in c else c["reason"], c["field"])
        for c in response.body["details"]["causes"]
    ]
    assert got == causes
    assert response.body["reason"] == "Invalid"
    if message is not None:
        uid = ""
        if "{uid}" in message:
            uid = response.body["message"].split('controller-uid":"')[1].split('"')[0]
        assert response.body["message"] == message.replace("{uid}", uid)


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        ("*/5 * * * *", None),
        ("0 0 * JAN-MAR MON-FRI", None),
        ("@hourly", None),
        ("@every 1h30m", None),
        ("@sometimes", "unrecognized descriptor: @sometimes"),
        ("not a schedule", "expected exactly 5 fields, found 3: [not a schedule]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ],
)
def test_cron_schedules_parse_as_robfig_cron_parses_them(schedule: str, error: str | None) -> None:
    assert parse_cron_schedule(schedule) == error


async def test_a_valid_deployment_is_still_created_and_a_status_write_is_not_spec_checked() -> None:
    server = new_server()
    created = await call(server, "POST", D, dep("ok"))
    assert created.status == 201, created.body
    # the status subresource does not re-validate the spec (ValidateDeploymentStatusUpdate)
    response = await call(
        server,
        "PATCH",
        f"{D}/ok/status",
        {"status": {"replicas": 0}},
        content_type=M,
    )
    assert response.status == 200, response.body


async def test_an_ingress_needs_a_default_backend_or_rules() -> None:
    # ValidateIngressSpec, on create and on update (an apply giving the rules up too)
    server = new_server()
    ingresses = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    empty = await call(server, "POST", ingresses, {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
        "spec": {}})
    assert empty.status == 422
    [cause] = empty.body["details"]["causes"]
    assert (cause["field"], cause["reason"]) == ("spec", "FieldValueInvalid")
    assert cause["message"] == (  # as kube-apiserver v1.36.3 words it (differential suite)
        "Invalid value: null: either `defaultBackend` or `rules` must be specified")
    made = await call(server, "POST", ingresses, {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
        "spec": {"defaultBackend": backend}})
    assert made.status == 201, made.body
    emptied = await call(server, "PATCH", f"{ingresses}/i", {"spec": {"defaultBackend": None}},
                         content_type=M)
    assert emptied.status == 422
