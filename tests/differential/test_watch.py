"""Watch event sequences: types and objects, replayed from a resourceVersion or read
live, with a label selector whose transitions give ADDED and DELETED; the errors, and
the watch cache's window (410 Expired before it) of a custom resource made here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import (
    MERGE_PATCH,
    Answer,
    AnyStep,
    Join,
    Project,
    Ref,
    Step,
    condition_true,
    status_is,
)

AREA = "watch"
NS = "/api/v1/namespaces/{ns}"
CMS = f"{NS}/configmaps"


def _cm(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels}, "data": {"v": "0"}}


def _label(name: str, value: str, title: str) -> Step:
    return Step("PATCH", f"{CMS}/{name}", {"metadata": {"labels": {"watched": value}}},
                content_type=MERGE_PATCH, title=title, compare=False)


def changes(name: str) -> list[AnyStep]:
    """A ConfigMap's life: changed, out of the selector, back in, deleted."""
    return [
        Step("PATCH", f"{CMS}/{name}", {"data": {"v": "1"}}, content_type=MERGE_PATCH,
             compare=False),
        _label(name, "no", "leaves the selector"),
        _label(name, "no", "changes nothing (no event)"),
        _label(name, "yes", "enters the selector again"),
        Step("DELETE", f"{CMS}/{name}", compare=False),
    ]


def without_periodic_bookmarks(answer: Answer) -> Answer:
    """The events less the BOOKMARKs a server sends when its timer says (their number
    depends on time); the one that ends the initial events stays."""
    events = answer.get("body")
    if not isinstance(events, list):
        return answer
    kept = [e for e in events if not (
        isinstance(e, dict) and e.get("type") == "BOOKMARK"
        and "k8s.io/initial-events-end" not in (
            ((e.get("object") or {}).get("metadata") or {}).get("annotations") or {}))]
    return {**answer, "body": kept}


def _messages_masked(answer: Answer, *patterns: tuple[str, str]) -> Answer:
    events = answer.get("body")
    if not isinstance(events, list):
        return answer
    masked = []
    for event in events:
        obj = event.get("object") if isinstance(event, dict) else None
        if isinstance(obj, dict) and isinstance(obj.get("message"), str):
            message = obj["message"]
            for pattern, replacement in patterns:
                message = re.sub(pattern, replacement, message)
            event = {**event, "object": {**obj, "message": message}}
        masked.append(event)
    return {**answer, "body": masked}


def server_rvs_masked(answer: Answer) -> Answer:
    """The events with the server's own resourceVersions masked in ERROR messages: its
    current one, and where its watch cache's window starts ("too old resource version:
    <asked> (<oldest>)"); the two servers' counters differ."""
    return _messages_masked(answer, (r"current: \d+", "current: <rv>"),
                            (r"(too old resource version: \d+) \(\d+\)", r"\1 (<rv>)"))


def all_rvs_masked(answer: Answer) -> Answer:
    """``server_rvs_masked``, and the asked resourceVersion too (one the server gave)."""
    return _messages_masked(answer, (r"too old resource version: \d+ \(\d+\)",
                                     "too old resource version: <rv> (<rv>)"))


def watch(title: str, path: str = CMS, project: Project | None = None, **query: Any) -> Step:
    return Step("GET", path, query=query, watch=True, title=title, project=project)


#: the real server's root-CA publisher adds kube-root-ca.crt to a new namespace at a
#: moment of its own (the fake has none): waited for, then left out of every watch
ROOT_CA = Step("GET", f"{CMS}/kube-root-ca.crt", until=status_is(200), only="real")
NOT_ROOT_CA = "metadata.name!=kube-root-ca.crt"

#: a CRD of the sequence's own (CRDs are cluster-wide): its objects' watch cache is made
#: by the first request that reaches them, after the CRD is Established
GROUP = "{ns}.watch.kubeplan.dev"
CRD_PATH = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{GROUP}"
GADGETS = f"/apis/{GROUP}/v1/namespaces/{{ns}}/gadgets"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gadgets.{GROUP}"},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
            "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                "type": "object", "properties": {"size": {"type": "integer"}}}}},
        }}],
    },
}
GADGET = {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g"},
          "spec": {"size": 1}}

SEQUENCES: dict[str, list[AnyStep]] = {
    "replayed": [
        ROOT_CA,
        Step("POST", CMS, _cm("w", watched="yes"), label="created", compare=False),
        *changes("w"),
        watch("from the creation, with the selector", labelSelector="watched=yes",
              resourceVersion=Ref("created", "metadata.resourceVersion")),
        watch("from the creation, no selector",
              resourceVersion=Ref("created", "metadata.resourceVersion")),
        watch("from the creation, by name", fieldSelector="metadata.name=w",
              resourceVersion=Ref("created", "metadata.resourceVersion")),
        watch("the legacy /watch/ path of the object, from the creation",
              path="/api/v1/watch/namespaces/{ns}/configmaps/w",
              resourceVersion=Ref("created", "metadata.resourceVersion")),
    ],
    "live": [
        ROOT_CA,
        Step("GET", CMS, query={"labelSelector": "watched=yes"}, watch=True,
             background=True, label="selected", watch_seconds=3, compare=False),
        Step("GET", CMS, query={"fieldSelector": NOT_ROOT_CA}, watch=True, background=True,
             label="all", watch_seconds=3, compare=False),
        Step("POST", CMS, _cm("live", watched="yes"), compare=False),
        Step("POST", CMS, _cm("other", watched="no"), compare=False),
        *changes("live"),
        Join("selected", title="events with the selector"),
        Join("all", title="events without a selector"),
    ],
    "initial-events": [
        ROOT_CA,
        Step("POST", CMS, _cm("b", kind="letter"), compare=False),
        Step("POST", CMS, _cm("a", kind="letter"), compare=False),
        Step("POST", CMS, _cm("c", kind="letter"), compare=False),
        Step("POST", CMS, _cm("no-labels"), compare=False),
        watch("resourceVersion=0", resourceVersion="0",
              fieldSelector=NOT_ROOT_CA),
        watch("no resourceVersion", fieldSelector=NOT_ROOT_CA),
        Step("GET", CMS, query={"sendInitialEvents": "true", "allowWatchBookmarks": "true",
                                "resourceVersionMatch": "NotOlderThan",
                                "fieldSelector": NOT_ROOT_CA},
             watch=True, watch_seconds=5, title="sendInitialEvents with bookmarks",
             project=without_periodic_bookmarks),
        watch("sendInitialEvents without bookmarks", sendInitialEvents="true",
              resourceVersionMatch="NotOlderThan",
              fieldSelector=NOT_ROOT_CA),
    ],
    "errors": [
        ROOT_CA,
        # whether resourceVersion 1 is still in the ConfigMaps' watch cache depends on the
        # server's history (its window starts before the first write and moves once it
        # pushes changes out): the sequence "custom-resources" asks a cache it made
        watch("an old resourceVersion, with the initial events", resourceVersion="1",
              sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
              fieldSelector=NOT_ROOT_CA),
        watch("a resourceVersion that is not a number", resourceVersion="abc"),
        Step("GET", CMS, query={"sendInitialEvents": "true", "allowWatchBookmarks": "true",
                                "resourceVersionMatch": "NotOlderThan",
                                "resourceVersion": "999999999"},
             watch=True, watch_seconds=6, project=server_rvs_masked,
             title="initial events from a resourceVersion not reached"),
        watch("an invalid label selector", labelSelector="a in (b"),
        watch("a field selector on an unsupported field", fieldSelector="data.v=1"),
    ],
    "custom-resources": [
        Step("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD,
             label="crd", compare=False),
        Step("GET", CRD_PATH, until=condition_true("Established"), compare=False),
        Step("GET", GADGETS, until=status_is(200), compare=False),
        Step("POST", GADGETS, GADGET, label="created", compare=False),
        Step("PATCH", f"{GADGETS}/g", {"spec": {"size": 2}}, content_type=MERGE_PATCH,
             compare=False),
        watch("a resourceVersion long gone", path=GADGETS, resourceVersion="1",
              project=server_rvs_masked),
        watch("a resourceVersion long gone, sendInitialEvents=false", path=GADGETS,
              resourceVersion="1", sendInitialEvents="false",
              resourceVersionMatch="NotOlderThan", project=server_rvs_masked),
        watch("from before their cache was made (the CRD's creation)", path=GADGETS,
              resourceVersion=Ref("crd", "metadata.resourceVersion"),
              project=all_rvs_masked),
        watch("objects from their creation", path=GADGETS,
              resourceVersion=Ref("created", "metadata.resourceVersion")),
        Step("DELETE", CRD_PATH, compare=False),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_watch(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])
