"""The one-call property test of a whole operator.

::

    def test_member_operator():
        check_operator(operator)               # runs hypothesis itself

    @given(st.data())
    def test_member_operator_under_given(data):
        check_operator(operator, data=data)    # one scenario per example of the caller's test

``check_operator`` draws scenarios for the operator (parents from its spec class or CRD,
steps that create, patch and delete them, edit and delete their children, put foreign
objects in the way, inject faults, advance time and restart the operator), runs each with
``run_scenario`` and asserts every invariant of ``kubeplan.testkit.invariants``. On failure
hypothesis shrinks the scenario, and the error shows the shrunk scenario as YAML, how to
replay it, the violated invariant and the end of the trace.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context, note

from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.types import K8sType
from kubeplan.testkit import strategies as ks
from kubeplan.testkit.invariants import InvariantViolation, assert_invariants
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import Scenario
from kubeplan.testkit.simulation import as_definition
from kubeplan.testkit.trace import Trace

__all__ = [
    "DEFAULT_SETTINGS",
    "OperatorCheckFailed",
    "check_operator",
    "check_scenario",
    "operator_scenarios",
]

DEFAULT_SETTINGS = hypothesis_settings(
    max_examples=50,
    deadline=None,
    database=None,
    phases=tuple(p for p in Phase if p is not Phase.explain),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Hypothesis settings of ``check_operator`` when none are given: 50 scenarios, no
deadline (a scenario runs a whole operator), no example database (a failure is replayed
from its printed YAML instead), and no "explain" phase (it traces every line of the
runtime and the fake server with ``sys.settrace``, which makes shrinking ten times slower;
the trace explains a failure better)."""


class OperatorCheckFailed(AssertionError):
    """A scenario broke an invariant; carries the ``scenario``, its ``trace`` and the
    ``violation``. The message holds the scenario as YAML and how to replay it."""

    def __init__(
        self, operator_name: str, scenario: Scenario, trace: Trace, violation: InvariantViolation
    ) -> None:
        self.scenario = scenario
        self.trace = trace
        self.violation = violation
        super().__init__(self.report(operator_name))

    def report(self, operator_name: str = "operator") -> str:
        yaml_text = self.scenario.to_yaml()
        replay = textwrap.dedent(
            f'''\
            from kubeplan.testkit import Scenario, assert_invariants, run_scenario

            scenario = Scenario.from_yaml("""
            {textwrap.indent(yaml_text, "            ").strip()}
            """)
            trace = run_scenario({operator_name}, scenario)
            print(trace)
            assert_invariants(trace, {operator_name})'''
        )
        return "\n".join(
            [
                str(self.violation),
                "",
                "The failing scenario:",
                textwrap.indent(str(self.scenario), "  "),
                "",
                "As YAML (save it with Scenario.save for a regression test):",
                textwrap.indent(yaml_text.rstrip(), "  "),
                "",
                "Replay it:",
                textwrap.indent(replay, "  "),
                "",
                "The trace:",
                textwrap.indent(self.trace.tail(80), "  "),
            ]
        )


def _default_parents(definition: OperatorDefinition) -> st.SearchStrategy[dict[str, Any]]:
    parent = definition.config.parent
    if definition.crd is not None:
        return ks.parents_from_crd(definition.crd)
    if definition.spec_class is not None:
        return ks.parents(parent, definition.spec_class)
    return ks.objects_of(parent, ks.json_objects())


def operator_scenarios(
    operator: Any,
    *,
    parents: st.SearchStrategy[dict[str, Any]] | None = None,
    max_steps: int = 20,
    faults: bool | int = True,
    parent_names: Sequence[str] = ("p0", "p1"),
    child_names: st.SearchStrategy[str] | Sequence[str] | None = None,
) -> st.SearchStrategy[Scenario]:
    """Scenarios for one operator: a ``create_parent`` then up to ``max_steps`` steps.

    Specs come from ``parents`` (a strategy of parent objects; by default derived from the
    definition's CRD or spec class). Steps name parents from ``parent_names`` and children
    from ``child_names`` (default: the parent names, the usual naming convention; give the
    names your operator uses so that edits, deletes and foreign objects hit them).
    ``faults``: True for the default 5 % of fault steps, False for none, or a percentage.
    """
    definition = as_definition(operator)
    specs = (parents if parents is not None else _default_parents(definition)).map(
        lambda obj: obj.get("spec") or {}
    )
    if isinstance(child_names, Sequence) and not isinstance(child_names, str):
        child_names = st.sampled_from(list(child_names))
    fault_rate = 5 if faults is True else 0 if faults is False else int(faults)
    return ks.scenarios(
        max_steps=max_steps,
        specs=specs,
        parent_names=tuple(parent_names),
        child_types=definition.config.child_types,
        child_names=child_names,
        fault_rate=fault_rate,
    )


def check_scenario(
    operator: Any,
    scenario: Scenario,
    *,
    runtime_settings: RuntimeSettings | None = None,
    writes_per_change: int | None = None,
    allow_handler_errors: bool = False,
    skip: Iterable[str] = (),
    extra_types: Iterable[K8sType] = (),
    extra_crds: Iterable[Mapping[str, Any]] = (),
    operator_name: str | None = None,
) -> Trace:
    """Run one scenario and assert every invariant; ``OperatorCheckFailed`` if one breaks."""
    definition = as_definition(operator)
    trace = run_scenario(
        definition,
        scenario,
        settings=runtime_settings,
        extra_types=extra_types,
        extra_crds=extra_crds,
    )
    try:
        assert_invariants(
            trace,
            definition,
            writes_per_change=writes_per_change,
            allow_handler_errors=allow_handler_errors,
            skip=skip,
        )
    except InvariantViolation as violation:
        raise OperatorCheckFailed(
            operator_name or definition.config.name, scenario, trace, violation
        ) from None
    return trace


def check_operator(
    operator: Any,
    *,
    parents: st.SearchStrategy[dict[str, Any]] | None = None,
    max_steps: int = 20,
    faults: bool | int = True,
    settings: hypothesis_settings | None = None,
    data: st.DataObject | None = None,
    runtime_settings: RuntimeSettings | None = None,
    parent_names: Sequence[str] = ("p0", "p1"),
    child_names: st.SearchStrategy[str] | Sequence[str] | None = None,
    writes_per_change: int | None = None,
    allow_handler_errors: bool = False,
    skip: Iterable[str] = (),
    extra_types: Iterable[K8sType] = (),
    extra_crds: Iterable[Mapping[str, Any]] = (),
    operator_name: str | None = None,
) -> None:
    """Property-test ``operator`` (an ``OperatorDefinition`` or ``(config, handler)``).

    Standalone, it runs hypothesis with ``settings`` (default ``DEFAULT_SETTINGS``; the
    explain phase is always left out and ``report_multiple_bugs`` off) and raises
    ``OperatorCheckFailed`` for the shrunk failing scenario. Under the caller's
    ``@given(st.data())``, pass ``data=data``: one scenario is drawn and checked per
    example, and the caller's hypothesis shrinks it. See ``operator_scenarios`` for the
    scenario options, ``kubeplan.testkit.invariants`` for ``writes_per_change``,
    ``allow_handler_errors`` and ``skip``. ``operator_name`` is how the replay hint names
    the operator (default: its config name).
    """
    strategy = operator_scenarios(
        operator,
        parents=parents,
        max_steps=max_steps,
        faults=faults,
        parent_names=parent_names,
        child_names=child_names,
    )
    options: dict[str, Any] = {
        "runtime_settings": runtime_settings,
        "writes_per_change": writes_per_change,
        "allow_handler_errors": allow_handler_errors,
        "skip": tuple(skip),
        "extra_types": tuple(extra_types),
        "extra_crds": tuple(extra_crds),
        "operator_name": operator_name,
    }
    if data is not None:
        scenario = data.draw(strategy, label="scenario")
        note(scenario.to_yaml())
        check_scenario(operator, scenario, **options)
        return
    if currently_in_test_context():
        raise TypeError(
            "check_operator was called inside a hypothesis test: pass data=... from "
            "@given(st.data()), or call it outside @given to let it run hypothesis itself"
        )

    @given(strategy)
    def run(scenario: Scenario) -> None:
        check_scenario(operator, scenario, **options)

    chosen = settings or DEFAULT_SETTINGS
    # Always one failure, shrunk (not an ExceptionGroup of "distinct" ones), and never the
    # explain phase (see DEFAULT_SETTINGS): both whatever settings the caller gives.
    hypothesis_settings(
        chosen,
        report_multiple_bugs=False,
        phases=tuple(p for p in chosen.phases if p is not Phase.explain),
    )(run)()
