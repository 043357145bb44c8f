"""Strategies give valid Kubernetes data (checked independently) and small scenarios."""

from __future__ import annotations

import datetime
import enum
import inspect
import json
import re
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from kubeplan.core import crd
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.types import K8sType
from kubeplan.testkit import scenario as sc
from kubeplan.testkit import strategies as ks
from kubeplan.testkit.vtime import run_virtual

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The grammars as the Kubernetes documentation states them ("Object Names and IDs",
# "Labels and Selectors"), written out independently of the strategies under test.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

Widget = K8sType("example.com/v1", "Widget", "widgets")


def simplest(strategy: st.SearchStrategy[Any]) -> Any:
    """The first example hypothesis generates, which is the one everything shrinks to.

    (Much cheaper than ``find(strategy, lambda _: True)``, which keeps shrinking.)
    """
    seen: list[Any] = []

    @settings(max_examples=1, phases=[Phase.generate], database=None)
    @given(strategy)
    def first(value: Any) -> None:
        seen.append(value)

    first()
    return seen[0]


def is_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not (prefix and len(prefix) <= 253 and DNS_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and bool(QUALIFIED_NAME.match(name))


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(LABEL_VALUE.match(value))


class TestNames:
    @FAST
    @given(ks.dns_labels())
    def test_dns_labels(self, value: str) -> None:
        assert len(value) <= 63 and DNS_LABEL.match(value)

    @FAST
    @given(ks.dns_1035_labels())
    def test_dns_1035_labels(self, value: str) -> None:
        assert len(value) <= 63 and DNS_1035.match(value)

    @FAST
    @given(ks.dns_subdomains())
    def test_dns_subdomains(self, value: str) -> None:
        assert len(value) <= 253 and DNS_SUBDOMAIN.match(value)

    @FAST
    @given(
        st.integers(1, 253).flatmap(lambda n: st.tuples(st.just(n), ks.dns_subdomains(max_size=n)))
    )
    def test_dns_subdomains_respect_max_size(self, case: tuple[int, str]) -> None:
        limit, value = case
        assert len(value) <= limit and DNS_SUBDOMAIN.match(value)

    def test_names_of_the_maximum_length_are_drawn(self) -> None:
        found = find(ks.dns_labels(), lambda s: len(s) == 63, settings=settings(database=None))
        assert DNS_LABEL.match(found)

    def test_names_shrink_to_a(self) -> None:
        assert simplest(ks.dns_subdomains()) == "a"
        assert simplest(ks.label_keys()) == "a"
        assert simplest(ks.label_values()) == ""

    def test_service_names_are_1035_labels(self) -> None:
        value = find(
            ks.object_names(core_v1.Service), lambda s: len(s) > 3, settings=settings(database=None)
        )
        assert DNS_1035.match(value)

    def test_bad_sizes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="max_size"):
            ks.dns_labels(max_size=64)


class TestLabels:
    @FAST
    @given(ks.label_keys())
    def test_label_keys(self, key: str) -> None:
        assert is_label_key(key), key
        prefix = key.rpartition("/")[0]
        assert not prefix.endswith(("kubernetes.io", "k8s.io", "kubeplan.dev"))

    @FAST
    @given(ks.label_values())
    def test_label_values(self, value: str) -> None:
        assert is_label_value(value), value

    @FAST
    @given(ks.labels(), ks.annotations())
    def test_labels_and_annotations(self, labels: dict[str, str], notes: dict[str, str]) -> None:
        assert all(is_label_key(k) and is_label_value(v) for k, v in labels.items())
        assert all(is_label_key(k) and isinstance(v, str) for k, v in notes.items())

    @FAST
    @given(ks.labels())
    def test_agrees_with_the_fake_api_servers_validation(self, labels: dict[str, str]) -> None:
        selectors = pytest.importorskip("kubeplan.testkit.apiserver.selectors")
        for key, value in labels.items():
            assert selectors.validate_label_key(key) is None
            assert selectors.validate_label_value(key, value) is None


class TestObjects:
    @FAST
    @given(ks.object_metadata())
    def test_object_metadata(self, meta: dict[str, Any]) -> None:
        assert DNS_SUBDOMAIN.match(meta["name"])
        assert meta["namespace"] == "default"
        assert set(meta) <= {"name", "namespace", "labels", "annotations"}

    @FAST
    @given(ks.object_metadata(namespaced=False))
    def test_cluster_scoped_metadata_has_no_namespace(self, meta: dict[str, Any]) -> None:
        assert "namespace" not in meta

    @FAST
    @given(ks.objects_of(core_v1.ConfigMap))
    def test_config_maps(self, obj: dict[str, Any]) -> None:
        assert obj["apiVersion"] == "v1" and obj["kind"] == "ConfigMap"
        for key, value in obj.get("data", {}).items():
            assert re.match(r"^[-._a-zA-Z0-9]+$", key) and len(key) <= 253
            assert isinstance(value, str)
        json.dumps(obj)

    def test_objects_shrink_to_bare_metadata(self) -> None:
        obj = simplest(ks.objects_of(apps_v1.Deployment, spec=st.just({})))
        assert obj == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "default"},
            "spec": {},
        }

    @settings(max_examples=25, deadline=None)
    @given(st.lists(ks.objects_of(core_v1.ConfigMap), min_size=1, max_size=3))
    def test_the_fake_api_server_accepts_generated_config_maps(
        self, objs: list[dict[str, Any]]
    ) -> None:
        server_module = pytest.importorskip("kubeplan.testkit.apiserver")
        if not hasattr(server_module, "FakeApiServer"):
            pytest.skip("FakeApiServer is not exported yet")
        from kubeplan.testkit.apiserver.request import ApiRequest

        async def create_all() -> list[int]:
            server = server_module.FakeApiServer()
            statuses = []
            for i, obj in enumerate(objs):
                obj = {
                    **obj,
                    # cut to the 253-character limit, never ending on a separator (which
                    # the real server rejects too)
                    "metadata": {**obj["metadata"],
                                 "name": f"{i}-{obj['metadata']['name']}"[:253].rstrip("-.")},
                }
                request = ApiRequest(
                    "POST",
                    core_v1.ConfigMap.path("default"),
                    body=json.dumps(obj).encode(),
                    content_type="application/json",
                )
                response = server.handle(request)
                if inspect.isawaitable(response):
                    response = await response
                statuses.append(response.status)
            return statuses

        assert run_virtual(create_all()) == [201] * len(objs)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Port:
    name: str
    number: int
    protocol: Literal["TCP", "UDP"] = "TCP"


@attrs.frozen
class WidgetSpec:
    image: str
    replicas: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    colour: Colour = Colour.RED
    ports: list[Port] = attrs.Factory(list)
    env: dict[str, str] = attrs.Factory(dict)
    tags: frozenset[str] = frozenset()
    ratio: float | None = None
    target: int | str = 80
    extra: Any = None
    since: datetime.datetime | None = None
    min_replicas: int = attrs.field(default=0, metadata={"name": "minReplicas"})


class TestParents:
    @FAST
    @given(ks.parents(Widget, WidgetSpec))
    def test_parents_round_trip_through_cattrs(self, parent: dict[str, Any]) -> None:
        assert parent["apiVersion"] == "example.com/v1" and parent["kind"] == "Widget"
        assert DNS_SUBDOMAIN.match(parent["metadata"]["name"])
        spec = crd.structure(parent["spec"], WidgetSpec)
        assert isinstance(spec, WidgetSpec)
        assert spec.replicas >= 0  # the validator's refusals were skipped
        assert crd.unstructure(spec) == parent["spec"]
        json.dumps(parent)

    @FAST
    @given(ks.parents(Widget, WidgetSpec, overrides={"WidgetSpec.replicas": st.integers(2, 3)}))
    def test_field_overrides(self, parent: dict[str, Any]) -> None:
        assert parent["spec"]["replicas"] in (2, 3)

    @FAST
    @given(ks.parents(Widget, WidgetSpec, overrides={str: st.just("x")}))
    def test_type_overrides(self, parent: dict[str, Any]) -> None:
        assert parent["spec"]["image"] == "x"
        assert all(p["name"] == "x" for p in parent["spec"].get("ports", []))

    @FAST
    @given(ks.parents(Widget, WidgetSpec))
    def test_parents_satisfy_the_derived_crd_schema(self, parent: dict[str, Any]) -> None:
        schema = crd.schema_for(WidgetSpec)
        assert set(schema.get("required", [])) <= set(parent["spec"])
        assert set(parent["spec"]) <= set(schema["properties"])

    def test_unsupported_annotation_is_named(self) -> None:
        @attrs.frozen
        class Bad:
            thing: complex

        with pytest.raises(TypeError, match=r"Bad\.thing"):
            ks.spec_instances(Bad).example()


WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image", "replicas"],
            "properties": {
                "image": {"type": "string", "minLength": 1, "maxLength": 12},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 5},
                "ratio": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": True},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "enabled": {"type": "boolean", "nullable": True},
                "ports": {
                    "type": "array",
                    "maxItems": 2,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "properties": {"port": {"x-kubernetes-int-or-string": True}},
                    },
                },
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                },
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "when": {"type": "string", "format": "date-time"},
            },
        }
    },
}


def check_against(schema: dict[str, Any], value: Any, path: str = "spec") -> None:
    """A small independent checker of the schema features used above."""
    if value is None:
        assert schema.get("nullable"), path
        return
    if "enum" in schema:
        assert value in schema["enum"], path
    if schema.get("x-kubernetes-int-or-string"):
        assert isinstance(value, int | str) and not isinstance(value, bool), path
        return
    kind = schema.get("type")
    if kind == "string":
        assert isinstance(value, str), path
        assert schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**9), path
        if schema.get("format") == "date-time":
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), path
        assert schema.get("minimum", -(10**18)) <= value <= schema.get("maximum", 10**18), path
    elif kind == "number":
        assert isinstance(value, float | int), path
        assert value >= schema.get("minimum", float("-inf")), path
        if schema.get("exclusiveMaximum"):
            assert value < schema["maximum"], path
    elif kind == "boolean":
        assert isinstance(value, bool), path
    elif kind == "array":
        assert isinstance(value, list) and len(value) <= schema.get("maxItems", 10**9), path
        if schema.get("x-kubernetes-list-type") == "set":
            assert len({json.dumps(v) for v in value}) == len(value), path
        for i, item in enumerate(value):
            check_against(schema["items"], item, f"{path}[{i}]")
    elif kind == "object":
        assert isinstance(value, dict), path
        props = schema.get("properties", {})
        assert set(schema.get("required", [])) <= set(value), path
        for key, item in value.items():
            if key in props:
                check_against(props[key], item, f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                check_against(schema["additionalProperties"], item, f"{path}.{key}")
            else:
                assert schema.get("x-kubernetes-preserve-unknown-fields"), f"{path}.{key}"


class TestParentsFromSchema:
    @FAST
    @given(ks.parents_from_schema(Widget, WIDGET_SCHEMA))
    def test_values_satisfy_the_schema(self, parent: dict[str, Any]) -> None:
        check_against(WIDGET_SCHEMA["properties"]["spec"], parent["spec"])
        json.dumps(parent)

    @FAST
    @given(ks.values_for_schema(crd.schema_for(WidgetSpec)))
    def test_schema_of_an_attrs_class_gives_structurable_values(self, spec: dict[str, Any]) -> None:
        # The derived schema knows types, not the class's validators (replicas >= 0).
        if spec.get("replicas", 1) >= 0:
            assert isinstance(crd.structure(spec, WidgetSpec), WidgetSpec)

    def test_from_crd(self) -> None:
        definition = {
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Cluster",
                "versions": [
                    {"name": "v1", "storage": True, "schema": {"openAPIV3Schema": WIDGET_SCHEMA}}
                ],
            }
        }
        parent = simplest(ks.parents_from_crd(definition))
        assert parent["apiVersion"] == "example.com/v1"
        assert "namespace" not in parent["metadata"]
        assert 1 <= parent["spec"]["replicas"] <= 5


class TestScenarios:
    @FAST
    @given(ks.scenarios(child_types=[apps_v1.Deployment, core_v1.Service]))
    def test_scenarios_are_well_formed(self, scenario: sc.Scenario) -> None:
        assert isinstance(scenario.steps[0], sc.CreateParent)
        assert len(scenario.steps) <= 9
        for step in scenario.steps:
            if isinstance(step, sc.EditChild | sc.DeleteChild):
                assert sc.resolve_type(step.type_key) in (apps_v1.Deployment, core_v1.Service)
            if isinstance(step, sc.CreateForeign):
                meta = step.obj["metadata"]
                assert meta["name"] in ("p0", "p1") and meta["namespace"] == "default"

    def test_failing_scenarios_shrink_small(self) -> None:
        # "fails" whenever a parent is deleted and a fault injected: the minimal example
        # keeps just those two steps after the opening create.
        def fails(s: sc.Scenario) -> bool:
            kinds = {type(step) for step in s.steps}
            return sc.DeleteParent in kinds and sc.InjectFault in kinds

        smallest = find(
            ks.scenarios(child_types=[apps_v1.Deployment], max_steps=10),
            fails,
            settings=settings(max_examples=2000, database=None),
        )
        assert len(smallest.steps) == 3
        assert smallest.seed == 0
        assert smallest.steps[0] == sc.CreateParent("p0", {})
        fault = next(s for s in smallest.steps if isinstance(s, sc.InjectFault))
        assert fault.fault == sc.FaultSpec("error", code=500)

    def test_simplest_scenario_and_fault(self) -> None:
        assert simplest(ks.scenarios()) == sc.Scenario((sc.CreateParent("p0", {}),))
        assert simplest(ks.faults()) == sc.FaultSpec("error", code=500)
        assert simplest(ks.steps()) == sc.Settle()

    @FAST
    @given(ks.steps(fault_rate=0))
    def test_no_faults_when_the_rate_is_zero(self, step: sc.Step) -> None:
        assert not isinstance(step, sc.InjectFault)

    @FAST
    @given(ks.fault_schedules(resources=["v1/ConfigMap"]))
    def test_fault_schedules(self, schedule: tuple[sc.Step, ...]) -> None:
        assert len(schedule) <= 3
        for step in schedule:
            assert isinstance(step, sc.InjectFault | sc.Advance)
            if isinstance(step, sc.InjectFault):
                assert step.fault.resource in (None, "v1/ConfigMap")


WEB_IMAGE = r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[a-zA-Z0-9_.-]{1,20})?$"


@pytest.mark.parametrize(("pattern", "shortest"), [
    (WEB_IMAGE, "a"),
    (r"[A-Z]{3}-\d+", "AAA-0"),
    (r"(foo|ab)c{2,3}\s?\w", "abcca"),
    (r"x*", ""),
    (r"(?=a)b", None),  # a lookahead: not followed
    (r"[^a-z]+", None),  # a negated class: not followed
])
def test_a_pattern_has_its_shortest_match(pattern: str, shortest: str | None) -> None:
    assert ks._shortest_match(pattern) == shortest
    if shortest is None:
        return

    @settings(max_examples=50, database=None, derandomize=True)
    @given(st.from_regex(pattern, fullmatch=True))
    def no_shorter(text: str) -> None:
        assert len(text) >= len(shortest)

    no_shorter()


def test_a_patterned_field_and_optional_keys_shrink_away() -> None:
    schema = {"type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "pattern": WEB_IMAGE, "maxLength": 80},
        "host": {"type": "string", "pattern": WEB_IMAGE},
        "tier": {"type": "string", "enum": ["web", "db"]},
        "replicas": {"type": "integer"},
    }}
    found = find(ks.values_for_schema(schema),
                 lambda spec: spec.get("replicas", 0) < 0 and len(spec) > 2,
                 settings=settings(database=None, derandomize=True))
    assert found in ({"image": "a", "host": "a", "replicas": -1},
                     {"image": "a", "tier": "web", "replicas": -1})


def test_optional_schema_keys_are_there_most_of_the_time() -> None:
    names = ("a", "b", "c", "d")
    schema = {"type": "object", "properties": {n: {"type": "boolean"} for n in names}}
    present: list[int] = []

    @settings(max_examples=200, database=None, derandomize=True)
    @given(ks.values_for_schema(schema))
    def draw(value: dict[str, bool]) -> None:
        present.append(len(value))

    draw()
    # three in four by design: a bug that needs a field must see it in most scenarios
    assert 0.6 <= sum(present) / (len(present) * len(names)) <= 0.9
