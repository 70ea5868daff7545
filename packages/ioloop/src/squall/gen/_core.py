"""What can be yielded: conversion of yieldables to Futures, and waiting on many at once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
from collections.abc import Generator, Mapping
from typing import Any, TypeVar, overload

from squall.concurrent import (
    _create_future,
    future_add_done_callback,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
)

_T = TypeVar("_T")
_K = TypeVar("_K")

_app_log = logging.getLogger("squall.application")

_Quiet = type[BaseException] | tuple[type[BaseException], ...]


class Return(Exception):  # noqa: N818 -- Tornado's name
    """Raise ``Return(value)`` to end a :func:`coroutine` with a result.

    Kept for code that must also run on Python 2-era Tornado; in Squall a
    plain ``return value`` inside the generator does the same.

    :param value: the coroutine's result (default ``None``).

    .. versionadded:: 0.1.0
    """

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.value = value


class BadYieldError(Exception):
    """Your coroutine yielded something Squall cannot wait for.

    Raised at the ``yield`` (so the coroutine may catch it) when the object
    is neither a future, an awaitable, ``None``/:data:`moment`, a list or dict
    of those, nor a type registered with :func:`convert_yielded`.

    .. versionadded:: 0.1.0
    """


class _Moment:
    """The type of :data:`moment`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "squall.gen.moment"

    def __await__(self) -> Generator[None, None, None]:
        # A bare yield asks asyncio's Task to run again on the next iteration.
        yield


moment = _Moment()
"""Yield (or ``await``) this to let the loop run one iteration.

``yield None`` and ``yield gen.moment`` are the same in a :func:`coroutine`:
the coroutine resumes after the callbacks already scheduled have run.

.. versionadded:: 0.1.0
"""


def _current_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        from squall.ioloop import IOLoop

        return IOLoop.current().asyncio_loop


def _short_repr(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = object.__repr__(obj)
    return text if len(text) <= 200 else text[:197] + "..."


@functools.singledispatch
def convert_yielded(yielded: Any) -> asyncio.Future[Any]:
    """Turn anything a coroutine may yield into an :class:`asyncio.Future`.

    Understood out of the box: asyncio futures and tasks (returned as they
    are), :class:`concurrent.futures.Future` (resolved on the loop),
    native coroutines and other awaitables (scheduled as tasks), ``None`` and
    :data:`moment` (a Future resolved on the next loop iteration), and lists
    or dicts of these (see :func:`multi`).

    It is a :func:`functools.singledispatch` function: another package makes
    its own type yieldable with ``@convert_yielded.register(MyType)``; the
    registered function must return an :class:`asyncio.Future`.

    :param yielded: the object.
    :returns: a Future for its outcome.
    :raises BadYieldError: for an object of any other type (the message names
        the type).

    .. versionadded:: 0.1.0
    """
    if yielded is None or yielded is moment:
        loop = _current_loop()
        future: asyncio.Future[Any] = loop.create_future()
        loop.call_soon(future_set_result_unless_cancelled, future, None)
        return future
    if isinstance(yielded, asyncio.Future):
        return yielded
    if isinstance(yielded, concurrent.futures.Future):
        return asyncio.wrap_future(yielded, loop=_current_loop())
    if inspect.isawaitable(yielded):
        return asyncio.ensure_future(yielded, loop=_current_loop())
    raise BadYieldError(
        f"yielded unknown object of type {type(yielded).__module__}."
        f"{type(yielded).__qualname__}: {_short_repr(yielded)}"
    )


@convert_yielded.register(list)
def _convert_list(yielded: list[Any]) -> asyncio.Future[Any]:
    return multi_future(yielded)


@convert_yielded.register(dict)
def _convert_dict(yielded: dict[Any, Any]) -> asyncio.Future[Any]:
    return multi_future(yielded)


def _as_future(yielded: Any) -> asyncio.Future[Any]:
    """:func:`convert_yielded`, with a check on what registered converters return."""
    if isinstance(yielded, asyncio.Future):
        return yielded
    future = convert_yielded(yielded)
    if isinstance(future, asyncio.Future):
        return future
    if isinstance(future, concurrent.futures.Future) or inspect.isawaitable(future):
        return convert_yielded(future)
    raise BadYieldError(
        f"convert_yielded converter for {type(yielded).__qualname__} returned "
        f"{type(future).__qualname__}, not a Future"
    )


@overload
def multi_future(
    children: Mapping[_K, Any], quiet_exceptions: _Quiet = ()
) -> asyncio.Future[dict[_K, Any]]: ...


@overload
def multi_future(
    children: list[Any] | tuple[Any, ...],
    quiet_exceptions: _Quiet = (),
) -> asyncio.Future[list[Any]]: ...


def multi_future(children: Any, quiet_exceptions: _Quiet = ()) -> asyncio.Future[Any]:
    """Wait for several yieldables at once; see :func:`multi`.

    .. versionadded:: 0.1.0
    """
    keys: list[Any] | None
    if isinstance(children, Mapping):
        keys = list(children)
        futures = [_as_future(children[key]) for key in keys]
    else:
        keys = None
        futures = [_as_future(child) for child in children]
    result: asyncio.Future[Any] = _create_future()
    if not futures:
        result.set_result({} if keys is not None else [])
        return result
    pending = set(futures)

    def on_child_done(child: asyncio.Future[Any]) -> None:
        pending.discard(child)
        if child.cancelled():
            if not result.done():
                result.cancel()
        else:
            exc = child.exception()
            if exc is not None:
                if not result.done():
                    future_set_exception_unless_cancelled(result, exc)
                elif not isinstance(exc, quiet_exceptions):
                    _app_log.error("Multiple exceptions in yield list", exc_info=exc)
        if not pending and not result.done():
            values = [f.result() for f in futures]
            result.set_result(dict(zip(keys, values, strict=True)) if keys is not None else values)

    for child in list(pending):
        future_add_done_callback(child, on_child_done)
    return result


@overload
def multi(
    children: Mapping[_K, Any], quiet_exceptions: _Quiet = ()
) -> asyncio.Future[dict[_K, Any]]: ...


@overload
def multi(
    children: list[Any] | tuple[Any, ...],
    quiet_exceptions: _Quiet = (),
) -> asyncio.Future[list[Any]]: ...


def multi(children: Any, quiet_exceptions: _Quiet = ()) -> asyncio.Future[Any]:
    """Run several yieldables in parallel and wait for all of them.

    ``yield [a, b]`` and ``yield {"x": a}`` inside a :func:`coroutine` call
    this for you; ``await multi([...])`` is the native-coroutine spelling.
    Every child goes through :func:`convert_yielded` first, so futures,
    coroutines and nested lists or dicts may be mixed.

    The result has the same shape as ``children``: a list in the same order,
    or a dict with the same keys in the same order.  If a child fails, the
    result fails at once with that exception (the others keep running); any
    further failure is logged on ``squall.application`` unless its type is
    in ``quiet_exceptions``.  If a child is cancelled, the result is
    cancelled.

    :param children: a list (or tuple) or a dict of yieldables.
    :param quiet_exceptions: exception types not to log when they follow
        the first failure.
    :returns: a Future for the list or dict of results.
    :raises BadYieldError: if a child cannot be converted.

    .. versionadded:: 0.1.0
    """
    return multi_future(children, quiet_exceptions=quiet_exceptions)


def maybe_future(x: Any) -> asyncio.Future[Any] | concurrent.futures.Future[Any]:
    """Return ``x`` if it is a future, else a Future already resolved with ``x``.

    .. deprecated:: 0.1.0
       Kept for Tornado code; prefer :func:`convert_yielded` or simply
       ``await`` the value where it may be a future.

    .. versionadded:: 0.1.0
    """
    if isinstance(x, (asyncio.Future, concurrent.futures.Future)):
        return x
    future: asyncio.Future[Any] = _create_future()
    future.set_result(x)
    return future
