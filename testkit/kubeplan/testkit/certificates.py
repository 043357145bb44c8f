"""Throwaway certificates for tests: one CA, and the serving and client certificates it
signs. The real control plane (``realkube.pki``), the fake API server's ``--tls`` and
webhook servers under test all take theirs from here.

Keys are P-256 ECDSA, certificates SHA-256 and valid for a week from five minutes ago
(so a clock a little behind does not reject them). Nothing is reused across calls.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from collections.abc import Iterable
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.private_files import write_private

__all__ = ["CertificateAuthority", "Issued", "pem_of_key", "server_ssl_context"]

#: the names a server on this machine is reached by
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _name(common: str, org: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if org:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(parts)


def pem_of_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@attrs.frozen
class Issued:
    """A certificate and its key, as PEM."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, cert_path: Path, key_path: Path) -> None:
        """The certificate at ``cert_path``; the key at ``key_path``, mode 0600."""
        cert_path.write_bytes(self.cert_pem)
        write_private(key_path, self.key_pem.decode("ascii"))


@attrs.frozen
class CertificateAuthority:
    """A self-signed CA that issues leaf certificates."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    not_before: datetime.datetime
    not_after: datetime.datetime

    @classmethod
    def new(cls, name: str = "kubeplan-test-ca", days: int = 7) -> CertificateAuthority:
        now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
        until = now + datetime.timedelta(days=days)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name)
        usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(until)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(usage, critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key, now, until)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return pem_of_key(self.key)

    def _leaf(self, subject: x509.Name, usage: x509.ObjectIdentifier,
              sans: list[x509.GeneralName]) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(self.not_before).not_valid_after(self.not_after)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), pem_of_key(key))

    def issue_server(self, hosts: Iterable[str] = LOCAL_HOSTS,
                     common_name: str = "kubeplan-test-server") -> Issued:
        """A serving certificate for ``hosts`` (IP addresses and DNS names)."""
        names = [_san(h) for h in hosts]
        if not names:
            raise InvalidArgument("a serving certificate needs at least one host name")
        return self._leaf(_name(common_name), ExtendedKeyUsageOID.SERVER_AUTH, names)

    def issue_client(self, common_name: str, organization: str | None = None) -> Issued:
        """A client certificate: Kubernetes reads the user from ``common_name`` and a
        group from ``organization``."""
        return self._leaf(_name(common_name, organization), ExtendedKeyUsageOID.CLIENT_AUTH, [])


def server_ssl_context(issued: Issued) -> ssl.SSLContext:
    """A TLS server context serving ``issued`` (HTTP/1.1 offered by ALPN)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    # the ssl module loads keys from files only: a private folder, gone once loaded
    with tempfile.TemporaryDirectory(prefix="kubeplan-tls-") as folder:
        cert, key = Path(folder) / "tls.crt", Path(folder) / "tls.key"
        issued.write(cert, key)
        context.load_cert_chain(cert, key)
    return context
