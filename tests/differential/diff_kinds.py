"""The built-in kinds the fake serves (its ``registry.BUILTIN_RESOURCES``), each with a
minimal valid object, for the sequences of several areas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

Body = dict[str, Any]
LABEL = "diff.kubeplan.dev/seq"  # every object a sequence makes carries it: {ns}


def _pod_spec(restart: str = "Always") -> Body:
    spec: Body = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    if restart != "Always":
        spec["restartPolicy"] = restart
    return spec


def _template(app: str, restart: str = "Always") -> Body:
    return {"metadata": {"labels": {"app": app}}, "spec": _pod_spec(restart)}


@attrs.frozen
class Kind:
    """One served resource and how to make a small valid object of it."""

    api: str  # "/api/v1", "/apis/apps/v1"
    kind: str
    plural: str
    namespaced: bool
    spec: Callable[[str], Body]  # name -> the object's fields besides metadata
    #: the real server's controller writes the object's status after a write: a
    #: predicate on its answer that says it has (reads made before would be racy)
    settled: Callable[[Body], bool] | None = None
    #: the real server adds a finalizer that only a controller not run here removes
    finalizer_stays: bool = False

    @property
    def api_version(self) -> str:
        return self.api.removeprefix("/apis/").removeprefix("/api/")

    def collection(self, ns: str = "{ns}") -> str:
        return (f"{self.api}/namespaces/{ns}/{self.plural}" if self.namespaced
                else f"{self.api}/{self.plural}")

    def item(self, name: str, ns: str = "{ns}") -> str:
        return f"{self.collection(ns)}/{name}"

    def obj(self, name: str, labels: dict[str, str] | None = None) -> Body:
        meta: Body = {"name": name, "labels": {LABEL: "{ns}", **(labels or {})}}
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": meta,
                **self.spec(name)}

    def name(self, base: str) -> str:
        """Cluster-scoped names carry the namespace (unique in the session)."""
        return base if self.namespaced else f"{{ns}}-{base}"


def observed(body: Body) -> bool:
    """A workload controller has seen the object's current generation."""
    status = body.get("status") or {}
    return bool(status.get("observedGeneration") == (body.get("metadata") or {}).get(
        "generation"))


def _condition(body: Body, type_: str) -> Body:
    for condition in (body.get("status") or {}).get("conditions") or ():
        if condition.get("type") == type_:
            return dict(condition)
    return {}


def rolled_out(body: Body) -> bool:
    """The deployment controller finished with this generation (its last status write)."""
    return observed(body) and _condition(body, "Progressing").get(
        "reason") == "NewReplicaSetAvailable" and _condition(body, "Available").get(
        "status") == "True"


def job_suspended(body: Body) -> bool:
    return _condition(body, "Suspended").get("status") == "True"


def _selector(app: str) -> Body:
    return {"matchLabels": {"app": app}}


KINDS: tuple[Kind, ...] = (
    Kind("/api/v1", "Namespace", "namespaces", False, lambda n: {}),
    Kind("/api/v1", "ConfigMap", "configmaps", True, lambda n: {"data": {"a": "1"}}),
    Kind("/api/v1", "Secret", "secrets", True,
         lambda n: {"data": {"a": "MQ=="}, "stringData": {"b": "two"}}),
    Kind("/api/v1", "Service", "services", True,
         lambda n: {"spec": {"selector": {"app": n}, "ports": [{"port": 80}]}}),
    Kind("/api/v1", "ServiceAccount", "serviceaccounts", True, lambda n: {}),
    Kind("/api/v1", "Pod", "pods", True, lambda n: {"spec": _pod_spec()}),
    Kind("/api/v1", "PersistentVolumeClaim", "persistentvolumeclaims", True,
         lambda n: {"spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}},
         finalizer_stays=True),
    Kind("/api/v1", "Event", "events", True,
         lambda n: {"involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": "{ns}",
                                       "apiVersion": "v1"},
                    "reason": "Tested", "message": "a test event", "type": "Normal",
                    "source": {"component": "differential"}}),
    Kind("/apis/apps/v1", "Deployment", "deployments", True,
         lambda n: {"spec": {"replicas": 0, "selector": _selector(n),
                             "template": _template(n)}}, settled=rolled_out),
    Kind("/apis/apps/v1", "StatefulSet", "statefulsets", True,
         lambda n: {"spec": {"replicas": 0, "selector": _selector(n), "serviceName": n,
                             "template": _template(n)}}, settled=observed),
    Kind("/apis/apps/v1", "DaemonSet", "daemonsets", True,
         lambda n: {"spec": {"selector": _selector(n), "template": _template(n)}},
         settled=observed),
    Kind("/apis/apps/v1", "ReplicaSet", "replicasets", True,
         lambda n: {"spec": {"replicas": 0, "selector": _selector(n),
                             "template": _template(n)}}, settled=observed),
    Kind("/apis/batch/v1", "Job", "jobs", True,
         lambda n: {"spec": {"suspend": True, "template": _template(n, "Never")}},
         settled=job_suspended),
    Kind("/apis/batch/v1", "CronJob", "cronjobs", True,
         lambda n: {"spec": {"schedule": "0 0 1 1 *", "suspend": True, "jobTemplate": {
             "spec": {"template": _template(n, "OnFailure")}}}}),
    Kind("/apis/coordination.k8s.io/v1", "Lease", "leases", True,
         lambda n: {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
    Kind("/apis/events.k8s.io/v1", "Event", "events", True,
         lambda n: {"eventTime": "2024-01-01T00:00:00.000000Z",
                    "reportingController": "kubeplan.dev/differential",
                    "reportingInstance": "differential-1", "action": "Testing",
                    "reason": "Tested", "type": "Normal", "note": "a test event",
                    "regarding": {"kind": "ConfigMap", "name": "x", "namespace": "{ns}",
                                  "apiVersion": "v1"}}),
    Kind("/apis/networking.k8s.io/v1", "Ingress", "ingresses", True,
         lambda n: {"spec": {"defaultBackend": {"service": {"name": n,
                                                            "port": {"number": 80}}}}}),
    Kind("/apis/networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True,
         lambda n: {"spec": {"podSelector": {"matchLabels": {"app": n}}}}),
    Kind("/apis/policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True,
         lambda n: {"spec": {"minAvailable": 1, "selector": _selector(n)}},
         settled=observed),
    Kind("/apis/rbac.authorization.k8s.io/v1", "Role", "roles", True,
         lambda n: {"rules": [{"apiGroups": [""], "resources": ["configmaps"],
                               "verbs": ["get", "list"]}]}),
    Kind("/apis/rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True,
         lambda n: {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                "name": n},
                    "subjects": [{"kind": "ServiceAccount", "name": "default",
                                  "namespace": "{ns}"}]}),
    Kind("/apis/rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False,
         lambda n: {"rules": [{"apiGroups": [""], "resources": ["pods"],
                               "verbs": ["get"]}]}),
    Kind("/apis/rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings",
         False,
         lambda n: {"roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                "kind": "ClusterRole", "name": "view"},
                    "subjects": [{"kind": "User", "name": "someone",
                                  "apiGroup": "rbac.authorization.k8s.io"}]}),
)

BY_PLURAL: dict[str, Kind] = {
    (k.plural if k.api != "/apis/events.k8s.io/v1" else "events.k8s.io"): k for k in KINDS}


def kind_id(kind: Kind) -> str:
    group = kind.api.removeprefix("/apis/").removeprefix("/api/").split("/")[0]
    return kind.plural if group in ("v1", "apps", "batch") else f"{kind.plural}.{group}"
