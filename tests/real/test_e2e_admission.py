"""examples/admission end to end: the API server (fake, real or both) calls the operator's
admission webhooks over HTTPS (url clientConfigs to 127.0.0.1, trusting a throwaway CA),
so a Site its validator denies fails with the validator's reason and is not stored, a
good one is defaulted by its mutator and converges, and a change of domain is refused."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest
from e2e_support import E2E, EXAMPLES, eventually, is_synced, load_yaml

from kubeplan.commands._loading import load_definition
from kubeplan.core import admission
from kubeplan.core.k8s import core_v1
from kubeplan.core.k8s.admissionregistration_v1 import (
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
)
from kubeplan.core.types import K8sType
from kubeplan.testkit.endpoint import EndpointError
from kubeplan.testkit.realkube.pki import make_pki

Site = K8sType("example.kubeplan.dev/v1", "Site", "sites")
TARGET = "examples/admission/admission_operator.py:operator"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_server_admits_through_the_operator_s_webhooks(e2e: E2E) -> None:
    admin, ns = e2e.admin, e2e.namespace
    admin.install_crd(EXAMPLES / "admission" / "crd.yaml")
    pki = make_pki(e2e.folder / "webhook-pki")
    port = _free_port()
    e2e.operator(TARGET, args=[
        "--webhook-host", "127.0.0.1", "--webhook-port", str(port),
        "--tls-cert-file", str(pki.serving_cert), "--tls-key-file", str(pki.serving_key)])
    bundle = base64.b64encode(pki.ca_cert.read_bytes()).decode("ascii")
    definition = load_definition(TARGET)
    name = f"site-admission-{ns}"[:63]
    configs = admission.configurations(
        definition.admission, name,
        lambda path: {"url": f"https://127.0.0.1:{port}{path}", "caBundle": bundle})
    for config in configs:  # only this test's namespace
        for hook in config["webhooks"]:
            hook["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": ns}}
    kinds = {"ValidatingWebhookConfiguration": ValidatingWebhookConfiguration,
             "MutatingWebhookConfiguration": MutatingWebhookConfiguration}
    try:
        for config in configs:
            admin.create(kinds[config["kind"]], config)
        bad = load_yaml(EXAMPLES / "admission" / "bad-site.yaml")
        bad["metadata"]["namespace"] = ns

        def denied() -> dict[str, Any] | None:  # the server takes up the new webhooks
            try:
                admin.create(Site, bad)
            except EndpointError as exc:
                if exc.status == 403:
                    return exc.body
                if exc.status == 500:
                    return None
                raise
            e2e.remember(Site, "phish", ns)
            admin.delete(Site, "phish", ns)
            return None

        body = eventually(denied, what="a bad Site denied by the validator", timeout=30,
                          context=e2e.logs)
        assert body["message"] == (
            'admission webhook "check-site.site.kubeplan.dev" denied the request: '
            "spec.domain: 'shop.example.net' is not under example.com")
        assert body["details"]["causes"][0]["field"] == "spec.domain"
        assert admin.get(Site, "phish", ns) is None

        shop = load_yaml(EXAMPLES / "admission" / "site.yaml")
        shop["metadata"]["namespace"] = ns
        created = admin.create(Site, shop)
        e2e.remember(Site, "shop", ns)
        assert created["spec"]["tier"] == "web"  # the mutator's patch
        eventually(lambda: is_synced(admin.get(Site, "shop", ns)), what="Site shop synced",
                   context=e2e.logs)
        configmap = admin.get(core_v1.ConfigMap, "site-shop", ns)
        assert configmap is not None
        assert configmap["data"] == {"domain": "shop.example.com", "replicas": "2",
                                     "tier": "web"}
        with pytest.raises(EndpointError) as moved:
            admin.merge_patch(Site, "shop", {"spec": {"domain": "x.example.com"}}, ns)
        assert moved.value.status == 403
        assert "cannot change from 'shop.example.com' to 'x.example.com'" in str(
            moved.value.body["message"])
    finally:
        for config in configs:
            admin.delete(kinds[config["kind"]], name)
