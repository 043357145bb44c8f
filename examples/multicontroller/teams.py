"""What the two operators of the multicontroller example share: how a team's namespaces
are found. A namespace belongs to team ``T`` when it carries the label
``example.kubeplan.dev/team: T``; one being deleted (phase ``Terminating``) gets nothing new.
"""

from __future__ import annotations

from typing import Any

from kubeplan.core.k8s import core_v1
from kubeplan.core.related import RelatedSelector
from kubeplan.core.request import SyncRequest

TEAM_LABEL = "example.kubeplan.dev/team"

#: a team's name is a label value (and a DNS label, so that it can name things too)
TEAM_PATTERN = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


def team_namespaces(parent: dict[str, Any]) -> RelatedSelector | None:
    """Pure: the namespaces of the parent's team (None when the spec names no team)."""
    team = (parent.get("spec") or {}).get("team")
    if not team:
        return None
    return RelatedSelector(label_selector={TEAM_LABEL: team})


def live_namespaces(request: SyncRequest, team: str) -> list[str]:
    """The names of the team's namespaces that are not being deleted, sorted (the label
    is checked again: a request built by hand may hold any namespace)."""
    return sorted(
        name for name, ns in request.related.of(core_v1.Namespace).items()
        if ((ns.get("metadata") or {}).get("labels") or {}).get(TEAM_LABEL) == team
        and (ns.get("status") or {}).get("phase") != "Terminating"
    )
