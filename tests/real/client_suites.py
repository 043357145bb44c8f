"""Other clients' own end-to-end suites, run unchanged against the fake and the real server.

Three suites, found where they can be had:

- ``kubernetes-wheel``: the dynamic client's e2e tests that the ``kubernetes`` wheel (and
  sdist) from PyPI ships inside the package (``kubernetes.dynamic.test_client``, ...). They
  import ``kubernetes.e2e_test.base``, which neither the wheel nor the sdist ships; the
  plugin ``client_suites_base`` supplies that one helper (a kubeconfig read into a client
  ``Configuration``) and nothing else. Nothing is downloaded: it is the installed package.
- ``kubernetes-e2e``: ``kubernetes/e2e_test`` and ``kubernetes/aio/e2e_test`` of the
  kubernetes-client/python repository at ``KUBERNETES_COMMIT``; neither PyPI archive ships
  them, so they need a checkout given with ``--checkout kubernetes=DIR``.
- ``lightkube-e2e``: ``e2e-tests/`` of gtsystem/lightkube at ``LIGHTKUBE_COMMIT``; not in
  lightkube's sdist or wheel either: ``--checkout lightkube=DIR``.

Each suite runs in a pytest of its own (``KUBECONFIG`` pointing at the server, a
per-test time limit from pytest-timeout, a line per test phase written by the plugin), and
the outcome of every test is read back: ``passed``, ``failed`` or ``skipped``. Run from
the checkout::

    python tests/real/client_suites.py --server both --checkout lightkube=DIR

prints one line per test and server, then the table per suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the upstream commits whose e2e suites were run (neither ships in a PyPI archive)
KUBERNETES_COMMIT = "024658493d124f046fc0a9827a2a3165cf2aee28"
LIGHTKUBE_COMMIT = "2f41260dc98af0cd3f62a526539a72cd8289af73"
OUTCOMES = ("passed", "failed", "skipped")


@dataclass(frozen=True)
class Suite:
    name: str
    #: pytest arguments (module names with ``--pyargs``, or paths in a checkout)
    args: tuple[str, ...]
    #: folder the suite runs in (a checkout), or None for the installed package
    folder: Path | None = None


def wheel_suite() -> Suite:
    return Suite("kubernetes-wheel", (
        "--pyargs",
        "kubernetes.dynamic.test_client",
        "kubernetes.dynamic.test_discovery",
        "kubernetes.aio.dynamic.client_test",
        "kubernetes.aio.dynamic.discovery_test",
    ))


def checkout_suite(name: str, folder: Path) -> Suite:
    if not folder.is_dir():
        raise SystemExit(f"--checkout {name}={folder}: no such folder")
    if name == "kubernetes":
        paths = ("kubernetes/e2e_test", "kubernetes/aio/e2e_test")
    elif name == "lightkube":
        paths = ("e2e-tests",)
    else:
        raise SystemExit(f"--checkout {name}=...: the suites are 'kubernetes' and 'lightkube'")
    for path in paths:
        if not (folder / path).is_dir():
            raise SystemExit(f"--checkout {name}={folder}: it has no {path}/")
    return Suite(f"{name}-e2e", tuple(str(folder / path) for path in paths), folder)


def run_suite(suite: Suite, kubeconfig: Path, *, timeout: float = 30.0) -> dict[str, str]:
    """Run one suite against the server of ``kubeconfig``: test id -> outcome."""
    with tempfile.TemporaryDirectory(prefix="client-suite-") as tmp:
        report = Path(tmp) / "outcomes.jsonl"
        report.touch()
        ini = Path(tmp) / "pytest.ini"
        # the suite's own settings, not kubeplan's (asyncio in strict mode, as upstream)
        ini.write_text("[pytest]\nasyncio_mode = strict\n"
                       "asyncio_default_fixture_loop_scope = function\n")
        env = dict(os.environ, KUBECONFIG=str(kubeconfig), CLIENT_SUITES_REPORT=str(report),
                   PYTHONPATH=os.pathsep.join(filter(None, [
                       str(HERE), os.environ.get("PYTHONPATH", "")])))
        if suite.folder is not None:
            env["CLIENT_SUITES_ROOT"] = str(suite.folder)
        if suite.folder is not None and suite.name == "kubernetes-e2e":
            env["CLIENT_SUITES_KUBERNETES_CHECKOUT"] = str(suite.folder)
        cmd = [sys.executable, "-m", "pytest", "-q", "-c", str(ini),
               "--rootdir", str(suite.folder or tmp), "-p", "no:cacheprovider",
               "-p", "no:kubeplan", "-p", "client_suites_base",
               f"--timeout={timeout:g}",
               *suite.args]
        log = Path(tmp) / "pytest.log"
        with open(log, "w") as out:
            # not in the checkout: its own ``kubernetes`` source must not shadow the wheel
            subprocess.run(cmd, cwd=tmp, env=env, check=False,
                           stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        outcomes = read_outcomes(report)
        if not outcomes:
            raise RuntimeError(f"suite {suite.name} wrote no report: {' '.join(cmd)}\n"
                               f"{log.read_text(errors='replace')[-2000:]}")
        return outcomes


def read_outcomes(report: Path) -> dict[str, str]:
    """The plugin's lines, one per test phase: a test's worst phase is its outcome."""
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    outcomes: dict[str, str] = {}
    for line in report.read_text().splitlines():
        entry = json.loads(line)
        test, outcome = entry["test"], entry["outcome"]
        if rank[outcome] >= rank.get(outcomes.get(test, "passed"), 0):
            outcomes[test] = outcome
    return outcomes


@contextlib.contextmanager
def server(kind: str, folder: Path) -> Iterator[Path]:
    """A fresh fake (the ``kubeplan fake-apiserver`` process, plain HTTP) or a real
    control plane: its kubeconfig."""
    if kind == "fake":
        from kubeplan.testkit.processes import FakeApiServerProcess

        with FakeApiServerProcess(folder / "kubeconfig") as process:
            yield process.kubeconfig
    elif kind == "real":
        from kubeplan.testkit.realkube import RealKubeApiServer, ensure_assets

        with RealKubeApiServer(ensure_assets()) as real:
            yield real.endpoint().kubeconfig
    else:
        raise SystemExit(f"--server {kind}: fake, real or both")


def run_all(suites: Sequence[Suite], kinds: Sequence[str], *, timeout: float = 30.0
            ) -> dict[str, dict[str, dict[str, str]]]:
    """suite -> server -> test -> outcome, each server started once for all suites."""
    results: dict[str, dict[str, dict[str, str]]] = {s.name: {} for s in suites}
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix=f"client-suites-{kind}-") as tmp, \
                server(kind, Path(tmp)) as kubeconfig:
            for suite in suites:
                results[suite.name][kind] = run_suite(suite, kubeconfig, timeout=timeout)
    return results


def fake_only_failures(by_server: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The tests that fail on the fake but not on the real server."""
    fake, real = by_server["fake"], by_server["real"]
    return sorted(test for test, outcome in fake.items()
                  if outcome == "failed" and real.get(test) != "failed")


def table(results: Mapping[str, Mapping[str, Mapping[str, str]]]) -> str:
    lines = ["| suite | tests | " + " | ".join(
        f"{kind} {' / '.join(OUTCOMES)}" for kind in ("fake", "real")) + " |",
        "|---|---|---|---|"]
    for name, by_server in results.items():
        tests = set().union(*(set(r) for r in by_server.values())) if by_server else set()
        cells = []
        for kind in ("fake", "real"):
            got = by_server.get(kind)
            cells.append("-" if got is None else " / ".join(
                str(sum(1 for o in got.values() if o == outcome)) for outcome in OUTCOMES))
        lines.append(f"| {name} | {len(tests)} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="both", choices=("fake", "real", "both"))
    parser.add_argument("--checkout", action="append", default=[], metavar="NAME=DIR",
                        help="a checkout of kubernetes-client/python (kubernetes=DIR) or "
                             "gtsystem/lightkube (lightkube=DIR) whose e2e suite to run too")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one test may take (default 30)")
    args = parser.parse_args(argv)
    suites = [wheel_suite()]
    for item in args.checkout:
        name, sep, folder = item.partition("=")
        if not sep:
            parser.error(f"--checkout {item}: give NAME=DIR")
        suites.append(checkout_suite(name, Path(folder).resolve()))
    kinds = ["fake", "real"] if args.server == "both" else [args.server]
    results = run_all(suites, kinds, timeout=args.timeout)
    for name, by_server in results.items():
        tests = sorted(set().union(*(set(r) for r in by_server.values())))
        for test in tests:
            row = "  ".join(f"{kind}={by_server[kind].get(test, '-'):7}" for kind in kinds)
            print(f"{name}  {row}  {test}")
    print(table(results))
    bad = {name: fake_only_failures(r) for name, r in results.items() if len(r) == 2}
    for name, tests in bad.items():
        for test in tests:
            print(f"FAKE ONLY: {name} {test}")
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
