"""Size and replay time of a recording (``kubeplan run --record``) of N parents.

The echo-server example runs on the in-process fake API server in virtual time: N
EchoServers (2 Pods and a Service each) are created and settle, then every greeting
changes (each Pod is recreated) and they settle again. The same run is made twice, with
and without recording, so the recording's cost shows against the run it records; then
the recording is replayed (``kubeplan.testkit.replay``) and its plans compared.

    python bench/record_bench.py [--parents 100] [--keep FILE] [--live]

Prints the recording's size (raw and gzipped, per parent), its records by kind, the
process time of the run with and without recording, and the replay's time.

``--live`` records ``kubeplan run --embedded --record`` instead: the operator in a
process of its own on the wall clock (HTTP, handler threads, 4 workers), the same
parents and changes made through the HTTP face, stopped by SIGTERM; the recording is
then replayed the same way (no run without recording to compare with).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gzip
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import orjson

from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import crd_of
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.replay import Recording, replay
from kubeplan.testkit.simulation import install_crd
from kubeplan.testkit.vtime import LoopClock, run_virtual

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "echo-server"))

import echo_server_operator as echo  # noqa: E402


async def _run(parents: int, record: Path | None) -> int:
    settings = RuntimeSettings(workers=4, handler_threads=False, seed=1,
                               record=str(record) if record else None)
    async with FakeApiServer(clock=LoopClock(), seed=3) as server:
        await install_crd(server, crd_of(echo.operator))
        user = InProcessClient(server, user="user")
        operator = Operator(echo.config, echo.sync, InProcessClient(server, user="kubeplan"),
                            settings=settings, clock=LoopClock())
        task = asyncio.create_task(operator.run())
        await operator.wait_synced()
        for i in range(parents):
            await user.create(echo.EchoServer, {
                "apiVersion": echo.EchoServer.api_version, "kind": echo.EchoServer.kind,
                "metadata": {"name": f"echo-{i}", "namespace": "default"},
                "spec": {"greeting": "hello", "replicas": 2}})
        await operator.settle(timeout=3600)
        for i in range(parents):
            obj = await user.get(echo.EchoServer, f"echo-{i}", "default")
            obj["spec"]["greeting"] = "bonjour"
            await user.replace(echo.EchoServer, obj)
        await operator.settle(timeout=3600)
        await operator.stop()
        await task
        return operator.syncs


async def _live(parents: int, record: Path) -> int:
    """The run of ``_run`` through ``kubeplan run --embedded --record``; the syncs."""
    from kubeplan.adapters.client import KubeClient
    from kubeplan.core.k8s import core_v1

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubeplan.cli", "run",
        "examples/echo-server/echo_server_operator.py:operator", "--embedded",
        "--record", str(record), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={**os.environ, "NO_PROXY": "127.0.0.1"})
    assert proc.stdout is not None
    while not (line := (await proc.stdout.readline()).decode()).startswith("kubeconfig: "):
        if not line:
            raise SystemExit(f"kubeplan run exited: {await proc.wait()}")
    client = await KubeClient.from_kubeconfig(line.split(": ", 1)[1].strip())
    try:
        async def settled(pods: int, greeting: str) -> None:
            while True:
                items = (await client.list(core_v1.Pod, "default"))["items"]
                if len(items) == pods and all(
                        f"-text={greeting}" in p["spec"]["containers"][0]["args"]
                        for p in items):
                    return
                await asyncio.sleep(0.2)

        for i in range(parents):
            await client.create(echo.EchoServer, {
                "apiVersion": echo.EchoServer.api_version, "kind": echo.EchoServer.kind,
                "metadata": {"name": f"echo-{i}", "namespace": "default"},
                "spec": {"greeting": "hello", "replicas": 2}})
        await settled(2 * parents, "hello")
        for i in range(parents):
            obj = await client.get(echo.EchoServer, f"echo-{i}", "default")
            obj["spec"]["greeting"] = "bonjour"
            await client.replace(echo.EchoServer, obj)
        await settled(2 * parents, "bonjour")
        await asyncio.sleep(2)  # the last status writes
    finally:
        await client.close()
        proc.send_signal(signal.SIGTERM)
        await proc.stdout.read()
        await proc.wait()
    return sum(1 for line in record.read_bytes().splitlines() if b'"kind":"sync"' in line)


def _timed(parents: int, record: Path | None) -> tuple[int, float]:
    started = time.process_time()
    syncs = run_virtual(_run(parents, record))
    return syncs, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parents", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="write the recording here (else a temp file)")
    parser.add_argument("--live", action="store_true",
                        help="record kubeplan run --embedded on the wall clock instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "echo.jsonl"
        if args.live:
            syncs_plain, plain = 0, 0.0
            syncs, recorded = asyncio.run(_live(args.parents, path)), 0.0
        else:
            _timed(2, None)  # warm-up: imports, the CRD's schema
            syncs_plain, plain = _timed(args.parents, None)
            syncs, recorded = _timed(args.parents, path)
        data = path.read_bytes()
        kinds = collections.Counter(orjson.loads(line)["kind"] for line in data.splitlines())
        started = time.process_time()
        recording = Recording.load(path)
        loaded = time.process_time() - started
        started = time.process_time()
        result = replay(recording, echo.operator)
        replayed = time.process_time() - started
    size, zipped = len(data), len(gzip.compress(data))
    where = ("kubeplan run --embedded on the wall clock, HTTP" if args.live
             else "in virtual time, in-process fake")
    print(f"echo-server, {args.parents} parents (2 Pods and a Service each), created, "
          f"settled, every greeting changed, settled; {where}")
    print(f"  syncs: {syncs} recorded" + ("" if args.live else
                                          f" ({syncs_plain} in the run without recording)"))
    print(f"  recording: {size:,} bytes ({size / args.parents:,.0f} per parent), "
          f"{zipped:,} gzipped ({zipped / args.parents:,.0f} per parent)")
    print("  records: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())))
    if not args.live:
        print(f"  run without recording: {plain:.2f} s process time; with recording: "
              f"{recorded:.2f} s (+{(recorded - plain) / plain:.0%})")
    verdict = f"diverged: {result}" if result.diverged else "every plan the same"
    print(f"  replay: {replayed:.2f} s process time, plus {loaded:.2f} s loading the file, for "
          f"{result.syncs} syncs: {verdict}")


if __name__ == "__main__":
    main()
