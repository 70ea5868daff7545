"""The four asynchronous handler styles, side by side on the same endpoints.

1. ``@web.asynchronous`` with callbacks and ``self.finish()``;
2. ``@web.asynchronous`` on ``@gen.engine`` with ``yield gen.Task(...)``;
3. ``@gen.coroutine``;
4. ``async def``.

Each style serves the same actions: succeed, fail synchronously, fail
after the method returned (in a callback, an engine step, a coroutine),
raise HTTPError / Finish / a missing argument late, and survive a client
that goes away mid-request. Every action gets the same status in every
style, through the fake connection and over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from squall import gen, web
from squall.ioloop import IOLoop
from squall.locks import Event
from squall.testing import ExpectLog

DELAY = 0.005
STYLES = ["callback", "engine", "coroutine", "native"]


def delayed(value: Any, callback: Callable[[Any], None]) -> None:
    """A Tornado 4 callback-style function: calls back with ``value`` soon."""
    IOLoop.current().add_timeout(
        IOLoop.current().time() + DELAY, functools.partial(callback, value)
    )


class StyleBase(web.RequestHandler):
    style = ""
    closes: list[str] = []

    def initialize(self, action: str) -> None:
        self.action = action

    def act(self, value: str = "") -> None:
        """What the handler does once its asynchronous step is over."""
        action = self.action
        if action == "ok":
            self.write(f"ok:{self.style}{value}")
        elif action == "fail-later":
            raise ZeroDivisionError(f"late failure in {self.style}")
        elif action == "http-error-later":
            raise web.HTTPError(418, "late teapot")
        elif action == "missing-later":
            self.get_argument("absent")
        elif action == "finish-later":
            raise web.Finish("finished early")

    def check_now(self) -> None:
        if self.action == "fail-now":
            raise ZeroDivisionError(f"immediate failure in {self.style}")

    def on_connection_close(self) -> None:
        StyleBase.closes.append(self.style)


class CallbackStyle(StyleBase):
    style = "callback"

    @web.asynchronous
    def get(self) -> None:
        self.check_now()
        if self.action == "disconnect":
            return  # on_connection_close finishes
        io_loop = IOLoop.current()
        io_loop.add_timeout(io_loop.time() + DELAY, self.on_timer)

    def on_timer(self) -> None:
        self.act()
        self.finish()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        # The work still pending after the client left is not an error.
        IOLoop.current().add_callback(self.on_timer_after_close)

    def on_timer_after_close(self) -> None:
        self.write("late")
        self.finish()


class EngineStyle(StyleBase):
    style = "engine"

    @web.asynchronous
    @gen.engine
    def get(self) -> Any:
        self.check_now()
        if self.action == "disconnect":
            yield gen.Task(self.wait_for_close)
            self.write("late")
            self.finish()
            return
        value = yield gen.Task(delayed, ":task")
        self.act(value)
        self.finish()

    def wait_for_close(self, callback: Callable[[], None]) -> None:
        self._closed_callback = callback

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self._closed_callback()


class CoroutineStyle(StyleBase):
    style = "coroutine"

    def initialize(self, action: str) -> None:
        super().initialize(action)
        self.closed = Event()

    @gen.coroutine
    def get(self) -> Any:
        self.check_now()
        if self.action == "disconnect":
            yield self.closed.wait()
            self.write("late")
            return
        yield gen.sleep(DELAY)
        self.act()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self.closed.set()


class NativeStyle(StyleBase):
    style = "native"

    def initialize(self, action: str) -> None:
        super().initialize(action)
        self.closed = Event()

    async def get(self) -> None:
        self.check_now()
        if self.action == "disconnect":
            await self.closed.wait()
            self.write("late")
            return
        await asyncio.sleep(DELAY)
        self.act()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self.closed.set()


HANDLERS: dict[str, type[StyleBase]] = {
    "callback": CallbackStyle,
    "engine": EngineStyle,
    "coroutine": CoroutineStyle,
    "native": NativeStyle,
}

ACTIONS = [
    "ok",
    "fail-now",
    "fail-later",
    "http-error-later",
    "missing-later",
    "finish-later",
    "disconnect",
]


def make_app(**settings: Any) -> web.Application:
    routes = []
    for style, handler in HANDLERS.items():
        for action in ACTIONS:
            routes.append((f"/{style}/{action}", handler, {"action": action}))
    return web.Application(routes, **settings)


# Expected status, body and log line for each action, the same in every style.
EXPECTED: dict[str, tuple[int, bytes | None, tuple[str, str] | None]] = {
    "ok": (200, None, None),
    "fail-now": (500, b"500: Internal Server Error", ("squall.application", "Uncaught exception")),
    "fail-later": (
        500,
        b"500: Internal Server Error",
        ("squall.application", "Uncaught exception"),
    ),
    "http-error-later": (
        418,
        b"418: I&#x27;m a Teapot",
        ("squall.general", "418 GET .*late teapot"),
    ),
    "missing-later": (
        400,
        b"400: Bad Request",
        ("squall.general", "400 GET .*Missing argument absent"),
    ),
    "finish-later": (200, b"finished early", None),
}


@contextlib.contextmanager
def expect_logs(log: tuple[str, str] | None) -> Iterator[None]:
    """Expect ``log``; and hide the ERROR access line of a 500.

    (The access line of a 5xx is an ERROR record: the test plugin would
    take it for an unhandled callback exception.)
    """
    with ExpectLog("squall.access", r"5\d\d ", required=False):
        if log is None:
            yield
        else:
            with ExpectLog(*log):
                yield


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("style", STYLES)
async def test_status_matrix_fake_connection(fake_client: Any, style: str, action: str) -> None:
    code, body, log = EXPECTED[action]
    with expect_logs(log):
        response = await fake_client(make_app()).fetch(f"/{style}/{action}")
    assert response.code == code
    if body is None:
        expected = f"ok:{style}" + (":task" if style == "engine" else "")
        assert response.text == expected
    else:
        assert body in response.body
    assert response.connection.finished


@pytest.mark.parametrize("style", STYLES)
async def test_late_failure_reaches_write_error(fake_client: Any, style: str) -> None:
    class Custom(HANDLERS[style]):  # type: ignore[valid-type,misc]
        def write_error(self, status_code: int, **kwargs: Any) -> None:
            exc = kwargs["exc_info"][1]
            self.finish(f"custom {status_code} {type(exc).__name__}: {exc}")

    app = web.Application([(r"/", Custom, {"action": "fail-later"})])
    with expect_logs(("squall.application", "Uncaught exception")):
        response = await fake_client(app).fetch("/")
    assert response.code == 500
    assert response.text == f"custom 500 ZeroDivisionError: late failure in {style}"


@pytest.mark.parametrize("style", STYLES)
async def test_traceback_of_late_failure(fake_client: Any, style: str) -> None:
    app = make_app(serve_traceback=True)
    with expect_logs(("squall.application", "Uncaught exception")):
        response = await fake_client(app).fetch(f"/{style}/fail-later")
    assert response.code == 500
    assert f"ZeroDivisionError: late failure in {style}" in response.text


@pytest.mark.parametrize("style", STYLES)
async def test_client_disconnect_fake(fake_client: Any, style: str, caplog: Any) -> None:
    StyleBase.closes.clear()
    client = fake_client(make_app())
    connection, delegate, result = client.start("GET", f"/{style}/disconnect", None, "HTTP/1.1")
    assert result is None
    delegate.finish()
    await asyncio.sleep(DELAY * 2)
    assert not connection.finished  # the handler is waiting
    with caplog.at_level(logging.DEBUG):
        connection.client_disconnects()
        await asyncio.wait_for(asyncio.shield(connection.done), 5)
    assert StyleBase.closes == [style]
    assert b"".join(connection.chunks) == b"late"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


@pytest.mark.parametrize("action", ["ok", "fail-later", "http-error-later", "missing-later"])
@pytest.mark.parametrize("style", STYLES)
async def test_status_matrix_over_sockets(
    serve: Any, raw_client: Any, style: str, action: str
) -> None:
    code, body, log = EXPECTED[action]
    port = serve(make_app())
    client = await raw_client(port)
    with expect_logs(log):
        response = await client.request("GET", f"/{style}/{action}")
    assert response.code == code
    if body is not None:
        assert body in response.body
    # The connection is still usable afterwards (keep-alive).
    again = await client.request("GET", f"/{style}/ok")
    assert again.code == 200


@pytest.mark.parametrize("style", STYLES)
async def test_client_disconnect_over_sockets(
    serve: Any, raw_client: Any, style: str, caplog: Any
) -> None:
    StyleBase.closes.clear()
    port = serve(make_app())
    client = await raw_client(port)
    with caplog.at_level(logging.DEBUG):
        await client.send(f"GET /{style}/disconnect HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await asyncio.sleep(0.05)
        client.writer.transport.abort()
        for _ in range(200):
            if StyleBase.closes:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    assert StyleBase.closes == [style]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    # The server is fine.
    other = await raw_client(port)
    assert (await other.request("GET", f"/{style}/ok")).code == 200


async def test_asynchronous_on_coroutine_finishes_automatically(fake_client: Any) -> None:
    class Both(web.RequestHandler):
        @web.asynchronous
        @gen.coroutine
        def get(self) -> Any:
            yield gen.sleep(DELAY)
            self.write("both")

    response = await fake_client(web.Application([(r"/", Both)])).fetch("/")
    assert response.text == "both"


async def test_asynchronous_on_failing_coroutine(fake_client: Any) -> None:
    class Both(web.RequestHandler):
        @web.asynchronous
        @gen.coroutine
        def get(self) -> Any:
            yield gen.sleep(DELAY)
            raise KeyError("late")

    with expect_logs(("squall.application", "Uncaught exception")):
        response = await fake_client(web.Application([(r"/", Both)])).fetch("/")
    assert response.code == 500


async def test_callback_error_after_finish_is_only_logged(fake_client: Any) -> None:
    class FinishThenFail(web.RequestHandler):
        @web.asynchronous
        def get(self) -> None:
            self.finish("done")
            IOLoop.current().add_callback(self.fail)

        def fail(self) -> None:
            raise ValueError("after the response")

    with ExpectLog("squall.application", "Uncaught exception"):
        response = await fake_client(web.Application([(r"/", FinishThenFail)])).fetch("/")
        await asyncio.sleep(DELAY)
    assert (response.code, response.text) == (200, "done")


async def test_async_prepare(fake_client: Any) -> None:
    events = []

    class Prep(web.RequestHandler):
        async def prepare(self) -> None:
            await asyncio.sleep(DELAY)
            events.append("prepare")
            self.current_user = "alice"

        def get(self) -> None:
            events.append("get")
            self.write(f"hello {self.current_user}")

    class PrepFails(web.RequestHandler):
        @gen.coroutine
        def prepare(self) -> Any:
            yield gen.sleep(DELAY)
            raise web.HTTPError(403)

        def get(self) -> None:
            events.append("not reached")

    client = fake_client(web.Application([(r"/", Prep), (r"/no", PrepFails)]))
    response = await client.fetch("/")
    assert response.text == "hello alice"
    assert events == ["prepare", "get"]
    assert (await client.fetch("/no")).code == 403
    assert events == ["prepare", "get"]


async def test_coroutine_returning_value_is_an_error(fake_client: Any) -> None:
    class Returns(web.RequestHandler):
        def get(self) -> Any:
            return "not awaitable"

    with ExpectLog("squall.application", "Uncaught exception"):
        response = await fake_client(web.Application([(r"/", Returns)])).fetch("/")
    assert response.code == 500


async def test_sync_handler_creates_no_task(fake_client: Any) -> None:
    created = []

    class Sync(web.RequestHandler):
        def get(self) -> None:
            created.append(self._task)
            self.write("sync")

        def on_finish(self) -> None:
            created.append(self._task)

    response = await fake_client(web.Application([(r"/", Sync)])).fetch("/")
    assert response.text == "sync"
    assert created == [None, None]


async def test_cancelled_coroutine_answers_503(fake_client: Any) -> None:
    class Cancelled(web.RequestHandler):
        async def get(self) -> None:
            assert self._task is not None
            self._task.cancel()
            await asyncio.sleep(1)

    with ExpectLog("squall.general", "Request cancelled"):
        response = await fake_client(web.Application([(r"/", Cancelled)])).fetch("/")
    assert response.code == 503


# -- the seed's examples with the real HTTP client ---------------------------------


class Backend(web.RequestHandler):
    def get(self) -> None:
        self.write("backend says " + self.get_argument("q", "hi"))


async def test_seed_examples_with_async_http_client(serve: Any, raw_client: Any) -> None:
    httpclient = pytest.importorskip("squall.httpclient")
    urls: dict[str, str] = {}

    class SeedCallback(web.RequestHandler):
        @web.asynchronous
        def get(self) -> None:
            httpclient.AsyncHTTPClient().fetch(urls["backend"], callback=self.on_response)

        def on_response(self, response: Any) -> None:
            self.write("callback: " + response.body.decode())
            self.finish()

    class SeedEngine(web.RequestHandler):
        @web.asynchronous
        @gen.engine
        def get(self) -> Any:
            client = httpclient.AsyncHTTPClient()
            response = yield gen.Task(client.fetch, urls["backend"] + "?q=engine")
            self.write("engine: " + response.body.decode())
            self.finish()

    app = web.Application(
        [(r"/backend", Backend), (r"/callback", SeedCallback), (r"/engine", SeedEngine)]
    )
    port = serve(app)
    urls["backend"] = f"http://127.0.0.1:{port}/backend"
    client = await raw_client(port)
    response = await client.request("GET", "/callback")
    assert (response.code, response.text) == (200, "callback: backend says hi")
    response = await client.request("GET", "/engine")
    assert (response.code, response.text) == (200, "engine: backend says engine")
