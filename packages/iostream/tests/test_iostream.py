"""Tests for squall.iostream: every read and write on every stream kind (loopback only)."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import resource
import socket
import ssl
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from squall import iostream
from squall.ioloop import IOLoop
from squall.iostream import (
    BaseIOStream,
    ConnectError,
    IOStream,
    PipeIOStream,
    ReadInProgressError,
    SSLIOStream,
    StreamBufferFullError,
    StreamClosedError,
    StreamError,
    TLSHandshakeError,
    UnsatisfiableReadError,
)
from squall.testing import count_open_fds, wait_until

KINDS = ["tcp", "unix", "tls", "pipe"]
BIG = 32 * 1024 * 1024  # more than loopback socket and pipe buffers hold


async def settle(seconds: float = 0.02) -> None:
    """Let the loop run the transports' deferred closes."""
    await asyncio.sleep(seconds)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


class Pairs:
    """Builds connected stream pairs; closes them all at the end of the test."""

    def __init__(
        self,
        listener: socket.socket,
        server_context: ssl.SSLContext,
        client_context: ssl.SSLContext,
    ) -> None:
        self.listener = listener
        self.server_context = server_context
        self.client_context = client_context
        self.streams: list[BaseIOStream] = []

    async def make(self, kind: str, **kwargs: Any) -> tuple[Any, Any]:
        """Return (reader, writer): bytes written to writer arrive at reader.

        For socket kinds the pair is bidirectional (reader is the accepted
        end, writer the connecting one).
        """
        loop = asyncio.get_running_loop()
        reader: BaseIOStream
        writer: BaseIOStream
        if kind == "pipe":
            r, w = os.pipe()
            reader, writer = PipeIOStream(r, **kwargs), PipeIOStream(w, **kwargs)
        elif kind == "unix":
            a, b = socket.socketpair()
            reader, writer = IOStream(a, **kwargs), IOStream(b, **kwargs)
        elif kind == "tcp":
            writer = IOStream(socket.socket(), **kwargs)
            connected = writer.connect(self.listener.getsockname())
            conn, _ = await asyncio.wait_for(loop.sock_accept(self.listener), 5)
            reader = IOStream(conn, **kwargs)
            await asyncio.wait_for(connected, 5)
        elif kind == "tls":
            client = SSLIOStream(socket.socket(), ssl_options=self.client_context, **kwargs)
            connected = client.connect(self.listener.getsockname(), server_hostname="localhost")
            conn, _ = await asyncio.wait_for(loop.sock_accept(self.listener), 5)
            server = SSLIOStream(conn, ssl_options=self.server_context, server_side=True, **kwargs)
            await asyncio.wait_for(asyncio.gather(connected, server.wait_for_handshake()), 5)
            reader, writer = server, client
        else:  # pragma: no cover
            raise ValueError(kind)
        self.streams += [reader, writer]
        return reader, writer

    def close(self) -> None:
        for stream in self.streams:
            stream.close()


@pytest.fixture
def pairs(
    io_loop: IOLoop,
    listener: socket.socket,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> Iterator[Pairs]:
    p = Pairs(listener, server_context, client_context)
    yield p
    p.close()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ---------------------------------------------------------------------- API


def test_public_api() -> None:
    assert sorted(iostream.__all__) == sorted(
        [
            "BaseIOStream",
            "ConnectError",
            "IOStream",
            "PipeIOStream",
            "ReadInProgressError",
            "SSLIOStream",
            "StreamBufferFullError",
            "StreamClosedError",
            "StreamError",
            "TLSHandshakeError",
            "UnsatisfiableReadError",
        ]
    )
    for name in iostream.__all__:
        obj = getattr(iostream, name)
        assert obj.__doc__ and ".. versionadded:: 0.1.0" in obj.__doc__, name


def test_exception_tree() -> None:
    for cls in (
        StreamClosedError,
        ConnectError,
        TLSHandshakeError,
        UnsatisfiableReadError,
        StreamBufferFullError,
        ReadInProgressError,
    ):
        assert issubclass(cls, StreamError)
    assert issubclass(StreamClosedError, OSError)  # Tornado's was an IOError
    assert issubclass(ConnectError, StreamClosedError)
    assert issubclass(TLSHandshakeError, StreamClosedError)
    assert issubclass(ReadInProgressError, RuntimeError)
    error = StreamClosedError(real_error=ConnectionResetError(errno.ECONNRESET, "reset"))
    assert isinstance(error.real_error, ConnectionResetError)
    assert "ConnectionResetError" in str(error)
    assert StreamClosedError().real_error is None
    assert str(StreamClosedError()) == "Stream is closed"
    for name in ("exception", "StreamError", "StreamClosedError", "UnsatisfiableReadError"):
        assert name.lower() in (iostream.__doc__ or "").lower()


# ---------------------------------------------------------------------- reads


async def test_read_until(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    await writer.write(b"abc\r\ndef\r\nrest")
    assert await reader.read_until(b"\r\n") == b"abc\r\n"
    assert await reader.read_until(b"\r\n") == b"def\r\n"
    later = reader.read_until(b"\r\n")
    assert not later.done()
    await writer.write(b" of it\r")
    await settle()
    assert not later.done()
    await writer.write(b"\nnext")
    assert await later == b"rest of it\r\n"


async def test_read_until_delimiter_split_across_chunks(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    future = reader.read_until(b"<END>")
    for piece in (b"x" * 5000, b"<E", b"N", b"D>tail"):
        await writer.write(piece)
        await settle(0.005)
    assert await future == b"x" * 5000 + b"<END>"
    assert await reader.read_bytes(4) == b"tail"


async def test_read_until_max_bytes(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    await writer.write(b"1234\n")
    assert await reader.read_until(b"\n", max_bytes=5) == b"1234\n"
    await writer.write(b"123456\n")
    with pytest.raises(UnsatisfiableReadError, match="not found within 5 bytes"):
        await reader.read_until(b"\n", max_bytes=5)
    assert reader.closed()
    assert isinstance(reader.error, UnsatisfiableReadError)


async def test_read_until_max_bytes_without_delimiter(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    future = reader.read_until(b"\n", max_bytes=100)
    await writer.write(b"x" * 150)
    with pytest.raises(UnsatisfiableReadError):
        await future
    assert reader.closed()


async def test_read_until_regex(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    await writer.write(b"GET / HTTP/1.1\r\n\r\nbody")
    pattern = re.compile(rb"\r?\n\r?\n")
    assert await reader.read_until_regex(pattern) == b"GET / HTTP/1.1\r\n\r\n"
    future = reader.read_until_regex(rb"[0-9]+;")
    await writer.write(b"12")
    await settle()
    assert not future.done()
    await writer.write(b"3;")
    assert await future == b"body123;"
    await writer.write(b"y" * 50)
    with pytest.raises(UnsatisfiableReadError, match="not matched within 20 bytes"):
        await reader.read_until_regex(rb"z", max_bytes=20)
    assert reader.closed()


async def test_read_bytes(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    await writer.write(b"0123456789")
    assert await reader.read_bytes(0) == b""
    assert await reader.read_bytes(4) == b"0123"
    assert await reader.read_bytes(10, partial=True) == b"456789"
    future = reader.read_bytes(3)
    await writer.write(b"ab")
    await settle()
    assert not future.done()
    await writer.write(b"cd")
    assert await future == b"abc"
    assert await reader.read_bytes(5, partial=True) == b"d"
    with pytest.raises(ValueError, match="num_bytes"):
        reader.read_bytes(-1)


async def test_read_bytes_streaming_callback(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    chunks: list[bytes] = []
    future = reader.read_bytes(100_000, streaming_callback=chunks.append)
    payload = bytes(range(256)) * 400  # 102400 bytes
    await writer.write(payload)
    assert await future == b""
    await settle()
    assert b"".join(chunks) == payload[:100_000]
    assert await reader.read_bytes(2400) == payload[100_000:]


async def test_read_into(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    await writer.write(b"hello world")
    await settle()
    buf = bytearray(5)
    assert await reader.read_into(buf) == 5
    assert buf == b"hello"
    buf = bytearray(100)
    assert await reader.read_into(buf, partial=True) == 6
    assert buf[:6] == b" world"
    # A large read straight into the caller's buffer.
    payload = os.urandom(1024 * 1024)
    big = bytearray(len(payload))
    future = reader.read_into(big)
    await writer.write(payload)
    assert await future == len(payload)
    assert big == payload
    # Into a memoryview slice, with bytes already buffered and more to come.
    target = bytearray(10)
    await writer.write(b"abc")
    await settle()
    future = reader.read_into(memoryview(target)[2:8])
    await writer.write(b"defghij")
    assert await future == 6
    assert target == b"\0\0abcdef\0\0"
    with pytest.raises(TypeError, match="writable"):
        reader.read_into(b"readonly")


async def test_read_until_close(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    future = reader.read_until_close()
    await writer.write(b"part one, ")
    await writer.write(b"part two")
    await settle()
    assert not future.done()
    writer.close()
    assert await future == b"part one, part two"
    assert reader.closed()
    assert reader.error is None
    # Once closed, it still resolves (with nothing left).
    assert await reader.read_until_close() == b""


async def test_read_until_close_streaming(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    chunks: list[bytes] = []
    future = reader.read_until_close(streaming_callback=chunks.append)
    payload = os.urandom(300_000)
    await writer.write(payload)
    writer.close()
    assert await future == b""
    await settle()
    assert b"".join(chunks) == payload


async def test_classic_callbacks(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    results: list[Any] = []
    done = asyncio.Event()

    def step(value: Any) -> None:
        results.append(value)
        if len(results) == 5:
            done.set()

    writer.write(b"line\nABCDEF12345", callback=lambda: results.append("written"))
    reader.read_until(b"\n", callback=step)
    await wait_until(lambda: len(results) == 2)
    reader.read_bytes(3, callback=step)
    await wait_until(lambda: len(results) == 3)
    reader.read_until_regex(rb"F", callback=step)
    await wait_until(lambda: len(results) == 4)
    buf = bytearray(5)
    reader.read_into(buf, callback=step)
    await wait_until(lambda: len(results) == 5)
    assert results == ["written", b"line\n", b"ABC", b"DEF", 5]
    assert buf == b"12345"
    closed: list[bytes] = []
    reader.read_until_close(callback=closed.append)
    writer.write(b"bye")
    await settle()
    writer.close()
    await wait_until(lambda: closed == [b"bye"])


async def test_callback_exception_closes_stream(pairs: Pairs, kind: str) -> None:
    from squall.testing import ExpectLog

    reader, writer = await pairs.make(kind)

    def boom(data: bytes) -> None:
        raise RuntimeError("boom")

    with ExpectLog("squall.application", "Uncaught exception in stream callback"):
        reader.read_bytes(1, callback=boom)
        await writer.write(b"x")
        await wait_until(reader.closed)
    assert isinstance(reader.error, RuntimeError)


async def test_one_read_at_a_time(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    first = reader.read_until(b"\n")
    assert reader.reading()
    with pytest.raises(ReadInProgressError, match="already pending"):
        reader.read_bytes(1)
    with pytest.raises(ReadInProgressError):
        reader.read_until_close()
    # A cancelled read (say, by a timeout) frees the stream; no byte is lost.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(first, 0.05)
    await writer.write(b"kept\n")
    await settle()
    assert await reader.read_until(b"\n") == b"kept\n"
    assert not reader.reading()


async def test_max_buffer_size(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind, max_buffer_size=8192)
    future = reader.read_until(b"\n")
    writer.write(b"x" * 20000)
    with pytest.raises(StreamBufferFullError, match="max_buffer_size"):
        await future
    assert reader.closed()
    assert isinstance(reader.error, StreamBufferFullError)
    with pytest.raises(StreamClosedError) as info:
        reader.read_bytes(100_000)
    assert isinstance(info.value.real_error, StreamBufferFullError)


async def test_read_bytes_beyond_max_buffer_size(pairs: Pairs, kind: str) -> None:
    reader, _ = await pairs.make(kind, max_buffer_size=4096)
    with pytest.raises(StreamBufferFullError, match=r"read_bytes\(5000\)"):
        await reader.read_bytes(5000)
    assert reader.closed()


async def test_read_until_close_beyond_max_buffer_size(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind, max_buffer_size=4096)
    future = reader.read_until_close()
    writer.write(b"z" * 10000)
    with pytest.raises(StreamBufferFullError):
        await future


async def test_unread_data_pauses_reading(pairs: Pairs, kind: str) -> None:
    # Nobody reads: the stream stops taking bytes after about a chunk, and
    # the writer's Future stays pending instead of the buffer growing.
    reader, writer = await pairs.make(kind, read_chunk_size=4096)
    future = writer.write(b"p" * BIG)
    await settle(0.1)
    assert not future.done()
    assert reader._end - reader._start < 1024 * 1024
    got = await reader.read_bytes(BIG)
    assert len(got) == BIG
    await future


# ---------------------------------------------------------------------- writes


async def test_write_large_integrity(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    payload = os.urandom(4 * 1024 * 1024)
    written = writer.write(payload)
    received = await reader.read_bytes(len(payload))
    await written
    assert received == payload
    assert not writer.writing()


async def test_bulk_partial_reads_then_small_reads(pairs: Pairs, kind: str) -> None:
    # Large partial reads (bulk mode on plain selector transports: chunks are
    # handed over without a copy), then small reads and read_into again.
    reader, writer = await pairs.make(kind)
    payload = os.urandom(8 * 1024 * 1024)
    sent = writer.write(payload)
    chunks = []
    got = 0
    modes = set()
    while got < len(payload):
        chunk = await reader.read_bytes(256 * 1024, partial=True)
        modes.add(reader._bulk)
        chunks.append(chunk)
        got += len(chunk)
    await sent
    assert b"".join(chunks) == payload
    if kind == "tcp" and isinstance(asyncio.get_running_loop(), asyncio.SelectorEventLoop):
        assert True in modes
    await writer.write(b"line one\nline two\n")
    assert await reader.read_until(b"\n") == b"line one\n"
    assert await reader.read_until(b"\n") == b"line two\n"
    target = bytearray(300_000)
    into = reader.read_into(target)
    await writer.write(payload[:300_000])
    assert await into == 300_000
    assert target == payload[:300_000]


async def test_write_future_waits_until_sent(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    first = writer.write(b"a" * BIG)
    second = writer.write(b"b")
    await settle(0.05)
    assert not first.done() and not second.done()
    assert writer.writing()
    chunks = []
    total = 0
    while total < BIG + 1:
        chunk = await reader.read_bytes(1 << 20, partial=True)
        chunks.append(chunk)
        total += len(chunk)
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert not writer.writing()
    assert b"".join(chunks)[-2:] == b"ab"


async def test_max_write_buffer_size(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind, max_write_buffer_size=1024 * 1024)
    with pytest.raises(StreamBufferFullError, match="max_write_buffer_size"):
        writer.write(b"x" * (2 * 1024 * 1024))
    sent = 0
    with pytest.raises(StreamBufferFullError):
        for _ in range(200):
            writer.write(b"y" * 262144)
            sent += 262144
            await asyncio.sleep(0)
    # Refused, but the stream is fine: drain it and write again.
    assert not writer.closed()
    assert await reader.read_bytes(sent) == b"y" * sent
    await writer.write(b"after")
    assert await reader.read_bytes(5) == b"after"


async def test_write_before_connected_is_flushed(io_loop: IOLoop, listener: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    client = IOStream(socket.socket())
    connected = client.connect(listener.getsockname())
    early = client.write(b"early bird")
    assert client.writing()
    conn, _ = await loop.sock_accept(listener)
    server = IOStream(conn)
    assert await server.read_bytes(10) == b"early bird"
    await early
    assert await connected is client
    client.close()
    server.close()


# ---------------------------------------------------------------------- closing


async def test_close_callback_and_clean_close(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    calls: list[str] = []
    reader.set_close_callback(lambda: calls.append("reader"))
    writer.set_close_callback(lambda: calls.append("writer"))
    pending = reader.read_bytes(10)
    writer.close()
    assert writer.closed()
    with pytest.raises(StreamClosedError) as info:
        await pending
    assert info.value.real_error is None
    await wait_until(lambda: sorted(calls) == ["reader", "writer"])
    assert reader.error is None
    # A close callback set after the close still runs, once.
    late: list[int] = []
    reader.set_close_callback(lambda: late.append(1))
    await wait_until(lambda: late == [1])
    writer.close()  # twice: nothing happens
    await settle()
    assert late == [1]


async def test_buffered_bytes_survive_close(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    await writer.write(b"xyz")
    writer.close()
    await wait_until(reader.closed)
    assert await reader.read_bytes(2) == b"xy"
    assert await reader.read_until_close() == b"z"
    with pytest.raises(StreamClosedError):
        reader.read_bytes(1)
    with pytest.raises(StreamClosedError):
        reader.read_until(b"\n")
    with pytest.raises(StreamClosedError):
        writer.write(b"more")


async def test_close_during_pending_write(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    calls: list[int] = []
    writer.set_close_callback(lambda: calls.append(1))
    future = writer.write(b"w" * BIG)
    await settle(0.05)
    assert not future.done()
    writer.close()
    with pytest.raises(StreamClosedError):
        await future
    await wait_until(lambda: calls == [1])
    # The peer sees the connection end (possibly with only part of the data).
    await asyncio.wait_for(reader.read_until_close(), 5)


async def test_close_with_exc_info(pairs: Pairs, kind: str) -> None:
    reader, _ = await pairs.make(kind)
    pending = reader.read_bytes(1)
    try:
        raise ValueError("application gave up")
    except ValueError:
        reader.close(exc_info=True)
    with pytest.raises(StreamClosedError, match="application gave up") as info:
        await pending
    assert isinstance(info.value.real_error, ValueError)
    assert isinstance(reader.error, ValueError)


async def test_tornado4_io_loop_argument(io_loop: IOLoop) -> None:
    a, b = socket.socketpair()
    first = IOStream(a, io_loop=io_loop)
    second = IOStream(b, max_buffer_size=1 << 20, io_loop=io_loop)
    assert first.io_loop is io_loop
    await first.write(b"ok")
    assert await second.read_bytes(2) == b"ok"
    r, w = os.pipe()
    pipes = [PipeIOStream(r, io_loop=io_loop), PipeIOStream(w, io_loop=io_loop)]
    for stream in [first, second, *pipes]:
        stream.close()


async def test_info_methods(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    assert reader.fileno() >= 0 and writer.fileno() >= 0
    assert not reader.reading() and not writer.writing()
    reader.set_nodelay(True)
    reader.set_nodelay(False)
    future = reader.read_bytes(1)
    assert reader.reading()
    await writer.write(b"!")
    await future
    assert not reader.reading()


async def test_no_fd_leak(pairs: Pairs, kind: str) -> None:
    # One round first: the loop may open descriptors of its own on first use
    # (uvloop opens /dev/null once, for instance).
    reader, writer = await pairs.make(kind)
    await writer.write(b"warm")
    assert await reader.read_bytes(4) == b"warm"
    reader.close()
    writer.close()
    await settle()
    before = count_open_fds()
    for _ in range(20):
        reader, writer = await pairs.make(kind)
        await writer.write(b"ping")
        assert await reader.read_bytes(4) == b"ping"
        writer.close()
        reader.close()
    pairs.streams.clear()
    await wait_until(lambda: count_open_fds() <= before)


# ---------------------------------------------------------------------- sockets


def _linger_zero(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def test_peer_reset(io_loop: IOLoop, listener: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    raw = socket.socket()
    raw.connect(listener.getsockname())
    conn, _ = await loop.sock_accept(listener)
    stream = IOStream(conn)
    pending = stream.read_until(b"\n")
    raw.send(b"partial")
    await settle()
    _linger_zero(raw)
    raw.close()  # sends RST
    with pytest.raises(StreamClosedError) as info:
        await pending
    assert isinstance(info.value.real_error, ConnectionResetError)
    assert isinstance(stream.error, ConnectionResetError)
    assert stream.closed()
    # What arrived before the reset is still there.
    assert await stream.read_bytes(7) == b"partial"


async def test_half_closed_peer(io_loop: IOLoop, listener: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    raw = socket.socket()
    raw.connect(listener.getsockname())
    conn, _ = await loop.sock_accept(listener)
    stream = IOStream(conn)
    raw.sendall(b"request\n")
    raw.shutdown(socket.SHUT_WR)
    assert await stream.read_until(b"\n") == b"request\n"
    assert await stream.read_until_close() == b""
    assert stream.closed() and stream.error is None
    raw.setblocking(False)
    assert await asyncio.wait_for(loop.sock_recv(raw, 10), 5) == b""
    raw.close()


async def test_connect_refused(io_loop: IOLoop) -> None:
    await settle()
    before = count_open_fds()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    address = sock.getsockname()
    sock.close()  # nothing listens there now
    stream = IOStream(socket.socket())
    calls: list[int] = []
    stream.set_close_callback(lambda: calls.append(1))
    with pytest.raises(ConnectError, match=r"connecting to 127\.0\.0\.1:\d+ failed") as info:
        await stream.connect(address)
    assert isinstance(info.value.real_error, ConnectionRefusedError)
    assert stream.closed()
    assert isinstance(stream.error, ConnectError)
    await wait_until(lambda: calls == [1])
    await wait_until(lambda: count_open_fds() <= before)


async def test_connect_callback_and_close_while_connecting(
    io_loop: IOLoop, listener: socket.socket
) -> None:
    loop = asyncio.get_running_loop()
    connected: list[int] = []
    stream = IOStream(socket.socket())
    future = stream.connect(listener.getsockname(), callback=lambda: connected.append(1))
    conn, _ = await loop.sock_accept(listener)
    await future
    await wait_until(lambda: connected == [1])
    with pytest.raises(ValueError, match="already"):
        stream.connect(listener.getsockname())
    stream.close()
    conn.close()
    # Closing before the connection is up fails the connect Future and frees
    # the socket.
    await settle()
    before = count_open_fds()
    second = IOStream(socket.socket())
    future = second.connect(listener.getsockname())
    second.close()
    with pytest.raises(StreamClosedError):
        await future
    await wait_until(lambda: count_open_fds() <= before)


async def test_unconnected_socket_closed_without_connect(io_loop: IOLoop) -> None:
    await settle()
    before = count_open_fds()
    stream = IOStream(socket.socket())
    assert count_open_fds() == before + 1
    stream.close()
    assert count_open_fds() == before


async def test_start_tls_both_sides(
    io_loop: IOLoop,
    listener: socket.socket,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    loop = asyncio.get_running_loop()
    client = IOStream(socket.socket())
    connected = client.connect(listener.getsockname())
    conn, _ = await loop.sock_accept(listener)
    server = IOStream(conn)
    await connected
    closed: list[str] = []
    server.set_close_callback(lambda: closed.append("server"))
    # A plain-text exchange, then both ends switch (like SMTP's STARTTLS).
    await client.write(b"STARTTLS\r\n")
    assert await server.read_until(b"\r\n") == b"STARTTLS\r\n"
    await server.write(b"go ahead\r\n")
    server_tls_future = server.start_tls(True, server_context)
    assert await client.read_until(b"\r\n") == b"go ahead\r\n"
    client_tls = await client.start_tls(False, client_context, server_hostname="localhost")
    server_tls = await server_tls_future
    assert isinstance(client_tls, SSLIOStream) and isinstance(server_tls, SSLIOStream)
    assert server.closed() and client.closed()  # the plain streams are done
    await client_tls.write(b"secret\n")
    assert await server_tls.read_until(b"\n") == b"secret\n"
    assert client_tls.socket.version().startswith("TLS")
    assert client_tls.socket.getpeercert()["subjectAltName"]
    client_tls.close()
    await wait_until(lambda: closed == ["server"])  # the close callback moved
    with pytest.raises(ValueError, match="idle"):
        server.start_tls(True, server_context)


async def test_start_tls_refuses_busy_stream(pairs: Pairs) -> None:
    reader, writer = await pairs.make("tcp")
    reader.read_bytes(1)
    with pytest.raises(ValueError, match="idle"):
        reader.start_tls(True)
    await writer.write(b"xy")
    await settle()
    with pytest.raises(ValueError, match="idle"):
        reader.start_tls(True)  # one unread byte


async def test_tls_bad_certificate(
    io_loop: IOLoop, listener: socket.socket, server_context: ssl.SSLContext
) -> None:
    from squall.testing import ExpectLog

    loop = asyncio.get_running_loop()
    # A client that does not trust the test CA.
    client = SSLIOStream(socket.socket(), ssl_options=ssl.create_default_context())
    connected = client.connect(listener.getsockname(), server_hostname="localhost")
    conn, _ = await loop.sock_accept(listener)
    server = SSLIOStream(conn, ssl_options=server_context, server_side=True)
    with ExpectLog("squall.general", "TLS handshake", required=False):
        with pytest.raises(TLSHandshakeError, match="certificate verify failed") as info:
            await connected
        assert isinstance(info.value.real_error, ssl.SSLCertVerificationError)
        with pytest.raises(StreamClosedError):
            await server.wait_for_handshake()
    assert client.closed()
    with pytest.raises(TLSHandshakeError):
        await client.wait_for_handshake()


async def test_tls_wrong_host_name(
    io_loop: IOLoop,
    listener: socket.socket,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    from squall.testing import ExpectLog

    loop = asyncio.get_running_loop()
    client = SSLIOStream(socket.socket(), ssl_options=client_context)
    connected = client.connect(listener.getsockname(), server_hostname="example.com")
    conn, _ = await loop.sock_accept(listener)
    server = SSLIOStream(conn, ssl_options=server_context, server_side=True)
    with ExpectLog("squall.general", "TLS handshake", required=False):
        with pytest.raises(TLSHandshakeError, match="example.com"):
            await connected
        with pytest.raises(StreamClosedError):
            await server.wait_for_handshake()


async def test_tls_peer_drops_handshake(
    io_loop: IOLoop, listener: socket.socket, client_context: ssl.SSLContext
) -> None:
    loop = asyncio.get_running_loop()
    await settle()
    before = count_open_fds()
    client = SSLIOStream(socket.socket(), ssl_options=client_context)
    connected = client.connect(listener.getsockname(), server_hostname="localhost")
    conn, _ = await loop.sock_accept(listener)
    # The "server" reads the ClientHello and hangs up.
    await loop.sock_recv(conn, 1024)
    conn.close()
    with pytest.raises(TLSHandshakeError, match="TLS handshake with 127.0.0.1"):
        await connected
    await wait_until(lambda: count_open_fds() <= before)


async def test_tls_server_side_peer_drops_handshake(
    io_loop: IOLoop, listener: socket.socket, server_context: ssl.SSLContext
) -> None:
    from squall.testing import ExpectLog

    loop = asyncio.get_running_loop()
    raw = socket.socket()
    raw.connect(listener.getsockname())
    conn, _ = await loop.sock_accept(listener)
    server = SSLIOStream(conn, ssl_options=server_context, server_side=True)
    raw.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello
    raw.close()
    with ExpectLog("squall.general", "TLS handshake", required=False):
        with pytest.raises(StreamClosedError):
            await server.wait_for_handshake()
    assert server.closed()


async def test_sslsocket_is_unwrapped(
    io_loop: IOLoop,
    listener: socket.socket,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    # The Tornado 4 idiom: an SSLSocket made with do_handshake_on_connect=False.
    loop = asyncio.get_running_loop()
    raw = client_context.wrap_socket(
        socket.socket(), server_hostname="localhost", do_handshake_on_connect=False
    )
    client = SSLIOStream(raw)
    connected = client.connect(listener.getsockname())
    conn, _ = await loop.sock_accept(listener)
    server = SSLIOStream(conn, ssl_options=server_context, server_side=True)
    await asyncio.gather(connected, server.wait_for_handshake())
    await client.write(b"hi")
    assert await server.read_bytes(2) == b"hi"
    client.close()
    server.close()


async def test_ssl_options_dict(
    io_loop: IOLoop, listener: socket.socket, ca: trustme.CA, tmp_path: Any
) -> None:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile = tmp_path / "cert.pem"
    keyfile = tmp_path / "key.pem"
    cafile = tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    loop = asyncio.get_running_loop()
    client = SSLIOStream(socket.socket(), ssl_options={"ca_certs": str(cafile)})
    connected = client.connect(listener.getsockname(), server_hostname="localhost")
    conn, _ = await loop.sock_accept(listener)
    server = SSLIOStream(
        conn,
        ssl_options={"certfile": str(certfile), "keyfile": str(keyfile)},
        server_side=True,
    )
    await asyncio.gather(connected, server.wait_for_handshake())
    client.close()
    server.close()


# ---------------------------------------------------------------------- pipes


async def test_pipe_direction_is_checked(pairs: Pairs) -> None:
    reader, writer = await pairs.make("pipe")
    with pytest.raises(ValueError, match="read-only"):
        reader.write(b"x")
    assert reader.fileno() != writer.fileno()


async def test_pipe_regular_file_is_refused(io_loop: IOLoop, tmp_path: Any) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"data")
    fd = os.open(path, os.O_RDONLY)
    stream = PipeIOStream(fd)
    await wait_until(stream.closed)
    assert isinstance(stream.error, ValueError)
    with pytest.raises(StreamClosedError):
        stream.read_bytes(1)
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


async def test_pipe_read_write_descriptor(io_loop: IOLoop) -> None:
    a, b = socket.socketpair()
    stream = PipeIOStream(os.dup(a.fileno()))
    a.close()
    await stream.write(b"to b")
    b.setblocking(False)
    loop = asyncio.get_running_loop()
    assert await asyncio.wait_for(loop.sock_recv(b, 10), 5) == b"to b"
    await loop.sock_sendall(b, b"to a")
    assert await stream.read_bytes(4) == b"to a"
    stream.close()
    b.close()


# ---------------------------------------------------------------------- select's limit


def _high_fd(sock: socket.socket) -> int:
    """Move ``sock`` to a descriptor >= 1024; return it (the socket keeps it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1100:
        if hard < 1100 and hard != resource.RLIM_INFINITY:
            pytest.skip("RLIMIT_NOFILE too low for a descriptor above 1023")
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    high = 1500
    while True:
        try:
            os.fstat(high)
        except OSError:
            break
        high += 1
    os.dup2(sock.fileno(), high)
    return high


def test_select_refuses_high_fd_for_that_stream_only(listener: socket.socket) -> None:
    io_loop = IOLoop(poller="select", make_current=False)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        low = socket.socket()
        high_fd = _high_fd(low)
        low.close()
        high = socket.socket(fileno=high_fd)
        stream = IOStream(high)
        with pytest.raises(ConnectError, match="FD_SETSIZE") as info:
            await stream.connect(listener.getsockname())
        assert type(info.value.real_error).__name__ == "FDSetSizeError"
        assert isinstance(info.value.real_error, ValueError)
        # A connected socket on a high fd: fails the same way.
        other = socket.socket()
        other.connect(listener.getsockname())
        conn, _ = await loop.sock_accept(listener)
        conn.close()
        high_fd = _high_fd(other)
        other.close()
        refused = IOStream(socket.socket(fileno=high_fd))
        with pytest.raises(StreamClosedError):
            await refused.read_bytes(1)
        await wait_until(refused.closed)
        # Everything else keeps working on the same loop.
        pairs = Pairs(listener, ssl.create_default_context(), ssl.create_default_context())
        reader, writer = await pairs.make("tcp")
        await writer.write(b"still fine")
        assert await reader.read_bytes(10) == b"still fine"
        pairs.close()

    try:
        io_loop.run_sync(main, timeout=10)
    finally:
        io_loop.close(all_fds=False)


# -- the protocol layers' private hooks (used by the HTTP server) ------------


@pytest.mark.parametrize("kind", ["tcp", "unix"])
async def test_deferred_writes_keep_order_and_survive_close(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    writer._set_defer_writes(True)
    writer.write(b"one,")
    writer.write(bytearray(b"two,"))  # copied: the caller may reuse it
    assert writer.writing()
    await settle()
    assert not writer.writing()
    assert await asyncio.wait_for(reader.read_bytes(8), 5) == b"one,two,"
    writer.write(b"three,")
    writer.write(b"four")
    writer.close()  # a clean close sends what was deferred
    assert await asyncio.wait_for(reader.read_until_close(), 5) == b"three,four"


@pytest.mark.parametrize("kind", ["tcp", "unix"])
async def test_turning_deferral_off_sends_at_once(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    writer.write(b"ready")  # (a round trip: both transports are in place)
    assert await asyncio.wait_for(reader.read_bytes(5), 5) == b"ready"
    writer._set_defer_writes(True)
    writer.write(b"head")
    writer._set_defer_writes(False)
    assert not writer.writing()
    writer.write(b"-next")
    assert await asyncio.wait_for(reader.read_bytes(9), 5) == b"head-next"


@pytest.mark.parametrize("kind", ["tcp", "unix", "tls"])
async def test_consumer_on_plain_sockets_is_called_by_the_transport(
    pairs: Pairs, kind: str
) -> None:
    reader, writer = await pairs.make(kind)
    writer.write(b"ready")  # (a round trip: both transports are in place)
    assert await asyncio.wait_for(reader.read_bytes(5), 5) == b"ready"
    protocol = reader._rtransport.get_protocol()
    received: list[bytes] = []
    reader._set_consumer(received.append)
    direct = reader._rtransport.get_protocol()
    # Plain sockets switch to a protocol whose data_received is the stream's
    # consumer entry (one call per arrival); TLS keeps its protocol.
    assert (direct is not protocol) == (kind != "tls")
    payload = os.urandom(3 * 1024 * 1024)  # (many receives)
    writer.write(payload)
    await wait_until(lambda: sum(map(len, received)) == len(payload), timeout=10)
    assert b"".join(received) == payload
    # A read started while the consumer is set gets the next bytes itself.
    pending = reader.read_bytes(4)
    writer.write(b"mine")
    assert await asyncio.wait_for(pending, 5) == b"mine"
    assert b"".join(received) == payload
    reader._set_consumer(None)
    assert reader._rtransport.get_protocol() is protocol
    writer.write(b"after")
    assert await asyncio.wait_for(reader.read_bytes(5), 5) == b"after"
    # Set again, then the peer closes: the stream closes (EOF reaches it).
    reader._set_consumer(received.append)
    writer.close()
    await wait_until(reader.closed)


@pytest.mark.parametrize("kind", ["tcp", "unix"])
async def test_consumer_gets_arriving_bytes_synchronously(pairs: Pairs, kind: str) -> None:
    reader, writer = await pairs.make(kind)
    received: list[bytes] = []
    reader._set_consumer(received.append)
    writer.write(b"hello")
    await wait_until(lambda: b"".join(received) == b"hello")
    reader._set_consumer(None)
    writer.write(b"world")
    assert await asyncio.wait_for(reader.read_bytes(5), 5) == b"world"
    assert b"".join(received) == b"hello"
