"""Running test code on an IOLoop: bounded runs, coroutine tests, loop failures.

Shared by :class:`~squall.testing.AsyncTestCase` and the pytest plugin.

Strategy: every run of the loop made on behalf of a test is a :class:`_Run`,
which starts the loop and ends it on the *first* of three events -- the
awaited work finished, the time limit passed, or a callback failed -- and
calls ``io_loop.stop()`` exactly once, so no stale stop request is left to
cut the next run short.

A callback failure is an exception raised by a loop callback that the loop
*reported* (logged at ERROR or above) and no :class:`~squall.testing.ExpectLog`
swallowed.  :class:`LoopFailures` hooks the two places a loop reports
them -- :meth:`IOLoop.handle_callback_exception` and the asyncio exception
handler -- and keeps the first one until the test collects it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import math
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from squall.ioloop import IOLoop

__all__ = ["get_async_test_timeout"]

# Keep this module's frames out of unittest's failure tracebacks.
__unittest = True

#: Seconds allowed for cancelled tasks to finish after a test.
_DRAIN_SECONDS = 5.0

#: asyncio reports these from ``__del__``, at garbage-collection time, which
#: may fall in any later test: they are logged, never charged to a test.
_GC_REPORT_SUFFIX = "exception was never retrieved"

_Outcome = Literal["done", "timeout", "failure", "stopped"]


def get_async_test_timeout() -> float:
    """Return the default time limit of asynchronous test operations, in seconds.

    It is the ``ASYNC_TEST_TIMEOUT`` environment variable if set, else 5.
    :func:`~squall.testing.gen_test`, :meth:`AsyncTestCase.wait
    <squall.testing.AsyncTestCase.wait>` and the pytest plugin's ``async
    def`` tests use it when given no explicit timeout.

    :raises ValueError: if ``ASYNC_TEST_TIMEOUT`` is not a positive, finite
        number of seconds.

    .. versionadded:: 0.1.0
    """
    raw = os.environ.get("ASYNC_TEST_TIMEOUT")
    if raw is None or not raw.strip():
        return 5.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"ASYNC_TEST_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


def check_timeout(value: object, what: str) -> float:
    """Return ``value`` as a time limit in seconds, or raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")
    return seconds


class _ReportProbe(logging.Handler):
    """Root-logger handler noticing whether ``exc`` was logged as an error.

    Only a record carrying that exception counts: an application that
    handles the exception and logs something else at ERROR (a web server's
    access-log line for a 500, say) has not let the exception through.
    """

    def __init__(self, exc: BaseException | None) -> None:
        super().__init__(logging.NOTSET)
        self.thread = threading.get_ident()
        self.exc = exc
        self.reported = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR or record.thread != self.thread:
            return
        if self.exc is None or (record.exc_info and record.exc_info[1] is self.exc):
            self.reported = True


def _reported(report: Callable[[], object], exc: BaseException | None = None) -> bool:
    """Call ``report()`` and tell whether it let ``exc`` through to root at ERROR.

    A record swallowed by an ExpectLog filter (or by a stack context that
    handled the exception) never reaches the root logger's handlers.
    """
    probe = _ReportProbe(exc)
    root = logging.getLogger()
    root.addHandler(probe)
    try:
        report()
    finally:
        root.removeHandler(probe)
    return probe.reported


class LoopFailures:
    """Collect the callback failures of one IOLoop (see the module docstring).

    :param io_loop: the loop to watch; :meth:`uninstall` undoes the hooks.
    """

    def __init__(self, io_loop: IOLoop) -> None:
        self.io_loop = io_loop
        self.failure: BaseException | None = None
        #: Called once when a failure is recorded while a run is watching.
        self.on_failure: Callable[[], None] | None = None
        #: Whether a failure was handed to the test (by :meth:`take`).
        self.raised_any = False
        #: Set while the loop is shut down after the test.
        self.closing = False
        self._original_handler = io_loop.handle_callback_exception
        asyncio_loop = io_loop.asyncio_loop
        self._previous_asyncio_handler = asyncio_loop.get_exception_handler()
        setattr(io_loop, "handle_callback_exception", self._handle_callback_exception)  # noqa: B010
        asyncio_loop.set_exception_handler(self._handle_asyncio_exception)

    def uninstall(self) -> None:
        """Remove the hooks (the loop reports exceptions as before)."""
        if "handle_callback_exception" in vars(self.io_loop):
            delattr(self.io_loop, "handle_callback_exception")
        asyncio_loop = self.io_loop.asyncio_loop
        if not asyncio_loop.is_closed():
            asyncio_loop.set_exception_handler(self._previous_asyncio_handler)
        self.on_failure = None

    def record(self, exc: BaseException, where: str) -> None:
        """Keep ``exc`` (the first one only) and wake the watching run.

        Once the test is over and already failed of a callback failure, the
        callbacks that fail again while the loop shuts down (a broken fd
        handler fires on every iteration) are only logged.
        """
        if self.failure is not None or (self.closing and self.raised_any):
            return
        exc.add_note(f"(raised in {where} and not handled: it fails the test)")
        self.failure = exc
        if self.on_failure is not None:
            self.on_failure()

    def take(self) -> BaseException | None:
        """Return the recorded failure, if any, and forget it."""
        failure, self.failure = self.failure, None
        if failure is not None:
            self.raised_any = True
        return failure

    def _handle_callback_exception(self, callback: Any) -> None:
        exc = _current_exception()
        if exc is not None and _reported(lambda: self._original_handler(callback), exc):
            self.record(exc, f"IOLoop callback {callback!r}")

    def _handle_asyncio_exception(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        previous = self._previous_asyncio_handler

        def report() -> None:
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        exc = context.get("exception")
        message = str(context.get("message", ""))
        if (
            isinstance(exc, BaseException)
            and _reported(report, exc)
            and not message.endswith(_GC_REPORT_SUFFIX)
        ):
            self.record(exc, f"the asyncio loop ({message})")


def _current_exception() -> BaseException | None:
    return sys.exc_info()[1]


class _Run:
    """One run of the loop, ended by the first of: done, timeout, failure, stop."""

    def __init__(self, io_loop: IOLoop, failures: LoopFailures | None) -> None:
        self.io_loop = io_loop
        self.failures = failures
        self.outcome: _Outcome | None = None

    def finish(self, outcome: _Outcome) -> None:
        """End the run with ``outcome`` unless it already ended."""
        if self.outcome is None:
            self.outcome = outcome
            self.io_loop.stop()

    def run(self, timeout: float, start: Callable[[], object]) -> _Outcome:
        """Run the loop, calling ``start()`` on it first, until the run ends."""
        self.outcome = None
        failures = self.failures
        if failures is not None and failures.failure is not None:
            return "failure"
        io_loop = self.io_loop
        handle = io_loop.call_later(max(timeout, 0.0), self.finish, "timeout")
        if failures is not None:
            failures.on_failure = lambda: self.finish("failure")
        try:
            io_loop.add_callback(start)
            while self.outcome is None:
                # Restarted if test code stopped the loop by itself.
                io_loop.start()
        finally:
            io_loop.remove_timeout(handle)
            if failures is not None:
                failures.on_failure = None
        return self.outcome


def run_until_stopped(
    io_loop: IOLoop, failures: LoopFailures | None, timeout: float, run_holder: list[_Run]
) -> _Outcome:
    """Run the loop until ``run_holder[0].finish("stopped")``, a timeout or a failure."""
    run = _Run(io_loop, failures)
    run_holder.append(run)
    try:
        return run.run(timeout, _nothing)
    finally:
        run_holder.remove(run)


def _nothing() -> None:
    return None


def drain(io_loop: IOLoop, futures: Sequence[asyncio.Future[Any]], timeout: float) -> None:
    """Run the loop until every future in ``futures`` is done, or ``timeout`` passes.

    This runs the asyncio loop directly, so it also works after the test
    closed its IOLoop from inside a callback (which leaves the asyncio loop
    open, since it was running).
    """
    pending = [f for f in futures if not f.done()]
    asyncio_loop = io_loop.asyncio_loop
    if not pending or asyncio_loop.is_closed() or asyncio_loop.is_running():
        return
    asyncio_loop.run_until_complete(asyncio.wait(pending, timeout=timeout))


def shut_down(io_loop: IOLoop, failures: LoopFailures | None) -> None:
    """Cancel the loop's pending tasks and finalize its async generators.

    A task that raises something other than :exc:`asyncio.CancelledError`
    while being cancelled is recorded as a failure.  Call :func:`close_loop`
    next.
    """
    asyncio_loop = io_loop.asyncio_loop
    if asyncio_loop.is_closed() or asyncio_loop.is_running():
        return
    if failures is not None:
        failures.closing = True
    tasks = [t for t in asyncio.all_tasks(asyncio_loop) if not t.done()]
    for task in tasks:
        task.cancel()
    finalize: asyncio.Future[Any] = asyncio_loop.create_task(asyncio_loop.shutdown_asyncgens())
    drain(io_loop, [*tasks, finalize], _DRAIN_SECONDS)
    for task in tasks:
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None and failures is not None:
                where = f"task {task.get_name()} while it was cancelled after the test"
                failures.record(exc, where)
    if not finalize.done():
        finalize.cancel()


#: Loops that refused to close (uvloop does, with EBUSY, while a transport
#: the test left open is still closing).  They stay referenced for good
#: rather than being freed while libuv still has live handles in them.
_UNCLOSABLE_LOOPS: list[asyncio.AbstractEventLoop] = []


def close_loop(io_loop: IOLoop, previous: IOLoop | None) -> None:
    """Close ``io_loop`` with its fds and make ``previous`` current again (if open).

    :raises RuntimeError: if the asyncio loop cannot be closed, naming the
        likely cause (transports the test left open).
    """
    from squall.ioloop import IOLoop

    if IOLoop.current(instance=False) is io_loop:
        IOLoop.clear_current()
    asyncio_loop = io_loop.asyncio_loop
    try:
        io_loop.close(all_fds=True)
        if not asyncio_loop.is_closed() and not asyncio_loop.is_running():
            # An IOLoop closed from one of its own callbacks could not close it.
            asyncio_loop.close()
    except OSError as exc:
        _UNCLOSABLE_LOOPS.append(asyncio_loop)
        raise RuntimeError(
            f"the test's {io_loop.poller} loop could not be closed ({exc}): the test "
            "probably left connections or other transports open; close them before it ends"
        ) from exc
    finally:
        if previous is not None and not previous.asyncio_loop.is_closed():
            previous.make_current()


def _frames_of(source: object) -> list[tuple[FrameType, int]]:
    """The frames of a suspended coroutine/generator and of what it awaits."""
    frames: list[tuple[FrameType, int]] = []
    obj: object = source
    for _ in range(200):  # bounded: await chains are short, cycles impossible
        if obj is None:
            break
        frame = (
            getattr(obj, "cr_frame", None)
            or getattr(obj, "gi_frame", None)
            or getattr(obj, "ag_frame", None)
        )
        if isinstance(frame, FrameType):
            frames.append((frame, frame.f_lineno))
        obj = (
            getattr(obj, "cr_await", None)
            or getattr(obj, "gi_yieldfrom", None)
            or getattr(obj, "ag_await", None)
        )
    return frames


def describe_suspension(source: object) -> str:
    """Format where the coroutine/generator ``source`` is suspended."""
    frames = _frames_of(source)
    if not frames:
        return "(No coroutine stack to show: it was waiting on a Future.)\n"
    summary = traceback.StackSummary.extract(iter(frames))
    return "It was suspended at (most recent call last):\n" + "".join(summary.format())


def _add_failure_note(exc: BaseException, failure: BaseException | None) -> BaseException:
    if failure is not None and failure is not exc:
        text = "".join(traceback.format_exception(failure))
        exc.add_note("An IOLoop callback also failed during the test:\n" + text)
    return exc


def _invoke(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[asyncio.Future[Any] | None, object, Any]:
    """Call the test function; return (future or None, stack source, plain result)."""
    from squall import gen

    holder: list[object] = []
    if inspect.isgeneratorfunction(func):

        def keep_generator(*a: Any, **kw: Any) -> Any:
            generator = func(*a, **kw)
            holder.append(generator)
            return generator

        result = gen.coroutine(keep_generator)(*args, **kwargs)
    else:
        result = func(*args, **kwargs)
        if inspect.isgenerator(result):
            generator = result
            holder.append(generator)
            result = gen.coroutine(lambda: generator)()
        elif inspect.iscoroutine(result):
            holder.append(result)
    source = holder[0] if holder else None
    if inspect.isawaitable(result) or isinstance(result, concurrent.futures.Future):
        return gen.convert_yielded(result), source, None
    return None, source, result


def _close_generator(source: object) -> None:
    if inspect.isgenerator(source) and source.gi_frame is not None and not source.gi_running:
        try:
            source.close()
        except RuntimeError:  # it ignored GeneratorExit; nothing more to do
            pass


def run_test(
    io_loop: IOLoop,
    failures: LoopFailures | None,
    func: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    timeout: float,
    name: str,
) -> Any:
    """Run ``func(*args, **kwargs)`` on ``io_loop`` and return its result.

    ``func`` may be an ``async def`` function, a generator function (run as
    a :func:`squall.gen.coroutine`), a ``gen.coroutine`` or a plain function.

    :raises squall.util.TimeoutError: after ``timeout`` seconds, naming
        ``name`` and showing where the coroutine was suspended.
    :raises BaseException: the test's own exception, or the first callback
        failure (see :class:`LoopFailures`), which also ends the run early.
    """
    __tracebackhide__ = True  # pytest: show the test's frames, not these
    from squall.util import TimeoutError

    earlier = failures.take() if failures is not None else None
    if earlier is not None:
        earlier.add_note(f"(it happened before {name} started, which did not run)")
        raise earlier
    run = _Run(io_loop, failures)
    state: dict[str, Any] = {"future": None, "source": None, "result": None, "error": None}

    def start() -> None:
        try:
            future, state["source"], state["result"] = _invoke(func, args, kwargs or {})
        except BaseException as exc:
            state["error"] = exc
            run.finish("done")
            return
        if future is None:
            run.finish("done")
            return
        state["future"] = future
        future.add_done_callback(lambda _f: run.finish("done"))

    outcome = run.run(timeout, start)
    future: asyncio.Future[Any] | None = state["future"]
    if outcome == "done" or (future is not None and future.done()):
        failure = failures.take() if failures is not None else None
        if state["error"] is not None:
            raise _add_failure_note(state["error"], failure)
        if future is None:
            if failure is not None:
                raise failure
            return state["result"]
        if future.cancelled():
            raise _add_failure_note(asyncio.CancelledError(f"{name} was cancelled"), failure)
        exc = future.exception()
        if exc is not None:
            raise _add_failure_note(exc, failure)
        if failure is not None:
            raise failure
        return future.result()
    # Still running: it timed out, or a callback failed.
    stack = describe_suspension(state["source"])
    if future is not None:
        future.cancel()
        drain(io_loop, [future], _DRAIN_SECONDS)
    _close_generator(state["source"])
    failure = failures.take() if failures is not None else None
    if outcome == "failure" and failure is not None:
        failure.add_note(f"{name} was stopped because of it. {stack}")
        raise failure
    error = TimeoutError(f"{name} timed out after {timeout:g} seconds.\n{stack}")
    raise _add_failure_note(error, failure)
