"""The certificates and keys a throwaway control plane needs, made fresh per start.

One CA signs the API server's serving certificate (for 127.0.0.1 and localhost) and an
admin client certificate (``system:masters``); a separate RSA key pair signs service
account tokens. Nothing is reused across starts, so nothing needs rotating.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kubeplan.testkit.certificates import CertificateAuthority, Issued
from kubeplan.testkit.private_files import write_private


@attrs.frozen
class Pki:
    """Paths of the PEM files written by :func:`make_pki`."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_pub: Path


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.new()
    serving = ca.issue_server(("127.0.0.1", "localhost", "kubernetes.default.svc",
                               "kubernetes.default"), common_name="kube-apiserver")
    admin = ca.issue_client("kubeplan-admin", "system:masters")
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pki = Pki(*(folder / name for name in (
        "ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key",
        "sa.key", "sa.pub")))
    Issued(ca.cert_pem, ca.key_pem).write(pki.ca_cert, pki.ca_key)
    serving.write(pki.serving_cert, pki.serving_key)
    admin.write(pki.admin_cert, pki.admin_key)
    write_private(pki.service_account_key, sa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode("ascii"))
    pki.service_account_pub.write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return pki
