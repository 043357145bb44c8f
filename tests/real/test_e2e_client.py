"""kubeplan's client on the real kube-apiserver: TLS verified against the CA, a bearer
token, a client certificate, inline and file credentials, the kubernetes_asyncio
fallback (an exec plugin), both transports; and a wrong CA, a wrong server name or a
wrong token fail at once with an error that says what is wrong.

Who the server took the caller for comes from a SelfSubjectReview: the token's user has
a uid (``tokens.csv`` gives one), the certificate's has none, so the answer proves which
credential authenticated the request, not just that one did.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import OperatorProcess, eventually

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import ConnectionFailed, Unauthorized
from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType
from kubeplan.testkit.endpoint import KubeEndpoint
from kubeplan.testkit.realkube.pki import make_pki

SELF_REVIEW = K8sType("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews",
                      namespaced=False)
CM = core_v1.ConfigMap
TOKEN_CONTEXT, CERT_CONTEXT = "kubeplan-real", "kubeplan-real-cert"


def _config(endpoint: KubeEndpoint) -> dict[str, Any]:
    loaded = yaml.safe_load(endpoint.kubeconfig.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _variant(endpoint: KubeEndpoint, path: Path, *, cluster: dict[str, Any] | None = None,
             user: dict[str, Any] | None = None, context: str = TOKEN_CONTEXT) -> Path:
    """The admin kubeconfig with ``context`` only, its cluster and user replaced as given."""
    config = _config(endpoint)
    (ctx,) = [c for c in config["contexts"] if c["name"] == context]
    (clu,) = [c for c in config["clusters"] if c["name"] == ctx["context"]["cluster"]]
    (usr,) = [u for u in config["users"] if u["name"] == ctx["context"]["user"]]
    if cluster is not None:
        clu["cluster"] = cluster
    if user is not None:
        usr["user"] = user
    path.write_text(yaml.safe_dump({**config, "clusters": [clu], "users": [usr],
                                    "contexts": [ctx], "current-context": context}))
    path.chmod(0o600)
    return path


def _b64(path: str) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


async def _who(client: KubeClient) -> dict[str, Any]:
    review = await client.create(SELF_REVIEW, {"apiVersion": SELF_REVIEW.api_version,
                                               "kind": "SelfSubjectReview"})
    return dict(review["status"]["userInfo"])


async def _round_trip(client: KubeClient, namespace: str, name: str) -> None:
    """Each verb the runtime uses, once, on a ConfigMap."""
    created = await client.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": name, "namespace": namespace},
                                       "data": {"a": "1"}}, field_manager="kubeplan-e2e")
    listed = await client.list(CM, namespace, label_selector=None)
    assert name in {item["metadata"]["name"] for item in listed["items"]}
    applied = await client.apply(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": name, "namespace": namespace},
                                      "data": {"a": "2"}}, field_manager="kubeplan-e2e")
    assert applied["data"] == {"a": "2"}
    patched = await client.patch(CM, name, {"data": {"b": "3"}}, namespace=namespace)
    assert patched["data"] == {"a": "2", "b": "3"}
    await client.delete(CM, name, namespace, uid=created["metadata"]["uid"])


@pytest.mark.parametrize("transport", ["http1", "aiohttp"])
async def test_a_bearer_token_over_tls_verified_with_the_ca_file(
        real_kube_apiserver: KubeEndpoint, transport: str) -> None:
    endpoint = real_kube_apiserver
    client = await KubeClient.from_kubeconfig(endpoint.kubeconfig, transport=transport)
    async with client:
        assert client.transport == transport
        assert client.static is not None and client.static.token
        assert client.static.ca_file == str(endpoint.ca_file)
        who = await _who(client)
        assert who["username"] == "kubeplan-admin" and who.get("uid") == "kubeplan-admin"
        assert "system:masters" in who["groups"]
        await _round_trip(client, endpoint.namespace, f"token-{transport}")


@pytest.mark.parametrize("transport", ["http1", "aiohttp"])
async def test_the_client_certificate_context(real_kube_apiserver: KubeEndpoint,
                                              transport: str) -> None:
    endpoint = real_kube_apiserver
    client = await KubeClient.from_kubeconfig(endpoint.kubeconfig, CERT_CONTEXT,
                                              transport=transport)
    async with client:
        assert client.static is not None and client.static.token is None
        assert client.static.cert_file and client.static.key_file
        who = await _who(client)
        # the certificate's subject, and no uid: the token cannot have been used
        assert who["username"] == "kubeplan-admin" and "uid" not in who
        assert "system:masters" in who["groups"]
        await _round_trip(client, endpoint.namespace, f"cert-{transport}")


async def test_inline_certificates_and_a_token_file(real_kube_apiserver: KubeEndpoint,
                                                    tmp_path: Path) -> None:
    endpoint = real_kube_apiserver
    config = _config(endpoint)
    cluster = config["clusters"][0]["cluster"]
    (cert_user,) = [u["user"] for u in config["users"] if u["name"].endswith("-cert")]
    inline = _variant(endpoint, tmp_path / "inline", context=CERT_CONTEXT, cluster={
        "server": cluster["server"],
        "certificate-authority-data": _b64(cluster["certificate-authority"])}, user={
        "client-certificate-data": _b64(cert_user["client-certificate"]),
        "client-key-data": _b64(cert_user["client-key"])})
    async with await KubeClient.from_kubeconfig(inline) as client:
        assert client.static is not None and client.static.ca_data and client.static.cert_data
        assert "uid" not in await _who(client)
    token = tmp_path / "token"
    token.write_text(f"{endpoint.token}\n")
    from_file = _variant(endpoint, tmp_path / "token-file", user={"tokenFile": str(token)})
    async with await KubeClient.from_kubeconfig(from_file) as client:
        assert client.static is not None and client.static.token_file == str(token)
        assert (await _who(client)).get("uid") == "kubeplan-admin"


async def test_an_exec_plugin_goes_through_kubernetes_asyncio(
        real_kube_apiserver: KubeEndpoint, tmp_path: Path) -> None:
    endpoint = real_kube_apiserver
    plugin = tmp_path / "credential.py"
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": endpoint.token}}
    plugin.write_text(f"print({json.dumps(json.dumps(credential))})\n")
    path = _variant(endpoint, tmp_path / "exec", user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
        "args": [str(plugin)], "interactiveMode": "Never"}})
    async with await KubeClient.from_kubeconfig(path) as client:
        assert client.static is None and client.api_client is not None
        assert client.transport == "aiohttp"
        assert (await _who(client)).get("uid") == "kubeplan-admin"
        await _round_trip(client, endpoint.namespace, "exec-plugin")


async def test_a_watch_streams_over_tls(real_kube_apiserver: KubeEndpoint) -> None:
    endpoint = real_kube_apiserver
    async with await KubeClient.from_kubeconfig(endpoint.kubeconfig) as client:
        since = (await client.list(CM, endpoint.namespace))["metadata"]["resourceVersion"]
        stream = client.watch(CM, endpoint.namespace, resource_version=since,
                              timeout_seconds=10)
        await client.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "watched",
                                              "namespace": endpoint.namespace}})
        assert isinstance(stream, AsyncGenerator)
        async with contextlib.aclosing(stream):
            async for event in stream:
                if event["object"]["metadata"]["name"] == "watched":
                    assert event["type"] == "ADDED"
                    break


def _wrong_ca(endpoint: KubeEndpoint, folder: Path) -> Path:
    other = make_pki(folder / "other-pki")  # a CA the server's certificate is not from
    server = _config(endpoint)["clusters"][0]["cluster"]["server"]
    return _variant(endpoint, folder / "wrong-ca", cluster={
        "server": server, "certificate-authority": str(other.ca_cert)})


@pytest.mark.parametrize("transport", ["http1", "aiohttp"])
async def test_a_wrong_ca_fails_with_a_clear_error(real_kube_apiserver: KubeEndpoint,
                                                   tmp_path: Path, transport: str) -> None:
    path = _wrong_ca(real_kube_apiserver, tmp_path)
    host = real_kube_apiserver.url.removeprefix("https://")
    async with await KubeClient.from_kubeconfig(path, transport=transport,
                                                read_attempts=1) as client:
        with pytest.raises(ConnectionFailed) as info:
            await client.list(CM, real_kube_apiserver.namespace)
    message = str(info.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message and host in message, message
    assert info.value.sent is False  # nothing reached the server: a write may be retried


async def test_a_wrong_server_name_or_token_fails_with_a_clear_error(
        real_kube_apiserver: KubeEndpoint, tmp_path: Path) -> None:
    endpoint = real_kube_apiserver
    cluster = _config(endpoint)["clusters"][0]["cluster"]
    # the serving certificate names kubernetes.default, not this
    renamed = _variant(endpoint, tmp_path / "renamed", cluster={
        **cluster, "tls-server-name": "kubernetes.default"})
    async with await KubeClient.from_kubeconfig(renamed) as client:
        assert (await _who(client))["username"] == "kubeplan-admin"
    misnamed = _variant(endpoint, tmp_path / "misnamed", cluster={
        **cluster, "tls-server-name": "not-the-apiserver.example"})
    async with await KubeClient.from_kubeconfig(misnamed, read_attempts=1) as client:
        with pytest.raises(ConnectionFailed, match=re.escape("not-the-apiserver.example")):
            await client.list(CM, endpoint.namespace)
    bad_token = _variant(endpoint, tmp_path / "bad-token", user={"token": "not-a-token"})
    async with await KubeClient.from_kubeconfig(bad_token) as client:
        with pytest.raises(Unauthorized, match="401"):
            await client.list(CM, endpoint.namespace)


def test_kubeplan_run_with_a_wrong_ca_says_why_it_cannot_list(
        real_kube_apiserver: KubeEndpoint, tmp_path: Path) -> None:
    """The operator waits for the server (up to --startup-timeout), its log says on every
    attempt that the certificate did not verify, and a stop while it waits is clean."""
    path = _wrong_ca(real_kube_apiserver, tmp_path)
    operator = OperatorProcess("examples/member/member_operator.py:operator", path,
                               tmp_path / "operator.log").start()
    try:
        eventually(lambda: "CERTIFICATE_VERIFY_FAILED" in operator.log(),
                   what="the certificate error in the log", timeout=30,
                   context=operator.describe)
        assert operator.alive() and "caches synced" not in operator.log()
    finally:
        assert operator.stop() == 0, operator.describe()
