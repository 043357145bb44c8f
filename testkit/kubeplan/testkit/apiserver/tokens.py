"""TokenRequest: ``POST .../serviceaccounts/NAME/token`` (``kubectl create token``).

Answers an ``authentication.k8s.io/v1`` TokenRequest whose ``status.token`` is shaped
like the real server's: a JWT (``header.payload.signature``, base64url without
padding) whose payload carries the real claims -- ``aud``, ``exp``, ``iat``, ``iss``,
``jti``, ``nbf``, ``sub`` (``system:serviceaccount:NS:NAME``) and ``kubernetes.io``
(the namespace and the account's name and uid). The signature is an HMAC under the
server's own key (``authn.py``), not an RS256 one another verifier would accept: the
fake itself authenticates the token as the ServiceAccount, and RBAC decides what it
may do.

``spec.expirationSeconds`` defaults to 3600 and must be at least 600 (422 below);
``spec.audiences`` defaults to the issuer. A missing account is a 404.

A ``spec.boundObjectRef`` (``kubectl create token --bound-object-kind``) must name a
Pod, Secret or Node (core group; 400 for any other type, or without a name) that exists
(404), whose uid matches a uid the reference gives (409), and a Pod must run as the
account (400); the token's ``kubernetes.io`` claim then names it (a Pod's node too,
when it is bound to one), as the real server's TokenRequest storage does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.authn import sign_claims
from kubeplan.testkit.apiserver.clock import format_time
from kubeplan.testkit.apiserver.writes import Target, WriteOptions, Writer, WriteResult

__all__ = ["ISSUER", "request_token"]

ISSUER = "https://kubernetes.default.svc.cluster.local"
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2**32
DEFAULT_EXPIRATION = 3600

def _invalid(field: str, message: str) -> status.StatusError:
    return status.invalid(
        "TokenRequest",
        "authentication.k8s.io",
        "",
        [status.cause("FieldValueInvalid", field, message)],
    )


def _spec(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise status.bad_request("the body of a TokenRequest must be a JSON object")
    kind = body.get("kind") or "TokenRequest"
    api_version = body.get("apiVersion") or "authentication.k8s.io/v1"
    if kind != "TokenRequest" or api_version != "authentication.k8s.io/v1":
        raise status.bad_request(
            f"the body names {api_version}, Kind={kind}; serviceaccounts/token takes "
            "authentication.k8s.io/v1, Kind=TokenRequest"
        )
    spec = body.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise status.bad_request("spec of a TokenRequest must be an object")
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = DEFAULT_EXPIRATION
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise status.bad_request(
            f"spec.expirationSeconds of a TokenRequest must be an integer, not "
            f"{type(seconds).__name__}"
        )
    if seconds < MIN_EXPIRATION:
        raise _invalid(
            "spec.expirationSeconds",
            f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
        )
    if seconds > MAX_EXPIRATION:
        raise _invalid(
            "spec.expirationSeconds",
            f"Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds",
        )
    audiences = spec.get("audiences") or [ISSUER]
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise status.bad_request("spec.audiences of a TokenRequest must be a list of strings")
    return {
        "audiences": list(audiences),
        "expirationSeconds": seconds,
        "boundObjectRef": spec.get("boundObjectRef"),
    }


#: kinds a token may be bound to -> their plural (all in the core group)
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


def _bound_claims(writer: Writer, namespace: str, account: str,
                  ref: Any) -> dict[str, Any]:
    """The ``kubernetes.io`` claims of the object a token is bound to (checked first)."""
    if ref is None:
        return {}
    if not isinstance(ref, dict):
        raise status.bad_request("spec.boundObjectRef of a TokenRequest must be an object")
    kind = ref.get("kind") or ""
    api_version = ref.get("apiVersion") or ""
    group, _, version = api_version.rpartition("/")
    if group or kind not in BOUND_KINDS:
        raise status.bad_request(
            f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    name = ref.get("name") or ""
    if not name:
        raise status.bad_request("Name parameter required.")
    plural = BOUND_KINDS[kind]
    found = writer.store.get(plural, "" if kind == "Node" else namespace, name)
    if found is None:
        raise status.not_found(plural, "", name)
    uid = found["metadata"].get("uid", "")
    if ref.get("uid") and ref["uid"] != uid:
        raise status.conflict(
            kind, "", name,
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID "
            "in record. The object might have been deleted and then recreated")
    claims: dict[str, Any] = {kind.lower(): {"name": name, "uid": uid}}
    if kind == "Pod":
        spec = found.get("spec") or {}
        if (spec.get("serviceAccountName") or "default") != account:
            raise status.bad_request(
                f'cannot bind token for serviceaccount "{account}" to pod running with '
                "different serviceaccount name.")
        node_name = spec.get("nodeName")
        node = writer.store.get("nodes", "", node_name) if node_name else None
        if node is not None:
            claims["node"] = {"name": node_name, "uid": node["metadata"].get("uid", "")}
    return claims


def request_token(writer: Writer, target: Target, body: Any, opts: WriteOptions,
                  key: bytes) -> WriteResult:
    """Answer ``POST .../serviceaccounts/NAME/token`` (201; nothing is stored), the token
    signed with the server's ``key``."""
    name = target.name or ""
    spec = _spec(body)
    account = writer.store.get(target.group_resource, target.namespace, name)
    if account is None:
        raise status.not_found(target.info.plural, target.info.group, name)
    uid = account["metadata"].get("uid", "")
    bound = _bound_claims(writer, target.namespace, name, spec["boundObjectRef"])
    issued = writer.clock.now()
    expires = issued + timedelta(seconds=spec["expirationSeconds"])
    claims = {
        "aud": spec["audiences"],
        "exp": int(expires.timestamp()),
        "iat": int(issued.timestamp()),
        "iss": ISSUER,
        "jti": writer.new_uid(),
        "kubernetes.io": {
            "namespace": target.namespace,
            **bound,
            "serviceaccount": {"name": name, "uid": uid},
        },
        "nbf": int(issued.timestamp()),
        "sub": f"system:serviceaccount:{target.namespace}:{name}",
    }
    answer: dict[str, Any] = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {
            "name": name,
            "namespace": target.namespace,
            "uid": uid,
            "creationTimestamp": format_time(issued),
        },
        "spec": spec,
    }
    # managedFields name what the client sent, and expirationSeconds (defaulted before
    # they are recorded; the audiences are defaulted after)
    sent = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    fields = {k: v for k, v in spec.items() if k == "expirationSeconds" or sent.get(k)}
    recorded = writer._managed(None, {**answer, "spec": fields}, target.info, opts, "token")
    recorded["spec"] = spec
    recorded["status"] = {
        "token": sign_claims(claims, key),
        "expirationTimestamp": format_time(expires),
    }
    return WriteResult(201, recorded)
