"""Scenarios: what happens to an operator, step by step, as data that saves to YAML.

A ``Scenario`` is a seed and a list of steps: a user creates, patches or deletes a parent;
someone else edits or deletes a child, or creates a foreign object in the way; a fault is
injected into the API server; the virtual clock advances; the operator restarts; the run
waits until everything has settled. Steps are plain frozen values, so a scenario that
hypothesis found failing can be printed, saved with ``Scenario.save`` and replayed as a
regression test with ``Scenario.load`` — ``to_yaml``/``from_yaml`` round-trip exactly.

The runner (which drives the real runtime against the fake API server on a
``VirtualTimeLoop``) lives elsewhere; this module is only the data and its checks.

Child types are named by a stable string key, ``str(K8sType)``: ``v1/ConfigMap``,
``apps/v1/Deployment``, ``example.com/v1/Widget``. ``resolve_type`` turns a key back into a
``K8sType`` from the built-in catalogue plus the operator's own types.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar, get_args

import attrs
import yaml

from kubeplan.core.errors import InvalidArgument, KubeplanError, WrongArgumentType
from kubeplan.core.k8s import BUILTIN_TYPES
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver.faults import Fault

JsonObject = dict[str, Any]
_T = TypeVar("_T", bound=attrs.AttrsInstance)

FaultKind = Literal[
    "error", "too_many_requests", "latency", "watch_drop", "watch_stall", "expire_watch"
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
#: what a ``SourceFault`` makes an external source answer
SOURCE_FAULTS = ("error", "timeout", "stale")


class ScenarioError(KubeplanError, ValueError):
    """A scenario (or its YAML) is malformed; the message names the step and the field."""

    def __init__(self, message: str, *, step: int | None = None, field: str | None = None):
        self.step = step
        self.field = field
        where = []
        if step is not None:
            where.append(f"step #{step + 1} (steps[{step}])")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class UnknownTypeError(KubeplanError, KeyError):
    """A type key names no known type."""

    def __str__(self) -> str:
        return str(self.args[0])


# -- types -------------------------------------------------------------------------------


def type_key(k8s_type: K8sType) -> str:
    """The stable key of a type in scenarios: ``v1/ConfigMap``, ``apps/v1/Deployment``."""
    return str(k8s_type)


def resolve_type(key: str, extra: Iterable[K8sType] = ()) -> K8sType:
    """The type a key names, looked up in ``extra`` (the operator's types) then the catalogue."""
    api_version, _, kind = key.rpartition("/")
    for candidate in (*extra, *BUILTIN_TYPES):
        if candidate.api_version == api_version and candidate.kind == kind:
            return candidate
    known = sorted({type_key(t) for t in (*extra, *BUILTIN_TYPES)})
    raise UnknownTypeError(
        f"no type {key!r}; type keys are 'apiVersion/Kind' such as 'v1/ConfigMap' or "
        f"'apps/v1/Deployment'. Known: {', '.join(known)}"
    )


# -- validation helpers --------------------------------------------------------------------


def _check_json(value: Any, path: str) -> None:
    """Reject what JSON (and so the API server and YAML round-trips) cannot hold."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise WrongArgumentType(f"{path} is {value!r}; only finite numbers fit in JSON")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise WrongArgumentType(f"{path} has a non-string key {k!r}")
            _check_json(item, f"{path}.{k}")
        return
    raise WrongArgumentType(f"{path} is a {type(value).__name__} ({value!r}); expected JSON data")


def _json_object(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dict):
        raise WrongArgumentType(f"must be a mapping, got {type(value).__name__}")
    _check_json(value, attribute.name)


def _non_empty_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise WrongArgumentType(f"must be a non-empty string, got {value!r}")


def _optional_non_empty_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _non_empty_str(instance, attribute, value)


def _optional_number(minimum: float) -> Any:
    return _number(minimum, optional=True)


def _number(minimum: float, *, optional: bool = False) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WrongArgumentType(f"must be a number, got {value!r}")
        if not math.isfinite(value) or value < minimum:
            raise InvalidArgument(f"must be a finite number >= {minimum}, got {value!r}")

    return check


def _to_float(value: Any) -> Any:
    """Seconds are floats, so ``Advance(1)`` and ``Advance(1.0)`` save the same YAML."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _int_at_least(minimum: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise WrongArgumentType(f"must be an integer, got {value!r}")
        if value < minimum:
            raise InvalidArgument(f"must be >= {minimum}, got {value}")

    return check


def _where(name: str, namespace: str | None) -> str:
    return f"{namespace}/{name}" if namespace else name


# -- faults --------------------------------------------------------------------------------


@attrs.frozen
class FaultSpec:
    """A fault for the fake API server to inject, described as data.

    ``kind``: ``error`` (respond ``code``, default 500), ``too_many_requests`` (429 with
    ``retry_after`` seconds), ``latency`` (delay ``seconds`` of virtual time), ``watch_drop``
    (close open watches), ``watch_stall`` (watches go silent for ``seconds``),
    ``expire_watch`` (the next watch resume gets 410 Gone). ``verb`` (``get``, ``list``,
    ``watch``, ``create``, ``update``, ``patch``, ``delete``) and ``resource`` (a type key
    or a plural) narrow which requests are hit; ``count`` is how many are hit.
    """

    kind: FaultKind = attrs.field()
    verb: str | None = attrs.field(default=None, validator=_optional_non_empty_str)
    resource: str | None = attrs.field(default=None, validator=_optional_non_empty_str)
    count: int = attrs.field(default=1, validator=_int_at_least(1))
    code: int | None = attrs.field(default=None)
    retry_after: float | None = attrs.field(
        default=None, converter=_to_float, validator=_optional_number(0)
    )
    seconds: float | None = attrs.field(
        default=None, converter=_to_float, validator=_optional_number(0)
    )

    @kind.validator
    def _check_kind(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in FAULT_KINDS:
            raise InvalidArgument(f"must be one of {', '.join(FAULT_KINDS)}; got {value!r}")

    @code.validator
    def _check_code(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
            raise InvalidArgument(f"must be an HTTP error status 400..599, got {value!r}")

    def describe(self) -> str:
        target = " ".join(p for p in (self.verb, self.resource) if p) or "any request"
        extra = []
        if self.code is not None:
            extra.append(f"code {self.code}")
        if self.retry_after is not None:
            extra.append(f"retry-after {self.retry_after:g}s")
        if self.seconds is not None:
            extra.append(f"{self.seconds:g}s")
        times = "" if self.count == 1 else f" x{self.count}"
        details = f" ({', '.join(extra)})" if extra else ""
        return f"{self.kind}{details} on {target}{times}"


def fault_for(spec: FaultSpec, extra_types: Iterable[K8sType] = ()) -> Fault | None:
    """The fake API server's ``Fault`` for a ``FaultSpec``, or None for ``expire_watch``
    (which is not a per-request fault: the runner compacts the server's event log with
    ``server.truncate_event_log()`` so the next watch resume answers 410 Gone).

    ``resource`` may be a type key (``v1/ConfigMap``, resolved against the catalogue and
    ``extra_types``) or already a plural (``configmaps``).
    """
    resource = spec.resource
    if resource is not None and "/" in resource:
        resource = resolve_type(resource, extra_types).plural
    match: dict[str, Any] = {"resource": resource, "count": spec.count}
    if spec.verb is not None:
        match["verb"] = spec.verb
    if spec.kind == "error":
        return Fault.error(spec.code if spec.code is not None else 500, **match)
    if spec.kind == "too_many_requests":
        retry_after = math.ceil(spec.retry_after) if spec.retry_after is not None else 1
        return Fault.too_many_requests(retry_after, **match)
    if spec.kind == "latency":
        return Fault.latency(spec.seconds or 0.0, **match)
    if spec.kind == "watch_drop":
        return Fault.watch_drop(**match)
    if spec.kind == "watch_stall":
        return Fault.watch_stall(**match)
    return None


# -- steps ---------------------------------------------------------------------------------


@attrs.frozen
class CreateParent:
    """A user creates a parent with this spec (and ``metadata``: its labels and annotations,
    what an operator's filters read)."""

    kind: ClassVar[str] = "create_parent"
    name: str = attrs.field(validator=_non_empty_str)
    spec: JsonObject = attrs.field(factory=dict, validator=_json_object)
    namespace: str | None = attrs.field(default=None, validator=_optional_non_empty_str)
    metadata: JsonObject = attrs.field(factory=dict, validator=_json_object)
    #: another declared version of a versioned parent to write in (the server converts)
    version: str | None = attrs.field(default=None, validator=_optional_non_empty_str)

    def describe(self) -> str:
        meta = f" metadata={_inline(self.metadata)}" if self.metadata else ""
        return (f"create parent {_where(self.name, self.namespace)}{_in(self.version)} "
                f"spec={_inline(self.spec)}{meta}")


@attrs.frozen
class PatchParent:
    """A user changes a parent with a JSON merge patch (RFC 7386) of the whole object."""

    kind: ClassVar[str] = "patch_parent"
    name: str = attrs.field(validator=_non_empty_str)
    patch: JsonObject = attrs.field(validator=_json_object)
    namespace: str | None = attrs.field(default=None, validator=_optional_non_empty_str)
    #: another declared version of a versioned parent to patch through
    version: str | None = attrs.field(default=None, validator=_optional_non_empty_str)

    def describe(self) -> str:
        return (f"patch parent {_where(self.name, self.namespace)}{_in(self.version)} "
                f"with {_inline(self.patch)}")


def _in(version: str | None) -> str:
    return f" in {version}" if version else ""


@attrs.frozen
class DeleteParent:
    """A user deletes a parent (finalizers, if any, still run)."""

    kind: ClassVar[str] = "delete_parent"
    name: str = attrs.field(validator=_non_empty_str)
    namespace: str | None = attrs.field(default=None, validator=_optional_non_empty_str)

    def describe(self) -> str:
        return f"delete parent {_where(self.name, self.namespace)}"


@attrs.frozen
class EditChild:
    """Someone other than the operator merge-patches one of its children."""

    kind: ClassVar[str] = "edit_child"
    type_key: str = attrs.field(validator=_non_empty_str)
    name: str = attrs.field(validator=_non_empty_str)
    patch: JsonObject = attrs.field(validator=_json_object)
    namespace: str | None = attrs.field(default=None, validator=_optional_non_empty_str)

    def describe(self) -> str:
        where = _where(self.name, self.namespace)
        return f"someone edits {self.type_key} {where} with {_inline(self.patch)}"


@attrs.frozen
class DeleteChild:
    """Someone other than the operator deletes one of its children."""

    kind: ClassVar[str] = "delete_child"
    type_key: str = attrs.field(validator=_non_empty_str)
    name: str = attrs.field(validator=_non_empty_str)
    namespace: str | None = attrs.field(default=None, validator=_optional_non_empty_str)

    def describe(self) -> str:
        return f"someone deletes {self.type_key} {_where(self.name, self.namespace)}"


@attrs.frozen
class CreateForeign:
    """Someone creates an object the operator does not own, e.g. where a child should go."""

    kind: ClassVar[str] = "create_foreign"
    obj: JsonObject = attrs.field(validator=_json_object)

    @obj.validator
    def _check_obj(self, attribute: attrs.Attribute[Any], value: JsonObject) -> None:
        for key in ("apiVersion", "kind"):
            if not isinstance(value.get(key), str) or not value[key]:
                raise InvalidArgument(f"needs a string {key!r}")
        metadata = value.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("name"):
            raise InvalidArgument("needs metadata.name")

    def describe(self) -> str:
        meta = self.obj["metadata"]
        key = f"{self.obj['apiVersion']}/{self.obj['kind']}"
        return f"someone creates foreign {key} {_where(meta['name'], meta.get('namespace'))}"


@attrs.frozen
class InjectFault:
    """The fake API server starts misbehaving as ``fault`` describes."""

    kind: ClassVar[str] = "inject_fault"
    fault: FaultSpec = attrs.field(validator=attrs.validators.instance_of(FaultSpec))

    def describe(self) -> str:
        return f"inject {self.fault.describe()}"


def _item_list(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, list | tuple) or not all(isinstance(i, dict) for i in value):
        raise ScenarioError(f"{attribute.name} must be a list of JSON objects, got {value!r:.80}")
    for i, item in enumerate(value):
        _check_json(item, f"{attribute.name}[{i}]")


def _source_fault_kind(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in SOURCE_FAULTS:
        raise ScenarioError(f"{attribute.name} is one of {', '.join(SOURCE_FAULTS)}, "
                            f"got {value!r}")


@attrs.frozen
class SetSourceItems:
    """The external source ``source`` serves these items from now on."""

    kind: ClassVar[str] = "set_source_items"
    source: str = attrs.field(validator=_non_empty_str)
    items: tuple[JsonObject, ...] = attrs.field(converter=tuple, validator=_item_list)

    def describe(self) -> str:
        return f"source {self.source} now serves {len(self.items)} item(s)"


@attrs.frozen
class SourceFault:
    """The external source's next ``count`` answers are faults: ``error`` (HTTP 500),
    ``timeout`` (no answer) or ``stale`` (the answer before its last change)."""

    kind: ClassVar[str] = "source_fault"
    source: str = attrs.field(validator=_non_empty_str)
    fault: str = attrs.field(validator=_source_fault_kind)
    count: int = attrs.field(default=1, validator=_int_at_least(1))

    def describe(self) -> str:
        return f"source {self.source}: next {self.count} answer(s) {self.fault}"


@attrs.frozen
class Advance:
    """Virtual time moves on by ``seconds`` while the operator keeps running."""

    kind: ClassVar[str] = "advance"
    seconds: float = attrs.field(converter=_to_float, validator=_number(0))

    def describe(self) -> str:
        return f"advance {self.seconds:g}s"


@attrs.frozen
class RestartOperator:
    """The operator process stops and starts again: caches, queue and memo are lost."""

    kind: ClassVar[str] = "restart_operator"

    def describe(self) -> str:
        return "restart the operator"


@attrs.frozen
class Settle:
    """Wait (in virtual time) until the operator has nothing left to do."""

    kind: ClassVar[str] = "settle"

    def describe(self) -> str:
        return "settle"


Step = (
    CreateParent
    | PatchParent
    | DeleteParent
    | EditChild
    | DeleteChild
    | CreateForeign
    | InjectFault
    | Advance
    | RestartOperator
    | Settle
    | SetSourceItems
    | SourceFault
)

STEP_CLASSES: Mapping[str, type[Step]] = {
    cls.kind: cls
    for cls in (
        CreateParent,
        PatchParent,
        DeleteParent,
        EditChild,
        DeleteChild,
        CreateForeign,
        InjectFault,
        Advance,
        RestartOperator,
        Settle,
        SetSourceItems,
        SourceFault,
    )
}


def _inline(value: Any) -> str:
    """A one-line flow-style rendering of JSON data, for step descriptions."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


# -- (de)serialisation -----------------------------------------------------------------------


# attrs.Factory is a class, but typed as a function returning the default it makes (so that
# type checkers read ``x: list[int] = attrs.Factory(list)``): the class, from an instance
_FACTORY: type[Any] = type(attrs.Factory(list))


def _fields_to_dict(value: Any) -> dict[str, Any]:
    """Fields of a step or fault, leaving out those at their default (shorter YAML)."""
    out: dict[str, Any] = {}
    for field in attrs.fields(type(value)):
        item = getattr(value, field.name)
        default = field.default
        if isinstance(default, _FACTORY):
            default = default.factory()
        if default is not attrs.NOTHING and item == default and type(item) is type(default):
            continue
        out[field.name] = _fields_to_dict(item) if attrs.has(type(item)) else item
    return out


def step_to_dict(step: Step) -> dict[str, Any]:
    """One step as plain data: ``{"kind": "advance", "seconds": 30.0}``."""
    return {"kind": step.kind, **_fields_to_dict(step)}


def _build(cls: type[_T], data: Any, *, step: int | None, prefix: str = "") -> _T:
    if not isinstance(data, dict):
        raise ScenarioError(
            f"expected a mapping, got {type(data).__name__}", step=step, field=prefix or None
        )
    names = {f.name for f in attrs.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ScenarioError(
            f"unknown field for {cls.__name__} (known: {', '.join(sorted(names)) or 'none'})",
            step=step,
            field=prefix + str(unknown[0]),
        )
    kwargs = dict(data)
    for field in attrs.fields(cls):
        if field.default is attrs.NOTHING and field.name not in kwargs:
            raise ScenarioError(
                f"missing (required by {cls.__name__})", step=step, field=prefix + field.name
            )
        if field.name == "fault" and cls is InjectFault and field.name in kwargs:
            kwargs["fault"] = _build(
                FaultSpec, kwargs["fault"], step=step, prefix=prefix + "fault."
            )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        field_name = _failing_field(cls, kwargs, exc)
        raise ScenarioError(
            str(exc), step=step, field=prefix + field_name if field_name else None
        ) from exc


def _failing_field(cls: type[Any], kwargs: Mapping[str, Any], exc: Exception) -> str | None:
    """Which field a validator rejected: retry each field against its own validator."""
    field: attrs.Attribute[Any]
    for field in attrs.fields(cls):
        if field.name not in kwargs:
            continue
        value = kwargs[field.name]
        if callable(field.converter):  # the steps' converters are plain functions
            value = field.converter(value)
        if field.validator is None:
            continue
        try:
            field.validator(None, field, value)
        except (TypeError, ValueError):
            return field.name
    return None


def step_from_dict(data: Any, *, index: int | None = None) -> Step:
    """Build a step from plain data; errors name the step ``index`` and the field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"a step must be a mapping, got {type(data).__name__}", step=index)
    kind = data.get("kind")
    cls = STEP_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ScenarioError(
            f"unknown step kind {kind!r}; expected one of {', '.join(STEP_CLASSES)}",
            step=index,
            field="kind",
        )
    return _build(cls, {k: v for k, v in data.items() if k != "kind"}, step=index)


def _steps(steps: Iterable[Step]) -> tuple[Step, ...]:
    return tuple(steps)


@attrs.frozen
class Scenario:
    """A reproducible story for an operator: ``steps`` run in order, ``seed`` fixes chance.

    The seed is for everything random during a run (jitter in backoff, the order the fake
    API server delivers concurrent events); with the same scenario and seed, a run gives
    the same trace.
    """

    steps: tuple[Step, ...] = attrs.field(converter=_steps, factory=tuple)
    seed: int = attrs.field(default=0, validator=_int_at_least(0))
    name: str = attrs.field(default="", validator=attrs.validators.instance_of(str))

    @steps.validator
    def _check_steps(self, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
        for i, step in enumerate(value):
            if type(step) not in STEP_CLASSES.values():
                raise ScenarioError(f"not a scenario step: {step!r}", step=i)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "steps": [step_to_dict(step) for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Scenario:
        if isinstance(data, list):
            data = {"steps": data}
        if not isinstance(data, dict):
            raise ScenarioError(f"a scenario must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"name", "seed", "steps"})
        if unknown:
            raise ScenarioError("unknown field (known: name, seed, steps)", field=unknown[0])
        raw_steps = data.get("steps") or []
        if not isinstance(raw_steps, list):
            raise ScenarioError("must be a list of steps", field="steps")
        steps = tuple(step_from_dict(raw, index=i) for i, raw in enumerate(raw_steps))
        name = data.get("name") or ""
        seed = data.get("seed", 0)
        if not isinstance(name, str):
            raise ScenarioError(f"must be a string, got {name!r}", field="name")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ScenarioError(f"must be a non-negative integer, got {seed!r}", field="seed")
        return cls(steps=steps, seed=seed, name=name)

    def to_yaml(self) -> str:
        """YAML text that ``from_yaml`` turns back into an equal scenario."""
        return yaml.safe_dump(
            self.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False
        )

    @classmethod
    def from_yaml(cls, text: str) -> Scenario:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"not valid YAML: {exc}") from exc
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_yaml())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Scenario:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            return cls.from_yaml(text)
        except ScenarioError as exc:
            raise ScenarioError(f"{os.fspath(path)}: {exc}") from exc

    def __str__(self) -> str:
        title = f"Scenario {self.name!r}" if self.name else "Scenario"
        count = f"{len(self.steps)} step" + ("" if len(self.steps) == 1 else "s")
        lines = [f"{title} (seed {self.seed}, {count})"]
        width = len(str(len(self.steps)))
        lines += [
            f"  {i:>{width}}. {step.describe()}" for i, step in enumerate(self.steps, start=1)
        ]
        return "\n".join(lines)


__all__ = [
    "FAULT_KINDS",
    "SOURCE_FAULTS",
    "STEP_CLASSES",
    "Advance",
    "CreateForeign",
    "CreateParent",
    "DeleteChild",
    "DeleteParent",
    "EditChild",
    "FaultKind",
    "FaultSpec",
    "InjectFault",
    "PatchParent",
    "RestartOperator",
    "Scenario",
    "ScenarioError",
    "SetSourceItems",
    "Settle",
    "SourceFault",
    "Step",
    "UnknownTypeError",
    "fault_for",
    "resolve_type",
    "step_from_dict",
    "step_to_dict",
    "type_key",
]
