"""squall.websocket against malformed peers on raw sockets.

Every violation gets the right close code, the connection is freed (its
file descriptor is closed: the process's descriptor count comes back) and
another connection opened before keeps working.  Both sides: a raw client
against Squall's server, and a raw server against Squall's client.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from squall import web
from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port
from squall.websocket import PerMessageDeflate, WebSocketHandler, websocket_connect
from squall.websocket._frames import OP_CLOSE, FrameReader
from squall.websocket._handshake import accept_key

TIMEOUT = 10.0
KEY = b"\x01\x02\x03\x04"


async def wait(awaitable: Any, timeout: float = TIMEOUT) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


def count_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def fds_back_to(baseline: int, timeout: float = 3.0) -> None:
    """Wait until the process has at most ``baseline`` descriptors open again."""
    deadline = time.monotonic() + timeout
    while count_fds() > baseline:
        if time.monotonic() > deadline:
            fds = {}
            for fd in os.listdir("/proc/self/fd"):
                try:
                    fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    pass
            raise AssertionError(f"{count_fds() - baseline} descriptor(s) not closed: {fds}")
        await asyncio.sleep(0.01)


def frame(b0: int, payload: bytes, *, masked: bool = True, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    bit = 0x80 if masked else 0
    if n < 126:
        header = bytes((b0, bit | n))
    elif n < 65536:
        header = bytes((b0, bit | 126)) + struct.pack("!H", n)
    else:
        header = bytes((b0, bit | 127)) + struct.pack("!Q", n)
    if not masked:
        return header + payload
    return header + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


class RawPeer:
    """One end of a WebSocket connection driven byte by byte."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, client: bool
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = FrameReader(mask_required=not client)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def events_until_eof(self, timeout: float = TIMEOUT) -> list[tuple[int, Any]]:
        """Every frame the other side sends until it closes the TCP connection."""
        events: list[tuple[int, Any]] = []

        async def read() -> None:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                events.extend(self.frames.feed(data))

        await wait(read(), timeout)
        return events

    async def close_code(self) -> int | None:
        events = await self.events_until_eof()
        closes = [value for kind, value in events if kind == OP_CLOSE]
        assert len(closes) == 1, events
        return closes[0][0]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.writer.close()


async def raw_client(port: int, path: str = "/echo", extensions: str | None = None) -> RawPeer:
    reader, writer = await wait(asyncio.open_connection("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await wait(reader.readuntil(b"\r\n\r\n"))
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert accept_key(key).encode() in head
    return RawPeer(reader, writer, client=True)


# -- the server side -------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.opened: asyncio.Queue[WebSocketHandler] = asyncio.Queue()
        self.closed: asyncio.Queue[WebSocketHandler] = asyncio.Queue()


class Echo(WebSocketHandler):
    def initialize(self, recorder: Recorder, compression: dict[str, Any] | None = None) -> None:
        self.recorder = recorder
        self.compression = compression

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.compression

    def open(self) -> None:
        connection = self.ws_connection
        assert connection is not None
        self.deflate = connection.deflate
        self.recorder.opened.put_nowait(self)

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        self.recorder.closed.put_nowait(self)


@pytest.fixture
def recorder(io_loop: Any) -> Recorder:
    return Recorder()


@pytest.fixture
def server(io_loop: Any, recorder: Recorder) -> Iterator[Callable[..., int]]:
    """``server(**settings)`` -> the port of a Squall server with /echo and /deflate."""
    servers: list[HTTPServer] = []

    def start(**settings: Any) -> int:
        app = web.Application(
            [
                (r"/echo", Echo, {"recorder": recorder}),
                (r"/deflate", Echo, {"recorder": recorder, "compression": {}}),
            ],
            **settings,
        )
        sock, port = bind_unused_port()
        http_server = HTTPServer(app)
        http_server.add_sockets([sock])
        servers.append(http_server)
        return port

    yield start
    for http_server in servers:
        http_server.stop()

        async def close(http_server: HTTPServer = http_server) -> None:
            await http_server.close_all_connections(1.0)

        io_loop.run_sync(close, timeout=TIMEOUT)


MAX = 1024

CASES = {
    "unmasked client frame": (frame(0x81, b"hi", masked=False), 1002),
    "RSV1 without negotiated extension": (frame(0xC1, b"hi"), 1002),
    "RSV2": (frame(0xA1, b"hi"), 1002),
    "RSV3": (frame(0x91, b"hi"), 1002),
    "control frame over 125 bytes": (frame(0x89, b"p" * 126), 1002),
    "fragmented control frame": (frame(0x09, b"p"), 1002),
    "reserved data opcode": (frame(0x83, b"x"), 1002),
    "reserved control opcode": (frame(0x8C, b""), 1002),
    "continuation without a message": (frame(0x80, b"x"), 1002),
    "invalid close code": (frame(0x88, b"\x03\xee"), 1002),
    "invalid UTF-8 text": (frame(0x81, b"abc\xc3\x28"), 1007),
    "invalid UTF-8 in a fragment": (frame(0x01, b"ok") + frame(0x00, b"\xf8\x88"), 1007),
    "oversized message (header only)": (frame(0x82, b"", length=MAX + 1)[:4], 1009),
    "oversized fragmented message": (frame(0x02, b"a" * 600) + frame(0x80, b"b" * 600), 1009),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_malformed_frames_fail_the_connection(
    server: Any, recorder: Recorder, case: str
) -> None:
    port = server(websocket_max_message_size=MAX)
    other = await wait(websocket_connect(f"ws://127.0.0.1:{port}/echo"))
    await wait(recorder.opened.get())
    baseline = count_fds()
    peer = await raw_client(port)
    await wait(recorder.opened.get())
    data, code = CASES[case]
    peer.send(frame(0x81, b"before") + data)
    events = await peer.events_until_eof()
    assert events[0] == (1, "before")  # what came before the violation was handled
    assert events[-1][0] == OP_CLOSE and events[-1][1][0] == code, events
    peer.close()
    handler = await wait(recorder.closed.get())
    assert handler.ws_connection is None
    await fds_back_to(baseline)
    other.write_message("still working")
    assert await wait(other.read_message()) == "still working"
    other.close()


async def test_truncated_frame_then_eof_frees_the_connection(
    server: Any, recorder: Recorder
) -> None:
    port = server()
    other = await wait(websocket_connect(f"ws://127.0.0.1:{port}/echo"))
    await wait(recorder.opened.get())
    baseline = count_fds()
    for cut in (1, 2, 5, 9):  # inside the header, inside the key, inside the payload
        peer = await raw_client(port)
        await wait(recorder.opened.get())
        peer.send(frame(0x81, b"hello")[:cut])
        await asyncio.sleep(0.01)
        peer.writer.write_eof()
        assert await peer.events_until_eof() == []
        peer.close()
        handler = await wait(recorder.closed.get())
        assert handler.close_code is None
    await fds_back_to(baseline)
    other.write_message("still working")
    assert await wait(other.read_message()) == "still working"
    other.close()


async def test_compression_bomb_is_refused_without_inflating_it(
    server: Any, recorder: Recorder
) -> None:
    limit = 1024 * 1024
    port = server(websocket_max_message_size=limit)
    bomb = deflate_raw(b"\x00" * (256 * 1024 * 1024))  # 256 MiB of zeros
    assert len(bomb) < 300_000
    other = await wait(websocket_connect(f"ws://127.0.0.1:{port}/echo"))
    await wait(recorder.opened.get())
    baseline = count_fds()
    peer = await raw_client(port, "/deflate", "permessage-deflate")
    peer.frames = FrameReader(mask_required=False, deflate=PerMessageDeflate())
    handler = await wait(recorder.opened.get())
    assert handler.deflate is not None
    peer.send(frame(0xC1, deflate_raw(b"fine")))
    tracemalloc.start()
    try:
        peer.send(frame(0xC2, bomb))
        events = await peer.events_until_eof()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events[0] == (1, "fine")
    assert events[-1][0] == OP_CLOSE and events[-1][1][0] == 1009
    assert handler.deflate.inflated_bytes <= len("fine") + limit + 1
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes while refusing the bomb"
    peer.close()
    await wait(recorder.closed.get())
    await fds_back_to(baseline)
    other.write_message("still working")
    assert await wait(other.read_message()) == "still working"
    other.close()


async def test_close_frame_from_raw_client_is_echoed(server: Any, recorder: Recorder) -> None:
    port = server()
    peer = await raw_client(port)
    peer.send(frame(0x88, b"\x0f\xa1see you"))  # 4001
    assert await peer.close_code() == 4001  # echoed, then the server closed TCP first
    peer.close()
    handler = await wait(recorder.closed.get())
    assert (handler.close_code, handler.close_reason) == (4001, "see you")


async def test_message_crossing_the_close_frame_is_not_an_error(
    server: Any, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    port = server()
    peer = await raw_client(port)
    handler = await wait(recorder.opened.get())
    handler.close(1000)  # the echo of the next message can no longer be sent
    peer.send(frame(0x81, b"crossing") + frame(0x88, b"\x03\xe8"))
    with caplog.at_level(logging.ERROR, logger="squall.application"):
        assert await peer.close_code() == 1000
        peer.close()
        await wait(recorder.closed.get())
    assert caplog.records == []


async def test_silent_client_after_server_close_is_dropped(server: Any, recorder: Recorder) -> None:
    port = server()
    other = await wait(websocket_connect(f"ws://127.0.0.1:{port}/echo"))
    await wait(recorder.opened.get())
    baseline = count_fds()  # after the first connection (lazily opened resources)
    peer = await raw_client(port)
    handler = await wait(recorder.opened.get())
    handler.ws_connection.close_timeout = 0.2
    handler.close(1001, "going away")
    started = time.monotonic()
    assert await peer.close_code() == 1001  # and then EOF, without our answer
    assert time.monotonic() - started < 5
    peer.close()
    await wait(recorder.closed.get())
    await fds_back_to(baseline)
    other.close()


async def test_dead_peer_is_closed_by_ping_timeout(server: Any, recorder: Recorder) -> None:
    port = server(websocket_ping_interval=0.1, websocket_ping_timeout=0.3)
    other = await wait(websocket_connect(f"ws://127.0.0.1:{port}/echo"))
    await wait(recorder.opened.get())
    baseline = count_fds()
    peer = await raw_client(port)
    started = time.monotonic()
    events = await peer.events_until_eof()  # reads the pings but never answers
    assert time.monotonic() - started < 5
    assert events and all(kind == 0x9 for kind, _ in events)
    peer.close()
    handler = await wait(recorder.closed.get())
    assert handler.close_code is None
    await fds_back_to(baseline)
    other.write_message("answered its pings, still open")
    assert await wait(other.read_message()) == "answered its pings, still open"
    other.close()


async def test_frames_sent_right_behind_the_handshake(server: Any, recorder: Recorder) -> None:
    port = server()
    reader, writer = await wait(asyncio.open_connection("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        + frame(0x81, b"pipelined")
    )
    await wait(reader.readuntil(b"\r\n\r\n"))
    peer = RawPeer(reader, writer, client=True)
    assert peer.frames.feed(await wait(reader.read(100))) == [(1, "pipelined")]
    peer.close()


# -- the client side ---------------------------------------------------------------------------


@pytest.fixture
def raw_server(io_loop: Any) -> Iterator[Callable[..., Any]]:
    """``await raw_server(script)`` -> port; ``script(peer)`` runs after a valid 101."""
    servers: list[asyncio.Server] = []

    async def start(script: Callable[[RawPeer], Any]) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                key = next(
                    line.split(":", 1)[1].strip()
                    for line in head.split("\r\n")
                    if line.lower().startswith("sec-websocket-key:")
                )
                writer.write(
                    (
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
                    ).encode()
                )
                await script(RawPeer(reader, writer, client=False))
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start

    async def close() -> None:
        for server in servers:
            server.close()
            await server.wait_closed()
        await asyncio.sleep(0.01)

    io_loop.run_sync(close, timeout=TIMEOUT)


CLIENT_CASES = {
    "masked frame from the server": (frame(0x81, b"hi", masked=True), 1002),
    "RSV1 without negotiated extension": (frame(0xC1, b"hi", masked=False), 1002),
    "reserved opcode": (frame(0x8D, b"", masked=False), 1002),
    "control frame over 125 bytes": (frame(0x8A, b"p" * 200, masked=False), 1002),
    "invalid UTF-8 text": (frame(0x81, b"\xff", masked=False), 1007),
    "oversized message": (frame(0x82, b"", length=2000, masked=False)[:4], 1009),
}


@pytest.mark.parametrize("case", sorted(CLIENT_CASES))
async def test_client_fails_on_malformed_server_frames(raw_server: Any, case: str) -> None:
    data, code = CLIENT_CASES[case]
    seen: asyncio.Future[list[tuple[int, Any]]] = asyncio.get_running_loop().create_future()

    async def script(peer: RawPeer) -> None:
        peer.send(frame(0x81, b"first", masked=False) + data)
        seen.set_result(await peer.events_until_eof())

    port = await raw_server(script)
    baseline = count_fds()
    conn = await wait(websocket_connect(f"ws://127.0.0.1:{port}/", max_message_size=1000))
    assert await wait(conn.read_message()) == "first"
    assert await wait(conn.read_message()) is None
    events = await wait(seen)
    assert [kind for kind, _ in events] == [OP_CLOSE]
    assert events[0][1][0] == code
    await fds_back_to(baseline)


async def test_client_survives_truncated_frame_then_eof(raw_server: Any) -> None:
    async def script(peer: RawPeer) -> None:
        peer.send(frame(0x81, b"whole", masked=False) + frame(0x81, b"cut short", masked=False)[:6])

    port = await raw_server(script)
    baseline = count_fds()
    conn = await wait(websocket_connect(f"ws://127.0.0.1:{port}/"))
    assert await wait(conn.read_message()) == "whole"
    assert await wait(conn.read_message()) is None
    assert conn.close_code is None
    await fds_back_to(baseline)


async def test_client_waits_for_the_server_to_close_tcp(raw_server: Any) -> None:
    async def script(peer: RawPeer) -> None:
        peer.send(frame(0x88, b"\x03\xe8", masked=False))
        await asyncio.sleep(0.2)  # the client must not hang up first...
        assert not peer.reader.at_eof()
        events = peer.frames.feed(await peer.reader.read(100))
        assert events == [(OP_CLOSE, (1000, ""))]  # ...but answer the close frame

    port = await raw_server(script)
    conn = await wait(websocket_connect(f"ws://127.0.0.1:{port}/"))
    assert await wait(conn.read_message()) is None
    assert conn.close_code == 1000
