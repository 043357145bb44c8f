"""Planner cost: one parent, one child at a time, and a 10,000-parent no-op pass.

The world is realistic: each parent has a Deployment (two containers, env, probes, volumes),
a Service and a ConfigMap; the observed copies carry what the API server adds (defaults,
managedFields, status), about 8 KB of JSON for the Deployment. It prints:

1. microseconds to plan one parent whose children are unchanged (the apply memo recognises
   our own write: the no-op path), per parent and per child, and for one 8 KB Deployment alone;
2. the same without the memo (after an operator restart: subset comparison of every field),
   and with the Deployment's resourceVersion moved by someone else's status write;
3. microseconds to plan one changed child (a Replace with its reason rendered);
4. CPU seconds (``time.process_time``) for a no-op planning pass over 10,000 parents x 3
   children (goal: at most 1.5 s), and what that is per child (goal: at most 50 µs);
5. the same comparison done with deepdiff alone (``DeepDiff(observed, desired)`` per child,
   timed on a sample), as a ratio.

    python bench/plan_bench.py [--parents 10000] [--repeat 5]

Timings are the best of ``--repeat`` runs (timeit style); the handler's own cost is not
included (its responses are built beforehand, one fresh set of dicts per parent).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import time
import timeit
from datetime import UTC, datetime
from typing import Any

import orjson
from deepdiff import DeepDiff

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.plan import Plan
from kubeplan.core.planner import plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

Echo = K8sType("bench.kubeplan.dev/v1", "EchoServer", "echoservers")
CONFIG = (
    OperatorConfig("bench", Echo)
    .with_child(apps_v1.Deployment, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.replace())
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
)
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
TIMESTAMP = "2024-05-01T09:00:00Z"


def parent_of(index: int) -> dict[str, Any]:
    return {
        "apiVersion": Echo.api_version,
        "kind": Echo.kind,
        "metadata": {
            "name": f"echo-{index}",
            "namespace": f"team-{index % 50}",
            "uid": f"00000000-0000-4000-8000-{index:012d}",
            "resourceVersion": str(1000 + index),
            "generation": 3,
            "creationTimestamp": TIMESTAMP,
        },
        "spec": {"replicas": 3, "image": "ghcr.io/example/echo:1.4.2", "port": 8080},
    }


def container(name: str, image: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": ["--listen", f":{port}", "--log-format", "json"],
        "ports": [{"name": "http", "containerPort": port}],
        "env": [{"name": f"ECHO_SETTING_{i}", "value": f"value-{i}"} for i in range(14)]
        + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1000m", "memory": "512Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/live", "port": port}, "periodSeconds": 10},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/echo"}],
    }


def desired_children(parent: dict[str, Any]) -> list[dict[str, Any]]:
    """What the handler returns: fresh dicts on every call, as a real handler builds them."""
    name = parent["metadata"]["name"]
    spec = parent["spec"]
    labels = {"app.kubernetes.io/name": "echo", "app.kubernetes.io/instance": name}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": spec["replicas"],
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": {"echo/config": "v7"}},
                "spec": {
                    "containers": [
                        container("echo", spec["image"], spec["port"]),
                        container("metrics", "ghcr.io/example/exporter:0.9.1", 9100),
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": name}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "selector": dict(labels),
            "ports": [
                {"name": "http", "port": 80, "targetPort": spec["port"]},
                {"name": "metrics", "port": 9100, "targetPort": 9100},
            ],
        },
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": dict(labels)},
        "data": {
            "echo.yaml": "\n".join(f"route_{i}: /echo/{i}?delay={i * 10}ms" for i in range(30)),
            "log-level": "info",
        },
    }
    return [deployment, service, config_map]


def fields_v1(value: Any) -> Any:
    """The managedFields shape of a value (``f:`` keys, ``k:`` list keys), as servers store it."""
    if isinstance(value, dict):
        return {f"f:{k}": fields_v1(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(i, dict) and "name" in i
                                                 for i in value):
        return {f'k:{{"name":"{i["name"]}"}}': {".": {}, **fields_v1(i)} for i in value}
    return {}


def server_side(obj: dict[str, Any], uid: str, version: int) -> dict[str, Any]:
    """What the API server stores for a written object: defaults, system metadata, status."""
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    meta.update(uid=uid, resourceVersion=str(version), creationTimestamp=TIMESTAMP)
    meta["managedFields"] = [
        {
            "manager": "kubeplan-bench",
            "operation": "Apply",
            "apiVersion": obj["apiVersion"],
            "time": TIMESTAMP,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1({k: v for k, v in obj.items() if k in ("metadata", "spec",
                                                                        "data")}),
        }
    ]
    kind = obj["kind"]
    if kind == "Deployment":
        meta["generation"] = 1
        spec = out["spec"]
        spec.update(revisionHistoryLimit=10, progressDeadlineSeconds=600,
                    strategy={"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        pod = spec["template"]["spec"]
        pod.update(restartPolicy="Always", dnsPolicy="ClusterFirst",
                   schedulerName="default-scheduler", securityContext={},
                   terminationGracePeriodSeconds=30)
        for c in pod["containers"]:
            c.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log",
                     terminationMessagePolicy="File")
            c["resources"]["limits"]["cpu"] = "1"  # 1000m normalised
            for port in c["ports"]:
                port["protocol"] = "TCP"
            for probe in ("readinessProbe", "livenessProbe"):
                c[probe].update(timeoutSeconds=1, successThreshold=1, failureThreshold=3)
                c[probe]["httpGet"]["scheme"] = "HTTP"
        for volume in pod["volumes"]:
            volume["configMap"]["defaultMode"] = 420
        out["status"] = {
            "observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                {"type": t, "status": "True", "reason": r, "message": m,
                 "lastUpdateTime": TIMESTAMP, "lastTransitionTime": TIMESTAMP}
                for t, r, m in (
                    ("Available", "MinimumReplicasAvailable",
                     "Deployment has minimum availability."),
                    ("Progressing", "NewReplicaSetAvailable",
                     f'ReplicaSet "{meta["name"]}-7c9f8d6b5" has successfully progressed.'),
                )
            ],
        }
    elif kind == "Service":
        spec = out["spec"]
        spec.update(type="ClusterIP", clusterIP="10.96.14.7", clusterIPs=["10.96.14.7"],
                    sessionAffinity="None", ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack",
                    internalTrafficPolicy="Cluster")
        for port in spec["ports"]:
            port["protocol"] = "TCP"
        out["status"] = {"loadBalancer": {}}
    return out


class World:
    """Parents with their observed children, the handler's responses and the memo."""

    def __init__(self, parents: int) -> None:
        self.requests: list[SyncRequest] = []
        self.responses: list[SyncResponse] = []
        memo: dict[str, Any] = {}
        entries = ApplyMemo.empty()
        version = 100_000
        for index in range(parents):
            parent = parent_of(index)
            request = SyncRequest(parent)
            first = plan(CONFIG, request, SyncResponse(desired_children(parent)),
                         memo=entries, now=NOW, has_finalize=False)
            observed = []
            for n, action in enumerate(first.child_actions):
                version += 1
                written = server_side(action.obj, f"{parent['metadata']['uid']}-{n}",
                                      version)
                entries = entries.record_write(action.obj, written)
                observed.append(written)
            status = first.status_update
            parent["status"] = status.status if status else {}
            self.requests.append(SyncRequest.build(parent, observed, config=CONFIG))
            self.responses.append(SyncResponse(desired_children(parent)))
        self.memo = entries
        del memo

    def pass_(self, memo: ApplyMemo | None = None) -> list[Plan]:
        memo = self.memo if memo is None else memo
        return [
            plan(CONFIG, request, response, memo=memo, now=NOW, has_finalize=False)
            for request, response in zip(self.requests, self.responses, strict=True)
        ]


def best_us(fn: Any, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def single(world: World, kind: str) -> tuple[SyncRequest, SyncResponse]:
    """The first parent reduced to one child of this kind."""
    request, response = world.requests[0], world.responses[0]
    child = next(c for c in response.children if c["kind"] == kind)
    observed = [o for _, o in request.children.all() if o["kind"] == kind]
    return (SyncRequest.build(request.parent, observed, config=CONFIG),
            SyncResponse([child], status=response.status))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--deepdiff-sample", type=int, default=60)
    args = parser.parse_args(argv)

    small = World(1)
    request, response = small.requests[0], small.responses[0]
    sizes = {o["kind"]: len(orjson.dumps(o)) for _, o in request.children.all()}
    desired_sizes = {c["kind"]: len(orjson.dumps(c)) for c in response.children}
    assert not plan(CONFIG, request, response, memo=small.memo, now=NOW, has_finalize=False)
    results: dict[str, Any] = {"observed_bytes": sizes, "desired_bytes": desired_sizes}

    def plan_us(req: SyncRequest, resp: SyncResponse, memo: ApplyMemo, number: int = 2000) -> float:
        return best_us(lambda: plan(CONFIG, req, resp, memo=memo, now=NOW, has_finalize=False),
                       number, args.repeat)

    n = len(response.children)
    results["unchanged_parent_us"] = plan_us(request, response, small.memo)
    results["unchanged_child_us"] = results["unchanged_parent_us"] / n
    dep_request, dep_response = single(small, "Deployment")
    results["unchanged_deployment_us"] = plan_us(dep_request, dep_response, small.memo)
    results["unchanged_no_memo_parent_us"] = plan_us(request, response, ApplyMemo.empty())
    results["unchanged_no_memo_deployment_us"] = plan_us(dep_request, dep_response,
                                                         ApplyMemo.empty())

    # Someone else wrote the Deployment's status: its resourceVersion moved, our fields did not.
    moved = copy.deepcopy(next(o for _, o in dep_request.children.all()))
    moved["metadata"]["resourceVersion"] = "999999"
    moved["status"]["readyReplicas"] = 2
    moved_request = SyncRequest.build(dep_request.parent, [moved], config=CONFIG)
    assert not plan(CONFIG, moved_request, dep_response, memo=small.memo, now=NOW,
                    has_finalize=False)
    results["unchanged_deployment_rv_moved_us"] = plan_us(moved_request, dep_response, small.memo)

    # A changed child: the handler asks for another replica count and image.
    changed = copy.deepcopy(dep_response.children[0])
    changed["spec"]["replicas"] = 5
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/example/echo:1.5.0"
    changed_response = SyncResponse([changed], status=dep_response.status)
    changed_plan = plan(CONFIG, dep_request, changed_response, memo=small.memo, now=NOW,
                        has_finalize=False)
    assert len(changed_plan.child_actions) == 1, changed_plan
    results["changed_deployment_us"] = plan_us(dep_request, changed_response, small.memo, 500)
    # A changed list (a container added): the reason is rendered with deepdiff.
    grown = copy.deepcopy(dep_response.children[0])
    grown["spec"]["template"]["spec"]["volumes"].append({"name": "cache", "emptyDir": {}})
    grown["spec"]["template"]["spec"]["containers"][0]["args"].append("--verbose")
    grown_response = SyncResponse([grown], status=dep_response.status)
    results["changed_deployment_list_us"] = plan_us(dep_request, grown_response, small.memo, 200)
    results["changed_example"] = str(
        plan(CONFIG, dep_request, grown_response, memo=small.memo, now=NOW, has_finalize=False)
    )

    # The no-op pass over many parents.
    started = time.process_time()
    world = World(args.parents)
    results["build_world_cpu_s"] = time.process_time() - started
    gc.collect()
    gc.freeze()  # what a long-running operator does with its cache: keep the GC off it
    times = []
    for _ in range(max(1, args.repeat - 2)):
        started = time.process_time()
        plans = world.pass_()
        times.append(time.process_time() - started)
        assert not any(plans), next(str(p) for p in plans if p)
    children = sum(len(r.children) for r in world.requests)
    results["noop_pass_cpu_s"] = min(times)
    results["noop_pass_children"] = children
    results["noop_pass_us_per_child"] = min(times) / children * 1e6
    started = time.process_time()
    world.pass_(ApplyMemo.empty())
    results["no_memo_pass_cpu_s"] = time.process_time() - started
    gc.unfreeze()

    # deepdiff alone: the naive comparison, desired (as written) against observed, per child.
    sample = []
    for req in world.requests[: max(1, args.deepdiff_sample // 3)]:
        first = plan(CONFIG, SyncRequest(req.parent), SyncResponse(desired_children(req.parent)),
                     memo=ApplyMemo.empty(), now=NOW, has_finalize=False)
        by_kind = {o["kind"]: o for _, o in req.children.all()}
        sample.extend((a.obj, by_kind[a.obj["kind"]]) for a in first.child_actions)
    started = time.process_time()
    for desired, observed in sample:
        DeepDiff(observed, desired)
    deepdiff_us = (time.process_time() - started) / len(sample) * 1e6
    results["deepdiff_us_per_child"] = deepdiff_us
    results["deepdiff_ratio"] = deepdiff_us / results["noop_pass_us_per_child"]
    results["deepdiff_pass_estimate_s"] = deepdiff_us * children / 1e6

    report(results, args.parents)
    print(json.dumps({k: v for k, v in results.items() if k != "changed_example"},
                     sort_keys=True))
    ok = results["unchanged_child_us"] <= 50 and results["noop_pass_cpu_s"] <= 1.5 * (
        args.parents / 10_000)
    return 0 if ok else 1


def report(r: dict[str, Any], parents: int) -> None:
    print(f"observed JSON bytes: {r['observed_bytes']}; desired: {r['desired_bytes']}")
    print("plan one parent (µs, best of repeats):")
    print(f"  unchanged, memo hit:      {r['unchanged_parent_us']:8.1f} per parent of 3, "
          f"{r['unchanged_child_us']:6.1f} per child (goal <= 50)")
    print(f"  unchanged Deployment:     {r['unchanged_deployment_us']:8.1f} (one 8 KB child)")
    print(f"  unchanged, rv moved:      {r['unchanged_deployment_rv_moved_us']:8.1f} "
          "(Deployment; status written by others)")
    print(f"  unchanged, no memo:       {r['unchanged_no_memo_parent_us']:8.1f} per parent, "
          f"{r['unchanged_no_memo_deployment_us']:6.1f} Deployment (subset compare)")
    print(f"  changed Deployment:       {r['changed_deployment_us']:8.1f} (replicas + image)")
    print(f"  changed Deployment lists: {r['changed_deployment_list_us']:8.1f} "
          "(reason rendered with deepdiff)")
    print("    " + r["changed_example"].replace("\n", "\n    "))
    print(f"no-op pass, {parents} parents x 3 children ({r['noop_pass_children']} children):")
    print(f"  CPU {r['noop_pass_cpu_s']:.3f} s (goal <= 1.5 s), "
          f"{r['noop_pass_us_per_child']:.1f} µs per child; without memo "
          f"{r['no_memo_pass_cpu_s']:.3f} s; building the world took "
          f"{r['build_world_cpu_s']:.1f} s")
    print(f"deepdiff alone: {r['deepdiff_us_per_child']:.0f} µs per child, "
          f"{r['deepdiff_ratio']:.0f}x the planner's no-op cost; a pass would take "
          f"~{r['deepdiff_pass_estimate_s']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
