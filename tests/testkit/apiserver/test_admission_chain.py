"""The fake's admission chain: the stored Mutating/ValidatingWebhookConfigurations called
on every write as kube-apiserver calls them (rules, selectors, matchPolicy, failurePolicy,
timeouts, dry run, mutating before validating), in process and over HTTPS."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from apiserver_harness import call, cm, install_crd, new_server, widget
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.adapters.webhooks import TlsFiles, WebhookServer, webhook_routes
from kubeplan.core import admission
from kubeplan.core.config import OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.realkube.pki import make_pki

CMS = "/api/v1/namespaces/default/configmaps"
VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
SERVICE = ("hooks", "hook-svc")


def hook(name: str, path: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "clientConfig": {"service": {"namespace": SERVICE[0], "name": SERVICE[1],
                                     "path": path}},
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"],
                   "operations": ["CREATE", "UPDATE"]}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    entry.update(extra)
    return entry


def configuration(kind: str, *hooks: dict[str, Any], name: str = "hooks") -> dict[str, Any]:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name}, "webhooks": list(hooks)}


def answer(body: dict[str, Any], allowed: bool = True, **response: Any) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": body["request"]["uid"], "allowed": allowed, **response}}


class Recorder:
    """An in-process webhook: records each request and answers by ``decide``."""

    def __init__(self, decide: Any = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.decide = decide or (lambda body: answer(body))

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(body["request"])
        return self.decide(body)  # type: ignore[no-any-return]


async def with_hooks(*configs: tuple[str, dict[str, Any]]) -> FakeApiServer:
    server = new_server()
    for path, config in configs:
        got = await call(server, "POST", path, config)
        assert got.status == 201, got.body
    return server


def routed(server: FakeApiServer, recorder: Any) -> None:
    server.admission_webhooks.route(service=SERVICE, to=recorder)


async def test_a_denial_is_the_real_error_and_nothing_is_stored() -> None:
    deny = Recorder(lambda body: answer(body, False, status={
        "code": 403, "message": "no secrets in configmaps", "reason": "Forbidden"}))
    server = await with_hooks((VWC, configuration("ValidatingWebhookConfiguration",
                                                  hook("deny.example.com", "/deny"))))
    routed(server, deny)
    got = await call(server, "POST", CMS, cm("c"))
    assert got.status == 403
    assert got.body["message"] == ('admission webhook "deny.example.com" denied the request: '
                                   "no secrets in configmaps")
    assert server.store.get("configmaps", "default", "c") is None
    (request,) = deny.requests
    assert request["operation"] == "CREATE"
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["namespace"] == "default" and request["name"] == "c"
    assert request["object"]["data"] == {"k": "v"} and request["oldObject"] is None
    assert request["object"]["metadata"]["uid"]  # validation sees the object as stored


async def test_a_denial_without_a_code_is_400_and_without_words_says_so() -> None:
    server = await with_hooks((VWC, configuration("ValidatingWebhookConfiguration",
                                                  hook("mute.example.com", "/x"))))
    routed(server, Recorder(lambda body: answer(body, False)))
    got = await call(server, "POST", CMS, cm("c"))
    assert got.status == 400
    assert got.body["message"] == ('admission webhook "mute.example.com" denied the request '
                                   "without explanation")


async def test_an_update_carries_the_old_object_and_a_delete_only_it() -> None:
    seen = Recorder()
    rule = {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"],
            "operations": ["*"]}
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration", hook("all.example.com", "/all", rules=[rule]))))
    routed(server, seen)
    assert (await call(server, "POST", CMS, cm("c"))).status == 201
    assert (await call(server, "PATCH", f"{CMS}/c", {"data": {"k": "w"}},
                       content_type="application/merge-patch+json")).status == 200
    assert (await call(server, "DELETE", f"{CMS}/c")).status == 200
    create, update, delete = seen.requests
    assert create["operation"] == "CREATE"
    assert update["operation"] == "UPDATE"
    assert update["oldObject"]["data"] == {"k": "v"} and update["object"]["data"] == {"k": "w"}
    assert delete["operation"] == "DELETE"
    assert delete["object"] is None and delete["oldObject"]["data"] == {"k": "w"}


async def test_rules_select_operation_resource_and_subresource() -> None:
    seen = Recorder()
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration",
        hook("create.example.com", "/c", rules=[{"apiGroups": [""], "apiVersions": ["v1"],
                                                "resources": ["configmaps"],
                                                "operations": ["CREATE"]}]),
        hook("secrets.example.com", "/s", rules=[{"apiGroups": [""], "apiVersions": ["*"],
                                                 "resources": ["secrets"],
                                                 "operations": ["*"]}]))))
    routed(server, seen)
    assert (await call(server, "POST", CMS, cm("c"))).status == 201
    assert (await call(server, "PUT", f"{CMS}/c", {**cm("c", {"k": "2"}), "metadata": {
        "name": "c", "resourceVersion": server.store.get("configmaps", "default", "c")[
            "metadata"]["resourceVersion"]}})).status == 200
    assert [r["operation"] for r in seen.requests] == ["CREATE"]  # the update matched none


async def test_the_namespace_and_object_selectors_decide_who_is_called() -> None:
    seen = Recorder()
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration",
        hook("ns.example.com", "/ns", namespaceSelector={"matchLabels": {"watched": "yes"}}),
        hook("obj.example.com", "/obj",
             objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]}),
    )))
    routed(server, seen)
    assert (await call(server, "POST", CMS, cm("a"))).status == 201
    assert (await call(server, "POST", CMS, cm("b", labels={"skip": "1"}))).status == 201
    assert (await call(server, "PATCH", "/api/v1/namespaces/default",
                       {"metadata": {"labels": {"watched": "yes"}}},
                       content_type="application/merge-patch+json")).status == 200
    assert (await call(server, "POST", CMS, cm("c", labels={"skip": "1"}))).status == 201
    calls = [(c.webhook, c.name) for c in server.admission_webhooks.calls]
    assert calls == [("obj.example.com", "a"), ("ns.example.com", "c")]


async def test_mutations_apply_in_order_and_validation_sees_the_result() -> None:
    def add(key: str, value: str) -> Any:
        def decide(body: dict[str, Any]) -> dict[str, Any]:
            ops = [{"op": "add", "path": f"/data/{key}", "value": value}]
            return answer(body, patchType="JSONPatch",
                          patch=base64.b64encode(orjson.dumps(ops)).decode())
        return decide

    validated = Recorder()
    server = new_server()
    await call(server, "POST", MWC, configuration(
        "MutatingWebhookConfiguration", hook("a.example.com", "/a"),
        hook("b.example.com", "/b")))
    await call(server, "POST", VWC, configuration(
        "ValidatingWebhookConfiguration", hook("v.example.com", "/v")))
    mutations = {"/a": Recorder(add("a", "1")), "/b": Recorder(add("b", "2"))}
    for path, recorder in mutations.items():
        server.admission_webhooks.route(service=SERVICE, path=path, to=recorder)
    server.admission_webhooks.route(service=SERVICE, path="/v", to=validated)
    got = await call(server, "POST", CMS, cm("c"))
    assert got.status == 201, got.body
    assert got.body["data"] == {"k": "v", "a": "1", "b": "2"}
    assert mutations["/b"].requests[0]["object"]["data"] == {"k": "v", "a": "1"}
    assert validated.requests[0]["object"]["data"] == {"k": "v", "a": "1", "b": "2"}


async def test_failure_policy_fail_is_500_and_ignore_skips_the_webhook() -> None:
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration", hook("unrouted.example.com", "/x"))))
    got = await call(server, "POST", CMS, cm("c"))
    assert got.status == 500
    assert got.body["message"].startswith(
        'Internal error occurred: failed calling webhook "unrouted.example.com": service '
        "hooks/hook-svc is not routed")
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration",
        hook("unrouted.example.com", "/x", failurePolicy="Ignore"))))
    assert (await call(server, "POST", CMS, cm("c"))).status == 201


async def test_a_wrong_uid_in_the_answer_is_a_failed_call() -> None:
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration", hook("liar.example.com", "/x"))))
    routed(server, lambda body: {**answer(body), "response": {"uid": "other",
                                                               "allowed": True}})
    got = await call(server, "POST", CMS, cm("c"))
    assert got.status == 500
    assert 'expected response.uid="' in got.body["message"]


async def test_dry_run_reaches_only_webhooks_without_side_effects() -> None:
    seen = Recorder()
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration", hook("clean.example.com", "/x"))))
    routed(server, seen)
    got = await call(server, "POST", CMS, cm("c"), query={"dryRun": "All"})
    assert got.status == 201 and seen.requests[0]["dryRun"] is True
    assert server.store.get("configmaps", "default", "c") is None
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration", hook("dirty.example.com", "/x",
                                               sideEffects="Unknown"))))
    routed(server, seen)
    got = await call(server, "POST", CMS, cm("c"), query={"dryRun": "All"})
    assert got.status == 400
    assert got.body["message"] == 'admission webhook "dirty.example.com" does not support dry run'


async def test_webhook_configurations_themselves_are_never_sent_to_webhooks() -> None:
    server = await with_hooks((VWC, configuration(
        "ValidatingWebhookConfiguration", hook("all.example.com", "/x", rules=[{
            "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"],
            "operations": ["*"]}]))))
    # unrouted and failing closed, yet the configuration can still be deleted
    assert (await call(server, "POST", CMS, cm("c"))).status == 500
    assert (await call(server, "DELETE", f"{VWC}/hooks")).status == 200
    assert (await call(server, "POST", CMS, cm("c"))).status == 201


@pytest.mark.parametrize("policy", ["Equivalent", "Exact"])
async def test_match_policy_equivalent_sends_another_version_in_the_rules_version(
        policy: str) -> None:
    seen = Recorder()
    server = new_server()
    await install_crd(server, versions=("v1", "v2"))
    rule = {"apiGroups": ["example.com"], "apiVersions": ["v1"], "resources": ["widgets"],
            "operations": ["CREATE"]}
    await call(server, "POST", VWC, configuration(
        "ValidatingWebhookConfiguration", hook("w.example.com", "/w", rules=[rule],
                                               matchPolicy=policy)))
    routed(server, seen)
    written = {**widget("w"), "apiVersion": "example.com/v2"}
    got = await call(server, "POST", "/apis/example.com/v2/namespaces/default/widgets", written)
    assert got.status == 201, got.body
    if policy == "Exact":
        assert seen.requests == []
        return
    (request,) = seen.requests
    assert request["kind"]["version"] == "v1" and request["object"]["apiVersion"] == (
        "example.com/v1")
    assert request["requestKind"]["version"] == "v2"


# --- an operator's webhooks, in process and over HTTPS -------------------------------------


def no_secrets(request: admission.AdmissionRequest) -> admission.Allowed | admission.Denied:
    data = (request.object or {}).get("data") or {}
    if "password" in data:
        return admission.Denied("no passwords in configmaps", fields=["data.password"])
    return admission.Allowed()


async def slow(request: admission.AdmissionRequest) -> admission.Allowed:
    await asyncio.sleep(5)
    return admission.Allowed()


DEFINITION = OperatorDefinition(
    OperatorConfig("vault", core_v1.ConfigMap).decorating(), lambda request: None,
    validators=[no_secrets, admission.Validator(slow, timeout_seconds=1,
                                                failure_policy="Ignore")])


STRICT = OperatorDefinition(OperatorConfig("vault", core_v1.ConfigMap).decorating(),
                            lambda request: None, validators=[no_secrets])


@pytest.fixture
def https_hooks(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The operator's webhook server on its own loop in a thread: (base url, caBundle)."""
    pki = make_pki(tmp_path / "pki")
    loop = asyncio.new_event_loop()
    server = WebhookServer(webhook_routes(None, DEFINITION.admission),
                           tls=TlsFiles(pki.serving_cert, pki.serving_key),
                           host="127.0.0.1", port=0, reload_interval=0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield server.url, base64.b64encode(pki.ca_cert.read_bytes()).decode("ascii")
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def test_the_operators_webhooks_are_called_over_https(
        https_hooks: tuple[str, str]) -> None:
    url, bundle = https_hooks
    server = new_server()
    configs = server.admission_webhooks.serve_operator(
        DEFINITION, lambda path: {"url": f"{url}{path}", "caBundle": bundle})
    # not in process this time: the urls are called for real
    server.admission_webhooks.unroute_all()
    (validating,) = configs
    assert (await call(server, "POST", VWC, validating)).status == 201
    denied = await call(server, "POST", CMS, cm("c", {"password": "hunter2"}))
    assert denied.status == 403
    assert denied.body["message"] == ('admission webhook "no-secrets.vault.kubeplan.dev" '
                                      "denied the request: no passwords in configmaps")
    assert denied.body["details"]["causes"][0]["field"] == "data.password"
    ok = await call(server, "POST", CMS, cm("d"))
    assert ok.status == 201  # the slow validator timed out (1 s) and fails open
    assert ok.headers.get("Warning", "").count("slow failed: TimeoutError") == 1


writes = st.lists(st.tuples(
    st.sampled_from(["a", "b", "c"]), st.sampled_from(["POST", "PATCH", "PUT"]),
    st.dictionaries(st.sampled_from(["k", "password", "x"]), st.text("pw", max_size=2),
                    max_size=2)), max_size=8)


@settings(max_examples=60, deadline=None)
@given(writes)
def test_nothing_a_validator_denies_is_ever_stored(steps: list) -> None:
    async def run() -> None:
        server = new_server()
        for config in server.admission_webhooks.serve_operator(STRICT):
            assert (await call(server, "POST", VWC, config)).status == 201
        for name, method, data in steps:
            current = server.store.get("configmaps", "default", name)
            if method == "POST":
                got = await call(server, "POST", CMS, cm(name, data))
            elif method == "PATCH":
                got = await call(server, "PATCH", f"{CMS}/{name}", {"data": data or None},
                                 content_type="application/merge-patch+json")
            else:
                body = cm(name, data)
                if current is not None:
                    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                got = await call(server, "PUT", f"{CMS}/{name}", body)
            if got.status == 403:
                assert "no passwords in configmaps" in got.body["message"]
            for stored in server.store.objects("configmaps", "default"):
                assert "password" not in (stored.get("data") or {})

    asyncio.run(run())
