"""squall.web: settings, gzip, slash decorators, streamed bodies, listen() and real sockets."""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
from typing import Any

import pytest
from squall import web
from squall.testing import ExpectLog, bind_unused_port
from squall.web._decorators import _has_stream_request_body

# -- settings -------------------------------------------------------------------------


def test_debug_implies_development_settings() -> None:
    app = web.Application([], debug=True, autoreload=False)
    assert app.settings["serve_traceback"] is True
    assert app.settings["compiled_template_cache"] is False
    assert app.settings["static_hash_cache"] is False
    assert app.settings["autoreload"] is False
    explicit = web.Application([], debug=True, autoreload=False, serve_traceback=False)
    assert explicit.settings["serve_traceback"] is False


def test_autoreload_setting_starts_autoreload(monkeypatch: pytest.MonkeyPatch) -> None:
    from squall import autoreload

    started = []
    monkeypatch.setattr(autoreload, "start", lambda *a, **k: started.append(True))
    web.Application([], debug=True)
    web.Application([], autoreload=True)
    web.Application([])
    assert started == [True, True]


def test_websocket_settings_are_kept() -> None:
    app = web.Application([], websocket_ping_interval=10, websocket_max_message_size=1024)
    assert app.settings["websocket_ping_interval"] == 10


def test_public_api() -> None:
    expected = {
        "Application",
        "RequestHandler",
        "HTTPError",
        "Finish",
        "MissingArgumentError",
        "ErrorHandler",
        "RedirectHandler",
        "FallbackHandler",
        "StaticFileHandler",
        "OutputTransform",
        "GZipContentEncoding",
        "ChunkedTransferEncoding",
        "UIModule",
        "TemplateModule",
        "URLSpec",
        "url",
        "asynchronous",
        "authenticated",
        "addslash",
        "removeslash",
        "stream_request_body",
        "create_signed_value",
        "decode_signed_value",
        "get_signature_key_version",
        "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
        "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
        "DEFAULT_SIGNED_VALUE_VERSION",
        "DEFAULT_SIGNED_VALUE_MIN_VERSION",
        "WebError",
        "UsageError",
        "UnsafeHeaderError",
        "UnsafeCookieError",
        "MissingSettingError",
    }
    assert expected == set(web.__all__)
    for name in web.__all__:
        assert getattr(web, name) is not None
    assert web.RequestHandler.__module__ == "squall.web"
    with pytest.raises(AttributeError):
        web.NoSuchThing  # noqa: B018


# -- gzip ---------------------------------------------------------------------------------

BIG = "squall " * 400


class Text(web.RequestHandler):
    def get(self) -> None:
        kind = self.get_argument("kind", "big")
        if kind == "small":
            self.write("tiny")
        elif kind == "png":
            self.set_header("Content-Type", "image/png")
            self.write(BIG)
        elif kind == "json":
            self.write({"text": BIG})
        elif kind == "encoded":
            self.set_header("Content-Encoding", "br")
            self.write(BIG)
        else:
            self.set_header("Vary", "Cookie")
            self.write(BIG)

    head = get


class Streamed(web.RequestHandler):
    async def get(self) -> None:
        for i in range(3):
            self.write(f"part {i} " * 10)
            await self.flush()


def gzip_app() -> web.Application:
    return web.Application([(r"/", Text), (r"/stream", Streamed)], compress_response=True)


@pytest.mark.parametrize(
    ("accept", "kind", "gzipped"),
    [
        ("gzip", "big", True),
        ("gzip, deflate, br", "json", True),
        ("deflate, gzip;q=0.5", "big", True),
        ("*", "big", True),
        ("gzip;q=0", "big", False),
        ("identity", "big", False),
        (None, "big", False),
        ("gzip", "small", False),
        ("gzip", "png", False),
        ("gzip", "encoded", False),
    ],
)
async def test_gzip(fake_client: Any, accept: str | None, kind: str, gzipped: bool) -> None:
    headers = {"Accept-Encoding": accept} if accept is not None else {}
    response = await fake_client(gzip_app()).fetch(f"/?kind={kind}", headers=headers)
    assert response.code == 200
    assert "Accept-Encoding" in response.headers["Vary"]
    assert int(response.headers["Content-Length"]) == len(response.body)
    if gzipped:
        assert response.headers["Content-Encoding"] == "gzip"
        body = gzip.decompress(response.body)
        assert len(response.body) < len(body)
    else:
        assert response.headers.get("Content-Encoding") in (None, "br")
        body = response.body
    assert BIG.encode() in body or body == b"tiny"
    if kind == "big":
        assert response.headers["Vary"] == "Cookie, Accept-Encoding"


async def test_gzip_streamed(fake_client: Any) -> None:
    response = await fake_client(gzip_app()).fetch("/stream", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Content-Length" not in response.headers
    expected = "".join(f"part {i} " * 10 for i in range(3)).encode()
    assert gzip.decompress(response.body) == expected
    # Each flush produced output the client can already decompress.
    assert response.connection.writes >= 3


async def test_gzip_etag_304(fake_client: Any) -> None:
    client = fake_client(gzip_app())
    first = await client.fetch("/", headers={"Accept-Encoding": "gzip"})
    response = await client.fetch(
        "/", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["Etag"]}
    )
    assert response.code == 304
    assert "Content-Encoding" not in response.headers
    assert response.body == b""


async def test_gzip_over_sockets(serve: Any, raw_client: Any) -> None:
    client = await raw_client(serve(gzip_app()))
    response = await client.request("GET", "/", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(response.body) == BIG.encode()
    response = await client.request("GET", "/stream", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert gzip.decompress(response.body).startswith(b"part 0")
    response = await client.request("HEAD", "/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"


async def test_application_start_request_override_over_sockets(serve: Any, raw_client: Any) -> None:
    # A server connection reaches the dispatcher directly only while
    # Application.start_request is not overridden: an override runs for
    # every request.
    seen: list[str] = []

    class Hello(web.RequestHandler):
        def get(self) -> None:
            self.write("hello")

    class Tracing(web.Application):
        def start_request(self, server_conn: object, request_conn: Any) -> Any:
            seen.append("start")
            return super().start_request(server_conn, request_conn)

    client = await raw_client(serve(Tracing([(r"/", Hello)])))
    for _ in range(2):
        response = await client.request("GET", "/")
        assert (response.code, response.body) == (200, b"hello")
    assert seen == ["start", "start"]


class CustomTransform(web.OutputTransform):
    def transform_first_chunk(
        self, status_code: int, headers: Any, chunk: bytes, finishing: bool
    ) -> Any:
        headers["X-Transformed"] = "yes"
        return status_code, headers, chunk.upper()

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        return chunk.upper()


async def test_custom_transforms(fake_client: Any) -> None:
    app = web.Application([(r"/", Text), (r"/stream", Streamed)], transforms=[CustomTransform])
    response = await fake_client(app).fetch("/?kind=small")
    assert (response.body, response.headers["X-Transformed"]) == (b"TINY", "yes")
    app2 = web.Application([(r"/stream", Streamed)])
    app2.add_transform(CustomTransform)
    response = await fake_client(app2).fetch("/stream")
    assert response.body.startswith(b"PART 0")


# -- slashes -----------------------------------------------------------------------------------


class Slashes(web.RequestHandler):
    @web.removeslash
    def get(self) -> None:
        self.write(f"no slash: {self.request.path}")

    @web.removeslash
    def post(self) -> None:
        self.write("posted")


class AddSlash(web.RequestHandler):
    @web.addslash
    def get(self) -> None:
        self.write(f"slash: {self.request.path}")

    @web.addslash
    def post(self) -> None:
        self.write("posted")


def slash_app() -> web.Application:
    return web.Application([(r"/r/.*", Slashes), (r"/a.*", AddSlash), (r"/.*/", Slashes)])


@pytest.mark.parametrize(
    ("path", "code", "result"),
    [
        ("/r/x/", 301, "/r/x"),
        ("/r/x///?q=1", 301, "/r/x?q=1"),
        ("/r/x", 200, "no slash: /r/x"),
        ("/abc", 301, "/abc/"),
        ("/abc?q=1", 301, "/abc/?q=1"),
        ("/abc/", 200, "slash: /abc/"),
        # Redirects stay on this site.
        ("//evil.example/", 301, "/evil.example"),
        ("/\\evil.example/", 301, "/evil.example"),
    ],
)
async def test_slash_decorators(fake_client: Any, path: str, code: int, result: str) -> None:
    response = await fake_client(slash_app()).fetch(path)
    assert response.code == code
    if code == 301:
        assert response.headers["Location"] == result
    else:
        assert response.text == result


async def test_slash_decorators_other_methods(fake_client: Any) -> None:
    client = fake_client(slash_app())
    assert (await client.fetch("/r/x/", method="POST", body=b"")).code == 404
    assert (await client.fetch("/abc", method="POST", body=b"")).code == 404
    assert (await client.fetch("/r/x", method="POST", body=b"")).text == "posted"


# -- streamed request bodies -------------------------------------------------------------------


@web.stream_request_body
class Upload(web.RequestHandler):
    events: list[Any] = []

    def initialize(self, limit: int | None = None, slow: bool = False, fail: str = "") -> None:
        self.limit = limit
        self.slow = slow
        self.fail = fail
        self.received: list[bytes] = []

    async def prepare(self) -> None:
        await asyncio.sleep(0.001)
        Upload.events.append("prepare")
        if self.fail == "prepare":
            raise web.HTTPError(403)
        if self.limit is not None:
            self.request.connection.set_max_body_size(self.limit)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> Any:
        Upload.events.append(len(chunk))
        if self.fail == "data":
            raise ValueError("bad chunk")
        self.received.append(chunk)
        if self.slow:
            return asyncio.sleep(0.001)
        return None

    def post(self) -> None:
        Upload.events.append("post")
        self.write(f"got {sum(map(len, self.received))} bytes")

    put = post

    def on_connection_close(self) -> None:
        Upload.events.append("closed")


def upload_app() -> web.Application:
    return web.Application(
        [
            (r"/", Upload),
            (r"/limit", Upload, {"limit": 10_000}),
            (r"/small", Upload, {"limit": 100}),
            (r"/slow", Upload, {"slow": True}),
            (r"/fail-prepare", Upload, {"fail": "prepare"}),
            (r"/fail-data", Upload, {"fail": "data"}),
        ]
    )


async def test_stream_request_body(fake_client: Any) -> None:
    Upload.events.clear()
    response = await fake_client(upload_app()).fetch(
        "/limit", method="POST", chunks=[b"a" * 10, b"b" * 20, b"c" * 30]
    )
    assert response.text == "got 60 bytes"
    assert Upload.events == ["prepare", 10, 20, 30, "post"]
    assert response.connection.max_body_size == 10_000
    assert _has_stream_request_body(Upload)
    assert not _has_stream_request_body(web.RequestHandler)
    with pytest.raises(TypeError):
        web.stream_request_body(object)  # type: ignore[type-var]


async def test_stream_flow_control(fake_client: Any) -> None:
    Upload.events.clear()
    client = fake_client(upload_app())
    connection, delegate, prepared = client.start(
        "PUT", "/slow", {"Content-Length": "6"}, "HTTP/1.1"
    )
    assert prepared is not None  # the connection must wait for prepare()
    assert Upload.events == []
    await prepared
    pending = delegate.data_received(b"abc")
    assert pending is not None
    await pending
    await delegate.data_received(b"def")
    delegate.finish()
    await asyncio.wait_for(asyncio.shield(connection.done), 5)
    assert b"".join(connection.chunks) == b"got 6 bytes"


async def test_stream_errors(fake_client: Any) -> None:
    Upload.events.clear()
    client = fake_client(upload_app())
    response = await client.fetch("/fail-prepare", method="POST", chunks=[b"x", b"y"])
    assert response.code == 403
    assert Upload.events == ["prepare"]  # no chunk reached the handler
    Upload.events.clear()
    with (
        ExpectLog("squall.application", "Uncaught exception"),
        ExpectLog("squall.access", "500", required=False),
    ):
        response = await client.fetch("/fail-data", method="POST", chunks=[b"x", b"y"])
    assert response.code == 500
    assert Upload.events == ["prepare", 1]


async def test_stream_client_disconnect(fake_client: Any, caplog: Any) -> None:
    Upload.events.clear()
    client = fake_client(upload_app())
    connection, delegate, prepared = client.start(
        "POST", "/", {"Content-Length": "100"}, "HTTP/1.1"
    )
    await prepared
    delegate.data_received(b"partial")
    with caplog.at_level(logging.DEBUG):
        delegate.on_connection_close()
        connection.client_disconnects()
        await asyncio.sleep(0.01)
    assert Upload.events == ["prepare", 7, "closed"]
    assert not connection.finished
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def test_stream_over_sockets(serve: Any, raw_client: Any) -> None:
    Upload.events.clear()
    port = serve(upload_app(), max_body_size=1000)
    client = await raw_client(port)
    response = await client.request("POST", "/", body=b"z" * 500)
    assert response.text == "got 500 bytes"
    # prepare() raised the limit for this request: a chunked body over the
    # server's max_body_size is accepted.
    await client.send(
        b"POST /limit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(b"a" * 800, b"b" * 800)
    )
    response = await client.read_response()
    assert response.text == "got 1600 bytes"
    # ... and lowered it here: 413, and the connection is closed.
    await client.send(
        b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(b"a" * 80, b"b" * 80)
    )
    response = await client.read_response()
    assert response.code == 413
    assert await client.at_eof()


# -- detach, listen, sockets --------------------------------------------------------------------


class Detacher(web.RequestHandler):
    def get(self) -> None:
        stream = self.detach()
        stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\ndetached")
        stream.close()


class LateDetacher(web.RequestHandler):
    async def get(self) -> None:
        stream = self.detach()
        await asyncio.sleep(0.05)  # the server must neither read from nor close it meanwhile
        assert not stream.closed()
        await stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
        stream.close()


async def test_detach_over_sockets(serve: Any, raw_client: Any) -> None:
    port = serve(web.Application([(r"/", Detacher), (r"/late", LateDetacher)]))
    client = await raw_client(port)
    response = await client.request("GET", "/")
    assert (response.code, response.body) == (200, b"detached")
    assert await client.at_eof()
    client = await raw_client(port)
    response = await client.request("GET", "/late")
    assert (response.code, response.body) == (200, b"late")
    assert await client.at_eof()


class Propfind(web.RequestHandler):
    SUPPORTED_METHODS = (*web.RequestHandler.SUPPORTED_METHODS, "PROPFIND")

    def propfind(self) -> None:
        self.write("propfind ok")


async def test_listen_accepts_custom_methods(raw_client: Any) -> None:
    app = web.Application([(r"/", Propfind)])
    sock, port = bind_unused_port()
    sock.close()
    server = app.listen(port, "127.0.0.1")
    try:
        client = await raw_client(port)
        response = await client.request("PROPFIND", "/")
        assert (response.code, response.body) == (200, b"propfind ok")
        response = await client.request("GET", "/")
        assert response.code == 405
        assert response.headers["Allow"] == "PROPFIND"
    finally:
        server.stop()
        await server.close_all_connections()


async def test_server_refuses_undeclared_methods(serve: Any, raw_client: Any) -> None:
    client = await raw_client(serve(web.Application([(r"/", Propfind)])))
    response = await client.request("PROPFIND", "/")
    assert response.code == 501


def test_extra_methods_collected() -> None:
    class Other(web.RequestHandler):
        SUPPORTED_METHODS = ("GET", "MKCOL")

    app = web.Application(
        [(r"/", Propfind), (r"/nested/.*", [(r"/nested/x", Other)])],
        default_handler_class=Other,
    )
    assert app._extra_methods() == frozenset({"PROPFIND", "MKCOL"})
    assert web.Application([(r"/", web.RequestHandler)])._extra_methods() == frozenset()


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")

    def post(self) -> None:
        self.write("name=" + self.get_argument("name"))


async def test_keep_alive_pipelining_and_status_codes(serve: Any, raw_client: Any) -> None:
    port = serve(web.Application([(r"/", Hello)]))
    client = await raw_client(port)
    # Three pipelined requests, answered in order on one connection.
    await client.send(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\nname=zoey"
    )
    first = await client.read_response()
    second = await client.read_response()
    third = await client.read_response()
    assert (first.code, first.body) == (200, b"Hello, world")
    assert "Date" in first.headers
    assert second.code == 404
    assert (third.code, third.body) == (200, b"name=zoey")
    response = await client.request("POST", "/", body="")
    assert response.code == 400
    response = await client.request("DELETE", "/")
    assert (response.code, response.headers["Allow"]) == (405, "GET, POST")


async def test_absolute_form_target_is_routed_by_its_path_and_host(
    serve: Any, raw_client: Any
) -> None:
    class Where(web.RequestHandler):
        def get(self) -> None:
            self.write(f"{self.request.host} {self.request.uri} {self.get_argument('q')}")

    application = web.Application([(r"/where", Where)])
    application.add_handlers(r"other\.example", [(r"/where", Hello)])
    port = serve(application)
    client = await raw_client(port)
    # RFC 9112 3.2.2: a server accepts absolute-form and takes the host
    # from the target, not from the Host header.
    await client.send(b"GET http://site.example:8/where?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await client.read_response()
    assert (response.code, response.body) == (200, b"site.example:8 /where?q=1 1")
    await client.send(b"GET http://other.example/where HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await client.read_response()
    assert (response.code, response.body) == (200, b"Hello, world")
    await client.send(b"GET http://user@site.example/where HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await client.read_response()).code == 400


async def test_http10_and_connection_close(serve: Any, raw_client: Any) -> None:
    port = serve(web.Application([(r"/", Hello)]))
    client = await raw_client(port)
    await client.send(b"GET / HTTP/1.0\r\n\r\n")
    response = await client.read_response()
    assert (response.code, response.body) == (200, b"Hello, world")
    assert await client.at_eof()


async def test_many_connections(serve: Any, raw_client: Any) -> None:
    port = serve(web.Application([(r"/", Hello)]))
    clients = [await raw_client(port) for _ in range(20)]
    responses = await asyncio.gather(*(c.request("GET", "/") for c in clients))
    assert {r.body for r in responses} == {b"Hello, world"}


async def test_xheaders_remote_ip(serve: Any, raw_client: Any) -> None:
    class Ip(web.RequestHandler):
        def get(self) -> None:
            self.write(f"{self.request.remote_ip} {self.request.protocol}")

    port = serve(web.Application([(r"/", Ip)]), xheaders=True)
    client = await raw_client(port)
    response = await client.request(
        "GET", "/", headers={"X-Real-Ip": "203.0.113.9", "X-Scheme": "https"}
    )
    assert response.text == "203.0.113.9 https"
    response = await client.request("GET", "/")
    assert response.text == "127.0.0.1 http"


def test_unused_socket_helper_is_closed() -> None:
    sock, _port = bind_unused_port()
    assert sock.family in (socket.AF_INET, socket.AF_INET6)
    sock.close()
