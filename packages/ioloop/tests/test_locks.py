"""Tests for squall.locks: Condition, Event, Semaphore, BoundedSemaphore, Lock."""

from __future__ import annotations

import asyncio
import builtins
import datetime
from typing import Any

import pytest
from squall import gen, locks
from squall.ioloop import IOLoop
from squall.locks import BoundedSemaphore, Condition, Event, Lock, Semaphore
from squall.util import TimeoutError as SquallTimeoutError

SHORT = datetime.timedelta(milliseconds=20)  # a timeout that is meant to expire
LONG = datetime.timedelta(seconds=30)  # a timeout that is never meant to expire


async def spin(n: int = 5) -> None:
    """Let the loop run callbacks and wake-ups for a few iterations."""
    for _ in range(n):
        await asyncio.sleep(0)


def test_public_api() -> None:
    assert sorted(locks.__all__) == [
        "BoundedSemaphore",
        "Condition",
        "Event",
        "Lock",
        "Semaphore",
    ]
    for name in locks.__all__:
        obj = getattr(locks, name)
        assert obj.__doc__ and "versionadded:: 0.1.0" in obj.__doc__


# ---------------------------------------------------------------- Condition


async def test_condition_notify_wakes_in_fifo_order(io_loop: IOLoop) -> None:
    cond = Condition()
    order: list[int] = []

    async def waiter(i: int) -> None:
        assert await cond.wait() is True
        order.append(i)

    tasks = [asyncio.ensure_future(waiter(i)) for i in range(4)]
    await spin()
    assert "waiters[4]" in repr(cond)
    cond.notify()
    await spin()
    assert order == [0]
    cond.notify(2)
    await spin()
    assert order == [0, 1, 2]
    cond.notify_all()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]
    assert repr(cond) == "<Condition waiters[0]>"


async def test_condition_notify_without_waiters_is_lost(io_loop: IOLoop) -> None:
    cond = Condition()
    cond.notify()
    cond.notify(5)
    cond.notify_all()
    waiter = cond.wait()
    await spin()
    assert not waiter.done()  # earlier notifications are not remembered
    cond.notify(0)
    cond.notify(-1)
    await spin()
    assert not waiter.done()
    cond.notify()
    assert await waiter is True


async def test_condition_wait_timeout_timedelta_resolves_false(io_loop: IOLoop) -> None:
    cond = Condition()
    assert await cond.wait(timeout=SHORT) is False


async def test_condition_wait_timeout_deadline_resolves_false(io_loop: IOLoop) -> None:
    cond = Condition()
    start = io_loop.time()
    assert await cond.wait(timeout=io_loop.time() + 0.02) is False
    assert io_loop.time() - start >= 0.015


async def test_condition_notify_before_timeout_resolves_true(io_loop: IOLoop) -> None:
    cond = Condition()
    waiter = cond.wait(timeout=LONG)
    io_loop.add_callback(cond.notify)
    assert await waiter is True


async def test_condition_timed_out_waiter_does_not_swallow_notify(io_loop: IOLoop) -> None:
    cond = Condition()
    expired = cond.wait(timeout=SHORT)
    live = cond.wait()
    assert await expired is False
    cond.notify(1)  # must reach `live`, not the expired waiter ahead of it
    assert await asyncio.wait_for(live, 10) is True


async def test_condition_cancelled_waiter_does_not_swallow_notify(io_loop: IOLoop) -> None:
    cond = Condition()
    first = cond.wait()
    second = cond.wait()
    first.cancel()
    cond.notify(1)
    assert second.done() and second.result() is True


async def test_condition_notify_all_skips_finished_waiters(io_loop: IOLoop) -> None:
    cond = Condition()
    cancelled = cond.wait()
    cancelled.cancel()
    expired = cond.wait(timeout=SHORT)
    await expired
    live = [cond.wait(), cond.wait()]
    cond.notify_all()
    assert [w.result() for w in live] == [True, True]
    assert cancelled.cancelled()


async def test_condition_notification_passed_on_when_task_cancelled(io_loop: IOLoop) -> None:
    cond = Condition()
    woken: list[str] = []

    async def waiter(name: str) -> None:
        await cond.wait()
        woken.append(name)

    first = asyncio.ensure_future(waiter("first"))
    second = asyncio.ensure_future(waiter("second"))
    await spin()
    cond.notify(1)  # goes to `first`...
    first.cancel()  # ...which is cancelled before it can run
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 10)
    assert woken == ["second"]


async def test_condition_task_cancelled_while_waiting(io_loop: IOLoop) -> None:
    cond = Condition()
    task = asyncio.ensure_future(cond.wait())
    await spin()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    live = cond.wait()
    cond.notify(1)
    assert live.result() is True


async def test_condition_timed_out_waiters_are_swept(io_loop: IOLoop) -> None:
    cond = Condition()
    for _ in range(10):
        deadline = io_loop.time()  # already past: every wait expires at once
        assert not any(await asyncio.gather(*(cond.wait(timeout=deadline) for _ in range(100))))
    # 1000 waits expired; the FIFO holds at most a few rounds of them.
    assert len(cond._waiters._waiters) < 300
    assert cond._waiters.pending() == 0
    live = cond.wait()
    cond.notify()
    assert live.result() is True


@pytest.mark.parametrize("bad", ["1s", True, object(), [1]])
async def test_condition_rejects_bad_timeout(io_loop: IOLoop, bad: Any) -> None:
    cond = Condition()
    with pytest.raises(TypeError, match="timeout must be"):
        cond.wait(timeout=bad)
    # Nothing was registered by the failed call.
    assert cond._waiters.pending() == 0


def test_condition_gen_coroutine(io_loop: IOLoop) -> None:
    cond = Condition()
    events: list[Any] = []

    @gen.coroutine
    def waiter() -> Any:
        events.append("waiting")
        notified = yield cond.wait()
        events.append(notified)
        timed_out = yield cond.wait(timeout=SHORT)
        events.append(timed_out)

    @gen.coroutine
    def main() -> Any:
        future = waiter()
        yield gen.moment
        cond.notify()
        yield future

    io_loop.run_sync(main, timeout=10)
    assert events == ["waiting", True, False]


# -------------------------------------------------------------------- Event


async def test_event_set_clear(io_loop: IOLoop) -> None:
    event = Event()
    assert not event.is_set()
    assert repr(event) == "<Event clear>"
    event.set()
    assert event.is_set()
    assert repr(event) == "<Event set>"
    event.set()  # idempotent
    assert event.is_set()
    event.clear()
    assert not event.is_set()


async def test_event_wait_when_set_is_immediate(io_loop: IOLoop) -> None:
    event = Event()
    event.set()
    future = event.wait()
    assert future.done() and future.result() is None
    future = event.wait(timeout=SHORT)
    assert future.done()
    await asyncio.sleep(0.05)  # the timeout never fires on a done wait
    assert future.result() is None


async def test_event_set_wakes_every_waiter(io_loop: IOLoop) -> None:
    event = Event()
    woken: list[int] = []

    async def waiter(i: int) -> None:
        await event.wait()
        woken.append(i)

    tasks = [asyncio.ensure_future(waiter(i)) for i in range(3)]
    await spin()
    assert woken == []
    event.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert woken == [0, 1, 2]


async def test_event_clear_blocks_again(io_loop: IOLoop) -> None:
    event = Event()
    event.set()
    event.clear()
    future = event.wait()
    await spin()
    assert not future.done()
    event.set()
    await asyncio.wait_for(future, 10)


async def test_event_wait_timeout_raises(io_loop: IOLoop) -> None:
    event = Event()
    with pytest.raises(SquallTimeoutError, match=r"Event\.wait"):
        await event.wait(timeout=SHORT)
    with pytest.raises(builtins.TimeoutError):
        await event.wait(timeout=io_loop.time() + 0.02)


async def test_event_timed_out_and_cancelled_waits_do_not_break_set(io_loop: IOLoop) -> None:
    event = Event()
    expired = event.wait(timeout=SHORT)
    cancelled = event.wait()
    live = event.wait(timeout=LONG)
    cancelled.cancel()
    with pytest.raises(SquallTimeoutError):
        await expired
    event.set()
    await asyncio.wait_for(live, 10)
    assert cancelled.cancelled()


async def test_event_rejects_bad_timeout(io_loop: IOLoop) -> None:
    with pytest.raises(TypeError, match="timeout must be"):
        Event().wait(timeout="soon")  # type: ignore[arg-type]


def test_event_gen_coroutine(io_loop: IOLoop) -> None:
    event = Event()

    @gen.coroutine
    def main() -> Any:
        io_loop.add_callback(event.set)
        yield event.wait()
        event.clear()
        try:
            yield event.wait(timeout=SHORT)
        except SquallTimeoutError:
            return "timed out"
        return "not timed out"

    assert io_loop.run_sync(main, timeout=10) == "timed out"


# ---------------------------------------------------------------- Semaphore


def test_semaphore_rejects_negative_value() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Semaphore(-1)
    with pytest.raises(ValueError, match=">= 0"):
        BoundedSemaphore(-1)


async def test_semaphore_counts(io_loop: IOLoop) -> None:
    sem = Semaphore(2)
    assert repr(sem) == "<Semaphore [unlocked,value:2]>"
    assert (await sem.acquire()) is not None
    await sem.acquire()
    assert repr(sem) == "<Semaphore [locked]>"
    blocked = sem.acquire()
    await spin()
    assert not blocked.done()
    assert repr(sem) == "<Semaphore [locked,waiters:1]>"
    sem.release()
    await asyncio.wait_for(blocked, 10)
    assert repr(sem) == "<Semaphore [locked]>"
    sem.release()
    sem.release()
    sem.release()  # a plain Semaphore may go above its initial value
    assert repr(sem) == "<Semaphore [unlocked,value:3]>"


async def test_semaphore_zero_blocks(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    future = sem.acquire()
    await spin()
    assert not future.done()
    sem.release()
    await asyncio.wait_for(future, 10)


async def test_semaphore_wakes_waiters_in_fifo_order(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    futures = [sem.acquire() for _ in range(3)]
    sem.release()
    assert [f.done() for f in futures] == [True, False, False]
    sem.release()
    assert [f.done() for f in futures] == [True, True, False]
    sem.release()
    assert all(f.done() for f in futures)


async def test_semaphore_limits_concurrency(io_loop: IOLoop) -> None:
    sem = Semaphore(2)
    running = 0
    peak = 0

    async def worker() -> None:
        nonlocal running, peak
        async with sem:
            running += 1
            peak = max(peak, running)
            await spin(3)
            running -= 1

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(10))), 10)
    assert peak == 2
    assert repr(sem) == "<Semaphore [unlocked,value:2]>"


async def test_semaphore_async_with_releases_on_exception(io_loop: IOLoop) -> None:
    sem = Semaphore(1)
    with pytest.raises(ZeroDivisionError):
        async with sem:
            1 / 0  # noqa: B018
    assert sem.acquire().done()


async def test_semaphore_with_await_acquire_form(io_loop: IOLoop) -> None:
    sem = Semaphore(1)
    with await sem.acquire():
        assert repr(sem) == "<Semaphore [locked]>"
    assert repr(sem) == "<Semaphore [unlocked,value:1]>"


async def test_semaphore_plain_with_is_refused(io_loop: IOLoop) -> None:
    sem = Semaphore()
    with pytest.raises(RuntimeError, match="async with"), sem:
        pass
    assert repr(sem) == "<Semaphore [unlocked,value:1]>"


async def test_semaphore_acquire_timeout(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    with pytest.raises(SquallTimeoutError, match=r"Semaphore\.acquire"):
        await sem.acquire(timeout=SHORT)
    with pytest.raises(SquallTimeoutError):
        await sem.acquire(timeout=io_loop.time() + 0.02)
    # A release with only expired waiters left goes back into the counter.
    sem.release()
    assert repr(sem) == "<Semaphore [unlocked,value:1]>"
    assert sem.acquire(timeout=SHORT).done()


async def test_semaphore_acquire_before_timeout(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    future = sem.acquire(timeout=LONG)
    io_loop.add_callback(sem.release)
    await future


async def test_semaphore_timed_out_waiter_does_not_swallow_release(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    expired = sem.acquire(timeout=SHORT)
    live = sem.acquire()
    with pytest.raises(SquallTimeoutError):
        await expired
    sem.release()
    await asyncio.wait_for(live, 10)


async def test_semaphore_cancelled_waiter_does_not_swallow_release(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    cancelled = sem.acquire()
    live = sem.acquire()
    cancelled.cancel()
    sem.release()
    assert live.done()
    assert repr(sem) == "<Semaphore [locked]>"


async def test_semaphore_slot_released_when_task_cancelled_after_handoff(
    io_loop: IOLoop,
) -> None:
    sem = Semaphore(0)
    entered = False

    async def user() -> None:
        nonlocal entered
        async with sem:
            entered = True

    task = asyncio.ensure_future(user())
    await spin()
    sem.release()  # the slot is handed to `task`...
    task.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not entered
    assert repr(sem) == "<Semaphore [unlocked,value:1]>"


async def test_semaphore_task_cancelled_while_waiting(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    task = asyncio.ensure_future(sem.acquire())
    await spin()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sem.release()
    assert repr(sem) == "<Semaphore [unlocked,value:1]>"


def test_semaphore_gen_coroutine_with_yield_acquire(io_loop: IOLoop) -> None:
    sem = Semaphore(1)
    trace: list[str] = []

    @gen.coroutine
    def worker(name: str) -> Any:
        with (yield sem.acquire()):
            trace.append(f"{name} in")
            yield gen.moment
            yield gen.moment
            trace.append(f"{name} out")

    @gen.coroutine
    def main() -> Any:
        yield [worker("a"), worker("b")]

    io_loop.run_sync(main, timeout=10)
    assert trace == ["a in", "a out", "b in", "b out"]
    assert repr(sem) == "<Semaphore [unlocked,value:1]>"


async def test_semaphore_rejects_bad_timeout(io_loop: IOLoop) -> None:
    sem = Semaphore(0)
    with pytest.raises(TypeError, match="timeout must be"):
        sem.acquire(timeout="1")  # type: ignore[arg-type]
    sem.release()
    assert repr(sem) == "<Semaphore [unlocked,value:1]>"


# --------------------------------------------------------- BoundedSemaphore


async def test_bounded_semaphore_released_too_many_times(io_loop: IOLoop) -> None:
    sem = BoundedSemaphore(2)
    with pytest.raises(ValueError, match="released too many times"):
        sem.release()
    await sem.acquire()
    sem.release()
    with pytest.raises(ValueError, match="released too many times"):
        sem.release()
    assert repr(sem) == "<BoundedSemaphore [unlocked,value:2]>"


async def test_bounded_semaphore_hands_over_to_waiters(io_loop: IOLoop) -> None:
    sem = BoundedSemaphore(1)
    await sem.acquire()
    waiter = sem.acquire()
    sem.release()  # handed to `waiter`: still one slot taken
    await asyncio.wait_for(waiter, 10)
    sem.release()
    with pytest.raises(ValueError, match="released too many times"):
        sem.release()


async def test_bounded_semaphore_async_with(io_loop: IOLoop) -> None:
    sem = BoundedSemaphore(1)
    async with sem:
        assert repr(sem) == "<BoundedSemaphore [locked]>"
    assert repr(sem) == "<BoundedSemaphore [unlocked,value:1]>"


# --------------------------------------------------------------------- Lock


async def test_lock_acquire_release(io_loop: IOLoop) -> None:
    lock = Lock()
    assert "unlocked" in repr(lock)
    await lock.acquire()
    assert "locked" in repr(lock) and "unlocked" not in repr(lock)
    blocked = lock.acquire()
    await spin()
    assert not blocked.done()
    lock.release()
    await asyncio.wait_for(blocked, 10)
    lock.release()
    assert "unlocked" in repr(lock)


async def test_lock_release_unlocked_raises(io_loop: IOLoop) -> None:
    lock = Lock()
    with pytest.raises(RuntimeError, match="unlocked"):
        lock.release()
    await lock.acquire()
    lock.release()
    with pytest.raises(RuntimeError, match="unlocked"):
        lock.release()


async def test_lock_async_with_is_mutually_exclusive_and_fifo(io_loop: IOLoop) -> None:
    lock = Lock()
    trace: list[str] = []

    async def worker(name: str) -> None:
        async with lock:
            trace.append(f"{name} in")
            await spin(3)
            trace.append(f"{name} out")

    await asyncio.wait_for(asyncio.gather(*(worker(n) for n in "abc")), 10)
    assert trace == ["a in", "a out", "b in", "b out", "c in", "c out"]


async def test_lock_async_with_releases_on_exception(io_loop: IOLoop) -> None:
    lock = Lock()
    with pytest.raises(KeyError):
        async with lock:
            raise KeyError("boom")
    assert lock.acquire().done()


async def test_lock_with_await_acquire_form_releases_the_lock(io_loop: IOLoop) -> None:
    lock = Lock()
    with await lock.acquire():
        assert "unlocked" not in repr(lock)
    assert "unlocked" in repr(lock)
    # The context manager releases the Lock itself, so misuse is a RuntimeError.
    cm = await lock.acquire()
    lock.release()
    with pytest.raises(RuntimeError, match="unlocked"), cm:
        pass


async def test_lock_plain_with_is_refused(io_loop: IOLoop) -> None:
    lock = Lock()
    with pytest.raises(RuntimeError, match="async with"), lock:
        pass
    assert "unlocked" in repr(lock)


async def test_lock_acquire_timeout(io_loop: IOLoop) -> None:
    lock = Lock()
    await lock.acquire()
    with pytest.raises(SquallTimeoutError, match="acquire"):
        await lock.acquire(timeout=SHORT)
    with pytest.raises(SquallTimeoutError):
        await lock.acquire(timeout=io_loop.time() + 0.02)
    lock.release()
    assert "unlocked" in repr(lock)


async def test_lock_timed_out_or_cancelled_waiter_does_not_swallow_release(
    io_loop: IOLoop,
) -> None:
    lock = Lock()
    await lock.acquire()
    expired = lock.acquire(timeout=SHORT)
    cancelled = lock.acquire()
    live = lock.acquire()
    cancelled.cancel()
    with pytest.raises(SquallTimeoutError):
        await expired
    lock.release()
    await asyncio.wait_for(live, 10)
    lock.release()
    assert "unlocked" in repr(lock)


async def test_lock_released_when_task_cancelled_after_handoff(io_loop: IOLoop) -> None:
    lock = Lock()
    await lock.acquire()
    entered = False

    async def holder() -> None:
        nonlocal entered
        async with lock:
            entered = True

    blocked = asyncio.ensure_future(holder())
    await spin()
    lock.release()  # handed to `blocked`...
    blocked.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert not entered
    assert "unlocked" in repr(lock)


async def test_lock_task_cancelled_while_waiting(io_loop: IOLoop) -> None:
    lock = Lock()
    await lock.acquire()

    async def bare() -> None:
        await lock.acquire()

    task = asyncio.ensure_future(bare())
    await spin()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lock.release()
    assert "unlocked" in repr(lock)


def test_lock_gen_coroutine(io_loop: IOLoop) -> None:
    lock = Lock()
    trace: list[str] = []

    @gen.coroutine
    def worker(name: str) -> Any:
        with (yield lock.acquire()):
            trace.append(f"{name} in")
            yield gen.moment
            trace.append(f"{name} out")

    @gen.coroutine
    def main() -> Any:
        yield [worker("a"), worker("b"), worker("c")]

    io_loop.run_sync(main, timeout=10)
    assert trace == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert "unlocked" in repr(lock)


async def test_waiters_are_futures_on_the_current_loop(io_loop: IOLoop) -> None:
    cond = Condition()
    waiter = cond.wait(timeout=LONG)
    assert isinstance(waiter, asyncio.Future)
    assert waiter.get_loop() is io_loop.asyncio_loop
    cond.notify()
    assert await waiter is True
