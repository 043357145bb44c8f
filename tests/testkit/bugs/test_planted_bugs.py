"""Proof that the testkit finds bugs: each planted bug is found, each fixed operator passes.

For every buggy operator ``check_operator`` must fail with the expected invariant and a
shrunk scenario of a few steps (printed: run pytest with ``-s`` or ``-rP`` to read it);
the fixed operator must pass the same property test. Hypothesis is derandomized so that
CI sees the same examples on every run.
"""

from __future__ import annotations

from typing import Any

import attrs
import bug_clock_status
import bug_colliding_names
import bug_forgetful_finalize
import bug_reset_on_error
import pytest
from hypothesis import HealthCheck, Phase, settings

from kubeplan.testkit import (
    NotConverged,
    NotFinalized,
    NotQuiet,
    OperatorCheckFailed,
    check_operator,
    run_scenario,
)
from kubeplan.testkit.invariants import InvariantViolation, assert_invariants

FIND = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[p for p in Phase if p is not Phase.explain],
    suppress_health_check=list(HealthCheck),
)
PASS = settings(FIND, max_examples=25)


@attrs.frozen
class PlantedBug:
    name: str
    module: Any
    violation: type[InvariantViolation]
    max_steps_after_shrinking: int
    options: dict[str, Any] = attrs.field(factory=dict)


BUGS = [
    PlantedBug("colliding child names", bug_colliding_names, NotConverged, 2,
               {"child_names": bug_colliding_names.CHILD_NAMES}),
    PlantedBug("status depends on the clock", bug_clock_status, NotQuiet, 1),
    PlantedBug("finalize forgets finalized", bug_forgetful_finalize, NotFinalized, 3),
    PlantedBug("children deleted on an error", bug_reset_on_error, NotQuiet, 2),
]


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_the_property_check_finds_the_planted_bug(bug: PlantedBug) -> None:
    with pytest.raises(OperatorCheckFailed) as caught:
        check_operator(bug.module.buggy, settings=FIND, max_steps=8,
                       operator_name=f"{bug.module.__name__}.buggy", **bug.options)
    failure = caught.value
    print(f"\n=== {bug.name}: the shrunk scenario ===\n{failure.report()}")
    assert isinstance(failure.violation, bug.violation)
    assert len(failure.scenario.steps) <= bug.max_steps_after_shrinking
    assert "Replay it:" in str(failure) and "Scenario.from_yaml(" in str(failure)
    # the printed scenario replays: same failure, from YAML alone
    replayed = run_scenario(bug.module.buggy, type(failure.scenario).from_yaml(
        failure.scenario.to_yaml()))
    with pytest.raises(bug.violation):
        assert_invariants(replayed, bug.module.buggy)


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_the_fixed_operator_passes(bug: PlantedBug) -> None:
    check_operator(bug.module.fixed, settings=PASS, max_steps=8, **bug.options)
