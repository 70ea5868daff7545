"""Squall's pytest plugin, registered as ``squall`` in the ``pytest11`` entry points.

It gives tests:

* the ``io_loop`` fixture: a fresh :class:`~squall.ioloop.IOLoop` per test
  (``IOLoop()``, so on the poller chosen by ``SQUALL_POLLER``), made
  current and closed after the test.  An exception raised by one of its
  callbacks during the test (and not swallowed by an
  :class:`~squall.testing.ExpectLog`) fails the test;
* the ``unused_tcp_port`` fixture: a TCP port on 127.0.0.1 free a moment ago;
* ``async def`` test functions, and generator (or ``@gen.coroutine``) test
  functions marked ``@pytest.mark.gen_test``, run on the ``io_loop``
  fixture's loop, which they get automatically::

      async def test_sleep(io_loop):
          await gen.sleep(0.01)

      @pytest.mark.gen_test(timeout=10)
      def test_classic():
          yield gen.sleep(0.01)

  Each may take ``timeout`` seconds (the marker's, else
  ``ASYNC_TEST_TIMEOUT``, else 5); after that it fails with
  :exc:`squall.util.TimeoutError` showing where it was suspended;
* the poller in use in the report header (``squall poller: epoll``).

Tests marked ``asyncio``, ``anyio`` or ``trio`` are left to the plugins of
those names (pytest-asyncio, ...).

Importing this module (pytest does it for every session) imports no Squall
module: the loop is loaded when a test needs it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import inspect
import unittest
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from squall.ioloop import IOLoop
    from squall.testing._runner import LoopFailures

__all__ = [
    "io_loop",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_pycollect_makeitem",
    "pytest_pyfunc_call",
    "pytest_report_header",
    "pytest_runtest_call",
    "unused_tcp_port",
]

_FAILURES: pytest.StashKey[LoopFailures] = pytest.StashKey()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``gen_test`` marker.

    .. versionadded:: 0.1.0
    """
    config.addinivalue_line(
        "markers",
        "gen_test(timeout=None): run this generator or @gen.coroutine test on the io_loop "
        "fixture's loop, failing it after timeout seconds (default ASYNC_TEST_TIMEOUT or 5)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    """Report the poller new IOLoops use: ``squall poller: epoll``.

    .. versionadded:: 0.1.0
    """
    try:
        from squall.ioloop import IOLoop

        previous = IOLoop.current(instance=False)
        loop = IOLoop()
        try:
            name = loop.poller
        finally:
            loop.close()
            if previous is not None and not previous.asyncio_loop.is_closed():
                previous.make_current()
    except Exception as exc:  # a broken configuration must not stop the session
        return f"squall poller: unavailable ({type(exc).__name__}: {exc})"
    return f"squall poller: {name}"


def _is_unittest_item(item: pytest.Item) -> bool:
    cls = getattr(item, "cls", None)
    return isinstance(cls, type) and issubclass(cls, unittest.TestCase)


#: Markers of tests that another async plugin runs (pytest-asyncio, anyio, pytest-trio).
_FOREIGN_MARKERS = ("asyncio", "anyio", "trio")


def _runs_on_loop(item: pytest.Function) -> bool:
    """Whether this plugin runs the test function on the io_loop fixture's loop."""
    if _is_unittest_item(item):
        return False
    if any(item.get_closest_marker(name) is not None for name in _FOREIGN_MARKERS):
        return False
    func = item.obj
    if inspect.iscoroutinefunction(func):
        return True
    if item.get_closest_marker("gen_test") is None:
        return False
    # Marked: generator functions and @gen.coroutine ones; a plain function
    # (say under a module-wide marker) is left to pytest.
    from squall.gen import is_coroutine_function

    return inspect.isgeneratorfunction(func) or is_coroutine_function(func)


def _marked_gen_test(collector: pytest.Module | pytest.Class, obj: object) -> bool:
    own = getattr(obj, "pytestmark", [])
    if any(getattr(mark, "name", None) == "gen_test" for mark in own):
        return True
    return collector.get_closest_marker("gen_test") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> list[pytest.Function] | None:
    """Collect generator test functions marked ``gen_test`` (pytest refuses other ones).

    .. versionadded:: 0.1.0
    """
    if (
        inspect.isgeneratorfunction(obj)
        and collector.istestfunction(obj, name)
        and _marked_gen_test(collector, obj)
    ):
        return list(collector._genfunctions(name, obj))
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test this plugin runs the ``io_loop`` fixture.

    .. versionadded:: 0.1.0
    """
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and _runs_on_loop(item)
            and "io_loop" not in item.fixturenames
        ):
            item.fixturenames.append("io_loop")


def _marker_timeout(item: pytest.Function) -> float:
    from squall.testing._runner import check_timeout, get_async_test_timeout

    marker = item.get_closest_marker("gen_test")
    value: Any = None
    if marker is not None:
        if "timeout" in marker.kwargs:
            value = marker.kwargs["timeout"]
        elif marker.args:
            value = marker.args[0]
    try:
        if value is None:
            return get_async_test_timeout()
        return check_timeout(value, "the gen_test marker's timeout")
    except (TypeError, ValueError) as exc:
        pytest.fail(f"{item.nodeid}: {exc}", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` and ``gen_test``-marked tests on the ``io_loop`` fixture's loop.

    .. versionadded:: 0.1.0
    """
    if not _runs_on_loop(pyfuncitem):
        return None
    __tracebackhide__ = True
    from squall.ioloop import IOLoop
    from squall.testing._runner import run_test

    io_loop = pyfuncitem.funcargs.get("io_loop")
    if not isinstance(io_loop, IOLoop):
        pytest.fail(
            f"{pyfuncitem.nodeid}: the io_loop fixture must give a squall IOLoop, got {io_loop!r}",
            pytrace=False,
        )
    timeout = _marker_timeout(pyfuncitem)
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    result = run_test(
        io_loop,
        pyfuncitem.stash.get(_FAILURES, None),
        pyfuncitem.obj,
        (),
        kwargs,
        timeout=timeout,
        name=pyfuncitem.nodeid,
    )
    if result is not None:
        pytest.fail(
            f"{pyfuncitem.nodeid} returned {result!r}; test functions should return None",
            pytrace=False,
        )
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a test using ``io_loop`` whose loop had a callback fail during it.

    .. versionadded:: 0.1.0
    """
    __tracebackhide__ = True
    failures = item.stash.get(_FAILURES, None)
    try:
        result = yield
    except BaseException as exc:
        failure = failures.take() if failures is not None else None
        if failure is not None and failure is not exc:
            from squall.testing._runner import _add_failure_note

            _add_failure_note(exc, failure)
        raise
    failure = failures.take() if failures is not None else None
    if failure is not None:
        raise failure
    return result


@pytest.fixture
def io_loop(request: pytest.FixtureRequest) -> Iterator[IOLoop]:
    """A new IOLoop on the configured poller, current during the test, closed after.

    An exception raised by one of its callbacks and not swallowed by an
    :class:`~squall.testing.ExpectLog` fails the test; tasks still pending
    after the test are cancelled, and if one then raises, the teardown fails.

    .. versionadded:: 0.1.0
    """
    from squall.ioloop import IOLoop
    from squall.testing._runner import LoopFailures, close_loop, shut_down

    previous = IOLoop.current(instance=False)
    loop = IOLoop()
    loop.make_current()
    failures = LoopFailures(loop)
    request.node.stash[_FAILURES] = failures
    try:
        yield loop
    finally:
        try:
            shut_down(loop, failures)
        finally:
            failures.uninstall()
            del request.node.stash[_FAILURES]
            close_loop(loop, previous)
    failure = failures.take()
    if failure is not None:
        failure.add_note("(reported when the io_loop fixture was torn down)")
        raise failure


@pytest.fixture
def unused_tcp_port() -> int:
    """A TCP port of 127.0.0.1 that was free when the test started.

    Prefer :func:`~squall.testing.bind_unused_port` when you can hand the
    bound socket to the server: nothing can take the port in between.

    .. versionadded:: 0.1.0
    """
    from squall.testing._ports import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()
    return port
