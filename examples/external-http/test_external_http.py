"""Tests of the external-http example at three levels: the pure plan, scenarios in
virtual time against scripted sources, and the real runtime polling a real HTTP server
on 127.0.0.1 (conditional GETs, 304s, a 500) against the fake API server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from external_http_operator import FlagSet, config_for, flags_of, operator, sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.planner import plan as make_plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.sources import SourceError
from kubeplan.core.status import find_condition
from kubeplan.testkit import scenario as sc
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.invariants import assert_invariants
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.simulation import install_crd
from kubeplan.testkit.vtime import EPOCH

HERE = Path(__file__).parent
PARENT = yaml.safe_load((HERE / "flagset.yaml").read_text())
FLAGS = json.loads((HERE / "flags.json").read_text())
CHILD = "ConfigMap default/web-flags"


def request_with(flags: list[dict[str, Any]], parent: dict[str, Any] = PARENT) -> SyncRequest:
    base = request_from_dicts(parent, config=operator.config)
    chosen = flags_of(parent)
    items = {f["id"]: f for f in flags if chosen is True or f["id"] in chosen}
    return SyncRequest.build(base.parent, config=operator.config, sources={"flags": items})


# -- the pure level -----------------------------------------------------------------------


def test_the_chosen_flags_become_a_configmap() -> None:
    plan = plan_for(operator, request_with(FLAGS))
    expect_plan(plan).creates(CHILD).writes_status({"copied": 2, "missing": []})
    assert plan.child_actions[0].obj["data"] == {"dark-mode": "on", "beta-search": "off"}


def test_every_flag_when_none_is_named_and_json_values_as_text() -> None:
    parent = {**PARENT, "spec": {}}
    plan = plan_for(operator, request_with(FLAGS, parent))
    assert plan.child_actions[0].obj["data"]["new-billing"] == '{"rollout": 10}'


def test_a_named_flag_the_service_lacks_is_reported() -> None:
    parent = {**PARENT, "spec": {"flags": ["dark-mode", "gone"]}}
    expect_plan(plan_for(operator, request_with(FLAGS, parent))).writes_status(
        {"copied": 1, "missing": ["gone"]})


def test_a_changed_flag_replaces_the_configmap_and_the_plan_names_the_input() -> None:
    request = request_with(FLAGS)
    after = observe(request, plan_for(operator, request))
    expect_plan(plan_for(operator, after)).does_nothing()
    changed = [{**f, "value": "off"} if f["id"] == "dark-mode" else f for f in FLAGS]
    from kubeplan.core.sources import SourceItems, diff_items
    items = {f["id"]: f for f in changed if f["id"] in flags_of(PARENT)}
    old = dict(after.sources["flags"])
    fresh = SyncRequest(after.parent, after.children, sources={
        "flags": SourceItems("flags", items, diff_items(old, items))})
    plan = plan_for(operator, fresh)
    expect_plan(plan).replaces(CHILD, fields=["data.dark-mode"])
    assert plan.inputs == ("source flags: modified dark-mode",)
    assert "input   " in str(plan) and "modified dark-mode" in str(plan)


def test_a_failing_source_keeps_the_configmap_and_says_why() -> None:
    request = request_with(FLAGS)
    after = observe(request, plan_for(operator, request))
    failed = make_plan(operator.config, after, SourceError("flags", "HTTP 500: down"),
                       memo=ApplyMemo.empty(), now=EPOCH, has_finalize=False)
    expect_plan(failed).touches_no_child().has_condition("Synced", "False",
                                                         "SourceUnavailable")
    assert "HTTP 500" in (failed.error or "")


def test_the_select_is_a_pure_function_of_the_parent() -> None:
    assert flags_of(PARENT) == ["dark-mode", "beta-search"]
    assert flags_of({"spec": {}}) is True


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c.d", "bad/key"]),
                       st.text(max_size=6), max_size=4))
def test_every_valid_flag_is_copied_and_a_second_plan_does_nothing(values) -> None:
    flags = [{"id": k, "value": v} for k, v in values.items()]
    request = request_with(flags, {**PARENT, "spec": {}})
    plan = plan_for(operator, request)
    data = plan.child_actions[0].obj["data"]
    assert data == {k: v for k, v in values.items() if "/" not in k}
    expect_plan(plan_for(operator, observe(request, plan))).does_nothing()


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


# -- scenarios in virtual time ------------------------------------------------------------


def _configmap(trace: Any, name: str = "web-flags") -> dict[str, Any] | None:
    assert trace.final is not None
    return trace.final.find(core_v1.ConfigMap, "default", name)


def test_a_failing_source_never_deletes_the_configmap() -> None:
    scenario = sc.Scenario(steps=[
        sc.SetSourceItems("flags", FLAGS),
        sc.CreateParent("web", PARENT["spec"], "default"),
        sc.Settle(),
        sc.SourceFault("flags", "error", count=4),
        sc.SourceFault("flags", "timeout"),
        sc.Advance(600),
        sc.SetSourceItems("flags", []),  # served once the faults are over
        sc.SourceFault("flags", "stale", count=2),
        sc.Advance(120),
    ])
    trace = run_scenario(operator, scenario)
    assert_invariants(trace, operator)
    deletes = [w for w in trace.operator_writes if w.verb == "delete"]
    assert not deletes, deletes
    child = _configmap(trace)
    assert child is not None and child.get("data") in (None, {})  # converged to no flags


def test_while_the_source_fails_the_parent_says_so() -> None:
    scenario = sc.Scenario(steps=[
        sc.SetSourceItems("flags", FLAGS),
        sc.CreateParent("web", PARENT["spec"], "default"),
        sc.Settle(),
        sc.SourceFault("flags", "error", count=50),
        sc.Advance(90),
    ])
    trace = run_scenario(operator, scenario)
    assert_invariants(trace, operator)
    # after the faults were removed at the end it converged again
    assert trace.final is not None
    parent = trace.final.parents[0]
    assert find_condition(parent.get("status"), "Synced")["status"] == "True"
    # during the outage the plans touched no child and said why
    during = [p for p in trace.plans if p.step == 4]
    # one plan that wrote during the outage: the Synced=False status, no child
    # (tests/adapters/test_source_pollers.py checks that it is not retried by backoff meanwhile)
    assert len(during) == 1 and all("source 'flags'" in p.text and "HTTP 500" in p.text
                          for p in during), [p.text for p in trace.plans]
    assert all(w.resource != "configmaps" for w in trace.operator_writes if w.step == 4)


def test_check_operator_with_source_faults() -> None:
    check_operator(operator, max_steps=8,
                   settings=settings(max_examples=8, deadline=None, database=None,
                                     suppress_health_check=list(HealthCheck)))


# -- the real runtime, a real HTTP server ------------------------------------------------


class FlagService:
    """A flag service on 127.0.0.1: ETag and Last-Modified, 304s, a bearer token."""

    def __init__(self, token: str) -> None:
        self.flags: list[dict[str, Any]] = list(FLAGS)
        self.version = 1
        self.token = token
        self.fail = False
        self.answers: dict[int, int] = {}
        self.conditional = 0

    def set(self, flags: list[dict[str, Any]]) -> None:
        self.flags, self.version = flags, self.version + 1

    async def handle(self, request: web.Request) -> web.StreamResponse:
        status, response = self._answer(request)
        self.answers[status] = self.answers.get(status, 0) + 1
        return response

    def _answer(self, request: web.Request) -> tuple[int, web.StreamResponse]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, web.Response(status=401, text="no token")
        if self.fail:
            return 500, web.Response(status=500, text="flag store down")
        etag = f'"{self.version}"'
        modified = f"Tue, 01 Dec 2026 00:00:{self.version % 60:02d} GMT"
        if "If-None-Match" in request.headers:
            self.conditional += 1
            if request.headers["If-None-Match"] == etag:
                return 304, web.Response(status=304, headers={"ETag": etag})
        return 200, web.json_response(self.flags,
                                      headers={"ETag": etag, "Last-Modified": modified})


@pytest.fixture
async def flag_service(tmp_path: Path) -> AsyncIterator[tuple[FlagService, str, str]]:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    service = FlagService("s3cret")
    app = web.Application()
    app.router.add_get("/flags", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield service, f"http://127.0.0.1:{port}/flags", str(token_file)
    finally:
        await runner.cleanup()


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_the_runtime_polls_a_real_http_server(flag_service) -> None:  # type: ignore[no-untyped-def]
    service, url, token_file = flag_service
    definition = OperatorDefinition(config_for(url, interval=0.2, token_file=token_file),
                                    sync, spec_class=operator.spec_class,
                                    status_class=operator.status_class)
    async with FakeApiServer() as server:
        await install_crd(server, crd_of(operator))
        client = server.client()
        await client.create(FlagSet, PARENT)
        running = Operator(definition.config, sync, server.client(),
                           settings=RuntimeSettings(resync_period=None))
        task = asyncio.create_task(running.run())
        try:
            async def has(value: str) -> bool:
                try:
                    child = await client.get(core_v1.ConfigMap, "web-flags", "default")
                except Exception:
                    return False
                return (child.get("data") or {}).get("dark-mode") == value

            await _until(lambda: has("on"))
            await running.settle(timeout=10)  # the sync after its own writes included
            syncs = running.syncs
            # nothing changes: each poll is one conditional request answered 304, no sync
            before = dict(service.answers)
            await asyncio.sleep(1.0)
            assert service.answers.get(304, 0) > before.get(304, 0)
            assert service.answers.get(200, 0) == before.get(200, 0)
            await running.settle(timeout=10)
            assert running.syncs == syncs
            metrics = running.metrics.render()
            metrics = metrics.decode() if isinstance(metrics, bytes) else metrics
            assert ('kubeplan_source_polls_total{operator="external-http",result="unchanged",'
                    'source="flags"}') in metrics
            # a flag the FlagSet does not read changes: polled, but the parent is not synced
            service.set([*FLAGS[:2], {"id": "new-billing", "value": "x"}])
            await _until(lambda: _polled(service))
            await running.settle(timeout=10)
            assert running.syncs == syncs
            # a flag it reads changes: the child follows
            service.set([{"id": "dark-mode", "value": "off"}, FLAGS[1]])
            await _until(lambda: has("off"))
            # the service fails: the child stays, the parent says why
            service.fail = True

            async def unavailable() -> bool:
                parent = await client.get(FlagSet, "web", "default")
                found = find_condition(parent.get("status"), "Synced") or {}
                return found.get("reason") == "SourceUnavailable"

            await _until(unavailable)
            parent = await client.get(FlagSet, "web", "default")
            assert "HTTP 500" in find_condition(parent["status"], "Synced")["message"]
            assert await has("off")
            # it answers again: Synced=True again
            service.fail = False

            async def synced() -> bool:
                parent = await client.get(FlagSet, "web", "default")
                return (find_condition(parent.get("status"), "Synced") or {}).get(
                    "status") == "True"

            await _until(synced)
            assert await has("off")
        finally:
            await running.stop()
            await task


async def _polled(service: FlagService) -> bool:
    return service.answers.get(200, 0) >= 2
