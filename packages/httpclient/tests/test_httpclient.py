"""AsyncHTTPClient's behaviour, run against every implementation.

Each test that takes the ``client`` (or ``client_factory``) fixture runs
once with the pure-Python client and once with the curl client (when
pycurl is installed); see conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import gzip
import hashlib
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _httpclient_test_helpers import (  # type: ignore[import-not-found]
    AppServer,
    RawServer,
    read_head,
    respond,
)
from squall import gen
from squall.httpclient import (
    AsyncHTTPClient,
    HTTPClientError,
    HTTPConnectionError,
    HTTPError,
    HTTPProtocolError,
    HTTPProxyError,
    HTTPRequest,
    HTTPResponse,
    HTTPStreamClosedError,
    HTTPTimeoutError,
    HTTPTLSError,
    InvalidRequestError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from squall.httputil import HTTPServerRequest

Client = AsyncHTTPClient
StartApp = Callable[..., AppServer]
StartRaw = Callable[..., Awaitable[RawServer]]


def hello(request: HTTPServerRequest) -> None:
    respond(request, b"Hello world!", headers={"Content-Type": "text/plain"})


def echo(request: HTTPServerRequest) -> None:
    """Answer with the method, the target, the headers and the body."""
    lines = [f"{request.method} {request.uri}"]
    lines += [f"{k}: {v}" for k, v in sorted(request.headers.get_all())]
    respond(request, ("\n".join(lines) + "\n\n").encode("latin-1") + request.body)


def status(code: int, **headers: str) -> Callable[[HTTPServerRequest], None]:
    def handler(request: HTTPServerRequest) -> None:
        respond(request, f"status {code}".encode(), code, headers=headers)

    return handler


# ---------------------------------------------------------------------- basics


async def test_get(client: Client, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    response = await client.fetch(server.url("/hello"))
    assert response.code == 200
    assert response.reason == "OK"
    assert response.body == b"Hello world!"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.error is None
    assert response.effective_url == server.url("/hello")
    assert response.request.url == server.url("/hello")
    assert response.request_time is not None and 0 <= response.request_time < 5
    assert response.start_time is not None and abs(response.start_time - time.time()) < 5
    assert response.buffer is not None and response.buffer.read() == b"Hello world!"
    response.rethrow()


async def test_request_headers(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    response = await client.fetch(
        server.url("/echo?a=1&b=%20"),
        headers={"X-Custom": "value", "Accept": "*/*"},
        user_agent="TestAgent/1.0",
    )
    text = response.body.decode()
    assert text.startswith("GET /echo?a=1&b=%20\n")
    assert "X-Custom: value" in text
    assert f"Host: 127.0.0.1:{server.port}" in text
    assert "User-Agent: TestAgent/1.0" in text


async def test_default_user_agent(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    text = (await client.fetch(server.url("/echo"))).body.decode()
    assert "User-Agent: Squall/" in text


async def test_if_modified_since(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    stamp = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    text = (await client.fetch(server.url("/echo"), if_modified_since=stamp)).body.decode()
    assert "If-Modified-Since: Thu, 02 Jan 2020 03:04:05 GMT" in text


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_methods_with_body(client: Client, app_server: StartApp, method: str) -> None:
    server = app_server({"/echo": echo})
    response = await client.fetch(server.url("/echo"), method=method, body="héllo")
    assert response.body.startswith(f"{method} /echo\n".encode())
    assert response.body.endswith("héllo".encode())
    assert b"Content-Length: 6" in response.body


@pytest.mark.parametrize("method", ["GET", "DELETE", "OPTIONS"])
async def test_methods_without_body(client: Client, app_server: StartApp, method: str) -> None:
    server = app_server({"/echo": echo})
    response = await client.fetch(server.url("/echo"), method=method)
    assert response.body.startswith(f"{method} /echo\n".encode())


async def test_head(client: Client, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    response = await client.fetch(server.url("/hello"), method="HEAD")
    assert response.code == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == "12"
    # The connection is still usable after a body-less HEAD response.
    assert (await client.fetch(server.url("/hello"))).body == b"Hello world!"


async def test_post_empty_body(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    response = await client.fetch(server.url("/echo"), method="POST", body=b"")
    assert b"Content-Length: 0" in response.body


async def test_body_rules(client: Client) -> None:
    with pytest.raises(InvalidRequestError, match="body must be None"):
        await client.fetch("http://127.0.0.1:9/", method="GET", body=b"x")
    with pytest.raises(InvalidRequestError, match="body must not be None"):
        await client.fetch("http://127.0.0.1:9/", method="POST")
    with pytest.raises(InvalidRequestError, match="unknown method"):
        await client.fetch("http://127.0.0.1:9/", method="PROPFIND")
    # InvalidRequestError is also a ValueError, as Tornado raised.
    with pytest.raises(ValueError):
        await client.fetch("ftp://127.0.0.1/x")


async def test_nonstandard_methods(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo}, extra_methods={"PROPFIND"})
    response = await client.fetch(
        server.url("/echo"), method="PROPFIND", allow_nonstandard_methods=True
    )
    assert response.body.startswith(b"PROPFIND /echo\n")
    response = await client.fetch(
        server.url("/echo"), method="DELETE", body=b"payload", allow_nonstandard_methods=True
    )
    assert response.body.startswith(b"DELETE /echo\n")
    assert response.body.endswith(b"payload")


async def test_basic_auth(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    text = (
        await client.fetch(
            server.url("/echo"), auth_username="Aladdin", auth_password="open sesame"
        )
    ).body.decode()
    assert "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==" in text


async def test_credentials_in_url(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    url = f"http://user:p%40ss@127.0.0.1:{server.port}/echo"
    text = (await client.fetch(url)).body.decode()
    token = base64.b64encode(b"user:p@ss").decode()
    assert f"Authorization: Basic {token}" in text


def digest_server_handler(
    username: str, password: str, realm: str = "squall-test"
) -> Callable[[HTTPServerRequest], None]:
    """A route that demands Digest (MD5, qop=auth) and checks the answer."""
    nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"

    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    def handler(request: HTTPServerRequest) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            respond(
                request,
                b"who are you?",
                401,
                headers={
                    "WWW-Authenticate": f'Digest realm="{realm}", qop="auth", '
                    f'nonce="{nonce}", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
                },
            )
            return
        fields = {}
        for part in header[7:].split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value.strip('"')
        ha1 = h(f"{username}:{realm}:{password}")
        ha2 = h(f"{request.method}:{fields['uri']}")
        expected = h(f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
        if fields.get("response") == expected and fields.get("username") == username:
            respond(request, b"welcome " + fields["uri"].encode())
        else:
            respond(request, b"wrong", 403)

    return handler


async def test_digest_auth(client: Client, app_server: StartApp) -> None:
    server = app_server({"/secret": digest_server_handler("Mufasa", "Circle Of Life")})
    response = await client.fetch(
        server.url("/secret?x=1"),
        auth_username="Mufasa",
        auth_password="Circle Of Life",
        auth_mode="digest",
    )
    assert response.code == 200
    assert response.body == b"welcome /secret?x=1"
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(
            server.url("/secret"), auth_username="Mufasa", auth_password="no", auth_mode="digest"
        )
    assert info.value.code == 403


async def test_digest_without_challenge_returns_401(client: Client, app_server: StartApp) -> None:
    server = app_server({"/plain401": status(401)})
    response = await client.fetch(
        server.url("/plain401"),
        auth_username="u",
        auth_password="p",
        auth_mode="digest",
        raise_error=False,
    )
    assert response.code == 401
    assert response.body == b"status 401"


# ---------------------------------------------------------------------- three styles


async def test_callback_style(client: Client, app_server: StartApp) -> None:
    server = app_server({"/hello": hello, "/missing": status(404)})
    results: list[HTTPResponse] = []
    done = asyncio.Event()

    def on_response(response: HTTPResponse) -> None:
        results.append(response)
        if len(results) == 3:
            done.set()

    client.fetch(server.url("/hello"), callback=on_response)
    client.fetch(server.url("/missing"), callback=on_response)
    client.fetch("http://127.0.0.1:1/", callback=on_response)  # nothing listens on port 1
    await asyncio.wait_for(done.wait(), 10)
    by_url = {r.request.url: r for r in results}
    ok = by_url[server.url("/hello")]
    assert ok.code == 200 and ok.body == b"Hello world!" and ok.error is None
    missing = by_url[server.url("/missing")]
    assert missing.code == 404
    assert isinstance(missing.error, HTTPClientError) and missing.error.code == 404
    refused = by_url["http://127.0.0.1:1/"]
    assert refused.code == 599
    assert isinstance(refused.error, HTTPConnectionError)
    with pytest.raises(HTTPConnectionError):
        refused.rethrow()


async def test_gen_task_in_engine(client: Client, app_server: StartApp) -> None:
    """The seed's style: ``yield gen.Task(client.fetch, url)`` inside ``@gen.engine``."""
    server = app_server({"/hello": hello})
    finished: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    @gen.engine
    def handler() -> Any:
        response = yield gen.Task(client.fetch, server.url("/hello"))
        finished.set_result(response.body)

    handler()
    assert await asyncio.wait_for(finished, 10) == b"Hello world!"


async def test_gen_coroutine_yield(client: Client, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})

    @gen.coroutine
    def get() -> Any:
        response = yield client.fetch(server.url("/hello"))
        raise gen.Return(response.body)

    assert await get() == b"Hello world!"


async def test_raise_error(client: Client, app_server: StartApp) -> None:
    server = app_server({"/missing": status(404), "/teapot": status(418)})
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(server.url("/missing"))
    error = info.value
    assert error.code == 404
    assert error.response is not None and error.response.body == b"status 404"
    assert str(error) == "HTTP 404: Not Found"
    assert HTTPError is HTTPClientError
    response = await client.fetch(server.url("/teapot"), raise_error=False)
    assert response.code == 418
    assert isinstance(response.error, HTTPClientError)
    # Without a response, raise_error=False still raises.
    with pytest.raises(HTTPConnectionError):
        await client.fetch("http://127.0.0.1:1/", raise_error=False)


async def test_fetch_request_object(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    request = HTTPRequest(server.url("/echo"), method="POST", body=b"abc", headers={"X-A": "1"})
    response = await client.fetch(request)
    assert response.request is request
    assert response.body.endswith(b"abc")
    with pytest.raises(ValueError, match="kwargs can't be used"):
        client.fetch(request, method="GET")


async def test_defaults(client_factory: Callable[..., Client], app_server: StartApp) -> None:
    server = app_server({"/echo": echo})
    client = client_factory(defaults={"user_agent": "Defaulted/2", "headers": None})
    text = (await client.fetch(server.url("/echo"))).body.decode()
    assert "User-Agent: Defaulted/2" in text
    text = (await client.fetch(server.url("/echo"), user_agent="Mine/1")).body.decode()
    assert "User-Agent: Mine/1" in text


async def test_closed_client_refuses(client: Client) -> None:
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.fetch("http://127.0.0.1:9/")


# ---------------------------------------------------------------------- CR/LF and friends


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "GET\r\nX-Injected: 1"}, "method"),
        ({"method": "GE T"}, "method"),
        ({"headers": {"X-Bad": "a\r\nX-Injected: 1"}}, "X-Bad"),
        ({"headers": {"X-Bad": "a\nb"}}, "X-Bad"),
        ({"headers": {"X-Bad": "a\x00b"}}, "X-Bad"),
        ({"headers": {"X-Bad\r\nX-Injected": "1"}}, "header name"),
        ({"headers": {"Bad Name": "1"}}, "header name"),
        ({"user_agent": "agent\r\nX-Injected: 1"}, "User-Agent"),
    ],
)
async def test_crlf_refused_before_sending(
    client: Client, raw_server: StartRaw, kwargs: dict[str, Any], match: str
) -> None:
    async def never_called(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)

    server = await raw_server(never_called)
    with pytest.raises(InvalidRequestError, match=match):
        await client.fetch(server.url("/"), **kwargs)
    await asyncio.sleep(0.05)
    assert server.connections == 0


@pytest.mark.parametrize(
    "path",
    ["/a\r\nX-Injected: 1", "/a b", "/a\nb", "/a\x00b", "/a\tb"],
)
async def test_url_with_control_characters_refused(
    client: Client, raw_server: StartRaw, path: str
) -> None:
    async def never_called(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)

    server = await raw_server(never_called)
    with pytest.raises(InvalidRequestError, match="URL"):
        await client.fetch(f"http://127.0.0.1:{server.port}{path}")
    await asyncio.sleep(0.05)
    assert server.connections == 0


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "http:///path", "http://exa mple.com/", "http://127.0.0.1:99999/", "x"],
)
async def test_bad_urls(client: Client, url: str) -> None:
    with pytest.raises(InvalidRequestError):
        await client.fetch(url)


# ---------------------------------------------------------------------- redirects


async def test_redirect_statuses(client: Client, app_server: StartApp) -> None:
    routes: dict[str, Any] = {"/echo": echo}
    for code in (301, 302, 303, 307, 308):
        routes[f"/r{code}"] = status(code, Location=f"/echo?from={code}")
    server = app_server(routes)
    for code in (301, 302, 303, 307, 308):
        response = await client.fetch(server.url(f"/r{code}"))
        assert response.code == 200
        assert response.effective_url == server.url(f"/echo?from={code}")
        assert response.body.startswith(f"GET /echo?from={code}\n".encode())
        assert response.request.url == server.url(f"/r{code}")


async def test_redirect_changes_post_to_get(client: Client, app_server: StartApp) -> None:
    routes: dict[str, Any] = {"/echo": echo}
    for code in (301, 302, 303, 307, 308):
        routes[f"/r{code}"] = status(code, Location="/echo")
    server = app_server(routes)
    for code in (301, 302, 303):
        body = (await client.fetch(server.url(f"/r{code}"), method="POST", body=b"data")).body
        assert body.startswith(b"GET /echo\n"), code
        assert b"Content-Length" not in body and not body.endswith(b"data")
    for code in (307, 308):
        body = (await client.fetch(server.url(f"/r{code}"), method="POST", body=b"data")).body
        assert body.startswith(b"POST /echo\n"), code
        assert body.endswith(b"\n\ndata")


async def test_redirect_not_followed(client: Client, app_server: StartApp) -> None:
    server = app_server({"/r": status(302, Location="/elsewhere")})
    response = await client.fetch(server.url("/r"), follow_redirects=False, raise_error=False)
    assert response.code == 302
    assert response.headers["Location"] == "/elsewhere"
    assert response.body == b"status 302"
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(server.url("/r"), follow_redirects=False)
    assert info.value.code == 302


async def test_redirect_loop_stops(client: Client, app_server: StartApp) -> None:
    server = app_server({"/a": status(302, Location="/b"), "/b": status(302, Location="/a")})
    started = time.monotonic()
    with pytest.raises(TooManyRedirectsError) as info:
        await client.fetch(server.url("/a"), max_redirects=4)
    assert time.monotonic() - started < 5
    error = info.value
    assert isinstance(error, HTTPClientError)
    assert error.code == 302
    assert "max_redirects" in str(error)
    assert len(server.requests) == 5  # the first request and four redirects
    response = await client.fetch(server.url("/a"), max_redirects=2, raise_error=False)
    assert response.code == 302
    assert isinstance(response.error, TooManyRedirectsError)


async def test_redirect_across_origins_drops_credentials(
    client: Client, app_server: StartApp
) -> None:
    other = app_server({"/echo": echo})
    origin = app_server(
        {
            "/echo": echo,
            "/same": status(302, Location="/echo"),
            "/away": status(302, Location=other.url("/echo")),
        }
    )
    headers = {"Authorization": "Bearer secret", "Cookie": "session=1", "X-Keep": "yes"}
    same = (await client.fetch(origin.url("/same"), headers=headers)).body.decode()
    assert "Authorization: Bearer secret" in same and "Cookie: session=1" in same
    away = (await client.fetch(origin.url("/away"), headers=headers)).body.decode()
    assert "Authorization" not in away
    assert "Cookie" not in away
    assert "X-Keep: yes" in away
    away = (
        await client.fetch(origin.url("/away"), auth_username="u", auth_password="p")
    ).body.decode()
    assert "Authorization" not in away
    assert f"Host: 127.0.0.1:{other.port}" in away


# ---------------------------------------------------------------------- bodies


def gzip_handler(payload: bytes) -> Callable[[HTTPServerRequest], None]:
    compressed = gzip.compress(payload)

    def handler(request: HTTPServerRequest) -> None:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            respond(request, compressed, headers={"Content-Encoding": "gzip"})
        else:
            respond(request, payload)

    return handler


async def test_gzip(client: Client, app_server: StartApp) -> None:
    payload = b"squall " * 1000
    server = app_server({"/gz": gzip_handler(payload)})
    response = await client.fetch(server.url("/gz"))
    assert response.body == payload
    response = await client.fetch(server.url("/gz"), decompress_response=False)
    assert response.body == payload  # no Accept-Encoding: the server sent it plain
    response = await client.fetch(
        server.url("/gz"), decompress_response=False, headers={"Accept-Encoding": "gzip"}
    )
    assert gzip.decompress(response.body) == payload


async def test_gzip_bomb_refused(client: Client, app_server: StartApp) -> None:
    """50 MB of zeros compressed to ~50 KB: max_body_size counts the expanded size."""
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000

    def handler(request: HTTPServerRequest) -> None:
        respond(request, bomb, headers={"Content-Encoding": "gzip"})

    server = app_server({"/bomb": handler})
    started = time.monotonic()
    with pytest.raises(ResponseTooLargeError, match="max_body_size|too large"):
        await client.fetch(server.url("/bomb"), max_body_size=1024 * 1024)
    assert time.monotonic() - started < 5


async def test_max_body_size(client: Client, app_server: StartApp) -> None:
    server = app_server({"/big": lambda r: respond(r, b"x" * 200_000)})
    with pytest.raises(ResponseTooLargeError):
        await client.fetch(server.url("/big"), max_body_size=100_000)
    response = await client.fetch(server.url("/big"), max_body_size=200_000)
    assert len(response.body) == 200_000


async def test_max_header_size(client: Client, app_server: StartApp) -> None:
    server = app_server({"/fat": lambda r: respond(r, b"ok", headers={"X-Fat": "y" * 20_000})})
    with pytest.raises(ResponseTooLargeError):
        await client.fetch(server.url("/fat"), max_header_size=4096)
    response = await client.fetch(server.url("/fat"))
    assert response.headers["X-Fat"] == "y" * 20_000


async def test_chunked_response(client: Client, app_server: StartApp) -> None:
    def chunked(request: HTTPServerRequest) -> None:
        conn = request.connection
        assert conn is not None
        from squall.httputil import HTTPHeaders, ResponseStartLine

        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
        for i in range(5):
            conn.write(b"chunk%d-" % i)
        conn.finish()

    server = app_server({"/chunked": chunked})
    response = await client.fetch(server.url("/chunked"))
    assert response.body == b"chunk0-chunk1-chunk2-chunk3-chunk4-"


async def test_streaming_and_header_callbacks(client: Client, app_server: StartApp) -> None:
    payload = b"0123456789" * 20_000
    server = app_server(
        {
            "/data": lambda r: respond(r, payload, headers={"X-Test": "1"}),
            "/r": status(302, Location="/data"),
        }
    )
    chunks: list[bytes] = []
    lines: list[str] = []
    response = await client.fetch(
        server.url("/r"), streaming_callback=chunks.append, header_callback=lines.append
    )
    await asyncio.sleep(0)
    assert response.body == b""
    assert b"".join(chunks) == payload
    assert lines[0].startswith("HTTP/1.1 200")
    assert "X-Test: 1\r\n" in lines
    assert lines[-1] == "\r\n"
    assert not any(line.startswith("HTTP/1.1 302") for line in lines)


async def test_body_producer(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})

    async def producer(write: Callable[[bytes], Awaitable[None]]) -> None:
        for i in range(4):
            await write(b"part%d;" % i)
            await asyncio.sleep(0.01)

    response = await client.fetch(server.url("/echo"), method="POST", body_producer=producer)
    assert response.body.endswith(b"part0;part1;part2;part3;")
    assert b"Transfer-Encoding: chunked" in response.body
    response = await client.fetch(
        server.url("/echo"),
        method="PUT",
        body_producer=producer,
        headers={"Content-Length": "24"},
    )
    assert response.body.endswith(b"part0;part1;part2;part3;")
    assert b"Content-Length: 24" in response.body


async def test_body_producer_error(client: Client, app_server: StartApp) -> None:
    server = app_server({"/echo": echo})

    async def producer(write: Callable[[bytes], Awaitable[None]]) -> None:
        await write(b"start")
        raise ZeroDivisionError("producer broke")

    with pytest.raises(ZeroDivisionError, match="producer broke"):
        await client.fetch(server.url("/echo"), method="POST", body_producer=producer)
    # The client keeps working.
    assert (await client.fetch(server.url("/echo"))).code == 200


async def test_expect_100_continue(
    client: Client, app_server: StartApp, impl: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = app_server({"/echo": echo})
    # Make the fallback (send the body anyway) slow, so that a fast answer
    # shows that the body went out on the server's 100 Continue.
    options: dict[str, Any] = {}
    if impl == "simple":
        import squall.simple_httpclient._fetch as fetch_module

        monkeypatch.setattr(fetch_module, "CONTINUE_TIMEOUT", 10.0)
    else:
        import pycurl

        options["prepare_curl_callback"] = lambda curl: curl.setopt(
            pycurl.EXPECT_100_TIMEOUT_MS, 10_000
        )
    started = time.monotonic()
    response = await client.fetch(
        server.url("/echo"), method="POST", body=b"payload", expect_100_continue=True, **options
    )
    assert response.body.endswith(b"payload")
    assert b"Expect: 100-continue" in response.body
    assert time.monotonic() - started < 5


async def test_expect_100_continue_refused(client: Client, raw_server: StartRaw) -> None:
    received: list[bytes] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        received.append(head)
        writer.write(
            b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
        )
        await writer.drain()
        try:
            received.append(await asyncio.wait_for(reader.read(100), 0.5))
        except TimeoutError:
            received.append(b"")

    server = await raw_server(refuse)
    response = await client.fetch(
        server.url("/"), method="POST", body=b"payload", expect_100_continue=True, raise_error=False
    )
    assert response.code == 417
    assert response.body == b"nope"
    assert b"Expect: 100-continue" in received[0]
    assert b"payload" not in b"".join(received)


# ---------------------------------------------------------------------- timeouts, queue


async def test_slow_drip_hits_request_timeout(client: Client, raw_server: StartRaw) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(200):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    server = await raw_server(drip)
    started = time.monotonic()
    with pytest.raises(HTTPTimeoutError) as info:
        await client.fetch(server.url("/"), request_timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 3
    assert info.value.code == 599
    assert isinstance(info.value, TimeoutError)
    assert "Timeout" in str(info.value)


async def test_head_never_arrives(client: Client, raw_server: StartRaw) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(10)

    server = await raw_server(silent)
    with pytest.raises(HTTPTimeoutError, match="Timeout during request"):
        await client.fetch(server.url("/"), request_timeout=0.3)


async def test_connect_timeout(client: Client, raw_server: StartRaw) -> None:
    """A TLS server that never answers the handshake: connect_timeout covers it."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    server = await raw_server(mute)
    started = time.monotonic()
    with pytest.raises(HTTPTimeoutError) as info:
        await client.fetch(
            f"https://127.0.0.1:{server.port}/", connect_timeout=0.3, request_timeout=5
        )
    assert time.monotonic() - started < 3
    assert "connect" in str(info.value).lower()


async def test_queue_timeout(client_factory: Callable[..., Client], raw_server: StartRaw) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(1.0)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    server = await raw_server(slow)
    client = client_factory(max_clients=1)
    first = client.fetch(server.url("/"), request_timeout=5)
    await asyncio.sleep(0.05)
    with pytest.raises(HTTPTimeoutError, match="queue") as info:
        await client.fetch(server.url("/"), request_timeout=0.3)
    assert "max_clients=1" in str(info.value)
    assert (await first).body == b"ok"


async def test_max_clients_bounds_concurrency(
    client_factory: Callable[..., Client], app_server: StartApp
) -> None:
    active = 0
    peak = 0

    async def slowish(request: HTTPServerRequest) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        respond(request, b"ok")

    server = app_server({"/s": slowish})
    client = client_factory(max_clients=3)
    responses = await asyncio.gather(*(client.fetch(server.url("/s")) for _ in range(20)))
    assert all(r.body == b"ok" for r in responses)
    assert peak == 3
    assert server.connections <= 3


async def test_cancel_fetch(client: Client, raw_server: StartRaw, app_server: StartApp) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(10)

    server = await raw_server(silent)
    future = client.fetch(server.url("/"))
    await asyncio.sleep(0.1)
    future.cancel()
    await asyncio.sleep(0.05)
    good = app_server({"/hello": hello})
    assert (await client.fetch(good.url("/hello"))).code == 200


# ---------------------------------------------------------------------- connection reuse


async def test_sequential_requests_share_one_connection(
    client: Client, app_server: StartApp
) -> None:
    server = app_server({"/hello": hello})
    for _ in range(1000):
        response = await client.fetch(server.url("/hello"))
        assert response.body == b"Hello world!"
    assert server.connections == 1


async def test_no_reuse_after_connection_close(client: Client, app_server: StartApp) -> None:
    server = app_server({"/close": lambda r: respond(r, b"bye", headers={"Connection": "close"})})
    for _ in range(3):
        assert (await client.fetch(server.url("/close"))).body == b"bye"
    assert server.connections == 3


async def test_server_closes_idle_connection(client: Client, app_server: StartApp) -> None:
    server = app_server({"/hello": hello}, idle_connection_timeout=0.2)
    assert (await client.fetch(server.url("/hello"))).code == 200
    await asyncio.sleep(0.5)  # the server closes the idle keep-alive connection
    assert (await client.fetch(server.url("/hello"))).code == 200
    assert server.connections == 2


async def test_http10_response_without_keep_alive(client: Client, raw_server: StartRaw) -> None:
    async def old(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold style body")
        await writer.drain()

    server = await raw_server(old)
    for _ in range(2):
        response = await client.fetch(server.url("/"))
        assert response.body == b"old style body"
    assert server.connections == 2


# ---------------------------------------------------------------------- bad servers


async def serve_bytes(raw_server: StartRaw, data: bytes, then_close: bool = True) -> RawServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(data)
        await writer.drain()
        if not then_close:
            await asyncio.sleep(10)

    return await raw_server(handler)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/9.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
    ],
)
async def test_invalid_status_line(client: Client, raw_server: StartRaw, data: bytes) -> None:
    server = await serve_bytes(raw_server, data)
    with pytest.raises((HTTPProtocolError, HTTPStreamClosedError)):
        await client.fetch(server.url("/"))


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
)
async def test_conflicting_framing(client: Client, raw_server: StartRaw, data: bytes) -> None:
    server = await serve_bytes(raw_server, data)
    with pytest.raises(HTTPProtocolError):
        await client.fetch(server.url("/"))


async def test_bad_chunked_body(client: Client, raw_server: StartRaw) -> None:
    server = await serve_bytes(
        raw_server, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    )
    with pytest.raises(HTTPProtocolError):
        await client.fetch(server.url("/"))


async def test_truncated_body(client: Client, raw_server: StartRaw) -> None:
    server = await serve_bytes(
        raw_server, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"
    )
    with pytest.raises(HTTPStreamClosedError):
        await client.fetch(server.url("/"))


async def test_truncated_chunked_body(client: Client, raw_server: StartRaw) -> None:
    server = await serve_bytes(
        raw_server, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    with pytest.raises(HTTPStreamClosedError):
        await client.fetch(server.url("/"))


async def test_reset_mid_body(client: Client, raw_server: StartRaw) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    server = await raw_server(reset)
    with pytest.raises(HTTPStreamClosedError):
        await client.fetch(server.url("/"))


async def test_closed_without_response(client: Client, raw_server: StartRaw) -> None:
    server = await serve_bytes(raw_server, b"")
    with pytest.raises(HTTPStreamClosedError):
        await client.fetch(server.url("/"))


async def test_too_many_informational_responses(client: Client, raw_server: StartRaw) -> None:
    flood = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" * 50
    server = await serve_bytes(
        raw_server, flood + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    with pytest.raises((HTTPProtocolError, ResponseTooLargeError)):
        await client.fetch(server.url("/"))


async def test_a_few_informational_responses_are_fine(client: Client, raw_server: StartRaw) -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" * 2
    server = await serve_bytes(
        raw_server, hints + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", then_close=False
    )
    response = await client.fetch(server.url("/"))
    assert response.code == 200 and response.body == b"ok"


async def test_corrupt_gzip(client: Client, raw_server: StartRaw) -> None:
    server = await serve_bytes(
        raw_server,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!",
    )
    with pytest.raises(HTTPProtocolError):
        await client.fetch(server.url("/"))


async def test_bad_server_does_not_break_the_client(
    client: Client, raw_server: StartRaw, app_server: StartApp
) -> None:
    bad = await serve_bytes(raw_server, b"garbage\r\n\r\n")
    good = app_server({"/hello": hello})
    results = await asyncio.gather(
        *(client.fetch(bad.url("/"), raise_error=False) for _ in range(5)),
        *(client.fetch(good.url("/hello")) for _ in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, HTTPClientError) for r in results[:5])
    assert all(isinstance(r, HTTPResponse) and r.code == 200 for r in results[5:])


# ---------------------------------------------------------------------- connecting, TLS


async def test_connection_refused(client: Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HTTPConnectionError) as info:
        await client.fetch(f"http://127.0.0.1:{port}/")
    assert info.value.code == 599
    assert str(port) in str(info.value)


async def test_unknown_host(client: Client) -> None:
    with pytest.raises(HTTPConnectionError):
        await client.fetch("http://no-such-host.invalid/", request_timeout=10)


async def test_https(client: Client, app_server: StartApp, tls: Any) -> None:
    server = app_server({"/hello": hello}, ssl_options=tls.server_context())
    response = await client.fetch(server.url("/hello"), ca_certs=tls.ca_file)
    assert response.body == b"Hello world!"
    response = await client.fetch(server.url("/hello", host="localhost"), ca_certs=tls.ca_file)
    assert response.body == b"Hello world!"
    for _ in range(20):
        await client.fetch(server.url("/hello"), ca_certs=tls.ca_file)
    assert server.connections == 2  # one per host name


async def test_https_untrusted(client: Client, app_server: StartApp, tls: Any) -> None:
    server = app_server({"/hello": hello}, ssl_options=tls.server_context())
    with pytest.raises(HTTPTLSError) as info:
        await client.fetch(server.url("/hello"))
    assert info.value.code == 599
    response = await client.fetch(server.url("/hello"), validate_cert=False)
    assert response.body == b"Hello world!"


async def test_client_certificate(client: Client, app_server: StartApp, tls: Any) -> None:
    def whoami(request: HTTPServerRequest) -> None:
        stream = request.connection.stream  # type: ignore[union-attr]
        peer = stream.socket.getpeercert()
        names = [value for rdn in peer["subject"] for key, value in rdn if key == "commonName"]
        alt = [value for _key, value in peer.get("subjectAltName", ())]
        respond(request, ",".join(names + alt).encode())

    server = app_server({"/whoami": whoami}, ssl_options=tls.server_context(True))
    response = await client.fetch(
        server.url("/whoami"),
        ca_certs=tls.ca_file,
        client_cert=tls.client_cert_file,
        client_key=tls.client_key_file,
    )
    assert b"client@squall.test" in response.body
    with pytest.raises((HTTPTLSError, HTTPStreamClosedError)):
        await client.fetch(server.url("/whoami"), ca_certs=tls.ca_file)


# ---------------------------------------------------------------------- proxies


async def test_http_through_proxy(
    client: Client, app_server: StartApp, proxy_server: Callable[..., Awaitable[Any]]
) -> None:
    origin = app_server({"/echo": echo})
    proxy = await proxy_server(credentials=("puser", "ppass"))
    response = await client.fetch(
        origin.url("/echo?q=1"),
        proxy_host="127.0.0.1",
        proxy_port=proxy.port,
        proxy_username="puser",
        proxy_password="ppass",
    )
    assert response.body.startswith(b"GET /echo?q=1\n")
    assert b"Proxy-Authorization" not in response.body  # the proxy keeps it
    head = proxy.heads[0]
    assert head.startswith(f"GET {origin.url('/echo?q=1')} HTTP/1.1".encode())
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(origin.url("/echo"), proxy_host="127.0.0.1", proxy_port=proxy.port)
    assert info.value.code == 407


async def test_https_through_proxy(
    client: Client, app_server: StartApp, proxy_server: Callable[..., Awaitable[Any]], tls: Any
) -> None:
    origin = app_server({"/hello": hello}, ssl_options=tls.server_context())
    proxy = await proxy_server(credentials=("puser", "ppass"))
    options = {
        "proxy_host": "127.0.0.1",
        "proxy_port": proxy.port,
        "proxy_username": "puser",
        "proxy_password": "ppass",
        "ca_certs": tls.ca_file,
    }
    for _ in range(3):
        response = await client.fetch(origin.url("/hello"), **options)
        assert response.body == b"Hello world!"
    assert proxy.heads[0].startswith(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1".encode())
    assert proxy.connections == 1  # the tunnel is kept alive and reused
    options["proxy_password"] = "wrong"
    with pytest.raises(HTTPProxyError) as info:
        await client.fetch(origin.url("/hello"), **options)
    assert info.value.proxy_code == 407


# ---------------------------------------------------------------------- the API itself


def test_public_api() -> None:
    import squall.httpclient
    import squall.simple_httpclient

    assert set(squall.httpclient.__all__) == {
        "AsyncHTTPClient",
        "HTTPClient",
        "HTTPClientError",
        "HTTPConnectionError",
        "HTTPError",
        "HTTPProtocolError",
        "HTTPProxyError",
        "HTTPRequest",
        "HTTPResponse",
        "HTTPStreamClosedError",
        "HTTPTLSError",
        "HTTPTimeoutError",
        "InvalidRequestError",
        "ResponseTooLargeError",
        "TooManyRedirectsError",
        "_RequestProxy",
        "main",
    }
    assert set(squall.simple_httpclient.__all__) == {
        "HTTPStreamClosedError",
        "HTTPTimeoutError",
        "SimpleAsyncHTTPClient",
    }
    for name in squall.httpclient.__all__:
        obj = getattr(squall.httpclient, name)
        if not name.startswith("_"):
            assert obj.__doc__, name
            if isinstance(obj, type):
                assert obj.__module__ == "squall.httpclient", name


def test_exception_tree() -> None:
    for cls in (
        HTTPConnectionError,
        HTTPProtocolError,
        HTTPProxyError,
        HTTPStreamClosedError,
        HTTPTimeoutError,
        HTTPTLSError,
        InvalidRequestError,
        ResponseTooLargeError,
        TooManyRedirectsError,
    ):
        assert issubclass(cls, HTTPClientError)
    assert issubclass(HTTPTLSError, HTTPConnectionError)
    assert issubclass(HTTPProxyError, HTTPConnectionError)
    assert issubclass(HTTPTimeoutError, TimeoutError)
    assert issubclass(InvalidRequestError, ValueError)
    error = HTTPTimeoutError("Timeout while connecting")
    assert error.code == 599 and str(error) == "Timeout while connecting"
    assert str(HTTPClientError(404)) == "HTTP 404: Not Found"
    assert HTTPClientError(599, "boom").message == "boom"
    proxy = HTTPProxyError("refused", proxy_code=407)
    assert proxy.proxy_code == 407 and proxy.code == 599


def test_http_request_options() -> None:
    request = HTTPRequest("http://example.com/", body="é", headers={"a": "1"}, use_gzip=False)
    assert request.body == "é".encode()
    assert request.headers["A"] == "1"
    assert request.decompress_response is False and request.use_gzip is False
    request.headers = None  # type: ignore[assignment]
    assert len(request.headers) == 0
    request.body = None
    assert request.body is None
    assert "example.com" in repr(request)
    assert request.original_request is None
    assert abs(request.start_time - time.time()) < 5


def test_request_proxy_defaults() -> None:
    from squall.httpclient import _RequestProxy

    request = HTTPRequest("http://example.com/", connect_timeout=3)
    proxy = _RequestProxy(request, {"connect_timeout": 9, "request_timeout": 7})
    assert proxy.connect_timeout == 3
    assert proxy.request_timeout == 7
    assert proxy.user_agent is None
    assert _RequestProxy(request, None).request_timeout is None


def test_http_response() -> None:
    import io

    request = HTTPRequest("http://example.com/")
    response = HTTPResponse(request, 200, buffer=io.BytesIO(b"body"), reason="Fine")
    assert response.body == b"body" and response.reason == "Fine" and response.error is None
    assert response.effective_url == "http://example.com/"
    response.rethrow()
    missing = HTTPResponse(request, 404)
    assert missing.body == b"" and missing.reason == "Not Found"
    assert isinstance(missing.error, HTTPClientError) and missing.error.response is missing
    with pytest.raises(HTTPClientError):
        missing.rethrow()
    failed = HTTPResponse(request, 599, error=HTTPTimeoutError("slow"))
    assert isinstance(failed.error, HTTPTimeoutError)
    assert "599" in repr(failed)


async def test_shared_instance_per_loop(io_loop: Any) -> None:
    from squall.simple_httpclient import SimpleAsyncHTTPClient

    with AsyncHTTPClient.configured(None):
        shared = AsyncHTTPClient()
        assert isinstance(shared, SimpleAsyncHTTPClient)
        assert AsyncHTTPClient() is shared
        assert AsyncHTTPClient(io_loop) is shared  # Tornado 4's positional io_loop
        own = AsyncHTTPClient(force_instance=True)
        assert own is not shared
        own.close()
        shared.close()
        renewed = AsyncHTTPClient()
        assert renewed is not shared
        renewed.close()


def test_one_instance_per_loop() -> None:
    from squall.ioloop import IOLoop

    loops = [IOLoop(make_current=False) for _ in range(2)]
    try:
        clients = [
            loop.run_sync(lambda: AsyncHTTPClient())  # noqa: PLW0108
            for loop in loops
        ]
        assert clients[0] is not clients[1]
        assert loops[0].run_sync(lambda: AsyncHTTPClient()) is clients[0]  # noqa: PLW0108
        for client in clients:
            client.close()
    finally:
        for loop in loops:
            loop.close(all_fds=True)


async def test_configure_kwargs(io_loop: Any) -> None:
    with AsyncHTTPClient.configured(None, max_clients=3, defaults={"user_agent": "cfg"}):
        client = AsyncHTTPClient(force_instance=True)
        try:
            assert client.max_clients == 3  # type: ignore[attr-defined]
            assert client.defaults["user_agent"] == "cfg"
            assert client.defaults["request_timeout"] == 20.0
        finally:
            client.close()


async def test_configure_curl(io_loop: Any) -> None:
    pytest.importorskip("pycurl", reason="pycurl is not installed")
    from squall.curl_httpclient import CurlAsyncHTTPClient

    with AsyncHTTPClient.configured("squall.curl_httpclient.CurlAsyncHTTPClient", max_clients=4):
        client = AsyncHTTPClient(force_instance=True)
        try:
            assert isinstance(client, CurlAsyncHTTPClient)
            assert client.max_clients == 4
        finally:
            client.close()


def _serve_in_thread() -> tuple[int, Callable[[], None]]:
    """An HTTPServer with an echo route on its own loop in a thread."""
    import threading

    from squall.httpserver import HTTPServer
    from squall.ioloop import IOLoop
    from squall.netutil import bind_sockets

    ready = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        loop = IOLoop(make_current=True)
        state["loop"] = loop

        def setup() -> None:
            server = HTTPServer(
                lambda r: {"/hello": hello, "/missing": status(404)}.get(r.path, echo)(r)
            )
            socks = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
            server.add_sockets(socks)
            state["port"] = socks[0].getsockname()[1]
            state["server"] = server
            ready.set()

        loop.add_callback(setup)
        loop.start()
        server = state["server"]
        server.stop()
        loop.run_sync(lambda: server.close_all_connections(2))
        loop.close(all_fds=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)

    def stop() -> None:
        state["loop"].add_callback(state["loop"].stop)
        thread.join(10)

    return state["port"], stop


def test_blocking_client() -> None:
    from squall.httpclient import HTTPClient

    port, stop = _serve_in_thread()
    try:
        client = HTTPClient()
        try:
            response = client.fetch(f"http://127.0.0.1:{port}/hello")
            assert response.code == 200 and response.body == b"Hello world!"
            response = client.fetch(f"http://127.0.0.1:{port}/echo", method="POST", body=b"x")
            assert response.body.endswith(b"\n\nx")
            with pytest.raises(HTTPClientError) as info:
                client.fetch(f"http://127.0.0.1:{port}/missing")
            assert info.value.code == 404
            response = client.fetch(f"http://127.0.0.1:{port}/missing", raise_error=False)
            assert response.code == 404
            with pytest.raises(HTTPConnectionError):
                client.fetch("http://127.0.0.1:1/")
        finally:
            client.close()
        client.close()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            client.fetch(f"http://127.0.0.1:{port}/hello")
    finally:
        stop()


def test_blocking_client_refuses_running_loop() -> None:
    from squall.httpclient import HTTPClient
    from squall.ioloop import IOLoop

    client = HTTPClient()
    loop = IOLoop(make_current=False)
    try:
        with pytest.raises(RuntimeError, match="running"):
            loop.run_sync(lambda: client.fetch("http://127.0.0.1:1/"))

        async def construct() -> None:
            HTTPClient()

        with pytest.raises(RuntimeError, match="await client.fetch"):
            loop.run_sync(construct)
    finally:
        loop.close(all_fds=True)
        client.close()


def test_command_line(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    from squall.httpclient import main

    port, stop = _serve_in_thread()
    try:
        assert main(["prog", "--print_headers", f"http://127.0.0.1:{port}/hello"]) == 0
        out = capsysbinary.readouterr().out
        assert out.startswith(b"HTTP/1.1 200 OK\n")
        assert out.endswith(b"\n\nHello world!")
        assert main(["prog", f"http://127.0.0.1:{port}/missing"]) == 0
        assert capsysbinary.readouterr().out == b"status 404"
        assert main(["prog", "http://127.0.0.1:1/"]) == 1
        assert b"127.0.0.1:1" in capsysbinary.readouterr().err
        assert main(["prog"]) == 2
    finally:
        stop()


async def test_failures_leak_no_descriptors(client: Client, raw_server: StartRaw) -> None:
    """Many failed fetches later, the process holds no more descriptors than before."""
    import os

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    responses = [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntruncated",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        b"",
    ]
    servers = [await serve_bytes(raw_server, data) for data in responses]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    async def one_round() -> None:
        for server in servers:
            with pytest.raises(HTTPClientError):
                await client.fetch(server.url("/"))
        with pytest.raises(HTTPConnectionError):
            await client.fetch(f"http://127.0.0.1:{closed_port}/")

    await one_round()  # let lazily created resources (resolver threads, ...) appear
    await asyncio.sleep(0.1)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(10):
        await one_round()
    await asyncio.sleep(0.2)
    after = len(os.listdir("/proc/self/fd"))
    assert after <= before + 2, (before, after)
