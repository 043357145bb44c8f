"""The ``differ`` fixture's object: both servers, seen by one test."""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Sequence

import pytest
from diff_engine import AnyStep, Client, compare_runs, run_both
from diff_report import Collector, SequenceRecord, format_unlisted

from kubeplan.testkit.endpoint import KubeEndpoint


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


class Differ:
    """One test's access to both servers: fresh namespaces with the same name on both,
    and :meth:`check`, which runs a sequence on both and fails on an unlisted
    difference."""

    def __init__(self, fake: KubeEndpoint, real: KubeEndpoint, area: str, name: str,
                 collector: Collector) -> None:
        self.fake = fake
        self.real = real
        self.area = area
        self.name = name
        self.collector = collector
        self.namespaces: list[str] = []
        self.checked = 0
        self.namespace = self.fresh_namespace()

    def fresh_namespace(self, wait_for_service_account: bool = False) -> str:
        """A namespace made on both servers (``d-<test>-<hex>``), removed after the test.

        ``wait_for_service_account``: wait until the real server's controller made the
        ``default`` ServiceAccount (pods are refused before; the fake needs none)."""
        base = _slug(self.name.removeprefix("test_"))[:28].strip("-")
        name = f"d-{base}-{secrets.token_hex(3)}"
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for endpoint in (self.fake, self.real):
            endpoint.request("POST", "/api/v1/namespaces", body)
        self.namespaces.append(name)
        if wait_for_service_account:
            self.wait_for_service_account(name)
        return name

    def wait_for_service_account(self, namespace: str | None = None) -> None:
        """Until the real server's controller made ``default`` in the namespace."""
        name = namespace or self.namespace
        client = Client(self.real)
        deadline = time.monotonic() + 60
        while client.call("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default"
                          )["code"] != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"no default ServiceAccount in {name} on the real server "
                            "after 60 s")
            time.sleep(0.2)

    def check(self, steps: Sequence[AnyStep], *, sequence: str | None = None,
              namespace: str | None = None) -> SequenceRecord:
        """Run ``steps`` on both servers, compare, record; fail on unlisted differences."""
        namespace = namespace or self.namespace
        name = self.name if sequence is None else f"{self.name}/{sequence}"
        fake_run, real_run = run_both(self.fake, self.real, steps, namespace)
        record = self.collector.add(self.area, name, compare_runs(steps, fake_run, real_run))
        self.checked += 1
        unlisted = record.unlisted()
        if unlisted:
            raise AssertionError(format_unlisted(unlisted))
        return record

    def cleanup(self) -> None:
        for name in self.namespaces:
            for endpoint in (self.fake, self.real):
                with contextlib.suppress(Exception):
                    endpoint.request("DELETE", f"/api/v1/namespaces/{name}",
                                     expect=(200, 202, 404))
