"""The poller of each source an operator declares, wired to its ``Fetch``.

``pollers_for`` makes one ``Poller`` per ``config.sources`` entry: an ``HttpFetcher``
over aiohttp for an ``HttpSource`` (its token from a file or a Secret read through the
operator's client), an ``ObjectStoreFetcher`` for an ``ObjectStoreSource`` (boto3,
imported then). ``fetchers`` replaces the fetch of named sources (the testkit's scripted
sources, in virtual time).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping

from kubeplan.adapters.clock import Clock
from kubeplan.adapters.protocol import ApiClient
from kubeplan.adapters.sources.http import (
    AiohttpGet,
    HttpFetcher,
    TokenReader,
    secret_token,
    token_from_file,
)
from kubeplan.adapters.sources.poller import Fetch, OnChange, Poller
from kubeplan.core.config import OperatorConfig
from kubeplan.core.errors import WrongArgumentType
from kubeplan.core.sources import HttpSource, ObjectStoreSource, Source

__all__ = ["fetch_for", "pollers_for"]


def fetch_for(source: Source, client: ApiClient, namespace: str,
              ) -> tuple[Fetch, Callable[[], Awaitable[None]] | None]:
    """The production fetch of ``source`` and what closes it."""
    if isinstance(source, HttpSource):
        token: TokenReader | None = None
        if source.token_file is not None:
            token = token_from_file(source.token_file)
        elif source.token_secret is not None:
            token = secret_token(client, source.token_secret, namespace)
        get = AiohttpGet()
        return HttpFetcher(source, get, token), get.close
    if isinstance(source, ObjectStoreSource):
        from kubeplan.adapters.sources.s3 import ObjectStoreFetcher

        fetcher = ObjectStoreFetcher(source)
        return fetcher, fetcher.close
    raise WrongArgumentType(f"not a source: {source!r}")  # pragma: no cover - config checks


def pollers_for(config: OperatorConfig, client: ApiClient, *, clock: Clock,
                rng: Callable[[], random.Random], on_change: OnChange, namespace: str,
                fetchers: Mapping[str, Fetch] | None = None,
                observe: Callable[[str, str], None] | None = None) -> dict[str, Poller]:
    """One poller per declared source, in declaration order."""
    out: dict[str, Poller] = {}
    for name, declaration in config.sources.items():
        close: Callable[[], Awaitable[None]] | None = None
        if fetchers is not None and name in fetchers:
            fetch = fetchers[name]
        else:
            fetch, close = fetch_for(declaration.source, client, namespace)
        out[name] = Poller(name, declaration.source, fetch, clock=clock, rng=rng(),
                           on_change=on_change, close=close, observe=observe)
    return out
