"""Label and field selectors behave like apimachinery's labels/fields packages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeplan.testkit.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    Operator,
    SelectorError,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
)

# --------------------------------------------------------------------------------------
# label selector matching (apimachinery selector_test.go TestSelectorMatches et al.)


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x==y", {"x": "y"}, True),
        ("x=y", {"x": "z"}, False),
        ("x=y", {}, False),
        ("x!=y", {"x": "z"}, True),
        ("x!=y", {}, True),  # != matches objects lacking the key
        ("x!=y", {"x": "y"}, False),
        ("x in (a,b)", {"x": "b"}, True),
        ("x in (a,b)", {}, False),
        ("x notin (a,b)", {"x": "c"}, True),
        ("x notin (a,b)", {}, True),  # notin matches objects lacking the key
        ("x notin (a,b)", {"x": "a"}, False),
        ("x", {"x": ""}, True),
        ("x", {"y": "1"}, False),
        ("!x", {"y": "1"}, True),
        ("!x", {"x": "1"}, False),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x=y,z=w", {"x": "y"}, False),
        ("x>1", {"x": "2"}, True),
        ("x>1", {"x": "1"}, False),
        ("x<1", {"x": "0"}, True),
        ("x>1", {"x": "abc"}, False),
        ("x>1", {}, False),
        ("x=", {"x": ""}, True),
        ("x in ()", {"x": ""}, True),
        ("  x = y ,  z  ", {"x": "y", "z": "q"}, True),
        ("x in (foo,,baz)", {"x": ""}, True),
        ("a.b/c-d=e", {"a.b/c-d": "e"}, True),
    ],
)
def test_label_selector_matches(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


def test_none_labels_count_as_empty() -> None:
    assert parse_label_selector("!x").matches(None)
    assert not parse_label_selector("x").matches(None)


def test_everything_and_nothing() -> None:
    assert LabelSelector.everything().matches({"a": "b"})
    assert LabelSelector.everything().empty()
    assert str(LabelSelector.everything()) == ""
    assert not LabelSelector.nothing().matches({})


def test_parse_sorts_by_key_and_renders_like_apimachinery() -> None:
    parsed = parse_label_selector("z notin (b,a),x in (c,a),!w,y,v>3,u==1")
    assert str(parsed) == "u==1,v>3,!w,x in (a,c),y,z notin (a,b)"
    assert [r.key for r in parsed.requirements] == ["u", "v", "w", "x", "y", "z"]
    assert parsed.requirements[2].operator is Operator.DOES_NOT_EXIST


def test_keywords_are_identifiers_in_value_position() -> None:
    assert parse_label_selector("x=in").matches({"x": "in"})
    assert parse_label_selector("x in (in,notin)").matches({"x": "notin"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
        (",x", "found ',', expected: !, identifier, or 'end of string'"),
        ("x,", "found '', expected: identifier after ','"),
        ("x in a", "unable to parse requirement: found 'a' expected: '('"),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x=(a)", "unable to parse requirement: found '(', expected: identifier"),
        (
            "x>a",
            'unable to parse requirement: values[0]: Invalid value: "a": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ],
)
def test_parse_errors_carry_apimachinery_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert str(err.value) == message


def test_invalid_key_is_rejected_with_validation_message() -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector("-x=y")
    text = str(err.value)
    assert text.startswith('unable to parse requirement: <nil>: Invalid value: "-x": name part ')
    assert "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'" in text


def test_invalid_prefix_and_too_many_slashes() -> None:
    with pytest.raises(SelectorError, match="prefix part a lowercase RFC 1123 subdomain"):
        parse_label_selector("Example.com/x=y")
    with pytest.raises(SelectorError, match="a qualified name must consist of"):
        parse_label_selector("a/b/c=y")


def test_value_longer_than_63_is_rejected() -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector("x=" + "v" * 64)
    assert "values[0][x]: Invalid value:" in str(err.value)
    assert "must be no more than 63 characters" in str(err.value)
    assert parse_label_selector("x=" + "v" * 63).matches({"x": "v" * 63})


def test_is_a_selector_error_and_value_error() -> None:
    assert issubclass(SelectorError, ValueError)


# --------------------------------------------------------------------------------------
# metav1.LabelSelector


def test_label_selector_from_dict() -> None:
    sel = label_selector_from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "team", "operator": "Exists"},
            ],
        }
    )
    assert sel.matches({"app": "web", "tier": "a", "team": "x"})
    assert not sel.matches({"app": "web", "tier": "a", "team": "x", "legacy": "1"})
    assert not sel.matches({"app": "web", "tier": "a", "team": "x", "env": "prod"})
    assert not sel.matches({"app": "web", "tier": "c", "team": "x"})
    assert str(sel) == "app=web,env notin (prod),!legacy,team,tier in (a,b)"


def test_label_selector_from_dict_empty_and_none() -> None:
    assert label_selector_from_dict({}).matches({"a": "b"})
    assert not label_selector_from_dict(None).matches({"a": "b"})


def test_label_selector_from_dict_errors() -> None:
    with pytest.raises(SelectorError, match='"Gt" is not a valid label selector operator'):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Gt"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In"}]})
    with pytest.raises(SelectorError, match="values set must be empty"):
        label_selector_from_dict(
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}
        )


# --------------------------------------------------------------------------------------
# properties

_name = st.from_regex(r"[a-z0-9]([a-z0-9._-]{0,10}[a-z0-9])?", fullmatch=True)
_key = st.one_of(
    _name,
    st.builds(
        lambda p, n: f"{p}.io/{n}", _name.filter(lambda s: "." not in s and "_" not in s), _name
    ),
)
_value = st.one_of(st.just(""), _name)


@st.composite
def _requirement_text(draw: st.DrawFn) -> str:
    key = draw(_key)
    form = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", ">", "<"]))
    if form in ("=", "==", "!="):
        return f"{key}{form}{draw(_value)}"
    if form in ("in", "notin"):
        values = draw(st.lists(_name, min_size=1, max_size=3))
        return f"{key} {form} ({','.join(values)})"
    if form == "exists":
        return key
    if form == "!":
        return "!" + key
    return f"{key}{form}{draw(st.integers(0, 100))}"


@given(st.lists(_requirement_text(), max_size=4))
def test_str_reparses_to_an_equal_selector(parts: list[str]) -> None:
    selector = parse_label_selector(",".join(parts))
    assert parse_label_selector(str(selector)) == selector


@given(
    st.lists(_requirement_text(), max_size=4),
    st.dictionaries(_key, _value, max_size=4),
)
def test_selector_is_the_and_of_its_terms(parts: list[str], labels: dict[str, str]) -> None:
    whole = parse_label_selector(",".join(parts)).matches(labels)
    assert whole == all(parse_label_selector(p).matches(labels) for p in parts)


@given(st.lists(_requirement_text(), max_size=4), st.dictionaries(_key, _value, max_size=4))
def test_metav1_and_string_forms_agree(parts: list[str], labels: dict[str, str]) -> None:
    """A selector without gt/lt converted to metav1 form matches the same labels."""
    selector = parse_label_selector(",".join(parts))
    exprs: list[dict[str, object]] = []
    for r in selector.requirements:
        op = {
            Operator.EQUALS: "In",
            Operator.DOUBLE_EQUALS: "In",
            Operator.IN: "In",
            Operator.NOT_EQUALS: "NotIn",
            Operator.NOT_IN: "NotIn",
            Operator.EXISTS: "Exists",
            Operator.DOES_NOT_EXIST: "DoesNotExist",
        }.get(r.operator)
        if op is None:
            return
        expr: dict[str, object] = {"key": r.key, "operator": op}
        if op in ("In", "NotIn"):
            expr["values"] = list(r.values)
        exprs.append(expr)
    converted = label_selector_from_dict({"matchExpressions": exprs})
    assert converted.matches(labels) == selector.matches(labels)


# --------------------------------------------------------------------------------------
# field selectors

_SUPPORTED = ("metadata.name", "metadata.namespace", "status.phase", "spec.replicas")
_POD = {
    "metadata": {"name": "p1", "namespace": "ns"},
    "status": {"phase": "Running"},
    "spec": {"replicas": 3},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=p1", True),
        ("metadata.name==p1", True),
        ("metadata.name!=p1", False),
        ("metadata.name=p2", False),
        ("metadata.name=p1,metadata.namespace=ns", True),
        ("metadata.name=p1,metadata.namespace=other", False),
        ("status.phase!=Pending", True),
        ("spec.replicas=3", True),
    ],
)
def test_field_selector_matches(text: str, expected: bool) -> None:
    assert parse_field_selector(text, _SUPPORTED).matches(_POD) is expected


def test_missing_field_reads_as_empty_string() -> None:
    obj = {"metadata": {"name": "x"}}
    assert parse_field_selector("metadata.namespace=", _SUPPORTED).matches(obj)
    assert parse_field_selector("metadata.namespace!=ns", _SUPPORTED).matches(obj)


def test_unsupported_field_message() -> None:
    with pytest.raises(SelectorError) as err:
        parse_field_selector("spec.nodeName=n1", _SUPPORTED)
    assert str(err.value) == "field label not supported: spec.nodeName"


def test_field_selector_syntax_error() -> None:
    with pytest.raises(SelectorError) as err:
        parse_field_selector("metadata.name", _SUPPORTED)
    assert str(err.value) == "invalid selector: 'metadata.name'; can't understand 'metadata.name'"


def test_field_selector_escapes_and_fields() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b,metadata.namespace!=x", _SUPPORTED)
    assert sel.matches({"metadata": {"name": "a,b", "namespace": "y"}})
    assert sel.fields == ("metadata.name", "metadata.namespace")
    assert str(sel) == r"metadata.name=a\,b,metadata.namespace!=x"
    with pytest.raises(SelectorError, match="invalid escape sequence"):
        parse_field_selector(r"metadata.name=a\x", _SUPPORTED)


def test_field_selector_everything() -> None:
    assert FieldSelector.everything().matches({})
    assert FieldSelector.everything().fields == ()


def test_gt_values_must_also_be_valid_label_values() -> None:
    """apimachinery validates every value as a label value, so ``x>-1`` is rejected."""
    with pytest.raises(SelectorError, match="a valid label must be an empty string"):
        parse_label_selector("x>-1")


def test_the_fake_server_parses_label_selectors_with_the_cores_parser() -> None:
    from kubeplan.core import related
    from kubeplan.core import selectors as core

    assert SelectorError is core.SelectorError is related.SelectorError
    assert parse_label_selector is core.parse_label_selector
    assert LabelSelector is core.LabelSelector is related.LabelSelector
