"""The HTTP face of the fake API server, for real clients (kubectl, kubernetes, kubernetes_asyncio).

One aiohttp catch-all handler routes by path:

* resource paths (``/api/v1/...``, ``/apis/{g}/{v}/...`` below the group-version)
  go to ``FakeApiServer.handle`` - the same entry point the in-process client uses, so
  both faces share every semantic;
* discovery (``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/{g}[/{v}]``),
  OpenAPI (``/openapi/v2``, ``/openapi/v3[/...]``) and health probes are answered here,
  from ``server.registry``.

What this layer owns, because only HTTP has it: bearer-token authentication (401; a
ServiceAccount token the fake issued is that account, authorised by RBAC -- ``authn.py``,
``rbac.py``; no token, or the static admin token, is the all-powerful admin;
``Impersonate-User``/``-Group``/``-Uid``/``-Extra-*`` headers, ``kubectl --as``, make the
request the impersonated user's when the caller may ``impersonate`` it), the request
body size limit (413, refused from ``Content-Length`` before reading the body), turning
watch streams into chunked responses with one JSON object per line, content
negotiation (``as=Table`` answers for ``kubectl get`` - ``tables.py``; protobuf bodies
of built-in kinds, which kubectl's generators send - ``protobuf.py``), and making sure no malformed
request can take the server down (every failure the API server would answer becomes a
``kind: Status``). Below it, ``wire.py`` gives the connections the real server's
timeouts and answers HTTP that does not parse the way Go's net/http does.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hmac
import logging
import re
import socket
import ssl
import threading
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs
import orjson
import yaml
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from kubeplan.core.errors import UsageError
from kubeplan.testkit.apiserver import (
    authn,
    discovery,
    openapi,
    partial,
    protobuf,
    rbac,
    status,
    tables,
    wire,
)
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.private_files import write_private

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the real kube-apiserver's limit on request bodies
DEFAULT_MAX_REQUEST_BYTES = 3 * 1024 * 1024
_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"
_HEALTH = frozenset({"/healthz", "/readyz", "/livez"})
#: paths anyone may read without a token (the real server's system:public-info-viewer)
_PUBLIC = _HEALTH | {"/version"}
_METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: the Status reason of an HTTP status code (apimachinery's StatusReason names)
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Gone",
            413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
            429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}


def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A ``kind: Status`` failure body, as every Kubernetes client expects errors."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None,
                   content_type: str = _JSON) -> web.Response:
    response = web.Response(status=status, body=orjson.dumps(body), headers=headers)
    response.content_type = content_type if ";" not in content_type else _JSON
    if ";" in content_type:  # aiohttp's content_type setter drops parameters
        response.headers["Content-Type"] = content_type
    return response


def _status_response(code: int, reason: str, message: str, **details: Any) -> web.Response:
    return _json_response(code, status_body(code, reason, message, **details))


def _not_found() -> web.Response:
    """The API's 404 (a path under /api, or under /apis of a served group)."""
    body = status_body(404, "NotFound", "the server could not find the requested resource")
    return _json_response(404, {**body, "details": {}, "code": 404})


def _answers_any_method(parts: list[str]) -> bool:
    """Paths the real server answers as a GET whatever the method: ``/``, ``/apis``,
    ``/apis/GROUP``, the OpenAPI documents and the health probes (handlers registered
    for every method)."""
    return (parts == [""] or parts[0] == "openapi" or "/" + parts[0] in _HEALTH
            or (parts[0] == "apis" and len(parts) <= 2))


def _page_not_found() -> web.Response:
    """Go's mux answer for a path no handler owns: a non-API path, or one under /apis of
    a group nobody serves (plain text, as the real server says it)."""
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain",
                        charset="utf-8")


def _media_type(content_type: str | None) -> str | None:
    """``application/json; charset=utf-8`` -> ``application/json`` (None stays None)."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


#: the verb label of ``apiserver_request_total`` for a request (the real server's names)
_APPLY = "application/apply-patch+yaml"


def request_labels(method: str, parts: list[str], query: Any,
                   content_type: str | None) -> tuple[str, str, str, str, str]:
    """(verb, group, version, resource, subresource) of a resource path, as the real
    server's ``apiserver_request_total`` labels them (``parts``: path split on ``/``)."""
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    resource = rest[0] if rest else ""
    named = len(rest) > 1
    subresource = rest[2] if len(rest) > 2 else ""
    if method == "GET":
        verb = "GET" if named else (
            "WATCH" if str(query.get("watch", "")).lower() in ("true", "1") else "LIST")
    elif method == "PATCH":
        verb = "APPLY" if content_type == _APPLY else "PATCH"
    elif method == "DELETE":
        verb = "DELETE" if named else "DELETECOLLECTION"
    else:
        verb = method
    return verb, group, version, resource, subresource


async def _answer(server: Any, request: ApiRequest) -> Any:
    """The server's answer to a resource request.

    ``handle_shared`` (no copy of the answer: it is only serialised here) when
    ``handle`` is the stock one: a wrapper or a spy on ``handle`` must still see every
    request. Shielded: a client hanging up must not interrupt a write half-way through
    (an answer given at once cannot be interrupted anyway).
    """
    if (
        isinstance(server, FakeApiServer)
        and type(server).handle is FakeApiServer.handle
        and "handle" not in vars(server)
    ):
        answer = server.handle_shared(request)
        if isinstance(answer, ApiResponse):
            return answer
        return await asyncio.shield(answer)
    return await asyncio.shield(server.handle(request))


#: a ``%`` that does not start an escape: Go's URL parser refuses it
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _query(request: web.BaseRequest) -> dict[str, str]:
    """The query parameters as the real server reads them (Go's ``url.ParseQuery``; the
    first value of a repeated one wins, like ``url.Values.Get``)."""
    target = request.raw_path  # as sent, query included
    query: dict[str, str] = {}
    if "%" not in target and ";" not in target:  # yarl reads these as Go does
        for key, value in request.query.items():
            query.setdefault(key, value)
        return query
    # Go drops a pair with a malformed escape or a ";" where yarl keeps it as text
    for pair in target.partition("?")[2].split("&"):
        if not pair or ";" in pair or _BAD_ESCAPE.search(pair):
            continue
        key, _, value = pair.partition("=")
        query.setdefault(urllib.parse.unquote_plus(key, errors="replace"),
                         urllib.parse.unquote_plus(value, errors="replace"))
    return query


def _is_public(path: str) -> bool:
    """Health probes (and their sub-checks) and /version need no token."""
    return path in _PUBLIC or path.startswith(("/healthz/", "/readyz/", "/livez/"))


def _is_resource_path(parts: list[str]) -> bool:
    """Whether a path (split on ``/``, without the empty head) is below a group-version."""
    if parts[0] == "api":
        return len(parts) > 2
    return parts[0] == "apis" and len(parts) > 3


@attrs.define
class _DocCache:
    """Discovery/OpenAPI documents, rebuilt when the registry's generation moves.

    Rendering them walks every resource and serialises a lot of JSON; clients ask for
    them on every command, so they are cached per generation (falls back to rebuilding
    on each call when the registry has no ``generation``).
    """

    registry: Any
    _generation: Any = None
    _docs: dict[Any, bytes | None] = attrs.field(factory=dict)
    _model: discovery.DiscoveryModel | None = None

    def _fresh(self) -> None:
        generation = getattr(self.registry, "generation", None)
        if generation is None or generation != self._generation or self._model is None:
            self._model = discovery.DiscoveryModel.from_resources(self.registry.resources())
            self._docs = {}
            self._generation = generation

    @property
    def model(self) -> discovery.DiscoveryModel:
        self._fresh()
        assert self._model is not None
        return self._model

    def get(self, key: Any, build: Callable[[discovery.DiscoveryModel], Any],
            raw: bool = False) -> bytes | None:
        """The serialised document under ``key``; ``raw`` when ``build`` returns bytes."""
        self._fresh()
        if key not in self._docs:
            assert self._model is not None
            doc = build(self._model)
            self._docs[key] = None if doc is None else doc if raw else orjson.dumps(doc)
        return self._docs[key]


class FakeApiHttpServer:
    """Serves a ``FakeApiServer`` over HTTP on ``host:port`` (port 0 picks a free one).

    ``async with FakeApiHttpServer(server) as http: ...`` or ``await start()`` /
    ``await stop()``. The store's own lifecycle (``server.start()``/``stop()``) stays
    with the caller. ``token``: when set, every request but health probes and
    ``/version`` must carry ``Authorization: Bearer <token>`` (the admin) or a token the
    fake issued through TokenRequest (that ServiceAccount, authorised by RBAC); without
    it, a request with no token or another one is the admin.

    Timeouts, in seconds (``wire.py``; 0 turns one off), read as each connection or
    body starts, so they may be changed while serving: ``read_header_timeout`` for a
    request's headers, ``idle_timeout`` between requests on a keep-alive connection
    (the real server's 32 and 90), and ``body_timeout`` for reading a request's body
    (60, the real server's request timeout; it has no body timeout of its own).
    """

    def __init__(self, server: Any, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, *,
                 read_header_timeout: float = wire.READ_HEADER_TIMEOUT,
                 idle_timeout: float = wire.IDLE_TIMEOUT,
                 body_timeout: float = wire.BODY_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.token = token
        #: serve HTTPS with this context (``certificates.server_ssl_context``)
        self.ssl_context = ssl_context
        self.read_header_timeout = read_header_timeout
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout
        self.max_request_bytes = int(
            getattr(server, "max_request_bytes", None) or DEFAULT_MAX_REQUEST_BYTES
        )
        self._runner: web.ServerRunner | None = None
        self._url: str | None = None
        self._docs = _DocCache(server.registry)
        self._streams: set[asyncio.Task[Any]] = set()
        #: ``apiserver_request_total``: (verb, group, version, resource, subresource, code)
        #: -> count of resource requests, served at ``/metrics`` as the real server does
        #: (benchmarks read it to count a client's requests without trusting the client)
        self.request_counts: collections.Counter[tuple[str, str, str, str, str, str]] = (
            collections.Counter())

    @property
    def url(self) -> str:
        if self._url is None:
            raise UsageError("the HTTP server is not started: call `await start()` first")
        return self._url

    async def start(self) -> str:
        """Bind, start serving and return the base URL (``http://127.0.0.1:PORT``)."""
        if self._runner is not None:
            return self.url
        # aiohttp's low-level server: every path goes to _dispatch, so an Application's
        # router and middleware chain would only cost time. Access logs cost a good part
        # of a GET and tests do not read them. handler_cancellation: a client
        # that drops an idle watch cancels its handler, which closes the store's watch
        # right away instead of at the next event (store calls are shielded). Request
        # bodies are taken as sent, not decompressed: the real server ignores a
        # request's Content-Encoding.
        max_bytes = self.max_request_bytes
        loop = asyncio.get_running_loop()

        def request_factory(message: Any, payload: Any, protocol: Any, writer: Any,
                            task: Any) -> web.BaseRequest:
            return web.BaseRequest(message, payload, protocol, writer, task, loop,
                                   client_max_size=max_bytes)

        handler = wire.HttpServer(self._dispatch, timeouts=self, request_factory=request_factory,
                                  handler_cancellation=True, access_log=None,
                                  auto_decompress=False)
        runner = web.ServerRunner(handler, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        site = web.SockSite(runner, sock, ssl_context=self.ssl_context)
        await site.start()
        self._runner = runner
        port = sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        self._url = f"{scheme}://{host}:{port}"
        self.port = port
        return self._url

    async def stop(self) -> None:
        """Stop serving; open watch streams are ended, not left hanging."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for task in list(self._streams):
            task.cancel()
        await runner.cleanup()

    async def __aenter__(self) -> FakeApiHttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- request handling ---------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        connection = request.protocol
        if isinstance(connection, wire.Connection):
            connection.request_started()
        try:
            target = request.raw_path  # as sent, query included
            if "%" in target and _BAD_ESCAPE.search(target.partition("?")[0]):
                return wire.BAD_REQUEST.response()  # net/http cannot parse the target
            identity = self._identify(request)
            if isinstance(identity, web.Response):
                return identity
            if "Impersonate-User" in request.headers or "Impersonate-Group" in request.headers:
                identity = self._impersonate(request, identity)
                if isinstance(identity, web.Response):
                    return identity
            return await self._route(request, identity)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except web.HTTPException as exc:  # aiohttp's own refusals are Status objects too
            body = status.status_body(exc.status, _REASONS.get(exc.status), exc.reason)
            return _json_response(exc.status, body)
        except Exception as exc:  # a bug below must cost one request, never the server
            log.exception("fake apiserver: %s %s failed", request.method, request.path)
            return _status_response(500, "InternalError",
                                    f"Internal error occurred: {type(exc).__name__}: {exc}")
        finally:
            if isinstance(connection, wire.Connection):
                connection.request_finished()

    def _identify(self, request: web.BaseRequest) -> authn.UserInfo | web.Response | None:
        """The caller: None for the admin, a ServiceAccount for a token the server
        issued, or the 401 for a token (or no token) that authenticates nobody."""
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        presented = presented.strip() if scheme.lower() == "bearer" else ""
        if presented and self.token is not None and hmac.compare_digest(
                presented.encode(), self.token.encode()):
            return None
        authenticate = getattr(self.server, "authenticate", None)
        if presented and authenticate is not None:
            try:
                user: authn.UserInfo | None = authenticate(presented)
            except authn.InvalidToken:
                return _status_response(401, "Unauthorized", "Unauthorized")
            if user is not None:
                return user
        if self.token is None or _is_public(request.path):
            return None
        return _status_response(401, "Unauthorized", "Unauthorized")

    def _impersonate(self, request: web.BaseRequest, caller: authn.UserInfo | None
                     ) -> authn.UserInfo | web.Response:
        """The user ``Impersonate-*`` headers ask for (``kubectl --as``), when RBAC lets
        the caller ``impersonate`` each part of it; else the real server's 400 or 403."""
        headers = request.headers
        groups = tuple(headers.getall("Impersonate-Group", ()))
        name = headers.get("Impersonate-User", "")
        if not name:
            asked = " ".join(f"{{Group  {g}  }}" for g in groups)
            return _status_response(400, "BadRequest",
                                    f"requested [{asked}] without impersonating a user")
        uid = headers.get("Impersonate-Uid", "")
        extra: dict[str, tuple[str, ...]] = {}
        for header, value in headers.items():
            if header.lower().startswith("impersonate-extra-"):
                key = urllib.parse.unquote(header[len("impersonate-extra-"):]).lower()
                extra[key] = (*extra.get(key, ()), value)
        user = authn.impersonated_user(name, groups, uid, extra)
        authorize = getattr(self.server, "authorize", None)
        if caller is None or caller.is_admin or authorize is None:
            return user
        checks: list[rbac.Attributes] = []
        if name.startswith("system:serviceaccount:") and name.count(":") == 3:
            _, _, namespace, account = name.split(":")
            checks.append(rbac.Attributes(caller, "impersonate", True, namespace=namespace,
                                          resource="serviceaccounts", name=account))
        else:
            checks.append(rbac.Attributes(caller, "impersonate", True, resource="users",
                                          name=name))
        checks += [rbac.Attributes(caller, "impersonate", True, resource="groups", name=g)
                   for g in groups]
        if uid:
            checks.append(rbac.Attributes(caller, "impersonate", True,
                                          api_group="authentication.k8s.io",
                                          resource="uids", name=uid))
        checks += [rbac.Attributes(caller, "impersonate", True,
                                   api_group="authentication.k8s.io", resource="userextras",
                                   subresource=key, name=value)
                   for key, values in extra.items() for value in values]
        if all(authorize(attributes).allowed for attributes in checks):
            return user
        # refused: a server with constrained impersonation (1.35 on) names the request
        # and its `impersonate-on:<mode>:<verb>` verb, not the legacy check
        wanted = rbac.request_attributes(caller, request.method, request.path,
                                         dict(request.query))
        mode = "serviceaccount" if checks[0].resource == "serviceaccounts" else "user-info"
        refusal = rbac.forbidden(
            attrs.evolve(wanted, verb=f"impersonate-on:{mode}:{wanted.verb}"))
        return _json_response(refusal.code, refusal.body)

    def _refused_path(self, request: web.BaseRequest, path: str,
                      identity: authn.UserInfo | None) -> web.Response | None:
        """The 403 for a caller RBAC does not let ``get`` a non-resource path."""
        authorize = getattr(self.server, "authorize", None)
        if identity is None or identity.is_admin or authorize is None:
            return None
        attributes = rbac.request_attributes(identity, request.method, path, {})
        decision = authorize(attributes)
        if decision.allowed:
            return None
        refusal = rbac.forbidden(attributes, decision.reason)
        return _json_response(refusal.code, refusal.body)

    async def _route(self, request: web.BaseRequest,
                     identity: authn.UserInfo | None = None) -> web.StreamResponse:
        path = request.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        parts = path.strip("/").split("/") if path != "/" else [""]
        if parts[0] == "apis" and len(parts) >= 2 and parts[1] not in self._docs.model.groups:
            # authorised first, as everywhere: a caller RBAC refuses learns nothing more
            return self._refused_path(request, request.path, identity) or _page_not_found()
        if parts[0] in ("api", "apis") and _is_resource_path(parts):
            response = await self._resource(request, path, identity)
            labels = request_labels(request.method, parts, request.query,
                                    _media_type(request.headers.get("Content-Type")))
            self.request_counts[(*labels, str(response.status))] += 1
            return response
        refused = self._refused_path(request, request.path, identity)
        if refused is not None:
            return refused
        if request.method not in ("GET", "HEAD") and not _answers_any_method(parts):
            if path == "/version" or (parts[0] == "api" and len(parts) <= 2) or (
                    parts[0] == "apis" and len(parts) == 3):
                body = status_body(405, "MethodNotAllowed", "the server does not allow this "
                                   "method on the requested resource")
                return _json_response(405, {**body, "details": {}, "code": 405})
            return _not_found() if parts[0] in ("api", "apis") else _page_not_found()
        if path in _HEALTH or (len(parts) > 1 and "/" + parts[0] in _HEALTH):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            return _json_response(200, discovery.version_info())
        if path == "/metrics":
            return web.Response(body=self.render_metrics().encode(),
                                headers={"Content-Type": _METRICS_TYPE})
        if parts[0] in ("api", "apis"):
            return self._discovery(request, parts)
        if parts[0] == "openapi":
            return self._openapi(request, parts)
        if path == "/":
            return self._raw(self._docs.get("root", discovery.root_paths))
        return _page_not_found()

    def render_metrics(self) -> str:
        """``apiserver_request_total`` in the Prometheus text format (the real server's
        name and labels; only resource requests are counted)."""
        lines = [
            "# HELP apiserver_request_total Counter of apiserver requests broken out for "
            "each verb, group, version, resource, subresource and HTTP response code.",
            "# TYPE apiserver_request_total counter",
        ]
        for (verb, group, version, resource, sub, code), count in sorted(
                self.request_counts.items()):
            lines.append(
                f'apiserver_request_total{{code="{code}",group="{group}",'
                f'resource="{resource}",subresource="{sub}",verb="{verb}",'
                f'version="{version}"}} {count}')
        return "\n".join(lines) + "\n"

    def _raw(self, data: bytes | None, content_type: str = _JSON) -> web.Response:
        if data is None:
            return _not_found()
        response = web.Response(body=data)
        response.headers["Content-Type"] = content_type
        return response

    def _discovery(self, request: web.BaseRequest, parts: list[str]) -> web.Response:
        if len(parts) == 1:  # /api or /apis
            core = parts[0] == "api"
            aggregated = discovery.wanted_aggregated_version(request.headers.get("Accept"))
            if aggregated:
                data = self._docs.get(
                    ("aggregated", aggregated, core),
                    lambda m: discovery.aggregated_discovery(m, aggregated, core=core),
                )
                return self._raw(data, discovery.aggregated_content_type(aggregated))
            if core:
                address = f"{request.host}" if request.host else f"{self.host}:{self.port}"
                return _json_response(200, discovery.api_versions(self._docs.model, address))
            return self._raw(self._docs.get("groups", discovery.api_group_list))
        if parts[0] == "api":  # /api/{version}
            version = parts[1]
            return self._raw(self._docs.get(("gv", "", version),
                                            lambda m: _resource_list(m, "", version)))
        group = parts[1]
        if len(parts) == 2:  # /apis/{group}
            return self._raw(self._docs.get(("group", group), lambda m: _group(m, group)))
        version = parts[2]
        return self._raw(self._docs.get(("gv", group, version),
                                        lambda m: _resource_list(m, group, version)))

    def _openapi(self, request: web.BaseRequest, parts: list[str]) -> web.Response:
        if parts[1:] == ["v3"]:  # the real server says text/plain of its index
            return self._raw(self._docs.get("v3", openapi.v3_index), _TEXT)
        if len(parts) >= 3 and parts[1] == "v3":
            key = "/".join(parts[2:])
            data = self._docs.get(("v3", key), lambda m: openapi.document_v3(m, key))
            if data is None:  # the real server's 404 of an unknown document has no body
                return web.Response(status=404)
            return self._raw(data)
        if parts[1:] == ["v2"]:
            accepted = [_media_type(r) for r in request.headers.get("Accept", "").split(",")]
            for media in accepted:
                if media == openapi.OPENAPI_V2_PROTOBUF.lower():
                    data = self._docs.get("v2pb", openapi.v2_protobuf, raw=True)
                    return self._raw(data, openapi.OPENAPI_V2_PROTOBUF_RESPONSE)
                if media in (None, _JSON, "*/*", "application/*"):
                    return self._raw(self._docs.get("v2", openapi.v2_document))
            return _status_response(
                406, "NotAcceptable",
                "only the following media types are accepted: application/json, "
                + openapi.OPENAPI_V2_PROTOBUF,
            )
        return _page_not_found()

    async def _read_body(self, request: web.BaseRequest) -> bytes | web.Response:
        """The request body; a 413 when it is over the limit (checked before reading),
        a 504 when it does not arrive within ``body_timeout``, and the real server's
        answer when its encoding is broken."""
        content = request.content
        if content.is_eof():  # all of it arrived with the headers (most requests)
            body = content.read_nowait(-1)
            return body if len(body) <= self.max_request_bytes else self._too_large()
        length = request.content_length
        if length is not None and length > self.max_request_bytes:
            return self._too_large()
        connection = request.protocol
        if isinstance(connection, wire.Connection):
            connection.reading = content
        try:
            async with asyncio.timeout(self.body_timeout or None):
                return await self._read_body_chunks(content)
        except TimeoutError:
            return await self._body_timed_out(request)
        except (HttpProcessingError, web.RequestPayloadError) as exc:
            return wire.refusal_for(exc).response()
        finally:
            if isinstance(connection, wire.Connection):
                connection.reading = None

    def _too_large(self) -> web.Response:
        refusal = _status_response(
            413, "RequestEntityTooLarge",
            f"Request entity too large: limit is {self.max_request_bytes}")
        refusal.force_close()  # do not drain megabytes we are going to refuse
        return refusal

    async def _read_body_chunks(self, content: Any) -> bytes | web.Response:
        limit = self.max_request_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await content.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                return self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    async def _body_timed_out(self, request: web.BaseRequest) -> web.Response:
        """504, written at once, and the connection closed: a stalled body is not drained."""
        log.info("fake apiserver: %s %s: the body did not arrive within %ss",
                 request.method, request.path, self.body_timeout)
        answer = _status_response(
            504, "Timeout", "Timeout: request did not complete within the allotted timeout")
        answer.force_close()
        with contextlib.suppress(ConnectionError):
            await answer.prepare(request)
            await answer.write_eof()
        request.protocol.force_close()
        return answer

    async def _resource(self, request: web.BaseRequest, path: str,
                        identity: authn.UserInfo | None = None) -> web.StreamResponse:
        body = b""
        if request.can_read_body:
            read = await self._read_body(request)
            if isinstance(read, web.Response):
                return read
            body = read
        query = _query(request)
        content_type = _media_type(request.headers.get("Content-Type"))
        if content_type == protobuf.CONTENT_TYPE and body:
            try:
                body = orjson.dumps(protobuf.decode(body))
            except protobuf.MalformedProtobuf as exc:
                return _status_response(400, "BadRequest", str(exc))
            except protobuf.UnsupportedProtobuf as exc:
                return _status_response(415, "UnsupportedMediaType", str(exc))
            content_type = _JSON
        api_request = ApiRequest(
            method=request.method,
            path=path,
            query=query,
            body=body,
            content_type=content_type,
            # the real server's default field manager is the User-Agent's prefix
            user_agent=request.headers.get("User-Agent"),
            user=identity.name if identity is not None else "admin",
            identity=identity,
        )
        response = await _answer(self.server, api_request)
        headers = {k: str(v) for k, v in (response.headers or {}).items()}
        printer = self._table_printer(request, path, query)
        if printer is None and request.method == "GET" and response.status == 200 and \
                tables.refuses_accept(request.headers.get("Accept")):
            aclose = getattr(response.stream, "aclose", None)
            if aclose is not None:
                await aclose()
            return _status_response(406, "NotAcceptable", tables.NOT_ACCEPTABLE)
        ask = partial.wanted_partial(request.headers.get("Accept")) \
            if printer is None and request.method == "GET" and response.status == 200 \
            else None
        if response.stream is not None:
            events = response.stream
            if printer is not None and response.status == 200:
                events = printer.events(events)
                headers["Content-Type"] = printer.content_type
            elif ask is not None:
                events = partial.partial_events(events, ask)
            return await self._stream(request, response.status, events, headers)
        if response.body is None:
            return web.Response(status=response.status, headers=headers)
        if printer is not None and response.status == 200:
            table = printer.table(response.body)
            if table is not None:
                return _json_response(200, table, headers, printer.content_type)
        if ask is not None:
            metadata_only = partial.to_partial(response.body, ask)
            if metadata_only is not None:
                return _json_response(200, metadata_only, headers)
        return _json_response(response.status, response.body, headers)

    def _table_printer(self, request: web.BaseRequest, path: str,
                       query: dict[str, str]) -> _TablePrinter | None:
        """A Table printer when a GET asks for ``as=Table`` of a resource we can print."""
        if request.method != "GET":
            return None
        version = tables.wanted_table_version(request.headers.get("Accept"))
        if version is None:
            return None
        try:
            info = _table_resource(self.server.registry, path)
            if info is None:
                return None
            crd = None
            if getattr(info, "custom", False) and getattr(info, "crd_name", ""):
                crd = self.server.get_object("apiextensions.k8s.io/v1",
                                             "customresourcedefinitions", info.crd_name)
            columns = tables.columns_for(info, crd)
        except Exception:  # printing is a nicety: answer the plain object instead
            log.debug("no table printer for %s", path, exc_info=True)
            return None
        clock = getattr(self.server, "clock", None)
        return _TablePrinter(columns, version, query.get("includeObject", "Metadata"),
                             clock.now if clock is not None else _utcnow,
                             (info.group, info.kind))

    async def _stream(self, request: web.BaseRequest, status: int,
                      events: AsyncIterator[dict[str, Any]],
                      headers: dict[str, str]) -> web.StreamResponse:
        """A watch: chunked, one JSON event per line, each flushed as it happens."""
        headers.setdefault("Content-Type", _JSON)
        stream = web.StreamResponse(status=status, headers=headers)
        stream.enable_chunked_encoding()
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
        try:
            await stream.prepare(request)
            held: list[bytes] = []
            async for event in events:
                # a WatchEvent's line is serialised once for all watchers of a change
                line = getattr(event, "line", None)
                if line is None:
                    line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
                if getattr(event, "more", False):
                    held.append(line)  # the next event follows at once: one write for both
                    continue
                if held:
                    held.append(line)
                    line = b"".join(held)
                    held.clear()
                await stream.write(line)
            if held:
                await stream.write(b"".join(held))
            with contextlib.suppress(ConnectionError):
                await stream.write_eof()
        except ConnectionError:
            pass  # the client went away mid-write: end the watch quietly
        finally:  # also on cancellation (client hung up while idle, or stop())
            if task is not None:
                self._streams.discard(task)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        return stream


def _utcnow() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class _TablePrinter:
    """Turns list/get answers and watch events into ``meta.k8s.io`` Tables."""

    columns: list[tables.Column]
    version: str
    include_object: str
    now: Callable[[], datetime]
    kind: tuple[str, str] = ("", "")
    #: the real server names the Table only in the body: its media type is plain JSON
    content_type: str = _JSON

    def table(self, body: dict[str, Any], with_columns: bool = True) -> dict[str, Any] | None:
        if body.get("kind") == "Status":
            return None
        try:
            return tables.to_table(body, self.columns, version=self.version, now=self.now(),
                                   include_object=self.include_object,
                                   with_columns=with_columns, kind=self.kind)
        except Exception:  # an object we cannot print: the plain answer still works
            log.debug("cannot print %s as a table", body.get("kind"), exc_info=True)
            return None

    async def events(
        self, events: AsyncIterator[dict[str, Any]]
    ) -> AsyncIterator[dict[str, Any]]:
        with_columns = True  # the real server defines the columns in the first Table only
        try:
            async for event in events:
                obj = event.get("object")
                if event.get("type") in ("ADDED", "MODIFIED", "DELETED") and isinstance(obj, dict):
                    table = self.table(obj, with_columns)
                    if table is not None:
                        event = {**event, "object": table}
                        with_columns = False
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


def _table_resource(registry: Any, path: str) -> Any:
    """The ResourceInfo a list/get path reads (None for subresources and odd paths)."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespaced = registry.lookup(group, version, rest[2])
        if namespaced is not None and namespaced.namespaced:
            rest = rest[2:]
    if not rest or len(rest) > 2:
        return None
    return registry.lookup(group, version, rest[0])


def _resource_list(
    model: discovery.DiscoveryModel, group: str, version: str
) -> dict[str, Any] | None:
    gv = model.group_version(group, version)
    return None if gv is None else discovery.api_resource_list(gv)


def _group(model: discovery.DiscoveryModel, group: str) -> dict[str, Any] | None:
    versions = model.groups.get(group)
    return None if not group or not versions else discovery.api_group(group, versions)


# ---------------------------------------------------------------------------
# kubeconfig


def kubeconfig(
    url: str, token: str | None = None, context: str = "kubeplan-fake",
    ca_pem: bytes | None = None,
) -> dict[str, Any]:
    """A kubeconfig whose current context points at ``url`` (trusting ``ca_pem``, the CA
    of an HTTPS server, when given)."""
    user: dict[str, Any] = {"token": token} if token else {}
    cluster: dict[str, Any] = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context,
                      "context": {"cluster": context, "user": context, "namespace": "default"}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, url: str, token: str | None = None,
                     context: str = "kubeplan-fake", ca_pem: bytes | None = None) -> Path:
    """Write a kubeconfig for ``url`` at ``path``, mode 0600 (it may hold a token) even
    where a more open file stood: the text goes to a private file renamed over it."""
    text = yaml.safe_dump(kubeconfig(url, token, context, ca_pem), sort_keys=False)
    return write_private(path, text)


# ---------------------------------------------------------------------------
# running it in a thread, for synchronous code (the official `kubernetes` client)


class ThreadedFakeApiServer:
    """The fake API server on its own event loop in a background thread.

    For synchronous tests and clients::

        with ThreadedFakeApiServer(kubeconfig_path=tmp_path / "kubeconfig") as fake:
            kubernetes.config.load_kube_config(str(fake.kubeconfig_path))
            ...

    The thread owns the store's lifecycle: ``server`` (a new ``FakeApiServer`` unless
    one is given, which must not be started yet) is entered with ``async with`` on the
    thread's loop. The store is not thread-safe: touch it from the test thread only
    through ``call(fn)``, which runs ``fn(server)`` (sync or async) on that loop.
    """

    def __init__(self, server: Any = None, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, kubeconfig_path: str | Path | None = None,
                 start_timeout: float = 10.0) -> None:
        self._server = server
        self._host, self._port, self.token = host, port, token
        self._kubeconfig_path = Path(kubeconfig_path) if kubeconfig_path else None
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: FakeApiHttpServer | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def server(self) -> Any:
        if self._server is None:
            raise UsageError("ThreadedFakeApiServer is not started")
        return self._server

    @property
    def url(self) -> str:
        if self._http is None:
            raise UsageError("ThreadedFakeApiServer is not started")
        return self._http.url

    @property
    def kubeconfig_path(self) -> Path:
        if self._kubeconfig_path is None:
            raise UsageError("ThreadedFakeApiServer is not started")
        return self._kubeconfig_path

    def start(self) -> ThreadedFakeApiServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="fake-apiserver", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise TimeoutError(f"the fake API server did not start in {self._start_timeout}s")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise UsageError("the fake API server failed to start") from self._error
        if self._kubeconfig_path is None:
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="kubeplan-fake-"))
            self._kubeconfig_path = folder / "kubeconfig"
        write_kubeconfig(self._kubeconfig_path, self.url, self.token)
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=10)

    def call(self, fn: Callable[[Any], T | Awaitable[T]], timeout: float = 10.0) -> T:
        """Run ``fn(server)`` on the server's loop and return its (awaited) result."""
        if self._loop is None:
            raise UsageError("ThreadedFakeApiServer is not started")

        async def run() -> T:
            result = fn(self.server)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                return await result  # type: ignore[no-any-return]
            return result  # type: ignore[return-value]

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def __enter__(self) -> ThreadedFakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start() if it happened before ready
            self._error = self._error or exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            if self._server is None:
                from kubeplan.testkit.apiserver import FakeApiServer

                self._server = FakeApiServer()
            async with self._server, FakeApiHttpServer(
                self._server, self._host, self._port, self.token
            ) as http:
                self._http = http
                self._ready.set()
                await self._stopping.wait()
        except BaseException as exc:
            self._error = exc
            raise
