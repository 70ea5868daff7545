"""squall.websocket: Squall's server against Squall's client over real sockets.

Handler features (open/on_message coroutines, ordering, pings, close codes,
subprotocols, compression, limits, keepalive), the handshake checks, the
client's errors and TLS.  The ``websockets`` library as a peer is in
test_websocket_peer.py; malformed frames from raw sockets in
test_websocket_malformed.py.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from squall import web, websocket
from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders
from squall.testing import ExpectLog, bind_unused_port
from squall.websocket import (
    WebSocketClientConnection,
    WebSocketClosedError,
    WebSocketHandler,
    WebSocketHandshakeError,
    websocket_connect,
)

TIMEOUT = 10.0


async def wait(awaitable: Any, timeout: float = TIMEOUT) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


class Recorder:
    """What server-side handlers saw, shared with the test."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.closed: asyncio.Queue[WebSocketHandler] = asyncio.Queue()
        self.opened: asyncio.Queue[WebSocketHandler] = asyncio.Queue()


class EchoHandler(WebSocketHandler):
    def initialize(self, recorder: Recorder, compression: dict[str, Any] | None = None) -> None:
        self.recorder = recorder
        self.compression = compression

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.compression

    def open(self, *args: Any) -> None:
        self.recorder.events.append(("open", args))
        self.recorder.opened.put_nowait(self)

    def on_message(self, message: str | bytes) -> None:
        if message == "close me":
            self.close(4002, "as you wish")
            return
        if message == "fail":
            raise ValueError("on_message failed on purpose")
        if message == "as binary":
            self.write_message(message, binary=True)
            return
        self.write_message(message, binary=isinstance(message, bytes))

    def on_ping(self, data: bytes) -> None:
        self.recorder.events.append(("ping", data))

    def on_pong(self, data: bytes) -> None:
        self.recorder.events.append(("pong", data))

    def on_close(self) -> None:
        self.recorder.events.append(("close", self.close_code, self.close_reason))
        self.recorder.closed.put_nowait(self)


class SlowOpenHandler(EchoHandler):
    async def open(self, *args: Any) -> None:  # type: ignore[override]
        await asyncio.sleep(0.1)
        self.recorder.events.append("opened")
        self.recorder.opened.put_nowait(self)

    def on_message(self, message: str | bytes) -> None:
        self.recorder.events.append(("message", message))
        self.write_message(message)


class OrderedHandler(EchoHandler):
    async def on_message(self, message: str | bytes) -> None:  # type: ignore[override]
        # Later messages finish their sleep first if they ran concurrently.
        await asyncio.sleep(0.02 if message == "0" else 0.001)
        self.recorder.events.append(message)
        await self.write_message(message)


class SubprotocolHandler(EchoHandler):
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        self.recorder.events.append(("offered", subprotocols))
        if "wrong" in subprotocols:
            return "not-offered"
        return "chat.v2" if "chat.v2" in subprotocols else None

    def open(self, *args: Any) -> None:
        self.write_message(f"subprotocol={self.selected_subprotocol}")


class PushHandler(EchoHandler):
    def open(self, *args: Any) -> None:
        for i in range(100):
            self.write_message(str(i))
        self.write_message(b"\x00binary", binary=True)
        self.write_message({"json": [1, 2]})


class AnyOriginHandler(EchoHandler):
    def check_origin(self, origin: str) -> bool:
        return origin == "https://trusted.example"


class PathArgsHandler(EchoHandler):
    def open(self, *args: Any) -> None:
        self.write_message("args=" + ",".join(args))


class PlainHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("not a websocket")


def make_app(recorder: Recorder, **settings: Any) -> web.Application:
    kwargs = {"recorder": recorder}
    return web.Application(
        [
            (r"/echo", EchoHandler, kwargs),
            (r"/deflate", EchoHandler, dict(kwargs, compression={})),
            (
                r"/deflate-options",
                EchoHandler,
                dict(
                    kwargs,
                    compression={
                        "server_no_context_takeover": True,
                        "client_no_context_takeover": True,
                        "client_max_window_bits": 10,
                        "server_max_window_bits": 11,
                        "compression_level": 9,
                        "mem_level": 5,
                    },
                ),
            ),
            (r"/slow-open", SlowOpenHandler, kwargs),
            (r"/ordered", OrderedHandler, kwargs),
            (r"/subprotocol", SubprotocolHandler, kwargs),
            (r"/push", PushHandler, kwargs),
            (r"/origin", AnyOriginHandler, kwargs),
            (r"/args/(\w+)/(\w+)", PathArgsHandler, kwargs),
            (r"/plain", PlainHandler),
        ],
        **settings,
    )


@pytest.fixture
def recorder(io_loop: Any) -> Recorder:
    return Recorder()


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[..., int]]:
    """``serve(app, **server_kwargs)`` -> port; WebSockets left open are closed after 1 s."""
    servers: list[HTTPServer] = []

    def start(app: Any, **kwargs: Any) -> int:
        sock, port = bind_unused_port()
        server = HTTPServer(app, **kwargs)
        server.add_sockets([sock])
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop()

        async def close(server: HTTPServer = server) -> None:
            await server.close_all_connections(1.0)

        io_loop.run_sync(close, timeout=TIMEOUT)


@pytest.fixture
def ws_server(serve: Callable[..., int], recorder: Recorder) -> Callable[..., str]:
    """``ws_server(**settings)`` -> ``ws://127.0.0.1:<port>`` of the test application."""

    def start(**settings: Any) -> str:
        return f"ws://127.0.0.1:{serve(make_app(recorder, **settings))}"

    return start


async def close_and_wait(conn: WebSocketClientConnection) -> None:
    conn.close()
    assert await wait(conn.read_message()) is None


# -- messages ------------------------------------------------------------------------------


async def test_echo_text_binary_json_and_empty(ws_server: Any, recorder: Recorder) -> None:
    url = ws_server()
    conn = await wait(websocket_connect(url + "/echo"))
    assert conn.headers["Upgrade"] == "websocket"
    assert conn.selected_subprotocol is None
    for message in ("hello", "caf\u00e9 \u2603", "", b"\x00\xff" * 10, b""):
        await wait(conn.write_message(message, binary=isinstance(message, bytes)))
        assert await wait(conn.read_message()) == message
    conn.write_message({"a": [1, "</script>"]})
    assert await wait(conn.read_message()) == '{"a": [1, "<\\/script>"]}'
    conn.write_message("as binary")
    assert await wait(conn.read_message()) == b"as binary"
    for size in (125, 126, 65535, 65536, 65537):
        text = "\u00e9" * (size // 2) + "x" * (size % 2)  # exactly ``size`` bytes of UTF-8
        conn.write_message(text)
        assert await wait(conn.read_message()) == text
    with pytest.raises(TypeError, match="cannot send"):
        conn.write_message(12)  # type: ignore[arg-type]
    await close_and_wait(conn)
    handler = await wait(recorder.closed.get())
    assert handler.ws_connection is None
    assert recorder.events[0] == ("open", ())


@pytest.mark.parametrize("path", ["/echo", "/deflate"])
async def test_large_messages(ws_server: Any, path: str) -> None:
    url = ws_server()
    conn = await wait(
        websocket_connect(url + path, compression_options={} if path == "/deflate" else None)
    )
    assert (conn.protocol.deflate is not None) is (path == "/deflate")
    big_binary = bytes(range(256)) * 16384  # 4 MiB
    big_text = "squall \u2603 " * 400_000  # 4 MiB of UTF-8
    await wait(conn.write_message(big_binary, binary=True))
    assert await wait(conn.read_message()) == big_binary
    conn.write_message(big_text)
    assert await wait(conn.read_message()) == big_text
    await close_and_wait(conn)


async def test_many_messages_in_flight_stay_in_order(ws_server: Any) -> None:
    conn = await wait(websocket_connect(ws_server() + "/echo"))
    for i in range(1000):
        conn.write_message(str(i))
    for i in range(1000):
        assert await wait(conn.read_message()) == str(i)
    await close_and_wait(conn)


async def test_server_pushes_more_than_the_client_reads(ws_server: Any) -> None:
    conn = await wait(websocket_connect(ws_server() + "/push"))
    await asyncio.sleep(0.1)  # let the server's messages pile up
    for i in range(100):
        assert await wait(conn.read_message()) == str(i)
    assert await wait(conn.read_message()) == b"\x00binary"
    assert await wait(conn.read_message()) == '{"json": [1, 2]}'
    await close_and_wait(conn)


async def test_open_coroutine_runs_before_any_message(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server() + "/slow-open"))
    conn.write_message("early")
    assert await wait(conn.read_message()) == "early"
    assert recorder.events == ["opened", ("message", "early")]
    await close_and_wait(conn)


async def test_on_message_coroutines_run_one_at_a_time(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server() + "/ordered"))
    for i in range(5):
        conn.write_message(str(i))
    assert [await wait(conn.read_message()) for _ in range(5)] == ["0", "1", "2", "3", "4"]
    assert recorder.events[1:] == ["0", "1", "2", "3", "4"]
    await close_and_wait(conn)


async def test_path_arguments_reach_open(ws_server: Any) -> None:
    conn = await wait(websocket_connect(ws_server() + "/args/abc/def"))
    assert await wait(conn.read_message()) == "args=abc,def"
    await close_and_wait(conn)


async def test_on_message_callback_and_classic_callbacks(ws_server: Any) -> None:
    url = ws_server() + "/echo"
    received: list[Any] = []
    done = asyncio.get_running_loop().create_future()

    def on_message(message: Any) -> None:
        received.append(message)
        if message is None:
            done.set_result(None)

    connected: list[asyncio.Future[WebSocketClientConnection]] = []
    future = websocket_connect(url, on_message_callback=on_message, callback=connected.append)
    conn = await wait(future)
    await asyncio.sleep(0)
    assert connected == [future]
    conn.write_message("one")
    conn.write_message("two")
    await asyncio.sleep(0.05)
    conn.close()
    await wait(done)
    assert received == ["one", "two", None]

    conn = await wait(websocket_connect(url))
    results: list[Any] = []
    read = conn.read_message(callback=results.append)
    conn.write_message("three")
    await wait(read)
    await asyncio.sleep(0)
    assert results == [read] and read.result() == "three"
    await close_and_wait(conn)


async def test_tornado4_io_loop_arguments(ws_server: Any, io_loop: Any) -> None:
    url = ws_server() + "/echo"
    conn = await wait(websocket_connect(url, io_loop=io_loop))
    await close_and_wait(conn)
    connected: list[Any] = []
    received: list[Any] = []
    # Tornado 4's positional order: (url, io_loop, callback, connect_timeout,
    # on_message_callback, compression_options, ...).
    future = websocket_connect(url, io_loop, connected.append, 5, received.append, {})
    conn = await wait(future)
    await asyncio.sleep(0)
    assert connected == [future]
    assert conn.protocol.deflate is None  # /echo declines compression
    conn.write_message("t4")
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.01)
    assert received == ["t4"]
    conn.close()
    for _ in range(500):
        if received[-1] is None:
            break
        await asyncio.sleep(0.01)
    assert received == ["t4", None]


# -- pings -----------------------------------------------------------------------------------


class PongRecorder(WebSocketClientConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pongs: asyncio.Queue[bytes] = asyncio.Queue()
        self.pings: asyncio.Queue[bytes] = asyncio.Queue()

    def on_pong(self, data: bytes) -> None:
        self.pongs.put_nowait(data)

    def on_ping(self, data: bytes) -> None:
        self.pings.put_nowait(data)


async def test_pings_both_ways(ws_server: Any, recorder: Recorder) -> None:
    conn = PongRecorder(ws_server() + "/echo")
    await wait(conn.connect_future)
    handler = await wait(recorder.opened.get())
    conn.ping(b"from client")
    assert await wait(conn.pongs.get()) == b"from client"
    handler.ping("from server")
    assert await wait(conn.pings.get()) == b"from server"
    for _ in range(50):
        if ("pong", b"from server") in recorder.events:
            break
        await asyncio.sleep(0.01)
    assert ("ping", b"from client") in recorder.events
    assert ("pong", b"from server") in recorder.events
    with pytest.raises(ValueError, match="125"):
        conn.ping(b"x" * 126)
    await close_and_wait(conn)
    with pytest.raises(WebSocketClosedError):
        conn.ping()
    with pytest.raises(WebSocketClosedError):
        handler.ping()


async def test_keepalive_pings_from_the_server(ws_server: Any) -> None:
    conn = PongRecorder(ws_server(websocket_ping_interval=0.05) + "/echo")
    await wait(conn.connect_future)
    for _ in range(3):
        assert await wait(conn.pings.get()) == b""
    await close_and_wait(conn)


async def test_keepalive_pings_from_the_client(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server() + "/echo", ping_interval=0.05))
    for _ in range(100):
        if len([e for e in recorder.events if e[0] == "ping"]) >= 3:
            break
        await asyncio.sleep(0.02)
    assert [e for e in recorder.events if e[0] == "ping"][:3] == [("ping", b"")] * 3
    assert not conn.protocol.is_closing()  # the server answered: no timeout
    await close_and_wait(conn)


# -- closing ------------------------------------------------------------------------------------


async def test_client_closes_with_a_code(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server() + "/echo"))
    conn.close(4001, "client leaving")
    with pytest.raises(WebSocketClosedError):
        conn.write_message("too late")
    assert await wait(conn.read_message()) is None
    handler = await wait(recorder.closed.get())
    assert (handler.close_code, handler.close_reason) == (4001, "client leaving")
    assert conn.close_code == 4001  # echoed by the server
    with pytest.raises(WebSocketClosedError):
        handler.write_message("gone")


async def test_server_closes_with_a_code(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server() + "/echo"))
    conn.write_message("close me")
    assert await wait(conn.read_message()) is None
    assert (conn.close_code, conn.close_reason) == (4002, "as you wish")
    handler = await wait(recorder.closed.get())
    assert handler.close_code == 4002  # the client echoed it


async def test_close_without_code_and_with_reason_only(ws_server: Any, recorder: Recorder) -> None:
    url = ws_server() + "/echo"
    conn = await wait(websocket_connect(url))
    await close_and_wait(conn)
    handler = await wait(recorder.closed.get())
    assert (handler.close_code, conn.close_code) == (None, None)
    conn = await wait(websocket_connect(url))
    conn.close(reason="only a reason")
    assert await wait(conn.read_message()) is None
    handler = await wait(recorder.closed.get())
    assert (handler.close_code, handler.close_reason) == (1000, "only a reason")


async def test_invalid_close_code_is_refused(ws_server: Any) -> None:
    conn = await wait(websocket_connect(ws_server() + "/echo"))
    for code in (1005, 1006, 999, 5000):
        with pytest.raises(ValueError):
            conn.close(code)
    await close_and_wait(conn)


async def test_exception_in_on_message_closes_with_1011(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server() + "/echo"))
    with ExpectLog("squall.application", "Uncaught exception GET /echo"):
        conn.write_message("fail")
        assert await wait(conn.read_message()) is None
        await wait(recorder.closed.get())
    assert conn.close_code == 1011


async def test_server_shutdown_closes_websockets(recorder: Recorder) -> None:
    sock, port = bind_unused_port()
    server = HTTPServer(make_app(recorder))
    server.add_sockets([sock])
    conn = await wait(websocket_connect(f"ws://127.0.0.1:{port}/echo"))
    server.stop()
    await wait(server.close_all_connections(0.2))
    assert await wait(conn.read_message()) is None
    await wait(recorder.closed.get())


# -- limits ------------------------------------------------------------------------------------


async def test_server_message_size_limit(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server(websocket_max_message_size=1000) + "/echo"))
    conn.write_message("x" * 1000)
    assert await wait(conn.read_message()) == "x" * 1000
    conn.write_message("x" * 1001)
    assert await wait(conn.read_message()) is None
    assert conn.close_code == 1009
    await wait(recorder.closed.get())


async def test_client_message_size_limit(ws_server: Any, recorder: Recorder) -> None:
    conn = await wait(websocket_connect(ws_server() + "/echo", max_message_size=1000))
    conn.write_message(b"y" * 5000, binary=True)
    assert await wait(conn.read_message()) is None
    handler = await wait(recorder.closed.get())
    assert handler.close_code == 1009
    assert conn.close_code is None  # the client failed the connection itself


# -- negotiation ----------------------------------------------------------------------------------


async def test_subprotocols(ws_server: Any, recorder: Recorder) -> None:
    url = ws_server() + "/subprotocol"
    conn = await wait(websocket_connect(url, subprotocols=["chat.v1", "chat.v2"]))
    assert conn.selected_subprotocol == "chat.v2"
    assert conn.protocol.selected_subprotocol == "chat.v2"
    assert await wait(conn.read_message()) == "subprotocol=chat.v2"
    await close_and_wait(conn)
    conn = await wait(websocket_connect(url, subprotocols=["other"]))
    assert conn.selected_subprotocol is None
    assert await wait(conn.read_message()) == "subprotocol=None"
    await close_and_wait(conn)
    conn = await wait(websocket_connect(url))
    assert await wait(conn.read_message()) == "subprotocol=None"
    await close_and_wait(conn)
    assert [e for e in recorder.events if e[0] == "offered"] == [
        ("offered", ["chat.v1", "chat.v2"]),
        ("offered", ["other"]),
    ]
    with ExpectLog("squall.application", "Uncaught exception"):
        with pytest.raises(WebSocketHandshakeError) as info:
            await wait(websocket_connect(url, subprotocols=["wrong"]))
    assert info.value.code == 500


async def test_compression_negotiation(ws_server: Any) -> None:
    url = ws_server()
    conn = await wait(websocket_connect(url + "/deflate", compression_options={}))
    assert conn.headers["Sec-WebSocket-Extensions"] == "permessage-deflate"
    for i in range(3):
        message = f"compressible {i} " * 200
        conn.write_message(message)
        assert await wait(conn.read_message()) == message
    await close_and_wait(conn)
    # Only one side wants it: no compression.
    conn = await wait(websocket_connect(url + "/deflate"))
    assert "Sec-WebSocket-Extensions" not in conn.headers and conn.protocol.deflate is None
    await close_and_wait(conn)
    conn = await wait(websocket_connect(url + "/echo", compression_options={}))
    assert "Sec-WebSocket-Extensions" not in conn.headers and conn.protocol.deflate is None
    conn.write_message("plain")
    assert await wait(conn.read_message()) == "plain"
    await close_and_wait(conn)


async def test_compression_options_and_context_takeover(ws_server: Any) -> None:
    conn = await wait(
        websocket_connect(ws_server() + "/deflate-options", compression_options={"mem_level": 4})
    )
    assert conn.headers["Sec-WebSocket-Extensions"] == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=11; client_max_window_bits=10"
    )
    deflate = conn.protocol.deflate
    assert (deflate.compress_wbits, deflate.decompress_wbits) == (10, 11)
    assert deflate.compress_reset and deflate.decompress_reset
    for size in (10, 5000, 300_000):
        message = ("abcdefgh" * size)[:size]
        conn.write_message(message)
        assert await wait(conn.read_message()) == message
    await close_and_wait(conn)


def test_bad_compression_options_fail_early(io_loop: Any) -> None:
    async def connect() -> None:
        with pytest.raises(ValueError, match="unknown compression options"):
            websocket_connect("ws://127.0.0.1:1/", compression_options={"levle": 1})

    io_loop.run_sync(connect)


# -- the handshake, server side ----------------------------------------------------------------------

GOOD = {
    "Upgrade": "websocket",
    "Connection": "keep-alive, Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def without(name: str, **changes: str) -> dict[str, str]:
    headers = {k: v for k, v in GOOD.items() if k != name}
    headers.update({k.replace("_", "-"): v for k, v in changes.items()})
    return headers


async def handshake(
    port: int, path: str, headers: dict[str, str]
) -> tuple[int, HTTPHeaders, bytes, asyncio.StreamWriter]:
    """Send an upgrade request by hand; return the status, headers, body and the writer."""
    reader, writer = await wait(asyncio.open_connection("127.0.0.1", port))
    lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    if "Host" not in headers:
        lines.append(f"Host: 127.0.0.1:{port}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await wait(reader.readuntil(b"\r\n\r\n"))
    status, _, rest = head.decode("latin-1").partition("\r\n")
    parsed = HTTPHeaders.parse(rest)
    body = b""
    if "Content-Length" in parsed:
        body = await wait(reader.readexactly(int(parsed["Content-Length"])))
    return int(status.split()[1]), parsed, body, writer


async def test_valid_handshake_by_hand(serve: Any, recorder: Recorder) -> None:
    code, headers, _, writer = await handshake(serve(make_app(recorder)), "/echo", GOOD)
    assert code == 101
    assert headers["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert headers["Upgrade"] == "websocket"
    assert headers["Connection"] == "Upgrade"
    assert "Content-Type" not in headers
    assert "Sec-WebSocket-Extensions" not in headers
    writer.close()
    await wait(recorder.closed.get())


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        (without("Upgrade"), "Upgrade"),
        (without("Upgrade", Upgrade="h2c"), "Upgrade"),
        (without("Connection"), "Connection"),
        (without("Connection", Connection="keep-alive"), "Connection"),
        (without("Sec-WebSocket-Version"), "Sec-WebSocket-Version"),
        (without("Sec-WebSocket-Key"), "Sec-WebSocket-Key"),
        (without("Sec-WebSocket-Key", Sec_WebSocket_Key="short"), "Sec-WebSocket-Key"),
        (without("Sec-WebSocket-Key", Sec_WebSocket_Key="!" * 24), "Sec-WebSocket-Key"),
    ],
)
async def test_malformed_handshakes_get_400(
    serve: Any, raw_client: Any, recorder: Recorder, headers: dict[str, str], words: str
) -> None:
    client = await raw_client(serve(make_app(recorder)))
    with ExpectLog("squall.access", "400 GET /echo", required=False):
        response = await client.request("GET", "/echo", headers)
    assert response.code == 400
    assert response.headers["Sec-WebSocket-Version"] == "13"
    assert words in response.text
    assert recorder.events == []


@pytest.mark.parametrize("version", ["8", "12", "14", "13, 8"])
async def test_unsupported_version_gets_426_naming_13(
    serve: Any, raw_client: Any, recorder: Recorder, version: str
) -> None:
    client = await raw_client(serve(make_app(recorder)))
    with ExpectLog("squall.access", "426 GET /echo", required=False):
        response = await client.request(
            "GET", "/echo", without("Sec-WebSocket-Version", Sec_WebSocket_Version=version)
        )
    assert response.code == 426
    assert response.headers["Sec-WebSocket-Version"] == "13"
    assert "Sec-WebSocket-Version" in response.text
    assert recorder.events == []


async def test_handshake_with_a_body_gets_400(
    serve: Any, raw_client: Any, recorder: Recorder
) -> None:
    client = await raw_client(serve(make_app(recorder)))
    with ExpectLog("squall.access", "400 GET", required=False):
        response = await client.request("GET", "/echo", GOOD, body=b"body")
    assert response.code == 400


async def test_http10_handshake_gets_400(serve: Any, recorder: Recorder) -> None:
    port = serve(make_app(recorder))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "GET /echo HTTP/1.0\r\nHost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in GOOD.items())
    with ExpectLog("squall.access", "400 GET", required=False):
        writer.write(head.encode() + b"\r\n")
        data = await wait(reader.read())
    writer.close()
    assert data.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
async def test_other_methods_get_405(
    serve: Any, raw_client: Any, recorder: Recorder, method: str
) -> None:
    client = await raw_client(serve(make_app(recorder)))
    with ExpectLog("squall.access", "405 ", required=False):
        response = await client.request(method, "/echo", GOOD)
    assert response.code == 405
    assert recorder.events == []


@pytest.mark.parametrize(
    ("path", "origin", "code"),
    [
        ("/echo", "http://evil.example", 403),
        ("/echo", "http://127.0.0.1:1", 403),
        ("/echo", "null", 403),
        ("/echo", "http://{host}", 101),
        ("/echo", "HTTP://{host}", 101),
        ("/origin", "https://trusted.example", 101),
        ("/origin", "http://{host}", 403),
    ],
)
async def test_check_origin(
    serve: Any, recorder: Recorder, path: str, origin: str, code: int
) -> None:
    port = serve(make_app(recorder))
    headers = dict(GOOD, Origin=origin.format(host=f"127.0.0.1:{port}"))
    with ExpectLog("squall.access", "403 GET", required=False):
        status, _, body, writer = await handshake(port, path, headers)
    assert status == code
    if code == 403:
        assert b"Cross origin" in body
    writer.close()
    if code == 101:
        await wait(recorder.closed.get())


async def test_websocket_handler_is_a_request_handler(ws_server: Any) -> None:
    assert issubclass(WebSocketHandler, web.RequestHandler)
    assert websocket.WebSocketProtocol13 is websocket.WebSocketProtocol


# -- the client's errors ---------------------------------------------------------------------------


async def test_client_handshake_refused(ws_server: Any) -> None:
    url = ws_server()
    with ExpectLog("squall.access", "404 GET", required=False):
        with pytest.raises(WebSocketHandshakeError) as info:
            await wait(websocket_connect(url + "/nowhere"))
    assert info.value.code == 404
    assert b"404" in info.value.body
    with pytest.raises(WebSocketHandshakeError) as info:
        await wait(websocket_connect(url + "/plain"))
    assert info.value.code == 200
    assert info.value.body == b"not a websocket"


async def test_client_connection_refused() -> None:
    from squall.iostream import StreamError

    sock, port = bind_unused_port()
    sock.close()
    with pytest.raises(StreamError):
        await wait(websocket_connect(f"ws://127.0.0.1:{port}/", connect_timeout=5))


async def test_client_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="not a WebSocket URL"):
        await wait(websocket_connect("ftp://127.0.0.1/"))


RawServer = Callable[[Callable[[bytes], "bytes | None"]], Any]


@pytest.fixture
def serve_raw(io_loop: Any) -> Iterator[RawServer]:
    """``await serve_raw(answer)`` -> (url, heads): a server reading one request head
    and writing ``answer(head)`` (None: nothing, b"": hang up), then waiting for the
    client to go."""
    servers: list[asyncio.Server] = []

    async def start(answer: Callable[[bytes], bytes | None]) -> tuple[str, list[bytes]]:
        heads: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                data = answer(head)
                if data == b"":
                    return  # hang up
                if data is not None:
                    writer.write(data)
                await asyncio.wait_for(reader.read(), 5)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/", heads

    yield start

    async def close() -> None:
        for server in servers:
            server.close()
            await server.wait_closed()
        await asyncio.sleep(0.01)

    io_loop.run_sync(close, timeout=TIMEOUT)


def key_of(head: bytes) -> str:
    for line in head.decode().split("\r\n"):
        if line.lower().startswith("sec-websocket-key:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no key")


def answer_101(**extra: str) -> Callable[[bytes], bytes]:
    def answer(head: bytes) -> bytes:
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Accept": websocket._handshake.accept_key(key_of(head)),
        }
        headers.update({k.replace("_", "-"): v for k, v in extra.items()})
        lines = ["HTTP/1.1 101 Switching Protocols"] + [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    return answer


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (answer_101(Sec_WebSocket_Accept="wrong"), "Sec-WebSocket-Accept"),
        (answer_101(Upgrade="h2c"), "Upgrade"),
        (answer_101(Connection="close"), "Connection"),
        (answer_101(Sec_WebSocket_Extensions="permessage-deflate"), "not offered"),
        (answer_101(Sec_WebSocket_Protocol="chat"), "not offered"),
        (lambda head: b"garbage\r\n\r\n", "malformed"),
        (lambda head: b"", "closed the connection"),
    ],
)
async def test_client_refuses_bad_answers(
    serve_raw: RawServer, answer: Callable[[bytes], bytes], words: str
) -> None:
    url, heads = await serve_raw(answer)
    with pytest.raises(WebSocketHandshakeError, match=words):
        await wait(websocket_connect(url))
    request = heads[0].decode().lower()
    assert "upgrade: websocket" in request and "sec-websocket-version: 13" in request


async def test_client_handshake_timeout(serve_raw: RawServer) -> None:
    from squall.util import TimeoutError as SquallTimeoutError

    url, _ = await serve_raw(lambda head: None)
    request = types.SimpleNamespace(url=url, request_timeout=0.2, headers={"X-Test": "1"})
    with pytest.raises(SquallTimeoutError, match="timed out"):
        await wait(websocket_connect(request))


async def test_client_close_while_connecting_cancels(serve_raw: RawServer) -> None:
    url, _ = await serve_raw(lambda head: None)
    conn = WebSocketClientConnection(url)
    await asyncio.sleep(0.05)
    conn.close()
    with pytest.raises(asyncio.CancelledError):
        await wait(conn.connect_future)


async def test_client_sends_request_headers_and_credentials(serve_raw: RawServer) -> None:
    url, heads = await serve_raw(answer_101())
    request = types.SimpleNamespace(
        url=url.replace("ws://", "ws://user:p%40ss@") + "path?q=1",
        headers={"Origin": "http://example.com", "X-Custom": "yes"},
        user_agent="squall-test",
    )
    conn = await wait(websocket_connect(request, subprotocols=["a", "b"]))
    head = heads[0].decode()
    assert head.startswith("GET /path?q=1 HTTP/1.1\r\n")
    fields = HTTPHeaders.parse(head.partition("\r\n")[2])
    assert fields["Origin"] == "http://example.com" and fields["X-Custom"] == "yes"
    assert fields["User-Agent"] == "squall-test"
    assert fields["Authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss
    assert fields["Sec-WebSocket-Protocol"] == "a, b"
    assert "Sec-WebSocket-Extensions" not in fields
    # This server never answers the close frame: the client gives up after close_timeout.
    conn.protocol.close_timeout = 0.2
    conn.close()
    assert await wait(conn.read_message()) is None
    assert conn.close_code is None


async def test_client_with_squall_httprequest(ws_server: Any) -> None:
    httpclient = pytest.importorskip("squall.httpclient")
    request = httpclient.HTTPRequest(ws_server() + "/echo", headers={"X-A": "b"}, connect_timeout=5)
    conn = await wait(websocket_connect(request))
    conn.write_message("via HTTPRequest")
    assert await wait(conn.read_message()) == "via HTTPRequest"
    await close_and_wait(conn)


# -- TLS -----------------------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path: Any) -> tuple[ssl.SSLContext, str]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return context, str(ca_path)


async def test_wss(serve: Any, recorder: Recorder, tls: tuple[ssl.SSLContext, str]) -> None:
    from squall.iostream import StreamError

    context, ca_path = tls
    port = serve(make_app(recorder), ssl_options=context)
    url = f"wss://127.0.0.1:{port}/echo"
    conn = await wait(websocket_connect(types.SimpleNamespace(url=url, ca_certs=ca_path)))
    conn.write_message("secret " * 100_000)
    assert await wait(conn.read_message()) == "secret " * 100_000
    await close_and_wait(conn)
    with ExpectLog("squall.general", ".*", required=False):
        with pytest.raises(StreamError):  # the system CAs do not know this certificate
            await wait(websocket_connect(url))
        conn = await wait(websocket_connect(types.SimpleNamespace(url=url, validate_cert=False)))
    await close_and_wait(conn)


# -- the public API -------------------------------------------------------------------------------------


def test_public_api() -> None:
    assert set(websocket.__all__) == {
        "CLOSE_GOING_AWAY",
        "CLOSE_INTERNAL_ERROR",
        "CLOSE_INVALID_DATA",
        "CLOSE_MANDATORY_EXTENSION",
        "CLOSE_MESSAGE_TOO_BIG",
        "CLOSE_NORMAL",
        "CLOSE_POLICY_VIOLATION",
        "CLOSE_PROTOCOL_ERROR",
        "CLOSE_UNSUPPORTED_DATA",
        "DEFAULT_MAX_MESSAGE_SIZE",
        "FrameReader",
        "PerMessageDeflate",
        "WebSocketClientConnection",
        "WebSocketClosedError",
        "WebSocketError",
        "WebSocketHandler",
        "WebSocketHandshakeError",
        "WebSocketProtocol",
        "WebSocketProtocol13",
        "WebSocketProtocolError",
        "websocket_connect",
    }
    for name in websocket.__all__:
        assert hasattr(websocket, name)
    assert issubclass(websocket.WebSocketError, web.WebError)
    for cls in (
        websocket.WebSocketClosedError,
        websocket.WebSocketProtocolError,
        websocket.WebSocketHandshakeError,
    ):
        assert issubclass(cls, websocket.WebSocketError)
    assert websocket.DEFAULT_MAX_MESSAGE_SIZE == 10 * 1024 * 1024
    logging.getLogger("squall.application")  # the logger the handler reports to
