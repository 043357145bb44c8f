"""``KubeClient``: the ``ApiClient`` protocol over HTTP, in raw JSON.

Configuration: static kubeconfigs (a server, a CA, a client certificate, a token or a
token file), plain URLs and a pod's service account are read by ``adapters.kubeconfig``,
and kubernetes_asyncio (slow to import) is then never imported at all; anything
else (exec and OIDC plugins, merged ``KUBECONFIG`` lists) comes from kubernetes_asyncio's
loader. We do not use its generated API classes:

* decoding into typed models costs many times more than ``orjson.loads`` into dicts, and the
  rest of kubeplan works on raw dicts anyway;
* its patch methods guess the content type from the body (a dict becomes a strategic
  merge patch, or a JSON patch for custom objects); every request here names its
  content type explicitly;
* its watch reconnects with a stale resourceVersion and does not relist; the watch
  cache (``adapters.cache``) owns that logic, so ``watch`` here is one plain request.

Retries: idempotent reads (get, list, the start of a watch) are retried with
exponential backoff on 429, 5xx, timeouts and connection failures, honouring
``Retry-After``. Writes are retried only when the server certainly did not act on them:
a 429 (rejected by flow control before execution) or a connection that was never
established. Any other failed write is raised: the runtime re-plans from fresh state
instead of repeating a request whose outcome it does not know.

Transport (``adapters.transport``): for static configurations without a proxy (the fake
API server, a kubeconfig with a token or client certificates, in-cluster) requests go
through ``adapters.http1``, a small keep-alive HTTP/1.1 client that costs less than half
of aiohttp's CPU per request (``bench/transport_bench.py`` measures both; figures in
docs/benchmarks.md), and aiohttp is never imported. Otherwise (a proxy,
kubernetes_asyncio's auth plugins) they go through ``adapters.aiohttp_transport``;
``transport="aiohttp"`` forces it. The proxy environment
(``HTTPS_PROXY``, ``NO_PROXY``) is read once, when the configuration names no proxy.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode

import orjson

from kubeplan.adapters.backoff import Backoff
from kubeplan.adapters.errors import (
    ApiError,
    ConnectionFailed,
    Timeout,
    TooManyRequests,
    error_from_status,
    is_retryable_read_error,
)
from kubeplan.adapters.kubeconfig import (
    NoKubeconfig,
    StaticConfig,
    TokenFile,
    load_in_cluster,
    load_static,
)
from kubeplan.adapters.protocol import PatchType, PropagationPolicy, RawObject
from kubeplan.adapters.transport import Answer, HttpTransport, TransportError
from kubeplan.core.errors import InvalidArgument, WrongArgumentType
from kubeplan.core.types import K8sType

if TYPE_CHECKING:
    from kubernetes_asyncio import client as k8s_client

JSON = "application/json"
CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",  # JSON is YAML; the server accepts it
}

#: characters left as they are in a request path (RFC 3986 pchar, minus what would split it)
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
#: whether a path is all characters ``quote`` leaves as they are (ASCII letters and digits
#: and ``_PATH_SAFE``): then it is its own encoding, as every API name is
_ENCODED_AS_IS = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=._~-]*").fullmatch

#: observer of every request: (verb, status code or 0 for a transport failure)
RequestObserver = Callable[[str, int], None]

#: the HTTP client under a KubeClient: ``auto`` takes ``http1`` wherever it fits; ``given``
#: is a transport handed to the constructor (``http=``), such as the fake's in-process face
Transport = Literal["auto", "http1", "aiohttp", "given"]

#: a request's query parameters, in order (a name, not ``list[...]``: in ``KubeClient``'s
#: body ``list`` is the method)
Query = list[tuple[str, str]]


class KubeClient:
    """Async raw-JSON access to any resource type; implements ``protocol.ApiClient``.

    Build it with ``await KubeClient.from_config()`` (kubeconfig, else in-cluster),
    ``await KubeClient.from_kubeconfig(path, context)``, ``KubeClient.in_cluster()`` or
    ``KubeClient.for_url(url)``, or wrap an existing ``kubernetes_asyncio.client.ApiClient``
    (or give a ``StaticConfig``). ``close()`` closes the connection pool.
    """

    def __init__(
        self,
        api_client: k8s_client.ApiClient | None = None,
        *,
        static: StaticConfig | None = None,
        request_timeout: float = 60.0,
        read_attempts: int = 5,
        write_attempts: int = 3,
        backoff: Backoff | None = None,
        max_retry_after: float = 60.0,
        user_agent: str = "kubeplan",
        transport: Transport = "auto",
        http: HttpTransport | None = None,
    ) -> None:
        if api_client is not None and static is None:
            host = api_client.configuration.host
            if not host:
                raise InvalidArgument("the ApiClient's configuration names no host")
        elif static is not None and api_client is None:
            host = static.server
        else:
            raise WrongArgumentType("KubeClient needs either a kubernetes_asyncio ApiClient or a "
                            "StaticConfig")
        self.api_client = api_client
        self.static = static
        self.request_timeout = request_timeout
        self.read_attempts = read_attempts
        self.write_attempts = write_attempts
        self.backoff = backoff or Backoff(base=0.2, cap=10.0)
        self.max_retry_after = max_retry_after
        self.user_agent = user_agent
        self.observers: list[RequestObserver] = []
        self._host = host.rstrip("/")
        self._closed = False
        self._token_file = (TokenFile(static.token_file)
                            if static is not None and static.token_file else None)
        self._env_proxy = _env_proxy(self._host)
        self._request_kwargs = self._transport_kwargs()  # proxy / TLS name
        if transport not in ("auto", "http1", "aiohttp"):
            raise InvalidArgument(
                f"transport must be 'auto', 'http1' or 'aiohttp', not {transport!r}")
        http1_fits = static is not None and "proxy" not in self._request_kwargs
        if transport == "http1" and not http1_fits:
            raise InvalidArgument("transport 'http1' needs a static configuration without a proxy "
                             "(kubernetes_asyncio's auth plugins and proxies go through aiohttp)")
        self._http: HttpTransport
        self._transport: Transport
        if http is not None:  # a transport of the caller's (the fake's in-process face)
            self._http = http
            self._transport = "given"
        elif transport != "aiohttp" and http1_fits:
            from kubeplan.adapters.http1 import Http1Transport

            assert static is not None
            self._http = Http1Transport(self._host, ssl_context=static.ssl_context(),
                                        server_hostname=static.tls_server_name,
                                        connect_timeout=request_timeout)
            self._transport = "http1"
        else:
            from kubeplan.adapters.aiohttp_transport import AiohttpTransport

            self._http = AiohttpTransport(
                self._host, api_client=api_client,
                ssl_context=static.ssl_context() if static is not None else None,
                connect_timeout=request_timeout,
                request_kwargs=dict(self._request_kwargs))
            self._transport = "aiohttp"

    @property
    def transport(self) -> Transport:
        """Which HTTP client carries the requests: ``http1``, ``aiohttp`` or ``given``."""
        return self._transport

    # -- construction ---------------------------------------------------------------------

    @classmethod
    async def from_kubeconfig(
        cls, path: str | os.PathLike[str] | None = None, context: str | None = None, **kw: Any
    ) -> KubeClient:
        """From a kubeconfig file (default: ``$KUBECONFIG`` or ``~/.kube/config``)."""
        static = load_static(path, context)
        if static is not None:
            return cls(static=static, **kw)
        from kubernetes_asyncio import client as k8s_client
        from kubernetes_asyncio import config as k8s_config

        configuration = k8s_client.Configuration()
        await k8s_config.load_kube_config(
            config_file=str(path) if path is not None else None,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        return cls(k8s_client.ApiClient(configuration), **kw)

    @classmethod
    def in_cluster(cls, **kw: Any) -> KubeClient:
        """From the pod's service account (token, CA and ``KUBERNETES_SERVICE_HOST``); the
        token is re-read as it rotates. Raises ``InClusterError`` outside a pod."""
        return cls(static=load_in_cluster(), **kw)

    @classmethod
    async def from_config(
        cls, kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None,
        **kw: Any,
    ) -> KubeClient:
        """Auto-detect: an explicit kubeconfig or context, else in-cluster when running in a
        pod, else the default kubeconfig."""
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return cls.in_cluster(**kw)
        if kubeconfig is None and not os.environ.get("KUBECONFIG"):
            default = Path.home() / ".kube" / "config"
            if not default.exists():
                raise NoKubeconfig(
                    "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, "
                    f"create {default} or run inside a pod with a service account"
                )
        return await cls.from_kubeconfig(kubeconfig, context, **kw)

    @classmethod
    def for_url(cls, url: str, *, token: str | None = None, verify_ssl: bool = True,
                **kw: Any) -> KubeClient:
        """Point at a server URL directly (tests, the embedded fake API server)."""
        return cls(static=StaticConfig(server=url.rstrip("/"), token=token,
                                       insecure=not verify_ssl), **kw)

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        self._closed = True
        await self._http.close()
        if self.api_client is not None:
            await self.api_client.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- reads ----------------------------------------------------------------------------

    async def get(self, type_: K8sType, name: str, namespace: str | None = None) -> RawObject:
        return await self._call("get", "GET", type_.path(namespace, name))

    async def list(
        self,
        type_: K8sType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> RawObject:
        query = _query(
            labelSelector=label_selector, fieldSelector=field_selector, limit=limit,
            resourceVersion=resource_version,
        )
        if continue_:
            query.append(("continue", continue_))
        return await self._call("list", "GET", type_.path(namespace), query=query)

    async def watch(
        self,
        type_: K8sType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> AsyncIterator[RawObject]:
        """Raw watch events, one per line of the chunked response, until the server ends
        the stream. Starting the watch is retried like a read; the stream is not resumed
        (the cache decides from which resourceVersion to resume or whether to relist)."""
        query = _query(
            watch="true", labelSelector=label_selector, fieldSelector=field_selector,
            resourceVersion=resource_version, timeoutSeconds=timeout_seconds,
            allowWatchBookmarks="true" if allow_bookmarks else None,
        )
        # no read timeout: the cache detects a stalled stream with its inactivity timeout
        response = await self._send_retrying(
            "watch", "GET", type_.path(namespace), query, None, None, None, retry=True,
            stream=True,
        )
        try:
            async for line in response.lines():
                yield orjson.loads(line)
        except ConnectionError as exc:
            raise ConnectionFailed(f"watch of {type_} interrupted: {exc}") from exc
        finally:
            response.release()

    # -- writes ---------------------------------------------------------------------------

    async def create(
        self, type_: K8sType, obj: RawObject, *, namespace: str | None = None,
        dry_run: bool = False, field_manager: str | None = None,
    ) -> RawObject:
        namespace = namespace or obj.get("metadata", {}).get("namespace")
        return await self._call(
            "create", "POST", type_.path(namespace), body=obj, write=True,
            query=_query(dryRun="All" if dry_run else None, fieldManager=field_manager),
        )

    async def replace(self, type_: K8sType, obj: RawObject, *, dry_run: bool = False) -> RawObject:
        meta = obj.get("metadata", {})
        return await self._call(
            "update", "PUT", type_.path(meta.get("namespace"), meta["name"]), body=obj,
            write=True, query=_query(dryRun="All" if dry_run else None),
        )

    async def apply(
        self,
        type_: K8sType,
        obj: RawObject,
        *,
        field_manager: str,
        force: bool = True,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> RawObject:
        meta = obj.get("metadata", {})
        path = type_.path(meta.get("namespace"), meta["name"])
        if subresource:
            path += f"/{subresource}"
        query = _query(
            fieldManager=field_manager, force="true" if force else None,
            dryRun="All" if dry_run else None,
        )
        return await self._call(
            "apply", "PATCH", path, body=obj, content_type=CONTENT_TYPES["apply"],
            query=query, write=True,
        )

    async def patch(
        self,
        type_: K8sType,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> RawObject:
        path = type_.path(namespace, name)
        if subresource:
            path += f"/{subresource}"
        query = _query(fieldManager=field_manager, dryRun="All" if dry_run else None)
        return await self._call(
            "apply" if patch_type == "apply" else "patch", "PATCH", path, body=patch,
            content_type=CONTENT_TYPES[patch_type], query=query, write=True,
        )

    async def replace_status(self, type_: K8sType, obj: RawObject) -> RawObject:
        meta = obj.get("metadata", {})
        path = type_.path(meta.get("namespace"), meta["name"]) + "/status"
        return await self._call("update", "PUT", path, body=obj, write=True)

    async def delete(
        self,
        type_: K8sType,
        name: str,
        namespace: str | None = None,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: PropagationPolicy | None = None,
        dry_run: bool = False,
    ) -> RawObject:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        preconditions = {
            k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v
        }
        if preconditions:
            options["preconditions"] = preconditions
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if dry_run:
            options["dryRun"] = ["All"]
        return await self._call(
            "delete", "DELETE", type_.path(namespace, name), body=options, write=True
        )

    # -- transport ------------------------------------------------------------------------

    async def _call(
        self,
        verb: str,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str | None = None,
        write: bool = False,
    ) -> RawObject:
        data = orjson.dumps(body) if body is not None else None
        response = await self._send_retrying(
            verb, method, path, query or [], data, content_type or JSON, self.request_timeout,
            retry=not write,
        )
        try:
            payload = await response.read()
        except (ConnectionError, TimeoutError) as exc:
            raise ConnectionFailed(f"{method} {path}: reading the answer failed: {exc}") from exc
        finally:
            response.release()
        return orjson.loads(payload) if payload else {}

    async def _send_retrying(
        self,
        verb: str,
        method: str,
        path: str,
        query: Query,
        data: bytes | None,
        content_type: str | None,
        total: float | None,
        *,
        retry: bool,
        stream: bool = False,
    ) -> Answer:
        attempts = self.read_attempts if retry else self.write_attempts
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send(verb, method, path, query, data, content_type, total,
                                        stream)
            except ApiError as exc:
                if attempt >= attempts or not self._may_retry(exc, idempotent=retry):
                    raise
                delay = self.backoff.delay(attempt)
                if exc.retry_after is not None:
                    delay = min(max(exc.retry_after, 0.0), self.max_retry_after)
                await asyncio.sleep(delay)

    @staticmethod
    def _may_retry(exc: ApiError, *, idempotent: bool) -> bool:
        if idempotent:
            return is_retryable_read_error(exc)
        # a write is repeated only if the server certainly did not act on it
        if isinstance(exc, TooManyRequests):
            return True
        return isinstance(exc, ConnectionFailed) and not exc.sent

    async def _send(
        self,
        verb: str,
        method: str,
        path: str,
        query: Query,
        data: bytes | None,
        content_type: str | None,
        total: float | None,
        stream: bool,
    ) -> Answer:
        """One request; a response with a status below 300 (an ``ApiError`` otherwise).
        ``total`` bounds the whole exchange, body included; a stream (``total=None``)
        bounds only the connection and the answer's headers."""
        headers = {"Accept": JSON, "User-Agent": self.user_agent}
        if data is not None and content_type:
            headers["Content-Type"] = content_type
        # bearer tokens (static, exec plugins, OIDC refresh) come from the configuration;
        # it only ever acts on a configured BearerToken, so without one it is skipped
        if self.api_client is not None:
            if "BearerToken" in self.api_client.configuration.api_key:
                query = list(query)  # the caller's list is sent again by a retry
                await self.api_client.update_params_for_auth(headers, query, ["BearerToken"])
        elif self._token_file is not None:
            token = self._token_file.token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
        elif self.static is not None and self.static.token:
            headers["Authorization"] = f"Bearer {self.static.token}"
        # the URL is built here, already encoded: yarl's parsing and query merging cost
        # more than the rest of a small request (paths hold API names, which are URL-safe)
        target = path if _ENCODED_AS_IS(path) else quote(path, safe=_PATH_SAFE)
        if query:
            target += "?" + _encoded_query(query)
        try:
            response = await self._http.send(method, target, headers, data, total=total,
                                             stream=stream)
        except TransportError as exc:  # ConnectError among them, with sent=False
            self._observe(verb, 0)
            raise ConnectionFailed(f"{method} {path}: {exc}", sent=exc.sent) from exc
        except TimeoutError as exc:
            self._observe(verb, 504)
            raise Timeout(504, "Timeout", f"{method} {path}: no answer in time") from exc
        self._observe(verb, response.status)
        if response.status < 300:
            return response
        try:
            payload = await response.read()
        except (ConnectionError, TimeoutError):
            payload = b""
        finally:
            response.release()
        raise _error(response.status, payload, response.header("Retry-After"))

    def _transport_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        proxy: str | None
        proxy_headers: Any
        server_name: str | None
        if self.api_client is not None:
            rest = self.api_client.rest_client
            proxy, proxy_headers, server_name = (
                rest.proxy, rest.proxy_headers, rest.server_hostname)
        else:
            assert self.static is not None
            proxy, proxy_headers, server_name = (
                self.static.proxy, None, self.static.tls_server_name)
        if proxy or self._env_proxy:
            kwargs["proxy"] = proxy or self._env_proxy
        if proxy_headers:
            kwargs["proxy_headers"] = proxy_headers
        if server_name:
            kwargs["server_hostname"] = server_name
        return kwargs

    def _observe(self, verb: str, code: int) -> None:
        for observer in self.observers:
            observer(verb, code)


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``*_PROXY`` / ``NO_PROXY``), once."""
    if not any(key.lower().endswith("_proxy") for key in os.environ):
        return None  # urllib.request, which reads them, takes a while to import
    import urllib.request

    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme.lower())
    if not proxy or urllib.request.proxy_bypass(host.rsplit(":", 1)[0] if "]" not in host
                                                else host):
        return None
    return proxy


#: ``urlencode`` of the queries sent lately (a client sends the same few again and again;
#: encoding one costs more than the rest of building a request); emptied when full
_ENCODED_QUERIES: dict[tuple[tuple[str, str], ...], str] = {}
_ENCODED_QUERIES_KEPT = 1024


def _encoded_query(query: Query) -> str:
    """``urlencode(query)``, remembered."""
    try:
        key = tuple(query)
        encoded = _ENCODED_QUERIES.get(key)
    except TypeError:  # a value that cannot key a dict: encode it every time
        return urlencode(query)
    if encoded is None:
        encoded = urlencode(query)
        if len(_ENCODED_QUERIES) >= _ENCODED_QUERIES_KEPT:
            _ENCODED_QUERIES.clear()
        _ENCODED_QUERIES[key] = encoded
    return encoded


def _query(**params: Any) -> Query:
    return [(key, str(value)) for key, value in params.items() if value is not None]


def _error(status: int, payload: bytes, retry_after_header: str | None) -> ApiError:
    try:
        body = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        body = {"message": payload.decode("utf-8", "replace")[:500]}
    if not isinstance(body, dict):
        body = {"message": str(body)[:500]}
    retry_after: float | None = None
    if retry_after_header:
        try:
            retry_after = float(retry_after_header)
        except ValueError:
            retry_after = None
    return error_from_status(status, body, retry_after)

