"""What each server adds to an object it is given: defaults, status zero values, the
fields admission fills in. Each sequence creates a few objects and compares the stored
answers (and once with ``dryRun=All``)."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import AnyStep, Step
from diff_kinds import BY_PLURAL, LABEL, Kind

AREA = "defaulting"

CONTAINER: dict[str, Any] = {
    "name": "app", "image": "registry.k8s.io/pause:3.10",
    "ports": [{"containerPort": 8080}, {"containerPort": 9090, "name": "metrics"}],
    "env": [{"name": "A", "value": "1"},
            {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
    "livenessProbe": {"tcpSocket": {"port": 8080}},
    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
}
POD_SPEC: dict[str, Any] = {
    "initContainers": [{"name": "init", "image": "registry.k8s.io/pause:3.10"}],
    "containers": [CONTAINER],
    "volumes": [{"name": "data", "emptyDir": {}},
                {"name": "conf", "configMap": {"name": "conf"}},
                {"name": "secret", "secret": {"secretName": "s"}}],
}


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": {LABEL: "{ns}", "app": name}, **extra}


def _create(kind: Kind, body: dict[str, Any], **query: str) -> Step:
    return Step("POST", kind.collection(), body, query=query,
                title=f"create {kind.kind} {body['metadata']['name']}"
                      + (" (dry run)" if query else ""))


def _template(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": name}}, "spec": spec or POD_SPEC}


SEQUENCES: dict[str, list[AnyStep]] = {
    "pod": [
        _create(BY_PLURAL["pods"], {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": _meta("full"), "spec": POD_SPEC}),
        _create(BY_PLURAL["pods"], {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": _meta("dry"), "spec": POD_SPEC},
                dryRun="All"),
        Step("GET", BY_PLURAL["pods"].item("dry"), title="the dry run stored nothing"),
    ],
    "workloads": [
        _create(BY_PLURAL["deployments"], {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("web"),
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                     "template": _template("web")}}),
        _create(BY_PLURAL["deployments"], {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("recreate"),
            "spec": {"selector": {"matchLabels": {"app": "recreate"}},
                     "strategy": {"type": "Recreate"}, "replicas": 0,
                     "template": _template("recreate")}}),
        _create(BY_PLURAL["statefulsets"], {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta("db"),
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "db"}},
                     "serviceName": "db", "template": _template("db"),
                     "volumeClaimTemplates": [{
                         "metadata": {"name": "data"},
                         "spec": {"accessModes": ["ReadWriteOnce"],
                                  "resources": {"requests": {"storage": "1Gi"}}}}]}}),
        _create(BY_PLURAL["daemonsets"], {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta("agent"),
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": _template("agent")}}),
        _create(BY_PLURAL["replicasets"], {
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": _meta("rs"),
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "rs"}},
                     "template": _template("rs")}}),
    ],
    "batch": [
        _create(BY_PLURAL["jobs"], {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("job"),
            "spec": {"suspend": True, "template": {"spec": {
                "restartPolicy": "Never", "containers": [CONTAINER],
                "volumes": [{"name": "data", "emptyDir": {}}]}}}}),
        _create(BY_PLURAL["jobs"], {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("indexed"),
            "spec": {"suspend": True, "completions": 3, "parallelism": 2,
                     "completionMode": "Indexed", "template": {"spec": {
                         "restartPolicy": "OnFailure",
                         "containers": [{"name": "c", "image": "busybox"}]}}}}),
        _create(BY_PLURAL["cronjobs"], {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta("nightly"),
            "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {
                "template": {"spec": {"restartPolicy": "OnFailure",
                                      "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
    ],
    "services": [
        _create(BY_PLURAL["services"], {
            "apiVersion": "v1", "kind": "Service", "metadata": _meta("cluster-ip"),
            "spec": {"selector": {"app": "x"},
                     "ports": [{"port": 80, "targetPort": "http", "name": "http"},
                               {"port": 53, "protocol": "UDP", "name": "dns"}]}}),
        _create(BY_PLURAL["services"], {
            "apiVersion": "v1", "kind": "Service", "metadata": _meta("headless"),
            "spec": {"clusterIP": "None", "selector": {"app": "x"},
                     "ports": [{"port": 80}]}}),
        _create(BY_PLURAL["services"], {
            "apiVersion": "v1", "kind": "Service", "metadata": _meta("node-port"),
            "spec": {"type": "NodePort", "selector": {"app": "x"},
                     "ports": [{"port": 80}]}}),
        _create(BY_PLURAL["services"], {
            "apiVersion": "v1", "kind": "Service", "metadata": _meta("balancer"),
            "spec": {"type": "LoadBalancer", "selector": {"app": "x"},
                     "ports": [{"port": 443}]}}),
        _create(BY_PLURAL["services"], {
            "apiVersion": "v1", "kind": "Service", "metadata": _meta("external"),
            "spec": {"type": "ExternalName", "externalName": "example.com"}}),
    ],
    "config": [
        _create(BY_PLURAL["secrets"], {"apiVersion": "v1", "kind": "Secret",
                                       "metadata": _meta("plain"),
                                       "stringData": {"password": "hunter2"}}),
        _create(BY_PLURAL["secrets"], {"apiVersion": "v1", "kind": "Secret",
                                       "metadata": _meta("tls"),
                                       "type": "kubernetes.io/tls",
                                       "data": {"tls.crt": "", "tls.key": ""}}),
        _create(BY_PLURAL["configmaps"], {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": _meta("binary"),
                                          "binaryData": {"blob": "AAEC"},
                                          "immutable": True}),
        _create(BY_PLURAL["serviceaccounts"], {"apiVersion": "v1", "kind": "ServiceAccount",
                                               "metadata": _meta("robot")}),
        _create(BY_PLURAL["namespaces"], {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": _meta("{ns}-extra")}),
        Step("DELETE", "/api/v1/namespaces/{ns}-extra", compare=False),
    ],
    "networking": [
        _create(BY_PLURAL["ingresses"], {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _meta("ing"),
            "spec": {"rules": [{"host": "example.com", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}),
        _create(BY_PLURAL["networkpolicies"], {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta("allow"),
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}],
                     "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}}),
        _create(BY_PLURAL["poddisruptionbudgets"], {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta("pdb"),
            "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "x"}}}}),
        _create(BY_PLURAL["leases"], {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": _meta("lock"),
            "spec": {}}),
        _create(BY_PLURAL["roles"], {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": _meta("reader"),
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"],
                       "resourceNames": ["a"]}]}),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_defaults(differ: Differ, name: str) -> None:
    if name == "pod":
        differ.wait_for_service_account()
    differ.check(SEQUENCES[name])
