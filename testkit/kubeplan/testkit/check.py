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
hypothesis shrinks the scenario, and the error shows, in this order: the write the API
server refused (when a refusal is the likely cause), the violated invariant, the shrunk
scenario, where it was saved (``.kubeplan/failures/``, or ``$KUBEPLAN_FAILURES_DIR``), how
to replay it, and the end of the trace. kubeplan's own frames are hidden from pytest's
traceback (``__tracebackhide__``), and the runtime's warnings are not printed on stderr
when nothing else has configured logging.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context, note
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import KubeplanError, WrongArgumentType
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.types import K8sType
from kubeplan.testkit import strategies as ks
from kubeplan.testkit.conversions import specs_of_version
from kubeplan.testkit.invariants import InvariantViolation, RefusedWrite, assert_invariants
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import Scenario
from kubeplan.testkit.simulation import as_definition
from kubeplan.testkit.trace import Trace

__all__ = [
    "DEFAULT_SETTINGS",
    "FAILURES_DIR_ENV",
    "OperatorCheckFailed",
    "check_operator",
    "check_scenario",
    "operator_scenarios",
    "refused_writes",
    "replay_reference",
    "save_failure",
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


FAILURES_DIR_ENV = "KUBEPLAN_FAILURES_DIR"
"""The environment variable naming the folder failing scenarios are saved in (default
``.kubeplan/failures`` under the current directory)."""


class OperatorCheckFailed(KubeplanError, AssertionError):
    """A scenario broke an invariant; carries the ``scenario``, its ``trace`` and the
    ``violation``. The message holds the scenario and how to replay it; ``saved_to`` is
    the file ``check_operator`` saved the shrunk scenario in (None when it did not)."""

    def __init__(
        self,
        operator_name: str,
        scenario: Scenario,
        trace: Trace,
        violation: InvariantViolation,
        *,
        operator_import: str = "",
        saved_to: Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.trace = trace
        self.violation = violation
        self.operator_name = operator_name
        self.operator_import = operator_import
        self.saved_to = saved_to
        self._message: str | None = None
        # the message is written when first read: while hypothesis shrinks, each failing
        # attempt raises one, and formatting its scenario and trace was half its cost
        super().__init__()

    def __str__(self) -> str:
        if self._message is None:
            self._message = self.report(self.operator_name)
        return self._message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def saved(self, path: Path) -> OperatorCheckFailed:
        """The same failure, its message naming the file the scenario was saved in."""
        return OperatorCheckFailed(
            self.operator_name, self.scenario, self.trace, self.violation,
            operator_import=self.operator_import, saved_to=path,
        )

    def report(self, operator_name: str | None = None) -> str:
        """The message: refused write, violation, scenario, replay code, trace."""
        name = operator_name or self.operator_name
        yaml_text = self.scenario.to_yaml()
        imports = ["from kubeplan.testkit import Scenario, assert_invariants, run_scenario"]
        if self.operator_import:
            imports.append(self.operator_import)
        if self.saved_to is not None:
            load = f"scenario = Scenario.load({_display_path(self.saved_to)!r})"
        else:
            load = (
                'scenario = Scenario.from_yaml("""\n' + yaml_text.rstrip() + '\n""")'
            )
        replay = "\n".join(
            [
                *imports,
                "",
                load,
                f"trace = run_scenario({name}, scenario)",
                "print(trace)",
                f"assert_invariants(trace, {name})",
            ]
        )
        lines: list[str] = []
        # a RefusedWrite says it itself; any other violation may be one's consequence
        refused = [] if isinstance(self.violation, RefusedWrite) else refused_writes(self.trace)
        if refused:
            lines += [
                "The API server refused a write the operator makes (the likely cause: fix the "
                "object sync returns):",
                *(f"  {r}" for r in refused),
                "",
            ]
        where = (
            f" (saved to {_display_path(self.saved_to)})" if self.saved_to is not None else ""
        )
        lines += [
            str(self.violation),
            "",
            f"The failing scenario{where}:",
            textwrap.indent(str(self.scenario), "  "),
            "",
            "Replay it:",
            textwrap.indent(replay, "  "),
        ]
        if self.saved_to is not None:  # else the replay code holds the YAML already
            lines += [
                "",
                "As YAML (Scenario.from_yaml reads it back):",
                textwrap.indent(yaml_text.rstrip(), "  "),
            ]
        lines += ["", "The trace:", textwrap.indent(self.trace.tail(80), "  ")]
        return "\n".join(lines)


def refused_writes(trace: Trace, *, limit: int = 3) -> list[str]:
    """The operator's writes the API server refused as invalid (400/422, no fault
    injected), newest first, each once: when an operator never converges, this is usually
    why. Read from the server's own request log (``trace.refused_writes``)."""
    return trace.distinct_refusals()[::-1][:limit]


def _display_path(path: Path) -> str:
    """``path`` relative to the current directory when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def save_failure(scenario: Scenario, label: str) -> Path | None:
    """Save a failing scenario as YAML in ``$KUBEPLAN_FAILURES_DIR`` (default
    ``.kubeplan/failures``), named after ``label`` and its content; None if that failed."""
    folder = Path(os.environ.get(FAILURES_DIR_ENV) or Path(".kubeplan") / "failures")
    text = scenario.to_yaml()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "scenario"
    path = folder / f"{slug[:80]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}.yaml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return path


def _failure_label(definition: OperatorDefinition) -> str:
    """The current pytest test (``test_x.py::test_y``) or else the operator's name."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    test = current.rsplit(" (", 1)[0].rsplit("/", 1)[-1]
    return test.replace("::", "-") if test else definition.config.name


def _module_name_of(value: Any) -> str | None:
    for candidate in (value, getattr(value, "__func__", None), type(value)):
        name = getattr(candidate, "__module__", None)
        if isinstance(name, str):
            return name
    return None


def _importable(module_name: str | None) -> bool:
    # __main__ and the modules `kubeplan` loads from a file path cannot be imported by name
    return bool(module_name) and module_name != "__main__" and not str(
        module_name
    ).startswith("_kubeplan_target_") and module_name in sys.modules


def _name_in(module_name: str, value: Any) -> str | None:
    module = sys.modules.get(module_name)
    for name, candidate in vars(module).items() if module is not None else ():
        if candidate is value and not name.startswith("_"):
            return name
    return None


def replay_reference(operator: Any) -> tuple[str, str]:
    """``(import line, expression)`` that name ``operator`` in replay code: the module
    that defines it and its name there (``from webapp import operator``). An operator
    not found at module level gets a placeholder line that says so."""
    if isinstance(operator, tuple) and len(operator) == 2:
        config, handler = operator
        module = _module_name_of(HandlerInfo.of(handler).sync)
        if module and _importable(module):
            names = (_name_in(module, config), _name_in(module, handler))
            if names[0] and names[1]:
                return f"from {module} import {names[0]}, {names[1]}", f"({names[0]}, {names[1]})"
        return "operator = (config, sync)  # the operator under test: import it here", "operator"
    handler = operator.handler if isinstance(operator, OperatorDefinition) else None
    candidates = [_module_name_of(HandlerInfo.of(handler).sync)] if handler is not None else []
    candidates.append(_module_name_of(getattr(operator, "spec_class", None)))
    for module in candidates:
        if module and _importable(module):
            name = _name_in(module, operator)
            if name:
                return f"from {module} import {name}", name
    return "operator = ...  # the OperatorDefinition under test: import it here", "operator"


def _named_reference(operator_name: str) -> tuple[str, str]:
    """The replay reference for a name the caller chose (``module.attr`` is imported)."""
    module, _, attr = operator_name.rpartition(".")
    if module and attr and _importable(module):
        return f"import {module}", operator_name
    return "", operator_name


@contextlib.contextmanager
def _runtime_logs_kept_quiet() -> Iterator[None]:
    """Keep the runtime's warnings off stderr while scenarios run, unless logging is set
    up (pytest's log capture, ``logging.basicConfig``): the trace holds every failure.

    Without any handler, Python prints WARNING records through ``logging.lastResort``; a
    ``NullHandler`` on the ``kubeplan`` logger takes them instead.
    """
    logger = logging.getLogger("kubeplan")
    if logging.getLogger().handlers or logger.handlers:
        yield
        return
    quiet = logging.NullHandler()
    logger.addHandler(quiet)
    try:
        yield
    finally:
        logger.removeHandler(quiet)


def operator_scenarios(
    operator: Any,
    *,
    parents: st.SearchStrategy[dict[str, Any]] | None = None,
    max_steps: int = 20,
    faults: bool | int = True,
    parent_names: Sequence[str] = ("p0", "p1"),
    child_names: st.SearchStrategy[str] | Sequence[str] | None = None,
    source_items: Mapping[str, st.SearchStrategy[list[dict[str, Any]]]] | None = None,
) -> st.SearchStrategy[Scenario]:
    """Scenarios for one operator: a ``create_parent`` then up to ``max_steps`` steps.

    Specs come from ``parents`` (a strategy of parent objects; by default
    ``strategies.specs_for(definition)``, the specs ``parents_for`` draws: from the CRD
    the definition has or derives from its spec class, bounds, patterns and enums
    included). Steps name parents from
    ``parent_names`` and children from ``child_names`` (default: the parent names, the
    usual naming convention; give the names your operator uses so that edits, deletes and
    foreign objects hit them). ``faults``: True for the default 5 % of fault steps, False
    for none, or a percentage. An operator's external sources get steps that change
    their items (drawn from ``source_items[name]``, default ``strategies.source_items``
    with the source's id field) and, among the faults, answers that fail, time out or are
    stale.
    """
    return _operator_scenarios(
        operator, parents=parents, max_steps=max_steps, faults=faults,
        parent_names=parent_names, child_names=child_names, source_items=source_items,
    )


def _operator_scenarios(
    operator: Any,
    *,
    parents: st.SearchStrategy[dict[str, Any]] | None,
    max_steps: int,
    faults: bool | int,
    parent_names: Sequence[str],
    child_names: st.SearchStrategy[str] | Sequence[str] | None,
    on_refused: Any = None,
    source_items: Mapping[str, st.SearchStrategy[list[dict[str, Any]]]] | None = None,
) -> st.SearchStrategy[Scenario]:
    definition = as_definition(operator)
    given = dict(source_items or {})
    sources = {name: given[name] if name in given else ks.source_items(d.source.id_field)
               for name, d in definition.config.sources.items()}
    specs = (ks.specs_for(definition, on_refused=on_refused) if parents is None
             else parents.map(lambda obj: obj.get("spec") or {}))
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
        parent_filter=(None if definition.config.filters.selects_all
                       else definition.config.filters),
        versioned_specs=_other_versions(definition),
        sources=sources,
    )


def _other_versions(definition: OperatorDefinition) -> dict[str, st.SearchStrategy[Any]]:
    """Specs of the served versions the operator does not watch: a versioned parent is
    also created and patched by clients of its other versions (the fake converts)."""
    versions = definition.version_set
    if versions is None:
        return {}
    watched = definition.config.parent.version
    return {
        v.name: specs_of_version(definition, v.name)
        for v in versions.versions if v.served and v.name != watched
    }


def _cannot_draw(
    exc: FailedHealthCheck | Unsatisfiable,
    definition: OperatorDefinition,
    refusals: list[str],
    parents_given: bool,
) -> FailedHealthCheck | Unsatisfiable:
    """The hypothesis error, reworded to say which specs were refused and what to pass."""
    kind = definition.config.parent.kind
    spec_class = definition.spec_class
    if refusals and spec_class is not None:
        cls = spec_class.__name__
        last = refusals[-1]
        field = last.split(":", 1)[0] if re.match(r"\w+\.\w+:", last) else f"{cls}.<field>"
        cause = (
            f"{len(refusals)} drawn {kind} specs were refused by {cls}'s validators (the "
            f"last: {last}). Specs are drawn from the CRD schema that `kubeplan crd` "
            f"derives, so state the field's bounds in attrs.field(metadata={{'minimum': ..., "
            f"'maximum': ..., 'pattern': ...}}) next to its validator, or give it values of "
            f"its own: check_operator(operator, parents=strategies.parents({kind}, {cls}, "
            f"overrides={{'{field}': st.sampled_from([...])}}))"
        )
    elif parents_given:
        cause = (
            "the parents= strategy given to check_operator filters out most of what it "
            "draws; build the values directly instead of filtering them"
        )
    else:
        cause = (
            f"most drawn {kind} specs were filtered out; pass check_operator(operator, "
            "parents=...) with a strategy of parents (kubeplan.testkit.strategies.parents("
            "Type, SpecClass, overrides={'SpecClass.field': strategy}) or parents_from_crd)"
        )
    return type(exc)(
        f"check_operator could not draw enough scenarios: {cause}.\n\nhypothesis said: "
        f"{str(exc).splitlines()[0]}"
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
    """Run one scenario and assert every invariant; ``OperatorCheckFailed`` if one breaks.

    ``operator_name`` is how the replay code names the operator (``module.attr`` is
    imported); by default the module and name it is defined under."""
    __tracebackhide__ = True
    trace, violation = _run_and_assert(
        operator, scenario, runtime_settings=runtime_settings,
        writes_per_change=writes_per_change, allow_handler_errors=allow_handler_errors,
        skip=tuple(skip), extra_types=extra_types, extra_crds=extra_crds,
    )
    if violation is not None:
        raise _failure(operator, scenario, trace, violation, operator_name)
    return trace


def _failure(operator: Any, scenario: Scenario, trace: Trace, violation: InvariantViolation,
             operator_name: str | None) -> OperatorCheckFailed:
    if operator_name:
        operator_import, expression = _named_reference(operator_name)
    else:
        operator_import, expression = replay_reference(operator)
    return OperatorCheckFailed(
        expression, scenario, trace, violation, operator_import=operator_import
    )


Outcomes = dict[str, tuple[Trace, InvariantViolation] | None]
"""The scenarios one ``check_operator`` ran, by ``repr``: None for one that passed."""


def _check_remembered(operator: Any, scenario: Scenario, outcomes: Outcomes,
                      operator_name: str | None, run_options: Mapping[str, Any]) -> None:
    """``check_scenario``, but a scenario checked before is not run again.

    A run is a function of its scenario (virtual time, seeded), and hypothesis asks for
    equal scenarios often: different choice sequences draw the same one (a third of a
    shrink's candidates, and of a passing check's 50 examples). The failure is raised
    from this one place whether remembered or new, so hypothesis sees one bug."""
    __tracebackhide__ = True
    key = repr(scenario)
    if key in outcomes:
        known = outcomes[key]
    else:
        trace, violation = _run_and_assert(operator, scenario, **run_options)
        known = outcomes[key] = None if violation is None else (trace, violation)
    if known is not None:
        raise _failure(operator, scenario, *known, operator_name)


def _run_and_assert(
    operator: Any,
    scenario: Scenario,
    *,
    runtime_settings: RuntimeSettings | None,
    writes_per_change: int | None,
    allow_handler_errors: bool,
    skip: tuple[str, ...],
    extra_types: Iterable[K8sType],
    extra_crds: Iterable[Mapping[str, Any]],
) -> tuple[Trace, InvariantViolation | None]:
    """The trace of one run and the first invariant it broke (None: it broke none)."""
    definition = as_definition(operator)
    with _runtime_logs_kept_quiet():
        trace = run_scenario(
            definition,
            scenario,
            settings=runtime_settings,
            extra_types=extra_types,
            extra_crds=extra_crds,
            # a refused write fails the check whatever follows: waiting out its
            # retries would only cost time
            stop_at_refused_write="accepted" not in skip,
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
        return trace, violation
    return trace, None


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
    source_items: Mapping[str, st.SearchStrategy[list[dict[str, Any]]]] | None = None,
) -> None:
    """Property-test ``operator`` (an ``OperatorDefinition`` or ``(config, handler)``).

    Standalone, it runs hypothesis with ``settings`` (default ``DEFAULT_SETTINGS``; the
    explain phase is always left out and ``report_multiple_bugs`` off) and raises
    ``OperatorCheckFailed`` for the shrunk failing scenario, which it saves as YAML in
    ``.kubeplan/failures/`` (or ``$KUBEPLAN_FAILURES_DIR``; the message says where).
    Under the caller's ``@given(st.data())``, pass ``data=data``: one scenario is drawn and
    checked per example, and the caller's hypothesis shrinks it. See
    ``operator_scenarios`` for the scenario options (``parents=`` replaces the drawn
    parents), ``kubeplan.testkit.invariants`` for ``writes_per_change``,
    ``allow_handler_errors`` and ``skip``. ``operator_name`` is how the replay code names
    the operator (default: the module and name it is defined under). ``source_items``
    (source name -> a strategy of item lists) replaces the items drawn for an external
    source (see ``operator_scenarios``).

    When most drawn specs are refused by the spec class's validators, the hypothesis
    health-check error is reworded to say which field refused and what to pass.
    """
    __tracebackhide__ = True
    definition = as_definition(operator)
    refusals: list[str] = []
    strategy = _operator_scenarios(
        operator,
        parents=parents,
        max_steps=max_steps,
        faults=faults,
        parent_names=parent_names,
        child_names=child_names,
        on_refused=refusals.append,
        source_items=source_items,
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
        raise WrongArgumentType(
            "check_operator was called inside a hypothesis test: pass data=... from "
            "@given(st.data()), or call it outside @given to let it run hypothesis itself"
        )

    outcomes: Outcomes = {}
    run_options = {k: v for k, v in options.items() if k != "operator_name"}

    @given(strategy)
    def run(scenario: Scenario) -> None:
        __tracebackhide__ = True
        _check_remembered(operator, scenario, outcomes, operator_name, run_options)

    chosen = settings or DEFAULT_SETTINGS
    # Always one failure, shrunk (not an ExceptionGroup of "distinct" ones), and never the
    # explain phase (see DEFAULT_SETTINGS): both whatever settings the caller gives.
    try:
        hypothesis_settings(
            chosen,
            report_multiple_bugs=False,
            phases=tuple(p for p in chosen.phases if p is not Phase.explain),
        )(run)()
    except OperatorCheckFailed as failure:
        path = save_failure(failure.scenario, _failure_label(definition))
        raise (failure.saved(path) if path is not None else failure) from None
    except (FailedHealthCheck, Unsatisfiable) as exc:
        raise _cannot_draw(exc, definition, refusals, parents is not None) from None
