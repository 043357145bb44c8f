"""A Service's cluster IPs, IP families and node ports, as the Service REST storage
sets them (``pkg/registry/core/service/storage``: ``beginCreate`` / ``beginUpdate``
and ``svcStrategy.PrepareForUpdate``'s ``dropTypeDependentFields``).

The fake's cluster is single-stack IPv4 with the real control plane's service range
(``realkube/cluster.py``: ``--service-cluster-ip-range=10.96.0.0/16``) and the default
node port range. What is taken is read from the stored Services, so a deleted Service
frees its address and ports at once and a dry run reserves nothing.
"""

from __future__ import annotations

import ipaddress
import json
import random
from typing import Any

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.store import Obj, Store

__all__ = ["NODE_PORTS", "SERVICE_CIDR", "allocate_create", "allocate_update"]

SERVICE_CIDR = ipaddress.IPv4Network("10.96.0.0/16")
NODE_PORTS = range(30000, 32768)
_FIRST = int(SERVICE_CIDR.network_address) + 1
_LAST = int(SERVICE_CIDR.broadcast_address) - 1


class _Taken:
    """The cluster IPs and node ports the other stored Services hold."""

    def __init__(self, store: Store, svc: Obj) -> None:
        meta = svc.get("metadata") or {}
        me = (meta.get("namespace") or "", meta.get("name") or "")
        self.ips: set[str] = set()
        self.ports: set[int] = set()
        for other in store.objects("services"):
            other_meta = other.get("metadata") or {}
            if (other_meta.get("namespace") or "", other_meta.get("name") or "") == me:
                continue
            spec = other.get("spec") or {}
            self.ips.update(ip for ip in spec.get("clusterIPs") or () if isinstance(ip, str))
            self.ports.update(_node_ports(spec))
            if isinstance(spec.get("healthCheckNodePort"), int):
                self.ports.add(spec["healthCheckNodePort"])


def _node_ports(spec: Obj) -> list[int]:
    return [p["nodePort"] for p in _ports(spec) if isinstance(p.get("nodePort"), int)
            and p["nodePort"]]


def _ports(spec: Obj) -> list[Obj]:
    return [p for p in spec.get("ports") or () if isinstance(p, dict)]


def _invalid(svc: Obj, field: str, message: str) -> status.StatusError:
    name = (svc.get("metadata") or {}).get("name") or ""
    return status.invalid("Service", "", name, [status.cause("FieldValueInvalid", field,
                                                             message)])


def _go_list(values: list[Any]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _family(ip: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


def _policy(spec: Obj) -> str:
    return str(spec.get("ipFamilyPolicy") or "SingleStack")


# --- IP families and cluster IPs -------------------------------------------------------


def _init_ip_families(svc: Obj, spec: Obj, old: Obj | None) -> None:
    """``initIPFamilyFields`` on a single-stack IPv4 cluster."""
    if spec.get("type") == "ExternalName":
        return
    headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        if old is not None and old.get("ipFamilyPolicy") is not None:
            spec["ipFamilyPolicy"] = old["ipFamilyPolicy"]
        elif headless_selectorless:
            spec["ipFamilyPolicy"] = "RequireDualStack"
        else:
            spec["ipFamilyPolicy"] = "SingleStack"
    cluster_ips = [ip for ip in spec.get("clusterIPs") or () if isinstance(ip, str)]
    families = spec.get("ipFamilies")
    if not isinstance(families, list):
        families = []
    for i, ip in enumerate(cluster_ips):
        if ip != "None" and _family(ip) is None:
            raise _invalid(svc, f"spec.clusterIPs[{i}]", f"Invalid value: {json.dumps(ip)}: "
                           "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
    if old is not None and _policy(spec) == "SingleStack":
        if cluster_ips == (old.get("clusterIPs") or []) and len(cluster_ips) > 1:
            spec["clusterIPs"] = cluster_ips = cluster_ips[:1]
        if families == (old.get("ipFamilies") or []) and len(families) > 1:
            spec["ipFamilies"] = families = families[:1]
    if _policy(spec) == "SingleStack":
        many = ("cluster IPs", len(cluster_ips)), ("IP families", len(families))
        for what, count in many:
            if count == 2:
                raise _invalid(svc, "spec.ipFamilyPolicy", 'Invalid value: "SingleStack": must '
                               "be 'RequireDualStack' or 'PreferDualStack' when multiple "
                               f"{what} are specified")
    for i, ip in enumerate(cluster_ips):
        if ip == "None":
            break
        if i >= len(families):
            family = _family(ip)
            if family != "IPv4":
                raise _invalid(svc, f"spec.clusterIPs[{i}]", f"Invalid value: "
                               f"{_go_list(cluster_ips)}: {family} is not configured on "
                               "this cluster")
            families = [*families, family]
    if headless_selectorless:
        families = families or ["IPv4"]
        if len(families) < 2 and _policy(spec) != "SingleStack":
            families = [*families, "IPv6" if families[0] == "IPv4" else "IPv4"]
        spec["ipFamilies"] = families
        return
    if _policy(spec) == "RequireDualStack":
        raise _invalid(svc, "spec.ipFamilyPolicy", 'Invalid value: "RequireDualStack": this '
                       "cluster is not configured for dual-stack services")
    for i, family in enumerate(families):
        if family != "IPv4":
            raise _invalid(svc, f"spec.ipFamilies[{i}]",
                           f"Invalid value: {json.dumps(family)}: not configured on this cluster")
    spec["ipFamilies"] = families or ["IPv4"]


def _allocate_cluster_ips(svc: Obj, spec: Obj, taken: _Taken, rng: random.Random) -> None:
    """``allocClusterIPs``: the one IPv4 address, requested or picked at random."""
    if spec.get("type") == "ExternalName":
        return
    cluster_ips = list(spec.get("clusterIPs") or [])
    if cluster_ips and cluster_ips[0] == "None":
        return
    requested = cluster_ips[0] if cluster_ips and cluster_ips[0] else ""
    if requested:
        address = ipaddress.ip_address(requested)
        if not _FIRST <= int(address) <= _LAST:
            raise _invalid(svc, "spec.clusterIPs", f"Invalid value: {_go_list(cluster_ips)}: "
                           f"failed to allocate IP {requested}: the provided network does "
                           "not match the current range")
        if requested in taken.ips:
            raise _invalid(svc, "spec.clusterIPs", f"Invalid value: {_go_list(cluster_ips)}: "
                           f"failed to allocate IP {requested}: provided IP is already "
                           "allocated")
        ip = requested
    else:
        if len(taken.ips) >= _LAST - _FIRST + 1:
            raise status.internal(f'failed to allocate a serviceIP for Service '
                                  f'"{(svc.get("metadata") or {}).get("name")}": range is full')
        while True:
            ip = str(ipaddress.IPv4Address(rng.randint(_FIRST, _LAST)))
            if ip not in taken.ips:
                break
    spec["clusterIPs"] = [ip, *cluster_ips[1:]]
    spec["clusterIP"] = ip


# --- node ports -------------------------------------------------------------------------


def _needs_node_ports(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind == "NodePort" or (
        kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False
    )


def _needs_health_check(spec: Obj) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


class _Ports:
    """A node port operation: requested ports are checked, missing ones picked."""

    def __init__(self, svc: Obj, taken: _Taken, rng: random.Random) -> None:
        self.svc = svc
        self.taken = taken
        self.rng = rng

    def problem(self, port: int) -> str | None:
        if port not in NODE_PORTS:
            return ("provided port is not in the valid range. The range of valid ports is "
                    f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}")
        if port in self.taken.ports:
            return "provided port is already allocated"
        return None

    def claim(self, port: int, field: str) -> None:
        problem = self.problem(port)
        if problem is not None:
            raise _invalid(self.svc, field, f"Invalid value: {port}: {problem}")
        self.taken.ports.add(port)

    def next(self) -> int:
        if len(self.taken.ports) >= len(NODE_PORTS):
            raise status.internal("failed to allocate a nodePort: range is full")
        while True:
            port = self.rng.randint(NODE_PORTS.start, NODE_PORTS.stop - 1)
            if port not in self.taken.ports:
                self.taken.ports.add(port)
                return port

    def health_check(self, spec: Obj) -> None:
        """``allocHealthCheckNodePort`` (its failures are internal errors upstream)."""
        requested = spec.get("healthCheckNodePort")
        if isinstance(requested, int) and requested:
            problem = self.problem(requested)
            if problem is not None:
                raise status.internal(f"failed to allocate requested HealthCheck NodePort "
                                      f"{requested}: {problem}")
            self.taken.ports.add(requested)
        else:
            spec["healthCheckNodePort"] = self.next()


def _init_node_ports(spec: Obj, op: _Ports) -> None:
    """``initNodePorts``: a port number keeps one node port across its protocols."""
    by_port: dict[Any, int] = {}
    ports = _ports(spec)
    for i, port in enumerate(ports):
        node_port = port.get("nodePort") or 0
        if not node_port and not _needs_node_ports(spec):
            continue
        allocated = by_port.get(port.get("port"), 0)
        field = f"spec.ports[{i}].nodePort"
        if not allocated:
            wanted = next((p.get("nodePort") for p in ports[i:]
                           if p.get("port") == port.get("port") and p.get("nodePort")), 0)
            if wanted:
                op.claim(wanted, field)
                port["nodePort"] = by_port[port.get("port")] = wanted
            else:
                port["nodePort"] = by_port[port.get("port")] = op.next()
        elif node_port != allocated:
            if not node_port:
                port["nodePort"] = allocated
            else:
                op.claim(node_port, field)


def _update_node_ports(spec: Obj, old_spec: Obj, op: _Ports) -> None:
    """``updateNodePorts``: the old ports stay, new requests are checked."""
    old_ports = set(_node_ports(old_spec))
    op.taken.ports.update(old_ports)  # released only once the update is stored
    claimed: set[int] = set()
    for i, port in enumerate(_ports(spec)):
        node_port = port.get("nodePort") or 0
        if not node_port and not _needs_node_ports(spec):
            continue
        if node_port:
            if node_port not in old_ports and node_port not in claimed:
                op.claim(node_port, f"spec.ports[{i}].nodePort")
                claimed.add(node_port)
        else:
            port["nodePort"] = op.next()


# --- the two entry points ----------------------------------------------------------------


def allocate_create(svc: Obj, store: Store, rng: random.Random) -> None:
    """``beginCreate``: normalise clusterIP/clusterIPs, set the IP families, allocate
    the cluster IP and node ports. Raises 422 for a taken or foreign address or port."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    _init_ip_families(svc, spec, None)
    taken = _Taken(store, svc)
    _allocate_cluster_ips(svc, spec, taken, rng)
    op = _Ports(svc, taken, rng)
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        _init_node_ports(spec, op)
    if _needs_health_check(spec):
        op.health_check(spec)
    if spec.get("type") == "ExternalName":
        spec.pop("internalTrafficPolicy", None)  # defaultOnReadInternalTrafficPolicy


def allocate_update(svc: Obj, old: Obj, store: Store, rng: random.Random) -> None:
    """``beginUpdate`` then ``dropTypeDependentFields``: what the client left out is
    kept from the stored Service, a new type gets or gives up its addresses and ports."""
    spec = svc.get("spec")
    old_spec = old.get("spec")
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return
    _patch_allocated_values(spec, old_spec)
    _normalize_cluster_ips(spec, old_spec)
    _init_ip_families(svc, spec, old_spec)
    taken = _Taken(store, svc)
    if old_spec.get("type") == "ExternalName" and spec.get("type") != "ExternalName":
        _allocate_cluster_ips(svc, spec, taken, rng)
    op = _Ports(svc, taken, rng)
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        _update_node_ports(spec, old_spec, op)
    if not _needs_health_check(old_spec) and _needs_health_check(spec):
        op.health_check(spec)
    _drop_type_dependent_fields(svc, spec, old_spec)
    if spec.get("type") == "ExternalName":
        spec.pop("internalTrafficPolicy", None)


def _patch_allocated_values(spec: Obj, old: Obj) -> None:
    """``patchAllocatedValues``: a resubmitted manifest keeps what was allocated."""
    if spec.get("type") != "ExternalName" and old.get("type") != "ExternalName":
        if not spec.get("clusterIP") and old.get("clusterIP"):
            spec["clusterIP"] = old["clusterIP"]
        if not spec.get("clusterIPs") and old.get("clusterIPs"):
            spec["clusterIPs"] = list(old["clusterIPs"])
    if _needs_node_ports(old) and _needs_node_ports(spec):
        used = set(_node_ports(old)) & set(_node_ports(spec))
        by_name = {p.get("name"): p.get("nodePort") for p in _ports(old)}
        for port in _ports(spec):
            if not port.get("nodePort"):
                previous = by_name.get(port.get("name"))
                if previous and previous not in used:
                    port["nodePort"] = previous
    if (_needs_health_check(old) and _needs_health_check(spec)
            and not spec.get("healthCheckNodePort") and old.get("healthCheckNodePort")):
        spec["healthCheckNodePort"] = old["healthCheckNodePort"]


def _normalize_cluster_ips(spec: Obj, old: Obj) -> None:
    """``normalizeClusterIPs`` of an update: clusterIP and clusterIPs kept in step."""
    old_ips = old.get("clusterIPs") or []
    if old_ips and not spec.get("clusterIPs") and old.get("clusterIP") == spec.get("clusterIP"):
        spec["clusterIPs"] = list(old_ips)
    if old.get("clusterIP") != spec.get("clusterIP"):
        same = (spec.get("clusterIPs") or []) == old_ips
        if old.get("clusterIP") and not spec.get("clusterIP"):
            if same:
                spec.pop("clusterIPs", None)
        elif same:
            spec["clusterIPs"] = [spec.get("clusterIP")]


def _drop_type_dependent_fields(svc: Obj, spec: Obj, old: Obj) -> None:
    """``dropTypeDependentFields``: what the new type no longer uses, unless the
    client changed it too (then validation speaks)."""
    if old.get("type") != "ExternalName" and spec.get("type") == "ExternalName":
        if (spec.get("clusterIPs") or []) == (old.get("clusterIPs") or []):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if spec.get("ipFamilies") == old.get("ipFamilies"):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == old.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    same_node_ports = _node_ports_of(spec) == _node_ports_of(old)
    if _needs_node_ports(old) and not _needs_node_ports(spec) and same_node_ports:
        for port in _ports(spec):
            port.pop("nodePort", None)
    same_check = spec.get("healthCheckNodePort") == old.get("healthCheckNodePort")
    if _needs_health_check(old) and not _needs_health_check(spec) and same_check:
        spec.pop("healthCheckNodePort", None)
    if old.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        new_alloc = spec.get("allocateLoadBalancerNodePorts")
        if new_alloc is not None and new_alloc == old.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerClass") == old.get("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    same_policy = spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy")
    if _externally_accessible(old) and not _externally_accessible(spec) and same_policy:
        spec.pop("externalTrafficPolicy", None)
    st = svc.get("status")
    if spec.get("type") != "LoadBalancer" and isinstance(st, dict):
        svc["status"] = {**st, "loadBalancer": {}}


def _node_ports_of(spec: Obj) -> list[Any]:
    return [p.get("nodePort") for p in _ports(spec)]


def _externally_accessible(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )
