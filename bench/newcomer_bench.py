"""How long ``check_operator``, with its defaults, takes to find each of the newcomer's
planted bugs (tests/testkit/bugs/newcomer_webapp.py), against the time it takes to pass
the same operator without the bug (the peer in the same run).

Each check runs in this process, one after another, with no settings and no options, as
the planted-bug tests call it; a failing scenario is saved in a temporary folder. The
goal (issue 17) is under 10 s of wall time for each bug on an idle machine; process CPU
time is printed beside it, since on a shared machine it moves less than wall time.

    python bench/newcomer_bench.py [--repeat 2]

Prints, per operator, the wall and CPU seconds of the repeats (best and worst: how soon
hypothesis draws the failing spec varies from run to run) and what the check found (the
violation's class and the shrunk scenario's length), then one JSON line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

BUGS_DIR = Path(__file__).resolve().parents[1] / "tests" / "testkit" / "bugs"
GOAL_S = 10.0


def timed_check(operator: Any) -> tuple[float, float, str]:
    """(wall s, CPU s, what was found) of one ``check_operator(operator)``."""
    from kubeplan.testkit import OperatorCheckFailed, check_operator

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        check_operator(operator)
        found = "passed"
    except OperatorCheckFailed as failure:
        found = f"{type(failure.violation).__name__} in {len(failure.scenario.steps)} step(s)"
    return time.perf_counter() - wall, time.process_time() - cpu, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(BUGS_DIR))
    os.environ.setdefault("KUBEPLAN_FAILURES_DIR", tempfile.mkdtemp(prefix="kubeplan-bench-"))
    import newcomer_webapp as webapp

    operators = [
        ("correct operator (peer)", webapp.fixed),
        ("a time-dependent annotation", webapp.stamped),
        ("a wall-clock read", webapp.wall_clock),
        ("invalid child names", webapp.invalid_names),
        ("a status counter", webapp.counter),
        ("unbounded replicas", webapp.unbounded_replicas),
    ]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), "
          f"load average {os.getloadavg()[0]:.1f}, best of {args.repeat}")
    print(f"  {'operator':30} {'wall s best/worst':>18} {'CPU s best/worst':>17}  found")
    figures: dict[str, dict[str, float | str]] = {}
    for name, operator in operators:
        runs = [timed_check(operator) for _ in range(args.repeat)]
        wall, worst_wall = min(r[0] for r in runs), max(r[0] for r in runs)
        cpu, worst_cpu = min(r[1] for r in runs), max(r[1] for r in runs)
        found = next((r[2] for r in runs if r[2] != "passed"), "passed")
        missed = sum(r[2] == "passed" for r in runs)
        if missed > 0 and not name.startswith("correct"):  # a random search can miss
            found += f"; missed in {missed} of {len(runs)}"
        figures[name] = {"wall_s": round(wall, 2), "worst_wall_s": round(worst_wall, 2),
                         "cpu_s": round(cpu, 2), "worst_cpu_s": round(worst_cpu, 2),
                         "found": found}
        print(f"  {name:30} {wall:8.2f} /{worst_wall:8.2f} {cpu:7.2f} /{worst_cpu:7.2f}  "
              f"{found}")
    bugs = [f for name, f in figures.items() if not name.startswith("correct")]
    slowest = max(float(f["worst_wall_s"]) for f in bugs)
    peer = float(figures["correct operator (peer)"]["wall_s"])
    print(f"slowest bug found in {slowest:.2f} s at worst (goal <= {GOAL_S:.0f} s); "
          f"the correct operator's passing check took {peer:.2f} s")
    print(orjson.dumps({"figures": figures, "slowest_bug_wall_s": slowest,
                        "peer_wall_s": peer}).decode())


if __name__ == "__main__":
    main()
