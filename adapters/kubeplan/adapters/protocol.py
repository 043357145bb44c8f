"""The client protocol: what the runtime needs from an API server, in raw JSON.

Two implementations exist: ``kubeplan.adapters.client.KubeClient`` over kubernetes_asyncio
(a real cluster or the fake API server over HTTP) and the testkit's in-process client
(the fake API server without sockets, for fast deterministic simulation). Objects are
plain dicts exactly as the API server sends them; errors are ``kubeplan.adapters.errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

from kubeplan.core.types import K8sType

RawObject = dict[str, Any]
PatchType = Literal["merge", "json", "strategic", "apply"]
PropagationPolicy = Literal["Background", "Foreground", "Orphan"]


class ApiClient(Protocol):
    """Async access to any resource type. Every method raises ``ApiError`` on non-2xx."""

    async def get(self, type_: K8sType, name: str, namespace: str | None = None) -> RawObject:
        ...

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
        """A raw ``...List``: ``items``, ``metadata.resourceVersion``, ``metadata.continue``."""
        ...

    def watch(
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
        """Raw watch events ``{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": …}``.

        The iterator ends when the server closes the stream (timeoutSeconds or a drop).
        An ERROR event is yielded as is (its object is a Status, e.g. 410 Expired).
        """
        ...

    async def create(
        self, type_: K8sType, obj: RawObject, *, namespace: str | None = None,
        dry_run: bool = False, field_manager: str | None = None,
    ) -> RawObject:
        """POST: fails with ``AlreadyExists`` if any object holds the name."""
        ...

    async def replace(self, type_: K8sType, obj: RawObject, *, dry_run: bool = False) -> RawObject:
        """PUT of the whole object; ``metadata.resourceVersion`` in ``obj`` is a precondition."""
        ...

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
        """Server-side apply (``application/apply-patch+yaml``) of ``obj``."""
        ...

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
        ...

    async def replace_status(self, type_: K8sType, obj: RawObject) -> RawObject:
        """PUT to the ``/status`` subresource (resourceVersion in ``obj`` is a precondition)."""
        ...

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
        """DELETE with optional uid / resourceVersion preconditions.

        Returns the object as the server answered (the object itself while finalizers hold
        it, else its last state or a Status).
        """
        ...

    async def close(self) -> None:
        ...
