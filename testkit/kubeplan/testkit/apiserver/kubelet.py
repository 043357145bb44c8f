"""The emulated kubelet (controller ``"kubelet"``): pods bound, started, made Ready, stopped.

The fake has no scheduler and no nodes of its own, so this controller is both: a pod
without ``spec.nodeName`` is bound to the one fake node (``kubeplan-node``, a Node
object made on first use) as the binding subresource does it (``spec.nodeName`` and a
``PodScheduled`` condition), and every bound pod, whatever node it names, is run by this
kubelet. A pod gated by ``spec.schedulingGates`` stays unscheduled.

Each step is its own write, so a watcher sees the sequence the real kubelet produces:
bound, then ``Pending`` with containers ``ContainerCreating``, then ``Running`` with the
containers started and (unless told otherwise) ready. The status is written through the
``status`` subresource under the field manager ``kubelet``, shaped as
``generateAPIPodStatus`` shapes it: the five kubelet conditions in its order with
``observedGeneration``, ``hostIP``/``hostIPs``, ``podIP``/``podIPs`` (from
``10.244.0.0/16``, freed when the pod goes), ``startTime``, ``containerStatuses`` and
``initContainerStatuses``.

A pod's annotations steer it (on a template they reach every pod made from it):

* ``kubeplan.dev/fake-kubelet: unready`` - the containers run but fail readiness;
  ``crash`` - they crash and restart (``CrashLoopBackOff``, ``restartCount`` 1);
  ``succeed`` / ``fail`` - they exit 0 / 1: the pod ends ``Succeeded`` / ``Failed`` when
  its ``restartPolicy`` does not restart them, else they crash-loop as ``crash`` does;
  ``pending`` - they never start (``ContainerCreating``); anything else runs normally.
* ``kubeplan.dev/fake-kubelet-ready-after: "SECONDS"`` - the containers run but turn
  ready only that long after they started, on the fake's clock (virtual time included);
  ``Kubelet.ready_delay`` is the same for every pod that does not say.
* ``kubeplan.dev/fake-kubelet-stop-after: "SECONDS"`` - once the pod is deleted, its
  containers take that long to stop (at most its grace period: then they are killed,
  exit code 137), so a test sees it terminating.

Deletion: while the kubelet runs, the write pipeline keeps a scheduled pod that is
deleted with a grace period (``Writer.graceful_pods``); the kubelet then stops its
containers (``terminated``, exit code 0, phase ``Succeeded``) and deletes it with grace
0 and its uid as precondition, as the status manager does.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from kubeplan.core.errors import UsageError
from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.clock import parse_time
from kubeplan.testkit.apiserver.codec import copy_obj
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.store import LogEntry, Obj, Store
from kubeplan.testkit.apiserver.writes import DeleteOptions, Target, WriteOptions, Writer

__all__ = [
    "MODE_ANNOTATION",
    "NODE_NAME",
    "READY_AFTER_ANNOTATION",
    "STOP_AFTER_ANNOTATION",
    "Kubelet",
    "Schedule",
]

#: how the emulated kubelet runs a pod: ``unready``, ``crash``, ``pending`` (else: normal)
MODE_ANNOTATION = "kubeplan.dev/fake-kubelet"
#: seconds after the containers start before they turn ready
READY_AFTER_ANNOTATION = "kubeplan.dev/fake-kubelet-ready-after"
#: seconds the containers take to stop once the pod is deleted (the grace period caps it)
STOP_AFTER_ANNOTATION = "kubeplan.dev/fake-kubelet-stop-after"
NODE_NAME = "kubeplan-node"
HOST_IP = "172.18.0.2"
POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")
MANAGER = "kubelet"

#: ``schedule(delay_seconds, callback)``: run ``callback`` that much later on the clock
Schedule = Callable[[float, Callable[[], None]], None]


def _meta(obj: Obj) -> dict[str, Any]:
    meta: dict[str, Any] = obj["metadata"]
    return meta


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def normalize_image(image: str) -> str:
    """A container image as the runtime reports it (``nginx`` ->
    ``docker.io/library/nginx:latest``)."""
    name, at, digest = image.partition("@")
    first, slash, _ = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if slash else "library/" + name)
    if not at and ":" not in name.rpartition("/")[2]:
        name += ":latest"
    return name + at + digest


def _image_id(image: str) -> str:
    normalized = normalize_image(image)
    repo = normalized.partition("@")[0]
    last = repo.rpartition("/")
    if ":" in last[2]:
        repo = last[0] + last[1] + last[2].partition(":")[0]
    return f"{repo}@sha256:{_digest('image', normalized)}"


def _seconds(pod: Obj, annotation: str, default: float) -> float:
    """A non-negative number of seconds from an annotation (the default if unreadable)."""
    raw = (_meta(pod).get("annotations") or {}).get(annotation)
    if raw is None:
        return default
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return default


def _linux_user(c: Obj, spec: Obj) -> Obj:
    """The identity the runtime reports: ``runAsUser``/``runAsGroup`` (container, else pod,
    else root), the primary group first among the supplemental ones."""
    pod_context = spec.get("securityContext") or {}
    context = c.get("securityContext") or {}
    uid = int(context.get("runAsUser", pod_context.get("runAsUser", 0)))
    gid = int(context.get("runAsGroup", pod_context.get("runAsGroup", 0)))
    groups = [gid]
    for group in pod_context.get("supplementalGroups") or ():
        if int(group) not in groups:
            groups.append(int(group))
    return {"uid": uid, "gid": gid, "supplementalGroups": groups}


def _condition(type_: str, ok: bool, now: str, generation: int | None, **extra: str) -> Obj:
    cond: Obj = {"type": type_, "status": "True" if ok else "False"}
    if generation is not None:
        cond["observedGeneration"] = generation
    cond["lastProbeTime"] = None
    cond["lastTransitionTime"] = now
    cond.update(extra)
    return cond


class Kubelet:
    """One fake node's kubelet (and the scheduler's binding), fed the store's changes."""

    def __init__(
        self, store: Store, registry: Registry, writer: Writer, schedule: Schedule
    ) -> None:
        self._store = store
        self._registry = registry
        self._writer = writer
        self._schedule = schedule
        #: seconds a started container waits before it is ready (per pod: the annotation)
        self.ready_delay = 0.0
        self._ips: dict[str, str] = {}  # pod uid -> pod IP
        self._free_ips: list[int] = []
        self._next_ip = 1
        # (namespace, name, uid) -> the clock time of its earliest wake-up to come
        self._timers: dict[tuple[str, str, str], float] = {}
        writer.graceful_pods = True

    def forget_timers(self) -> None:
        """The manager cancelled every timer (the server stopped): wake-ups are made anew."""
        self._timers.clear()

    # --- entry -----------------------------------------------------------------------------

    @property
    def _pods(self) -> ResourceInfo:
        info = self._registry.lookup("", "v1", "pods")
        assert info is not None
        return info

    def process(self, entry: LogEntry) -> None:
        if entry.group_resource != "pods":
            return
        if entry.type == "DELETED":
            self._release_ip(_meta(entry.obj).get("uid", ""))
            return
        self.sync(entry.namespace, entry.name)

    def sync(self, namespace: str, name: str) -> None:
        """Take the pod one step on: bind, create, start, ready, stop, delete."""
        pod = self._store.get("pods", namespace, name)
        if pod is None:
            return
        meta = _meta(pod)
        spec = pod.get("spec") or {}
        current = pod.get("status") or {}
        if meta.get("deletionTimestamp"):
            self._stop(pod)
            return
        if current.get("phase") in ("Succeeded", "Failed"):
            return
        if not spec.get("nodeName"):
            if not spec.get("schedulingGates"):
                self._bind(pod)
            return
        wanted = self._status(pod)
        if wanted is not None:
            self._write_status(pod, wanted)

    # --- binding -----------------------------------------------------------------------------

    def _bind(self, pod: Obj) -> None:
        self._ensure_node()
        now = self._writer.now()

        def bind(o: Obj) -> Obj:
            o.setdefault("spec", {})["nodeName"] = NODE_NAME
            st = o.setdefault("status", {})
            conditions = [c for c in st.get("conditions") or () if c.get("type") != "PodScheduled"]
            conditions.append(_condition("PodScheduled", True, now, None))
            st["conditions"] = conditions
            return o

        meta = _meta(pod)
        self._writer.controller_update("pods", meta.get("namespace") or "", meta["name"], bind)

    def _ensure_node(self) -> None:
        if self._store.get("nodes", "", NODE_NAME) is not None:
            return
        info = self._registry.lookup("", "v1", "nodes")
        if info is None:
            return
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
            "spec": {"podCIDR": str(POD_NETWORK), "podCIDRs": [str(POD_NETWORK)]},
        }
        with contextlib.suppress(status.StatusError):
            self._writer.create(Target(info), node, WriteOptions(manager=MANAGER))
        now = self._writer.now()

        def ready(o: Obj) -> Obj:
            o["status"] = {
                "addresses": [
                    {"type": "InternalIP", "address": HOST_IP},
                    {"type": "Hostname", "address": NODE_NAME},
                ],
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                    }
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "containerRuntimeVersion": "containerd://2.1.0",
                    "kubeletVersion": "v1.36.3",
                },
            }
            return o

        self._writer.controller_update("nodes", "", NODE_NAME, ready)

    # --- pod IPs -------------------------------------------------------------------------------

    def _pod_ip(self, uid: str) -> str:
        ip = self._ips.get(uid)
        if ip is None:
            index = self._free_ips.pop() if self._free_ips else self._next_ip
            if index == self._next_ip:
                self._next_ip += 1
            if index >= POD_NETWORK.num_addresses - 1:
                raise UsageError("the fake kubelet ran out of pod IPs in 10.244.0.0/16")
            ip = str(POD_NETWORK.network_address + index)
            self._ips[uid] = ip
        return ip

    def _release_ip(self, uid: str) -> None:
        ip = self._ips.pop(uid, None)
        if ip is not None:
            self._free_ips.append(int(ipaddress.ip_address(ip)) - int(POD_NETWORK.network_address))

    # --- the status ------------------------------------------------------------------------

    def _ready_after(self, pod: Obj) -> float:
        return _seconds(pod, READY_AFTER_ANNOTATION, self.ready_delay)

    def _status(self, pod: Obj) -> Obj | None:
        """The next status of a bound pod, or None when it has reached its state."""
        meta = _meta(pod)
        spec = pod.get("spec") or {}
        current = pod.get("status") or {}
        mode = (meta.get("annotations") or {}).get(MODE_ANNOTATION, "")
        uid = meta.get("uid", "")
        now = self._writer.now()
        started = bool(current.get("containerStatuses")) and mode != "pending"
        host_network = bool(spec.get("hostNetwork"))
        pod_ip = HOST_IP if host_network else self._pod_ip(uid)
        start_time = current.get("startTime") or now
        generation = meta.get("generation")
        containers = spec.get("containers") or []
        inits = spec.get("initContainers") or []
        previous = {c.get("name"): c for c in current.get("containerStatuses") or ()}
        running_since = {
            name: ((c.get("state") or {}).get("running") or {}).get("startedAt")
            for name, c in previous.items()
        }
        ready_after = self._ready_after(pod)
        statuses: list[Obj] = []
        unready: list[str] = []
        wake: float | None = None
        waiting = "PodInitializing" if inits else "ContainerCreating"
        # succeed/fail: the containers exit; the pod ends there unless its policy restarts
        policy = spec.get("restartPolicy") or "Always"
        exit_code = {"succeed": 0, "fail": 1, "crash": 1}.get(mode, 0)
        exits = mode in ("succeed", "fail", "crash")
        terminal = mode in ("succeed", "fail") and (
            policy == "Never" or (policy == "OnFailure" and exit_code == 0)
        )
        terminal = terminal and started
        restarting = exits and not terminal
        for c in containers:
            cname = c.get("name", "")
            if not started:
                state: Obj = {"waiting": {"reason": waiting}}
                statuses.append(self._container(uid, c, spec, state, ready=False, started=None))
                unready.append(cname)
                continue
            if terminal:
                exit_state = {
                    "containerID": "",
                    "exitCode": exit_code,
                    "reason": "Completed" if exit_code == 0 else "Error",
                    "startedAt": start_time,
                    "finishedAt": now,
                }
                entry = self._container(uid, c, spec, {}, ready=False, started=False)
                entry["state"] = {"terminated": {**exit_state, "containerID": entry["containerID"]}}
                statuses.append(entry)
                unready.append(cname)
                continue
            if restarting:
                restart = 1
                message = (
                    f"back-off 10s restarting failed container={cname} "
                    f"pod={meta['name']}_{meta.get('namespace')}({uid})"
                )
                state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
                entry = self._container(uid, c, spec, state, ready=False, started=False)
                entry["restartCount"] = restart
                entry["lastState"] = {
                    "terminated": {
                        "containerID": entry["containerID"],
                        "exitCode": exit_code,
                        "reason": "Completed" if exit_code == 0 else "Error",
                        "startedAt": start_time,
                        "finishedAt": start_time,
                    }
                }
                statuses.append(entry)
                unready.append(cname)
                continue
            since = running_since.get(cname) or now
            ready = mode != "unready"
            if ready and ready_after > 0:
                due = parse_time(since) + timedelta(seconds=ready_after)
                left = (due - self._writer.clock.now()).total_seconds()
                if left > 0:
                    ready = False
                    wake = left if wake is None else min(wake, left)
            state = {"running": {"startedAt": since}}
            statuses.append(self._container(uid, c, spec, state, ready=ready, started=True))
            if not ready:
                unready.append(cname)
        init_statuses = [self._init_container(uid, c, spec, start_time, started) for c in inits]
        if wake is not None:
            self._wake_later(pod, wake)
        all_ready = not unready
        conditions: list[Obj] = [
            c
            for c in current.get("conditions") or ()
            if c.get("type")
            not in (
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            )
        ]
        initialized = started or not inits
        not_initialized = {}
        if not initialized:
            names = " ".join(c.get("name", "") for c in inits)
            not_initialized = {
                "reason": "ContainersNotInitialized",
                "message": f"containers with incomplete status: [{names}]",
            }
        message = f"containers with unready status: [{' '.join(unready)}]"
        not_ready = {"reason": "ContainersNotReady", "message": message}
        phase = "Running" if started else "Pending"
        if terminal:
            phase = "Succeeded" if exit_code == 0 else "Failed"
            if exit_code == 0:
                not_ready = {"reason": "PodCompleted"}
                not_initialized = {"reason": "PodCompleted"}
        conditions += [
            _condition("PodReadyToStartContainers", started and not terminal, now, generation),
            _condition("Initialized", initialized, now, generation, **not_initialized),
            _condition("Ready", all_ready, now, generation, **({} if all_ready else not_ready)),
            _condition(
                "ContainersReady", all_ready, now, generation, **({} if all_ready else not_ready)
            ),
        ]
        old = {c.get("type"): c for c in current.get("conditions") or ()}
        scheduled = old.get("PodScheduled") or _condition("PodScheduled", True, now, None)
        conditions.append(scheduled)
        for cond in conditions:  # the status manager keeps unchanged transition times
            before = old.get(cond["type"])
            if before is not None and before.get("status") == cond["status"]:
                cond["lastTransitionTime"] = before.get("lastTransitionTime")
        wanted: Obj = {
            "observedGeneration": generation,
            "phase": phase,
            "conditions": conditions,
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": start_time,
        }
        if init_statuses:
            wanted["initContainerStatuses"] = init_statuses
        wanted["containerStatuses"] = statuses
        if current.get("qosClass"):
            wanted["qosClass"] = current["qosClass"]
        if generation is None:
            wanted.pop("observedGeneration")
            for cond in conditions:
                cond.pop("observedGeneration", None)
        if wanted == current:
            return None
        return wanted

    def _container(
        self, uid: str, c: Obj, spec: Obj, state: Obj, *, ready: bool, started: bool | None
    ) -> Obj:
        """A container's status as ``convertToAPIContainerStatuses`` writes it; ``started``
        None: the runtime has not created it yet (no ID, no image ID, no resources)."""
        name, image = c.get("name", ""), c.get("image", "")
        created = started is not None
        entry: Obj = {
            "name": name,
            "state": state,
            "lastState": {},
            "ready": ready,
            "restartCount": 0,
            "image": normalize_image(image) if created else image,
            "imageID": _image_id(image) if created else "",
        }
        if created:
            entry["containerID"] = "containerd://" + _digest(uid, name)
            entry["started"] = started
            resources = copy_obj(c.get("resources") or {})
            if resources.get("requests"):
                entry["allocatedResources"] = copy_obj(resources["requests"])
            entry["resources"] = resources
        mounts = []
        for mount in c.get("volumeMounts") or ():
            shown: Obj = {"name": mount.get("name"), "mountPath": mount.get("mountPath")}
            if mount.get("readOnly"):
                shown["readOnly"] = True
                shown["recursiveReadOnly"] = (
                    "Enabled" if mount.get("recursiveReadOnly") == "Enabled" else "Disabled"
                )
            mounts.append(shown)
        if mounts:
            entry["volumeMounts"] = mounts
        if created:
            entry["user"] = {"linux": _linux_user(c, spec)}
        return entry

    def _init_container(self, uid: str, c: Obj, spec: Obj, at: str, started: bool) -> Obj:
        sidecar = c.get("restartPolicy") == "Always"
        if not started:
            state: Obj = {"waiting": {"reason": "PodInitializing"}}
            return self._container(uid, c, spec, state, ready=False, started=None)
        if sidecar:
            state = {"running": {"startedAt": at}}
            return self._container(uid, c, spec, state, ready=True, started=True)
        entry = self._container(uid, c, spec, {}, ready=True, started=False)
        entry["state"] = {
            "terminated": {
                "containerID": entry["containerID"],
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": at,
                "finishedAt": at,
            }
        }
        return entry

    def _wake_later(self, pod: Obj, seconds: float) -> None:
        meta = _meta(pod)
        key = (meta.get("namespace") or "", meta["name"], meta.get("uid", ""))
        due = self._writer.clock.monotonic() + seconds
        if self._timers.get(key, float("inf")) <= due:
            return  # an earlier wake-up syncs the pod first, and plans the next
        self._timers[key] = due

        def wake() -> None:
            if self._timers.get(key) == due:
                del self._timers[key]
            self.sync(key[0], key[1])

        self._schedule(seconds, wake)

    def _write_status(self, pod: Obj, wanted: Obj) -> None:
        meta = _meta(pod)
        body = copy_obj(pod)
        body["status"] = wanted
        body["metadata"].pop("managedFields", None)
        target = Target(self._pods, meta.get("namespace") or "", meta["name"], "status")
        with contextlib.suppress(status.StatusError):  # the pod changed or went meanwhile
            self._writer.update(target, body, WriteOptions(manager=MANAGER))

    # --- stopping ------------------------------------------------------------------------------

    def _stop(self, pod: Obj) -> None:
        """A deleting pod: its containers stop, then the kubelet deletes it for good."""
        meta = _meta(pod)
        namespace = meta.get("namespace") or ""
        spec = pod.get("spec") or {}
        current = pod.get("status") or {}
        grace = int(meta.get("deletionGracePeriodSeconds") or 0)
        if not spec.get("nodeName") or not grace:
            return  # not ours to finish (a finalizer holds it, or it was never scheduled)
        exit_code, reason = 0, "Completed"
        stop_after = _seconds(pod, STOP_AFTER_ANNOTATION, 0.0)
        if stop_after > 0:
            deleted_at = parse_time(meta["deletionTimestamp"]) - timedelta(seconds=grace)
            if stop_after > grace:
                stop_after, exit_code, reason = grace, 137, "Error"  # killed at the deadline
            due = deleted_at + timedelta(seconds=stop_after)
            left = (due - self._writer.clock.now()).total_seconds()
            if left > 0:
                self._wake_later(pod, left)
                return
        if current.get("containerStatuses") and current.get("phase") not in ("Succeeded", "Failed"):
            now = self._writer.now()
            wanted = copy_obj(current)
            for entry in wanted.get("containerStatuses") or ():
                running = (entry.get("state") or {}).get("running") or {}
                if running or entry.get("containerID"):
                    entry["state"] = {
                        "terminated": {
                            "containerID": entry.get("containerID", ""),
                            "exitCode": exit_code,
                            "reason": reason,
                            "startedAt": running.get("startedAt") or now,
                            "finishedAt": now,
                        }
                    }
                else:
                    entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
                entry["ready"] = False
                entry["started"] = False
            wanted["phase"] = "Succeeded" if exit_code == 0 else "Failed"
            for cond in wanted.get("conditions") or ():
                if cond.get("type") in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
                    if cond.get("status") != "False":
                        cond["lastTransitionTime"] = now
                    cond["status"] = "False"
                    if cond["type"] != "PodReadyToStartContainers" and exit_code == 0:
                        cond["reason"] = "PodCompleted"
                        cond.pop("message", None)
                    elif cond["type"] != "PodReadyToStartContainers":
                        names = " ".join(e["name"] for e in wanted.get("containerStatuses") or ())
                        cond["reason"] = "ContainersNotReady"
                        cond["message"] = f"containers with unready status: [{names}]"
            self._write_status(pod, wanted)
        with contextlib.suppress(status.StatusError):
            self._writer.delete(
                Target(self._pods, namespace, meta["name"]),
                DeleteOptions(grace_period=0, uid=meta.get("uid")),
            )
