"""Reading an ``ObjectStoreSource``: the keys under a prefix, listed with ListObjectsV2.

Through boto3 (the ``s3`` extra: ``pip install 'kubeplan-adapters[s3]'``), imported only
when an ``ObjectStoreSource`` is polled; its calls block, so each listing runs in a
thread. Every page is read (``ContinuationToken``); each object becomes the item
``{"key", "etag", "size", "lastModified"}`` keyed by its key. ListObjectsV2 has no
conditional form: every poll is one request per thousand keys, and the runtime compares
the items to tell what changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubeplan.core.errors import UsageError
from kubeplan.core.sources import Item, ObjectStoreSource

__all__ = ["ObjectStoreFetcher", "item_of"]


def _boto3() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
        import botocore.config  # type: ignore[import-untyped]
    except ImportError as exc:
        raise UsageError(
            "an ObjectStoreSource needs boto3: pip install 'kubeplan-adapters[s3]'"
        ) from exc
    return boto3, botocore.config


def item_of(entry: Mapping[str, Any]) -> Item:
    """One ListObjectsV2 ``Contents`` entry as a source item."""
    modified = entry.get("LastModified")
    if isinstance(modified, datetime):
        modified = modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "key": entry["Key"],
        "etag": str(entry.get("ETag", "")).strip('"'),
        "size": int(entry.get("Size", 0)),
        "lastModified": modified,
    }


class ObjectStoreFetcher:
    """The ``Fetch`` of one ``ObjectStoreSource`` (see the module docstring)."""

    def __init__(self, source: ObjectStoreSource, client: Any = None) -> None:
        self.source = source
        if client is None:
            boto3, config = _boto3()
            client = boto3.session.Session().client(
                "s3", endpoint_url=source.endpoint, region_name=source.region,
                config=config.Config(connect_timeout=source.timeout,
                                     read_timeout=source.timeout,
                                     retries={"max_attempts": 1}),
            )
        self.client = client
        #: ListObjectsV2 requests sent
        self.requests = 0

    def _list(self) -> dict[str, Item]:
        found: dict[str, Item] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.source.bucket, "Prefix": self.source.prefix}
            if token is not None:
                kwargs["ContinuationToken"] = token
            self.requests += 1
            page = self.client.list_objects_v2(**kwargs)
            for entry in page.get("Contents") or ():
                item = item_of(entry)
                found[item["key"]] = item
            if not page.get("IsTruncated"):
                return found
            token = page.get("NextContinuationToken")

    async def __call__(self) -> Mapping[str, Item] | None:
        return await asyncio.to_thread(self._list)

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)
