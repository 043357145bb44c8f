"""External source descriptions, item parsing, diffs and the reverse index (all pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.errors import InvalidArgument, KubeplanError, WrongArgumentType
from kubeplan.core.k8s import core_v1
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.planner import plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.sources import (
    ALL_ITEMS,
    HttpSource,
    ObjectStoreSource,
    SecretKeyRef,
    SourceChange,
    SourceError,
    SourceIndex,
    SourceItems,
    diff_items,
    items_from_json,
    resolve_source_selection,
)
from kubeplan.core.types import K8sType

Widget = K8sType("example.com/v1", "Widget", "widgets")
URL = "https://example.com/items"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def parent(name: str = "w", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": spec}


@pytest.mark.parametrize(("make", "match"), [
    (lambda: HttpSource("ftp://x"), "http:// or https://"),
    (lambda: HttpSource(URL, interval=0), "interval must be a positive"),
    (lambda: HttpSource(URL, interval=float("nan")), "interval must be a positive"),
    (lambda: HttpSource(URL, jitter=1.0), "jitter must be at least 0 and below 1"),
    (lambda: HttpSource(URL, id_field=""), "id_field must be a non-empty string"),
    (lambda: HttpSource(URL, token_file="/t", token_secret=SecretKeyRef("s")), "not both"),
    (lambda: ObjectStoreSource(""), "bucket must be a non-empty string"),
    (lambda: ObjectStoreSource("b", endpoint="localhost:9000"), "endpoint must be"),
])
def test_bad_descriptions_are_refused_naming_the_field(make: Any, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        make()


def test_with_source_validates_the_name_and_the_select() -> None:
    config = OperatorConfig("w", Widget)
    with pytest.raises(InvalidArgument, match="source name 'Bad_Name'"):
        config.with_source("Bad_Name", HttpSource(URL))
    with pytest.raises(WrongArgumentType, match="HttpSource or an ObjectStoreSource"):
        config.with_source("s", "https://example.com")  # type: ignore[arg-type]
    with pytest.raises(WrongArgumentType, match="select of source 's'"):
        config.with_source("s", HttpSource(URL), select=3)  # type: ignore[arg-type]
    declared = config.with_source("s", HttpSource(URL)).with_source("s", HttpSource(URL + "2"))
    assert list(declared.sources) == ["s"] and declared.sources["s"].source.url == URL + "2"


def test_items_from_json_reads_a_list_or_a_field_and_names_what_is_wrong() -> None:
    body = {"data": {"items": [{"id": 1, "v": "a"}, {"id": "b"}]}}
    assert list(items_from_json(body, id_field="id", items_field="data.items")) == ["1", "b"]
    with pytest.raises(InvalidArgument, match=r"no field 'data\.rows'"):
        items_from_json(body, id_field="id", items_field="data.rows")
    with pytest.raises(InvalidArgument, match="the top level is not a JSON list"):
        items_from_json({"id": 1}, id_field="id")
    with pytest.raises(InvalidArgument, match=r"item \[1\] has no string or integer 'id'"):
        items_from_json([{"id": "a"}, {"name": "b"}], id_field="id")
    with pytest.raises(InvalidArgument, match=r"item \[1\] repeats id 'a'"):
        items_from_json([{"id": "a"}, {"id": "a"}], id_field="id")
    with pytest.raises(InvalidArgument, match=r"item \[0\] is not an object"):
        items_from_json(["a"], id_field="id")


items_maps = st.dictionaries(st.sampled_from("abcde"), st.integers(0, 2).map(lambda v: {"v": v}))


@given(items_maps, items_maps)
def test_a_diff_accounts_for_every_id_exactly_once(old: dict, new: dict) -> None:
    change = diff_items(old, new)
    assert set(change.added) == new.keys() - old.keys()
    assert set(change.removed) == old.keys() - new.keys()
    assert set(change.modified) == {k for k in old.keys() & new.keys() if old[k] != new[k]}
    assert bool(change) == (old != new)
    assert diff_items(new, new) == SourceChange()


def test_a_change_is_described_in_words_and_cut() -> None:
    change = SourceChange(added=tuple("abcdefg"), removed=("z",))
    assert change.describe(limit=2) == "added a, b and 5 more; removed z"
    assert SourceChange().describe() == "unchanged"


def test_select_functions_are_resolved_and_their_mistakes_named() -> None:
    config = (OperatorConfig("w", Widget)
              .with_source("all", HttpSource(URL))
              .with_source("some", HttpSource(URL), select=lambda p: p["spec"].get("ids"))
              .with_source("bad", HttpSource(URL), select=lambda p: p["spec"]["missing"]))
    sources = dict(config.sources)
    del sources["bad"]
    found = resolve_source_selection(sources, parent(ids=["x", 2]))
    assert found == {"all": ALL_ITEMS, "some": frozenset({"x", "2"})}
    assert "some" not in resolve_source_selection(sources, parent())
    with pytest.raises(SourceError, match="select raised on Widget 'w': KeyError") as raised:
        resolve_source_selection(config.sources, parent())
    assert raised.value.reason == "SourceSelectFailed"
    wrong = {"s": config.with_source("s", HttpSource(URL), select=lambda p: "x").sources["s"]}
    with pytest.raises(SourceError, match="return True, None or a list of string ids"):
        resolve_source_selection(wrong, parent())


def test_the_index_finds_exactly_the_readers_of_a_changed_item() -> None:
    index = SourceIndex()
    index.set("p1", {"s": frozenset({"a", "b"})})
    index.set("p2", {"s": ALL_ITEMS})
    index.set("p3", {"s": frozenset({"c"}), "t": ALL_ITEMS})
    assert index.affected("s", ["a"]) == {"p1", "p2"}
    assert index.affected("s", ["c"]) == {"p2", "p3"}
    assert index.affected("s", ["zzz"]) == {"p2"}
    assert index.affected("t", ["a"]) == {"p3"}
    assert index.affected("s", None) == {"p1", "p2", "p3"}
    index.set("p1", {"s": frozenset({"c"})})
    assert index.affected("s", ["a"]) == {"p2"}
    index.remove("p3")
    assert index.affected("t", None) == set() and len(index) == 2


def test_source_items_are_read_only_and_sorted() -> None:
    items = SourceItems("s", {"b": {"v": 1}, "a": {"v": 2}})
    assert list(items) == ["a", "b"] and items["a"] == {"v": 2}
    with pytest.raises(TypeError):
        items._items["c"] = {}  # type: ignore[index]
    request = SyncRequest(parent(), sources={"s": {"x": {"v": 0}}})
    assert isinstance(request.sources["s"], SourceItems)
    with pytest.raises(TypeError):
        request.sources["t"] = SourceItems("t")  # type: ignore[index]


def _config() -> OperatorConfig:
    return (OperatorConfig("w", Widget).with_child(core_v1.ConfigMap, ChildConfig.replace())
            .with_source("s", HttpSource(URL)))


def test_a_source_error_is_planned_as_a_failed_sync_touching_no_child() -> None:
    child = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "w", "namespace": "default", "uid": "c1",
                          "ownerReferences": [{"apiVersion": "example.com/v1",
                                               "kind": "Widget", "name": "w", "uid": "uid-w",
                                               "controller": True}]}}
    request = SyncRequest.build(parent(), [child], config=_config())
    error = SourceError("s", f"{URL}: HTTP 503")
    assert isinstance(error, KubeplanError)
    found = plan(_config(), request, error, memo=ApplyMemo.empty(), now=NOW,
                 has_finalize=False)
    assert not found.child_actions
    status = found.status_update
    assert status is not None
    synced = next(c for c in status.status["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "SourceUnavailable")
    assert "HTTP 503" in synced["message"]


def test_a_plan_names_the_source_items_that_changed() -> None:
    items = SourceItems("s", {"a": {"v": 2}}, SourceChange(modified=("a",), removed=("b",)))
    request = SyncRequest(parent(), sources={"s": items})
    found = plan(_config(), request, SyncResponse(), memo=ApplyMemo.empty(), now=NOW,
                 has_finalize=False)
    assert found.inputs == ("source s: modified a; removed b",)
    assert str(found).splitlines()[0] == (
        "input   example.com/v1/Widget default/w: source s: modified a; removed b")
    assert found.to_dict()["inputs"] == ["source s: modified a; removed b"]
    quiet = plan(_config(), SyncRequest(parent(), sources={"s": SourceItems("s", {})}),
                 SyncResponse(), memo=ApplyMemo.empty(), now=NOW, has_finalize=False)
    assert quiet.inputs == ()


def test_manifests_grant_reading_secrets_only_for_a_token_kept_in_one() -> None:
    from kubeplan.core.manifests import rbac_rules

    def secrets(config: OperatorConfig) -> set[str]:
        return {v for r in rbac_rules(config, leader_election=False)
                if "secrets" in r["resources"] for v in r["verbs"]}

    plain = _config()
    assert secrets(plain) == set()
    with_secret = plain.with_source("s", HttpSource(URL, token_secret=SecretKeyRef("t")))
    assert secrets(with_secret) == {"get"}
