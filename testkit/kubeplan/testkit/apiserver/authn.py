"""Who sends a request: the fake's identities and the ServiceAccount tokens it can verify.

Two kinds of caller exist. The admin (no token, or the HTTP face's own static token) is
a member of ``system:masters`` and may do everything, as before. A ServiceAccount
presents a token the fake issued through TokenRequest (``serviceaccounts/NAME/token``):
a JWT whose signature is an HMAC under the server's own key. Such a token authenticates
``system:serviceaccount:NS:NAME`` with the groups ``system:serviceaccounts``,
``system:serviceaccounts:NS`` and ``system:authenticated`` -- the real token
authenticator's answer -- while it has not expired and the account it names still
exists with the uid it was issued for; otherwise the request is a 401.

The key is random per server (derived from ``seed`` when the server has one), so a
token of one fake means nothing to another. Pure functions over the token text, the
clock's ``now`` and a lookup of the account; the server wires them in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
import orjson

from kubeplan.core.errors import KubeplanError

__all__ = [
    "ADMIN",
    "AUTHENTICATED",
    "KEY_ID",
    "MASTERS",
    "InvalidToken",
    "UserInfo",
    "authenticate_token",
    "new_key",
    "service_account_user",
    "sign_claims",
]

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
#: the ``kid`` of every token the fake signs: how it knows a token is its own
KEY_ID = "kubeplan-fake-apiserver"
_SA_PREFIX = "system:serviceaccount:"


@attrs.frozen
class UserInfo:
    """An authenticated caller: its name, groups, uid and extra (as ``user.Info``)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def is_admin(self) -> bool:
        """A member of ``system:masters``: every request is allowed, no RBAC is read."""
        return MASTERS in self.groups

    def to_json(self) -> dict[str, Any]:
        """``status.userInfo`` of a SelfSubjectReview."""
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


#: the fake's all-powerful caller (what every request was before identities existed)
ADMIN = UserInfo("admin", (MASTERS, AUTHENTICATED))


def service_account_user(namespace: str, name: str, uid: str = "",
                         credential_id: str = "") -> UserInfo:
    """The user a ServiceAccount's token authenticates, as the real authenticator names it."""
    extra = {"authentication.kubernetes.io/credential-id": (f"JTI={credential_id}",)} \
        if credential_id else {}
    return UserInfo(
        f"{_SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
        uid,
        extra,
    )


def impersonated_user(name: str, groups: tuple[str, ...], uid: str = "",
                      extra: Mapping[str, tuple[str, ...]] | None = None) -> UserInfo:
    """The user an ``Impersonate-User`` request acts as (the impersonation filter's
    rules): a ServiceAccount's name gives its groups when none are asked for, and every
    impersonated user but ``system:anonymous`` is in ``system:authenticated``."""
    found = list(groups)
    if name.startswith(_SA_PREFIX) and not groups:
        namespace = name[len(_SA_PREFIX):].partition(":")[0]
        found = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    if name != "system:anonymous" and AUTHENTICATED not in found:
        found.append(AUTHENTICATED)
    return UserInfo(name, tuple(found), uid, dict(extra or {}))


class InvalidToken(KubeplanError):
    """A token the fake signed that does not authenticate (any more): a 401."""


def new_key(seed: int | None = None) -> bytes:
    """A server's signing key: random, or fixed by the server's ``seed``."""
    if seed is None:
        return secrets.token_bytes(32)
    return hashlib.sha256(f"kubeplan-fake-apiserver/{seed}".encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_claims(claims: Mapping[str, Any], key: bytes) -> str:
    """``header.payload.signature``: the claims as a JWT signed with the server's key."""
    signing_input = (
        _b64(orjson.dumps({"alg": "RS256", "kid": KEY_ID})) + "." + _b64(orjson.dumps(claims))
    )
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _own_claims(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims of a token the fake signed; None for any other token (not a JWT, or
    another issuer's); ``InvalidToken`` for one of ours with a bad signature."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = orjson.loads(_unb64(parts[0]))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(header, dict) or header.get("kid") != KEY_ID:
        return None
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        signature = _unb64(parts[2])
        claims = orjson.loads(_unb64(parts[1]))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidToken("the token does not decode") from exc
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("the token's signature is not this server's")
    if not isinstance(claims, dict):
        raise InvalidToken("the token's payload is not an object")
    return claims


def authenticate_token(
    token: str,
    key: bytes,
    now: datetime,
    account_uid: Callable[[str, str], str | None],
) -> UserInfo | None:
    """The ServiceAccount a token of this server authenticates.

    None when the token is not one the fake signed (the caller decides what a foreign
    token means); ``InvalidToken`` when it is ours but expired, not yet valid, or its
    account is gone or was made again (``account_uid(namespace, name)`` gives the
    stored account's uid, None when there is none).
    """
    claims = _own_claims(token, key)
    if claims is None:
        return None
    moment = int(now.timestamp())
    if not isinstance(claims.get("exp"), int) or moment >= claims["exp"]:
        raise InvalidToken("the token has expired")
    if isinstance(claims.get("nbf"), int) and moment < claims["nbf"]:
        raise InvalidToken("the token is not valid yet")
    bound = claims.get("kubernetes.io")
    account = bound.get("serviceaccount") if isinstance(bound, dict) else None
    if not isinstance(bound, dict) or not isinstance(account, dict):
        raise InvalidToken("the token names no ServiceAccount")
    namespace, name = str(bound.get("namespace", "")), str(account.get("name", ""))
    uid = account_uid(namespace, name)
    if uid is None or uid != account.get("uid"):
        raise InvalidToken(f"the ServiceAccount {namespace}/{name} is gone")
    user = service_account_user(namespace, name, uid, str(claims.get("jti", "")))
    # a token bound to a pod (and the pod's node) says so in the user's extra
    extra = dict(user.extra)
    for kind in ("node", "pod"):
        bound_to = bound.get(kind)
        if isinstance(bound_to, dict):
            extra[f"authentication.kubernetes.io/{kind}-name"] = (str(bound_to.get("name")),)
            extra[f"authentication.kubernetes.io/{kind}-uid"] = (str(bound_to.get("uid")),)
    return attrs.evolve(user, extra=extra)
