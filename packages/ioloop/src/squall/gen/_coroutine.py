"""Generator-based coroutines: the runner behind ``@coroutine`` and ``@engine``.

Strategy: calling a decorated function copies the caller's
:mod:`contextvars` context and runs the function, and every later step of
its generator, inside that copy (asyncio's ``add_done_callback(context=)``
does the re-entering).  A step sends the previous result into the
generator, converts what it yields into a Future, and either continues at
once (the Future is already done) or returns to the loop until the Future
is done.  The first step therefore runs synchronously, up to the first
``yield`` of something not yet done, before the call returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import sys
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, ParamSpec, TypeVar, overload

from squall.concurrent import (
    ReturnValueIgnoredError,
    _create_future,
    _route_exception,
    _run_legacy_callback,
    chain_future,
    future_set_exc_info,
    future_set_result_unless_cancelled,
)
from squall.gen._core import Return, _as_future, moment

_T = TypeVar("_T")
_P = ParamSpec("_P")


class _Runner:
    """Drives one generator to completion, resolving ``result`` with its outcome."""

    __slots__ = ("_cancel_delivered", "_ctx", "_gen", "_pending", "_result")

    def __init__(
        self,
        gen: Generator[Any, Any, Any],
        result: asyncio.Future[Any],
        ctx: contextvars.Context,
    ) -> None:
        self._gen: Generator[Any, Any, Any] | None = gen
        self._result = result
        self._ctx = ctx
        self._pending: asyncio.Future[Any] | None = None
        self._cancel_delivered = False
        # Also keeps the runner (and its generator) alive as long as somebody
        # holds the result.
        result.add_done_callback(self._on_result_done)

    def _on_result_done(self, result: asyncio.Future[Any]) -> None:
        # The result was cancelled while the generator waits: cancel what it
        # waits for, so that it wakes up; step() then raises CancelledError
        # at its ``yield``.
        if self._gen is not None and self._pending is not None and result.cancelled():
            self._pending.cancel()

    def _wake(self, future: asyncio.Future[Any]) -> None:
        self._pending = None
        self.step(future)

    def _wake_moment(self) -> None:
        self.step(None)

    def _finish(self) -> None:
        self._gen = None
        self._pending = None
        self._result.remove_done_callback(self._on_result_done)

    def step(self, future: asyncio.Future[Any] | None) -> None:
        """Resume the generator with ``future``'s outcome (``None``: send None).

        Must run inside the coroutine's context.
        """
        gen = self._gen
        if gen is None:
            return
        result = self._result
        while True:
            try:
                if result.cancelled() and not self._cancel_delivered:
                    self._cancel_delivered = True
                    yielded = gen.throw(asyncio.CancelledError())
                elif future is None:
                    yielded = gen.send(None)
                else:
                    try:
                        value = future.result()
                    except BaseException as exc:
                        yielded = gen.throw(exc)
                    else:
                        yielded = gen.send(value)
            except (StopIteration, Return) as stop:
                self._finish()
                future_set_result_unless_cancelled(result, stop.value)
                return
            except asyncio.CancelledError:
                self._finish()
                result.cancel()
                return
            except Exception:
                self._finish()
                future_set_exc_info(result, sys.exc_info())
                return

            if yielded is None or yielded is moment:
                result.get_loop().call_soon(self._wake_moment, context=self._ctx)
                return
            try:
                future = _as_future(yielded)
            except Exception as exc:
                # Raised back into the generator at its yield.
                future = result.get_loop().create_future()
                future.set_exception(exc)
                continue
            if not future.done():
                self._pending = future
                future.add_done_callback(self._wake, context=self._ctx)
                return


def _start(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    result: asyncio.Future[Any],
    ctx: contextvars.Context,
) -> None:
    """First step of a decorated call, run inside ``ctx``."""
    try:
        value = func(*args, **kwargs)
    except (Return, StopIteration) as stop:
        result.set_result(stop.value)
        return
    except Exception:
        future_set_exc_info(result, sys.exc_info())
        return
    if isinstance(value, types.GeneratorType):
        _Runner(value, result, ctx).step(None)
    elif inspect.isawaitable(value):
        # An ``async def`` function under @coroutine: follow its outcome.
        try:
            chain_future(_as_future(value), result)
        except Exception:
            future_set_exc_info(result, sys.exc_info())
    else:
        result.set_result(value)


def _make_wrapper(func: Callable[..., Any], replace_callback: bool) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        callback = kwargs.pop("callback", None) if replace_callback else None
        result: asyncio.Future[Any] = _create_future()
        if callback is not None:
            result.add_done_callback(
                functools.partial(_run_legacy_callback, func, callback=callback)
            )
        ctx = contextvars.copy_context()
        ctx.run(_start, func, args, kwargs, result, ctx)
        return result

    wrapper.__squall_coroutine__ = True  # type: ignore[attr-defined]
    return wrapper


@overload
def coroutine(
    func: Callable[_P, Generator[Any, Any, _T]],
) -> Callable[_P, asyncio.Future[_T]]: ...


@overload
def coroutine(
    func: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, asyncio.Future[_T]]: ...


@overload
def coroutine(func: Callable[_P, _T]) -> Callable[_P, asyncio.Future[_T]]: ...


def coroutine(func: Callable[..., Any]) -> Callable[..., asyncio.Future[Any]]:
    """Decorate a generator function so that calling it returns a Future.

    Inside the generator, ``yield`` waits for anything
    :func:`convert_yielded` understands (futures, coroutines, lists and dicts
    of them, ``None``/:data:`moment`) and evaluates to its result, or raises
    its exception with the original traceback.  ``return value`` (or
    ``raise Return(value)``) resolves the Future; an exception escaping the
    generator fails it.  The Future is an :class:`asyncio.Future`, so native
    coroutines can ``await`` it.

    The call runs the generator synchronously up to its first ``yield`` of
    something not yet done; the rest runs on the IOLoop.  Each call gets a
    copy of the caller's :mod:`contextvars` context, shared by all its steps.
    A decorated function that is not a generator returns a Future already
    resolved with its return value (or exception); an ``async def`` function
    returns a Future following its outcome.

    As in Tornado 4/5, a caller may pass ``callback=``: it is removed from
    the arguments and called with the result on the IOLoop when the Future
    is done.

    Cancelling the returned Future raises :class:`asyncio.CancelledError`
    at the generator's current ``yield``.

    .. versionadded:: 0.1.0
    """
    return _make_wrapper(func, replace_callback=True)


def _engine_check(func: Callable[..., Any], future: asyncio.Future[Any]) -> None:
    value = future.result()
    if value is not None:
        raise ReturnValueIgnoredError(
            f"@gen.engine function {func.__qualname__} returned {value!r}: engine "
            "functions return None and pass results to callbacks (use @gen.coroutine)"
        )


def _engine_done(func: Callable[..., Any], future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        return
    try:
        _engine_check(func, future)
    except Exception:
        _route_exception(func)


def engine(func: Callable[_P, Any]) -> Callable[_P, None]:
    """Decorate a Tornado 4 callback-style generator function.

    Like :func:`coroutine`, the generator may yield futures,
    :class:`Task` objects and everything else :func:`convert_yielded`
    understands, but the decorated function returns ``None``: it reports its
    results by calling callbacks (typically a ``callback`` argument, which is
    passed through untouched), and its caller does not wait for it.

    An exception escaping the generator after its first step is offered to
    the active :class:`squall.stack_context.ExceptionStackContext` handlers
    of the caller (this is how ``@web.asynchronous @gen.engine`` handlers
    answer 500), else logged by
    :meth:`squall.ioloop.IOLoop.handle_callback_exception`.  An exception
    during the synchronous first step is raised to the caller.

    :raises ReturnValueIgnoredError: (into the loop, or to the caller during
        the first step) when the function returns something other than
        ``None``.

    .. versionadded:: 0.1.0
    """
    runner = _make_wrapper(func, replace_callback=False)

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> None:
        future: asyncio.Future[Any] = runner(*args, **kwargs)
        if future.done():
            _engine_check(func, future)
        else:
            future.add_done_callback(functools.partial(_engine_done, func))

    return wrapper


def is_coroutine_function(func: Any) -> bool:
    """Return whether ``func`` is a coroutine function.

    True for functions decorated with :func:`coroutine` and for native
    ``async def`` functions.

    .. versionadded:: 0.1.0
    """
    return bool(getattr(func, "__squall_coroutine__", False)) or inspect.iscoroutinefunction(func)
