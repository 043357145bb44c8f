"""Scenarios: exact YAML round trips, readable text, errors that name the step and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.types import K8sType
from kubeplan.testkit import strategies as ks
from kubeplan.testkit.scenario import (
    Advance,
    CreateForeign,
    CreateParent,
    DeleteChild,
    DeleteParent,
    EditChild,
    FaultSpec,
    InjectFault,
    PatchParent,
    RestartOperator,
    Scenario,
    ScenarioError,
    Settle,
    UnknownTypeError,
    fault_for,
    resolve_type,
    step_from_dict,
    step_to_dict,
    type_key,
)

Widget = K8sType("example.com/v1", "Widget", "widgets")

EXAMPLE = Scenario(
    steps=(
        CreateParent("web", {"replicas": 3, "image": "nginx:1.27"}),
        PatchParent("web", {"spec": {"replicas": None}}, namespace="team-a"),
        EditChild("apps/v1/Deployment", "web", {"metadata": {"labels": {"x": "y"}}}),
        DeleteChild("v1/Service", "web", namespace="team-a"),
        CreateForeign({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}}),
        InjectFault(FaultSpec("too_many_requests", verb="create", retry_after=2)),
        InjectFault(FaultSpec("error", resource="v1/ConfigMap", count=2, code=503)),
        Advance(30),
        RestartOperator(),
        DeleteParent("web"),
        Settle(),
    ),
    seed=7,
    name="web lifecycle",
)


class TestRoundTrip:
    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ks.scenarios(child_types=[apps_v1.Deployment, core_v1.ConfigMap], max_steps=6))
    def test_yaml_round_trip_is_exact(self, scenario: Scenario) -> None:
        text = scenario.to_yaml()
        again = Scenario.from_yaml(text)
        assert again == scenario
        assert again.to_yaml() == text  # same text too: types (float vs int) survive

    def test_example_round_trips(self) -> None:
        assert Scenario.from_yaml(EXAMPLE.to_yaml()) == EXAMPLE

    def test_yaml_leaves_defaults_out(self) -> None:
        text = Scenario((Advance(5), Settle())).to_yaml()
        assert (
            text == "name: ''\nseed: 0\nsteps:\n- kind: advance\n  seconds: 5.0\n- kind: settle\n"
        )

    def test_save_and_load(self, tmp_path: Path) -> None:
        path = tmp_path / "regression.yaml"
        EXAMPLE.save(path)
        assert Scenario.load(path) == EXAMPLE

    def test_a_bare_list_of_steps_is_a_scenario(self) -> None:
        assert Scenario.from_yaml("- kind: settle\n") == Scenario((Settle(),))

    def test_steps_to_and_from_dicts(self) -> None:
        for step in EXAMPLE.steps:
            assert step_from_dict(step_to_dict(step)) == step

    def test_seconds_are_floats(self) -> None:
        assert Advance(1) == Advance(1.0)
        assert isinstance(Advance(1).seconds, float)


class TestText:
    def test_str_is_a_numbered_readable_list(self) -> None:
        assert str(EXAMPLE) == "\n".join(
            [
                "Scenario 'web lifecycle' (seed 7, 11 steps)",
                "   1. create parent web spec={image: 'nginx:1.27', replicas: 3}",
                "   2. patch parent team-a/web with {spec: {replicas: null}}",
                "   3. someone edits apps/v1/Deployment web with {metadata: {labels: {x: y}}}",
                "   4. someone deletes v1/Service team-a/web",
                "   5. someone creates foreign v1/ConfigMap web",
                "   6. inject too_many_requests (retry-after 2s) on create",
                "   7. inject error (code 503) on v1/ConfigMap x2",
                "   8. advance 30s",
                "   9. restart the operator",
                "  10. delete parent web",
                "  11. settle",
            ]
        )

    def test_empty_scenario(self) -> None:
        assert str(Scenario()) == "Scenario (seed 0, 0 steps)"


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("steps: [{kind: advance}]", "step #1 (steps[0]), field 'seconds': missing"),
            (
                "steps: [{kind: settle}, {kind: advance, seconds: -1}]",
                "step #2 (steps[1]), field 'seconds': must be a finite number >= 0",
            ),
            ("steps: [{kind: teleport}]", "step #1 (steps[0]), field 'kind': unknown step kind"),
            ("steps: [{name: x}]", "field 'kind': unknown step kind None"),
            (
                "steps: [{kind: create_parent, name: x, colour: red}]",
                "field 'colour': unknown field for CreateParent",
            ),
            (
                "steps: [{kind: create_parent, name: x, spec: [1, 2]}]",
                "field 'spec': must be a mapping, got list",
            ),
            (
                "steps: [{kind: create_parent, name: x, spec: {since: 2026-01-01}}]",
                "field 'spec': spec.since is a date",
            ),
            ("steps: [{kind: delete_parent, name: ''}]", "field 'name': must be a non-empty"),
            (
                "steps: [{kind: inject_fault, fault: {kind: error, code: 200}}]",
                "field 'fault.code': must be an HTTP error status",
            ),
            (
                "steps: [{kind: inject_fault, fault: {kind: meteor}}]",
                "field 'fault.kind': must be one of error, too_many_requests",
            ),
            (
                "steps: [{kind: inject_fault, fault: {kind: error, count: 0}}]",
                "field 'fault.count': must be >= 1",
            ),
            ("steps: [{kind: inject_fault}]", "field 'fault': missing"),
            (
                "steps: [{kind: create_foreign, obj: {kind: ConfigMap}}]",
                "field 'obj': needs a string 'apiVersion'",
            ),
            ("steps: [3]", "step #1 (steps[0]): a step must be a mapping"),
            ("steps: {kind: settle}", "field 'steps': must be a list"),
            ("seed: -1", "field 'seed': must be a non-negative integer"),
            ("colour: red", "field 'colour': unknown field"),
            ("steps: [", "not valid YAML"),
            ("just text", "a scenario must be a mapping"),
        ],
    )
    def test_bad_yaml_names_step_and_field(self, text: str, expected: str) -> None:
        with pytest.raises(ScenarioError) as info:
            Scenario.from_yaml(text)
        assert expected in str(info.value)

    def test_error_carries_step_and_field(self) -> None:
        with pytest.raises(ScenarioError) as info:
            Scenario.from_yaml("steps: [{kind: settle}, {kind: settle}, {kind: advance}]")
        assert (info.value.step, info.value.field) == (2, "seconds")

    def test_load_names_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.yaml"
        path.write_text("steps: [{kind: advance}]\n")
        with pytest.raises(ScenarioError, match=r"bad\.yaml: step #1"):
            Scenario.load(path)

    def test_only_steps_go_in_a_scenario(self) -> None:
        with pytest.raises(ScenarioError, match="not a scenario step"):
            Scenario(steps=(Settle(), "settle"))  # type: ignore[arg-type]

    def test_non_json_values_are_refused_in_code_too(self) -> None:
        with pytest.raises(TypeError, match=r"spec\.when"):
            CreateParent("x", {"when": object()})
        with pytest.raises(TypeError, match="finite"):
            PatchParent("x", {"spec": {"ratio": float("nan")}})


class TestTypes:
    def test_type_keys(self) -> None:
        assert type_key(apps_v1.Deployment) == "apps/v1/Deployment"
        assert type_key(core_v1.ConfigMap) == "v1/ConfigMap"

    def test_resolve_builtin_and_extra(self) -> None:
        assert resolve_type("apps/v1/Deployment") is apps_v1.Deployment
        assert resolve_type("v1/ConfigMap") is core_v1.ConfigMap
        assert resolve_type("example.com/v1/Widget", [Widget]) is Widget

    def test_unknown_type_lists_known_ones(self) -> None:
        pattern = r"no type .example\.com/v1/Widget.*v1/ConfigMap"
        with pytest.raises(UnknownTypeError, match=pattern):
            resolve_type("example.com/v1/Widget")


class TestFaultsForTheFakeApiServer:
    @settings(max_examples=60, deadline=None)
    @given(ks.faults(resources=["v1/ConfigMap", "apps/v1/Deployment"]))
    def test_every_fault_spec_converts(self, spec: FaultSpec) -> None:
        fault = fault_for(spec)
        if spec.kind == "expire_watch":
            assert fault is None
            return
        assert fault is not None
        assert fault.kind == spec.kind
        assert fault.count == spec.count
        assert fault.resource in (None, "configmaps", "deployments")
        if spec.kind == "error":
            assert fault.code == spec.code

    def test_plural_resources_pass_through(self) -> None:
        fault = fault_for(FaultSpec("too_many_requests", resource="widgets", retry_after=2.5))
        assert fault is not None
        assert (fault.resource, fault.retry_after) == ("widgets", 3)
