"""The keep-alive loop's two modes: data-driven (no Task) and a Task for waits.

A request that completes synchronously is served straight from the
stream's data callback; one that waits (an asynchronous response, a body
still arriving) continues in a Task, which hands the connection back once
it is idle.  These tests mix the two on one connection, check the idle
timeout after both, and check half-closed clients.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine
from squall.ioloop import IOLoop
from squall.netutil import bind_sockets
from squall.testing import wait_until

OK = ResponseStartLine("HTTP/1.1", 200, "OK")
BIG = 32 * 1024 * 1024  # more than loopback's socket buffers hold


def answer(request: HTTPServerRequest, body: bytes) -> None:
    assert request.connection is not None
    request.connection.write_headers(OK, HTTPHeaders({"Content-Length": str(len(body))}), body)
    request.connection.finish()


def app(request: HTTPServerRequest) -> None:
    """``/slow`` answers after a delay (the loop needs a Task); others at once."""
    body = request.path.encode() + b":" + request.body
    if request.path == "/big":
        answer(request, b"x" * BIG)
    elif request.path.startswith("/slow"):
        IOLoop.current().call_later(0.02, answer, request, body)
    else:
        answer(request, body)


class Server:
    def __init__(self, **kwargs: Any) -> None:
        self.server = HTTPServer(app, **kwargs)
        socks = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = socks[0].getsockname()[1]
        self.server.add_sockets(socks)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def stop(self) -> None:
        self.server.stop()
        await self.server.close_all_connections(1)


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return await asyncio.wait_for(reader.readexactly(length), 5)


async def test_sync_and_async_requests_alternate_on_one_connection(io_loop: IOLoop) -> None:
    server = Server()
    reader, writer = await server.connect()
    for path in ["/a", "/slow1", "/b", "/slow2", "/slow3", "/c"]:
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        assert await read_response(reader) == path.encode() + b":"
    writer.close()
    await server.stop()


async def test_pipelined_mix_is_answered_in_order(io_loop: IOLoop) -> None:
    server = Server()
    reader, writer = await server.connect()
    paths = ["/a", "/slow1", "/b", "/c", "/slow2", "/d"]
    writer.write(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
    for path in paths:
        assert await read_response(reader) == path.encode() + b":"
    writer.close()
    await server.stop()


async def test_body_split_across_packets_goes_through_the_task(io_loop: IOLoop) -> None:
    server = Server()
    reader, writer = await server.connect()
    writer.write(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(b"world")
    assert await read_response(reader) == b"/p:helloworld"
    # Back in the data-driven mode, the next request is served as usual.
    for path in [b"/after", b"/and-after"]:
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        assert await read_response(reader) == path + b":"
    writer.close()
    await server.stop()


async def test_idle_timeout_after_sync_and_after_async_requests(io_loop: IOLoop) -> None:
    server = Server(idle_connection_timeout=0.2)
    for path in [b"/a", b"/slow"]:
        reader, writer = await server.connect()
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        assert await read_response(reader) == path + b":"
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed while idle
        assert asyncio.get_running_loop().time() - started < 2
        writer.close()
    await wait_until(lambda: server.server.connection_count == 0, timeout=1)
    await server.stop()


async def test_half_closed_client_still_gets_its_response(io_loop: IOLoop) -> None:
    """EOF while the request is still being read leaves the write side open.

    (EOF once the request is read and the response is pending closes the
    connection, as in Tornado: that is how a long request learns its client
    went away; see the next test.)
    """
    server = Server()
    for path in [b"/a", b"/b"]:
        reader, writer = await server.connect()
        # The head arrives in two pieces, then the client shuts its side.
        writer.write(b"GET %s HTTP/1.1\r\nHo" % path)
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(b"st: x\r\n\r\n")
        writer.write_eof()
        response = await asyncio.wait_for(reader.read(), 5)
        assert response.startswith(b"HTTP/1.1 200 OK")
        assert response.endswith(path + b":")
        writer.close()
    await server.stop()


async def test_client_gone_during_async_response_closes_the_connection(io_loop: IOLoop) -> None:
    server = Server()
    reader, writer = await server.connect()
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    writer.close()
    await wait_until(lambda: server.server.connection_count == 0, timeout=1)
    # Others are served as before.
    reader, writer = await server.connect()
    writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await read_response(reader) == b"/ok:"
    writer.close()
    await server.stop()


async def test_pipelined_flood_is_bounded_by_backpressure(io_loop: IOLoop) -> None:
    """Requests queued behind a slow response stay in the kernel, not in memory.

    While a response is pending the server stops reading once a read chunk
    (64 KiB) is buffered, so a connection holds a few hundred KiB of
    unparsed requests at most (the chunk being served and the stream's
    buffer), and TCP flow control pushes back on the client.
    """
    server = Server()
    reader, writer = await server.connect()
    count = 40000
    request = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
    writer.write(request * count)  # ~1.3 MB
    await asyncio.sleep(0.3)
    (conn,) = server.server._connections
    held = len(conn._reader.buf) + (conn.stream._end - conn.stream._start)
    assert held <= 6 * 65536
    # Read the first few answers only: everything still flows, in order.
    for _ in range(5):
        assert await read_response(reader) == b"/slow:"
    writer.close()
    await server.stop()


async def test_next_request_after_a_large_synchronous_response(io_loop: IOLoop) -> None:
    """A response the kernel cannot take at once is still followed by the next one.

    The second request is answered synchronously while the first, large
    response still fills the socket (the client is not reading yet): its
    write is pending when the handler finishes, and the loop must wait for
    it and then go on reading the connection.
    """
    server = Server()
    reader, writer = await server.connect()
    writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.2)  # the server's writes are now blocked on us
    writer.write(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.1)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert b"Content-Length: %d" % BIG in head
    await asyncio.wait_for(reader.readexactly(BIG), 10)
    assert await read_response(reader) == b"/second:"
    for path in [b"/third", b"/fourth"]:
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        assert await read_response(reader) == path + b":"
    writer.close()
    await server.stop()
