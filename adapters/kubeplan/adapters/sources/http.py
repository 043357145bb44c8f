"""Reading an ``HttpSource``: conditional GETs of a JSON list of items.

``HttpFetcher`` is the ``Fetch`` of an HTTP source. Each call sends ``If-None-Match`` with
the ETag of the last good answer and ``If-Modified-Since`` with its ``Last-Modified``: a
304 means unchanged (None), a 200 is parsed into items (``kubeplan.core.sources``), any
other status, a body that is not JSON or not a list of items is an error naming the URL.
A bearer token comes from ``token`` (a file re-read at each poll, or a Secret).

The request itself goes through an ``HttpGet``: ``AiohttpGet`` in production, the
testkit's scripted source in scenarios (so the same conditional logic runs in virtual
time).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import aiohttp
import attrs
import orjson

from kubeplan.adapters.protocol import ApiClient
from kubeplan.core.errors import InvalidArgument, KubeplanError
from kubeplan.core.k8s import core_v1
from kubeplan.core.sources import HttpSource, Item, SecretKeyRef, items_from_json

__all__ = ["AiohttpGet", "HttpAnswer", "HttpFetcher", "HttpGet", "SourceReadError",
           "secret_token", "token_from_file"]

TokenReader = Callable[[], Awaitable[str | None]]


class SourceReadError(KubeplanError):
    """A source answered, but not with items (an error status, a bad body, no token)."""


@attrs.frozen
class HttpAnswer:
    """What an ``HttpGet`` returns: the status, the headers we read, the body."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""


class HttpGet(Protocol):
    async def __call__(self, url: str, headers: Mapping[str, str],
                       timeout: float) -> HttpAnswer: ...


class AiohttpGet:
    """``HttpGet`` over one aiohttp session (made on first use, kept alive)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        #: requests sent (the bench reads it)
        self.requests = 0

    async def __call__(self, url: str, headers: Mapping[str, str],
                       timeout: float) -> HttpAnswer:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self.requests += 1
        async with self._session.get(
            url, headers=dict(headers), timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=True,
        ) as response:
            body = await response.read()
            kept = {name: response.headers[name] for name in ("ETag", "Last-Modified")
                    if name in response.headers}
            return HttpAnswer(response.status, kept, body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def token_from_file(path: str) -> TokenReader:
    """A token read from ``path`` at each call (a rotated token is picked up)."""

    async def read() -> str | None:
        try:
            with open(path, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as exc:
            raise SourceReadError(f"cannot read the token file {path}: {exc}") from exc
        if not token:
            raise SourceReadError(f"the token file {path} is empty")
        return token

    return read


def secret_token(client: ApiClient, ref: SecretKeyRef, default_namespace: str) -> TokenReader:
    """A token read from a Secret's key at each call."""
    namespace = ref.namespace or default_namespace

    async def read() -> str | None:
        where = f"Secret {namespace}/{ref.name} key {ref.key!r}"
        try:
            secret = await client.get(core_v1.Secret, ref.name, namespace)
        except Exception as exc:
            raise SourceReadError(f"cannot read the token from {where}: {exc}") from exc
        encoded = (secret.get("data") or {}).get(ref.key)
        if not isinstance(encoded, str):
            raise SourceReadError(f"{where} is missing")
        try:
            return base64.b64decode(encoded, validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise SourceReadError(f"{where} is not base64 of UTF-8 text") from exc

    return read


class HttpFetcher:
    """The ``Fetch`` of one ``HttpSource`` (see the module docstring)."""

    def __init__(self, source: HttpSource, get: HttpGet,
                 token: TokenReader | None = None) -> None:
        self.source = source
        self.get = get
        self.token = token
        self.etag: str | None = None
        self.last_modified: str | None = None
        #: answers by status (the bench and the tests read them)
        self.answers: dict[int, int] = {}

    async def __call__(self) -> Mapping[str, Item] | None:
        source = self.source
        headers = {"Accept": "application/json"}
        if self.etag is not None:
            headers["If-None-Match"] = self.etag
        if self.last_modified is not None:
            headers["If-Modified-Since"] = self.last_modified
        if self.token is not None:
            token = await self.token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
        answer = await self.get(source.url, headers, source.timeout)
        self.answers[answer.status] = self.answers.get(answer.status, 0) + 1
        if answer.status == 304:
            return None
        if answer.status != 200:
            text = answer.body[:200].decode("utf-8", "replace").strip()
            raise SourceReadError(f"HTTP {answer.status}" + (f": {text}" if text else ""))
        try:
            body = orjson.loads(answer.body)
        except orjson.JSONDecodeError as exc:
            raise SourceReadError(f"the body is not JSON: {exc}") from exc
        try:
            items = items_from_json(body, id_field=source.id_field,
                                    items_field=source.items_field, where="the body")
        except InvalidArgument as exc:
            raise SourceReadError(str(exc)) from exc
        # kept only from a good answer: a bad one is asked for again in full
        self.etag = answer.headers.get("ETag")
        self.last_modified = answer.headers.get("Last-Modified")
        return items
