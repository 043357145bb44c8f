"""examples/versions end to end: the API server (fake, real or both) calls the operator's
conversion webhook over HTTPS (a url clientConfig to 127.0.0.1, trusting a throwaway CA),
so a Greeting written in v1 reads back as v2, one written in v2 reads back as v1, and the
operator syncs v2 throughout. With the operator gone, reading another version than the
stored one is a 500 naming the webhook, in the same words on both servers."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest
from e2e_support import E2E, EXAMPLES, eventually, is_synced, load_yaml, meta

from kubeplan.core.k8s import core_v1
from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition
from kubeplan.core.types import K8sType
from kubeplan.testkit.endpoint import EndpointError
from kubeplan.testkit.realkube.pki import make_pki

V1 = K8sType("example.kubeplan.dev/v1", "Greeting", "greetings")
V2 = K8sType("example.kubeplan.dev/v2", "Greeting", "greetings")
CRD_NAME = "greetings.example.kubeplan.dev"
TARGET = "examples/versions/versions_operator.py:operator"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _point_conversion_at(e2e: E2E, client_config: dict[str, Any]) -> None:
    def put() -> bool | None:
        crd = e2e.admin.get(CustomResourceDefinition, CRD_NAME)
        assert crd is not None
        crd["spec"]["conversion"]["webhook"]["clientConfig"] = client_config
        try:
            e2e.admin.endpoint.request("PUT", CustomResourceDefinition.path(None, CRD_NAME),
                                       crd)
        except EndpointError as exc:
            if exc.status == 409:  # the CRD's controllers wrote its status meanwhile
                return None
            raise
        return True

    eventually(put, what=f"CRD {CRD_NAME} updated", timeout=30)


@pytest.fixture
def original_crd(e2e: E2E) -> Any:
    """The example's CRD as installed, put back after the test (its Service clientConfig)."""
    e2e.admin.install_crd(EXAMPLES / "versions" / "crd.yaml")
    yield
    original = load_yaml(EXAMPLES / "versions" / "crd.yaml")
    _point_conversion_at(e2e, original["spec"]["conversion"]["webhook"]["clientConfig"])


def test_the_server_converts_through_the_operator_s_webhook(
        e2e: E2E, original_crd: Any) -> None:
    admin, ns = e2e.admin, e2e.namespace
    pki = make_pki(e2e.folder / "webhook-pki")
    port = _free_port()
    operator = e2e.operator(TARGET, args=[
        "--webhook-host", "127.0.0.1", "--webhook-port", str(port),
        "--tls-cert-file", str(pki.serving_cert), "--tls-key-file", str(pki.serving_key)])
    url = f"https://127.0.0.1:{port}/convert"
    _point_conversion_at(e2e, {
        "url": url, "caBundle": base64.b64encode(pki.ca_cert.read_bytes()).decode("ascii")})

    ada = load_yaml(EXAMPLES / "versions" / "greeting.yaml")
    ada["metadata"]["namespace"] = ns

    def created() -> dict[str, Any] | None:  # the server takes up the new clientConfig
        try:
            return admin.create(V1, ada)
        except EndpointError as exc:
            if exc.status == 500:
                return None
            raise

    written = eventually(created, what="a v1 Greeting created through the webhook",
                         timeout=30, context=e2e.logs)
    e2e.remember(V2, "ada", ns)
    assert written["apiVersion"] == "example.kubeplan.dev/v1"
    assert written["spec"] == {"name": "Ada Lovelace"}
    as_v2 = admin.get(V2, "ada", ns)
    assert as_v2 is not None and as_v2["spec"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert meta(as_v2)["uid"] == meta(written)["uid"]

    # the operator syncs v2; its status reads back in v1 too
    synced = eventually(lambda: (g := admin.get(V2, "ada", ns)) and is_synced(g) and g,
                        what="Greeting ada synced", context=e2e.logs)
    assert synced["status"]["greeting"] == "Hello, Ada Lovelace!"
    configmap = admin.get(core_v1.ConfigMap, "greeting-ada", ns)
    assert configmap is not None and configmap["data"] == {"greeting": "Hello, Ada Lovelace!"}
    back = admin.get(V1, "ada", ns)
    assert back is not None and back["spec"] == {"name": "Ada Lovelace"}
    assert back["status"]["greeting"] == "Hello, Ada Lovelace!"

    # written in v2, read in v1; a list of v1 converts every item
    grace = {"apiVersion": V2.api_version, "kind": "Greeting",
             "metadata": {"name": "grace", "namespace": ns},
             "spec": {"givenName": "Grace", "familyName": "Hopper"}}
    admin.create(V2, grace)
    e2e.remember(V2, "grace", ns)
    assert (admin.get(V1, "grace", ns) or {})["spec"] == {"name": "Grace Hopper"}
    listed = {meta(o)["name"]: o["spec"] for o in admin.list(V1, ns)}
    assert listed == {"ada": {"name": "Ada Lovelace"}, "grace": {"name": "Grace Hopper"}}

    # with the webhook gone, only the storage version can be read
    operator.stop()
    with pytest.raises(EndpointError) as failed:
        admin.get(V1, "ada", ns)
    assert failed.value.status == 500
    assert failed.value.body == {  # a Status with no reason, as a plain Go error renders
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 500,
        "message": f'conversion webhook for example.kubeplan.dev/v2, Kind=Greeting failed: '
                   f'Post "{url}?timeout=30s": dial tcp 127.0.0.1:{port}: connect: '
                   "connection refused",
    }
    assert admin.get(V2, "ada", ns) is not None
