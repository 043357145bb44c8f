"""Shared by the tests that run on the real kube-apiserver (or on either server)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import E2E, world

from kubeplan.testkit.endpoint import KubeEndpoint


@pytest.fixture
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("no kubectl on PATH")
    return path


@pytest.fixture
def e2e(kube_apiserver: KubeEndpoint, tmp_path: Path) -> Iterator[E2E]:
    """The chosen server (fake or real) with the test's operators and leftovers: the
    operators are stopped by pid and what the test made is removed afterwards."""
    with world(kube_apiserver, tmp_path) as e2e:
        yield e2e


@pytest.fixture
def real_e2e(real_kube_apiserver: KubeEndpoint, tmp_path: Path) -> Iterator[E2E]:
    """As ``e2e``, on the real kube-apiserver only."""
    with world(real_kube_apiserver, tmp_path) as e2e:
        yield e2e
