"""external-http: feature flags served over HTTP, copied into a ConfigMap per FlagSet.

The flags live outside Kubernetes, behind an HTTP endpoint serving a JSON list such as
``[{"id": "dark-mode", "value": "on"}, ...]``. They are an **external source**, declared
with ``OperatorConfig.with_source``: the runtime polls the URL with conditional GETs
(one request answered 304 while nothing changes), hands the current flags to ``sync`` as
``request.sources["flags"]``, and syncs exactly the FlagSets that read a flag that
changed. ``sync`` stays a pure function of the parent and the flags.

A FlagSet names the flags it wants (``spec.flags``; empty: all of them) and gets a
ConfigMap with one key per flag. If the endpoint fails, the ConfigMap is kept as it is
and the FlagSet says ``Synced=False`` (reason ``SourceUnavailable``) until it answers.

The URL comes from ``FLAGS_URL`` (and a bearer token from the file ``FLAGS_TOKEN_FILE``,
when set); ``config_for(url)`` builds the same operator for another URL (the tests serve
flags from 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import attrs

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.sources import HttpSource
from kubeplan.core.types import K8sType

FlagSet = K8sType("example.kubeplan.dev/v1", "FlagSet", "flagsets")

#: a ConfigMap key
_KEY = re.compile(r"[-._a-zA-Z0-9]+")


@attrs.frozen
class FlagSetSpec:
    """Feature flags from the flag service, as a ConfigMap."""

    flags: list[str] = attrs.field(factory=list, metadata={
        "description": "the flag ids to copy (empty: every flag the service serves)",
    })


@attrs.frozen
class FlagSetStatus:
    copied: int = 0
    missing: list[str] = attrs.Factory(list)


def flags_of(parent: Mapping[str, Any]) -> bool | list[str]:
    """Pure: which flags this FlagSet reads (True: all)."""
    wanted = (parent.get("spec") or {}).get("flags") or []
    return list(wanted) if wanted else True


def config_for(url: str, *, interval: float = 30.0, token_file: str | None = None,
               ) -> OperatorConfig:
    return (
        OperatorConfig("external-http", FlagSet)
        .with_child(core_v1.ConfigMap, ChildConfig.replace())
        .with_source("flags", HttpSource(url, id_field="id", interval=interval,
                                         token_file=token_file), select=flags_of)
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(FlagSetSpec)
    flags = request.sources["flags"]
    data = {flag_id: _text(item.get("value")) for flag_id, item in flags.items()
            if _KEY.fullmatch(flag_id)}
    missing = sorted(set(spec.flags) - set(flags))
    child = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{request.name}-flags", "namespace": request.namespace},
        "data": data,
    }
    return SyncResponse(children=[child],
                        status=FlagSetStatus(copied=len(data), missing=missing))


config = config_for(os.environ.get("FLAGS_URL", "http://flags.default.svc/flags"),
                    token_file=os.environ.get("FLAGS_TOKEN_FILE") or None)

operator = OperatorDefinition(
    config=config,
    handler=sync,
    spec_class=FlagSetSpec,
    status_class=FlagSetStatus,
    description="Copies feature flags served over HTTP into a ConfigMap.",
)
