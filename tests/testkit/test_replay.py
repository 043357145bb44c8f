"""Record and replay: a recording of an operator at work, replayed in virtual time
through the same operator, gives the same plans; a changed operator diverges, named."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from replay_support import ECHO, record_echo

from kubeplan.adapters.recording import REDACTED_PREFIX, redact
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver.faults import Fault
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.replay import Recording, RecordingError, assert_replays, replay
from kubeplan.testkit.simulation import as_definition, install_crd
from kubeplan.testkit.vtime import LoopClock, run_virtual


def _records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_recording_of_echo_server_replays_with_the_same_plans(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    operator = record_echo(path, parents=3)
    records = _records(path)
    kinds = {r["kind"] for r in records}
    assert {"header", "list", "event", "call", "sync", "plan", "done"} <= kinds
    assert sum(r["kind"] == "sync" for r in records) == operator.syncs
    # the recreate of echo-0's Pods (new greeting) and the Pods' creates are in it
    plans = [line for r in records if r["kind"] == "plan" for line in r["lines"]]
    assert any(line.startswith("recreate v1/Pod default/echo-0-0") for line in plans)

    result = assert_replays(path, ECHO)
    assert not result.diverged and result.first_divergence is None
    assert result.syncs == operator.syncs
    recorded = [tuple(r["lines"]) for r in records if r["kind"] == "plan"]
    assert [lines for _, _, lines in result.plans] == recorded


def test_a_changed_sync_diverges_naming_the_parent_and_the_sync(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    record_echo(path, parents=3)

    def without_pod_for_echo_2(request: SyncRequest) -> SyncResponse:
        response = ECHO.handler(request)
        if request.name != "echo-2":
            return response
        return attrs.evolve(response, children=[c for c in response.children
                                                if c["metadata"]["name"] != "echo-2-1"])

    result = replay(path, (ECHO.config, without_pod_for_echo_2))
    assert result.diverged
    divergence = result.first_divergence
    assert divergence is not None
    assert divergence.parent == "default/echo-2" and divergence.what == "plan"
    assert any(line.startswith("create  v1/Pod default/echo-2-1: missing (desired ")
               for line in divergence.expected)
    assert not any("echo-2-1" in line for line in divergence.got)
    first_sync_of_echo_2 = next(r["sync"] for r in _records(path)
                                if r["kind"] == "sync" and r["name"] == "echo-2")
    assert divergence.sync == first_sync_of_echo_2
    # every sync before it replayed the same
    assert result.syncs == first_sync_of_echo_2 - 1
    with pytest.raises(AssertionError, match=r"sync \d+ of default/echo-2 .*plan differs"):
        assert_replays(path, (ECHO.config, without_pod_for_echo_2))


def test_a_different_parent_type_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    record_echo(path, parents=1)
    other = OperatorConfig("other", K8sType("example.kubeplan.dev/v1", "Other", "others"))
    with pytest.raises(RecordingError, match=r"watched parents example\.kubeplan\.dev/v1/"
                                             r"EchoServer, but this operator's parent is"):
        replay(path, (other, ECHO.handler))


def test_relists_after_410_and_refused_writes_are_recorded_and_replayed(
        tmp_path: Path) -> None:
    path = tmp_path / "faults.jsonl"

    async def main() -> None:
        async with FakeApiServer(clock=LoopClock(), seed=5) as server:
            await install_crd(server, crd_of(ECHO))
            user = InProcessClient(server, user="user")
            operator = Operator(
                ECHO.config, ECHO.handler, InProcessClient(server, user="kubeplan",
                                                           write_attempts=1),
                settings=RuntimeSettings(workers=2, handler_threads=False, seed=2,
                                         record=str(path)),
                clock=LoopClock())
            # the Pods' first watch ends after one event; watching again gets 410 Expired
            server.add_fault(Fault.watch_drop(after_events=1, resource="pods", count=1))
            server.add_fault(Fault.error(410, reason="Expired", verb="watch",
                                         resource="pods", count=1))
            server.add_fault(Fault.error(409, verb="create", resource="services", count=1))
            task = asyncio.create_task(operator.run())
            await operator.wait_synced()
            for name in ("a", "b"):
                await user.create(ECHO.config.parent, {
                    "apiVersion": ECHO.config.parent.api_version,
                    "kind": ECHO.config.parent.kind,
                    "metadata": {"name": name, "namespace": "default"},
                    "spec": {"greeting": "hi", "replicas": 1}})
            await operator.settle(timeout=600)
            await operator.stop()
            await task

    run_virtual(main())
    records = _records(path)
    pod_lists = [r for r in records if r["kind"] == "list" and r["type"] == "v1/Pod"]
    assert len(pod_lists) >= 2  # listed, then relisted
    refused = [r for r in records if r["kind"] == "call" and r["code"] == 409]
    assert refused and refused[0]["verb"] == "create" and refused[0]["type"] == "v1/Service"
    assert refused[0]["error"]["code"] == 409 and refused[0]["sync"] is not None
    assert any(r["kind"] == "watch_error" and r["code"] == 410 for r in records)
    result = assert_replays(path, ECHO)
    assert result.syncs == sum(r["kind"] == "sync" for r in records)


# -- redaction ----------------------------------------------------------------------------

Vault = K8sType("example.kubeplan.dev/v1", "Vault", "vaults")
VAULT_CONFIG = OperatorConfig("vault", Vault).with_child(core_v1.Secret, ChildConfig.replace())
PASSWORD = "correct horse battery staple"


def vault_sync(request: SyncRequest, password: str = PASSWORD) -> SyncResponse:
    """Writes a Secret whose value appears nowhere else (not in the parent)."""
    secret = base64.b64encode(f"{password} x{request.spec['copies']}".encode()).decode()
    return SyncResponse(children=[{
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": request.name},
        "data": {"password": secret}}], status={"keys": 1})


def _record_vault(path: Path, *, record_secrets: bool = False) -> None:
    async def main() -> None:
        async with FakeApiServer(clock=LoopClock(), seed=9) as server:
            await install_crd(server, crd_of(as_definition((VAULT_CONFIG, vault_sync))))
            user = InProcessClient(server, user="user")
            operator = Operator(
                VAULT_CONFIG, vault_sync, InProcessClient(server, user="kubeplan"),
                settings=RuntimeSettings(handler_threads=False, seed=1, record=str(path),
                                         record_secrets=record_secrets),
                clock=LoopClock())
            task = asyncio.create_task(operator.run())
            await operator.wait_synced()
            await user.create(Vault, {"apiVersion": Vault.api_version, "kind": Vault.kind,
                                      "metadata": {"name": "v", "namespace": "default"},
                                      "spec": {"copies": 2}})
            await operator.settle(timeout=600)
            await operator.stop()
            await task

    run_virtual(main())


def test_secret_values_are_redacted_keeping_keys_and_a_hash(tmp_path: Path) -> None:
    path = tmp_path / "vault.jsonl"
    _record_vault(path)
    text = path.read_text()
    encoded = base64.b64encode(f"{PASSWORD} x2".encode()).decode()
    assert encoded not in text and PASSWORD not in text
    secrets = [r["object"] for r in _records(path)
               if r["kind"] == "call" and r["type"] == "v1/Secret" and "object" in r]
    assert secrets, "the Secret's create is recorded"
    assert set(secrets[0]["data"]) == {"password"}
    assert secrets[0]["data"]["password"].startswith(REDACTED_PREFIX)
    assert _records(path)[0]["redacted"] is True
    # the Secret the operator wrote compares equal to the recorded one: the same plans
    assert_replays(path, (VAULT_CONFIG, vault_sync))

    def other_password(request: SyncRequest) -> SyncResponse:
        return vault_sync(request, "hunter2")

    # a changed value is seen through its hash
    result = replay(path, (VAULT_CONFIG, other_password))
    assert result.diverged and result.first_divergence is not None
    assert result.first_divergence.what == "plan"
    expected, got = result.first_divergence.expected, result.first_divergence.got
    assert expected[0].startswith("create  v1/Secret default/v: (reason redacted; desired ")
    assert got[0].startswith("create  v1/Secret default/v: (reason redacted; desired ")
    assert expected[0] != got[0]


def test_redaction_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "vault.jsonl"
    _record_vault(path, record_secrets=True)
    assert base64.b64encode(f"{PASSWORD} x2".encode()).decode() in path.read_text()
    assert _records(path)[0]["redacted"] is False
    assert_replays(path, (VAULT_CONFIG, vault_sync))


def test_redact_is_idempotent_and_leaves_other_objects_alone() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"c": "z"}}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "x"}}
    listed = redact({"items": [secret, configmap]})
    once = listed["items"][0]
    assert once["data"]["a"] != once["data"]["b"]
    assert all(v.startswith(REDACTED_PREFIX) for v in [*once["data"].values(),
                                                      *once["stringData"].values()])
    assert redact(once) == once
    assert listed["items"][1] is configmap
    assert secret["data"]["a"] == "eA=="  # the original is not changed
    assert redact({"type": "ADDED", "object": secret})["object"] == once


# -- bad recordings -----------------------------------------------------------------------


def test_a_truncated_recording_names_its_last_line(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    record_echo(path, parents=1)
    data = path.read_bytes()
    lines = data.count(b"\n")
    path.write_bytes(data[:-40])
    with pytest.raises(RecordingError, match=rf"line {lines}: truncated"):
        Recording.load(path)


def test_a_corrupt_record_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    record_echo(path, parents=1)
    lines = path.read_bytes().splitlines(keepends=True)
    broken = [*lines[:4], b'{"kind": "event", "type": \n', *lines[4:]]
    path.write_bytes(b"".join(broken))
    with pytest.raises(RecordingError, match=r"echo.jsonl line 5: not JSON"):
        Recording.load(path)
    path.write_bytes(b"".join([*lines[:2], b'{"kind": "sync", "sync": 1}\n', *lines[2:]]))
    with pytest.raises(RecordingError, match=r"line 3: a 'sync' record without 'namespace'"):
        Recording.load(path)
    path.write_bytes(b"".join(lines[1:]))
    with pytest.raises(RecordingError, match=r"line 1: the first record is not a header"):
        Recording.load(path)
    path.write_bytes(b"")
    with pytest.raises(RecordingError, match=r"empty \(no header\)"):
        Recording.load(path)


def test_a_change_of_content_alone_diverges(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    record_echo(path, parents=1)

    def louder(request: SyncRequest) -> SyncResponse:
        return ECHO.handler(attrs.evolve(request, parent={
            **request.parent, "spec": {**request.parent["spec"], "greeting": "HELLO"}}))

    divergence = replay(path, (ECHO.config, louder)).first_divergence
    assert divergence is not None and divergence.sync == 1 and divergence.what == "plan"
    # the same actions and reasons; the objects desired differ
    strip = [line.split(" (desired ")[0] for line in divergence.expected]
    assert strip == [line.split(" (desired ")[0] for line in divergence.got]
    assert divergence.expected != divergence.got


def test_a_recording_cut_off_replays_up_to_its_last_whole_sync(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    record_echo(path, parents=3)
    data = path.read_bytes()
    cut = data[: data.rindex(b'{"kind":"plan"') + 30]  # inside a plan record
    path.write_bytes(cut)
    recording = Recording.load(path, partial=True)
    assert recording.truncated
    ended = sum(r["kind"] == "done" for _, r in recording.records)
    result = assert_replays(recording, ECHO)
    assert result.syncs == ended


def test_the_file_is_written_while_the_operator_runs(tmp_path: Path) -> None:
    path = tmp_path / "echo.jsonl"
    sizes: list[int] = []

    async def main() -> None:
        async with FakeApiServer(clock=LoopClock(), seed=3) as server:
            await install_crd(server, crd_of(ECHO))
            user = InProcessClient(server, user="user")
            settings = RuntimeSettings(handler_threads=False, seed=1, record=str(path))
            operator = Operator(ECHO.config, ECHO.handler,
                                InProcessClient(server, user="kubeplan"),
                                settings=settings, clock=LoopClock())
            task = asyncio.create_task(operator.run())
            await operator.wait_synced()
            for i in range(30):
                await user.create(ECHO.config.parent, {
                    "apiVersion": ECHO.config.parent.api_version,
                    "kind": ECHO.config.parent.kind,
                    "metadata": {"name": f"e{i}", "namespace": "default"},
                    "spec": {"greeting": "hi", "replicas": 2}})
            await operator.settle(timeout=600)
            sizes.append(path.stat().st_size)  # before the stop: the buffer spilled
            await operator.stop()
            await task
            sizes.append(path.stat().st_size)

    run_virtual(main())
    assert 0 < sizes[0] < sizes[1]
    assert Recording.load(path).syncs > 30
