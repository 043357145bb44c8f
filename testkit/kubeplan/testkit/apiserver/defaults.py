"""The defaults kube-apiserver v1.36 gives built-in objects, where it gives them.

Written from upstream's defaulting functions as the spec (``pkg/apis/<group>/<version>/
defaults.go`` and the generated ``zz_generated.defaults.go`` that says which of them
apply to which nested types), the registry strategies' ``PrepareForCreate`` /
``PrepareForUpdate`` and the Service REST storage. Feature gates have their v1.36
default values (``FEATURE_GATES``). Three entry points, one per place the real server
sets fields:

* :func:`apply`: the scheme's defaulting, run on decoding every write body (create,
  update, and the result of every patch and apply). The writer runs it before it
  records managedFields: an Update manager owns the defaults, as on the real server,
  and an applier does not (server-side apply records only the applied configuration).
  Go's serialisation of zero-valued structs (``resources: {}``, an empty template's
  ``metadata: {}``) is reproduced here too: the field manager sees those fields.
* :func:`prepare_create` / :func:`prepare_update`: what the storage layer sets after
  the field manager ran, so nobody owns it: status zero values, a Job's generated
  selector, a DaemonSet's template generation, a pod's QoS class, and the Service
  cluster IP / node port allocation (:mod:`.allocation`).

Everything works in place on a private decoded object and touches only the paths a
default can land on (no copies of whole objects).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from typing import Any

from kubeplan.testkit.apiserver import allocation, autoscaling
from kubeplan.testkit.apiserver.quantity import Quantity, canonical, parse
from kubeplan.testkit.apiserver.registry import ResourceInfo
from kubeplan.testkit.apiserver.store import Store

__all__ = ["FEATURE_GATES", "apply", "prepare_create", "prepare_update"]

Obj = dict[str, Any]

#: The gates the defaulting functions consult, at their v1.36 defaults
#: (``pkg/features/kube_features.go``).
FEATURE_GATES: dict[str, bool] = {
    "ImageVolume": True,  # GA in 1.36
    "JobPodReplacementPolicy": True,  # GA in 1.34
    "MaxUnavailableStatefulSet": False,  # beta, off by default
    "PodLevelResources": True,  # beta, on since 1.34
}

DAEMONSET_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
_RBAC_GROUP = "rbac.authorization.k8s.io"


# --- small helpers: Go's notion of "unset" -----------------------------------------------


def _dict(obj: Any, key: str) -> Obj | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else None


def _ensure(obj: Obj, key: str) -> Obj | None:
    """A struct field (not a pointer): Go decodes a missing one as its zero value."""
    value = obj.get(key)
    if value is None:
        value = obj[key] = {}
    return value if isinstance(value, dict) else None


def _items(obj: Any, key: str) -> Iterator[Obj]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _text(obj: Obj, key: str, value: str) -> None:
    """A string field: "" (or null, or missing) is unset."""
    if obj.get(key) in (None, ""):
        obj[key] = value


def _ptr(obj: Obj, key: str, value: Any) -> None:
    """A pointer field: only null (or missing) is unset."""
    if obj.get(key) is None:
        obj[key] = value


def _num(obj: Obj, key: str, value: int) -> None:
    """An int field: 0 (or null, or missing) is unset."""
    current = obj.get(key)
    if current is None or (current == 0 and not isinstance(current, bool)):
        obj[key] = value


# --- core/v1: quantities ------------------------------------------------------------------


def _resource_list(obj: Obj | None, key: str) -> None:
    """SetDefaults_ResourceList: every quantity rounded up to milli and written in its
    canonical form ("0.5" -> "500m", "1024Mi" -> "1Gi")."""
    values = _dict(obj, key)
    if not values:
        return
    for name, raw in values.items():
        text = canonical(raw, milli=True)
        if text != raw:
            values[name] = text


def _requirements(obj: Obj | None) -> None:
    if obj is not None:
        _resource_list(obj, "limits")
        _resource_list(obj, "requests")


# --- core/v1: pod specs (SetObjectDefaults_PodTemplate and friends) -----------------------

_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"((?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::({_TAG}))?(?:@({_DIGEST}))?"
)


def image_tag(image: Any) -> str:
    """The tag ``parsers.ParseImageName`` finds: "latest" when neither tag nor digest is
    given, "" for a digest only or an image it cannot parse."""
    if not isinstance(image, str) or re.fullmatch(r"[a-f0-9]{64}", image):
        return ""
    match = _REFERENCE.fullmatch(image)
    if match is None:
        return ""
    _name, tag, digest = match.groups()
    return tag or ("" if digest else "latest")


def _pull_policy(image: Any) -> str:
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _http_get(action: Obj | None) -> None:  # SetDefaults_HTTPGetAction
    if action is not None:
        _text(action, "path", "/")
        _text(action, "scheme", "HTTP")


def _probe(probe: Obj | None) -> None:  # SetDefaults_Probe, and its handlers
    if probe is None:
        return
    _num(probe, "timeoutSeconds", 1)
    _num(probe, "periodSeconds", 10)
    _num(probe, "successThreshold", 1)
    _num(probe, "failureThreshold", 3)
    _http_get(_dict(probe, "httpGet"))
    grpc = _dict(probe, "grpc")
    if grpc is not None:
        _ptr(grpc, "service", "")


def _container(container: Obj) -> None:
    """SetDefaults_Container plus the generated walk over its ports, env, resources,
    probes and lifecycle hooks (the same for init and ephemeral containers)."""
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = _pull_policy(container.get("image"))
    _text(container, "terminationMessagePath", "/dev/termination-log")
    _text(container, "terminationMessagePolicy", "File")
    for port in _items(container, "ports"):
        _text(port, "protocol", "TCP")
    for env in _items(container, "env"):
        source = _dict(env, "valueFrom")
        if source is not None:
            field_ref = _dict(source, "fieldRef")
            if field_ref is not None:
                _text(field_ref, "apiVersion", "v1")  # SetDefaults_ObjectFieldSelector
            file_key = _dict(source, "fileKeyRef")
            if file_key is not None:
                _ptr(file_key, "optional", False)
    resources = container.get("resources")
    if resources is None:
        container["resources"] = {}  # a struct: serialised even when empty
    elif isinstance(resources, dict):
        _requirements(resources)
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(_dict(container, key))
    lifecycle = _dict(container, "lifecycle")
    if lifecycle is not None:
        for key in ("postStart", "preStop"):
            _http_get(_dict(_dict(lifecycle, key), "httpGet"))


def _field_refs(items: Iterator[Obj]) -> None:
    for item in items:
        field_ref = _dict(item, "fieldRef")
        if field_ref is not None:
            _text(field_ref, "apiVersion", "v1")


def _claim_spec(spec: Obj | None) -> None:
    """SetDefaults_PersistentVolumeClaimSpec and its resource lists."""
    if spec is None:
        return
    _ptr(spec, "volumeMode", "Filesystem")
    resources = spec.get("resources")
    if resources is None:
        spec["resources"] = {}
    elif isinstance(resources, dict):
        _requirements(resources)


#: Volume sources' defaults beyond SetDefaults_Volume (the generated walk's literals).
_SOURCE_DEFAULTS: dict[str, tuple[tuple[str, Any, Callable[[Obj, str, Any], None]], ...]] = {
    "iscsi": (("iscsiInterface", "default", _text),),
    "rbd": (("pool", "rbd", _text), ("user", "admin", _text),
            ("keyring", "/etc/ceph/keyring", _text)),
    "azureDisk": (("cachingMode", "ReadWrite", _ptr), ("fsType", "ext4", _ptr),
                  ("readOnly", False, _ptr), ("kind", "Shared", _ptr)),
    "scaleIO": (("storageMode", "ThinProvisioned", _text), ("fsType", "xfs", _text)),
    "hostPath": (("type", "", _ptr),),  # SetDefaults_HostPathVolumeSource
    "secret": (("defaultMode", 0o644, _ptr),),  # SetDefaults_SecretVolumeSource
    "configMap": (("defaultMode", 0o644, _ptr),),  # SetDefaults_ConfigMapVolumeSource
    "downwardAPI": (("defaultMode", 0o644, _ptr),),  # SetDefaults_DownwardAPIVolumeSource
    "projected": (("defaultMode", 0o644, _ptr),),  # SetDefaults_ProjectedVolumeSource
}


def _volume(volume: Obj) -> None:
    """SetDefaults_Volume and the defaults of each volume source."""
    if all(value is None for key, value in volume.items() if key != "name"):
        volume["emptyDir"] = {}
    for source_key, defaults in _SOURCE_DEFAULTS.items():
        source = _dict(volume, source_key)
        if source is not None:
            for key, value, setter in defaults:
                setter(source, key, value)
    image = _dict(volume, "image")
    if image is not None and FEATURE_GATES["ImageVolume"] and not image.get("pullPolicy"):
        image["pullPolicy"] = _pull_policy(image.get("reference"))
    empty_dir = _dict(volume, "emptyDir")
    if empty_dir is not None and empty_dir.get("sizeLimit") is not None:
        empty_dir["sizeLimit"] = canonical(empty_dir["sizeLimit"])
    _field_refs(_items(_dict(volume, "downwardAPI"), "items"))
    for source in _items(_dict(volume, "projected"), "sources"):
        _field_refs(_items(_dict(source, "downwardAPI"), "items"))
        token = _dict(source, "serviceAccountToken")
        if token is not None:  # SetDefaults_ServiceAccountTokenProjection
            _ptr(token, "expirationSeconds", 3600)
    template = _dict(_dict(volume, "ephemeral"), "volumeClaimTemplate")
    if template is not None:
        _claim_spec(_ensure(template, "spec"))


def pod_spec(spec: Obj | None) -> None:
    """SetDefaults_PodSpec and the generated walk over volumes and containers: what
    every pod template (and pod) gets."""
    if spec is None:
        return
    _text(spec, "dnsPolicy", "ClusterFirst")
    _text(spec, "restartPolicy", "Always")
    _ptr(spec, "securityContext", {})
    _ptr(spec, "terminationGracePeriodSeconds", 30)
    _text(spec, "schedulerName", "default-scheduler")
    for volume in _items(spec, "volumes"):
        _volume(volume)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _items(spec, key):
            _container(container)
    _resource_list(spec, "overhead")
    _requirements(_dict(spec, "resources"))


def _pod_template(template: Obj | None) -> None:
    """An embedded PodTemplateSpec (its empty ``metadata``: :func:`_zero_values`)."""
    if template is not None:
        pod_spec(_ensure(template, "spec"))


# --- core/v1: pods ------------------------------------------------------------------------


def _quantities(values: Any) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    if isinstance(values, dict):
        for name, raw in values.items():
            try:
                out[name] = parse(raw)
            except ValueError:
                continue
    return out


def _add(total: dict[str, Quantity], more: dict[str, Quantity]) -> None:
    for name, q in more.items():
        total[name] = total[name] + q if name in total else q


def _container_totals(spec: Obj, which: str) -> dict[str, Quantity]:
    """``AggregateContainerRequests`` / ``...Limits`` of component-helpers: the sum of
    the containers and sidecars, or the largest init container's need if larger."""
    def own(container: Obj) -> dict[str, Quantity]:
        return _quantities((_dict(container, "resources") or {}).get(which))

    total: dict[str, Quantity] = {}
    for container in _items(spec, "containers"):
        _add(total, own(container))
    sidecars: dict[str, Quantity] = {}
    init_peak: dict[str, Quantity] = {}
    for container in _items(spec, "initContainers"):
        mine = own(container)
        if container.get("restartPolicy") == "Always":
            _add(total, mine)
            _add(sidecars, mine)
            use = dict(sidecars)
        else:
            use = dict(mine)
            _add(use, sidecars)
        for name, q in use.items():
            if name not in init_peak or q.value > init_peak[name].value:
                init_peak[name] = q
    for name, q in init_peak.items():
        if name not in total or q.value > total[name].value:
            total[name] = q
    return total


def _pod_level(name: str) -> bool:  # IsSupportedPodLevelResource
    return name in ("cpu", "memory") or name.startswith("hugepages-")


def _pod_level_defaults(spec: Obj) -> None:
    """defaultHugePagePodLimits and defaultPodRequests (PodLevelResources)."""
    resources = _dict(spec, "resources")
    if resources is None:
        return
    limits = _dict(resources, "limits") or {}
    requests = _dict(resources, "requests") or {}
    if limits or requests:
        added = {
            name: str(q)
            for name, q in _container_totals(spec, "limits").items()
            if name.startswith("hugepages-") and name not in requests and name not in limits
        }
        if added:
            limits = resources["limits"] = {**limits, **added}
    if not limits:
        return
    new_requests = dict(requests)
    for name, q in _container_totals(spec, "requests").items():
        if name not in new_requests and name in ("cpu", "memory"):
            new_requests[name] = str(q)
    for name, value in limits.items():
        if name not in new_requests and _pod_level(name):
            new_requests[name] = value
    if new_requests:
        resources["requests"] = new_requests


def _pod(obj: Obj) -> None:
    """SetObjectDefaults_Pod: SetDefaults_Pod, then the pod spec's defaults."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    for key in ("containers", "initContainers"):
        for container in _items(spec, key):
            resources = _dict(container, "resources")
            limits = _dict(resources, "limits")
            if resources is not None and limits:
                requests = _dict(resources, "requests")
                if requests is None:
                    requests = resources["requests"] = {}
                for name, value in limits.items():
                    requests.setdefault(name, value)
    if FEATURE_GATES["PodLevelResources"]:
        _pod_level_defaults(spec)
    _ptr(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for container in _items(spec, key):
                for port in _items(container, "ports"):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    pod_spec(spec)


def _qos_class(spec: Obj) -> str:
    """ComputePodQOS: BestEffort without cpu/memory requests and limits, Guaranteed when
    every container limits both and requests equal limits, Burstable otherwise."""
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True

    def positive(values: Any) -> dict[str, Quantity]:
        return {name: q for name, q in _quantities(values).items()
                if name in ("cpu", "memory") and q.value > 0}

    pod_resources = _dict(spec, "resources")
    if FEATURE_GATES["PodLevelResources"] and pod_resources is not None:
        _add(requests, positive(pod_resources.get("requests")))
        pod_limits = positive(pod_resources.get("limits"))
        if pod_limits:
            _add(limits, pod_limits)
            guaranteed = set(pod_limits) == {"cpu", "memory"}
    else:
        for key in ("containers", "initContainers"):
            for container in _items(spec, key):
                resources = _dict(container, "resources") or {}
                _add(requests, positive(resources.get("requests")))
                own_limits = positive(resources.get("limits"))
                _add(limits, own_limits)
                if set(own_limits) != {"cpu", "memory"}:
                    guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(
        name in limits and limits[name].value == q.value for name, q in requests.items()
    ) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


# --- core/v1: the other kinds -------------------------------------------------------------


def _service(obj: Obj) -> None:
    """SetObjectDefaults_Service (SetDefaults_Service and the ports' protocol)."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _text(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = _dict(spec, "sessionAffinityConfig")
        client_ip = _dict(config, "clientIP")
        if client_ip is None or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    _text(spec, "type", "ClusterIP")
    for port in _items(spec, "ports"):
        _text(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and isinstance(port.get("port"), int):
            port["targetPort"] = port["port"]
    kind = spec["type"]
    externally = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally:
        _text(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        _ptr(spec, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        _ptr(spec, "allocateLoadBalancerNodePorts", True)
        for ingress in _items(_dict(_dict(obj, "status"), "loadBalancer"), "ingress"):
            if ingress.get("ip") and ingress.get("ipMode") is None:
                ingress["ipMode"] = "VIP"


def _namespace(obj: Obj) -> None:
    """SetDefaults_Namespace (the name label) and SetDefaults_NamespaceStatus."""
    meta = _dict(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if meta is not None and name:
        labels = _dict(meta, "labels")
        if labels is None:
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = name
    status = _dict(obj, "status")
    if status is not None:
        _text(status, "phase", "Active")


def _claim(obj: Obj) -> None:
    """SetObjectDefaults_PersistentVolumeClaim."""
    _claim_spec(_ensure(obj, "spec"))
    status = _dict(obj, "status")
    if status is not None:
        _text(status, "phase", "Pending")
        _resource_list(status, "capacity")
        _resource_list(status, "allocatedResources")


def _secret(obj: Obj) -> None:
    _text(obj, "type", "Opaque")


def _endpoints(obj: Obj) -> None:
    for subset in _items(obj, "subsets"):
        for port in _items(subset, "ports"):
            _text(port, "protocol", "TCP")


def _replication_controller(obj: Obj) -> None:
    """SetDefaults_ReplicationController: selector and labels from the template."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    template = _dict(spec, "template")
    labels = _dict(_dict(template, "metadata"), "labels")
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _dict(obj, "metadata")
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)
    _ptr(spec, "replicas", 1)
    if template is not None:
        _pod_template(template)


# --- apps/v1 ------------------------------------------------------------------------------


def _deployment(obj: Obj) -> None:
    """SetDefaults_Deployment."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _ptr(spec, "replicas", 1)
    strategy = _ensure(spec, "strategy")
    if strategy is not None:
        _text(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _ensure(strategy, "rollingUpdate")
            if rolling is not None:
                _ptr(rolling, "maxUnavailable", "25%")
                _ptr(rolling, "maxSurge", "25%")
    _ptr(spec, "revisionHistoryLimit", 10)
    _ptr(spec, "progressDeadlineSeconds", 600)
    _pod_template(_ensure(spec, "template"))


def _daemon_set(obj: Obj) -> None:
    """SetDefaults_DaemonSet."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    strategy = _ensure(spec, "updateStrategy")
    if strategy is not None:
        _text(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _ensure(strategy, "rollingUpdate")
            if rolling is not None:
                _ptr(rolling, "maxUnavailable", 1)
                _ptr(rolling, "maxSurge", 0)
    _ptr(spec, "revisionHistoryLimit", 10)
    _pod_template(_ensure(spec, "template"))
    # the v1 conversion writes the internal template generation back as an annotation
    meta = _dict(obj, "metadata")
    if meta is not None:
        annotations = _dict(meta, "annotations")
        if annotations is None:
            annotations = meta["annotations"] = {}
        annotations.setdefault(DAEMONSET_TEMPLATE_GENERATION, "0")


def _stateful_set(obj: Obj) -> None:
    """SetDefaults_StatefulSet, and the claim templates' defaults."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _text(spec, "podManagementPolicy", "OrderedReady")
    strategy = _ensure(spec, "updateStrategy")
    if strategy is not None:
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            _ptr(strategy, "rollingUpdate", {})
        rolling = _dict(strategy, "rollingUpdate")
        if strategy["type"] == "RollingUpdate" and rolling is not None:
            _ptr(rolling, "partition", 0)
            if FEATURE_GATES["MaxUnavailableStatefulSet"]:
                _ptr(rolling, "maxUnavailable", 1)
    retention = _ensure(spec, "persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        _text(retention, "whenDeleted", "Retain")
        _text(retention, "whenScaled", "Retain")
    _ptr(spec, "replicas", 1)
    _ptr(spec, "revisionHistoryLimit", 10)
    _pod_template(_ensure(spec, "template"))
    for claim in _items(spec, "volumeClaimTemplates"):
        # the v1 conversion names the embedded claims' type
        claim["apiVersion"] = "v1"
        claim["kind"] = "PersistentVolumeClaim"
        _claim_spec(_ensure(claim, "spec"))
        status = _ensure(claim, "status")
        if status is not None:
            _text(status, "phase", "Pending")


def _replica_set(obj: Obj) -> None:
    """SetDefaults_ReplicaSet."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _ptr(spec, "replicas", 1)
    _pod_template(_ensure(spec, "template"))


# --- batch/v1 -----------------------------------------------------------------------------


def _pod_failure_policy(spec: Obj) -> None:
    for rule in _items(_dict(spec, "podFailurePolicy"), "rules"):
        for pattern in _items(rule, "onPodConditions"):
            _text(pattern, "status", "True")  # SetDefaults_PodFailurePolicyOnPodConditionsPattern


def _job(obj: Obj) -> None:
    """SetDefaults_Job."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _ptr(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        unlimited = spec.get("backoffLimitPerIndex") is not None
        spec["backoffLimit"] = 2**31 - 1 if unlimited else 6
    template = _ensure(spec, "template")
    labels = _dict(_dict(template, "metadata"), "labels")
    meta = _dict(obj, "metadata")
    if labels is not None and meta is not None and not meta.get("labels"):
        meta["labels"] = dict(labels)
    _ptr(spec, "completionMode", "NonIndexed")
    _ptr(spec, "suspend", False)
    if FEATURE_GATES["JobPodReplacementPolicy"] and spec.get("podReplacementPolicy") is None:
        failure_policy = spec.get("podFailurePolicy") is not None
        spec["podReplacementPolicy"] = "Failed" if failure_policy else "TerminatingOrFailed"
    _ptr(spec, "manualSelector", False)
    _pod_failure_policy(spec)
    _pod_template(template)


def _cron_job(obj: Obj) -> None:
    """SetDefaults_CronJob; the job template gets its pod template's defaults only."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _text(spec, "concurrencyPolicy", "Allow")
    _ptr(spec, "suspend", False)
    _ptr(spec, "successfulJobsHistoryLimit", 3)
    _ptr(spec, "failedJobsHistoryLimit", 1)
    job_template = _ensure(spec, "jobTemplate")
    if job_template is not None:
        job_spec = _ensure(job_template, "spec")
        if job_spec is not None:
            _pod_failure_policy(job_spec)
            _pod_template(_ensure(job_spec, "template"))


# --- networking, rbac, policy -------------------------------------------------------------


def _network_policy(obj: Obj) -> None:
    """SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort."""
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _ensure(spec, "podSelector")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
    for direction in ("ingress", "egress"):
        for rule in _items(spec, direction):
            for port in _items(rule, "ports"):
                _ptr(port, "protocol", "TCP")


def _ingress_class(obj: Obj) -> None:
    parameters = _dict(_dict(obj, "spec"), "parameters")
    if parameters is not None:
        _ptr(parameters, "scope", "Cluster")


def _binding(obj: Obj) -> None:
    """SetDefaults_RoleBinding / _ClusterRoleBinding and SetDefaults_Subject."""
    role_ref = _ensure(obj, "roleRef")
    if role_ref is not None:
        _text(role_ref, "apiGroup", _RBAC_GROUP)
    for subject in _items(obj, "subjects"):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = _RBAC_GROUP  # a ServiceAccount's stays ""


def _spec_struct(obj: Obj) -> None:
    _ensure(obj, "spec")  # a struct field: serialised even when the client left it out


def _role(obj: Obj) -> None:
    obj.setdefault("rules", None)  # no omitempty: a Role without rules says null


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): _pod,
    ("", "PodTemplate"): lambda obj: _pod_template(_ensure(obj, "template")),
    ("", "ReplicationController"): _replication_controller,
    ("", "Service"): _service,
    ("", "Namespace"): _namespace,
    ("", "PersistentVolumeClaim"): _claim,
    ("", "Secret"): _secret,
    ("", "Endpoints"): _endpoints,
    ("apps", "Deployment"): _deployment,
    ("apps", "DaemonSet"): _daemon_set,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "ReplicaSet"): _replica_set,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy,
    ("networking.k8s.io", "Ingress"): _spec_struct,
    ("policy", "PodDisruptionBudget"): _spec_struct,
    ("coordination.k8s.io", "Lease"): _spec_struct,
    ("networking.k8s.io", "IngressClass"): _ingress_class,
    (_RBAC_GROUP, "RoleBinding"): _binding,
    (_RBAC_GROUP, "ClusterRoleBinding"): _binding,
    (_RBAC_GROUP, "Role"): _role,
    (_RBAC_GROUP, "ClusterRole"): _role,
}


def apply(obj: Obj, info: ResourceInfo) -> None:
    """The scheme's defaults for a decoded write body of a built-in kind, in place."""
    if info.custom:
        return
    if (info.group, info.kind) == (autoscaling.GROUP, autoscaling.KIND):
        autoscaling.default(obj, info.version)
        return
    defaulter = _DEFAULTERS.get((info.group, info.kind))
    if defaulter is not None:
        defaulter(obj)


# --- the storage layer: after the field manager ------------------------------------------

#: Status fields Go writes even at zero (no omitempty), per kind: PrepareForCreate's
#: reset status serialised.
_ZERO_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("", "ReplicationController"): {"replicas": 0},
    ("apps", "DaemonSet"): {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                            "desiredNumberScheduled": 0, "numberReady": 0},
    ("policy", "PodDisruptionBudget"): {"disruptionsAllowed": 0, "currentHealthy": 0,
                                        "desiredHealthy": 0, "expectedPods": 0},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
    ("", "Service"): {"loadBalancer": {}},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
}


#: Embedded templates whose ``metadata`` struct Go writes as {} when empty.
_TEMPLATES: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("apps", "Deployment"): (("spec", "template"),),
    ("apps", "StatefulSet"): (("spec", "template"),),
    ("apps", "DaemonSet"): (("spec", "template"),),
    ("apps", "ReplicaSet"): (("spec", "template"),),
    ("batch", "Job"): (("spec", "template"),),
    ("batch", "CronJob"): (("spec", "jobTemplate"), ("spec", "jobTemplate", "spec", "template")),
    ("", "PodTemplate"): (("template",),),
    ("", "ReplicationController"): (("spec", "template"),),
}


def _zero_values(obj: Obj, key: tuple[str, str]) -> None:
    """Go's serialisation of fields the client left out: empty structs and the fields
    without omitempty. The real server's managedFields never name them."""
    for path in _TEMPLATES.get(key, ()):
        node: Obj | None = obj
        for step in path:
            node = _dict(node, step)
        if node is not None:
            meta = _ensure(node, "metadata")
            # a zero metav1.Time: kubectl before 1.30 or so sends `creationTimestamp:
            # null`, which the Go struct reads as zero and writes back as nothing
            if meta is not None and "creationTimestamp" in meta \
                    and meta["creationTimestamp"] is None:
                del meta["creationTimestamp"]
    if key == ("", "Event"):
        for name in ("involvedObject", "source"):
            _ensure(obj, name)
        for name in ("firstTimestamp", "lastTimestamp", "eventTime"):
            obj.setdefault(name, None)
        for name in ("reportingComponent", "reportingInstance"):
            _ptr(obj, name, "")
    elif key == ("events.k8s.io", "Event"):
        for name in ("regarding", "deprecatedSource"):
            _ensure(obj, name)
        for name in ("eventTime", "deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
            obj.setdefault(name, None)


#: The kinds the storage layer sets anything on (the others return at once).
_STORAGE_KINDS = frozenset(
    {*_TEMPLATES, *_ZERO_STATUS, ("", "Pod"), ("", "Event"), ("events.k8s.io", "Event")}
)


def prepare_create(obj: Obj, info: ResourceInfo, store: Store, rng: random.Random) -> None:
    """What the create's storage layer sets after the field manager ran (nobody owns
    it): status zero values, a pod's phase and QoS class, a Job's selector, a
    DaemonSet's template generation, a Service's cluster IPs and node ports. May raise
    a 422 ``StatusError`` (an address or port that is taken)."""
    key = (info.group, info.kind)
    if info.custom or key not in _STORAGE_KINDS:
        return
    _zero_values(obj, key)
    zero = _ZERO_STATUS.get(key)
    if zero is not None and isinstance(obj.get("status"), dict):
        obj["status"] = {**zero, **obj["status"]}
    if key == ("", "Pod"):
        spec = _dict(obj, "spec") or {}
        pod_status: Obj = {"phase": "Pending", "qosClass": _qos_class(spec)}
        if spec.get("schedulingGates"):  # applySchedulingGatedCondition
            pod_status["conditions"] = [{
                "type": "PodScheduled", "status": "False", "lastProbeTime": None,
                "lastTransitionTime": (_dict(obj, "metadata") or {}).get("creationTimestamp"),
                "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates",
            }]
        obj["status"] = pod_status
    elif key == ("batch", "Job"):
        _job_selector(obj)
    elif key == ("apps", "DaemonSet"):
        annotations = _dict(_dict(obj, "metadata"), "annotations")
        if annotations is not None:
            generation = _int(annotations.get(DAEMONSET_TEMPLATE_GENERATION))
            annotations[DAEMONSET_TEMPLATE_GENERATION] = str(max(generation, 1))
    elif key == ("", "Service"):
        allocation.allocate_create(obj, store, rng)


def prepare_update(
    new: Obj,
    old: Obj,
    info: ResourceInfo,
    store: Store,
    rng: random.Random,
    subresource: str | None = None,
) -> None:
    """What an update's storage layer sets (PrepareForUpdate, the Service REST
    storage's allocation): kept from the stored object or derived from it."""
    key = (info.group, info.kind)
    if info.custom or key not in _STORAGE_KINDS:
        return
    if subresource == "status":
        if key == ("", "Pod"):
            _pod_status_update(new, old)
        return
    if subresource is not None:
        return
    _zero_values(new, key)
    if key == ("apps", "DaemonSet"):
        annotations = _dict(_dict(new, "metadata"), "annotations")
        old_annotations = _dict(_dict(old, "metadata"), "annotations") or {}
        if annotations is not None:
            generation = _int(old_annotations.get(DAEMONSET_TEMPLATE_GENERATION))
            if (_dict(new, "spec") or {}).get("template") != (_dict(old, "spec") or {}).get(
                "template"
            ):
                generation += 1
            annotations[DAEMONSET_TEMPLATE_GENERATION] = str(generation)
    elif key == ("", "Service"):
        allocation.allocate_update(new, old, store, rng)


def _pod_status_update(new: Obj, old: Obj) -> None:
    """podStatusStrategy.PrepareForUpdate: a status write that leaves out the QoS class
    or the observed generation keeps the stored ones."""
    status = _dict(new, "status")
    old_status = _dict(old, "status") or {}
    if status is None:
        return
    for key in ("qosClass", "observedGeneration"):
        if not status.get(key) and old_status.get(key):
            status[key] = old_status[key]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _job_selector(obj: Obj) -> None:
    """generateSelectorIfNeeded (pkg/registry/batch/job/strategy.go)."""
    spec = _dict(obj, "spec")
    meta = _dict(obj, "metadata")
    if spec is None or meta is None or spec.get("manualSelector") is True:
        return
    template = _ensure(spec, "template")
    template_meta = _ensure(template, "metadata") if template is not None else None
    if template_meta is None:
        return
    labels = _dict(template_meta, "labels")
    labels = template_meta["labels"] = dict(labels or {})
    for label in JOB_NAME_LABELS:
        labels.setdefault(label, meta.get("name"))
    for label in JOB_UID_LABELS:
        labels.setdefault(label, meta.get("uid"))
    if not meta.get("labels"):
        # SetDefaults_Job copies the template's labels to a Job without any; on the real
        # server it runs again whenever the stored Job is decoded, so every answer, the
        # create's too, carries the labels generated just above
        meta["labels"] = dict(labels)
    selector = _dict(spec, "selector")
    selector = spec["selector"] = dict(selector or {})
    match_labels = dict(_dict(selector, "matchLabels") or {})
    match_labels.setdefault(JOB_UID_LABELS[1], meta.get("uid"))
    selector["matchLabels"] = match_labels
