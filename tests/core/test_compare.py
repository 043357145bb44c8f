"""Subset comparison, hashes, projections and merge patches."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeplan.core.compare import (
    MISSING,
    applied_digest,
    apply_merge_patch,
    canonical_json,
    desired_hash,
    differences,
    is_named_list,
    json_equal,
    merge_patch,
    project,
    subset_diff,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(("a", "b", "1")),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(("name", "x", "y", "z")), children, max_size=3),
    max_leaves=12,
)


class TestSubsetDiff:
    def test_extra_observed_keys_are_ignored(self) -> None:
        assert subset_diff({"a": 1}, {"a": 1, "b": 2}) == []

    def test_missing_and_changed_keys(self) -> None:
        assert subset_diff({"a": 1, "b": {"c": 2}}, {"b": {"c": 3}}) == ["a", "b.c"]

    def test_desired_null_means_absent(self) -> None:
        assert subset_diff({"a": None}, {}) == []
        assert subset_diff({"a": None}, {"a": None}) == []
        assert subset_diff({"a": None}, {"a": 1}) == ["a"]

    def test_scalars_compare_as_json(self) -> None:
        assert subset_diff({"a": 1}, {"a": 1.0}) == []
        assert subset_diff({"a": True}, {"a": 1}) == ["a"]
        assert subset_diff({"a": 1}, {"a": True}) == ["a"]
        assert subset_diff({"a": "1"}, {"a": 1}) == ["a"]

    def test_type_mismatch(self) -> None:
        assert subset_diff({"a": {"b": 1}}, {"a": [1]}) == ["a"]
        assert subset_diff({"a": [1]}, {"a": "x"}) == ["a"]

    def test_named_lists_match_by_name_in_any_order(self) -> None:
        desired = {"c": [{"name": "app", "image": "v2"}, {"name": "side", "image": "s"}]}
        observed = {"c": [{"name": "side", "image": "s", "extra": 1},
                          {"name": "injected", "image": "i"},
                          {"name": "app", "image": "v1"}]}
        assert subset_diff(desired, observed) == ["c[name=app].image"]

    def test_named_lists_missing_item(self) -> None:
        assert subset_diff({"c": [{"name": "a"}]}, {"c": [{"name": "b"}]}) == ["c[name=a]"]

    def test_positional_lists_compare_items_as_subsets(self) -> None:
        assert subset_diff({"l": [{"k": 1}]}, {"l": [{"k": 1, "default": True}]}) == []
        assert subset_diff({"l": [1, 2]}, {"l": [1, 3]}) == ["l[1]"]

    def test_positional_lists_must_have_the_same_length(self) -> None:
        assert subset_diff({"l": [1]}, {"l": [1, 2]}) == ["l"]
        assert subset_diff({"l": [1, 2]}, {"l": [1]}) == ["l"]
        assert subset_diff({"l": []}, {"l": [1]}) == ["l"]

    def test_duplicate_names_fall_back_to_positions(self) -> None:
        assert not is_named_list([{"name": "a"}, {"name": "a"}])
        assert subset_diff({"l": [{"name": "a"}, {"name": "a", "v": 1}]},
                           {"l": [{"name": "a", "v": 1}, {"name": "a"}]}) == ["l[1].v"]

    def test_paths_quote_keys_that_are_not_identifiers(self) -> None:
        desired = {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}
        assert subset_diff(desired, {"metadata": {"labels": {}}}) == [
            'metadata.labels["app.kubernetes.io/name"]'
        ]

    def test_realistic_path(self) -> None:
        desired = {"spec": {"template": {"spec": {"containers": [{"name": "app",
                                                                  "image": "nginx:2"}]}}}}
        observed = {"spec": {"template": {"spec": {"containers": [{"name": "app",
                                                                   "image": "nginx:1"}]}}}}
        assert subset_diff(desired, observed) == ["spec.template.spec.containers[name=app].image"]

    def test_differences_carry_values(self) -> None:
        [found] = differences({"a": {"b": 2}}, {"a": {}})
        assert (found.path, found.desired, found.observed) == ("a.b", 2, MISSING)

    @given(json_values)
    def test_a_value_contains_itself(self, value: Any) -> None:
        assert subset_diff(value, value) == []

    @given(json_values, json_values)
    def test_merging_desired_into_observed_makes_it_contain_desired(
        self, desired: Any, observed: Any
    ) -> None:
        if isinstance(desired, dict) and isinstance(observed, dict):
            assert subset_diff(desired, {**observed, **desired}) == []


class TestHashes:
    def test_desired_hash_ignores_key_order(self) -> None:
        assert desired_hash({"a": 1, "b": [1, {"c": 2, "d": 3}]}) == desired_hash(
            {"b": [1, {"d": 3, "c": 2}], "a": 1}
        )

    def test_desired_hash_is_short_hex_and_stable(self) -> None:
        value = desired_hash({"kind": "ConfigMap", "data": {"a": "b"}})
        assert len(value) == 16 and int(value, 16) >= 0
        # It is stored in annotations: it must not change between releases.
        assert value == "df86c4809078dd84"
        canonical = b'{"data":{"a":"b"},"kind":"ConfigMap"}'
        assert value == hashlib.sha256(canonical).hexdigest()[:16]

    def test_desired_hash_sees_removals(self) -> None:
        assert desired_hash({"a": 1, "b": 2}) != desired_hash({"a": 1})

    def test_canonical_json(self) -> None:
        assert canonical_json({"b": 1, "a": [True, None]}) == b'{"a":[true,null],"b":1}'


class TestProjection:
    def test_keeps_only_desired_paths(self) -> None:
        observed = {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
        assert project(observed, {"a": 0, "b": {"c": 0}}) == {"a": 1, "b": {"c": 2}}

    def test_named_lists_by_name_positional_lists_whole(self) -> None:
        observed = {"c": [{"name": "x", "v": 1, "d": 0}, {"name": "y", "v": 2}],
                    "l": [{"k": 1, "d": 0}, {"k": 2}]}
        desired = {"c": [{"name": "y", "v": 0}], "l": [{"k": 0}]}
        assert project(observed, desired) == {"c": [{"name": "y", "v": 2}],
                                              "l": [{"k": 1}, {"k": 2}]}

    def test_applied_digest_survives_others_fields_not_ours(self) -> None:
        desired = {"spec": {"cpu": "1000m"}}
        written = {"spec": {"cpu": "1"}, "status": {}}
        later = {"spec": {"cpu": "1", "other": True}, "status": {"ready": 1}}
        changed = {"spec": {"cpu": "2"}}
        assert applied_digest(desired, written) == applied_digest(desired, later)
        assert applied_digest(desired, written) != applied_digest(desired, changed)


class TestMergePatch:
    def test_removals_are_nulls(self) -> None:
        assert merge_patch({"a": 1, "b": 2}, {"a": 1}) == {"b": None}

    def test_nested_and_lists(self) -> None:
        old = {"o": {"x": 1, "y": 2}, "l": [1, 2]}
        new = {"o": {"x": 1, "y": 3}, "l": [1]}
        assert merge_patch(old, new) == {"o": {"y": 3}, "l": [1]}

    def test_bool_versus_int_is_a_change(self) -> None:
        assert merge_patch({"a": 1}, {"a": True}) == {"a": True}

    @given(st.dictionaries(st.sampled_from("abc"), json_values),
           st.dictionaries(st.sampled_from("abc"), json_values))
    def test_applying_the_patch_gives_the_new_value(self, old: Any, new: Any) -> None:
        def without_nulls(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: without_nulls(v) for k, v in value.items() if v is not None}
            return value

        new = without_nulls(new)
        assert json_equal(apply_merge_patch(old, merge_patch(old, new)), new)


@pytest.mark.parametrize(("a", "b", "equal"), [
    ({"a": [1, {"b": True}]}, {"a": [1, {"b": True}]}, True),
    ({"a": 1}, {"a": 1.0}, True),
    ({"a": True}, {"a": 1}, False),
    ([True], [1], False),
    ({"a": 1}, {"a": 1, "b": 2}, False),
])
def test_json_equal(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal


@pytest.mark.parametrize("zero", [None, {}, [], "", 0, 0.0, False])
def test_a_missing_field_contains_a_zero_value_the_server_leaves_out(zero: object) -> None:
    # the Go types of built-ins drop omitempty zero values: `data: {}` comes back as nothing
    assert subset_diff({"data": zero}, {}) == []
    assert subset_diff({"spec": {"paused": zero}}, {"spec": {}}) == []


@pytest.mark.parametrize("value", [{"a": "1"}, ["x"], "x", 1, True])
def test_a_missing_field_does_not_contain_a_value(value: object) -> None:
    assert subset_diff({"data": value}, {}) == ["data"]
    # and a zero value stored is still compared: observed false does not contain true
    assert subset_diff({"paused": value}, {"paused": False}) == ["paused"]
