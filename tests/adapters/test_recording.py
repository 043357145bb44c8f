"""The Recorder alone: streaming with a bounded buffer, flushed after a sync once its
interval has passed, never failing the operator when the disk does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from kubeplan.adapters.recording import Recorder
from kubeplan.core.config import OperatorConfig
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest


class ManualClock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.seconds)

    def monotonic(self) -> float:
        return self.seconds

    async def sleep(self, seconds: float) -> None:
        self.seconds += seconds


CONFIG = OperatorConfig("cm", core_v1.ConfigMap)


def _request(clock: ManualClock) -> SyncRequest:
    return SyncRequest(parent={"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "a", "namespace": "default"}},
                       now=clock.now())


def test_records_reach_the_file_after_a_sync_once_the_interval_passed(tmp_path: Path) -> None:
    path, clock = tmp_path / "r.jsonl", ManualClock()
    recorder = Recorder(path, buffer_size=1 << 20, flush_interval=1.0)
    recorder.start(CONFIG, clock)
    recorder.sync_started(1, ("default", "a"), _request(clock))
    recorder.synced(1, ("default", "a"), "ok")
    assert path.read_bytes() == b""  # buffered: less than a second passed
    clock.seconds = 1.5
    recorder.sync_started(2, ("default", "a"), _request(clock))
    recorder.synced(2, ("default", "a"), "ok")
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [r["kind"] for r in records] == ["header", "sync", "done", "sync", "done"]
    assert records[3]["t"] == 1_500_000 and records[3]["now"] == "2026-01-01T00:00:01.500000+00:00"
    recorder.close()
    recorder.close()  # idempotent


def test_a_file_that_cannot_be_opened_ends_the_recording_not_the_operator(
        tmp_path: Path, caplog) -> None:
    recorder = Recorder(tmp_path / "missing" / "r.jsonl")
    recorder.start(CONFIG, ManualClock())
    assert not recorder.active
    recorder.sync_started(1, ("default", "a"), _request(ManualClock()))  # nothing raised
    recorder.close()
    assert "recording to" in caplog.text and "stopped" in caplog.text
