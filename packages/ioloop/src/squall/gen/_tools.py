"""Helpers around yieldables: callback adapters, timeouts, sleeping, completion order."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, NamedTuple

from squall import stack_context
from squall.concurrent import (
    _create_future,
    chain_future,
    future_add_done_callback,
    future_set_exc_info,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
)
from squall.gen._core import _as_future
from squall.util import TimeoutError

_app_log = logging.getLogger("squall.application")


class Arguments(NamedTuple):
    """What a :class:`Task` resolves to when its callback gets several arguments.

    :param args: the positional arguments of the callback call.
    :param kwargs: its keyword arguments.

    .. versionadded:: 0.1.0
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def Task(func: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:  # noqa: N802
    """Call a callback-style function and return a Future for what it calls back with.

    Calls ``func(*args, callback=cb, **kwargs)``; the returned Future is
    resolved by the first call of ``cb``: with its single argument, with
    ``None`` when called without arguments, or with an :class:`Arguments`
    tuple when called with several or with keyword arguments.  Whatever
    ``func`` returns is ignored (so ``gen.Task(client.fetch, url)`` uses the
    callback's response even though ``fetch`` also returns a Future).

    ``cb`` may be called from another thread.  An exception raised by
    ``func``, or by a callback it scheduled on the IOLoop (through an
    :class:`squall.stack_context.ExceptionStackContext` set up here), fails
    the Future instead, as long as it is not yet resolved.

    This is the ``yield gen.Task(...)`` of Tornado 4 code; it works in
    :func:`engine`, :func:`coroutine` and ``async def`` alike.

    :param func: a function taking a ``callback`` keyword argument.
    :returns: a Future for the callback's value.

    .. versionadded:: 0.1.0
    """
    future: asyncio.Future[Any] = _create_future()
    loop = future.get_loop()

    def set_result(value: Any) -> None:
        if not future.done():
            future.set_result(value)

    def callback(*cb_args: Any, **cb_kwargs: Any) -> None:
        if cb_kwargs or len(cb_args) > 1:
            value: Any = Arguments(cb_args, cb_kwargs)
        elif cb_args:
            value = cb_args[0]
        else:
            value = None
        if _on_loop_thread(loop):
            set_result(value)
        else:
            loop.call_soon_threadsafe(set_result, value)

    def handle_exception(
        typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if future.done() or not isinstance(value, Exception):
            return False
        future_set_exc_info(future, (typ, value, tb))
        return True

    with stack_context.ExceptionStackContext(handle_exception):
        func(*args, callback=callback, **kwargs)
    return future


def with_timeout(
    timeout: float | timedelta,
    future: Any,
    quiet_exceptions: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> asyncio.Future[Any]:
    """Wrap a yieldable in a Future that fails if it takes too long.

    The returned Future follows ``future`` (anything :func:`convert_yielded`
    understands) until the deadline; then it fails with
    :class:`squall.util.TimeoutError`.  The wrapped work is *not* cancelled
    (as in Tornado): if it later fails, its exception is logged on
    ``squall.application`` unless its type is in ``quiet_exceptions``.

    :param timeout: a deadline in :meth:`squall.ioloop.IOLoop.time` terms,
        or a :class:`datetime.timedelta` from now.
    :param future: the yieldable to wait for.
    :param quiet_exceptions: exception types not to log after a timeout.
    :returns: a Future for ``future``'s result.
    :raises TypeError: if ``timeout`` is neither a number nor a timedelta.

    .. versionadded:: 0.1.0
    """
    from squall.ioloop import IOLoop

    inner = _as_future(future)
    result: asyncio.Future[Any] = inner.get_loop().create_future()
    chain_future(inner, result)
    if result.done():
        return result

    def log_late_failure(late: asyncio.Future[Any]) -> None:
        if late.cancelled():
            return
        exc = late.exception()
        if exc is not None and not isinstance(exc, quiet_exceptions):
            _app_log.error("Exception in Future %r after timeout", late, exc_info=exc)

    def on_timeout() -> None:
        if not result.done():
            future_set_exception_unless_cancelled(result, TimeoutError("Timeout"))
            future_add_done_callback(inner, log_late_failure)

    io_loop = IOLoop.current()
    handle = io_loop.add_timeout(timeout, on_timeout)
    result.add_done_callback(lambda _f: io_loop.remove_timeout(handle))
    return result


def sleep(duration: float) -> asyncio.Future[None]:
    """Return a Future resolved with ``None`` after ``duration`` seconds.

    ``yield gen.sleep(0.5)`` in a :func:`coroutine` (or ``await``) pauses
    without blocking the loop.

    :param duration: seconds, as a float.

    .. versionadded:: 0.1.0
    """
    future: asyncio.Future[None] = _create_future()
    future.get_loop().call_later(duration, future_set_result_unless_cancelled, future, None)
    return future


class WaitIterator:
    """Wait for several yieldables, one at a time, in the order they finish.

    Give either positional yieldables (:attr:`current_index` is then their
    position) or keyword ones (:attr:`current_index` is the keyword)::

        it = gen.WaitIterator(fetch(a), fetch(b))
        while not it.done():
            try:
                result = yield it.next()
            except Exception as e:
                print("#%s failed: %s" % (it.current_index, e))
            else:
                print("#%s: %s" % (it.current_index, result))

    or ``async for result in gen.WaitIterator(...)``.  Each child goes
    through :func:`convert_yielded`, so coroutines may be given directly.

    :raises ValueError: when given both positional and keyword arguments, or
        the same future twice.

    .. versionadded:: 0.1.0
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("WaitIterator takes positional or keyword arguments, not both")
        items: list[tuple[Any, Any]] = list(kwargs.items()) if kwargs else list(enumerate(args))
        self._unfinished: dict[asyncio.Future[Any], Any] = {}
        for key, child in items:
            fut = _as_future(child)
            if fut in self._unfinished:
                raise ValueError(f"WaitIterator was given the same future twice ({key!r})")
            self._unfinished[fut] = key
        self._finished: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._waiter: asyncio.Future[Any] | None = None
        self.current_index: Any = None
        """The position or keyword of the most recently finished yieldable."""
        self.current_future: asyncio.Future[Any] | None = None
        """The most recently finished Future."""
        for fut in list(self._unfinished):
            future_add_done_callback(fut, self._child_done)

    def done(self) -> bool:
        """Return True when every result has been handed out by :meth:`next`.

        .. versionadded:: 0.1.0
        """
        if self._finished or self._unfinished:
            return False
        self.current_index = None
        self.current_future = None
        return True

    def next(self) -> asyncio.Future[Any]:
        """Return a Future for the next yieldable to finish.

        It resolves (or fails) like that yieldable; afterwards
        :attr:`current_index` and :attr:`current_future` describe it.

        :raises RuntimeError: if every result was already handed out, or if
            the Future from the previous call is still pending.

        .. versionadded:: 0.1.0
        """
        if self._waiter is not None and not self._waiter.done():
            raise RuntimeError("WaitIterator.next() called before the previous result arrived")
        if not self._finished and not self._unfinished:
            raise RuntimeError("WaitIterator.next() called after every result was handed out")
        self._waiter = waiter = _create_future()
        if self._finished:
            self._hand_out(self._finished.popleft())
        return waiter

    def _child_done(self, fut: asyncio.Future[Any]) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and not self._finished:
            self._hand_out(fut)
        else:
            self._finished.append(fut)

    def _hand_out(self, fut: asyncio.Future[Any]) -> None:
        self.current_future = fut
        self.current_index = self._unfinished.pop(fut)
        if self._waiter is not None:
            chain_future(fut, self._waiter)

    def __aiter__(self) -> WaitIterator:
        return self

    def __anext__(self) -> asyncio.Future[Any]:
        if self.done():
            raise StopAsyncIteration
        return self.next()
