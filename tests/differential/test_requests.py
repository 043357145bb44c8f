"""Requests a client should not send: names from the path no object can have, bodies
nested deeper than a decoder reads, query pairs Go cannot parse. Compared like the
validation area: status code, reason and the causes' fields."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import APPLY_PATCH, MERGE_PATCH, Step
from diff_projections import refusal

AREA = "requests"
NS = "/api/v1/namespaces"
CMS = f"{NS}/{{ns}}/configmaps"


def bad(method: str, path: str, body: Any, title: str,
        content_type: str = "application/json", **query: str) -> Step:
    return Step(method, path, body, content_type=content_type, query=query, project=refusal,
                title=title)


def configmap(name: str, depth: int) -> bytes:
    """A ConfigMap nesting ``depth`` levels of arrays in all (the body is the first)."""
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)
    return b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"x":%s}' % (
        name.encode(), inner)


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}

def laughs(name: str, levels: int) -> bytes:
    """A ConfigMap whose aliases expand to 9**levels strings ("billion laughs")."""
    lines = [b"apiVersion: v1", b"kind: ConfigMap", b"metadata: {name: %s}" % name.encode(),
             b"x:", b'  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [b"  a%d: &a%d [%s]" % (i, i, b",".join([b"*a%d" % (i - 1)] * 9))
              for i in range(1, levels)]
    return b"\n".join(lines) + b"\n"


def data_only(answer: Any) -> Any:
    body = answer.get("body")
    return {"code": answer["code"],
            "data": body.get("data") if isinstance(body, dict) else "<no body>"}


SEQUENCES: dict[str, list[Step]] = {
    "path-names": [
        bad("GET", f"{CMS}/..", None, "an object named '..'"),
        bad("DELETE", f"{CMS}/.", None, "deleting an object named '.'"),
        bad("GET", f"{NS}/..", None, "a namespace named '..'"),
        bad("GET", f"{CMS}/a%25b", None, "an object name with '%'"),
        bad("GET", f"{NS}/../configmaps", None, "a list in the namespace '..'"),
        bad("GET", f"{NS}/./configmaps/x", None, "a get in the namespace '.'"),
        bad("POST", f"{NS}/../configmaps", CM, "a create in the namespace '..'"),
        bad("GET", f"{NS}/{{ns}}%2Fconfigmaps", None, "an escaped slash in a segment"),
        bad("GET", f"{CMS}?limit=%zz", None, "a query pair with a malformed escape"),
    ],
    "depth": [
        Step("POST", CMS, CM, compare=False),
        bad("POST", CMS, configmap("deep", 10_001), "a body nested 10,001 deep"),
        bad("POST", CMS, configmap("deep", 300), "a body nested 300 deep"),
        bad("POST", CMS, b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\nx: "
            + b"[" * 10_000 + b"]" * 10_000, "a YAML body nested 10,001 deep",
            content_type="application/yaml"),
        bad("PATCH", f"{CMS}/x", b'{"x":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
            "a merge patch nested 10,001 deep", content_type=MERGE_PATCH),
        bad("PATCH", f"{CMS}/x", configmap("x", 10_001), "an apply nested 10,001 deep",
            content_type=APPLY_PATCH, fieldManager="tests"),
    ],
    "apply-preconditions": [
        bad("PATCH", f"{CMS}/gone", {**CM, "metadata": {
            "name": "gone", "uid": "2b8e1c1e-0000-4000-8000-000000000000"}},
            "an apply naming the uid of an object that does not exist",
            content_type=APPLY_PATCH, fieldManager="tests", force="true"),
        bad("PATCH", f"{CMS}/gone", {**CM, "metadata": {"name": "gone", "resourceVersion": "1"}},
            "an apply with a resourceVersion creates the missing object",
            content_type=APPLY_PATCH, fieldManager="tests", force="true"),
    ],
    "yaml": [
        bad("POST", CMS, laughs("laughs", 10), "aliases expanding to 9**10 strings",
            content_type="application/yaml"),
        Step("POST", CMS, b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: few\n"
             b"  labels: &l {a: b}\n  annotations: *l\ndata: {k: v}\n",
             content_type="application/yaml", title="a few aliases",
             project=lambda answer: {"code": answer["code"]}),
        Step("POST", CMS, b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: yn}\n"
             b"data: {y: a, N: b, plain: 'n', quoted: 'y'}\n",
             content_type="application/yaml", title="y and N as keys are booleans",
             project=data_only),
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_odd_requests(differ: Differ, name: str) -> None:
    differ.check(SEQUENCES[name])
