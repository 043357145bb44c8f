"""Garbage collection through ownerReferences (background, foreground, orphan) and
namespace deletion. The real server's are done by kube-controller-manager, seconds
later: every wait polls (up to 60 s)."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import (
    MERGE_PATCH,
    Answer,
    AnyStep,
    Predicate,
    Ref,
    Step,
    gone,
    keyed,
    project_body,
)

AREA = "garbage-collection"
NS = "/api/v1/namespaces/{ns}"
CMS = f"{NS}/configmaps"
HOLD = "diff.kubeplan.dev/hold"


def owner_ref(step: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name,
            "uid": Ref(step, "metadata.uid"), **extra}


def cm(name: str, *owners: dict[str, Any], finalizers: list[str] | None = None
       ) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def delete(path: str, policy: str | None = None, title: str = "") -> Step:
    body = None
    if policy:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}
    return Step("DELETE", path, body, title=title or f"DELETE {path} ({policy or 'default'})")


def until_gone(path: str, title: str) -> Step:
    return Step("GET", path, until=gone(), timeout=60, title=title)


def no_owners() -> Predicate:
    def check(answer: Answer) -> bool:
        meta = (answer.get("body") or {}).get("metadata") or {}
        return answer["code"] == 200 and not meta.get("ownerReferences")
    return check


def has_condition(type_: str) -> Predicate:
    def check(answer: Answer) -> bool:
        status = (answer.get("body") or {}).get("status") or {}
        return any(c.get("type") == type_ for c in status.get("conditions") or ())
    return check


def _deleting(answer: Answer) -> Answer:
    meta = (answer.get("body") or {}).get("metadata") or {}
    return {"code": answer["code"], "body": {
        "deletionTimestamp": meta.get("deletionTimestamp"),
        "held": HOLD in (meta.get("finalizers") or ())}}


def _family(prefix: str) -> list[AnyStep]:
    return [
        Step("POST", CMS, cm(f"{prefix}-owner"), label=f"{prefix}-owner"),
        Step("POST", CMS, cm(f"{prefix}-child", owner_ref(f"{prefix}-owner",
                                                          f"{prefix}-owner")),
             label=f"{prefix}-child"),
        Step("POST", CMS, cm(f"{prefix}-grandchild", {
            "apiVersion": "v1", "kind": "ConfigMap", "name": f"{prefix}-child",
            "uid": Ref(f"{prefix}-child", "metadata.uid"), "blockOwnerDeletion": True}),
             compare=False),
    ]


SEQUENCES: dict[str, list[AnyStep]] = {
    "background": [
        *_family("bg"),
        delete(f"{CMS}/bg-owner"),
        until_gone(f"{CMS}/bg-child", "the child is collected"),
        until_gone(f"{CMS}/bg-grandchild", "the grandchild is collected"),
    ],
    "foreground": [
        *_family("fg"),
        # a finalizer of ours holds the child, so the owner waits in foreground deletion
        Step("PATCH", f"{CMS}/fg-child", {"metadata": {"finalizers": [HOLD]}},
             content_type=MERGE_PATCH, compare=False),
        delete(f"{CMS}/fg-owner", "Foreground"),
        # whether the real collector deletes the child in the foreground too (it has a
        # blocking dependent) depends on how far its graph got: only the deletion and
        # our hold are compared, not the finalizers it may add
        Step("GET", f"{CMS}/fg-child", until=lambda a: bool(
            ((a.get("body") or {}).get("metadata") or {}).get("deletionTimestamp")),
             title="the child is being deleted", project=_deleting),
        until_gone(f"{CMS}/fg-grandchild", "the grandchild is collected first"),
        Step("GET", f"{CMS}/fg-owner", title="the owner waits for its children"),
        Step("PATCH", f"{CMS}/fg-child", {"metadata": {"finalizers": None}},
             content_type=MERGE_PATCH, title="the hold is released",
             project=lambda a: {"code": a["code"]}),
        until_gone(f"{CMS}/fg-child", "the child is gone"),
        until_gone(f"{CMS}/fg-owner", "the owner is gone"),
    ],
    "orphan": [
        *_family("or"),
        delete(f"{CMS}/or-owner", "Orphan"),
        until_gone(f"{CMS}/or-owner", "the owner is gone"),
        Step("GET", f"{CMS}/or-child", until=no_owners(), title="the child is orphaned"),
        Step("GET", f"{CMS}/or-grandchild", title="the grandchild keeps its owner"),
    ],
    "missing-owner": [
        Step("POST", CMS, cm("lost", {"apiVersion": "v1", "kind": "ConfigMap",
                                      "name": "never", "uid":
                                      "00000000-0000-0000-0000-000000000001"})),
        until_gone(f"{CMS}/lost", "a child of an owner that never was is collected"),
        Step("POST", CMS, cm("live-owner"), label="live-owner"),
        Step("POST", CMS, cm("two-owners", owner_ref("live-owner", "live-owner"),
                             {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone",
                              "uid": "00000000-0000-0000-0000-000000000002"}),
             title="a child with a live and a missing owner"),
        Step("GET", f"{CMS}/two-owners", until=lambda a: len(
            ((a.get("body") or {}).get("metadata") or {}).get("ownerReferences") or ()) < 2,
             timeout=15, title="the missing owner's reference is dropped"),
    ],
    "namespace": [
        Step("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "{ns}-doomed"}}),
        Step("POST", "/api/v1/namespaces/{ns}-doomed/configmaps",
             cm("held", finalizers=[HOLD]), compare=False),
        Step("POST", "/api/v1/namespaces/{ns}-doomed/secrets",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
             compare=False),
        delete("/api/v1/namespaces/{ns}-doomed", title="delete the namespace"),
        Step("GET", "/api/v1/namespaces/{ns}-doomed/secrets/s", until=gone(),
             title="its content is removed"),
        Step("GET", "/api/v1/namespaces/{ns}-doomed", until=has_condition(
            "NamespaceFinalizersRemaining"), only="real"),
        Step("GET", "/api/v1/namespaces/{ns}-doomed",
             title="Terminating while a finalizer holds an object",
             project=project_body(lambda b: keyed(b, {"status.conditions": "type"}))),
        Step("POST", "/api/v1/namespaces/{ns}-doomed/configmaps", cm("late"),
             title="create in a terminating namespace"),
        Step("GET", "/api/v1/namespaces/{ns}-doomed/configmaps/held",
             title="the held object"),
        Step("PATCH", "/api/v1/namespaces/{ns}-doomed/configmaps/held",
             {"metadata": {"finalizers": None}}, content_type=MERGE_PATCH,
             title="release the hold"),
        until_gone("/api/v1/namespaces/{ns}-doomed", "the namespace is gone"),
        Step("POST", "/api/v1/namespaces/{ns}-doomed/configmaps", cm("after"),
             title="create in a namespace that is gone"),
    ],
    "protected-namespaces": [
        delete("/api/v1/namespaces/default", title="delete default"),
        delete("/api/v1/namespaces/kube-system", title="delete kube-system"),
        Step("GET", "/api/v1/namespaces/kube-public", project=lambda a: {
            "code": a["code"], "status": (a.get("body") or {}).get("status")}),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_garbage_collection(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])

