"""Futures: what Squall's asynchronous calls return, and helpers to move results between them.

Squall has one Future type, :class:`asyncio.Future`, exported here as
:data:`Future`, so ``await`` works on everything Squall returns.  Work sent to
a thread or process pool produces a :class:`concurrent.futures.Future`
instead; the helpers in this module accept both kinds (see :data:`FUTURES`)
and move results across threads safely:

* :func:`chain_future` copies the outcome of one future into another;
* :func:`future_add_done_callback` runs a callback now if the future is
  already done, later otherwise;
* :func:`future_set_result_unless_cancelled` and friends resolve a future
  that somebody may have cancelled meanwhile;
* :func:`run_on_executor` turns a blocking method into one that returns a
  :data:`Future` (and still honours the classic ``callback=`` argument).

Exceptions defined here::

    ReturnValueIgnoredError (Exception) -- your callback-style function returned a value

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

__all__ = [
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
]

_T = TypeVar("_T")

_app_log = logging.getLogger("squall.application")

Future = asyncio.Future
"""The Future class Squall uses everywhere: :class:`asyncio.Future` itself.

.. versionadded:: 0.1.0
"""

TracebackFuture = asyncio.Future
"""Alias of :data:`Future` kept for Tornado 4 code (tracebacks are always kept).

.. versionadded:: 0.1.0
"""

FUTURES = (asyncio.Future, concurrent.futures.Future)
"""The future types Squall accepts: a tuple usable with :func:`isinstance`.

.. versionadded:: 0.1.0
"""

_AnyFuture = asyncio.Future[Any] | concurrent.futures.Future[Any]


class ReturnValueIgnoredError(Exception):
    """Your callback-style function returned a value that nobody can receive.

    Raised (into the IOLoop or the active stack context) when a function
    decorated with :func:`squall.gen.engine` returns something other than
    ``None``: such functions report results through callbacks, so a return
    value would be silently lost.

    .. versionadded:: 0.1.0
    """


def is_future(x: Any) -> bool:
    """Return whether ``x`` is a future Squall understands.

    :param x: any object.
    :returns: True for an :class:`asyncio.Future` (including tasks) or a
        :class:`concurrent.futures.Future`.

    .. versionadded:: 0.1.0
    """
    return isinstance(x, FUTURES)


class DummyExecutor(concurrent.futures.Executor):
    """An executor that runs each submitted call at once, in the calling thread.

    Useful in tests and wherever an executor is required but threads are not
    wanted: :meth:`submit` returns a future that is already done.

    .. versionadded:: 0.1.0
    """

    def submit(
        self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[_T]:
        """Call ``fn(*args, **kwargs)`` now and return a done future with its outcome.

        :param fn: the function to call.
        :returns: a :class:`concurrent.futures.Future` holding the return
            value, or the exception ``fn`` raised.

        .. versionadded:: 0.1.0
        """
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Do nothing: there is no thread to stop.

        .. versionadded:: 0.1.0
        """


dummy_executor = DummyExecutor()
"""A shared :class:`DummyExecutor`.

.. versionadded:: 0.1.0
"""


def _create_future() -> asyncio.Future[Any]:
    """Return a new Future bound to the running loop, or to the current IOLoop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        from squall.ioloop import IOLoop

        loop = IOLoop.current().asyncio_loop
    return loop.create_future()


def future_set_result_unless_cancelled(future: _AnyFuture, value: Any) -> None:
    """Set ``future``'s result unless it was cancelled meanwhile.

    :param future: an :class:`asyncio.Future` or a
        :class:`concurrent.futures.Future`.
    :param value: the result.
    :raises asyncio.InvalidStateError: if the future already has a result
        (only cancellation is forgiven).

    .. versionadded:: 0.1.0
    """
    if not future.cancelled():
        future.set_result(value)


def future_set_exception_unless_cancelled(future: _AnyFuture, exc: BaseException) -> None:
    """Set ``future``'s exception unless it was cancelled meanwhile.

    An exception that arrives after cancellation is logged on
    ``squall.application`` so that it is not lost.

    :param future: an :class:`asyncio.Future` or a
        :class:`concurrent.futures.Future`.
    :param exc: the exception.

    .. versionadded:: 0.1.0
    """
    if not future.cancelled():
        future.set_exception(exc)
    else:
        _app_log.error("Exception after Future was cancelled", exc_info=exc)


def future_set_exc_info(
    future: _AnyFuture,
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
) -> None:
    """Set ``future``'s exception from a :func:`sys.exc_info` triple.

    The traceback travels with the exception object, so whoever awaits the
    future sees where it was raised.

    :param future: an :class:`asyncio.Future` or a
        :class:`concurrent.futures.Future`.
    :param exc_info: ``(type, value, traceback)``.
    :raises ValueError: if ``exc_info`` holds no exception.

    .. versionadded:: 0.1.0
    """
    value = exc_info[1]
    if value is None:
        raise ValueError("future_set_exc_info called with no exception")
    if exc_info[2] is not None and value.__traceback__ is None:
        value = value.with_traceback(exc_info[2])
    future_set_exception_unless_cancelled(future, value)


@overload
def future_add_done_callback(
    future: asyncio.Future[_T], callback: Callable[[asyncio.Future[_T]], None]
) -> None: ...


@overload
def future_add_done_callback(
    future: concurrent.futures.Future[_T],
    callback: Callable[[concurrent.futures.Future[_T]], None],
) -> None: ...


def future_add_done_callback(future: Any, callback: Callable[[Any], None]) -> None:
    """Arrange for ``callback(future)`` to run when ``future`` is done.

    Unlike ``future.add_done_callback``, the callback runs immediately, in
    the calling thread, when the future is already done; the same holds for
    both future types.

    :param future: an :class:`asyncio.Future` or a
        :class:`concurrent.futures.Future`.
    :param callback: called with the future as its only argument.

    .. versionadded:: 0.1.0
    """
    if future.done():
        callback(future)
    else:
        future.add_done_callback(callback)


def _copy_outcome(source: _AnyFuture, target: _AnyFuture) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
        return
    exc = source.exception()
    if exc is not None:
        future_set_exception_unless_cancelled(target, exc)
    else:
        future_set_result_unless_cancelled(target, source.result())


def chain_future(a: _AnyFuture, b: _AnyFuture) -> None:
    """When ``a`` is done, copy its outcome into ``b``.

    The result, the exception (with its traceback) or the cancellation of
    ``a`` is copied, unless ``b`` is already done (for instance cancelled).
    Either future may be an :class:`asyncio.Future` or a
    :class:`concurrent.futures.Future`; an outcome that arrives on another
    thread is handed to ``b``'s event loop thread-safely.

    :param a: the source future.
    :param b: the target future.

    .. versionadded:: 0.1.0
    """
    if isinstance(b, asyncio.Future) and not isinstance(a, asyncio.Future):
        loop = b.get_loop()

        def copy_threadsafe(source: _AnyFuture) -> None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                _copy_outcome(source, b)
                return
            try:
                loop.call_soon_threadsafe(_copy_outcome, source, b)
            except RuntimeError:
                # The target's loop is closed: nobody can receive the outcome.
                _app_log.debug("chain_future: target loop closed, outcome dropped")

        a.add_done_callback(copy_threadsafe)
    else:
        future_add_done_callback(a, functools.partial(_copy_outcome, target=b))


def _run_legacy_callback(
    owner: object, future: asyncio.Future[Any], callback: Callable[..., Any]
) -> None:
    """Done-callback that delivers ``future``'s result to a classic ``callback=``.

    An exception (from the future or from the callback) goes to the active
    :mod:`squall.stack_context` handlers, else to the IOLoop's log.
    """
    try:
        callback(future.result())
    except Exception:
        _route_exception(owner)


def _route_exception(owner: object) -> None:
    """Hand the exception being handled to the IOLoop.

    :meth:`squall.ioloop.IOLoop.handle_callback_exception` offers it to the
    active :mod:`squall.stack_context` handlers and logs it if none takes it.
    """
    from squall.ioloop import IOLoop

    IOLoop.current().handle_callback_exception(owner)


_DecoratedMethod = Callable[..., "asyncio.Future[Any]"]


def _make_executor_wrapper(fn: Callable[..., Any], executor_name: str) -> _DecoratedMethod:
    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        callback = kwargs.pop("callback", None)
        try:
            executor = getattr(self, executor_name)
        except AttributeError:
            raise AttributeError(
                f"@run_on_executor method {fn.__qualname__} needs an executor in "
                f"{type(self).__name__}.{executor_name}"
            ) from None
        ctx = contextvars.copy_context()
        outer = _create_future()
        chain_future(executor.submit(ctx.run, fn, self, *args, **kwargs), outer)
        if callback is not None:
            outer.add_done_callback(functools.partial(_run_legacy_callback, fn, callback=callback))
        return outer

    return wrapper


@overload
def run_on_executor(fn: Callable[..., Any], /) -> _DecoratedMethod: ...


@overload
def run_on_executor(
    *, executor: str = ..., io_loop: str | None = ...
) -> Callable[[Callable[..., Any]], _DecoratedMethod]: ...


def run_on_executor(*args: Any, **kwargs: Any) -> Any:
    """Decorate a blocking method so that it runs on ``self.executor``.

    The decorated method returns a :data:`Future` (usable with ``await`` and
    ``yield``) that resolves, on the calling thread's event loop, with the
    method's result or exception.  The method runs with a copy of the
    caller's :mod:`contextvars` context.

    Use it bare (``@run_on_executor``) or name another attribute holding the
    executor (``@run_on_executor(executor="_thread_pool")``).  The
    ``io_loop=`` argument of Tornado 4 is accepted and ignored: the Future is
    always bound to the caller's loop.

    As in Tornado 4/5, a caller may pass ``callback=``: it is then called on
    the loop with the result when the method is done (the Future is still
    returned).

    :param executor: name of the attribute holding a
        :class:`concurrent.futures.Executor` (default ``"executor"``).
    :raises TypeError: for any other argument.
    :raises AttributeError: at call time if the instance has no such executor.

    .. versionadded:: 0.1.0
    """
    if args and kwargs:
        raise TypeError("run_on_executor takes either a function or keyword arguments")
    if len(args) == 1 and callable(args[0]):
        return _make_executor_wrapper(args[0], "executor")
    if args:
        raise TypeError(f"run_on_executor expected a function, got {args!r}")
    unknown = set(kwargs) - {"executor", "io_loop"}
    if unknown:
        raise TypeError(f"run_on_executor got unexpected arguments {sorted(unknown)}")
    executor_name = kwargs.get("executor", "executor")
    if not isinstance(executor_name, str):
        raise TypeError(
            f"run_on_executor(executor=) takes an attribute name, got {executor_name!r}"
        )

    def decorator(fn: Callable[..., Any]) -> _DecoratedMethod:
        return _make_executor_wrapper(fn, executor_name)

    return decorator


def return_future(f: Callable[..., Any]) -> Callable[..., asyncio.Future[Any]]:
    """Make a function that takes a ``callback`` argument return a Future.

    Tornado 4's decorator for callback-style functions: the decorated
    function is called with a ``callback`` that resolves the returned Future
    (with its one argument, or ``None``); an exception it raises fails the
    Future.  A caller may still pass its own ``callback=``, which is then
    called with the result on the IOLoop once the Future resolves.  Kept for
    porting; new code should return Futures or be ``async def``.

    :raises ValueError: if ``f`` has no ``callback`` parameter.

    .. versionadded:: 0.1.0
    """
    from squall.util import ArgReplacer

    replacer = ArgReplacer(f, "callback")

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        from squall.ioloop import IOLoop

        io_loop = IOLoop.current()
        future: asyncio.Future[Any] = io_loop.asyncio_loop.create_future()

        def resolve(*values: Any) -> None:
            value = values[0] if len(values) == 1 else (values or None)
            if not future.done():
                future.set_result(value)

        def on_result(*values: Any) -> None:
            if (
                io_loop.asyncio_loop.is_running()
                and asyncio._get_running_loop() is io_loop.asyncio_loop
            ):
                resolve(*values)
            else:
                io_loop.add_callback(resolve, *values)

        user_callback, args, kwargs = replacer.replace(on_result, args, kwargs)
        try:
            result = f(*args, **kwargs)
        except Exception as e:
            if not future.done():
                future.set_exception(e)
        else:
            if result is not None:
                raise ReturnValueIgnoredError(
                    f"@return_future function {f.__qualname__} returned {result!r}; "
                    "results must go through its callback"
                )
        if user_callback is not None:

            def run_user_callback(done: asyncio.Future[Any]) -> None:
                if done.cancelled():
                    return
                if done.exception() is None:
                    value = done.result()
                    if value is None:
                        user_callback()
                    else:
                        user_callback(value)
                else:
                    done.result()  # re-raise into the IOLoop's error handling

            io_loop.add_future(future, run_user_callback)
        return future

    return wrapper
