"""RBAC authorisation over the Roles, ClusterRoles and bindings stored in the fake.

The real authorizer's rules (``plugin/pkg/auth/authorizer/rbac`` and the rule resolver in
``pkg/registry/rbac/validation``), for every caller outside ``system:masters`` (the
admin is never checked, so the admin path reads no RBAC object):

* a request becomes ``Attributes`` the way ``RequestInfoResolver`` reads it: a resource
  request below ``/api/v1`` or ``/apis/GROUP/VERSION`` with its verb (``get``, ``list``,
  ``watch`` for ``?watch`` other than ``0``/``false`` or the ``/watch/`` prefix,
  ``create``, ``update``,
  ``patch``, ``delete``, ``deletecollection``), namespace (a namespace's own name for
  ``namespaces/NAME``), resource, subresource and name (also from a
  ``metadata.name=`` field selector of a list or watch); anything else is a
  non-resource request of its path, the verb the method's lower case;
* the rules that apply are those of every ClusterRoleBinding naming the caller, then
  those of the RoleBindings in the request's namespace; a subject names the caller as
  its ``User`` name, one of its ``Group`` s, or its ``ServiceAccount`` (a RoleBinding's
  subject without a namespace means the binding's);
* a rule allows a resource request when its verbs (or ``*``), apiGroups (or ``*``),
  resources (``*``, ``res``, ``res/sub`` or ``*/sub``) and resourceNames (none: any)
  all match, and a non-resource request when its verbs and nonResourceURLs (``*``, the
  path, or a prefix ending in ``*``) do;
* a binding whose role is missing adds ``RBAC: role.rbac.authorization.k8s.io "x" not
  found`` to the refusal's reason; an allowed request's reason names the binding;
* an aggregated ClusterRole (``aggregationRule``) has the rules of the ClusterRoles its
  selectors match, as the aggregation controller would have written them (read live,
  not written back);
* the bootstrap grants every authenticated caller has upstream are built in (not
  stored): ``system:discovery`` and ``system:public-info-viewer`` (``get`` of
  ``/api``, ``/apis``, ``/openapi``, ``/version``, ``/healthz``, ``/livez``, ``/readyz``
  and below), ``system:basic-user`` (``create`` of access and self reviews) and, for
  ServiceAccounts, ``system:service-account-issuer-discovery``.

``rules_of`` lists the rules that apply to a caller in a namespace (a
SelfSubjectRulesReview's answer); the admin's are upstream's ``cluster-admin`` ones, then
the bootstrap grants.

A refusal is the real server's 403: ``<resource> "<name>" is forbidden: User "<user>"
cannot <verb> resource "<res>" in API group "<g>" in the namespace "<ns>"`` (``at the
cluster scope`` without a namespace; ``forbidden: User "<user>" cannot <verb> path
"<p>"`` for a non-resource URL), with the reason appended after ``: ``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from kubeplan.core.selectors import SelectorError, label_selector_from_dict
from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.authn import AUTHENTICATED, UserInfo
from kubeplan.testkit.apiserver.store import Store

__all__ = [
    "Attributes",
    "Decision",
    "authorize",
    "forbidden",
    "request_attributes",
    "rule_allows",
    "rules_of",
]

_GROUP = "rbac.authorization.k8s.io"
_ROLES, _ROLE_BINDINGS = f"roles.{_GROUP}", f"rolebindings.{_GROUP}"
_CLUSTER_ROLES, _CLUSTER_ROLE_BINDINGS = f"clusterroles.{_GROUP}", f"clusterrolebindings.{_GROUP}"
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}
#: namespace subresources RequestInfoResolver does not read as a resource of their own
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

Rule = Mapping[str, Any]


@attrs.frozen
class Attributes:
    """What the authorizer decides on (``authorizer.Attributes``)."""

    user: UserInfo
    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


@attrs.frozen
class Decision:
    """Allowed or not, and why (the reason the real authorizer gives)."""

    allowed: bool
    reason: str = ""


def _exact_name(field_selector: str) -> str:
    """The name a ``metadata.name=NAME`` (or ``==``) field selector requires, when it could
    be a path segment (not ``.``, ``..``, nor holding ``/`` or ``%``); else ""."""
    for term in field_selector.split(","):
        key, found, value = term.partition("==") if "==" in term else term.partition("=")
        if found and key.strip() == "metadata.name":
            value = value.strip()
            usable = value not in (".", "..") and "/" not in value and "%" not in value
            return value if usable else ""
    return ""


def request_attributes(user: UserInfo, method: str, path: str,
                       query: Mapping[str, str]) -> Attributes:
    """A request's attributes, read from its method, path and query as the real
    server's ``RequestInfoResolver`` reads them."""
    verb = method.lower()
    parts = [p for p in path.strip("/").split("/") if p]
    non_resource = Attributes(user, verb, False, path=path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    if parts[0] == "apis":
        if len(parts) < 4:
            return non_resource
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        group, version, rest = "", parts[1], parts[2:]
    special = ""
    if rest and rest[0] in ("watch", "proxy"):
        special, rest = rest[0], rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 and special != "proxy" else ""
    verb = special or _METHOD_VERBS.get(method.upper(), "")
    if verb == "get" and not name:
        # the query decoder's bool: present and not "0" or "false" is true
        watch = query.get("watch")
        verb = "watch" if watch is not None and watch != "0" and watch.lower() != "false" \
            else "list"
        if query.get("fieldSelector"):
            name = _exact_name(query["fieldSelector"])
    if verb == "delete" and not name:
        verb = "deletecollection"
    return Attributes(user, verb, True, path=path, api_group=group, api_version=version,
                      namespace=namespace, resource=resource, subresource=subresource,
                      name=name)


# -- matching ---------------------------------------------------------------------------


def _strings(rule: Rule, key: str) -> Sequence[str]:
    value = rule.get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else ()


def rule_allows(rule: Rule, attributes: Attributes) -> bool:
    """Whether one PolicyRule allows the request (``RuleAllows``)."""
    verbs = _strings(rule, "verbs")
    if "*" not in verbs and attributes.verb not in verbs:
        return False
    if not attributes.resource_request:
        url = attributes.path
        return any(u == "*" or u == url or (u.endswith("*") and url.startswith(u.rstrip("*")))
                   for u in _strings(rule, "nonResourceURLs"))
    groups = _strings(rule, "apiGroups")
    if "*" not in groups and attributes.api_group not in groups:
        return False
    sub = attributes.subresource
    combined = f"{attributes.resource}/{sub}" if sub else attributes.resource
    if not any(r == "*" or r == combined or (sub and r == f"*/{sub}")
               for r in _strings(rule, "resources")):
        return False
    names = _strings(rule, "resourceNames")
    return not names or attributes.name in names


# -- the bootstrap policy every authenticated caller has -------------------------------------

# sorted, as the stored bootstrap ClusterRoles list them
_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                   "/openapi/*", "/readyz", "/version", "/version/"]
_PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
_ISSUER_URLS = ["/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                "/openid/v1/jwks", "/openid/v1/jwks/"]
#: (binding = role name, group bound, rules), as upstream's bootstrap policy has them
_BOOTSTRAP: tuple[tuple[str, str, tuple[Rule, ...]], ...] = (
    ("system:basic-user", AUTHENTICATED, (
        {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
        {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
         "resources": ["selfsubjectreviews"]})),
    ("system:discovery", AUTHENTICATED, ({"verbs": ["get"], "nonResourceURLs": _DISCOVERY_URLS},)),
    ("system:public-info-viewer", AUTHENTICATED,
     ({"verbs": ["get"], "nonResourceURLs": _PUBLIC_URLS},)),
    ("system:service-account-issuer-discovery", "system:serviceaccounts",
     ({"verbs": ["get"], "nonResourceURLs": _ISSUER_URLS},)),
)


# -- resolving the rules that apply -----------------------------------------------------------


def _subject_names(subject: Mapping[str, Any], user: UserInfo, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"system:serviceaccount:{sa_namespace}:{name}"
    return False


def _subject_text(subject: Mapping[str, Any], namespace: str) -> str:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or namespace}"'
    return f'{kind} "{name}"'


def _not_found(singular: str, name: str) -> str:
    return f'{singular}.{_GROUP} "{name}" not found'


def _cluster_role_rules(store: Store, name: str) -> Sequence[Rule] | None:
    role = store.get(_CLUSTER_ROLES, "", name)
    if role is None:
        return None
    aggregation = role.get("aggregationRule")
    if not isinstance(aggregation, dict):
        return [r for r in role.get("rules") or () if isinstance(r, dict)]
    rules: list[Rule] = []
    selectors = []
    for raw in aggregation.get("clusterRoleSelectors") or ():
        try:
            selectors.append(label_selector_from_dict(raw))
        except SelectorError:
            continue
    for other in store.objects(_CLUSTER_ROLES):
        if other is role or not isinstance(other.get("rules"), list):
            continue
        labels = other.get("metadata", {}).get("labels") or {}
        if any(s.matches(labels) for s in selectors):
            rules.extend(r for r in other["rules"] if isinstance(r, dict)
                         and r not in rules)
    return rules


def _role_rules(store: Store, role_ref: Any, namespace: str) -> tuple[Sequence[Rule], str]:
    """The rules a roleRef names, or the resolution error's text."""
    ref = role_ref if isinstance(role_ref, dict) else {}
    kind, name = ref.get("kind"), str(ref.get("name", ""))
    if kind == "Role" and namespace:
        role = store.get(_ROLES, namespace, name)
        if role is None:
            return (), _not_found("role", name)
        return [r for r in role.get("rules") or () if isinstance(r, dict)], ""
    if kind == "ClusterRole":
        rules = _cluster_role_rules(store, name)
        return ((), _not_found("clusterrole", name)) if rules is None else (rules, "")
    return (), f'unsupported role reference kind: "{kind}"'


def _applying(store: Store, user: UserInfo, namespace: str) -> Iterator[tuple[str, Rule | None,
                                                                             str]]:
    """(source, rule, error) for each rule that applies to ``user`` in ``namespace``."""
    for role, group, granted in _BOOTSTRAP:
        if group in user.groups:
            source = f'ClusterRoleBinding "{role}" of ClusterRole "{role}" to Group "{group}"'
            for rule in granted:
                yield source, rule, ""
    scopes: list[tuple[str, list[dict[str, Any]]]] = [("", store.objects(_CLUSTER_ROLE_BINDINGS))]
    if namespace:
        scopes.append((namespace, store.objects(_ROLE_BINDINGS, namespace)))
    for scope, bindings in scopes:
        for binding in bindings:
            subject = next((s for s in binding.get("subjects") or ()
                            if isinstance(s, dict) and _subject_names(s, user, scope)), None)
            if subject is None:
                continue
            rules, error = _role_rules(store, binding.get("roleRef"), scope)
            if error:
                yield "", None, error
                continue
            ref = binding.get("roleRef") or {}
            name = binding["metadata"]["name"]
            source = (f'RoleBinding "{name}/{scope}"' if scope else
                      f'ClusterRoleBinding "{name}"')
            source += f' of {ref.get("kind")} "{ref.get("name")}" to ' \
                      f'{_subject_text(subject, scope)}'
            for rule in rules:
                yield source, rule, ""


def authorize(store: Store, attributes: Attributes) -> Decision:
    """The RBAC decision on a request (``system:masters`` is allowed at once)."""
    if attributes.user.is_admin:
        return Decision(True)
    errors: list[str] = []
    for source, rule, error in _applying(store, attributes.user, attributes.namespace):
        if rule is not None and rule_allows(rule, attributes):
            return Decision(True, f"RBAC: allowed by {source}")
        if error and error not in errors:
            errors.append(error)
    if not errors:
        return Decision(False)
    joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return Decision(False, f"RBAC: {joined}")


#: the rules ``system:masters`` has (upstream's ``cluster-admin`` ClusterRole)
_CLUSTER_ADMIN: tuple[Rule, ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)
_RULE_KEYS = ("verbs", "apiGroups", "resources", "resourceNames")


def rules_of(store: Store, user: UserInfo, namespace: str) -> tuple[list[Rule], list[Rule],
                                                                     list[str]]:
    """What ``user`` may do in ``namespace`` (``RulesFor``, a SelfSubjectRulesReview's
    status): the resource rules, the non-resource rules, and the errors met resolving
    the bindings (a missing role)."""
    resource: list[Rule] = []
    non_resource: list[Rule] = []
    errors: list[str] = []
    found: list[tuple[str, Rule | None, str]] = list(_applying(store, user, namespace))
    if user.is_admin:
        found[:0] = [("", rule, "") for rule in _CLUSTER_ADMIN]
    for _, rule, error in found:
        if rule is None:
            if error not in errors:
                errors.append(error)
        elif _strings(rule, "nonResourceURLs"):
            non_resource.append({"verbs": list(_strings(rule, "verbs")),
                                 "nonResourceURLs": list(_strings(rule, "nonResourceURLs"))})
        else:
            resource.append({k: list(_strings(rule, k)) for k in _RULE_KEYS if _strings(rule, k)})
    return resource, non_resource, errors


def forbidden(attributes: Attributes, reason: str = "") -> status.StatusError:
    """The real server's 403 for a request the authorizer did not allow."""
    user = attributes.user.name
    if not attributes.resource_request:
        message = f'User "{user}" cannot {attributes.verb} path "{attributes.path}"'
    else:
        resource = attributes.resource
        if attributes.subresource:
            resource += f"/{attributes.subresource}"
        message = (f'User "{user}" cannot {attributes.verb} resource "{resource}" in API '
                   f'group "{attributes.api_group}" ')
        message += (f'in the namespace "{attributes.namespace}"' if attributes.namespace
                    else "at the cluster scope")
    if reason:
        message += f": {reason}"
    if not attributes.resource_request or not attributes.resource:
        return status.StatusError(status.status_body(403, "Forbidden", f"forbidden: {message}",
                                                     {}))
    return status.forbidden(attributes.resource, attributes.api_group, attributes.name, message)
