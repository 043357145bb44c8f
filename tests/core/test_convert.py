"""The one converter: every annotation the CRD schema supports round-trips through it, and
``SyncRequest.spec_as``, ``kubeplan.core.crd`` and the testkit's ``parents()`` all use it."""

from __future__ import annotations

import datetime
import enum
from typing import Any, Literal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.core import convert, crd
from kubeplan.core.request import SyncRequest
from kubeplan.core.types import K8sType


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Inner:
    path: str
    period_seconds: int = 10


@attrs.frozen(kw_only=True)
class Everything:
    """One field per supported annotation (see the table in ``kubeplan.core.crd``)."""

    text: str
    number: int
    ratio: float
    flag: bool
    mode: Literal["a", "b"]
    color: Color
    items: list[int]
    fixed: tuple[str, ...]
    tags: set[str]
    frozen_tags: frozenset[int]
    mapping: dict[str, int]
    maybe: int | None
    port: int | str
    maybe_port: int | str | None
    inner: Inner
    inners: list[Inner]
    when: datetime.datetime
    day: datetime.date
    anything: Any
    loose: dict[str, Any]
    renamed: int = attrs.field(metadata={"name": "x-renamed"})
    continue_: bool = False
    optional_default: str | None = None


json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                               max_size=3),
    max_leaves=5,
)
inners = st.builds(Inner, path=st.text(max_size=5), period_seconds=st.integers(0, 100))
everything = st.builds(
    Everything,
    text=st.text(max_size=8),
    number=st.integers(),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
    mode=st.sampled_from(["a", "b"]),
    color=st.sampled_from(Color),
    items=st.lists(st.integers(), max_size=3),
    fixed=st.lists(st.text(max_size=3), max_size=3).map(tuple),
    tags=st.sets(st.text(max_size=3), max_size=3),
    frozen_tags=st.frozensets(st.integers(), max_size=3),
    mapping=st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    maybe=st.none() | st.integers(),
    port=st.integers(0, 65535) | st.text(min_size=1, max_size=4),
    maybe_port=st.none() | st.integers(0, 9) | st.text(min_size=1, max_size=3),
    inner=inners,
    inners=st.lists(inners, max_size=2),
    when=st.datetimes(timezones=st.just(datetime.UTC)),
    day=st.dates(),
    anything=json_values.filter(lambda v: v is not None),
    loose=st.dictionaries(st.text(max_size=3), json_values, max_size=3),
    renamed=st.integers(),
    continue_=st.booleans(),
    optional_default=st.none() | st.text(max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(everything)
def test_every_supported_annotation_round_trips(value: Everything) -> None:
    data = convert.unstructure(value)
    assert convert.structure(data, Everything) == value
    # the CRD module and SyncRequest.spec_as read and write exactly the same
    assert crd.unstructure(value) == data
    assert crd.structure(data, Everything) == value
    parent = {"apiVersion": "x.example.com/v1", "kind": "X", "metadata": {"name": "x"},
              "spec": data}
    assert SyncRequest(parent).spec_as(Everything) == value


def test_the_json_form_follows_the_conventions() -> None:
    when = datetime.datetime(2024, 5, 1, 12, 30)
    value = Everything(
        text="t", number=1, ratio=0.5, flag=True, mode="a", color=Color.BLUE, items=[1],
        fixed=("x", "y"), tags={"b", "a"}, frozen_tags=frozenset({3, 1}), mapping={"k": 1},
        maybe=None, port="http", maybe_port=None, inner=Inner("/"), inners=[],
        when=when, day=datetime.date(2024, 5, 1), anything={"k": [1]}, loose={},
        renamed=7, continue_=True,
    )
    data = convert.unstructure(value)
    assert data["when"] == "2024-05-01T12:30:00Z"  # naive is UTC, written with Z
    assert data["day"] == "2024-05-01"
    assert data["tags"] == ["a", "b"] and data["frozenTags"] == [1, 3]  # sorted
    assert data["fixed"] == ["x", "y"]
    assert data["color"] == "blue"
    assert data["x-renamed"] == 7 and "renamed" not in data
    assert data["continue"] is True
    assert data["inner"] == {"path": "/", "periodSeconds": 10}
    assert "maybe" not in data and "maybePort" not in data and "optionalDefault" not in data


def test_absent_optional_fields_read_back_as_none() -> None:
    @attrs.frozen
    class Spec:
        name: str
        replicas: int | None

    assert convert.structure({"name": "a"}, Spec) == Spec("a", None)


def test_int_or_string_refuses_other_types() -> None:
    @attrs.frozen
    class Spec:
        port: int | str

    with pytest.raises(convert.StructureError, match=r"integer or a string.*\$\.port"):
        convert.structure({"port": [1]}, Spec)


def test_the_testkit_parents_strategy_uses_the_converter() -> None:
    from kubeplan.testkit.strategies import parents

    widget = K8sType("x.example.com/v1", "Widget", "widgets")

    @settings(max_examples=20, deadline=None)
    @given(parents(widget, Inner))
    def check(parent: dict[str, Any]) -> None:
        spec = SyncRequest(parent).spec_as(Inner)
        assert convert.unstructure(spec) == parent["spec"]

    check()


def test_crd_reexports_the_one_converter() -> None:
    assert crd.make_converter is convert.make_converter
    assert crd.wire_name is convert.wire_name
    assert crd.unstructure is convert.unstructure
