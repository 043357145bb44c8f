"""What ``kubeplan plan`` for one parent and ``kubeplan plan --all`` share: the handler
called as the runtime calls it, the planner run with an empty apply memo, and clusters
read through a client that cannot write.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from kubeplan.adapters.readonly import ReadOnlyClient
from kubeplan.adapters.sources.build import fetch_for
from kubeplan.core.config import OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import KubeplanError
from kubeplan.core.filters import FilterError
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.plan import Plan
from kubeplan.core.planner import plan as make_plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.sources import (
    SourceError,
    SourceItems,
    resolve_source_selection,
    selected_items,
)
from kubeplan.core.unmatched import plan_unmatched

#: how ``WriteRefused`` messages name the reader
PURPOSE = "kubeplan plan"


class PlanError(KubeplanError):
    """Something the user must fix; the message says what."""


def plan_request(
    definition: OperatorDefinition,
    request: SyncRequest,
    *,
    now: datetime | None = None,
    failure: Exception | None = None,
) -> Plan:
    """Call the handler as the runtime would and plan its answer (the planner is pure);
    a parent the operator's filters do not select gets ``plan_unmatched``'s plan.

    ``now`` is the instant of the sync (the clock's, when None); ``failure`` is an error
    met before the handler could be called (a related-object select function that
    raised): it is planned in the handler's place, as the runtime does. The external
    sources the parent reads are read once (``read_sources``) unless the request has them.
    """
    info = HandlerInfo.of(definition.handler)
    now = now or datetime.now(UTC)
    if request.now is None:
        request = attrs.evolve(request, now=now)
    try:
        selected = definition.config.selects(request.parent)
    except FilterError as exc:
        raise PlanError(str(exc)) from exc
    if not selected:  # the runtime releases such a parent without calling the handler
        return plan_unmatched(definition.config, request)
    if definition.config.sources and failure is None and (
            set(request.sources) != set(definition.config.sources)):
        found = asyncio.run(read_sources(definition.config, request.parent))
        if isinstance(found, SourceError):
            failure = found  # planned as the runtime plans it: no child touched
        else:
            request = attrs.evolve(request, sources=found)
    result: Any = failure
    if failure is None:
        function = info.finalize if request.finalizing and info.finalize else info.sync
        try:
            result = function(request)
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
        except Exception as exc:  # planned like the runtime plans it: a failed condition
            result = exc
    return make_plan(definition.config, request, result, memo=ApplyMemo.empty(),
                     now=now, has_finalize=info.has_finalize)


#: each source's items, read once per process (``plan --all`` plans many parents)
_SOURCE_ITEMS: dict[Any, Mapping[str, Any] | SourceError] = {}


async def _read_source(name: str, source: Any) -> Mapping[str, Any] | SourceError:
    if source in _SOURCE_ITEMS:
        return _SOURCE_ITEMS[source]
    found: Mapping[str, Any] | SourceError
    if getattr(source, "token_secret", None) is not None:
        found = SourceError(name, "kubeplan plan does not read tokens from Secrets; give "
                            "the source a token_file to plan with it")
    else:
        fetch, close = fetch_for(source, None, "default")  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(source.timeout):
                found = dict(await fetch() or {})
        except Exception as exc:  # reported as the runtime reports it
            found = SourceError(name, f"{source.describe()}: {exc or type(exc).__name__}")
        finally:
            if close is not None:
                await close()
    _SOURCE_ITEMS[source] = found
    return found


async def read_sources(config: OperatorConfig, parent: Mapping[str, Any],
                       ) -> dict[str, SourceItems] | SourceError:
    """Each declared source read once, as the parent reads it (its selection), or the
    ``SourceError`` the runtime would plan instead of calling the handler."""
    try:
        selections = resolve_source_selection(config.sources, parent)
    except SourceError as exc:
        return exc
    out: dict[str, SourceItems] = {}
    for name, declaration in config.sources.items():
        if name not in selections:
            out[name] = SourceItems(name)
            continue
        items = await _read_source(name, declaration.source)
        if isinstance(items, SourceError):
            return items
        out[name] = SourceItems(name, selected_items(items, selections[name]))
    return out


def read_failed(host: str, exc: BaseException) -> PlanError:
    """A read that failed: unreachable (no HTTP status) or refused (RBAC, a missing CRD)."""
    status = getattr(exc, "status", None)
    if isinstance(exc, OSError) or status == 0:
        return PlanError(
            f"cannot reach the cluster at {host} ({getattr(exc, 'message', exc)}); check "
            "--kubeconfig/--context and that the cluster is running"
        )
    if status == 404:
        return PlanError(
            f"the cluster at {host} does not serve a type this operator needs ({exc}); is the "
            "CRD installed? (kubeplan crd MODULE:ATTR | kubectl apply -f -)"
        )
    if status in (401, 403):
        return PlanError(f"the cluster at {host} refused a read ({exc}); kubeplan plan needs "
                         "get/list on the parent, child and related types")
    return PlanError(f"reading from the cluster at {host} failed: {exc}")


async def connect_readonly(args: argparse.Namespace) -> tuple[ReadOnlyClient, str]:
    """A read-only client for ``--kubeconfig``/``--context``, and the server's URL."""
    from kubeplan.commands._cluster import ClusterError, connect, host_of

    try:  # a missing kubeconfig, an unknown context ...: one line that says what to do
        client = await connect(args.kubeconfig, args.context, read_attempts=1)
    except ClusterError as exc:
        raise PlanError(str(exc)) from exc
    return ReadOnlyClient(client, purpose=PURPOSE), host_of(client)
