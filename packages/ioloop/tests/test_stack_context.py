"""Tests for squall.stack_context: handlers that follow callbacks."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import pytest
from squall.ioloop import IOLoop
from squall.stack_context import (
    ExceptionStackContext,
    NullContext,
    StackContext,
    StackContextInconsistentError,
    handle_exception,
    has_handlers,
    run_with_stack_context,
    wrap,
)

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


@pytest.fixture
def loop() -> Iterator[IOLoop]:
    io_loop = IOLoop(make_current=True)
    yield io_loop
    io_loop.close(all_fds=True)


def test_exception_in_block_goes_to_handler() -> None:
    seen: list[ExcInfo] = []

    def handler(typ: Any, value: Any, tb: Any) -> bool:
        seen.append((typ, value, tb))
        return True

    with ExceptionStackContext(handler):
        raise KeyError("direct")
    assert seen[0][0] is KeyError


def test_unhandled_exception_propagates() -> None:
    with pytest.raises(KeyError), ExceptionStackContext(lambda *exc: False):
        raise KeyError("not handled")


def test_callback_scheduled_in_context_routes_to_handler(
    loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[BaseException | None] = []

    def handler(typ: Any, value: BaseException | None, tb: Any) -> bool:
        seen.append(value)
        loop.stop()
        return True

    def fail_later() -> None:
        raise ValueError("later")

    with ExceptionStackContext(handler):
        loop.add_callback(loop.call_later, 0.01, fail_later)
    assert not has_handlers()
    loop.add_timeout(loop.time() + 5, loop.stop)
    with caplog.at_level(logging.ERROR, logger="squall.application"):
        loop.start()
    assert isinstance(seen[0], ValueError)
    assert not caplog.records  # handled, so not logged


def test_inner_handler_first_then_outer(loop: IOLoop) -> None:
    order: list[str] = []

    def outer(*exc: Any) -> bool:
        order.append("outer")
        loop.stop()
        return True

    def inner(*exc: Any) -> bool:
        order.append("inner")
        return False

    def fail() -> None:
        raise RuntimeError("x")

    with ExceptionStackContext(outer), ExceptionStackContext(inner):
        loop.add_callback(fail)
    loop.add_timeout(loop.time() + 5, loop.stop)
    loop.start()
    assert order == ["inner", "outer"]


def test_null_context_detaches(loop: IOLoop, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []

    def fail() -> None:
        raise RuntimeError("detached")

    with ExceptionStackContext(lambda *exc: seen.append(exc) or True):
        with NullContext():
            assert not has_handlers()
            loop.add_callback(fail)
        loop.spawn_callback(fail)
    loop.call_later(0.02, loop.stop)
    with caplog.at_level(logging.ERROR, logger="squall.application"):
        loop.start()
    assert seen == []
    assert len([r for r in caplog.records if r.exc_info]) == 2


def test_wrap_runs_in_captured_context_and_handles() -> None:
    seen: list[Any] = []

    def boom() -> None:
        raise IndexError("wrapped")

    with ExceptionStackContext(lambda t, v, tb: seen.append(v) or True):
        wrapped = wrap(boom)
    assert wrapped() is None
    assert isinstance(seen[0], IndexError)
    assert wrap(wrapped) is wrapped
    plain = wrap(lambda: 3)
    assert plain() == 3
    with pytest.raises(IndexError):
        wrap(boom)()


def test_stack_context_reentered_around_wrapped_calls() -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def ctx() -> Iterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    with StackContext(ctx):
        wrapped = wrap(lambda: events.append("call"))
    wrapped()
    assert events == ["enter", "exit", "enter", "call", "exit"]


def test_inconsistent_exit_is_detected() -> None:
    outer = ExceptionStackContext(lambda *exc: False)
    inner = ExceptionStackContext(lambda *exc: False)
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(StackContextInconsistentError):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)


def test_handler_that_raises_passes_new_exception_outward() -> None:
    seen: list[Any] = []

    def outer(typ: Any, value: Any, tb: Any) -> bool:
        seen.append(value)
        return True

    def inner(typ: Any, value: Any, tb: Any) -> bool:
        raise TypeError("from handler")

    with ExceptionStackContext(outer), ExceptionStackContext(inner):
        try:
            raise KeyError("k")
        except KeyError as e:
            assert handle_exception(type(e), e, e.__traceback__)
    assert isinstance(seen[0], TypeError)


def test_run_with_stack_context() -> None:
    assert run_with_stack_context(NullContext(), lambda: 7) == 7
