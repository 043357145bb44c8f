"""``InProcessClient``: the ``ApiClient`` protocol over ``FakeApiServer.handle``.

No sockets and no serialisation beyond what the store does itself, so simulations run
fast; but every call is a real ``ApiRequest`` through the same entry point as HTTP,
so faults, the request log and every semantic are shared exactly with the HTTP face.
Non-2xx answers raise ``kubeplan.adapters.errors`` exceptions, like ``KubeClient``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from kubeplan.adapters.errors import error_from_status
from kubeplan.adapters.protocol import PatchType, PropagationPolicy, RawObject
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse

if TYPE_CHECKING:
    from kubeplan.testkit.apiserver.server import FakeApiServer

__all__ = ["InProcessClient"]

_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


def _object_path(
    type_: K8sType, namespace: str | None, name: str | None, subresource: str | None = None
) -> str:
    path = type_.path(namespace if type_.namespaced else None, name)
    return f"{path}/{subresource}" if subresource else path


class InProcessClient:
    """Implements ``kubeplan.adapters.protocol.ApiClient`` against a ``FakeApiServer``."""

    def __init__(
        self, server: FakeApiServer, *, user: str = "admin", user_agent: str = "kubeplan-inproc/0.1"
    ) -> None:
        self.server = server
        self.user = user
        self.user_agent = user_agent
        self.closed = False

    async def _call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> ApiResponse:
        raw = b"" if body is None else orjson.dumps(body)
        request = ApiRequest(
            method=method,
            path=path,
            query={k: v for k, v in (query or {}).items()},
            body=raw,
            content_type=content_type if body is not None else None,
            user=self.user,
            user_agent=self.user_agent,
        )
        # a real client always suspends on I/O; without this, a worker whose requests all
        # answer at once would hold the event loop (watch events, timers, other workers
        # starve) for as long as it keeps finding work
        await asyncio.sleep(0)
        response = await self.server.handle(request)
        if response.status >= 400:
            retry = response.headers.get("Retry-After")
            raise error_from_status(response.status, response.body, float(retry) if retry else None)
        return response

    async def _object(self, *args: Any, **kwargs: Any) -> RawObject:
        response = await self._call(*args, **kwargs)
        return dict(response.body or {})

    async def get(self, type_: K8sType, name: str, namespace: str | None = None) -> RawObject:
        return await self._object("GET", _object_path(type_, namespace, name))

    async def list(
        self,
        type_: K8sType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> RawObject:
        query: dict[str, str] = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if limit:
            query["limit"] = str(limit)
        if continue_:
            query["continue"] = continue_
        if resource_version is not None:
            query["resourceVersion"] = resource_version
        return await self._object("GET", _object_path(type_, namespace, None), query)

    async def watch(
        self,
        type_: K8sType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> AsyncIterator[RawObject]:
        query = {"watch": "true"}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if resource_version is not None:
            query["resourceVersion"] = resource_version
        if allow_bookmarks:
            query["allowWatchBookmarks"] = "true"
        if timeout_seconds is not None:
            query["timeoutSeconds"] = str(timeout_seconds)
        response = await self._call("GET", _object_path(type_, namespace, None), query)
        assert response.stream is not None
        stream = response.stream
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def create(
        self, type_: K8sType, obj: RawObject, *, namespace: str | None = None,
        dry_run: bool = False, field_manager: str | None = None,
    ) -> RawObject:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        query = {"dryRun": "All"} if dry_run else {}
        if field_manager:
            query["fieldManager"] = field_manager
        return await self._object(
            "POST", _object_path(type_, ns, None), query, obj, "application/json"
        )

    async def replace(self, type_: K8sType, obj: RawObject, *, dry_run: bool = False) -> RawObject:
        meta = obj.get("metadata") or {}
        query = {"dryRun": "All"} if dry_run else {}
        return await self._object(
            "PUT",
            _object_path(type_, meta.get("namespace"), meta.get("name")),
            query,
            obj,
            "application/json",
        )

    async def apply(
        self,
        type_: K8sType,
        obj: RawObject,
        *,
        field_manager: str,
        force: bool = True,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> RawObject:
        meta = obj.get("metadata") or {}
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        path = _object_path(type_, meta.get("namespace"), meta.get("name"), subresource)
        return await self._object("PATCH", path, query, obj, _PATCH_CONTENT_TYPES["apply"])

    async def patch(
        self,
        type_: K8sType,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> RawObject:
        query: dict[str, str] = {}
        if field_manager:
            query["fieldManager"] = field_manager
        if dry_run:
            query["dryRun"] = "All"
        return await self._object(
            "PATCH",
            _object_path(type_, namespace, name, subresource),
            query,
            patch,
            _PATCH_CONTENT_TYPES[patch_type],
        )

    async def replace_status(self, type_: K8sType, obj: RawObject) -> RawObject:
        meta = obj.get("metadata") or {}
        return await self._object(
            "PUT",
            _object_path(type_, meta.get("namespace"), meta.get("name"), "status"),
            None,
            obj,
            "application/json",
        )

    async def delete(
        self,
        type_: K8sType,
        name: str,
        namespace: str | None = None,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: PropagationPolicy | None = None,
        dry_run: bool = False,
    ) -> RawObject:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        preconditions = {}
        if uid:
            preconditions["uid"] = uid
        if resource_version:
            preconditions["resourceVersion"] = resource_version
        if preconditions:
            options["preconditions"] = preconditions
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if dry_run:
            options["dryRun"] = ["All"]
        return await self._object(
            "DELETE", _object_path(type_, namespace, name), None, options, "application/json"
        )

    async def close(self) -> None:
        self.closed = True
