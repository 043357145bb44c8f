"""What a process that runs operators does: ``serve`` them until SIGTERM or SIGINT,
``run_operator`` (one operator, blocking: the process is its own), and
``burst_collector``, the garbage-collector steering of such a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from kubeplan.adapters.gctuning import FreezeWhileBusy
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import OperatorConfig

log = logging.getLogger(__name__)


async def serve(
    operators: list[Operator], *, install_signal_handlers: bool = True,
    collect_between_bursts: bool = False,
) -> None:
    """Run operators until SIGTERM/SIGINT (or until each has been stopped).

    ``collect_between_bursts``: the process is the operators' own, so the garbage collector
    may be steered for them (``gctuning.FreezeWhileBusy``, syncs as the measure of work):
    leave it False when embedding operators in a program of your own."""
    loop = asyncio.get_running_loop()
    collector = (loop.create_task(burst_collector(operators).run())
                 if collect_between_bursts else None)
    installed: list[signal.Signals] = []
    stopping: list[asyncio.Task[None]] = []

    def _stop() -> None:
        log.info("stopping %d operator(s)", len(operators))
        stopping.extend(loop.create_task(op.stop()) for op in operators)

    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, _stop)
                installed.append(sig)
    try:
        await asyncio.gather(*(op.run() for op in operators))
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if collector is not None:
            collector.cancel()


def burst_collector(operators: list[Operator]) -> FreezeWhileBusy:
    """The ``FreezeWhileBusy`` of a process that runs these operators: their syncs are the
    measure of work, a freeze every 500 (about 1,500 newly cached children in a burst)."""
    return FreezeWhileBusy(lambda: sum(op.syncs for op in operators), every=500)


def run_operator(
    config: OperatorConfig,
    handler: Any,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    settings: RuntimeSettings | None = None,
) -> None:
    """Run one operator until SIGTERM or Ctrl-C (blocking). Configuration comes from the
    kubeconfig (and context) when given, else in-cluster, else the default kubeconfig."""
    from kubeplan.adapters.client import KubeClient
    from kubeplan.adapters.gctuning import tune_gc

    tune_gc()  # run_operator owns the process

    async def main() -> None:
        client = await KubeClient.from_config(kubeconfig, context)
        operator = Operator(config, handler, client, settings=settings, owns_client=True)
        await serve([operator], collect_between_bursts=True)

    asyncio.run(main())
