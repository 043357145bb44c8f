"""external-s3: an index of a bucket's objects, kept in a ConfigMap per ReportIndex.

The reports live in an S3-compatible bucket. The bucket is an **external source**
(``OperatorConfig.with_source`` with an ``ObjectStoreSource``): the runtime lists it
with ListObjectsV2 every ``interval`` seconds, and hands ``sync`` its objects as items
keyed by object key, each ``{"key", "etag", "size", "lastModified"}``. A change (an
object added, rewritten or removed) syncs the ReportIndexes; ``sync`` stays a pure
function of the parent and the listing.

A ReportIndex selects the objects under ``spec.prefix`` (within the source's prefix) and
gets a ConfigMap whose ``index.json`` lists them, sorted by key. If the store cannot be
listed, the ConfigMap is kept as it is and the ReportIndex says ``Synced=False`` (reason
``SourceUnavailable``) until it can.

The store comes from ``S3_ENDPOINT`` (empty: AWS), ``REPORTS_BUCKET`` and
``REPORTS_PREFIX``; credentials from boto3's usual chain. Needs the ``s3`` extra
(``pip install 'kubeplan-adapters[s3]'``). ``config_for(...)`` builds the same operator
for another store (the tests start one on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
from typing import Any

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.sources import ObjectStoreSource
from kubeplan.core.types import K8sType

ReportIndex = K8sType("example.kubeplan.dev/v1", "ReportIndex", "reportindexes")


@attrs.frozen
class ReportIndexSpec:
    """An index of the report objects under a prefix, as a ConfigMap."""

    prefix: str = attrs.field(default="", metadata={
        "description": "only objects whose key starts with this (empty: all)",
    })


@attrs.frozen
class ReportIndexStatus:
    objects: int = 0
    bytes: int = 0


def config_for(bucket: str, *, prefix: str = "", endpoint: str | None = None,
               interval: float = 60.0) -> OperatorConfig:
    return (
        OperatorConfig("external-s3", ReportIndex)
        .with_child(core_v1.ConfigMap, ChildConfig.replace())
        .with_source("reports", ObjectStoreSource(bucket, prefix=prefix, endpoint=endpoint,
                                                  interval=interval))
    )


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(ReportIndexSpec)
    chosen = [item for key, item in request.sources["reports"].items()
              if key.startswith(spec.prefix)]
    index = [{"key": i["key"], "etag": i["etag"], "size": i["size"],
              "lastModified": i["lastModified"]} for i in chosen]
    child = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{request.name}-index", "namespace": request.namespace},
        "data": {"index.json": json.dumps(index, sort_keys=True)},
    }
    status = ReportIndexStatus(objects=len(index), bytes=sum(int(i["size"]) for i in index))
    return SyncResponse(children=[child], status=status)


config = config_for(os.environ.get("REPORTS_BUCKET", "reports"),
                    prefix=os.environ.get("REPORTS_PREFIX", ""),
                    endpoint=os.environ.get("S3_ENDPOINT") or None)

operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=ReportIndexSpec,
    status_class=ReportIndexStatus,
    description="Keeps an index of a bucket's objects in a ConfigMap.",
)


def index_of(configmap: dict[str, Any]) -> list[dict[str, Any]]:
    """The index a ReportIndex's ConfigMap holds."""
    return list(json.loads((configmap.get("data") or {}).get("index.json") or "[]"))
