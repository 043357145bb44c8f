"""Tables (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``), what kubectl get
prints: the column definitions per kind, the cells, and the row objects."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import TABLE, AnyStep, Step, body_is
from diff_kinds import KINDS, LABEL, Kind, kind_id
from diff_projections import table

AREA = "tables"
def table_steps(kind: Kind) -> list[AnyStep]:
    name = kind.name("table")
    steps: list[AnyStep] = [Step("POST", kind.collection(), kind.obj(name), compare=False)]
    if kind.settled is not None:
        steps.append(Step("GET", kind.item(name), until=body_is(kind.settled), only="real"))
    selector = {"labelSelector": f"{LABEL}={{ns}}"}
    steps += [
        Step("GET", kind.collection(), query=selector, accept=TABLE, project=table,
             title="list as a Table"),
        Step("GET", kind.item(name), accept=TABLE, project=table, title="get as a Table"),
    ]
    return steps


@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
def test_table_columns(differ: Differ, kind: Kind) -> None:
    if kind.plural == "pods":
        differ.wait_for_service_account()
    differ.check(table_steps(kind))


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {LABEL: "{ns}"}}, "data": {"a": "1"}}


def test_table_options(differ: Differ) -> None:
    cms = "/api/v1/namespaces/{ns}/configmaps"
    selector = f"{LABEL}={{ns}}"
    differ.check([
        Step("POST", cms, _cm("one"), compare=False),
        Step("POST", cms, _cm("two"), compare=False),
        Step("GET", cms, query={"labelSelector": selector, "includeObject": "None"},
             accept=TABLE, project=table, title="includeObject=None"),
        Step("GET", cms, query={"labelSelector": selector, "includeObject": "Object"},
             accept=TABLE, project=table, title="includeObject=Object"),
        Step("GET", cms, query={"labelSelector": selector, "limit": "1"}, accept=TABLE,
             project=table, title="a page of a Table"),
        Step("GET", cms, query={"labelSelector": selector},
             accept="application/json;as=Table;v=v1beta1;g=meta.k8s.io", project=table,
             title="the v1beta1 Table"),
        Step("GET", cms, query={"labelSelector": selector},
             accept=f"{TABLE}, application/json", project=table,
             title="Table first, JSON second"),
        Step("GET", cms, query={"labelSelector": selector},
             accept="application/json;as=Nothing;v=v1;g=meta.k8s.io",
             title="an unknown as= only"),
        Step("GET", cms, query={"labelSelector": selector, "resourceVersion": "0"},
             watch=True, accept=TABLE, title="a watch as Tables",
             project=lambda a: {**a, "body": [
                 {"type": e.get("type"), **table({"body": e.get("object")})}
                 for e in a.get("body") or () if isinstance(e, dict)]}),
    ])
