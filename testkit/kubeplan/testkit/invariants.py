"""What must hold for every operator once the faults stop and the system settles.

Each invariant is a plain function usable in any test; each raises an
``InvariantViolation`` (an ``AssertionError``, so pytest shows it as a failed assert)
whose message names the parent and the child concerned and says what was expected:

- ``assert_converged``: for every live parent, the handler called on the final observed
  state (pure) asks for children that exist, are owned by that parent and match (subset
  semantics, as the planner compares); no owned child it does not ask for remains; no
  child outlives its parent; and the stored status is the one the planner would write;
- ``assert_writes_accepted``: the server refused none of the operator's writes as invalid
  (400, 422) when no fault was injected: a refused write is sent again on every retry
  and never succeeds (a finalizer added as its object's deletion began is a race, and an
  admission webhook's denial is ``assert_admitted``'s: neither counts);
- ``assert_quiet``: the run settled, and one more full resync wrote nothing (no hot loop);
- ``assert_safe``: nothing the operator does not own (objects there before it started,
  objects the scenario created) was modified or deleted by the operator's requests;
- ``assert_finalized``: every parent deleted while it held the operator's finalizer had
  ``finalize`` called at least once, and is gone;
- ``assert_permanent_held``: a handler that raised ``PermanentError`` was not called again
  until something it read had changed (the parent but for its status, or a child's or
  related object's resourceVersion);
- ``assert_bounded_writes``: the operator's writes per parent stay within a stated
  number per change (a change: a step that touched the parent, or could have: child
  edits, foreign objects, restarts, and every fault injected);
- ``assert_filters_respected``: a parent the operator's filters do not select was never
  written (no status, no finalizer added), except for the removal of kubeplan's finalizer;
  ``assert_converged`` checks of such a parent only that it holds no finalizer of ours and,
  with ``unmatched_children="delete"``, no children;
- ``assert_rollout_bounded``: for a child type with ``ChildConfig.rolling``, never more
  than ``max_unavailable`` children of one parent are updating at once, replayed from the
  fake's own record of every change (a child updates from the operator's write of a new
  desired state, or its delete for a recreate, until its check passes).

A child a rolling update holds back (the settled plan lists it as waiting) may differ
from what the handler asks for: ``assert_converged`` accepts that.

``assert_invariants(trace, definition)`` runs them all, the cheapest explanation first.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from kubeplan.core.compare import differences, json_equal
from kubeplan.core.config import ANNOTATION_DESIRED_HASH, LABEL_OPERATOR, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.describe import describe_differences
from kubeplan.core.errors import (
    InvalidArgument,
    InvalidResponse,
    KubeplanError,
    UsageError,
    WrongArgumentType,
)
from kubeplan.core.filters import FilterError
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.objects import (
    ObjectRef,
    controller_ref_of,
    finalizers_of,
    is_terminating,
    labels_of,
    name_of,
    namespace_of,
    ref_of,
    uid_of,
)
from kubeplan.core.plan import Plan
from kubeplan.core.planner import plan as make_plan
from kubeplan.core.planner import stamp
from kubeplan.core.related import SelectorError, resolve_selectors
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.sources import (
    SourceError,
    SourceItems,
    items_from_json,
    resolve_source_selection,
    selected_items,
)
from kubeplan.core.status import CONDITION_SYNCED, REASON_CHILD_CONFLICT, find_condition
from kubeplan.core.types import K8sType
from kubeplan.core.unmatched import REASON_UNMATCHED
from kubeplan.core.validate import check_response
from kubeplan.testkit import scenario as sc
from kubeplan.testkit.admission import admit
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.simulation import as_definition
from kubeplan.testkit.trace import ClusterState, Trace, describe_key
from kubeplan.testkit.vtime import EPOCH, run_virtual

__all__ = [
    "FilteredParentWritten",
    "InvariantViolation",
    "NotAdmitted",
    "NotConverged",
    "NotFinalized",
    "NotQuiet",
    "PermanentRetried",
    "RefusedWrite",
    "RolloutTooWide",
    "TooManyWrites",
    "Unsafe",
    "assert_admitted",
    "assert_bounded_writes",
    "assert_converged",
    "assert_filters_respected",
    "assert_finalized",
    "assert_invariants",
    "assert_permanent_held",
    "assert_quiet",
    "assert_rollout_bounded",
    "assert_safe",
    "assert_writes_accepted",
    "default_write_bound",
]

RawObject = dict[str, Any]
_MAX_LISTED = 12


class InvariantViolation(KubeplanError, AssertionError):
    """An invariant does not hold; ``problems`` lists each finding (parent and child named)."""

    invariant = "invariant"

    def __init__(self, problems: Iterable[str], *, trace: Trace | None = None) -> None:
        self.problems = list(problems)
        self.trace = trace
        shown = self.problems[:_MAX_LISTED]
        more = len(self.problems) - len(shown)
        lines = [f"{self.invariant}: {len(self.problems)} problem(s)"]
        lines += [f"  - {_indent(p)}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


class NotAdmitted(InvariantViolation):
    """Something the operator's validators deny was stored, or the operator itself wrote
    something its own validators deny."""

    invariant = "not admitted"


class NotConverged(InvariantViolation):
    """The settled state is not what the handler asks for."""

    invariant = "not converged"


class NotQuiet(InvariantViolation):
    """The operator kept writing: a hot loop, or a resync that writes."""

    invariant = "not quiet"


class RefusedWrite(InvariantViolation):
    """The server refused a write of the operator's as invalid (400, 422), no fault
    injected: what sync returns (or the status it sets) is not a valid object."""

    invariant = ("the API server refused the operator's writes as invalid (fix the object "
                 "sync returns, or the status it sets: it is refused every time it is sent)")


class Unsafe(InvariantViolation):
    """The operator modified or deleted an object it does not own."""

    invariant = "unsafe"


class NotFinalized(InvariantViolation):
    """A deleted parent was not finalized, or is still there."""

    invariant = "not finalized"


class PermanentRetried(InvariantViolation):
    """A parent whose handler raised ``PermanentError`` was synced again on the same inputs."""

    invariant = "permanent error retried"


class FilteredParentWritten(InvariantViolation):
    """The operator wrote a parent its filters do not select."""

    invariant = "filtered parent written"


class TooManyWrites(InvariantViolation):
    """More writes for a parent than the stated bound per change allows."""

    invariant = "too many writes"


class RolloutTooWide(InvariantViolation):
    """More children of a rolling type were updating at once than ``max_unavailable``."""

    invariant = "rollout too wide"


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def _state_of(
    source: Trace | ClusterState | FakeApiServer, definition: OperatorDefinition
) -> ClusterState:
    if isinstance(source, Trace):
        if source.final is None:
            raise InvalidArgument("this trace has no final state (the run did not finish)")
        return source.final
    if isinstance(source, ClusterState):
        return source
    if isinstance(source, FakeApiServer):
        return ClusterState.capture(source, definition.config)
    raise WrongArgumentType(
        f"expected a Trace, a ClusterState or a FakeApiServer, got {source!r:.80}")


# -- converged ---------------------------------------------------------------------------


def _call_sync(info: HandlerInfo, request: SyncRequest) -> Any:
    """The handler's answer, or the exception it raised (an async handler is awaited)."""
    try:
        result = info.sync(request)
        if inspect.isawaitable(result):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return run_virtual(_awaited(result))
            if inspect.iscoroutine(result):
                result.close()
            raise UsageError(
                "assert_converged cannot await an async handler inside a running event loop; "
                "capture the state and call it outside the loop, or use run_scenario"
            )
        return result
    except Exception as exc:
        return exc


async def _awaited(value: Any) -> Any:
    return await value


def _parent_ref(definition: OperatorDefinition, parent: RawObject) -> ObjectRef:
    return ref_of(definition.config.parent, parent)


def _group(pairs: Iterable[tuple[K8sType, RawObject]]) -> Children:
    grouped: dict[K8sType, list[RawObject]] = {}
    for type_, obj in pairs:
        grouped.setdefault(type_, []).append(obj)
    return Children.build(grouped)


def _is_sibling(definition: OperatorDefinition, obj: RawObject, state: ClusterState) -> str | None:
    """The parent (described) of another parent of this operator that owns ``obj``."""
    controller = controller_ref_of(obj) or {}
    owner = state.parent_by_uid(controller.get("uid"))
    if owner is not None:
        return describe_key(namespace_of(owner), name_of(owner))
    if labels_of(obj).get(LABEL_OPERATOR) == definition.config.name:
        return f"a parent with uid {controller.get('uid')}"
    return None


def _related_of(config: OperatorConfig, state: ClusterState,
                parent: RawObject) -> Children | SelectorError:
    """The related objects the runtime hands this parent's sync: those of the settled
    state its selectors match, within the operator's namespaces (its caches hold no
    others); the error of a select function that fails (the runtime reports it)."""
    if not config.related:
        return Children.empty()
    try:
        selectors = resolve_selectors(config.related, parent)
    except SelectorError as exc:
        return exc
    found: dict[K8sType, list[RawObject]] = {}
    for type_, items in selectors.items():
        found[type_] = [
            obj for obj in state.related.get(type_, ())
            if (config.namespaces is None or not type_.namespaced
                or namespace_of(obj) in config.namespaces)
            and any(selector.matches(obj) for selector in items)
        ]
    return Children.build(found)


def _sources_of(config: OperatorConfig, state: ClusterState,
                parent: RawObject) -> dict[str, SourceItems] | SourceError:
    """The external sources' items this parent reads on the settled state (faults gone),
    or the error of a select that fails."""
    if not config.sources:
        return {}
    try:
        selections = resolve_source_selection(config.sources, parent)
    except SourceError as exc:
        return exc
    out: dict[str, SourceItems] = {}
    for name, declaration in config.sources.items():
        items = items_from_json(list(state.sources.get(name, ())),
                                id_field=declaration.source.id_field)
        chosen = selected_items(items, selections[name]) if name in selections else {}
        out[name] = SourceItems(name, chosen)
    return out


def _settled_request(config: OperatorConfig, state: ClusterState, parent: RawObject,
                     observed: list[tuple[K8sType, RawObject]],
                     ) -> tuple[SyncRequest, BaseException | None]:
    """The request the runtime makes on the settled state, and the error it would plan
    instead of calling the handler (a failing select)."""
    related = _related_of(config, state, parent)
    sources = _sources_of(config, state, parent)
    request = SyncRequest(parent=parent, children=_group(observed),
                          related=related if isinstance(related, Children) else Children.empty(),
                          sources=sources if isinstance(sources, dict) else {})
    error = (related if isinstance(related, SelectorError)
             else sources if isinstance(sources, SourceError) else None)
    return request, error


def _converged_problems(
    definition: OperatorDefinition,
    state: ClusterState,
    parent: RawObject,
    allow_handler_errors: bool,
) -> list[str]:
    config = definition.config
    info = HandlerInfo.of(definition.handler)
    uid = uid_of(parent)
    where = f"{config.parent.kind} {describe_key(namespace_of(parent), name_of(parent))}"
    owned = state.owned_by(uid)
    try:
        selected = config.selects(parent)
    except FilterError as exc:  # the runtime retries it and writes nothing
        return [] if allow_handler_errors else [f"{where}: the filters failed: {exc}"]
    if not selected:
        return _unmatched_problems(definition, parent, owned, where)
    request, error = _settled_request(config, state, parent, owned)
    result = error if error is not None else _call_sync(info, request)
    if isinstance(result, BaseException):
        if allow_handler_errors:
            return []
        return [f"{where}: the handler raised on the settled state: {result!r}"]
    try:
        checked = check_response(config, request, result)
    except InvalidResponse as exc:
        return [f"{where}: the handler's response is invalid: {exc}"]
    problems: list[str] = []
    ref = _parent_ref(definition, parent)
    wanted = set()
    held: set[tuple[str, str, str | None, str]] | None = None
    foreign: list[tuple[K8sType, RawObject]] = []
    conflict = find_condition(parent.get("status"), CONDITION_SYNCED) or {}
    reports_conflict = (
        conflict.get("status") == "False" and conflict.get("reason") == REASON_CHILD_CONFLICT
    )
    for child in checked.children:
        wanted.add(child.slot)
        label = f"{child.type} {describe_key(child.key.namespace, child.key.name)}"
        found = state.find(child.type, child.key.namespace, child.key.name)
        if found is None:
            problems.append(f"{where}: desired child {label} does not exist")
            continue
        owner_uid = (controller_ref_of(found) or {}).get("uid")
        if owner_uid != uid:
            sibling = _is_sibling(definition, found, state)
            foreign.append((child.type, found))
            if sibling is not None:
                problems.append(
                    f"{where}: desired child {label} is owned by {config.parent.kind} "
                    f"{sibling}: the children of two parents collide (derive child names "
                    "from the parent's own name, which is unique)"
                )
                continue
            if not reports_conflict:
                problems.append(
                    f"{where}: desired child {label} is held by an object it does not own, "
                    "and its Synced condition does not report a ChildConflict"
                )
            continue
        if is_terminating(found):
            problems.append(f"{where}: desired child {label} is still being deleted")
            continue
        found_diff = differences(stamp(config, ref, child.plain, child.hash), found)
        if found_diff and held is None:
            held = _held_back(definition, info, state, parent, owned + foreign)
        if found_diff and (child.slot not in (held or ())):
            problems.append(
                f"{where}: child {label} differs from what the handler asks for: "
                f"{describe_differences(found_diff)}"
            )
    for type_, obj in owned:
        slot = (type_.api_version, type_.kind, namespace_of(obj) if type_.namespaced else None,
                name_of(obj))
        if slot not in wanted and not is_terminating(obj):
            problems.append(
                f"{where}: owned child {type_} {describe_key(namespace_of(obj), name_of(obj))} "
                "is not asked for by the handler but still exists"
            )
    problems += _status_problems(definition, info, state, parent, owned + foreign, where)
    return problems


def _unmatched_problems(
    definition: OperatorDefinition,
    parent: RawObject,
    owned: list[tuple[K8sType, RawObject]],
    where: str,
) -> list[str]:
    """A parent the filters do not select: released (no finalizer of ours), its children
    gone when the filter says ``unmatched_children="delete"``, else left as they are."""
    config = definition.config
    problems = []
    if config.finalizer in finalizers_of(parent):
        problems.append(
            f"{where} is not selected by the operator's filters but still holds the "
            f"finalizer {config.finalizer}"
        )
    if config.filters.unmatched_children == "delete":
        problems += [
            f"{where} is not selected by the operator's filters (unmatched_children="
            f"'delete') but its child {type_} {describe_key(namespace_of(obj), name_of(obj))} "
            "still exists"
            for type_, obj in owned if not is_terminating(obj)
        ]
    return problems


def _settled_plan(
    definition: OperatorDefinition,
    info: HandlerInfo,
    state: ClusterState,
    parent: RawObject,
    observed: list[tuple[K8sType, RawObject]],
) -> Plan:
    """What the operator would plan on the settled state (the status it should hold, the
    children a rollout holds back)."""
    request, error = _settled_request(definition.config, state, parent, observed)
    result = error if error is not None else _call_sync(info, request)
    return make_plan(
        definition.config,
        request,
        result,
        memo=ApplyMemo.empty(),
        now=EPOCH + timedelta(seconds=state.time),
        has_finalize=info.has_finalize,
    )


def _held_back(
    definition: OperatorDefinition,
    info: HandlerInfo,
    state: ClusterState,
    parent: RawObject,
    observed: list[tuple[K8sType, RawObject]],
) -> set[tuple[str, str, str | None, str]]:
    """The children the settled plan holds back for a rolling update, as desired slots."""
    if not any(c.rollout is not None for c in definition.config.children.values()):
        return set()
    plan = _settled_plan(definition, info, state, parent, observed)
    return {
        (w.ref.type.api_version, w.ref.type.kind, w.ref.namespace, w.ref.name)
        for w in plan.waiting
    }


def _status_problems(
    definition: OperatorDefinition,
    info: HandlerInfo,
    state: ClusterState,
    parent: RawObject,
    observed: list[tuple[K8sType, RawObject]],
    where: str,
) -> list[str]:
    plan = _settled_plan(definition, info, state, parent, observed)
    update = plan.status_update
    if update is None:
        return []
    stored = parent.get("status") if isinstance(parent.get("status"), dict) else {}
    keys = sorted(
        k for k in set(update.status) | set(stored or {})
        if not json_equal(update.status.get(k), (stored or {}).get(k))
    )
    details = "; ".join(
        f"{k}: stored {_short((stored or {}).get(k))}, desired {_short(update.status.get(k))}"
        for k in keys
    )
    return [f"{where}: the status is not the desired status ({details})"]


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def assert_converged(
    source: Trace | ClusterState | FakeApiServer,
    definition: Any,
    *,
    allow_handler_errors: bool = False,
) -> None:
    """Every live parent has what its handler asks for on the settled state, nothing more.

    ``source`` is a ``Trace`` (its final state), a ``ClusterState`` or a live
    ``FakeApiServer``; ``definition`` an ``OperatorDefinition`` or ``(config, handler)``.
    A desired child held by an object the operator does not own is accepted when the
    parent reports it (``Synced=False``, reason ``ChildConflict``): that is the documented
    outcome of a name clash with someone else's object; a clash between two parents of the
    same operator is not. ``allow_handler_errors`` skips parents whose handler raises.
    """
    definition = as_definition(definition)
    state = _state_of(source, definition)
    problems: list[str] = []
    for parent in state.live_parents():
        problems += _converged_problems(definition, state, parent, allow_handler_errors)
    parents = {uid_of(p) for p in state.parents}
    for type_, obj in state.all_children():
        if labels_of(obj).get(LABEL_OPERATOR) != definition.config.name:
            continue
        owner = (controller_ref_of(obj) or {}).get("uid")
        if owner not in parents and not is_terminating(obj):
            problems.append(
                f"{type_} {describe_key(namespace_of(obj), name_of(obj))} carries the "
                f"operator's label but its parent (uid {owner}) is gone: an orphan"
            )
    if problems:
        raise NotConverged(problems, trace=source if isinstance(source, Trace) else None)


# -- quiet -------------------------------------------------------------------------------


def assert_writes_accepted(trace: Trace) -> None:
    """The server refused none of the operator's writes as invalid (400, 422) when no
    fault was injected (``trace.refused_writes``)."""
    if trace.refused_writes:
        # a retry repeats its refusal: the first of each is listed, with when it happened
        raise RefusedWrite(trace.distinct_refusals(), trace=trace)


def assert_quiet(trace: Trace) -> None:
    """The run settled (no hot loop) and one more full resync wrote nothing."""
    if trace.hot_loop:
        shown = "\n".join(
            f"plan for {describe_key(*p.parent)} at t={p.time:.3f}s:\n{p.text}"
            for p in trace.plans[-3:]
        )
        raise NotQuiet([f"{trace.hot_loop}\nthe last plans:\n{shown}"], trace=trace)
    if trace.quiet_writes is None:
        raise InvalidArgument(
            "this trace has no quiet check: run the scenario with quiet_check=True")
    if trace.quiet_writes:
        problems = [
            f"a resync of a settled operator wrote: {w.line()}" for w in trace.quiet_writes
        ]
        since = trace.quiet_since if trace.quiet_since is not None else 0
        plans = [p for p in trace.plans if p.request_index >= since]
        if plans:
            problems.append(
                "the plans of that resync (what differs from one sync to the next):\n"
                + "\n".join(f"for {describe_key(*p.parent)}:\n{p.text}" for p in plans)
            )
        raise NotQuiet(problems, trace=trace)


# -- safe --------------------------------------------------------------------------------

_MODIFYING = frozenset({"update", "patch", "delete", "deletecollection"})


def assert_safe(trace: Trace) -> None:
    """No object the operator does not own was modified or deleted by its requests.

    Uses the fake's request log: a successful update, patch or delete by the operator's
    user on a foreign object's name while that object existed is a violation.
    """
    problems = []
    for foreign in trace.foreign:
        for write in trace.writes:
            if (
                write.actor != "operator"
                or write.verb not in _MODIFYING
                or not write.succeeded
                or write.resource != foreign.resource
                or (write.namespace or None) != foreign.namespace
                or write.name not in (foreign.name, None)
                or write.request_index < foreign.since
                or (foreign.until is not None and write.request_index >= foreign.until)
            ):
                continue
            problems.append(
                f"the operator {'deleted' if write.verb.startswith('delete') else 'modified'} "
                f"{foreign.describe()}, which it does not own ({write.line()} during "
                f"{trace.step_label(write.step)})"
            )
    if problems:
        raise Unsafe(problems, trace=trace)


# -- finalized ---------------------------------------------------------------------------


def assert_finalized(trace: Trace) -> None:
    """Every parent deleted while it held the operator's finalizer was finalized and is gone."""
    if not trace.has_finalize:
        return
    final = trace.final
    problems = []
    for step, record in zip(trace.scenario.steps, trace.steps, strict=False):
        if not isinstance(step, sc.DeleteParent) or not record.ok:
            continue
        if not record.parent_had_finalizer or not record.parent_uid:
            continue
        namespaced = final is None or final.config.parent.namespaced
        namespace = (step.namespace or "default") if namespaced else None
        where = f"parent {describe_key(namespace, step.name)}"
        calls = trace.calls.get(record.parent_uid)
        finalizes = calls.finalizes if calls else 0
        finalized = calls.finalized if calls else 0
        if finalizes == 0 and not _released_as_unmatched(trace, record.parent_uid):
            problems.append(
                f"{where} was deleted at step {record.index + 1} holding the finalizer but "
                "finalize was never called"
            )
        remaining = final.parent_by_uid(record.parent_uid) if final else None
        if remaining is not None:
            problems.append(
                f"{where} was deleted at step {record.index + 1} and still exists "
                f"(finalizers {list(finalizers_of(remaining))}); finalize was called "
                f"{finalizes} times and answered finalized=True {finalized} times"
            )
    if problems:
        raise NotFinalized(problems, trace=trace)


def _released_as_unmatched(trace: Trace, parent_uid: str) -> bool:
    """Whether the operator removed its finalizer because the parent left its filters'
    selection: by design it then lets the parent go without finalize (core.unmatched), so
    a parent relabelled out of the selection while it was being deleted is released."""
    return any(
        plan.parent_uid == parent_uid and REASON_UNMATCHED in plan.text
        for plan in trace.plans
    )


# -- bounded writes ----------------------------------------------------------------------


def default_write_bound(trace: Trace, parent_uid: str) -> int:
    """Writes one change may cost a parent: replacing every child under new names (a delete
    and a create each), plus the status, the finalizer and one spare; with a rolling child
    type, two status writes more per child (the rollout's progress)."""
    calls = trace.calls.get(parent_uid)
    children = calls.max_children if calls else 0
    if trace.final is not None and any(
        c.rollout is not None for c in trace.final.config.children.values()
    ):
        return 4 * children + 3  # a rollout also writes its progress as each child moves
    return 2 * children + 3


def _changes(trace: Trace, parent_uid: str) -> tuple[int, list[str]]:
    """How many changes may have cost ``parent_uid`` writes, and which."""
    created_at = None
    name = None
    count = 0
    reasons = []
    for step, record in zip(trace.scenario.steps, trace.steps, strict=False):
        if isinstance(step, sc.CreateParent) and record.parent_uid == parent_uid:
            created_at, name = record.index, step.name
    if created_at is None:
        return 0, []
    for step, record in zip(trace.scenario.steps, trace.steps, strict=False):
        if record.index < created_at or not record.ok:
            continue
        weight = 0
        if isinstance(step, sc.CreateParent):
            weight = 1 if record.parent_uid == parent_uid else 0
        elif isinstance(step, sc.PatchParent | sc.DeleteParent):
            weight = 1 if step.name == name else 0
        elif isinstance(
            step, sc.EditChild | sc.DeleteChild | sc.CreateForeign | sc.RestartOperator
        ):
            weight = 1
        elif isinstance(step, sc.InjectFault):
            weight = step.fault.count
        elif isinstance(step, sc.SetSourceItems):
            weight = 1  # new input for the parents that read the source
        elif isinstance(step, sc.SourceFault):
            weight = 2  # its readers report the outage, then its end
        if weight:
            count += weight
            reasons.append(f"step {record.index + 1}")
    return count, reasons


def assert_bounded_writes(trace: Trace, per_change: int | None = None) -> None:
    """Each parent's writes (actions of the plans executed for it) are at most
    ``per_change`` times its changes (``default_write_bound`` when None)."""
    by_parent: dict[str, list[Any]] = {}
    for plan in trace.plans:
        if plan.parent_uid:
            by_parent.setdefault(plan.parent_uid, []).append(plan)
    problems = []
    for uid, plans in by_parent.items():
        writes = sum(p.actions for p in plans)
        changes, _ = _changes(trace, uid)
        bound = per_change if per_change is not None else default_write_bound(trace, uid)
        if writes <= bound * max(changes, 1):
            continue
        per_step: dict[int, int] = {}
        for plan in plans:
            per_step[plan.step] = per_step.get(plan.step, 0) + plan.actions
        breakdown = ", ".join(
            f"{trace.step_label(step)}: {count}" for step, count in sorted(per_step.items())
        )
        where = describe_key(*plans[0].parent)
        problems.append(
            f"parent {where}: {writes} writes for {changes} change(s), more than the bound "
            f"of {bound} per change; writes by step: {breakdown}"
        )
    if problems:
        raise TooManyWrites(problems, trace=trace)


# -- filters -----------------------------------------------------------------------------


def assert_filters_respected(trace: Trace) -> None:
    """No parent the operator's filters did not select at the time was written by it, but
    for the removal of kubeplan's finalizer (recorded by the simulation, write by write)."""
    if trace.filtered_writes:
        raise FilteredParentWritten(trace.filtered_writes, trace=trace)


# -- rollouts ----------------------------------------------------------------------------


def _hash_of(obj: RawObject | None) -> str | None:
    if obj is None:
        return None
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(ANNOTATION_DESIRED_HASH)


def _recreates(trace: Trace) -> dict[str, list[tuple[int, set[str]]]]:
    """Per parent uid, each executed plan's start and the children it recreates."""
    out: dict[str, list[tuple[int, set[str]]]] = {}
    for plan in trace.plans:
        refs = {
            line.split(": ", 1)[0].split(None, 1)[1]
            for line in plan.text.splitlines() if line.startswith("recreate ")
        }
        out.setdefault(plan.parent_uid or "", []).append((plan.request_index, refs))
    return out


def _was_recreate(
    recreates: dict[str, list[tuple[int, set[str]]]], owner: str, ref: str, index: int
) -> bool:
    """Whether the last plan for ``owner`` begun before request ``index`` recreates ``ref``."""
    last: set[str] = set()
    for start, refs in recreates.get(owner, ()):
        if start > index:
            break
        last = refs
    return ref in last


def assert_rollout_bounded(trace: Trace, definition: Any) -> None:
    """No more than ``max_unavailable`` children of a rolling type of one parent were
    updating at any moment of the run.

    Replayed from ``trace.changes`` (the fake's log of every change of those children):
    a child starts updating when the operator's request changes its desired-hash
    annotation, or deletes it (or marks it deleted) for a recreate (the executed plan
    says ``recreate``, not ``delete``); it stops once the type's check passes on a copy
    of it in the log. The plans only tell a recreate from a delete: what is in flight,
    and when it is done, is read from the server's record.
    """
    definition = as_definition(definition)
    rolling = {
        str(type_): (type_, c.rollout)
        for type_, c in definition.config.children.items() if c.rollout is not None
    }
    if not rolling:
        return
    actors = {w.request_index: w.actor for w in trace.writes}
    recreates = _recreates(trace)
    updating: dict[tuple[str, str | None, str], str] = {}
    problems: list[str] = []
    for change in trace.changes:
        if change.type_key not in rolling:
            continue
        type_, rollout = rolling[change.type_key]
        key = (change.type_key, change.namespace, change.name)
        ref = f"{change.type_key} {describe_key(change.namespace, change.name)}"
        by_operator = actors.get(change.request_index) == "operator"
        owner = (controller_ref_of(change.obj) or {}).get("uid") or ""
        marked_deleted = is_terminating(change.obj) and not (
            change.prev is not None and is_terminating(change.prev)
        )
        if change.event == "DELETED" or marked_deleted:
            if by_operator and _was_recreate(recreates, owner, ref, change.request_index):
                updating[key] = owner
            elif key in updating and updating[key] == owner and not by_operator:
                pass  # the delete of a recreate we already count, completed by the server
            else:
                updating.pop(key, None)
        elif change.event == "MODIFIED" and by_operator and (
            _hash_of(change.prev) != _hash_of(change.obj)
        ):
            updating[key] = owner
        alive = change.event != "DELETED" and not is_terminating(change.obj)
        if key in updating and alive and rollout.check(change.obj) is True:
            del updating[key]
        names = sorted(
            describe_key(k[1], k[2]) for k, o in updating.items()
            if o == owner and k[0] == change.type_key
        )
        if len(names) > rollout.max_unavailable:
            parent = _parent_named(trace, owner)
            problems.append(
                f"parent {parent}: {len(names)} {type_.kind} children updating at once "
                f"({', '.join(names)}) at t={change.time:.3f}s, more than max_unavailable="
                f"{rollout.max_unavailable} ({change.event} {describe_key(*key[1:])})"
            )
    if problems:
        raise RolloutTooWide(problems, trace=trace)


def _parent_named(trace: Trace, uid: str) -> str:
    """The parent with this uid, described, as far as the trace knows it."""
    for plan in trace.plans:
        if plan.parent_uid == uid:
            return describe_key(*plan.parent)
    return f"with uid {uid}"


# -- all of them -------------------------------------------------------------------------


def assert_permanent_held(trace: Trace) -> None:
    """No handler call repeated the inputs of a call that raised ``PermanentError``."""
    problems = [
        f"parent {calls.where}: the handler raised PermanentError and was called again "
        f"{calls.repeated_permanent} times with nothing it read changed (first at "
        f"t={calls.first_repeat or 0.0:.3f}s): a permanent error waits for a change"
        for calls in trace.calls.values() if calls.repeated_permanent
    ]
    if problems:
        raise PermanentRetried(problems, trace=trace)


def assert_invariants(
    trace: Trace,
    definition: Any,
    *,
    writes_per_change: int | None = None,
    allow_handler_errors: bool = False,
    skip: Iterable[str] = (),
) -> None:
    """Every invariant, in the order that explains a failure best: writes accepted (a
    refused write explains a hot loop and no convergence), quiet (a hot loop explains
    everything after it), safe, filters respected, finalized, converged,
    permanent errors held, bounded writes, rollout. ``skip`` names invariants to leave out
    (``"accepted"``, ``"quiet"``, ``"safe"``, ``"filters"``, ``"finalized"``, ``"converged"``,
    ``"permanent_held"``, ``"bounded_writes"``, ``"rollout"``)."""
    skipped = set(skip)
    unknown = skipped - _NAMES
    if unknown:
        raise InvalidArgument(f"unknown invariants {sorted(unknown)}; known: {sorted(_NAMES)}")
    if "accepted" not in skipped:
        assert_writes_accepted(trace)
    if "quiet" not in skipped:
        assert_quiet(trace)
    if "safe" not in skipped:
        assert_safe(trace)
    if "filters" not in skipped:
        assert_filters_respected(trace)
    if "finalized" not in skipped:
        assert_finalized(trace)
    if "converged" not in skipped:
        assert_converged(trace, definition, allow_handler_errors=allow_handler_errors)
    if "permanent_held" not in skipped:
        assert_permanent_held(trace)
    if "bounded_writes" not in skipped:
        assert_bounded_writes(trace, writes_per_change)
    if "rollout" not in skipped:
        assert_rollout_bounded(trace, definition)
    if "admitted" not in skipped:
        assert_admitted(trace, definition)


_NAMES = frozenset({"accepted", "quiet", "safe", "filters", "finalized", "converged",
                    "permanent_held", "bounded_writes", "rollout", "admitted"})


# -- admitted ----------------------------------------------------------------------------


def assert_admitted(trace: Trace, definition: Any) -> None:
    """Nothing the operator's validators deny is stored, and no write of the operator's
    own was denied by them (its plans' failures name no admission denial).

    Every stored parent and child of a type one of its validators covers is admitted
    again (``admit``, as a create) at the end; an operator without validators passes."""
    operator = as_definition(definition)
    covered = [b.type for b in operator.admission if not b.mutating]
    if not covered:
        return
    problems = []
    for record in trace.plans:
        for failure in record.failures:
            if "admission webhook" in failure and "denied the request" in failure:
                problems.append(f"the operator's own write for {describe_key(*record.parent)} "
                                f"was denied: {failure}")
    final = trace.final
    if final is not None:
        stored = [*final.parents, *(o for objs in final.objects.values() for o in objs)]
        for obj in stored:
            if not any(t.matches(obj) for t in covered):
                continue
            result = admit(operator, obj)
            if not result.allowed:
                meta = obj.get("metadata") or {}
                problems.append(
                    f"{obj.get('kind')} {meta.get('namespace') or ''}/{meta.get('name')} is "
                    f"stored, but its validators deny it: {result.message}")
    if problems:
        raise NotAdmitted(problems, trace=trace)

