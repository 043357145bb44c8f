"""Fixtures for the HTTP face: a store, the HTTP server on 127.0.0.1, an aiohttp session."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.http import FakeApiHttpServer
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse


class HookedServer:
    """Wraps a store so HTTP-layer tests can provoke what a store never does on purpose:
    an exception (`.../explode` paths) or a canned answer (`responses[path]`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.registry = inner.registry
        self.max_request_bytes = getattr(inner, "max_request_bytes", None)
        self.responses: dict[str, ApiResponse] = {}
        self.seen: list[ApiRequest] = []

    def __getattr__(self, name: str) -> Any:  # clock, get_object, ... of the real store
        return getattr(self.inner, name)

    async def handle(self, request: ApiRequest) -> ApiResponse:
        self.seen.append(request)
        if request.path.endswith("/explode"):
            raise RuntimeError("store exploded")
        if request.path in self.responses:
            return self.responses[request.path]
        return await self.inner.handle(request)


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    server = FakeApiServer()
    async with server:
        yield server


@pytest.fixture
async def hooked(store: Any) -> HookedServer:
    return HookedServer(store)


@pytest.fixture
async def http(hooked: HookedServer) -> AsyncIterator[FakeApiHttpServer]:
    async with FakeApiHttpServer(hooked) as server:
        yield server


@pytest.fixture
async def session(http: FakeApiHttpServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=http.url) as client:
        yield client


# -- kubectl --------------------------------------------------------------------------


def kubectl_binaries() -> dict[str, str | None]:
    """'default', '1.27', '1.33' -> path of that kubectl, or None when absent.

    ``KUBEPLAN_KUBECTL_VERSIONS=1.27,1.28,...`` widens the set of versioned binaries.
    """
    found: dict[str, str | None] = {"default": shutil.which("kubectl")}
    folder = Path(os.path.realpath(found["default"])).parent if found["default"] else None
    wanted = os.environ.get("KUBEPLAN_KUBECTL_VERSIONS", "1.27,1.33")
    for version in (v.strip() for v in wanted.split(",") if v.strip()):
        candidate = folder / f"kubectl.{version}" if folder else None
        found[version] = str(candidate) if candidate and candidate.exists() else None
    return found
