"""Every async test of the fake API server runs on virtual time.

The store's timestamps, watch timeouts, bookmarks and fault latency read a ``LoopClock``
(see ``apiserver_harness.new_server``): time moves when the loop is idle, or when a test
steps it with ``clock.advance``; nothing waits on the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from kubeplan.testkit.vtime import VirtualTimeLoop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], VirtualTimeLoop]]:
    return {"virtual": VirtualTimeLoop}
