"""Related objects in the core: selectors, the label-selector matcher, the reverse index."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.core.config import OperatorConfig
from kubeplan.core.k8s import core_v1
from kubeplan.core.related import (
    LabelSelector,
    RelatedIndex,
    RelatedSelector,
    SelectorError,
    resolve_selectors,
    select_related,
)
from kubeplan.core.types import K8sType

Web = K8sType("x.example.com/v1", "Web", "webs")
Cluster = K8sType("x.example.com/v1", "Cluster", "clusters", namespaced=False)


def cm(name: str, namespace: str = "default", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}}


def parent(name: str = "p", namespace: str | None = "default", **spec: object) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": Web.api_version, "kind": "Web", "metadata": meta, "spec": spec}


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("tier in (a, b)", {"tier": "b"}, True),
    ("tier notin (a,b)", {"tier": "a"}, False),
    ("owner", {"owner": ""}, True),
    ("!legacy", {"legacy": "x"}, False),
    ("app=web,!legacy,tier in (a)", {"app": "web", "tier": "a"}, True),
    ("", {"anything": "x"}, True),
])
def test_label_selectors(text: str, labels: dict, expected: bool) -> None:
    assert LabelSelector.parse(text).matches(labels) is expected


def test_a_bad_label_selector_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="not valid at"):
        LabelSelector.parse("app=web,(")


def test_a_namespaced_parent_looks_in_its_own_namespace_by_default() -> None:
    selector = RelatedSelector(names="settings").resolved(parent(namespace="team"),
                                                          core_v1.ConfigMap)
    assert selector.namespace == "team"
    assert selector.matches(cm("settings", "team")) and not selector.matches(cm("settings"))


def test_a_cluster_scoped_parent_looks_everywhere_by_default() -> None:
    selector = RelatedSelector(label_selector={"team": "a"}).resolved(
        parent(namespace=None), core_v1.ConfigMap)
    assert selector.namespace is None
    assert selector.matches(cm("x", "ns1", team="a")) and not selector.matches(cm("x", team="b"))


def test_resolve_reports_a_failing_or_wrong_select_function() -> None:
    config = OperatorConfig("w", Web).with_related(core_v1.ConfigMap, lambda p: p["spec"]["x"])
    with pytest.raises(SelectorError, match="raised on Web 'p'"):
        resolve_selectors(config.related, parent())
    config = OperatorConfig("w", Web).with_related(core_v1.ConfigMap, lambda p: "settings")
    with pytest.raises(SelectorError, match="return a RelatedSelector"):
        resolve_selectors(config.related, parent())


def test_with_related_is_checked_and_returns_a_new_config() -> None:
    base = OperatorConfig("w", Web)
    config = base.with_related(core_v1.Secret, lambda p: None)
    assert base.related_types == () and config.related_types == (core_v1.Secret,)
    assert resolve_selectors(config.related, parent()) == {core_v1.Secret: ()}
    with pytest.raises(TypeError, match="must be a function"):
        base.with_related(core_v1.Secret, "tls")  # type: ignore[arg-type]


def test_the_index_finds_the_parents_an_object_concerns() -> None:
    index = RelatedIndex()
    index.set(("default", "a"), {core_v1.ConfigMap: (RelatedSelector(["s"], "default"),)})
    index.set(("default", "b"), {core_v1.ConfigMap: (
        RelatedSelector(namespace="default", label_selector="team=x"),)})
    assert index.affected(core_v1.ConfigMap, cm("s")) == {("default", "a")}
    assert index.affected(core_v1.ConfigMap, cm("s", team="x")) == {("default", "a"),
                                                                     ("default", "b")}
    assert index.affected(core_v1.ConfigMap, cm("s", "other")) == set()
    assert index.affected(core_v1.Secret, cm("s")) == set()
    index.set(("default", "a"), {})
    index.remove(("default", "b"))
    assert index.affected(core_v1.ConfigMap, cm("s", team="x")) == set() and len(index) == 0


names = st.sampled_from(["a", "b", "c"])
spaces = st.sampled_from(["n1", "n2"])
selectors = st.builds(RelatedSelector, names=st.none() | st.lists(names, max_size=2),
                      namespace=st.none() | spaces,
                      label_selector=st.none() | st.dictionaries(st.just("t"), names,
                                                                 max_size=1))
objects = st.builds(lambda n, ns, t: cm(n, ns, **({"t": t} if t else {})), names, spaces,
                    st.none() | names)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.integers(0, 5), st.lists(selectors, max_size=2), max_size=4),
       objects)
def test_the_index_agrees_with_matching_every_parent(by_parent, obj) -> None:
    index = RelatedIndex()
    for key, items in by_parent.items():
        index.set(key, {core_v1.ConfigMap: tuple(items)})
    expected = {k for k, items in by_parent.items() if select_related(items, [obj])}
    assert index.affected(core_v1.ConfigMap, obj) == expected
