"""``PlanSummary``: outcomes, counts per verb and type, text grouped by parent, versioned JSON."""

from __future__ import annotations

import json

from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.objects import ObjectRef
from kubeplan.core.plan import Create, Delete, Plan, Recreate, Replace, UpdateStatus
from kubeplan.core.summary import SCHEMA, ActionCount, PlanSummary, outcome_of
from kubeplan.core.types import K8sType

WEB = K8sType("example.kubeplan.dev/v1", "Web", "webs")


def parent(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(WEB, name, namespace, uid=f"uid-{namespace}-{name}")


def child(type_: K8sType, namespace: str, name: str) -> ObjectRef:
    return ObjectRef(type_, name, namespace, uid=f"c-{name}")


def sample() -> list[Plan]:
    shop = parent("default", "shop")
    blog = parent("team-a", "blog")
    return [
        Plan(parent("team-a", "quiet")),
        Plan(shop, [
            Replace(child(apps_v1.Deployment, "default", "shop"), {}, changes=["spec.replicas"],
                    reason="spec.replicas 2 -> 3"),
            Create(child(core_v1.Service, "default", "shop"), {}),
            UpdateStatus(shop, {"replicas": 3}, {"replicas": 3}, reason="replicas"),
        ]),
        Plan(blog, [
            Recreate(child(core_v1.Pod, "team-a", "blog-0"), {}, reason="image a -> b"),
            Recreate(child(core_v1.Pod, "team-a", "blog-1"), {}, reason="image a -> b"),
            Delete(child(core_v1.Pod, "team-a", "blog-2")),
        ]),
        Plan(parent("default", "broken"),
             [UpdateStatus(parent("default", "broken"), {}, {}, reason="conditions")],
             error="Web default/broken: the handler raised KeyError: 'image'"),
    ]


def test_each_plan_has_one_outcome() -> None:
    outcomes = {p.parent.name: outcome_of(p) for p in sample()}
    assert outcomes == {"quiet": "up-to-date", "shop": "changed", "blog": "changed",
                        "broken": "failed"}
    summary = PlanSummary.of(sample())
    assert [p.parent.name for p in summary.failed] == ["broken"]
    assert [p.parent.name for p in summary.changed] == ["shop", "blog"]  # by namespace, name
    assert [p.parent.name for p in summary.up_to_date] == ["quiet"]
    assert summary.would_change and summary.action_total == 7


def test_counts_are_per_verb_and_type_in_the_planners_order() -> None:
    assert PlanSummary.of(sample()).counts == (
        ActionCount("create", "v1/Service", 1),
        ActionCount("replace", "apps/v1/Deployment", 1),
        ActionCount("recreate", "v1/Pod", 2),
        ActionCount("delete", "v1/Pod", 1),
        ActionCount("status", "example.kubeplan.dev/v1/Web", 2),
    )


def test_the_text_groups_actions_by_parent_failed_first() -> None:
    lines = PlanSummary.of(sample()).lines()
    assert lines[0] == "4 parents: 2 would change, 1 up to date, 1 failed; 7 actions"
    assert lines[1:6] == [
        "  create    v1/Service                   1",
        "  replace   apps/v1/Deployment           1",
        "  recreate  v1/Pod                       2",
        "  delete    v1/Pod                       1",
        "  status    example.kubeplan.dev/v1/Web  2",
    ]
    blocks = "\n".join(lines[6:]).split("\n\n")
    assert blocks[0].splitlines()[:2] == [
        "",
        "example.kubeplan.dev/v1/Web default/broken: FAILED",
    ]
    assert "  error   Web default/broken: the handler raised KeyError: 'image'" in blocks[0]
    assert blocks[1].splitlines() == [
        "example.kubeplan.dev/v1/Web default/shop: 3 actions",
        "  replace apps/v1/Deployment default/shop: spec.replicas 2 -> 3",
        "  create  v1/Service default/shop: missing",
        "  status  example.kubeplan.dev/v1/Web default/shop: replicas",
    ]
    assert blocks[2].splitlines()[0] == "example.kubeplan.dev/v1/Web team-a/blog: 3 actions"
    assert blocks[3] == "example.kubeplan.dev/v1/Web team-a/quiet: up to date"


def test_an_empty_summary_says_so() -> None:
    summary = PlanSummary.of([])
    assert not summary.would_change
    assert str(summary) == "0 parents: 0 would change, 0 up to date, 0 failed; 0 actions"


def test_the_json_has_a_stable_schema() -> None:
    data = PlanSummary.of(sample(), operator="web", namespaces=["team-a", "default"]).to_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON
    assert list(data) == ["schema", "operator", "namespaces", "totals", "counts", "parents"]
    assert data["schema"] == SCHEMA == "kubeplan.dev/plan-summary/v1"
    assert data["operator"] == "web" and data["namespaces"] == ["default", "team-a"]
    assert data["totals"] == {"parents": 4, "changed": 2, "up_to_date": 1, "failed": 1,
                              "actions": 7, "problems": 0}
    assert data["counts"][2] == {"action": "recreate", "type": "v1/Pod", "count": 2}
    entries = [(e["parent"]["namespace"], e["parent"]["name"], e["outcome"])
               for e in data["parents"]]
    assert entries == [("default", "broken", "failed"), ("default", "shop", "changed"),
                       ("team-a", "blog", "changed"), ("team-a", "quiet", "up-to-date")]
    broken = data["parents"][0]["plan"]
    assert broken["error"].endswith("KeyError: 'image'") and broken["actions"][0]["action"] == (
        "status")


def test_the_same_plans_in_any_order_give_the_same_summary() -> None:
    plans = sample()
    assert PlanSummary.of(plans) == PlanSummary.of(reversed(plans))
    assert str(PlanSummary.of(plans)) == str(PlanSummary.of(reversed(plans)))
