"""``kubeplan plan MODULE:ATTR --all``: the upgrade preview, every live parent planned at once.

The cluster is read once, through ``ReadOnlyClient`` (so nothing can be written): the
parents in the namespaces chosen, every object of each child type that carries the
operator's label (assigned to parents by controller ownerReference, or by the parent-uid
label, as the runtime's caches assign them), and every object of each related type in
the namespaces the operator watches. Each parent is then planned as a sync of the
running operator would plan it (``_planning.plan_request``: one instant for all, an
empty apply memo); a desired child whose name an object of someone else holds is read
with one GET, so the plan reports the conflict instead of a create. The plans are summed
up by ``kubeplan.core.summary.PlanSummary``, which renders both the text and the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from kubeplan.adapters.protocol import ApiClient
from kubeplan.commands._planning import PlanError, connect_readonly, plan_request, read_failed
from kubeplan.core.config import LABEL_PARENT_UID, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.objects import (
    ObjectRef,
    controller_ref_of,
    is_terminating,
    labels_of,
    uid_of,
)
from kubeplan.core.plan import Create, Plan
from kubeplan.core.related import SelectorError, resolve_selectors, select_related
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.summary import PlanSummary
from kubeplan.core.types import K8sType

__all__ = ["PAGE_SIZE", "Snapshot", "plan_cluster", "plan_snapshot", "read_snapshot", "run_all",
           "target_namespaces"]

RawObject = dict[str, Any]

#: objects per LIST request (the continue token pages through the rest)
PAGE_SIZE = 500


@attrs.frozen
class Snapshot:
    """What was read: the parents, each owner uid's children, each related type's objects."""

    parents: tuple[RawObject, ...]
    children: dict[str, list[tuple[K8sType, RawObject]]]
    related: dict[K8sType, list[RawObject]]


def target_namespaces(config: OperatorConfig, requested: Sequence[str] | None,
                      ) -> tuple[str, ...] | None:
    """The namespaces to read parents in (None: all), checked against what the operator
    watches; ``PlanError`` naming the namespace the operator would never see."""
    parent = config.parent
    if not requested:
        return tuple(sorted(config.namespaces)) if config.namespaces is not None else None
    if not parent.namespaced:
        raise PlanError(f"{parent.kind} is cluster-scoped: -n/--namespace does not apply to "
                        f"operator {config.name!r}'s parents")
    outside = [ns for ns in requested if not config.allows_namespace(ns)]
    if outside:
        watched = ", ".join(sorted(config.namespaces or ()))
        raise PlanError(f"operator {config.name!r} does not watch namespace "
                        f"{outside[0]!r} (it watches: {watched}); its parents there are "
                        "never synced")
    return tuple(sorted(set(requested)))


async def _list_all(client: ApiClient, type_: K8sType, namespace: str | None = None, *,
                    label_selector: str | None = None) -> list[RawObject]:
    """Every object of ``type_`` (in ``namespace``), page by page."""
    items: list[RawObject] = []
    continue_: str | None = None
    while True:
        listed = await client.list(type_, namespace, label_selector=label_selector,
                                   limit=PAGE_SIZE, continue_=continue_)
        for obj in listed.get("items") or ():
            obj.setdefault("apiVersion", type_.api_version)
            obj.setdefault("kind", type_.kind)
            items.append(obj)
        continue_ = (listed.get("metadata") or {}).get("continue") or None
        if not continue_:
            return items


def _scopes(type_: K8sType, namespaces: Iterable[str] | None) -> list[str | None]:
    if namespaces is None or not type_.namespaced:
        return [None]
    return list(namespaces)


def _owner_uids(obj: RawObject) -> set[str]:
    owners = set()
    controller = (controller_ref_of(obj) or {}).get("uid")
    if controller:
        owners.add(str(controller))
    labelled = labels_of(obj).get(LABEL_PARENT_UID)
    if labelled:
        owners.add(labelled)
    return owners


async def read_snapshot(client: ApiClient, config: OperatorConfig,
                        namespaces: tuple[str, ...] | None) -> Snapshot:
    """Read what planning every parent in ``namespaces`` (None: all) needs."""
    parents: list[RawObject] = []
    for ns in _scopes(config.parent, namespaces):
        parents.extend(await _list_all(client, config.parent, ns))
    by_uid = {str(uid_of(p)): p for p in parents if uid_of(p)}
    children: dict[str, list[tuple[K8sType, RawObject]]] = {uid: [] for uid in by_uid}
    # a namespaced parent's children live in its namespace; a cluster-scoped one's anywhere
    child_scope = namespaces if config.parent.namespaced else None
    for type_ in config.child_types:
        for ns in _scopes(type_, child_scope):
            for obj in await _list_all(client, type_, ns,
                                       label_selector=config.child_label_selector):
                for owner in _owner_uids(obj) & by_uid.keys():
                    children[owner].append((type_, obj))
    related: dict[K8sType, list[RawObject]] = {}
    watched = sorted(config.namespaces) if config.namespaces is not None else None
    for type_ in config.related_types:  # as the runtime's caches: where the operator watches
        related[type_] = []
        for ns in _scopes(type_, watched):
            related[type_].extend(await _list_all(client, type_, ns))
    return Snapshot(tuple(parents), children, related)


def _request(
    config: OperatorConfig, snapshot: Snapshot, parent: RawObject,
    extra: Iterable[tuple[K8sType, RawObject]] = (),
) -> tuple[SyncRequest, Exception | None]:
    """The parent's request, and the selector error that fails its sync (if any)."""
    children = Children.from_objects([*snapshot.children.get(uid_of(parent) or "", ()), *extra])
    related, failure = Children.empty(), None
    if config.related:
        try:
            selectors = resolve_selectors(config.related, parent)
        except SelectorError as exc:
            failure = exc
        else:
            related = Children.build({
                type_: [dict(o) for o in select_related(items, snapshot.related.get(type_, []))]
                for type_, items in selectors.items()
            })
    request = SyncRequest(parent, children, finalizing=is_terminating(parent), related=related)
    return request, failure


def plan_snapshot(definition: OperatorDefinition, snapshot: Snapshot, now: datetime,
                  foreign: dict[str, list[tuple[K8sType, RawObject]]] | None = None, *,
                  only: set[str] | None = None) -> list[Plan]:
    """Every parent of ``snapshot`` (those whose uid is in ``only``, when given) planned
    at ``now``; ``foreign`` adds, per parent uid, the objects of others that hold its
    desired children's names."""
    plans = []
    for parent in snapshot.parents:
        if only is not None and uid_of(parent) not in only:
            continue
        extra = (foreign or {}).get(uid_of(parent) or "", [])
        request, failure = _request(definition.config, snapshot, parent, extra)
        plans.append(plan_request(definition, request, now=now, failure=failure))
    return plans


async def _read_foreign(client: ApiClient, wanted: dict[str, list[ObjectRef]],
                        ) -> dict[str, list[tuple[K8sType, RawObject]]]:
    from kubeplan.adapters.errors import NotFound

    found: dict[str, list[tuple[K8sType, RawObject]]] = {}
    for uid, refs in wanted.items():
        for ref in refs:
            try:
                obj = await client.get(ref.type, ref.name, ref.namespace)
            except NotFound:
                continue
            obj.setdefault("apiVersion", ref.type.api_version)
            obj.setdefault("kind", ref.type.kind)
            found.setdefault(uid, []).append((ref.type, obj))
    return found


async def _reading(args: argparse.Namespace, read: Any) -> Any:
    """``await read(client)`` on a read-only client for ``args``, read errors explained."""
    from kubeplan.adapters.errors import ApiError

    client, host = await connect_readonly(args)
    try:
        return await read(client)
    except (ApiError, OSError) as exc:
        raise read_failed(host, exc) from exc
    finally:
        await client.close()


def plan_cluster(definition: OperatorDefinition, args: argparse.Namespace,
                 namespaces: tuple[str, ...] | None) -> list[Plan]:
    """Read the cluster, plan every parent, and plan again those with a create whose name
    turns out to be taken. The handler may be async (``plan_request`` runs it with
    ``asyncio.run``), so the planning happens between the reads, outside their loops."""
    config = definition.config
    snapshot: Snapshot = asyncio.run(
        _reading(args, lambda client: read_snapshot(client, config, namespaces)))
    now = datetime.now(UTC)
    plans = plan_snapshot(definition, snapshot, now)
    wanted = {p.parent.uid or "": [a.ref for a in p.actions if isinstance(a, Create)]
              for p in plans}
    wanted = {uid: refs for uid, refs in wanted.items() if refs}
    if wanted:
        foreign = asyncio.run(_reading(args, lambda client: _read_foreign(client, wanted)))
        if foreign:  # plan again only the parents a foreign object stands in the way of
            again = plan_snapshot(definition, snapshot, now, foreign, only=set(foreign))
            by_uid = {p.parent.uid: p for p in again}
            plans = [by_uid.get(p.parent.uid, p) for p in plans]
    return plans


def run_all(definition: OperatorDefinition, args: argparse.Namespace) -> int:
    """Plan every parent, print the summary; the exit code (0 / 2 / 1, see ``plan``)."""
    config = definition.config
    namespaces = target_namespaces(config, args.namespace)
    plans = plan_cluster(definition, args, namespaces)
    summary = PlanSummary.of(plans, operator=config.name, namespaces=namespaces)
    if args.output == "json":
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
    else:
        where = ("every namespace" if namespaces is None else
                 "namespace" + ("s " if len(namespaces) > 1 else " ") + ", ".join(namespaces))
        if config.parent.namespaced:
            sys.stdout.write(f"operator {config.name!r}, {config.parent.kind} parents in "
                             f"{where}\n")
        else:
            sys.stdout.write(f"operator {config.name!r}, {config.parent.kind} parents\n")
        sys.stdout.write(str(summary) + "\n")
    failed = summary.failed
    if failed:
        names = ", ".join(_where(p.parent) for p in failed)
        print(f"kubeplan plan: the handler failed for {len(failed)} of {len(summary.plans)} "
              f"parents: {names}", file=sys.stderr)
        return 1
    return 2 if summary.would_change else 0


def _where(ref: ObjectRef) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name

