"""check_operator as a newcomer meets it (issue 17): specs within the CRD's bounds, a
health-check failure that says what to pass, failures that lead with what matters, and
no noise (no warnings on stderr, no pytest-asyncio deprecation warning)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Literal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck

from kubeplan.core import convert
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit import check_operator
from kubeplan.testkit import scenario as sc
from kubeplan.testkit import strategies as ks
from kubeplan.testkit.check import replay_reference

App = K8sType("check.kubeplan.dev/v1", "App", "apps")
IMAGE = r"[a-z]+:[0-9]+"  # unanchored: the API server searches, validators match whole


@attrs.frozen
class AppSpec:
    image: str = attrs.field(validator=attrs.validators.matches_re(IMAGE),
                             metadata={"pattern": IMAGE, "maxLength": 30})
    replicas: int = attrs.field(default=1, validator=[attrs.validators.ge(1),
                                                      attrs.validators.le(5)],
                                metadata={"minimum": 1, "maximum": 5})
    ratio: int = attrs.field(default=10, metadata={"minimum": 0, "maximum": 100,
                                                   "multipleOf": 10})
    tier: Literal["web", "db"] = "web"


@attrs.frozen
class StrictSpec:
    """A validator with no bounds in its metadata: the schema cannot know it."""

    image: str = attrs.field(validator=attrs.validators.matches_re(IMAGE))


config = OperatorConfig("apps", App).with_child(core_v1.ConfigMap, ChildConfig.replace())


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(AppSpec)
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": request.name},
             "data": {"image": spec.image, "replicas": str(spec.replicas)}}
    return SyncResponse(children=[child], status={"replicas": spec.replicas})


operator = OperatorDefinition(config, sync, spec_class=AppSpec)
strict = OperatorDefinition(config, lambda request: SyncResponse(), spec_class=StrictSpec)
QUICK = settings(max_examples=5, deadline=None, database=None)


@settings(max_examples=60, deadline=None, database=None)
@given(ks.parents_for(operator))
def test_default_parents_keep_the_crd_bounds_and_the_validators_pass(parent: dict) -> None:
    spec = parent["spec"]
    structured = convert.structure(spec, AppSpec)  # would raise if a validator refused
    assert re.fullmatch(IMAGE, structured.image) and len(structured.image) <= 30
    assert 1 <= structured.replicas <= 5
    assert structured.ratio % 10 == 0 and 0 <= structured.ratio <= 100
    assert structured.tier in ("web", "db")


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.filter_too_much])
@given(ks.parents(App, AppSpec))
def test_spec_classes_drawn_as_instances_keep_the_field_bounds(parent: dict) -> None:
    structured = convert.structure(parent["spec"], AppSpec)
    assert 1 <= structured.replicas <= 5 and re.fullmatch(IMAGE, structured.image)


def test_a_spec_class_with_validators_and_bounds_passes_with_the_defaults() -> None:
    check_operator(operator, max_steps=3, settings=QUICK)


def test_specs_refused_by_validators_say_which_field_and_what_to_pass() -> None:
    with pytest.raises(FailedHealthCheck) as caught:
        check_operator(strict, max_steps=2)
    message = str(caught.value)
    assert "refused by StrictSpec's validators" in message
    assert "StrictSpec.image: 'image' must match regex" in message
    assert "parents=strategies.parents(App, StrictSpec, overrides={'StrictSpec.image':" in message
    assert "attrs.field(metadata=" in message


def test_a_filtering_parents_strategy_is_named_as_the_cause() -> None:
    impossible = ks.parents(App, AppSpec).filter(lambda p: False)
    with pytest.raises(FailedHealthCheck, match="the parents= strategy given"):
        check_operator(operator, parents=impossible, max_steps=2)


def test_the_replay_names_a_config_and_handler_pair_by_their_module_names() -> None:
    assert replay_reference((config, sync)) == (
        f"from {__name__} import config, sync", "(config, sync)")
    assert replay_reference(operator) == (f"from {__name__} import operator", "operator")


def test_an_operator_defined_in_main_gets_a_placeholder_not_a_wrong_name() -> None:
    local = OperatorDefinition(config, lambda request: SyncResponse())
    line, expression = replay_reference(local)
    assert expression == "operator" and "import it here" in line


_BUGGY = '''
from kubeplan.core import ChildConfig, K8sType, OperatorConfig, OperatorDefinition
from kubeplan.core import SyncResponse
from kubeplan.core.k8s import core_v1

Shop = K8sType("shop.kubeplan.dev/v1", "Shop", "shops")
config = OperatorConfig("shop", Shop).with_child(core_v1.ConfigMap, ChildConfig.replace())


def sync(request):
    child = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": request.name.upper()}, "data": {}}
    return SyncResponse(children=[child])


shop = OperatorDefinition(config, sync)
'''


def _user_project(tmp_path: Path) -> Path:
    """A folder like a user's: their operator module and no pytest configuration."""
    (tmp_path / "shop_operator.py").write_text(_BUGGY)
    (tmp_path / "test_shop.py").write_text(textwrap.dedent('''
        from kubeplan.testkit import check_operator
        from shop_operator import shop


        def test_shop():
            check_operator(shop, max_steps=2)
    '''))
    return tmp_path


def test_a_failure_under_pytest_leads_with_the_cause_and_hides_kubeplan_frames(
    tmp_path: Path,
) -> None:
    project = _user_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=long",
         "test_shop.py"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "asyncio_default_fixture_loop_scope" not in output  # no deprecation warning
    lines = result.stdout.splitlines()
    first_e = next(i for i, line in enumerate(lines) if line.startswith("E "))
    header = next(i for i, line in enumerate(lines) if "test_shop" in line and "___" in line)
    assert first_e - header < 8, "\n".join(lines[header:first_e + 1])  # no frames first
    assert "check.py" not in "\n".join(lines[header:first_e])
    assert "the API server refused the operator's writes as invalid" in lines[first_e]
    assert 'create configmaps default (new) -> 422: ConfigMap "P0" is invalid' \
        in lines[first_e + 1]
    saved = list((project / ".kubeplan" / "failures").glob("test_shop.py-test_shop-*.yaml"))
    assert len(saved) == 1
    assert f"saved to .kubeplan/failures/{saved[0].name}" in result.stdout
    assert "from shop_operator import shop" in result.stdout
    assert "trace = run_scenario(shop, scenario)" in result.stdout


def test_outside_pytest_the_runtime_logs_nothing_on_stderr(tmp_path: Path) -> None:
    project = _user_project(tmp_path)
    script = project / "check_shop.py"
    script.write_text(textwrap.dedent('''
        from kubeplan.testkit import OperatorCheckFailed, check_operator
        from shop_operator import shop

        try:
            check_operator(shop, max_steps=2)
        except OperatorCheckFailed as failure:
            print(type(failure.violation).__name__)
    '''))
    result = subprocess.run([sys.executable, str(script)], cwd=project,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RefusedWrite"
    assert result.stderr == ""


@pytest.mark.parametrize("pattern", [r"^[a-z]{2,4}$", r"v[0-9]+"])
def test_schema_patterns_are_matched_whole(pattern: str) -> None:
    strings = ks.values_for_schema({"type": "string", "pattern": pattern, "maxLength": 10})

    @settings(max_examples=30, deadline=None, database=None)
    @given(strings)
    def check(value: str) -> None:
        assert re.fullmatch(pattern, value) and len(value) <= 10

    check()


def test_a_map_keeps_its_property_count_bounds() -> None:
    maps = ks.values_for_schema({"type": "object", "additionalProperties": {"type": "integer"},
                                 "minProperties": 2, "maxProperties": 4})

    @settings(max_examples=30, deadline=None, database=None)
    @given(maps)
    def check(value: dict) -> None:
        assert 2 <= len(value) <= 4

    check()


def test_strategies_draw_st_data_too() -> None:  # parents_for composes like any strategy
    @settings(max_examples=5, deadline=None, database=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        spec = data.draw(ks.parents_for(operator))["spec"]
        assert convert.structure(spec, AppSpec).replicas in range(1, 6)

    check()


@pytest.mark.parametrize(("schema", "edges"), [
    ({"type": "integer"}, {-(2**53), -1, 0, 1, 2**53}),
    ({"type": "integer", "minimum": 3, "maximum": 7}, {3, 7}),
    ({"type": "integer", "minimum": -20, "maximum": 100, "multipleOf": 10}, {-20, 0, 100}),
])
def test_schema_integers_are_drawn_at_their_edges(schema: dict[str, object],
                                                  edges: set[int]) -> None:
    strategy = ks.values_for_schema(schema)
    low, high = schema.get("minimum", -(2**53)), schema.get("maximum", 2**53)
    step = schema.get("multipleOf", 1)
    drawn: list[int] = []

    @settings(max_examples=100, database=None, derandomize=True)
    @given(strategy)
    def draw(value: int) -> None:
        assert low <= value <= high and value % step == 0  # type: ignore[operator]
        drawn.append(value)

    draw()
    # the bounds and the neighbours of zero are where operators break: each is drawn
    assert edges <= set(drawn), sorted(edges - set(drawn))


def test_check_operator_runs_each_distinct_scenario_once(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import kubeplan.testkit.check as check

    asked: list[str] = []
    ran: list[str] = []
    remembered, run_and_assert = check._check_remembered, check._run_and_assert

    def asking(op: object, scenario: sc.Scenario, *args: object) -> None:
        asked.append(repr(scenario))
        remembered(op, scenario, *args)  # type: ignore[arg-type]

    def running(op: object, scenario: sc.Scenario, **options: object) -> object:
        ran.append(repr(scenario))
        return run_and_assert(op, scenario, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(check, "_check_remembered", asking)
    monkeypatch.setattr(check, "_run_and_assert", running)
    check_operator(operator, settings=settings(max_examples=30, deadline=None,
                                               database=None, derandomize=True))
    assert len(ran) == len(set(ran))  # a run is a function of its scenario: never twice
    assert set(ran) == set(asked) and len(asked) >= len(ran)


def test_a_remembered_failure_is_raised_again_without_a_run(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    import kubeplan.testkit.check as check

    def failing(request: SyncRequest) -> SyncResponse:
        child = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": request.name.upper()}}  # refused: not a DNS name
        return SyncResponse(children=[child])

    bad = OperatorDefinition(config, failing, spec_class=AppSpec)
    scenario = sc.Scenario(steps=(sc.CreateParent("p0", {"image": "a:1"}),))
    runs = []
    run_and_assert = check._run_and_assert
    monkeypatch.setattr(check, "_run_and_assert",
                        lambda *a, **k: runs.append(1) or run_and_assert(*a, **k))
    outcomes: check.Outcomes = {}
    failures = []
    for _ in range(2):
        with pytest.raises(check.OperatorCheckFailed) as failed:
            check._check_remembered(bad, scenario, outcomes, None, {
                "runtime_settings": None, "writes_per_change": None,
                "allow_handler_errors": False, "skip": (), "extra_types": (),
                "extra_crds": ()})
        failures.append(failed.value)
    assert len(runs) == 1
    first, again = failures
    assert first is not again and str(first) == str(again)
    assert type(first.violation).__name__ == "RefusedWrite"
