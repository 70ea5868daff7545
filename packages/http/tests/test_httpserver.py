"""HTTPServer and HTTP1ServerConnection over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from squall.httpserver import HTTPServer
from squall.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    ResponseStartLine,
)
from squall.ioloop import IOLoop
from squall.netutil import bind_sockets
from squall.testing import ExpectLog, count_open_fds

_spec = importlib.util.spec_from_file_location(
    "squall_http_parser_corpus", Path(__file__).with_name("test_http1_parser.py")
)
assert _spec is not None and _spec.loader is not None
_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_corpus)
REQUEST_CASES: list[tuple[str, bytes, int | None]] = _corpus.REQUEST_CASES


def respond(request: HTTPServerRequest, body: bytes, status: int = 200, **headers: str) -> None:
    h = HTTPHeaders({"Content-Length": str(len(body)), "Content-Type": "text/plain"})
    for k, v in headers.items():
        h[k.replace("_", "-")] = v
    assert request.connection is not None
    request.connection.write_headers(ResponseStartLine("HTTP/1.1", status, "OK"), h, body)
    request.connection.finish()


def echo_app(request: HTTPServerRequest) -> None:
    context = request.connection.context  # type: ignore[union-attr]
    if request.path == "/ip":
        respond(request, f"{request.remote_ip} {request.protocol}".encode())
    elif request.path == "/chunked":
        assert request.connection is not None
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Type": "text/plain"})
        )
        request.connection.write(b"part1-")
        request.connection.write(b"part2")
        request.connection.finish()
    else:
        body = b"%s %s %d:%s" % (
            request.method.encode(),
            request.uri.encode(),
            len(request.body),
            request.body[:50],
        )
        respond(request, body)
    del context


class Server:
    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.server = HTTPServer(app, **kwargs)
        socks = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = socks[0].getsockname()[1]
        self.server.add_sockets(socks)

    async def request(self, data: bytes, timeout: float = 5.0, close: bool = True) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            if close:
                writer.write_eof()
            return await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()


@pytest.fixture
def server(io_loop: IOLoop) -> Iterator[Server]:
    s = Server(echo_app)
    yield s
    s.server.stop()
    io_loop.run_sync(lambda: s.server.close_all_connections(1))


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


async def test_simple_get_and_keep_alive(server: Server) -> None:
    data = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?c=d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    response = await server.request(data, close=False)
    assert response.count(b"HTTP/1.1 200 OK") == 2
    first, second = response.split(b"HTTP/1.1 200 OK")[1:]
    assert b"GET /a 0:" in first
    assert b"GET /b?c=d 0:" in second
    assert b"Connection: close" in second
    assert b"Date: " in first


async def test_pipelined_requests_answered_in_order(server: Server) -> None:
    data = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(10))
    response = await server.request(
        data + b"GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    bodies = [part.rsplit(b"\r\n\r\n", 1)[-1] for part in response.split(b"HTTP/1.1 200 OK")[1:]]
    assert [b.split()[1] for b in bodies] == [b"/%d" % i for i in range(10)] + [b"/end"]


async def test_http10_closes_unless_keep_alive(server: Server) -> None:
    response = await server.request(b"GET / HTTP/1.0\r\n\r\n", close=False)
    assert status_of(response) == 200
    response = await server.request(
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n", close=False
    )
    assert response.count(b"200 OK") == 2
    assert b"Connection: Keep-Alive" in response


async def test_post_with_content_length_and_chunked(server: Server) -> None:
    response = await server.request(
        b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert b"POST /p 5:hello" in response
    response = await server.request(
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert b"POST /c 11:hello world" in response


async def test_chunked_response_and_head(server: Server) -> None:
    response = await server.request(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in response
    assert response.endswith(b"6\r\npart1-\r\n5\r\npart2\r\n0\r\n\r\n")
    response = await server.request(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 200
    assert response.endswith(b"\r\n\r\n")  # no body after the head


@pytest.mark.parametrize(
    ("head", "expected"),
    [(c[1], c[2]) for c in REQUEST_CASES],
    ids=[c[0] for c in REQUEST_CASES],
)
async def test_conformance_corpus_against_live_server(
    server: Server, head: bytes, expected: int | None
) -> None:
    body = b"hello" if b"Content-Length: 5" in head else b""
    if b"Transfer-Encoding: chunked" in head and expected is None:
        body = b"0\r\n\r\n"
    response = await server.request(head + b"\r\n\r\n" + body)
    if expected is None:
        assert status_of(response) == 200, response
    else:
        assert status_of(response) == expected, response
        assert b"Connection: close" in response


async def test_rejections_log_one_line_without_traceback(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="squall"):
        response = await server.request(b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n")
    assert status_of(response) == 400
    records = [r for r in caplog.records if r.name.startswith("squall")]
    assert len(records) <= 1
    assert not any(r.exc_info for r in records)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: y\r\n" % i for i in range(150))
            + b"\r\n",
            431,
        ),
    ],
    ids=["long request line", "large head", "many fields"],
)
async def test_size_limits(server: Server, data: bytes, expected: int) -> None:
    response = await server.request(data)
    assert status_of(response) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\nHost: x\n\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\n",
        b"GET / HTTP/1.1\r\nHost: x\n\r\n",
        b"\n\n",
    ],
    ids=["bare LF lines", "CRLF then LF", "LF then CRLF", "blank LF lines"],
)
async def test_head_ended_by_bare_lf_is_refused_at_once(server: Server, data: bytes) -> None:
    # The client keeps its side open: the head can never end with CRLF CRLF,
    # and the server answers without waiting for EOF or a timeout.
    response = await server.request(data, timeout=2.0, close=False)
    assert status_of(response) == 400
    assert b"Connection: close" in response


async def test_head_ended_by_bare_lf_is_refused_after_a_slow_start(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\n")
        await asyncio.sleep(0.05)
        writer.write(b"\n")
        response = await asyncio.wait_for(reader.read(), 2.0)
    finally:
        writer.close()
    assert status_of(response) == 400


async def test_body_too_large_is_413_before_body_and_without_100_continue(io_loop: IOLoop) -> None:
    s = Server(echo_app, max_body_size=10)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    writer.write(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
    )
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert status_of(response) == 413
    assert b"100 Continue" not in response
    chunked = await s.request(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"
        + b"x" * 32
        + b"\r\n0\r\n\r\n"
    )
    assert status_of(chunked) == 413
    s.server.stop()
    await s.server.close_all_connections(1)


async def test_expect_100_continue(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"data")
    final = await asyncio.wait_for(reader.readuntil(b"data"), 5)
    assert b"POST /e 4:data" in final
    writer.close()
    # HTTP/1.0 gets no 100.
    response = await server.request(
        b"POST /e HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\ndata"
    )
    assert b"100 Continue" not in response


async def test_header_timeout_sends_408_and_closes(io_loop: IOLoop) -> None:
    s = Server(echo_app, header_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
    response = await asyncio.wait_for(reader.read(), 5)
    assert status_of(response) == 408
    writer.close()
    s.server.stop()
    await s.server.close_all_connections(1)


async def test_idle_and_body_timeouts_close(io_loop: IOLoop) -> None:
    s = Server(echo_app, idle_connection_timeout=0.2, body_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # idle: closed without a word
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    s.server.stop()
    await s.server.close_all_connections(1)


async def test_gzip_request_body_and_bomb(io_loop: IOLoop) -> None:
    s = Server(echo_app, decompress_request=True, max_body_size=100_000)
    body = gzip.compress(b"compressed body")
    response = await s.request(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
        % (len(body), body)
    )
    assert b"15:compressed body" in response
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 100_000
    response = await s.request(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
        % (len(bomb), bomb)
    )
    assert status_of(response) == 413
    s.server.stop()
    await s.server.close_all_connections(1)


async def test_xheaders(io_loop: IOLoop) -> None:
    s = Server(echo_app, xheaders=True, trusted_downstream=["10.0.0.9"])
    response = await s.request(
        b"GET /ip HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.9\r\nX-Forwarded-Proto: https\r\n\r\n"
    )
    assert response.endswith(b"1.2.3.4 https")
    response = await s.request(b"GET /ip HTTP/1.1\r\nHost: x\r\nX-Real-Ip: not-an-ip\r\n\r\n")
    assert response.endswith(b"127.0.0.1 http")
    s.server.stop()
    await s.server.close_all_connections(1)


class _EchoDelegate(HTTPServerConnectionDelegate):
    """A server delegate that counts its start_request calls."""

    def __init__(self) -> None:
        self.started = 0

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        self.started += 1
        outer = self

        class Message(HTTPMessageDelegate):
            def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
                self.start_line = start_line
                self.headers = headers

            def finish(self) -> None:
                request = HTTPServerRequest(
                    headers=self.headers, start_line=self.start_line, connection=request_conn
                )
                respond(request, b"%d %s" % (outer.started, str(request.remote_ip).encode()))

        return Message()


@pytest.mark.parametrize("xheaders", [False, True])
async def test_delegate_start_request_once_per_request(io_loop: IOLoop, xheaders: bool) -> None:
    # Whichever way the connection reaches the delegate (straight, or
    # through the server's xheaders layer), start_request runs once per
    # request and the layers the server adds still apply.
    delegate = _EchoDelegate()
    s = Server(delegate, xheaders=xheaders)
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Real-Ip: 1.2.3.4\r\n\r\n"
    try:
        response = await s.request(request * 2)
    finally:
        s.server.stop()
        await s.server.close_all_connections(1)
    ip = b"1.2.3.4" if xheaders else b"127.0.0.1"
    assert response.count(b"HTTP/1.1 200") == 2
    assert response.endswith(b"2 " + ip)


async def test_server_subclass_start_request_is_called(io_loop: IOLoop) -> None:
    calls: list[object] = []

    class Counting(HTTPServer):
        def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
            calls.append(server_conn)
            return super().start_request(server_conn, request_conn)

    delegate = _EchoDelegate()
    s = Server.__new__(Server)
    s.server = Counting(delegate)
    socks = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    s.port = socks[0].getsockname()[1]
    s.server.add_sockets(socks)
    try:
        response = await s.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        s.server.stop()
        await s.server.close_all_connections(1)
    assert response.endswith(b"1 127.0.0.1")
    assert len(calls) == 1


async def test_bad_requests_release_fds(server: Server) -> None:
    await server.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    before = count_open_fds(None)
    for _ in range(30):
        await server.request(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n")
        await server.request(b"\x16\x03\x01garbage")
        await server.request(b"")
    await asyncio.sleep(0.05)
    assert count_open_fds(None) <= before + 2
    assert server.server.connection_count == 0


class SlowApp(HTTPServerConnectionDelegate):
    """Answers /slow after a delay (a request in flight at shutdown)."""

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        app = self

        class Delegate(HTTPMessageDelegate):
            def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
                self.path = start_line.path

            def finish(self) -> None:
                delay = 0.3 if self.path == "/slow" else 0
                IOLoop.current().call_later(delay, self.respond)

            def respond(self) -> None:
                body = b"x" * 100_000
                request_conn.write_headers(
                    ResponseStartLine("HTTP/1.1", 200, "OK"),
                    HTTPHeaders({"Content-Length": str(len(body))}),
                    body,
                )
                request_conn.finish()

        del app
        return Delegate()


async def test_graceful_shutdown_lets_request_in_flight_finish(io_loop: IOLoop) -> None:
    s = Server(SlowApp())
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", s.port)
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.1)
    s.server.stop()
    closing = asyncio.ensure_future(s.server.close_all_connections(5))
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # idle closed at once
    response = await asyncio.wait_for(reader.read(), 5)
    assert status_of(response) == 200
    assert b"Connection: close" in response
    assert response.endswith(b"x" * 100_000)
    await asyncio.wait_for(closing, 5)
    writer.close()
    idle_writer.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()


async def test_close_all_connections_forces_after_timeout(io_loop: IOLoop) -> None:
    class Never(HTTPServerConnectionDelegate):
        def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
            return HTTPMessageDelegate()  # never answers

    s = Server(Never())
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.05)
    s.server.stop()
    await asyncio.wait_for(s.server.close_all_connections(0.2), 5)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_unix_socket(io_loop: IOLoop, tmp_path: Path) -> None:
    from squall.netutil import bind_unix_socket

    path = str(tmp_path / "http.sock")
    server = HTTPServer(echo_app)
    server.add_socket(bind_unix_socket(path))
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b"GET /u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    assert b"GET /u 0:" in response
    writer.close()
    server.stop()
    await server.close_all_connections(1)


async def test_application_exception_closes_only_that_connection(
    io_loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: HTTPServerRequest) -> None:
        if request.path == "/boom":
            raise RuntimeError("application bug")
        echo_app(request)

    s = Server(broken)
    with caplog.at_level(logging.ERROR):
        response = await s.request(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response == b""
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
    response = await s.request(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 200
    s.server.stop()
    await s.server.close_all_connections(1)


def test_http_server_is_configurable() -> None:
    assert HTTPServer.configured_class() is HTTPServer


@pytest.mark.parametrize(
    ("reason", "name", "value"),
    [
        ("OK", "X-Bad", "a\r\nInjected: yes"),
        ("OK", "X-Bad", "a\nInjected: yes"),
        ("OK", "X-Bad", "a\rInjected: yes"),
        ("OK", "X-Bad", "a\r"),
        ("OK", "X-Bad\r\nInjected", "yes"),
        ("OK\r\nInjected: yes", "X-Fine", "ok"),
        ("OK\n", "X-Fine", "ok"),
    ],
)
async def test_response_with_crlf_in_header_refused(
    io_loop: IOLoop, reason: str, name: str, value: str
) -> None:
    from squall.httputil import HTTPOutputError

    errors: list[Exception] = []

    def app(request: HTTPServerRequest) -> None:
        assert request.connection is not None
        try:
            request.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 200, reason),
                HTTPHeaders({name: value, "Content-Length": "0"}),
            )
        except HTTPOutputError as e:
            errors.append(e)
            respond(request, b"refused")

    s = Server(app)
    response = await s.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Injected" not in response
    assert response.endswith(b"refused")
    assert errors
    s.server.stop()
    await s.server.close_all_connections(1)


async def test_head_and_304_responses_have_no_body_and_keep_alive(io_loop: IOLoop) -> None:
    def app(request: HTTPServerRequest) -> None:
        assert request.connection is not None
        if request.path == "/304":
            headers = HTTPHeaders({"Content-Length": "1234", "ETag": '"x"'})
            request.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 304, "Not Modified"), headers
            )
        else:  # HEAD without a Content-Length
            request.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders()
            )
        request.connection.finish()

    s = Server(app)
    response = await s.request(
        b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert response.count(b"HTTP/1.1 ") == 3
    assert b"Transfer-Encoding" not in response
    assert b"0\r\n\r\n" not in response
    assert b"304 Not Modified" in response
    s.server.stop()
    await s.server.close_all_connections(1)


class _StagedDelegate(HTTPServerConnectionDelegate):
    """Answers each request with its body length; the one to /fail raises at ``stage``.

    ``stage``: where (``headers``, ``data`` or ``finish``); ``error``: what
    (``HTTPInputError`` or ``RuntimeError``).  With ``wait``, every step
    returns an awaitable that resolves on a later loop pass, and the
    response is written after one.  Records the on_connection_close calls.
    """

    def __init__(self, stage: str, error: type[Exception], wait: bool) -> None:
        self.stage, self.error, self.wait = stage, error, wait
        self.closed: list[str] = []

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        outer = self

        def later() -> Any:
            if not outer.wait:
                return None
            future = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(future.set_result, None)
            return future

        class Delegate(HTTPMessageDelegate):
            path = ""
            size = 0

            def check(self, stage: str) -> None:
                if self.path == "/fail" and outer.stage == stage:
                    raise outer.error("failing at " + stage)

            def headers_received(self, start_line: Any, headers: HTTPHeaders) -> Any:
                self.path = start_line.path
                self.check("headers")
                return later()

            def data_received(self, chunk: bytes) -> Any:
                self.size += len(chunk)
                self.check("data")
                return later()

            def finish(self) -> None:
                self.check("finish")

                def answer() -> None:
                    body = b"%s %d" % (self.path.encode(), self.size)
                    request_conn.write_headers(
                        ResponseStartLine("HTTP/1.1", 200, "OK"),
                        HTTPHeaders({"Content-Length": str(len(body))}),
                        body,
                    )
                    request_conn.finish()

                if outer.wait:
                    asyncio.get_running_loop().call_soon(answer)
                else:
                    answer()

            def on_connection_close(self) -> None:
                outer.closed.append(self.path)

        return Delegate()


@pytest.mark.parametrize("wait", [False, True])
@pytest.mark.parametrize("error", [HTTPInputError, RuntimeError])
@pytest.mark.parametrize("stage", ["headers", "data", "finish"])
async def test_delegate_errors_and_awaitables_at_each_stage(
    io_loop: IOLoop, stage: str, error: type[Exception], wait: bool
) -> None:
    # Pipelined requests whose heads and bodies arrive in one read: served
    # in order however each step answers (at once or through an awaitable);
    # a delegate error is answered as the error's kind says (400 for bad
    # input, a closed connection for a bug), on_connection_close is called
    # when the error comes before finish, and the server goes on serving.
    delegate = _StagedDelegate(stage, error, wait)
    s = Server(delegate)
    post = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    with ExpectLog("squall", ".*", required=False):
        response = await s.request(post % b"/a" + post % b"/b" + post % b"/fail" + post % b"/c")
    try:
        assert response.count(b"HTTP/1.1 200") == 2
        assert response.index(b"/a 5") < response.index(b"/b 5")
        assert b"/c" not in response
        if error is HTTPInputError:
            assert response.split(b"\r\n\r\n/b 5", 1)[1].startswith(b"HTTP/1.1 400")
        else:
            assert response.endswith(b"/b 5")
        assert delegate.closed == ([] if stage == "finish" else ["/fail"])
        again = await s.request(post % b"/d")
        assert again.endswith(b"/d 5")
    finally:
        s.server.stop()
        await s.server.close_all_connections(1)


async def test_delegate_may_raise_body_limit_in_headers_received(io_loop: IOLoop) -> None:
    class Big(HTTPServerConnectionDelegate):
        def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
            class Delegate(HTTPMessageDelegate):
                size = 0

                def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
                    if start_line.path == "/big":
                        request_conn.set_max_body_size(10_000)

                def data_received(self, chunk: bytes) -> None:
                    self.size += len(chunk)

                def finish(self) -> None:
                    body = str(self.size).encode()
                    request_conn.write_headers(
                        ResponseStartLine("HTTP/1.1", 200, "OK"),
                        HTTPHeaders({"Content-Length": str(len(body))}),
                        body,
                    )
                    request_conn.finish()

            return Delegate()

    s = Server(Big(), max_body_size=1000)
    body = b"x" * 1600
    response = await s.request(
        b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1600\r\n\r\n" + body
    )
    assert response.endswith(b"1600")
    response = await s.request(
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1600\r\n\r\n" + body
    )
    assert status_of(response) == 413
    s.server.stop()
    await s.server.close_all_connections(1)


async def test_finish_after_peer_left_is_not_an_error(io_loop: IOLoop) -> None:
    done: list[str] = []

    def app(request: HTTPServerRequest) -> None:
        conn = request.connection
        assert conn is not None
        conn.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": "100000"}),
            b"x",
        )

        def later() -> None:
            conn.stream.close()  # type: ignore[attr-defined]
            conn.finish()  # short of Content-Length, but the peer is gone
            done.append("finished")

        IOLoop.current().call_later(0.01, later)

    s = Server(app)
    await s.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.05)
    assert done == ["finished"]
    s.server.stop()
    await s.server.close_all_connections(1)
