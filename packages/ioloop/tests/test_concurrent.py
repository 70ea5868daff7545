"""Tests for squall.concurrent: Future helpers, chain_future and run_on_executor."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from squall import concurrent as sc
from squall import stack_context
from squall.ioloop import IOLoop
from squall.testing import ExpectLog

APP_LOG = "squall.application"


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    executor = concurrent.futures.ThreadPoolExecutor(2)
    yield executor
    executor.shutdown(wait=True)


def test_public_api() -> None:
    assert set(sc.__all__) == {
        "FUTURES",
        "DummyExecutor",
        "Future",
        "ReturnValueIgnoredError",
        "TracebackFuture",
        "chain_future",
        "dummy_executor",
        "future_add_done_callback",
        "future_set_exc_info",
        "future_set_exception_unless_cancelled",
        "future_set_result_unless_cancelled",
        "is_future",
        "return_future",
        "run_on_executor",
    }
    for name in sc.__all__:
        assert getattr(sc, name) is not None


def test_future_is_asyncio_future() -> None:
    assert sc.Future is asyncio.Future
    assert sc.TracebackFuture is asyncio.Future
    futures = sc.FUTURES
    assert futures == (asyncio.Future, concurrent.futures.Future)
    assert issubclass(sc.ReturnValueIgnoredError, Exception)


def test_is_future(io_loop: IOLoop) -> None:
    assert sc.is_future(io_loop.asyncio_loop.create_future())
    assert sc.is_future(concurrent.futures.Future())

    async def coro() -> None:
        pass

    task = io_loop.asyncio_loop.create_task(coro())
    assert sc.is_future(task)
    io_loop.run_sync(lambda: task)
    c = coro()
    assert not sc.is_future(c)
    c.close()
    assert not sc.is_future(None)
    assert not sc.is_future(42)


# ---------------------------------------------------------------- DummyExecutor


def test_dummy_executor_runs_inline() -> None:
    thread_ids: list[int] = []

    def work(a: int, b: int = 0) -> int:
        thread_ids.append(threading.get_ident())
        return a + b

    future = sc.dummy_executor.submit(work, 1, b=2)
    assert future.done()
    assert future.result() == 3
    assert thread_ids == [threading.get_ident()]


def test_dummy_executor_captures_exception() -> None:
    def fail() -> None:
        raise KeyError("nope")

    future = sc.DummyExecutor().submit(fail)
    assert future.done()
    with pytest.raises(KeyError, match="nope") as info:
        future.result()
    assert "fail" in [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]


def test_dummy_executor_shutdown_and_map() -> None:
    executor = sc.DummyExecutor()
    assert list(executor.map(lambda x: x * 2, [1, 2, 3])) == [2, 4, 6]
    executor.shutdown()
    executor.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------- setters


def test_set_result_unless_cancelled(io_loop: IOLoop) -> None:
    future = io_loop.asyncio_loop.create_future()
    sc.future_set_result_unless_cancelled(future, 5)
    assert future.result() == 5

    cancelled = io_loop.asyncio_loop.create_future()
    cancelled.cancel()
    sc.future_set_result_unless_cancelled(cancelled, 5)
    assert cancelled.cancelled()

    cfuture: concurrent.futures.Future[int] = concurrent.futures.Future()
    sc.future_set_result_unless_cancelled(cfuture, 7)
    assert cfuture.result() == 7
    ccancelled: concurrent.futures.Future[int] = concurrent.futures.Future()
    ccancelled.cancel()
    sc.future_set_result_unless_cancelled(ccancelled, 7)
    assert ccancelled.cancelled()


def test_set_result_twice_is_an_error(io_loop: IOLoop) -> None:
    future = io_loop.asyncio_loop.create_future()
    sc.future_set_result_unless_cancelled(future, 1)
    with pytest.raises(asyncio.InvalidStateError):
        sc.future_set_result_unless_cancelled(future, 2)


def test_set_exception_unless_cancelled(io_loop: IOLoop) -> None:
    future = io_loop.asyncio_loop.create_future()
    sc.future_set_exception_unless_cancelled(future, ValueError("x"))
    with pytest.raises(ValueError):
        future.result()

    cancelled = io_loop.asyncio_loop.create_future()
    cancelled.cancel()
    with ExpectLog(APP_LOG, "Exception after Future was cancelled") as expect:
        sc.future_set_exception_unless_cancelled(cancelled, ValueError("late"))
    assert cancelled.cancelled()
    records = expect.records
    assert len(records) == 1
    assert "after Future was cancelled" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], ValueError)


def test_set_exc_info_keeps_traceback(io_loop: IOLoop) -> None:
    def deep() -> None:
        raise RuntimeError("deep")

    future = io_loop.asyncio_loop.create_future()
    try:
        deep()
    except RuntimeError:
        sc.future_set_exc_info(future, sys.exc_info())
    with pytest.raises(RuntimeError) as info:
        future.result()
    assert "deep" in [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]


def test_set_exc_info_without_exception(io_loop: IOLoop) -> None:
    future = io_loop.asyncio_loop.create_future()
    with pytest.raises(ValueError, match="no exception"):
        sc.future_set_exc_info(future, (None, None, None))
    assert not future.done()


# ---------------------------------------------------------------- future_add_done_callback


def test_add_done_callback_runs_now_when_done(io_loop: IOLoop) -> None:
    seen: list[Any] = []
    future = io_loop.asyncio_loop.create_future()
    future.set_result(1)
    sc.future_add_done_callback(future, seen.append)
    assert seen == [future]

    cfuture: concurrent.futures.Future[int] = concurrent.futures.Future()
    cfuture.set_result(2)
    sc.future_add_done_callback(cfuture, seen.append)
    assert seen == [future, cfuture]


def test_add_done_callback_runs_later_when_pending(io_loop: IOLoop) -> None:
    seen: list[Any] = []
    future = io_loop.asyncio_loop.create_future()
    sc.future_add_done_callback(future, seen.append)
    assert seen == []

    async def main() -> None:
        future.set_result(3)
        await asyncio.sleep(0)

    io_loop.run_sync(main)
    assert seen == [future]

    cfuture: concurrent.futures.Future[int] = concurrent.futures.Future()
    sc.future_add_done_callback(cfuture, seen.append)
    assert len(seen) == 1
    cfuture.set_result(4)
    assert seen == [future, cfuture]


# ---------------------------------------------------------------- chain_future


def test_chain_asyncio_result(io_loop: IOLoop) -> None:
    async def main() -> Any:
        a = asyncio.get_running_loop().create_future()
        b = asyncio.get_running_loop().create_future()
        sc.chain_future(a, b)
        a.set_result("r")
        return await b

    assert io_loop.run_sync(main) == "r"


def test_chain_asyncio_exception_and_cancel(io_loop: IOLoop) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        a, b = loop.create_future(), loop.create_future()
        sc.chain_future(a, b)
        a.set_exception(KeyError("k"))
        with pytest.raises(KeyError):
            await b
        c, d = loop.create_future(), loop.create_future()
        sc.chain_future(c, d)
        c.cancel()
        with pytest.raises(asyncio.CancelledError):
            await d
        assert d.cancelled()

    io_loop.run_sync(main)


def test_chain_into_done_target_is_ignored(io_loop: IOLoop) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        a, b = loop.create_future(), loop.create_future()
        b.cancel()
        sc.chain_future(a, b)
        a.set_result(1)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert b.cancelled()
        c, d = loop.create_future(), loop.create_future()
        d.set_result("first")
        sc.chain_future(c, d)
        c.set_exception(ValueError())
        await asyncio.sleep(0)
        assert d.result() == "first"
        c.exception()  # retrieved: no "never retrieved" noise

    io_loop.run_sync(main)


def test_chain_already_done_source(io_loop: IOLoop) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        a, b = loop.create_future(), loop.create_future()
        a.set_result(9)
        sc.chain_future(a, b)
        assert b.result() == 9

    io_loop.run_sync(main)


def test_chain_concurrent_from_thread(
    io_loop: IOLoop, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    barrier = threading.Event()

    def work() -> int:
        barrier.wait(10)
        return threading.get_ident()

    async def main() -> None:
        target = asyncio.get_running_loop().create_future()
        resolved_on: list[int] = []
        target.add_done_callback(lambda f: resolved_on.append(threading.get_ident()))
        sc.chain_future(pool.submit(work), target)
        barrier.set()
        worker_ident = await asyncio.wait_for(target, 10)
        assert worker_ident != threading.get_ident()
        await asyncio.sleep(0)
        assert resolved_on == [threading.get_ident()]

        failing = pool.submit(lambda: 1 / 0)
        target2 = asyncio.get_running_loop().create_future()
        sc.chain_future(failing, target2)
        with pytest.raises(ZeroDivisionError):
            await asyncio.wait_for(target2, 10)

    io_loop.run_sync(main)


def test_chain_asyncio_into_concurrent(io_loop: IOLoop) -> None:
    async def main() -> None:
        a = asyncio.get_running_loop().create_future()
        b: concurrent.futures.Future[Any] = concurrent.futures.Future()
        sc.chain_future(a, b)
        a.set_result("x")
        await asyncio.sleep(0)
        assert b.result(timeout=0) == "x"

    io_loop.run_sync(main)


def test_chain_concurrent_into_closed_loop_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    loop = IOLoop(make_current=False)
    target = loop.asyncio_loop.create_future()
    source: concurrent.futures.Future[int] = concurrent.futures.Future()
    sc.chain_future(source, target)
    loop.close()
    # concurrent.futures logs (on its own logger) an exception raised by a
    # done-callback: there must be none.
    with caplog.at_level(logging.DEBUG):
        thread = threading.Thread(target=source.set_result, args=(1,))
        thread.start()
        thread.join(10)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not target.done()


# ---------------------------------------------------------------- run_on_executor


class Worker:
    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self.executor = executor
        self.other = sc.dummy_executor

    @sc.run_on_executor
    def add(self, a: int, b: int) -> tuple[int, int]:
        return a + b, threading.get_ident()

    @sc.run_on_executor
    def fail(self) -> None:
        raise ValueError("from executor")

    @sc.run_on_executor(executor="other")
    def on_other(self, x: int) -> int:
        return x * 10

    @sc.run_on_executor(executor="missing")
    def nowhere(self) -> None:
        pass


def test_run_on_executor_returns_asyncio_future(
    io_loop: IOLoop, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    worker = Worker(pool)

    async def main() -> None:
        future = worker.add(1, 2)
        assert isinstance(future, asyncio.Future)
        total, ident = await asyncio.wait_for(future, 10)
        assert total == 3
        assert ident != threading.get_ident()

    io_loop.run_sync(main)
    assert Worker.add.__name__ == "add"


def test_run_on_executor_exception_keeps_traceback(
    io_loop: IOLoop, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    worker = Worker(pool)

    async def main() -> None:
        with pytest.raises(ValueError, match="from executor") as info:
            await asyncio.wait_for(worker.fail(), 10)
        names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
        assert "fail" in names

    io_loop.run_sync(main)


def test_run_on_executor_named_executor(io_loop: IOLoop) -> None:
    worker = Worker(sc.dummy_executor)

    async def main() -> int:
        result: int = await worker.on_other(4)
        return result

    assert io_loop.run_sync(main) == 40


def test_run_on_executor_missing_executor(io_loop: IOLoop) -> None:
    worker = Worker(sc.dummy_executor)
    with pytest.raises(AttributeError, match=r"Worker\.missing"):
        worker.nowhere()


def test_run_on_executor_bad_decorator_arguments() -> None:
    with pytest.raises(TypeError, match="unexpected"):
        sc.run_on_executor(thread_pool="x")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="attribute name"):
        sc.run_on_executor(executor=5)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        sc.run_on_executor(1, 2)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        sc.run_on_executor(lambda self: None, executor="x")  # type: ignore[call-overload]


def test_run_on_executor_accepts_legacy_io_loop_argument(io_loop: IOLoop) -> None:
    class Legacy:
        executor = sc.dummy_executor

        @sc.run_on_executor(io_loop="io_loop", executor="executor")
        def get(self) -> str:
            return "ok"

    assert io_loop.run_sync(Legacy().get) == "ok"


def test_run_on_executor_copies_context(
    io_loop: IOLoop, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    class Reader:
        executor = pool

        @sc.run_on_executor
        def read(self) -> str:
            return var.get()

    async def main() -> str:
        var.set("request-42")
        result: str = await asyncio.wait_for(Reader().read(), 10)
        return result

    assert io_loop.run_sync(main) == "request-42"


def test_run_on_executor_legacy_callback(
    io_loop: IOLoop, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    worker = Worker(pool)
    got: list[Any] = []
    loop_thread = threading.get_ident()

    async def main() -> None:
        done = asyncio.Event()

        def callback(value: Any) -> None:
            got.append((value[0], threading.get_ident()))
            done.set()

        future = worker.add(5, 6, callback=callback)
        assert isinstance(future, asyncio.Future)
        await asyncio.wait_for(done.wait(), 10)

    io_loop.run_sync(main)
    assert got == [(11, loop_thread)]


def test_run_on_executor_legacy_callback_error_is_logged(
    io_loop: IOLoop,
) -> None:
    worker = Worker(sc.dummy_executor)
    called: list[Any] = []

    async def main() -> None:
        future = worker.fail(callback=called.append)
        with pytest.raises(ValueError):
            await future
        for _ in range(3):
            await asyncio.sleep(0)

    with ExpectLog(APP_LOG, "Exception in callback") as expect:
        io_loop.run_sync(main)
    assert called == []
    errors = expect.records
    assert len(errors) == 1
    assert isinstance(errors[0].exc_info[1], ValueError)  # type: ignore[index]


def test_run_on_executor_legacy_callback_error_goes_to_stack_context(
    io_loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(sc.dummy_executor)
    handled: list[BaseException | None] = []

    def handler(typ: Any, value: BaseException | None, tb: Any) -> bool:
        handled.append(value)
        return True

    def broken_callback(value: Any) -> None:
        raise KeyError("in callback")

    async def main() -> None:
        with stack_context.ExceptionStackContext(handler):
            worker.add(1, 1, callback=broken_callback)
        for _ in range(5):
            await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        io_loop.run_sync(main)
    assert len(handled) == 1
    assert isinstance(handled[0], KeyError)
    assert not [r for r in caplog.records if r.name == APP_LOG]


# -- return_future (Tornado 4) ----------------------------------------------------


def test_return_future_resolves_through_callback(io_loop: IOLoop) -> None:
    from squall.concurrent import return_future

    @return_future
    def add_later(a: int, b: int, callback: Any) -> None:
        io_loop.call_later(0.01, callback, a + b)

    @return_future
    def fails(callback: Any) -> None:
        raise KeyError("sync failure")

    results: list[Any] = []

    async def main() -> None:
        assert await add_later(1, 2) == 3
        add_later(2, 3, callback=results.append)
        with pytest.raises(KeyError):
            await fails()
        await asyncio.sleep(0.05)

    io_loop.run_sync(main)
    assert results == [5]


def test_return_future_rejects_function_without_callback() -> None:
    from squall.concurrent import return_future

    def no_callback(a: int) -> None:
        pass

    with pytest.raises(ValueError, match="callback"):
        return_future(no_callback)
