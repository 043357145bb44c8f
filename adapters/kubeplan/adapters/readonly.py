"""A read-only ``ApiClient``: reads pass through, every write is refused before it is sent.

``ReadOnlyClient(inner)`` forwards ``get``, ``list`` and ``watch`` to ``inner`` and raises
``WriteRefused`` from ``create``, ``replace``, ``apply``, ``patch``, ``replace_status`` and
``delete`` without calling ``inner`` at all, dry runs included (a dry-run write still needs
the write permission and still runs admission webhooks, which may have effects of their
own). ``kubeplan plan`` reads clusters through it, so a preview is safe by construction,
not by care: a code path that tried to write would fail loudly instead of changing the
cluster.

Only the protocol's methods are exposed (no attribute falls through to ``inner``), so the
wrapped client's lower-level request methods cannot be reached through it either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn

from kubeplan.adapters.protocol import ApiClient, PatchType, PropagationPolicy, RawObject
from kubeplan.core.errors import KubeplanError
from kubeplan.core.types import K8sType

__all__ = ["ReadOnlyClient", "WriteRefused"]


class WriteRefused(KubeplanError):
    """A write was asked of a read-only client; nothing was sent. ``verb`` is the method
    (``create``, ``patch`` ...), ``target`` the object it named."""

    def __init__(self, verb: str, target: str, purpose: str) -> None:
        self.verb = verb
        self.target = target
        super().__init__(
            f"{purpose} is read-only: refused to {verb} {target} (nothing was sent to the "
            "API server)"
        )


def _target(type_: K8sType, name: str | None, namespace: str | None) -> str:
    if name:
        return f"{type_} {namespace}/{name}" if namespace else f"{type_} {name}"
    return f"{type_} in {namespace}" if namespace else str(type_)


def _target_of(type_: K8sType, obj: Any, namespace: str | None = None) -> str:
    meta = (obj.get("metadata") if isinstance(obj, dict) else None) or {}
    name = meta.get("name") or meta.get("generateName")
    return _target(type_, str(name) if name else None, namespace or meta.get("namespace"))


class ReadOnlyClient:
    """An ``ApiClient`` over ``inner`` that can only read; ``purpose`` names the reader in
    ``WriteRefused`` messages (``"kubeplan plan"``)."""

    def __init__(self, inner: ApiClient, *, purpose: str = "this client") -> None:
        self._inner = inner
        self.purpose = purpose

    def __repr__(self) -> str:
        return f"<ReadOnlyClient over {self._inner!r}>"

    # -- reads ----------------------------------------------------------------------------

    async def get(self, type_: K8sType, name: str, namespace: str | None = None) -> RawObject:
        return await self._inner.get(type_, name, namespace)

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
        return await self._inner.list(
            type_, namespace, label_selector=label_selector, field_selector=field_selector,
            limit=limit, continue_=continue_, resource_version=resource_version,
        )

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
        return self._inner.watch(
            type_, namespace, label_selector=label_selector, field_selector=field_selector,
            resource_version=resource_version, allow_bookmarks=allow_bookmarks,
            timeout_seconds=timeout_seconds,
        )

    async def close(self) -> None:
        await self._inner.close()

    # -- writes: refused ------------------------------------------------------------------

    def _refuse(self, verb: str, target: str) -> NoReturn:
        raise WriteRefused(verb, target, self.purpose)

    async def create(
        self, type_: K8sType, obj: RawObject, *, namespace: str | None = None,
        dry_run: bool = False, field_manager: str | None = None,
    ) -> RawObject:
        self._refuse("create", _target_of(type_, obj, namespace))

    async def replace(self, type_: K8sType, obj: RawObject, *, dry_run: bool = False) -> RawObject:
        self._refuse("replace", _target_of(type_, obj))

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
        self._refuse("apply", _target_of(type_, obj))

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
        self._refuse("patch", _target(type_, name, namespace))

    async def replace_status(self, type_: K8sType, obj: RawObject) -> RawObject:
        self._refuse("replace the status of", _target_of(type_, obj))

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
        self._refuse("delete", _target(type_, name, namespace))
