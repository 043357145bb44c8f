"""Hypothesis strategies for the planner's properties: parents, desired sets, observed worlds.

Small composable pieces (like attrs's ``tests/strategies.py``): ``desired_children`` builds a
valid desired set for a config; ``scenarios`` builds a whole situation (a world that already
holds children from an earlier desired set, then edited by others, with foreign objects,
terminating children and maybe a lost memo) plus the handler's answer for this pass.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import attrs
from core_builders import CLUSTER_CONFIG, CONFIG, NOW, parent
from hypothesis import strategies as st
from world import World

from kubeplan.core.config import OperatorConfig
from kubeplan.core.k8s import apps_v1
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.planner import plan
from kubeplan.core.response import FinalizeResponse, SyncResponse

NAMES = ("a", "b", "web")
NAMESPACES = ("team-a", "team-b")
CPUS = ("500m", "1000m", "2000m", "250m")
IMAGES = ("nginx:1.25", "nginx:1.26", "busybox")

labels = st.dictionaries(st.sampled_from(("app", "tier", "example.com/team")),
                         st.sampled_from(("x", "y")), max_size=2)


@st.composite
def containers(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(("app", "side", "proxy")), min_size=1, max_size=3,
                          unique=True))
    return [
        {
            "name": name,
            "image": draw(st.sampled_from(IMAGES)),
            "args": draw(st.lists(st.sampled_from(("-v", "--port", "8080")), max_size=3)),
            "resources": {"limits": {"cpu": draw(st.sampled_from(CPUS))}},
        }
        for name in names
    ]


@st.composite
def child_of(draw: st.DrawFn, config: OperatorConfig, kind: str, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if draw(st.booleans()):
        meta["labels"] = draw(labels)
    if not config.parent.namespaced and kind != "Namespace":
        meta["namespace"] = draw(st.sampled_from(NAMESPACES))
    if kind == "Deployment":
        body = {"spec": {"replicas": draw(st.integers(0, 3)),
                         "template": {"spec": {"containers": draw(containers())}}}}
    elif kind == "Service":
        ports = draw(st.lists(st.sampled_from(("http", "metrics")), min_size=1, unique=True))
        body = {"spec": {"ports": [{"name": p, "port": draw(st.sampled_from((80, 8080)))}
                                   for p in ports]}}
    elif kind == "ConfigMap":
        body = {"data": draw(st.dictionaries(st.sampled_from(("k1", "k2", "k3")),
                                             st.sampled_from(("v1", "v2")), max_size=3))}
    else:  # Namespace
        body = {}
    return {"apiVersion": "apps/v1" if kind == "Deployment" else "v1", "kind": kind,
            "metadata": meta, **body}


@st.composite
def desired_children(draw: st.DrawFn, config: OperatorConfig) -> list[dict[str, Any]]:
    kinds = [t.kind for t in config.child_types]
    slots = draw(st.lists(st.tuples(st.sampled_from(kinds), st.sampled_from(NAMES)),
                          unique=True, max_size=5))
    children = [draw(child_of(config, kind, name)) for kind, name in slots]
    # Children of a cluster-scoped parent may land on the same (kind, namespace, name): keep one.
    seen, unique = set(), []
    for child in children:
        key = (child["kind"], child["metadata"].get("namespace"), child["metadata"]["name"])
        if key not in seen:
            seen.add(key)
            unique.append(child)
    return unique


statuses = st.one_of(
    st.none(),
    st.fixed_dictionaries({"phase": st.sampled_from(("Ready", "Pending"))},
                          optional={"replicas": st.integers(0, 3)}),
)


@attrs.define
class Scenario:
    """A world before this pass, the handler's answer, and what the planner is told."""

    config: OperatorConfig
    world: World
    result: Any
    has_finalize: bool
    description: list[str]

    def plan(self, order: list[int] | None = None, now: datetime = NOW) -> Any:
        return plan(self.config, self.world.request(order), self.result, memo=self.world.memo,
                    now=now, has_finalize=self.has_finalize)


def _foreign(obj: dict[str, Any], owner_uid: str | None) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].pop("ownerReferences", None)
    if owner_uid:
        out["metadata"]["ownerReferences"] = [{
            "apiVersion": "example.com/v1", "kind": "Other", "name": "someone",
            "uid": owner_uid, "controller": True,
        }]
    return out


@st.composite
def scenarios(draw: st.DrawFn, *, normalise: bool | None = None) -> Scenario:
    config = draw(st.sampled_from((CONFIG, CLUSTER_CONFIG)))
    notes: list[str] = []
    has_finalize = draw(st.booleans())
    ours = [config.finalizer] if draw(st.booleans()) else []
    others = draw(st.sampled_from(([], ["example.com/other"])))
    deleting = bool(ours or others) and draw(st.booleans())
    kind = config.parent
    world = World(
        config,
        parent(kind=kind, namespace="default" if kind.namespaced else None,
               generation=draw(st.integers(1, 4))),
        normalise_values=draw(st.booleans()) if normalise is None else normalise,
    )
    # Earlier passes: the world holds what an earlier desired set made of it.
    earlier = draw(desired_children(config))
    if earlier:
        first = plan(config, world.request(), SyncResponse(earlier), memo=world.memo, now=NOW,
                     has_finalize=has_finalize)
        world.apply(first)
        notes.append(f"earlier: {[c['metadata']['name'] for c in earlier]}")
    assert world.parent is not None
    world.parent["metadata"]["finalizers"] = [*ours, *others]
    if deleting:
        world.parent["metadata"]["deletionTimestamp"] = "2024-05-01T09:55:00Z"
        notes.append("parent deleting")
    # Others' doings.
    for child in list(world.owned()):
        action = draw(st.sampled_from(("none", "none", "status", "edit", "hold", "terminate")))
        if action == "status":
            world.edit(child, lambda o: o.__setitem__("status", {"observed": 1}))
        elif action == "edit" and child["kind"] == "Deployment":
            world.edit(child, lambda o: o["spec"].__setitem__("replicas", 7))
        elif action == "edit" and child["kind"] == "ConfigMap":
            world.edit(child, lambda o: o.setdefault("data", {}).__setitem__("extra", "x"))
        elif action == "hold":
            world.edit(child, lambda o: o["metadata"].__setitem__("finalizers", ["x/hold"]))
        elif action == "terminate":
            world.edit(child, lambda o: o["metadata"].update(
                finalizers=["x/hold"], deletionTimestamp="2024-05-01T09:50:00Z"))
        notes.append(f"{action} {child['kind']} {child['metadata']['name']}")
    for obj in draw(st.lists(desired_children(config), max_size=2)):
        for child in obj[:2]:
            foreign = _foreign(child, draw(st.sampled_from((None, "uid-other-parent"))))
            if config.parent.namespaced:
                foreign["metadata"]["namespace"] = "default"
            key = world.key(world.type_of(foreign), foreign)
            if key not in world.objects:
                world.put(foreign)
                notes.append(f"foreign {foreign['kind']} {foreign['metadata']['name']}")
    if draw(st.booleans()):
        world.memo = ApplyMemo.empty()
        notes.append("memo lost")
    # This pass's answer.
    children = draw(desired_children(config))
    status = draw(statuses)
    if world.parent is not None and world.parent["metadata"].get("deletionTimestamp"):
        result: Any = FinalizeResponse(status=status, finalized=draw(st.booleans()),
                                       children=children)
    else:
        result = SyncResponse(children, status=status,
                              resync_after=draw(st.sampled_from((None, 30))))
    return Scenario(config, world, result, has_finalize, notes)


@st.composite
def broken_results(draw: st.DrawFn, config: OperatorConfig) -> tuple[str, Any]:
    """A response the planner must refuse (or an exception), and a word for what is wrong."""
    children = draw(desired_children(config))
    base = copy.deepcopy(children) or [draw(child_of(config, config.child_types[0].kind, "x"))]
    how = draw(st.sampled_from((
        "raise", "no-name", "no-kind", "undeclared", "status", "duplicate", "set", "nan",
        "status-list", "not-a-response", "bad-namespace", "uid", "resync",
    )))
    victim = base[0]
    if how == "raise":
        return how, draw(st.sampled_from((RuntimeError("boom"), KeyError("spec"),
                                          ValueError("bad"))))
    if how == "no-name":
        del victim["metadata"]["name"]
    elif how == "no-kind":
        del victim["kind"]
    elif how == "undeclared":
        victim["apiVersion"], victim["kind"] = apps_v1.StatefulSet.api_version, "StatefulSet"
    elif how == "status":
        victim["status"] = {"ready": True}
    elif how == "duplicate":
        base.append(copy.deepcopy(victim))
    elif how == "set":
        victim["metadata"]["labels"] = {"a": {"b", "c"}}
    elif how == "nan":
        victim["spec"] = {"ratio": float("nan")}
    elif how == "status-list":
        return how, SyncResponse(base, status=["not", "an", "object"])
    elif how == "not-a-response":
        return how, {"children": base}
    elif how == "bad-namespace":
        if victim["kind"] == "Namespace":
            victim["metadata"]["namespace"] = "team-a"
        elif config.parent.namespaced:
            victim["metadata"]["namespace"] = "elsewhere"
        else:
            victim["metadata"].pop("namespace", None)
    elif how == "uid":
        victim["metadata"]["uid"] = "copied-from-observed"
    elif how == "resync":
        return how, SyncResponse(base, resync_after=-1)
    return how, SyncResponse(base)

