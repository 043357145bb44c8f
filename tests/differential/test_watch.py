"""Watch event sequences: types and objects, replayed from a resourceVersion or read
live, with a label selector whose transitions give ADDED and DELETED."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import MERGE_PATCH, Answer, AnyStep, Join, Ref, Step, status_is

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


def watch(title: str, path: str = CMS, **query: Any) -> Step:
    return Step("GET", path, query=query, watch=True, title=title)


#: the real server's root-CA publisher adds kube-root-ca.crt to a new namespace at a
#: moment of its own (the fake has none): waited for, then left out of every watch
ROOT_CA = Step("GET", f"{CMS}/kube-root-ca.crt", until=status_is(200), only="real")
NOT_ROOT_CA = "metadata.name!=kube-root-ca.crt"

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
        watch("a resourceVersion long gone", resourceVersion="1", fieldSelector=NOT_ROOT_CA),
        watch("a resourceVersion that is not a number", resourceVersion="abc"),
        watch("an invalid label selector", labelSelector="a in (b"),
        watch("a field selector on an unsupported field", fieldSelector="data.v=1"),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_watch(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])
