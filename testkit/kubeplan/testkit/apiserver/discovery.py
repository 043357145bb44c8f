"""Discovery documents: what real clients read before they can talk to any resource.

kubectl, client-go, the official ``kubernetes`` client and kubernetes_asyncio's dynamic
client all start by asking ``/version``, ``/api``, ``/apis`` and ``/api/v1`` /
``/apis/{group}/{version}``. Everything here is derived from ``registry.resources()``
on every call (cached per ``registry.generation``), so a CRD appears in discovery as
soon as the store registers it and disappears once it is gone.

Two shapes of ``/api`` and ``/apis`` are served, chosen by the ``Accept`` header:

* legacy ``APIVersions`` / ``APIGroupList`` (then one ``APIResourceList`` per
  group-version), what every client understands;
* aggregated discovery ``APIGroupDiscoveryList`` (``apidiscovery.k8s.io`` ``v2`` or
  ``v2beta1``), which kubectl 1.26+ asks for first. A client that asked for it looks at
  the response's ``Content-Type`` and falls back to the legacy shape when it is plain
  ``application/json``; we answer aggregated only when it is asked for by name.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import attrs

#: The Kubernetes version the fake claims to be (``/version``): the one whose defaults,
#: validation and OpenAPI documents it follows (the real-server tests build the same).
SERVER_MAJOR = "1"
SERVER_MINOR = "36"
SERVER_GIT_VERSION = "v1.36.3-kubeplan-fake"
#: the oldest minor a server of this version can stand in for (``--emulated-version``)
SERVER_MIN_COMPATIBILITY_MINOR = "35"

AGGREGATED_GROUP = "apidiscovery.k8s.io"
_AGGREGATED_VERSIONS = ("v2", "v2beta1")


class ResourceInfoLike(Protocol):
    """What discovery reads of the store's ``ResourceInfo`` (registry module)."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    verbs: Sequence[str]
    short_names: Sequence[str]
    categories: Sequence[str]
    subresources: Sequence[str]
    served: bool
    storage: bool


# ---------------------------------------------------------------------------
# version priority (k8s.io/apimachinery/pkg/version CompareKubeAwareVersionStrings)

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority_key(version: str) -> tuple[int, int, int, str]:
    """Sort key putting the preferred version first: GA > beta > alpha, higher first,
    then anything not shaped like a Kubernetes version, alphabetically."""
    match = _KUBE_VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major = int(match.group(1))
    stage = {"": 0, None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, version)


# ---------------------------------------------------------------------------
# the model discovery is rendered from


@attrs.frozen
class GroupVersionResources:
    """The served resources of one group-version, in the order the registry gave them."""

    group: str
    version: str
    resources: tuple[ResourceInfoLike, ...]

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@attrs.frozen
class DiscoveryModel:
    """Served resources grouped by group, versions in preference order."""

    groups: dict[str, tuple[GroupVersionResources, ...]]

    @classmethod
    def from_resources(cls, resources: Iterable[ResourceInfoLike]) -> DiscoveryModel:
        by_gv: dict[tuple[str, str], list[ResourceInfoLike]] = defaultdict(list)
        for info in resources:
            if getattr(info, "served", True):
                by_gv[(info.group, info.version)].append(info)
        groups: dict[str, list[GroupVersionResources]] = defaultdict(list)
        for (group, version), infos in by_gv.items():
            groups[group].append(GroupVersionResources(group, version, tuple(infos)))
        ordered: dict[str, tuple[GroupVersionResources, ...]] = {}
        # the core group first, then groups by name: stable output, like the real server's
        for group in sorted(groups, key=lambda g: (g != "", g)):
            versions = sorted(groups[group], key=lambda gv: version_priority_key(gv.version))
            ordered[group] = tuple(versions)
        return cls(ordered)

    def group_version(self, group: str, version: str) -> GroupVersionResources | None:
        for gv in self.groups.get(group, ()):
            if gv.version == version:
                return gv
        return None


# ---------------------------------------------------------------------------
# legacy documents


def version_info() -> dict[str, Any]:
    return {
        "major": SERVER_MAJOR,
        "minor": SERVER_MINOR,
        "emulationMajor": SERVER_MAJOR,
        "emulationMinor": SERVER_MINOR,
        "minCompatibilityMajor": SERVER_MAJOR,
        "minCompatibilityMinor": SERVER_MIN_COMPATIBILITY_MINOR,
        "gitVersion": SERVER_GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.26.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(model: DiscoveryModel, server_address: str) -> dict[str, Any]:
    """``GET /api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": [gv.version for gv in model.groups.get("", ())] or ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _version_entry(gv: GroupVersionResources) -> dict[str, str]:
    # kubernetes_asyncio compares this dict with preferredVersion by equality: same keys
    return {"groupVersion": gv.group_version, "version": gv.version}


def api_group(group: str, versions: Sequence[GroupVersionResources]) -> dict[str, Any]:
    """``GET /apis/{group}``, and one item of ``/apis``."""
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [_version_entry(gv) for gv in versions],
        "preferredVersion": _version_entry(versions[0]),
    }


def api_group_list(model: DiscoveryModel) -> dict[str, Any]:
    """``GET /apis``: every named group (the core group is at ``/api``)."""
    groups = []
    for group, versions in model.groups.items():
        if group:
            item = api_group(group, versions)
            del item["kind"], item["apiVersion"]
            groups.append(item)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _subresource_shape(parent: ResourceInfoLike, sub: str) -> tuple[str, str, str, list[str]]:
    """(group, version, kind, verbs) of a subresource, as the real server reports them."""
    if sub == "scale":
        return "autoscaling", "v1", "Scale", ["get", "patch", "update"]
    if sub == "status":
        return parent.group, parent.version, parent.kind, ["get", "patch", "update"]
    if sub == "token":
        return "authentication.k8s.io", "v1", "TokenRequest", ["create"]
    if sub == "eviction":
        return "policy", "v1", "Eviction", ["create"]
    if sub == "finalize":
        return parent.group, parent.version, parent.kind, ["update"]
    return parent.group, parent.version, parent.kind, ["get"]


#: built-ins stored as another group's kind (storage version hashes name the stored one)
_STORED_AS = {
    ("events.k8s.io", "Event"): ("", "v1", "Event"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (
        "apiextensions.k8s.io", "v1beta1", "CustomResourceDefinition"),
}


def storage_version_hash(info: ResourceInfoLike) -> str | None:
    """Discovery's ``storageVersionHash``: the first 8 bytes of the SHA-256 of the stored
    ``group/version/kind``, base64 (apiserver ``discovery.StorageVersionHash``); None for
    resources that are never stored (reviews)."""
    if tuple(info.verbs) == ("create",):
        return None
    group, version, kind = _STORED_AS.get(
        (info.group, info.kind),
        (info.group, getattr(info, "storage_version", "") or info.version, info.kind))
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_resource_list(gv: GroupVersionResources) -> dict[str, Any]:
    """``GET /api/v1`` or ``/apis/{group}/{version}``: resources and their subresources."""
    resources: list[dict[str, Any]] = []
    for info in gv.resources:
        entry: dict[str, Any] = {
            "name": info.plural,
            "singularName": info.singular or info.kind.lower(),
            "namespaced": bool(info.namespaced),
            "kind": info.kind,
            "verbs": list(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        digest = storage_version_hash(info)
        if digest is not None:
            entry["storageVersionHash"] = digest
        resources.append(entry)
        for sub in sorted(info.subresources or ()):
            group, version, kind, verbs = _subresource_shape(info, sub)
            sub_entry: dict[str, Any] = {
                "name": f"{info.plural}/{sub}",
                "singularName": "",
                "namespaced": bool(info.namespaced),
                "kind": kind,
                "verbs": verbs,
            }
            if (group, version) != (info.group, info.version):
                sub_entry["group"] = group
                sub_entry["version"] = version
            resources.append(sub_entry)
    listing: dict[str, Any] = {"kind": "APIResourceList", "apiVersion": "v1",
                               "groupVersion": gv.group_version, "resources": resources}
    if not gv.group:  # the real /api/v1 says no apiVersion
        del listing["apiVersion"]
    return listing


# ---------------------------------------------------------------------------
# aggregated discovery (apidiscovery.k8s.io)


def wanted_aggregated_version(accept: str | None) -> str | None:
    """The aggregated discovery version the ``Accept`` header asks for first, if any.

    Media ranges are tried in the client's order; the first one naming
    ``as=APIGroupDiscoveryList`` of a version we serve wins. Quality values are not
    used by Kubernetes clients, so they are ignored.
    """
    if not accept:
        return None
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if (
            parts[0] == "application/json"
            and params.get("g") == AGGREGATED_GROUP
            and params.get("as") == "APIGroupDiscoveryList"
            and params.get("v") in _AGGREGATED_VERSIONS
        ):
            return params["v"]
        if parts[0] in ("application/json", "*/*", "application/*") and "as" not in params:
            return None  # the client prefers the legacy answer
    return None


def aggregated_content_type(version: str) -> str:
    return f"application/json;g={AGGREGATED_GROUP};v={version};as=APIGroupDiscoveryList"


def _response_kind(info: ResourceInfoLike, group: str, version: str,
                   kind: str) -> dict[str, str]:
    """A resource's or subresource's ``responseKind``: the built-in handler leaves group
    and version empty where they are the resource's own; the custom resources' handler
    (apiextensions) always names them."""
    if not getattr(info, "custom", False) and (group, version) == (info.group, info.version):
        group = version = ""
    return {"group": group, "version": version, "kind": kind}


def _aggregated_resource(info: ResourceInfoLike) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": info.plural,
        "responseKind": _response_kind(info, info.group, info.version, info.kind),
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular or info.kind.lower(),
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    subs = []
    for sub in sorted(info.subresources or ()):
        group, version, kind, verbs = _subresource_shape(info, sub)
        subs.append(
            {
                "subresource": sub,
                "responseKind": _response_kind(info, group, version, kind),
                "verbs": verbs,
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated_discovery(model: DiscoveryModel, version: str, *, core: bool) -> dict[str, Any]:
    """``GET /api`` (core=True) or ``/apis`` (core=False) in the aggregated shape."""
    items = []
    for group, versions in model.groups.items():
        if (group == "") != core:
            continue
        items.append(
            {
                "metadata": {"name": group} if group else {},
                "versions": [
                    {
                        "version": gv.version,
                        "resources": [_aggregated_resource(i) for i in gv.resources],
                        "freshness": "Current",
                    }
                    for gv in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{AGGREGATED_GROUP}/{version}",
        "metadata": {},
        "items": items,
    }


def root_paths(model: DiscoveryModel) -> dict[str, Any]:
    """``GET /``: the list of served paths, as the real server answers."""
    paths = ["/api", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3",
             "/readyz", "/version"]
    for group, versions in model.groups.items():
        for gv in versions:
            paths.append(f"/api/{gv.version}" if not group else f"/apis/{gv.group_version}")
        if group:
            paths.append(f"/apis/{group}")
    return {"paths": sorted(set(paths))}
