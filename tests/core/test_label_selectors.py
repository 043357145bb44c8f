"""The core's label-selector parser validates as the API server does, and says where."""

from __future__ import annotations

import pytest

from kubeplan.core.related import LabelSelector, RelatedSelector
from kubeplan.core.selectors import SelectorError, parse_label_selector


@pytest.mark.parametrize(("text", "position", "problem"), [
    # a trailing comma: a term is missing at the end
    ("a=b,", 4, "found '', expected: identifier after ','"),
    # a value must start and end with an alphanumeric character
    ("a=-bad", 0, 'values[0][a]: Invalid value: "-bad": a valid label must be an empty string'),
    # a key's prefix is a lowercase DNS subdomain
    ("UPPER/x=1", 0, 'Invalid value: "UPPER/x": prefix part a lowercase RFC 1123 subdomain'),
    # the position is the offending term's, not the selector's start
    ("app=web,UPPER/x=1", 8, 'Invalid value: "UPPER/x": prefix part'),
])
def test_invalid_selectors_are_rejected_naming_the_problem_and_where(
        text: str, position: int, problem: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert problem in str(err.value)
    assert err.value.position == position
    with pytest.raises(SelectorError) as err:
        LabelSelector.parse(text)
    assert f"label selector {text!r} is not valid at position {position}" in str(err.value)
    assert problem in str(err.value)


def test_the_message_shows_the_rest_of_the_selector_from_the_fault() -> None:
    with pytest.raises(SelectorError, match=r"at position 8 \('UPPER/x=1'\)"):
        LabelSelector.parse("app=web,UPPER/x=1")
    with pytest.raises(SelectorError, match=r"at position 4 \(the end\)"):
        LabelSelector.parse("a=b,")


def test_a_selector_error_is_a_value_error() -> None:
    assert issubclass(SelectorError, ValueError)


def test_related_selectors_are_validated_too() -> None:
    with pytest.raises(SelectorError, match="identifier after ','"):
        RelatedSelector(label_selector="team=a,")
    with pytest.raises(SelectorError, match='Invalid value: "-a"'):
        RelatedSelector(label_selector={"team": "-a"})
    selector = RelatedSelector(label_selector={"team": "a", "example.com/tier": "web"})
    assert selector.label_selector == LabelSelector.parse("team=a,example.com/tier=web")


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "2"}, False),
    ("x in (a,b),!y", {"x": "a"}, True),
])
def test_the_grammar_is_apimachinerys(text: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(text).matches(labels) is expected


def test_the_empty_selector_is_falsy_and_matches_all_and_nothing_matches_none() -> None:
    assert not LabelSelector.of(None) and LabelSelector.of(None).matches({"a": "b"})
    assert LabelSelector.nothing() and not LabelSelector.nothing().matches({})
    assert LabelSelector.parse("a") and str(LabelSelector.parse("b=1,a")) == "a,b=1"
