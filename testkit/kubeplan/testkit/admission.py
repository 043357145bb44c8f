"""``admit``: an operator's admission webhooks run on one object, for plain unit tests.

``admit(operator, obj, old=None)`` sends ``obj`` (a dict) through the operator's
mutators, then its validators, as the API server's admission chain would for a
``CREATE`` (or an ``UPDATE`` of ``old``, or ``operation="DELETE"``): only the webhooks
whose type and operations match are called, each through a real ``AdmissionReview``
(request built, answer read back, a mutator's JSON patch applied), sync or async. The
:class:`Admission` it returns says whether the object would be stored, the object as it
would be stored, the denial's message and the warnings::

    result = admit(operator, site)
    assert not result.allowed
    assert "not under example.com" in result.message

``assert_never_denied_children`` is the property behind ``check_operator``'s admission
invariant: no child the operator plans may be denied by its own validators.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson

from kubeplan.core import admission
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument, KubeplanError
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver import patching
from kubeplan.testkit.apiserver.admission import in_process

Obj = dict[str, Any]


@attrs.frozen
class Admission:
    """What admission made of one request.

    ``allowed``: whether it would be stored; ``object``: the object after every mutation
    (``None`` for a delete); ``message``: the denial, as the API server words it
    (``admission webhook "NAME" denied the request: REASON``), ``""`` when allowed;
    ``code``: the denial's HTTP code; ``denied_by``: the webhook's name; ``fields``: the
    fields the denial names; ``warnings``: every webhook's warnings, in call order;
    ``called``: the names of the webhooks called.
    """

    allowed: bool
    object: Obj | None
    message: str = ""
    code: int = 0
    denied_by: str = ""
    fields: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    called: tuple[str, ...] = ()


class ChildDenied(KubeplanError, AssertionError):
    """The operator planned a child its own validators deny."""


def _type_of(definition: OperatorDefinition, obj: Mapping[str, Any]) -> K8sType | None:
    config = definition.config
    for t in (config.parent, *config.children, *config.related_types):
        if t.matches(obj):
            return t
    for b in definition.admission:
        if b.type.matches(obj):
            return b.type
    return None


def admit(
    operator: OperatorDefinition,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None = None,
    *,
    operation: str | None = None,
    username: str = "kubernetes-admin",
    groups: Iterable[str] = ("system:masters", "system:authenticated"),
    dry_run: bool = False,
) -> Admission:
    """Run ``operator``'s matching mutators, then validators, on ``obj`` (see the module)."""
    if not isinstance(operator, OperatorDefinition):
        raise InvalidArgument(
            f"admit takes an OperatorDefinition, got {type(operator).__name__}")
    if operation is None:
        operation = "CREATE" if old is None else "UPDATE"
    if operation not in admission.OPERATIONS:
        raise InvalidArgument(f"operation {operation!r} is not one of "
                              f"{', '.join(admission.OPERATIONS)}")
    if operation == "DELETE":
        if old is None:
            old, obj = obj, None
    elif obj is None:
        raise InvalidArgument(f"a {operation} needs the object")
    subject = obj if obj is not None else old
    if not isinstance(subject, Mapping):
        raise InvalidArgument(f"admit: the object must be a dict, got {type(subject).__name__}")
    kind = _type_of(operator, subject)
    if kind is None:
        raise InvalidArgument(
            f"admit: {subject.get('apiVersion')}/{subject.get('kind')} is none of the types "
            f"operator {operator.config.name} declares")
    current = copy.deepcopy(dict(obj)) if obj is not None else None
    previous = copy.deepcopy(dict(old)) if old is not None else None
    meta = subject.get("metadata") or {}
    warnings: list[str] = []
    called: list[str] = []
    user = admission.UserInfo(username=username, groups=tuple(groups))
    for bound in operator.admission:  # mutators first, as the API server calls them
        if bound.type.key != kind.key or bound.type.api_version != kind.api_version:
            continue
        ops = bound.webhook.operations
        if "*" not in ops and operation not in ops:
            continue
        request = admission.AdmissionRequest(
            operation=operation, object=copy.deepcopy(current),
            old_object=copy.deepcopy(previous), kind=kind,
            namespace=str(meta.get("namespace") or "") if kind.namespaced else "",
            name=str(meta.get("name") or ""), user_info=user, dry_run=dry_run,
            uid=f"admit-{len(called) + 1}")
        body = admission.review_request(request)
        answer = in_process(bound.webhook)(body)["response"]
        called.append(bound.webhook_name)
        warnings.extend(answer.get("warnings") or ())
        if not answer.get("allowed"):
            result = answer.get("status") or {}
            causes = (result.get("details") or {}).get("causes") or ()
            return Admission(
                allowed=False, object=current,
                message=f'admission webhook "{bound.webhook_name}" denied the request: '
                        f"{result.get('message', '')}",
                code=max(int(result.get("code") or 400), 400),
                denied_by=bound.webhook_name,
                fields=tuple(str(c.get("field", "")) for c in causes),
                warnings=tuple(warnings), called=tuple(called))
        if answer.get("patch") and current is not None:
            ops_doc = orjson.loads(base64.b64decode(answer["patch"]))
            current = patching.apply_json_patch(current, ops_doc)
    return Admission(allowed=True, object=current, warnings=tuple(warnings),
                     called=tuple(called))


def assert_never_denied_children(operator: OperatorDefinition,
                                 children: Iterable[Mapping[str, Any]]) -> None:
    """Raise ``ChildDenied`` if the operator's own validators deny one of ``children``."""
    for child in children:
        if _type_of(operator, child) is None:
            continue
        if not any(b.type.matches(child) for b in operator.admission):
            continue
        result = admit(operator, child)
        if not result.allowed:
            meta = child.get("metadata") or {}
            raise ChildDenied(
                f"operator {operator.config.name} plans {child.get('kind')} "
                f"{meta.get('namespace') or ''}/{meta.get('name')}, which its own webhooks "
                f"deny: {result.message}")


__all__ = ["Admission", "ChildDenied", "admit", "assert_never_denied_children"]
