"""WSGIContainer over real sockets on 127.0.0.1: HTTPServer directly and FallbackHandler."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from squall.concurrent import dummy_executor
from squall.httputil import HTTPHeaders, HTTPServerRequest
from squall.ioloop import IOLoop
from squall.iostream import StreamClosedError
from squall.testing import ExpectLog, wait_until
from squall.web import Application, FallbackHandler, RequestHandler, WebError
from squall.wsgi import WSGIApplicationError, WSGIContainer
from web_wire import Server, parse_response

pytestmark = pytest.mark.network

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]
WAIT = 10.0


def serve_direct(app: Any, **kwargs: Any) -> Server:
    return Server(WSGIContainer(app, **kwargs))


def serve_fallback(app: Any, **kwargs: Any) -> Server:
    class Native(RequestHandler):
        def get(self) -> None:
            self.write("native")

    return Server(
        Application(
            [
                (r"/native", Native),
                (r".*", FallbackHandler, {"fallback": WSGIContainer(app, **kwargs)}),
            ]
        )
    )


@pytest.fixture(params=["direct", "fallback"])
def serve(request: pytest.FixtureRequest, io_loop: IOLoop) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []
    how = serve_direct if request.param == "direct" else serve_fallback

    def start(app: Any, **kwargs: Any) -> Server:
        server = how(app, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        io_loop.run_sync(server.close, timeout=WAIT)


# -- WSGI applications -----------------------------------------------------------------

_ENVIRON_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "wsgi.url_scheme",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
    "wsgi.input_terminated",
)


def environ_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    info = {key: environ.get(key) for key in _ENVIRON_KEYS}
    info["http"] = {key: value for key, value in environ.items() if key.startswith("HTTP_")}
    info["version"] = list(environ["wsgi.version"])
    info["body"] = environ["wsgi.input"].read().decode("latin-1")
    info["errors_writable"] = callable(getattr(environ["wsgi.errors"], "write", None))
    info["thread"] = threading.get_ident()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(info).encode()]


def hello_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, ", b"WSGI"]


# -- environ ---------------------------------------------------------------------------


async def test_environ(serve: Callable[..., Server]) -> None:
    s = serve(environ_app)
    response = await s.fetch(
        "/caf%C3%A9/a%2Fb?x=1&y=%20z",
        Host="example.com:8080",
        X_Custom="one",
        Accept="text/html",
    )
    assert response.code == 200
    info = response.json()
    assert info["REQUEST_METHOD"] == "GET"
    assert info["SCRIPT_NAME"] == ""
    # Percent-decoded, bytes mapped to Latin-1 code points (PEP 3333).
    assert info["PATH_INFO"] == "/caf\u00c3\u00a9/a/b"
    assert info["PATH_INFO"].encode("latin-1").decode("utf-8") == "/caf\u00e9/a/b"
    assert info["QUERY_STRING"] == "x=1&y=%20z"
    assert info["SERVER_NAME"] == "example.com"
    assert info["SERVER_PORT"] == "8080"
    assert info["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert info["REMOTE_ADDR"] == "127.0.0.1"
    assert info["wsgi.url_scheme"] == "http"
    assert info["version"] == [1, 0]
    assert info["wsgi.multithread"] is True
    assert info["wsgi.multiprocess"] is True
    assert info["wsgi.run_once"] is False
    assert info["wsgi.input_terminated"] is True
    assert info["errors_writable"] is True
    assert info["CONTENT_TYPE"] is None
    assert info["CONTENT_LENGTH"] is None
    assert info["http"]["HTTP_X_CUSTOM"] == "one"
    assert info["http"]["HTTP_ACCEPT"] == "text/html"
    assert info["http"]["HTTP_HOST"] == "example.com:8080"
    assert info["body"] == ""


async def test_environ_default_port_and_ipv6_host(serve: Callable[..., Server]) -> None:
    s = serve(environ_app)
    info = (await s.fetch("/", Host="example.com")).json()
    assert (info["SERVER_NAME"], info["SERVER_PORT"]) == ("example.com", "80")
    info = (await s.fetch("/", Host="[::1]:8443")).json()
    assert (info["SERVER_NAME"], info["SERVER_PORT"]) == ("[::1]", "8443")


async def test_environ_post_body_and_content_headers(serve: Callable[..., Server]) -> None:
    s = serve(environ_app)
    body = b"a=1&b=\xe9"
    response = await s.fetch(
        "/form", method="POST", body=body, Content_Type="application/x-www-form-urlencoded"
    )
    info = response.json()
    assert info["REQUEST_METHOD"] == "POST"
    assert info["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert info["CONTENT_LENGTH"] == str(len(body))
    assert info["body"] == body.decode("latin-1")
    assert "HTTP_CONTENT_TYPE" not in info["http"]
    assert "HTTP_CONTENT_LENGTH" not in info["http"]


async def test_environ_repeated_headers_and_underscores(serve: Callable[..., Server]) -> None:
    s = serve(environ_app)
    data = await s.raw(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"X-Multi: a\r\nX-Multi: b\r\nCookie: c=1\r\nCookie: d=2\r\n"
        b"X-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n"
    )
    http = parse_response(data).json()["http"]
    assert http["HTTP_X_MULTI"] == "a,b"
    assert http["HTTP_COOKIE"] == "c=1; d=2"
    # The underscore spelling is dropped, never mixed up with the real header.
    assert http["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"


async def test_http_1_0_request(serve: Callable[..., Server]) -> None:
    s = serve(streaming_app([b"one", b"two"]))
    data = await s.raw(b"GET / HTTP/1.0\r\n\r\n")
    response = parse_response(data)
    assert response.code == 200
    assert response.body == b"onetwo"  # delimited by the connection's end
    info = (await s.fetch("/", version="HTTP/1.0")).body
    assert info == b"onetwo"


# -- executors ---------------------------------------------------------------------------


async def test_runs_in_a_thread_by_default(serve: Callable[..., Server]) -> None:
    s = serve(environ_app)
    assert (await s.fetch("/")).json()["thread"] != threading.get_ident()


async def test_dummy_executor_runs_inline(serve: Callable[..., Server]) -> None:
    s = serve(environ_app, executor=dummy_executor)
    info = (await s.fetch("/")).json()
    assert info["thread"] == threading.get_ident()
    assert info["wsgi.multithread"] is False


async def test_custom_executor(serve: Callable[..., Server]) -> None:
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wsgi-test") as pool:
        names: list[str] = []

        def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
            names.append(threading.current_thread().name)
            start_response("200 OK", [])
            return [b"ok"]

        s = serve(app, executor=pool)
        assert (await s.fetch("/")).body == b"ok"
        assert names and all(name.startswith("wsgi-test") for name in names)


async def test_blocking_app_does_not_block_the_loop(io_loop: IOLoop) -> None:
    release = threading.Event()

    def slow_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] == "/slow":
            released = release.wait(WAIT)
            start_response("200 OK", [])
            return [b"released" if released else b"timed out"]
        start_response("200 OK", [])
        return [b"fast"]

    s = serve_fallback(slow_app)
    try:
        slow = asyncio.ensure_future(s.fetch("/slow"))
        # While the slow request blocks its thread, the loop answers others:
        # native handlers and other WSGI requests.
        assert (await s.fetch("/native")).body == b"native"
        assert (await s.fetch("/fast")).body == b"fast"
        assert not slow.done()
        release.set()
        assert (await asyncio.wait_for(slow, WAIT)).body == b"released"
    finally:
        release.set()
        await s.close()


async def test_concurrent_requests_run_in_parallel(serve: Callable[..., Server]) -> None:
    barrier = threading.Barrier(2)

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        barrier.wait(WAIT)  # only passes when both requests are in the app at once
        start_response("200 OK", [])
        return [b"together"]

    s = serve(app)
    first, second = await asyncio.gather(s.fetch("/1"), s.fetch("/2"))
    assert first.body == second.body == b"together"


# -- responses -------------------------------------------------------------------------------


async def test_list_body_gets_content_length(serve: Callable[..., Server]) -> None:
    s = serve(hello_app)
    response = await s.fetch("/")
    assert response.code == 200
    assert response.body == b"Hello, WSGI"
    assert response.headers["Content-Length"] == "11"
    assert "Transfer-Encoding" not in response.headers
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["Server"].startswith("SquallServer/")


async def test_status_reason_and_headers_pass_through(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(
            "418 Short And Stout",
            [("X-One", "1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Server", "mine")],
        )
        return [b"teapot"]

    s = serve(app)
    response = await s.fetch("/")
    assert (response.code, response.reason) == (418, "Short And Stout")
    assert response.headers["X-One"] == "1"
    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Server"] == "mine"
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"  # the default


async def test_status_without_reason(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("404", [])
        return [b"gone"]

    response = await serve(app).fetch("/")
    assert (response.code, response.reason) == (404, "Not Found")


async def test_hop_by_hop_headers_are_dropped(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(
            "200 OK",
            [("Transfer-Encoding", "chunked"), ("Connection", "keep-alive"), ("Keep-Alive", "5")],
        )
        return [b"plain body"]

    response = await serve(app).fetch("/")
    assert response.body == b"plain body"
    assert "Transfer-Encoding" not in response.headers
    assert "Keep-Alive" not in response.headers


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
async def test_bodiless_statuses(serve: Callable[..., Server], status: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(status, [("Content-Length", "0"), ("ETag", '"x"')])
        return []

    s = serve(app)
    data = await s.raw(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    code = int(status[:3])
    assert data.count(b"HTTP/1.1 %d" % code) == 2
    first = parse_response(data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
    assert "Content-Length" not in first.headers
    assert first.headers["ETag"] == '"x"'


async def test_head_request(serve: Callable[..., Server]) -> None:
    s = serve(streaming_app([b"12345", b"678"]))
    data = await s.raw(
        b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, rest = data.partition(b"\r\n\r\n")
    response = parse_response(head + b"\r\n\r\n")
    assert response.code == 200
    assert response.headers["Content-Length"] == "8"
    second = parse_response(rest)
    assert second.body == b"12345678"


# -- streaming --------------------------------------------------------------------------------


def streaming_app(chunks: list[bytes]) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield from chunks

    return app


class GatedBody:
    """A body iterable that yields a chunk each time the test opens the gate."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.gate = threading.Semaphore(0)
        self.produced = 0
        self.closed = threading.Event()
        self.threads: set[int] = set()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.threads.add(threading.get_ident())
        if self.produced >= self.count:
            raise StopIteration
        if not self.gate.acquire(timeout=WAIT):
            raise RuntimeError("the test never opened the gate")
        self.produced += 1
        return b"chunk%d;" % self.produced

    def close(self) -> None:
        self.closed.set()


async def test_streaming_response_is_sent_as_it_comes(serve: Callable[..., Server]) -> None:
    body = GatedBody(3)

    def app(environ: Environ, start_response: StartResponse) -> GatedBody:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    s = serve(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body.gate.release()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert b"Transfer-Encoding: chunked" in head
        # The first chunk arrives while the second does not exist yet.
        assert await asyncio.wait_for(reader.readuntil(b"chunk1;\r\n"), WAIT)
        assert body.produced == 1
        body.gate.release()
        assert await asyncio.wait_for(reader.readuntil(b"chunk2;\r\n"), WAIT)
        body.gate.release()
        rest = await asyncio.wait_for(reader.read(), WAIT)
        assert rest == b"7\r\nchunk3;\r\n0\r\n\r\n"
        await wait_until(body.closed.is_set, timeout=WAIT)
        assert threading.get_ident() not in body.threads
    finally:
        writer.close()


async def test_close_called_on_client_disconnect(serve: Callable[..., Server]) -> None:
    body = GatedBody(1000)

    def app(environ: Environ, start_response: StartResponse) -> GatedBody:
        start_response("200 OK", [])
        return body

    s = serve(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    body.gate.release()
    await asyncio.wait_for(reader.readuntil(b"chunk1;\r\n"), WAIT)
    writer.transport.abort()
    await asyncio.sleep(0.05)
    for _ in range(1000):
        body.gate.release()  # let the body go on until the server notices
    await wait_until(body.closed.is_set, timeout=WAIT)
    assert body.produced < 1000
    # The server is fine.
    assert (await s.fetch("/")).code == 200


async def test_endless_inline_body_stops_when_client_leaves(serve: Callable[..., Server]) -> None:
    closed = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            while True:
                yield b"x" * 4096
        finally:
            closed.set()

    s = serve(app, executor=dummy_executor)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readexactly(100_000), WAIT)
    writer.transport.abort()
    await wait_until(closed.is_set, timeout=WAIT)


class LossyConnection:
    """Takes every write at once (a transport with room), then loses the peer.

    Like a real transport, the loss is noticed one loop iteration later, and
    writes in between are accepted and dropped.
    """

    def __init__(self, lose_after: int) -> None:
        self.lose_after = lose_after
        self.writes = 0
        self.lost = False
        self.stream = self

    def closed(self) -> bool:
        return self.lost

    def _write(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self.lost:
            future.set_exception(StreamClosedError())
            return future
        self.writes += 1
        if self.writes == self.lose_after:
            loop.call_soon(setattr, self, "lost", True)
        future.set_result(None)
        return future

    def write_headers(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        return self._write()

    def write(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        return self._write()

    def finish(self) -> None:
        pass

    def close(self) -> None:
        self.lost = True


async def test_inline_body_notices_a_lost_connection(io_loop: IOLoop) -> None:
    produced = [0]

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        while produced[0] < 100_000:  # bounded, so a failure cannot hang the test
            produced[0] += 1
            yield b"x"

    connection: Any = LossyConnection(lose_after=3)
    request = HTTPServerRequest(
        "GET", "/", "HTTP/1.1", HTTPHeaders({"Host": "x"}), connection=connection
    )
    await WSGIContainer(app, executor=dummy_executor).handle_request(request)
    assert produced[0] < 10


async def test_endless_body_to_a_stalled_client_is_bounded(io_loop: IOLoop) -> None:
    produced = [0]
    stop = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        chunk = b"z" * 65536
        while not stop.is_set():
            produced[0] += 1
            yield chunk

    s = serve_direct(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    try:
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        transport: Any = writer.transport
        transport.pause_reading()
        previous = -1
        for _ in range(100):
            await asyncio.sleep(0.05)
            if produced[0] == previous:
                break
            previous = produced[0]
        # Flow control: the app is not asked for more than the buffers hold.
        assert produced[0] * 65536 < 64 * 1024 * 1024
    finally:
        stop.set()
        writer.transport.abort()
        await s.close()


async def test_write_callable(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"then ")
        return [b"returned"]

    for executor in (None, dummy_executor):
        s = serve(app, executor=executor)
        response = await s.fetch("/")
        assert response.code == 200
        assert response.body == b"written then returned"


async def test_write_callable_with_generator_inline(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [])
        write(b"a")
        yield b"b"
        write(b"c")
        yield b"d"

    s = serve(app, executor=dummy_executor)
    assert (await s.fetch("/")).body == b"abcd"


# -- exc_info ---------------------------------------------------------------------------------


async def test_start_response_with_exc_info_before_body(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("oops")
        except ValueError:
            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"custom error page"]

    response = await serve(app).fetch("/")
    assert (response.code, response.reason) == (500, "Oops")
    assert response.body == b"custom error page"


async def test_start_response_with_exc_info_after_body(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        try:
            raise ValueError("late failure")
        except ValueError:
            # Headers are out: start_response re-raises, per PEP 3333.
            start_response("500 Oops", [], sys.exc_info())
        yield b"never"

    s = serve(app)
    with ExpectLog("squall.application", "Uncaught exception in WSGI application"):
        data = await s.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # closed though keep-alive
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"7\r\npartial\r\n")  # a chunked body cut short: truncated


# -- application errors ---------------------------------------------------------------------------


def _raising_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    raise RuntimeError("broken app")


def _none_app(environ: Environ, start_response: StartResponse) -> None:
    start_response("200 OK", [])


def _no_start_response(environ: Environ, start_response: StartResponse) -> list[bytes]:
    return [b"body"]


def _nothing_at_all(environ: Environ, start_response: StartResponse) -> list[bytes]:
    return []


def _str_body(environ: Environ, start_response: StartResponse) -> list[str]:
    start_response("200 OK", [])
    return ["text, not bytes"]


def _bad_status(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("OK", [])
    return [b""]


def _bad_status_type(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response(200, [])
    return [b""]


def _crlf_header(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")])
    return [b""]


def _bad_header_name(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Bad Name", "x")])
    return [b""]


def _header_not_tuple(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", ["X-A: b"])
    return [b""]


def _non_latin1_header(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("X-Name", "\u20ac")])
    return [b""]


def _twice(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [])
    start_response("201 Created", [])
    return [b""]


def _short_content_length(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "100")])
    return [b"only ten.."]


def _bad_content_length(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "ten")])
    return [b"0123456789"]


def _iteration_fails_first(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [])
    raise RuntimeError("fails before the first chunk")
    yield b""  # pragma: no cover


@pytest.mark.parametrize(
    ("app", "message"),
    [
        (_raising_app, "broken app"),
        (_none_app, "returned None"),
        (_no_start_response, "before start_response\\(\\) was called"),
        (_nothing_at_all, "returned without calling start_response"),
        (_str_body, "must be bytes, not str"),
        (_bad_status, "invalid status"),
        (_bad_status_type, "the status must be a str"),
        (_crlf_header, "invalid value for response header 'X-Evil'"),
        (_bad_header_name, "invalid response header name"),
        (_header_not_tuple, "a response header must be a"),
        (_non_latin1_header, "is not Latin-1"),
        (_twice, "start_response\\(\\) called twice"),
        (_short_content_length, "the body has 10 bytes but its Content-Length is 100"),
        (_bad_content_length, "invalid Content-Length"),
        (_iteration_fails_first, "fails before the first chunk"),
    ],
)
async def test_application_errors_give_500(
    serve: Callable[..., Server], app: Any, message: str
) -> None:
    s = serve(app)
    with ExpectLog("squall.application", "Uncaught exception in WSGI application") as logged:
        response = await s.fetch("/x")
    assert response.code == 500
    assert b"500: Internal Server Error" in response.body
    assert b"pwned" not in response.body
    exc_info = logged.records[0].exc_info
    assert exc_info is not None
    assert re.search(message, str(exc_info[1]))
    # The server keeps working.
    with ExpectLog("squall.application", "Uncaught exception in WSGI application"):
        assert (await s.fetch("/x")).code == 500


def test_wsgi_application_error_is_a_web_error() -> None:
    assert issubclass(WSGIApplicationError, WebError)


async def test_body_longer_than_content_length_closes(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Length", "5")])
        yield b"12345"
        yield b"6789"

    s = serve(app)
    with ExpectLog("squall.application", "Uncaught exception in WSGI application"):
        data = await s.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    response = parse_response(data)
    assert response.code == 200
    assert response.body == b"12345"


async def test_error_after_headers_closes_connection(serve: Callable[..., Server]) -> None:
    body_closed = threading.Event()

    class Body:
        def __init__(self) -> None:
            self.sent = False

        def __iter__(self) -> Iterator[bytes]:
            return self

        def __next__(self) -> bytes:
            if not self.sent:
                self.sent = True
                return b"first"
            raise RuntimeError("mid-body failure")

        def close(self) -> None:
            body_closed.set()

    def app(environ: Environ, start_response: StartResponse) -> Body:
        start_response("200 OK", [])
        return Body()

    s = serve(app)
    with ExpectLog("squall.application", "Uncaught exception in WSGI application"):
        data = await s.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive asked: still closed
    assert data.startswith(b"HTTP/1.1 200")
    assert b"first" in data
    assert not data.endswith(b"0\r\n\r\n")
    await wait_until(body_closed.is_set, timeout=WAIT)


async def test_close_errors_are_logged(serve: Callable[..., Server]) -> None:
    class Body(list[bytes]):
        def close(self) -> None:
            raise RuntimeError("close failed")

    def app(environ: Environ, start_response: StartResponse) -> Body:
        start_response("200 OK", [])
        return Body([b"fine"])

    s = serve(app)
    with ExpectLog("squall.application", "Exception closing the body") as logged:
        response = await s.fetch("/")
        await wait_until(lambda: logged.matched, timeout=WAIT)
    assert response.body == b"fine"


# -- logging --------------------------------------------------------------------------------------


async def test_access_log(serve: Callable[..., Server]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        code = environ["PATH_INFO"][1:]
        start_response(f"{code} X", [])
        return [b""]

    s = serve(app)
    with ExpectLog(
        "squall.access", r"200 GET /200\?a=1 \(127\.0\.0\.1\) \d+\.\d\dms", level=logging.INFO
    ):
        await s.fetch("/200?a=1")
    with ExpectLog("squall.access", r"404 GET /404 ", level=logging.WARNING):
        await s.fetch("/404")
    with ExpectLog("squall.access", r"503 GET /503 ", level=logging.ERROR):
        await s.fetch("/503")


# -- Flask ------------------------------------------------------------------------------------------


async def test_flask_app(serve: Callable[..., Server]) -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask("squall_wsgi_test")
    route: Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]] = app.route

    @route("/hello/<name>")
    def hello(name: str) -> Any:
        return {"hello": name, "q": flask.request.args.get("q")}

    @route("/form", methods=["POST"])
    def form() -> Any:
        return f"{flask.request.form['a']}+{flask.request.form['b']}"

    @route("/stream")
    def stream() -> Any:
        def generate() -> Iterator[str]:
            yield "one,"
            yield "two"

        return flask.Response(generate(), mimetype="text/plain")

    @route("/go")
    def go() -> Any:
        return flask.redirect("/hello/redirected")

    @route("/fail")
    def fail() -> Any:
        raise RuntimeError("flask view failed")

    @route("/teapot")
    def teapot() -> Any:
        flask.abort(418)

    s = serve(app)
    response = await s.fetch("/hello/world?q=x")
    assert response.code == 200
    assert response.json() == {"hello": "world", "q": "x"}
    assert response.headers["Content-Type"] == "application/json"

    posted = await s.fetch(
        "/form",
        method="POST",
        body=b"a=1&b=caf%C3%A9",
        Content_Type="application/x-www-form-urlencoded",
    )
    assert posted.body.decode() == "1+caf\u00e9"

    streamed = await s.fetch("/stream")
    assert streamed.body == b"one,two"

    redirect = await s.fetch("/go")
    assert redirect.code == 302
    assert redirect.headers["Location"] == "/hello/redirected"

    assert (await s.fetch("/teapot")).code == 418
    assert (await s.fetch("/missing")).code == 404
    with ExpectLog("squall_wsgi_test", ".*Exception on /fail", required=False):
        failed = await s.fetch("/fail")
    assert failed.code == 500

    head = await s.fetch("/hello/world?q=x", method="HEAD")
    assert head.code == 200
    assert head.body == b""
    assert int(head.headers["Content-Length"]) == len(response.body)


def test_public_api() -> None:
    import squall.wsgi

    assert squall.wsgi.__all__ == [
        "WSGIAdapter",
        "WSGIAdapterError",
        "WSGIApplicationError",
        "WSGIContainer",
    ]
    container = WSGIContainer(hello_app)
    assert container.wsgi_application is hello_app
    assert container.executor is None
    assert callable(container.environ)
    assert callable(container.handle_request)
