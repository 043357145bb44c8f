"""Instructions per request of the fake API server, this tree against another one.

``apiserver_bench.py`` measures requests per second, which on a shared two-core machine
wander by 10-30% from one run to the next (the host's load, the garbage collector's
timing): too much to tell whether a change cost 5%. This counts the CPU instructions
instead, with valgrind's cachegrind, which gives the same figure every run. The
workload is the benchmark's in-process rows (``server.client()``, ten concurrent
workers on ConfigMaps; its own operations, imported) and its watch row (an event
written in process, delivered to an HTTP watch, read by aiohttp). Each figure is the
difference between two runs of ``--ops`` and ``3 * --ops`` operations divided by
``2 * --ops``, so start-up and imports cancel out.
The garbage collector is off: its share depends on when it happens to run, not on the
code measured (``apiserver_bench.py`` keeps it).

    python bench/apiserver_instructions.py                          # this tree
    python bench/apiserver_instructions.py --baseline /tmp/old/imp  # and a peer

``--baseline`` is a folder that makes another kubeplan importable (a ``git archive`` of
an older commit, ``kubeplan/`` with ``core``, ``adapters`` and ``testkit`` inside it);
both trees are counted in the same run and the ratio printed. Needs ``valgrind``
(``apt-get install valgrind``); each figure takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OPS = ("GET", "create", "merge patch", "server-side apply", "watch")

#: one run of the workload: ``apiserver_bench.py``'s own in-process operations and watch,
#: imported from this folder, so it runs against either tree's kubeplan unchanged
WORKLOAD = '''
import asyncio, gc, itertools, sys
gc.disable()
sys.path.insert(0, sys.argv[3])
import aiohttp
from apiserver_bench import CONFIGMAP, NS, configmap, inproc_ops, watch_time, watch_writer
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.http import FakeApiHttpServer

async def main(op, count):
    async with FakeApiServer() as server:
        client = server.client()
        for name in ("bench-get", "bench-patch"):
            await client.create(CONFIGMAP, configmap(name), namespace=NS)
        for i in range(1000):  # a store that is not empty
            await client.create(CONFIGMAP, configmap(f"seed-{i}"), namespace=NS)
        if op == "watch":  # events written in process, read by an HTTP watch
            http = FakeApiHttpServer(server)
            url = await http.start()
            async with aiohttp.ClientSession(base_url=url) as session:
                await watch_time(session, watch_writer(client, "ir"), count)
            await http.stop()
        else:
            run = inproc_ops(client, "ir")[op]
            counter = itertools.count()
            async def worker():
                while (i := next(counter)) < count:
                    await run(i)
            await asyncio.gather(*(worker() for _ in range(10)))
        await client.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
'''


def instructions(script: Path, op: str, count: int, pythonpath: str | None) -> int:
    """Instructions cachegrind counts for one run of the workload."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, str(script), op, str(count), str(BENCH)],
        env=env, capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the workload failed ({op}, {count}): {done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_op(script: Path, op: str, ops: int, pythonpath: str | None) -> float:
    low = instructions(script, op, ops, pythonpath)
    high = instructions(script, op, 3 * ops, pythonpath)
    return (high - low) / (2 * ops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a folder on PYTHONPATH that holds another kubeplan")
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--only", choices=OPS, action="append", help="these operations only")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="kubeplan-ir-") as folder:
        script = Path(folder) / "workload.py"
        script.write_text(WORKLOAD)
        print(f"instructions per in-process request or watch event (10 workers, ConfigMaps, "
              f"gc off; {args.ops} and {3 * args.ops} operations)")
        header = f"  {'operation':<20}{'this tree':>14}"
        if args.baseline:
            header += f"{'baseline':>14}{'this/baseline':>15}"
        print(header)
        for op in args.only or OPS:
            mine = per_op(script, op, args.ops, None)
            line = f"  {op:<20}{mine:>14,.0f}"
            if args.baseline:
                theirs = per_op(script, op, args.ops, args.baseline)
                line += f"{theirs:>14,.0f}{mine / theirs:>15.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
