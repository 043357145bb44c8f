"""One API server as a test sees it, whichever it is: the fake's HTTP face or a real
kube-apiserver. Tests that must hold on both take a ``KubeEndpoint`` (the pytest
plugin's ``kube_apiserver`` fixture) and talk to it only through real clients and its
kubeconfig, never through the fake's internals.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal

import attrs

from kubeplan.core.errors import KubeplanError

ServerKind = Literal["fake", "real"]


class EndpointError(KubeplanError, RuntimeError):
    """A set-up request a test made through :meth:`KubeEndpoint.request` failed."""

    def __init__(self, message: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@attrs.frozen
class KubeEndpoint:
    """Where a server is and how to reach it as its administrator."""

    kind: ServerKind
    url: str
    kubeconfig: Path
    token: str | None = None
    ca_file: Path | None = None
    #: a namespace made for this test (removed after it on the real server)
    namespace: str = "default"

    @property
    def is_real(self) -> bool:
        return self.kind == "real"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(self, method: str, path: str, body: Any = None, *,
                content_type: str = "application/json",
                expect: tuple[int, ...] = (200, 201),
                timeout: float = 30.0) -> dict[str, Any]:
        """A blocking admin request (set-up and checks): the parsed JSON answer.

        A status outside ``expect`` raises :class:`EndpointError` with the answer.
        """
        data = (body if isinstance(body, bytes) else json.dumps(body).encode()
                ) if body is not None else None
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout,
                                        context=self.ssl_context()) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        try:
            parsed: dict[str, Any] = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {"raw": payload[:500].decode(errors="replace")}
        if status not in expect:
            raise EndpointError(f"{self.kind} server: {method} {path} -> {status}: "
                                f"{payload[:400]!r}", status, parsed)
        return parsed

    def with_namespace(self, namespace: str) -> KubeEndpoint:
        return attrs.evolve(self, namespace=namespace)
