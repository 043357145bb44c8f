"""Lists: label and field selectors, pagination (limit and continue), resourceVersion
semantics, and lists across namespaces."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import AnyStep, Ref, Step, status_is

AREA = "lists"
NS = "/api/v1/namespaces/{ns}"
CMS = f"{NS}/configmaps"
SEQ = "diff.kubeplan.dev/seq={ns}"
IMAGE = "registry.k8s.io/pause:3.10"

# five ConfigMaps: name -> labels
OBJECTS: dict[str, dict[str, str]] = {
    "a": {"tier": "web", "env": "prod"},
    "b": {"tier": "web", "env": "dev"},
    "c": {"tier": "db", "env": "prod"},
    "d": {"tier": "db"},
    "e": {},
}


def _cm(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"diff.kubeplan.dev/seq": "{ns}", **labels}},
            "data": {"name": name}}


def make_objects() -> list[AnyStep]:
    # the real server's root-CA publisher puts kube-root-ca.crt in every namespace
    # (the fake has none): waited for, so that lists which select it are not racy
    return [Step("GET", f"{CMS}/kube-root-ca.crt", until=status_is(200), only="real"),
            *(Step("POST", CMS, _cm(name, labels), compare=False)
              for name, labels in OBJECTS.items())]


def lst(title: str, path: str = CMS, label: str = "", continue_: Ref | None = None,
        **query: str | Ref) -> Step:
    params: dict[str, Any] = dict(query)
    if continue_ is not None:
        params["continue"] = continue_
    return Step("GET", path, query=params, title=title, label=label)


SELECTORS = [
    "tier=web", "tier==web", "tier!=web", "tier in (web,db)", "tier notin (web)", "env",
    "!env", "tier=db,env=prod", "tier=db,!env", "env in (prod),tier!=db", "tier=nothing",
]

SEQUENCES: dict[str, list[AnyStep]] = {
    "label-selectors": [
        *make_objects(),
        *(lst(f"labelSelector={s}", labelSelector=s) for s in SELECTORS),
    ],
    "field-selectors": [
        *make_objects(),
        lst("metadata.name=c", fieldSelector="metadata.name=c"),
        lst("metadata.name!=c", fieldSelector="metadata.name!=c"),
        lst("metadata.name==a,metadata.name!=b", fieldSelector="metadata.name==a,metadata.name!=b"),
        lst("metadata.namespace={ns}", fieldSelector="metadata.namespace={ns}"),
        lst("label and field selector", labelSelector="tier=db",
            fieldSelector="metadata.name!=c"),
        Step("POST", f"{NS}/secrets", {"apiVersion": "v1", "kind": "Secret",
                                       "metadata": {"name": "s"}, "type": "example.com/x"},
             compare=False),
        lst("secrets by type", path=f"{NS}/secrets", fieldSelector="type=example.com/x"),
        Step("POST", f"{NS}/pods", {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": "p"},
                                    "spec": {"containers": [{"name": "c", "image": IMAGE}]}},
             compare=False),
        lst("pods by phase", path=f"{NS}/pods", fieldSelector="status.phase=Pending"),
        lst("pods by node", path=f"{NS}/pods", fieldSelector="spec.nodeName="),
        lst("pods by restartPolicy", path=f"{NS}/pods",
            fieldSelector="spec.restartPolicy=Never"),
    ],
    "pagination": [
        *make_objects(),
        lst("limit=2", label="page1", limit="2", labelSelector=SEQ),
        lst("continue (page 2)", label="page2", limit="2", labelSelector=SEQ,
            continue_=Ref("page1", "metadata.continue")),
        lst("continue (page 3)", limit="2", labelSelector=SEQ,
            continue_=Ref("page2", "metadata.continue")),
        lst("limit=10 (all in one)", limit="10", labelSelector=SEQ),
        lst("limit with a selector", limit="1", labelSelector="tier=db"),
        lst("limit=0 means none", limit="0", labelSelector=SEQ),
        Step("DELETE", f"{CMS}/c", compare=False),
        lst("continue after a delete (page 2 again)", limit="2", labelSelector=SEQ,
            continue_=Ref("page1", "metadata.continue")),
    ],
    "resource-versions": [
        *make_objects(),
        lst("resourceVersion=0", label="zero", resourceVersion="0", labelSelector=SEQ),
        lst("resourceVersion of an earlier list, NotOlderThan", labelSelector=SEQ,
            resourceVersion=Ref("zero", "metadata.resourceVersion"),
            resourceVersionMatch="NotOlderThan"),
        lst("resourceVersion of an earlier list, Exact", labelSelector=SEQ,
            resourceVersion=Ref("zero", "metadata.resourceVersion"),
            resourceVersionMatch="Exact"),
        lst("resourceVersionMatch without resourceVersion", labelSelector=SEQ,
            resourceVersionMatch="NotOlderThan"),
        lst("limit with resourceVersion=0", labelSelector=SEQ, limit="2",
            resourceVersion="0"),
    ],
    "across-namespaces": [
        *make_objects(),
        lst("all namespaces, by label", path="/api/v1/configmaps", labelSelector=SEQ),
        lst("all namespaces, by label and namespace field", path="/api/v1/configmaps",
            labelSelector="tier=web", fieldSelector="metadata.namespace={ns}"),
        Step("GET", f"{NS}/serviceaccounts/default", until=status_is(200), only="real"),
        lst("every ConfigMap of the namespace (no selector)"),
        lst("every ServiceAccount of the namespace", path=f"{NS}/serviceaccounts"),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_lists(differ: Differ, name: str) -> None:
    if name == "field-selectors":
        differ.wait_for_service_account()
    differ.check(SEQUENCES[name])
