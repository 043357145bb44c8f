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


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_freeze_while_busy_freezes_in_a_burst_and_collects_once_idle() -> None:
    import gc
    import weakref

    from kubeplan.adapters.gctuning import FreezeWhileBusy

    now, work = [0.0], [0]
    collector = FreezeWhileBusy(lambda: work[0], every=100, idle=2.0, clock=lambda: now[0])
    cycle = _Cycle()
    alive = weakref.ref(cycle)
    try:
        work[0] = 99
        collector.step()
        assert collector.freezes == 0 and gc.get_freeze_count() == 0
        work[0] = 150
        collector.step()  # a burst: everything alive now is out of the collector's way
        assert collector.freezes == 1 and gc.get_freeze_count() > 0
        del cycle  # frozen while alive: no collection can reclaim it yet
        gc.collect()
        assert alive() is not None
        now[0] = 1.0
        collector.step()  # quiet for 1 s: not yet idle
        assert collector.thaws == 0
        now[0] = 2.5
        collector.step()  # quiet for 2.5 s: thawed and collected
        assert collector.thaws == 1 and gc.get_freeze_count() == 0
        assert alive() is None
        work[0] = 200
        collector.step()  # 50 more since the thaw: below the next mark
        assert collector.freezes == 1
    finally:
        gc.unfreeze()
