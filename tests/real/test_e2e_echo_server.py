"""examples/echo-server end to end: Pods (recreate strategy) and a Service (replace), through
`kubeplan run` on the chosen server.

No kubelet runs on either server, so Pods stay Pending and nothing reports them Ready by
itself; the test plays the kubelet for one Pod (a status write through ``pods/status``)
and the operator's ``readyReplicas`` must follow.
"""

from __future__ import annotations

from typing import Any

from e2e_support import (
    E2E,
    EXAMPLES,
    RawObject,
    condition,
    eventually,
    is_synced,
    load_yaml,
    meta,
    owner_uids,
    stays,
    untouched,
)

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

ECHO = K8sType("example.kubeplan.dev/v1", "EchoServer", "echoservers")
POD, SERVICE = core_v1.Pod, core_v1.Service
TARGET = "examples/echo-server/echo_server_operator.py:operator"


def _pods(e2e: E2E, server: str) -> dict[str, RawObject]:
    return {meta(p)["name"]: p for p in e2e.admin.list(
        POD, e2e.namespace, label_selector=f"echo.kubeplan.dev/server={server}")}


def _args(pod: RawObject) -> list[str]:
    return list(pod["spec"]["containers"][0]["args"])


def _pods_say(e2e: E2E, server: str, greeting: str, count: int) -> dict[str, RawObject]:
    names = {f"{server}-{i}" for i in range(count)}

    def check() -> dict[str, RawObject] | None:
        pods = _pods(e2e, server)
        ok = set(pods) == names and all(
            _args(p)[0] == f"-text={greeting}" and not meta(p).get("deletionTimestamp")
            for p in pods.values())
        return pods if ok else None

    return eventually(check, what=f"{count} Pods of {server} saying {greeting!r}",
                      context=e2e.logs)


def _status(e2e: E2E, name: str, **expected: int) -> RawObject:
    def check() -> RawObject | None:
        found = e2e.admin.get(ECHO, name, e2e.namespace)
        status = (found or {}).get("status") or {}
        ok = is_synced(found) and all(status.get(k) == v for k, v in expected.items())
        return found if ok else None

    return eventually(check, what=f"EchoServer {name} synced with {expected}", context=e2e.logs)


def test_echo_server_converges_recreates_repairs_and_is_collected(e2e: E2E) -> None:
    admin, ns = e2e.admin, e2e.namespace
    e2e.operator(TARGET)
    sample = load_yaml(EXAMPLES / "echo-server" / "echoserver.yaml")
    sample["metadata"]["namespace"] = ns
    parent = admin.create(ECHO, sample)
    uid = meta(parent)["uid"]

    pods = _pods_say(e2e, "hello", "Hello from kubeplan", 2)
    assert all(owner_uids(p) == [uid] for p in pods.values())
    assert all(p["status"].get("phase") == "Pending" for p in pods.values())  # no kubelet
    service = eventually(lambda: admin.get(SERVICE, "hello", ns), what="Service hello")
    assert owner_uids(service) == [uid]
    assert service["spec"]["selector"] == {"echo.kubeplan.dev/server": "hello"}
    _status(e2e, "hello", replicas=2, readyReplicas=0)

    # play the kubelet for one Pod: the status counts it
    e2e.admin.endpoint.request(
        "PATCH", POD.path(ns, "hello-0") + "/status",
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
        content_type="application/merge-patch+json")
    _status(e2e, "hello", replicas=2, readyReplicas=1)

    # a new greeting cannot be written into a Pod: each is deleted and created again
    admin.merge_patch(ECHO, "hello", {"spec": {"greeting": "Bye", "replicas": 3}}, ns)
    recreated = _pods_say(e2e, "hello", "Bye", 3)
    assert {meta(recreated[n])["uid"] for n in ("hello-0", "hello-1")}.isdisjoint(
        {meta(p)["uid"] for p in pods.values()})
    _status(e2e, "hello", replicas=3, readyReplicas=0)

    # fewer replicas: the surplus Pods go, the rest stay as they are
    admin.merge_patch(ECHO, "hello", {"spec": {"replicas": 1}}, ns)
    kept = _pods_say(e2e, "hello", "Bye", 1)
    assert meta(kept["hello-0"])["uid"] == meta(recreated["hello-0"])["uid"]

    # drift: the Service's selector is put back, the fields the cluster set survive;
    # a Pod deleted by hand is created again
    before = admin.get(SERVICE, "hello", ns)
    assert before is not None
    admin.merge_patch(SERVICE, "hello", {"spec": {"selector": {"echo.kubeplan.dev/server":
                                                                "elsewhere"}}}, ns)

    def selector_back() -> RawObject | None:
        found = admin.get(SERVICE, "hello", ns) or {}
        ok = (found.get("spec") or {}).get("selector") == {"echo.kubeplan.dev/server": "hello"}
        return found if ok else None

    repaired = eventually(selector_back, what="the Service's selector repaired",
                          context=e2e.logs)
    assert repaired["spec"].get("clusterIP") == before["spec"].get("clusterIP")
    admin.delete(POD, "hello-0", ns)
    again = _pods_say(e2e, "hello", "Bye", 1)
    assert meta(again["hello-0"])["uid"] != meta(kept["hello-0"])["uid"]

    # a foreign Service in the way of a second EchoServer: left alone, reported, and
    # the rest of that EchoServer's children are still made
    foreign = admin.create(SERVICE, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "clash", "namespace": ns},
        "spec": {"selector": {"app": "someone-else"}, "ports": [{"port": 8080}]}})
    admin.create(ECHO, {"apiVersion": ECHO.api_version, "kind": "EchoServer",
                        "metadata": {"name": "clash", "namespace": ns},
                        "spec": {"greeting": "hi", "replicas": 1}})

    def clash() -> dict[str, Any] | None:
        synced = condition(admin.get(ECHO, "clash", ns))
        return synced if synced and synced.get("reason") == "ChildConflict" else None

    reported = eventually(clash, what="EchoServer clash reports the clash", context=e2e.logs)
    assert reported["status"] == "False" and "clash" in reported["message"]
    eventually(lambda: admin.events(ns, "clash", "ChildConflict"),
               what="a ChildConflict Event on clash", context=e2e.logs)
    _pods_say(e2e, "clash", "hi", 1)
    stays(lambda: untouched(foreign, admin.get(SERVICE, "clash", ns)),
          what="the foreign Service was written", duration=2.0)

    # the parents go while no operator runs: the garbage collector removes their children,
    # and the foreign Service, owned by nobody, stays
    assert e2e.operators[0].stop() == 0, e2e.logs()
    admin.delete(ECHO, "hello", ns)
    admin.delete(ECHO, "clash", ns)
    for pod in ("hello-0", "clash-0"):
        admin.gone(POD, pod, ns)
    admin.gone(SERVICE, "hello", ns)
    assert untouched(foreign, admin.get(SERVICE, "clash", ns))
