"""Logs a team can ship: ``JsonFormatter`` (one JSON object per line, with the runtime's
context), the context the runtime sets around each sync and write, the spans it opens when
OpenTelemetry is installed, and ``kubeplan run --log-format json`` end to end."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml
from adapter_testing import BUNDLE_CONFIG, Bundle, BundleHandler, bundle, configmap, eventually

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.logs import JsonFormatter, configure_logging, current_context, log_context
from kubeplan.core import InvalidArgument
from kubeplan.core.types import K8sType

ROOT = Path(__file__).resolve().parents[2]
MEMBER = K8sType("example.kubeplan.dev/v1", "Member", "members")


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("kubeplan.test", logging.WARNING, __file__, 1, message, args,
                               None)
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_line_with_the_context():
    with log_context(parent="default/web", sync_id="abc"), log_context(action="create"):
        assert dict(current_context()) == {
            "parent": "default/web", "sync_id": "abc", "action": "create"}
        line = JsonFormatter().format(_record("two\nlines %s", "here"))
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "two\nlines here"
    assert (out["level"], out["logger"]) == ("WARNING", "kubeplan.test")
    assert (out["parent"], out["sync_id"], out["action"]) == ("default/web", "abc", "create")
    assert out["time"].endswith("Z") and "T" in out["time"]
    assert dict(current_context()) == {}  # the blocks ended: the context is gone


def test_extra_fields_win_and_exceptions_are_kept():
    try:
        raise KeyError("spec.port")
    except KeyError:
        record = _record("failed", parent="ns/given")
        record.exc_info = sys.exc_info()
    with log_context(parent="ns/context", child=None):
        out = json.loads(JsonFormatter().format(record))
    assert out["parent"] == "ns/given" and "child" not in out
    assert "KeyError: 'spec.port'" in out["exception"]


def test_configure_logging_refuses_an_unknown_format_and_replaces_its_own_handler():
    with pytest.raises(InvalidArgument, match="log format must be 'text' or 'json'"):
        configure_logging("xml")  # type: ignore[arg-type]
    root = logging.getLogger()
    level = root.level
    # pytest's capture handlers are on the root: left alone, as basicConfig would
    assert configure_logging("json", stream=io.StringIO()) is None
    first = configure_logging("json", stream=io.StringIO(), force=True)
    second = configure_logging("json", stream=io.StringIO(), force=True)
    try:
        assert first not in root.handlers and second in root.handlers
        assert isinstance(second.formatter, JsonFormatter)
    finally:
        if second is not None:
            root.removeHandler(second)
        root.setLevel(level)


async def test_the_runtime_sets_parent_sync_id_and_action(fake, kube, start_operator):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    runtime_log = logging.getLogger("kubeplan.adapters")
    runtime_log.addHandler(handler)
    old_level = runtime_log.level
    runtime_log.setLevel(logging.INFO)
    try:
        operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
        await kube.create(Bundle, bundle("b", [configmap("one")]))
        await eventually(lambda: _has_child(kube))
        await operator.settle()
    finally:
        runtime_log.removeHandler(handler)
        runtime_log.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    writes = [line for line in lines if line.get("action") == "create"]
    assert writes, lines
    [create] = writes
    assert create["parent"] == "default/b" and create["operator"] == "bundles"
    assert create["child"] == "v1/ConfigMap default/one" and create["reason"] == "missing"
    assert create["sync_id"]
    status = [line for line in lines if line.get("action") == "status"]
    assert status and all(line["parent"] == "default/b" for line in status)


async def _has_child(kube: KubeClient) -> bool:
    from kubeplan.core.k8s import core_v1

    return bool((await kube.list(core_v1.ConfigMap, "default"))["items"])


async def test_spans_nest_write_in_plan_in_sync(fake, kube, start_operator):
    sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="needs opentelemetry-sdk")
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = trace.get_tracer_provider
    trace.get_tracer_provider = lambda: provider  # type: ignore[assignment]
    try:
        operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
        await kube.create(Bundle, bundle("b", [configmap("one")]))
        await eventually(lambda: _has_child(kube))
        await operator.settle()
    finally:
        trace.get_tracer_provider = original  # type: ignore[assignment]
    spans = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    [write] = [s for s in spans if s.name == "kubeplan.write"
               and s.attributes.get("kubeplan.action") == "create"]
    assert write.attributes["kubeplan.child"] == "v1/ConfigMap default/one"
    assert write.attributes["kubeplan.reason"] == "missing"
    assert write.attributes["kubeplan.result"] == "ok"
    sync = by_id[write.parent.span_id]
    assert sync.name == "kubeplan.sync"
    assert sync.attributes["kubeplan.parent"] == "default/b"
    assert sync.attributes["kubeplan.outcome"] == "ok"
    plans = [s for s in spans if s.name == "kubeplan.plan" and s.parent.span_id ==
             sync.context.span_id]
    assert plans and plans[0].attributes["kubeplan.actions"] >= 1


@pytest.mark.real_time
async def test_kubeplan_run_log_format_json_emits_one_object_per_line():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubeplan.cli", "run", "examples/member/member_operator.py:operator",
        "--embedded", "--grace-period", "5", "--log-format", "json",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async with asyncio.timeout(20):
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, "kubeplan run exited early"
                if line.startswith("kubeconfig: "):
                    kubeconfig = line.split(": ", 1)[1].strip()
                    break
        client = await KubeClient.from_kubeconfig(kubeconfig)
        try:
            member = yaml.safe_load((ROOT / "examples/member/member.yaml").read_text())
            await client.create(MEMBER, member)
            await eventually(lambda: _greeted(client))
        finally:
            await client.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        stderr = (await asyncio.wait_for(proc.stderr.read(), 10)).decode()
        await asyncio.wait_for(proc.wait(), 10)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # all JSON
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    created = [line for line in lines if line.get("action") == "create"]
    assert created, stderr
    assert all(line["parent"] == "default/ada" for line in created)
    assert any(line.get("child", "").startswith("v1/ConfigMap") for line in created)


async def _greeted(client: KubeClient) -> bool:
    return bool((await client.get(MEMBER, "ada", "default")).get("status"))


def test_spans_are_a_no_op_without_opentelemetry_or_a_provider(monkeypatch):
    from kubeplan.adapters import tracing

    with tracing.span("kubeplan.sync", parent="default/b") as current:
        current.set_attribute("kubeplan.outcome", "ok")  # no provider set here: nothing
    assert current is tracing._NO_SPAN  # no tracer provider is set in this process
    monkeypatch.setattr(tracing, "_otel_trace", None)  # as if the package were absent
    assert not tracing.tracing_enabled()
    with tracing.span("kubeplan.sync", parent="default/b") as current:
        current.set_attribute("kubeplan.outcome", "ok")
    assert current is tracing._NO_SPAN
