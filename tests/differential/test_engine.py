"""The engine's own pieces, without servers: normalising, comparing, path patterns and
the known-differences file."""

from __future__ import annotations

from diff_engine import Normaliser, compare, compare_answers, compile_pattern, glob_matches
from diff_report import load_known


def _obj(name: str, rv: str, uid: str, **meta: object) -> dict[str, object]:
    return {"kind": "ConfigMap", "metadata": {"name": name, "resourceVersion": rv, "uid": uid,
                                              "creationTimestamp": "2024-01-01T00:00:00Z",
                                              **meta}}


UID_A = "11111111-2222-3333-4444-555555555555"
UID_B = "99999999-2222-3333-4444-555555555555"


def test_resource_versions_become_relations_to_the_previous_one() -> None:
    answers = [{"code": 201, "body": _obj("a", "10", UID_A)},
               {"code": 200, "body": _obj("a", "10", UID_A)},
               {"code": 200, "body": _obj("a", "12", UID_A)},
               {"code": 200, "body": {"kind": "ConfigMapList", "metadata": {
                   "resourceVersion": "15"}, "items": [_obj("a", "12", UID_A)]}}]
    norm = Normaliser(answers, "ns-1")
    shown = [norm.answer(a)["body"] for a in answers]
    assert [s["metadata"]["resourceVersion"] for s in shown[:3]] == [
        "<rv:first>", "<rv:same>", "<rv:newer>"]
    assert shown[3]["metadata"]["resourceVersion"] == "<list-rv>"
    assert shown[3]["items"][0]["metadata"]["resourceVersion"] == "<rv:same>"
    assert shown[0]["metadata"]["uid"] == "<uid:ConfigMap/a>"
    assert shown[0]["metadata"]["creationTimestamp"] == "<time>"


def test_references_and_names_are_normalised() -> None:
    owner = _obj("owner", "1", UID_A)
    child = _obj("owner-x7k2p", "2", UID_B, generateName="owner-", namespace="ns-1",
                 ownerReferences=[{"uid": UID_A, "name": "owner"}])
    norm = Normaliser([{"body": owner}, {"body": child}], "ns-1")
    meta = norm.answer({"body": child})["body"]["metadata"]
    assert meta["name"] == "owner-<suffix>"
    assert meta["namespace"] == "<ns>"
    assert meta["ownerReferences"][0]["uid"] == "<uid:ConfigMap/owner>"


def test_compare_names_every_differing_path() -> None:
    fake = {"spec": {"a": 1, "list": [1, 2]}, "only": "fake"}
    real = {"spec": {"a": 2, "list": [1], "dnsPolicy": "ClusterFirst"}}
    shown = sorted(str(d) for d in compare(fake, real))
    assert shown == ["only: fake 'fake' real <missing>",
                     "spec.a: fake 1 real 2",
                     "spec.dnsPolicy: fake <missing> real 'ClusterFirst'",
                     "spec.list[1]: fake 2 real <missing>"]
    assert [str(d) for d in compare_answers({"code": 200, "body": {}},
                                            {"code": 201, "body": {}})] == [
        "(status): fake 200 real 201"]


def test_path_patterns() -> None:
    assert compile_pattern("spec.containers[*].image").match("spec.containers[3].image")
    assert not compile_pattern("spec.*").match("spec.a.b")
    assert compile_pattern("**.dnsPolicy").match("items[0].spec.template.spec.dnsPolicy")
    assert compile_pattern('**["f:dnsPolicy"]').match(
        'metadata.managedFields[0].fieldsV1["f:spec"]["f:dnsPolicy"]')
    assert glob_matches("test_crud[*]", "test_crud[pods]")
    assert not glob_matches("test_crud[pods]", "test_crud[podsx]")


def test_the_known_differences_file_loads() -> None:
    known = load_known()
    assert all(k.reason for k in known)
    assert all(k.why for k in known)
