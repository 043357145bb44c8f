"""The warning a ``kubernetes.io/tls`` Secret gets when its pair does not load.

The Secret strategy's ``WarningsOnCreate``/``WarningsOnUpdate`` call Go's
``tls.X509KeyPair(data["tls.crt"], data["tls.key"])`` and warn with its error. This
follows that function's order and words (crypto/tls/tls.go): the PEM blocks of the
certificate input, then of the key input, then the certificate and key parsed
(``cryptography``) and their public keys compared. PEM blocks are found as
well-formed ones (``-----BEGIN T-----`` ... ``-----END T-----`` around base64), which is
what Go's ``pem.Decode`` finds in every input a client writes; a certificate or key
that is PEM but does not parse is warned of with Go's last resort wording for keys
and ``x509: malformed certificate`` for certificates.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = ["pair_warning", "secret_warnings"]

_BLOCK = re.compile(
    rb"(?:^|\n)-----BEGIN ([^\n]*?)-----[ \t\r]*\n(.*?)\n?-----END \1-----", re.DOTALL)
_HEADER = re.compile(rb"^[^\n:]*:[^\n]*\n", re.MULTILINE)


def _blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(type, DER bytes) of each well-formed PEM block, in order."""
    found: list[tuple[str, bytes]] = []
    for match in _BLOCK.finditer(data):
        body = _HEADER.sub(b"", match.group(2))
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        found.append((match.group(1).decode("utf-8", "replace"), der))
    return found


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def pair_warning(cert_pem: bytes, key_pem: bytes) -> str | None:
    """``tls.X509KeyPair``'s error for this pair, or None when it loads."""
    certs: list[bytes] = []
    skipped: list[str] = []
    for kind, der in _blocks(cert_pem):
        if kind == "CERTIFICATE":
            certs.append(der)
        else:
            skipped.append(kind)
    if not certs:
        if not skipped:
            return "tls: failed to find any PEM data in certificate input"
        if len(skipped) == 1 and skipped[0].endswith("PRIVATE KEY"):
            return ("tls: failed to find certificate PEM data in certificate input, but did "
                    "find a private key; PEM inputs may have been switched")
        return ('tls: failed to find "CERTIFICATE" PEM block in certificate input after '
                f"skipping PEM blocks of the following types: {_go_list(skipped)}")
    skipped = []
    key_der: bytes | None = None
    for kind, der in _blocks(key_pem):
        if kind == "PRIVATE KEY" or kind.endswith(" PRIVATE KEY"):
            key_der = der
            break
        skipped.append(kind)
    if key_der is None:
        if not skipped:
            return "tls: failed to find any PEM data in key input"
        if skipped == ["CERTIFICATE"]:
            return "tls: found a certificate rather than a key in the PEM for the private key"
        return ('tls: failed to find PEM block with type ending in "PRIVATE KEY" in key '
                f"input after skipping PEM blocks of the following types: {_go_list(skipped)}")
    try:
        public = x509.load_der_x509_certificate(certs[0]).public_key()
    except ValueError:
        return "x509: malformed certificate"
    try:
        private = serialization.load_der_private_key(key_der, password=None)
    except (ValueError, TypeError):
        return "tls: failed to parse private key"
    for public_type, private_type in (
        (rsa.RSAPublicKey, rsa.RSAPrivateKey),
        (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey),
        (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey),
    ):
        if isinstance(public, public_type):
            if not isinstance(private, private_type):
                return "tls: private key type does not match public key type"
            mine = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            theirs = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            return None if mine == theirs else "tls: private key does not match public key"
    return "tls: unknown public key algorithm"


def secret_warnings(secret: dict[str, object]) -> list[str]:
    """The Secret strategy's warnings: a TLS Secret's pair that does not load."""
    if secret.get("type") != "kubernetes.io/tls":
        return []
    data = secret.get("data")
    data = data if isinstance(data, dict) else {}

    def value(key: str) -> bytes:
        raw = data.get(key)
        try:
            return base64.b64decode(raw) if isinstance(raw, str) else b""
        except (binascii.Error, ValueError):
            return b""

    warning = pair_warning(value("tls.crt"), value("tls.key"))
    return [] if warning is None else [warning]
