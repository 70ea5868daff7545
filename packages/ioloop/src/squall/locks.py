"""Coordination primitives for coroutines that share one :class:`~squall.ioloop.IOLoop`.

These are not thread-safe: like asyncio's own locks they coordinate
coroutines running on the same loop.  Every blocking method returns an
:class:`asyncio.Future` on the current loop, so it can be awaited from an
``async def`` function, yielded from a :func:`squall.gen.coroutine`, or passed
to :meth:`~squall.ioloop.IOLoop.add_future`.

Strategy
--------

Each primitive keeps a FIFO of *waiters*: one future per blocked caller.
Waking someone means popping waiters from the front until a pending one turns
up; waiters that already finished (their timeout fired, or the caller
cancelled them) are simply skipped, so they never swallow a notification, a
release or a queue item meant for a live caller.  Finished waiters are also
swept out in bulk when the FIFO grows, so a stream of timed-out waits does not
leak memory.

One race needs more than skipping: a waiter may be resolved (given the lock,
a notification or an item) and then, before its coroutine resumes, that
coroutine is cancelled.  A waiter notices this when the cancellation is thrown
into its ``await`` and hands what it received back to the primitive (the lock
is released, the notification passed on, the item put back), so nothing is
lost.

Timeouts are either an absolute deadline in loop time (a float comparable to
:meth:`IOLoop.time() <squall.ioloop.IOLoop.time>`) or a relative
:class:`datetime.timedelta`, and are scheduled with
:meth:`IOLoop.add_timeout <squall.ioloop.IOLoop.add_timeout>`.  An expired
wait raises :class:`squall.util.TimeoutError` (a subclass of the built-in
:class:`TimeoutError`), except :meth:`Condition.wait`, which resolves to
``False``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import types
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from squall import util
from squall.ioloop import IOLoop

__all__ = ["BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"]

_T = TypeVar("_T")

#: A deadline in loop time, or a relative :class:`datetime.timedelta`.
_Timeout = float | datetime.timedelta

# A waiter FIFO is swept of finished waiters whenever it reaches this many
# entries (or twice the live count after the previous sweep, if larger).
_SWEEP_MIN = 64


class _Waiter(asyncio.Future[_T]):
    """A future handed to one caller blocked on a primitive.

    ``on_abandon(result)`` is called if the coroutine awaiting this future is
    cancelled (or closed) after the future received a successful result but
    before the coroutine resumed: the primitive takes back what it gave.  If
    the coroutine goes away while the future is still pending, the future is
    cancelled so that it is skipped later.  ``payload`` carries data for the
    primitive (the item of a blocked :meth:`Queue.put <squall.queues.Queue.put>`).
    """

    __slots__ = ("_on_abandon", "payload")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_abandon: Callable[[_T], object] | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(loop=loop)
        self._on_abandon = on_abandon
        self.payload = payload

    def __await__(self) -> Generator[Any, None, _T]:
        try:
            return (yield from super().__await__())
        except BaseException:
            self._abandoned()
            raise

    __iter__ = __await__

    def _abandoned(self) -> None:
        if not self.done():
            self.cancel()
            return
        if self.cancelled() or self.exception() is not None:
            return
        on_abandon, self._on_abandon = self._on_abandon, None
        if on_abandon is not None:
            on_abandon(self.result())


class _WaiterQueue(Generic[_T]):
    """A FIFO of waiters that skips (and periodically drops) finished ones."""

    __slots__ = ("_sweep_at", "_waiters")

    def __init__(self) -> None:
        self._waiters: collections.deque[_Waiter[_T]] = collections.deque()
        self._sweep_at = _SWEEP_MIN

    def append(self, waiter: _Waiter[_T]) -> None:
        if len(self._waiters) >= self._sweep_at:
            self._waiters = collections.deque(w for w in self._waiters if not w.done())
            self._sweep_at = max(_SWEEP_MIN, 2 * len(self._waiters))
        self._waiters.append(waiter)

    def pop_pending(self) -> _Waiter[_T] | None:
        """Remove and return the oldest pending waiter, or ``None``."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def drain(self) -> list[_Waiter[_T]]:
        """Remove every waiter; return the pending ones, oldest first."""
        waiters = [w for w in self._waiters if not w.done()]
        self._waiters.clear()
        self._sweep_at = _SWEEP_MIN
        return waiters

    def pending(self) -> int:
        """Return how many waiters are still pending."""
        return sum(1 for w in self._waiters if not w.done())


def _check_timeout(timeout: object) -> None:
    """Raise a clear :class:`TypeError` unless ``timeout`` is a deadline or a timedelta."""
    if isinstance(timeout, datetime.timedelta):
        return
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return
    raise TypeError(
        "timeout must be None, a deadline in loop time (float, see IOLoop.time()) "
        f"or a datetime.timedelta, not {type(timeout).__name__}"
    )


def _current_io_loop() -> IOLoop:
    io_loop = IOLoop.current()
    if io_loop is None:  # pragma: no cover - current() creates one by default
        raise RuntimeError("no current IOLoop")
    return io_loop


def _current_loop() -> asyncio.AbstractEventLoop:
    """Return the running asyncio loop, else the current IOLoop's."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return _current_io_loop().asyncio_loop


def _done_future(result: _T) -> asyncio.Future[_T]:
    future: asyncio.Future[_T] = _current_loop().create_future()
    future.set_result(result)
    return future


def _new_waiter(
    timeout: _Timeout | None,
    expire: Callable[[_Waiter[_T]], object],
    on_abandon: Callable[[_T], object] | None = None,
    payload: Any = None,
) -> _Waiter[_T]:
    """Create a waiter on the current loop; ``expire(waiter)`` runs at ``timeout``.

    ``expire`` is only called if the waiter is still pending then; the
    scheduled timeout is removed as soon as the waiter finishes.  The caller
    must have checked ``timeout`` with :func:`_check_timeout`.
    """
    if timeout is None:
        return _Waiter(_current_loop(), on_abandon, payload)
    io_loop = _current_io_loop()
    waiter: _Waiter[_T] = _Waiter(io_loop.asyncio_loop, on_abandon, payload)

    def on_timeout() -> None:
        if not waiter.done():
            expire(waiter)

    handle = io_loop.add_timeout(timeout, on_timeout)
    waiter.add_done_callback(lambda _: io_loop.remove_timeout(handle))
    return waiter


def _timeout_error(what: str) -> Callable[[_Waiter[Any]], None]:
    """Return an ``expire`` callback failing the waiter with :class:`squall.util.TimeoutError`."""

    def expire(waiter: _Waiter[Any]) -> None:
        waiter.set_exception(util.TimeoutError(f"timed out waiting for {what}"))

    return expire


def _expire_false(waiter: _Waiter[bool]) -> None:
    waiter.set_result(False)


class Condition:
    """A condition allows one or more coroutines to wait until notified.

    Like :class:`threading.Condition`, but for coroutines on one loop, and
    without an underlying lock: waiting and notifying need no acquire.
    A coroutine waits with ``await condition.wait()`` (or
    ``yield condition.wait()`` in a :func:`squall.gen.coroutine`); another
    wakes it with :meth:`notify` or :meth:`notify_all`.  Waiters are woken in
    the order they started waiting.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._waiters: _WaiterQueue[bool] = _WaiterQueue()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} waiters[{self._waiters.pending()}]>"

    def wait(self, timeout: _Timeout | None = None) -> asyncio.Future[bool]:
        """Wait for :meth:`notify`; return a future resolving to ``True`` when notified.

        :arg timeout: a deadline in loop time, or a :class:`datetime.timedelta`
            from now.  If it passes first, the future resolves to ``False``
            (it does not raise) and that wait no longer counts as a waiter.
        :raises TypeError: if ``timeout`` is neither.

        .. versionadded:: 0.1.0
        """
        if timeout is not None:
            _check_timeout(timeout)
        waiter = _new_waiter(timeout, _expire_false, self._pass_on)
        self._waiters.append(waiter)
        return waiter

    def _pass_on(self, notified: bool) -> None:
        # A notified waiter was cancelled before it could act: wake another.
        if notified:
            self.notify(1)

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters, oldest first.

        Waiters that timed out or were cancelled are skipped and do not count.

        :arg n: how many waiters to wake; nothing happens if it is 0 or less.

        .. versionadded:: 0.1.0
        """
        while n > 0:
            waiter = self._waiters.pop_pending()
            if waiter is None:
                return
            waiter.set_result(True)
            n -= 1

    def notify_all(self) -> None:
        """Wake every waiter.

        .. versionadded:: 0.1.0
        """
        for waiter in self._waiters.drain():
            waiter.set_result(True)


class Event:
    """An event blocks coroutines until its internal flag is set.

    Like :class:`threading.Event`: :meth:`set` sets the flag and wakes every
    waiter, :meth:`clear` resets it, and :meth:`wait` blocks while it is
    clear.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._value = False
        self._waiters: _WaiterQueue[None] = _WaiterQueue()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {'set' if self._value else 'clear'}>"

    def is_set(self) -> bool:
        """Return ``True`` if the internal flag is set.

        .. versionadded:: 0.1.0
        """
        return self._value

    def set(self) -> None:
        """Set the internal flag and wake every coroutine waiting for it.

        Later calls to :meth:`wait` do not block until :meth:`clear` is called.

        .. versionadded:: 0.1.0
        """
        if not self._value:
            self._value = True
            for waiter in self._waiters.drain():
                waiter.set_result(None)

    def clear(self) -> None:
        """Reset the internal flag, so that :meth:`wait` blocks again.

        .. versionadded:: 0.1.0
        """
        self._value = False

    def wait(self, timeout: _Timeout | None = None) -> asyncio.Future[None]:
        """Return a future that resolves (to ``None``) once the flag is set.

        :arg timeout: a deadline in loop time, or a :class:`datetime.timedelta`
            from now.
        :raises squall.util.TimeoutError: (through the future) if the
            timeout passes before the flag is set.
        :raises TypeError: if ``timeout`` is not a valid timeout.

        .. versionadded:: 0.1.0
        """
        if timeout is not None:
            _check_timeout(timeout)
        if self._value:
            return _done_future(None)
        waiter: _Waiter[None] = _new_waiter(timeout, _timeout_error("Event.wait"))
        self._waiters.append(waiter)
        return waiter


class _ReleasingContextManager:
    """What an acquire future resolves to: ``with (yield sem.acquire()):`` releases on exit."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Semaphore | Lock) -> None:
        self._obj = obj

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self._obj.release()


class Semaphore:
    """A counter of free slots: :meth:`acquire` takes one, :meth:`release` gives it back.

    :meth:`acquire` blocks while the counter is zero; blocked callers get
    slots in the order they asked.  Use it as::

        async with sem:
            ...  # at most `value` coroutines run this at once

    or, in a :func:`squall.gen.coroutine` (the Tornado 4 form)::

        with (yield sem.acquire()):
            ...

    :arg value: the initial number of free slots.
    :raises ValueError: if ``value`` is negative.

    .. versionadded:: 0.1.0
    """

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError(f"semaphore initial value must be >= 0, got {value!r}")
        self._value = value
        self._waiters: _WaiterQueue[_ReleasingContextManager] = _WaiterQueue()
        self._releaser = _ReleasingContextManager(self)

    def __repr__(self) -> str:
        state = "locked" if self._value == 0 else f"unlocked,value:{self._value}"
        pending = self._waiters.pending()
        if pending:
            state += f",waiters:{pending}"
        return f"<{type(self).__name__} [{state}]>"

    def release(self) -> None:
        """Give a slot back, waking the oldest blocked :meth:`acquire` if any.

        .. versionadded:: 0.1.0
        """
        waiter = self._waiters.pop_pending()
        if waiter is None:
            self._value += 1
        else:
            # Hand the slot over directly: the counter stays where it is.
            waiter.set_result(self._releaser)

    def acquire(self, timeout: _Timeout | None = None) -> asyncio.Future[_ReleasingContextManager]:
        """Take a slot; return a future that resolves once one is taken.

        The future's result is a context manager that releases the slot on
        exit, for ``with (yield sem.acquire()):``.  If the coroutine awaiting
        the future is cancelled right after the slot was handed to it, the
        slot is released again.

        :arg timeout: a deadline in loop time, or a :class:`datetime.timedelta`
            from now.
        :raises squall.util.TimeoutError: (through the future) if no slot
            became free before the timeout.
        :raises TypeError: if ``timeout`` is not a valid timeout.

        .. versionadded:: 0.1.0
        """
        if timeout is not None:
            _check_timeout(timeout)
        if self._value > 0:
            self._value -= 1
            return _done_future(self._releaser)
        waiter = _new_waiter(
            timeout, _timeout_error(f"{type(self).__name__}.acquire"), self._release_abandoned
        )
        self._waiters.append(waiter)
        return waiter

    def _release_abandoned(self, _releaser: _ReleasingContextManager) -> None:
        self.release()

    def __enter__(self) -> None:
        raise RuntimeError(
            f"Use 'async with' instead of 'with' for {type(self).__name__}, "
            f"or 'with (yield {type(self).__name__.lower()}.acquire()):' in a gen.coroutine"
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.__enter__()  # pragma: no cover - __enter__ always raises

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.release()


class BoundedSemaphore(Semaphore):
    """A :class:`Semaphore` that refuses to be released more often than acquired.

    :arg value: the initial, and maximum, number of free slots.
    :raises ValueError: if ``value`` is negative.

    .. versionadded:: 0.1.0
    """

    def __init__(self, value: int = 1) -> None:
        super().__init__(value=value)
        self._initial_value = value

    def release(self) -> None:
        """Give a slot back, waking the oldest blocked :meth:`acquire` if any.

        :raises ValueError: if every slot is already free, i.e. the semaphore
            was released more times than it was acquired.

        .. versionadded:: 0.1.0
        """
        if self._value >= self._initial_value:
            raise ValueError(
                f"BoundedSemaphore released too many times: all {self._initial_value} "
                "slot(s) are already free"
            )
        super().release()


class Lock:
    """A mutual-exclusion lock for coroutines.

    Free when created.  :meth:`acquire` blocks while another coroutine holds
    it; blocked callers get it in the order they asked.  Any coroutine may
    :meth:`release` it, not just the one that acquired it.  Use it as::

        async with lock:
            ...

    or, in a :func:`squall.gen.coroutine`::

        with (yield lock.acquire()):
            ...

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._block = BoundedSemaphore(value=1)
        # ``with (yield lock.acquire()):`` must release the lock, not its semaphore.
        self._block._releaser = _ReleasingContextManager(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} _block={self._block}>"

    def acquire(self, timeout: _Timeout | None = None) -> asyncio.Future[_ReleasingContextManager]:
        """Lock it; return a future that resolves once the lock is held.

        The future's result is a context manager that releases the lock on
        exit, for ``with (yield lock.acquire()):``.

        :arg timeout: a deadline in loop time, or a :class:`datetime.timedelta`
            from now.
        :raises squall.util.TimeoutError: (through the future) if the lock
            was not obtained before the timeout.
        :raises TypeError: if ``timeout`` is not a valid timeout.

        .. versionadded:: 0.1.0
        """
        return self._block.acquire(timeout)

    def release(self) -> None:
        """Unlock it; the oldest coroutine blocked in :meth:`acquire` gets it next.

        :raises RuntimeError: if the lock is not locked.

        .. versionadded:: 0.1.0
        """
        if self._block._value > 0:
            raise RuntimeError("release of an unlocked Lock")
        self._block.release()

    def __enter__(self) -> None:
        raise RuntimeError(
            "Use 'async with' instead of 'with' for Lock, "
            "or 'with (yield lock.acquire()):' in a gen.coroutine"
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.__enter__()  # pragma: no cover - __enter__ always raises

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.release()
