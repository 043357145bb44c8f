"""The apply memo: an immutable record of our own writes."""

from __future__ import annotations

import pytest
from core_builders import deployment

from kubeplan.core.compare import applied_digest
from kubeplan.core.config import ANNOTATION_DESIRED_HASH
from kubeplan.core.memo import ApplyMemo, MemoEntry


def sent(hash_: str = "h1") -> dict:
    obj = deployment()
    obj["metadata"]["annotations"] = {ANNOTATION_DESIRED_HASH: hash_}
    return obj


def written(uid: str = "u1", version: str = "5") -> dict:
    obj = sent()
    obj["metadata"].update(uid=uid, resourceVersion=version)
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "1"
    return obj


class TestApplyMemo:
    def test_empty(self) -> None:
        memo = ApplyMemo.empty()
        assert len(memo) == 0
        assert memo.get("u1") is None
        assert "u1" not in memo

    def test_record_write(self) -> None:
        memo = ApplyMemo.empty().record_write(sent(), written())
        entry = memo.get("u1")
        assert (entry.desired_hash, entry.resource_version) == ("h1", "5")
        assert entry.digest(sent()) == applied_digest(sent(), written())
        assert memo["u1"] is entry
        assert list(memo) == ["u1"]

    def test_is_immutable(self) -> None:
        empty = ApplyMemo.empty()
        one = empty.record_write(sent(), written())
        assert len(empty) == 0 and len(one) == 1
        two = one.forget("u1")
        assert len(one) == 1 and len(two) == 0 and "u1" not in two

    def test_a_write_without_uid_is_not_recorded(self) -> None:
        dry_run = written()
        del dry_run["metadata"]["uid"]
        memo = ApplyMemo.empty()
        assert memo.record_write(sent(), dry_run) is memo

    def test_later_writes_replace_earlier_ones(self) -> None:
        memo = ApplyMemo.empty().record_write(sent(), written(version="5"))
        memo = memo.record_write(sent("h2"), written(version="9"))
        assert memo["u1"].resource_version == "9"
        assert memo["u1"].desired_hash == "h2"
        assert len(memo) == 1

    def test_many_writes_share_structure_and_stay_correct(self) -> None:
        memo = ApplyMemo.empty()
        for i in range(500):
            memo = memo.record(f"u{i}", MemoEntry("h", str(i), "d"))
        for i in range(0, 500, 3):
            memo = memo.forget(f"u{i}")
        expected = {f"u{i}": MemoEntry("h", str(i), "d") for i in range(500) if i % 3}
        assert dict(memo.items()) == expected
        assert len(memo) == len(expected)
        assert memo == ApplyMemo(expected)
        assert memo.forget("missing") is memo

    def test_retain(self) -> None:
        memo = ApplyMemo({"a": MemoEntry("h", "1", "d"), "b": MemoEntry("h", "2", "d")})
        assert list(memo.retain(["b", "c"])) == ["b"]


def test_a_written_childs_digest_is_computed_once_when_first_needed() -> None:
    entry = ApplyMemo.empty().record_write(sent(), written())["u1"]
    assert entry.applied_digest is None and "when first needed" in repr(entry)
    assert entry == ApplyMemo.empty().record_write(sent(), written())["u1"]  # by value
    assert entry.digest(sent()) == applied_digest(sent(), written())
    assert entry.applied_digest == applied_digest(sent(), written())
    assert entry._written is None  # the object is let go once the digest is known
    assert entry == MemoEntry("h1", "5", applied_digest(sent(), written()))
    with pytest.raises(AttributeError, match="immutable"):
        entry.resource_version = "6"  # type: ignore[misc]
    with pytest.raises(TypeError, match="either its digest or the written object"):
        MemoEntry("h", "1")


def test_an_entrys_equality_and_hash_stay_when_its_digest_is_computed() -> None:
    entry = ApplyMemo.empty().record_write(sent(), written())["u1"]
    twin = MemoEntry("h1", "5", applied_digest(sent(), written()))
    before = (entry == twin, hash(entry), entry in {twin})
    entry.digest(sent())
    assert (entry == twin, hash(entry), entry in {twin}) == before == (True, hash(twin), True)
