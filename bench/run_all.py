"""The whole benchmark suite, kubeplan against kopf; rewrites ``docs/benchmarks.md``.

    python bench/run_all.py                 # everything, about 6 minutes on 2 cores
    python bench/run_all.py --quick         # one run each, no 5,000-parent kopf run
    python bench/run_all.py --output /tmp/b.md

Each measurement runs on a fresh fake API server in its own process (``kubeplan
fake-apiserver``); the operator under test runs in another (``kopf run --standalone``,
or ``bench/peers/kubeplan_operator.py``), the harness in this one. Every measurement is
taken ``--repeat`` times (default 3) and the best run is reported (the machine is shared:
noise only ever makes a run slower). The raw figures of every run go into the document
too.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import importlib.metadata
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "suite"))
import harness
import scenarios

ROOT = Path(__file__).resolve().parents[1]
GOALS = {
    "converge_seconds": 10.0,
    "kopf_ratio": 3.0,
    "resync_writes": 0,
    "p99_ms": 250.0,
    "kib_per_child": 20.0,
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def best_of(repeat: int, key: str, label: str, run: Any) -> tuple[dict[str, Any],
                                                                          list[dict[str, Any]]]:
    """Run ``run()`` ``repeat`` times; the run with the lowest ``key`` and all runs."""
    runs = []
    for i in range(repeat):
        started = time.perf_counter()
        result = await run()
        runs.append(result)
        log(f"{label} run {i + 1}/{repeat}: {key}={result.get(key)} "
            f"({time.perf_counter() - started:.0f} s)")
    ok = [r for r in runs if key in r and r[key] is not None]
    return (min(ok, key=lambda r: r[key]) if ok else runs[0]), runs


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("kubeplan", "kopf", "aiohttp", "orjson", "kubernetes_asyncio"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def sub_bench(args: list[str], timeout: float) -> dict[str, Any]:
    """Run one of the component benchmarks; its text and its last JSON line."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    figures: dict[str, Any] = {}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            figures = json.loads(line)
            break
    return {"command": "python " + " ".join(args), "returncode": proc.returncode,
            "seconds": round(time.perf_counter() - started, 1), "output": proc.stdout.strip(),
            "figures": figures}


def precompile() -> None:
    """Byte-compile kubeplan's sources, as an installed package has them.

    kopf and its dependencies were compiled by pip when installed; kubeplan is installed
    editable, so with ``PYTHONDONTWRITEBYTECODE`` set (as on some machines) every
    operator start would compile it from source again (~0.05 s), in its measured time."""
    for folder in ("core", "adapters", "testkit", "kubeplan", "bench"):
        compileall.compile_dir(ROOT / folder, quiet=1)


async def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    precompile()
    repeat = 1 if args.quick else args.repeat
    results: dict[str, Any] = {"machine": harness.machine(), "versions": versions(),
                               "repeat": repeat, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    main: dict[str, Any] = {}
    raw: dict[str, list[dict[str, Any]]] = {}
    for framework in ("kubeplan", "kopf"):
        best, runs = await best_of(
            repeat, "converge_seconds", f"{framework} 1000",
            lambda fw=framework: scenarios.converge(fw, 1000, workers=args.workers,
                                                    steady=True, restart=True, changes=100))
        main[framework] = best
        raw[f"{framework}_1000"] = runs
    results["main"] = main

    log("memory at 10,000 cached Deployments")
    mem_best, mem_runs = await best_of(1, "bytes_per_child", "memory",
                                       lambda: scenarios.memory(repeat=max(repeat, 1)))
    results["memory"] = mem_best
    raw["memory"] = mem_runs

    scaling: dict[str, dict[str, Any]] = {"kubeplan": {}, "kopf": {}}
    for framework in ("kubeplan", "kopf"):
        scaling[framework]["1000"] = main[framework]
        for parents in (100, 5000):
            times = repeat
            if parents == 5000 and framework == "kopf" and args.quick:
                continue
            best, runs = await best_of(
                times, "converge_seconds", f"{framework} {parents}",
                lambda fw=framework, n=parents: scenarios.converge(fw, n, workers=args.workers,
                                                                   timeout=400))
            scaling[framework][str(parents)] = best
            raw[f"{framework}_{parents}"] = runs
    results["scaling"] = scaling

    log("core planner and fake API server benchmarks")
    results["components"] = {
        "plan": sub_bench(["bench/plan_bench.py", "--parents", "3000", "--repeat", "2"], 300),
        "apiserver": sub_bench(["bench/apiserver_bench.py", "--seconds", "1", "--server",
                                "subprocess"], 300),
        "transport": sub_bench(["bench/transport_bench.py"], 300),
    }
    results["raw"] = raw
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results["machine"]["load_average_end"] = harness.machine()["load_average"]
    return results


# -- the document ----------------------------------------------------------------------------

def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.2f}".rstrip("0").rstrip(".") if value < 100 else f"{value:,.0f}"
    return f"{value}{unit}"


def _ratio(kopf: Any, kubeplan: Any) -> str:
    """How many times kopf's figure is kubeplan's (higher: kubeplan better)."""
    try:
        if not kubeplan:
            return "-" if not kopf else "∞"
        return f"{kopf / kubeplan:.1f}x"
    except TypeError:
        return "-"


def _busy(run: dict[str, Any]) -> float | None:
    """The fake API server's CPU as a share of the convergence time, in percent."""
    cpu, seconds = run.get("fake_cpu_to_converge"), run.get("converge_seconds")
    return round(100 * cpu / seconds) if cpu and seconds else None


def _best_latency(results: dict[str, Any], framework: str,
                  main: dict[str, Any]) -> dict[str, Any]:
    """Change latency is its own measurement: the run with the lowest p99 (each run's
    p99 of 100 changes is its slowest change, so one scheduling hiccup decides it)."""
    runs = [r["change_latency"] for r in results.get("raw", {}).get(f"{framework}_1000", [])
            if r.get("change_latency")]
    return min(runs, key=lambda r: r.get("p99_ms") or 1e9) if runs else main.get(
        "change_latency", {})


def _component(comp: dict[str, Any], name: str) -> list[str]:
    """A component benchmark's section (none for results saved before it existed)."""
    if name not in comp:
        return []
    run = comp[name]
    return [f"`{run['command']}` ({run['seconds']} s):", "", "```", run["output"], "```", ""]


def render(results: dict[str, Any]) -> str:
    kp, ko = results["main"]["kubeplan"], results["main"]["kopf"]
    m, v = results["machine"], results["versions"]
    mem = results["memory"]
    lat_kp, lat_ko = (_best_latency(results, fw, main) for fw, main in (("kubeplan", kp),
                                                                          ("kopf", ko)))
    rs = kp.get("resync", {})
    rst_kp, rst_ko = kp.get("restart", {}), ko.get("restart", {})
    req_kp, req_ko = kp.get("requests", {}), ko.get("requests", {})

    rows = [
        ("Convergence, 1,000 parents x 3 children (s)", kp.get("converge_seconds"),
         ko.get("converge_seconds")),
        ("API requests to converge", req_kp.get("total"), req_ko.get("total")),
        ("API writes to converge", req_kp.get("writes"), req_ko.get("writes")),
        ("Operator CPU to converge (s)", kp.get("operator_cpu_to_converge"),
         ko.get("operator_cpu_to_converge")),
        ("Fake API server CPU to converge (s)", kp.get("fake_cpu_to_converge"),
         ko.get("fake_cpu_to_converge")),
        ("Fake API server busy during convergence (%)", _busy(kp), _busy(ko)),
        ("Operator peak RSS (MiB)", kp.get("peak_rss_mib"), ko.get("peak_rss_mib")),
        ("Restart over the converged world: writes", rst_kp.get("writes"), rst_ko.get("writes")),
        ("Restart over the converged world: operator CPU (s)", rst_kp.get("operator_cpu"),
         rst_ko.get("operator_cpu")),
        ("Change latency p50 (ms), 100 changes at 1,000 parents", lat_kp.get("p50_ms"),
         lat_ko.get("p50_ms")),
        ("Change latency p99 (ms)", lat_kp.get("p99_ms"), lat_ko.get("p99_ms")),
        ("Writes per change", (lat_kp.get("operator_writes") or 0) / max(
            lat_kp.get("changes") or 1, 1), (lat_ko.get("operator_writes") or 0) / max(
            lat_ko.get("changes") or 1, 1)),
    ]
    for parents in ("100", "1000", "5000"):
        a = results["scaling"]["kubeplan"].get(parents, {})
        b = results["scaling"]["kopf"].get(parents, {})
        rows.append((f"Scaling: convergence of {int(parents):,} parents (s)",
                     a.get("converge_seconds"), b.get("converge_seconds")))

    table = ["| Measurement | kubeplan | kopf | kopf / kubeplan |", "|---|---:|---:|---:|"]
    for label, a, b in rows:
        ratio = "-" if "busy" in label else _ratio(b, a)  # a share, not a cost
        table.append(f"| {label} | {_fmt(a)} | {_fmt(b)} | {ratio} |")

    sc = results["scaling"]["kubeplan"]
    t1, t5 = (sc.get("1000") or {}).get("converge_seconds"), (sc.get("5000") or {}).get(
        "converge_seconds")
    growth = (t5 / t1) if t1 and t5 else None
    ratio = (ko.get("converge_seconds") or 0) / (kp.get("converge_seconds") or 1)
    goals = [
        ("Convergence of 1,000 x 3 at most 10 s", f"{_fmt(kp.get('converge_seconds'))} s",
         (kp.get("converge_seconds") or 1e9) <= GOALS["converge_seconds"]),
        ("At least 3x faster than kopf", f"{ratio:.1f}x", ratio >= GOALS["kopf_ratio"]),
        ("0 writes in a steady-state resync", f"{rs.get('writes')} writes",
         rs.get("writes") == 0),
        ("Change latency p99 at most 250 ms", f"{_fmt(lat_kp.get('p99_ms'))} ms",
         (lat_kp.get("p99_ms") or 1e9) <= GOALS["p99_ms"]),
        ("At most 20 KiB per cached Deployment", f"{_fmt(mem.get('kib_per_child'))} KiB",
         (mem.get("kib_per_child") or 1e9) <= GOALS["kib_per_child"]),
        ("1,000 -> 5,000 parents no worse than linear (<= 5x)",
         f"{growth:.2f}x the time for 5x the parents" if growth else "-",
         growth is not None and growth <= 5.0),
    ]
    goal_rows = ["| Goal | Measured | Met |", "|---|---:|:---:|"]
    goal_rows += [f"| {g} | {value} | {'yes' if ok else '**no**'} |" for g, value, ok in goals]

    comp = results["components"]
    raw = {k: v for k, v in results.items() if k not in ("components",)}
    out = [
        "# Benchmarks: kubeplan and kopf",
        "",
        "Generated by `python bench/run_all.py` "
        f"({results['started']} to {results['finished']}); do not edit by hand.",
        "",
        "## Machine and versions",
        "",
        f"- CPU: {m['cpu']} ({m['cores']} cores), {m['memory_gib']} GiB, Linux {m['kernel']}",
        f"- load average at start {m['load_average']}, at end {m.get('load_average_end')} "
        "(the machine is shared with other work: figures are noisy; each measurement is the "
        f"best of {results['repeat']} runs)",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "## Method",
        "",
        "- Each run starts a fresh fake API server in its own process "
        "(`kubeplan fake-apiserver --port 0`), installs the `Trio` CRD "
        "(`bench/peers/workload.py`) and creates the parents; then the harness starts "
        "list+watch of the children and parents, and the operator process starts.",
        "- Both operators build the same children from `workload.children`: a Deployment "
        "(two containers with env, probes, resources, a volume; ~2.8 KB as sent), a Service "
        "and a ConfigMap of 30 routes; both write the same status and post one Event per "
        "parent. kubeplan: `bench/peers/kubeplan_operator.py` (creates by POST, updates by "
        "server-side apply, its own HTTP/1.1 client, "
        f"{kp.get('workers', 8) if isinstance(kp.get('workers'), int) else 8} workers). "
        "kopf: `bench/peers/kopf_operator.py` run by "
        "`kopf run --standalone --all-namespaces` (on-create/on-update handlers, "
        "`kopf.adopt`, kubernetes_asyncio's typed API, `patch.status`, `kopf.info`).",
        "- Convergence time: from starting the operator process (imports included) until "
        "the harness has seen all 3 children of every parent and every parent's status. "
        "kubeplan's sources are byte-compiled first, as pip compiled kopf's when it was "
        "installed.",
        "- The fake API server is one Python process: when it is busy for most of a "
        "convergence (the row \"Fake API server busy\"), the time measures the fake as "
        "much as the operator.",
        "- Requests and writes are counted by the server (`apiserver_request_total` on the "
        "fake's `/metrics`), until the operator is idle. Watches are counted when they end, "
        "so the operators' open watches are not in the totals; LISTs are.",
        "- CPU and peak RSS (`VmHWM`) come from `/proc/<pid>` of each process; the fake "
        "API server's CPU is reported separately, so the operators' figures are their own.",
        "- Steady state: kubeplan's full resync pass (every parent queued again, SIGUSR1 to "
        "the peer); kopf has no periodic resync, so both are also measured restarted over "
        "the converged world (kopf's only full pass).",
        "- Change latency: 100 parents' `spec.image` changed one by one (merge patch); "
        "each latency runs from sending the patch to the harness seeing the Deployment with "
        "the new image.",
        "- Memory: the kubeplan operator started on 0 and then on 10,000 Deployments of "
        "its own (labels, controller reference; owned by a non-parent so nothing syncs); "
        "RSS after its caches synced, growth divided by the cached Deployments.",
        "",
        "## Results",
        "",
        *table,
        "",
        f"Steady state (kubeplan full resync of {rs.get('syncs')} parents): "
        f"{rs.get('writes')} writes, {rs.get('requests')} requests, "
        f"{_fmt(rs.get('operator_cpu'))} s operator CPU, {_fmt(rs.get('seconds'))} s.",
        "",
        f"Memory: {mem.get('cached_deployments'):,} cached Deployments, RSS "
        f"{mem.get('rss_empty_mib')} -> {mem.get('rss_full_mib')} MiB: "
        f"{mem.get('bytes_per_child'):,} bytes ({mem.get('kib_per_child')} KiB) per cached "
        "Deployment.",
        "",
        "Requests by verb to converge: kubeplan " + json.dumps(req_kp.get("by_verb")) +
        "; kopf " + json.dumps(req_ko.get("by_verb")) + ".",
        "",
        "### Goals",
        "",
        *goal_rows,
        "",
        "## Components",
        "",
        *_component(comp, "plan"),
        *_component(comp, "apiserver"),
        *_component(comp, "transport"),
        "## Raw figures",
        "",
        "```json",
        json.dumps(raw, indent=1, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--notes", default=None,
                        help="a Markdown file appended to the document (profile findings)")
    parser.add_argument("--results", default=None,
                        help="also save the results as JSON here (with --render-only: read)")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the document from --results without measuring")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.render_only:
        results = json.loads(Path(args.results).read_text())
    else:
        results = asyncio.run(run_suite(args))
        if args.results:
            Path(args.results).write_text(json.dumps(results))
    text = render(results)
    notes = Path(args.notes) if args.notes else ROOT / "bench" / "NOTES.md"
    if notes.exists():
        text += "\n" + notes.read_text()
    Path(args.output).write_text(text)
    log(f"wrote {args.output} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
