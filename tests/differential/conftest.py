"""The differential suite's fixture (``differ``), its skip rule and its report.

Every test here needs both servers: it runs with ``--kube-apiserver=both`` (or
``real``; the fake is always at hand) and is skipped otherwise. At the end of the
session the agreement table and every difference are printed, and written as markdown
to ``$KUBEPLAN_DIFF_REPORT`` (default ``build/differential-report.md``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from diff_differ import Differ
from diff_report import COLLECTOR, collector_of

from kubeplan.testkit.endpoint import KubeEndpoint

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FINAL_TEST = "test_every_listed_difference_still_occurs"


def _ours(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().parent == HERE


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect: the areas' full test lists
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    collector = collector_of(config)
    both = config.getoption("--kube-apiserver", default="fake") in ("both", "real")
    skip = pytest.mark.skip(reason="the differential suite compares the fake with a real "
                                   "kube-apiserver: run pytest with --kube-apiserver=both")
    last = []
    for item in items:
        if not _ours(item):
            continue
        area = getattr(getattr(item, "module", None), "AREA", None)
        if area:
            collector.items[item.nodeid] = str(area)
        needs_servers = "differ" in getattr(item, "fixturenames", ()) or getattr(
            item, "originalname", item.name) == FINAL_TEST
        if needs_servers and not both:
            item.add_marker(skip)
        if getattr(item, "originalname", item.name) == FINAL_TEST:
            last.append(item)
    for item in last:  # the check of the list runs after every comparison
        items.remove(item)
        items.append(item)


@pytest.fixture
def differ(request: pytest.FixtureRequest, _fake_apiserver_process: KubeEndpoint,
           _real_apiserver_session: KubeEndpoint) -> Iterator[Differ]:
    """Both servers for one test of the differential suite (its module's ``AREA``)."""
    area = str(getattr(request.module, "AREA", request.module.__name__))
    collector = collector_of(request.config)
    differ = Differ(_fake_apiserver_process, _real_apiserver_session, area,
                    request.node.name, collector)
    try:
        yield differ
    finally:
        differ.cleanup()
    if differ.checked:
        collector.finished.add(request.node.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            exitstatus: int, config: pytest.Config) -> None:
    collector = config.stash.get(COLLECTOR, None)
    if collector is None or not collector.records:
        return
    terminalreporter.section("differential suite: fake against real kube-apiserver")
    for line in collector.terminal(every=config.getoption("verbose") > 0):
        terminalreporter.write_line(line)
    target = Path(os.environ.get("KUBEPLAN_DIFF_REPORT") or ROOT / "build" /
                  "differential-report.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(collector.markdown(), encoding="utf-8")
    terminalreporter.write_line(f"every occurrence is in {target}"
                                + ("" if config.getoption("verbose") > 0 else
                                   " (and here with -v)"))
