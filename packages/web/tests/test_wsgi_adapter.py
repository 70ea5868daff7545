"""WSGIAdapter: a squall.web.Application under a WSGI server (PEP 3333).

Most tests call the adapter directly, with environs built by
``wsgiref.util.setup_testing_defaults`` and wrapped in
``wsgiref.validate.validator`` (which checks both sides of PEP 3333);
one serves it with ``wsgiref.simple_server`` over a socket.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import io
import json
import logging
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import wsgiref.simple_server
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest
from squall import gen
from squall.httputil import responses
from squall.ioloop import IOLoop
from squall.web import (
    Application,
    HTTPError,
    RequestHandler,
    WebError,
    asynchronous,
    stream_request_body,
)
from squall.websocket import WebSocketHandler
from squall.wsgi import WSGIAdapter, WSGIAdapterError

WAIT = 10.0


class Result:
    """What the adapter gave the WSGI server."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.code = int(status.split(" ", 1)[0])
        self.reason = status.split(" ", 1)[1]
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        values = self.all(name)
        assert len(values) <= 1, values
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


def make_environ(
    path: str = "/",
    method: str = "GET",
    query: str = "",
    body: bytes | None = None,
    content_type: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A PEP 3333 environ; ``path`` is PATH_INFO (decoded, Latin-1 text)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
    }
    if body is not None:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    environ.update(extra)
    setup_testing_defaults(environ)
    return environ


def call(app: Any, environ: dict[str, Any], validate: bool = True) -> Result:
    """Run one request through ``app`` (an Application or a WSGI callable)."""
    wsgi_app = WSGIAdapter(app) if isinstance(app, Application) else app
    if validate:
        wsgi_app = validator(wsgi_app)
    recorded: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        recorded.append((status, headers))

        def write(data: bytes) -> None:
            raise AssertionError("the adapter does not use write()")

        return write

    iterable = wsgi_app(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    assert len(recorded) == 1, recorded
    status, headers = recorded[0]
    for name, value in headers:
        assert type(name) is str and type(value) is str
        value.encode("latin-1")
    return Result(status, headers, body)


def get(app: Any, path: str = "/", **kwargs: Any) -> Result:
    return call(app, make_environ(path, **kwargs))


# -- handlers ----------------------------------------------------------------------------


class QueryHandler(RequestHandler):
    def get(self) -> None:
        self.write("x=" + self.get_argument("x") + " y=" + ",".join(self.get_arguments("y")))


class FormHandler(RequestHandler):
    def post(self) -> None:
        self.write(f"name={self.get_argument('name')} tags={self.get_arguments('tag')}")


class UploadHandler(RequestHandler):
    def post(self) -> None:
        upload = self.request.files["file"][0]
        self.write({"filename": upload.filename, "body": upload.body.decode()})


class PathHandler(RequestHandler):
    def get(self, first: str, second: str) -> None:
        self.write(f"{first}|{second}")


class EchoPathHandler(RequestHandler):
    def get(self, rest: str) -> None:
        self.write({"arg": rest, "path": self.request.path, "uri": self.request.uri})


class GetOnlyHandler(RequestHandler):
    def get(self) -> None:
        self.write("only GET")


class FailingHandler(RequestHandler):
    def get(self) -> None:
        raise ZeroDivisionError("boom in the handler")


class ForbiddenHandler(RequestHandler):
    def get(self) -> None:
        raise HTTPError(403, reason="Go Away")


class RedirectingHandler(RequestHandler):
    def get(self) -> None:
        self.redirect("/elsewhere?a=1")


class CookieHandler(RequestHandler):
    def get(self) -> None:
        self.set_cookie("first", "1")
        self.set_cookie("second", "2", httponly=True)
        self.write("cookies")


class HeadHandler(RequestHandler):
    def head(self) -> None:
        self.write("twelve bytes")

    def get(self) -> None:
        self.write("twelve bytes")


class JSONHandler(RequestHandler):
    def get(self) -> None:
        self.write({"answer": 42, "text": "caf\u00e9"})


class RequestInfoHandler(RequestHandler):
    def get(self) -> None:
        request = self.request
        self.write(
            {
                "method": request.method,
                "uri": request.uri,
                "version": request.version,
                "host": request.host,
                "host_name": request.host_name,
                "remote_ip": request.remote_ip,
                "protocol": request.protocol,
                "full_url": request.full_url(),
                "custom": request.headers.get("X-Custom-Header"),
                "content_type": request.headers.get("Content-Type"),
                "body": request.body.decode("latin-1"),
            }
        )

    post = get


class StreamedHandler(RequestHandler):
    def get(self) -> None:
        self.write("one,")
        self.flush()
        self.write("two,")
        self.flush()
        self.finish("three")


class LyingLengthHandler(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Length", "100")
        self.finish("short")


class HopByHopHandler(RequestHandler):
    def get(self) -> None:
        self.set_header("Connection", "close")
        self.set_header("Keep-Alive", "timeout=5")
        self.set_header("X-Kept", "yes")
        self.write("hop")


class LoopInfoHandler(RequestHandler):
    def get(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            running = False
        else:
            running = True
        self.write({"running": running})


class RunSyncHandler(RequestHandler):
    """Tornado 5 code under WSGI could run the current IOLoop itself."""

    def get(self) -> None:
        async def later() -> str:
            await asyncio.sleep(0.01)  # a timer: the loop must wait for it
            return "ran the loop"

        self.write(IOLoop.current().run_sync(later, timeout=WAIT))


class CoroutineHandler(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(0)  # ready at once: no waiting
        self.write("coroutine")


class GenCoroutineHandler(RequestHandler):
    @gen.coroutine
    def get(self) -> Any:
        yield gen.moment
        self.write("gen coroutine")


class CallbackHandler(RequestHandler):
    @asynchronous
    def get(self) -> None:
        self.write("a,")
        self.flush(callback=self.step)

    def step(self) -> None:
        IOLoop.current().add_callback(self.finish, "b")


class NeverFinishesHandler(RequestHandler):
    closed = False

    @asynchronous
    def get(self) -> None:
        self.write("waiting for a callback that never comes")

    def on_connection_close(self) -> None:
        NeverFinishesHandler.closed = True


class WaitsForFutureHandler(RequestHandler):
    closed = False
    cancelled = False

    async def get(self) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            WaitsForFutureHandler.cancelled = True
            raise

    def on_connection_close(self) -> None:
        WaitsForFutureHandler.closed = True


class SleepsHandler(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(30)
        self.write("too late")


class SpawnsHandler(RequestHandler):
    """Finishes, leaving a background task that waits (it is cancelled)."""

    async def background(self) -> None:
        await asyncio.sleep(30)

    def get(self) -> None:
        IOLoop.current().spawn_callback(self.background)
        self.write("spawned")


@stream_request_body
class StreamingHandler(RequestHandler):
    def data_received(self, chunk: bytes) -> None:
        pass

    def post(self) -> None:
        self.write("streamed")


class EchoSocket(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


ROUTES: list[Any] = [
    (r"/query", QueryHandler),
    (r"/form", FormHandler),
    (r"/upload", UploadHandler),
    (r"/path/([a-z]+)/(\d+)", PathHandler),
    (r"/echo/(.*)", EchoPathHandler),
    (r"/app/x", GetOnlyHandler),
    (r"/get-only", GetOnlyHandler),
    (r"/fail", FailingHandler),
    (r"/forbidden", ForbiddenHandler),
    (r"/redirect", RedirectingHandler),
    (r"/cookies", CookieHandler),
    (r"/head", HeadHandler),
    (r"/json", JSONHandler),
    (r"/info", RequestInfoHandler),
    (r"/streamed", StreamedHandler),
    (r"/lying-length", LyingLengthHandler),
    (r"/hop", HopByHopHandler),
    (r"/loop", LoopInfoHandler),
    (r"/run-sync", RunSyncHandler),
    (r"/coroutine", CoroutineHandler),
    (r"/gen-coroutine", GenCoroutineHandler),
    (r"/callback", CallbackHandler),
    (r"/never", NeverFinishesHandler),
    (r"/future", WaitsForFutureHandler),
    (r"/sleeps", SleepsHandler),
    (r"/spawns", SpawnsHandler),
    (r"/streaming", StreamingHandler),
    (r"/ws", EchoSocket),
]


@pytest.fixture
def app() -> Application:
    return Application(ROUTES)


# -- the public API --------------------------------------------------------------------------


def test_public_names() -> None:
    import squall.wsgi

    assert {"WSGIAdapter", "WSGIAdapterError", "WSGIContainer", "WSGIApplicationError"} <= set(
        squall.wsgi.__all__
    )
    assert issubclass(WSGIAdapterError, WebError)
    assert WSGIAdapter.__module__ == "squall.wsgi"
    assert WSGIAdapter.__doc__ and ".. versionadded:: 0.1.0" in WSGIAdapter.__doc__


# -- requests ------------------------------------------------------------------------------


def test_get_with_query_arguments(app: Application) -> None:
    result = get(app, "/query", query="x=%C3%A9t%C3%A9&y=1&y=2")
    assert result.status == "200 OK"
    assert result.text == "x=\u00e9t\u00e9 y=1,2"
    assert result.header("Content-Length") == str(len(result.body))
    assert result.header("Content-Type") == "text/html; charset=UTF-8"


def test_post_urlencoded_form(app: Application) -> None:
    body = b"name=J%C3%BCrgen&tag=a&tag=b"
    result = get(
        app, "/form", method="POST", body=body, content_type="application/x-www-form-urlencoded"
    )
    assert result.status == "200 OK"
    assert result.text == "name=J\u00fcrgen tags=['a', 'b']"


def test_post_multipart_upload(app: Application) -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"file content\r\n"
        b"--XyZ--\r\n"
    )
    result = get(
        app, "/upload", method="POST", body=body, content_type="multipart/form-data; boundary=XyZ"
    )
    assert result.code == 200
    assert result.json() == {"filename": "a.txt", "body": "file content"}


def test_malformed_multipart_body_is_400_from_the_application(app: Application) -> None:
    result = get(app, "/upload", method="POST", body=b"junk", content_type="multipart/form-data")
    assert result.code == 400
    assert b"400: Bad Request" in result.body  # the handler's error page


def test_encoded_form_body_is_415(app: Application) -> None:
    result = get(
        app,
        "/form",
        method="POST",
        body=gzip.compress(b"name=x"),
        content_type="application/x-www-form-urlencoded",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert result.code == 415


def test_path_arguments(app: Application) -> None:
    assert get(app, "/path/abc/123").text == "abc|123"


def test_non_ascii_path_is_quoted_back_from_latin1(app: Application) -> None:
    # A server got /echo/caf%C3%A9 and, as PEP 3333 says, decoded the
    # octets and mapped each to one code point.
    result = get(app, "/echo/caf\u00c3\u00a9")
    assert result.json() == {
        "arg": "caf\u00e9",
        "path": "/echo/caf%C3%A9",
        "uri": "/echo/caf%C3%A9",
    }


def test_percent_and_question_mark_in_path_info(app: Application) -> None:
    # PATH_INFO is decoded: a "%" or "?" in it came escaped and goes back so.
    result = get(app, "/echo/100%?;x=y", query="q=1")
    assert result.json() == {
        "arg": "100%?;x=y",
        "path": "/echo/100%25%3F;x=y",
        "uri": "/echo/100%25%3F;x=y?q=1",
    }


def test_script_name_is_part_of_the_path(app: Application) -> None:
    environ = make_environ("/x")
    environ["SCRIPT_NAME"] = "/app"
    assert call(app, environ).text == "only GET"


def test_request_attributes_from_environ(app: Application) -> None:
    environ = make_environ(
        "/info",
        method="POST",
        query="a=1",
        body=b"raw body",
        content_type="text/plain",
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_CUSTOM_HEADER="custom value",
        SERVER_PROTOCOL="HTTP/1.1",
    )
    environ["wsgi.url_scheme"] = "https"
    environ["HTTP_HOST"] = "www.example.com:8443"
    info = call(app, environ).json()
    assert info == {
        "method": "POST",
        "uri": "/info?a=1",
        "version": "HTTP/1.1",
        "host": "www.example.com:8443",
        "host_name": "www.example.com",
        "remote_ip": "203.0.113.9",
        "protocol": "https",
        "full_url": "https://www.example.com:8443/info?a=1",
        "custom": "custom value",
        "content_type": "text/plain",
        "body": "raw body",
    }


@pytest.mark.parametrize(
    ("scheme", "port", "host"),
    [
        ("http", "8080", "wsgi.example:8080"),
        ("http", "80", "wsgi.example"),
        ("https", "443", "wsgi.example"),
        ("https", "80", "wsgi.example:80"),
    ],
)
def test_host_from_server_name_and_port(
    app: Application, scheme: str, port: str, host: str
) -> None:
    environ = make_environ("/info", SERVER_NAME="wsgi.example", SERVER_PORT=port)
    del environ["HTTP_HOST"]
    environ["wsgi.url_scheme"] = scheme
    assert call(app, environ).json()["host"] == host


def test_input_terminated_body_is_read_to_the_end(app: Application) -> None:
    environ = make_environ("/info", method="POST", content_type="text/plain")
    environ["wsgi.input"] = io.BytesIO(b"chunked upload")
    environ["wsgi.input_terminated"] = True
    assert call(app, environ).json()["body"] == "chunked upload"


def test_no_content_length_means_no_body(app: Application) -> None:
    environ = make_environ("/info", method="POST")
    environ["wsgi.input"] = io.BytesIO(b"must not be read")
    assert call(app, environ).json()["body"] == ""


# -- bad requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", ["abc", "-1", "+5", "1.5", "0x10"])
def test_bad_content_length_is_400(length: str) -> None:
    called: list[bool] = []

    class Handler(RequestHandler):
        def post(self) -> None:
            called.append(True)

    environ = make_environ("/", method="POST", body=b"12345")
    environ["CONTENT_LENGTH"] = length
    # (wsgiref's validator refuses such an environ: a server bug, or a proxy's.)
    result = call(Application([(r"/", Handler)]), environ, validate=False)
    assert result.status == "400 Bad Request"
    assert result.header("Content-Length") == str(len(result.body))
    assert not called


def test_body_shorter_than_content_length_is_400(app: Application) -> None:
    environ = make_environ("/form", method="POST", body=b"name=x")
    environ["CONTENT_LENGTH"] = "100"
    assert call(app, environ).code == 400


def test_body_over_max_body_size_is_413(app: Application) -> None:
    environ = make_environ("/form", method="POST", body=b"name=" + b"x" * 100)
    result = call(WSGIAdapter(app, max_body_size=50), environ)
    # (The reason is the interpreter's: "Content Too Large" since Python 3.13.)
    assert result.status == f"413 {responses[413]}"
    assert result.status.startswith("413 ")


def test_absurd_content_length_is_413_without_reading(app: Application) -> None:
    environ = make_environ("/form", method="POST", body=b"name=x")
    environ["CONTENT_LENGTH"] = "9" * 5000  # (int() refuses over 4300 digits)
    result = call(app, environ, validate=False)
    assert result.code == 413
    assert environ["wsgi.input"].tell() == 0


# -- responses -------------------------------------------------------------------------------


def test_no_route_is_404(app: Application) -> None:
    result = get(app, "/no/such/path")
    assert result.code == 404
    assert result.reason == "Not Found"


def test_method_not_allowed_is_405_with_allow(app: Application) -> None:
    result = get(app, "/get-only", method="POST", body=b"")
    assert result.status == "405 Method Not Allowed"
    assert result.header("Allow") == "GET"


def test_missing_argument_is_400(app: Application) -> None:
    result = get(app, "/query")
    assert result.status == "400 Bad Request"


def test_exception_is_500_without_traceback(
    app: Application, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="squall.application"):
        result = get(app, "/fail")
    assert result.status == "500 Internal Server Error"
    assert b"Traceback" not in result.body
    assert b"boom in the handler" not in result.body
    assert any("Uncaught exception GET /fail" in r.getMessage() for r in caplog.records)


def test_exception_shows_traceback_with_serve_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.CRITICAL, logger="squall.application"):
        result = get(Application(ROUTES, serve_traceback=True), "/fail")
    assert result.code == 500
    assert b"Traceback" in result.body
    assert b"ZeroDivisionError: boom in the handler" in result.body


def test_http_error_with_reason(app: Application) -> None:
    result = get(app, "/forbidden")
    assert result.status == "403 Go Away"
    assert b"403: Go Away" in result.body


def test_redirect(app: Application) -> None:
    result = get(app, "/redirect")
    assert result.status == "302 Found"
    assert result.header("Location") == "/elsewhere?a=1"
    assert result.body == b""


def test_two_cookies_are_two_set_cookie_headers(app: Application) -> None:
    result = get(app, "/cookies")
    assert result.all("Set-Cookie") == ["first=1; Path=/", "second=2; HttpOnly; Path=/"]


def test_head_has_no_body_but_keeps_the_length(app: Application) -> None:
    result = get(app, "/head", method="HEAD")
    assert result.code == 200
    assert result.body == b""
    assert result.header("Content-Length") == "12"


def test_not_modified_has_no_body_and_no_length(app: Application) -> None:
    etag = get(app, "/json").header("Etag")
    assert etag
    result = get(app, "/json", HTTP_IF_NONE_MATCH=etag)
    assert result.status == "304 Not Modified"
    assert result.body == b""
    assert result.header("Content-Length") is None
    assert result.header("Etag") == etag


def test_json_dict(app: Application) -> None:
    result = get(app, "/json")
    assert result.header("Content-Type") == "application/json; charset=UTF-8"
    assert result.json() == {"answer": 42, "text": "caf\u00e9"}


def test_flushed_body_is_buffered_and_given_a_length(app: Application) -> None:
    result = get(app, "/streamed")
    assert result.body == b"one,two,three"
    assert result.header("Content-Length") == "13"
    assert result.header("Transfer-Encoding") is None


@pytest.mark.parametrize("path", ["/big", "/big-streamed"])
def test_gzip_keeps_a_matching_content_length(path: str) -> None:
    class Big(RequestHandler):
        def get(self) -> None:
            self.write({"items": list(range(1000))})

    class BigStreamed(RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "text/plain")
            for i in range(100):
                self.write(f"line {i}\n")
                self.flush()

    app = Application([(r"/big", Big), (r"/big-streamed", BigStreamed)], compress_response=True)
    result = get(app, path, HTTP_ACCEPT_ENCODING="gzip")
    assert result.header("Content-Encoding") == "gzip"
    assert result.header("Content-Length") == str(len(result.body))
    text = gzip.decompress(result.body).decode()
    if path == "/big":
        assert json.loads(text) == {"items": list(range(1000))}
    else:
        assert text == "".join(f"line {i}\n" for i in range(100))


def test_hop_by_hop_headers_are_left_to_the_server(app: Application) -> None:
    result = get(app, "/hop")
    names = {name.lower() for name, _ in result.headers}
    assert "connection" not in names
    assert "keep-alive" not in names
    assert "transfer-encoding" not in names
    assert result.header("X-Kept") == "yes"


def test_body_shorter_than_declared_length_is_500(
    app: Application, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="squall.application"):
        result = get(app, "/lying-length")
    assert result.code == 500
    assert result.body != b"short"
    assert any("Broken response of LyingLengthHandler" in r.getMessage() for r in caplog.records)


def test_websocket_is_refused(app: Application, no_leaks: None) -> None:
    environ = make_environ(
        "/ws",
        SERVER_PROTOCOL="HTTP/1.1",
        HTTP_UPGRADE="websocket",
        HTTP_CONNECTION="Upgrade",
        HTTP_SEC_WEBSOCKET_VERSION="13",
        HTTP_SEC_WEBSOCKET_KEY="dGhlIHNhbXBsZSBub25jZQ==",
    )
    with pytest.raises(WSGIAdapterError, match=r"EchoSocket streams its request body"):
        call(app, environ)


def test_access_log(app: Application, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="squall.access"):
        get(app, "/query", query="x=1", REMOTE_ADDR="198.51.100.7")
        get(app, "/no/such/path", REMOTE_ADDR="198.51.100.7")
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "squall.access"]
    assert len(lines) == 2
    assert lines[0][0] == logging.INFO
    assert lines[0][1].startswith("200 GET /query?x=1 (198.51.100.7) ")
    assert lines[1][0] == logging.WARNING
    assert lines[1][1].startswith("404 GET /no/such/path (198.51.100.7) ")


# -- synchronous and not --------------------------------------------------------------------


def test_sync_handler_runs_without_a_running_loop(app: Application) -> None:
    # As under Tornado 5: blocking code (a blocking HTTPClient) may run.
    assert get(app, "/loop").json() == {"running": False}


def test_sync_handler_may_run_the_current_ioloop(app: Application, no_leaks: None) -> None:
    assert get(app, "/run-sync").text == "ran the loop"


def test_coroutine_that_does_not_wait_finishes(app: Application) -> None:
    assert get(app, "/coroutine").text == "coroutine"
    assert get(app, "/gen-coroutine").text == "gen coroutine"


def test_callbacks_left_ready_run_before_the_response(app: Application) -> None:
    assert get(app, "/callback").text == "a,b"


@pytest.fixture
def no_leaks(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail on any sign of a coroutine or Task left behind.

    "coroutine ... was never awaited" is a RuntimeWarning (or, raised from
    a finalizer, an unraisable exception); "Task was destroyed but it is
    pending!" and "Task exception was never retrieved" are logged by
    asyncio. The garbage is collected inside the check.
    """
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            yield
            gc.collect()
    assert [str(w.message) for w in caught] == []
    assert unraisable == []
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_asynchronous_handler_that_does_not_finish_raises(app: Application, no_leaks: None) -> None:
    NeverFinishesHandler.closed = False
    with pytest.raises(WSGIAdapterError) as info:
        get(app, "/never")
    message = str(info.value)
    assert "NeverFinishesHandler" in message
    assert "GET /never" in message
    assert "synchronously" in message
    assert NeverFinishesHandler.closed  # told, as when a client goes away


def test_coroutine_waiting_for_a_future_raises_and_is_cancelled(
    app: Application, no_leaks: None, caplog: pytest.LogCaptureFixture
) -> None:
    WaitsForFutureHandler.closed = WaitsForFutureHandler.cancelled = False
    with caplog.at_level(logging.DEBUG, logger="squall"):
        with pytest.raises(WSGIAdapterError, match=r"WaitsForFutureHandler did not finish"):
            get(app, "/future")
    assert WaitsForFutureHandler.closed
    assert WaitsForFutureHandler.cancelled
    # Abandoned quietly: no "Request cancelled" warning, no 503 attempt.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("squall")] == []


def test_coroutine_waiting_for_a_timer_raises_at_once(app: Application, no_leaks: None) -> None:
    start = time.monotonic()
    with pytest.raises(WSGIAdapterError, match=r"SleepsHandler did not finish"):
        get(app, "/sleeps")
    assert time.monotonic() - start < WAIT  # not the 30 s of the sleep


def test_background_task_of_a_finished_handler_is_cancelled(
    app: Application, no_leaks: None
) -> None:
    assert get(app, "/spawns").text == "spawned"


def test_stream_request_body_handler_raises(app: Application, no_leaks: None) -> None:
    with pytest.raises(WSGIAdapterError, match=r"StreamingHandler streams its request body"):
        get(app, "/streaming", method="POST", body=b"data")


def test_each_request_leaves_the_current_ioloop_as_it_was(app: Application) -> None:
    def run() -> tuple[Any, Any]:
        before = IOLoop.current(instance=False)
        get(app, "/coroutine")
        return before, IOLoop.current(instance=False)

    results: list[tuple[Any, Any]] = []
    thread = threading.Thread(target=lambda: results.append(run()))
    thread.start()
    thread.join(WAIT)
    assert results == [(None, None)]


def test_called_from_a_running_loop(app: Application) -> None:
    async def main() -> Result:
        return get(app, "/coroutine")

    assert asyncio.run(main()).text == "coroutine"


def test_concurrent_threads(app: Application) -> None:
    results: dict[int, str] = {}

    def worker(n: int) -> None:
        for i in range(20):
            result = get(app, f"/path/t/{n * 100 + i}")
            results[n * 100 + i] = result.text

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert results == {key: f"t|{key}" for key in results}
    assert len(results) == 80


# -- a real WSGI server ------------------------------------------------------------------


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.network
def test_served_by_wsgiref(app: Application) -> None:
    server = wsgiref.simple_server.make_server(
        "127.0.0.1", 0, WSGIAdapter(app), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/query?x=1&y=2&y=3", timeout=WAIT) as response:
            assert response.status == 200
            assert response.read() == b"x=1 y=2,3"

        form = urllib.parse.urlencode({"name": "Zo\u00eb", "tag": "t"}).encode()
        with urllib.request.urlopen(f"{base}/form", data=form, timeout=WAIT) as response:
            assert response.read().decode() == "name=Zo\u00eb tags=['t']"

        with urllib.request.urlopen(f"{base}/echo/caf%C3%A9", timeout=WAIT) as response:
            assert json.loads(response.read())["arg"] == "caf\u00e9"

        with urllib.request.urlopen(f"{base}/cookies", timeout=WAIT) as response:
            assert response.headers.get_all("Set-Cookie") == [
                "first=1; Path=/",
                "second=2; HttpOnly; Path=/",
            ]

        with urllib.request.urlopen(f"{base}/hop", timeout=WAIT) as response:
            assert response.read() == b"hop"

        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base}/forbidden", timeout=WAIT)
        assert info.value.code == 403
        assert info.value.reason == "Go Away"
        info.value.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)
