"""temp-namespace: a cluster-scoped ``TempNamespace`` owns a Namespace until its ttl expires.

What it shows:

- a **cluster-scoped parent** owning a cluster-scoped child (a Namespace): kubeplan
  creates Namespaces before anything else and Kubernetes deletes the Namespace (and
  everything in it) when the TempNamespace is deleted;
- **time as an input**: ``request.now`` is the sync's time from the runtime's clock, so
  the handler stays pure (tests pass any time they like) and ``resync_after`` asks to be
  called again exactly when the ttl runs out, even if nothing else changes;
- **status as memory**: once expired, the status says so and stays so; the Namespace is
  deleted and never comes back.
"""

from __future__ import annotations

import datetime
import re
from typing import Literal

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

TempNamespace = K8sType("example.kubeplan.dev/v1", "TempNamespace", "tempnamespaces",
                        namespaced=False)

TTL_PATTERN = r"^[1-9][0-9]{0,5}[smhd]$"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def ttl_seconds(ttl: str) -> int:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"7d"`` in seconds."""
    if not re.fullmatch(TTL_PATTERN, ttl):
        raise ValueError(f"ttl {ttl!r} is not a duration like 90s, 30m, 2h or 7d")
    return int(ttl[:-1]) * _UNITS[ttl[-1]]


def _check_ttl(_instance: object, _attribute: object, value: str) -> None:
    ttl_seconds(value)


@attrs.frozen
class TempNamespaceSpec:
    """A Namespace that exists for a while."""

    ttl: str = attrs.field(validator=_check_ttl, metadata={
        "description": "how long the Namespace lives: 90s, 30m, 2h, 7d", "pattern": TTL_PATTERN,
    })


@attrs.frozen
class TempNamespaceStatus:
    phase: Literal["Active", "Expired"] = "Active"
    namespace: str | None = None
    expires_at: datetime.datetime | None = None


config = OperatorConfig("temp-namespace", TempNamespace).with_child(
    core_v1.Namespace, ChildConfig.replace()
)


def created_at(request: SyncRequest) -> datetime.datetime:
    stamp = request.parent["metadata"].get("creationTimestamp")
    if not stamp:  # a parent not yet stored (kubeplan plan on a file): it starts now
        return request.now or datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(TempNamespaceSpec)
    expires_at = created_at(request) + datetime.timedelta(seconds=ttl_seconds(spec.ttl))
    already = request.status.get("phase") == "Expired"
    # without a clock reading (request.now is None) nothing expires that has not already
    now = request.now
    if already or (now is not None and now >= expires_at):
        return SyncResponse(children=[], status=TempNamespaceStatus("Expired", None, expires_at))
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": request.name, "labels": {"example.kubeplan.dev/temporary": "true"}},
    }
    remaining = (expires_at - now).total_seconds() if now is not None else None
    return SyncResponse(
        children=[namespace],
        status=TempNamespaceStatus("Active", request.name, expires_at),
        resync_after=remaining,
    )


operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=TempNamespaceSpec,
    status_class=TempNamespaceStatus,
    description="A Namespace that is deleted when its ttl runs out.",
)
