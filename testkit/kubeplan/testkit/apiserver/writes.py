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
import datetime
import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import orjson

from kubeplan.testkit.apiserver import (
    autoscaling,
    builtin_validation,
    defaults,
    godecode,
    mergekeys,
    patching,
    schema,
    ssa,
    status,
    tlspair,
)
from kubeplan.testkit.apiserver.admission import AdmissionWebhooks, Attempt
from kubeplan.testkit.apiserver.authn import UserInfo
from kubeplan.testkit.apiserver.clock import Clock, format_time
from kubeplan.testkit.apiserver.codec import (
    copy_obj,
    decode_json,
    decode_object,
    decode_yaml,
    encoded_size,
)
from kubeplan.testkit.apiserver.conversion import ConversionWebhooks
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.store import Obj, Store
from kubeplan.testkit.apiserver.validation import check_shape, config_key_causes, validate_meta

__all__ = ["Target", "WriteOptions", "WriteResult", "Writer"]

PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
NAMESPACE_FINALIZER = "kubernetes"
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
MAX_DATA_BYTES = 1024 * 1024
#: (group, plural) whose immediate DELETE answers the deleted object, not a Status: the
#: registries that set ``ReturnDeletedObject`` (kube-apiserver v1.36, pkg/registry)
RETURNS_DELETED_OBJECT = frozenset({
    ("", "pods"), ("", "services"), ("", "serviceaccounts"), ("", "namespaces"),
    ("", "persistentvolumes"), ("", "persistentvolumeclaims"), ("", "podtemplates"),
    ("", "resourcequotas"),
    ("storage.k8s.io", "storageclasses"), ("storage.k8s.io", "csidrivers"),
    ("storage.k8s.io", "csinodes"), ("storage.k8s.io", "volumeattachments"),
    ("storage.k8s.io", "volumeattributesclasses"),
    ("resource.k8s.io", "resourceclaims"), ("resource.k8s.io", "resourceclaimtemplates"),
    ("resource.k8s.io", "resourceslices"), ("resource.k8s.io", "deviceclasses"),
    ("resource.k8s.io", "devicetaintrules"), ("resource.k8s.io", "resourcepoolstatusrequests"),
})
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
#: a body already in the stored apiVersion/kind order is left as it is rather than
#: rebuilt (the same object); tests turn it off to compare with the general path
_TYPE_META_SHORTCUT = True

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
    user: UserInfo | None = None
    """Who writes (what admission webhooks see in ``userInfo``); None: the admin."""


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
    grace_period: int | None = None
    """``gracePeriodSeconds`` as sent (None: the object's own default)."""
    user: UserInfo | None = None


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


def _deletes_on_update(current: Obj, new: Obj, info: ResourceInfo) -> bool:
    """``ShouldDeleteDuringUpdate``: a deleting object whose last finalizer went, unless a
    grace period still runs (a pod the kubelet has yet to stop)."""
    meta = _meta(current)
    if not meta.get("deletionTimestamp") or _holds(new, info):
        return False
    return not int(meta.get("deletionGracePeriodSeconds") or 0)


def _strategy_warnings(obj: Obj, info: ResourceInfo) -> list[str]:
    """What the kind's strategy warns of on a create or update (WarningsOnCreate/Update):
    a TLS Secret whose pair does not load."""
    if (info.group, info.kind) == ("", "Secret"):
        return tlspair.secret_warnings(obj)
    return []


def _patch_invalid(patched_json: str, detail: str) -> status.StatusError:
    """422 for a patch whose result does not decode into the Go struct: the patch
    handler's NewInvalid of no kind and no name, on the field "patch"."""
    quoted = orjson.dumps(patched_json).decode()
    cause = status.cause("FieldValueInvalid", "patch", f"Invalid value: {quoted}: {detail}")
    return status.invalid("", "", "", [cause])


def _disown(obj: Obj, manager: str, path: tuple[str, ...]) -> Obj:
    """``obj`` with ``path`` (fieldsV1 keys) out of ``manager``'s main-resource Update
    entry, parents left empty and an entry left empty dropped; shared parts untouched."""
    meta = _meta(obj)
    entries = meta.get("managedFields")
    if not isinstance(entries, list):
        return obj
    out: list[Any] = []
    changed = False
    for entry in entries:
        if (
            isinstance(entry, dict)
            and entry.get("manager") == manager
            and entry.get("operation") == "Update"
            and not entry.get("subresource")
            and isinstance(entry.get("fieldsV1"), dict)
        ):
            fields = _without_path(entry["fieldsV1"], path)
            if fields is not entry["fieldsV1"]:
                changed = True
                if not fields:
                    continue
                entry = {**entry, "fieldsV1": fields}
        out.append(entry)
    if not changed:
        return obj
    result = dict(obj)
    result["metadata"] = {**meta, "managedFields": out} if out else _without(meta, "managedFields")
    return result


def _without_path(fields: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """``fields`` less ``path`` (the same dict when it is not there); emptied parents go."""
    head, rest = path[0], path[1:]
    if head not in fields:
        return fields
    if rest:
        child = fields[head]
        if not isinstance(child, dict):
            return fields
        smaller = _without_path(child, rest)
        if smaller is child:
            return fields
        if smaller:
            return {**fields, head: smaller}
    return {k: v for k, v in fields.items() if k != head}


def _is_namespace(info: ResourceInfo) -> bool:
    return info.plural == "namespaces" and not info.group


#: (group, plural) whose strategy's DefaultGarbageCollectionPolicy is OrphanDependents in
#: the version the fake serves (batch/v1 Jobs and core/v1 ReplicationControllers, "for
#: back compatibility"), and the warning a Job's DELETE without a policy gets
ORPHAN_BY_DEFAULT = frozenset({("batch", "jobs"), ("", "replicationcontrollers")})
JOB_DELETE_WARNING = (
    "child pods are preserved by default when jobs are deleted; set "
    "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
    "suppress this warning"
)
#: Events: DefaultGarbageCollectionPolicy Unsupported, so a DELETE neither orphans nor
#: deletes in the foreground (and drops either finalizer)
NO_GC_POLICY = frozenset({("", "events"), ("events.k8s.io", "events")})


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
        #: where CRDs with ``conversion.strategy: Webhook`` send their ConversionReviews
        self.webhooks = ConversionWebhooks()
        #: set when the emulated kubelet runs: a scheduled pod's DELETE then waits for it
        #: (deletionTimestamp in the future, the kubelet deletes it with grace 0)
        self.graceful_pods = False
        #: the admission chain of the stored webhook configurations
        self.admission = AdmissionWebhooks(store, registry, self.webhooks.convert)
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
        if info.converted and obj.get("apiVersion") != info.api_version:
            return self.webhooks.convert(info, obj, info.api_version)  # a new object
        out = copy_obj(obj)
        if info.custom:
            out["apiVersion"] = info.api_version
        return out

    def view(self, obj: Obj, info: ResourceInfo) -> Obj:
        """``present`` without the copy: the answer to a request, sharing the stored
        object's dicts. Stored objects are never changed, so this is safe to serialise;
        ``FakeApiServer.handle`` copies it before any caller could change it."""
        if info.converted:
            return self.webhooks.convert(info, obj, info.api_version)
        if info.custom:
            return {**obj, "apiVersion": info.api_version}
        return obj

    def view_all(self, objs: list[Obj], info: ResourceInfo) -> list[Obj]:
        """``view`` of several objects: one ConversionReview for all that need one."""
        if info.converted:
            return self.webhooks.convert_many(info, objs, info.api_version)
        return [self.view(obj, info) for obj in objs]

    def _to_storage(self, obj: Obj, info: ResourceInfo) -> Obj:
        """A write of a webhook-converted type, in its storage version (the pipeline runs
        in the version of the request, as the real server's does)."""
        if not info.converted:
            return obj
        return self.webhooks.convert(info, obj, self._storage_api_version(info))

    def _storage_api_version(self, info: ResourceInfo) -> str:
        if info.storage_version:
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
        if kind != info.kind and ok_version and info.custom:
            # the custom resource validator's ValidateTypeMeta, before any other check;
            # the store's NewInvalid names the object's own kind
            name = str(_meta(obj).get("name") or "")
            raise status.invalid(kind, info.group, name, [status.cause(
                "FieldValueInvalid", "kind",
                f"Invalid value: {orjson.dumps(kind).decode()}: must be {info.kind}")])
        if kind == info.kind and not ok_version and not info.custom and any(
                i.api_version == api_version
                for i in self.registry.group_resource_infos(info.group, info.plural)):
            # a built-in body of another version of the type decodes, and is then refused
            raise status.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({info.api_version})")
        if kind != info.kind or not ok_version:
            raise status.bad_request(
                f'{kind} in version "{version}" cannot be handled as a {info.kind}: '
                f'no kind "{kind}" is registered for version "{api_version}" in scheme '
                f'"k8s.io/apimachinery/pkg/runtime/scheme.go:100"'
            )
        converted = info.converted
        stored_version = info.api_version if converted else self._storage_api_version(info)
        keys = iter(obj)
        if (_TYPE_META_SHORTCUT and next(keys, None) == "apiVersion"
                and next(keys, None) == "kind"
                and obj["apiVersion"] == stored_version and obj["kind"] == info.kind):
            return  # already what the rebuild below would make of it (most bodies)
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        # converted by a webhook, an object stays in the request's version until stored;
        # a body of another version is decoded into the request's, through the webhook
        if converted and obj.get("apiVersion") and api_version != info.api_version:
            body = self.webhooks.convert(info, {**obj, "kind": kind}, info.api_version)
            rest = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        obj.clear()
        obj["apiVersion"] = stored_version
        obj["kind"] = info.kind
        obj.update(rest)

    def _go_decode(
        self, obj: Obj, info: ResourceInfo, opts: WriteOptions, *, patched: bool = False,
        base: Obj | None = None,
    ) -> list[str]:
        """A built-in body as its Go struct keeps it (``godecode``): unknown fields
        dropped and, as ``fieldValidation`` says, warned of (the warnings returned) or
        refused (400; a patch's result: 422 on the field "patch"); the empty values of
        omitempty fields gone. ``base``: the stored object as the request's version shows
        it, when ``obj`` shares its unpatched parts with it (a merge patch's result):
        those are left unvisited, the stored object being decoded already."""
        if info.custom:
            return []
        # the patched object as sent, for a Strict refusal's message (decoding changes it)
        before = orjson.dumps(obj).decode() if patched and opts.field_validation == "Strict" \
            else ""
        if info.converted:  # a converted view is no decoder's output
            base = None
        unknown = godecode.decode_builtin(obj, info.api_version, info.kind,
                                          decoded=base) or []
        if not unknown or opts.field_validation == "Ignore":
            return []
        errors = [f'unknown field "{path}"' for path in unknown]
        if opts.field_validation == "Strict":
            message = "strict decoding error: " + ", ".join(errors)
            if patched:
                raise _patch_invalid(before, message)
            raise status.bad_request(message)
        return errors

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

    def _check_size(self, obj: Obj) -> int:
        """The object's encoded size (413 beyond the limit), which the store's event log
        counts against its byte budget."""
        size = encoded_size(obj)
        if size > self.max_object_bytes:
            raise status.too_large("etcdserver: request is too large")
        return size

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
        # the field manager compares the decoded object converted back to the request's
        # version (an HPA's v1 view carries its conversion's annotations)
        seen = autoscaling.field_manager_view(new) if info.converted and not info.custom \
            else new
        recorded = ssa.record_update(
            old,
            seen,
            manager=opts.manager,
            operation="Update",
            now=self.now(),
            subresource=subresource,
            list_keys=self.list_keys(info),
            builtin=not info.custom,
            shared=True,  # the store never changes what it keeps
        )
        if seen is not new:  # the object written stays the decoded one
            fields = _meta(recorded).get("managedFields")
            recorded = {**new, "metadata": {k: v for k, v in meta.items()
                                            if k != "managedFields"}}
            if fields is not None:
                recorded["metadata"]["managedFields"] = fields
        if subresource is None and info.has_status:
            # the strategy's ResetFields: a write of the main resource owns no status
            recorded = _disown(recorded, opts.manager, ("f:status",))
        return recorded

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
            keys = mergekeys.ssa_list_keys(info.group, info.kind, info.version)
        else:
            keys = schema.schema_list_keys(info.schema or {})
        if len(self._list_keys) > 256:  # CRDs come and go in long tests
            self._list_keys.clear()
        self._list_keys[id(info)] = (info, keys)
        return keys

    # --- type strategies --------------------------------------------------------------

    def _prepare_create(self, obj: Obj, info: ResourceInfo) -> None:
        """PrepareForCreate of the type: reset status (defaults: ``defaults.py``)."""
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
        elif _is_crd(info):
            self._prepare_crd(obj)

    def _prepare_crd(self, obj: Obj) -> None:
        """The CRD strategy's PrepareForCreate: a fresh status (no conditions yet: the
        real server answers ``null``) holding the storage version."""
        spec = obj.get("spec") or {}
        versions = spec.get("versions") or []
        storage = [v.get("name") for v in versions if isinstance(v, dict) and v.get("storage")]
        obj["status"] = {
            "acceptedNames": {"kind": "", "plural": ""},
            "conditions": None,
            "storedVersions": storage[:1] or None,
        }

    def _normalize(self, obj: Obj, info: ResourceInfo) -> list[dict[str, str]]:
        """Type-specific conversions and validations (causes for a 422)."""
        causes: list[dict[str, str]] = []
        if info.custom:
            return causes
        defaults.apply(obj, info)  # the decoder's defaulting, before managedFields
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
            causes.extend(config_key_causes("data", obj.get("data")))
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
            binary = obj.get("binaryData")
            causes.extend(config_key_causes("data", obj.get("data"), binary, "binaryData"))
            causes.extend(config_key_causes("binaryData", binary))
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
        elif info.kind == "Service" and not info.group:
            causes.extend(_service_port_causes(obj.get("spec")))
        elif _is_crd(info):
            _default_crd(obj)
            causes.extend(_cause_dict(c) for c in schema.validate_crd(obj))
            causes.extend(_cause_dict(c) for c in schema.validate_crd_stored_versions(obj))
        return causes

    def _custom_schema(
        self, obj: Obj, info: ResourceInfo, opts: WriteOptions, sub: str | None = None
    ) -> tuple[list[dict[str, str]], list[str]]:
        """CR pruning, defaulting and validation (of the status alone for a status
        write): (causes, warnings)."""
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
        checked = (schema.validate_status(obj, info.schema) if sub == "status"
                   else schema.validate(obj, info.schema))
        causes = [_cause_dict(c) for c in checked]
        return causes, warnings

    def _scale_causes(self, obj: Obj, info: ResourceInfo, sub: str | None) -> list[dict[str, str]]:
        """The custom resource validator's ValidateScaleSpec (not for a status write) and
        ValidateScaleStatus: the scale subresource's paths must hold what it reads."""
        if not info.custom or "scale" not in info.subresources:
            return []
        crd = self.store.get("customresourcedefinitions.apiextensions.k8s.io", "",
                             info.crd_name) or {}
        scale: Any = None
        for version in (crd.get("spec") or {}).get("versions") or ():
            if isinstance(version, dict) and version.get("name") == info.version:
                scale = (version.get("subresources") or {}).get("scale")
        if not isinstance(scale, dict):
            return []
        paths = [] if sub == "status" else [(scale.get("specReplicasPath"), True)]
        paths.append((scale.get("statusReplicasPath"), True))
        paths.append((scale.get("labelSelectorPath"), False))
        causes: list[dict[str, str]] = []
        for where, replicas in paths:
            if not isinstance(where, str) or not where:
                continue
            causes.extend(_scale_path_causes(obj, where, replicas))
        return causes

    def _invalid(self, info: ResourceInfo, name: str, causes: list[dict[str, str]]) -> None:
        if causes:
            raise status.invalid(info.kind, info.group, name, causes)

    def _attempt(self, target: Target, operation: str, name: str,
                 opts: WriteOptions) -> Attempt:
        return Attempt(target.info, operation, target.namespace, name, target.subresource,
                       opts.dry_run, opts.user)

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
        decoded = self._go_decode(obj, info, opts)
        self._check_namespace(obj, target)
        # admission: nothing to ask (no Attempt to make) while no webhook is configured
        attempt = self._attempt(target, "CREATE", _meta(obj).get("name") or "", opts) \
            if self.admission.has_webhooks else None
        mutated = obj if attempt is None else self.admission.mutate(attempt, obj, None)
        if mutated is not obj and mutated is not None:
            obj = check_shape(mutated, info)
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
        sent_finalizers = "finalizers" in (obj.get("spec") or {})
        self._prepare_create(obj, info)
        causes = validate_meta(obj, info, check_name=True)
        if not name:
            self._invalid(info, "", causes)
        causes += self._normalize(obj, info)
        causes += builtin_validation.validate(obj, info)
        schema_causes, warnings = self._custom_schema(obj, info, opts)
        schema_causes += self._scale_causes(obj, info, None)
        warnings = decoded + warnings + _strategy_warnings(obj, info)
        causes += schema_causes
        self._invalid(info, name, causes)
        if not managed_done:
            obj = self._managed(None, obj, info, opts, None)
            if _is_namespace(info) and not sent_finalizers:
                # PrepareForCreate adds the "kubernetes" finalizer after the field manager
                obj = _disown(obj, opts.manager, ("f:spec", "f:finalizers"))
        defaults.prepare_create(obj, info, self.store, self.rng)  # nobody owns these
        meta = _meta(obj)  # pruning and managedFields rebuilt the object
        size = self._check_size(obj)
        if attempt is not None:
            if attempt.name != name:  # a generated name (the evolved one shares warnings)
                attempt = attrs.evolve(attempt, name=name)
            self.admission.validate(attempt, obj, None)
            warnings = [*warnings, *attempt.warnings]
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
        stored = self.store.put(gr, self._to_storage(obj, info), size)
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
            # the generic store's NewInvalid names the resource ("we don't know the kind")
            raise status.invalid(
                info.plural,
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
        patched: bool = False,
        base: Obj | None = None,
    ) -> WriteResult:
        """The shared tail of PUT and PATCH: preconditions, strategy, commit. ``base``: a
        decoded object ``obj`` shares its unpatched parts with (see ``_go_decode``)."""
        info = target.info
        if info.converted:  # compared and merged in the request's version
            current = self.webhooks.convert(info, current, info.api_version)
        name = target.name or ""
        decoded = self._go_decode(obj, info, opts, patched=patched, base=base)
        attempt = self._attempt(target, "UPDATE", name, opts) \
            if self.admission.has_webhooks else None
        mutated = obj if attempt is None else self.admission.mutate(attempt, obj, current)
        if mutated is not obj and mutated is not None:
            obj = check_shape(mutated, info)
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
            if _is_crd(info):
                _add_stored_version(new)
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
        if sub is None:  # a subresource's write is checked as its own kind
            causes += builtin_validation.validate(new, info, current)
        schema_causes, warnings = self._custom_schema(new, info, opts, sub)
        schema_causes += self._scale_causes(new, info, sub)
        warnings = decoded + warnings
        if sub is None:
            warnings += _strategy_warnings(new, info)
        new_meta = _meta(new)  # pruning rebuilt the object
        causes += schema_causes
        self._invalid(info, name, causes)
        if (
            info.generation
            and sub is None
            and (
                _without(new, "metadata") != _without(current, "metadata")
                # a Deployment's annotations are copied to its ReplicaSets: its
                # strategy bumps the generation when they change too
                or (
                    (info.group, info.plural) == ("apps", "deployments")
                    and (new_meta.get("annotations") or {})
                    != (cur_meta.get("annotations") or {})
                )
            )
        ):
            new_meta["generation"] = int(cur_meta.get("generation") or 0) + 1
        if not managed_done:
            new = self._managed(current, new, info, opts, sub)
        defaults.prepare_update(new, current, info, self.store, self.rng, sub)
        if sub is None:
            self._invalid(info, name, builtin_validation.validate_allocated(new, info, current))
        size = self._check_size(new)
        if attempt is not None:
            self.admission.validate(attempt, new, current)
            warnings = [*warnings, *attempt.warnings]
        if _deletes_on_update(current, new, info):
            # The last finalizer is gone: the update becomes the deletion.
            if not opts.dry_run:
                self.store.remove(target.group_resource, target.namespace, name)
            return WriteResult(200, self.view(new, info), tuple(warnings))
        if same_object(current, new):
            return WriteResult(200, self.view(current, info), tuple(warnings))
        if opts.dry_run:
            return WriteResult(200, self.view(new, info), tuple(warnings))
        stored = self.store.put(target.group_resource, self._to_storage(new, info), size)
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
        live = self.present(current, info)  # a private copy
        base: Obj | None = None  # what the patched object shares with ``live``
        try:
            if content_type == PATCH_JSON:
                patched = patching.apply_json_patch(live, patch_doc)
            elif content_type == PATCH_MERGE:
                patched = patching.apply_merge_patch(live, patch_doc, owned=True)
                base = live
            else:
                patched = patching.apply_strategic_merge_patch(
                    live, patch_doc, info.group, info.kind
                )
        except patching.PatchError as exc:
            if exc.code == 422:
                raise status.patch_refused() from None
            if exc.code == 413:
                raise status.too_large(exc.message) from None
            if exc.code >= 500:
                raise status.unknown_500(exc.message) from None
            raise status.bad_request(exc.message) from None
        try:
            patched = check_shape(patched, info)
        except status.StatusError as exc:
            if exc.code != 400:
                raise
            raise _patch_invalid(orjson.dumps(patched).decode(), exc.message) from None
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
        return self._update(target, current, patched, opts, patched=True, base=base)

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
        _check_apply_type(config, info)
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
        live: Obj | None = None
        if current is not None:
            # ssa.apply only reads the live object (it copies what it merges into), so
            # the stored one serves, but for a webhook conversion's new object
            live = self.present(current, info) if info.converted else {**current}
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
                info.plural, info.group, target.name, exc.message, exc.conflicts,
                exc.causes,
            ) from None
        except ssa.ApplyError as exc:
            raise status.bad_request(str(exc)) from None
        if current is None:
            if meta.get("uid"):  # a uid names an object that must exist: never create one
                raise status.conflict(
                    info.plural, info.group, target.name,
                    f"uid mismatch: the provided object specified uid {meta['uid']}, and no "
                    "existing object was found")
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
        """DELETE: immediate removal, or deletionTimestamp while finalizers hold it.

        A Job's DELETE without a propagation policy warns that its pods are kept, before
        anything else: a refused or missing Job's answer carries the warning too."""
        warnings: tuple[str, ...] = ()
        if (options.propagation is None and options.orphan_dependents is None
                and (target.info.group, target.info.plural) == ("batch", "jobs")):
            warnings = (JOB_DELETE_WARNING,)
        try:
            result = self._delete(target, options)
        except status.StatusError as exc:
            if warnings:
                exc.headers["Warning"] = status.warning_header(warnings)
            raise
        return attrs.evolve(result, warnings=result.warnings + warnings) if warnings else result

    def _delete(self, target: Target, options: DeleteOptions) -> WriteResult:
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
        attempt = Attempt(info, "DELETE", target.namespace, name, target.subresource,
                          options.dry_run, options.user)
        if self.admission.has_webhooks:
            old = self.present(current, info)
            self.admission.mutate(attempt, None, old)
            self.admission.validate(attempt, None, old)
        new = copy_obj(current)
        meta = _meta(new)
        finalizers = _finalizers(new)
        kind_key = (info.group, info.plural)
        policy = options.propagation
        if options.orphan_dependents is not None and policy is None:
            policy = "Orphan" if options.orphan_dependents else "Background"
        if policy is None and (ORPHAN in finalizers or (
                FOREGROUND not in finalizers and kind_key in ORPHAN_BY_DEFAULT)):
            # the object's own GC finalizer, else the strategy's default
            policy = "Orphan"
        if kind_key in NO_GC_POLICY:
            policy = "Background"
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
        if self.graceful_pods and info.kind == "Pod" and not info.group:
            graceful = self._graceful_pod_delete(target, current, new, options)
            if graceful is not None:
                return graceful
        if _holds(new, info):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = self.now()
                # the generic store's markAsDeleting; a namespace's and a CRD's own
                # Delete set only the timestamp
                if not (_is_namespace(info) or _is_crd(info)):
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
            # a graceful delete of a pod no kubelet runs: stamped (generation + 1), gone
            last = copy_obj(last)
            stamp = {"deletionTimestamp": self.now(), "deletionGracePeriodSeconds": 0}
            last["metadata"].update(stamp, generation=int(cur_meta.get("generation") or 0) + 1)
            return WriteResult(200, self.view(last, info))
        if kind_key in RETURNS_DELETED_OBJECT:
            return WriteResult(200, self.view(last, info))
        return WriteResult(200, status.success(name, info.group, info.plural, cur_meta.get("uid")))

    def _graceful_pod_delete(
        self, target: Target, current: Obj, new: Obj, options: DeleteOptions
    ) -> WriteResult | None:
        """A pod's graceful deletion (``podStrategy.CheckGracefulDelete`` and
        ``rest.BeforeDelete``): a scheduled, unfinished pod is stamped with a
        deletionTimestamp ``grace`` seconds ahead and kept for the kubelet; a shorter
        grace shortens it. None when the delete proceeds as an immediate one."""
        spec = current.get("spec") or {}
        grace = options.grace_period
        if grace is None:
            grace = int(spec.get("terminationGracePeriodSeconds") or 0)
        phase = (current.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0
        grace = 1 if grace < 0 else grace
        cur_meta = _meta(current)
        meta = _meta(new)
        stamped = int(cur_meta.get("deletionGracePeriodSeconds") or 0)
        if cur_meta.get("deletionTimestamp") and stamped > 0:
            if grace >= stamped:  # a graceful deletion is under way; it may only shorten
                return WriteResult(200, self.view(current, target.info))
        elif cur_meta.get("deletionTimestamp") or grace == 0:
            return None
        elif int(meta.get("generation") or 0) > 0:
            meta["generation"] = int(meta["generation"]) + 1
        when = self.clock.now() + datetime.timedelta(seconds=grace)
        meta["deletionTimestamp"] = format_time(when)
        meta["deletionGracePeriodSeconds"] = grace
        if options.dry_run:
            return WriteResult(200, self.view(new, target.info))
        if grace == 0 and not _holds(new, target.info):  # the kubelet's last word
            self.store.remove(target.group_resource, target.namespace, target.name or "")
            return WriteResult(200, self.view(new, target.info))
        return WriteResult(200, self.view(self.store.put(target.group_resource, new), target.info))

    def _mark_crd_terminating(self, crd: Obj) -> None:
        # the CRD's own Delete says so (in storage: no managedFields change); its
        # finalizer controller then says InstanceDeletionInProgress as it starts
        # removing the objects
        set_crd_condition(
            crd, "Terminating", "True", "InstanceDeletionPending",
            "CustomResourceDefinition marked for deletion; CustomResource deletion will "
            "begin soon", self.now())

    # --- internal writes for the emulated controllers ------------------------------------

    def controller_update(
        self,
        group_resource: str,
        namespace: str,
        name: str,
        change: Callable[[Obj], Obj | None],
        *,
        info: ResourceInfo | None = None,
        manager: str | None = None,
        subresource: str | None = None,
    ) -> Obj | None:
        """Apply ``change`` to a copy of the stored object and commit it (no-ops skipped).

        Controllers bypass admission and faults but keep the deletion rule: when the last
        finalizer of a deleting object goes, the object goes. With a ``manager`` the write
        is recorded in managedFields as that manager's ``Update`` (of ``subresource``), as
        the real server records a controller's patch or update: fields it removes leave
        every manager's set. Without one, managedFields are left as they are.
        """
        current = self.store.get(group_resource, namespace, name)
        if current is None:
            return None
        new = change(copy_obj(current))
        if new is None or same_object(current, new):
            return current
        if manager is not None:
            served = info or self._served_info(group_resource)
            if served is not None:
                opts = WriteOptions(manager=manager)
                new = self._managed(current, new, served, opts, subresource)
        holder_info = info or _GenericInfo(group_resource)
        if _deletes_on_update(current, new, holder_info):  # type: ignore[arg-type]
            self.store.remove(group_resource, namespace, name)
            return None
        return self.store.put(group_resource, new)

    def _served_info(self, group_resource: str) -> ResourceInfo | None:
        """The served type of ``group_resource`` (its storage version when there are
        several), or None when it is no longer served."""
        plural, _, group = group_resource.partition(".")
        infos = self.registry.group_resource_infos(group, plural)
        return next((i for i in infos if i.storage), infos[0] if infos else None)

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


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "<nil>"


def _go_value(value: Any) -> str:
    """``%v`` of a decoded JSON value, roughly as Go prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    return str(value)


def _scale_path_causes(obj: Obj, where: str, replicas: bool) -> list[dict[str, str]]:
    """One scale path of a custom resource as ``unstructured.NestedInt64`` (replicas)
    or ``NestedString`` (the label selector) reads it: absent is fine; a non-object on
    the way, or a value of the wrong type, is an Invalid cause named by the path."""
    fields = where.removeprefix(".").split(".")
    shown = "0" if replicas else '""'
    value: Any = obj
    for i, name in enumerate(fields):
        if value is None:
            return []
        if not isinstance(value, dict):
            path = "." + ".".join(fields[: i + 1])
            detail = (f"{path} accessor error: {_go_value(value)} is of the type "
                      f"{_go_type(value)}, expected map[string]interface{{}}")
            return [status.cause("FieldValueInvalid", where,
                                 f"Invalid value: {shown}: {detail}")]
        if name not in value:
            return []
        value = value[name]
    expected = "int64" if replicas else "string"
    ok = (isinstance(value, int) and not isinstance(value, bool)) if replicas else (
        isinstance(value, str))
    if not ok:
        detail = (f"{'.' + '.'.join(fields)} accessor error: {_go_value(value)} is of the "
                  f"type {_go_type(value)}, expected {expected}")
        return [status.cause("FieldValueInvalid", where, f"Invalid value: {shown}: {detail}")]
    if replicas and value < 0:
        return [status.cause("FieldValueInvalid", where,
                             f"Invalid value: {value}: should be a non-negative integer")]
    if replicas and value > 2**31 - 1:
        return [status.cause("FieldValueInvalid", where, f"Invalid value: {value}: should be "
                             f"less than or equal to {2**31 - 1}")]
    return []


def set_crd_condition(
    crd: Obj, type_: str, status_: str, reason: str, message: str, now: str
) -> None:
    """apiextensions' ``SetCRDCondition``: a new condition is appended; an existing one
    keeps its place, and its transition time unless its status changes."""
    st = crd.get("status")
    if not isinstance(st, dict):
        st = crd["status"] = {}
    conditions = st.get("conditions")
    conditions = conditions if isinstance(conditions, list) else []
    st["conditions"] = conditions
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("type") == type_:
            if cond.get("status") != status_ or not cond.get("lastTransitionTime"):
                cond["status"] = status_
                cond["lastTransitionTime"] = now
            cond["reason"] = reason
            cond["message"] = message
            return
    conditions.append({"type": type_, "status": status_, "lastTransitionTime": now,
                       "reason": reason, "message": message})


def _add_stored_version(crd: Obj) -> None:
    """The CRD strategy's PrepareForUpdate: a new storage version joins
    ``status.storedVersions`` (the old ones stay until a migration removes them)."""
    spec = crd.get("spec")
    versions = spec.get("versions") if isinstance(spec, dict) else None
    storage = next((v.get("name") for v in versions or () if isinstance(v, dict)
                    and v.get("storage") is True), None) if isinstance(versions, list) else None
    st = crd.get("status")
    if storage is None or not isinstance(st, dict):
        return
    stored = st.get("storedVersions")
    stored = list(stored) if isinstance(stored, list) else []
    if storage not in stored:
        st["storedVersions"] = [*stored, storage]


def _default_crd(crd: Obj) -> None:
    """The v1 CRD defaults the decoder sets (so the writer owns them): the singular and
    list kind from the kind, ``conversion: {strategy: None}``, a webhook service's port
    (the HTTPS one)."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        kind = names.get("kind") or ""
        if not names.get("singular"):
            names["singular"] = str(kind).lower()
        if not names.get("listKind") and kind:
            names["listKind"] = f"{kind}List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    conversion = spec["conversion"]
    webhook = conversion.get("webhook") if isinstance(conversion, dict) else None
    client = webhook.get("clientConfig") if isinstance(webhook, dict) else None
    service = client.get("service") if isinstance(client, dict) else None
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


def _check_apply_type(config: Obj, info: ResourceInfo) -> None:
    """An apply configuration names exactly the resource's kind and version (nothing is
    defaulted, unlike a create's body): 400 as the field manager words it."""
    api_version = config.get("apiVersion") or ""
    kind = config.get("kind") or ""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return  # check_shape refuses these as the decoder would
    group, _, version = api_version.rpartition("/")
    if (group, version, kind) != (info.group, info.version, info.kind):
        raise status.bad_request(f"invalid object type: {group}/{version}, Kind={kind}")


def _service_port_causes(spec: Any) -> list[dict[str, str]]:
    """A Service's ports (ValidateService): names, required when there are several and
    unique, and unique (port, protocol) pairs. Checked on the object a write stores, so
    an apply or patch that merges into a duplicate is refused too."""
    causes: list[dict[str, str]] = []
    ports = spec.get("ports") if isinstance(spec, dict) else None
    if not isinstance(ports, list):
        return causes
    names: set[str] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        name = port.get("name") or ""
        if not isinstance(name, str):
            continue
        if not name:
            if len(ports) > 1:
                causes.append(
                    status.cause("FieldValueRequired", f"spec.ports[{i}].name", "Required value")
                )
        elif name in names:
            causes.append(
                status.cause(
                    "FieldValueDuplicate",
                    f"spec.ports[{i}].name",
                    f"Duplicate value: {orjson.dumps(name).decode()}",
                )
            )
        else:
            names.add(name)
    seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        key = (port.get("protocol") or "TCP", port.get("port"))
        if not isinstance(key[0], str) or not isinstance(key[1], int | str | None):
            continue
        if key in seen:
            # the real message shows the internal key struct, as Go's encoding/json does
            shown = orjson.dumps(
                {
                    "Name": "",
                    "Protocol": key[0],
                    "AppProtocol": None,
                    "Port": key[1] if key[1] is not None else 0,
                    "TargetPort": 0,
                    "NodePort": 0,
                }
            ).decode()
            causes.append(
                status.cause("FieldValueDuplicate", f"spec.ports[{i}]", f"Duplicate value: {shown}")
            )
        seen.add(key)
    return causes


def _cause_dict(cause: Any) -> dict[str, str]:
    if isinstance(cause, Mapping):
        return {
            "reason": str(cause.get("reason", cause.get("type", ""))),
            "message": str(cause.get("message", "")),
            "field": str(cause.get("field", "")),
        }
    return {"reason": str(cause.type), "message": str(cause.message), "field": str(cause.field)}


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


def _query_bool(value: str) -> bool:
    """A bool query parameter of DeleteOptions: anything but "0" or "false" is true
    (apimachinery's query-parameter conversion, not strconv.ParseBool)."""
    return not (value == "0" or value.lower() == "false")


def _parse_int64(value: str) -> int:
    """An int64 query parameter, as ``strconv.ParseInt(value, 10, 64)`` (400 if not)."""
    digits = value[1:] if value[:1] in ("+", "-") else value
    if not (digits.isascii() and digits.isdigit()):
        raise status.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise status.bad_request(f'strconv.ParseInt: parsing "{value}": value out of range')
    return number


_GO_JSON_KINDS = {str: "string", bool: "bool", dict: "object", list: "array"}


def _body_field(doc: Mapping[str, Any], key: str, wanted: type, go_type: str) -> Any:
    """A typed DeleteOptions body field (None when absent), 400 as encoding/json words it."""
    value = doc.get(key)
    if value is None:
        return None
    ok = isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool))
    if wanted is int and ok and not -(2**63) <= value < 2**63:
        ok = False
    if ok:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        kind = f"number {value}"
    else:
        kind = _GO_JSON_KINDS.get(type(value), "value")
    raise status.bad_request(
        f"json: cannot unmarshal {kind} into Go struct field DeleteOptions.{key} of type "
        f"{go_type}"
    )


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
    orphan: bool | None
    if "orphanDependents" in query:
        orphan = _query_bool(query["orphanDependents"])
    else:
        orphan = _body_field(doc, "orphanDependents", bool, "bool")
    # only pods use it (when the emulated kubelet runs), but a malformed one is refused
    grace: int | None
    if "gracePeriodSeconds" in query:
        grace = _parse_int64(query["gracePeriodSeconds"])
    else:
        grace = _body_field(doc, "gracePeriodSeconds", int, "int64")
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
        grace_period=grace,
    )
