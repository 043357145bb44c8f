"""Shared helpers for the fake API server's store and conformance tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson

from kubeplan.testkit.apiserver import ApiRequest, ApiResponse, FakeApiServer
from kubeplan.testkit.vtime import LoopClock

CM = "/api/v1/namespaces/default/configmaps"
NS = "/api/v1/namespaces"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"

#: The instant virtual time 0 stands for in these tests (their timestamps are literals).
START = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def new_server(**kwargs: Any) -> FakeApiServer:
    kwargs.setdefault("clock", LoopClock(epoch=START))
    kwargs.setdefault("seed", 7)
    return FakeApiServer(**kwargs)


async def call(
    server: FakeApiServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    query: dict[str, str] | None = None,
    content_type: str | None = None,
    raw: bytes | None = None,
) -> ApiResponse:
    data = raw if raw is not None else (b"" if body is None else orjson.dumps(body))
    if content_type is None and data:
        content_type = "application/json"
    return await server.handle(
        ApiRequest(method, path, query or {}, data, content_type, user_agent="tests/1.0")
    )


def cm(name: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": data or {"k": "v"},
    }


def deployment(name: str, replicas: int = 1, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, **meta},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "required": ["size"],
        },
        "status": {
            "type": "object",
            "properties": {"phase": {"type": "string"}, "observed": {"type": "integer"}},
        },
    },
}


def crd(
    *,
    status: bool = True,
    scope: str = "Namespaced",
    versions: tuple[str, ...] = ("v1",),
    plural: str = "widgets",
    kind: str = "Widget",
    group: str = "example.com",
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": i == 0,
                    "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
                    **({"subresources": {"status": {}}} if status else {}),
                }
                for i, v in enumerate(versions)
            ],
        },
    }


def widget(name: str, size: int = 1, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, **meta},
        "spec": {"size": size},
    }


async def install_crd(server: FakeApiServer, **kwargs: Any) -> dict[str, Any]:
    response = await call(server, "POST", CRDS, crd(**kwargs))
    assert response.status == 201, response.body
    await server.settle()
    return response.body or {}


async def collect(
    stream: AsyncIterator[dict[str, Any]], count: int, timeout: float = 2.0
) -> list[dict[str, Any]]:
    """The next ``count`` events of a watch stream (fails after ``timeout`` real seconds)."""
    events: list[dict[str, Any]] = []

    async def run() -> None:
        async for event in stream:
            events.append(event)
            if len(events) >= count:
                return

    await asyncio.wait_for(run(), timeout)
    return events


async def drain(
    stream: AsyncIterator[dict[str, Any]], timeout: float = 2.0
) -> list[dict[str, Any]]:
    """Every event until the stream ends."""
    events: list[dict[str, Any]] = []

    async def run() -> None:
        async for event in stream:
            events.append(event)

    await asyncio.wait_for(run(), timeout)
    return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"].get("metadata", {}).get("name", "")) for e in events]
