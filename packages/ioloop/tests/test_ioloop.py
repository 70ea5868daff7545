"""Tests for squall.ioloop.IOLoop and PeriodicCallback on the configured poller."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from squall.ioloop import IOLoop, PeriodicCallback, default_poller_name
from squall.util import TimeoutError


@pytest.fixture
def loop() -> Iterator[IOLoop]:
    io_loop = IOLoop(make_current=True)
    yield io_loop
    io_loop.close(all_fds=True)


def test_new_loop_uses_configured_poller(loop: IOLoop) -> None:
    expected = os.environ.get("SQUALL_POLLER")
    if expected:
        assert loop.poller == expected
    assert default_poller_name() == (expected or "auto")
    assert IOLoop.current() is loop
    assert IOLoop.current(instance=False) is loop


def test_current_inside_running_asyncio_loop_is_the_same_loop(loop: IOLoop) -> None:
    async def main() -> IOLoop:
        return IOLoop.current()

    assert loop.run_sync(main) is loop


def test_current_wraps_foreign_asyncio_loop() -> None:
    async def main() -> tuple[IOLoop, asyncio.AbstractEventLoop]:
        return IOLoop.current(), asyncio.get_running_loop()

    IOLoop.clear_current()
    io_loop, aio = asyncio.run(main())
    assert io_loop.asyncio_loop is aio
    assert io_loop.poller in {"select", "poll", "epoll", "kqueue", "devpoll", "asyncio"}


def test_current_without_instance_returns_none() -> None:
    IOLoop.clear_current()
    assert IOLoop.current(instance=False) is None
    assert not IOLoop.initialized()


def test_current_creates_and_instance_is_alias() -> None:
    IOLoop.clear_current()
    created = IOLoop.current()
    try:
        assert IOLoop.instance() is created
        assert IOLoop.initialized()
    finally:
        created.close()


def test_add_callback_order_and_kwargs(loop: IOLoop) -> None:
    calls: list[Any] = []
    loop.add_callback(calls.append, 1)
    loop.add_callback(lambda *, x: calls.append(x), x=2)
    loop.spawn_callback(calls.append, 3)
    loop.add_callback(loop.stop)
    loop.start()
    assert calls == [1, 2, 3]


def test_add_callback_from_another_thread_wakes_loop(loop: IOLoop) -> None:
    result: list[str] = []

    def worker() -> None:
        time.sleep(0.05)
        loop.add_callback(result.append, threading.current_thread().name)
        loop.add_callback(loop.stop)

    t = threading.Thread(target=worker, name="worker-thread")
    t.start()
    loop.add_timeout(loop.time() + 5, loop.stop)
    loop.start()
    t.join()
    assert result == ["worker-thread"]


def test_add_callback_from_signal(loop: IOLoop) -> None:
    got: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        loop.add_callback_from_signal(got.append, signum)
        loop.add_callback_from_signal(loop.stop)

    old = signal.signal(signal.SIGUSR1, handler)
    try:
        loop.add_callback(os.kill, os.getpid(), signal.SIGUSR1)
        loop.add_timeout(loop.time() + 5, loop.stop)
        loop.start()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert got == [signal.SIGUSR1]


def test_exception_in_callback_is_logged_and_loop_keeps_running(
    loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[bool] = []

    def boom() -> None:
        raise ZeroDivisionError("in callback")

    with caplog.at_level(logging.ERROR, logger="squall.application"):
        loop.add_callback(boom)
        loop.add_callback(after.append, True)
        loop.call_later(0.01, boom)
        loop.call_later(0.02, loop.stop)
        loop.start()
    assert after == [True]
    records = [r for r in caplog.records if r.name == "squall.application"]
    assert len(records) == 2
    assert all(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in records)


def test_exception_in_coroutine_returned_by_callback_is_logged(
    loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing() -> None:
        raise ValueError("async failure")

    with caplog.at_level(logging.ERROR, logger="squall.application"):
        loop.add_callback(failing)
        loop.call_later(0.05, loop.stop)
        loop.start()
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


def test_timeouts_order_and_removal(loop: IOLoop) -> None:
    calls: list[str] = []
    loop.call_later(0.03, calls.append, "c")
    loop.call_at(loop.time() + 0.01, calls.append, "a")
    loop.add_timeout(timedelta(milliseconds=20), calls.append, "b")
    removed = loop.add_timeout(loop.time() + 0.015, calls.append, "removed")
    loop.remove_timeout(removed)
    loop.remove_timeout(removed)  # twice is harmless
    loop.remove_timeout(None)
    loop.call_later(0.05, loop.stop)
    loop.start()
    assert calls == ["a", "b", "c"]


def test_add_timeout_rejects_bad_deadline(loop: IOLoop) -> None:
    with pytest.raises(TypeError, match="unsupported deadline"):
        loop.add_timeout("soon", lambda: None)  # type: ignore[arg-type]


def test_time_is_monotonic(loop: IOLoop) -> None:
    a = loop.time()
    b = loop.time()
    assert b >= a


def test_add_handler_read_and_write_events(loop: IOLoop) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    events: list[int] = []

    def on_event(sock: socket.socket, ev: int) -> None:
        events.append(ev)
        if ev & IOLoop.WRITE:
            sock.send(b"ping")
            loop.update_handler(sock, IOLoop.READ)
        elif ev & IOLoop.READ:
            assert sock.recv(100) == b"pong"
            loop.remove_handler(sock)
            loop.stop()

    def on_b(sock: socket.socket, ev: int) -> None:
        if sock.recv(100) == b"ping":
            sock.send(b"pong")
            loop.remove_handler(sock)

    loop.add_handler(a, on_event, IOLoop.WRITE)
    loop.add_handler(b.fileno(), lambda fd, ev: on_b(b, ev), IOLoop.READ)
    loop.add_timeout(loop.time() + 5, loop.stop)
    loop.start()
    assert events[0] == IOLoop.WRITE
    assert events[-1] == IOLoop.READ
    a.close()
    b.close()


def test_add_handler_twice_and_update_unknown(loop: IOLoop) -> None:
    a, b = socket.socketpair()
    loop.add_handler(a, lambda fd, ev: None, IOLoop.READ)
    with pytest.raises(ValueError, match="already has a handler"):
        loop.add_handler(a, lambda fd, ev: None, IOLoop.READ)
    with pytest.raises(KeyError, match="no handler"):
        loop.update_handler(b, IOLoop.READ)
    loop.remove_handler(a)
    loop.remove_handler(a)  # no-op
    a.close()
    b.close()


def test_exception_in_handler_is_logged(loop: IOLoop, caplog: pytest.LogCaptureFixture) -> None:
    a, b = socket.socketpair()

    def bad(fd: Any, ev: int) -> None:
        loop.remove_handler(fd)
        loop.call_later(0.01, loop.stop)
        raise RuntimeError("handler failed")

    loop.add_handler(a, bad, IOLoop.READ)
    b.send(b"x")
    with caplog.at_level(logging.ERROR, logger="squall.application"):
        loop.add_timeout(loop.time() + 5, loop.stop)
        loop.start()
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
    a.close()
    b.close()


def test_close_all_fds_closes_registered(loop: IOLoop) -> None:
    a, b = socket.socketpair()
    r, w = os.pipe()
    loop.add_handler(a, lambda fd, ev: None, IOLoop.READ)
    loop.add_handler(r, lambda fd, ev: None, IOLoop.READ)
    loop.close(all_fds=True)
    assert a.fileno() == -1
    with pytest.raises(OSError):
        os.fstat(r)
    os.close(w)
    b.close()
    loop.close()  # closing twice is a no-op
    with pytest.raises(RuntimeError, match="closed"):
        loop.start()


def test_add_callback_after_close_is_ignored() -> None:
    io_loop = IOLoop(make_current=False)
    io_loop.close()
    io_loop.add_callback(lambda: None)


def test_run_sync_plain_async_and_exception(loop: IOLoop) -> None:
    assert loop.run_sync(lambda: 5) == 5

    async def coro() -> str:
        await asyncio.sleep(0)
        return "done"

    assert loop.run_sync(coro) == "done"

    async def failing() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        loop.run_sync(failing)

    def raises() -> None:
        raise ValueError("sync")

    with pytest.raises(ValueError, match="sync"):
        loop.run_sync(raises)


def test_run_sync_timeout_cancels(loop: IOLoop) -> None:
    cancelled: list[bool] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    start = time.monotonic()
    with pytest.raises(TimeoutError, match="timed out after 0.05 seconds"):
        loop.run_sync(slow, timeout=0.05)
    assert time.monotonic() - start < 2
    assert cancelled == [True]
    # The loop is still usable.
    assert loop.run_sync(lambda: 1) == 1


def test_add_future_asyncio_and_concurrent(loop: IOLoop) -> None:
    got: list[Any] = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:

        async def main() -> None:
            fut: asyncio.Future[int] = loop.asyncio_loop.create_future()
            loop.add_future(fut, lambda f: got.append(f.result()))
            fut.set_result(1)
            cf = pool.submit(lambda: 2)
            done = asyncio.Event()
            loop.add_future(cf, lambda f: (got.append(f.result()), done.set()))
            await asyncio.wait_for(done.wait(), 5)
            await asyncio.sleep(0)

        loop.run_sync(main)
    assert sorted(got) == [1, 2]


def test_run_in_executor_and_default_executor(loop: IOLoop) -> None:
    names: list[str] = []
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="squall-test-pool")
    loop.set_default_executor(pool)

    async def main() -> int:
        def work(x: int) -> int:
            names.append(threading.current_thread().name)
            return x * 2

        return await loop.run_in_executor(None, work, 21)

    assert loop.run_sync(main) == 42
    assert names[0].startswith("squall-test-pool")
    pool.shutdown()


def test_periodic_callback_runs_and_stops(loop: IOLoop) -> None:
    times: list[float] = []
    pc = PeriodicCallback(lambda: times.append(loop.time()), 20)
    assert not pc.is_running()
    pc.start()
    assert pc.is_running()
    loop.call_later(0.2, pc.stop)
    loop.call_later(0.3, loop.stop)
    loop.start()
    assert not pc.is_running()
    # About 10 runs in 200 ms; generous bounds for a loaded machine.
    assert 4 <= len(times) <= 11


def test_periodic_callback_does_not_drift_when_callback_runs_long(loop: IOLoop) -> None:
    times: list[float] = []

    def slow() -> None:
        times.append(loop.time())
        if len(times) == 2:
            time.sleep(0.075)  # overruns 3.75 periods

    pc = PeriodicCallback(slow, 20)
    start = loop.time()
    pc.start()
    loop.call_later(0.25, pc.stop)
    loop.call_later(0.3, loop.stop)
    loop.start()
    # Every run after the long one lands on the original 20 ms grid.
    for t in times[2:]:
        offset = ((t - start) / 0.020) % 1.0
        assert min(offset, 1 - offset) < 0.45, t - start
    assert len(times) >= 6


def test_periodic_callback_jitter_and_timedelta(loop: IOLoop) -> None:
    pc = PeriodicCallback(lambda: None, timedelta(milliseconds=50), jitter=0.2)
    assert pc.callback_time == 50


def test_periodic_callback_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        PeriodicCallback(lambda: None, 0)
    with pytest.raises(ValueError, match="jitter"):
        PeriodicCallback(lambda: None, 10, jitter=-1)


def test_periodic_callback_exception_is_logged_and_keeps_going(
    loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    count = [0]

    def flaky() -> None:
        count[0] += 1
        raise RuntimeError("periodic failure")

    pc = PeriodicCallback(flaky, 10)
    with caplog.at_level(logging.ERROR, logger="squall.application"):
        pc.start()
        loop.call_later(0.1, loop.stop)
        loop.start()
        pc.stop()
    assert count[0] >= 3
    assert sum(1 for r in caplog.records if r.exc_info) == count[0]


def test_periodic_callback_waits_for_async_callback(loop: IOLoop) -> None:
    active = [0]
    overlaps = [0]
    runs = [0]

    async def tick() -> None:
        active[0] += 1
        if active[0] > 1:
            overlaps[0] += 1
        runs[0] += 1
        await asyncio.sleep(0.03)
        active[0] -= 1

    pc = PeriodicCallback(tick, 10)
    pc.start()
    loop.call_later(0.2, loop.stop)
    loop.start()
    pc.stop()
    assert runs[0] >= 2
    assert overlaps[0] == 0


def test_periodic_callback_accepts_io_loop_argument(loop: IOLoop) -> None:
    other = IOLoop(make_current=False)
    try:
        ticks: list[float] = []
        pc = PeriodicCallback(lambda: ticks.append(other.time()), 10, io_loop=other)
        pc.start()
        assert pc.io_loop is other
        other.call_later(0.05, other.stop)
        other.start()
        pc.stop()
        assert ticks
    finally:
        other.close()
