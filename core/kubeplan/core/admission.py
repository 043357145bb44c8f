"""Admission webhooks as pure functions: validators answer, mutators change the object.

A *validator* is a function ``validator(request: AdmissionRequest) -> Allowed | Denied``
(sync or ``async``); a *mutator* is ``mutator(request) -> dict`` returning the object as
it should be stored (``None``: unchanged), from which kubeplan computes the JSON patch the
API server applies. An operator declares them on its definition::

    OperatorDefinition(config, sync, validators=[check_spec],
                       mutators=[Mutator(default_size, operations=("CREATE",))])

A plain function is declared for the operator's parent type, on ``CREATE`` and
``UPDATE``, failing closed; wrap it in :class:`Validator` / :class:`Mutator` to name
another type (``for_type=``), other operations, ``failure_policy="Ignore"`` or a
``timeout_seconds``. A function that raises (or, served by the adapters, runs past its
timeout) answers as its failure policy says: ``Fail`` denies with the error in the
message, ``Ignore`` allows with the error as a warning.

This module is pure: :func:`request_of` reads an ``AdmissionReview`` (v1) into an
:class:`AdmissionRequest`, :func:`response_for` writes the answer back;
:func:`configurations` derives the Validating/MutatingWebhookConfiguration objects
``kubeplan manifests`` prints. Running the function (a thread, a timeout) is the
adapters' part.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import orjson

from kubeplan.core import convert
from kubeplan.core.errors import InvalidArgument, KubeplanError, WrongArgumentType
from kubeplan.core.k8s import admissionregistration_v1
from kubeplan.core.types import K8sType

Obj = dict[str, Any]
T = TypeVar("T")

REVIEW_API_VERSION = "admission.k8s.io/v1"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
FAILURE_POLICIES = ("Fail", "Ignore")
DEFAULT_OPERATIONS = ("CREATE", "UPDATE")
DEFAULT_TIMEOUT_SECONDS = 10
#: the real server's limits on a webhook's ``timeoutSeconds``
MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS = 1, 30
#: the HTTP code of a denial unless the validator gives one (controller-runtime's too)
DENIED_CODE = 403
VALIDATING_CONFIGURATION = admissionregistration_v1.ValidatingWebhookConfiguration
MUTATING_CONFIGURATION = admissionregistration_v1.MutatingWebhookConfiguration
VALIDATE_PREFIX = "/validate/"
MUTATE_PREFIX = "/mutate/"


class AdmissionError(KubeplanError, ValueError):
    """A malformed AdmissionReview, or a webhook declaration that cannot work."""


# --------------------------------------------------------------------------------------
# the request and the answers


@attrs.frozen
class UserInfo:
    """Who sent the request, as the API server authenticated them."""

    username: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)


@attrs.frozen
class AdmissionRequest:
    """One request under admission (``AdmissionReview.request``).

    ``operation`` is ``CREATE``, ``UPDATE``, ``DELETE`` or ``CONNECT``; ``object`` is the
    object as it would be stored (``None`` for a delete), ``old_object`` the stored one
    (``None`` for a create). ``kind`` is the object's type, ``namespace`` and ``name`` its
    key (``name`` may be empty on a create with ``generateName``); ``dry_run`` says
    nothing will be stored.
    """

    operation: str
    object: Obj | None
    old_object: Obj | None = None
    kind: K8sType | None = None
    namespace: str = ""
    name: str = ""
    user_info: UserInfo = attrs.field(factory=UserInfo)
    dry_run: bool = False
    sub_resource: str = ""
    uid: str = ""

    def object_as(self, cls: type[T]) -> T:
        """The object as an attrs class, through the one converter (camelCase keys)."""
        if self.object is None:
            raise InvalidArgument(f"a {self.operation} request has no object")
        return convert.structure(self.object, cls)

    def old_object_as(self, cls: type[T]) -> T:
        """The stored object as an attrs class (``InvalidArgument`` on a create)."""
        if self.old_object is None:
            raise InvalidArgument(f"a {self.operation} request has no old object")
        return convert.structure(self.old_object, cls)

    @property
    def spec(self) -> Any:
        """The object's ``spec`` (an empty dict when it has none)."""
        return (self.object or {}).get("spec") or {}

    def spec_as(self, cls: type[T]) -> T:
        """The object's spec as an attrs class."""
        return convert.structure(self.spec, cls)

    def old_spec_as(self, cls: type[T]) -> T | None:
        """The stored object's spec as an attrs class (``None`` when there is none)."""
        if self.old_object is None:
            return None
        return convert.structure(self.old_object.get("spec") or {}, cls)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@attrs.frozen
class Allowed:
    """The request may go on; ``warnings`` reach the client (``kubectl`` prints them)."""

    warnings: tuple[str, ...] = attrs.field(default=(), converter=_strings)


@attrs.frozen
class FieldError:
    """One field a denial names: its path (``spec.replicas``) and what is wrong."""

    field: str
    message: str


def _fields(value: Iterable[FieldError | tuple[str, str] | str]) -> tuple[FieldError, ...]:
    out = []
    for item in value:
        if isinstance(item, FieldError):
            out.append(item)
        elif isinstance(item, str):
            out.append(FieldError(item, ""))
        else:
            out.append(FieldError(*item))
    return tuple(out)


@attrs.frozen
class Denied:
    """The request is refused with ``reason``; ``fields`` name the fields at fault
    (``FieldError``, ``(field, message)`` or a bare path)."""

    reason: str
    fields: tuple[FieldError, ...] = attrs.field(default=(), converter=_fields)
    code: int = DENIED_CODE
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_strings)


Decision = Allowed | Denied


# --------------------------------------------------------------------------------------
# declarations


def _operations(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    ops = tuple(value)
    for op in ops:
        if op not in (*OPERATIONS, "*"):
            raise AdmissionError(f"operation {op!r} is not one of {', '.join(OPERATIONS)}, *")
    if not ops:
        raise AdmissionError("a webhook needs at least one operation")
    return ops


def _check_policy(_inst: Any, _attr: Any, value: str) -> None:
    if value not in FAILURE_POLICIES:
        raise AdmissionError(f"failure_policy {value!r} is not one of Fail, Ignore")


def _check_timeout(_inst: Any, _attr: Any, value: int) -> None:
    if not isinstance(value, int) or not MIN_TIMEOUT_SECONDS <= value <= MAX_TIMEOUT_SECONDS:
        raise AdmissionError(
            f"timeout_seconds {value!r} must be an integer from {MIN_TIMEOUT_SECONDS} to "
            f"{MAX_TIMEOUT_SECONDS} (the API server's limits)")


@attrs.frozen
class Webhook:
    """What a validator and a mutator declaration share."""

    function: Callable[[AdmissionRequest], Any]
    for_type: K8sType | None = None
    operations: tuple[str, ...] = attrs.field(default=DEFAULT_OPERATIONS, converter=_operations)
    failure_policy: str = attrs.field(default="Fail", validator=_check_policy)
    timeout_seconds: int = attrs.field(default=DEFAULT_TIMEOUT_SECONDS,
                                       validator=_check_timeout)
    name: str = ""

    mutating = False

    def __attrs_post_init__(self) -> None:
        if not callable(self.function):
            raise WrongArgumentType(
                f"a webhook's function must be callable, got {type(self.function).__name__}")
        if self.for_type is not None and not isinstance(self.for_type, K8sType):
            raise WrongArgumentType(
                f"for_type must be a K8sType, got {type(self.for_type).__name__}")
        if not self.name:
            base = getattr(self.function, "__name__", "") or type(self.function).__name__
            object.__setattr__(self, "name", base)
        slug = _slug(self.name)
        if not slug:
            raise AdmissionError(f"webhook name {self.name!r} has no letters or digits")


@attrs.frozen
class Validator(Webhook):
    """A validator with its options: ``Validator(fn, for_type=core_v1.ConfigMap)``."""


@attrs.frozen
class Mutator(Webhook):
    """A mutator with its options: ``Mutator(fn, operations=("CREATE",))``."""

    mutating = True


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")


def validators_tuple(value: Iterable[Any]) -> tuple[Validator, ...]:
    """Plain functions and ``Validator``s as ``Validator``s (the definition's converter)."""
    out = []
    for item in value:
        if isinstance(item, Mutator):
            raise WrongArgumentType(f"{item.name} is a Mutator, declared among validators")
        out.append(item if isinstance(item, Validator) else Validator(item))
    return tuple(out)


def mutators_tuple(value: Iterable[Any]) -> tuple[Mutator, ...]:
    """Plain functions and ``Mutator``s as ``Mutator``s (the definition's converter)."""
    out = []
    for item in value:
        if isinstance(item, Validator):
            raise WrongArgumentType(f"{item.name} is a Validator, declared among mutators")
        out.append(item if isinstance(item, Mutator) else Mutator(item))
    return tuple(out)


@attrs.frozen
class Bound:
    """A declared webhook bound to its operator: type resolved, name and path fixed."""

    webhook: Webhook
    type: K8sType
    operator: str

    @property
    def mutating(self) -> bool:
        return self.webhook.mutating

    @property
    def path(self) -> str:
        prefix = MUTATE_PREFIX if self.mutating else VALIDATE_PREFIX
        return f"{prefix}{_slug(self.operator) or 'operator'}/{_slug(self.webhook.name)}"

    @property
    def webhook_name(self) -> str:
        """The name in the webhook configuration: a domain name of three labels at least."""
        operator = _slug(self.operator) or "operator"
        return f"{_slug(self.webhook.name)}.{operator}.kubeplan.dev"


def bind(webhooks: Sequence[Webhook], parent: K8sType, operator: str) -> tuple[Bound, ...]:
    """The webhooks of one operator, each for its type (the parent unless named)."""
    out = [Bound(w, w.for_type or parent, operator) for w in webhooks]
    paths = [b.path for b in out]
    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        raise AdmissionError(
            f"two webhooks of {operator} are served at {repeated[0]}: give them different "
            "names (name=...)")
    return tuple(out)


# --------------------------------------------------------------------------------------
# reading a review and answering it


def _type_of(kind: Any, resource: Any, namespace: str) -> K8sType | None:
    if not isinstance(kind, Mapping) or not kind.get("kind"):
        return None
    group, version = str(kind.get("group") or ""), str(kind.get("version") or "")
    api_version = f"{group}/{version}" if group else version
    plural = str(resource.get("resource") or "") if isinstance(resource, Mapping) else ""
    return K8sType(api_version, str(kind["kind"]), plural, namespaced=bool(namespace))


def request_of(body: Any) -> AdmissionRequest:
    """The request of an ``AdmissionReview`` (``AdmissionError`` naming what is wrong)."""
    if not isinstance(body, Mapping):
        raise AdmissionError(f"an AdmissionReview must be an object, got {type(body).__name__}")
    if (body.get("apiVersion"), body.get("kind")) != (REVIEW_API_VERSION, "AdmissionReview"):
        raise AdmissionError(
            f"expected apiVersion {REVIEW_API_VERSION}, kind AdmissionReview; got "
            f"{body.get('apiVersion')!r}, {body.get('kind')!r}")
    request = body.get("request")
    if not isinstance(request, Mapping):
        raise AdmissionError("the AdmissionReview has no request")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise AdmissionError(f"request.operation {operation!r} is not one of "
                             f"{', '.join(OPERATIONS)}")
    for field in ("object", "oldObject"):
        if request.get(field) is not None and not isinstance(request.get(field), Mapping):
            raise AdmissionError(f"request.{field} must be an object")
    user = request.get("userInfo") or {}
    extra = {str(k): tuple(v or ()) for k, v in (user.get("extra") or {}).items()}
    obj, old = request.get("object"), request.get("oldObject")
    return AdmissionRequest(
        operation=str(operation),
        object=copy.deepcopy(dict(obj)) if obj is not None else None,
        old_object=copy.deepcopy(dict(old)) if old is not None else None,
        kind=_type_of(request.get("kind"), request.get("resource"),
                      str(request.get("namespace") or "")),
        namespace=str(request.get("namespace") or ""),
        name=str(request.get("name") or ""),
        user_info=UserInfo(str(user.get("username") or ""), str(user.get("uid") or ""),
                           tuple(user.get("groups") or ()), extra),
        dry_run=bool(request.get("dryRun")),
        sub_resource=str(request.get("subResource") or ""),
        uid=str(request.get("uid") or ""),
    )


def decision_of(webhook: Webhook, request: AdmissionRequest, outcome: Any) -> Decision:
    """What a validator's return value (or the exception it raised) comes to.

    A mutator's outcome is its object: use :func:`mutation_of`. An exception, or a value
    that is neither ``Allowed`` nor ``Denied``, answers by the failure policy.
    """
    if isinstance(outcome, Allowed | Denied):
        return outcome
    if isinstance(outcome, BaseException):
        error = f"{type(outcome).__name__}: {outcome}" if str(outcome) else type(outcome).__name__
    else:
        error = f"returned {type(outcome).__name__}, not Allowed or Denied"
    return failure(webhook, error)


def failure(webhook: Webhook, error: str) -> Decision:
    """The answer of a webhook whose function failed (raised, timed out, returned junk)."""
    message = f"{webhook.name} failed: {error}"
    if webhook.failure_policy == "Ignore":
        return Allowed(warnings=(f"{message} (failurePolicy Ignore: allowed)",))
    return Denied(message, code=500)


def json_patch(before: Any, after: Any, path: str = "") -> list[Obj]:
    """The RFC 6902 operations turning ``before`` into ``after`` (objects key by key,
    lists replaced whole when they differ)."""
    if _same(before, after):
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        ops: list[Obj] = []
        for key in before:
            if key not in after:
                ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, value in after.items():
            where = f"{path}/{_escape(key)}"
            if key not in before:
                ops.append({"op": "add", "path": where, "value": copy.deepcopy(value)})
            else:
                ops.extend(json_patch(before[key], value, where))
        return ops
    return [{"op": "replace", "path": path, "value": copy.deepcopy(after)}]


def _same(a: Any, b: Any) -> bool:
    # as JSON: Python's 1 == True must not hide a change from 1 to true
    if a != b:
        return False
    try:
        sort = orjson.OPT_SORT_KEYS
        return orjson.dumps(a, option=sort) == orjson.dumps(b, option=sort)
    except TypeError:  # not JSON (an integer past 64 bits): equal as Python sees it
        return True


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def mutation_of(webhook: Webhook, request: AdmissionRequest,
                outcome: Any) -> tuple[Decision, list[Obj]]:
    """A mutator's outcome as a decision and the JSON patch of its changes.

    ``None`` changes nothing; a ``Denied`` refuses; an attrs instance is the new spec
    (written through the converter); a dict is the whole new object.
    """
    if isinstance(outcome, Allowed | Denied):
        return outcome, []
    if isinstance(outcome, BaseException) or (outcome is not None
                                              and not isinstance(outcome, dict)
                                              and not attrs.has(type(outcome))):
        return decision_of(webhook, request, outcome), []
    if outcome is None or request.object is None:
        return Allowed(), []
    if attrs.has(type(outcome)):
        outcome = {**request.object, "spec": convert.unstructure(outcome)}
    return Allowed(), json_patch(request.object, outcome)


def response_for(request: AdmissionRequest, decision: Decision,
                 patch: Sequence[Obj] = ()) -> Obj:
    """The ``AdmissionReview`` answering ``request``."""
    response: Obj = {"uid": request.uid, "allowed": isinstance(decision, Allowed)}
    if decision.warnings:
        response["warnings"] = list(decision.warnings)
    if isinstance(decision, Denied):
        result: Obj = {"status": "Failure", "code": decision.code, "message": decision.reason}
        if decision.fields:
            result["details"] = {"causes": [
                {"type": "FieldValueInvalid", "field": f.field, "message": f.message}
                for f in decision.fields]}
        result["reason"] = "Forbidden" if decision.code == 403 else "Invalid" if \
            decision.code == 422 else ""
        if not result["reason"]:
            del result["reason"]
        response["status"] = result
    elif patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(list(patch))).decode("ascii")
    return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "response": response}


def review(webhook: Webhook, body: Any, call: Callable[[AdmissionRequest], Any]) -> Obj:
    """Answer one AdmissionReview with ``call(request)`` (the function's outcome: its
    return value or the exception it raised)."""
    request = request_of(body)
    outcome = call(request)
    if webhook.mutating:
        decision, patch = mutation_of(webhook, request, outcome)
        return response_for(request, decision, patch)
    return response_for(request, decision_of(webhook, request, outcome))


def review_request(request: AdmissionRequest, *, resource: str = "") -> Obj:
    """The AdmissionReview a server would send for ``request`` (tests, the testkit)."""
    kind = request.kind
    body: Obj = {
        "uid": request.uid or "00000000-0000-4000-8000-000000000000",
        "operation": request.operation,
        "namespace": request.namespace,
        "name": request.name,
        "object": request.object,
        "oldObject": request.old_object,
        "dryRun": request.dry_run,
        "userInfo": {"username": request.user_info.username, "uid": request.user_info.uid,
                     "groups": list(request.user_info.groups)},
    }
    if kind is not None:
        body["kind"] = {"group": kind.group, "version": kind.version, "kind": kind.kind}
        body["resource"] = {"group": kind.group, "version": kind.version,
                            "resource": resource or kind.plural}
    return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "request": body}


# --------------------------------------------------------------------------------------
# the webhook configurations


def configurations(
    bound: Sequence[Bound], name: str, client_config: Callable[[str], Obj],
    *, annotations: Mapping[str, str] | None = None,
) -> list[Obj]:
    """The ValidatingWebhookConfiguration and MutatingWebhookConfiguration (each only
    when it has webhooks) named ``name``; ``client_config(path)`` says where each is."""
    out = []
    for mutating, kind in ((True, "MutatingWebhookConfiguration"),
                           (False, "ValidatingWebhookConfiguration")):
        hooks = [b for b in bound if b.mutating == mutating]
        if not hooks:
            continue
        meta: Obj = {"name": name}
        if annotations:
            meta["annotations"] = dict(annotations)
        out.append({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": meta,
            "webhooks": [webhook_entry(b, client_config(b.path)) for b in hooks],
        })
    return out


def webhook_entry(b: Bound, client_config: Obj) -> Obj:
    """One webhook of a configuration: rules from the declared type and operations."""
    t = b.type
    entry: Obj = {
        "name": b.webhook_name,
        "clientConfig": copy.deepcopy(client_config),
        "rules": [{
            "apiGroups": [t.group], "apiVersions": [t.version],
            "resources": [t.plural], "operations": list(b.webhook.operations),
            "scope": "Namespaced" if t.namespaced else "Cluster",
        }],
        "failurePolicy": b.webhook.failure_policy,
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "timeoutSeconds": b.webhook.timeout_seconds,
        "admissionReviewVersions": ["v1"],
    }
    if b.mutating:
        entry["reinvocationPolicy"] = "Never"
    return entry


def configuration_name(operator: str) -> str:
    """The name of an operator's webhook configurations."""
    slug = re.sub(r"[^a-z0-9-]+", "-", operator.lower()).strip("-")
    if not slug:
        raise InvalidArgument(f"operator name {operator!r} has no letters or digits")
    return f"{slug}-admission"


__all__ = [
    "MUTATING_CONFIGURATION",
    "VALIDATING_CONFIGURATION",
    "AdmissionError",
    "AdmissionRequest",
    "Allowed",
    "Bound",
    "Decision",
    "Denied",
    "FieldError",
    "Mutator",
    "UserInfo",
    "Validator",
    "Webhook",
    "bind",
    "configuration_name",
    "configurations",
    "decision_of",
    "failure",
    "json_patch",
    "mutation_of",
    "mutators_tuple",
    "request_of",
    "response_for",
    "review",
    "review_request",
    "validators_tuple",
]
