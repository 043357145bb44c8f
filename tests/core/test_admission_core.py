"""Admission webhooks in the core: declarations checked, reviews read and answered, a
mutator's changes as a JSON patch, failure policies, and the webhook configurations."""

from __future__ import annotations

import base64
import copy

import attrs
import jsonpatch
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.core import admission
from kubeplan.core.admission import (
    AdmissionError,
    AdmissionRequest,
    Allowed,
    Denied,
    Mutator,
    Validator,
)
from kubeplan.core.config import OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

Widget = K8sType("example.com/v1", "Widget", "widgets")
OBJ = {"apiVersion": "example.com/v1", "kind": "Widget",
       "metadata": {"name": "w", "namespace": "ns"}, "spec": {"size": 3, "colourName": "red"}}


@attrs.frozen
class WidgetSpec:
    size: int
    colour_name: str = "blue"


def allow(request: AdmissionRequest) -> Allowed:
    return Allowed()


def review_of(obj: dict | None, old: dict | None = None, operation: str = "CREATE") -> dict:
    request = AdmissionRequest(operation, obj, old, kind=Widget, namespace="ns", name="w",
                               uid="u-1")
    return admission.review_request(request)


def test_a_review_is_read_with_its_user_kind_and_objects() -> None:
    body = review_of(OBJ)
    body["request"]["userInfo"] = {"username": "ada", "groups": ["devs"],
                                   "extra": {"team": ["engines"]}}
    request = admission.request_of(body)
    assert request.operation == "CREATE" and request.uid == "u-1"
    assert request.kind == Widget
    assert request.user_info.username == "ada" and request.user_info.groups == ("devs",)
    assert request.user_info.extra == {"team": ("engines",)}
    assert request.spec_as(WidgetSpec) == WidgetSpec(3, "red")
    assert request.object_as(dict) == OBJ
    assert request.old_spec_as(WidgetSpec) is None
    with pytest.raises(ValueError, match="a CREATE request has no old object"):
        request.old_object_as(dict)


@pytest.mark.parametrize(("body", "words"), [
    ([], "must be an object, got list"),
    ({"apiVersion": "v1", "kind": "AdmissionReview"}, "expected apiVersion admission.k8s.io/v1"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "has no request"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"operation": "PATCH"}}, "request.operation 'PATCH' is not one of"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"operation": "CREATE", "object": 3}}, "request.object must be an object"),
])
def test_a_malformed_review_is_refused_naming_what_is_wrong(body: object, words: str) -> None:
    with pytest.raises(AdmissionError, match=words):
        admission.request_of(body)


def test_a_denial_is_answered_with_its_code_message_and_fields() -> None:
    def deny(request: AdmissionRequest) -> Denied:
        return Denied("too big", fields=[("spec.size", "must be at most 2")])

    answer = admission.review(Validator(deny), review_of(OBJ), deny)
    assert answer["response"] == {
        "uid": "u-1", "allowed": False,
        "status": {"status": "Failure", "code": 403, "message": "too big",
                   "reason": "Forbidden", "details": {"causes": [
                       {"type": "FieldValueInvalid", "field": "spec.size",
                        "message": "must be at most 2"}]}}}


def test_warnings_reach_the_answer() -> None:
    answer = admission.response_for(admission.request_of(review_of(OBJ)),
                                    Allowed(warnings=["careful"]))
    assert answer["response"] == {"uid": "u-1", "allowed": True, "warnings": ["careful"]}


def test_a_raising_validator_answers_by_its_failure_policy() -> None:
    def broken(request: AdmissionRequest) -> Allowed:
        raise KeyError("size")

    request = admission.request_of(review_of(OBJ))
    closed = admission.decision_of(Validator(broken), request, KeyError("size"))
    assert closed == Denied("broken failed: KeyError: 'size'", code=500)
    opened = admission.decision_of(Validator(broken, failure_policy="Ignore"), request,
                                   KeyError("size"))
    assert opened == Allowed(warnings=(
        "broken failed: KeyError: 'size' (failurePolicy Ignore: allowed)",))
    junk = admission.decision_of(Validator(broken), request, 42)
    assert isinstance(junk, Denied) and "returned int, not Allowed or Denied" in junk.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(alphabet="ab/~", max_size=3), inner, max_size=3),
    max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(alphabet="ab/~", max_size=3), json_values, max_size=4),
       st.dictionaries(st.text(alphabet="ab/~", max_size=3), json_values, max_size=4))
def test_the_json_patch_turns_the_object_into_the_mutators_result(before: dict,
                                                                   after: dict) -> None:
    patch = admission.json_patch(before, after)
    patched = jsonpatch.apply_patch(copy.deepcopy(before), patch)
    assert orjson.dumps(patched, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        after, option=orjson.OPT_SORT_KEYS)


def test_a_change_from_one_to_true_is_a_change() -> None:
    assert admission.json_patch({"a": [1]}, {"a": [True]}) == [
        {"op": "replace", "path": "/a", "value": [True]}]


def test_a_mutator_returning_a_spec_is_patched_into_the_object() -> None:
    def bigger(request: AdmissionRequest) -> WidgetSpec:
        return attrs.evolve(request.spec_as(WidgetSpec), size=4)

    body = review_of(OBJ)
    answer = admission.review(Mutator(bigger), body, bigger)["response"]
    assert answer["allowed"] and answer["patchType"] == "JSONPatch"
    patch = orjson.loads(base64.b64decode(answer["patch"]))
    assert patch == [{"op": "replace", "path": "/spec/size", "value": 4}]
    unchanged = admission.review(Mutator(bigger), body, lambda r: None)["response"]
    assert "patch" not in unchanged


def test_declarations_are_checked_when_made() -> None:
    with pytest.raises(AdmissionError, match="operation 'PATCH' is not one of"):
        Validator(allow, operations=("PATCH",))
    with pytest.raises(AdmissionError, match="failure_policy 'Open' is not one of"):
        Validator(allow, failure_policy="Open")
    with pytest.raises(AdmissionError, match="timeout_seconds 31 must be an integer from 1 to 30"):
        Validator(allow, timeout_seconds=31)
    with pytest.raises(TypeError, match="must be callable"):
        Validator("allow")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is a Mutator, declared among validators"):
        OperatorDefinition(OperatorConfig("w", Widget), allow, validators=[Mutator(allow)])
    with pytest.raises(AdmissionError, match="two webhooks of w are served at /validate/w/allow"):
        OperatorDefinition(OperatorConfig("w", Widget), allow,
                           validators=[allow, Validator(allow, for_type=core_v1.ConfigMap)])


def test_the_configurations_have_rules_from_each_webhooks_type_and_operations() -> None:
    definition = OperatorDefinition(
        OperatorConfig("widgets", Widget), allow,
        validators=[allow, Validator(allow, for_type=core_v1.Namespace, name="ns-check",
                                     operations=("DELETE",), failure_policy="Ignore",
                                     timeout_seconds=3)],
        mutators=[allow])
    configs = admission.configurations(
        definition.admission, "widgets-admission", lambda path: {"url": f"https://h{path}"})
    mutating, validating = configs
    assert mutating["kind"] == "MutatingWebhookConfiguration"
    (m,) = mutating["webhooks"]
    assert m["name"] == "allow.widgets.kubeplan.dev"
    assert m["clientConfig"] == {"url": "https://h/mutate/widgets/allow"}
    first, second = validating["webhooks"]
    assert first["rules"] == [{"apiGroups": ["example.com"], "apiVersions": ["v1"],
                               "resources": ["widgets"], "operations": ["CREATE", "UPDATE"],
                               "scope": "Namespaced"}]
    assert (first["sideEffects"], first["admissionReviewVersions"], first["failurePolicy"],
            first["timeoutSeconds"]) == ("None", ["v1"], "Fail", 10)
    assert second["name"] == "ns-check.widgets.kubeplan.dev"
    assert second["rules"][0]["resources"] == ["namespaces"]
    assert second["rules"][0]["scope"] == "Cluster"
    assert (second["failurePolicy"], second["timeoutSeconds"]) == ("Ignore", 3)
