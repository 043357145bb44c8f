"""The real server's printers for built-in kinds: the columns and cells of their Tables.

Learnt from k8s.io/kubernetes ``pkg/printers/internalversion/printers.go`` (v1.36):
``AddHandlers`` defines each kind's columns (priority 1 = the ``-o wide`` ones) and the
``print<Kind>`` functions compute the cells. The server always prints wide (kubectl hides
the priority-1 columns itself), so every column's cell is in every row. The printers read
the internal object; these cells read the stored v1 object and follow the internal field
where the two differ (a v1 events.k8s.io Event is printed as the core Event it converts to).

Kinds without a printer (Roles, ClusterRoles, CRDs) get the default convertor's Name and
Created At. Descriptions are the fields' OpenAPI descriptions (``table_docs.DOCS``,
generated from upstream's SwaggerDoc tables) or the printers' own sentences.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from kubeplan.testkit.apiserver import autoscaling
from kubeplan.testkit.apiserver.clock import parse_time
from kubeplan.testkit.apiserver.table_docs import DOCS

Obj = dict[str, Any]
Cell = Callable[[Obj, datetime], Any]


@attrs.frozen
class Column:
    name: str
    type: str
    cell: Cell
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration, as kubectl's AGE column shows it."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def since(stamp: Any, now: datetime) -> str:
    """translateTimestampSince: ``<unknown>`` for a zero (absent) time."""
    if not stamp or not isinstance(stamp, str):
        return "<unknown>"
    return human_duration((now - parse_time(stamp)).total_seconds())


def get(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
    return default if obj is None else obj


def _list(obj: Any, *path: str) -> list[Any]:
    value = get(obj, *path, default=[])
    return value if isinstance(value, list) else []


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: ``k=v`` by sorted key, ``<none>`` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def label_selector_string(selector: Any) -> str:
    """metav1.LabelSelectorAsSelector(selector).String(): "" for nil and for empty."""
    if not isinstance(selector, dict):
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        requirements.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or ():
        key = str(expr.get("key", ""))
        values = ",".join(sorted(str(v) for v in expr.get("values") or ()))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(str(expr.get("operator")))
        if text is None:
            return "<error>"
        requirements.append((key, text))
    requirements.sort(key=lambda r: r[0])
    return ",".join(text for _, text in requirements)


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: the selector's string, ``<none>`` when it selects
    nothing or everything."""
    return label_selector_string(selector) or "<none>"


def _containers(template_spec: Any) -> tuple[str, str]:
    """layoutContainerCells: container names and images, comma-joined."""
    containers = _list(template_spec, "containers")
    return (",".join(str(c.get("name", "")) for c in containers),
            ",".join(str(c.get("image", "")) for c in containers))


def _doc(key: str) -> str:
    return DOCS[key]


def _name(o: Obj, _: datetime) -> Any:
    return get(o, "metadata", "name", default="")


def _age(o: Obj, now: datetime) -> str:
    return since(get(o, "metadata", "creationTimestamp"), now)


NAME = Column("Name", "string", _name, format="name",
              description=_doc("meta/v1.ObjectMeta.name"))
AGE = Column("Age", "string", _age, description=_doc("meta/v1.ObjectMeta.creationTimestamp"))
CREATED_AT = Column("Created At", "date",
                    lambda o, _: get(o, "metadata", "creationTimestamp", default=""),
                    description=_doc("meta/v1.ObjectMeta.creationTimestamp"))
_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."


def _col(name: str, type_: str, cell: Cell, doc: str, priority: int = 0) -> Column:
    """A column described by a field's OpenAPI description (``pkg.Type.field``) or,
    when ``doc`` names no field, by the printer's own sentence."""
    return Column(name, type_, cell, description=DOCS.get(doc, doc), priority=priority)


def _wide_template(*spec_path: str, selector: tuple[str, ...] | None, doc: str) -> list[Column]:
    """Containers, Images (and Selector) of a workload's pod template."""
    columns = [
        _col("Containers", "string", lambda o, _: _containers(get(o, *spec_path))[0],
             _CONTAINERS_DOC, 1),
        _col("Images", "string", lambda o, _: _containers(get(o, *spec_path))[1],
             _IMAGES_DOC, 1)]
    if selector is not None:
        path = selector
        columns.append(_col("Selector", "string",
                            lambda o, _: format_label_selector(get(o, *path)), doc, 1))
    return columns


def _int(*path: str) -> Cell:
    return lambda o, _: int(get(o, *path, default=0))


# --- pods -------------------------------------------------------------------------


def _restartable_init(container: Any) -> bool:
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _condition_true(o: Obj, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in _list(o, "status", "conditions"))


@attrs.define
class _PodSummary:
    """What printPod works out of a pod: readiness, the status reason and restarts."""

    ready: int = 0
    total: int = 0
    reason: str = ""
    restarts: int = 0
    last_restart: str = ""


def _later(a: str, b: Any) -> str:
    if isinstance(b, str) and b and (not a or parse_time(b) > parse_time(a)):
        return b
    return a


def _summarise_pod(pod: Obj) -> _PodSummary:
    spec = get(pod, "spec", default={})
    status = get(pod, "status", default={})
    phase = str(status.get("phase") or "")
    out = _PodSummary(total=len(_list(spec, "containers")), reason=phase)
    if status.get("reason"):
        out.reason = str(status["reason"])
    for condition in _list(status, "conditions"):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == \
                "SchedulingGated":
            out.reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in _list(spec, "initContainers")}
    out.total += sum(1 for c in init_specs.values() if _restartable_init(c))
    sidecar_restarts, sidecar_last = 0, ""
    initializing = False
    init_statuses = _list(status, "initContainerStatuses")
    for index, container in enumerate(init_statuses):
        out.restarts += int(container.get("restartCount") or 0)
        finished = get(container, "lastState", "terminated", "finishedAt")
        out.last_restart = _later(out.last_restart, finished)
        sidecar = _restartable_init(init_specs.get(container.get("name")))
        if sidecar:
            sidecar_restarts += int(container.get("restartCount") or 0)
            sidecar_last = _later(sidecar_last, finished)
        terminated = get(container, "state", "terminated")
        waiting_reason = get(container, "state", "waiting", "reason", default="")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and container.get("started"):
            out.ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            out.reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            out.reason = f"Init:{waiting_reason}"
        else:
            out.reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break
    initialized = next((c.get("status") == "True" for c in _list(status, "conditions")
                        if c.get("type") == "Initialized"), False)
    if not initializing or initialized:
        out.restarts, out.last_restart = sidecar_restarts, sidecar_last
        has_running, error_reason = False, ""
        for container in reversed(_list(status, "containerStatuses")):
            out.restarts += int(container.get("restartCount") or 0)
            out.last_restart = _later(out.last_restart,
                                      get(container, "lastState", "terminated", "finishedAt"))
            state = container.get("state") or {}
            if get(state, "waiting", "reason"):
                out.reason = str(state["waiting"]["reason"])
            elif state.get("terminated") is not None:
                out.reason = _terminated_reason(state["terminated"])
                if int(state["terminated"].get("exitCode") or 0) != 0:
                    error_reason = out.reason
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                out.ready += 1
        if out.reason == "Completed":
            if has_running and _condition_true(pod, "Ready"):
                out.reason = "Running"
            elif error_reason:
                out.reason = error_reason
            elif has_running:
                out.reason = "NotReady"
    if get(pod, "metadata", "deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            out.reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            out.reason = "Terminating"
    return out


def _pod_restarts(o: Obj, now: datetime) -> str:
    summary = _summarise_pod(o)
    if summary.restarts and summary.last_restart:
        return f"{summary.restarts} ({since(summary.last_restart, now)} ago)"
    return str(summary.restarts)


def _pod_ready(o: Obj, _: datetime) -> str:
    summary = _summarise_pod(o)
    return f"{summary.ready}/{summary.total}"


def _pod_ip(o: Obj, _: datetime) -> str:
    ips = _list(o, "status", "podIPs")
    return str((ips[0].get("ip") if ips else "") or "<none>")


def _readiness_gates(o: Obj, _: datetime) -> str:
    gates = _list(o, "spec", "readinessGates")
    if not gates:
        return "<none>"
    conditions = _list(o, "status", "conditions")
    true = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
        true += 1 if match is not None and match.get("status") == "True" else 0
    return f"{true}/{len(gates)}"


def pod_row_conditions(o: Obj) -> list[Obj] | None:
    """A finished pod's row says so (the printer's RowCompleted condition)."""
    phase = get(o, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return None
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


_POD = [
    NAME,
    _col("Ready", "string", _pod_ready,
         "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "string", lambda o, _: _summarise_pod(o).reason,
         "The aggregate status of the containers in this pod."),
    _col("Restarts", "string", _pod_restarts,
         "The number of times the containers in this pod have been restarted and when the "
         "last container in this pod has restarted."),
    AGE,
    _col("IP", "string", _pod_ip, "core/v1.PodStatus.podIP", 1),
    _col("Node", "string", lambda o, _: get(o, "spec", "nodeName") or "<none>",
         "core/v1.PodSpec.nodeName", 1),
    _col("Nominated Node", "string",
         lambda o, _: get(o, "status", "nominatedNodeName") or "<none>",
         "core/v1.PodStatus.nominatedNodeName", 1),
    _col("Readiness Gates", "string", _readiness_gates, "core/v1.PodSpec.readinessGates", 1),
]

# --- services ---------------------------------------------------------------------


def _lb_ingress(o: Obj) -> str:
    found = {str(i.get("ip") or i.get("hostname"))
             for i in _list(o, "status", "loadBalancer", "ingress")
             if i.get("ip") or i.get("hostname")}
    return ",".join(sorted(found))


def _external_ip(o: Obj, _: datetime) -> str:
    spec = get(o, "spec", default={})
    external = [str(ip) for ip in spec.get("externalIPs") or ()]
    kind = spec.get("type") or "ClusterIP"
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        balancer = _lb_ingress(o)
        if external:
            return ",".join([*([balancer] if balancer else []), *external])
        return balancer or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _ports(o: Obj, _: datetime) -> str:
    pieces = []
    for port in _list(o, "spec", "ports"):
        protocol = port.get("protocol", "TCP")
        node_port = int(port.get("nodePort") or 0)
        pieces.append(f"{port.get('port')}:{node_port}/{protocol}" if node_port > 0
                      else f"{port.get('port')}/{protocol}")
    return ",".join(pieces) or "<none>"


_SERVICE = [
    NAME,
    _col("Type", "string", lambda o, _: get(o, "spec", "type", default=""),
         "core/v1.ServiceSpec.type"),
    _col("Cluster-IP", "string",
         lambda o, _: (_list(o, "spec", "clusterIPs") or ["<none>"])[0],
         "core/v1.ServiceSpec.clusterIP"),
    _col("External-IP", "string", _external_ip, "core/v1.ServiceSpec.externalIPs"),
    _col("Port(s)", "string", _ports, "core/v1.ServiceSpec.ports"),
    AGE,
    _col("Selector", "string", lambda o, _: format_labels(get(o, "spec", "selector")),
         "core/v1.ServiceSpec.selector", 1),
]

# --- workloads --------------------------------------------------------------------


def _ready_of_desired(o: Obj, _: datetime) -> str:
    return f"{get(o, 'status', 'readyReplicas', default=0)}/{get(o, 'spec', 'replicas', default=0)}"


_DEPLOYMENT = [
    NAME,
    _col("Ready", "string", _ready_of_desired, "Number of the pod with ready state"),
    _col("Up-to-date", "string", _int("status", "updatedReplicas"),
         "apps/v1.DeploymentStatus.updatedReplicas"),
    _col("Available", "string", _int("status", "availableReplicas"),
         "apps/v1.DeploymentStatus.availableReplicas"),
    AGE,
    _col("Containers", "string", lambda o, _: _containers(get(o, "spec", "template", "spec"))[0],
         _CONTAINERS_DOC, 1),
    _col("Images", "string", lambda o, _: _containers(get(o, "spec", "template", "spec"))[1],
         _IMAGES_DOC, 1),
    _col("Selector", "string", lambda o, _: label_selector_string(get(o, "spec", "selector")),
         "apps/v1.DeploymentSpec.selector", 1),
]

_REPLICASET = [
    NAME,
    _col("Desired", "integer", _int("spec", "replicas"), "apps/v1.ReplicaSetSpec.replicas"),
    _col("Current", "integer", _int("status", "replicas"), "apps/v1.ReplicaSetStatus.replicas"),
    _col("Ready", "integer", _int("status", "readyReplicas"),
         "apps/v1.ReplicaSetStatus.readyReplicas"),
    AGE,
    *_wide_template("spec", "template", "spec", selector=("spec", "selector"),
                    doc="apps/v1.ReplicaSetSpec.selector"),
]

_STATEFULSET = [
    NAME,
    _col("Ready", "string", _ready_of_desired, "Number of the pod with ready state"),
    AGE,
    *_wide_template("spec", "template", "spec", selector=None, doc=""),
]

_DAEMONSET = [
    NAME,
    _col("Desired", "integer", _int("status", "desiredNumberScheduled"),
         "apps/v1.DaemonSetStatus.desiredNumberScheduled"),
    _col("Current", "integer", _int("status", "currentNumberScheduled"),
         "apps/v1.DaemonSetStatus.currentNumberScheduled"),
    _col("Ready", "integer", _int("status", "numberReady"), "apps/v1.DaemonSetStatus.numberReady"),
    _col("Up-to-date", "integer", _int("status", "updatedNumberScheduled"),
         "apps/v1.DaemonSetStatus.updatedNumberScheduled"),
    _col("Available", "integer", _int("status", "numberAvailable"),
         "apps/v1.DaemonSetStatus.numberAvailable"),
    _col("Node Selector", "string",
         lambda o, _: format_labels(get(o, "spec", "template", "spec", "nodeSelector")),
         "core/v1.PodSpec.nodeSelector"),
    AGE,
    *_wide_template("spec", "template", "spec", selector=("spec", "selector"),
                    doc="apps/v1.DaemonSetSpec.selector"),
]


def _job_completions(o: Obj, _: datetime) -> str:
    succeeded = get(o, "status", "succeeded", default=0)
    completions = get(o, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = int(get(o, "spec", "parallelism", default=0))
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _job_duration(o: Obj, now: datetime) -> str:
    start = get(o, "status", "startTime")
    if not start:
        return ""
    end = get(o, "status", "completionTime")
    finish = parse_time(end) if end else now
    return human_duration((finish - parse_time(start)).total_seconds())


def _job_status(o: Obj, _: datetime) -> str:
    def holds(type_: str) -> bool:  # the first condition of the type decides
        match = next((c for c in _list(o, "status", "conditions") if c.get("type") == type_),
                     None)
        return match is not None and match.get("status") == "True"

    if holds("Complete"):
        return "Complete"
    if holds("Failed"):
        return "Failed"
    if get(o, "metadata", "deletionTimestamp"):
        return "Terminating"
    for type_ in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if holds(type_):
            return type_
    return "Running"


_JOB = [
    NAME,
    _col("Status", "string", _job_status, "Status of the job."),
    _col("Completions", "string", _job_completions, "batch/v1.JobStatus.succeeded"),
    _col("Duration", "string", _job_duration, "Time required to complete the job."),
    AGE,
    *_wide_template("spec", "template", "spec", selector=("spec", "selector"),
                    doc="batch/v1.JobSpec.selector"),
]


def _bool_pointer(value: Any) -> str:
    return "<unset>" if value is None else ("True" if value else "False")


_CRONJOB = [
    NAME,
    _col("Schedule", "string", lambda o, _: get(o, "spec", "schedule", default=""),
         "batch/v1.CronJobSpec.schedule"),
    _col("Timezone", "string", lambda o, _: get(o, "spec", "timeZone") or "<none>",
         "batch/v1.CronJobSpec.timeZone"),
    _col("Suspend", "boolean", lambda o, _: _bool_pointer(get(o, "spec", "suspend")),
         "batch/v1.CronJobSpec.suspend"),
    _col("Active", "integer", lambda o, _: len(_list(o, "status", "active")),
         "batch/v1.CronJobStatus.active"),
    _col("Last Schedule", "string",
         lambda o, now: since(get(o, "status", "lastScheduleTime"), now)
         if get(o, "status", "lastScheduleTime") else "<none>",
         "batch/v1.CronJobStatus.lastScheduleTime"),
    AGE,
    *_wide_template("spec", "jobTemplate", "spec", "template", "spec",
                    selector=("spec", "jobTemplate", "spec", "selector"),
                    doc="batch/v1.JobSpec.selector"),
]


def _pdb_bound(field: str) -> Cell:
    def cell(o: Obj, _: datetime) -> str:
        value = get(o, "spec", field)
        return "N/A" if value is None else str(value)

    return cell


_PDB = [
    NAME,
    _col("Min Available", "string", _pdb_bound("minAvailable"),
         "The minimum number of pods that must be available."),
    _col("Max Unavailable", "string", _pdb_bound("maxUnavailable"),
         "The maximum number of pods that may be unavailable."),
    _col("Allowed Disruptions", "integer", _int("status", "disruptionsAllowed"),
         "Calculated number of pods that may be disrupted at this time."),
    AGE,
]

# --- config, storage, networking, RBAC, coordination ------------------------------

_CONFIGMAP = [
    NAME,
    _col("Data", "string",
         lambda o, _: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
         "core/v1.ConfigMap.data"),
    AGE,
]

_SECRET = [
    NAME,
    _col("Type", "string", lambda o, _: o.get("type") or "", "core/v1.Secret.type"),
    _col("Data", "string", lambda o, _: len(o.get("data") or {}), "core/v1.Secret.data"),
    AGE,
]

_NAMESPACE = [
    NAME,
    _col("Status", "string", lambda o, _: get(o, "status", "phase", default=""),
         "The status of the namespace"),
    AGE,
]

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def _pvc_bound(o: Obj) -> bool:
    return bool(get(o, "spec", "volumeName"))


def _pvc_class(o: Obj, _: datetime) -> str:
    annotations = get(o, "metadata", "annotations", default={})
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        return str(annotations["volume.beta.kubernetes.io/storage-class"])
    return str(get(o, "spec", "storageClassName", default=""))


_PVC = [
    NAME,
    _col("Status", "string",
         lambda o, _: "Terminating" if get(o, "metadata", "deletionTimestamp")
         else get(o, "status", "phase", default=""),
         "core/v1.PersistentVolumeClaimStatus.phase"),
    _col("Volume", "string", lambda o, _: get(o, "spec", "volumeName", default=""),
         "core/v1.PersistentVolumeClaimSpec.volumeName"),
    _col("Capacity", "string",
         lambda o, _: str(get(o, "status", "capacity", "storage", default="0"))
         if _pvc_bound(o) else "",
         "core/v1.PersistentVolumeClaimStatus.capacity"),
    _col("Access Modes", "string",
         lambda o, _: ",".join(short for mode, short in _ACCESS_MODES
                               if mode in _list(o, "status", "accessModes"))
         if _pvc_bound(o) else "",
         "core/v1.PersistentVolumeClaimStatus.accessModes"),
    _col("StorageClass", "string", _pvc_class, "StorageClass of the pvc"),
    _col("VolumeAttributesClass", "string",
         lambda o, _: get(o, "spec", "volumeAttributesClassName", default="<unset>"),
         "VolumeAttributesClass of the pvc"),
    AGE,
    _col("VolumeMode", "string", lambda o, _: get(o, "spec", "volumeMode", default="<unset>"),
         "core/v1.PersistentVolumeClaimSpec.volumeMode", 1),
]


def _ingress_hosts(o: Obj, _: datetime) -> str:
    rules = _list(o, "spec", "rules")
    hosts = [str(r["host"]) for r in rules if r.get("host")][:3]
    if not hosts:
        return "*"
    more = len([r for r in rules if r.get("host")]) > 3
    return f"{','.join(hosts)} + {len(rules) - 3} more..." if more else ",".join(hosts)


_INGRESS = [
    NAME,
    _col("Class", "string", lambda o, _: get(o, "spec", "ingressClassName") or "<none>",
         "The name of the IngressClass resource that should be used for additional "
         "configuration"),
    _col("Hosts", "string", _ingress_hosts,
         "Hosts that incoming requests are matched against before the ingress rule"),
    _col("Address", "string", lambda o, _: _lb_ingress(o),
         "Address is a list containing ingress points for the load-balancer"),
    _col("Ports", "string", lambda o, _: "80, 443" if _list(o, "spec", "tls") else "80",
         "Ports of TLS configurations that open"),
    AGE,
]

_NETWORKPOLICY = [
    NAME,
    _col("Pod-Selector", "string",
         lambda o, _: format_label_selector(get(o, "spec", "podSelector", default={})),
         "networking/v1.NetworkPolicySpec.podSelector"),
    AGE,
]


def _subjects(kind: str) -> Cell:
    def cell(o: Obj, _: datetime) -> str:
        names = [f"{s.get('namespace', '')}/{s.get('name', '')}" if kind == "ServiceAccount"
                 else str(s.get("name", ""))
                 for s in _list(o, "subjects") if s.get("kind") == kind]
        return ", ".join(names)

    return cell


def _binding(what: str, doc: str) -> list[Column]:
    return [
        NAME,
        _col("Role", "string",
             lambda o, _: f"{get(o, 'roleRef', 'kind', default='')}/"
                          f"{get(o, 'roleRef', 'name', default='')}", doc),
        AGE,
        _col("Users", "string", _subjects("User"), f"Users in the {what}", 1),
        _col("Groups", "string", _subjects("Group"), f"Groups in the {what}", 1),
        _col("ServiceAccounts", "string", _subjects("ServiceAccount"),
             f"ServiceAccounts in the {what}", 1),
    ]


_LEASE = [
    NAME,
    _col("Holder", "string", lambda o, _: get(o, "spec", "holderIdentity", default=""),
         "coordination/v1.LeaseSpec.holderIdentity"),
    AGE,
]

# --- events -----------------------------------------------------------------------


def _core_event(o: Obj) -> Obj:
    """An events.k8s.io/v1 Event as the core Event it converts to (what is printed)."""
    if not str(o.get("apiVersion", "")).startswith("events.k8s.io/"):
        return o
    return {"metadata": o.get("metadata") or {}, "type": o.get("type"),
            "reason": o.get("reason"), "message": o.get("note"),
            "involvedObject": o.get("regarding") or {},
            "source": o.get("deprecatedSource") or {},
            "firstTimestamp": o.get("deprecatedFirstTimestamp"),
            "lastTimestamp": o.get("deprecatedLastTimestamp"),
            "count": o.get("deprecatedCount"), "eventTime": o.get("eventTime"),
            "series": o.get("series"), "reportingComponent": o.get("reportingController"),
            "reportingInstance": o.get("reportingInstance")}


def _first_seen(e: Obj, now: datetime) -> str:
    first = e.get("firstTimestamp")
    return since(first if first else e.get("eventTime"), now)


def _last_seen(e: Obj, now: datetime) -> str:
    if isinstance(e.get("series"), dict):
        return since(e["series"].get("lastObservedTime"), now)
    last = e.get("lastTimestamp")
    return since(last, now) if last else _first_seen(e, now)


def _event_count(e: Obj) -> int:
    if isinstance(e.get("series"), dict):
        return int(e["series"].get("count") or 0)
    return int(e.get("count") or 0) or 1


def _event_object(e: Obj) -> str:
    target = e.get("involvedObject") or {}
    kind = str(target.get("kind", "")).lower()
    return f"{kind}/{target['name']}" if target.get("name") else kind


def _event_source(e: Obj) -> str:
    source = e.get("source") or {}
    component = source.get("component") or e.get("reportingComponent") or ""
    instance = source.get("host") or e.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else str(component)


def _event(fn: Callable[[Obj, datetime], Any]) -> Cell:
    return lambda o, now: fn(_core_event(o), now)


_EVENT = [
    _col("Last Seen", "string", _event(_last_seen), "core/v1.Event.lastTimestamp"),
    _col("Type", "string", _event(lambda e, _: e.get("type") or ""), "core/v1.Event.type"),
    _col("Reason", "string", _event(lambda e, _: e.get("reason") or ""),
         "core/v1.Event.reason"),
    _col("Object", "string", _event(lambda e, _: _event_object(e)),
         "core/v1.Event.involvedObject"),
    _col("Subobject", "string",
         _event(lambda e, _: get(e, "involvedObject", "fieldPath", default="")),
         "core/v1.ObjectReference.fieldPath", 1),
    _col("Source", "string", _event(lambda e, _: _event_source(e)), "core/v1.Event.source", 1),
    _col("Message", "string", _event(lambda e, _: str(e.get("message") or "").strip()),
         "core/v1.Event.message"),
    _col("First Seen", "string", _event(_first_seen), "core/v1.Event.firstTimestamp", 1),
    _col("Count", "string", _event(lambda e, _: _event_count(e)), "core/v1.Event.count", 1),
    Column("Name", "string", _name, format="name", priority=1,
           description=_doc("meta/v1.ObjectMeta.name")),
]

# --- horizontal pod autoscalers ---------------------------------------------------------


def _hpa(o: Obj) -> Obj:
    """An HPA as the internal object the printer reads (a v1 one converted to v2)."""
    if o.get("apiVersion") == "autoscaling/v1":
        return autoscaling.to_v2(o)
    return o


def _q(value: Any) -> str:
    """``Quantity.String()`` of a pointer (``<nil>`` when unset)."""
    return "<nil>" if value is None else str(value)


def _hpa_metric(spec: Obj, status: Obj | None) -> str:
    """One metric of ``formatHPAMetrics``: current/target."""
    type_ = spec.get("type")
    key = {"External": "external", "Pods": "pods", "Object": "object",
           "Resource": "resource", "ContainerResource": "containerResource"}.get(str(type_))
    if key is None:
        return "<unknown type>"
    source = spec.get(key) or {}
    target = source.get("target") or {}
    current_source = (status or {}).get(key)
    current = (current_source or {}).get("current") if isinstance(current_source, dict) \
        else None
    if key in ("external", "object"):
        if target.get("averageValue") is not None:
            now = "<unknown>" if not current or current.get("averageValue") is None \
                else _q(current["averageValue"])
            return f"{now}/{_q(target['averageValue'])} (avg)"
        now = "<unknown>" if current is None else _q(current.get("value"))
        return f"{now}/{_q(target.get('value'))}"
    if key == "pods":
        now = "<unknown>" if current is None else _q(current.get("averageValue"))
        return f"{now}/{_q(target.get('averageValue'))}"
    name = source.get("name", "")
    if target.get("averageValue") is not None:
        now = "<unknown>" if current is None else _q(current.get("averageValue"))
        return f"{name}: {now}/{_q(target['averageValue'])}"
    now = "<unknown>" if not current or current.get("averageUtilization") is None \
        else f"{current['averageUtilization']}%"
    goal = "<auto>" if target.get("averageUtilization") is None \
        else f"{target['averageUtilization']}%"
    return f"{name}: {now}/{goal}"


def _hpa_targets(o: Obj, _: datetime) -> str:
    hpa = _hpa(o)
    specs = [m for m in _list(hpa.get("spec"), "metrics") if isinstance(m, dict)]
    if not specs:
        return "<none>"
    statuses = _list(hpa.get("status"), "currentMetrics")
    shown = [_hpa_metric(m, statuses[i] if i < len(statuses) and isinstance(statuses[i], dict)
                         else None) for i, m in enumerate(specs)]
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def _hpa_min(o: Obj, _: datetime) -> str:
    value = get(_hpa(o), "spec", "minReplicas")
    return "<unset>" if value is None else str(value)


_HPA_SPEC = "autoscaling/v2.HorizontalPodAutoscalerSpec"
_HPA = [
    NAME,
    _col("Reference", "string", lambda o, _: "{}/{}".format(
        get(o, "spec", "scaleTargetRef", "kind", default=""),
        get(o, "spec", "scaleTargetRef", "name", default="")), f"{_HPA_SPEC}.scaleTargetRef"),
    _col("Targets", "string", _hpa_targets, f"{_HPA_SPEC}.metrics"),
    _col("MinPods", "string", _hpa_min, f"{_HPA_SPEC}.minReplicas"),
    _col("MaxPods", "string", lambda o, _: int(get(o, "spec", "maxReplicas", default=0) or 0),
         f"{_HPA_SPEC}.maxReplicas"),
    _col("Replicas", "string",
         lambda o, _: int(get(o, "status", "currentReplicas", default=0) or 0),
         "autoscaling/v2.HorizontalPodAutoscalerStatus.currentReplicas"),
    AGE,
]

#: the printers of the built-in kinds the fake serves, by (group, kind)
PRINTERS: dict[tuple[str, str], list[Column]] = {
    ("", "Pod"): _POD,
    ("", "Service"): _SERVICE,
    ("", "ConfigMap"): _CONFIGMAP,
    ("", "Secret"): _SECRET,
    ("", "Namespace"): _NAMESPACE,
    ("", "ServiceAccount"): [NAME, AGE],
    ("", "PersistentVolumeClaim"): _PVC,
    ("", "Event"): _EVENT,
    ("events.k8s.io", "Event"): _EVENT,
    ("apps", "Deployment"): _DEPLOYMENT,
    ("apps", "ReplicaSet"): _REPLICASET,
    ("apps", "StatefulSet"): _STATEFULSET,
    ("apps", "DaemonSet"): _DAEMONSET,
    ("batch", "Job"): _JOB,
    ("batch", "CronJob"): _CRONJOB,
    ("policy", "PodDisruptionBudget"): _PDB,
    ("networking.k8s.io", "Ingress"): _INGRESS,
    ("networking.k8s.io", "NetworkPolicy"): _NETWORKPOLICY,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding(
        "roleBinding", "rbac/v1beta1.RoleBinding.roleRef"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding(
        "clusterRoleBinding", "rbac/v1beta1.ClusterRoleBinding.roleRef"),
    ("coordination.k8s.io", "Lease"): _LEASE,
    ("autoscaling", "HorizontalPodAutoscaler"): _HPA,
}

#: the default table convertor's columns (kinds without a printer: Roles, CRDs, ...)
DEFAULT_COLUMNS: list[Column] = [NAME, CREATED_AT]


def builtin_columns(group: str, kind: str) -> list[Column]:
    return list(PRINTERS.get((group, kind), DEFAULT_COLUMNS))


def row_conditions(group: str, kind: str, obj: Obj) -> list[Obj] | None:
    return pod_row_conditions(obj) if (group, kind) == ("", "Pod") else None
