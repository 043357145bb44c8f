"""Create, read, update, list and delete one object of every built-in kind the fake
serves, on both servers."""

from __future__ import annotations

from typing import Any

import pytest
from diff_differ import Differ
from diff_engine import Answer, AnyStep, Derived, Ref, Step, body_is, gone
from diff_kinds import KINDS, LABEL, Kind, kind_id

AREA = "crud"


def _relabel(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"].setdefault("labels", {})["changed"] = "yes"
    return body


def crud_steps(kind: Kind) -> list[AnyStep]:
    name = kind.name("crud")
    steps: list[AnyStep] = [
        Step("POST", kind.collection(), kind.obj(name), label="created"),
        Step("POST", kind.collection(), kind.obj(name), title="create again"),
    ]
    if kind.settled is not None:
        steps.append(Step("GET", kind.item(name), until=body_is(kind.settled), only="real"))
    steps += [
        Step("GET", kind.item(name), label="got"),
        Step("PUT", kind.item(name), Derived("got", _relabel), label="updated"),
        Step("PUT", kind.item(name), Derived("got", _relabel), title="update from a stale read"),
    ]
    if kind.settled is not None:
        steps.append(Step("GET", kind.item(name), until=body_is(kind.settled), only="real"))
    steps += [
        Step("GET", kind.collection(), query={"labelSelector": f"{LABEL}={{ns}},changed=yes"}),
        Step("DELETE", kind.item(name), label="deleted"),
    ]
    if kind.finalizer_stays:
        steps += [
            Step("GET", kind.item(name), title="GET after the DELETE"),
            Step("PATCH", kind.item(name), {"metadata": {"finalizers": None}},
                 content_type="application/merge-patch+json", title="remove the finalizers"),
            Step("GET", kind.item(name), until=gone(), timeout=30, title="GET until gone"),
        ]
    else:  # the real server's garbage collector or namespace controller may finish it
        steps.append(Step("GET", kind.item(name), until=gone(), title="GET until gone"))
    steps.append(Step("DELETE", kind.item(name), title="delete again"))
    return steps


@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
def test_crud(differ: Differ, kind: Kind) -> None:
    if kind.plural == "pods":
        differ.wait_for_service_account()
    differ.check(crud_steps(kind))


def test_get_and_delete_of_what_is_not_there(differ: Differ) -> None:
    ns = "{ns}"
    differ.check([
        Step("GET", f"/api/v1/namespaces/{ns}/configmaps/nothing"),
        Step("DELETE", f"/apis/apps/v1/namespaces/{ns}/deployments/nothing"),
        Step("PUT", f"/api/v1/namespaces/{ns}/configmaps/nothing",
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nothing"}},
             title="PUT creates"),
        Step("GET", f"/api/v1/namespaces/{ns}/nothings"),
        Step("GET", "/apis/nothing.example.com/v1/things"),
        Step("GET", "/api/v1/namespaces/no-such-namespace/configmaps/x"),
        Step("POST", "/api/v1/namespaces/no-such-namespace/configmaps",
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        Step("PUT", f"/api/v1/namespaces/{ns}/configmaps/nothing",
             {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "nothing", "resourceVersion": "1"}},
             title="PUT with a resourceVersion of an object that is not there"),
        Step("DELETE", f"/api/v1/namespaces/{ns}/configmaps/nothing",
             {"kind": "DeleteOptions", "apiVersion": "v1",
              "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}},
             title="DELETE with a uid precondition that fails"),
        Step("GET", f"/api/v1/namespaces/{ns}/configmaps/nothing", label="nothing"),
        Step("DELETE", f"/api/v1/namespaces/{ns}/configmaps/nothing",
             {"kind": "DeleteOptions", "apiVersion": "v1",
              "preconditions": {"resourceVersion": Ref("nothing",
                                                       "metadata.resourceVersion")}},
             title="DELETE with a resourceVersion precondition that holds"),
    ])


PROTOBUF = "application/vnd.kubernetes.protobuf"


def _envelope(answer: Answer) -> Answer:
    """A protobuf answer is compared by status, media type and its k8s envelope magic
    (its bytes hold uids and times that differ)."""
    body = answer.get("body")
    raw = body.get("<raw>") if isinstance(body, dict) else None
    shown = ("k8s protobuf envelope" if isinstance(raw, str) and raw.startswith("k8s\x00")
             else "JSON" if raw is None else "other bytes")
    return {"code": answer["code"], "contentType": answer.get("contentType"), "body": shown}


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    out, length = bytearray([number << 3 | 2]), len(payload)
    while True:  # the length as a varint
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out) + payload


def protobuf_configmap(name: str, data: dict[str, str]) -> bytes:
    """A ConfigMap in the Kubernetes protobuf envelope (what kubectl create sends)."""
    meta = _field(1, name.encode())
    entries = b"".join(_field(2, _field(1, k.encode()) + _field(2, v.encode()))
                       for k, v in data.items())
    raw = _field(1, meta) + entries
    type_meta = _field(1, b"v1") + _field(2, b"ConfigMap")
    return b"k8s\x00" + _field(1, type_meta) + _field(2, raw)


def protobuf_deployment(name: str) -> bytes:
    """A Deployment as ``kubectl create deployment NAME --image=nginx`` sends it (field
    numbers of k8s.io/api apps/v1 and core/v1 generated.proto)."""
    labels = _field(11, _field(1, b"app") + _field(2, name.encode()))
    container = _field(1, b"nginx") + _field(2, b"nginx") + _field(8, b"")  # resources
    template = _field(1, labels + _field(8, b"")) + _field(2, _field(2, container))
    spec = (_field(2, _field(1, _field(1, b"app") + _field(2, name.encode())))
            + _field(3, template) + _field(4, b""))  # selector, template, strategy
    raw = _field(1, _field(1, name.encode()) + labels) + _field(2, spec) + _field(3, b"")
    type_meta = _field(1, b"apps/v1") + _field(2, b"Deployment")
    return b"k8s\x00" + _field(1, type_meta) + _field(2, raw)


def _code_reason(answer: Answer) -> Answer:
    body = answer.get("body")
    reason = body.get("reason") if isinstance(body, dict) else None
    return {"code": answer["code"], "reason": reason}


def test_protobuf_answers(differ: Differ) -> None:
    cms = "/api/v1/namespaces/{ns}/configmaps"
    deployments = "/apis/apps/v1/namespaces/{ns}/deployments"
    kind = next(k for k in KINDS if k.plural == "deployments")
    differ.check([
        Step("POST", cms, {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "pb"}, "data": {"a": "1"}}, compare=False),
        Step("POST", deployments, kind.obj("pb"), compare=False),
        Step("GET", f"{cms}/pb", accept=PROTOBUF, project=_envelope,
             title="a ConfigMap as protobuf"),
        Step("GET", cms, accept=PROTOBUF, project=_envelope, title="a list as protobuf"),
        Step("GET", f"{deployments}/pb", accept=PROTOBUF, project=_envelope,
             title="a Deployment as protobuf"),
        Step("GET", f"{cms}/pb", accept=f"{PROTOBUF}, application/json", project=_envelope,
             title="protobuf preferred, JSON accepted"),
        Step("POST", cms, protobuf_configmap("sent-as-protobuf", {"k": "v"}),
             content_type=PROTOBUF, title="create from a protobuf body"),
        Step("POST", deployments, protobuf_deployment("pb-sent"), content_type=PROTOBUF,
             title="a Deployment created from a protobuf body"),
        Step("POST", cms, b"k8s\x00\xff\xff", content_type=PROTOBUF, project=_code_reason,
             title="a protobuf body that breaks off"),
    ])
