"""Tests for squall.tcpclient (loopback only: 127.0.0.1, also as ::ffff:127.0.0.1)."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest
import trustme
from squall import tcpclient
from squall.ioloop import IOLoop
from squall.iostream import ConnectError, IOStream, SSLIOStream, TLSHandshakeError
from squall.netutil import Resolver, ResolverError
from squall.tcpclient import ConnectTimeoutError, TCPClient
from squall.testing import ExpectLog, count_open_fds, wait_until
from squall.util import TimeoutError as SquallTimeoutError


class FixedResolver(Resolver):
    """Answers every question with the same addresses (or error)."""

    def initialize(self, addresses: list[tuple[int, Any]], error: Exception | None = None) -> None:
        self.addresses = addresses
        self.error = error
        self.asked: list[tuple[str, int, int]] = []

    def resolve(
        self, host: str, port: int, family: int = socket.AF_UNSPEC, callback: Any = None
    ) -> Awaitable[list[tuple[int, Any]]]:
        self.asked.append((host, port, family))
        future: asyncio.Future[list[tuple[int, Any]]] = asyncio.get_running_loop().create_future()
        if self.error is not None:
            future.set_exception(self.error)
        else:
            future.set_result(self.addresses)
        return future


@pytest.fixture
def server(io_loop: IOLoop) -> Iterator[socket.socket]:
    """A listening socket that accepts (kernel-side) every connection."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def blackhole(io_loop: IOLoop) -> Iterator[int]:
    """A port where connecting hangs: a listener with a full backlog."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(sock.getsockname())
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield sock.getsockname()[1]
    for filler in fillers:
        filler.close()
    sock.close()


@pytest.fixture
def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return int(port)


V4 = socket.AF_INET
V6 = socket.AF_INET6
MAPPED = "::ffff:127.0.0.1"  # 127.0.0.1 through an IPv6 socket


def test_public_api() -> None:
    assert sorted(tcpclient.__all__) == ["ConnectTimeoutError", "TCPClient"]
    assert TCPClient.connect.__doc__ and ".. versionadded:: 0.1.0" in TCPClient.connect.__doc__
    assert issubclass(ConnectTimeoutError, SquallTimeoutError)
    assert issubclass(ConnectTimeoutError, TimeoutError)
    assert issubclass(ConnectTimeoutError, ConnectError)


async def test_connect_by_ip_and_by_name(server: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    port = server.getsockname()[1]
    client = TCPClient()
    try:
        for host in ("127.0.0.1", "localhost"):
            stream = await client.connect(host, port, af=socket.AF_INET)
            assert isinstance(stream, IOStream) and not isinstance(stream, SSLIOStream)
            conn, _ = await loop.sock_accept(server)
            await stream.write(b"ping")
            assert await asyncio.wait_for(loop.sock_recv(conn, 4), 5) == b"ping"
            stream.close()
            conn.close()
    finally:
        client.close()


async def test_refused(refused_port: int) -> None:
    client = TCPClient()
    with pytest.raises(ConnectError, match="127.0.0.1") as info:
        await client.connect("127.0.0.1", refused_port)
    assert isinstance(info.value.real_error, ConnectionRefusedError)
    client.close()


async def test_resolver_error_propagates() -> None:
    resolver = FixedResolver(addresses=[], error=ResolverError("no such host: nowhere.test"))
    with pytest.raises(ResolverError, match="nowhere"):
        await TCPClient(resolver=resolver).connect("nowhere.test", 80)
    with pytest.raises(ConnectError, match="no address"):
        await TCPClient(resolver=FixedResolver(addresses=[])).connect("empty.test", 80)


async def test_happy_eyeballs_falls_back_after_delay(server: socket.socket, blackhole: int) -> None:
    loop = asyncio.get_running_loop()
    good = server.getsockname()[1]
    resolver = FixedResolver(addresses=[(V6, (MAPPED, blackhole, 0, 0)), (V4, ("127.0.0.1", good))])
    start = loop.time()
    stream = await TCPClient(resolver=resolver).connect("dual.test", 1234)
    elapsed = loop.time() - start
    assert 0.25 <= elapsed < 3
    assert stream.socket.getpeername() == ("127.0.0.1", good)
    assert resolver.asked == [("dual.test", 1234, socket.AF_UNSPEC)]
    stream.close()


async def test_happy_eyeballs_fast_failure_tries_other_family_at_once(
    server: socket.socket, refused_port: int
) -> None:
    loop = asyncio.get_running_loop()
    good = server.getsockname()[1]
    resolver = FixedResolver(
        addresses=[(V6, (MAPPED, refused_port, 0, 0)), (V4, ("127.0.0.1", good))]
    )
    start = loop.time()
    stream = await TCPClient(resolver=resolver).connect("dual.test", 1234)
    assert loop.time() - start < 0.25
    assert stream.socket.getpeername()[1] == good
    stream.close()


async def test_same_family_addresses_are_tried_in_turn(
    server: socket.socket, refused_port: int
) -> None:
    good = server.getsockname()[1]
    resolver = FixedResolver(
        addresses=[(V4, ("127.0.0.1", refused_port)), (V4, ("127.0.0.1", good))]
    )
    stream = await TCPClient(resolver=resolver).connect("multi.test", 1)
    assert stream.socket.getpeername()[1] == good
    stream.close()


async def test_every_address_failing_raises_the_last_error(refused_port: int) -> None:
    resolver = FixedResolver(
        addresses=[(V6, (MAPPED, refused_port, 0, 0)), (V4, ("127.0.0.1", refused_port))]
    )
    with pytest.raises(ConnectError) as info:
        await TCPClient(resolver=resolver).connect("down.test", 1)
    assert isinstance(info.value.real_error, ConnectionRefusedError)


async def test_timeout(blackhole: int) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.05)
    before = count_open_fds()
    resolver = FixedResolver(
        addresses=[(V4, ("127.0.0.1", blackhole)), (V6, (MAPPED, blackhole, 0, 0))]
    )
    client = TCPClient(resolver=resolver)
    start = loop.time()
    with pytest.raises(ConnectTimeoutError) as info:
        await client.connect("slow.test", 8080, timeout=0.4)
    assert loop.time() - start < 3
    error = info.value
    assert "slow.test:8080" in str(error) and "0.4 s" in str(error)
    assert (error.host, error.port, error.timeout) == ("slow.test", 8080, 0.4)
    assert isinstance(error, TimeoutError)
    with pytest.raises(ConnectTimeoutError, match="0.2 s"):
        await client.connect("slow.test", 8080, timeout=datetime.timedelta(seconds=0.2))
    # The abandoned attempts closed their sockets.
    await wait_until(lambda: count_open_fds() <= before)


async def test_source_ip_and_port(server: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    source_port = probe.getsockname()[1]
    probe.close()
    stream = await TCPClient().connect(
        "127.0.0.1",
        server.getsockname()[1],
        source_ip="127.0.0.1",
        source_port=source_port,
    )
    conn, address = await loop.sock_accept(server)
    assert address == ("127.0.0.1", source_port)
    stream.close()
    conn.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def _tls_server(
    ca: trustme.CA, server: socket.socket
) -> tuple[asyncio.Task[None], list[BaseException]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    loop = asyncio.get_running_loop()
    errors: list[BaseException] = []

    async def serve() -> None:
        while True:
            conn, _ = await loop.sock_accept(server)
            stream = SSLIOStream(conn, ssl_options=context, server_side=True)
            try:
                await stream.wait_for_handshake()
                await stream.write(await stream.read_until(b"\n"))
            except Exception as e:
                errors.append(e)
            stream.close()

    return asyncio.ensure_future(serve()), errors


async def test_tls(server: socket.socket, ca: trustme.CA) -> None:
    task, _ = await _tls_server(ca, server)
    port = server.getsockname()[1]
    context = ssl.create_default_context()
    ca.configure_trust(context)
    try:
        stream = await TCPClient().connect("localhost", port, af=V4, ssl_options=context)
        assert isinstance(stream, SSLIOStream)
        await stream.write(b"secure\n")
        assert await stream.read_until(b"\n") == b"secure\n"
        stream.close()
        # The default options verify against the system's authorities: the
        # test CA is not one of them.
        with ExpectLog("squall.general", "TLS handshake", required=False):
            with pytest.raises(TLSHandshakeError, match="certificate verify failed"):
                await TCPClient().connect("localhost", port, af=V4, ssl_options={})
    finally:
        task.cancel()
