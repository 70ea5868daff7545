"""Tests for squall.gen: generator coroutines, engine/Task, multi, timeouts, WaitIterator."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import traceback
from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

import pytest
from squall import gen, stack_context
from squall.concurrent import ReturnValueIgnoredError, run_on_executor
from squall.ioloop import IOLoop
from squall.testing import ExpectLog
from squall.util import TimeoutError

APP_LOG = "squall.application"

Gen = Generator[Any, Any, Any]


def run(io_loop: IOLoop, func: Callable[[], Any], timeout: float = 10) -> Any:
    return io_loop.run_sync(func, timeout=timeout)


def frame_names(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


def app_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == APP_LOG and r.levelno >= logging.ERROR]


def exc_of(record: logging.LogRecord) -> BaseException | None:
    return record.exc_info[1] if record.exc_info else None


async def spin(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_public_api() -> None:
    assert set(gen.__all__) == {
        "Arguments",
        "BadYieldError",
        "Return",
        "ReturnValueIgnoredError",
        "Task",
        "TimeoutError",
        "WaitIterator",
        "convert_yielded",
        "coroutine",
        "engine",
        "is_coroutine_function",
        "maybe_future",
        "moment",
        "multi",
        "multi_future",
        "sleep",
        "with_timeout",
    }
    for name in gen.__all__:
        assert getattr(gen, name) is not None
    assert gen.TimeoutError is TimeoutError
    assert gen.ReturnValueIgnoredError is ReturnValueIgnoredError


# ---------------------------------------------------------------- coroutine basics


def test_coroutine_returns_future_with_return_value(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f(x: int) -> Gen:
        yield gen.moment
        return x + 1

    @gen.coroutine
    def g(x: int) -> Gen:
        yield gen.moment
        raise gen.Return(x * 2)

    assert isinstance(f(1), asyncio.Future)
    assert run(io_loop, lambda: f(1)) == 2
    assert run(io_loop, lambda: g(4)) == 8


def test_return_value_attribute() -> None:
    assert gen.Return(3).value == 3
    assert gen.Return().value is None
    assert gen.Return(3).args == (3,)


def test_plain_function_gives_resolved_future(io_loop: IOLoop) -> None:
    @gen.coroutine
    def plain(x: int) -> int:
        return x * 3

    @gen.coroutine
    def plain_return() -> None:
        raise gen.Return("r")

    @gen.coroutine
    def plain_fail() -> None:
        raise KeyError("k")

    future = plain(2)
    assert future.done() and future.result() == 6
    assert plain_return().result() == "r"
    failed = plain_fail()
    assert failed.done()
    with pytest.raises(KeyError):
        failed.result()
    assert plain.__name__ == "plain"
    assert gen.is_coroutine_function(plain)


def test_first_step_runs_synchronously(io_loop: IOLoop) -> None:
    log: list[str] = []

    @gen.coroutine
    def f() -> Gen:
        log.append("start")
        yield gen.moment
        log.append("after yield")
        return "done"

    future = f()
    assert log == ["start"]
    assert not future.done()
    assert run(io_loop, lambda: future) == "done"
    assert log == ["start", "after yield"]


def test_done_futures_continue_synchronously(io_loop: IOLoop) -> None:
    @gen.coroutine
    def inner() -> Gen:
        return 5
        yield  # pragma: no cover - makes this a generator

    @gen.coroutine
    def outer() -> Gen:
        a = yield inner()
        b = yield gen.maybe_future(a + 1)
        c = yield []
        return (a, b, c)

    future = outer()
    assert future.done()
    assert future.result() == (5, 6, [])


def test_exception_reaches_caller_with_traceback(io_loop: IOLoop) -> None:
    @gen.coroutine
    def innermost() -> Gen:
        yield gen.moment
        raise ValueError("boom")

    @gen.coroutine
    def middle() -> Gen:
        yield innermost()

    @gen.coroutine
    def outer() -> Gen:
        try:
            yield middle()
        except ValueError as exc:
            return exc
        return None

    exc = run(io_loop, outer)
    assert isinstance(exc, ValueError) and str(exc) == "boom"
    names = frame_names(exc)
    assert "innermost" in names
    assert "middle" in names

    with pytest.raises(ValueError, match="boom") as info:
        run(io_loop, middle)
    assert "innermost" in frame_names(info.value)


def test_exception_before_first_yield(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f() -> Gen:
        raise LookupError("early")
        yield  # pragma: no cover

    future = f()
    assert future.done()
    with pytest.raises(LookupError) as info:
        future.result()
    assert "f" in frame_names(info.value)


def test_exception_thrown_into_generator_can_be_caught(io_loop: IOLoop) -> None:
    @gen.coroutine
    def fails() -> Gen:
        yield gen.moment
        raise OSError("io")

    @gen.coroutine
    def f() -> Gen:
        try:
            yield fails()
        except OSError:
            pass
        value = yield gen.maybe_future("recovered")
        return value

    assert run(io_loop, f) == "recovered"


def test_yield_none_and_moment_let_the_loop_run(io_loop: IOLoop) -> None:
    order: list[str] = []

    @gen.coroutine
    def f(marker: Any) -> Gen:
        IOLoop.current().add_callback(order.append, "callback")
        order.append("before")
        result = yield marker
        order.append("after")
        return result

    assert run(io_loop, lambda: f(None)) is None
    assert order == ["before", "callback", "after"]
    order.clear()
    assert run(io_loop, lambda: f(gen.moment)) is None
    assert order == ["before", "callback", "after"]
    assert repr(gen.moment) == "squall.gen.moment"


def test_yield_list_and_dict(io_loop: IOLoop) -> None:
    @gen.coroutine
    def delayed(value: Any, delay: float) -> Gen:
        yield gen.sleep(delay)
        return value

    @gen.coroutine
    def f() -> Gen:
        listed = yield [delayed(1, 0.03), delayed(2, 0.0), delayed(3, 0.01)]
        mapped = yield {"z": delayed("a", 0.02), "a": delayed("b", 0.0), "m": gen.moment}
        nested = yield [[delayed(1, 0), delayed(2, 0)], {"k": delayed(3, 0)}]
        empty = yield {}
        return listed, mapped, nested, empty

    listed, mapped, nested, empty = run(io_loop, f)
    assert listed == [1, 2, 3]
    assert mapped == {"z": "a", "a": "b", "m": None}
    assert list(mapped) == ["z", "a", "m"]
    assert nested == [[1, 2], {"k": 3}]
    assert empty == {}


def test_yield_concurrent_future(io_loop: IOLoop) -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)

    @gen.coroutine
    def f() -> Gen:
        ident = yield pool.submit(threading.get_ident)
        try:
            yield pool.submit(lambda: 1 / 0)
        except ZeroDivisionError:
            return ident
        return None

    try:
        ident = run(io_loop, f)
    finally:
        pool.shutdown(wait=True)
    assert ident is not None and ident != threading.get_ident()


def test_bad_yield_raises_at_the_yield(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f() -> Gen:
        try:
            yield 42
        except gen.BadYieldError as exc:
            return str(exc)
        return None

    message = run(io_loop, f)
    assert "builtins.int" in message
    assert "42" in message

    @gen.coroutine
    def g() -> Gen:
        yield object()

    with pytest.raises(gen.BadYieldError, match=r"builtins\.object"):
        run(io_loop, g)

    @gen.coroutine
    def h() -> Gen:
        yield [gen.moment, "not a future"]

    with pytest.raises(gen.BadYieldError, match=r"builtins\.str"):
        run(io_loop, h)


def test_bad_yield_of_plain_generator(io_loop: IOLoop) -> None:
    def helper() -> Gen:
        yield 1

    @gen.coroutine
    def f() -> Gen:
        yield helper()

    with pytest.raises(gen.BadYieldError, match="generator"):
        run(io_loop, f)


def test_huge_repr_is_shortened(io_loop: IOLoop) -> None:
    class Huge:
        def __repr__(self) -> str:
            return "x" * 10_000

    with pytest.raises(gen.BadYieldError) as info:
        gen.convert_yielded(Huge())
    assert len(str(info.value)) < 400
    assert "Huge" in str(info.value)


def test_nested_coroutines(io_loop: IOLoop) -> None:
    @gen.coroutine
    def fib(n: int) -> Gen:
        if n < 2:
            return n
        a, b = yield [fib(n - 1), fib(n - 2)]
        yield gen.moment
        return a + b

    assert run(io_loop, lambda: fib(10)) == 55


async def test_coroutine_cancellation_throws_into_generator(io_loop: IOLoop) -> None:
    events: list[str] = []

    @gen.coroutine
    def worker() -> Gen:
        try:
            yield gen.sleep(5)
        except asyncio.CancelledError:
            events.append("cancelled at yield")
            raise

    future = worker()
    await asyncio.sleep(0)
    future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await future
    await spin()
    assert events == ["cancelled at yield"]


def test_cancellation_during_moment(io_loop: IOLoop) -> None:
    events: list[str] = []

    @gen.coroutine
    def worker() -> Gen:
        try:
            yield gen.moment
        except asyncio.CancelledError:
            events.append("cancelled")
            return "swallowed"
        return "finished"

    async def main() -> None:
        future = worker()
        future.cancel()
        await spin()
        assert future.cancelled()

    run(io_loop, main)
    assert events == ["cancelled"]


def test_asyncio_wait_for_cancels_gen_coroutine(io_loop: IOLoop) -> None:
    reached: list[str] = []

    @gen.coroutine
    def slow() -> Gen:
        try:
            yield gen.sleep(5)
        finally:
            reached.append("finally")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(slow(), 0.02)

    run(io_loop, main)
    assert reached == ["finally"]


def test_legacy_callback_argument(io_loop: IOLoop) -> None:
    got: list[Any] = []

    @gen.coroutine
    def f(x: int) -> Gen:
        yield gen.moment
        return x * 2

    async def main() -> None:
        future = f(21, callback=got.append)  # type: ignore[call-arg]
        assert await future == 42
        await spin()

    run(io_loop, main)
    assert got == [42]


def test_legacy_callback_with_failing_coroutine_is_logged(
    io_loop: IOLoop,
) -> None:
    got: list[Any] = []

    @gen.coroutine
    def f() -> Gen:
        yield gen.moment
        raise ValueError("cb path")

    async def main() -> None:
        future = f(callback=got.append)  # type: ignore[call-arg]
        with pytest.raises(ValueError):
            await future
        await spin()

    with ExpectLog(APP_LOG, "Exception in callback") as expect:
        run(io_loop, main)
    assert got == []
    errors = expect.records
    assert len(errors) == 1
    assert isinstance(exc_of(errors[0]), ValueError)


# ---------------------------------------------------------------- contextvars


def test_context_flows_through_steps_and_does_not_leak(io_loop: IOLoop) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")
    seen: list[str] = []

    @gen.coroutine
    def child() -> Gen:
        seen.append("child:" + var.get())
        yield gen.moment
        seen.append("child after:" + var.get())

    @gen.coroutine
    def f() -> Gen:
        seen.append(var.get())
        var.set("inner")
        yield gen.sleep(0.001)
        seen.append(var.get())
        yield child()
        yield gen.moment
        seen.append(var.get())

    async def main() -> None:
        var.set("caller")
        await f()
        seen.append("caller sees " + var.get())

    run(io_loop, main)
    assert seen == [
        "caller",
        "inner",
        "child:inner",
        "child after:inner",
        "inner",
        "caller sees caller",
    ]


def test_stack_context_inside_coroutine_across_yields(io_loop: IOLoop) -> None:
    handled: list[BaseException | None] = []

    def handler(typ: Any, value: BaseException | None, tb: Any) -> bool:
        handled.append(value)
        return True

    def failing_callback() -> None:
        raise KeyError("later")

    @gen.coroutine
    def f() -> Gen:
        with stack_context.ExceptionStackContext(handler):
            yield gen.moment
            IOLoop.current().add_callback(failing_callback)
            yield gen.sleep(0.01)
        return "ok"

    assert run(io_loop, f) == "ok"
    assert len(handled) == 1 and isinstance(handled[0], KeyError)


# ---------------------------------------------------------------- native interop


def test_native_awaits_gen_coroutine_and_helpers(io_loop: IOLoop) -> None:
    @gen.coroutine
    def double(x: int) -> Gen:
        yield gen.moment
        return x * 2

    async def main() -> Any:
        a = await double(2)
        await gen.moment
        await gen.sleep(0.001)
        b = await gen.multi([double(3), double(4)])
        c = await gen.multi({"x": double(5)})
        d = await gen.convert_yielded(None)
        return a, b, c, d

    assert run(io_loop, main) == (4, [6, 8], {"x": 10}, None)


def test_gen_coroutine_yields_native_coroutine(io_loop: IOLoop) -> None:
    async def native(x: int) -> int:
        await asyncio.sleep(0)
        return x + 100

    async def native_fail() -> None:
        await asyncio.sleep(0)
        raise IndexError("native")

    @gen.coroutine
    def f() -> Gen:
        a = yield native(1)
        b = yield [native(2), native(3)]
        try:
            yield native_fail()
        except IndexError as exc:
            names = frame_names(exc)
        return a, b, names

    a, b, names = run(io_loop, f)
    assert (a, b) == (101, [102, 103])
    assert "native_fail" in names


def test_coroutine_decorating_async_def(io_loop: IOLoop) -> None:
    @gen.coroutine
    async def f(x: int) -> int:
        await asyncio.sleep(0)
        return x * 7

    future = f(6)
    assert isinstance(future, asyncio.Future)
    assert run(io_loop, lambda: future) == 42


def test_yield_custom_awaitable(io_loop: IOLoop) -> None:
    class Awaitable_:
        def __await__(self) -> Generator[Any, None, str]:
            yield from asyncio.sleep(0).__await__()
            return "awaited"

    @gen.coroutine
    def f() -> Gen:
        value = yield Awaitable_()
        return value

    assert run(io_loop, f) == "awaited"


def test_convert_yielded_registration(io_loop: IOLoop) -> None:
    class Deferred:
        def __init__(self, value: Any) -> None:
            self.value = value

    @gen.convert_yielded.register(Deferred)
    def _(d: Deferred) -> asyncio.Future[Any]:
        future = IOLoop.current().asyncio_loop.create_future()
        IOLoop.current().add_callback(future.set_result, d.value)
        return future

    @gen.coroutine
    def f() -> Gen:
        single = yield Deferred(1)
        several = yield [Deferred(2), Deferred(3)]
        return single, several

    assert run(io_loop, f) == (1, [2, 3])


def test_convert_yielded_passes_futures_through(io_loop: IOLoop) -> None:
    future = io_loop.asyncio_loop.create_future()
    assert gen.convert_yielded(future) is future
    cfuture: concurrent.futures.Future[int] = concurrent.futures.Future()
    converted = gen.convert_yielded(cfuture)
    assert isinstance(converted, asyncio.Future)
    cfuture.set_result(3)
    assert run(io_loop, lambda: converted) == 3


def test_maybe_future(io_loop: IOLoop) -> None:
    future = io_loop.asyncio_loop.create_future()
    assert gen.maybe_future(future) is future
    wrapped = gen.maybe_future(5)
    assert isinstance(wrapped, asyncio.Future)
    assert wrapped.result() == 5


def test_is_coroutine_function() -> None:
    @gen.coroutine
    def g() -> Gen:
        yield None

    async def native() -> None:
        pass

    def plain() -> None:
        pass

    assert gen.is_coroutine_function(g)
    assert gen.is_coroutine_function(native)
    assert not gen.is_coroutine_function(plain)
    assert not gen.is_coroutine_function(gen.engine(plain))
    assert not gen.is_coroutine_function(None)


# ---------------------------------------------------------------- engine and Task


def callback_add(a: int, b: int, callback: Callable[[int], None]) -> None:
    """A Tornado-4-style asynchronous function: answers through its callback."""
    IOLoop.current().add_callback(callback, a + b)


def test_engine_with_task(io_loop: IOLoop) -> None:
    results: list[Any] = []

    @gen.engine
    def compute(x: int, callback: Callable[[Any], None]) -> Gen:
        first = yield gen.Task(callback_add, x, 1)
        second = yield gen.Task(callback_add, first, b=10)
        callback((first, second))

    async def main() -> None:
        ret = compute(5, callback=results.append)
        assert ret is None
        assert results == []
        # And Task over an engine function, like gen.Task(self.compute, ...).
        results.append(await gen.Task(compute, 1))

    run(io_loop, main)
    assert results == [(6, 16), (2, 12)]


def test_task_in_coroutine_and_async_def(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f() -> Gen:
        value = yield gen.Task(callback_add, 2, 3)
        return value

    async def main() -> Any:
        return (await f()), (await gen.Task(callback_add, 4, 4))

    assert run(io_loop, main) == (5, 8)


def test_task_callback_argument_shapes(io_loop: IOLoop) -> None:
    def no_args(callback: Callable[[], None]) -> None:
        callback()

    def many_args(callback: Callable[..., None]) -> None:
        IOLoop.current().add_callback(callback, 1, 2, 3)

    def keyword_args(callback: Callable[..., None]) -> None:
        callback("pos", extra=True)

    async def main() -> Any:
        return (
            await gen.Task(no_args),
            await gen.Task(many_args),
            await gen.Task(keyword_args),
        )

    none: Any
    many: Any
    keyword: Any
    none, many, keyword = run(io_loop, main)
    assert none is None
    assert many == gen.Arguments((1, 2, 3), {})
    assert isinstance(many, gen.Arguments) and isinstance(many, tuple)
    assert many.args == (1, 2, 3)
    assert keyword.args == ("pos",) and keyword.kwargs == {"extra": True}


def test_task_uses_callback_value_not_return_value(io_loop: IOLoop) -> None:
    class Client:
        def fetch(self, url: str, callback: Callable[[str], None] | None = None) -> Any:
            future = IOLoop.current().asyncio_loop.create_future()
            future.set_result("future:" + url)
            if callback is not None:
                IOLoop.current().add_callback(callback, "callback:" + url)
            return future

    @gen.engine
    def handler(callback: Callable[[Any], None]) -> Gen:
        response = yield gen.Task(Client().fetch, "/x")
        callback(response)

    async def main() -> Any:
        return await gen.Task(handler)

    assert run(io_loop, main) == "callback:/x"


def test_task_first_callback_wins(io_loop: IOLoop) -> None:
    def twice(callback: Callable[[str], None]) -> None:
        callback("first")
        callback("second")

    assert run(io_loop, lambda: gen.Task(twice)) == "first"


def test_task_callback_from_another_thread(io_loop: IOLoop) -> None:
    def threaded(callback: Callable[[int], None]) -> None:
        threading.Thread(target=lambda: callback(threading.get_ident())).start()

    ident = run(io_loop, lambda: gen.Task(threaded))
    assert ident != threading.get_ident()


def test_task_function_raises_synchronously(io_loop: IOLoop) -> None:
    def broken(callback: Callable[[int], None]) -> None:
        raise ValueError("sync failure")

    @gen.coroutine
    def f() -> Gen:
        yield gen.Task(broken)

    with pytest.raises(ValueError, match="sync failure") as info:
        run(io_loop, f)
    assert "broken" in frame_names(info.value)


def test_task_failure_in_scheduled_callback(io_loop: IOLoop) -> None:
    def later_failure(callback: Callable[[int], None]) -> None:
        def step() -> None:
            raise KeyError("async failure")

        IOLoop.current().add_callback(step)

    @gen.engine
    def f(callback: Callable[[Any], None]) -> Gen:
        try:
            yield gen.Task(later_failure)
        except KeyError as exc:
            callback(("caught", exc.args[0]))

    assert run(io_loop, lambda: gen.Task(f)) == ("caught", "async failure")


def test_task_rejects_non_callable(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f() -> Gen:
        yield gen.Task(42)  # type: ignore[arg-type]

    with pytest.raises(TypeError):
        run(io_loop, f)


async def test_task_over_failing_engine(io_loop: IOLoop) -> None:
    """An engine failing later is routed to the Task that called it (its stack context)."""

    @gen.engine
    def failing(callback: Callable[[Any], None]) -> Gen:
        yield gen.moment
        raise LookupError("engine failed later")

    with pytest.raises(LookupError, match="engine failed later") as info:
        await gen.with_timeout(timedelta(seconds=5), gen.Task(failing))
    assert "failing" in frame_names(info.value)


@pytest.mark.gen_test(timeout=10)
def test_classic_generator_test_function() -> Gen:
    first = yield gen.Task(callback_add, 1, 2)
    both = yield [gen.Task(callback_add, first, 1), gen.sleep(0.001)]
    assert (first, both) == (3, [4, None])


def test_engine_first_step_exception_raises_to_caller(io_loop: IOLoop) -> None:
    @gen.engine
    def f() -> Gen:
        raise RuntimeError("sync engine failure")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="sync engine failure"):
        f()


def test_engine_return_value_is_an_error(io_loop: IOLoop) -> None:
    @gen.engine
    def sync_return() -> int:
        return 1

    with pytest.raises(ReturnValueIgnoredError, match="sync_return"):
        sync_return()

    @gen.engine
    def returns_none() -> None:
        return None

    assert returns_none() is None


def test_engine_late_return_value_goes_to_stack_context(io_loop: IOLoop) -> None:
    handled: list[BaseException | None] = []

    def handler(typ: Any, value: BaseException | None, tb: Any) -> bool:
        handled.append(value)
        return True

    @gen.engine
    def f() -> Gen:
        yield gen.moment
        return "lost"

    async def main() -> None:
        with stack_context.ExceptionStackContext(handler):
            f()
        await spin()

    run(io_loop, main)
    assert len(handled) == 1
    assert isinstance(handled[0], ReturnValueIgnoredError)
    assert "lost" in str(handled[0])


def test_engine_error_routed_to_exception_stack_context(io_loop: IOLoop) -> None:
    """The @web.asynchronous + @gen.engine pattern: a later failure reaches the handler."""
    handled: list[tuple[Any, BaseException | None]] = []

    def handler(typ: Any, value: BaseException | None, tb: Any) -> bool:
        handled.append((typ, value))
        return True

    @gen.engine
    def get() -> Gen:
        yield gen.Task(callback_add, 1, 2)
        raise ZeroDivisionError("handler bug")

    async def main() -> None:
        with stack_context.ExceptionStackContext(handler):
            get()
        assert handled == []
        await gen.sleep(0.01)
        await spin()

    run(io_loop, main)
    assert len(handled) == 1
    typ, value = handled[0]
    assert typ is ZeroDivisionError
    assert value is not None and "get" in frame_names(value)


def test_engine_error_without_handler_is_logged(
    io_loop: IOLoop,
) -> None:
    @gen.engine
    def get() -> Gen:
        yield gen.moment
        raise ZeroDivisionError("unhandled engine failure")

    async def main() -> None:
        get()
        await spin()

    with ExpectLog(APP_LOG, "Exception in callback") as expect:
        run(io_loop, main)
    errors = expect.records
    assert len(errors) == 1
    assert isinstance(exc_of(errors[0]), ZeroDivisionError)


def test_engine_handler_declining_falls_back_to_log(
    io_loop: IOLoop,
) -> None:
    seen: list[Any] = []

    def declining(typ: Any, value: BaseException | None, tb: Any) -> bool:
        seen.append(typ)
        return False

    @gen.engine
    def get() -> Gen:
        yield gen.moment
        raise OSError("declined")

    async def main() -> None:
        with stack_context.ExceptionStackContext(declining):
            get()
        await spin()

    with ExpectLog(APP_LOG, "Exception in callback") as expect:
        run(io_loop, main)
    assert seen == [OSError]
    assert len(expect.records) == 1


# ---------------------------------------------------------------- multi


def test_multi_first_exception_raised_others_logged(
    io_loop: IOLoop,
) -> None:
    @gen.coroutine
    def fail(exc: BaseException, delay: float) -> Gen:
        yield gen.sleep(delay)
        raise exc

    async def main() -> None:
        with pytest.raises(ValueError, match="first"):
            await gen.multi([fail(ValueError("first"), 0), fail(KeyError("second"), 0.02)])
        await gen.sleep(0.05)

    with ExpectLog(APP_LOG, "Multiple exceptions in yield list") as expect:
        run(io_loop, main)
    errors = expect.records
    assert len(errors) == 1
    assert "Multiple exceptions" in errors[0].getMessage()
    assert isinstance(exc_of(errors[0]), KeyError)


def test_multi_quiet_exceptions(io_loop: IOLoop, caplog: pytest.LogCaptureFixture) -> None:
    @gen.coroutine
    def fail(exc: BaseException, delay: float) -> Gen:
        yield gen.sleep(delay)
        raise exc

    async def main() -> None:
        with pytest.raises(ValueError):
            await gen.multi(
                {"a": fail(ValueError("1"), 0), "b": fail(KeyError("2"), 0.01)},
                quiet_exceptions=KeyError,
            )
        with pytest.raises(ValueError):
            await gen.multi_future(
                [fail(ValueError("1"), 0), fail(KeyError("2"), 0.01)],
                quiet_exceptions=(KeyError, OSError),
            )
        await gen.sleep(0.04)

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        run(io_loop, main)
    assert app_errors(caplog) == []


async def test_multi_cancelled_child(io_loop: IOLoop) -> None:
    child = asyncio.get_running_loop().create_future()
    result = gen.multi([child, gen.sleep(0)])
    child.cancel()
    with pytest.raises(asyncio.CancelledError):
        await result


def test_multi_same_future_twice_and_tuple(io_loop: IOLoop) -> None:
    async def main() -> Any:
        shared = gen.sleep(0.001)
        return await gen.multi([shared, shared]), await gen.multi((gen.maybe_future(1),))

    assert run(io_loop, main) == ([None, None], [1])


def test_multi_bad_child(io_loop: IOLoop) -> None:
    with pytest.raises(gen.BadYieldError, match=r"builtins\.float"):
        gen.multi([1.5])


# ---------------------------------------------------------------- with_timeout and sleep


def test_with_timeout_result_in_time(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f() -> Gen:
        value = yield gen.with_timeout(timedelta(seconds=5), gen.sleep(0.001))
        quick = yield gen.with_timeout(IOLoop.current().time() + 5, gen.maybe_future("q"))
        return value, quick

    assert run(io_loop, f) == (None, "q")


async def test_with_timeout_expires_without_cancelling(io_loop: IOLoop) -> None:
    inner = gen.sleep(0.05)
    with pytest.raises(TimeoutError, match="Timeout"):
        await gen.with_timeout(timedelta(seconds=0.01), inner)
    assert not inner.cancelled()
    await inner
    assert inner.result() is None

    deadline = IOLoop.current().time() + 0.01
    with pytest.raises(gen.TimeoutError):
        await gen.with_timeout(deadline, gen.sleep(1))


def test_with_timeout_logs_late_failure_unless_quiet(
    io_loop: IOLoop,
) -> None:
    @gen.coroutine
    def fail_later(exc: BaseException) -> Gen:
        yield gen.sleep(0.03)
        raise exc

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await gen.with_timeout(timedelta(seconds=0.001), fail_later(ValueError("late")))
        with pytest.raises(TimeoutError):
            await gen.with_timeout(
                timedelta(seconds=0.001), fail_later(KeyError("quiet")), quiet_exceptions=KeyError
            )
        await gen.sleep(0.08)

    with ExpectLog(APP_LOG, "Exception in Future") as expect:
        run(io_loop, main)
    errors = expect.records
    assert len(errors) == 1
    assert "after timeout" in errors[0].getMessage()
    assert isinstance(exc_of(errors[0]), ValueError)


def test_with_timeout_on_native_coroutine_and_concurrent_future(io_loop: IOLoop) -> None:
    async def native() -> str:
        await asyncio.sleep(0)
        return "native"

    pool = concurrent.futures.ThreadPoolExecutor(1)

    async def main() -> Any:
        a = await gen.with_timeout(timedelta(seconds=5), native())
        b = await gen.with_timeout(timedelta(seconds=5), pool.submit(lambda: "thread"))
        return a, b

    try:
        assert run(io_loop, main) == ("native", "thread")
    finally:
        pool.shutdown(wait=True)


async def test_with_timeout_bad_deadline(io_loop: IOLoop) -> None:
    with pytest.raises(TypeError):
        gen.with_timeout("soon", gen.sleep(0))  # type: ignore[arg-type,unused-ignore]


def test_sleep(io_loop: IOLoop) -> None:
    async def main() -> float:
        start = IOLoop.current().time()
        future = gen.sleep(0.02)
        await future
        assert future.result() is None
        return IOLoop.current().time() - start

    assert run(io_loop, main) >= 0.015


# ---------------------------------------------------------------- WaitIterator


def delayed_value(value: Any, delay: float) -> asyncio.Future[Any]:
    @gen.coroutine
    def f() -> Gen:
        yield gen.sleep(delay)
        if isinstance(value, BaseException):
            raise value
        return value

    return f()


def test_wait_iterator_positional(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f() -> Gen:
        it = gen.WaitIterator(
            delayed_value("slow", 0.04), delayed_value("fast", 0.0), delayed_value("mid", 0.02)
        )
        seen = []
        while not it.done():
            result = yield it.next()
            seen.append((it.current_index, result))
            assert it.current_future is not None and it.current_future.result() == result
        assert it.current_index is None and it.current_future is None
        return seen

    assert run(io_loop, f) == [(1, "fast"), (2, "mid"), (0, "slow")]


def test_wait_iterator_keywords_and_errors(io_loop: IOLoop) -> None:
    @gen.coroutine
    def f() -> Gen:
        it = gen.WaitIterator(
            a=delayed_value(ValueError("bad"), 0.0), b=delayed_value("good", 0.02)
        )
        seen = []
        while not it.done():
            try:
                result = yield it.next()
            except ValueError as exc:
                seen.append((it.current_index, "error:" + str(exc)))
            else:
                seen.append((it.current_index, result))
        return seen

    assert run(io_loop, f) == [("a", "error:bad"), ("b", "good")]


def test_wait_iterator_async_for_with_done_futures(io_loop: IOLoop) -> None:
    async def main() -> list[Any]:
        done = gen.maybe_future("already")

        async def native() -> str:
            await asyncio.sleep(0.01)
            return "native"

        it = gen.WaitIterator(native(), done)
        seen = []
        async for result in it:
            seen.append((it.current_index, result))
        return seen

    assert run(io_loop, main) == [(1, "already"), (0, "native")]


def test_wait_iterator_empty_and_misuse(io_loop: IOLoop) -> None:
    assert gen.WaitIterator().done()
    with pytest.raises(ValueError, match="not both"):
        gen.WaitIterator(gen.maybe_future(1), a=gen.maybe_future(2))

    async def main() -> None:
        shared = gen.sleep(0)
        with pytest.raises(ValueError, match="twice"):
            gen.WaitIterator(shared, shared)
        it = gen.WaitIterator(gen.sleep(0.01))
        first = it.next()
        with pytest.raises(RuntimeError, match="previous"):
            it.next()
        await first
        assert it.done()
        with pytest.raises(RuntimeError, match="handed out"):
            it.next()
        await shared

    run(io_loop, main)


# ---------------------------------------------------------------- run_on_executor with gen


def test_run_on_executor_inside_coroutine(io_loop: IOLoop) -> None:
    class Service:
        def __init__(self) -> None:
            self.executor = concurrent.futures.ThreadPoolExecutor(1)

        @run_on_executor
        def blocking(self, x: int) -> int:
            return x * x

    service = Service()

    @gen.coroutine
    def f() -> Gen:
        a = yield service.blocking(3)
        b = yield gen.Task(service.blocking, 4)
        return a, b

    try:
        assert run(io_loop, f) == (9, 16)
    finally:
        service.executor.shutdown(wait=True)
