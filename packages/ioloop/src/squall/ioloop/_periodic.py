"""PeriodicCallback: call a function on a fixed schedule."""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from squall.ioloop._ioloop import IOLoop


class PeriodicCallback:
    """Call ``callback`` every ``callback_time`` milliseconds.

    The schedule is a fixed grid anchored at :meth:`start`: a callback that
    runs long does not push later runs back (no drift); runs that would have
    fallen inside an overlong call are skipped rather than bunched up.  If
    the callback returns an awaitable, the next run waits for it to finish.

    :param callback: a function of no arguments (may be ``async def``).
    :param callback_time: the period, in milliseconds or as a
        :class:`~datetime.timedelta`.
    :param jitter: spread each delay by up to ``jitter * period / 2`` either
        way (0.1 for +/-5 %), so that many processes do not fire together.
    :param io_loop: the loop to run on (Tornado 4 style); default: the
        current loop when :meth:`start` is called.
    :raises ValueError: for a period that is not positive or a negative jitter.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        callback: Callable[[], Any],
        callback_time: float | timedelta,
        jitter: float = 0,
        io_loop: IOLoop | None = None,
    ) -> None:
        if isinstance(callback_time, timedelta):
            callback_time = callback_time.total_seconds() * 1000
        if not callback_time > 0 or math.isinf(callback_time):
            raise ValueError(
                f"callback_time must be a positive number of ms, not {callback_time!r}"
            )
        if jitter < 0:
            raise ValueError(f"jitter must not be negative, not {jitter!r}")
        self.callback = callback
        self.callback_time = float(callback_time)
        self.jitter = jitter
        self._running = False
        self._timeout: Any = None
        self._next_timeout = 0.0
        self._given_loop = io_loop
        self.io_loop: IOLoop | None = io_loop

    def start(self) -> None:
        """Start calling; the first call is one period from now."""
        if self._running:
            return
        self.io_loop = self._given_loop or IOLoop.current()
        self._running = True
        self._next_timeout = self.io_loop.time()
        self._schedule_next()

    def stop(self) -> None:
        """Stop calling; a run in progress finishes."""
        self._running = False
        if self._timeout is not None and self.io_loop is not None:
            self.io_loop.remove_timeout(self._timeout)
            self._timeout = None

    def is_running(self) -> bool:
        """Return whether :meth:`start` was called and :meth:`stop` was not."""
        return self._running

    def _run(self) -> None:
        if not self._running:
            return
        self._timeout = None
        try:
            result = self.callback()
        except Exception:
            assert self.io_loop is not None
            self.io_loop.handle_callback_exception(self.callback)
            result = None
        if result is not None and self.io_loop is not None and inspect.isawaitable(result):
            self.io_loop.add_future(result, self._after_async_run)
            return
        self._schedule_next()

    def _after_async_run(self, future: Any) -> None:
        try:
            future.result()
        except Exception:
            assert self.io_loop is not None
            self.io_loop.handle_callback_exception(self.callback)
        self._schedule_next()

    def _schedule_next(self) -> None:
        if not self._running or self.io_loop is None:
            return
        self._update_next(self.io_loop.time())
        self._timeout = self.io_loop.call_at(self._next_timeout, self._run)

    def _update_next(self, now: float) -> None:
        period = self.callback_time / 1000.0
        if self.jitter:
            period *= 1 + self.jitter * (random.random() - 0.5)
        if self._next_timeout <= now:
            # Skip the grid points that passed while the callback ran.
            missed = math.floor((now - self._next_timeout) / period) + 1
            self._next_timeout += missed * period
        else:
            # Fired a hair early (the loop's clock is coarse): keep the grid.
            self._next_timeout += period
