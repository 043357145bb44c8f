"""Tests of the external-s3 example at three levels: the pure plan, scenarios in virtual
time against a scripted listing, and the real runtime listing a real S3-compatible
server (moto's, started on 127.0.0.1 by the test) against the fake API server."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from external_s3_operator import ReportIndex, config_for, index_of, operator, sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.adapters.sources.s3 import ObjectStoreFetcher
from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.sources import ObjectStoreSource
from kubeplan.core.status import find_condition
from kubeplan.testkit import scenario as sc
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.invariants import assert_invariants
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.simulation import install_crd
from kubeplan.testkit.strategies import source_items

HERE = Path(__file__).parent
PARENT = yaml.safe_load((HERE / "reportindex.yaml").read_text())
CHILD = "ConfigMap default/daily-index"


def obj(key: str, size: int = 1, etag: str = "e1") -> dict[str, Any]:
    return {"key": key, "etag": etag, "size": size, "lastModified": "2026-12-01T00:00:00Z"}


LISTING = [obj("daily/a.csv", 10), obj("daily/b.csv", 5), obj("weekly/c.csv", 7)]


def request_with(listing: list[dict[str, Any]], parent: dict[str, Any] = PARENT) -> SyncRequest:
    base = request_from_dicts(parent, config=operator.config)
    return SyncRequest.build(base.parent, config=operator.config,
                             sources={"reports": {o["key"]: o for o in listing}})


# -- the pure level -----------------------------------------------------------------------


def test_the_objects_under_the_prefix_are_indexed() -> None:
    plan = plan_for(operator, request_with(LISTING))
    expect_plan(plan).creates(CHILD).writes_status({"objects": 2, "bytes": 15})
    assert [i["key"] for i in index_of(plan.child_actions[0].obj)] == ["daily/a.csv",
                                                                      "daily/b.csv"]


def test_a_rewritten_object_replaces_the_index() -> None:
    request = request_with(LISTING)
    after = observe(request, plan_for(operator, request))
    expect_plan(plan_for(operator, after)).does_nothing()
    changed = request_with([obj("daily/a.csv", 11, "e2"), *LISTING[1:]])
    plan = plan_for(operator, SyncRequest(after.parent, after.children,
                                          sources=changed.sources))
    expect_plan(plan).replaces(CHILD, fields=['data["index.json"]']).writes_status({"bytes": 16})


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["daily/x", "daily/y", "weekly/z", "dailyish"]), unique=True),
       st.sampled_from(["", "daily/", "weekly/"]))
def test_the_index_is_exactly_the_prefixed_keys(keys, prefix) -> None:
    parent = {**PARENT, "spec": {"prefix": prefix}}
    request = request_with([obj(k) for k in keys], parent)
    plan = plan_for(operator, request)
    indexed = [i["key"] for i in index_of(plan.child_actions[0].obj)]
    assert indexed == sorted(k for k in keys if k.startswith(prefix))
    expect_plan(plan_for(operator, observe(request, plan))).does_nothing()


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


# -- scenarios in virtual time ------------------------------------------------------------


def test_a_failing_listing_never_deletes_the_index() -> None:
    scenario = sc.Scenario(steps=[
        sc.SetSourceItems("reports", LISTING),
        sc.CreateParent("daily", PARENT["spec"], "default"),
        sc.Settle(),
        sc.SourceFault("reports", "error", count=3),
        sc.SourceFault("reports", "timeout"),
        sc.Advance(900),
        sc.SetSourceItems("reports", LISTING[:1]),
        sc.Advance(120),
    ])
    trace = run_scenario(operator, scenario)
    assert_invariants(trace, operator)
    assert not [w for w in trace.operator_writes if w.verb == "delete"]
    assert trace.final is not None
    child = trace.final.find(core_v1.ConfigMap, "default", "daily-index")
    assert child is not None and [i["key"] for i in index_of(child)] == ["daily/a.csv"]


def _listings() -> Any:
    keys = ["daily/a", "daily/b", "other/c"]
    return source_items("key", ids=keys, values=st.integers(0, 3)).map(
        lambda items: [obj(i["key"], i["value"], f"e{i['value']}") for i in items])


def test_check_operator_with_listing_faults() -> None:
    check_operator(operator, max_steps=8, source_items={"reports": _listings()},
                   settings=settings(max_examples=8, deadline=None, database=None,
                                     suppress_health_check=list(HealthCheck)))


# -- the real runtime, a real S3-compatible server ---------------------------------------


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """moto's S3-compatible server on 127.0.0.1 (a thread of this process), one bucket."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps its buckets per process, not per server: start from an empty store
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset",
                                                      method="POST"), timeout=10).close()
        store = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        store.create_bucket(Bucket="reports")
        yield endpoint, store
    finally:
        server.stop()


async def test_the_fetcher_lists_every_page(s3_server) -> None:  # type: ignore[no-untyped-def]
    endpoint, store = s3_server
    for i in range(5):
        store.put_object(Bucket="reports", Key=f"daily/{i}.csv", Body=b"x" * i)
    store.put_object(Bucket="reports", Key="weekly/w.csv", Body=b"w")
    fetcher = ObjectStoreFetcher(ObjectStoreSource("reports", prefix="daily/",
                                                   endpoint=endpoint))
    fetcher.client.meta.events.register(  # two keys a page: pagination is exercised
        "before-parameter-build.s3.ListObjectsV2",
        lambda params, **_: params.setdefault("MaxKeys", 2))
    try:
        items = await fetcher()
    finally:
        await fetcher.close()
    assert items is not None and sorted(items) == [f"daily/{i}.csv" for i in range(5)]
    assert items["daily/3.csv"]["size"] == 3 and items["daily/3.csv"]["etag"]
    assert items["daily/3.csv"]["lastModified"].endswith("Z")
    assert fetcher.requests == 3


async def _until(predicate: Any, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_the_runtime_lists_a_real_s3_server(s3_server) -> None:  # type: ignore[no-untyped-def]
    endpoint, store = s3_server
    store.put_object(Bucket="reports", Key="daily/a.csv", Body=b"0123456789")
    config = config_for("reports", endpoint=endpoint, interval=0.2)
    async with FakeApiServer() as server:
        await install_crd(server, crd_of(operator))
        client = server.client()
        await client.create(ReportIndex, PARENT)
        running = Operator(config, sync, server.client(),
                           settings=RuntimeSettings(resync_period=None))
        task = asyncio.create_task(running.run())

        async def keys() -> list[str] | None:
            try:
                child = await client.get(core_v1.ConfigMap, "daily-index", "default")
            except Exception:
                return None
            return [i["key"] for i in index_of(child)]

        async def indexed(expected: list[str]) -> bool:
            return await keys() == expected

        try:
            await _until(lambda: indexed(["daily/a.csv"]))
            store.put_object(Bucket="reports", Key="daily/b.csv", Body=b"12345")
            await _until(lambda: indexed(["daily/a.csv", "daily/b.csv"]))
            parent = await client.get(ReportIndex, "daily", "default")
            assert parent["status"]["bytes"] == 15
            store.delete_object(Bucket="reports", Key="daily/a.csv")
            await _until(lambda: indexed(["daily/b.csv"]))
            # the bucket goes away: the index stays, the parent says why
            store.delete_object(Bucket="reports", Key="daily/b.csv")
            await _until(lambda: indexed([]))
            store.put_object(Bucket="reports", Key="daily/c.csv", Body=b"c")
            await _until(lambda: indexed(["daily/c.csv"]))
            store.delete_object(Bucket="reports", Key="daily/c.csv")
            store.delete_bucket(Bucket="reports")

            async def unavailable() -> bool:
                parent = await client.get(ReportIndex, "daily", "default")
                found = find_condition(parent.get("status"), "Synced") or {}
                return found.get("reason") == "SourceUnavailable"

            await _until(unavailable)
            parent = await client.get(ReportIndex, "daily", "default")
            assert "NoSuchBucket" in find_condition(parent["status"], "Synced")["message"]
            assert await keys() == ["daily/c.csv"]  # kept: the listing failed, not emptied
        finally:
            await running.stop()
            await task
