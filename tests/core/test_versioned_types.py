"""Versioned parent types: declaring versions, chained conversions, ConversionReview
answers and the CRD that serves every version (kubeplan.core.versions, crd_of)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from kubeplan.core.config import OperatorConfig
from kubeplan.core.crd import crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.types import K8sType
from kubeplan.core.versions import (
    ConversionFailed,
    NoConversionPath,
    Version,
    VersionError,
    VersionSet,
    conversion_review,
    on_spec,
    review,
)

G = "example.com"


def rename(old: str, new: str) -> Any:
    def fn(obj: dict) -> dict:
        spec = dict(obj["spec"])
        spec[new] = spec.pop(old)
        return {**obj, "spec": spec}
    return fn


THREE = VersionSet(
    G,
    [Version("v1"), Version("v2", storage=True), Version("v3")],
    {("v1", "v2"): rename("a", "b"), ("v2", "v1"): rename("b", "a"),
     ("v2", "v3"): rename("b", "c"), ("v3", "v2"): rename("c", "b")},
)


def thing(version: str, **spec: Any) -> dict:
    return {
        "apiVersion": f"{G}/{version}", "kind": "Thing",
        "metadata": {"name": "t", "namespace": "ns", "uid": "u-1", "labels": {"x": "1"}},
        "spec": spec,
    }


def test_conversions_chain_through_the_storage_version() -> None:
    assert THREE.path("v1", "v3") == [("v1", "v2"), ("v2", "v3")]
    out = THREE.convert(thing("v1", a=1), "v3")
    assert out == {**thing("v3", c=1)}
    assert THREE.convert(out, "v1") == thing("v1", a=1)


def test_converting_to_the_same_version_is_a_copy() -> None:
    obj = thing("v2", b=1)
    out = THREE.convert(obj, "v2")
    assert out == obj and out is not obj


def test_metadata_is_restored_but_labels_and_annotations_may_change() -> None:
    def meddle(obj: dict) -> dict:
        return {**obj, "metadata": {"name": "other", "uid": "u-2",
                                    "labels": {"y": "2"}, "annotations": {"z": "3"}}}
    versions = VersionSet(G, [Version("v1"), Version("v2", storage=True)],
                          {("v1", "v2"): meddle, ("v2", "v1"): meddle})
    out = versions.convert(thing("v1"), "v2")
    assert out["metadata"] == {"name": "t", "namespace": "ns", "uid": "u-1",
                               "labels": {"y": "2"}, "annotations": {"z": "3"}}
    assert out["apiVersion"] == f"{G}/v2" and out["kind"] == "Thing"


def test_a_missing_path_is_refused_when_declared_naming_both_versions() -> None:
    with pytest.raises(NoConversionPath, match="no conversion from 'v1' to 'v2'"):
        VersionSet(G, [Version("v1"), Version("v2", storage=True)],
                   {("v2", "v1"): rename("b", "a")})


@pytest.mark.parametrize(("versions", "conversions", "message"), [
    ([], {}, "at least one Version"),
    ([Version("v1"), Version("v2")], {}, "exactly one Version must have storage=True"),
    ([Version("v1", storage=True), Version("v1")], {}, "unique"),
    ([Version("v1", storage=True)], {("v1", "v9"): rename("a", "b")},
     "'v9' is not a declared version"),
    ([Version("v1", storage=True, served=False)], {}, "at least one Version must be served"),
])
def test_bad_declarations_name_what_is_wrong(versions: list, conversions: dict,
                                             message: str) -> None:
    with pytest.raises(VersionError, match=message):
        VersionSet(G, versions, conversions)


def test_an_unknown_version_or_group_is_named() -> None:
    with pytest.raises(VersionError, match=r"no version 'v7' \(declared: \['v1', 'v2', 'v3'\]\)"):
        THREE.convert(thing("v7"), "v1")
    with pytest.raises(VersionError, match=r"is not of group 'example\.com'"):
        THREE.convert({**thing("v1"), "apiVersion": "other.org/v1"}, "v2")


def test_a_failing_conversion_names_the_pair_and_the_object() -> None:
    with pytest.raises(ConversionFailed, match=r"conversion v1 -> v2 of ns/t raised KeyError"):
        THREE.convert(thing("v1", wrong=1), "v2")


@attrs.frozen
class OneName:
    name: str


@attrs.frozen
class TwoNames:
    given: str
    family: str = ""


def split(spec: OneName) -> TwoNames:
    given, _, family = spec.name.partition(" ")
    return TwoNames(given, family)


def join(spec: TwoNames) -> OneName:
    return OneName(f"{spec.given} {spec.family}".strip())


SPEC = VersionSet(
    G,
    [Version("v1", spec_class=OneName), Version("v2", spec_class=TwoNames, storage=True)],
    {("v1", "v2"): on_spec(split), ("v2", "v1"): on_spec(join)},
)


def test_spec_conversions_read_and_write_the_versions_classes() -> None:
    obj = {**thing("v1", name="Ada Lovelace"), "status": {"ok": True}}
    out = SPEC.convert(obj, "v2")
    assert out["spec"] == {"given": "Ada", "family": "Lovelace"}
    assert out["status"] == {"ok": True}
    assert SPEC.round_trips(obj, "v2")
    # "Ada " loses its trailing space: round_trips says so rather than hiding it
    assert not SPEC.round_trips(thing("v1", name="Ada "), "v2")


def test_a_spec_conversion_must_return_the_target_class() -> None:
    versions = VersionSet(
        G,
        [Version("v1", spec_class=OneName), Version("v2", spec_class=TwoNames, storage=True)],
        {("v1", "v2"): on_spec(lambda spec: spec), ("v2", "v1"): on_spec(join)},
    )
    with pytest.raises(ConversionFailed, match="returned OneName, not TwoNames"):
        versions.convert(thing("v1", name="x"), "v2")


def test_review_converts_every_object_and_echoes_the_uid() -> None:
    body = conversion_review([thing("v1", a=1), thing("v3", c=2)], f"{G}/v2", "uid-7")
    answer = review(THREE, body)
    assert answer["apiVersion"] == "apiextensions.k8s.io/v1"
    assert answer["kind"] == "ConversionReview"
    response = answer["response"]
    assert response["uid"] == "uid-7"
    assert response["result"] == {"status": "Success"}
    assert response["convertedObjects"] == [thing("v2", b=1), thing("v2", b=2)]


def test_review_reports_a_failed_conversion_as_failure() -> None:
    body = conversion_review([thing("v1", nope=1)], f"{G}/v2", "u")
    response = review(THREE, body)["response"]
    assert response["result"]["status"] == "Failure"
    assert "conversion v1 -> v2 of ns/t raised KeyError" in response["result"]["message"]
    assert "convertedObjects" not in response


@pytest.mark.parametrize("body", [
    [], {"kind": "Pod"}, {"kind": "ConversionReview", "apiVersion": "apiextensions.k8s.io/v1beta1"},
    {"kind": "ConversionReview", "apiVersion": "apiextensions.k8s.io/v1", "request": {}},
])
def test_a_malformed_review_is_a_value_error(body: Any) -> None:
    with pytest.raises(ValueError):
        review(THREE, body)


Thing = K8sType(f"{G}/v2", "Thing", "things")


def definition(**kwargs: Any) -> OperatorDefinition:
    return OperatorDefinition(
        OperatorConfig("things-op", Thing), lambda request: None,
        versions=[Version("v1", spec_class=OneName), Version("v2", spec_class=TwoNames,
                                                             storage=True)],
        conversions={("v1", "v2"): on_spec(split), ("v2", "v1"): on_spec(join)},
        **kwargs,
    )


def test_the_definition_takes_the_watched_version_s_classes() -> None:
    d = definition()
    assert d.spec_class is TwoNames
    assert d.version_set is not None and d.version_set.storage.name == "v2"


def test_the_watched_version_must_be_declared_and_served() -> None:
    with pytest.raises(VersionError, match="no version 'v2'"):
        OperatorDefinition(OperatorConfig("x", Thing), lambda r: None,
                           versions=[Version("v1", storage=True)])
    with pytest.raises(VersionError, match="no versions"):
        OperatorDefinition(OperatorConfig("x", Thing), lambda r: None,
                           conversions={("v1", "v2"): join})


def test_the_crd_serves_every_version_and_converts_through_the_webhook() -> None:
    crd = crd_of(definition())
    v1, v2 = crd["spec"]["versions"]
    assert (v1["name"], v1["served"], v1["storage"]) == ("v1", True, False)
    assert (v2["name"], v2["served"], v2["storage"]) == ("v2", True, True)
    assert set(v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]) == {"name"}
    assert set(v2["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]) == {
        "given", "family"}
    assert crd["spec"]["conversion"] == {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "kubeplan-system",
                                         "name": "things-op-webhook",
                                         "path": "/convert", "port": 443}},
        },
    }
    url = {"url": "https://127.0.0.1:9443/convert", "caBundle": "Q0E="}
    assert crd_of(definition(), webhook_client_config=url)["spec"]["conversion"]["webhook"][
        "clientConfig"] == url


def test_a_single_version_crd_has_no_conversion() -> None:
    crd = crd_of(OperatorDefinition(OperatorConfig("x", Thing), lambda r: None))
    assert "conversion" not in crd["spec"]
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v2"]


def _by_kind(objects: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objects}


def test_manifests_serve_the_webhook_with_a_cert_manager_certificate() -> None:
    from kubeplan.core.manifests import manifests_for

    objects = _by_kind(manifests_for(definition(), target="m:op", namespace="ops"))
    crd = objects["CustomResourceDefinition"]
    assert crd["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "ops/things-op-webhook"}
    client = crd["spec"]["conversion"]["webhook"]["clientConfig"]
    assert client == {"service": {"namespace": "ops", "name": "things-op-webhook",
                                  "path": "/convert", "port": 443}}
    service = objects["Service"]
    assert service["metadata"]["name"] == "things-op-webhook"
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 443,
                                         "targetPort": "webhook", "protocol": "TCP"}]
    pod = objects["Deployment"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    certificate = objects["Certificate"]
    assert certificate["spec"]["secretName"] == "things-op-webhook-tls"
    assert "things-op-webhook.ops.svc" in certificate["spec"]["dnsNames"]
    assert certificate["spec"]["issuerRef"]["name"] == objects["Issuer"]["metadata"]["name"]
    container = pod["spec"]["containers"][0]
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in container["ports"]
    args = container["args"]
    assert args[args.index("--tls-cert-file") + 1] == "/etc/kubeplan/webhook/tls.crt"
    assert {"name": "webhook-tls", "secret": {"secretName": "things-op-webhook-tls"}} in (
        pod["spec"]["volumes"])


def test_manifests_with_a_ca_write_its_bundle_and_need_no_cert_manager() -> None:
    import base64

    from kubeplan.core.manifests import manifests_for

    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    objects = manifests_for(definition(), target="m:op", webhook_ca=pem)
    kinds = [o["kind"] for o in objects]
    assert "Certificate" not in kinds and "Issuer" not in kinds and "Service" in kinds
    crd = objects[0]
    assert "annotations" not in crd["metadata"]
    bundle = crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"]
    assert base64.b64decode(bundle).decode() == pem


def test_manifests_of_a_single_version_have_no_webhook() -> None:
    from kubeplan.core.manifests import manifests_for

    objects = manifests_for(OperatorDefinition(OperatorConfig("x", Thing), lambda r: None),
                            target="m:op")
    assert "Service" not in [o["kind"] for o in objects]
    container = objects[-1]["spec"]["template"]["spec"]["containers"][0]
    assert "--tls-cert-file" not in container["args"]


def test_check_operator_draws_parents_of_the_watched_version() -> None:
    from hypothesis import given, settings

    from kubeplan.testkit.strategies import parents_for

    watched_v1 = OperatorDefinition(
        OperatorConfig("x", K8sType(f"{G}/v1", "Thing", "things")), lambda r: None,
        versions=[Version("v1", spec_class=OneName),
                  Version("v2", spec_class=TwoNames, storage=True)],
        conversions={("v1", "v2"): on_spec(split), ("v2", "v1"): on_spec(join)},
    )

    @settings(max_examples=10, deadline=None, database=None)
    @given(parents_for(watched_v1))
    def drawn(parent: dict) -> None:
        assert parent["apiVersion"] == f"{G}/v1"
        assert set(parent["spec"]) == {"name"}

    drawn()
