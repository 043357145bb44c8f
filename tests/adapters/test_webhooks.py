"""The operator's webhook server: ConversionReviews over HTTPS, /healthz, errors, and a
certificate rotated on disk picked up by new connections."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import aiohttp
import pytest

from kubeplan.adapters.webhooks import TlsFiles, WebhookServer, webhook_routes
from kubeplan.core.versions import Version, VersionSet, conversion_review
from kubeplan.testkit.realkube.pki import Pki, make_pki


def rename(old: str, new: str):  # type: ignore[no-untyped-def]
    def fn(obj: dict) -> dict:
        spec = dict(obj["spec"])
        spec[new] = spec.pop(old)
        return {**obj, "spec": spec}
    return fn


VERSIONS = VersionSet("example.com", [Version("v1"), Version("v2", storage=True)],
                      {("v1", "v2"): rename("a", "b"), ("v2", "v1"): rename("b", "a")})
OBJ = {"apiVersion": "example.com/v1", "kind": "Thing",
       "metadata": {"name": "t", "namespace": "ns", "uid": "1"}, "spec": {"a": 1}}


def trusting(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_cert))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


async def test_a_conversion_review_is_answered_over_https(pki: Pki) -> None:
    tls = TlsFiles(pki.serving_cert, pki.serving_key)
    async with WebhookServer(webhook_routes(VERSIONS), tls=tls, host="127.0.0.1",
                             port=0) as server, aiohttp.ClientSession() as session:
        assert server.url.startswith("https://127.0.0.1:")
        body = conversion_review([OBJ], "example.com/v2", "uid-1")
        async with session.post(f"{server.url}/convert", json=body,
                                ssl=trusting(pki)) as response:
            assert response.status == 200
            answer = await response.json()
        assert answer["response"]["uid"] == "uid-1"
        assert answer["response"]["convertedObjects"][0]["spec"] == {"b": 1}
        async with session.get(f"{server.url}/healthz", ssl=trusting(pki)) as response:
            assert response.status == 200


async def test_malformed_bodies_are_400_naming_the_route(pki: Pki) -> None:
    tls = TlsFiles(pki.serving_cert, pki.serving_key)
    async with WebhookServer(webhook_routes(VERSIONS), tls=tls, host="127.0.0.1",
                             port=0) as server, aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/convert", data=b"{not json",
                                ssl=trusting(pki)) as response:
            assert response.status == 400
            assert "/convert: the body is not JSON" in await response.text()
        async with session.post(f"{server.url}/convert", json={"kind": "Pod"},
                                ssl=trusting(pki)) as response:
            assert response.status == 400
            assert "not a ConversionReview" in await response.text()


async def test_a_route_that_fails_is_500_and_the_server_keeps_serving() -> None:
    def broken(body: object) -> object:
        raise RuntimeError("boom")

    async with WebhookServer({"/broken": broken, **webhook_routes(VERSIONS)}, tls=None,
                             host="127.0.0.1", port=0) as server, \
            aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/broken", json={}) as response:
            assert response.status == 500
        async with session.post(f"{server.url}/convert", json=conversion_review(
                [OBJ], "example.com/v2", "u")) as response:
            assert response.status == 200


async def test_a_rotated_certificate_is_served_to_new_connections(
        tmp_path: Path, pki: Pki) -> None:
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "tls.crt", live / "tls.key"
    shutil.copy(pki.serving_cert, cert)
    shutil.copy(pki.serving_key, key)
    tls = TlsFiles(cert, key)
    assert not tls.reload_if_changed()  # nothing changed yet
    async with WebhookServer(webhook_routes(VERSIONS), tls=tls, host="127.0.0.1", port=0,
                             reload_interval=0) as server:
        async with aiohttp.ClientSession() as session, session.get(
                f"{server.url}/healthz", ssl=trusting(pki)) as response:
            assert response.status == 200
        rotated = make_pki(tmp_path / "rotated")
        # cert-manager swaps the files; a half-written pair (new cert, old key) is kept out
        shutil.copy(rotated.serving_cert, cert)
        assert not tls.reload_if_changed()
        async with aiohttp.ClientSession() as session, session.get(
                f"{server.url}/healthz", ssl=trusting(pki)) as response:
            assert response.status == 200  # still the old pair
        shutil.copy(rotated.serving_key, key)
        assert tls.reload_if_changed() and tls.loads == 2
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/healthz",
                                   ssl=trusting(rotated)) as response:
                assert response.status == 200
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(f"{server.url}/healthz", ssl=trusting(pki))


def test_unloadable_files_are_refused_naming_them(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(ValueError, match=r"cannot load the webhook certificate .*c\.pem"):
        TlsFiles(tmp_path / "c.pem", tmp_path / "k.pem")
    with pytest.raises(ValueError, match="cannot read"):
        TlsFiles(tmp_path / "missing.pem", tmp_path / "k.pem")


def test_routes_must_be_paths() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        WebhookServer({"convert": lambda body: body}, tls=None)
