"""The plan for a parent the operator's filters do not select (pure).

The handler is not called for such a parent and nothing of it is written, with one
exception: a finalizer kubeplan put on it is removed (an operator that no longer looks at a
parent must not block its deletion). Its children are kept, or deleted when the filter says
``unmatched_children="delete"`` (only owned ones, each with its uid as a precondition, as
every delete). A parent that never matched has neither finalizer nor children: its plan is
empty.
"""

from __future__ import annotations

from kubeplan.core.config import OperatorConfig
from kubeplan.core.objects import (
    finalizers_of,
    is_owned_by,
    is_terminating,
    ref_of,
    resource_version_of,
    uid_of,
)
from kubeplan.core.plan import Action, Delete, Plan, RemoveFinalizer
from kubeplan.core.request import SyncRequest

__all__ = ["plan_unmatched"]

REASON_UNMATCHED = "the parent no longer matches the operator's filters"


def plan_unmatched(config: OperatorConfig, request: SyncRequest) -> Plan:
    """Deletes of the owned children (``unmatched_children="delete"``), then the removal of
    kubeplan's finalizer if the parent holds it; nothing else."""
    parent = request.parent
    parent_uid = uid_of(parent)
    parent_ref = ref_of(config.parent, parent)
    actions: list[Action] = []
    if config.filters.unmatched_children == "delete":
        actions += [
            Delete(ref_of(type_, obj), REASON_UNMATCHED)
            for type_, obj in request.children.all()
            if is_owned_by(obj, parent_uid) and not is_terminating(obj)
        ]
    finalizers = finalizers_of(parent)
    if config.finalizer in finalizers:
        actions.append(RemoveFinalizer(
            parent_ref, config.finalizer, REASON_UNMATCHED,
            finalizers=tuple(f for f in finalizers if f != config.finalizer),
            resource_version=resource_version_of(parent),
        ))
    return Plan(parent_ref, tuple(actions))
