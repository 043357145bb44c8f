"""Print the plan an operator would carry out, changing nothing: for one parent (-f FILE)
or for every live parent (--all, an upgrade preview).

Offline (the default for -f): the parent comes from -f FILE and the objects that exist
from --observed DIR (every .yaml/.yml/.json file in it, multi-document streams and
`kind: List` included, as `kubectl get -o yaml` writes them). Objects of a declared
child type are the parent's children (one without an ownerReferences key is taken to
be owned by the parent); objects of a related type (OperatorConfig.with_related) are
handed to the handler as related objects when its selectors match them (an object of a
type that is both is a child only when it has a controller ownerReference).

Against a cluster (--kubeconfig and/or --context): read-only. The parent's live
metadata and status are read from the cluster and the file's spec laid over them (so
the plan answers "what would the operator do if I applied this file?"); the children
are the objects the operator owns; related objects are read with the handler's
selectors.

--all (always against a cluster: --kubeconfig, --context, or else $KUBECONFIG,
~/.kube/config or the pod's service account): runs this MODULE:ATTR -- typically the
new version of the operator, before rolling it out -- over every parent in the
namespaces the operator watches (or those given with -n/--namespace, repeatable), and
prints one combined plan: the parents that would change, are up to date or fail, the
number of actions of each kind on each type, then every action with its reason,
grouped by parent (failed parents first). A parent's children are the objects that
carry the operator's label and name it as their controller (or in the parent-uid
label), as the running operator finds them; related objects are read with the
handler's selectors. A handler that raises (or returns something invalid) for one
parent fails that parent only: it is reported with its error and the others are
still planned. -o json prints the same as data (schema kubeplan.dev/plan-summary/v1:
schema, operator, namespaces, totals {parents, changed, up_to_date, failed, actions,
problems}, counts [{action, type, count}], parents [{parent, outcome, plan}], where
outcome is failed, changed or up-to-date and plan is what `plan -f -o json` prints).

Read-only by construction: clusters are read through a client whose write methods
raise before anything is sent, so only GET and LIST requests reach the API server.
The apply memo is empty, as in an operator that has just started: whether a child
needs a replace is decided by comparing the fields the handler sets with the live
object (and the desired-hash annotation), not by the running operator's memory of
its own writes. A field the server rewrites in another spelling (a quantity written
"1000m" and stored as "1") therefore shows as a replace that the running operator,
which remembers the server's answer to its write, would skip.

MODULE:ATTR names the OperatorDefinition (a dotted module or a file path).

Examples:
  kubeplan plan examples/echo-server/echo_server_operator.py:operator \\
      -f examples/echo-server/echoserver.yaml
  kubeplan plan my_operator:operator -f web.yaml --observed observed/
  kubeplan plan my_operator:operator -f web.yaml --kubeconfig ~/.kube/config -o json
  kubeplan plan my_operator:operator --all --kubeconfig ~/.kube/config -n team-a -o json

Exit codes: 0 the plan is empty (nothing to do); 2 the plan has actions (or bad
usage); 1 an error explained on stderr (the target does not load, the file is not a
parent of this operator, the cluster cannot be reached ...). With --all: 1 also when
the handler failed for any parent (the combined plan is still printed, and stderr
names the failed parents), so that a CI gate cannot pass over a new version that
crashes on live data; else 2 when any parent would change, 0 when none would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from kubeplan.commands import plan_all
from kubeplan.commands._loading import LoadError, load_definition
from kubeplan.commands._planning import PlanError, connect_readonly, plan_request, read_failed
from kubeplan.core.config import LABEL_OPERATOR, LABEL_PARENT_UID, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.objects import controller_ref_of, is_owned_by, name_of, namespace_of, uid_of
from kubeplan.core.plan import Create
from kubeplan.core.related import resolve_selectors, select_related
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.types import K8sType
from kubeplan.core.versions import ConversionFailed, VersionError, VersionSet

HELP = ("print the plan for a parent, or for every parent with --all, changing nothing "
        "(exit 2: there is work)")

RawObject = dict[str, Any]

__all__ = ["HELP", "PlanError", "configure", "plan_request", "read_parent", "request_offline",
           "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE:ATTR", help="the OperatorDefinition to plan")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("-f", "--filename", metavar="FILE",
                       help="the parent, as YAML or JSON (one object)")
    which.add_argument("--all", action="store_true",
                       help="every live parent (an upgrade preview; reads a cluster)")
    parser.add_argument("-n", "--namespace", action="append", metavar="NS",
                        help="with --all: only parents in NS (repeatable; default: every "
                             "namespace the operator watches)")
    parser.add_argument("--observed", metavar="DIR",
                        help="offline: a folder of the objects that exist (children, related)")
    parser.add_argument("--kubeconfig", metavar="PATH",
                        help="read the current state from this cluster (read-only)")
    parser.add_argument("--context", help="kubeconfig context (implies reading a cluster)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text",
                        help="text: one line per action with its reason; json: the plan's data")


def run(args: argparse.Namespace) -> int:
    if args.namespace and not args.all:
        print("kubeplan plan: -n/--namespace goes with --all (with -f the parent file names "
              "its namespace)", file=sys.stderr)
        return 1
    try:
        definition = load_definition(args.target)
        if args.all:
            if args.observed:
                raise PlanError("--all reads the parents from a cluster; --observed is for "
                                "one parent (-f FILE) offline")
            return plan_all.run_all(definition, args)
        parent = read_parent(Path(args.filename), definition.config, definition.version_set)
        if args.kubeconfig or args.context:
            if args.observed:
                raise PlanError("give --observed (offline) or --kubeconfig/--context "
                                "(a cluster), not both")
            request = asyncio.run(_request_from_cluster(definition, parent, args))
            plan = plan_request(definition, request)
            creates = [a.ref for a in plan.actions if isinstance(a, Create)]
            if creates:  # desired names held by objects we do not own: the planner reports them
                foreign = asyncio.run(_foreign_from_cluster(args, creates))
                if foreign:
                    request = SyncRequest(
                        request.parent,
                        Children.from_objects([*request.children.all(), *foreign]),
                        request.finalizing,
                        request.related,
                    )
                    plan = plan_request(definition, request)
        else:
            observed = read_objects(Path(args.observed)) if args.observed else []
            parent = _uid_from_observed(Path(args.filename), parent, observed)
            request = request_offline(definition.config, parent, observed)
            plan = plan_request(definition, request)
    except (LoadError, PlanError) as exc:
        print(f"kubeplan plan: {exc}", file=sys.stderr)
        return 1
    if args.output == "json":
        sys.stdout.write(json.dumps(plan.to_dict(), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(str(plan) + "\n")
    return 2 if plan.actions else 0


# -- reading files ------------------------------------------------------------------------------


def _load_documents(path: Path) -> list[RawObject]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise PlanError(f"{path} is not valid YAML or JSON: {exc}") from exc
    objects: list[RawObject] = []
    for doc in documents:
        if not isinstance(doc, dict):
            raise PlanError(f"{path}: expected Kubernetes objects (mappings), found {doc!r:.60}")
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            objects.extend(doc["items"])
        else:
            objects.append(doc)
    return objects


def _article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by its first letter: a vowel sound, roughly)."""
    return "an" if word[:1].lower() in "aeio" else "a"


def read_parent(path: Path, config: OperatorConfig,
                versions: VersionSet | None = None) -> RawObject:
    """The one parent in ``path``, checked to be of the operator's parent type; one of
    another declared version is converted to the watched one, as the server would."""
    objects = _load_documents(path)
    parent_type = config.parent
    if len(objects) != 1:
        raise PlanError(
            f"{path} holds {len(objects)} objects; -f takes exactly one {parent_type.kind} "
            "(put the objects that exist in a folder and pass it with --observed)"
        )
    parent = objects[0]
    if versions is not None and not parent_type.matches(parent) and _other_version(
            parent, parent_type, versions):
        try:
            parent = versions.convert(parent, parent_type.version)
        except (VersionError, ConversionFailed) as exc:
            raise PlanError(f"{path}: {exc}") from None
    if not parent_type.matches(parent):
        found = f"{parent.get('apiVersion')}/{parent.get('kind')}"
        raise PlanError(
            f"{path} is {_article(found)} {found}, not a parent of "
            f"operator {config.name!r}: it manages {parent_type} (apiVersion: "
            f"{parent_type.api_version}, kind: {parent_type.kind})"
        )
    meta = parent.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise PlanError(f"{path}: the {parent_type.kind} has no metadata.name")
    if parent_type.namespaced and not meta.get("namespace"):
        parent = {**parent, "metadata": {**meta, "namespace": "default"}}
    return parent


def _other_version(parent: RawObject, parent_type: K8sType, versions: VersionSet) -> bool:
    group, _, version = str(parent.get("apiVersion")).rpartition("/")
    return (group == parent_type.group and parent.get("kind") == parent_type.kind
            and version in versions.names)


def _uid_from_observed(path: Path, parent: RawObject, observed: list[RawObject]) -> RawObject:
    """A parent file without ``metadata.uid`` (the file one applies) whose observed
    children name their controller by kind and name: take its uid from them, and say so.

    Without this the children look owned by some other parent of the same name. When the
    children disagree (a parent deleted and created again), say which uids they name.
    """
    if uid_of(parent):
        return parent
    uids: dict[str, list[str]] = {}
    for obj in observed:
        ref = controller_ref_of(obj) or {}
        if (ref.get("kind") == parent.get("kind") and ref.get("name") == name_of(parent)
                and ref.get("uid") and namespace_of(obj) == namespace_of(parent)):
            uids.setdefault(str(ref["uid"]), []).append(f"{obj.get('kind')} {name_of(obj)}")
    if not uids:
        return parent
    kind, name = parent.get("kind"), name_of(parent)
    if len(uids) > 1:
        named = "; ".join(f"{uid} by {', '.join(objs)}" for uid, objs in sorted(uids.items()))
        raise PlanError(
            f"the parent in {path} has no metadata.uid, and the observed objects name "
            f"different {kind} {name!r} parents as their controller ({named}): add the "
            f"current uid to {path} (kubectl get {str(kind).lower()} {name} -o yaml shows it)"
        )
    (uid,) = uids
    print(f"kubeplan plan: the parent in {path} has no metadata.uid; using {uid}, the uid "
          "the observed objects name as their controller", file=sys.stderr)
    return {**parent, "metadata": {**parent["metadata"], "uid": uid}}


def read_objects(folder: Path) -> list[RawObject]:
    if not folder.is_dir():
        raise PlanError(f"--observed {str(folder)!r} is not a folder")
    objects: list[RawObject] = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
            objects.extend(_load_documents(path))
    return objects


def request_offline(
    config: OperatorConfig, parent: RawObject, observed: Iterable[RawObject]
) -> SyncRequest:
    """The request from files: observed objects sorted into children and related objects."""
    from kubeplan.testkit.harness import request_from_dicts

    children: list[RawObject] = []
    related: list[tuple[K8sType, RawObject]] = []
    related_types = {(t.api_version, t.kind): t for t in config.related_types}
    for obj in observed:
        api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        is_child = config.child_type_of(api_version, kind) is not None
        related_type = related_types.get((api_version, kind))
        if related_type is not None:  # the runtime's related cache holds every object
            related.append((related_type, obj))
        if is_child and (related_type is None or controller_ref_of(obj) is not None):
            children.append(obj)  # of a type that is also related: only if owned by someone
        elif not is_child and related_type is None:
            declared = [str(t) for t in (*config.child_types, *config.related_types)]
            raise PlanError(
                f"observed {api_version}/{kind} {name_of(obj)!r} is neither a child type nor a "
                f"related type of operator {config.name!r} (declared: {', '.join(declared)})"
            )
    try:
        request = request_from_dicts(parent, children, config)
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    if not related:
        return request
    selected = _select(config, request.parent, related)
    return SyncRequest(request.parent, request.children, request.finalizing, selected)


def _resolved_selectors(config: OperatorConfig, parent: RawObject) -> Any:
    """The parent's related-object selectors, or a ``PlanError`` naming what is wrong."""
    try:
        return resolve_selectors(config.related, parent)
    except ValueError as exc:
        raise PlanError(str(exc)) from exc


def _select(
    config: OperatorConfig, parent: RawObject, related: list[tuple[K8sType, RawObject]]
) -> Children:
    selectors = _resolved_selectors(config, parent)
    found: dict[K8sType, list[RawObject]] = {}
    for type_, items in selectors.items():
        objects = [obj for t, obj in related if t == type_]
        found[type_] = list(select_related(items, objects))  # type: ignore[arg-type]
    return Children.build(found)


# -- reading a cluster ----------------------------------------------------------------------------


async def _request_from_cluster(
    definition: OperatorDefinition, parent: RawObject, args: argparse.Namespace
) -> SyncRequest:
    from kubeplan.adapters.errors import ApiError, NotFound

    config = definition.config
    client, host = await connect_readonly(args)
    try:
        try:
            live = await client.get(config.parent, name_of(parent) or "",
                                    namespace_of(parent))
        except NotFound:
            live = None
        if live is not None:
            parent = {**live, "spec": parent.get("spec", live.get("spec"))}
        uid = uid_of(parent)
        children: list[tuple[K8sType, RawObject]] = []
        if uid:
            selector = f"{LABEL_OPERATOR}={config.name},{LABEL_PARENT_UID}={uid}"
            for type_ in config.child_types:
                listed = await client.list(type_, label_selector=selector)
                for obj in listed.get("items") or ():
                    obj.setdefault("apiVersion", type_.api_version)
                    obj.setdefault("kind", type_.kind)
                    if is_owned_by(obj, uid):
                        children.append((type_, obj))
        related = await _related_from_cluster(client, config, parent)
        request = SyncRequest(parent, Children.from_objects(children), related=related)
        if live is None:  # a parent not created yet: give it a uid so the plan can be made
            from kubeplan.testkit.harness import request_from_dicts

            request = SyncRequest(
                request_from_dicts(parent, config=config).parent, request.children,
                related=related,
            )
        return request
    except (ApiError, OSError) as exc:
        raise read_failed(host, exc) from exc
    finally:
        await client.close()


async def _foreign_from_cluster(
    args: argparse.Namespace, refs: list[Any]
) -> list[tuple[K8sType, RawObject]]:
    from kubeplan.adapters.errors import ApiError, NotFound

    client, host = await connect_readonly(args)
    found: list[tuple[K8sType, RawObject]] = []
    try:
        for ref in refs:
            try:
                found.append((ref.type, await client.get(ref.type, ref.name, ref.namespace)))
            except NotFound:
                continue
    except (ApiError, OSError) as exc:
        raise read_failed(host, exc) from exc
    finally:
        await client.close()
    return found


async def _related_from_cluster(client: Any, config: OperatorConfig, parent: RawObject) -> Children:
    if not config.related:
        return Children.empty()
    selectors = _resolved_selectors(config, parent)
    found: dict[K8sType, list[RawObject]] = {}
    for type_, items in selectors.items():
        chosen: dict[tuple[str | None, str], RawObject] = {}
        for selector in items:
            listed = await client.list(type_, selector.namespace if type_.namespaced else None)
            for obj in listed.get("items") or ():
                obj.setdefault("apiVersion", type_.api_version)
                obj.setdefault("kind", type_.kind)
                if selector.matches(obj):
                    chosen[(namespace_of(obj), name_of(obj) or "")] = obj
        found[type_] = list(chosen.values())
    return Children.build(found)
