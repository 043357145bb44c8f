"""CRDs with `conversion.strategy: Webhook`: the fake stores objects in the storage
version and converts every read, list, watch and write of another version through the
webhook, answering 500 naming the webhook when it fails, as kube-apiserver does."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from apiserver_harness import CRDS, call, collect, new_server

from kubeplan.adapters.webhooks import TlsFiles, WebhookServer, webhook_routes
from kubeplan.core.config import OperatorConfig
from kubeplan.core.crd import crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.types import K8sType
from kubeplan.core.versions import Version, on_spec, review
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.realkube.pki import make_pki


@attrs.frozen
class OneName:
    name: str


@attrs.frozen
class TwoNames:
    given: str
    family: str | None = None


def split(spec: OneName) -> TwoNames:
    given, space, family = spec.name.partition(" ")
    return TwoNames(given, family if space else None)


def join(spec: TwoNames) -> OneName:
    return OneName(spec.given if spec.family is None else f"{spec.given} {spec.family}")


Person = K8sType("example.com/v2", "Person", "people")
DEFINITION = OperatorDefinition(
    OperatorConfig("people", Person), lambda request: None,
    versions=[Version("v1", spec_class=OneName), Version("v2", spec_class=TwoNames,
                                                         storage=True)],
    conversions={("v1", "v2"): on_spec(split), ("v2", "v1"): on_spec(join)},
)
VERSIONS = DEFINITION.version_set
assert VERSIONS is not None
V1 = "/apis/example.com/v1/namespaces/default/people"
V2 = "/apis/example.com/v2/namespaces/default/people"
SERVICE = ("kubeplan-system", "people-webhook")


def ada_v1(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Person",
            "metadata": {"name": "ada", "labels": {"team": "engines"}},
            "spec": spec or {"name": "Ada Lovelace"}}


async def served(client_config: dict[str, Any] | None = None) -> FakeApiServer:
    server = new_server()
    crd = crd_of(DEFINITION, webhook_client_config=client_config)
    assert (await call(server, "POST", CRDS, crd)).status == 201
    await server.settle()
    return server


def in_process(server: FakeApiServer) -> None:
    assert VERSIONS is not None
    server.conversion_webhooks.route(service=SERVICE, to=lambda body: review(VERSIONS, body))


async def test_an_object_written_in_v1_is_stored_in_v2_and_read_in_either() -> None:
    server = await served()
    in_process(server)
    created = await call(server, "POST", V1, ada_v1())
    assert created.status == 201, created.body
    assert created.body["apiVersion"] == "example.com/v1"
    assert created.body["spec"] == {"name": "Ada Lovelace"}
    stored = server.store.get("people.example.com", "default", "ada")
    assert stored is not None
    assert stored["apiVersion"] == "example.com/v2"
    assert stored["spec"] == {"given": "Ada", "family": "Lovelace"}
    v2 = await call(server, "GET", f"{V2}/ada")
    assert v2.body["spec"] == {"given": "Ada", "family": "Lovelace"}
    assert v2.body["metadata"]["labels"] == {"team": "engines"}
    v1 = await call(server, "GET", f"{V1}/ada")
    assert v1.body["spec"] == {"name": "Ada Lovelace"}
    assert v1.body["metadata"]["uid"] == v2.body["metadata"]["uid"]
    listed = await call(server, "GET", V1)
    assert [o["spec"] for o in listed.body["items"]] == [{"name": "Ada Lovelace"}]
    assert [o["apiVersion"] for o in listed.body["items"]] == ["example.com/v1"]
    # reads of the storage version never call the webhook
    calls = len(server.conversion_webhooks.calls)
    await call(server, "GET", f"{V2}/ada")
    assert len(server.conversion_webhooks.calls) == calls


async def test_updates_and_patches_in_v1_convert_both_ways() -> None:
    server = await served()
    in_process(server)
    await call(server, "POST", V1, ada_v1())
    current = (await call(server, "GET", f"{V1}/ada")).body
    current["spec"] = {"name": "Ada King"}
    updated = await call(server, "PUT", f"{V1}/ada", current)
    assert updated.status == 200, updated.body
    assert updated.body["metadata"]["generation"] == 2
    patched = await call(server, "PATCH", f"{V1}/ada", {"spec": {"name": "Ada"}},
                         content_type="application/merge-patch+json")
    assert patched.status == 200, patched.body
    assert patched.body["spec"] == {"name": "Ada"}
    v2 = (await call(server, "GET", f"{V2}/ada")).body
    assert v2["spec"] == {"given": "Ada"}
    assert v2["metadata"]["generation"] == 3
    # the same content written again changes nothing, in either version
    again = await call(server, "PATCH", f"{V1}/ada", {"spec": {"name": "Ada"}},
                       content_type="application/merge-patch+json")
    assert again.body["metadata"]["resourceVersion"] == v2["metadata"]["resourceVersion"]


async def test_a_list_is_converted_in_one_review() -> None:
    server = await served()
    in_process(server)
    for name in ("a", "b", "c"):
        await call(server, "POST", V2, {"apiVersion": "example.com/v2", "kind": "Person",
                                        "metadata": {"name": name}, "spec": {"given": name}})
    before = len(server.conversion_webhooks.calls)
    listed = await call(server, "GET", V1)
    assert [o["spec"] for o in listed.body["items"]] == [{"name": n} for n in "abc"]
    assert list(server.conversion_webhooks.calls)[before:] == [("example.com/v1", 3)]


async def test_a_watch_of_v1_sees_converted_events() -> None:
    server = await served()
    in_process(server)
    # listed first, as clients do: a watch that is the resource's first request finds its
    # watch cache initialising (429), on the real server too
    assert (await call(server, "GET", V1)).status == 200
    response = await call(server, "GET", V1, query={"watch": "true"})
    assert response.stream is not None
    await call(server, "POST", V2, {"apiVersion": "example.com/v2", "kind": "Person",
                                    "metadata": {"name": "grace"},
                                    "spec": {"given": "Grace", "family": "Hopper"}})
    (event,) = await collect(response.stream, 1)
    assert event["type"] == "ADDED"
    assert event["object"]["apiVersion"] == "example.com/v1"
    assert event["object"]["spec"] == {"name": "Grace Hopper"}


async def test_a_failing_webhook_is_a_500_naming_it() -> None:
    server = await served()
    in_process(server)
    await call(server, "POST", V2, {"apiVersion": "example.com/v2", "kind": "Person",
                                    "metadata": {"name": "x"}, "spec": {"given": "X"}})

    def refuse(body: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
                "response": {"uid": body["request"]["uid"],
                             "result": {"status": "Failure", "message": "not today"}}}

    server.conversion_webhooks.route(service=SERVICE, to=refuse)
    got = await call(server, "GET", f"{V1}/x")
    assert got.status == 500
    assert got.body["message"] == (
        "conversion webhook for example.com/v2, Kind=Person failed: not today")

    def wrong_uid(body: dict[str, Any]) -> dict[str, Any]:
        answer = review(VERSIONS, body)  # type: ignore[arg-type]
        answer["response"]["uid"] = "other"
        return answer

    server.conversion_webhooks.route(service=SERVICE, to=wrong_uid)
    got = await call(server, "GET", f"{V1}/x")
    assert got.status == 500 and 'expected response.uid=' in got.body["message"]

    def renames(body: dict[str, Any]) -> dict[str, Any]:
        answer = review(VERSIONS, body)  # type: ignore[arg-type]
        answer["response"]["convertedObjects"][0]["metadata"]["name"] = "y"
        return answer

    server.conversion_webhooks.route(service=SERVICE, to=renames)
    got = await call(server, "GET", f"{V1}/x")
    assert got.status == 500
    assert got.body["message"].endswith(
        "returned invalid converted object at index 0: must have the same name: x != y")
    # a failed write stores nothing
    server.conversion_webhooks.route(service=SERVICE, to=refuse)
    created = await call(server, "POST", V1, ada_v1())
    assert created.status == 500
    assert server.store.get("people.example.com", "default", "ada") is None


async def test_an_unrouted_service_is_a_500_that_says_so() -> None:
    server = await served()
    got = await call(server, "POST", V1, ada_v1())
    assert got.status == 500
    assert "service kubeplan-system/people-webhook is not routed" in got.body["message"]
    # the storage version needs no webhook
    ok = await call(server, "POST", V2, {"apiVersion": "example.com/v2", "kind": "Person",
                                         "metadata": {"name": "x"}, "spec": {"given": "X"}})
    assert ok.status == 201


@pytest.fixture
def https_webhook(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The operator's webhook server on its own loop in a thread: (url, caBundle)."""
    pki = make_pki(tmp_path / "pki")
    loop = asyncio.new_event_loop()
    server = WebhookServer(webhook_routes(VERSIONS), tls=TlsFiles(pki.serving_cert,
                                                                  pki.serving_key),
                           host="127.0.0.1", port=0, reload_interval=0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield (f"{server.url}/convert",
               base64.b64encode(pki.ca_cert.read_bytes()).decode("ascii"))
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def test_a_url_webhook_is_called_over_https_trusting_the_ca_bundle(
        https_webhook: tuple[str, str]) -> None:
    url, ca_bundle = https_webhook
    server = await served({"url": url, "caBundle": ca_bundle})
    created = await call(server, "POST", V1, ada_v1())
    assert created.status == 201, created.body
    stored = server.store.get("people.example.com", "default", "ada")
    assert stored is not None and stored["spec"] == {"given": "Ada", "family": "Lovelace"}
    assert (await call(server, "GET", f"{V1}/ada")).body["spec"] == {"name": "Ada Lovelace"}


async def test_a_url_webhook_with_a_wrong_ca_fails_naming_the_url(
        https_webhook: tuple[str, str], tmp_path: Path) -> None:
    url, _ = https_webhook
    other = make_pki(tmp_path / "other")
    server = await served({"url": url, "caBundle": base64.b64encode(
        other.ca_cert.read_bytes()).decode("ascii")})
    got = await call(server, "POST", V1, ada_v1())
    assert got.status == 500
    assert got.body["message"] == (
        f'conversion webhook for example.com/v1, Kind=Person failed: Post "{url}?timeout=30s": '
        "tls: failed to verify certificate: x509: certificate signed by unknown authority")


async def test_a_v1_body_sent_to_the_v2_url_is_decoded_into_v2() -> None:
    server = await served()
    in_process(server)
    created = await call(server, "POST", V2, ada_v1())
    assert created.status == 201, created.body
    assert created.body["apiVersion"] == "example.com/v2"
    assert created.body["spec"] == {"given": "Ada", "family": "Lovelace"}


@pytest.mark.parametrize(("conversion", "field", "message"), [
    ({"strategy": "Sometimes"}, "spec.conversion.strategy", "Unsupported value"),
    ({"strategy": "Webhook"}, "spec.conversion.webhookClientConfig",
     "Required value: required when strategy is set to Webhook"),
    ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": {
        "url": "http://127.0.0.1/convert"}}}, "spec.conversion.webhookClientConfig.url",
     "'https' is the only allowed URL scheme"),
    ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": {
        "url": "https://a/", "service": {"name": "s", "namespace": "n"}}}},
     "spec.conversion.webhookClientConfig", "exactly one of url or service is required"),
    ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v2"], "clientConfig": {
        "url": "https://a/"}}}, "spec.conversion.conversionReviewVersions",
     "must include at least one of v1, v1beta1"),
    ({"strategy": "None", "webhook": {"clientConfig": {"url": "https://a/"}}},
     "spec.conversion.webhookClientConfig", "should not be set when strategy is not set"),
])
async def test_a_bad_conversion_is_refused_naming_the_field(
        conversion: dict[str, Any], field: str, message: str) -> None:
    server = new_server()
    crd = crd_of(DEFINITION)
    crd["spec"]["conversion"] = conversion
    got = await call(server, "POST", CRDS, crd)
    assert got.status == 422, got.body
    causes = {c["field"]: c["message"] for c in got.body["details"]["causes"]}
    assert message in causes[field], causes


def test_check_round_trips_finds_a_lossy_conversion() -> None:
    from hypothesis import settings

    from kubeplan.testkit.conversions import ConversionNotLossless, check_round_trips

    # the same 50 draws every run: whether a random 50 find the loss is no test of it
    quick = settings(max_examples=50, deadline=None, database=None, derandomize=True)
    # a v2 given name keeps at most five characters of the v1 name
    lossy = OperatorDefinition(
        OperatorConfig("lossy", Person), lambda request: None,
        versions=[Version("v1", spec_class=OneName),
                  Version("v2", spec_class=TwoNames, storage=True)],
        conversions={("v1", "v2"): on_spec(lambda s: TwoNames(s.name[:5])),
                     ("v2", "v1"): on_spec(join)},
    )
    with pytest.raises(ConversionNotLossless, match="v1 -> v2 -> v1 changed the object"):
        check_round_trips(lossy, pairs=[("v1", "v2")], settings=quick)
    check_round_trips(DEFINITION, pairs=[("v1", "v2")], settings=quick)
    with pytest.raises(ValueError, match="declares no versions"):
        check_round_trips(OperatorDefinition(OperatorConfig("x", Person), lambda r: None))


async def test_a_watch_ends_when_an_event_does_not_convert() -> None:
    server = await served()
    assert (await call(server, "GET", V1)).status == 200  # a first watch would get 429
    response = await call(server, "GET", V1, query={"watch": "true"})
    assert response.stream is not None
    # nothing routed: the stored v2 object cannot be shown as v1
    await call(server, "POST", V2, {"apiVersion": "example.com/v2", "kind": "Person",
                                    "metadata": {"name": "x"}, "spec": {"given": "X"}})
    assert await collect(response.stream, 1) == []


def test_check_operator_scenarios_write_parents_in_other_versions_too() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kubeplan.testkit.check import operator_scenarios
    from kubeplan.testkit.scenario import CreateParent, PatchParent, Scenario

    seen: set[str | None] = set()

    @settings(max_examples=60, deadline=None, database=None)
    @given(operator_scenarios(DEFINITION, max_steps=10, faults=False), st.data())
    def drawn(scenario: Scenario, _data: st.DataObject) -> None:
        for step in scenario.steps:
            if isinstance(step, (CreateParent, PatchParent)):
                seen.add(step.version)
                if step.version == "v1":
                    spec = step.spec if isinstance(step, CreateParent) else step.patch["spec"]
                    assert set(spec) == {"name"}
        # a step in another version saves and loads with its version
        assert Scenario.from_dict(scenario.to_dict()) == scenario

    drawn()
    assert seen == {None, "v1"}


def test_a_scenario_step_in_an_undeclared_version_is_refused() -> None:
    from kubeplan.testkit.runner import run_scenario
    from kubeplan.testkit.scenario import CreateParent, Scenario, ScenarioError

    with pytest.raises(ScenarioError, match=r"Person has no version 'v9' \(declared: "):
        run_scenario(DEFINITION, Scenario([CreateParent("p", {"name": "x"}, version="v9")]))
