"""Bearer-token authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kubeplan.testkit.apiserver.http import FakeApiHttpServer

TOKEN = "s3cret-token"


@pytest.fixture
async def secured(store: Any) -> AsyncIterator[str]:
    async with FakeApiHttpServer(store, token=TOKEN) as server:
        yield server.url


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Basic czNjcmV0LXRva2Vu", f"Bearer {TOKEN}x", "Bearer", ""]
)
async def test_missing_or_wrong_token_is_401(secured: str, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    async with aiohttp.ClientSession() as session:
        for path in ("/api", "/apis", "/api/v1/namespaces/default/configmaps", "/openapi/v3"):
            async with session.get(secured + path, headers=headers) as resp:
                assert resp.status == 401, path
                body = await resp.json()
                assert body["kind"] == "Status" and body["reason"] == "Unauthorized"
                assert body["code"] == 401


async def test_right_token_passes(secured: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(secured + "/api/v1/namespaces/default/configmaps") as resp:
            assert resp.status == 200
        async with session.get(secured + "/apis") as resp:
            assert resp.status == 200


async def test_probes_and_version_are_public(secured: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz", "/livez", "/readyz/ping", "/version"):
            async with session.get(secured + path) as resp:
                assert resp.status == 200, path


async def test_no_token_configured_means_open(session: aiohttp.ClientSession) -> None:
    async with session.get("/api/v1/namespaces/default/configmaps") as resp:
        assert resp.status == 200
