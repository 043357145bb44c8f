"""Reviews: resources answered from the request and never stored.

``SelfSubjectAccessReview`` (authorization.k8s.io/v1, what ``kubectl auth can-i``
sends), ``SelfSubjectRulesReview`` (``kubectl auth can-i --list``) and
``SelfSubjectReview`` (authentication.k8s.io/v1, ``kubectl auth whoami``) take only a
create, answered 201 with the review's status filled in.

Both answer for the caller that sent them: the admin (``system:masters``, allowed
everything, no reason given, as the real server answers a member of that group) or a
ServiceAccount, whose access review is decided by the same RBAC rules as its requests
(``rbac.py``) with the real authorizer's reason (``RBAC: allowed by ...``). A self
review reports the caller's name, uid, groups and extra. A rules review lists the rules
of every binding naming the caller in ``spec.namespace`` (400 without one), the
admin's ``*`` first; as the real answer, its ``spec`` comes back empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from kubeplan.testkit.apiserver import rbac, status
from kubeplan.testkit.apiserver.authn import UserInfo
from kubeplan.testkit.apiserver.registry import ResourceInfo
from kubeplan.testkit.apiserver.writes import WriteOptions, Writer, WriteResult

__all__ = ["ADMIN_GROUPS", "REVIEWS", "review", "review_attributes"]

ADMIN_GROUPS = ("system:masters", "system:authenticated")  # authn.ADMIN's
REVIEWS = frozenset(
    {
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    }
)


def _check_type(body: Any, info: ResourceInfo) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise status.bad_request(f"the body of a {info.kind} must be a JSON object")
    kind = body.get("kind") or info.kind
    api_version = body.get("apiVersion") or info.api_version
    if kind != info.kind or api_version != info.api_version:
        raise status.bad_request(
            f"the body names {api_version}, Kind={kind}; {info.plural} take "
            f"{info.api_version}, Kind={info.kind}"
        )
    return body


def _go_struct(value: Any, fields: tuple[str, ...]) -> str:
    """How the real server prints an attributes struct in a field error."""
    source = value if isinstance(value, dict) else {}
    return orjson.dumps({f[0].upper() + f[1:]: source.get(f, "") for f in fields}).decode()


Authorize = Callable[[rbac.Attributes], rbac.Decision]


def review_attributes(user: UserInfo, resource: Any, non_resource: Any) -> rbac.Attributes:
    """A review's attributes as the authorizer reads them (``ResourceAttributesFrom``)."""
    if non_resource is not None:
        return rbac.Attributes(user, str(non_resource.get("verb", "")), False,
                               path=str(non_resource.get("path", "")))
    return rbac.Attributes(
        user, str(resource.get("verb", "")), True,
        api_group=str(resource.get("group", "")), api_version=str(resource.get("version", "")),
        namespace=str(resource.get("namespace", "")),
        resource=str(resource.get("resource", "")),
        subresource=str(resource.get("subresource", "")), name=str(resource.get("name", "")))


def _access_review(
    writer: Writer, info: ResourceInfo, body: dict[str, Any], opts: WriteOptions,
    user: UserInfo, authorize: Authorize,
) -> dict[str, Any]:
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if resource is None and non_resource is None:
        cause = status.cause(
            "FieldValueInvalid",
            "spec.resourceAttributes",
            "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes "
            "must be specified",
        )
        raise status.invalid("", info.group, "", [cause])
    if resource is not None and non_resource is not None:
        shown = _go_struct(non_resource, ("path", "verb"))
        cause = status.cause(
            "FieldValueInvalid",
            "spec.nonResourceAttributes",
            f"Invalid value: {shown}: cannot be specified in combination with resourceAttributes",
        )
        raise status.invalid("", info.group, "", [cause])
    for name, value in (("resourceAttributes", resource), ("nonResourceAttributes", non_resource)):
        if value is not None and not isinstance(value, dict):
            raise status.bad_request(f"spec.{name} of a SelfSubjectAccessReview must be an object")
    answer: dict[str, Any] = {
        "kind": info.kind,
        "apiVersion": info.api_version,
        "metadata": {},
        "spec": {
            k: v for k, v in spec.items() if k in ("resourceAttributes", "nonResourceAttributes")
        },
    }
    # recorded as an ordinary write records its fields (the real answer carries them)
    recorded = writer._managed(None, answer, info, opts, None)
    decision = authorize(review_attributes(user, resource, non_resource))
    recorded["status"] = {"allowed": decision.allowed}
    if decision.reason:
        recorded["status"]["reason"] = decision.reason
    return recorded


def _rules_review(writer: Writer, info: ResourceInfo, body: dict[str, Any],
                  user: UserInfo) -> dict[str, Any]:
    spec = body.get("spec")
    namespace = spec.get("namespace") if isinstance(spec, dict) else None
    if not namespace:
        raise status.bad_request("no namespace on request")
    if not isinstance(namespace, str):
        raise status.bad_request("spec.namespace of a SelfSubjectRulesReview must be a string")
    resource, non_resource, errors = rbac.rules_of(writer.store, user, namespace)
    answer: dict[str, Any] = {"resourceRules": resource, "nonResourceRules": non_resource,
                              "incomplete": bool(errors)}
    if errors:
        answer["evaluationError"] = errors[0] if len(errors) == 1 else \
            "[" + ", ".join(errors) + "]"
    return {"kind": info.kind, "apiVersion": info.api_version, "metadata": {}, "spec": {},
            "status": answer}


def review(
    writer: Writer, info: ResourceInfo, body: Any, user: UserInfo, opts: WriteOptions,
    authorize: Authorize,
) -> WriteResult:
    """Answer the create of a review (201) for ``user``, or refuse a malformed one."""
    body = _check_type(body, info)
    if info.plural == "selfsubjectaccessreviews":
        return WriteResult(201, _access_review(writer, info, body, opts, user, authorize))
    if info.plural == "selfsubjectrulesreviews":
        return WriteResult(201, _rules_review(writer, info, body, user))
    return WriteResult(
        201,
        {
            "kind": info.kind,
            "apiVersion": info.api_version,
            "metadata": {"creationTimestamp": writer.now()},
            "status": {"userInfo": user.to_json()},
        },
    )
