"""``PermanentError`` and ``RetryAfter``: what a handler raises to say what should happen next,
and the plan the planner makes of them (the runtime's side is in tests/adapters)."""

from __future__ import annotations

import pickle

import pytest
from core_builders import owned, run, service
from test_planner import request

from kubeplan.core import (
    HandlerError,
    InvalidArgument,
    KubeplanError,
    PermanentError,
    RetryAfter,
)
from kubeplan.core.status import find_condition


class TestConstruction:
    def test_both_are_kubeplan_errors(self) -> None:
        assert isinstance(PermanentError("InvalidSpec"), KubeplanError)
        assert isinstance(RetryAfter(3), KubeplanError)

    def test_fields_and_text(self) -> None:
        error = PermanentError("InvalidSpec", "spec.size must be one of S, M, L")
        assert (error.reason, error.message) == ("InvalidSpec", "spec.size must be one of S, M, L")
        assert str(error) == "InvalidSpec: spec.size must be one of S, M, L"
        retry = RetryAfter(30, reason="QuotaExceeded", message="the bucket refills at :00")
        assert (retry.seconds, retry.reason) == (30.0, "QuotaExceeded")
        assert str(retry) == "QuotaExceeded: the bucket refills at :00 (retry in 30s)"
        assert str(RetryAfter(2.5)) == "RetryAfter (retry in 2.5s)"

    def test_they_survive_pickling(self) -> None:
        # handlers may run in other processes; the error must come back whole
        error = pickle.loads(pickle.dumps(PermanentError("Bad", "m")))
        assert (type(error), error.reason, error.message) == (PermanentError, "Bad", "m")
        retry = pickle.loads(pickle.dumps(RetryAfter(4, "Later", "m")))
        assert (retry.seconds, retry.reason, retry.message) == (4.0, "Later", "m")

    @pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), "5", True, None])
    def test_retry_after_needs_a_positive_number(self, seconds: object) -> None:
        with pytest.raises(InvalidArgument, match="RetryAfter: seconds must be a finite"):
            RetryAfter(seconds)  # type: ignore[arg-type]

    @pytest.mark.parametrize("reason", ["", "has space", "9lives", "trailing,", 3, "x" * 1025])
    def test_the_reason_must_be_a_condition_reason(self, reason: object) -> None:
        with pytest.raises(InvalidArgument, match="PermanentError: reason must be") as info:
            PermanentError(reason)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError)  # ``except ValueError`` still catches it
        with pytest.raises(InvalidArgument, match="RetryAfter: reason must be"):
            RetryAfter(1, reason=reason)  # type: ignore[arg-type]

    def test_the_message_must_be_text(self) -> None:
        with pytest.raises(InvalidArgument, match="message must be a string"):
            PermanentError("Bad", 3)  # type: ignore[arg-type]


class TestPlans:
    def test_permanent_error_sets_the_reason_and_holds(self) -> None:
        observed = owned(service("a"), uid="c-a")
        result = run(request(observed), PermanentError("InvalidSpec", "size XL is not offered"))
        assert result.child_actions == ()  # failure never deletes
        assert result.permanent and result.retry_in is None
        assert result.error_reason == "InvalidSpec"
        assert result.error == "size XL is not offered"
        condition = find_condition(result.desired_status, "Synced")
        assert (condition["status"], condition["reason"], condition["message"]) == (
            "False", "InvalidSpec", "size XL is not offered")
        assert "hold    " in str(result)

    def test_retry_after_sets_the_delay(self) -> None:
        result = run(request(), RetryAfter(45, reason="QuotaExceeded"))
        assert result.retry_in == 45.0 and not result.permanent
        assert result.error_reason == "QuotaExceeded"
        condition = find_condition(result.desired_status, "Synced")
        assert (condition["status"], condition["reason"]) == ("False", "QuotaExceeded")
        assert condition["message"] == "QuotaExceeded (retry in 45s)"  # no message: the text
        assert result.to_dict()["retry_in"] == 45.0
        assert "retry   " in str(result)

    def test_wrapped_in_a_handler_error_they_still_count(self) -> None:
        wrapped = HandlerError(PermanentError("Bad", "m"), parent="P n/m")
        assert run(request(), wrapped).permanent

    def test_other_errors_are_neither(self) -> None:
        result = run(request(), ValueError("x"))
        assert not result.permanent and result.retry_in is None and result.error_reason is None
        assert find_condition(result.desired_status, "Synced")["reason"] == "SyncFailed"

    def test_same_inputs_same_plan(self) -> None:
        # the plan is a pure function of its inputs: no clock read for the retry
        assert run(request(), RetryAfter(5)) == run(request(), RetryAfter(5))
