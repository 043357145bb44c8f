"""The pollers of external sources: the loop (interval, jitter, backoff, what the runtime
is told), the HTTP fetch (conditional requests, errors, tokens) and the object-store
fetch's missing-extra error. The real servers are in the examples' tests."""

from __future__ import annotations

import asyncio
import base64
import random
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kubeplan.adapters.sources.http import (
    HttpAnswer,
    HttpFetcher,
    SourceReadError,
    secret_token,
    token_from_file,
)
from kubeplan.adapters.sources.poller import Poller
from kubeplan.core.errors import UsageError
from kubeplan.core.k8s import core_v1
from kubeplan.core.sources import HttpSource, ObjectStoreSource, SecretKeyRef
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.vtime import LoopClock, run_virtual

URL = "https://flags.example.com/items"


class Script:
    """A fetch answering from a list: items, None (unchanged), an exception, or "hang"."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[float] = []

    async def __call__(self) -> Mapping[str, Any] | None:
        self.calls.append(asyncio.get_running_loop().time())
        answer = self.answers.pop(0) if self.answers else None
        if answer == "hang":
            await asyncio.sleep(3600)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _run(source: HttpSource, script: Script, seconds: float) -> tuple[Poller, list[Any]]:
    told: list[Any] = []

    async def main() -> Poller:
        poller = Poller("s", source, script, clock=LoopClock(), rng=random.Random(1),
                        on_change=lambda name, ids: told.append(
                            None if ids is None else sorted(ids)))
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(seconds)
        task.cancel()
        return poller

    return run_virtual(main()), told


def test_polls_are_an_interval_apart_within_the_jitter() -> None:
    script = Script(*[None] * 50)
    _run(HttpSource(URL, interval=10, jitter=0.1), script, 200)
    gaps = [b - a for a, b in zip(script.calls, script.calls[1:], strict=False)]
    assert len(gaps) >= 15
    assert all(9.0 <= g <= 11.0 for g in gaps), gaps
    assert len({round(g, 6) for g in gaps}) > 1  # jittered, not a fixed period


def test_changes_tell_the_runtime_exactly_which_ids() -> None:
    script = Script({"a": {"v": 1}, "b": {"v": 1}}, None, {"a": {"v": 2}, "b": {"v": 1}},
                    {"b": {"v": 1}}, {"b": {"v": 1}})
    poller, told = _run(HttpSource(URL, interval=1, jitter=0), script, 4.5)
    assert told == [["a", "b"], ["a"], ["a"]]
    assert dict(poller.items) == {"b": {"v": 1}} and poller.error is None


def test_each_reading_is_observed_by_its_result() -> None:
    seen: list[tuple[str, str]] = []

    async def main() -> None:
        script = Script({"a": {}}, None, SourceReadError("HTTP 500"))
        poller = Poller("s", HttpSource(URL, interval=1, jitter=0), script,
                        clock=LoopClock(), rng=random.Random(1),
                        observe=lambda name, result: seen.append((name, result)))
        for _ in range(3):
            await poller.poll_once()

    run_virtual(main())
    assert seen == [("s", "read"), ("s", "unchanged"), ("s", "failed")]


def test_failures_back_off_keep_the_items_and_tell_every_reader_twice() -> None:
    boom = SourceReadError("HTTP 500: down")
    script = Script({"a": {}}, boom, boom, boom, boom, {"a": {}})
    source = HttpSource(URL, interval=1, jitter=0, backoff_base=2, backoff_cap=100)
    poller, told = _run(source, script, 60)
    gaps = [b - a for a, b in zip(script.calls, script.calls[1:], strict=False)]
    # a good poll, then four failures retried after about 2, 4, 8, 16 seconds (±20 %)
    assert gaps[0] == pytest.approx(1.0)
    for gap, expected in zip(gaps[1:5], (2, 4, 8, 16), strict=True):
        assert expected * 0.8 <= gap <= expected * 1.2, gaps
    # once when it started failing (readers fail), once when it answered again
    assert told == [["a"], None, None]
    assert poller.error is None and dict(poller.items) == {"a": {}}


def test_a_failing_source_carries_its_error_and_the_last_good_items() -> None:
    script = Script({"a": {}}, SourceReadError("HTTP 503"), "hang")
    poller, _ = _run(HttpSource(URL, interval=1, jitter=0, timeout=5), script, 3)
    assert poller.error is not None and dict(poller.items) == {"a": {}}
    assert str(poller.error) == "source 's': https://flags.example.com/items: HTTP 503"
    poller, _ = _run(HttpSource(URL, interval=1, jitter=0, timeout=5), Script("hang"), 5.5)
    assert poller.error is not None and "no answer within 5s" in str(poller.error)
    assert poller.attempted.is_set()


class FakeGet:
    def __init__(self, *answers: HttpAnswer) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, str]] = []

    async def __call__(self, url: str, headers: Mapping[str, str],
                       timeout: float) -> HttpAnswer:
        self.sent.append(dict(headers))
        return self.answers.pop(0)


def test_conditional_requests_after_a_good_answer() -> None:
    body = b'[{"id": "a", "v": 1}]'
    get = FakeGet(HttpAnswer(200, {"ETag": '"1"', "Last-Modified": "Tue, 01 Dec 2026"}, body),
                  HttpAnswer(304, {}),
                  HttpAnswer(500, {}, b"<html>down</html>"),
                  HttpAnswer(200, {"ETag": '"2"'}, b"not json"),
                  HttpAnswer(200, {"ETag": '"3"'}, b'{"id": "a"}'),
                  HttpAnswer(304, {}))
    fetch = HttpFetcher(HttpSource(URL), get)

    async def main() -> None:
        assert await fetch() == {"a": {"id": "a", "v": 1}}
        assert "If-None-Match" not in get.sent[0]
        assert await fetch() is None
        assert get.sent[1]["If-None-Match"] == '"1"'
        assert get.sent[1]["If-Modified-Since"] == "Tue, 01 Dec 2026"
        with pytest.raises(SourceReadError, match="HTTP 500: <html>down</html>"):
            await fetch()
        with pytest.raises(SourceReadError, match="the body is not JSON"):
            await fetch()
        with pytest.raises(SourceReadError, match="the top level is not a JSON list"):
            await fetch()
        await fetch()
        # a bad answer's ETag is never kept: the last good one is asked for
        assert get.sent[-1]["If-None-Match"] == '"1"'

    asyncio.run(main())
    assert fetch.answers == {200: 3, 304: 2, 500: 1}


def test_a_token_file_is_read_at_every_poll(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("one\n")
    get = FakeGet(HttpAnswer(304), HttpAnswer(304))
    fetch = HttpFetcher(HttpSource(URL), get, token_from_file(str(path)))

    async def main() -> None:
        await fetch()
        path.write_text("two")
        await fetch()
        with pytest.raises(SourceReadError, match="cannot read the token file"):
            await HttpFetcher(HttpSource(URL), get, token_from_file(str(tmp_path / "no")))()

    asyncio.run(main())
    assert [h["Authorization"] for h in get.sent] == ["Bearer one", "Bearer two"]


async def test_a_token_from_a_secret() -> None:
    async with FakeApiServer() as server:
        client = server.client()
        await client.create(core_v1.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": "ops"}})
        await client.create(core_v1.Secret, {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "flags", "namespace": "ops"},
            "data": {"token": base64.b64encode(b"s3cret\n").decode()}})
        assert await secret_token(client, SecretKeyRef("flags"), "ops")() == "s3cret"
        with pytest.raises(SourceReadError, match="Secret ops/flags key 'other' is missing"):
            await secret_token(client, SecretKeyRef("flags", "other"), "ops")()
        with pytest.raises(SourceReadError, match="cannot read the token from Secret "
                                                  "default/nope"):
            await secret_token(client, SecretKeyRef("nope"), "default")()


def test_an_object_store_source_without_boto3_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kubeplan.adapters.sources.s3 import ObjectStoreFetcher

    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(UsageError, match=r"pip install 'kubeplan-adapters\[s3\]'"):
        ObjectStoreFetcher(ObjectStoreSource("reports"))


def test_the_runtime_syncs_readers_once_per_outage_and_never_deletes() -> None:
    """The real runtime in virtual time, a scripted source: a parent that reads the
    failing source gets one failed sync (no backoff retries: the poller syncs it when the
    source answers), keeps its child, and one that does not read it is left alone."""
    from adapter_testing import BUNDLE_CRD, Bundle, configmap

    from kubeplan.adapters.runtime import Operator
    from kubeplan.adapters.settings import RuntimeSettings
    from kubeplan.core.config import ChildConfig, OperatorConfig
    from kubeplan.core.request import SyncRequest
    from kubeplan.core.response import SyncResponse
    from kubeplan.testkit.simulation import install_crd

    config = (OperatorConfig("sourced", Bundle)
              .with_child(core_v1.ConfigMap, ChildConfig.replace())
              .with_source("s", HttpSource(URL, interval=10, jitter=0, backoff_base=1,
                                           backoff_cap=8),
                           select=lambda p: p["spec"].get("ids")))
    calls: dict[str, int] = {}

    def sync(request: SyncRequest) -> SyncResponse:
        calls[request.name] = calls.get(request.name, 0) + 1
        data = {k: str(v["v"]) for k, v in request.sources["s"].items()}
        return SyncResponse(children=[configmap(request.name, **data)])

    answers: list[Any] = [{"a": {"v": 1}}]
    settled: dict[str, int] = {}

    async def fetch() -> Mapping[str, Any] | None:
        answer = answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def main() -> tuple[int, int, Any, Any]:
        async with FakeApiServer(clock=LoopClock()) as server:
            await install_crd(server, BUNDLE_CRD)
            client = server.client()
            for name, ids in (("reader", ["a"]), ("other", None)):
                await client.create(Bundle, {"apiVersion": Bundle.api_version,
                                             "kind": Bundle.kind,
                                             "metadata": {"name": name, "namespace": "default"},
                                             "spec": {"ids": ids}})
            op = Operator(config, sync, server.client(), clock=LoopClock(),
                          settings=RuntimeSettings(resync_period=None),
                          source_fetchers={"s": fetch})
            task = asyncio.create_task(op.run())
            await op.settle(timeout=60)
            before = op.syncs
            settled.update(calls)
            answers[0] = SourceReadError("HTTP 500")
            await asyncio.sleep(100)  # about 7 failed polls, backing off
            await op.settle(timeout=60)
            during = op.syncs - before
            reader = await client.get(Bundle, "reader", "default")
            child = await client.get(core_v1.ConfigMap, "reader", "default")
            answers[0] = {"a": {"v": 2}}
            await asyncio.sleep(20)
            await op.settle(timeout=60)
            after = await client.get(core_v1.ConfigMap, "reader", "default")
            await op.stop()
            await task
            return during, op.metrics.source_polls.labels("sourced", "s", "failed")._value.get(
            ), (reader, child), after

    during, failed_polls, (reader, child), after = run_virtual(main())
    assert failed_polls >= 5
    assert during == 1  # one sync of the reader when the outage began, none of "other"
    synced = next(c for c in reader["status"]["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "SourceUnavailable")
    assert child["data"] == {"a": "1"}  # kept through the outage
    assert after["data"] == {"a": "2"}
    assert calls["other"] == settled["other"]  # never woken by the source
