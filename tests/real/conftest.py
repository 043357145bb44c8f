"""Shared by the tests that run on the real kube-apiserver (or on either server)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("no kubectl on PATH")
    return path
