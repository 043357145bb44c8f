"""rolling: a ``Fleet`` keeps N ConfigMaps at its version and rolls a new version one at a time.

What it shows:

- **rolling updates**: ``ChildConfig.rolling(in_place=False, max_unavailable=1,
  check=app_ready, timeout=...)``: when ``spec.version`` changes, kubeplan deletes and
  creates again one ConfigMap at a time, in name order, and goes on to the next only once
  the updated one passes its check; the others wait, and the plan says why;
- **a check the user can flip by hand**: the fake API server runs no kubelet, so the
  "application" in each ConfigMap reports readiness through its label ``ready``
  (``kubectl label configmap web-0 ready=true``); ``ready=false`` fails the check and halts
  the rollout (the parent's ``RolledOut`` condition names the child) until it passes;
- **progress in the status**: ``status.rollout.ConfigMap`` counts updated and ready
  children; the handler's own status fields (``version``) are left alone.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

Fleet = K8sType("example.kubeplan.dev/v1", "Fleet", "fleets")

READY_LABEL = "ready"
"""The label through which a member reports readiness: ``true`` passes, ``false`` fails."""


VERSION_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
"""A version is also a label value (check_operator found the label refused without this)."""


def _check_version(_instance: object, _attribute: object, value: str) -> None:
    if not re.fullmatch(VERSION_PATTERN, value):
        raise ValueError(f"version {value!r} is not a label value like v2 or 1.4.0-rc.1")


@attrs.frozen
class FleetSpec:
    """N members, all at one version."""

    version: str = attrs.field(validator=_check_version, metadata={
        "description": "the version every member runs (a label value)",
        "pattern": VERSION_PATTERN,
    })
    replicas: int = attrs.field(default=3, metadata={
        "description": "how many members", "minimum": 0, "maximum": 20,
    })


def app_ready(child: Mapping[str, Any]) -> bool | None:
    """The member's own report: label ``ready`` is ``true`` (passed), ``false`` (failed),
    or not there yet (not yet)."""
    value = ((child.get("metadata") or {}).get("labels") or {}).get(READY_LABEL)
    return {"true": True, "false": False}.get(value) if isinstance(value, str) else None


def fleet_config(
    check: Callable[[Mapping[str, Any]], bool | None] = app_ready,
    *,
    in_place: bool = False,
    max_unavailable: int = 1,
    timeout: datetime.timedelta | None = datetime.timedelta(minutes=5),
) -> OperatorConfig:
    """The operator's config, with its check and pace as parameters (the tests vary them)."""
    return OperatorConfig("rolling", Fleet).with_child(
        core_v1.ConfigMap,
        ChildConfig.rolling(
            in_place=in_place, max_unavailable=max_unavailable, check=check, timeout=timeout
        ),
    )


def ready_at_its_version(child: Mapping[str, Any]) -> bool | None:
    """For updates in place, where a member keeps its labels: label ``ready`` names the
    version the member is ready at (``ready=v2``); ``false`` fails; any other is not yet."""
    value = ((child.get("metadata") or {}).get("labels") or {}).get(READY_LABEL)
    if value == "false":
        return False
    return True if value == (child.get("data") or {}).get("version") else None


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(FleetSpec)
    members = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"{request.name}-{index}",
                "labels": {"fleet": request.name, "version": spec.version},
            },
            "data": {"version": spec.version, "member": str(index)},
        }
        for index in range(spec.replicas)
    ]
    return SyncResponse(children=members, status={"version": spec.version})


def fleet_operator(**options: Any) -> OperatorDefinition:
    """The operator with ``fleet_config(**options)``."""
    return OperatorDefinition(
        config=fleet_config(**options),
        handler=sync,
        spec_class=FleetSpec,
        description="N ConfigMaps at one version, rolled one at a time.",
    )


operator = fleet_operator()
