"""Hypothesis-generated sequences: ConfigMaps created, read, patched (all four types),
listed by label and deleted, over a few names so that the sequences run into
AlreadyExists, NotFound and apply conflicts. Compared step by step.

Derandomised: the same examples every run, so a failure replays as it is. More
examples: ``KUBEPLAN_DIFF_EXAMPLES=200``; shrink a failure to its smallest sequence:
``KUBEPLAN_DIFF_SHRINK=1`` (slow: every shrink step runs on both servers).
"""

from __future__ import annotations

import os
from typing import Any

from diff_differ import Differ
from diff_engine import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Step
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

AREA = "generated"
CMS = "/api/v1/namespaces/{ns}/configmaps"
NAMES = st.sampled_from(["a", "b", "c"])
KEYS = st.sampled_from(["k1", "k2", "k3"])
VALUES = st.sampled_from(["1", "2", "x"])
LABEL_KEYS = st.sampled_from(["l1", "l2"])
LABEL_VALUES = st.sampled_from(["v1", "v2"])
MANAGERS = st.sampled_from(["alpha", "beta"])

DATA = st.dictionaries(KEYS, VALUES, max_size=3)
LABELS = st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=2)
NULLABLE_DATA = st.dictionaries(KEYS, st.none() | VALUES, min_size=1, max_size=3)


def _cm(name: str, data: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data:
        body["data"] = data
    return body


@st.composite
def _create(draw: st.DrawFn) -> Step:
    name = draw(NAMES)
    return Step("POST", CMS, _cm(name, draw(DATA), draw(LABELS)), title=f"create {name}")


@st.composite
def _merge(draw: st.DrawFn) -> Step:
    name = draw(NAMES)
    body: dict[str, Any] = {"data": draw(NULLABLE_DATA)}
    labels = draw(st.dictionaries(LABEL_KEYS, st.none() | LABEL_VALUES, max_size=2))
    if labels:
        body["metadata"] = {"labels": labels}
    return Step("PATCH", f"{CMS}/{name}", body, content_type=MERGE_PATCH,
                title=f"merge patch {name}")


@st.composite
def _strategic(draw: st.DrawFn) -> Step:
    name = draw(NAMES)
    return Step("PATCH", f"{CMS}/{name}", {"data": draw(NULLABLE_DATA)},
                content_type=STRATEGIC_PATCH, title=f"strategic merge patch {name}")


@st.composite
def _json(draw: st.DrawFn) -> Step:
    name = draw(NAMES)
    ops = draw(st.lists(st.one_of(
        st.builds(lambda k, v: {"op": "add", "path": f"/data/{k}", "value": v}, KEYS, VALUES),
        st.builds(lambda k, v: {"op": "replace", "path": f"/data/{k}", "value": v},
                  KEYS, VALUES),
        st.builds(lambda k: {"op": "remove", "path": f"/data/{k}"}, KEYS),
        st.builds(lambda k, v: {"op": "test", "path": f"/data/{k}", "value": v}, KEYS, VALUES),
        st.builds(lambda k, v: {"op": "add", "path": f"/metadata/labels/{k}", "value": v},
                  LABEL_KEYS, LABEL_VALUES),
    ), min_size=1, max_size=3))
    return Step("PATCH", f"{CMS}/{name}", ops, content_type=JSON_PATCH,
                title=f"json patch {name}")


@st.composite
def _apply(draw: st.DrawFn) -> Step:
    name, manager, force = draw(NAMES), draw(MANAGERS), draw(st.booleans())
    query = {"fieldManager": manager, **({"force": "true"} if force else {})}
    return Step("PATCH", f"{CMS}/{name}", _cm(name, draw(DATA), draw(LABELS)),
                content_type=APPLY_PATCH, query=query,
                title=f"apply {name} as {manager}" + (" (force)" if force else ""))


@st.composite
def _read(draw: st.DrawFn) -> Step:
    name = draw(NAMES)
    return Step("GET", f"{CMS}/{name}", title=f"get {name}")


@st.composite
def _delete(draw: st.DrawFn) -> Step:
    name = draw(NAMES)
    return Step("DELETE", f"{CMS}/{name}", title=f"delete {name}")


@st.composite
def _list(draw: st.DrawFn) -> Step:
    selector = draw(st.sampled_from(["l1=v1", "l1!=v1", "l2", "!l2", "l1 in (v1,v2)", ""]))
    # the real server's kube-root-ca.crt appears in the namespace at a moment of its own
    query = {"fieldSelector": "metadata.name!=kube-root-ca.crt"}
    if selector:
        query["labelSelector"] = selector
    return Step("GET", CMS, query=query, title=f"list {selector or 'all'}")


STEP = st.one_of(_create(), _merge(), _strategic(), _json(), _apply(), _read(), _delete(),
                 _list())
EXAMPLES = int(os.environ.get("KUBEPLAN_DIFF_EXAMPLES", "25"))
PHASES = tuple(Phase) if os.environ.get("KUBEPLAN_DIFF_SHRINK") else (
    Phase.explicit, Phase.reuse, Phase.generate)


def test_generated_configmap_sequences(differ: Differ) -> None:
    count = iter(range(1, 1_000_000))

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=PHASES, print_blob=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(steps=st.lists(STEP, min_size=1, max_size=10))
    def check(steps: list[Step]) -> None:
        namespace = differ.fresh_namespace()
        differ.check(steps, sequence=f"example {next(count)}", namespace=namespace)

    check()
