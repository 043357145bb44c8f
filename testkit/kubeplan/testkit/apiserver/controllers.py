"""Emulated controllers: garbage collector, namespace lifecycle, CRD establishment.

In a real cluster these live outside the API server (kube-controller-manager, the
apiextensions controllers) and act *after* the write that triggered them; envtest
lacks them, which is why namespaces hang in Terminating there. Here they are one
asyncio task fed with every committed change of the store, so their effects also
arrive after the response, as separate watch events. ``FakeApiServer.settle()``
waits until they have nothing left to do; each can be switched off for tests.

Names: ``"garbagecollector"`` (ownerReferences, Background/Foreground/Orphan),
``"namespace"`` (Terminating namespaces emptied then removed), ``"crd"`` (CRDs
established and served, their objects removed when the CRD is deleted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kubeplan.testkit.apiserver.codec import copy_obj
from kubeplan.testkit.apiserver.registry import ResourceInfo
from kubeplan.testkit.apiserver.store import LogEntry, Obj, ObjectKey
from kubeplan.testkit.apiserver.writes import (
    CRD_CLEANUP,
    FOREGROUND,
    NAMESPACE_FINALIZER,
    ORPHAN,
)

if TYPE_CHECKING:
    from kubeplan.testkit.apiserver.server import FakeApiServer

__all__ = ["CONTROLLERS", "ControllerManager"]

log = logging.getLogger(__name__)

GC = "garbagecollector"
NAMESPACE = "namespace"
CRD = "crd"
CONTROLLERS = frozenset({GC, NAMESPACE, CRD})
CRD_GR = "customresourcedefinitions.apiextensions.k8s.io"


def _meta(obj: Obj) -> dict[str, Any]:
    meta: dict[str, Any] = obj["metadata"]
    return meta


def _split_gr(group_resource: str) -> tuple[str, str]:
    plural, _, group = group_resource.partition(".")
    return group, plural


def _condition(type_: str, reason: str, message: str, now: str) -> dict[str, str]:
    return {
        "type": type_,
        "status": "True",
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


class ControllerManager:
    """Runs the enabled controllers on every committed change, in commit order."""

    def __init__(self, server: FakeApiServer, enabled: Iterable[str]) -> None:
        enabled = frozenset(enabled)
        unknown = enabled - CONTROLLERS
        if unknown:
            raise ValueError(
                f"unknown controllers {sorted(unknown)}; choose from {sorted(CONTROLLERS)}"
            )
        self.enabled = enabled
        self._server = server
        self._queue: deque[LogEntry] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self._registered_specs: dict[str, Any] = {}
        self._cleaning: dict[str, str] = {}  # group_resource -> CRD name
        if enabled:
            server.store.add_listener(self._on_entry)

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def idle(self) -> bool:
        return not self._queue and not self._busy

    def start(self) -> None:
        if not self.enabled or self.running:
            return
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="fake-apiserver-controllers"
        )
        if self._queue:
            self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_entry(self, entry: LogEntry) -> None:
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

    def process(self, entry: LogEntry) -> None:
        if CRD in self.enabled:
            self._crd(entry)
        if NAMESPACE in self.enabled:
            self._namespace(entry)
        if GC in self.enabled:
            self._gc(entry)

    # --- helpers ------------------------------------------------------------------------

    def _info(self, group_resource: str) -> ResourceInfo | None:
        group, plural = _split_gr(group_resource)
        infos = self._server.registry.group_resource_infos(group, plural)
        return infos[0] if infos else None

    def _delete(self, group_resource: str, obj: Obj, policy: str) -> None:
        meta = _meta(obj)
        info = self._info(group_resource)
        if info is None:  # no longer served (its CRD is gone): drop it from storage
            self._server.store.remove(group_resource, meta.get("namespace") or "", meta["name"])
            return
        self._server.writer.controller_delete(
            info, meta.get("namespace") or "", meta["name"], policy, uid=meta.get("uid")
        )

    def _update(self, key: ObjectKey, change: Any) -> Obj | None:
        return self._server.writer.controller_update(key[0], key[1], key[2], change)

    def _now(self) -> str:
        return self._server.writer.now()

    # --- garbage collector ----------------------------------------------------------------

    def _gc(self, entry: LogEntry) -> None:
        store = self._server.store
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
        store = self._server.store
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
        registry = self._server.registry
        api_version = str(ref.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        kind = ref.get("kind")
        info = registry.served_kind(group, kind) if isinstance(kind, str) else None
        if info is None:
            return "unknown"
        if info.namespaced and not dependent_ns:
            return "unknown"  # a cluster-scoped dependent cannot have a namespaced owner
        owner = self._server.store.get(
            info.group_resource, dependent_ns if info.namespaced else "", str(ref.get("name", ""))
        )
        if owner is None or _meta(owner).get("uid") != ref.get("uid"):
            return "dangling"
        meta = _meta(owner)
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
            return "waiting"
        return "solid"

    def _gc_dependent(self, key: ObjectKey) -> None:
        store = self._server.store
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

                self._update(key, strip)
            return
        waiting = any(c == "waiting" for _, c in classes)
        has_dependents = bool(store.dependents(meta.get("uid", "")))
        policy = "Foreground" if waiting and has_dependents else "Background"
        self._delete(key[0], obj, policy)

    def _gc_orphan(self, key: ObjectKey, owner: Obj) -> None:
        uid = _meta(owner).get("uid", "")
        for dep_key, _ in self._server.store.dependents(uid):

            def strip(o: Obj, uid: str = uid) -> Obj:
                kept = [r for r in _meta(o).get("ownerReferences") or () if r.get("uid") != uid]
                if kept:
                    _meta(o)["ownerReferences"] = kept
                else:
                    _meta(o).pop("ownerReferences", None)
                return o

            self._update(dep_key, strip)
        self._remove_finalizer(key, ORPHAN)

    def _gc_foreground(self, key: ObjectKey, owner: Obj) -> None:
        store = self._server.store
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
            self._remove_finalizer(key, FOREGROUND)

    def _remove_finalizer(self, key: ObjectKey, finalizer: str) -> None:
        def change(o: Obj) -> Obj:
            remaining = [f for f in _meta(o).get("finalizers") or () if f != finalizer]
            if remaining:
                _meta(o)["finalizers"] = remaining
            else:
                _meta(o).pop("finalizers", None)
            return o

        self._update(key, change)

    # --- namespace lifecycle ------------------------------------------------------------------

    def _namespace(self, entry: LogEntry) -> None:
        if entry.group_resource == "namespaces":
            if entry.type != "DELETED" and _meta(entry.obj).get("deletionTimestamp"):
                self._sweep_namespace(entry.name)
            return
        if entry.namespace and entry.type == "DELETED":
            ns = self._server.store.get("namespaces", "", entry.namespace)
            if ns is not None and _meta(ns).get("deletionTimestamp"):
                self._sweep_namespace(entry.namespace)

    def _sweep_namespace(self, name: str) -> None:
        store = self._server.store
        ns = store.get("namespaces", "", name)
        if ns is None or not _meta(ns).get("deletionTimestamp"):
            return
        for gr, obj in list(store.in_namespace(name)):
            if not _meta(obj).get("deletionTimestamp"):
                self._delete(gr, obj, "Background")
        remaining = list(store.in_namespace(name))
        if remaining:
            pending = sorted({f for _, o in remaining for f in _meta(o).get("finalizers") or ()})
            now = self._now()

            def conditions(o: Obj) -> Obj:
                st = o.setdefault("status", {})
                kept = [
                    c
                    for c in st.get("conditions") or ()
                    if c.get("type")
                    not in ("NamespaceContentRemaining", "NamespaceFinalizersRemaining")
                ]
                kept.append(
                    _condition(
                        "NamespaceContentRemaining",
                        "SomeResourcesRemain",
                        f"Some resources are remaining: {len(remaining)} objects",
                        now,
                    )
                )
                if pending:
                    kept.append(
                        _condition(
                            "NamespaceFinalizersRemaining",
                            "SomeFinalizersRemain",
                            "Some content in the namespace has finalizers remaining: "
                            + ", ".join(pending),
                            now,
                        )
                    )
                previous = {c["type"]: c for c in st.get("conditions") or ()}
                for cond in kept:
                    old = previous.get(cond["type"])
                    if old and {k: v for k, v in old.items() if k != "lastTransitionTime"} == {
                        k: v for k, v in cond.items() if k != "lastTransitionTime"
                    }:
                        cond["lastTransitionTime"] = old["lastTransitionTime"]
                st["conditions"] = kept
                return o

            self._update(("namespaces", "", name), conditions)
            return

        def finalize(o: Obj) -> Obj:
            spec = o.setdefault("spec", {})
            spec["finalizers"] = [
                f for f in spec.get("finalizers") or () if f != NAMESPACE_FINALIZER
            ]
            return o

        self._update(("namespaces", "", name), finalize)

    # --- CRDs -------------------------------------------------------------------------------

    def _crd(self, entry: LogEntry) -> None:
        registry = self._server.registry
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
            stored = self._server.store.get(CRD_GR, "", crd_name)
            if stored is not None:
                self._cleanup_crd(stored)

    def _establish(self, crd: Obj) -> None:
        name = _meta(crd)["name"]
        spec = crd.get("spec") or {}
        names = copy_obj(spec.get("names") or {})
        status = crd.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or ()}
        if status.get("acceptedNames") != names or "Established" not in conditions:
            now = self._now()

            def accept(o: Obj) -> Obj:
                st = o.setdefault("status", {})
                st["acceptedNames"] = names
                old = {c.get("type"): c for c in st.get("conditions") or ()}
                new_conditions = [
                    c
                    for c in st.get("conditions") or ()
                    if c.get("type") not in ("NamesAccepted", "Established")
                ]
                new_conditions.append(
                    old.get("NamesAccepted")
                    or _condition("NamesAccepted", "NoConflicts", "no conflicts found", now)
                )
                new_conditions.append(
                    old.get("Established")
                    or _condition(
                        "Established",
                        "InitialNamesAccepted",
                        "the initial names have been accepted",
                        now,
                    )
                )
                st["conditions"] = new_conditions
                return o

            self._update((CRD_GR, "", name), accept)
            crd = self._server.store.get(CRD_GR, "", name) or crd
        if self._registered_specs.get(name) != crd.get("spec"):
            self._registered_specs[name] = crd.get("spec")
            self._server.registry.register_crd(crd)

    def _cleanup_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural = spec.get("group", ""), names.get("plural", "")
        gr = f"{plural}.{group}" if group else plural
        name = _meta(crd)["name"]
        self._cleaning[gr] = name
        store = self._server.store
        for obj in store.objects(gr):
            if not _meta(obj).get("deletionTimestamp"):
                self._delete(gr, obj, "Background")
        if store.count(gr) == 0:
            self._cleaning.pop(gr, None)
            self._remove_finalizer((CRD_GR, "", name), CRD_CLEANUP)
