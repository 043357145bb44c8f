"""A TLS Secret's pair, checked as Go's tls.X509KeyPair checks it (the Secret strategy's
warnings)."""

from __future__ import annotations

import base64
import datetime

from apiserver_harness import call, new_server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeplan.testkit.apiserver.tlspair import pair_warning

SECRETS = "/api/v1/namespaces/default/secrets"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_pair_is_checked_in_go_s_order_and_words() -> None:
    key, other = _key(), _key()
    cert, key_pem = _cert_pem(key), _key_pem(key)
    assert pair_warning(cert, key_pem) is None
    assert pair_warning(b"not pem", key_pem) == (
        "tls: failed to find any PEM data in certificate input")
    assert pair_warning(key_pem, cert) == (
        "tls: failed to find certificate PEM data in certificate input, but did find a "
        "private key; PEM inputs may have been switched")
    assert pair_warning(cert, b"") == "tls: failed to find any PEM data in key input"
    assert pair_warning(cert, cert) == (
        "tls: found a certificate rather than a key in the PEM for the private key")
    assert pair_warning(cert, _key_pem(other)) == "tls: private key does not match public key"
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert pair_warning(broken, key_pem) == "x509: malformed certificate"


async def test_a_tls_secret_whose_pair_does_not_load_is_stored_with_a_warning() -> None:
    server = new_server()
    key = _key()

    def secret(name: str, crt: bytes) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": base64.b64encode(crt).decode(),
                         "tls.key": base64.b64encode(_key_pem(key)).decode()}}

    bad = await call(server, "POST", SECRETS, secret("bad", b"nope"))
    assert bad.status == 201
    assert bad.headers["Warning"] == (
        '299 - "tls: failed to find any PEM data in certificate input"')
    good = await call(server, "POST", SECRETS, secret("good", _cert_pem(key)))
    assert good.status == 201 and "Warning" not in good.headers
    # an update is warned of too
    again = await call(server, "PUT", f"{SECRETS}/good", {**good.body, "data": bad.body["data"]})
    assert again.status == 200, again.body
    assert "failed to find any PEM data" in again.headers["Warning"]
