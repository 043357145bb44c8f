"""Virtual time: long waits are instant, ordered, deterministic; threads and real I/O still work."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from kubeplan.testkit.vtime import (
    EPOCH,
    LoopClock,
    VirtualTimeLoop,
    VirtualTimeLoopPolicy,
    run_virtual,
    virtual_time,
)


class TestVirtualTimeLoop:
    def test_an_hour_of_sleep_takes_no_real_time(self) -> None:
        async def main() -> float:
            loop = asyncio.get_running_loop()
            before = loop.time()
            await asyncio.sleep(3600)
            return loop.time() - before

        started = time.monotonic()
        elapsed_virtual = run_virtual(main())
        assert time.monotonic() - started < 1.0
        assert elapsed_virtual == pytest.approx(3600)

    def test_timers_fire_in_virtual_order_at_their_times(self) -> None:
        async def main() -> list[tuple[str, float]]:
            loop = asyncio.get_running_loop()
            fired: list[tuple[str, float]] = []
            done = loop.create_future()
            for name, delay in [("c", 30.0), ("a", 0.5), ("d", 86400.0 * 3), ("b", 10.0)]:
                loop.call_later(delay, lambda n=name: fired.append((n, loop.time())))
            loop.call_later(86400.0 * 4, done.set_result, None)
            await done
            return fired

        fired = run_virtual(main())
        assert [name for name, _ in fired] == ["a", "b", "c", "d"]
        assert [t for _, t in fired] == pytest.approx([0.5, 10.0, 30.0, 259200.0])

    def test_start_sets_the_initial_time(self) -> None:
        async def main() -> float:
            await asyncio.sleep(5)
            return asyncio.get_running_loop().time()

        assert run_virtual(main(), start=100.0) == pytest.approx(105.0)

    def test_wait_for_times_out_in_virtual_time(self) -> None:
        async def main() -> float:
            loop = asyncio.get_running_loop()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(asyncio.sleep(1000), timeout=60)
            return loop.time()

        assert run_virtual(main()) == pytest.approx(60)

    def test_asyncio_timeout_fires_in_virtual_time(self) -> None:
        async def main() -> float:
            loop = asyncio.get_running_loop()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(7.5):
                    await asyncio.Event().wait()
            return loop.time()

        assert run_virtual(main()) == pytest.approx(7.5)

    def test_call_soon_threadsafe_from_a_thread_wakes_the_loop(self) -> None:
        async def main() -> tuple[str, float]:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[str] = loop.create_future()

            def worker() -> None:
                time.sleep(0.05)
                loop.call_soon_threadsafe(future.set_result, "from thread")

            threading.Thread(target=worker).start()
            # Nothing is scheduled: the loop must block on real I/O, not spin or jump.
            return await future, loop.time()

        result, at = run_virtual(main())
        assert result == "from thread"
        assert at == 0.0

    def test_executor_threads_take_no_virtual_time(self) -> None:
        async def main() -> tuple[str, float]:
            loop = asyncio.get_running_loop()

            def slow() -> str:
                time.sleep(0.1)
                return "done"

            # The 5 s timeout must not fire while the thread is running in real time.
            result = await asyncio.wait_for(asyncio.to_thread(slow), timeout=5)
            return result, loop.time()

        assert run_virtual(main()) == ("done", 0.0)

    def test_loopback_sockets_still_work(self) -> None:
        async def main() -> bytes:
            loop = asyncio.get_running_loop()
            a, b = socket.socketpair()
            a.setblocking(False)
            b.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=a)
            ticker = asyncio.create_task(asyncio.sleep(1000))  # a timer the loop could jump to
            await loop.sock_sendall(b, b"hello\n")
            line = await reader.readline()
            ticker.cancel()
            writer.close()
            b.close()
            return line

        assert run_virtual(main()) == b"hello\n"

    def test_same_program_gives_the_same_trace(self) -> None:
        async def main(seed: int) -> list[tuple[str, float]]:
            rng = random.Random(seed)
            trace: list[tuple[str, float]] = []
            loop = asyncio.get_running_loop()

            async def worker(name: str) -> None:
                for step in range(5):
                    await asyncio.sleep(rng.choice([0, 0.1, 1, 2.5, 60]))
                    trace.append((f"{name}.{step}", loop.time()))

            await asyncio.gather(*(worker(f"w{i}") for i in range(6)))
            return trace

        first = run_virtual(main(42))
        second = run_virtual(main(42))
        assert first == second
        assert len(first) == 30


class TestVirtualTimeDecorator:
    @virtual_time
    async def test_runs_on_a_virtual_loop(self) -> None:
        assert isinstance(asyncio.get_running_loop(), VirtualTimeLoop)
        await asyncio.sleep(10_000)
        assert asyncio.get_running_loop().time() == pytest.approx(10_000)

    @virtual_time(start=50.0)
    async def test_accepts_a_start_time(self) -> None:
        assert asyncio.get_running_loop().time() == 50.0

    def test_rejects_a_plain_function(self) -> None:
        with pytest.raises(TypeError, match="async def"):
            virtual_time(lambda: None)  # type: ignore[arg-type]

    def test_policy_makes_virtual_loops(self) -> None:
        loop = VirtualTimeLoopPolicy(start=3.0).new_event_loop()
        try:
            assert isinstance(loop, VirtualTimeLoop)
            assert loop.time() == 3.0
        finally:
            loop.close()


class TestLoopClock:
    def test_now_is_epoch_plus_loop_time(self) -> None:
        async def main() -> tuple[datetime, datetime, float]:
            clock = LoopClock()
            first = clock.now()
            await clock.sleep(90)
            return first, clock.now(), clock.monotonic()

        first, second, mono = run_virtual(main())
        assert first == EPOCH == datetime(2026, 1, 1, tzinfo=UTC)
        assert second == EPOCH + timedelta(seconds=90)
        assert second.tzinfo is not None
        assert mono == pytest.approx(90)

    def test_explicit_loop_and_epoch(self) -> None:
        loop = VirtualTimeLoop(start=10.0)
        try:
            clock = LoopClock(loop, epoch=datetime(2030, 5, 1, tzinfo=UTC))
            assert clock.now() == datetime(2030, 5, 1, 0, 0, 10, tzinfo=UTC)
        finally:
            loop.close()

    def test_needs_a_loop(self) -> None:
        with pytest.raises(RuntimeError, match="running event loop"):
            LoopClock().now()

    def test_rejects_naive_epoch(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            LoopClock(epoch=datetime(2026, 1, 1))


class TestSteppingTimeByHand:
    def test_advance_wakes_exactly_the_sleepers_that_are_due(self) -> None:
        async def main() -> tuple[list[str], list[str], float]:
            clock = LoopClock()
            woke: list[str] = []

            async def sleeper(name: str, seconds: float) -> None:
                await clock.sleep(seconds)
                woke.append(name)

            tasks = [asyncio.ensure_future(sleeper(n, s)) for n, s in (("b", 2), ("a", 1),
                                                                          ("c", 5))]
            await asyncio.sleep(0)
            clock.advance(2)
            for _ in range(3):
                await asyncio.sleep(0)
            after_two = list(woke)
            clock.advance(3)
            await asyncio.gather(*tasks)
            return after_two, woke, clock.monotonic()

        after_two, woke, at = run_virtual(main())
        assert after_two == ["a", "b"]  # in deadline order; c (due at 5) still asleep
        assert woke == ["a", "b", "c"]
        assert at == 5.0

    def test_set_jumps_to_an_instant_and_refuses_the_past(self) -> None:
        async def main() -> datetime:
            clock = LoopClock()
            clock.set(EPOCH + timedelta(hours=2))
            with pytest.raises(ValueError, match="backwards"):
                clock.set(EPOCH + timedelta(hours=1))
            with pytest.raises(ValueError, match="backwards"):
                clock.advance(-1)
            with pytest.raises(ValueError, match="timezone-aware"):
                clock.set(datetime(2027, 1, 1))
            return clock.now()

        assert run_virtual(main()) == EPOCH + timedelta(hours=2)

    def test_stepping_needs_a_virtual_loop(self) -> None:
        async def main() -> None:
            with pytest.raises(TypeError, match=r"needs a VirtualTimeLoop.*_UnixSelectorEventLoop"):
                LoopClock().advance(1)

        asyncio.run(main())

    def test_the_spin_alarm_counts_turns_while_the_clock_stands_still(self) -> None:
        async def main() -> tuple[list[int], int, int]:
            loop = asyncio.get_running_loop()
            assert isinstance(loop, VirtualTimeLoop)
            rang: list[int] = []
            loop.set_spin_alarm(100, rang.append)
            for _ in range(250):  # a busy loop: the clock never moves
                await asyncio.sleep(0)
            spun = loop.turns_at_this_instant
            await asyncio.sleep(1)  # the clock moves: the count starts again
            after = loop.turns_at_this_instant
            loop.set_spin_alarm(0, None)
            return rang, spun, after

        rang, spun, after = run_virtual(main())
        assert rang == [100]  # once, at the limit
        assert spun >= 250 and after <= 2
        loop = VirtualTimeLoop()
        try:
            with pytest.raises(ValueError, match="at least 1 turn"):
                loop.set_spin_alarm(0, print)
        finally:
            loop.close()

    def test_virtual_clock_is_the_same_class(self) -> None:
        from kubeplan.testkit.apiserver import VirtualClock

        assert VirtualClock is LoopClock


class TestWithTheFakeApiServer:
    def test_loop_clock_is_a_fake_api_server_clock(self) -> None:
        from kubeplan.testkit.apiserver import Clock

        assert isinstance(LoopClock(), Clock)

    def test_timestamps_are_virtual_and_deterministic(self) -> None:
        import json

        from kubeplan.testkit.apiserver import ApiRequest, FakeApiServer

        async def create_two() -> list[str]:
            server = FakeApiServer(clock=LoopClock(), seed=1)
            stamps = []
            for name in ("a", "b"):
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
                request = ApiRequest(
                    "POST",
                    "/api/v1/namespaces/default/configmaps",
                    body=json.dumps(body).encode(),
                    content_type="application/json",
                )
                response = await server.handle(request)
                assert response.status == 201
                stamps.append(response.body["metadata"]["creationTimestamp"])
                await asyncio.sleep(3600)
            return stamps

        first = run_virtual(create_two())
        assert first == ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"]
        assert run_virtual(create_two()) == first
