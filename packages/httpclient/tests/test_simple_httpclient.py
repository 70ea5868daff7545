"""What only the pure-Python client does: its pool, its URL and digest code, retries."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _httpclient_test_helpers import (  # type: ignore[import-not-found]
    AppServer,
    RawServer,
    read_head,
    read_request,
    respond,
)
from squall.httpclient import (
    AsyncHTTPClient,
    HTTPClientError,
    HTTPProtocolError,
    HTTPProxyError,
    HTTPRequest,
    HTTPResponse,
    HTTPStreamClosedError,
    HTTPTimeoutError,
    InvalidRequestError,
)
from squall.httputil import HTTPServerRequest
from squall.simple_httpclient import SimpleAsyncHTTPClient
from squall.simple_httpclient._auth import (
    DigestChallengeError,
    digest_authorization,
    parse_challenges,
)
from squall.simple_httpclient._prepare import parse_url
from squall.testing import ExpectLog

StartApp = Callable[..., AppServer]
StartRaw = Callable[..., Awaitable[RawServer]]


@pytest.fixture
def simple(io_loop: Any) -> Any:
    clients: list[SimpleAsyncHTTPClient] = []

    def make(**kwargs: Any) -> SimpleAsyncHTTPClient:
        client = SimpleAsyncHTTPClient(force_instance=True, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    io_loop.run_sync(lambda: asyncio.sleep(0.01))


def hello(request: HTTPServerRequest) -> None:
    respond(request, b"Hello world!")


def echo_host(request: HTTPServerRequest) -> None:
    respond(request, request.headers.get("Host", "").encode())


# ---------------------------------------------------------------------- pool


async def test_stale_connection_is_retried_for_idempotent_requests(
    simple: Any, raw_server: StartRaw
) -> None:
    """The keep-alive race: the server closed the connection as the request went out."""
    serving = {"n": 0}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        serving["n"] += 1
        first_connection = serving["n"] == 1
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        if first_connection:
            await read_request(reader)  # the next request arrives ... and is dropped
            return
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    server = await raw_server(handler)
    client = simple()
    assert (await client.fetch(server.url("/"))).body == b"ok"
    assert (await client.fetch(server.url("/"))).body == b"ok"  # retried transparently
    assert server.connections == 2

    serving["n"] = 0
    client = simple()
    assert (await client.fetch(server.url("/"), method="POST", body=b"x")).body == b"ok"
    with pytest.raises(HTTPStreamClosedError, match="closed before a response"):
        await client.fetch(server.url("/"), method="POST", body=b"x")  # not idempotent


async def test_pool_is_keyed_by_origin_and_tls_settings(
    simple: Any, app_server: StartApp, tls: Any
) -> None:
    plain = app_server({"/hello": hello})
    other = app_server({"/hello": hello})
    secure = app_server({"/hello": hello}, ssl_options=tls.server_context())
    client = simple()
    for _ in range(3):
        await client.fetch(plain.url("/hello"))
        await client.fetch(other.url("/hello"))
        await client.fetch(secure.url("/hello"), ca_certs=tls.ca_file)
        await client.fetch(secure.url("/hello"), validate_cert=False)
    assert plain.connections == 1
    assert other.connections == 1
    assert secure.connections == 2  # verified and unverified connections are not mixed


async def test_keep_alive_can_be_turned_off(simple: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    client = simple(max_idle_connections=0)
    for _ in range(3):
        await client.fetch(server.url("/hello"))
    assert server.connections == 3


async def test_idle_timeout(simple: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    client = simple(idle_timeout=0.1)
    await client.fetch(server.url("/hello"))
    await client.fetch(server.url("/hello"))
    assert server.connections == 1
    await asyncio.sleep(0.4)  # the sweep closes the idle connection
    assert client._pool.idle_count == 0
    await client.fetch(server.url("/hello"))
    assert server.connections == 2


async def test_extra_bytes_after_a_response(simple: Any, raw_server: StartRaw) -> None:
    async def sloppy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
            await writer.drain()

    server = await raw_server(sloppy)
    client = simple()
    for _ in range(3):
        assert (await client.fetch(server.url("/"))).body == b"ok"


async def test_response_head_ended_by_bare_lf_fails_at_once(
    simple: Any, raw_server: StartRaw
) -> None:
    async def lenient(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
        await writer.drain()
        await asyncio.sleep(10)  # keeps the connection open: no EOF to end the head

    server = await raw_server(lenient)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(HTTPProtocolError, match="bare LF"):
        await simple().fetch(server.url("/"), request_timeout=5)
    assert loop.time() - started < 2


async def test_cancel_while_queued_frees_the_slot(simple: Any, raw_server: StartRaw) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.2)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    server = await raw_server(slow)
    client = simple(max_clients=1)
    first = client.fetch(server.url("/"))
    queued = client.fetch(server.url("/"))
    await asyncio.sleep(0.05)
    queued.cancel()
    third = client.fetch(server.url("/"))
    assert (await first).body == b"ok"
    assert (await asyncio.wait_for(third, 5)).body == b"ok"
    assert client._active == 0 and not client._waiters


async def test_hostname_mapping(simple: Any, app_server: StartApp) -> None:
    server = app_server({"/host": echo_host})
    client = simple(hostname_mapping={"squall.test": "127.0.0.1"})
    response = await client.fetch(f"http://squall.test:{server.port}/host")
    assert response.body == f"squall.test:{server.port}".encode()


async def test_network_interface_and_ipv4_only(simple: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    client = simple()
    response = await client.fetch(
        server.url("/hello", host="localhost"), network_interface="127.0.0.1", allow_ipv6=False
    )
    assert response.body == b"Hello world!"


async def test_time_info(simple: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    response = await simple().fetch(server.url("/hello"))
    assert set(response.time_info) == {"queue", "connect", "total"}
    assert 0 <= response.time_info["connect"] <= response.time_info["total"] < 5


async def test_expect_100_continue_fallback(
    simple: Any, raw_server: StartRaw, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that ignores Expect still gets the body, after the short wait."""
    import squall.simple_httpclient._fetch as fetch_module

    monkeypatch.setattr(fetch_module, "CONTINUE_TIMEOUT", 0.2)

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _head, body = await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    server = await raw_server(deaf)
    response = await simple().fetch(
        server.url("/"), method="PUT", body=b"payload", expect_100_continue=True
    )
    assert response.body == b"payload"


async def test_body_producer_flow_control(simple: Any, app_server: StartApp) -> None:
    received: list[int] = []

    def count(request: HTTPServerRequest) -> None:
        received.append(len(request.body))
        respond(request, b"ok")

    server = app_server({"/count": count})

    async def producer(write: Callable[[bytes], Awaitable[None]]) -> None:
        for _ in range(64):
            await write(b"z" * 65536)

    response = await simple().fetch(server.url("/count"), method="POST", body_producer=producer)
    assert response.body == b"ok"
    assert received == [64 * 65536]


async def test_body_producer_wrong_length(simple: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})

    async def producer(write: Callable[[bytes], Awaitable[None]]) -> None:
        await write(b"short")

    with pytest.raises(InvalidRequestError, match="body_producer"):
        await simple().fetch(
            server.url("/hello"),
            method="POST",
            body_producer=producer,
            headers={"Content-Length": "100"},
        )


async def test_transfer_encoding_header_refused(simple: Any) -> None:
    with pytest.raises(InvalidRequestError, match="Transfer-Encoding"):
        await simple().fetch(
            "http://127.0.0.1:9/",
            method="POST",
            body=b"x",
            headers={"Transfer-Encoding": "chunked"},
        )


async def test_callback_exception_is_logged(simple: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    client = simple()
    seen: list[HTTPResponse] = []

    def broken(response: HTTPResponse) -> None:
        seen.append(response)
        raise ZeroDivisionError("in the callback")

    with ExpectLog("squall.application", "Exception in callback", required=True):
        client.fetch(server.url("/hello"), callback=broken)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if seen:
                break
        await asyncio.sleep(0.01)
    assert seen[0].body == b"Hello world!"
    assert (await client.fetch(server.url("/hello"))).code == 200


async def test_fetch_impl_override(io_loop: Any, app_server: StartApp) -> None:
    """Tornado subclasses override fetch_impl(request, callback); fetch goes through it."""
    server = app_server({"/hello": hello})
    calls: list[str] = []

    class Recording(SimpleAsyncHTTPClient):
        def fetch_impl(self, request: Any, callback: Callable[[HTTPResponse], None]) -> None:
            calls.append(request.url)
            super().fetch_impl(request, callback)

    client = Recording(force_instance=True)
    try:
        response = await client.fetch(server.url("/hello"))
        assert response.body == b"Hello world!"
        assert calls == [server.url("/hello")]
        with pytest.raises(HTTPClientError) as info:
            await client.fetch(server.url("/nothing"))
        assert info.value.code == 404
    finally:
        client.close()


async def test_http_proxy_connection_shared_by_origins(
    simple: Any, app_server: StartApp, proxy_server: Callable[..., Awaitable[Any]]
) -> None:
    first = app_server({"/host": echo_host})
    second = app_server({"/host": echo_host})
    proxy = await proxy_server()
    client = simple(defaults={"proxy_host": "127.0.0.1", "proxy_port": proxy.port})
    for _ in range(2):
        assert (await client.fetch(first.url("/host"))).body.endswith(str(first.port).encode())
        assert (await client.fetch(second.url("/host"))).body.endswith(str(second.port).encode())
    assert proxy.connections == 1


async def test_proxy_answering_garbage(simple: Any, raw_server: StartRaw) -> None:
    async def not_a_proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()

    proxy = await raw_server(not_a_proxy)
    with pytest.raises(HTTPProxyError, match="malformed"):
        await simple().fetch("https://127.0.0.1:9/", proxy_host="127.0.0.1", proxy_port=proxy.port)


async def test_proxy_refused_connection(simple: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HTTPClientError, match="proxy"):
        await simple().fetch("http://127.0.0.1:9/", proxy_host="127.0.0.1", proxy_port=port)


async def test_informational_flood_message(simple: Any, raw_server: StartRaw) -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" * 20)
        await writer.drain()
        await asyncio.sleep(5)

    server = await raw_server(flood)
    with pytest.raises(HTTPProtocolError, match="informational"):
        await simple().fetch(server.url("/"), request_timeout=3)


async def test_timeouts_name_the_phase(simple: Any, raw_server: StartRaw) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(5)

    server = await raw_server(silent)
    client = simple()
    with pytest.raises(HTTPTimeoutError, match=r"Timeout during request .*request_timeout=0.2"):
        await client.fetch(server.url("/"), request_timeout=0.2)


# ---------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com", ("http", "example.com", 80, "example.com", "/")),
        ("HTTP://Example.COM:80/a?b=c", ("http", "example.com", 80, "Example.COM", "/a?b=c")),
        ("https://example.com/", ("https", "example.com", 443, "example.com", "/")),
        ("https://example.com:8443/x", ("https", "example.com", 8443, "example.com:8443", "/x")),
        ("http://[::1]:8080/p", ("http", "::1", 8080, "[::1]:8080", "/p")),
        ("http://[::1]/p", ("http", "::1", 80, "[::1]", "/p")),
        ("http://u:p@host:81/#frag", ("http", "host", 81, "host:81", "/")),
    ],
)
def test_parse_url(url: str, expected: tuple[str, str, int, str, str]) -> None:
    target = parse_url(url)
    assert (target.scheme, target.host, target.port, target.host_header, target.path) == expected


def test_parse_url_userinfo_and_absolute() -> None:
    target = parse_url("http://us%40er:p%3Ass@host:81/path?q#frag")
    assert target.userinfo == ("us@er", "p:ss")
    assert target.absolute == "http://host:81/path?q"


@pytest.mark.parametrize(
    "url",
    [
        "mailto:x@example.com",
        "http://",
        "http://host:abc/",
        "http://host:0/",
        "http://ho st/",
        "http://host/\r\n",
        "http://ho<st/",
        "//host/path",
    ],
)
def test_parse_url_refuses(url: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_url(url)


# ---------------------------------------------------------------------- digest


RFC7616_CHALLENGE = {
    "realm": "http-auth@example.org",
    "qop": "auth, auth-int",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
}
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_rfc7616_example(algorithm: str, response: str) -> None:
    """The worked example of RFC 7616, section 3.9.1."""
    header = digest_authorization(
        {**RFC7616_CHALLENGE, "algorithm": algorithm},
        "Mufasa",
        "Circle of Life",
        "GET",
        "/dir/index.html",
        cnonce=RFC7616_CNONCE,
    )
    assert header.startswith("Digest ")
    fields = dict(part.strip().split("=", 1) for part in header[7:].split(", "))
    assert fields["response"] == f'"{response}"'
    assert fields["qop"] == "auth"
    assert fields["nc"] == "00000001"
    assert fields["opaque"] == f'"{RFC7616_CHALLENGE["opaque"]}"'
    assert fields["uri"] == '"/dir/index.html"'


def test_digest_without_qop_and_sess() -> None:
    header = digest_authorization({"realm": "r", "nonce": "n"}, "u", "p", "GET", "/")
    assert "qop" not in header and "cnonce" not in header
    header = digest_authorization(
        {"realm": "r", "nonce": "n", "qop": "auth", "algorithm": "MD5-sess"}, "u", "p", "GET", "/"
    )
    assert "algorithm=MD5-sess" in header


@pytest.mark.parametrize(
    "challenge",
    [
        {"nonce": "n"},
        {"realm": "r"},
        {"realm": "r", "nonce": "n", "algorithm": "SHA-1"},
        {"realm": "r", "nonce": "n", "qop": "auth-int"},
    ],
)
def test_digest_refuses(challenge: dict[str, str]) -> None:
    with pytest.raises(DigestChallengeError):
        digest_authorization(challenge, "u", "p", "GET", "/")


def test_parse_challenges() -> None:
    assert parse_challenges(['Digest realm="a\\"b", nonce=xyz, qop="auth"']) == [
        ("digest", {"realm": 'a"b', "nonce": "xyz", "qop": "auth"})
    ]
    assert parse_challenges(['Basic realm="x, y", Digest realm="z", nonce="n"']) == [
        ("basic", {"realm": "x, y"}),
        ("digest", {"realm": "z", "nonce": "n"}),
    ]
    assert parse_challenges(["Negotiate abc==", "Bearer"]) == [("negotiate", {}), ("bearer", {})]
    assert parse_challenges(["", "=broken"]) == []


def test_request_repr_and_proxy_default_port() -> None:
    request = HTTPRequest("http://example.com/", proxy_host="proxy")
    assert request.proxy_port is None
    assert AsyncHTTPClient.configurable_default() is SimpleAsyncHTTPClient
