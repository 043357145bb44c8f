"""A reader for kubeconfig files whose credentials are static.

kubernetes_asyncio's loader handles every kubeconfig (exec plugins, auth providers,
merged ``KUBECONFIG`` lists), but importing it is slow (it imports every generated API
class and model): a large part of an operator's start-up. Most
kubeconfigs an operator meets are static: a server, a CA, a client certificate or a
bearer token (inline or in a file). This module reads exactly those and answers None for
anything else, so ``KubeClient.from_kubeconfig`` falls back to kubernetes_asyncio whenever
a file needs more than this reader knows: nothing is ever half-understood.

``load_in_cluster`` reads a pod's service account the way client-go's ``InClusterConfig``
does: ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``, the mounted CA, and
the mounted token as a token file. Token files are read again at most once a minute
(``TokenFile``), since bound service-account tokens rotate.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import yaml

from kubeplan.core.errors import KubeplanError

__all__ = ["InClusterError", "StaticConfig", "TokenFile", "load_in_cluster", "load_static"]

log = logging.getLogger(__name__)

#: where Kubernetes mounts a pod's service account
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

#: keys of a ``clusters[].cluster`` entry this reader understands (others: fall back)
_CLUSTER_KEYS = frozenset({
    "server", "certificate-authority", "certificate-authority-data",
    "insecure-skip-tls-verify", "tls-server-name", "proxy-url", "extensions",
})
#: keys of a ``users[].user`` entry this reader understands (exec, auth-provider,
#: tokenFile, username/password, impersonation: fall back)
_USER_KEYS = frozenset({
    "token", "tokenFile", "client-certificate", "client-certificate-data", "client-key",
    "client-key-data", "extensions",
})


class InClusterError(KubeplanError, RuntimeError):
    """This process does not run in a pod with a service account (or it is unreadable)."""


class NoKubeconfig(KubeplanError, FileNotFoundError):
    """No configuration to reach a cluster: no kubeconfig given, none at the default path,
    and not in a pod."""


class TokenFile:
    """A bearer token kept in a file: read when first asked, then again once ``period``
    seconds passed (as client-go does), so a rotated token is picked up. A failed re-read
    keeps the last token (and logs): the file may be mid-rotation."""

    def __init__(self, path: str | os.PathLike[str], period: float = 60.0,
                 clock: Any = time.monotonic) -> None:
        self.path = Path(path)
        self.period = period
        self._clock = clock
        self._token: str | None = None
        self._read_at = 0.0

    def token(self) -> str | None:
        now = self._clock()
        if self._token is None or now - self._read_at >= self.period:
            try:
                self._token = self.path.read_text().strip() or self._token
            except OSError as exc:
                if self._token is None:
                    raise
                log.warning("cannot read the token file %s again (keeping the last "
                            "token): %s", self.path, exc)
            self._read_at = now
        return self._token


@attrs.frozen
class StaticConfig:
    """Where the API server is and how to authenticate to it, without plugins."""

    server: str
    token: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_file: str | None = None
    cert_data: bytes | None = None
    key_file: str | None = None
    key_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy: str | None = None
    #: a file holding the bearer token, read again as it rotates; wins over ``token``
    #: (client-go's ``BearerTokenFile``)
    token_file: str | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings for an ``https`` server (None for plain ``http``)."""
        if not self.server.startswith("https://"):
            return None
        context = ssl.create_default_context(
            cafile=self.ca_file,
            cadata=self.ca_data.decode() if self.ca_data else None,
        )
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file or self.cert_data:
            with _as_file(self.cert_file, self.cert_data) as cert, \
                    _as_file(self.key_file, self.key_data) as key:
                assert cert is not None  # a cert_file or cert_data, by the test above
                context.load_cert_chain(cert, keyfile=key)
        return context


@contextlib.contextmanager
def _as_file(path: str | None, data: bytes | None) -> Iterator[str | None]:
    """A path to ``data`` (a private temporary file, removed afterwards), or ``path``."""
    if data is None:
        yield path
        return
    fd, temp = tempfile.mkstemp(prefix="kubeplan-tls-")  # mode 0600: only we can read it
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        yield temp
    finally:
        os.unlink(temp)


def load_static(path: str | os.PathLike[str] | None = None,
                context: str | None = None) -> StaticConfig | None:
    """The selected context of a kubeconfig as a ``StaticConfig``, or None when the file
    needs kubernetes_asyncio's loader (plugins, token files, several files in
    ``KUBECONFIG``, or anything unexpected). Never raises for a file it cannot read:
    the full loader then reports the problem in its own words."""
    if path is None:
        env = os.environ.get("KUBECONFIG")
        if env and os.pathsep in env.strip(os.pathsep):
            return None  # a merged list: the full loader merges it
        path = env.strip(os.pathsep) if env else Path.home() / ".kube" / "config"
    try:
        doc = yaml.safe_load(Path(path).read_text())
        return _static(doc, Path(path).resolve().parent, context)
    except (OSError, yaml.YAMLError, TypeError, ValueError, KeyError, AttributeError):
        return None


def _named(items: Any, name: str) -> dict[str, Any] | None:
    for item in items or ():
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def _static(doc: Any, base: Path, context: str | None) -> StaticConfig | None:
    if not isinstance(doc, dict):
        return None
    name = context or doc.get("current-context")
    ctx = (_named(doc.get("contexts"), name) or {}).get("context") if name else None
    if not isinstance(ctx, dict) or set(ctx) - {"cluster", "user", "namespace", "extensions"}:
        return None
    cluster = (_named(doc.get("clusters"), ctx.get("cluster", "")) or {}).get("cluster")
    user = (_named(doc.get("users"), ctx["user"]) or {}).get("user") if ctx.get("user") else {}
    if not isinstance(cluster, dict) or not isinstance(user, dict):
        return None
    if set(cluster) - _CLUSTER_KEYS or set(user) - _USER_KEYS or not cluster.get("server"):
        return None

    def file(value: Any) -> str | None:  # relative paths are relative to the kubeconfig
        return str(base / value) if value else None

    def data(value: Any) -> bytes | None:
        return base64.b64decode(value) if value else None

    return StaticConfig(
        server=str(cluster["server"]).rstrip("/"),
        token=user.get("token") or None,
        ca_file=file(cluster.get("certificate-authority")),
        ca_data=data(cluster.get("certificate-authority-data")),
        cert_file=file(user.get("client-certificate")),
        cert_data=data(user.get("client-certificate-data")),
        key_file=file(user.get("client-key")),
        key_data=data(user.get("client-key-data")),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
        proxy=cluster.get("proxy-url") or None,
        token_file=file(user.get("tokenFile")),
    )


def load_in_cluster(environ: Any = None, root: str | os.PathLike[str] | None = None,
                    ) -> StaticConfig:
    """The service account of the pod this runs in (raises ``InClusterError`` if none)."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise InClusterError("unable to load the in-cluster configuration: "
                             "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
    folder = Path(root) if root is not None else SERVICE_ACCOUNT_DIR
    token, ca = folder / "token", folder / "ca.crt"
    for needed in (token, ca):
        if not needed.is_file():
            raise InClusterError(f"unable to load the in-cluster configuration: {needed} "
                                 "is missing (is a service account token mounted?)")
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return StaticConfig(server=f"https://{netloc}", ca_file=str(ca), token_file=str(token))
