"""HTTPS: the fake served over TLS with a throwaway CA, as `kubeplan fake-apiserver --tls`
runs it. TLS-only clients (kubectl with a token, webhook servers that read the API
server's certificate) need it."""

from __future__ import annotations

import base64
import re
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from conftest import kubectl_binaries

from kubeplan.adapters.client import KubeClient
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig
from kubeplan.testkit.certificates import CertificateAuthority, server_ssl_context

TOKEN = "s3cret-token"
KUBECTL = kubectl_binaries()["default"]
KUBEPLAN = str(Path(sys.executable).parent / "kubeplan")


@pytest.fixture
async def secured(store: Any, tmp_path: Path) -> AsyncIterator[tuple[str, Path, bytes]]:
    ca = CertificateAuthority.new()
    context = server_ssl_context(ca.issue_server())
    async with FakeApiHttpServer(store, token=TOKEN, ssl_context=context) as server:
        path = write_kubeconfig(tmp_path / "kubeconfig", server.url, TOKEN, ca_pem=ca.cert_pem)
        yield server.url, path, ca.cert_pem


async def test_the_kubeconfig_trusts_the_ca_and_the_client_works(
        secured: tuple[str, Path, bytes]) -> None:
    url, kubeconfig, ca_pem = secured
    assert url.startswith("https://127.0.0.1:")
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca_pem
    client = await KubeClient.from_kubeconfig(kubeconfig)
    try:
        created = await client.create(core_v1.ConfigMap, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "over-tls", "namespace": "default"}})
        assert created["metadata"]["name"] == "over-tls"
    finally:
        await client.close()


async def test_a_client_that_does_not_trust_the_ca_is_refused(
        secured: tuple[str, Path, bytes]) -> None:
    url, _, _ = secured
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(url + "/version")
    other = ssl.create_default_context(cadata=CertificateAuthority.new().cert_pem.decode())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(url + "/version", ssl=other)


async def test_plain_http_to_the_tls_port_gets_no_api(secured: tuple[str, Path, bytes]) -> None:
    url, _, _ = secured
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(url.replace("https://", "http://") + "/api") as resp:
                await resp.read()


async def test_a_token_still_guards_every_request(secured: tuple[str, Path, bytes]) -> None:
    url, _, ca_pem = secured
    context = ssl.create_default_context(cadata=ca_pem.decode())
    async with aiohttp.ClientSession() as session, session.get(
            url + "/api/v1/namespaces", ssl=context) as resp:
        assert resp.status == 401


def test_the_command_serves_https_that_kubectl_uses_with_a_token(tmp_path: Path) -> None:
    if KUBECTL is None:
        pytest.skip("kubectl not on PATH")
    token = tmp_path / "token"
    token.write_text(TOKEN)
    kubeconfig = tmp_path / "k.yaml"
    proc = subprocess.Popen(
        [KUBEPLAN, "fake-apiserver", "--tls", "--token-file", str(token), "--port", "0",
         "--kubeconfig", str(kubeconfig)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.search(r"https://127\.0\.0\.1:\d+", line), line
        # kubectl sends a kubeconfig's token only over TLS: this is what --tls is for
        out = subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), "get", "namespaces",
                              "-o", "name"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "namespace/default" in out.stdout.split()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
