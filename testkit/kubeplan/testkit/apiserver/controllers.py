"""Emulated controllers: garbage collector, namespace lifecycle, CRD establishment.

In a real cluster these live outside the API server (kube-controller-manager, the
apiextensions controllers) and act *after* the write that triggered them; envtest
lacks them, which is why namespaces hang in Terminating there. Here they are one
asyncio task fed with every committed change of the store, so their effects also
arrive after the response, as separate watch events. ``FakeApiServer.settle()``
waits until they have nothing left to do; each can be switched off for tests.

Names: ``"garbagecollector"`` (ownerReferences, Background/Foreground/Orphan),
``"namespace"`` (Terminating namespaces emptied, pods first, then removed), ``"crd"`` (CRDs
established and served, their objects removed when the CRD is deleted); and, only
when named (they are not in ``DEFAULT_CONTROLLERS``), ``"serviceaccount"`` (every
active namespace gets a ``default`` ServiceAccount, made again when deleted) and
``"rootca"`` (every active namespace gets the ``kube-root-ca.crt`` ConfigMap, put
back when deleted or changed; its CA is a fixed one made for the fake), ``"kubelet"``
(pods bound to a fake node, started and made Ready, deleted gracefully: ``kubelet.py``)
and ``"workloads"`` (ReplicaSets, Deployments and StatefulSets make their pods and
report their status: ``workloads.py``). Those two may act later on the fake's clock (a
readiness delay, ``minReadySeconds``, a progress deadline): such waits are timers, not
work, so ``settle()`` does not wait for them; advancing the clock fires them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.codec import copy_obj
from kubeplan.testkit.apiserver.kubelet import Kubelet
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.store import LogEntry, Obj, ObjectKey, Store
from kubeplan.testkit.apiserver.workloads import (
    DEPLOYMENTS,
    RS,
    STATEFULSETS,
    WorkloadControllers,
)
from kubeplan.testkit.apiserver.writes import (
    CRD_CLEANUP,
    FOREGROUND,
    NAMESPACE_FINALIZER,
    ORPHAN,
    Target,
    WriteOptions,
    Writer,
    set_crd_condition,
)

__all__ = ["CONTROLLERS", "DEFAULT_CONTROLLERS", "ControllerManager", "parse_controllers"]

log = logging.getLogger(__name__)

GC = "garbagecollector"
NAMESPACE = "namespace"
CRD = "crd"
SERVICE_ACCOUNT = "serviceaccount"
ROOT_CA = "rootca"
#: the field manager of kube-controller-manager's writes (its clients' user agent)
KCM = "kube-controller-manager"
KUBELET = "kubelet"
WORKLOADS = "workloads"
CONTROLLERS = frozenset({GC, NAMESPACE, CRD, SERVICE_ACCOUNT, ROOT_CA, KUBELET, WORKLOADS})
#: what ``controllers=True`` runs: the namespace-defaults controllers are opt-in
DEFAULT_CONTROLLERS = frozenset({GC, NAMESPACE, CRD})
CRD_GR = "customresourcedefinitions.apiextensions.k8s.io"
#: who the apiextensions controllers' status writes are recorded as
CRD_MANAGER = "kube-apiserver"
ROOT_CA_NAME = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)
#: a self-signed CA made for the fake (no key kept): ``kube-root-ca.crt`` holds it
FAKE_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBoDCCAUegAwIBAgIURzFlO6FdSBWYjDy83YIulIwDEkEwCgYIKoZIzj0EAwIw
JTEjMCEGA1UEAwwaa3ViZXBsYW4tZmFrZS1hcGlzZXJ2ZXItY2EwIBcNMjYxMjAy
MDI1MTI0WhgPMjEyNjExMDgwMjUxMjRaMCUxIzAhBgNVBAMMGmt1YmVwbGFuLWZh
a2UtYXBpc2VydmVyLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERyr0yC5Q
Q0OPBJiz/75hGl2+JALtykIyEtc/mXBPKvvIU+pHgXGiZ5i3VgKNcVmAOeNjkpF/
Jpk4abpJQllmmKNTMFEwHQYDVR0OBBYEFOmnKi5U0TFXh76o7iuTeiBwMiJLMB8G
A1UdIwQYMBaAFOmnKi5U0TFXh76o7iuTeiBwMiJLMA8GA1UdEwEB/wQFMAMBAf8w
CgYIKoZIzj0EAwIDRwAwRAIgExIAXnTxjUbFPLfQ29PGD0s1McttQ+qw52vCbkLV
gtgCICm5FGu/+mSWnxVhb7uVQ1l/3rhCwb7efs7ngLx0PAYo
-----END CERTIFICATE-----
"""


def parse_controllers(text: str) -> frozenset[str]:
    """``--controllers kubelet,workloads``: the default controllers and the named ones
    (``none`` alone: no controller at all), or a ValueError naming the unknown names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["none"]:
        return frozenset()
    unknown = sorted(set(names) - CONTROLLERS)
    if unknown:
        raise InvalidArgument(
            f"unknown controllers {', '.join(unknown)}; choose from "
            f"{', '.join(sorted(CONTROLLERS))} (or none)"
        )
    return DEFAULT_CONTROLLERS | frozenset(names)


def _meta(obj: Obj) -> dict[str, Any]:
    meta: dict[str, Any] = obj["metadata"]
    return meta


def _split_gr(group_resource: str) -> tuple[str, str]:
    plural, _, group = group_resource.partition(".")
    return group, plural


def _terminating(crd: Obj, status_: str, reason: str, message: str, now: str) -> Obj:
    set_crd_condition(crd, "Terminating", status_, reason, message, now)
    return crd


def _condition(type_: str, reason: str, message: str, now: str) -> dict[str, str]:
    return {
        "type": type_,
        "status": "True",
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


#: the namespace deleter's condition types, in the order it first writes them
NAMESPACE_CONDITIONS = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
#: each condition type's "ok" variant (status False): its reason and message
_NAMESPACE_OK = {
    "NamespaceDeletionDiscoveryFailure": (
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": (
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
}


def _remaining_conditions(remaining: list[tuple[str, Obj]]) -> dict[str, tuple[str, str]]:
    """The content and finalizer conditions for what is left in a terminating namespace:
    instances counted per resource (``configmaps.`` for the core group, ``plural.group``
    otherwise) and per finalizer, each list sorted as text."""
    if not remaining:
        return {}
    per_resource: dict[str, int] = {}
    per_finalizer: dict[str, int] = {}
    for gr, obj in remaining:
        group, plural = _split_gr(gr)
        resource = f"{plural}.{group}"
        per_resource[resource] = per_resource.get(resource, 0) + 1
        for finalizer in _meta(obj).get("finalizers") or ():
            per_finalizer[finalizer] = per_finalizer.get(finalizer, 0) + 1
    resources = sorted(f"{r} has {n} resource instances" for r, n in per_resource.items())
    out = {
        "NamespaceContentRemaining": (
            "SomeResourcesRemain",
            "Some resources are remaining: " + ", ".join(resources),
        )
    }
    if per_finalizer:
        finalizers = sorted(f"{f} in {n} resource instances" for f, n in per_finalizer.items())
        out["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: " + ", ".join(finalizers),
        )
    return out


#: resources some emulated controller acts on whatever happens to them
_ACTED_ON = frozenset({"namespaces", CRD_GR, "pods", RS, DEPLOYMENTS, STATEFULSETS})


def _may_concern_a_controller(entry: LogEntry) -> bool:
    """False only for a change none of the controllers acts on: an object of another
    resource added or changed, without owners (now or before) and not being deleted,
    and not the root-CA ConfigMap the namespace defaults keep. (Deletions always count:
    the garbage collector, the namespace and CRD cleanup follow them.)"""
    if entry.type == "DELETED" or entry.group_resource in _ACTED_ON:
        return True
    meta = entry.obj.get("metadata") or {}
    if meta.get("ownerReferences") or meta.get("deletionTimestamp"):
        return True
    if entry.prev is not None and (entry.prev.get("metadata") or {}).get("ownerReferences"):
        return True
    return entry.group_resource == "configmaps" and entry.name == ROOT_CA_NAME


class ControllerManager:
    """Runs the enabled controllers on every committed change that may concern them
    (``_may_concern_a_controller``), in commit order.

    They see the server's parts they act through, not the server: the ``store`` they
    follow and read, the ``registry`` of served types, the ``writer`` their writes go
    through (so the server owns its controllers, never the other way round).
    """

    def __init__(
        self, store: Store, registry: Registry, writer: Writer, enabled: Iterable[str]
    ) -> None:
        enabled = frozenset(enabled)
        unknown = enabled - CONTROLLERS
        if unknown:
            raise InvalidArgument(
                f"unknown controllers {sorted(unknown)}; choose from {sorted(CONTROLLERS)}"
            )
        self.enabled = enabled
        self._store = store
        self._registry = registry
        self._writer = writer
        self._queue: deque[LogEntry] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self._registered_specs: dict[str, Any] = {}
        self._cleaning: dict[str, str] = {}  # group_resource -> CRD name
        self._timers: set[asyncio.Task[None]] = set()
        #: the emulated kubelet (``ready_delay`` and the rest), when ``"kubelet"`` is on
        self.kubelet = (
            Kubelet(store, registry, writer, self._schedule) if KUBELET in enabled else None
        )
        #: the workload controllers, when ``"workloads"`` is on
        self.workloads = (
            WorkloadControllers(store, registry, writer, self._schedule)
            if WORKLOADS in enabled
            else None
        )
        if enabled:
            store.add_listener(self._on_entry)

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def idle(self) -> bool:
        return (
            not self._queue
            and not self._busy
            and not (self.workloads is not None and self.workloads.pending)
        )

    def start(self) -> None:
        if not self.enabled or self.running:
            return
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="fake-apiserver-controllers"
        )
        if self._queue:
            self._wake.set()

    async def stop(self) -> None:
        timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        for controller in (self.kubelet, self.workloads):
            if controller is not None:
                controller.forget_timers()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_entry(self, entry: LogEntry) -> None:
        if not _may_concern_a_controller(entry):
            return  # not worth a turn of the controllers' loop (most writes of tests)
        self._queue.append(entry)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                entry = self._queue.popleft()
                self._busy = True
                try:
                    self.process(entry)
                except Exception:  # a controller bug must not kill the others
                    log.exception(
                        "emulated controller failed on %s %s/%s",
                        entry.type,
                        entry.group_resource,
                        entry.name,
                    )
                finally:
                    self._busy = False
                await asyncio.sleep(0)
            if self.workloads is not None and self.workloads.pending:
                self._busy = True
                try:  # their writes queue changes: the loop goes round again
                    self.workloads.flush()
                except Exception:
                    log.exception("emulated workload controllers failed")
                finally:
                    self._busy = False
                if self._queue:
                    self._wake.set()

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` ``delay`` seconds from now on the fake's clock."""
        timer = asyncio.get_running_loop().create_task(
            self._fire(delay, callback), name="fake-apiserver-controller-timer"
        )
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _fire(self, delay: float, callback: Callable[[], None]) -> None:
        await self._writer.clock.sleep(max(delay, 0.0))
        self._busy = True
        try:
            callback()
        except Exception:  # a controller bug must not kill the others
            log.exception("emulated controller failed in a timer")
        finally:
            self._busy = False

    def process(self, entry: LogEntry) -> None:
        if CRD in self.enabled:
            self._crd(entry)
        if NAMESPACE in self.enabled:
            self._namespace(entry)
        if GC in self.enabled:
            self._gc(entry)
        if SERVICE_ACCOUNT in self.enabled or ROOT_CA in self.enabled:
            self._namespace_defaults(entry)
        if self.workloads is not None:
            self.workloads.process(entry)
        if self.kubelet is not None:
            self.kubelet.process(entry)

    # --- helpers ------------------------------------------------------------------------

    def _info(self, group_resource: str) -> ResourceInfo | None:
        group, plural = _split_gr(group_resource)
        infos = self._registry.group_resource_infos(group, plural)
        return infos[0] if infos else None

    def _delete(self, group_resource: str, obj: Obj, policy: str) -> None:
        meta = _meta(obj)
        info = self._info(group_resource)
        if info is None:  # no longer served (its CRD is gone): drop it from storage
            self._store.remove(group_resource, meta.get("namespace") or "", meta["name"])
            return
        self._writer.controller_delete(
            info, meta.get("namespace") or "", meta["name"], policy, uid=meta.get("uid")
        )

    def _update(
        self,
        key: ObjectKey,
        change: Any,
        *,
        manager: str | None = None,
        subresource: str | None = None,
    ) -> Obj | None:
        return self._writer.controller_update(
            key[0], key[1], key[2], change, manager=manager, subresource=subresource
        )

    def _now(self) -> str:
        return self._writer.now()

    # --- garbage collector ----------------------------------------------------------------

    def _gc(self, entry: LogEntry) -> None:
        store = self._store
        key = (entry.group_resource, entry.namespace, entry.name)
        if entry.type == "DELETED":
            uid = _meta(entry.prev or entry.obj).get("uid")
            if uid:
                for dep_key, _ in store.dependents(uid):
                    self._gc_dependent(dep_key)
            self._recheck_owners(entry.prev or entry.obj)
            return
        obj = entry.obj
        meta = _meta(obj)
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or ()
            if ORPHAN in finalizers:
                self._gc_orphan(key, obj)
            elif FOREGROUND in finalizers:
                self._gc_foreground(key, obj)
        if meta.get("ownerReferences"):
            self._gc_dependent(key)
        if entry.prev is not None:
            before = {r.get("uid") for r in _meta(entry.prev).get("ownerReferences") or ()}
            after = {r.get("uid") for r in meta.get("ownerReferences") or ()}
            if before - after or (
                meta.get("deletionTimestamp") and not _meta(entry.prev).get("deletionTimestamp")
            ):
                self._recheck_owners(entry.prev)

    def _recheck_owners(self, dependent: Obj) -> None:
        """Foreground owners waiting on this dependent may now be free to go."""
        store = self._store
        for ref in _meta(dependent).get("ownerReferences") or ():
            found = store.get_by_uid(ref.get("uid", ""))
            if found is None:
                continue
            owner_key, owner = found
            meta = _meta(owner)
            if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
                self._gc_foreground(owner_key, owner)

    def _classify(self, dependent_ns: str, ref: dict[str, Any]) -> str:
        """``solid``, ``dangling``, ``waiting`` (owner in foreground deletion) or ``unknown``."""
        registry = self._registry
        api_version = str(ref.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        kind = ref.get("kind")
        info = registry.served_kind(group, kind) if isinstance(kind, str) else None
        if info is None:
            return "unknown"
        if info.namespaced and not dependent_ns:
            return "unknown"  # a cluster-scoped dependent cannot have a namespaced owner
        owner = self._store.get(
            info.group_resource, dependent_ns if info.namespaced else "", str(ref.get("name", ""))
        )
        if owner is None or _meta(owner).get("uid") != ref.get("uid"):
            return "dangling"
        meta = _meta(owner)
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
            return "waiting"
        return "solid"

    def _gc_dependent(self, key: ObjectKey) -> None:
        store = self._store
        obj = store.get(*key)
        if obj is None:
            return
        meta = _meta(obj)
        refs = meta.get("ownerReferences") or []
        if not refs or meta.get("deletionTimestamp"):
            return
        classes = [(ref, self._classify(key[1], ref)) for ref in refs]
        solid = [r for r, c in classes if c in ("solid", "unknown")]
        drop = {r.get("uid") for r, c in classes if c in ("dangling", "waiting")}
        if solid:
            if drop:

                def strip(o: Obj) -> Obj:
                    kept = [
                        r for r in _meta(o).get("ownerReferences") or () if r.get("uid") not in drop
                    ]
                    if kept:
                        _meta(o)["ownerReferences"] = kept
                    else:
                        _meta(o).pop("ownerReferences", None)
                    return o

                self._update(key, strip, manager=KCM)
            return
        waiting = any(c == "waiting" for _, c in classes)
        has_dependents = bool(store.dependents(meta.get("uid", "")))
        policy = "Foreground" if waiting and has_dependents else "Background"
        self._delete(key[0], obj, policy)

    def _gc_orphan(self, key: ObjectKey, owner: Obj) -> None:
        uid = _meta(owner).get("uid", "")
        for dep_key, _ in self._store.dependents(uid):

            def strip(o: Obj, uid: str = uid) -> Obj:
                kept = [r for r in _meta(o).get("ownerReferences") or () if r.get("uid") != uid]
                if kept:
                    _meta(o)["ownerReferences"] = kept
                else:
                    _meta(o).pop("ownerReferences", None)
                return o

            self._update(dep_key, strip, manager=KCM)
        self._remove_finalizer(key, ORPHAN, manager=KCM)

    def _gc_foreground(self, key: ObjectKey, owner: Obj) -> None:
        store = self._store
        uid = _meta(owner).get("uid", "")
        for dep_key, _ in store.dependents(uid):
            self._gc_dependent(dep_key)
        blocking = [
            dep
            for _, dep in store.dependents(uid)
            if any(
                r.get("uid") == uid and r.get("blockOwnerDeletion")
                for r in _meta(dep).get("ownerReferences") or ()
            )
        ]
        if not blocking:
            self._remove_finalizer(key, FOREGROUND, manager=KCM)

    def _remove_finalizer(
        self, key: ObjectKey, finalizer: str, *, manager: str | None = None
    ) -> None:
        def change(o: Obj) -> Obj:
            remaining = [f for f in _meta(o).get("finalizers") or () if f != finalizer]
            if remaining:
                _meta(o)["finalizers"] = remaining
            else:
                _meta(o).pop("finalizers", None)
            return o

        self._update(key, change, manager=manager)

    # --- what every namespace is given -----------------------------------------------------

    def _namespace_defaults(self, entry: LogEntry) -> None:
        """The serviceaccount and root-CA publisher controllers: a namespace's ``default``
        ServiceAccount and ``kube-root-ca.crt`` ConfigMap, made when missing."""
        if entry.group_resource == "namespaces":
            if entry.type != "DELETED":
                self._ensure_defaults(entry.name)
            return
        if not entry.namespace:
            return
        if (entry.group_resource, entry.name) == ("serviceaccounts", "default"):
            if entry.type == "DELETED":
                self._ensure_defaults(entry.namespace)
        elif (entry.group_resource, entry.name) == ("configmaps", ROOT_CA_NAME):
            self._ensure_defaults(entry.namespace)

    def _ensure_defaults(self, namespace: str) -> None:
        ns = self._store.get("namespaces", "", namespace)
        if ns is None or _meta(ns).get("deletionTimestamp"):
            return
        if SERVICE_ACCOUNT in self.enabled and (
            self._store.get("serviceaccounts", namespace, "default") is None
        ):
            account = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": namespace},
            }
            # the real controller's account carries no managedFields
            self._create("serviceaccounts", account, managed=False)
        if ROOT_CA not in self.enabled:
            return
        current = self._store.get("configmaps", namespace, ROOT_CA_NAME)
        data = {"ca.crt": FAKE_CA_PEM}
        if current is None:
            config_map = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": ROOT_CA_NAME,
                    "namespace": namespace,
                    "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
                },
                "data": data,
            }
            self._create("configmaps", config_map, managed=True)
        elif current.get("data") != data and not _meta(current).get("deletionTimestamp"):

            def restore(o: Obj) -> Obj:
                o["data"] = dict(data)
                return o

            self._update(("configmaps", namespace, ROOT_CA_NAME), restore)

    def _create(self, group_resource: str, obj: Obj, *, managed: bool) -> None:
        info = self._info(group_resource)
        if info is None:
            return
        target = Target(info, _meta(obj)["namespace"])
        with contextlib.suppress(status.StatusError):  # already there, or the namespace went
            self._writer.create(
                target,
                obj,
                WriteOptions(manager=KCM),
                managed_done=not managed,
            )

    # --- namespace lifecycle ------------------------------------------------------------------

    def _namespace(self, entry: LogEntry) -> None:
        if entry.group_resource == "namespaces":
            if entry.type != "DELETED" and _meta(entry.obj).get("deletionTimestamp"):
                self._sweep_namespace(entry.name)
            return
        if entry.namespace and entry.type == "DELETED":
            ns = self._store.get("namespaces", "", entry.namespace)
            if ns is not None and _meta(ns).get("deletionTimestamp"):
                self._sweep_namespace(entry.namespace)

    def _sweep_namespace(self, name: str) -> None:
        """One pass of the namespace deleter: pods first (the others wait while pods
        remain), then everything else; the five deletion conditions written to the status
        (changed ones only); and, once nothing remains, the ``kubernetes`` finalizer
        removed through ``finalize``."""
        store = self._store
        ns = store.get("namespaces", "", name)
        if ns is None or not _meta(ns).get("deletionTimestamp"):
            return
        if not (ns.get("spec") or {}).get("finalizers"):
            return  # finalized: the server removes it
        for gr, obj in list(store.in_namespace(name)):
            if gr == "pods" and not _meta(obj).get("deletionTimestamp"):
                self._delete(gr, obj, "Background")
        if any(gr == "pods" for gr, _ in store.in_namespace(name)):
            # ordered deletion: the conditions are written before the content is counted
            self._write_namespace_conditions(name, {})
            return
        for gr, obj in list(store.in_namespace(name)):
            if not _meta(obj).get("deletionTimestamp"):
                self._delete(gr, obj, "Background")
        remaining = list(store.in_namespace(name))
        self._write_namespace_conditions(name, _remaining_conditions(remaining))
        if remaining:
            return

        def finalize(o: Obj) -> Obj:
            spec = o.setdefault("spec", {})
            spec["finalizers"] = [
                f for f in spec.get("finalizers") or () if f != NAMESPACE_FINALIZER
            ]
            return o

        self._update(("namespaces", "", name), finalize, manager=KCM, subresource="finalize")

    def _write_namespace_conditions(self, name: str, failing: dict[str, tuple[str, str]]) -> None:
        """``updateConditions``: each of the deleter's condition types, True with the
        reason and message ``failing`` gives it or else False as its "ok" variant,
        appended when new, else changed in place (its transition time only when its
        status changes), as kube-controller-manager on the status subresource."""
        now = self._now()

        def conditions(o: Obj) -> Obj:
            st = o.setdefault("status", {})
            current = [dict(c) for c in st.get("conditions") or ()]
            for type_ in NAMESPACE_CONDITIONS:
                if type_ in failing:
                    wanted = _condition(type_, *failing[type_], now)
                else:
                    wanted = {**_condition(type_, *_NAMESPACE_OK[type_], now), "status": "False"}
                old = next((c for c in current if c.get("type") == type_), None)
                if old is None:
                    current.append(wanted)
                    continue
                if any(old.get(k) != wanted[k] for k in ("status", "message", "reason")):
                    if old.get("status") != wanted["status"]:
                        old["lastTransitionTime"] = now
                    for k in ("status", "reason", "message"):
                        old[k] = wanted[k]
            st["conditions"] = current
            return o

        self._update(("namespaces", "", name), conditions, manager=KCM, subresource="status")

    # --- CRDs -------------------------------------------------------------------------------

    def _crd(self, entry: LogEntry) -> None:
        registry = self._registry
        if entry.group_resource == CRD_GR:
            name = entry.name
            if entry.type == "DELETED":
                self._registered_specs.pop(name, None)
                registry.unregister_crd(name)
                return
            crd = entry.obj
            if _meta(crd).get("deletionTimestamp"):
                registry.set_terminating(name)
                self._cleanup_crd(crd)
                return
            self._establish(crd)
            return
        crd_name = self._cleaning.get(entry.group_resource)
        if crd_name and entry.type == "DELETED":
            stored = self._store.get(CRD_GR, "", crd_name)
            if stored is not None:
                self._cleanup_crd(stored)

    def _crd_status(self, name: str, change: Callable[[Obj], Obj | None]) -> Obj | None:
        """A status write of the apiextensions controllers (they run in the API server
        and update the status subresource as ``kube-apiserver``)."""
        return self._writer.controller_update(
            CRD_GR, "", name, change,
            info=self._registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
            manager=CRD_MANAGER, subresource="status")

    def _establish(self, crd: Obj) -> None:
        name = _meta(crd)["name"]
        spec = crd.get("spec") or {}
        names = copy_obj(spec.get("names") or {})
        status = crd.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or ()}
        if status.get("acceptedNames") != names or "Established" not in conditions:
            now = self._now()

            def accept(o: Obj) -> Obj:
                # the naming controller's write, then the establishing controller's
                o.setdefault("status", {})["acceptedNames"] = names
                set_crd_condition(o, "NamesAccepted", "True", "NoConflicts",
                                  "no conflicts found", now)
                set_crd_condition(o, "Established", "True", "InitialNamesAccepted",
                                  "the initial names have been accepted", now)
                return o

            self._crd_status(name, accept)
            crd = self._store.get(CRD_GR, "", name) or crd
        if self._registered_specs.get(name) != crd.get("spec"):
            self._registered_specs[name] = crd.get("spec")
            self._registry.register_crd(crd)

    def _cleanup_crd(self, crd: Obj) -> None:
        """The finalizer controller: says the objects are being removed, removes them,
        and once none is left says so and drops its finalizer (the CRD goes)."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural = spec.get("group", ""), names.get("plural", "")
        gr = f"{plural}.{group}" if group else plural
        name = _meta(crd)["name"]
        if CRD_CLEANUP not in (_meta(crd).get("finalizers") or ()):
            return
        conditions = {c.get("type"): c for c in (crd.get("status") or {}).get("conditions") or ()
                      if isinstance(c, dict)}
        established = (conditions.get("Established") or {}).get("status") == "True"
        if (conditions.get("Terminating") or {}).get("reason") == "InstanceDeletionPending":
            now = self._now()
            self._crd_status(name, lambda o: _terminating(
                o, "True", "InstanceDeletionInProgress",
                "CustomResource deletion is in progress", now))
        self._cleaning[gr] = name
        store = self._store
        if established:
            for obj in store.objects(gr):
                if not _meta(obj).get("deletionTimestamp"):
                    self._delete(gr, obj, "Background")
            if store.count(gr) != 0:
                return
        self._cleaning.pop(gr, None)
        now = self._now()

        def finish(o: Obj) -> Obj:
            if established:
                _terminating(o, "False", "InstanceDeletionCompleted", "removed all instances",
                             now)
            else:
                _terminating(o, "False", "NeverEstablished", "resource was never established",
                             now)
            meta = _meta(o)
            meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != CRD_CLEANUP]
            if not meta["finalizers"]:
                del meta["finalizers"]
            return o

        self._crd_status(name, finish)
