"""The write path's shortcuts give what the general path gives, on varied bodies."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeplan.testkit.apiserver import FakeApiServer, status, writes

_SERVER = FakeApiServer()
_INFOS = [i for i in _SERVER.registry.resources() if i.kind in (
    "ConfigMap", "Deployment", "Namespace", "CustomResourceDefinition", "Pod")]

_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3),
                    st.dictionaries(st.text(max_size=2), st.text(max_size=2), max_size=2))
_versions = st.sampled_from(["v1", "apps/v1", "apps/v1beta1", "batch/v1",
                             "apiextensions.k8s.io/v1", "x.io/v1", "", None])
_kinds = st.sampled_from(["ConfigMap", "Deployment", "Namespace",
                          "CustomResourceDefinition", "Pod", "Widget", "", None])


@st.composite
def _bodies(draw: Any) -> dict[str, Any]:
    """A body with apiVersion and kind (or not) anywhere among other fields."""
    fields: dict[str, Any] = {"metadata": {"name": "x"}}
    fields.update(draw(st.dictionaries(st.sampled_from(["data", "spec", "status", "zz"]),
                                       _values, max_size=3)))
    for key, value in (("apiVersion", draw(_versions)), ("kind", draw(_kinds))):
        if value is not None or draw(st.booleans()):
            fields[key] = value
    order = draw(st.permutations(list(fields)))
    return {k: fields[k] for k in order}


@contextlib.contextmanager
def _general() -> Iterator[None]:
    assert writes._TYPE_META_SHORTCUT is True
    writes._TYPE_META_SHORTCUT = False
    try:
        yield
    finally:
        writes._TYPE_META_SHORTCUT = True


def _outcome(body: dict[str, Any], index: int) -> bytes:
    obj = copy.deepcopy(body)
    try:
        _SERVER.writer._check_type_meta(obj, _INFOS[index])
    except status.StatusError as exc:
        return orjson.dumps([exc.code, exc.body])
    # the key order is part of the answer: compare it too
    return orjson.dumps([list(obj), obj])


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies(), st.integers(0, len(_INFOS) - 1))
def test_property_type_meta_shortcut_equals_the_general_path(
        body: dict[str, Any], index: int) -> None:
    fast = _outcome(body, index)
    with _general():
        general = _outcome(body, index)
    assert fast == general


def test_the_shortcut_is_taken_for_a_body_in_order() -> None:
    [info] = [i for i in _INFOS if i.kind == "ConfigMap"]
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    _SERVER.writer._check_type_meta(body, info)
    assert list(body) == ["apiVersion", "kind", "metadata"]
