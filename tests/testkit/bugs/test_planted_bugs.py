"""Proof that the testkit finds bugs: each planted bug is found, each fixed operator passes.

For every buggy operator ``check_operator`` must fail with the expected invariant and a
shrunk scenario of a few steps (printed: run pytest with ``-s`` or ``-rP`` to read it);
the fixed operator must pass the same property test. Hypothesis is derandomized so that
CI sees the same examples on every run.

The newcomer's bugs (``newcomer_webapp``, issue 17) are found by ``check_operator`` with
its defaults: no settings, no options, a spec class whose fields carry validators.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import attrs
import bug_clock_status
import bug_colliding_names
import bug_forgetful_finalize
import bug_reset_on_error
import newcomer_webapp
import pytest
from hypothesis import HealthCheck, Phase, settings

from kubeplan.testkit import (
    NotConverged,
    NotFinalized,
    NotQuiet,
    OperatorCheckFailed,
    RefusedWrite,
    check_operator,
    run_scenario,
)
from kubeplan.testkit.check import DEFAULT_SETTINGS
from kubeplan.testkit.invariants import InvariantViolation, assert_invariants

# Up to 300 scenarios: some bugs need a few steps in order (a create, a settle, a delete),
# which only one random scenario in fifty or so has; the search stops at the first found.
FIND = settings(
    max_examples=300,
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
    PlantedBug("children deleted on an error", bug_reset_on_error, NotQuiet, 3),
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
    assert "Replay it:" in str(failure) and "Scenario.load(" in str(failure)
    # the printed scenario replays: same failure, from YAML alone
    replayed = run_scenario(bug.module.buggy, type(failure.scenario).from_yaml(
        failure.scenario.to_yaml()))
    with pytest.raises(bug.violation):
        assert_invariants(replayed, bug.module.buggy)


def _replay_code(message: str) -> str:
    block = message.split("Replay it:\n", 1)[1].split("\n\n", 2)
    return textwrap.dedent("\n\n".join(block[:2]))


@pytest.mark.parametrize("bug", BUGS[:2], ids=lambda b: b.name)
def test_the_replay_code_runs_as_printed(bug: PlantedBug, _failures_in_tmp: Path) -> None:
    with pytest.raises(OperatorCheckFailed) as caught:
        check_operator(bug.module.buggy, settings=FIND, max_steps=8, **bug.options)
    failure = caught.value
    assert failure.saved_to is not None and failure.saved_to.parent == _failures_in_tmp
    assert failure.saved_to.read_text() == failure.scenario.to_yaml()
    assert f"saved to {failure.saved_to}" in str(failure)
    code = _replay_code(str(failure))
    assert f"from {bug.module.__name__} import buggy" in code
    with pytest.raises(bug.violation):
        exec(compile(code, "replay", "exec"), {})


NEWCOMER_BUGS = [
    ("a time-dependent annotation", newcomer_webapp.stamped, NotQuiet, "rendered-at"),
    ("a wall-clock read", newcomer_webapp.wall_clock, NotQuiet, "lastSynced"),
    ("invalid child names", newcomer_webapp.invalid_names, RefusedWrite,
     "a lowercase RFC 1123 subdomain"),
    ("a status counter", newcomer_webapp.counter, NotQuiet, "syncs"),
    ("unbounded replicas", newcomer_webapp.unbounded_replicas, RefusedWrite,
     "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
]
# check_operator's own defaults (50 scenarios, no options), derandomized so that CI draws
# the same 50 every run: how often random runs find each bug is bench/newcomer_bench.py's
# figure, not a test's.
DEFAULTS_DERANDOMIZED = settings(DEFAULT_SETTINGS, derandomize=True)


@pytest.mark.parametrize(("bug", "operator", "violation", "clue"), NEWCOMER_BUGS,
                         ids=[b[0] for b in NEWCOMER_BUGS])
def test_check_operator_with_its_defaults_finds_the_newcomers_bug(
    bug: str, operator: Any, violation: type[InvariantViolation], clue: str
) -> None:
    with pytest.raises(OperatorCheckFailed) as caught:
        check_operator(operator, settings=DEFAULTS_DERANDOMIZED)
    failure = caught.value
    print(f"\n=== {bug} ===\n{failure}")
    assert isinstance(failure.violation, violation)
    assert clue in str(failure)
    assert len(failure.scenario.steps) <= 2


def test_the_refused_write_leads_the_report() -> None:
    with pytest.raises(OperatorCheckFailed) as caught:
        check_operator(newcomer_webapp.invalid_names, settings=DEFAULTS_DERANDOMIZED)
    failure = caught.value
    lines = str(failure).splitlines()
    assert lines[0].startswith("the API server refused the operator's writes as invalid")
    assert lines[1].startswith('  - create configmaps default (new) -> 422: ConfigMap "P0" '
                               "is invalid: metadata.name")
    assert "a lowercase RFC 1123 subdomain" in lines[1]
    # the run stopped at the first settle after the refusal: no retries waited out
    assert failure.trace.stopped is not None
    assert failure.trace.stopped.startswith("the server refused a write as invalid: create "
                                            "configmaps default (new) -> 422")
    assert f"stopped: {failure.trace.stopped}" in str(failure.trace)


def test_skipping_accepted_lets_the_run_go_on_and_another_invariant_fail() -> None:
    with pytest.raises(OperatorCheckFailed) as caught:
        check_operator(newcomer_webapp.invalid_names, settings=DEFAULTS_DERANDOMIZED,
                       skip=["accepted"])
    failure = caught.value
    assert not isinstance(failure.violation, RefusedWrite)
    assert failure.trace.stopped is None
    assert failure.trace.refused_writes  # still noted, only not judged
    # the old report's lead: the refused write as the likely cause of what failed
    assert str(failure).startswith("The API server refused a write the operator makes")
    # the lead lists the server's own record of the refusal, each write once
    lead = str(failure).split("\n\n", 1)[0]
    assert failure.trace.distinct_refusals()[-1] in lead
    assert len(lead.splitlines()) - 1 == min(3, len(failure.trace.distinct_refusals()))


def test_the_newcomers_correct_operator_passes_with_the_defaults() -> None:
    check_operator(newcomer_webapp.fixed)


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_the_fixed_operator_passes(bug: PlantedBug) -> None:
    check_operator(bug.module.fixed, settings=PASS, max_steps=8, **bug.options)
