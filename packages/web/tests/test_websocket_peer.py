"""squall.websocket against an independent implementation: the ``websockets`` library.

Squall's server with a ``websockets`` client, and Squall's client with a
``websockets`` server: messages, fragmentation, large messages,
permessage-deflate, pings and close codes, in both directions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from squall import web
from squall.httpserver import HTTPServer
from squall.testing import ExpectLog, bind_unused_port
from squall.websocket import WebSocketClientConnection, WebSocketHandler, websocket_connect

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect as ws_connect  # noqa: E402
from websockets.asyncio.server import serve as ws_serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

TIMEOUT = 10.0
BIG = 4 * 1024 * 1024


async def wait(awaitable: Any, timeout: float = TIMEOUT) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


# -- Squall's server, websockets' client ------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.opened: asyncio.Queue[WebSocketHandler] = asyncio.Queue()
        self.closed: asyncio.Queue[WebSocketHandler] = asyncio.Queue()


class Echo(WebSocketHandler):
    def initialize(self, recorder: Recorder, compression: dict[str, Any] | None = None) -> None:
        self.recorder = recorder
        self.compression = compression

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.compression

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "chat.v2" if "chat.v2" in subprotocols else None

    def open(self) -> None:
        self.recorder.opened.put_nowait(self)

    def on_message(self, message: str | bytes) -> None:
        self.recorder.events.append(("message", message))
        if message == "close me":
            self.close(4002, "server says bye")
        elif message == "fail":
            raise RuntimeError("on purpose")
        else:
            self.write_message(message, binary=isinstance(message, bytes))

    def on_ping(self, data: bytes) -> None:
        self.recorder.events.append(("ping", data))

    def on_pong(self, data: bytes) -> None:
        self.recorder.events.append(("pong", data))

    def on_close(self) -> None:
        self.recorder.events.append(("close", self.close_code, self.close_reason))
        self.recorder.closed.put_nowait(self)


@pytest.fixture
def recorder(io_loop: Any) -> Recorder:
    return Recorder()


@pytest.fixture
def squall_server(io_loop: Any, recorder: Recorder) -> Iterator[Callable[..., str]]:
    """``squall_server(**settings)`` -> the ws:// base URL of a Squall server."""
    servers: list[HTTPServer] = []

    def start(**settings: Any) -> str:
        app = web.Application(
            [
                (r"/echo", Echo, {"recorder": recorder}),
                (r"/deflate", Echo, {"recorder": recorder, "compression": {}}),
                (
                    r"/deflate-small",
                    Echo,
                    {
                        "recorder": recorder,
                        "compression": {
                            "client_max_window_bits": 9,
                            "server_max_window_bits": 10,
                            "client_no_context_takeover": True,
                        },
                    },
                ),
            ],
            **settings,
        )
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        servers.append(server)
        return f"ws://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop()

        async def close(server: HTTPServer = server) -> None:
            await server.close_all_connections(1.0)

        io_loop.run_sync(close, timeout=TIMEOUT)


async def test_websockets_client_echo(squall_server: Any) -> None:
    async with ws_connect(squall_server() + "/echo", max_size=None, compression=None) as ws:
        for message in ("hello", "caf\u00e9 \u2603", "", b"\x00\x01", b""):
            await ws.send(message)
            assert await wait(ws.recv()) == message
        big_text = "x\u00e9" * (BIG // 3)
        big_binary = bytes(range(256)) * (BIG // 256)
        await ws.send(big_text)
        assert await wait(ws.recv()) == big_text
        await ws.send(big_binary)
        assert await wait(ws.recv()) == big_binary


async def test_websockets_client_sends_fragments(squall_server: Any, recorder: Recorder) -> None:
    async with ws_connect(squall_server() + "/echo", compression=None) as ws:
        await ws.send(["frag", "ment", "ed \u2603"])
        assert await wait(ws.recv()) == "fragmented \u2603"
        await ws.send([b"\x00" * 70000, b"\x01" * 70000])
        assert await wait(ws.recv()) == b"\x00" * 70000 + b"\x01" * 70000
    assert ("message", "fragmented \u2603") in recorder.events


@pytest.mark.parametrize("path", ["/deflate", "/deflate-small"])
async def test_websockets_client_compression(squall_server: Any, path: str) -> None:
    async with ws_connect(squall_server() + path, max_size=None) as ws:
        extensions = ws.response.headers["Sec-WebSocket-Extensions"]
        assert extensions.startswith("permessage-deflate")
        if path == "/deflate-small":
            assert "client_max_window_bits=9" in extensions
            assert "server_max_window_bits=10" in extensions
            assert "client_no_context_takeover" in extensions
        for message in ["short", "repeat " * 1000, "repeat " * 1000, bytes(range(256)) * 4096]:
            await ws.send(message)
            assert await wait(ws.recv()) == message
        await ws.send(["compressed ", "fragments"])
        assert await wait(ws.recv()) == "compressed fragments"


async def test_websockets_client_without_compression_offer(squall_server: Any) -> None:
    async with ws_connect(squall_server() + "/deflate", compression=None) as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.send("plain")
        assert await wait(ws.recv()) == "plain"


async def test_websockets_client_pings(squall_server: Any, recorder: Recorder) -> None:
    async with ws_connect(squall_server() + "/echo") as ws:
        handler = await wait(recorder.opened.get())
        pong = await ws.ping(b"client ping")
        await wait(pong)
        handler.ping(b"server ping")
        for _ in range(100):
            if ("pong", b"server ping") in recorder.events:
                break
            await asyncio.sleep(0.01)
    assert ("ping", b"client ping") in recorder.events
    assert ("pong", b"server ping") in recorder.events


async def test_keepalive_with_websockets_client(squall_server: Any, recorder: Recorder) -> None:
    url = squall_server(websocket_ping_interval=0.05, websocket_ping_timeout=5) + "/echo"
    async with ws_connect(url, ping_interval=0.05, ping_timeout=5) as ws:
        await asyncio.sleep(0.4)  # several pings each way, all answered
        await ws.send("still here")
        assert await wait(ws.recv()) == "still here"
    assert sum(1 for e in recorder.events if e[0] == "ping") >= 2
    assert recorder.events[-1][0] == "close"


async def test_websockets_client_closes_with_code(squall_server: Any, recorder: Recorder) -> None:
    ws = await ws_connect(squall_server() + "/echo")
    await ws.close(4001, "client says bye")
    handler = await wait(recorder.closed.get())
    assert (handler.close_code, handler.close_reason) == (4001, "client says bye")
    assert ws.close_code == 4001  # echoed


async def test_server_closes_websockets_client_with_code(
    squall_server: Any, recorder: Recorder
) -> None:
    async with ws_connect(squall_server() + "/echo") as ws:
        await ws.send("close me")
        with pytest.raises(ConnectionClosed) as info:
            await wait(ws.recv())
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4002, "server says bye")
    handler = await wait(recorder.closed.get())
    assert handler.close_code == 4002


async def test_oversized_message_from_websockets_client(
    squall_server: Any, recorder: Recorder
) -> None:
    async with ws_connect(
        squall_server(websocket_max_message_size=1000) + "/echo", compression=None
    ) as ws:
        await ws.send("y" * 2000)
        with pytest.raises(ConnectionClosed) as info:
            await wait(ws.recv())
    assert info.value.rcvd.code == 1009
    await wait(recorder.closed.get())


async def test_handler_exception_gives_websockets_client_1011(squall_server: Any) -> None:
    async with ws_connect(squall_server() + "/echo") as ws:
        with ExpectLog("squall.application", "Uncaught exception"):
            await ws.send("fail")
            with pytest.raises(ConnectionClosed) as info:
                await wait(ws.recv())
    assert info.value.rcvd.code == 1011


async def test_subprotocol_with_websockets_client(squall_server: Any) -> None:
    async with ws_connect(squall_server() + "/echo", subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"


# -- websockets' server, Squall's client --------------------------------------------------------


class PeerServer:
    """A ``websockets`` server whose handler the test scripts through commands."""

    def __init__(self) -> None:
        self.closes: asyncio.Queue[tuple[int | None, str | None]] = asyncio.Queue()
        self.received: list[Any] = []
        self.pongs: asyncio.Queue[float] = asyncio.Queue()

    async def handler(self, ws: Any) -> None:
        if ws.request.path == "/welcome":
            await ws.send("welcome")
        try:
            async for message in ws:
                self.received.append(message)
                if message == "fragments please":
                    await ws.send(["frag", "ment", "ed"])
                    await ws.send([b"\x01" * 70000, b"\x02" * 70000])
                elif message == "ping me":
                    pong = await ws.ping(b"server ping")
                    self.pongs.put_nowait(await wait(pong))
                elif message == "close me":
                    await ws.close(4002, "server says bye")
                elif message == "big":
                    await ws.send(b"z" * 5000)
                else:
                    await ws.send(message)
        except ConnectionClosed:
            pass
        self.closes.put_nowait((ws.close_code, ws.close_reason))


@pytest.fixture
def peer_server(io_loop: Any) -> Iterator[Callable[..., Any]]:
    """``await peer_server(**serve_kwargs)`` -> (base ws:// URL, PeerServer)."""
    servers: list[Any] = []

    async def start(**kwargs: Any) -> tuple[str, PeerServer]:
        peer = PeerServer()
        server = await ws_serve(peer.handler, "127.0.0.1", 0, **kwargs)
        servers.append(server)
        port = next(iter(server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}", peer

    yield start

    async def close() -> None:
        for server in servers:
            server.close()
            await wait(server.wait_closed())

    io_loop.run_sync(close, timeout=TIMEOUT)


async def close_and_wait(conn: WebSocketClientConnection) -> None:
    conn.close()
    assert await wait(conn.read_message()) is None


async def test_squall_client_echo(peer_server: Any) -> None:
    url, peer = await peer_server(max_size=None, compression=None)
    conn = await wait(websocket_connect(url + "/echo"))
    for message in ("hello", "caf\u00e9", "", b"\x00\xff", b""):
        conn.write_message(message, binary=isinstance(message, bytes))
        assert await wait(conn.read_message()) == message
    big = bytes(range(256)) * (BIG // 256)
    await wait(conn.write_message(big, binary=True))
    assert await wait(conn.read_message()) == big
    big_text = "\u2603" * (BIG // 3)
    conn.write_message(big_text)
    assert await wait(conn.read_message()) == big_text
    await close_and_wait(conn)
    assert (await wait(peer.closes.get()))[0] == 1005  # a close frame without a code


async def test_squall_client_first_frame_right_behind_the_101(peer_server: Any) -> None:
    url, _ = await peer_server()
    conn = await wait(websocket_connect(url + "/welcome"))
    assert await wait(conn.read_message()) == "welcome"
    await close_and_wait(conn)


async def test_squall_client_receives_fragments(peer_server: Any) -> None:
    url, _ = await peer_server(compression=None)
    conn = await wait(websocket_connect(url + "/"))
    conn.write_message("fragments please")
    assert await wait(conn.read_message()) == "fragmented"
    assert await wait(conn.read_message()) == b"\x01" * 70000 + b"\x02" * 70000
    await close_and_wait(conn)


async def test_squall_client_compression(peer_server: Any) -> None:
    url, peer = await peer_server(max_size=None)  # websockets: pmd with 12-bit windows
    conn = await wait(websocket_connect(url + "/", compression_options={}))
    extensions = conn.headers["Sec-WebSocket-Extensions"]
    assert extensions.startswith("permessage-deflate")
    deflate = conn.protocol.deflate
    assert deflate is not None
    # websockets' defaults: 12-bit windows both ways, which Squall's client follows.
    assert "server_max_window_bits=12" in extensions
    assert "client_max_window_bits=12" in extensions
    assert (deflate.compress_wbits, deflate.decompress_wbits) == (12, 12)
    for message in ["tiny", "again " * 2000, "again " * 2000, bytes(range(256)) * 8192]:
        conn.write_message(message, binary=isinstance(message, bytes))
        assert await wait(conn.read_message()) == message
    conn.write_message("fragments please")
    assert await wait(conn.read_message()) == "fragmented"
    assert await wait(conn.read_message()) == b"\x01" * 70000 + b"\x02" * 70000
    await close_and_wait(conn)
    assert peer.received[1] == "again " * 2000


@pytest.mark.parametrize("options", [{"client_no_context_takeover": True}, {"mem_level": 3}])
async def test_squall_client_compression_options(peer_server: Any, options: Any) -> None:
    url, _ = await peer_server()
    conn = await wait(websocket_connect(url + "/", compression_options=options))
    if "client_no_context_takeover" in options:
        assert "client_no_context_takeover" in conn.headers["Sec-WebSocket-Extensions"]
        assert conn.protocol.deflate.compress_reset
    for i in range(3):
        conn.write_message(f"message {i} " * 500)
        assert await wait(conn.read_message()) == f"message {i} " * 500
    await close_and_wait(conn)


async def test_squall_client_compression_declined(peer_server: Any) -> None:
    url, _ = await peer_server(compression=None)
    conn = await wait(websocket_connect(url + "/", compression_options={}))
    assert "Sec-WebSocket-Extensions" not in conn.headers
    assert conn.protocol.deflate is None
    conn.write_message("uncompressed")
    assert await wait(conn.read_message()) == "uncompressed"
    await close_and_wait(conn)


class PingingClient(WebSocketClientConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pings: asyncio.Queue[bytes] = asyncio.Queue()
        self.pongs: asyncio.Queue[bytes] = asyncio.Queue()

    def on_ping(self, data: bytes) -> None:
        self.pings.put_nowait(data)

    def on_pong(self, data: bytes) -> None:
        self.pongs.put_nowait(data)


async def test_squall_client_pings(peer_server: Any) -> None:
    url, peer = await peer_server()
    conn = PingingClient(url + "/")
    await wait(conn.connect_future)
    conn.ping(b"client ping")
    assert await wait(conn.pongs.get()) == b"client ping"
    conn.write_message("ping me")
    assert await wait(conn.pings.get()) == b"server ping"
    latency = await wait(peer.pongs.get())  # websockets got our automatic pong
    assert latency >= 0
    await close_and_wait(conn)


async def test_squall_client_keepalive(peer_server: Any) -> None:
    url, _ = await peer_server(ping_interval=0.05, ping_timeout=5)
    conn = PingingClient(url + "/", ping_interval=0.05, ping_timeout=5)
    await wait(conn.connect_future)
    for _ in range(2):
        await wait(conn.pings.get())  # websockets' keepalive pings
        await wait(conn.pongs.get())  # answers to ours
    await asyncio.sleep(0.2)
    conn.write_message("alive")
    assert await wait(conn.read_message()) == "alive"
    await close_and_wait(conn)


async def test_squall_client_closes_with_code(peer_server: Any) -> None:
    url, peer = await peer_server()
    conn = await wait(websocket_connect(url + "/"))
    conn.close(4001, "client says bye")
    assert await wait(conn.read_message()) is None
    assert await wait(peer.closes.get()) == (4001, "client says bye")
    assert conn.close_code == 4001  # websockets echoed it


async def test_websockets_server_closes_with_code(peer_server: Any) -> None:
    url, peer = await peer_server()
    conn = await wait(websocket_connect(url + "/"))
    conn.write_message("close me")
    assert await wait(conn.read_message()) is None
    assert (conn.close_code, conn.close_reason) == (4002, "server says bye")
    assert (await wait(peer.closes.get()))[0] == 4002


async def test_websockets_server_refuses_oversized_message(peer_server: Any) -> None:
    url, _ = await peer_server(max_size=1000, compression=None)
    conn = await wait(websocket_connect(url + "/"))
    conn.write_message("x" * 2000)
    assert await wait(conn.read_message()) is None
    assert conn.close_code == 1009


async def test_squall_client_refuses_oversized_message(peer_server: Any) -> None:
    url, peer = await peer_server(compression=None)
    conn = await wait(websocket_connect(url + "/", max_message_size=1000))
    conn.write_message("big")
    assert await wait(conn.read_message()) is None
    assert (await wait(peer.closes.get()))[0] == 1009  # what we sent to websockets


async def test_squall_client_subprotocol(peer_server: Any) -> None:
    url, _ = await peer_server(subprotocols=["chat"])
    conn = await wait(websocket_connect(url + "/", subprotocols=["other", "chat"]))
    assert conn.selected_subprotocol == "chat"
    await close_and_wait(conn)
