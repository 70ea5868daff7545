"""squall.web: status codes, errors, headers, output and arguments (no sockets)."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from typing import Any

import pytest
from squall import web
from squall.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine
from squall.testing import ExpectLog


class HelloHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class ArgHandler(web.RequestHandler):
    def get(self) -> None:
        self.write(self.get_argument("name"))

    def post(self) -> None:
        self.write(self.get_argument("name"))


class BoomHandler(web.RequestHandler):
    def get(self) -> None:
        raise ZeroDivisionError("boom")


def make_app(**settings: Any) -> web.Application:
    return web.Application(
        [
            (r"/", HelloHandler),
            (r"/arg", ArgHandler),
            (r"/boom", BoomHandler),
        ],
        **settings,
    )


# -- the seed's status codes ------------------------------------------------------


async def test_200_success(fake_client: Any) -> None:
    response = await fake_client(make_app()).fetch("/")
    assert response.code == 200
    assert response.reason == "OK"
    assert response.body == b"Hello, world"
    assert response.headers["Content-Length"] == "12"
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert response.headers["Server"].startswith("SquallServer/")
    assert response.headers["Etag"].startswith('"')
    # The connection adds the Date header, once per second.
    assert "Date" not in response.headers


async def test_every_response_starts_from_fresh_default_headers(fake_client: Any) -> None:
    class Changer(web.RequestHandler):
        def get(self) -> None:
            # (add appends to the value list the defaults started with)
            self.add_header("Server", "extra")
            self.add_header("Content-Type", "text/plain")
            self.write("changed")

    client = fake_client(web.Application([(r"/change", Changer), (r"/", HelloHandler)]))
    changed = await client.fetch("/change")
    assert changed.headers.get_list("Server")[1:] == ["extra"]
    for _ in range(2):
        response = await client.fetch("/")
        assert response.headers.get_list("Server") == changed.headers.get_list("Server")[:1]
        assert response.headers.get_list("Content-Type") == ["text/html; charset=UTF-8"]


async def test_404_no_route(fake_client: Any) -> None:
    with ExpectLog("squall.access", "404 GET /nowhere", required=False):
        response = await fake_client(make_app()).fetch("/nowhere")
    assert response.code == 404
    assert b"404: Not Found" in response.body


async def test_404_for_any_method_even_with_xsrf(fake_client: Any) -> None:
    response = await fake_client(make_app(xsrf_cookies=True)).fetch(
        "/nowhere", method="POST", body=b"x=1"
    )
    assert response.code == 404


async def test_400_missing_argument(fake_client: Any) -> None:
    with ExpectLog("squall.general", r"400 GET /arg \(127.0.0.1\): Missing argument name"):
        response = await fake_client(make_app()).fetch("/arg")
    assert response.code == 400
    assert b"400: Bad Request" in response.body


async def test_missing_argument_error_is_http_error() -> None:
    error = web.MissingArgumentError("q")
    assert isinstance(error, web.HTTPError)
    assert error.status_code == 400
    assert error.arg_name == "q"
    assert str(error) == "HTTP 400: Bad Request (Missing argument q)"


async def test_405_method_not_defined_has_allow(fake_client: Any) -> None:
    response = await fake_client(make_app()).fetch("/", method="POST", body=b"")
    assert response.code == 405
    assert response.headers["Allow"] == "GET"
    response = await fake_client(make_app()).fetch("/arg", method="DELETE")
    assert response.code == 405
    assert response.headers["Allow"] == "GET, POST"


async def test_405_method_not_supported(fake_client: Any) -> None:
    class OnlyGet(web.RequestHandler):
        SUPPORTED_METHODS = ("GET",)

        def get(self) -> None:
            self.write("ok")

        def post(self) -> None:  # defined, but not supported
            self.write("never")

    app = web.Application([(r"/", OnlyGet)])
    response = await fake_client(app).fetch("/", method="POST", body=b"")
    assert response.code == 405
    assert response.headers["Allow"] == "GET"


async def test_500_uncaught_exception_logged_not_shown(fake_client: Any) -> None:
    with ExpectLog("squall.application", r"Uncaught exception GET /boom") as log:
        response = await fake_client(make_app()).fetch("/boom")
    assert response.code == 500
    assert b"500: Internal Server Error" in response.body
    assert b"ZeroDivisionError" not in response.body
    record = log.records[0]
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


@pytest.mark.parametrize(
    "settings", [{"serve_traceback": True}, {"debug": True, "autoreload": False}]
)
async def test_500_traceback_with_serve_traceback(fake_client: Any, settings: Any) -> None:
    with ExpectLog("squall.application", "Uncaught exception"):
        response = await fake_client(make_app(**settings)).fetch("/boom")
    assert response.code == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    assert b"Traceback (most recent call last)" in response.body
    assert b"ZeroDivisionError: boom" in response.body


async def test_http_error_with_reason_and_log_message(fake_client: Any) -> None:
    class Teapot(web.RequestHandler):
        def get(self) -> None:
            raise web.HTTPError(418, "brewing %s", "tea", reason="I Am A Teapot")

    with ExpectLog("squall.general", r"418 GET / \(127.0.0.1\): brewing tea"):
        response = await fake_client(web.Application([(r"/", Teapot)])).fetch("/")
    assert response.code == 418
    assert response.reason == "I Am A Teapot"
    assert b"418: I Am A Teapot" in response.body


async def test_http_error_str() -> None:
    assert str(web.HTTPError(404)) == "HTTP 404: Not Found"
    assert str(web.HTTPError(599)) == "HTTP 599: Unknown"
    assert str(web.HTTPError(500, "50% done")) == "HTTP 500: Internal Server Error (50% done)"
    assert str(web.HTTPError(500, "%s items", 3)) == "HTTP 500: Internal Server Error (3 items)"
    assert isinstance(web.HTTPError(), web.WebError)


async def test_http_error_unknown_code_needs_no_reason(fake_client: Any) -> None:
    class Odd(web.RequestHandler):
        def get(self) -> None:
            raise web.HTTPError(599)

    response = await fake_client(web.Application([(r"/", Odd)])).fetch("/")
    assert (response.code, response.reason) == (599, "Unknown")


async def test_finish_exception(fake_client: Any) -> None:
    class Early(web.RequestHandler):
        def prepare(self) -> None:
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Basic realm="x"')
            raise web.Finish("go away")

        def get(self) -> None:
            raise AssertionError("never called")

    response = await fake_client(web.Application([(r"/", Early)])).fetch("/")
    assert response.code == 401
    assert response.body == b"go away"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="x"'


async def test_finish_exception_without_chunk(fake_client: Any) -> None:
    class Early(web.RequestHandler):
        def get(self) -> None:
            self.write("partial")
            raise web.Finish()

    response = await fake_client(web.Application([(r"/", Early)])).fetch("/")
    assert (response.code, response.body) == (200, b"partial")


class CustomErrorHandler(web.RequestHandler):
    seen: list[Any] = []

    def get(self) -> None:
        if self.get_argument("how") == "raise":
            raise KeyError("missing thing")
        self.send_error(503, reason="Later")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.seen.append(kwargs)
        exc_info = kwargs.get("exc_info")
        kind = exc_info[0].__name__ if exc_info else "none"
        self.finish({"status": status_code, "exception": kind})


async def test_write_error_override(fake_client: Any) -> None:
    app = web.Application([(r"/", CustomErrorHandler)])
    client = fake_client(app)
    CustomErrorHandler.seen.clear()
    with ExpectLog("squall.application", "Uncaught exception"):
        response = await client.fetch("/?how=raise")
    assert response.code == 500
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert response.body == b'{"status": 500, "exception": "KeyError"}'
    response = await client.fetch("/?how=send")
    assert (response.code, response.reason) == (503, "Later")
    assert response.body == b'{"status": 503, "exception": "none"}'
    # A missing argument goes through write_error too, with exc_info.
    response = await client.fetch("/")
    assert response.code == 400
    assert response.body == b'{"status": 400, "exception": "MissingArgumentError"}'


async def test_write_error_that_raises_still_finishes(fake_client: Any) -> None:
    class Broken(web.RequestHandler):
        def get(self) -> None:
            raise web.HTTPError(400)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            raise RuntimeError("broken error page")

    with ExpectLog("squall.application", "Uncaught exception in write_error"):
        response = await fake_client(web.Application([(r"/", Broken)])).fetch("/")
    assert response.code == 400
    assert response.body == b""


async def test_send_error_after_flush_ends_response(fake_client: Any) -> None:
    class Streaming(web.RequestHandler):
        async def get(self) -> None:
            self.write("first part")
            await self.flush()
            raise ValueError("too late for a 500")

    with (
        ExpectLog("squall.application", "Uncaught exception"),
        ExpectLog("squall.general", "Cannot send error response after headers written"),
    ):
        response = await fake_client(web.Application([(r"/", Streaming)])).fetch("/")
    assert response.code == 200
    assert response.body == b"first part"
    assert response.connection.finished


async def test_default_handler_class(fake_client: Any) -> None:
    class Missing(web.RequestHandler):
        def initialize(self, message: str) -> None:
            self.message = message

        def prepare(self) -> None:
            self.set_status(404)
            self.finish(self.message)

    app = web.Application(
        [(r"/", HelloHandler)],
        default_handler_class=Missing,
        default_handler_args={"message": "nothing here"},
    )
    response = await fake_client(app).fetch("/a/b")
    assert (response.code, response.body) == (404, b"nothing here")


async def test_error_handler_and_redirect_handler(fake_client: Any) -> None:
    app = web.Application(
        [
            (r"/gone", web.ErrorHandler, {"status_code": 410}),
            (r"/old/(.*)", web.RedirectHandler, {"url": "/new/{0}"}),
            (r"/u/(?P<id>\d+)", web.RedirectHandler, {"url": "/user/{id}", "permanent": False}),
            (r"/evil/(.*)", web.RedirectHandler, {"url": "/{0}"}),
        ]
    )
    client = fake_client(app)
    assert (await client.fetch("/gone")).code == 410
    # Any standard method gets the handler's status, and an unmatched path
    # a 404, never a 405 with an empty Allow.
    for method in ("DELETE", "TRACE", "CONNECT"):
        response = await client.fetch("/gone", method=method)
        assert response.code == 410, method
        response = await client.fetch("/nowhere", method=method)
        assert (response.code, "Allow" in response.headers) == (404, False), method
    response = await client.fetch("/old/a/b?x=1&y=2")
    assert response.code == 301
    assert response.headers["Location"] == "/new/a/b?x=1&y=2"
    response = await client.fetch("/old/c?q=caf%C3%A9&r=%E9")
    assert response.headers["Location"] == "/new/c?q=caf%C3%A9&r=%E9"
    response = await client.fetch("/u/42")
    assert (response.code, response.headers["Location"]) == (302, "/user/42")
    # A path group never turns the target into another site.
    response = await client.fetch("/evil//attacker.example")
    assert response.headers["Location"] == "/attacker.example"
    response = await client.fetch("/evil/\\attacker.example")
    assert response.headers["Location"] == "/attacker.example"


async def test_fallback_handler(fake_client: Any) -> None:
    calls = []

    def fallback(request: Any) -> None:
        calls.append(request.path)
        connection = request.connection
        connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": "8"}),
            b"fallback",
        )
        connection.finish()

    app = web.Application(
        [(r"/", HelloHandler), (r".*", web.FallbackHandler, {"fallback": fallback})]
    )
    response = await fake_client(app).fetch("/elsewhere")
    assert response.body == b"fallback"
    assert calls == ["/elsewhere"]


# -- headers ----------------------------------------------------------------------


class HeaderHandler(web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("X-Default", "yes")

    def get(self) -> None:
        what = self.get_argument("what", "")
        if what == "crlf-value":
            self.set_header("X-Bad", "a\r\nSet-Cookie: evil=1")
        elif what == "lf-add":
            self.add_header("X-Bad", "a\nb")
        elif what == "bad-name":
            self.set_header("X Bad", "v")
        elif what == "nul":
            self.set_header("X-Bad", "a\x00b")
        elif what == "not-latin1":
            self.set_header("X-Bad", "snow \u2603")
        elif what == "bad-type":
            self.set_header("X-Bad", 1.5)
        elif what == "error":
            raise web.HTTPError(409)
        self.set_header("X-Int", 42)
        self.set_header("X-Bytes", b"caf\xe9")
        self.set_header("X-Date", datetime.datetime(2020, 1, 2, 3, 4, 5))
        self.add_header("X-Multi", "a")
        self.add_header("X-Multi", "b")
        self.set_header("X-Tab", "a\tb")
        self.set_header("X-Gone", "x")
        self.clear_header("X-Gone")
        self.clear_header("X-Never-Set")
        self.write("ok")


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("crlf-value", "unsafe value for header 'X-Bad'"),
        ("lf-add", "unsafe value for header 'X-Bad'"),
        ("bad-name", "invalid header name 'X Bad'"),
        ("nul", "unsafe value for header 'X-Bad'"),
        ("not-latin1", "value for header 'X-Bad' cannot be encoded"),
        ("bad-type", "unsupported value for header 'X-Bad'"),
    ],
)
async def test_unsafe_header_refused(fake_client: Any, what: str, message: str) -> None:
    app = web.Application([(r"/", HeaderHandler)])
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(app).fetch(f"/?what={what}")
    assert response.code == 500
    error = log.records[0].exc_info[1]  # type: ignore[index]
    assert message in str(error)
    if what != "bad-type":
        assert isinstance(error, web.UnsafeHeaderError)
        assert isinstance(error, ValueError)
    assert "X-Bad" not in response.headers
    assert b"evil" not in response.body


async def test_header_conversions(fake_client: Any) -> None:
    response = await fake_client(web.Application([(r"/", HeaderHandler)])).fetch("/")
    headers = response.headers
    assert headers["X-Default"] == "yes"
    assert headers["X-Int"] == "42"
    assert headers["X-Bytes"] == "caf\xe9"
    assert headers["X-Date"] == "Thu, 02 Jan 2020 03:04:05 GMT"
    assert headers.get_list("X-Multi") == ["a", "b"]
    assert headers["X-Tab"] == "a\tb"
    assert "X-Gone" not in headers


async def test_default_headers_survive_errors(fake_client: Any) -> None:
    response = await fake_client(web.Application([(r"/", HeaderHandler)])).fetch("/?what=error")
    assert response.code == 409
    assert response.headers["X-Default"] == "yes"
    assert "X-Int" not in response.headers


async def test_set_status_checks(fake_client: Any) -> None:
    class Status(web.RequestHandler):
        def get(self) -> None:
            what = self.get_argument("what")
            if what == "custom":
                self.set_status(299, "Fine Enough")
            elif what == "bad-code":
                self.set_status(1000)
            elif what == "bad-reason":
                self.set_status(200, "OK\r\nX: y")
            self.write(str(self.get_status()))

    client = fake_client(web.Application([(r"/", Status)]))
    response = await client.fetch("/?what=custom")
    assert (response.code, response.reason, response.body) == (299, "Fine Enough", b"299")
    for what, error in (("bad-code", web.UsageError), ("bad-reason", web.UnsafeHeaderError)):
        with ExpectLog("squall.application", "Uncaught exception") as log:
            response = await client.fetch(f"/?what={what}")
        assert response.code == 500
        assert isinstance(log.records[0].exc_info[1], error)  # type: ignore[index]


# -- output -----------------------------------------------------------------------


class OutputHandler(web.RequestHandler):
    def get(self) -> None:
        what = self.get_argument("what")
        if what == "json":
            self.write({"a": 1, "html": "</script>"})
        elif what == "list":
            self.write([1, 2])  # type: ignore[arg-type]
        elif what == "after-finish":
            self.finish("done")
            self.write("more")
        elif what == "finish-twice":
            self.finish()
            self.finish()
        elif what == "pieces":
            self.write("a")
            self.write(b"b")
            self.write("\u00e9")
        elif what == "204-with-body":
            self.set_status(204)
            self.write("body")
        elif what == "204":
            self.set_status(204)
        elif what == "no-etag":
            self.write("x")
        elif what == "redirect":
            self.redirect("/there")
        elif what == "redirect-permanent":
            self.redirect("/there", permanent=True)
        elif what == "redirect-303":
            self.redirect("/there", status=303)
        elif what == "redirect-bad-status":
            self.redirect("/there", status=200)
        elif what == "redirect-crlf":
            self.redirect("/there\r\nSet-Cookie: a=b")
        elif what == "redirect-after-flush":
            self.flush()
            self.redirect("/there")


class NoEtag(OutputHandler):
    def compute_etag(self) -> str | None:
        return None


@pytest.mark.parametrize(
    ("what", "code", "body"),
    [
        ("json", 200, b'{"a": 1, "html": "<\\/script>"}'),
        ("pieces", 200, "ab\u00e9".encode()),
        ("after-finish", 200, b"done"),
        ("finish-twice", 200, b""),
        ("204", 204, b""),
        ("no-etag", 200, b"x"),
    ],
)
async def test_output(fake_client: Any, what: str, code: int, body: bytes) -> None:
    app = web.Application([(r"/", NoEtag if what == "no-etag" else OutputHandler)])
    expect_error = what in ("after-finish", "finish-twice")
    with ExpectLog("squall.application", "Uncaught exception", required=expect_error) as log:
        response = await fake_client(app).fetch(f"/?what={what}")
    assert (response.code, response.body) == (code, body)
    if expect_error:
        assert isinstance(log.records[0].exc_info[1], web.UsageError)  # type: ignore[index]
    if what == "json":
        assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    if what == "204":
        assert "Content-Type" not in response.headers
        assert "Content-Length" not in response.headers
    if what == "no-etag":
        assert "Etag" not in response.headers


async def test_write_list_refused(fake_client: Any) -> None:
    app = web.Application([(r"/", OutputHandler)])
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(app).fetch("/?what=list")
    assert response.code == 500
    error = log.records[0].exc_info[1]  # type: ignore[index]
    assert isinstance(error, TypeError) and "list" in str(error)


async def test_body_with_204_refused(fake_client: Any) -> None:
    app = web.Application([(r"/", OutputHandler)])
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(app).fetch("/?what=204-with-body")
    assert response.code == 500
    assert "cannot send a body with status 204" in str(log.records[0].exc_info[1])  # type: ignore[index]


@pytest.mark.parametrize(
    ("what", "code"),
    [("redirect", 302), ("redirect-permanent", 301), ("redirect-303", 303)],
)
async def test_redirect(fake_client: Any, what: str, code: int) -> None:
    response = await fake_client(web.Application([(r"/", OutputHandler)])).fetch(f"/?what={what}")
    assert response.code == code
    assert response.headers["Location"] == "/there"
    assert response.body == b""


@pytest.mark.parametrize(
    ("what", "error"),
    [
        ("redirect-bad-status", web.UsageError),
        ("redirect-crlf", web.UnsafeHeaderError),
        ("redirect-after-flush", web.UsageError),
    ],
)
async def test_redirect_errors(fake_client: Any, what: str, error: type) -> None:
    app = web.Application([(r"/", OutputHandler)])
    with (
        ExpectLog("squall.application", "Uncaught exception") as log,
        ExpectLog("squall.general", "Cannot send error", required=False),
    ):
        response = await fake_client(app).fetch(f"/?what={what}")
    assert isinstance(log.records[0].exc_info[1], error)  # type: ignore[index]
    assert "Location" not in response.headers
    if what != "redirect-after-flush":
        assert response.code == 500


async def test_flush_streams_without_length(fake_client: Any) -> None:
    class Stream(web.RequestHandler):
        async def get(self) -> None:
            self.write("one,")
            await self.flush()
            self.write("two,")
            await self.flush()
            self.write("three")

    response = await fake_client(web.Application([(r"/", Stream)])).fetch("/")
    assert response.body == b"one,two,three"
    assert "Content-Length" not in response.headers
    assert "Etag" not in response.headers
    assert response.connection.writes == 3


async def test_flush_callback(fake_client: Any) -> None:
    called = []

    class Stream(web.RequestHandler):
        @web.asynchronous
        def get(self) -> None:
            self.write("x")
            self.flush(callback=lambda: called.append("flushed"))
            self.finish()

    response = await fake_client(web.Application([(r"/", Stream)])).fetch("/")
    assert response.body == b"x"
    assert called == ["flushed"]


async def test_head_has_length_but_no_body(fake_client: Any) -> None:
    class Both(web.RequestHandler):
        def get(self) -> None:
            self.write("twelve bytes")

        head = get

    response = await fake_client(web.Application([(r"/", Both)])).fetch("/", method="HEAD")
    assert response.code == 200
    assert response.headers["Content-Length"] == "12"
    assert response.body == b""


async def test_etag_and_if_none_match(fake_client: Any) -> None:
    client = fake_client(make_app())
    first = await client.fetch("/")
    etag = first.headers["Etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await client.fetch("/", headers={"If-None-Match": header})
        assert response.code == 304, header
        assert response.body == b""
        assert "Content-Type" not in response.headers
        assert response.headers["Etag"] == etag
    response = await client.fetch("/", headers={"If-None-Match": '"different"'})
    assert (response.code, response.body) == (200, b"Hello, world")
    response = await client.fetch("/", headers={"If-None-Match": "garbage"})
    assert response.code == 200


async def test_default_etag_is_the_sha1_of_each_body(fake_client: Any) -> None:
    # The default tag is remembered for the last body: alternating bodies,
    # a repeated one, one written in pieces, and a bytearray changed in
    # place after it was written all get the tag of what was sent.
    shared = bytearray(b"mutable")

    class Bodies(web.RequestHandler):
        def get(self, which: str) -> None:
            if which == "pieces":
                self.write("a")
                self.write("b")
            elif which == "array":
                self.write(bytes(shared))
                self._write_buffer[0] = shared  # type: ignore[call-overload]  # as a subclass might
            else:
                self.write(which)

    client = fake_client(web.Application([(r"/(\w+)", Bodies)]))
    for which in ("one", "two", "two", "one", "pieces", "ab", "array"):
        response = await client.fetch(f"/{which}")
        assert response.headers["Etag"] == f'"{hashlib.sha1(response.body).hexdigest()}"'
        etag = response.headers["Etag"]
        assert (await client.fetch(f"/{which}", headers={"If-None-Match": etag})).code == 304
    shared[:] = b"changed"
    response = await client.fetch("/array")
    assert response.body == b"changed"
    assert response.headers["Etag"] == f'"{hashlib.sha1(b"changed").hexdigest()}"'


async def test_etag_override_checked(fake_client: Any) -> None:
    class Tagged(web.RequestHandler):
        def compute_etag(self) -> str | None:
            return '"v1"'

        def get(self) -> None:
            self.write("data")

    class BadTag(Tagged):
        def compute_etag(self) -> str | None:
            return '"v1"\r\nX: y'

    app = web.Application([(r"/", Tagged), (r"/bad", BadTag)])
    client = fake_client(app)
    response = await client.fetch("/")
    assert response.headers["Etag"] == '"v1"'
    assert (await client.fetch("/", headers={"If-None-Match": '"v1"'})).code == 304
    with ExpectLog("squall.application", "Uncaught exception"):
        assert (await client.fetch("/bad")).code == 500


async def test_no_etag_for_post_or_non_200(fake_client: Any) -> None:
    class Post(web.RequestHandler):
        def post(self) -> None:
            self.write("created")

        def get(self) -> None:
            self.set_status(201)
            self.write("created")

    client = fake_client(web.Application([(r"/", Post)]))
    assert "Etag" not in (await client.fetch("/", method="POST", body=b"")).headers
    assert "Etag" not in (await client.fetch("/")).headers


# -- arguments ----------------------------------------------------------------------


class ArgsHandler(web.RequestHandler):
    def get(self, *args: Any, **kwargs: Any) -> None:
        self.write(
            {
                "args": self.path_args,
                "kwargs": self.path_kwargs,
                "a": self.get_argument("a", None),
                "all_a": self.get_arguments("a"),
                "raw": self.get_argument("raw", None, strip=False),
                "q": self.get_query_argument("a", None),
                "qs": self.get_query_arguments("a"),
            }
        )

    def post(self, *args: Any, **kwargs: Any) -> None:
        files = self.request.files.get("upload", [])
        self.write(
            {
                "a": self.get_argument("a", None),
                "all_a": self.get_arguments("a"),
                "body": self.get_body_argument("a", None),
                "bodies": self.get_body_arguments("a"),
                "query": self.get_query_argument("a", None),
                "files": [(f.filename, f.body.decode()) for f in files],
            }
        )


def args_app() -> web.Application:
    return web.Application(
        [
            (r"/pos/(\w+)/(\d+)?", ArgsHandler),
            (r"/named/(?P<first>[^/]+)/(?P<second>[^/]+)", ArgsHandler),
            (r"/any/(.*)", ArgsHandler),
            (r"/", ArgsHandler),
        ]
    )


async def test_query_arguments(fake_client: Any) -> None:
    response = await fake_client(args_app()).fetch("/?a=1&a=%20two%20&raw=%20x%20")
    data = json.loads(response.body)
    assert data["a"] == "two"
    assert data["all_a"] == ["1", "two"]
    assert data["raw"] == " x "
    assert data["q"] == "two"
    assert data["qs"] == ["1", "two"]


async def test_control_characters_replaced(fake_client: Any) -> None:
    response = await fake_client(args_app()).fetch("/?a=x%00y%1fz%09w")
    assert json.loads(response.body)["a"] == "x y z\tw"
    # Only U+0000-U+0008 and U+000E-U+001F are replaced; other characters
    # str.isprintable refuses (VT, CR, DEL, NBSP) are kept.
    response = await fake_client(args_app()).fetch("/?raw=%0b%0d%7f%C2%A0%C3%A9%0e%08")
    assert json.loads(response.body)["raw"] == "\x0b\r\x7f\xa0\xe9  "
    response = await fake_client(args_app()).fetch(
        "/",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"a=caf%C3%A9%01+%E2%98%83",
    )
    assert json.loads(response.body)["a"] == "caf\xe9  \u2603"


async def test_invalid_utf8_argument_is_400(fake_client: Any) -> None:
    with ExpectLog("squall.general", r"400 GET .*Invalid unicode in a"):
        response = await fake_client(args_app()).fetch("/?a=%ff%fe")
    assert response.code == 400


async def test_path_arguments(fake_client: Any) -> None:
    client = fake_client(args_app())
    data = json.loads((await client.fetch("/pos/abc/12")).body)
    assert data["args"] == ["abc", "12"]
    data = json.loads((await client.fetch("/pos/abc/")).body)
    assert data["args"] == ["abc", None]
    data = json.loads((await client.fetch("/named/a%20b/c%2Fd")).body)
    assert data["kwargs"] == {"first": "a b", "second": "c/d"}
    assert data["args"] == []
    with ExpectLog("squall.general", r"400 GET .*Invalid unicode in url"):
        assert (await client.fetch("/any/%ff")).code == 400


async def test_decode_argument_override(fake_client: Any) -> None:
    class Latin1(web.RequestHandler):
        def decode_argument(self, value: bytes, name: str | None = None) -> Any:
            return value.decode("latin-1")

        def get(self, word: str) -> None:
            self.write(word + "|" + self.get_argument("q"))

    response = await fake_client(web.Application([(r"/(.*)", Latin1)])).fetch("/caf%e9?q=%e9")
    assert response.body == "caf\u00e9|\u00e9".encode()


async def test_path_arguments_reach_decode_argument_as_bytes(fake_client: Any) -> None:
    # Tornado's contract: an overridden decode_argument gets the raw bytes
    # of every path group, escaped or not (only the default one is skipped).
    seen: list[Any] = []

    class Recording(web.RequestHandler):
        def decode_argument(self, value: bytes, name: str | None = None) -> Any:
            seen.append(value)
            return super().decode_argument(value, name)

        def get(self, *args: str, **kwargs: str) -> None:
            self.write({"args": list(args), "kwargs": kwargs})

    app = web.Application(
        [
            (r"/pos/(\w+)/([^/]+)/(\d+)?", Recording),
            (r"/named/(?P<first>[^/]+)/(?P<second>[^/]+)", Recording),
        ]
    )
    client = fake_client(app)
    data = json.loads((await client.fetch("/pos/plain/caf%C3%A9/")).body)
    assert data["args"] == ["plain", "caf\u00e9", None]
    assert seen == [b"plain", "caf\u00e9".encode(), None]
    seen.clear()
    data = json.loads((await client.fetch("/named/plain/a%2Fb")).body)
    assert data["kwargs"] == {"first": "plain", "second": "a/b"}
    assert seen == [b"plain", b"a/b"]


async def test_decode_argument_patched_after_routing_is_used(fake_client: Any) -> None:
    class Echo(web.RequestHandler):
        def get(self, word: str) -> None:
            self.write(word)

    client = fake_client(web.Application([(r"/w/(\w+)", Echo)]))
    assert (await client.fetch("/w/abc")).body == b"abc"
    # A class changed at run time: the next request sees the new method.
    Echo.decode_argument = lambda self, value, name=None: value.decode().upper()  # type: ignore[method-assign]
    assert (await client.fetch("/w/abc")).body == b"ABC"


async def test_path_arguments_with_and_without_escapes(fake_client: Any) -> None:
    client = fake_client(args_app())
    data = json.loads((await client.fetch("/named/plain/caf%C3%A9")).body)
    assert data["kwargs"] == {"first": "plain", "second": "caf\u00e9"}
    data = json.loads((await client.fetch("/any/x%41")).body)
    assert data["args"] == ["xA"]
    data = json.loads((await client.fetch("/pos/abc/")).body)
    assert data["args"] == ["abc", None]
    # "+" is a plus in a path, and a non-ASCII group without escapes stays itself.
    data = json.loads((await client.fetch("/any/a+b")).body)
    assert data["args"] == ["a+b"]
    with ExpectLog("squall.general", r"400 GET .*Invalid unicode in second"):
        assert (await client.fetch("/named/ok/%C3")).code == 400


async def test_body_arguments(fake_client: Any) -> None:
    response = await fake_client(args_app()).fetch(
        "/?a=q",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"a=b1&a=b2",
    )
    data = json.loads(response.body)
    assert data["all_a"] == ["q", "b1", "b2"]
    assert data["a"] == "b2"
    assert data["bodies"] == ["b1", "b2"]
    assert data["body"] == "b2"
    assert data["query"] == "q"


class ArgumentSourcesHandler(web.RequestHandler):
    """Reads arguments before and after changing ``request.arguments``."""

    def post(self) -> None:
        before = self.get_arguments("a")
        self.request.arguments.setdefault("added", []).append(b"yes")
        self.request.arguments["a"].append(b"late")
        self.write(
            {
                "before": before,
                "a": self.get_arguments("a"),
                "added": self.get_argument("added", None),
                "bodies": self.get_body_arguments("a"),
                "queries": self.get_query_arguments("a"),
            }
        )


@pytest.mark.parametrize(
    ("query", "body", "before"),
    [
        ("", b"a=b1&a=b2", ["b1", "b2"]),  # body alone
        ("?a=q1&a=q2", b"", ["q1", "q2"]),  # query alone
        ("?a=q", b"a=b", ["q", "b"]),  # both
    ],
)
async def test_arguments_from_one_or_both_sources(
    fake_client: Any, query: str, body: bytes, before: list[str]
) -> None:
    # get_argument reads a lone source directly; request.arguments stays a
    # separate dict whose changes get_argument then sees, and which leave
    # the query and body arguments alone.
    response = await fake_client(web.Application([(r"/", ArgumentSourcesHandler)])).fetch(
        "/" + query,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=body,
    )
    data = json.loads(response.body)
    assert data["before"] == before
    assert data["a"] == [*before, "late"]
    assert data["added"] == "yes"
    assert data["bodies"] == [v for v in before if v.startswith("b")]
    assert data["queries"] == [v for v in before if v.startswith("q")]


async def test_body_in_several_chunks(fake_client: Any) -> None:
    response = await fake_client(args_app()).fetch(
        "/",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        chunks=[b"a=he", b"llo&a", b"=world"],
    )
    assert json.loads(response.body)["all_a"] == ["hello", "world"]


async def test_multipart_upload(fake_client: Any) -> None:
    body = (
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="a"\r\n\r\n'
        b"field\r\n"
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="upload"; filename="f.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"file contents\r\n"
        b"--BOUNDARY--\r\n"
    )
    response = await fake_client(args_app()).fetch(
        "/",
        method="POST",
        headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
        body=body,
    )
    data = json.loads(response.body)
    assert data["a"] == "field"
    assert data["files"] == [["f.txt", "file contents"]]


async def test_malformed_body_is_client_error(fake_client: Any) -> None:
    with ExpectLog("squall.general", r"400 POST / \(127.0.0.1\)"):
        response = await fake_client(args_app()).fetch(
            "/",
            method="POST",
            headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
            body=b"--BOUNDARY\r\nno end in sight",
        )
    assert response.code == 400


async def test_too_many_query_arguments_is_client_error(fake_client: Any) -> None:
    from squall import httputil

    query = "&".join(f"a{i}=1" for i in range(httputil.DEFAULT_MAX_ARGUMENTS + 1))
    with ExpectLog("squall.general", r"400 GET"):
        response = await fake_client(args_app()).fetch("/?" + query)
    assert response.code == 400


# -- the rest of the life cycle ----------------------------------------------------


async def test_initialize_prepare_on_finish_order(fake_client: Any) -> None:
    events: list[str] = []

    class Life(web.RequestHandler):
        def initialize(self, tag: str) -> None:
            events.append(f"initialize {tag}")

        def prepare(self) -> None:
            events.append("prepare")

        def get(self) -> None:
            events.append("get")
            self.write("x")

        def on_finish(self) -> None:
            events.append("on_finish")

    await fake_client(web.Application([(r"/", Life, {"tag": "t"})])).fetch("/")
    assert events == ["initialize t", "prepare", "get", "on_finish"]


async def test_prepare_finishing_skips_method(fake_client: Any) -> None:
    class Gate(web.RequestHandler):
        def prepare(self) -> None:
            self.redirect("/login")

        def get(self) -> None:
            raise AssertionError("not reached")

    response = await fake_client(web.Application([(r"/", Gate)])).fetch("/")
    assert (response.code, response.headers["Location"]) == (302, "/login")


async def test_handler_constructor_failure_is_500(fake_client: Any) -> None:
    class BadInit(web.RequestHandler):
        def initialize(self) -> None:
            raise RuntimeError("cannot set up")

    with ExpectLog("squall.application", "Exception creating BadInit"):
        response = await fake_client(web.Application([(r"/", BadInit)])).fetch("/")
    assert response.code == 500


async def test_callable_application(fake_connection: Any) -> None:
    """Tornado 4 style: ``app(request)`` with a complete request."""
    connection = fake_connection()
    request = HTTPServerRequest("GET", "/", connection=connection, headers=HTTPHeaders())
    make_app()(request)
    assert connection.finished
    assert b"".join(connection.chunks) == b"Hello, world"


async def test_access_log_levels(fake_client: Any, caplog: Any) -> None:
    client = fake_client(make_app())
    with caplog.at_level(logging.INFO, logger="squall.access"):
        await client.fetch("/")
        await client.fetch("/arg")
        with ExpectLog("squall.application", "Uncaught"):
            await client.fetch("/boom")
    records = [r for r in caplog.records if r.name == "squall.access"]
    assert [(r.levelno, r.getMessage().split(" (")[0]) for r in records] == [
        (logging.INFO, "200 GET /"),
        (logging.WARNING, "400 GET /arg"),
        (logging.ERROR, "500 GET /boom"),
    ]
    assert records[0].getMessage().startswith("200 GET / (127.0.0.1) ")
    assert records[0].getMessage().endswith("ms")


async def test_access_log_costs_nothing_when_disabled(fake_client: Any) -> None:
    summaries = []

    class Counting(HelloHandler):
        def _request_summary(self) -> str:
            summaries.append(1)
            return super()._request_summary()

    logger = logging.getLogger("squall.access")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        await fake_client(web.Application([(r"/", Counting)])).fetch("/")
    finally:
        logger.setLevel(old)
    assert summaries == []


async def test_log_function_setting(fake_client: Any) -> None:
    seen = []
    app = make_app(
        log_function=lambda handler: seen.append((handler.get_status(), handler.request.uri))
    )
    await fake_client(app).fetch("/?x=1")
    assert seen == [(200, "/?x=1")]


async def test_hooks_patched_on_the_class_are_called(fake_client: Any) -> None:
    """Skipping default hooks must not skip ones patched in later (mock.patch.object)."""
    from unittest import mock

    client = fake_client(make_app())
    assert (await client.fetch("/")).code == 200  # the default hooks ran (were skipped)
    calls: list[str] = []
    with (
        mock.patch.object(HelloHandler, "prepare", lambda self: calls.append("prepare")),
        mock.patch.object(web.RequestHandler, "on_finish", lambda self: calls.append("finish")),
        mock.patch.object(
            web.RequestHandler, "set_default_headers", lambda self: self.set_header("X-P", "1")
        ),
        mock.patch.object(HelloHandler, "compute_etag", lambda self: None),
    ):
        response = await client.fetch("/")
    assert calls == ["prepare", "finish"]
    assert response.headers["X-P"] == "1"
    assert "Etag" not in response.headers
    response = await client.fetch("/")
    assert "X-P" not in response.headers and "Etag" in response.headers


async def test_callable_application_needs_a_handler_route(fake_connection: Any) -> None:
    from squall.web._decorators import stream_request_body

    @stream_request_body
    class Streaming(web.RequestHandler):
        pass

    app = web.Application([(r"/stream", Streaming), (r"/callable", lambda request: None)])
    for path in ("/stream", "/callable"):
        request = HTTPServerRequest(
            "GET", path, connection=fake_connection(), headers=HTTPHeaders()
        )
        with pytest.raises(web.UsageError, match="RequestHandler"):
            app(request)
