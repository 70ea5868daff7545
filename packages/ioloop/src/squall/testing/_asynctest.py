"""AsyncTestCase and gen_test: unittest test cases that run on a fresh IOLoop."""

from __future__ import annotations

import functools
import inspect
import unittest
from collections.abc import Callable
from typing import Any, ParamSpec, cast, overload

from squall.ioloop import IOLoop
from squall.testing._runner import (
    LoopFailures,
    _Run,
    check_timeout,
    close_loop,
    get_async_test_timeout,
    run_test,
    run_until_stopped,
    shut_down,
)

__all__ = ["AsyncTestCase", "gen_test"]

# Keep this module's frames out of unittest's failure tracebacks.
__unittest = True

_P = ParamSpec("_P")


def _needs_gen_test(method: Callable[..., Any], name: str) -> Callable[[], None]:
    @functools.wraps(method)
    def refuse() -> None:
        result = method()
        close = getattr(result, "close", None)
        if callable(close):  # no "never awaited" warning for the coroutine
            close()
        raise TypeError(
            f"{name} is a coroutine or generator test method: decorate it with "
            "@squall.testing.gen_test so that it runs on the test's IOLoop"
        )

    return refuse


class AsyncTestCase(unittest.TestCase):
    """A :class:`unittest.TestCase` whose tests run on a fresh :class:`~squall.ioloop.IOLoop`.

    :meth:`setUp` makes ``self.io_loop`` with :meth:`get_new_ioloop` (on the
    configured poller, see ``SQUALL_POLLER``) and makes it current;
    :meth:`tearDown` cancels the tasks still pending on it and closes it
    with ``all_fds=True``.

    Two styles of asynchronous test are supported:

    * ``async def`` and ``@gen.coroutine``-style generator methods decorated
      with :func:`gen_test`;
    * the classic callback style: start an operation whose callback calls
      :meth:`stop`, then call :meth:`wait`, which runs the loop until then
      and returns what was passed to :meth:`stop`::

          class MyTest(AsyncTestCase):
              def test_later(self):
                  self.io_loop.call_later(0.01, self.stop, "done")
                  self.assertEqual(self.wait(), "done")

    An exception raised by a loop callback during the test (and logged by
    the loop, so not swallowed by an :class:`~squall.testing.ExpectLog`)
    fails the test: :meth:`wait` and :func:`gen_test` raise it as soon as it
    happens, otherwise :meth:`tearDown` does.

    A coroutine or generator test method without :func:`gen_test` raises
    :exc:`TypeError` instead of silently never running.

    .. versionadded:: 0.1.0
    """

    io_loop: IOLoop

    def __init__(self, methodName: str = "runTest") -> None:  # noqa: N803 (unittest's name)
        super().__init__(methodName)
        self._squall_failures: LoopFailures | None = None
        self._squall_previous_loop: IOLoop | None = None
        self._squall_stopped = False
        self._squall_stop_args: Any = None
        self._squall_runs: list[_Run] = []
        method = getattr(self, methodName, None)
        if method is not None and (
            inspect.iscoroutinefunction(method) or inspect.isgeneratorfunction(method)
        ):
            setattr(self, methodName, _needs_gen_test(method, self.id()))

    def get_new_ioloop(self) -> IOLoop:
        """Return the loop this test will run on; override to customize it.

        The default is a new ``IOLoop()`` on the configured poller.

        .. versionadded:: 0.1.0
        """
        loop: IOLoop = IOLoop()
        return loop

    def setUp(self) -> None:
        """Create ``self.io_loop`` and make it current.

        .. versionadded:: 0.1.0
        """
        super().setUp()
        self._squall_previous_loop = IOLoop.current(instance=False)
        self.io_loop = self.get_new_ioloop()
        self.io_loop.make_current()
        self._squall_failures = LoopFailures(self.io_loop)
        # unittest skips tearDown when a subclass's setUp fails after this one
        # succeeded, but still runs cleanups: close the loop there then.
        self.addCleanup(self._squall_close_if_still_open)

    def _squall_close_if_still_open(self) -> None:
        if self._squall_failures is not None:
            self._squall_close_loop()

    def tearDown(self) -> None:
        """Cancel the loop's pending tasks, close it, and report swallowed failures.

        :raises BaseException: the first exception a loop callback raised
            during the test that nothing has re-raised yet.

        .. versionadded:: 0.1.0
        """
        failures = self._squall_failures
        try:
            self._squall_close_loop()
        finally:
            super().tearDown()
        if failures is not None:
            failure = failures.take()
            if failure is not None:
                raise failure

    def _squall_close_loop(self) -> None:
        failures, self._squall_failures = self._squall_failures, None
        io_loop = self.io_loop
        try:
            shut_down(io_loop, failures)
        finally:
            if failures is not None:
                failures.uninstall()
            previous, self._squall_previous_loop = self._squall_previous_loop, None
            close_loop(io_loop, previous)

    def stop(self, _arg: Any = None, **kwargs: Any) -> None:
        """End the current (or next) :meth:`wait`, which returns ``_arg`` or ``kwargs``.

        Meant to be used as the callback of an asynchronous operation.

        :raises TypeError: if given both a positional value and keywords.

        .. versionadded:: 0.1.0
        """
        if _arg is not None and kwargs:
            raise TypeError("stop() takes one positional value or keyword values, not both")
        self._squall_stop_args = kwargs if kwargs else _arg
        self._squall_stopped = True
        for run in self._squall_runs:
            run.finish("stopped")

    def wait(
        self, condition: Callable[[], bool] | None = None, timeout: float | None = None
    ) -> Any:
        """Run the loop until :meth:`stop` is called, and return its argument.

        :param condition: if given, keep waiting after each :meth:`stop`
            until ``condition()`` is true.
        :param timeout: seconds to wait, default :func:`get_async_test_timeout`.
        :raises AssertionError: (``self.failureException``) after ``timeout``
            seconds, naming the timeout.
        :raises BaseException: an exception raised by a loop callback in the
            meantime (the loop is stopped at once).

        .. versionadded:: 0.1.0
        """
        limit = get_async_test_timeout() if timeout is None else check_timeout(timeout, "timeout")
        io_loop = self.io_loop
        failures = self._squall_failures
        deadline = io_loop.time() + limit
        while True:
            failure = failures.take() if failures is not None else None
            if failure is not None:
                self._squall_stopped = False
                raise failure
            if not self._squall_stopped:
                remaining = deadline - io_loop.time()
                outcome = run_until_stopped(io_loop, failures, remaining, self._squall_runs)
                if outcome == "timeout":
                    raise self.failureException(
                        f"Async operation timed out after {limit:g} seconds"
                    )
                if outcome == "failure":
                    continue
            self._squall_stopped = False
            if condition is None or condition():
                break
        result, self._squall_stop_args = self._squall_stop_args, None
        return result

    def _squall_run_test(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float,
    ) -> None:
        run_test(
            self.io_loop,
            self._squall_failures,
            func,
            (self, *args),
            kwargs,
            timeout=timeout,
            name=self.id(),
        )


@overload
def gen_test(func: Callable[_P, Any], *, timeout: float | None = None) -> Callable[_P, None]: ...
@overload
def gen_test(
    func: None = None, *, timeout: float | None = None
) -> Callable[[Callable[_P, Any]], Callable[_P, None]]: ...
def gen_test(
    func: Callable[_P, Any] | None = None, *, timeout: float | None = None
) -> Callable[_P, None] | Callable[[Callable[_P, Any]], Callable[_P, None]]:
    """Run an asynchronous :class:`AsyncTestCase` method on ``self.io_loop``.

    Decorates ``async def`` methods and ``@gen.coroutine``-style generator
    methods (``yield``-ing futures), with or without arguments::

        class MyTest(AsyncTestCase):
            @gen_test
            async def test_sleep(self):
                await gen.sleep(0.01)

            @gen_test(timeout=10)
            def test_classic(self):
                yield gen.sleep(0.01)

    :param timeout: seconds the test may take, default
        :func:`get_async_test_timeout` (read when the test runs).
    :raises squall.util.TimeoutError: when the test takes longer; the
        message names the test and the timeout and shows where the
        coroutine was suspended.
    :raises TypeError: (when the test runs) if ``self`` has no ``io_loop``,
        i.e. the method is not on an :class:`AsyncTestCase`.
    :raises ValueError: for a timeout that is not a positive number of seconds.
    :raises TypeError: for a timeout that is not a number.

    .. versionadded:: 0.1.0
    """
    limit = None if timeout is None else check_timeout(timeout, "gen_test timeout")

    def decorate(test: Callable[_P, Any]) -> Callable[_P, None]:
        if not callable(test):
            raise TypeError(f"gen_test decorates test methods, not {test!r}")

        @functools.wraps(test)
        def run(self: Any, *args: Any, **kwargs: Any) -> None:
            runner = getattr(self, "_squall_run_test", None)
            if runner is None:
                raise TypeError(
                    f"@gen_test needs an AsyncTestCase method, {test.__qualname__} is not one "
                    "(for pytest functions use async def or @pytest.mark.gen_test)"
                )
            runner(test, args, kwargs, get_async_test_timeout() if limit is None else limit)

        # A plain function, so that neither unittest nor pytest see a coroutine.
        return cast("Callable[_P, None]", run)

    if func is not None:
        return decorate(func)
    return decorate
