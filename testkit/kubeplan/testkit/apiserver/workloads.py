"""The emulated workload controllers (controller ``"workloads"``): ReplicaSets, Deployments
and StatefulSets make their pods and report their status, as kube-controller-manager does.

Together with the emulated kubelet (``kubelet.py``) they let an operator whose status
follows its children's readiness run offline. What each does, and where it is simpler
than upstream (``pkg/controller/replicaset``, ``deployment``, ``statefulset``):

* **ReplicaSet**: creates pods from its template (``generateName: <rs>-``, the template's
  labels and annotations, a controller ownerReference) until ``spec.replicas`` are
  active, deletes the surplus (unscheduled, then pending, then unready, newest first);
  status ``replicas``, ``fullyLabeledReplicas``, ``readyReplicas``, ``availableReplicas``
  (ready for ``minReadySeconds``), ``terminatingReplicas``, ``observedGeneration`` and a
  ``ReplicaFailure`` condition when a pod cannot be made. It does not adopt or release
  pods by selector: only pods it controls count.
* **Deployment**: a ReplicaSet per pod template (``<deployment>-<pod-template-hash>``, the
  hash label on the RS, its selector and its pods, the ``deployment.kubernetes.io/revision``,
  ``desired-replicas`` and ``max-replicas`` annotations, the revision on the Deployment
  too), rolled out by ``RollingUpdate`` (new RS up within ``maxSurge``, old ones down
  within ``maxUnavailable``, as ``rolling.go`` reconciles them) or ``Recreate``; old
  ReplicaSets beyond ``revisionHistoryLimit`` removed; status and the ``Available`` and
  ``Progressing`` conditions with upstream's reasons, messages and order (including
  ``ProgressDeadlineExceeded``). Simplified: the hash is not upstream's value (same
  alphabet and length, a hash of the template's JSON), a scale during a rollout is not
  spread proportionally, ``paused`` only stops the rollout, rollbacks are not emulated, and
  the revision annotation on the Deployment is written without a managedFields entry.
* **StatefulSet**: pods ``<name>-0`` .. ``<name>-N-1`` (``OrderedReady``: each after the
  one before is Running and Ready; ``Parallel``: at once), with the
  ``controller-revision-hash``, ``statefulset.kubernetes.io/pod-name`` and
  ``apps.kubernetes.io/pod-index`` labels, ``hostname`` and ``subdomain``; scale down from
  the highest ordinal; ``RollingUpdate`` replaces outdated pods from the highest ordinal
  once the rest are ready. No ControllerRevision objects (the fake does not serve them),
  no PersistentVolumeClaims from ``volumeClaimTemplates``.

Writes go through the write pipeline as ``kube-controller-manager`` (spec changes through
update, status through the status subresource), so managedFields look as they do upstream.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import orjson

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.clock import parse_time
from kubeplan.testkit.apiserver.codec import copy_obj
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.store import LogEntry, Obj, Store
from kubeplan.testkit.apiserver.writes import DeleteOptions, Target, WriteOptions, Writer

__all__ = ["REVISION_ANNOTATION", "WorkloadControllers", "template_hash"]

MANAGER = "kube-controller-manager"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DESIRED_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_ANNOTATION = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
STS_REVISION_LABEL = "controller-revision-hash"
STS_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
STS_POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RS = "replicasets.apps"
DEPLOYMENTS = "deployments.apps"
STATEFULSETS = "statefulsets.apps"
_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"

Schedule = Callable[[float, Callable[[], None]], None]


def _meta(obj: Obj) -> dict[str, Any]:
    meta: dict[str, Any] = obj["metadata"]
    return meta


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """A pod template's ``pod-template-hash``: FNV-32a, spelled as upstream's
    ``rand.SafeEncodeString`` spells it (the bytes hashed differ from upstream's)."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return "".join(_SAFE_CHARS[ord(ch) % len(_SAFE_CHARS)] for ch in str(_fnv32a(data)))


def _controller_uid(obj: Obj) -> str | None:
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _controller_ref(owner: Obj, kind: str) -> Obj:
    meta = _meta(owner)
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _condition_of(obj: Obj, type_: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return None


def pod_ready(pod: Obj) -> bool:
    cond = _condition_of(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    """An int-or-percent (``maxSurge``, ``maxUnavailable``) against ``total``."""
    if value is None:
        value = "25%"
    if isinstance(value, str) and value.endswith("%"):
        part = int(value[:-1]) * total / 100
        return math.ceil(part) if round_up else math.floor(part)
    return int(value)


def _revision(rs: Obj) -> int:
    try:
        return int((_meta(rs).get("annotations") or {}).get(REVISION_ANNOTATION) or 0)
    except ValueError:
        return 0


def _created(obj: Obj) -> tuple[str, str]:
    meta = _meta(obj)
    return (meta.get("creationTimestamp") or "", meta["name"])


class WorkloadControllers:
    """The ReplicaSet, Deployment and StatefulSet controllers, fed the store's changes."""

    def __init__(
        self, store: Store, registry: Registry, writer: Writer, schedule: Schedule
    ) -> None:
        self._store = store
        self._registry = registry
        self._writer = writer
        self._schedule = schedule
        self._timers: set[tuple[str, str, str]] = set()
        # (kind, namespace, name) to sync once the changes queued now are all seen: a burst
        # of pod changes syncs their ReplicaSet once, not once per change
        self._dirty: dict[tuple[str, str, str], None] = {}

    def forget_timers(self) -> None:
        """The manager cancelled every timer (the server stopped): wake-ups are made anew."""
        self._timers.clear()

    # --- entry -----------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        """Whether syncs wait for ``flush``."""
        return bool(self._dirty)

    def flush(self) -> None:
        """Sync what the changes seen since the last flush touched, in their order."""
        while self._dirty:
            key = next(iter(self._dirty))
            del self._dirty[key]
            kind, namespace, name = key
            if kind == RS:
                self.sync_replicaset(namespace, name)
            elif kind == DEPLOYMENTS:
                self.sync_deployment(namespace, name)
            else:
                self.sync_statefulset(namespace, name)

    def process(self, entry: LogEntry) -> None:
        """Note what ``entry`` touches; ``flush`` syncs it."""
        gr = entry.group_resource
        obj = entry.obj if entry.type != "DELETED" else (entry.prev or entry.obj)
        if gr == "pods":
            owner = self._owner(obj)
            if owner is not None:
                owner_gr, name = owner
                if owner_gr == RS:
                    self._dirty[(RS, entry.namespace, name)] = None
                elif owner_gr == STATEFULSETS:
                    self._dirty[(STATEFULSETS, entry.namespace, name)] = None
        elif gr == RS:
            if entry.type != "DELETED":
                self._dirty[(RS, entry.namespace, entry.name)] = None
            owner = self._owner(obj)
            if owner is not None and owner[0] == DEPLOYMENTS:
                self._dirty[(DEPLOYMENTS, entry.namespace, owner[1])] = None
        elif gr == DEPLOYMENTS and entry.type != "DELETED":
            self._dirty[(DEPLOYMENTS, entry.namespace, entry.name)] = None
        elif gr == STATEFULSETS and entry.type != "DELETED":
            self._dirty[(STATEFULSETS, entry.namespace, entry.name)] = None

    def _owner(self, obj: Obj) -> tuple[str, str] | None:
        for ref in _meta(obj).get("ownerReferences") or ():
            if not ref.get("controller") or ref.get("apiVersion") != "apps/v1":
                continue
            gr = {"ReplicaSet": RS, "Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS}.get(
                str(ref.get("kind"))
            )
            if gr is not None:
                return gr, str(ref.get("name"))
        return None

    # --- writes ------------------------------------------------------------------------------

    def _info(self, plural: str, group: str = "apps") -> ResourceInfo:
        info = self._registry.lookup(group, "v1", plural)
        assert info is not None
        return info

    def _write_status(self, obj: Obj, plural: str, new_status: Obj) -> None:
        if (obj.get("status") or {}) == new_status:
            return
        meta = _meta(obj)
        body = copy_obj(obj)
        body["status"] = new_status
        target = Target(self._info(plural), meta.get("namespace") or "", meta["name"], "status")
        with contextlib.suppress(status.StatusError):
            self._writer.update(target, body, WriteOptions(manager=MANAGER))

    def _write_spec(self, obj: Obj, plural: str, change: Callable[[Obj], None]) -> Obj | None:
        body = copy_obj(obj)
        change(body)
        if body == obj:
            return obj
        meta = _meta(obj)
        target = Target(self._info(plural), meta.get("namespace") or "", meta["name"])
        try:
            return self._writer.update(target, body, WriteOptions(manager=MANAGER)).body
        except status.StatusError:
            return None

    def _create(self, plural: str, namespace: str, obj: Obj, group: str = "apps") -> str | None:
        """Create ``obj``; the error message when the server refuses it."""
        target = Target(self._info(plural, group), namespace)
        try:
            self._writer.create(target, obj, WriteOptions(manager=MANAGER))
        except status.StatusError as exc:
            return str(exc.body.get("message") or exc)
        return None

    def _delete(self, plural: str, obj: Obj, group: str = "apps") -> None:
        meta = _meta(obj)
        target = Target(self._info(plural, group), meta.get("namespace") or "", meta["name"])
        with contextlib.suppress(status.StatusError):
            self._writer.delete(target, DeleteOptions(uid=meta.get("uid")))

    def _later(self, kind: str, namespace: str, name: str, seconds: float) -> None:
        key = (kind, namespace, name)
        if key in self._timers:
            return
        self._timers.add(key)
        sync = {
            RS: self.sync_replicaset,
            DEPLOYMENTS: self.sync_deployment,
            STATEFULSETS: self.sync_statefulset,
        }[kind]

        def wake() -> None:
            self._timers.discard(key)
            sync(namespace, name)

        self._schedule(seconds, wake)

    def _pods_of(self, owner: Obj) -> list[Obj]:
        """The pods ``owner`` controls, from the store's index of dependents."""
        uid = _meta(owner).get("uid") or ""
        return [
            obj
            for key, obj in self._store.dependents(uid)
            if key[0] == "pods" and _controller_uid(obj) == uid
        ]

    def _new_pod(self, owner: Obj, kind: str, template: Obj, meta: Obj) -> Obj:
        tmeta = template.get("metadata") or {}
        pod_meta: Obj = {"namespace": _meta(owner).get("namespace")}
        pod_meta.update(meta)
        labels = dict(tmeta.get("labels") or {})
        labels.update(meta.get("labels") or {})
        if labels:
            pod_meta["labels"] = labels
        if tmeta.get("annotations"):
            pod_meta["annotations"] = dict(tmeta["annotations"])
        if tmeta.get("finalizers"):
            pod_meta["finalizers"] = list(tmeta["finalizers"])
        pod_meta["ownerReferences"] = [_controller_ref(owner, kind)]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": pod_meta,
            "spec": copy_obj(template.get("spec") or {}),
        }

    # --- availability --------------------------------------------------------------------------

    def _available(self, pod: Obj, min_ready: int) -> tuple[bool, float | None]:
        """Whether a ready pod counts as available, and else in how many seconds it will."""
        cond = _condition_of(pod, "Ready")
        if cond is None or cond.get("status") != "True":
            return False, None
        if min_ready <= 0:
            return True, None
        since = cond.get("lastTransitionTime")
        if not since:
            return False, None
        due = parse_time(since) + timedelta(seconds=min_ready)
        left = (due - self._writer.clock.now()).total_seconds()
        return (left <= 0), (left if left > 0 else None)

    # --- ReplicaSet ----------------------------------------------------------------------------

    def sync_replicaset(self, namespace: str, name: str) -> None:
        rs = self._store.get(RS, namespace, name)
        if rs is None or _meta(rs).get("deletionTimestamp"):
            return
        spec = rs.get("spec") or {}
        pods = self._pods_of(rs)
        active = [
            p
            for p in pods
            if not _meta(p).get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        diff = _replicas(rs) - len(active)
        failure: str | None = None
        if diff > 0:
            template = spec.get("template") or {}
            for _ in range(diff):
                pod = self._new_pod(rs, "ReplicaSet", template, {"generateName": f"{name}-"})
                failure = self._create("pods", namespace, pod, group="") or failure
                if failure is not None:
                    break
        elif diff < 0:
            for pod in sorted(active, key=self._deletion_rank)[:-diff]:
                self._delete("pods", pod, group="")
        rs = self._store.get(RS, namespace, name)
        if rs is None:
            return
        self._write_status(rs, "replicasets", self._rs_status(rs, failure))

    def _deletion_rank(self, pod: Obj) -> tuple[int, int, int, str]:
        """Pods to delete first: unscheduled, pending, unready, then the newest."""
        spec = pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        created = _meta(pod).get("creationTimestamp") or ""
        newest_first = "".join(chr(0x10FFFF - ord(ch)) for ch in created)
        return (
            0 if not spec.get("nodeName") else 1,
            0 if phase == "Pending" else 1,
            1 if pod_ready(pod) else 0,
            newest_first,
        )

    def _rs_status(self, rs: Obj, failure: str | None) -> Obj:
        meta = _meta(rs)
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        pods = self._pods_of(rs)
        active = [
            p
            for p in pods
            if not _meta(p).get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        terminating = [
            p
            for p in pods
            if _meta(p).get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        labeled = ready = available = 0
        wake: float | None = None
        for pod in active:
            labels = _meta(pod).get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels.items()):
                labeled += 1
            if pod_ready(pod):
                ready += 1
                ok, left = self._available(pod, min_ready)
                available += ok
                if left is not None:
                    wake = left if wake is None else min(wake, left)
        if wake is not None:
            self._later(RS, meta.get("namespace") or "", meta["name"], wake)
        new: Obj = {"replicas": len(active)}
        if labeled:
            new["fullyLabeledReplicas"] = labeled
        if ready:
            new["readyReplicas"] = ready
        if available:
            new["availableReplicas"] = available
        new["terminatingReplicas"] = len(terminating)
        if meta.get("generation"):
            new["observedGeneration"] = meta["generation"]
        conditions = [
            c
            for c in (rs.get("status") or {}).get("conditions") or ()
            if c.get("type") != "ReplicaFailure"
        ]
        old_failure = _condition_of(rs, "ReplicaFailure")
        if failure is not None:
            reason = "FailedCreate"
            conditions.append(
                old_failure
                or {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastTransitionTime": self._writer.now(),
                    "reason": reason,
                    "message": failure,
                }
            )
        if conditions:
            new["conditions"] = conditions
        return new

    # --- Deployment ------------------------------------------------------------------------

    def _replicasets_of(self, deployment: Obj) -> list[Obj]:
        uid = _meta(deployment).get("uid") or ""
        found = [
            obj
            for key, obj in self._store.dependents(uid)
            if key[0] == RS and _controller_uid(obj) == uid
        ]
        return sorted(found, key=_created)

    def sync_deployment(self, namespace: str, name: str) -> None:
        d = self._store.get(DEPLOYMENTS, namespace, name)
        if d is None or _meta(d).get("deletionTimestamp"):
            return
        spec = d.get("spec") or {}
        template = copy_obj(spec.get("template") or {})
        all_rs = self._replicasets_of(d)
        new_rs = next((rs for rs in all_rs if self._same_template(rs, template)), None)
        old_rs = [rs for rs in all_rs if rs is not new_rs]
        d_status = copy_obj(d.get("status") or {})
        status_changed = False
        max_old = max((_revision(rs) for rs in old_rs), default=0)
        new_revision = str(max_old + 1)
        replicas = _replicas(d)
        max_surge = self._max_surge(d)
        if new_rs is None:
            if spec.get("paused"):
                self._deployment_status(d, all_rs, None, d_status)
                return
            collision = d_status.get("collisionCount")
            pod_hash = template_hash(template, collision)
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            labels[HASH_LABEL] = pod_hash
            template.setdefault("metadata", {})["labels"] = labels
            selector = copy_obj(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
            rs_name = f"{name}-{pod_hash}"
            count = self._new_rs_replicas(d, old_rs, None)
            body: Obj = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": {
                        DESIRED_ANNOTATION: str(replicas),
                        MAX_ANNOTATION: str(replicas + max_surge),
                        REVISION_ANNOTATION: new_revision,
                    },
                    "ownerReferences": [_controller_ref(d, "Deployment")],
                },
                "spec": {
                    "replicas": count,
                    "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                    "selector": selector,
                    "template": template,
                },
            }
            if self._store.get(RS, namespace, rs_name) is not None:  # a hash collision
                d_status["collisionCount"] = int(collision or 0) + 1
                self._write_status(d, "deployments", d_status)
                return
            failure = self._create("replicasets", namespace, body)
            if failure is not None:
                message = f'Failed to create new replica set "{rs_name}": {failure}'
                self._set_condition(
                    d_status, "Progressing", False, "ReplicaSetCreateError", message
                )
                self._write_status(d, "deployments", d_status)
                return
            new_rs = self._store.get(RS, namespace, rs_name)
            assert new_rs is not None
            all_rs = self._replicasets_of(d)
            self._set_revision(d, new_revision)
            if spec.get("progressDeadlineSeconds") is not None:
                message = f'Created new replica set "{rs_name}"'
                self._set_condition(d_status, "Progressing", True, "NewReplicaSetCreated", message)
                status_changed = True
        else:
            annotations = dict(_meta(new_rs).get("annotations") or {})
            wanted = dict(annotations)
            if _revision(new_rs) <= max_old:
                wanted[REVISION_ANNOTATION] = new_revision
            wanted[DESIRED_ANNOTATION] = str(replicas)
            wanted[MAX_ANNOTATION] = str(replicas + max_surge)
            min_ready = int(spec.get("minReadySeconds") or 0)
            if (
                wanted != annotations
                or (new_rs.get("spec") or {}).get("minReadySeconds", 0) != min_ready
            ):

                def annotate(o: Obj) -> None:
                    _meta(o)["annotations"] = wanted
                    o.setdefault("spec", {})["minReadySeconds"] = min_ready

                self._write_spec(new_rs, "replicasets", annotate)
                return  # its change brings this deployment back
            self._set_revision(d, str(_revision(new_rs)))
            if spec.get("progressDeadlineSeconds") is not None and not _condition_of(
                d, "Progressing"
            ):
                message = f'Found new replica set "{_meta(new_rs)["name"]}"'
                self._set_condition(d_status, "Progressing", True, "FoundNewReplicaSet", message)
                status_changed = True
        d = self._store.get(DEPLOYMENTS, namespace, name) or d
        if status_changed:
            self._write_status(d, "deployments", d_status)
            d = self._store.get(DEPLOYMENTS, namespace, name) or d
        if not spec.get("paused"):
            strategy = (spec.get("strategy") or {}).get("type") or "RollingUpdate"
            if strategy == "Recreate":
                self._recreate(d, old_rs, new_rs)
            else:
                self._rolling(d, old_rs, new_rs)
            self._cleanup(d, old_rs)
        all_rs = self._replicasets_of(d)
        new_rs = next(
            (rs for rs in all_rs if self._same_template(rs, spec.get("template") or {})), None
        )
        self._deployment_status(d, all_rs, new_rs, copy_obj(d.get("status") or {}))

    def _same_template(self, rs: Obj, template: Obj) -> bool:
        theirs = copy_obj((rs.get("spec") or {}).get("template") or {})
        labels = (theirs.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(HASH_LABEL, None)
            if not labels:
                theirs["metadata"].pop("labels")
        ours = copy_obj(template)
        if not (ours.get("metadata") or {}).get("labels") and "metadata" in ours:
            ours["metadata"].pop("labels", None)
        return bool(theirs == ours)

    def _set_revision(self, d: Obj, revision: str) -> None:
        meta = _meta(d)
        if (meta.get("annotations") or {}).get(REVISION_ANNOTATION) == revision:
            return

        def annotate(o: Obj) -> Obj:
            _meta(o).setdefault("annotations", {})[REVISION_ANNOTATION] = revision
            return o

        self._writer.controller_update(
            DEPLOYMENTS, meta.get("namespace") or "", meta["name"], annotate
        )

    def _set_condition(
        self, st: Obj, type_: str, ok: bool, reason: str, message: str, *, keep_time: bool = False
    ) -> None:
        """``SetDeploymentCondition``: unchanged when status and reason are the same; the
        transition time kept when the status is; the condition moved to the end."""
        conditions = list(st.get("conditions") or ())
        value = "True" if ok else "False"
        current = next((c for c in conditions if c.get("type") == type_), None)
        if (
            current is not None
            and current.get("status") == value
            and current.get("reason") == reason
            and not keep_time
        ):
            return
        now = self._writer.now()
        cond = {
            "type": type_,
            "status": value,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
        if current is not None and current.get("status") == value:
            cond["lastTransitionTime"] = current.get("lastTransitionTime")
        st["conditions"] = [c for c in conditions if c.get("type") != type_] + [cond]

    def _max_surge(self, d: Obj) -> int:
        spec = d.get("spec") or {}
        strategy = spec.get("strategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return 0
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge"), _replicas(d), round_up=True)
        unavailable = _scaled(rolling.get("maxUnavailable"), _replicas(d), round_up=False)
        return 1 if surge == 0 and unavailable == 0 else surge

    def _max_unavailable(self, d: Obj) -> int:
        spec = d.get("spec") or {}
        strategy = spec.get("strategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate" or _replicas(d) == 0:
            return 0
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge"), _replicas(d), round_up=True)
        unavailable = _scaled(rolling.get("maxUnavailable"), _replicas(d), round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return min(unavailable, _replicas(d))

    def _new_rs_replicas(self, d: Obj, old_rs: Iterable[Obj], new_rs: Obj | None) -> int:
        """``NewRSNewReplicas``: how far the new ReplicaSet may grow now."""
        replicas = _replicas(d)
        strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate"
        if strategy != "RollingUpdate":
            return replicas
        current_new = _replicas(new_rs) if new_rs is not None else 0
        total = sum(_replicas(rs) for rs in old_rs) + current_new
        max_total = replicas + self._max_surge(d)
        if total >= max_total:
            return current_new
        return current_new + min(max_total - total, max(replicas - current_new, 0))

    def _scale(self, rs: Obj, count: int, d: Obj) -> None:
        """``scaleReplicaSet``: the count and the deployment's replica annotations."""
        if _replicas(rs) == count:
            return
        desired = str(_replicas(d))
        most = str(_replicas(d) + self._max_surge(d))

        def change(o: Obj) -> None:
            o.setdefault("spec", {})["replicas"] = count
            annotations = _meta(o).setdefault("annotations", {})
            annotations[DESIRED_ANNOTATION] = desired
            annotations[MAX_ANNOTATION] = most

        self._write_spec(rs, "replicasets", change)

    def _rolling(self, d: Obj, old_rs: list[Obj], new_rs: Obj) -> None:
        replicas = _replicas(d)
        if _replicas(new_rs) > replicas:
            self._scale(new_rs, replicas, d)
        else:
            self._scale(new_rs, self._new_rs_replicas(d, old_rs, new_rs), d)
        live = [rs for rs in old_rs if _replicas(rs) > 0]
        if not live:
            return
        ns = _meta(d).get("namespace") or ""
        new_rs = self._store.get(RS, ns, _meta(new_rs)["name"]) or new_rs
        all_pods = sum(_replicas(rs) for rs in old_rs) + _replicas(new_rs)
        min_available = replicas - self._max_unavailable(d)
        new_available = int((new_rs.get("status") or {}).get("availableReplicas") or 0)
        new_unavailable = _replicas(new_rs) - new_available
        budget = all_pods - min_available - new_unavailable
        if budget <= 0:
            return
        scaled: dict[str, int] = {}
        for rs in sorted(live, key=_created):  # unhealthy replicas go first
            if budget <= 0:
                break
            available = int((rs.get("status") or {}).get("availableReplicas") or 0)
            unhealthy = _replicas(rs) - available
            cut = min(budget, max(unhealthy, 0))
            if cut:
                scaled[_meta(rs)["name"]] = _replicas(rs) - cut
                budget -= cut
        available_all = sum(
            int((rs.get("status") or {}).get("availableReplicas") or 0) for rs in [*old_rs, new_rs]
        )
        total_down = min(available_all - min_available, budget) if budget > 0 else 0
        for rs in sorted(live, key=_created):
            if total_down <= 0:
                break
            now = scaled.get(_meta(rs)["name"], _replicas(rs))
            cut = min(now, total_down)
            if cut:
                scaled[_meta(rs)["name"]] = now - cut
                total_down -= cut
        for rs in live:
            if _meta(rs)["name"] in scaled:
                self._scale(rs, scaled[_meta(rs)["name"]], d)

    def _recreate(self, d: Obj, old_rs: list[Obj], new_rs: Obj) -> None:
        for rs in old_rs:
            self._scale(rs, 0, d)
        for rs in old_rs:
            if any(
                (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                for p in self._pods_of(rs)
            ):
                return  # wait for the old pods to go
        self._scale(new_rs, _replicas(d), d)

    def _cleanup(self, d: Obj, old_rs: list[Obj]) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        empty = [
            rs
            for rs in old_rs
            if _replicas(rs) == 0
            and not (rs.get("status") or {}).get("replicas")
            and not _meta(rs).get("deletionTimestamp")
        ]
        surplus = len(empty) - limit
        for rs in sorted(empty, key=_revision)[: max(surplus, 0)]:
            self._delete("replicasets", rs)

    def _deployment_status(
        self, d: Obj, all_rs: list[Obj], new_rs: Obj | None, old_status: Obj
    ) -> None:
        meta = _meta(d)
        spec = d.get("spec") or {}
        replicas = _replicas(d)

        def total(key: str) -> int:
            return sum(int((rs.get("status") or {}).get(key) or 0) for rs in all_rs)

        available = total("availableReplicas")
        unavailable = max(sum(_replicas(rs) for rs in all_rs) - available, 0)
        new: Obj = {}
        if meta.get("generation"):
            new["observedGeneration"] = meta["generation"]
        counts = {
            "replicas": total("replicas"),
            "updatedReplicas": int(((new_rs or {}).get("status") or {}).get("replicas") or 0),
            "readyReplicas": total("readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": unavailable,
        }
        new.update({k: v for k, v in counts.items() if v})
        if any("terminatingReplicas" in (rs.get("status") or {}) for rs in all_rs):
            new["terminatingReplicas"] = total("terminatingReplicas")
        if old_status.get("conditions"):
            new["conditions"] = copy_obj(old_status["conditions"])
        if "collisionCount" in old_status:
            new["collisionCount"] = old_status["collisionCount"]
        if available >= replicas - self._max_unavailable(d):
            self._set_condition(
                new,
                "Available",
                True,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        else:
            self._set_condition(
                new,
                "Available",
                False,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        deadline = spec.get("progressDeadlineSeconds")
        if deadline is None:
            new["conditions"] = [
                c for c in new.get("conditions") or () if c.get("type") != "Progressing"
            ]
        current = _condition_of(d, "Progressing")
        complete_already = (
            new.get("replicas", 0) == new.get("updatedReplicas", 0)
            and current is not None
            and current.get("reason") == "NewReplicaSetAvailable"
        )
        rs_name = _meta(new_rs)["name"] if new_rs is not None else None
        if deadline is not None and not complete_already:
            old_st = d.get("status") or {}
            if (
                new.get("updatedReplicas", 0) == replicas
                and new.get("replicas", 0) == replicas
                and available == replicas
                and new.get("observedGeneration", 0) >= int(meta.get("generation") or 0)
            ):
                message = (
                    f'ReplicaSet "{rs_name}" has successfully progressed.'
                    if rs_name
                    else f'Deployment "{meta["name"]}" has successfully progressed.'
                )
                self._set_condition(new, "Progressing", True, "NewReplicaSetAvailable", message)
            elif self._progressing(old_st, new):
                message = (
                    f'ReplicaSet "{rs_name}" is progressing.'
                    if rs_name
                    else f'Deployment "{meta["name"]}" is progressing.'
                )
                self._set_condition(
                    new, "Progressing", True, "ReplicaSetUpdated", message, keep_time=True
                )
            elif (
                current is not None
                and current.get("status") == "True"
                and current.get("reason") != "NewReplicaSetAvailable"
            ):
                since = current.get("lastUpdateTime") or current.get("lastTransitionTime") or ""
                due = parse_time(str(since) or self._writer.now())
                due += timedelta(seconds=int(deadline))
                left = (due - self._writer.clock.now()).total_seconds()
                if left <= 0:
                    message = (
                        f'ReplicaSet "{rs_name}" has timed out progressing.'
                        if rs_name
                        else f'Deployment "{meta["name"]}" has timed out progressing.'
                    )
                    self._set_condition(
                        new, "Progressing", False, "ProgressDeadlineExceeded", message
                    )
                else:
                    self._later(DEPLOYMENTS, meta.get("namespace") or "", meta["name"], left + 1)
        failure = next(
            (
                c
                for rs in all_rs
                for c in (rs.get("status") or {}).get("conditions") or ()
                if c.get("type") == "ReplicaFailure"
            ),
            None,
        )
        if failure is not None:
            self._set_condition(
                new,
                "ReplicaFailure",
                failure.get("status") == "True",
                str(failure.get("reason")),
                str(failure.get("message")),
            )
        elif new.get("conditions"):
            new["conditions"] = [c for c in new["conditions"] if c.get("type") != "ReplicaFailure"]
        if not new.get("conditions"):
            new.pop("conditions", None)
        self._write_status(d, "deployments", new)

    @staticmethod
    def _progressing(old: Obj, new: Obj) -> bool:
        def n(st: Obj, key: str) -> int:
            return int(st.get(key) or 0)

        old_old = n(old, "replicas") - n(old, "updatedReplicas")
        new_old = n(new, "replicas") - n(new, "updatedReplicas")
        return (
            n(new, "updatedReplicas") > n(old, "updatedReplicas")
            or new_old < old_old
            or n(new, "readyReplicas") > n(old, "readyReplicas")
            or n(new, "availableReplicas") > n(old, "availableReplicas")
        )

    # --- StatefulSet ------------------------------------------------------------------------

    def sync_statefulset(self, namespace: str, name: str) -> None:
        sts = self._store.get(STATEFULSETS, namespace, name)
        if sts is None or _meta(sts).get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        template = spec.get("template") or {}
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        revision = f"{name}-{template_hash(template, collisions)}"
        replicas = _replicas(sts)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        pods = {_meta(p)["name"]: p for p in self._pods_of(sts)}
        ordinal_pods: dict[int, Obj] = {}
        for pod_name, pod in pods.items():
            suffix = pod_name[len(name) + 1 :]
            if pod_name.startswith(name + "-") and suffix.isdigit():
                ordinal_pods[int(suffix)] = pod
        healthy_before = True
        for i in range(replicas):
            found = ordinal_pods.get(i)
            if found is None:
                if not healthy_before and not parallel:
                    break
                self._create("pods", namespace, self._sts_pod(sts, i, revision), group="")
                if not parallel:
                    break
                continue
            if _meta(found).get("deletionTimestamp"):
                healthy_before = False
                if not parallel:
                    break
                continue
            running = (found.get("status") or {}).get("phase") == "Running" and pod_ready(found)
            if not running:
                healthy_before = False
                if not parallel:
                    break
        else:
            # scale down from the highest ordinal, one at a time unless Parallel
            extra = sorted((i for i in ordinal_pods if i >= replicas), reverse=True)
            for i in extra:
                if not _meta(ordinal_pods[i]).get("deletionTimestamp"):
                    self._delete("pods", ordinal_pods[i], group="")
                if not parallel:
                    break
            update = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
            live = [ordinal_pods[i] for i in range(replicas) if i in ordinal_pods]
            if (
                not extra
                and update == "RollingUpdate"
                and len(live) == replicas
                and all(pod_ready(p) and not _meta(p).get("deletionTimestamp") for p in live)
            ):
                outdated = [
                    p
                    for p in live
                    if (_meta(p).get("labels") or {}).get(STS_REVISION_LABEL) != revision
                ]
                if outdated:
                    self._delete("pods", outdated[-1], group="")
        sts = self._store.get(STATEFULSETS, namespace, name)
        if sts is not None:
            self._write_status(sts, "statefulsets", self._sts_status(sts, revision))

    def _sts_pod(self, sts: Obj, ordinal: int, revision: str) -> Obj:
        spec = sts.get("spec") or {}
        name = f"{_meta(sts)['name']}-{ordinal}"
        labels = {
            STS_REVISION_LABEL: revision,
            STS_POD_NAME_LABEL: name,
            STS_POD_INDEX_LABEL: str(ordinal),
        }
        pod = self._new_pod(
            sts, "StatefulSet", spec.get("template") or {}, {"name": name, "labels": labels}
        )
        pod["spec"]["hostname"] = name
        if spec.get("serviceName"):
            pod["spec"]["subdomain"] = spec["serviceName"]
        return pod

    def _sts_status(self, sts: Obj, revision: str) -> Obj:
        meta = _meta(sts)
        spec = sts.get("spec") or {}
        old = sts.get("status") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        pods = [p for p in self._pods_of(sts) if not _meta(p).get("deletionTimestamp")]
        ready = available = updated = 0
        wake: float | None = None
        for pod in pods:
            if pod_ready(pod):
                ready += 1
                ok, left = self._available(pod, min_ready)
                available += ok
                if left is not None:
                    wake = left if wake is None else min(wake, left)
            if (_meta(pod).get("labels") or {}).get(STS_REVISION_LABEL) == revision:
                updated += 1
        if wake is not None:
            self._later(STATEFULSETS, meta.get("namespace") or "", meta["name"], wake)
        current_revision = old.get("currentRevision") or revision
        if updated == _replicas(sts) == len(pods):
            current_revision = revision
        current = sum(
            1
            for p in pods
            if (_meta(p).get("labels") or {}).get(STS_REVISION_LABEL) == current_revision
        )
        new: Obj = {}
        if meta.get("generation"):
            new["observedGeneration"] = meta["generation"]
        new["replicas"] = len(pods)
        if ready:
            new["readyReplicas"] = ready
        if current:
            new["currentReplicas"] = current
        if updated:
            new["updatedReplicas"] = updated
        new["currentRevision"] = current_revision
        new["updateRevision"] = revision
        new["collisionCount"] = int(old.get("collisionCount") or 0)
        if old.get("conditions"):
            new["conditions"] = old["conditions"]
        new["availableReplicas"] = available
        return new
