"""The static kubeconfig reader: what it reads, what it leaves to kubernetes_asyncio."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import Unauthorized
from kubeplan.adapters.kubeconfig import InClusterError, TokenFile, load_in_cluster, load_static
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.http import FakeApiHttpServer, kubeconfig
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.vtime import LoopClock


def _write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_a_token_kubeconfig_is_served_without_kubernetes_asyncio(tmp_path: Path) -> None:
    async with (FakeApiServer(clock=LoopClock()) as fake,
                FakeApiHttpServer(fake, token="s3cret") as http):
        path = _write(tmp_path / "config", kubeconfig(http.url, token="s3cret"))
        client = await KubeClient.from_kubeconfig(path)
        try:
            assert client.api_client is None and client.static is not None
            assert (await client.list(core_v1.Namespace))["items"]
        finally:
            await client.close()
        wrong = _write(tmp_path / "wrong", kubeconfig(http.url, token="nope"))
        client = await KubeClient.from_kubeconfig(wrong)
        try:
            with pytest.raises(Unauthorized):
                await client.list(core_v1.Namespace)
        finally:
            await client.close()


def test_importing_the_client_does_not_import_kubernetes_asyncio() -> None:
    code = ("import sys, kubeplan.adapters.runtime, kubeplan.adapters.client; "
            "sys.exit('kubernetes_asyncio' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("user", [
    {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "get-token"}},
    {"auth-provider": {"name": "oidc"}},
    {"username": "ada", "password": "lovelace"},
    {"token": "t", "as": "someone-else"},
])
def test_plugins_and_anything_unknown_are_left_to_the_full_loader(tmp_path: Path,
                                                                   user: dict) -> None:
    doc = kubeconfig("https://example.invalid:6443")
    doc["users"][0]["user"] = user
    assert load_static(_write(tmp_path / "config", doc)) is None


def test_merged_kubeconfig_lists_and_unreadable_files_are_left_to_the_full_loader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = _write(tmp_path / "one", kubeconfig("http://127.0.0.1:1"))
    monkeypatch.setenv("KUBECONFIG", f"{one}{os.pathsep}{tmp_path / 'two'}")
    assert load_static() is None
    monkeypatch.setenv("KUBECONFIG", str(one))
    assert load_static() is not None and load_static().server == "http://127.0.0.1:1"
    (tmp_path / "bad").write_text("{not: [yaml")
    assert load_static(tmp_path / "bad") is None
    assert load_static(tmp_path / "missing") is None


def test_the_context_selects_cluster_and_user(tmp_path: Path) -> None:
    doc = kubeconfig("https://a.example:6443", token="a-token", context="a")
    other = kubeconfig("https://b.example:6443", token="b-token", context="b")
    for key in ("clusters", "users", "contexts"):
        for item in other[key]:
            item["name"] = "b"
        doc[key] += other[key]
    doc["contexts"][-1]["context"] = {"cluster": "b", "user": "b"}
    path = _write(tmp_path / "config", doc)
    assert load_static(path, "b").server == "https://b.example:6443"
    assert load_static(path, "b").token == "b-token"
    assert load_static(path).token == "a-token"
    assert load_static(path, "no-such-context") is None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_material_from_data_and_relative_files(tmp_path: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=kubeplan-test", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True)
    cert = (tmp_path / "cert.pem").read_bytes()
    key = (tmp_path / "key.pem").read_bytes()
    doc = kubeconfig("https://api.example:6443")
    doc["clusters"][0]["cluster"].update({
        "certificate-authority-data": base64.b64encode(cert).decode(),
        "tls-server-name": "kubernetes"})
    doc["users"][0]["user"] = {"client-certificate-data": base64.b64encode(cert).decode(),
                               "client-key-data": base64.b64encode(key).decode()}
    static = load_static(_write(tmp_path / "data", doc))
    assert static is not None and static.tls_server_name == "kubernetes"
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("kubeplan-tls-*"))
    context = static.ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert any(c.get("subject") == ((("commonName", "kubeplan-test"),),)
               for c in context.get_ca_certs())
    assert set(temp.glob("kubeplan-tls-*")) == before  # the temporary key files are gone

    doc["clusters"][0]["cluster"] = {"server": "https://api.example:6443",
                                     "certificate-authority": "cert.pem"}
    doc["users"][0]["user"] = {"client-certificate": "cert.pem", "client-key": "key.pem"}
    static = load_static(_write(tmp_path / "files", doc))
    assert static is not None and static.ca_file == str(tmp_path / "cert.pem")
    assert static.ssl_context() is not None

    doc["clusters"][0]["cluster"] = {"server": "https://api.example:6443",
                                     "insecure-skip-tls-verify": True}
    doc["users"][0]["user"] = {}
    insecure = load_static(_write(tmp_path / "insecure", doc)).ssl_context()
    assert insecure is not None and insecure.verify_mode == ssl.CERT_NONE


async def test_a_token_file_is_read_relative_to_the_kubeconfig_and_again_as_it_rotates(
        tmp_path: Path) -> None:
    async with (FakeApiServer(clock=LoopClock()) as fake,
                FakeApiHttpServer(fake, token="first") as http):
        doc = kubeconfig(http.url)
        doc["users"][0]["user"] = {"tokenFile": "secrets/token"}
        (tmp_path / "secrets").mkdir()
        token = tmp_path / "secrets" / "token"
        token.write_text("first\n")
        client = await KubeClient.from_kubeconfig(_write(tmp_path / "config", doc))
        try:
            assert client.static is not None and client.static.token_file == str(token)
            assert client.transport == "http1"
            assert (await client.list(core_v1.Namespace))["items"]
            http.token = "second"  # the server rotates the token, the kubelet the file
            token.write_text("second")
            assert client._token_file is not None
            client._token_file._read_at -= 61  # a minute later
            assert (await client.list(core_v1.Namespace))["items"]
        finally:
            await client.close()


def test_a_token_file_keeps_its_last_token_while_unreadable(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "token"
    path.write_text("one")
    source = TokenFile(path, period=60, clock=lambda: now[0])
    assert source.token() == "one"
    path.write_text("two")
    now[0] = 30
    assert source.token() == "one"  # not a minute yet
    now[0] = 61
    assert source.token() == "two"
    path.unlink()
    now[0] = 200
    assert source.token() == "two"
    with pytest.raises(OSError):
        TokenFile(tmp_path / "never").token()


def _service_account(folder: Path) -> Path:
    folder.mkdir()
    (folder / "token").write_text("sa-token")
    (folder / "ca.crt").write_text("not read until a TLS context is made")
    return folder


def test_in_cluster_reads_the_service_account_as_client_go_does(tmp_path: Path) -> None:
    root = _service_account(tmp_path / "sa")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = load_in_cluster(env, root)
    assert config.server == "https://10.96.0.1:443"
    assert config.ca_file == str(root / "ca.crt")
    assert config.token_file == str(root / "token") and config.token is None
    v6 = load_in_cluster({"KUBERNETES_SERVICE_HOST": "fd00::1",
                          "KUBERNETES_SERVICE_PORT": "6443"}, root)
    assert v6.server == "https://[fd00::1]:6443"


def test_in_cluster_outside_a_pod_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(InClusterError, match="KUBERNETES_SERVICE_HOST"):
        load_in_cluster({}, tmp_path)
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(InClusterError, match="token is missing"):
        load_in_cluster(env, tmp_path)
