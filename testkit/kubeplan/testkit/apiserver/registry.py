"""Which resources the fake serves, and how each behaves.

A ``ResourceInfo`` describes one served group/version/resource: its names (for URLs,
discovery and messages), its scope, subresources and the strategy flags that make
types differ in the real server (whether ``metadata.generation`` is kept, whether a
PUT needs a resourceVersion, whether strategic merge patch is allowed, which field
selectors are supported). Built-ins are seeded at start; custom resources are added
when the CRD controller establishes a CRD and removed when the CRD is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

#: a request's route key: method, path and its ``watch`` query parameter
RouteKey = tuple[str, str, str | None]

__all__ = ["BUILTIN_RESOURCES", "Registry", "ResourceInfo", "resources_for_crd"]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
BASE_FIELDS = ("metadata.name", "metadata.namespace")


@attrs.frozen
class ResourceInfo:
    """One served resource (a group/version/plural) and the strategy flags it follows."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    list_kind: str = ""
    schema: dict[str, Any] | None = attrs.field(default=None, eq=False, hash=False)
    served: bool = True
    storage: bool = True
    # --- strategy flags (not part of discovery) ---
    custom: bool = False
    """A custom resource (from a CRD): PUT needs a resourceVersion, no strategic merge."""
    generation: bool = False
    """Whether ``metadata.generation`` is kept (1 on create, +1 on spec changes)."""
    field_selectors: tuple[str, ...] = BASE_FIELDS
    """Fields a ``fieldSelector`` may name (400 for any other)."""
    storage_version: str = ""
    """The version objects are stored as (shared by all versions): custom resources, and
    built-ins served in several versions (converted by ``autoscaling``)."""
    preserve_unknown_fields: bool = False
    crd_name: str = ""
    conversion: dict[str, Any] | None = attrs.field(default=None, eq=False, hash=False)
    """For custom resources converted by a webhook: the CRD's ``spec.conversion.webhook``."""

    # --- derived once (read on every request; not part of equality or repr) ---
    api_version: str = attrs.field(init=False, eq=False, repr=False)
    """``group/version`` (``version`` for the core group)."""
    group_resource: str = attrs.field(init=False, eq=False, repr=False)
    """``plural.group`` (``plural`` for the core group): the storage key of the type."""
    converted: bool = attrs.field(init=False, eq=False, repr=False)
    """Whether objects are converted between versions by more than their apiVersion:
    through the CRD's webhook, or a built-in's conversion functions."""
    has_status: bool = attrs.field(init=False, eq=False, repr=False)

    @api_version.default
    def _api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @group_resource.default
    def _group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @converted.default
    def _converted(self) -> bool:
        return self.conversion is not None or (not self.custom and bool(self.storage_version))

    @has_status.default
    def _has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def strategic_merge(self) -> bool:
        return not self.custom


def _builtin(
    api_version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: Iterable[str] = (),
    categories: Iterable[str] = (),
    status: bool = False,
    generation: bool = False,
    extra_fields: Iterable[str] = (),
    extra_subresources: Iterable[str] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    storage_version: str = "",
) -> ResourceInfo:
    group, _, version = api_version.rpartition("/")
    subs = set(extra_subresources)
    if status:
        subs.add("status")
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        verbs=verbs,
        short_names=tuple(short),
        categories=tuple(categories),
        subresources=frozenset(subs),
        list_kind=f"{kind}List",
        generation=generation,
        field_selectors=BASE_FIELDS + tuple(extra_fields),
        storage_version=storage_version,
        storage=not storage_version or storage_version == version,
    )


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

#: Built-in resources: status subresources and generation as the real server keeps them
#: (v1.36: workloads, Pods, Ingress, NetworkPolicy, PDB and CRDs track generation;
#: ConfigMap, Secret, Service, Namespace, PVC, Lease, RBAC and Events do not).
BUILTIN_RESOURCES: tuple[ResourceInfo, ...] = (
    _builtin(
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        status=True,
        extra_fields=("status.phase",),
        extra_subresources=("finalize",),
        # the real server serves no DELETE of the namespace collection (405)
        verbs=tuple(v for v in ALL_VERBS if v != "deletecollection"),
    ),
    _builtin("v1", "ConfigMap", "configmaps", short=("cm",)),
    _builtin("v1", "Secret", "secrets", extra_fields=("type",)),
    _builtin("v1", "Service", "services", short=("svc",), categories=("all",), status=True),
    _builtin(
        "v1", "ServiceAccount", "serviceaccounts", short=("sa",), extra_subresources=("token",)
    ),
    _builtin(
        "v1",
        "Pod",
        "pods",
        short=("po",),
        categories=("all",),
        status=True,
        generation=True,  # PodObservedGenerationTracking (GA in v1.35)
        extra_fields=_POD_FIELDS,
        extra_subresources=("eviction",),
    ),
    _builtin("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), status=True),
    _builtin("v1", "Event", "events", short=("ev",), extra_fields=_EVENT_FIELDS),
    _builtin(
        "apps/v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        categories=("all",),
        status=True,
        generation=True,
        extra_subresources=("scale",),
    ),
    _builtin(
        "apps/v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        categories=("all",),
        status=True,
        generation=True,
        extra_subresources=("scale",),
    ),
    _builtin(
        "apps/v1",
        "DaemonSet",
        "daemonsets",
        short=("ds",),
        categories=("all",),
        status=True,
        generation=True,
    ),
    _builtin(
        "apps/v1",
        "ReplicaSet",
        "replicasets",
        short=("rs",),
        categories=("all",),
        status=True,
        generation=True,
        extra_subresources=("scale",),
        extra_fields=("status.replicas",),
    ),
    _builtin(
        "batch/v1",
        "Job",
        "jobs",
        categories=("all",),
        status=True,
        generation=True,
        extra_fields=("status.successful",),
    ),
    _builtin(
        "batch/v1",
        "CronJob",
        "cronjobs",
        short=("cj",),
        categories=("all",),
        status=True,
        generation=True,
    ),
    _builtin("coordination.k8s.io/v1", "Lease", "leases"),
    _builtin("events.k8s.io/v1", "Event", "events", short=("ev",)),
    _builtin(
        "networking.k8s.io/v1", "Ingress", "ingresses", short=("ing",), status=True, generation=True
    ),
    _builtin(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        short=("netpol",),
        generation=True,
    ),
    _builtin(
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        status=True,
        generation=True,
    ),
    _builtin("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _builtin("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _builtin("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    # served for the workflows that read or write them; stored as sent (no defaults
    # or validation of their own yet), generation and status as the real server keeps them
    _builtin(
        "v1",
        "Node",
        "nodes",
        namespaced=False,
        short=("no",),
        status=True,
        extra_fields=("spec.unschedulable",),
    ),
    _builtin(
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        short=("rc",),
        categories=("all",),
        status=True,
        generation=True,
        extra_subresources=("scale",),
        extra_fields=("status.replicas",),
    ),
    _builtin("v1", "Endpoints", "endpoints", short=("ep",)),
    _builtin("v1", "ResourceQuota", "resourcequotas", short=("quota",), status=True),
    _builtin("v1", "LimitRange", "limitranges", short=("limits",)),
    _builtin(
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        namespaced=False,
        short=("pv",),
        status=True,
    ),
    _builtin("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", generation=True),
    # stored as v2; v1 converted to and from it (``autoscaling``)
    *(
        _builtin(
            f"autoscaling/{version}",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            short=("hpa",),
            categories=("all",),
            status=True,
            storage_version="v2",
        )
        for version in ("v2", "v1")
    ),
    _builtin(
        "storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",)
    ),
    _builtin(
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "priorityclasses",
        namespaced=False,
        short=("pc",),
        generation=True,
    ),
    _builtin(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
        categories=("api-extensions",),
        generation=True,
    ),
    _builtin(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
        categories=("api-extensions",),
        generation=True,
    ),
    # reviews: answered from the request, never stored (create is their only verb)
    _builtin(
        "authentication.k8s.io/v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        namespaced=False,
        verbs=("create",),
    ),
    _builtin(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        verbs=("create",),
    ),
    _builtin(
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        namespaced=False,
        verbs=("create",),
    ),
    _builtin(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        categories=("api-extensions",),
        status=True,
        generation=True,
    ),
)


def resources_for_crd(crd: dict[str, Any]) -> list[ResourceInfo]:
    """One ``ResourceInfo`` per served version of a CRD (assumed valid)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    kind = names.get("kind", "")
    plural = names.get("plural", "")
    versions = spec.get("versions") or []
    storage_version = next(
        (v.get("name", "") for v in versions if v.get("storage")),
        versions[0].get("name", "") if versions else "",
    )
    conversion = spec.get("conversion") or {}
    webhook = conversion.get("webhook") if conversion.get("strategy") == "Webhook" else None
    infos = []
    for version in versions:
        subresources = version.get("subresources") or {}
        subs = {name for name in ("status", "scale") if name in subresources}
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        selectable = tuple(
            str(f.get("jsonPath", "")).lstrip(".")
            for f in version.get("selectableFields") or ()
            if f.get("jsonPath")
        )
        infos.append(
            ResourceInfo(
                group=group,
                version=version.get("name", ""),
                kind=kind,
                plural=plural,
                singular=names.get("singular") or kind.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(subs),
                list_kind=names.get("listKind") or f"{kind}List",
                schema=schema,
                served=bool(version.get("served", True)),
                storage=bool(version.get("storage", False)),
                custom=True,
                generation=True,
                field_selectors=BASE_FIELDS + selectable,
                storage_version=storage_version,
                preserve_unknown_fields=bool(spec.get("preserveUnknownFields", False)),
                crd_name=(crd.get("metadata") or {}).get("name", ""),
                conversion=webhook if isinstance(webhook, dict) else None,
            )
        )
    return infos


class Registry:
    """The served resources, looked up by URL parts; ``generation`` moves when CRDs change."""

    def __init__(self, builtins: Iterable[ResourceInfo] = BUILTIN_RESOURCES) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._crd_resources: dict[str, list[ResourceInfo]] = {}
        self._terminating: set[str] = set()
        self.generation = 0
        #: called with the resources a CRD stops serving as they were (the CRD deleted,
        #: or served anew after a change of its spec): the API server drops their storage
        self.on_drop: list[Callable[[list[ResourceInfo]], None]] = []
        # (group, kind) -> first served resource, for the generation it was built in
        self._by_group_kind: tuple[int, dict[tuple[str, str], ResourceInfo]] = (-1, {})
        # parsed routes (``dispatch.parse_route``), for the generation they were parsed in
        self._routes: dict[RouteKey, Any] = {}  # dispatch.Route values (it imports us)
        self._routes_generation = 0
        for info in builtins:
            self._by_gvr[(info.group, info.version, info.plural)] = info

    def resources(self) -> list[ResourceInfo]:
        """Every served resource, built-ins first then custom resources."""
        return [info for info in self._by_gvr.values() if info.served]

    def lookup(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        info = self._by_gvr.get((group, version, plural))
        return info if info is not None and info.served else None

    def route_cache(self) -> dict[RouteKey, Any]:
        """The routes ``dispatch.parse_route`` parsed since the served set last changed
        (emptied by every change: ``generation`` moving, or resources dropped)."""
        if self._routes_generation != self.generation:
            self._routes.clear()
            self._routes_generation = self.generation
        return self._routes

    def served_kind(self, group: str, kind: str) -> ResourceInfo | None:
        """The first served resource of ``kind`` in ``group`` (``resources()`` order).

        Asked for every ownerReference of every write, so indexed; every change of the
        served set moves ``generation``, which rebuilds the index.
        """
        built, index = self._by_group_kind
        if built != self.generation:
            index = {}
            for info in self.resources():
                index.setdefault((info.group, info.kind), info)
            self._by_group_kind = (self.generation, index)
        return index.get((group, kind))

    def by_kind(self, api_version: str, kind: str) -> ResourceInfo | None:
        """The resource for an ownerReference's apiVersion/kind (served or not)."""
        group, _, version = api_version.rpartition("/")
        for (g, v, _), info in self._by_gvr.items():
            if g == group and v == version and info.kind == kind:
                return info
        return None

    def group_resource_infos(self, group: str, plural: str) -> list[ResourceInfo]:
        """All versions registered for one group/resource."""
        return [i for (g, _, p), i in self._by_gvr.items() if g == group and p == plural]

    # --- custom resources -------------------------------------------------------------

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceInfo]:
        """Serve the CRD's versions (replacing a previous registration of the same CRD)."""
        name = (crd.get("metadata") or {}).get("name", "")
        self._drop(name)
        infos = resources_for_crd(crd)
        for info in infos:
            self._by_gvr[(info.group, info.version, info.plural)] = info
        self._crd_resources[name] = infos
        self.generation += 1
        return infos

    def unregister_crd(self, name: str) -> list[ResourceInfo]:
        infos = self._drop(name)
        self._terminating.discard(name)
        if infos:
            self.generation += 1
        return infos

    def _drop(self, name: str) -> list[ResourceInfo]:
        infos = self._crd_resources.pop(name, [])
        for info in infos:
            self._by_gvr.pop((info.group, info.version, info.plural), None)
        if infos:
            self._routes.clear()  # before ``generation`` moves: the listeners may serve
            for listener in self.on_drop:
                listener(infos)
        return infos

    def crd_registered(self, name: str) -> bool:
        return name in self._crd_resources

    def set_terminating(self, crd_name: str) -> None:
        """A terminating CRD's resources lose create/update/patch verbs in discovery."""
        infos = self._crd_resources.get(crd_name)
        if not infos or crd_name in self._terminating:
            return
        self._terminating.add(crd_name)
        reduced = ("delete", "deletecollection", "get", "list", "watch")
        new_infos = [attrs.evolve(i, verbs=reduced) for i in infos]
        for info in new_infos:
            self._by_gvr[(info.group, info.version, info.plural)] = info
        self._crd_resources[crd_name] = new_infos
        self.generation += 1

    def is_terminating(self, crd_name: str) -> bool:
        return crd_name in self._terminating
