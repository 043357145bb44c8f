"""tune_gc raises the collector's thresholds for cache-heavy processes, never lowers them."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from kubeplan.adapters.gctuning import OLD_THRESHOLD, YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def restore_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_tune_gc_raises_the_thresholds_and_returns_the_old_ones(restore_thresholds: None) -> None:
    gc.set_threshold(700, 10, 10)
    assert tune_gc() == (700, 10, 10)
    young, middle, old = gc.get_threshold()
    assert young == YOUNG_THRESHOLD and middle > 10 and old == OLD_THRESHOLD


def test_tune_gc_keeps_a_higher_setting(restore_thresholds: None) -> None:
    gc.set_threshold(50_000, 100, 1000)
    tune_gc()
    assert gc.get_threshold() == (50_000, 100, 1000)
