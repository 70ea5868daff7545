"""Tests for squall.testing: AsyncTestCase, gen_test, ExpectLog, ports, main, the plugin."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import urllib.parse
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
import squall.testing
from squall import gen
from squall.ioloop import IOLoop
from squall.testing import (
    AsyncHTTPSTestCase,
    AsyncHTTPTestCase,
    AsyncTestCase,
    ExpectLog,
    bind_unused_port,
    count_open_fds,
    gen_test,
    get_async_test_timeout,
    wait_until,
)
from squall.util import TimeoutError

pytest_plugins = ["pytester"]

APP_LOG = "squall.application"


def run_case(case: type[unittest.TestCase], name: str) -> unittest.TestResult:
    """Run one test of ``case`` and return its unittest result."""
    result = unittest.TestResult()
    case(name).run(result)
    return result


def only_error(result: unittest.TestResult) -> str:
    """The traceback text of the single error or failure of ``result``."""
    problems = result.errors + result.failures
    assert len(problems) == 1, problems
    return problems[0][1]


@pytest.fixture
def no_timeout_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASYNC_TEST_TIMEOUT", raising=False)


# --------------------------------------------------------------------- public API


def test_public_api() -> None:
    assert set(squall.testing.__all__) == {
        "AsyncHTTPSTestCase",
        "AsyncHTTPTestCase",
        "AsyncTestCase",
        "ExpectLog",
        "bind_unused_port",
        "count_open_fds",
        "gen_test",
        "get_async_test_timeout",
        "main",
        "wait_until",
    }
    for name in squall.testing.__all__:
        assert getattr(squall.testing, name).__doc__
        assert name in dir(squall.testing)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        squall.testing.nope  # type: ignore[attr-defined]  # noqa: B018


def test_loading_the_plugin_imports_no_loop() -> None:
    code = (
        "import sys, squall.testing.plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('squall')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert out.strip() == "['squall', 'squall.testing', 'squall.testing.plugin']"


# ----------------------------------------------------------- get_async_test_timeout


def test_async_test_timeout_default(no_timeout_env: None) -> None:
    assert get_async_test_timeout() == 5.0


def test_async_test_timeout_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "0.25")
    assert get_async_test_timeout() == 0.25


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "nan", "inf"])
def test_async_test_timeout_rejects_bad_env(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", raw)
    with pytest.raises(ValueError, match="ASYNC_TEST_TIMEOUT must be a positive number"):
        get_async_test_timeout()


# ------------------------------------------------------------ AsyncTestCase basics


def test_async_test_case_loop_lifecycle() -> None:
    seen: dict[str, Any] = {}

    class Case(AsyncTestCase):
        def test_it(self) -> None:
            seen["loop"] = self.io_loop
            seen["current"] = IOLoop.current(instance=False)
            seen["asyncio"] = asyncio.get_event_loop()

    assert IOLoop.current(instance=False) is None
    result = run_case(Case, "test_it")
    assert result.wasSuccessful(), result.errors
    loop: IOLoop = seen["loop"]
    assert seen["current"] is loop
    assert seen["asyncio"] is loop.asyncio_loop
    expected = os.environ.get("SQUALL_POLLER")
    if expected:
        assert loop.poller == expected
    assert loop.asyncio_loop.is_closed()
    assert IOLoop.current(instance=False) is None


def test_async_test_case_restores_previous_current_loop() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            pass

    outer: IOLoop = IOLoop(make_current=True)
    try:
        result = run_case(Case, "test_it")
        assert result.wasSuccessful()
        assert IOLoop.current(instance=False) is outer
    finally:
        outer.close()
    assert IOLoop.current(instance=False) is None


def test_get_new_ioloop_can_be_overridden() -> None:
    made: list[IOLoop] = []

    class Case(AsyncTestCase):
        def get_new_ioloop(self) -> IOLoop:
            loop: IOLoop = IOLoop(poller="select", make_current=False)
            made.append(loop)
            return loop

        def test_it(self) -> None:
            assert self.io_loop is made[0]
            assert self.io_loop.poller == "select"

    assert run_case(Case, "test_it").wasSuccessful()


def test_loop_closed_when_a_subclass_set_up_fails() -> None:
    loops: list[IOLoop] = []

    class Case(AsyncTestCase):
        def setUp(self) -> None:
            super().setUp()
            loops.append(self.io_loop)
            raise KeyError("setUp broke")

        def test_it(self) -> None:
            pass

    assert "KeyError: 'setUp broke'" in only_error(run_case(Case, "test_it"))
    assert loops[0].asyncio_loop.is_closed()
    assert IOLoop.current(instance=False) is None


def test_tear_down_closes_registered_fds() -> None:
    pair: list[socket.socket] = []

    class Case(AsyncTestCase):
        def test_it(self) -> None:
            a, b = socket.socketpair()
            pair.extend([a, b])
            self.io_loop.add_handler(a, lambda fd, events: None, IOLoop.READ)
            b.close()

    assert run_case(Case, "test_it").wasSuccessful()
    assert pair[0].fileno() == -1  # closed by close(all_fds=True)


def test_tear_down_cancels_pending_tasks() -> None:
    events: list[str] = []

    class Case(AsyncTestCase):
        @gen_test
        async def test_it(self) -> None:
            async def forever() -> None:
                try:
                    await asyncio.sleep(30)
                finally:
                    events.append("cancelled")

            self.task = asyncio.ensure_future(forever())
            await asyncio.sleep(0)

    assert run_case(Case, "test_it").wasSuccessful()
    assert events == ["cancelled"]


def test_task_failing_while_cancelled_fails_the_test() -> None:
    class Case(AsyncTestCase):
        @gen_test
        async def test_it(self) -> None:
            async def bad_cleanup() -> None:
                try:
                    await asyncio.sleep(30)
                finally:
                    raise KeyError("cleanup broke")

            self.task = asyncio.ensure_future(bad_cleanup())
            await asyncio.sleep(0)

    text = only_error(run_case(Case, "test_it"))
    assert "KeyError: 'cleanup broke'" in text
    assert "while it was cancelled after the test" in text


def test_a_loop_that_cannot_close_is_a_clear_error() -> None:
    from squall.testing import _runner

    loops: list[IOLoop] = []

    class Case(AsyncTestCase):
        def test_it(self) -> None:
            loops.append(self.io_loop)

            def refuse(all_fds: bool = False) -> None:
                raise OSError(16, "Device or resource busy")

            self.io_loop.close = refuse  # type: ignore[method-assign]

    text = only_error(run_case(Case, "test_it"))
    assert "loop could not be closed ([Errno 16] Device or resource busy)" in text
    assert "left connections or other transports open" in text
    assert IOLoop.current(instance=False) is None
    asyncio_loop = loops[0].asyncio_loop
    assert asyncio_loop in _runner._UNCLOSABLE_LOOPS  # kept, not freed
    _runner._UNCLOSABLE_LOOPS.remove(asyncio_loop)
    del loops[0].close
    loops[0].close()
    assert asyncio_loop.is_closed()


# ------------------------------------------------------------------ stop / wait


def test_wait_returns_the_stop_argument() -> None:
    class Case(AsyncTestCase):
        def test_positional(self) -> None:
            self.io_loop.call_later(0.01, self.stop, "done")
            self.assertEqual(self.wait(), "done")

        def test_keywords(self) -> None:
            self.io_loop.add_callback(lambda: self.stop(a=1, b=2))
            self.assertEqual(self.wait(), {"a": 1, "b": 2})

        def test_stop_before_wait(self) -> None:
            self.stop(7)
            self.assertEqual(self.wait(), 7)
            # the next wait needs a new stop
            self.io_loop.add_callback(self.stop, 8)
            self.assertEqual(self.wait(), 8)

        def test_condition(self) -> None:
            count = [0]

            def tick() -> None:
                count[0] += 1
                self.stop(count[0])
                if count[0] < 3:
                    self.io_loop.add_callback(tick)

            self.io_loop.add_callback(tick)
            self.assertEqual(self.wait(condition=lambda: count[0] >= 3), 3)

        def test_classic_callback_api(self) -> None:
            future: asyncio.Future[int] = self.io_loop.asyncio_loop.create_future()
            self.io_loop.add_future(future, self.stop)
            self.io_loop.call_later(0.01, future.set_result, 5)
            self.assertIs(self.wait(), future)
            self.assertEqual(future.result(), 5)

    for name in [
        "test_positional",
        "test_keywords",
        "test_stop_before_wait",
        "test_condition",
        "test_classic_callback_api",
    ]:
        result = run_case(Case, name)
        assert result.wasSuccessful(), (name, result.errors, result.failures)


def test_stop_refuses_both_kinds_of_arguments() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            with self.assertRaisesRegex(TypeError, "not both"):
                self.stop(1, a=2)

    assert run_case(Case, "test_it").wasSuccessful()


def test_wait_timeout_fails_naming_the_timeout() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            self.wait(timeout=0.1)

    result = run_case(Case, "test_it")
    assert len(result.failures) == 1 and not result.errors  # failureException: a failure
    assert "Async operation timed out after 0.1 seconds" in result.failures[0][1]


def test_wait_default_timeout_comes_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "0.1")

    class Case(AsyncTestCase):
        def test_it(self) -> None:
            self.wait()

    start = time.monotonic()
    result = run_case(Case, "test_it")
    assert time.monotonic() - start < 3
    assert "timed out after 0.1 seconds" in result.failures[0][1]


def test_wait_rejects_a_bad_timeout() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            with self.assertRaisesRegex(ValueError, "positive number of seconds"):
                self.wait(timeout=-1)
            with self.assertRaisesRegex(TypeError, "number of seconds"):
                self.wait(timeout="soon")  # type: ignore[arg-type]

    assert run_case(Case, "test_it").wasSuccessful()


def test_wait_after_a_timeout_still_works() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            with self.assertRaises(self.failureException):
                self.wait(timeout=0.05)
            self.io_loop.add_callback(self.stop, "again")
            self.assertEqual(self.wait(), "again")

    assert run_case(Case, "test_it").wasSuccessful()


# -------------------------------------------------- exceptions raised in callbacks


def test_callback_exception_ends_wait_at_once() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            self.io_loop.add_callback(lambda: 1 / 0)
            self.wait(timeout=20)

    start = time.monotonic()
    text = only_error(run_case(Case, "test_it"))
    assert time.monotonic() - start < 10
    assert "ZeroDivisionError" in text
    assert "raised in IOLoop callback" in text


def test_callback_exception_without_wait_fails_in_tear_down() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            self.io_loop.run_sync(lambda: self.io_loop.add_callback(self._boom))

        def _boom(self) -> None:
            raise KeyError("from a callback")

    result = run_case(Case, "test_it")
    assert "KeyError: 'from a callback'" in only_error(result)


def test_fd_handler_exception_fails_the_test() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            a, b = socket.socketpair()
            self.addCleanup(b.close)

            def handler(fd: Any, events: int) -> None:
                raise RuntimeError("handler broke")

            self.io_loop.add_handler(a, handler, IOLoop.READ)
            b.send(b"x")
            self.wait(timeout=10)

    assert "RuntimeError: handler broke" in only_error(run_case(Case, "test_it"))


def test_plain_asyncio_callback_exception_fails_the_test() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            self.io_loop.asyncio_loop.call_soon(self._boom)
            self.wait(timeout=10)

        def _boom(self) -> None:
            raise LookupError("raw asyncio callback")

    assert "LookupError: raw asyncio callback" in only_error(run_case(Case, "test_it"))


def test_expected_callback_exception_does_not_fail() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            with ExpectLog(APP_LOG, "Exception in callback"):
                self.io_loop.add_callback(lambda: 1 / 0)
                self.io_loop.call_later(0.02, self.stop)
                self.wait()

    result = run_case(Case, "test_it")
    assert result.wasSuccessful(), result.errors


def test_only_the_first_callback_exception_is_raised() -> None:
    class Case(AsyncTestCase):
        def test_it(self) -> None:
            self.io_loop.add_callback(self._first)
            self.io_loop.add_callback(self._second)
            self.io_loop.run_sync(lambda: gen.sleep(0.01))

        def _first(self) -> None:
            raise KeyError("first")

        def _second(self) -> None:
            raise KeyError("second")

    text = only_error(run_case(Case, "test_it"))
    assert "KeyError: 'first'" in text
    assert "'second'" not in text


# ------------------------------------------------------------------------ gen_test


def test_gen_test_runs_async_def_and_generator_methods() -> None:
    seen: list[Any] = []

    class Case(AsyncTestCase):
        @gen_test
        async def test_native(self) -> None:
            assert asyncio.get_running_loop() is self.io_loop.asyncio_loop
            await gen.sleep(0.01)
            seen.append("native")

        @gen_test
        def test_generator(self) -> Generator[Any, Any, None]:
            value = yield gen.maybe_future(3)
            yield gen.sleep(0.01)
            seen.append(value)

        @gen_test(timeout=10)
        async def test_with_timeout(self) -> None:
            seen.append(IOLoop.current() is self.io_loop)

    for name in ["test_native", "test_generator", "test_with_timeout"]:
        result = run_case(Case, name)
        assert result.wasSuccessful(), (name, result.errors, result.failures)
    assert seen == ["native", 3, True]


def test_gen_test_failure_is_a_test_failure() -> None:
    class Case(AsyncTestCase):
        @gen_test
        async def test_native(self) -> None:
            await asyncio.sleep(0)
            self.assertEqual(1, 2)

        @gen_test
        def test_generator(self) -> Generator[Any, Any, None]:
            yield gen.sleep(0)
            raise ValueError("generator broke")

    result = run_case(Case, "test_native")
    assert len(result.failures) == 1 and "1 != 2" in result.failures[0][1]
    assert "ValueError: generator broke" in only_error(run_case(Case, "test_generator"))


def test_gen_test_timeout_names_test_timeout_and_stack() -> None:
    class Case(AsyncTestCase):
        @gen_test(timeout=0.2)
        async def test_native(self) -> None:
            await self.helper()

        async def helper(self) -> None:
            await asyncio.sleep(30)  # the line shown

        @gen_test(timeout=0.2)
        def test_generator(self) -> Generator[Any, Any, None]:
            yield gen.sleep(30)  # the generator line shown

    start = time.monotonic()
    text = only_error(run_case(Case, "test_native"))
    assert time.monotonic() - start < 10
    assert "TimeoutError" in text
    assert "test_testing.test_gen_test_timeout_names_test_timeout_and_stack.<locals>" in text
    assert "Case.test_native timed out after 0.2 seconds" in text
    assert "in helper" in text and "await asyncio.sleep(30)  # the line shown" in text

    text = only_error(run_case(Case, "test_generator"))
    assert "Case.test_generator timed out after 0.2 seconds" in text
    assert "yield gen.sleep(30)  # the generator line shown" in text


def test_gen_test_timeout_error_type() -> None:
    class Case(AsyncTestCase):
        @gen_test(timeout=0.1)
        async def test_it(self) -> None:
            await asyncio.sleep(30)

    case = Case("test_it")
    case.setUp()
    try:
        with pytest.raises(TimeoutError, match=r"timed out after 0\.1 seconds"):
            case.test_it()
    finally:
        case.tearDown()


def test_gen_test_default_timeout_is_read_when_the_test_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Case(AsyncTestCase):
        @gen_test
        async def test_it(self) -> None:
            await asyncio.sleep(30)

    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "0.1")
    assert "timed out after 0.1 seconds" in only_error(run_case(Case, "test_it"))


def test_gen_test_stops_at_the_first_callback_exception() -> None:
    class Case(AsyncTestCase):
        @gen_test(timeout=20)
        async def test_it(self) -> None:
            self.io_loop.call_later(0.01, self._boom)
            await asyncio.sleep(30)

        def _boom(self) -> None:
            raise KeyError("callback broke")

    start = time.monotonic()
    text = only_error(run_case(Case, "test_it"))
    assert time.monotonic() - start < 10
    assert "KeyError: 'callback broke'" in text
    assert "was stopped because of it" in text


def test_gen_test_does_not_start_after_an_earlier_callback_exception() -> None:
    ran: list[bool] = []

    class Case(AsyncTestCase):
        def setUp(self) -> None:
            super().setUp()
            self.io_loop.add_callback(self._boom)
            self.io_loop.run_sync(lambda: gen.sleep(0.01))

        def _boom(self) -> None:
            raise KeyError("during setUp")

        @gen_test
        async def test_it(self) -> None:
            ran.append(True)

    text = only_error(run_case(Case, "test_it"))
    assert "KeyError: 'during setUp'" in text
    assert "it happened before " in text and "Case.test_it started, which did not run" in text
    assert ran == []


def test_gen_test_rejects_bad_timeouts() -> None:
    with pytest.raises(ValueError, match="positive"):
        gen_test(timeout=0)
    with pytest.raises(TypeError, match="number of seconds"):
        gen_test(timeout="1")  # type: ignore[call-overload]


def test_gen_test_outside_async_test_case_is_a_clear_error() -> None:
    class Plain(unittest.TestCase):
        @gen_test
        async def test_it(self) -> None:
            pass

    text = only_error(run_case(Plain, "test_it"))
    assert "@gen_test needs an AsyncTestCase method" in text


def test_undecorated_coroutine_methods_are_refused() -> None:
    class Case(AsyncTestCase):
        async def test_native(self) -> None:
            pass

        def test_generator(self) -> Generator[Any, Any, None]:
            yield gen.sleep(0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in particular no "never awaited"
        for name in ["test_native", "test_generator"]:
            text = only_error(run_case(Case, name))
            assert "decorate it with @squall.testing.gen_test" in text


# ------------------------------------------------------------------------ ExpectLog


@pytest.fixture
def test_logger() -> logging.Logger:
    return logging.getLogger("squall.tests.expectlog")


def test_expect_log_swallows_matching_records(
    caplog: pytest.LogCaptureFixture, test_logger: logging.Logger
) -> None:
    with ExpectLog(test_logger.name, "expected") as expect:
        test_logger.warning("expected %s", "message")
        test_logger.warning("something else")
        test_logger.warning("not expected first")  # match() is anchored at the start
    assert expect.matched
    assert [r.getMessage() for r in expect.records] == ["expected message"]
    assert [r.getMessage() for r in caplog.records] == [
        "something else",
        "not expected first",
    ]
    test_logger.warning("expected again")  # the filter is gone
    assert caplog.records[-1].getMessage() == "expected again"


def test_expect_log_required_fails_when_nothing_matched(test_logger: logging.Logger) -> None:
    with (
        pytest.raises(AssertionError, match=r"'never' was logged on 'squall.tests.expectlog'"),
        ExpectLog(test_logger, "never"),
    ):
        test_logger.warning("something")


def test_expect_log_not_required(test_logger: logging.Logger) -> None:
    with ExpectLog(test_logger, "never", required=False) as expect:
        pass
    assert not expect.matched


def test_expect_log_lets_the_block_exception_through(test_logger: logging.Logger) -> None:
    with pytest.raises(KeyError), ExpectLog(test_logger, "never"):
        raise KeyError("from the block")


def test_expect_log_level(caplog: pytest.LogCaptureFixture, test_logger: logging.Logger) -> None:
    test_logger.setLevel(logging.WARNING)
    try:
        with ExpectLog(test_logger, "msg", level=logging.DEBUG) as expect:
            assert test_logger.level == logging.DEBUG  # lowered so the record exists
            test_logger.debug("msg at debug")
            test_logger.warning("msg at warning")  # other level: passes through
        assert test_logger.level == logging.WARNING
        assert [r.getMessage() for r in expect.records] == ["msg at debug"]
        assert [r.getMessage() for r in caplog.records] == ["msg at warning"]
    finally:
        test_logger.setLevel(logging.NOTSET)


def test_expect_log_bad_arguments() -> None:
    with pytest.raises(TypeError, match="logger must be"):
        ExpectLog(42, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="level must be"):
        ExpectLog("x", "x", level="WARNING")  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"unterminated|missing"):
        ExpectLog("x", "(")


def test_expect_log_passes_records_with_broken_arguments(test_logger: logging.Logger) -> None:
    expect = ExpectLog(test_logger, ".*")
    record = test_logger.makeRecord(test_logger.name, logging.ERROR, "f", 1, "%d", ("x",), None)
    assert expect.filter(record) is True
    assert not expect.matched


# ----------------------------------------------------------------- bind_unused_port


def test_bind_unused_port() -> None:
    sock, port = bind_unused_port()
    with sock:
        assert sock.getsockname() == ("127.0.0.1", port)
        assert not sock.getblocking()
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        with client:
            sock.setblocking(True)
            sock.settimeout(5)
            conn, _ = sock.accept()
            conn.close()


def test_bind_unused_port_reuse_port() -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        with pytest.raises(ValueError, match="SO_REUSEPORT"):
            bind_unused_port(reuse_port=True)
        return
    first, port = bind_unused_port(reuse_port=True)
    with first:
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with second:
            second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            second.bind(("127.0.0.1", port))


def test_bind_unused_port_ipv6() -> None:
    try:
        sock, port = bind_unused_port(address="::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with sock:
        assert sock.family == socket.AF_INET6
        assert sock.getsockname()[:2] == ("::1", port)


def test_bind_unused_port_bad_address() -> None:
    with pytest.raises(OSError):
        bind_unused_port(address="256.1.1.1")


# ------------------------------------------------------------------------- main()


MAIN_SCRIPT = """
import unittest
import squall.testing

class Tests(unittest.TestCase):
    def test_ok(self):
        pass

    def test_maybe(self):
        self.assertFalse({fail})

class Ignored(unittest.TestCase):
    def test_not_in_all(self):
        raise AssertionError("not selected by all()")

def all():
    return unittest.defaultTestLoader.loadTestsFromTestCase(Tests)

if __name__ == "__main__":
    squall.testing.main()
"""


@pytest.mark.parametrize(("fail", "code", "verdict"), [(False, 0, "PASS"), (True, 1, "FAIL")])
def test_main(tmp_path: Path, fail: bool, code: int, verdict: str) -> None:
    script = tmp_path / "script.py"
    script.write_text(MAIN_SCRIPT.format(fail=fail))
    proc = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == code, proc.stderr
    assert "Ran 2 tests" in proc.stderr
    assert verdict in proc.stderr


# ------------------------------------------------------------- HTTP test cases


def test_http_test_case_without_http_packages_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "squall.httpserver", None)
    monkeypatch.setitem(sys.modules, "squall.httpclient", None)
    loops: list[IOLoop] = []

    class Case(AsyncHTTPTestCase):
        def get_new_ioloop(self) -> IOLoop:
            loops.append(super().get_new_ioloop())
            return loops[-1]

        def get_app(self) -> Any:
            return None

        def test_it(self) -> None:
            raise AssertionError("must not run")

    text = only_error(run_case(Case, "test_it"))
    assert "ImportError: Case needs squall.httpclient from the squall-httpclient package" in text
    assert "pip install squall-http squall-httpclient" in text
    assert loops[0].asyncio_loop.is_closed()  # setUp cleaned up after itself
    assert IOLoop.current(instance=False) is None

    class ServerOnly(Case):
        def get_http_client(self) -> Any:
            return None

    text = only_error(run_case(ServerOnly, "test_it"))
    assert "needs squall.httpserver from the squall-http package" in text


def test_http_test_case_urls() -> None:
    class Case(AsyncHTTPTestCase):
        def runTest(self) -> None:
            pass

    case = Case()
    case._squall_port = 4321
    assert case.get_http_port() == 4321
    assert case.get_url("/a?b=c") == "http://127.0.0.1:4321/a?b=c"
    with pytest.raises(ValueError, match="must start with '/'"):
        case.get_url("a")
    assert case.get_httpserver_options() == {}
    with pytest.raises(NotImplementedError, match="must define get_app"):
        case.get_app()

    class Secure(AsyncHTTPSTestCase):
        def runTest(self) -> None:
            pass

    secure = Secure()
    secure._squall_port = 4321
    assert secure.get_url("/") == "https://127.0.0.1:4321/"
    assert secure.get_httpserver_options() == {"ssl_options": secure.get_ssl_options()}


def test_https_test_case_certificate_loads() -> None:
    options = AsyncHTTPSTestCase.default_ssl_options()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options["certfile"], options["keyfile"])
    client = ssl.create_default_context(cafile=options["certfile"])
    assert client.cert_store_stats()["x509"] == 1


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in modules)


_SERVER_MODULES = ("squall.httpserver", "squall.httputil", "squall.tcpserver")
needs_server = pytest.mark.skipif(
    not _installed(*_SERVER_MODULES),
    reason="squall.httpserver (squall-http, with squall-iostream) not installed",
)
needs_http = pytest.mark.skipif(
    not _installed(*_SERVER_MODULES, "squall.httpclient"),
    reason="squall.httpserver / squall.httpclient (squall-http, squall-httpclient) not installed",
)


class RawClient:
    """Stands in for AsyncHTTPClient: one GET over a fresh connection, raw bytes back."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.context = context
        self.closed = False

    async def fetch(self, url: str, raise_error: bool = False, **kwargs: Any) -> bytes:
        parts = urllib.parse.urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port, ssl=self.context)
        request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        data = await reader.read()
        writer.close()
        await writer.wait_closed()
        return data

    def close(self) -> None:
        self.closed = True


def _hello_app(request: Any) -> None:
    from squall.httputil import HTTPHeaders, ResponseStartLine

    body = f"hello {request.path}".encode()
    headers = HTTPHeaders({"Content-Length": str(len(body))})
    request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), headers, body)
    request.connection.finish()


@needs_server
def test_http_test_case_runs_a_server_on_its_port() -> None:
    clients: list[RawClient] = []

    class Case(AsyncHTTPTestCase):
        def get_app(self) -> Any:
            return _hello_app

        def get_http_client(self) -> Any:
            clients.append(RawClient())
            return clients[-1]

        def test_it(self) -> None:
            raw = self.fetch("/there")
            self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw)
            self.assertTrue(raw.endswith(b"\r\n\r\nhello /there"), raw)
            self.port = self.get_http_port()

    case = Case("test_it")
    result = unittest.TestResult()
    case.run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert clients[0].closed
    with pytest.raises(OSError):  # the server is gone
        socket.create_connection(("127.0.0.1", case.port), timeout=5).close()


@needs_server
def test_https_test_case_serves_the_bundled_certificate() -> None:
    certfile = AsyncHTTPSTestCase.default_ssl_options()["certfile"]

    def blocking_get(port: int, path: str) -> bytes:
        # The standard library's client verifies the certificate, 127.0.0.1 included.
        context = ssl.create_default_context(cafile=certfile)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as plain,
            context.wrap_socket(plain, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while not data.endswith(b"hello " + path.encode()):
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data

    class Case(AsyncHTTPSTestCase):
        def get_app(self) -> Any:
            return _hello_app

        def get_http_client(self) -> Any:
            return RawClient()

        def test_it(self) -> None:
            self.assertTrue(self.get_url("/").startswith("https://127.0.0.1:"))
            port = self.get_http_port()

            def client() -> None:
                try:
                    outcome: object = blocking_get(port, "/secure")
                except Exception as exc:
                    outcome = exc
                self.io_loop.add_callback(self.stop, outcome)

            threading.Thread(target=client).start()
            raw = self.wait(timeout=10)
            self.assertIsInstance(raw, bytes)
            self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw)
            self.assertTrue(raw.endswith(b"\r\n\r\nhello /secure"), raw)

    result = run_case(Case, "test_it")
    assert result.wasSuccessful(), result.errors + result.failures


@needs_http
def test_http_test_case_serves_and_fetches() -> None:
    class Case(AsyncHTTPTestCase):
        def get_app(self) -> Any:
            return _hello_app

        def test_it(self) -> None:
            response = self.fetch("/there")
            self.assertEqual(response.code, 200)
            self.assertEqual(response.body, b"hello /there")
            self.assertEqual(self.fetch(self.get_url("/abs")).body, b"hello /abs")

    result = run_case(Case, "test_it")
    assert result.wasSuccessful(), result.errors + result.failures


@needs_http
def test_https_test_case_serves_and_fetches() -> None:
    class Case(AsyncHTTPSTestCase):
        def get_app(self) -> Any:
            return _hello_app

        def test_it(self) -> None:
            response = self.fetch("/secure")
            self.assertEqual(response.code, 200)
            self.assertEqual(response.body, b"hello /secure")

    result = run_case(Case, "test_it")
    assert result.wasSuccessful(), result.errors + result.failures


# ------------------------------------------------- the plugin, used directly here


async def test_async_test_runs_on_the_io_loop_fixture(io_loop: IOLoop) -> None:
    assert IOLoop.current() is io_loop
    assert asyncio.get_running_loop() is io_loop.asyncio_loop
    await gen.sleep(0.001)


async def test_async_test_gets_a_loop_without_asking() -> None:
    loop = IOLoop.current()
    assert loop.asyncio_loop is asyncio.get_running_loop()


@pytest.mark.gen_test(timeout=10)
def test_marked_generator_test_runs(io_loop: IOLoop) -> Generator[Any, Any, None]:
    value = yield gen.maybe_future(5)
    assert value == 5
    assert IOLoop.current() is io_loop


def test_sync_test_with_io_loop_fixture(io_loop: IOLoop) -> None:
    assert IOLoop.current(instance=False) is io_loop
    assert io_loop.run_sync(lambda: gen.maybe_future(9), timeout=10) == 9


def test_unused_tcp_port_fixture(unused_tcp_port: int) -> None:
    assert 0 < unused_tcp_port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", unused_tcp_port))


# --------------------------------------------------- the plugin, through pytester


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nmarkers =\n    asyncio: left to pytest-asyncio\n")
    return pytester


def run_inner(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    # (hypothesis's plugin, when installed, costs a second per run: keep it out)
    return pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args
    )


def test_plugin_async_tests_run_on_the_fixture_loop(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import asyncio
        import pytest
        from squall import gen
        from squall.ioloop import IOLoop

        seen = []

        async def test_requests_loop(io_loop):
            assert IOLoop.current() is io_loop
            assert asyncio.get_running_loop() is io_loop.asyncio_loop
            await gen.sleep(0.001)
            seen.append(io_loop)

        async def test_gets_one_anyway(request):
            assert "io_loop" in request.fixturenames
            assert asyncio.get_running_loop() is IOLoop.current().asyncio_loop
            seen.append(IOLoop.current())

        @pytest.mark.parametrize("n", [1, 2])
        async def test_parametrized(n, io_loop):
            await asyncio.sleep(0)
            seen.append(io_loop)

        @pytest.mark.gen_test(timeout=5)
        def test_generator(io_loop):
            value = yield gen.maybe_future(4)
            assert value == 4
            seen.append(io_loop)

        class TestInAClass:
            async def test_method(self, io_loop):
                seen.append(io_loop)

        def test_each_test_had_a_fresh_loop_closed_after():
            assert len(seen) == 6
            assert len(set(map(id, seen))) == 6
            assert all(loop.asyncio_loop.is_closed() for loop in seen)
            assert IOLoop.current(instance=False) is None
        """,
    )
    result.assert_outcomes(passed=7)


def test_plugin_failing_async_test_fails(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import asyncio

        async def test_fails():
            await asyncio.sleep(0)
            assert 1 + 1 == 3, "arithmetic"

        async def test_raises():
            raise KeyError("boom")
        """,
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*AssertionError: arithmetic*", "*KeyError: 'boom'*"])


def test_plugin_timeout_fails_with_a_clear_message(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "0.2")
    start = time.monotonic()
    result = run_inner(
        inner,
        """
        import asyncio
        import pytest
        from squall import gen

        @pytest.mark.gen_test(timeout=0.1)
        async def test_marker_timeout():
            await asyncio.sleep(30)  # stuck here

        async def test_env_timeout():
            await asyncio.sleep(30)

        @pytest.mark.gen_test(timeout=0.1)
        def test_generator_timeout():
            yield gen.sleep(30)  # generator stuck here
        """,
    )
    assert time.monotonic() - start < 20
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*TimeoutError: test_inner.py::test_marker_timeout timed out after 0.1 seconds.*",
            "*await asyncio.sleep(30)  # stuck here*",
        ]
    )
    result.stdout.fnmatch_lines(["*test_env_timeout timed out after 0.2 seconds*"])
    result.stdout.fnmatch_lines(["*yield gen.sleep(30)  # generator stuck here*"])


def test_plugin_bad_marker_timeout(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import pytest

        @pytest.mark.gen_test(timeout=-1)
        async def test_it():
            pass
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the gen_test marker's timeout must be a positive number*"])


def test_plugin_header_shows_the_poller(inner: pytest.Pytester) -> None:
    loop = IOLoop(make_current=False)
    try:
        expected = loop.poller
    finally:
        loop.close()
    result = run_inner(inner, "def test_nothing():\n    pass\n")
    result.stdout.fnmatch_lines([f"squall poller: {expected}"])
    if os.environ.get("SQUALL_POLLER"):
        assert expected == os.environ["SQUALL_POLLER"]


def test_plugin_header_with_a_broken_poller_configuration(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQUALL_POLLER", "no-such-poller")
    result = run_inner(inner, "def test_nothing():\n    pass\n")
    result.stdout.fnmatch_lines(["squall poller: unavailable (*no-such-poller*)"])
    result.assert_outcomes(passed=1)


def test_plugin_callback_exception_fails_the_test(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import asyncio
        from squall.testing import ExpectLog

        def boom():
            raise LookupError("callback broke")

        async def test_async(io_loop):
            io_loop.add_callback(boom)
            await asyncio.sleep(30)

        def test_sync(io_loop):
            io_loop.run_sync(lambda: io_loop.add_callback(boom))

        async def test_expected(io_loop):
            with ExpectLog("squall.application", "Exception in callback"):
                io_loop.add_callback(boom)
                await asyncio.sleep(0.01)

        async def test_both(io_loop):
            io_loop.add_callback(boom)
            await asyncio.sleep(0)
            raise KeyError("the test's own")
        """,
        "--timeout=30",
    )
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        ["*test_async was stopped because of it*", "*await asyncio.sleep(30)*"]
    )
    result.stdout.fnmatch_lines(["*test_sync*", "*LookupError: callback broke*"])
    result.stdout.fnmatch_lines(
        ['*KeyError: "the test\'s own"*', "*An IOLoop callback also failed*"]
    )
    assert "ERROR at teardown" not in result.stdout.str()


def test_plugin_teardown_reports_tasks_failing_on_cancel(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import asyncio

        async def test_it(io_loop):
            async def bad_cleanup():
                try:
                    await asyncio.sleep(30)
                finally:
                    raise KeyError("cleanup broke")

            asyncio.ensure_future(bad_cleanup())
            await asyncio.sleep(0)
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_it*", "*reported when the io_loop fixture was torn down*"]
    )


def test_plugin_leaves_asyncio_marked_tests_alone(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import pytest

        @pytest.mark.asyncio
        async def test_for_pytest_asyncio(request):
            pass

        def test_no_loop_given(request):
            assert "io_loop" not in request.fixturenames
        """,
    )
    # Without pytest-asyncio installed pytest itself refuses the coroutine.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


def test_plugin_unmarked_generator_tests_are_still_refused(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        def test_generator():
            yield 1
        """,
    )
    result.stdout.fnmatch_lines(["*'yield' keyword is allowed in fixtures, but not in tests*"])


def test_plugin_module_level_gen_test_marker(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import pytest
        from squall import gen

        pytestmark = pytest.mark.gen_test(timeout=5)

        def test_generator():
            yield gen.sleep(0.001)

        @gen.coroutine
        def test_decorated():
            yield gen.sleep(0.001)

        def test_plain_function_is_left_alone(io_loop):
            assert io_loop.run_sync(lambda: gen.maybe_future(1)) == 1
        """,
    )
    result.assert_outcomes(passed=3)


def test_plugin_unittest_cases_are_not_touched(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        from squall.testing import AsyncTestCase, gen_test

        class TestCase(AsyncTestCase):
            @gen_test
            async def test_native(self):
                pass

            def test_wait(self):
                self.io_loop.add_callback(self.stop, 1)
                assert self.wait() == 1
        """,
    )
    result.assert_outcomes(passed=2)


def test_plugin_io_loop_fixture_restores_the_previous_loop(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import pytest
        from squall.ioloop import IOLoop

        @pytest.fixture
        def outer():
            loop = IOLoop(make_current=True)
            yield loop
            assert IOLoop.current(instance=False) is loop
            loop.close()

        def test_it(outer, io_loop):
            assert IOLoop.current(instance=False) is io_loop

        async def test_closing_the_loop_itself_is_fine(io_loop):
            io_loop.add_callback(io_loop.close)
        """,
    )
    result.assert_outcomes(passed=2)


def test_plugin_unused_tcp_port(inner: pytest.Pytester) -> None:
    result = run_inner(
        inner,
        """
        import socket

        def test_it(unused_tcp_port):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", unused_tcp_port))
        """,
    )
    result.assert_outcomes(passed=1)


async def test_handled_exception_logged_otherwise_does_not_fail_the_test(io_loop: IOLoop) -> None:
    # A stack context takes the exception and logs an unrelated ERROR line
    # (as a web server logs "500 GET /"): the exception was handled, so the
    # plugin must not fail this test.
    import asyncio
    import logging

    from squall.stack_context import ExceptionStackContext

    handled: list[BaseException | None] = []

    def handler(typ: object, value: BaseException | None, tb: object) -> bool:
        handled.append(value)
        logging.getLogger("squall.access").error("500 GET /late (127.0.0.1) 1.00ms")
        return True

    def fail() -> None:
        raise RuntimeError("handled by the stack context")

    with ExceptionStackContext(handler):
        io_loop.add_callback(fail)
    await asyncio.sleep(0.02)
    assert isinstance(handled[0], RuntimeError)


# ------------------------------------------------------ count_open_fds, wait_until

needs_proc_fd = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")


@needs_proc_fd
def test_count_open_fds_counts_sockets_and_pipes() -> None:
    sockets_and_pipes, every_fd = count_open_fds(), count_open_fds(None)
    read_end, write_end = os.pipe()
    sock = socket.socket()
    try:
        assert count_open_fds() == sockets_and_pipes + 3
        assert count_open_fds(None) == every_fd + 3
        assert count_open_fds(["pipe:"]) >= 2
    finally:
        os.close(read_end)
        os.close(write_end)
        sock.close()
    assert count_open_fds() == sockets_and_pipes
    # A regular file is not a socket or a pipe.
    with open(__file__, "rb"):
        assert count_open_fds() == sockets_and_pipes
        assert count_open_fds(None) == every_fd + 1


def test_count_open_fds_without_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    from squall.testing import _leaks

    monkeypatch.setattr(_leaks, "_PROC_FDS", "/nonexistent/fd")
    with pytest.raises(NotImplementedError, match="/nonexistent/fd"):
        count_open_fds()


async def test_wait_until_returns_once_true() -> None:
    loop = asyncio.get_running_loop()
    flag: list[bool] = []
    loop.call_later(0.02, flag.append, True)
    start = loop.time()
    await wait_until(lambda: flag, timeout=2)
    assert flag and loop.time() - start < 1.5


async def test_wait_until_raises_after_timeout() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(AssertionError, match="still false after 0.05 s"):
        await wait_until(lambda: False, timeout=0.05)
    assert 0.04 <= loop.time() - start < 1.0
