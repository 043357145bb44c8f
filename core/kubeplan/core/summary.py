"""Many parents' plans as one preview: what ``kubeplan plan --all`` prints.

``PlanSummary.of(plans)`` sorts the plans by parent and sorts each into one outcome:

- ``failed``: the handler raised or returned something invalid (``plan.error``); the
  plan then holds no child action, only the status condition that would report it;
- ``changed``: the plan has actions (a parent with ``problems``, a desired child whose
  name another object holds, is ``changed`` too: its status would say so);
- ``up-to-date``: the plan is empty.

``counts`` is how many actions there are of each verb on each type; ``lines()`` renders
the summary as text (the counts, then each parent's actions with their reasons, failed
parents first) and ``to_dict()`` as data whose layout is versioned by ``SCHEMA`` (see
``to_dict``). Pure: no I/O, no clock; the same plans give the same text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

import attrs

from kubeplan.core.plan import (
    AddFinalizer,
    Create,
    Delete,
    Plan,
    Recreate,
    RemoveFinalizer,
    Replace,
    UpdateStatus,
)

__all__ = ["SCHEMA", "ActionCount", "Outcome", "PlanSummary", "outcome_of"]

#: the version of ``PlanSummary.to_dict``'s layout; raised when a key changes meaning or goes
SCHEMA = "kubeplan.dev/plan-summary/v1"

Outcome = Literal["failed", "changed", "up-to-date"]
_VERBS = tuple(action.verb for action in (
    Create, Replace, Recreate, Delete, UpdateStatus, AddFinalizer, RemoveFinalizer))


def outcome_of(plan: Plan) -> Outcome:
    """``failed`` (the handler failed), ``changed`` (there are actions) or ``up-to-date``."""
    if plan.error is not None:
        return "failed"
    return "changed" if plan.actions else "up-to-date"


def _verb_rank(verb: str) -> tuple[int, str]:
    return (_VERBS.index(verb) if verb in _VERBS else len(_VERBS), verb)


def _parent_key(plan: Plan) -> tuple[str, str, str]:
    ref = plan.parent
    return (str(ref.type), ref.namespace or "", ref.name)


@attrs.frozen
class ActionCount:
    """``count`` actions of ``verb`` (``create``, ``status`` ...) on objects of ``type``
    (a type key, ``apps/v1/Deployment``)."""

    verb: str
    type: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.verb, "type": self.type, "count": self.count}


def _sorted_plans(value: Iterable[Plan]) -> tuple[Plan, ...]:
    return tuple(sorted(value, key=_parent_key))


def _namespaces(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(sorted(value))


@attrs.frozen
class PlanSummary:
    """The plans of many parents (sorted by parent type, namespace and name), summed up.

    ``operator`` and ``namespaces`` say what was planned (the operator's name; the
    namespaces read, None for all of them) and are carried into ``to_dict``.
    """

    plans: tuple[Plan, ...] = attrs.field(converter=_sorted_plans)
    operator: str | None = None
    namespaces: tuple[str, ...] | None = attrs.field(default=None, converter=_namespaces)

    @classmethod
    def of(cls, plans: Iterable[Plan], *, operator: str | None = None,
           namespaces: Iterable[str] | None = None) -> PlanSummary:
        return cls(tuple(plans), operator, namespaces)

    def with_outcome(self, outcome: Outcome) -> tuple[Plan, ...]:
        """The plans whose ``outcome_of`` is ``outcome``, in parent order."""
        return tuple(p for p in self.plans if outcome_of(p) == outcome)

    @property
    def failed(self) -> tuple[Plan, ...]:
        return self.with_outcome("failed")

    @property
    def changed(self) -> tuple[Plan, ...]:
        return self.with_outcome("changed")

    @property
    def up_to_date(self) -> tuple[Plan, ...]:
        return self.with_outcome("up-to-date")

    @property
    def action_total(self) -> int:
        return sum(len(p.actions) for p in self.plans)

    @property
    def would_change(self) -> bool:
        """Whether any parent's plan has an action (failed parents' status writes count)."""
        return any(p.actions for p in self.plans)

    @property
    def counts(self) -> tuple[ActionCount, ...]:
        """Actions per (verb, type), in the planner's verb order, then by type."""
        counted = Counter((a.verb, str(a.ref.type)) for p in self.plans for a in p.actions)
        keys = sorted(counted, key=lambda k: (_verb_rank(k[0]), k[1]))
        return tuple(ActionCount(verb, type_, counted[(verb, type_)]) for verb, type_ in keys)

    # -- text -----------------------------------------------------------------------------

    def headline(self) -> str:
        """One line: how many parents, and how many of each outcome."""
        total = len(self.plans)
        parents = "parent" if total == 1 else "parents"
        actions = self.action_total
        return (f"{total} {parents}: {len(self.changed)} would change, "
                f"{len(self.up_to_date)} up to date, {len(self.failed)} failed; "
                f"{actions} action{'' if actions == 1 else 's'}")

    def lines(self) -> list[str]:
        """The summary as text: the headline, the counts table, then one block per parent
        that fails or would change (its plan's lines, indented), then the parents that
        are up to date, one line each."""
        out = [self.headline()]
        counts = self.counts
        if counts:
            verb_width = max(len(c.verb) for c in counts)
            type_width = max(len(c.type) for c in counts)
            out.extend(f"  {c.verb:<{verb_width}}  {c.type:<{type_width}}  {c.count}"
                       for c in counts)
        for outcome in ("failed", "changed"):
            for plan in self.with_outcome(outcome):
                n = len(plan.actions)
                label = "FAILED" if outcome == "failed" else f"{n} action{'' if n == 1 else 's'}"
                out.append("")
                out.append(f"{plan.parent}: {label}")
                out.extend(f"  {line}" for line in plan.lines())
        fresh = self.up_to_date
        if fresh:
            out.append("")
            out.extend(f"{plan.parent}: up to date" for plan in fresh)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    # -- data -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data, stable for CI gates::

            {"schema": "kubeplan.dev/plan-summary/v1",
             "operator": "echo-server", "namespaces": null or ["team-a", ...],
             "totals": {"parents": 3, "changed": 1, "up_to_date": 1, "failed": 1,
                        "actions": 4, "problems": 0},
             "counts": [{"action": "recreate", "type": "v1/Pod", "count": 2}, ...],
             "parents": [{"parent": {"apiVersion": ..., "kind": ..., "namespace": ...,
                                     "name": ..., "uid": ...},
                          "outcome": "failed" | "changed" | "up-to-date",
                          "plan": <Plan.to_dict(): actions, error, problems, ...>}, ...]}

        ``parents`` is in parent order (type, namespace, name); ``counts`` as ``counts``.
        """
        return {
            "schema": SCHEMA,
            "operator": self.operator,
            "namespaces": list(self.namespaces) if self.namespaces is not None else None,
            "totals": {
                "parents": len(self.plans),
                "changed": len(self.changed),
                "up_to_date": len(self.up_to_date),
                "failed": len(self.failed),
                "actions": self.action_total,
                "problems": sum(len(p.problems) for p in self.plans),
            },
            "counts": [c.to_dict() for c in self.counts],
            "parents": [
                {"parent": p.parent.to_dict(), "outcome": outcome_of(p), "plan": p.to_dict()}
                for p in self.plans
            ],
        }

