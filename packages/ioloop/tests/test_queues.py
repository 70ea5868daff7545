"""Tests for squall.queues: Queue, PriorityQueue, LifoQueue."""

from __future__ import annotations

import asyncio
import builtins
import datetime
import random
from typing import Any

import pytest
from squall import gen, queues
from squall.ioloop import IOLoop
from squall.queues import LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull
from squall.util import TimeoutError as SquallTimeoutError

SHORT = datetime.timedelta(milliseconds=20)  # a timeout that is meant to expire
LONG = datetime.timedelta(seconds=30)  # a timeout that is never meant to expire


async def spin(n: int = 5) -> None:
    """Let the loop run callbacks and wake-ups for a few iterations."""
    for _ in range(n):
        await asyncio.sleep(0)


def test_public_api() -> None:
    assert sorted(queues.__all__) == [
        "LifoQueue",
        "PriorityQueue",
        "Queue",
        "QueueEmpty",
        "QueueFull",
    ]
    for name in queues.__all__:
        obj = getattr(queues, name)
        assert obj.__doc__ and "versionadded:: 0.1.0" in obj.__doc__


# ------------------------------------------------------------- construction


def test_maxsize_validation() -> None:
    with pytest.raises(TypeError, match="can't be None"):
        Queue(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        Queue(-1)
    with pytest.raises(TypeError, match="must be an int"):
        Queue("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        Queue(1.5)  # type: ignore[arg-type]
    assert Queue().maxsize == 0
    assert Queue(3).maxsize == 3


def test_size_queries_without_a_loop() -> None:
    # The non-blocking API needs no running loop.
    q: Queue[int] = Queue(maxsize=2)
    assert q.empty() and not q.full() and q.qsize() == 0
    q.put_nowait(1)
    assert not q.empty() and not q.full() and q.qsize() == 1
    q.put_nowait(2)
    assert q.full() and q.qsize() == 2
    with pytest.raises(QueueFull):
        q.put_nowait(3)
    assert q.get_nowait() == 1
    assert q.get_nowait() == 2
    with pytest.raises(QueueEmpty):
        q.get_nowait()


def test_unbounded_queue_is_never_full() -> None:
    q: Queue[int] = Queue()
    for i in range(1000):
        q.put_nowait(i)
    assert not q.full() and q.qsize() == 1000


def test_repr_and_str() -> None:
    q: Queue[int] = Queue(maxsize=3)
    assert str(q) == "<Queue maxsize=3>"
    assert repr(q).startswith("<Queue at 0x") and repr(q).endswith(" maxsize=3>")
    q.put_nowait(7)
    assert str(q) == "<Queue maxsize=3 queue=deque([7]) tasks=1>"
    assert str(PriorityQueue()) == "<PriorityQueue maxsize=0>"


async def test_repr_counts_waiters(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)
    getter = q.get()
    assert "getters[1]" in str(q)
    q.put_nowait(1)
    assert await getter == 1
    q.put_nowait(2)
    putter = q.put(3)
    assert "putters[1]" in str(q)
    q.get_nowait()
    await putter
    assert "putters" not in str(q) and "getters" not in str(q)


# ---------------------------------------------------------------- get / put


async def test_fifo_order(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    for i in range(5):
        await q.put(i)
    assert [await q.get() for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_get_blocks_until_put(io_loop: IOLoop) -> None:
    q: Queue[str] = Queue()
    getter = q.get()
    await spin()
    assert not getter.done()
    q.put_nowait("x")
    assert await asyncio.wait_for(getter, 10) == "x"
    assert q.empty()


async def test_getters_are_served_in_order(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    getters = [q.get() for _ in range(3)]
    for i in range(3):
        q.put_nowait(i)
    assert [await g for g in getters] == [0, 1, 2]


async def test_put_blocks_while_full(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)
    first = q.put(0)
    assert first.done() and first.result() is None
    second = q.put(1)
    third = q.put(2)
    await spin()
    assert not second.done() and not third.done()
    assert q.qsize() == 1
    assert q.get_nowait() == 0  # room: the oldest blocked put goes in
    assert second.done() and not third.done()
    assert await q.get() == 1
    assert third.done()
    assert await q.get() == 2
    assert q.empty()


async def test_put_nowait_hands_item_to_waiting_getter(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)
    getter = q.get()
    q.put_nowait(5)
    assert q.empty()  # it went straight to the getter
    assert await getter == 5
    q.put_nowait(6)  # and the queue still has room for one
    assert q.full()


async def test_get_nowait_admits_blocked_putter(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=2)
    q.put_nowait(1)
    q.put_nowait(2)
    putter = q.put(3)
    assert q.get_nowait() == 1
    assert putter.done()
    assert q.qsize() == 2 and q.full()
    assert [q.get_nowait(), q.get_nowait()] == [2, 3]


async def test_get_resolves_immediately_when_items_are_there(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    q.put_nowait(1)
    getter = q.get(timeout=SHORT)
    assert getter.done() and getter.result() == 1
    await asyncio.sleep(0.05)  # the timeout never fires on a done get
    assert getter.result() == 1


async def test_async_for(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    for i in range(3):
        q.put_nowait(i)
    seen = []
    async for item in q:
        seen.append(item)
        if item == 2:
            break
    assert seen == [0, 1, 2]
    assert q.empty()


async def test_async_for_waits_for_items(io_loop: IOLoop) -> None:
    q: Queue[int | None] = Queue()
    seen: list[int] = []

    async def consumer() -> None:
        async for item in q:
            if item is None:
                return
            seen.append(item)

    task = asyncio.ensure_future(consumer())
    for i in range(3):
        await spin(2)
        await q.put(i)
    await q.put(None)
    await asyncio.wait_for(task, 10)
    assert seen == [0, 1, 2]


# ------------------------------------------------------------------ timeouts


async def test_get_timeout_timedelta(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    with pytest.raises(SquallTimeoutError, match=r"Queue\.get"):
        await q.get(timeout=SHORT)
    assert "getters" not in str(q)


async def test_get_timeout_deadline(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    start = io_loop.time()
    with pytest.raises(builtins.TimeoutError):
        await q.get(timeout=io_loop.time() + 0.02)
    assert io_loop.time() - start >= 0.015


async def test_get_before_timeout(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    getter = q.get(timeout=LONG)
    io_loop.add_callback(q.put_nowait, 1)
    assert await getter == 1


async def test_put_timeout_item_not_added(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)
    q.put_nowait(1)
    with pytest.raises(SquallTimeoutError, match=r"Queue\.put"):
        await q.put(2, timeout=SHORT)
    with pytest.raises(SquallTimeoutError):
        await q.put(3, timeout=io_loop.time() + 0.02)
    assert q.get_nowait() == 1
    assert q.empty()  # neither timed-out item got in
    with pytest.raises(QueueEmpty):
        q.get_nowait()


async def test_put_before_timeout(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)
    q.put_nowait(1)
    putter = q.put(2, timeout=LONG)
    io_loop.add_callback(q.get_nowait)
    await putter
    assert q.get_nowait() == 2


async def test_timed_out_getter_does_not_swallow_item(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    expired = q.get(timeout=SHORT)
    live = q.get()
    with pytest.raises(SquallTimeoutError):
        await expired
    q.put_nowait(1)
    assert await asyncio.wait_for(live, 10) == 1
    q.put_nowait(2)  # no getters left: it stays in the queue
    assert q.get_nowait() == 2


async def test_timed_out_putter_is_skipped(io_loop: IOLoop) -> None:
    q: Queue[str] = Queue(maxsize=1)
    q.put_nowait("a")
    expired = q.put("b", timeout=SHORT)
    live = q.put("c")
    with pytest.raises(SquallTimeoutError):
        await expired
    assert await q.get() == "a"
    await asyncio.wait_for(live, 10)
    assert await q.get() == "c"
    assert q.empty()


@pytest.mark.parametrize("bad", ["1s", True, object()])
async def test_bad_timeout_is_rejected(io_loop: IOLoop, bad: Any) -> None:
    q: Queue[int] = Queue(maxsize=1)
    with pytest.raises(TypeError, match="timeout must be"):
        q.get(timeout=bad)
    q.put_nowait(1)
    with pytest.raises(TypeError, match="timeout must be"):
        q.put(2, timeout=bad)
    with pytest.raises(TypeError, match="timeout must be"):
        q.join(timeout=bad)
    # Nothing was registered or added by the failed calls.
    assert str(q) == "<Queue maxsize=1 queue=deque([1]) tasks=1>"


# -------------------------------------------------------------- cancellation


async def test_cancelled_getter_is_skipped(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    cancelled = q.get()
    live = q.get()
    cancelled.cancel()
    q.put_nowait(1)
    assert live.done() and live.result() == 1
    q.put_nowait(2)
    assert q.get_nowait() == 2


async def test_cancelled_getter_task_is_skipped(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()

    async def consume() -> int:
        return await q.get()

    task = asyncio.ensure_future(consume())
    await spin()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    q.put_nowait(1)
    assert q.qsize() == 1 and q.get_nowait() == 1


async def test_cancelled_putter_is_skipped(io_loop: IOLoop) -> None:
    q: Queue[str] = Queue(maxsize=1)
    q.put_nowait("a")
    cancelled = q.put("b")
    live = q.put("c")
    cancelled.cancel()
    assert q.get_nowait() == "a"
    assert live.done()
    assert q.get_nowait() == "c"
    assert q.empty()


async def test_item_given_back_when_getter_task_cancelled_after_handoff(
    io_loop: IOLoop,
) -> None:
    q: Queue[int] = Queue()
    received: list[int] = []

    async def consume() -> None:
        received.append(await q.get())

    task = asyncio.ensure_future(consume())
    await spin()
    q.put_nowait(1)  # handed to `task`...
    q.put_nowait(2)
    task.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await task
    assert received == []
    # Item 1 went back to the front of the queue: order is preserved.
    assert [q.get_nowait(), q.get_nowait()] == [1, 2]


async def test_item_given_back_goes_to_next_getter(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    received: list[tuple[str, int]] = []

    async def consume(name: str) -> None:
        received.append((name, await q.get()))

    first = asyncio.ensure_future(consume("first"))
    second = asyncio.ensure_future(consume("second"))
    await spin()
    q.put_nowait(1)  # handed to `first`...
    first.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 10)
    assert received == [("second", 1)]
    assert q.empty()


async def test_given_back_item_keeps_priority_order(io_loop: IOLoop) -> None:
    q: PriorityQueue[int] = PriorityQueue()

    async def consume() -> int:
        return await q.get()

    task = asyncio.ensure_future(consume())
    await spin()
    q.put_nowait(5)
    q.put_nowait(9)
    q.put_nowait(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [q.get_nowait() for _ in range(3)] == [1, 5, 9]


async def test_given_back_item_with_custom_storage(io_loop: IOLoop) -> None:
    class SetQueue(Queue[int]):
        """Storage hooks overridden: a set that returns its smallest item."""

        def _init(self) -> None:
            self._queue = set()

        def _put(self, item: int) -> None:
            self._queue.add(item)

        def _get(self) -> int:
            item: int = min(self._queue)
            self._queue.remove(item)
            return item

    q = SetQueue()

    async def consume() -> int:
        return await q.get()

    task = asyncio.ensure_future(consume())
    await spin()
    q.put_nowait(3)
    q.put_nowait(2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted([q.get_nowait(), q.get_nowait()]) == [2, 3]


async def test_wait_for_timeout_does_not_lose_items(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    received: list[int] = []
    for i in range(20):
        try:
            received.append(await asyncio.wait_for(q.get(), 0.001))
        except TimeoutError:
            pass
        if i % 3 == 0:
            io_loop.add_callback(q.put_nowait, i)
    while not q.empty():
        received.append(q.get_nowait())
    assert received == [i for i in range(20) if i % 3 == 0]


# --------------------------------------------------------- task_done / join


async def test_join_on_fresh_queue_is_immediate(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    future = q.join()
    assert future.done()
    await future
    await q.join(timeout=SHORT)


async def test_task_done_and_join(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    for i in range(3):
        q.put_nowait(i)
    joined = q.join()
    for _ in range(3):
        await spin()
        assert not joined.done()
        q.get_nowait()
        q.task_done()
    await asyncio.wait_for(joined, 10)
    assert "tasks" not in str(q)


async def test_task_done_too_many_times(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    with pytest.raises(ValueError, match="too many times"):
        q.task_done()
    q.put_nowait(1)
    q.get_nowait()
    q.task_done()
    with pytest.raises(ValueError, match="too many times"):
        q.task_done()


async def test_join_timeout(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    q.put_nowait(1)
    with pytest.raises(SquallTimeoutError):
        await q.join(timeout=SHORT)
    with pytest.raises(SquallTimeoutError):
        await q.join(timeout=io_loop.time() + 0.02)
    q.get_nowait()
    q.task_done()
    await q.join(timeout=LONG)


async def test_join_counts_items_handed_to_getters(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue()
    getter = q.get()
    q.put_nowait(1)  # straight to the getter, but still a task to finish
    await getter
    assert not q.join().done()
    q.task_done()
    await asyncio.wait_for(q.join(), 10)


async def test_timed_out_put_does_not_count_as_task(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)
    q.put_nowait(1)
    with pytest.raises(SquallTimeoutError):
        await q.put(2, timeout=SHORT)
    q.get_nowait()
    q.task_done()
    await asyncio.wait_for(q.join(), 10)


# ------------------------------------------------------------------ ordering


async def test_priority_queue(io_loop: IOLoop) -> None:
    q: PriorityQueue[tuple[int, str]] = PriorityQueue()
    q.put_nowait((1, "medium"))
    q.put_nowait((0, "high"))
    q.put_nowait((10, "low"))
    assert [(await q.get())[1] for _ in range(3)] == ["high", "medium", "low"]


async def test_priority_queue_blocked_putter_competes(io_loop: IOLoop) -> None:
    q: PriorityQueue[int] = PriorityQueue(maxsize=2)
    q.put_nowait(5)
    q.put_nowait(3)
    putter = q.put(1)  # blocked, but its item is the most urgent
    assert q.get_nowait() == 1
    assert putter.done()
    assert [q.get_nowait(), q.get_nowait()] == [3, 5]


async def test_priority_queue_random_order(io_loop: IOLoop) -> None:
    rng = random.Random(1234)
    items = [rng.randrange(1000) for _ in range(200)]
    q: PriorityQueue[int] = PriorityQueue()
    for item in items:
        await q.put(item)
    assert [q.get_nowait() for _ in items] == sorted(items)


async def test_lifo_queue(io_loop: IOLoop) -> None:
    q: LifoQueue[int] = LifoQueue()
    for i in range(4):
        await q.put(i)
    assert [await q.get() for _ in range(4)] == [3, 2, 1, 0]


async def test_lifo_queue_bounded(io_loop: IOLoop) -> None:
    q: LifoQueue[int] = LifoQueue(maxsize=2)
    q.put_nowait(1)
    q.put_nowait(2)
    with pytest.raises(QueueFull):
        q.put_nowait(3)
    putter = q.put(3)
    assert q.get_nowait() == 3
    assert putter.done()
    assert [q.get_nowait(), q.get_nowait()] == [2, 1]


# --------------------------------------------------------- producer/consumer


@pytest.mark.parametrize("consumer_count", [1, 3])
@pytest.mark.parametrize("maxsize", [0, 1, 3])
async def test_producers_and_consumers(io_loop: IOLoop, maxsize: int, consumer_count: int) -> None:
    q: Queue[tuple[int, int]] = Queue(maxsize=maxsize)
    consumed: list[tuple[int, int]] = []
    peak = 0

    async def producer(pid: int) -> None:
        for i in range(50):
            await q.put((pid, i))
            if i % 7 == 0:
                await asyncio.sleep(0)

    async def consumer() -> None:
        nonlocal peak
        async for item in q:
            peak = max(peak, q.qsize())
            try:
                consumed.append(item)
                if len(consumed) % 5 == 0:
                    await asyncio.sleep(0)
            finally:
                q.task_done()

    consumers = [asyncio.ensure_future(consumer()) for _ in range(consumer_count)]
    await asyncio.wait_for(asyncio.gather(*(producer(p) for p in range(4))), 10)
    await q.join(timeout=LONG)
    for task in consumers:
        task.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)

    assert sorted(consumed) == [(p, i) for p in range(4) for i in range(50)]
    if consumer_count == 1:  # a lone consumer sees each producer's items in order
        for p in range(4):
            assert [i for (pp, i) in consumed if pp == p] == list(range(50))
    if maxsize:
        assert peak <= maxsize
    assert q.empty() and "tasks" not in str(q)


def test_gen_coroutine_producer_consumer(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=2)
    consumed: list[int] = []

    @gen.coroutine
    def consumer() -> Any:
        while True:
            item = yield q.get()
            try:
                if item < 0:
                    return
                consumed.append(item)
                yield gen.moment
            finally:
                q.task_done()

    @gen.coroutine
    def producer() -> Any:
        for i in range(10):
            yield q.put(i)
        yield q.put(-1)

    @gen.coroutine
    def main() -> Any:
        done = consumer()
        yield producer()
        yield q.join()
        yield done

    io_loop.run_sync(main, timeout=10)
    assert consumed == list(range(10))


def test_gen_coroutine_timeouts(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)

    @gen.coroutine
    def main() -> Any:
        outcomes = []
        try:
            yield q.get(timeout=SHORT)
        except SquallTimeoutError:
            outcomes.append("get timed out")
        yield q.put(1)
        try:
            yield q.put(2, timeout=SHORT)
        except SquallTimeoutError:
            outcomes.append("put timed out")
        outcomes.append((yield q.get()))
        return outcomes

    assert io_loop.run_sync(main, timeout=10) == ["get timed out", "put timed out", 1]


async def test_futures_are_on_the_current_loop(io_loop: IOLoop) -> None:
    q: Queue[int] = Queue(maxsize=1)
    getter = q.get(timeout=LONG)
    assert isinstance(getter, asyncio.Future)
    assert getter.get_loop() is io_loop.asyncio_loop
    q.put_nowait(1)
    q.put_nowait(2)
    putter = q.put(3)
    assert isinstance(putter, asyncio.Future)
    assert putter.get_loop() is io_loop.asyncio_loop
    assert await getter == 1
    assert q.get_nowait() == 2
    await putter
    assert q.get_nowait() == 3
