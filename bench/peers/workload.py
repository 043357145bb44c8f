"""The benchmark workload, shared by the kubeplan and the kopf operator so both build
byte-for-byte the same children.

A ``Trio`` parent (``bench.kubeplan.dev/v1``) wants three children named after it: a
Deployment (two containers with env, probes, resources and a volume: about 3 KB of
JSON as sent, about 8 KB once the server has added defaults and managedFields), a
Service and a ConfigMap of 30 routes. Its status says how many children it has and
which image it rolled out. Changing ``spec.image`` changes the Deployment's first
container image (what the change-latency benchmark watches for).
"""

from __future__ import annotations

from typing import Any

GROUP = "bench.kubeplan.dev"
VERSION = "v1"
KIND = "Trio"
PLURAL = "trios"
NAMESPACE = "default"
#: every child carries it, so the harness can watch exactly the benchmark's children
WORKLOAD_LABEL = "bench.kubeplan.dev/workload"
WORKLOAD_VALUE = "trio"
CHILDREN = 3

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"kind": KIND, "plural": PLURAL, "singular": "trio", "listKind": "TrioList"},
        "versions": [{
            "name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            }}},
        }],
    },
}


def parent(index: int, image: str = "ghcr.io/example/echo:1.0.0") -> dict[str, Any]:
    """The ``index``-th parent as the harness creates it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": f"trio-{index:05d}", "namespace": NAMESPACE},
        "spec": {"replicas": 2, "image": image, "port": 8080},
    }


def _container(name: str, image: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": ["--listen", f":{port}", "--log-format", "json"],
        "ports": [{"name": "http", "containerPort": port}],
        "env": [{"name": f"ECHO_SETTING_{i}", "value": f"value-{i}"} for i in range(14)]
        + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/live", "port": port}, "periodSeconds": 10},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/echo"}],
    }


def children(name: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The three children of parent ``name`` with ``spec``: fresh dicts on every call.

    No namespace and no owner reference: each framework adds those its own way
    (kubeplan's planner, ``kopf.adopt``)."""
    labels = {"app.kubernetes.io/name": "echo", "app.kubernetes.io/instance": name}
    meta_labels = {**labels, WORKLOAD_LABEL: WORKLOAD_VALUE}
    image = spec.get("image", "ghcr.io/example/echo:1.0.0")
    port = int(spec.get("port", 8080))
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(meta_labels)},
        "spec": {
            "replicas": int(spec.get("replicas", 2)),
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": {"echo/config": "v7"}},
                "spec": {
                    "containers": [
                        _container("echo", image, port),
                        _container("metrics", "ghcr.io/example/exporter:0.9.1", 9100),
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": name}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": dict(meta_labels)},
        "spec": {
            "selector": dict(labels),
            "ports": [
                {"name": "http", "port": 80, "targetPort": port},
                {"name": "metrics", "port": 9100, "targetPort": 9100},
            ],
        },
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": dict(meta_labels)},
        "data": {
            "echo.yaml": "\n".join(f"route_{i}: /echo/{i}?delay={i * 10}ms" for i in range(30)),
            "log-level": "info",
        },
    }
    return [deployment, service, config_map]


def status(spec: dict[str, Any]) -> dict[str, Any]:
    """The parent's status once its children are written."""
    return {"children": CHILDREN, "image": spec.get("image", "ghcr.io/example/echo:1.0.0")}
