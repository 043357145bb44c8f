"""List merge semantics of built-in types, shared by strategic merge patch and SSA.

The real server reads these from Go struct tags (``patchMergeKey``/``patchStrategy``
for strategic merge patch, ``+listType``/``+listMapKey`` for server-side apply). We
have no Go types, so this module holds a table of the lists that matter to
operators. Paths are field names without list indices, e.g.
``("spec", "template", "spec", "containers", "ports")``.

Two views exist because the two mechanisms disagree in places: SMP merges
container ports by ``containerPort`` alone while SSA keys them by
``(containerPort, protocol)``; SMP merges ``finalizers`` as a set while SSA calls it
``listType=set``. Lists absent from the table are replaced (SMP) / atomic (SSA).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import attrs

from kubeplan.testkit.apiserver.builtin_fields import atomic_names, field_node, has_kind

__all__ = [
    "ListRule",
    "list_merge_key",
    "list_rule",
    "ssa_list_keys",
]

ListType = Literal["map", "set", "atomic", "struct"]


@attrs.frozen
class ListRule:
    """How one list field merges.

    ``list_type``/``keys`` are the SSA view (``x-kubernetes-list-type`` and
    ``x-kubernetes-list-map-keys``); ``merge_key``/``smp_merge`` the SMP view
    (``patchMergeKey`` and whether ``patchStrategy`` contains ``merge``);
    ``retain_keys`` marks lists whose items accept ``$retainKeys`` (``volumes``).

    For server-side apply of built-in kinds (``ssa_list_keys``) a rule also describes
    structs and maps: ``atomic`` for an atomic one (``+structType``/``+mapType=atomic``),
    ``struct`` for a granular one in the Go zero value; ``key_defaults`` holds the schema
    defaults of a keyed list's keys (``protocol: TCP``), ``items_atomic`` says the items
    are atomic structs and ``zero`` that the node exists in the Go zero value of its
    parent (see :mod:`kubeplan.testkit.apiserver.builtin_fields`).
    """

    list_type: ListType
    keys: tuple[str, ...] = ()
    merge_key: str | None = None
    smp_merge: bool = False
    retain_keys: bool = False
    key_defaults: tuple[tuple[str, Any], ...] = ()
    items_atomic: bool = False
    zero: bool = False


def _keyed(key: str, *ssa_keys: str, retain_keys: bool = False) -> ListRule:
    return ListRule(
        "map", ssa_keys or (key,), merge_key=key, smp_merge=True, retain_keys=retain_keys
    )


_SET_MERGE = ListRule("set", smp_merge=True)
_ATOMIC = ListRule("atomic")

# Lists inside a Container (also EphemeralContainer), relative to the container.
_CONTAINER_LISTS: dict[tuple[str, ...], ListRule] = {
    ("ports",): _keyed("containerPort", "containerPort", "protocol"),
    ("env",): _keyed("name"),
    ("envFrom",): _ATOMIC,
    ("volumeMounts",): _keyed("mountPath"),
    ("volumeDevices",): _keyed("devicePath"),
    ("resizePolicy",): _ATOMIC,
    ("command",): _ATOMIC,
    ("args",): _ATOMIC,
}

# Lists inside a PodSpec, relative to the PodSpec.
_POD_SPEC_LISTS: dict[tuple[str, ...], ListRule] = {
    ("volumes",): _keyed("name", retain_keys=True),
    ("imagePullSecrets",): _keyed("name"),
    ("tolerations",): _ATOMIC,
    ("hostAliases",): _keyed("ip"),
    ("topologySpreadConstraints",): _keyed("topologyKey", "topologyKey", "whenUnsatisfiable"),
    ("schedulingGates",): _keyed("name"),
    ("resourceClaims",): _keyed("name"),
    ("readinessGates",): _ATOMIC,
}
for _containers in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC_LISTS[(_containers,)] = _keyed("name")
    for _rel, _rule in _CONTAINER_LISTS.items():
        _POD_SPEC_LISTS[(_containers, *_rel)] = _rule

# Where a PodSpec sits, per (group, kind).
_POD_SPEC_PREFIXES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("", "PodTemplate"): ("template", "spec"),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}

# Lists at fixed paths of one kind.
_KIND_LISTS: dict[tuple[str, str], dict[tuple[str, ...], ListRule]] = {
    ("", "Service"): {
        ("spec", "ports"): _keyed("port", "port", "protocol"),
        ("spec", "externalIPs"): _ATOMIC,
        ("spec", "ipFamilies"): _ATOMIC,
    },
    ("", "Pod"): {
        ("status", "containerStatuses"): _ATOMIC,
        ("status", "podIPs"): _keyed("ip"),
    },
    ("", "Namespace"): {("spec", "finalizers"): _ATOMIC},
    ("apps", "StatefulSet"): {("spec", "volumeClaimTemplates"): _ATOMIC},
}

# Lists every object has.
_COMMON_LISTS: dict[tuple[str, ...], ListRule] = {
    ("metadata", "ownerReferences"): _keyed("uid"),
    ("metadata", "finalizers"): _SET_MERGE,
    ("metadata", "managedFields"): _ATOMIC,
    ("status", "conditions"): _keyed("type"),
}


def list_rule(group: str, kind: str, path: tuple[str, ...]) -> ListRule | None:
    """The merge rule of the list at ``path`` in an object of ``group``/``kind``.

    None means "not a known list": SMP replaces it, SSA treats it as atomic.
    """
    rule = _COMMON_LISTS.get(path) or _KIND_LISTS.get((group, kind), {}).get(path)
    if rule is not None:
        return rule
    prefix = _POD_SPEC_PREFIXES.get((group, kind))
    if prefix is not None and path[: len(prefix)] == prefix:
        return _POD_SPEC_LISTS.get(path[len(prefix) :])
    return None


def list_merge_key(group: str, kind: str, path: tuple[str, ...]) -> str | None:
    """The SMP ``patchMergeKey`` of a list of objects, or None (replace / primitive)."""
    rule = list_rule(group, kind, path)
    return rule.merge_key if rule is not None else None


def ssa_list_keys(
    group: str, kind: str, version: str = "v1"
) -> Callable[[tuple[str, ...]], ListRule | None]:
    """A ``list_keys`` callable for :func:`kubeplan.testkit.apiserver.ssa.apply`.

    It returns the :class:`ListRule` of a path: for kinds in the upstream schema table
    (``builtin_fields``) what that schema says of lists, atomic structs and maps and the
    zero value; else the list rule of the table above (None: atomic list).
    """
    if not has_kind(group, kind, version):

        def keys(path: tuple[str, ...]) -> ListRule | None:
            return list_rule(group, kind, path)

        return keys
    return _SchemaKeys(group, kind, version)


class _SchemaKeys:
    """``ssa_list_keys`` of a kind in the schema table. ``atomic_names`` tells apply
    which field names can be atomic structs or maps at all (it asks about no other
    struct or map)."""

    __slots__ = ("atomic_names", "group", "kind", "version")

    def __init__(self, group: str, kind: str, version: str) -> None:
        self.group = group
        self.kind = kind
        self.version = version
        self.atomic_names = atomic_names()

    def __call__(self, path: tuple[str, ...]) -> ListRule | None:
        return _schema_rule(self.group, self.kind, self.version, path)


@functools.lru_cache(maxsize=8192)
def _schema_rule(group: str, kind: str, version: str, path: tuple[str, ...]) -> ListRule | None:
    node = field_node(group, kind, path, version)
    if node is None:
        return None
    if node.shape == "list":
        if node.list_type == "map":
            return ListRule("map", node.keys, merge_key=node.keys[0] if node.keys else None,
                            key_defaults=node.key_defaults, items_atomic=node.items_atomic,
                            zero=node.zero)
        if node.list_type == "set":
            return ListRule("set", zero=node.zero)
        return _ATOMIC_ZERO if node.zero else None
    if node.atomic:
        return _ATOMIC_ZERO if node.zero else _ATOMIC
    return _STRUCT_ZERO if node.zero else None


_ATOMIC_ZERO = ListRule("atomic", zero=True)
_STRUCT_ZERO = ListRule("struct", zero=True)
