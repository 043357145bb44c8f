"""The daemon threads synchronous handlers run in."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from kubeplan.adapters.threads import DaemonThreadPool


def test_results_and_exceptions_reach_the_caller() -> None:
    pool = DaemonThreadPool(2)
    assert pool.submit(lambda a, b: a + b, 2, b=3).result(timeout=5) == 5

    def fails() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        pool.submit(fails).result(timeout=5)
    pool.shutdown()


def test_threads_are_daemons_started_only_as_needed_and_capped() -> None:
    pool = DaemonThreadPool(2)
    for _ in range(5):  # one after another: the idle thread takes each
        pool.submit(lambda: None).result(timeout=5)
    assert pool.threads == 1
    release = threading.Event()
    held = [pool.submit(release.wait, 5) for _ in range(4)]
    assert pool.threads == 2  # the cap: two more wait for a free thread
    assert all(thread.daemon for thread in threading.enumerate()
               if thread.name.startswith("kubeplan-handler"))
    release.set()
    assert [future.result(timeout=5) for future in held] == [True] * 4
    pool.shutdown()


def test_shutdown_can_cancel_what_has_not_started() -> None:
    pool = DaemonThreadPool(1)
    release = threading.Event()
    running = pool.submit(release.wait, 5)
    queued = pool.submit(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(lambda: None)
    release.set()
    assert running.result(timeout=5) is True


def test_a_stuck_call_does_not_keep_the_process_alive() -> None:
    """A ThreadPoolExecutor joins its threads at exit; a handler that never returns
    would hold a stopped operator's process forever."""
    program = textwrap.dedent("""
        import threading
        from kubeplan.adapters.threads import DaemonThreadPool
        pool = DaemonThreadPool(1)
        started = threading.Event()
        pool.submit(lambda: (started.set(), threading.Event().wait()))
        started.wait(5)
        pool.shutdown(wait=False, cancel_futures=True)
        print("exiting")
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "exiting"), done.stderr


def test_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="max_threads must be at least 1, not 0"):
        DaemonThreadPool(0)
