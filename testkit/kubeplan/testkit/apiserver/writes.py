"""The write pipeline: create, update, patch, apply and delete with the real semantics.

Every write follows the order of the generic registry store (apiserver
``registry/generic/registry/store.go``): decode -> name/namespace checks -> system
fields -> type strategy (status subresource, generation, defaults, CR schema) ->
preconditions and resourceVersion -> managedFields -> validation -> no-op detection
-> commit. The new object is built completely before the single ``Store.put`` /
``Store.remove`` call, so a failure at any step leaves the store untouched, and
``dryRun=All`` is the same pipeline minus the commit.
"""

from __future__ import annotations

import base64
import contextlib
import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kubeplan.testkit.apiserver import mergekeys, patching, schema, ssa, status
from kubeplan.testkit.apiserver.clock import Clock, format_time
from kubeplan.testkit.apiserver.codec import (
    copy_obj,
    decode_json,
    decode_object,
    decode_yaml,
    encoded_size,
)
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.store import Obj, Store
from kubeplan.testkit.apiserver.validation import check_shape, validate_meta

__all__ = ["Target", "WriteOptions", "WriteResult", "Writer"]

PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
NAMESPACE_FINALIZER = "kubernetes"
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
MAX_DATA_BYTES = 1024 * 1024
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"

PATCH_JSON = "application/json-patch+json"
PATCH_MERGE = "application/merge-patch+json"
PATCH_STRATEGIC = "application/strategic-merge-patch+json"
PATCH_APPLY = "application/apply-patch+yaml"


@attrs.frozen
class Target:
    """What a request addresses: a resource, a namespace ("" if none), a name, a subresource."""

    info: ResourceInfo
    namespace: str = ""
    name: str | None = None
    subresource: str | None = None

    @property
    def group_resource(self) -> str:
        return self.info.group_resource


@attrs.frozen
class WriteOptions:
    dry_run: bool = False
    manager: str = ""
    field_validation: str = "Warn"
    force: bool | None = None
    manager_given: bool = True
    """Whether ``?fieldManager=`` was sent (apply requires it; others default it)."""


@attrs.frozen
class WriteResult:
    code: int
    body: dict[str, Any]
    warnings: tuple[str, ...] = ()


@attrs.frozen
class DeleteOptions:
    propagation: str | None = None
    orphan_dependents: bool | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


def _meta(obj: Obj) -> dict[str, Any]:
    meta: dict[str, Any] = obj["metadata"]
    return meta


def _without(obj: Obj, *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def _strip_managed_times(entries: Any) -> object:
    if not isinstance(entries, list):
        return entries
    return [
        {k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e for e in entries
    ]


def same_object(old: Obj, new: Obj) -> bool:
    """Whether a write would change nothing (RV and managed-field timestamps aside)."""
    if _without(old, "metadata") != _without(new, "metadata"):
        return False
    old_meta, new_meta = old["metadata"], new["metadata"]
    if _without(old_meta, "resourceVersion", "managedFields") != _without(
        new_meta, "resourceVersion", "managedFields"
    ):
        return False
    return _strip_managed_times(old_meta.get("managedFields")) == _strip_managed_times(
        new_meta.get("managedFields")
    )


def _finalizers(obj: Obj) -> list[str]:
    return list(_meta(obj).get("finalizers") or [])


def _holds(obj: Obj, info: ResourceInfo) -> bool:
    """Whether something still holds a deleting object (finalizers; namespaces' spec ones)."""
    if _finalizers(obj):
        return True
    if info.plural == "namespaces" and not info.group:
        return bool(((obj.get("spec") or {}).get("finalizers")) or [])
    return False


def _is_namespace(info: ResourceInfo) -> bool:
    return info.plural == "namespaces" and not info.group


def _is_crd(info: ResourceInfo) -> bool:
    return info.plural == "customresourcedefinitions" and info.group == "apiextensions.k8s.io"


class Writer:
    """Applies writes to a ``Store`` with the semantics of kube-apiserver."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        *,
        rng: random.Random,
        max_object_bytes: int,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.rng = rng
        self.max_object_bytes = max_object_bytes
        # one list_keys function per resource (see list_keys): id(info) -> (info, fn)
        self._list_keys: dict[int, tuple[ResourceInfo, Callable[[tuple[str, ...]], Any]]] = {}

    # --- small helpers ----------------------------------------------------------------

    def now(self) -> str:
        return format_time(self.clock.now())

    def new_uid(self) -> str:
        # str(uuid.UUID(int=bits, version=4)) without the UUID object: the same bits set
        bits = self.rng.getrandbits(128)
        bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        bits = (bits & ~(0xF000 << 64)) | (4 << 76)  # version 4
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def present(self, obj: Obj, info: ResourceInfo) -> Obj:
        """A private copy of a stored object as the requested version shows it."""
        out = copy_obj(obj)
        if info.custom:
            out["apiVersion"] = info.api_version
        return out

    def view(self, obj: Obj, info: ResourceInfo) -> Obj:
        """``present`` without the copy: the answer to a request, sharing the stored
        object's dicts. Stored objects are never changed, so this is safe to serialise;
        ``FakeApiServer.handle`` copies it before any caller could change it."""
        if info.custom:
            return {**obj, "apiVersion": info.api_version}
        return obj

    def _storage_api_version(self, info: ResourceInfo) -> str:
        if info.custom and info.storage_version:
            return f"{info.group}/{info.storage_version}"
        return info.api_version

    def _check_type_meta(self, obj: Obj, info: ResourceInfo) -> None:
        """Body apiVersion/kind must name this resource (missing ones are defaulted)."""
        kind = obj.get("kind") or info.kind
        api_version = obj.get("apiVersion") or info.api_version
        group = api_version.rpartition("/")[0]
        version = api_version.rpartition("/")[2]
        ok_version = api_version == info.api_version or (
            info.custom
            and group == info.group
            and any(
                i.version == version
                for i in self.registry.group_resource_infos(info.group, info.plural)
            )
        )
        if kind != info.kind or not ok_version:
            raise status.bad_request(
                f'{kind} in version "{version}" cannot be handled as a {info.kind}: '
                f'no kind "{kind}" is registered for version "{api_version}" in scheme '
                f'"k8s.io/apimachinery/pkg/runtime/scheme.go:100"'
            )
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        obj.clear()
        obj["apiVersion"] = self._storage_api_version(info)
        obj["kind"] = info.kind
        obj.update(rest)

    def _check_namespace(self, obj: Obj, target: Target) -> None:
        meta = _meta(obj)
        if not target.info.namespaced:
            meta.pop("namespace", None)
            return
        body_ns = meta.get("namespace") or ""
        if body_ns and body_ns != target.namespace:
            raise status.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["namespace"] = target.namespace

    def _check_namespace_lifecycle(self, target: Target, name: str) -> None:
        """Creates need an existing, active namespace (NamespaceLifecycle admission)."""
        if not target.info.namespaced:
            return
        ns = self.store.get("namespaces", "", target.namespace)
        if ns is None:
            raise status.not_found("namespaces", "", target.namespace)
        if (
            _meta(ns).get("deletionTimestamp")
            or (ns.get("status") or {}).get("phase") == "Terminating"
        ):
            raise status.forbidden(
                target.info.plural,
                target.info.group,
                name,
                f"unable to create new content in namespace {target.namespace} because it is "
                "being terminated",
                [
                    status.cause(
                        "NamespaceTerminating",
                        "metadata.namespace",
                        f"namespace {target.namespace} is being terminated",
                    )
                ],
            )

    def _check_size(self, obj: Obj) -> None:
        if encoded_size(obj) > self.max_object_bytes:
            raise status.too_large("etcdserver: request is too large")

    def _managed(
        self,
        old: Obj | None,
        new: Obj,
        info: ResourceInfo,
        opts: WriteOptions,
        subresource: str | None,
    ) -> Obj:
        """Record an ordinary (non-apply) write in managedFields."""
        meta = _meta(new)
        sent = meta.get("managedFields")
        if sent == [{}]:
            meta.pop("managedFields", None)
            return new
        if old is not None and sent is None and "managedFields" in _meta(old):
            meta["managedFields"] = copy_obj(_meta(old)["managedFields"])
        return ssa.record_update(
            old,
            new,
            manager=opts.manager,
            operation="Update",
            now=self.now(),
            subresource=subresource,
            list_keys=self.list_keys(info),
            builtin=not info.custom,
            shared=True,  # the store never changes what it keeps
        )

    def list_keys(self, info: ResourceInfo) -> Callable[[tuple[str, ...]], Any]:
        """How server-side apply merges lists of this type (built-in table or CRD schema).

        The same function for every write of one resource (a new CRD version is a new
        ``ResourceInfo``, whose schema is never changed): ssa memoises field sets of
        large lists by it.
        """
        known = self._list_keys.get(id(info))
        if known is not None and known[0] is info:
            return known[1]
        if not info.custom:
            keys = mergekeys.ssa_list_keys(info.group, info.kind)
        else:
            keys = schema.schema_list_keys(info.schema or {})
        if len(self._list_keys) > 256:  # CRDs come and go in long tests
            self._list_keys.clear()
        self._list_keys[id(info)] = (info, keys)
        return keys

    # --- type strategies --------------------------------------------------------------

    def _prepare_create(self, obj: Obj, info: ResourceInfo) -> None:
        """PrepareForCreate of the type: reset status, set defaults."""
        if info.has_status and not _is_crd(info):
            if info.custom:
                obj.pop("status", None)
            else:
                obj["status"] = {}
        if info.custom:
            return
        meta = _meta(obj)
        if _is_namespace(info):
            spec = obj.setdefault("spec", {})
            if not isinstance(spec, dict):
                spec = obj["spec"] = {}
            spec["finalizers"] = [NAMESPACE_FINALIZER]
            obj["status"] = {"phase": "Active"}
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        elif info.kind == "Pod" and not info.group:
            obj["status"] = {"phase": "Pending"}
        elif info.kind == "Secret" and not info.group:
            obj.setdefault("type", "Opaque")
        elif info.kind == "Service" and not info.group:
            spec = obj.get("spec")
            if isinstance(spec, dict):
                spec.setdefault("type", "ClusterIP")
                spec.setdefault("sessionAffinity", "None")
            obj["status"] = {"loadBalancer": {}}
        elif info.kind in ("Deployment", "StatefulSet", "ReplicaSet") and info.group == "apps":
            spec = obj.get("spec")
            if isinstance(spec, dict):
                spec.setdefault("replicas", 1)
        elif _is_crd(info):
            self._prepare_crd(obj)

    def _prepare_crd(self, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        versions = spec.get("versions") or []
        storage = [v.get("name") for v in versions if isinstance(v, dict) and v.get("storage")]
        obj["status"] = {
            "acceptedNames": {"kind": "", "plural": ""},
            "conditions": [],
            "storedVersions": storage[:1],
        }
        names = spec.get("names")
        if isinstance(names, dict):
            kind = names.get("kind") or ""
            names.setdefault("singular", kind.lower())
            names.setdefault("listKind", f"{kind}List")
        spec.setdefault("scope", "Namespaced")

    def _normalize(self, obj: Obj, info: ResourceInfo) -> list[dict[str, str]]:
        """Type-specific conversions and validations (causes for a 422)."""
        causes: list[dict[str, str]] = []
        if info.custom:
            return causes
        if info.kind == "Secret" and not info.group:
            data = obj.get("data") or {}
            for key, value in data.items():
                try:
                    base64.b64decode(value, validate=True)
                except ValueError:
                    raise status.bad_request(
                        f'Secret in version "v1" cannot be handled as a Secret: illegal base64 '
                        f"data at input byte 0 (key {key!r})"
                    ) from None
            string_data = obj.pop("stringData", None) or {}
            if string_data:
                data = dict(data)
                for key, value in string_data.items():
                    data[key] = base64.b64encode(value.encode()).decode()
                obj["data"] = data
            size = sum(len(base64.b64decode(v)) for v in (obj.get("data") or {}).values())
            if size > MAX_DATA_BYTES:
                causes.append(
                    status.cause(
                        "FieldValueTooLong",
                        "data",
                        f"Too long: must have at most {MAX_DATA_BYTES} bytes",
                    )
                )
        elif info.kind == "ConfigMap" and not info.group:
            size = sum(len(k) + len(v) for k, v in (obj.get("data") or {}).items())
            size += sum(len(k) + len(v) for k, v in (obj.get("binaryData") or {}).items())
            if size > MAX_DATA_BYTES:
                causes.append(
                    status.cause(
                        "FieldValueTooLong",
                        "[]",
                        f"Too long: must have at most {MAX_DATA_BYTES} bytes",
                    )
                )
        elif _is_crd(info):
            causes.extend(_cause_dict(c) for c in schema.validate_crd(obj))
        return causes

    def _custom_schema(
        self, obj: Obj, info: ResourceInfo, opts: WriteOptions
    ) -> tuple[list[dict[str, str]], list[str]]:
        """CR pruning, defaulting and validation: (causes, warnings)."""
        if not info.custom or not info.schema:
            return [], []
        before = copy_obj(obj) if opts.field_validation != "Ignore" else None
        pruned = schema.prune(obj, info.schema)
        if isinstance(pruned, dict):
            obj.clear()
            obj.update(pruned)
        warnings: list[str] = []
        if before is not None:
            unknown = _removed_paths(before, obj)
            if unknown and opts.field_validation == "Strict":
                raise status.bad_request(
                    "strict decoding error: "
                    + ", ".join(f'unknown field "{path}"' for path in unknown)
                )
            warnings = [f'unknown field "{path}"' for path in unknown]
        defaulted = schema.apply_defaults(obj, info.schema)
        if isinstance(defaulted, dict):
            obj.clear()
            obj.update(defaulted)
        causes = [_cause_dict(c) for c in schema.validate(obj, info.schema)]
        return causes, warnings

    def _invalid(self, info: ResourceInfo, name: str, causes: list[dict[str, str]]) -> None:
        if causes:
            raise status.invalid(info.kind, info.group, name, causes)

    def _generate_name(self, prefix: str) -> str:
        return prefix[:58] + "".join(self.rng.choice(_NAME_CHARS) for _ in range(5))

    # --- create -----------------------------------------------------------------------

    def create(
        self,
        target: Target,
        obj: Any,
        opts: WriteOptions,
        *,
        managed_done: bool = False,
    ) -> WriteResult:
        """POST: a new object (201), or the AlreadyExists/Invalid/Forbidden answers."""
        info = target.info
        obj = check_shape(obj, info)
        self._check_type_meta(obj, info)
        self._check_namespace(obj, target)
        meta = _meta(obj)
        name = meta.get("name") or ""
        generate = meta.get("generateName") or ""
        if info.custom and self.registry.is_terminating(info.crd_name):
            raise status.forbidden(
                info.plural,
                info.group,
                name,
                "create not allowed while custom resource definition is terminating",
            )
        if meta.get("resourceVersion"):
            raise status.unknown_500("resourceVersion should not be set on objects to be created")
        self._check_namespace_lifecycle(target, name or generate)
        # System fields (rest.BeforeCreate / FillObjectMetaSystemFields).
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        meta["uid"] = self.new_uid()
        meta["creationTimestamp"] = self.now()
        if info.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if not name and generate:
            name = self._generate_name(generate)
            meta["name"] = name
        self._prepare_create(obj, info)
        causes = validate_meta(obj, info, check_name=True)
        if not name:
            self._invalid(info, "", causes)
        causes += self._normalize(obj, info)
        schema_causes, warnings = self._custom_schema(obj, info, opts)
        causes += schema_causes
        self._invalid(info, name, causes)
        if not managed_done:
            obj = self._managed(None, obj, info, opts, None)
        meta = _meta(obj)  # pruning and managedFields rebuilt the object
        self._check_size(obj)
        gr = target.group_resource
        for _attempt in range(8):
            existing = self.store.get(gr, meta.get("namespace") or "", name)
            if existing is None:
                break
            if not generate or meta.get("name") != name or _attempt == 7:
                raise status.already_exists(
                    info.plural,
                    info.group,
                    name,
                    being_deleted=bool(_meta(existing).get("deletionTimestamp")),
                )
            name = self._generate_name(generate)
            meta["name"] = name
            if _is_namespace(info):
                meta["labels"]["kubernetes.io/metadata.name"] = name
        if opts.dry_run:
            return WriteResult(201, self.view(obj, info), tuple(warnings))
        stored = self.store.put(gr, obj)
        return WriteResult(201, self.view(stored, info), tuple(warnings))

    # --- update -----------------------------------------------------------------------

    def _current(self, target: Target) -> Obj:
        assert target.name is not None
        current = self.store.get(target.group_resource, target.namespace, target.name)
        if current is None:
            raise status.not_found(target.info.plural, target.info.group, target.name)
        return current

    def update(self, target: Target, obj: Any, opts: WriteOptions) -> WriteResult:
        """PUT of the object or of a subresource."""
        info = target.info
        obj = check_shape(obj, info)
        self._check_type_meta(obj, info)
        name = _meta(obj).get("name") or ""
        if name != target.name:
            raise status.bad_request(
                f"the name of the object ({name}) does not match the name on the URL "
                f"({target.name})"
            )
        self._check_namespace(obj, target)
        current = self._current(target)
        sent_rv = _meta(obj).get("resourceVersion") or ""
        if not sent_rv and info.custom:
            raise status.invalid(
                info.kind,
                info.group,
                target.name or "",
                [
                    status.cause(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        return self._update(target, current, obj, opts)

    def _update(
        self,
        target: Target,
        current: Obj,
        obj: Obj,
        opts: WriteOptions,
        *,
        managed_done: bool = False,
    ) -> WriteResult:
        """The shared tail of PUT and PATCH: preconditions, strategy, commit."""
        info = target.info
        name = target.name or ""
        cur_meta = _meta(current)
        meta = _meta(obj)
        sent_rv = meta.get("resourceVersion") or ""
        if sent_rv and sent_rv != cur_meta.get("resourceVersion"):
            if not sent_rv.isdigit():
                raise status.bad_request(
                    f'metadata.resourceVersion: Invalid value: "{sent_rv}": must be a number'
                )
            raise status.conflict(info.plural, info.group, name, status.STALE_OBJECT)
        sent_uid = meta.get("uid") or ""
        if sent_uid and sent_uid != cur_meta.get("uid"):
            raise status.conflict(
                info.plural,
                info.group,
                name,
                f"Precondition failed: UID in precondition: {sent_uid}, UID in object meta: "
                f"{cur_meta.get('uid')}",
            )
        sub = target.subresource
        if sub == "status":
            new = copy_obj(current)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            if "managedFields" in meta:
                new["metadata"]["managedFields"] = meta["managedFields"]
            else:
                new["metadata"].pop("managedFields", None)
                if "managedFields" in cur_meta:
                    new["metadata"]["managedFields"] = copy_obj(cur_meta["managedFields"])
        elif sub == "finalize":
            new = copy_obj(current)
            spec = obj.get("spec")
            finalizers = spec.get("finalizers") if isinstance(spec, dict) else None
            new.setdefault("spec", {})["finalizers"] = list(finalizers or [])
        else:
            new = obj
            if info.has_status:
                if "status" in current:
                    new["status"] = copy_obj(current["status"])
                else:
                    new.pop("status", None)
            if _is_namespace(info):
                new.setdefault("spec", {})
                if not isinstance(new["spec"], dict):
                    new["spec"] = {}
                new["spec"]["finalizers"] = list(
                    (current.get("spec") or {}).get("finalizers") or []
                )
        new_meta = _meta(new)
        # rest.BeforeUpdate: system fields come from the stored object.
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in cur_meta:
                new_meta[key] = cur_meta[key]
            else:
                new_meta.pop(key, None)
        new_meta.pop("selfLink", None)
        new_meta["name"] = cur_meta["name"]
        if info.namespaced:
            new_meta["namespace"] = cur_meta.get("namespace")
        else:
            new_meta.pop("namespace", None)
        new_meta["resourceVersion"] = cur_meta.get("resourceVersion")
        new["apiVersion"] = current.get("apiVersion")
        new["kind"] = current.get("kind")
        if cur_meta.get("deletionTimestamp"):
            added = [f for f in _finalizers(new) if f not in _finalizers(current)]
            if added:
                rendered = ", ".join(f'"{f}"' for f in added)
                raise status.invalid(
                    info.kind,
                    info.group,
                    name,
                    [
                        status.cause(
                            "FieldValueForbidden",
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers []string{{{rendered}}}",
                        )
                    ],
                )
        causes = validate_meta(new, info, check_name=False)
        causes += self._normalize(new, info)
        schema_causes, warnings = self._custom_schema(new, info, opts)
        new_meta = _meta(new)  # pruning rebuilt the object
        causes += schema_causes
        self._invalid(info, name, causes)
        if (
            info.generation
            and sub is None
            and _without(new, "metadata") != _without(current, "metadata")
        ):
            new_meta["generation"] = int(cur_meta.get("generation") or 0) + 1
        if not managed_done:
            new = self._managed(current, new, info, opts, sub)
        self._check_size(new)
        if cur_meta.get("deletionTimestamp") and not _holds(new, info):
            # The last finalizer is gone: the update becomes the deletion.
            if not opts.dry_run:
                self.store.remove(target.group_resource, target.namespace, name)
            return WriteResult(200, self.view(new, info), tuple(warnings))
        if same_object(current, new):
            return WriteResult(200, self.view(current, info), tuple(warnings))
        if opts.dry_run:
            return WriteResult(200, self.view(new, info), tuple(warnings))
        stored = self.store.put(target.group_resource, new)
        return WriteResult(200, self.view(stored, info), tuple(warnings))

    # --- patch ------------------------------------------------------------------------

    def patch(
        self, target: Target, body: bytes, content_type: str | None, opts: WriteOptions
    ) -> WriteResult:
        """PATCH with one of the four patch types; apply may create (201)."""
        info = target.info
        accepted = [PATCH_JSON, PATCH_MERGE, PATCH_APPLY]
        if not info.custom:
            accepted.insert(2, PATCH_STRATEGIC)
        if content_type not in accepted:
            raise status.unsupported_media_type(content_type or "", accepted)
        if content_type == PATCH_APPLY:
            return self.apply(target, body, opts)
        if opts.force is not None:
            raise status.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [
                    status.cause(
                        "FieldValueForbidden",
                        "force",
                        "Forbidden: may not be specified for non-apply patch",
                    )
                ],
            )
        try:
            patch_doc = decode_json(body)
        except status.StatusError:
            raise status.bad_request(
                "error decoding patch: invalid character in the patch body"
            ) from None
        current = self._current(target)
        live = self.present(current, info)
        try:
            if content_type == PATCH_JSON:
                patched = patching.apply_json_patch(live, patch_doc)
            elif content_type == PATCH_MERGE:
                patched = patching.apply_merge_patch(live, patch_doc)
            else:
                patched = patching.apply_strategic_merge_patch(
                    live, patch_doc, info.group, info.kind
                )
        except patching.PatchError as exc:
            if exc.code == 422:
                raise status.StatusError(
                    status.status_body(
                        422,
                        "Invalid",
                        "the server rejected our request due to an error in our request",
                        {"causes": [{"type": "UnexpectedServerResponse", "message": exc.message}]},
                    )
                ) from None
            if exc.code == 413:
                raise status.too_large(exc.message) from None
            if exc.code >= 500:
                raise status.unknown_500(exc.message) from None
            raise status.bad_request(exc.message) from None
        patched = check_shape(patched, info)
        meta = _meta(patched)
        if (meta.get("name") or "") != target.name:
            raise status.bad_request(
                f"the name of the object ({meta.get('name') or ''}) does not match the name on "
                f"the URL ({target.name})"
            )
        if not meta.get("resourceVersion"):
            meta["resourceVersion"] = _meta(current).get("resourceVersion")
        self._check_type_meta(patched, info)
        self._check_namespace(patched, target)
        return self._update(target, current, patched, opts)

    def apply(self, target: Target, body: bytes, opts: WriteOptions) -> WriteResult:
        """Server-side apply: create when missing (201), else merge with field ownership."""
        info = target.info
        if not opts.manager or not opts.manager_given:
            raise status.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [
                    status.cause(
                        "FieldValueRequired",
                        "fieldManager",
                        "Required value: is required for apply patch",
                    )
                ],
            )
        config = decode_yaml(body)
        if not isinstance(config, dict):
            raise status.bad_request(
                "error decoding YAML: the apply configuration must be an object"
            )
        config = check_shape(config, info)
        meta = _meta(config)
        if meta.get("managedFields") is not None:
            raise status.bad_request("metadata.managedFields must be nil")
        if meta.get("name") and meta["name"] != target.name:
            raise status.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({target.name})"
            )
        meta["name"] = target.name
        self._check_type_meta(config, info)
        self._check_namespace(config, target)
        assert target.name is not None
        current = self.store.get(target.group_resource, target.namespace, target.name)
        if current is None and target.subresource:
            raise status.not_found(info.plural, info.group, target.name)
        live = self.present(current, info) if current is not None else None
        if live is not None:
            live["apiVersion"] = config["apiVersion"]
        try:
            merged = ssa.apply(
                live,
                config,
                manager=opts.manager,
                force=bool(opts.force),
                list_keys=self.list_keys(info),
                now=self.now(),
                subresource=target.subresource,
                has_status_subresource=info.has_status,
                shared=True,  # the store never changes what it keeps
            )
        except ssa.ApplyConflict as exc:
            raise status.apply_conflict(
                info.plural, info.group, target.name, exc.message, exc.conflicts
            ) from None
        except ssa.ApplyError as exc:
            raise status.bad_request(str(exc)) from None
        if current is None:
            _meta(merged).pop("resourceVersion", None)
            return self.create(target, merged, opts, managed_done=True)
        # resourceVersion and uid in an apply configuration are preconditions, as for
        # any other write: _update turns a mismatch into 409 Conflict.
        merged_meta = _meta(merged)
        merged_meta["resourceVersion"] = meta.get("resourceVersion") or _meta(current).get(
            "resourceVersion"
        )
        if meta.get("uid"):
            merged_meta["uid"] = meta["uid"]
        merged = check_shape(merged, info)
        return self._update(target, current, merged, opts, managed_done=True)

    # --- delete -----------------------------------------------------------------------

    def delete(self, target: Target, options: DeleteOptions) -> WriteResult:
        """DELETE: immediate removal, or deletionTimestamp while finalizers hold it."""
        info = target.info
        name = target.name or ""
        current = self._current(target)
        cur_meta = _meta(current)
        if options.uid and options.uid != cur_meta.get("uid"):
            raise status.conflict(
                info.plural,
                info.group,
                name,
                f"Precondition failed: UID in precondition: {options.uid}, UID in object meta: "
                f"{cur_meta.get('uid')}",
            )
        if options.resource_version and options.resource_version != cur_meta.get("resourceVersion"):
            raise status.conflict(
                info.plural,
                info.group,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{options.resource_version}, ResourceVersion in object meta: "
                f"{cur_meta.get('resourceVersion')}",
            )
        if _is_namespace(info) and name in PROTECTED_NAMESPACES:
            raise status.forbidden(
                info.plural, info.group, name, "this namespace may not be deleted"
            )
        new = copy_obj(current)
        meta = _meta(new)
        finalizers = _finalizers(new)
        policy = options.propagation
        if options.orphan_dependents is not None and policy is None:
            policy = "Orphan" if options.orphan_dependents else "Background"
        if policy is None and ORPHAN in finalizers:
            policy = "Orphan"
        if policy == "Orphan":
            finalizers = [f for f in finalizers if f != FOREGROUND]
            if ORPHAN not in finalizers:
                finalizers.append(ORPHAN)
        elif policy == "Foreground":
            finalizers = [f for f in finalizers if f != ORPHAN]
            if FOREGROUND not in finalizers:
                finalizers.append(FOREGROUND)
        elif policy == "Background":
            finalizers = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
        if _is_crd(info) and CRD_CLEANUP not in finalizers and self.registry.crd_registered(name):
            finalizers.append(CRD_CLEANUP)
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        if _holds(new, info):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = self.now()
                meta["deletionGracePeriodSeconds"] = 0
                if int(meta.get("generation") or 0) > 0:
                    meta["generation"] = int(meta["generation"]) + 1
                if _is_namespace(info):
                    new["status"] = {**(new.get("status") or {}), "phase": "Terminating"}
                if _is_crd(info):
                    self._mark_crd_terminating(new)
            if same_object(current, new):
                body = self.view(current, info)
            elif options.dry_run:
                body = self.view(new, info)
            else:
                body = self.view(self.store.put(target.group_resource, new), info)
            code = 202 if options.orphan_dependents is False else 200
            return WriteResult(code, body)
        if options.dry_run:
            last = current
        else:
            last = self.store.remove(target.group_resource, target.namespace, name) or current
        if info.kind == "Pod" and not info.group:
            return WriteResult(200, self.view(last, info))
        return WriteResult(200, status.success(name, info.group, info.plural, cur_meta.get("uid")))

    def _mark_crd_terminating(self, crd: Obj) -> None:
        st = crd.setdefault("status", {})
        conditions = [c for c in st.get("conditions") or [] if c.get("type") != "Terminating"]
        conditions.append(
            {
                "type": "Terminating",
                "status": "True",
                "lastTransitionTime": self.now(),
                "reason": "InstanceDeletionInProgress",
                "message": "CustomResource deletion is in progress",
            }
        )
        st["conditions"] = conditions

    # --- internal writes for the emulated controllers ------------------------------------

    def controller_update(
        self,
        group_resource: str,
        namespace: str,
        name: str,
        change: Callable[[Obj], Obj | None],
        *,
        info: ResourceInfo | None = None,
    ) -> Obj | None:
        """Apply ``change`` to a copy of the stored object and commit it (no-ops skipped).

        Controllers bypass admission, faults and managedFields but keep the deletion rule:
        when the last finalizer of a deleting object goes, the object goes.
        """
        current = self.store.get(group_resource, namespace, name)
        if current is None:
            return None
        new = change(copy_obj(current))
        if new is None or same_object(current, new):
            return current
        holder_info = info or _GenericInfo(group_resource)
        if _meta(current).get("deletionTimestamp") and not _holds(new, holder_info):  # type: ignore[arg-type]
            self.store.remove(group_resource, namespace, name)
            return None
        return self.store.put(group_resource, new)

    def controller_delete(
        self, info: ResourceInfo, namespace: str, name: str, policy: str, uid: str | None = None
    ) -> None:
        """A DELETE issued by a controller (ignores NotFound and precondition races)."""
        target = Target(info, namespace if info.namespaced else "", name)
        with contextlib.suppress(status.StatusError):
            self.delete(target, DeleteOptions(propagation=policy, uid=uid))


@attrs.frozen
class _GenericInfo:
    """Enough of a ResourceInfo for ``_holds`` when only the group_resource is known."""

    group_resource: str

    @property
    def plural(self) -> str:
        return self.group_resource.partition(".")[0]

    @property
    def group(self) -> str:
        return self.group_resource.partition(".")[2]


def _cause_dict(cause: Any) -> dict[str, str]:
    if isinstance(cause, Mapping):
        return {
            "type": str(cause.get("type", "")),
            "message": str(cause.get("message", "")),
            "field": str(cause.get("field", "")),
        }
    return {"type": str(cause.type), "message": str(cause.message), "field": str(cause.field)}


def _removed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Paths present in ``before`` but gone from ``after`` (what pruning dropped)."""
    if before == after:  # the usual case, nothing pruned: one comparison in C
        return []
    removed: list[str] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key, value in before.items():
            path = f"{prefix}.{key}" if prefix else key
            if key not in after:
                removed.append(path)
            else:
                removed.extend(_removed_paths(value, after[key], path))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            removed.extend(_removed_paths(b, a, f"{prefix}[{index}]"))
    return removed


def parse_delete_options(body: bytes, query: Mapping[str, str]) -> DeleteOptions:
    """DeleteOptions from the JSON body and/or query parameters (400/422 when malformed)."""
    doc: dict[str, Any] = {}
    if body.strip():
        decoded = decode_object(body, None)
        if not isinstance(decoded, dict):
            raise status.bad_request("DeleteOptions must be a JSON object")
        doc = decoded
    pre = doc.get("preconditions") or {}
    if not isinstance(pre, dict):
        raise status.bad_request("preconditions must be an object")
    policy = query.get("propagationPolicy") or doc.get("propagationPolicy")
    orphan_raw = query.get("orphanDependents", doc.get("orphanDependents"))
    orphan: bool | None
    if orphan_raw is None:
        orphan = None
    elif isinstance(orphan_raw, bool):
        orphan = orphan_raw
    else:
        orphan = str(orphan_raw).lower() == "true"
    causes = []
    if policy is not None and policy not in ("Background", "Foreground", "Orphan"):
        causes.append(
            status.cause(
                "FieldValueNotSupported",
                "propagationPolicy",
                f'Unsupported value: "{policy}": supported values: "Foreground", "Background", '
                '"Orphan", "nil"',
            )
        )
    if policy is not None and orphan is not None:
        causes.append(
            status.cause(
                "FieldValueInvalid",
                "orphanDependents",
                f"Invalid value: {str(orphan).lower()}: orphanDependents and deletionPropagation "
                "cannot be both set",
            )
        )
    dry = query.get("dryRun") or doc.get("dryRun")
    dry_values = dry if isinstance(dry, list) else ([dry] if dry else [])
    for value in dry_values:
        if value != "All":
            causes.append(
                status.cause(
                    "FieldValueNotSupported",
                    "dryRun",
                    f'Unsupported value: "{value}": supported values: "All"',
                )
            )
    if causes:
        raise status.invalid("DeleteOptions", "meta.k8s.io", "", causes)
    return DeleteOptions(
        propagation=policy,
        orphan_dependents=orphan,
        uid=pre.get("uid"),
        resource_version=pre.get("resourceVersion"),
        dry_run=bool(dry_values),
    )
