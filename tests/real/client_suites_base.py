"""pytest plugin for ``client_suites.py``: the ``kubernetes.e2e_test`` helpers the suites
import.

With ``CLIENT_SUITES_KUBERNETES_CHECKOUT`` set, ``kubernetes.e2e_test`` and
``kubernetes.aio.e2e_test`` are that checkout's own folders (its ``base.py`` and test
modules), grafted onto the installed ``kubernetes`` package. Without it they are stand-ins
holding only what the wheel's dynamic-client tests call, ``base.get_e2e_configuration()``:
the client configuration read from ``KUBECONFIG``, or a skip when there is none (as
upstream's helper skips when it finds no cluster).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import types
import unittest
from pathlib import Path
from typing import Any

import pytest


def _package(name: str, path: list[str]) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = path
    module.__package__ = name
    sys.modules[name] = module
    parent, _, leaf = name.rpartition(".")
    setattr(sys.modules[parent], leaf, module)
    return module


def _kubeconfig() -> str:
    path = os.environ.get("KUBECONFIG", "")
    if not path or not Path(path).exists():
        raise unittest.SkipTest(f"no kubeconfig at KUBECONFIG={path!r}")
    return path


def _sync_configuration() -> Any:
    from kubernetes.client.configuration import Configuration
    from kubernetes.config import kube_config

    config = Configuration()
    kube_config.load_kube_config(config_file=_kubeconfig(), client_configuration=config)
    config.assert_hostname = False
    return config


def _async_configuration() -> Any:
    from kubernetes.aio.client.configuration import Configuration
    from kubernetes.aio.config import kube_config

    config = Configuration()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(kube_config.load_kube_config(
            config_file=_kubeconfig(), client_configuration=config))
    finally:
        loop.close()
    config.assert_hostname = False
    return config


def _install() -> None:
    import kubernetes
    import kubernetes.aio

    checkout = os.environ.get("CLIENT_SUITES_KUBERNETES_CHECKOUT")
    if checkout:
        root = Path(checkout) / "kubernetes"
        _package("kubernetes.e2e_test", [str(root / "e2e_test")])
        _package("kubernetes.aio.e2e_test", [str(root / "aio" / "e2e_test")])
        return
    if hasattr(kubernetes, "e2e_test"):
        return  # a kubernetes that ships its helpers: use them
    for name, make in (("kubernetes.e2e_test", _sync_configuration),
                       ("kubernetes.aio.e2e_test", _async_configuration)):
        package = _package(name, [])
        base = types.ModuleType(f"{name}.base")
        base.get_e2e_configuration = make  # type: ignore[attr-defined]
        sys.modules[base.__name__] = base
        package.base = base  # type: ignore[attr-defined]


_install()


def _test_id(report: pytest.TestReport | pytest.CollectReport) -> str:
    """``kubernetes/dynamic/test_client.py::TestDynamicClient::test_x``: the file from the
    package's or the checkout's root (a module outside pytest's rootdir, as an installed
    package's is, has no path in its node id), then the test's name."""
    location = getattr(report, "location", None)
    path = str(location[0]) if location else str(report.fspath)
    _, sep, tail = path.partition("site-packages/")
    root = os.environ.get("CLIENT_SUITES_ROOT", "")
    if sep:
        path = tail
    elif root and path.startswith(root.rstrip("/") + "/"):
        path = path[len(root.rstrip("/")) + 1:]
    _, sep, name = report.nodeid.partition("::")
    return f"{path}::{name}" if sep else path


def _record(report: pytest.TestReport | pytest.CollectReport, outcome: str) -> None:
    path = os.environ.get("CLIENT_SUITES_REPORT")
    if not path:
        return
    with open(path, "a") as out:
        out.write(json.dumps({"test": _test_id(report), "outcome": outcome}) + "\n")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One line per test phase to ``CLIENT_SUITES_REPORT``: the runner keeps the worst."""
    if report.failed:
        _record(report, "failed")
    elif report.skipped:
        _record(report, "skipped")
    elif report.when == "call":
        _record(report, "passed")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:  # a module that cannot be imported: its tests did not pass
        _record(report, "failed")
