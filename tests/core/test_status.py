"""Conditions: replaced by type, transition time kept while the status holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core_builders import LATER, NOW

from kubeplan.core.status import fill_transition_times, find_condition, format_time, with_condition


def test_format_time_is_rfc3339_utc_seconds() -> None:
    assert format_time(NOW) == "2024-05-01T10:00:00Z"
    assert format_time(datetime(2024, 5, 1, 12, 0, 0, 999, tzinfo=timezone(timedelta(hours=2)))) \
        == "2024-05-01T10:00:00Z"
    assert format_time(datetime(2024, 5, 1, 10, 0)) == "2024-05-01T10:00:00Z"  # naive is UTC


class TestWithCondition:
    def test_adds_a_condition(self) -> None:
        status = with_condition({"phase": "x"}, "Synced", "True", "Synced", "", NOW,
                                observed_generation=3)
        assert status == {"phase": "x", "conditions": [{
            "type": "Synced", "status": "True", "reason": "Synced", "message": "",
            "lastTransitionTime": "2024-05-01T10:00:00Z", "observedGeneration": 3,
        }]}

    def test_does_not_modify_its_input(self) -> None:
        original = {"conditions": [{"type": "Other", "status": "True"}]}
        with_condition(original, "Synced", "True", "Synced", "", NOW)
        assert original == {"conditions": [{"type": "Other", "status": "True"}]}

    def test_keeps_the_transition_time_while_the_status_holds(self) -> None:
        first = with_condition(None, "Synced", "False", "SyncFailed", "one", NOW)
        second = with_condition(first, "Synced", "False", "SyncFailed", "two", LATER)
        assert find_condition(second, "Synced")["lastTransitionTime"] == format_time(NOW)
        assert find_condition(second, "Synced")["message"] == "two"
        third = with_condition(second, "Synced", "True", "Synced", "", LATER)
        assert find_condition(third, "Synced")["lastTransitionTime"] == format_time(LATER)

    def test_previous_may_be_a_status_or_a_condition(self) -> None:
        stored = with_condition(None, "Ready", "True", "Up", "", NOW)
        from_status = with_condition({}, "Ready", "True", "Up", "", LATER, stored)
        from_condition = with_condition({}, "Ready", "True", "Up", "", LATER,
                                        find_condition(stored, "Ready"))
        assert from_status == from_condition
        assert find_condition(from_status, "Ready")["lastTransitionTime"] == format_time(NOW)

    def test_replaces_by_type_and_keeps_others_in_place(self) -> None:
        status = {"conditions": [{"type": "A", "status": "True"}, {"type": "Synced"},
                                 {"type": "B", "status": "False"}]}
        out = with_condition(status, "Synced", True, "Synced", "", NOW)  # type: ignore[arg-type]
        assert [c["type"] for c in out["conditions"]] == ["A", "Synced", "B"]
        assert out["conditions"][1]["status"] == "True"

    def test_long_messages_are_cut(self) -> None:
        out = with_condition(None, "Synced", "False", "X", "m" * 5000, NOW)
        assert len(find_condition(out, "Synced")["message"]) == 2048


def test_fill_transition_times_for_user_conditions() -> None:
    stored = {"conditions": [{"type": "Ready", "status": "True",
                              "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    status = {"conditions": [{"type": "Ready", "status": "True"},
                             {"type": "Degraded", "status": "False"},
                             {"type": "Set", "status": "True", "lastTransitionTime": "given"}]}
    fill_transition_times(status, stored, NOW)
    times = [c["lastTransitionTime"] for c in status["conditions"]]
    assert times == ["2024-01-01T00:00:00Z", "2024-05-01T10:00:00Z", "given"]
