"""Tests for squall.tcpserver (loopback only)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from squall import tcpserver
from squall.ioloop import IOLoop
from squall.iostream import IOStream, SSLIOStream, StreamClosedError, TLSHandshakeError
from squall.netutil import bind_sockets
from squall.tcpserver import TCPServer
from squall.testing import ExpectLog, count_open_fds, wait_until


class EchoServer(TCPServer):
    """Echoes lines; remembers the streams it saw."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams: list[IOStream] = []
        self.addresses: list[Any] = []

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        self.streams.append(stream)
        self.addresses.append(address)
        try:
            while True:
                line = await stream.read_until(b"\n")
                await stream.write(line)
        except StreamClosedError:
            pass


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


# Streams a test opened; closed after it (uvloop cannot close a loop whose
# connections are still open).
OPEN: list[IOStream] = []


@pytest.fixture
def servers(io_loop: IOLoop) -> Iterator[list[TCPServer]]:
    started: list[TCPServer] = []
    yield started
    for server in started:
        server.stop()
        for stream in getattr(server, "streams", []):
            stream.close()
    for stream in OPEN:
        stream.close()
    OPEN.clear()
    io_loop.run_sync(lambda: asyncio.sleep(0.05))


def listen(servers: list[TCPServer], server: TCPServer) -> int:
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    servers.append(server)
    return int(sockets[0].getsockname()[1])


async def connect(port: int, context: ssl.SSLContext | None = None) -> IOStream:
    if context is None:
        stream = IOStream(socket.socket())
    else:
        stream = SSLIOStream(socket.socket(), ssl_options=context)
    OPEN.append(stream)
    await asyncio.wait_for(stream.connect(("127.0.0.1", port), server_hostname="localhost"), 5)
    return stream


async def roundtrip(stream: IOStream, line: bytes = b"hello\n") -> None:
    await stream.write(line)
    assert await asyncio.wait_for(stream.read_until(b"\n"), 5) == line


def test_public_api() -> None:
    assert tcpserver.__all__ == ["TCPServer"]
    for name in ("TCPServer", "listen", "add_sockets", "add_socket", "bind", "start", "stop"):
        obj = TCPServer if name == "TCPServer" else getattr(TCPServer, name)
        assert obj.__doc__ and ".. versionadded:: 0.1.0" in obj.__doc__, name


async def test_echo_and_address(servers: list[TCPServer]) -> None:
    server = EchoServer()
    port = listen(servers, server)
    client = await connect(port)
    await roundtrip(client)
    await roundtrip(client, b"again\n")
    assert server.addresses[0][0] == "127.0.0.1"
    assert isinstance(server.streams[0], IOStream)
    client.close()
    await wait_until(server.streams[0].closed)


async def test_listen_and_stop(servers: list[TCPServer]) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = EchoServer()
    server.listen(port, "127.0.0.1")
    servers.append(server)
    client = await connect(port)
    await roundtrip(client)
    server.stop()
    server.stop()  # twice is fine
    await asyncio.sleep(0.05)
    # Accepted connections go on; new ones are refused.
    await roundtrip(client)
    refused = IOStream(socket.socket())
    OPEN.append(refused)
    with pytest.raises(StreamClosedError):
        await asyncio.wait_for(refused.connect(("127.0.0.1", port)), 5)
    client.close()


async def test_stop_before_the_loop_ran(servers: list[TCPServer]) -> None:
    await asyncio.sleep(0.05)
    before = count_open_fds()
    server = EchoServer()
    server.add_sockets(bind_sockets(0, "127.0.0.1"))
    server.stop()
    await wait_until(lambda: count_open_fds() <= before)


async def test_add_socket_and_bind_start(servers: list[TCPServer]) -> None:
    server = EchoServer()
    sock = bind_sockets(0, "127.0.0.1")[0]
    server.add_socket(sock)
    servers.append(server)
    await roundtrip(await connect(sock.getsockname()[1]))
    other = EchoServer()
    other.bind(0, "127.0.0.1")
    port = other._pending_sockets[0].getsockname()[1]
    other.start()
    servers.append(other)
    with pytest.raises(RuntimeError, match="already"):
        other.start()
    await roundtrip(await connect(port))


async def test_sync_handle_stream(servers: list[TCPServer]) -> None:
    seen: list[IOStream] = []

    class Server(TCPServer):
        def handle_stream(self, stream: IOStream, address: Any) -> None:
            seen.append(stream)
            stream.write(b"welcome\n")

    port = listen(servers, Server())
    client = await connect(port)
    assert await client.read_until(b"\n") == b"welcome\n"
    assert len(seen) == 1


async def test_handler_errors_are_logged_not_fatal(servers: list[TCPServer]) -> None:
    class Server(TCPServer):
        async def handle_stream(self, stream: IOStream, address: Any) -> None:
            line = await stream.read_until(b"\n")
            if line == b"crash\n":
                raise RuntimeError("handler bug")
            await stream.write(line)

    class SyncServer(TCPServer):
        def handle_stream(self, stream: IOStream, address: Any) -> None:
            raise RuntimeError("sync handler bug")

    port = listen(servers, Server())
    sync_port = listen(servers, SyncServer())
    with ExpectLog("squall.application", "Error in connection handler"):
        crasher = await connect(port)
        await crasher.write(b"crash\n")
        # The failing connection is closed...
        assert await asyncio.wait_for(crasher.read_until_close(), 5) == b""
    with ExpectLog("squall.application", "Error in connection callback"):
        other = await connect(sync_port)
        assert await asyncio.wait_for(other.read_until_close(), 5) == b""
    # ...and the server keeps serving.
    await roundtrip(await connect(port))


async def test_tls_server(
    servers: list[TCPServer], server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = EchoServer(ssl_options=server_context)
    port = listen(servers, server)
    client = await connect(port, client_context)
    await roundtrip(client)
    assert isinstance(server.streams[0], SSLIOStream)
    assert server.streams[0].socket.version().startswith("TLS")
    assert isinstance(client, SSLIOStream)


async def test_tls_server_with_ssl_options_dict(
    servers: list[TCPServer], ca: trustme.CA, client_context: ssl.SSLContext, tmp_path: Any
) -> None:
    cert = ca.issue_cert("localhost")
    certfile, keyfile = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    port = listen(servers, EchoServer(ssl_options={"certfile": certfile, "keyfile": keyfile}))
    await roundtrip(await connect(port, client_context))
    with pytest.raises(ValueError, match="certfile"):
        TCPServer(ssl_options={"keyfile": str(keyfile)})
    with pytest.raises(OSError):
        TCPServer(ssl_options={"certfile": str(tmp_path / "missing.pem")})


async def test_failed_handshakes_do_not_disturb_others(
    servers: list[TCPServer], server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = EchoServer(ssl_options=server_context)
    port = listen(servers, server)
    loop = asyncio.get_running_loop()
    good = await connect(port, client_context)
    await roundtrip(good)
    with ExpectLog("squall.general", "TLS handshake", required=False):
        # A client that does not trust the server's certificate.
        with pytest.raises(TLSHandshakeError, match="certificate verify failed"):
            await connect(port, ssl.create_default_context())
        # A client that speaks plain text to a TLS port.
        plain = await connect(port)
        await plain.write(b"GET / HTTP/1.0\r\n\r\n")
        await asyncio.wait_for(plain.read_until_close(), 5)
        # A client that hangs up in the middle of the handshake.
        raw = socket.socket()
        raw.setblocking(False)
        await loop.sock_connect(raw, ("127.0.0.1", port))
        await loop.sock_sendall(raw, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        raw.close()
        await asyncio.sleep(0.05)
    await roundtrip(good, b"still here\n")
    await roundtrip(await connect(port, client_context), b"newcomer\n")
    assert len(server.streams) == 2  # only the good connections reached handle_stream


async def test_immediate_reset_does_not_disturb_others(servers: list[TCPServer]) -> None:
    server = EchoServer()
    port = listen(servers, server)
    good = await connect(port)
    for _ in range(20):
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.connect(("127.0.0.1", port))
        raw.close()  # RST at once
    await asyncio.sleep(0.1)
    await roundtrip(good)
    await roundtrip(await connect(port))
    # The reset connections that reached handle_stream were closed.
    await wait_until(lambda: sum(not s.closed() for s in server.streams) == 2)


async def test_max_buffer_size_and_read_chunk_size(servers: list[TCPServer]) -> None:
    server = EchoServer(max_buffer_size=1000, read_chunk_size=100)
    port = listen(servers, server)
    client = await connect(port)
    await roundtrip(client)
    stream = server.streams[0]
    assert stream.max_buffer_size == 1000
    assert stream.read_chunk_size == 100
    await client.write(b"x" * 5000)  # a line longer than max_buffer_size
    assert await asyncio.wait_for(client.read_until_close(), 5) == b""


async def test_thousand_connections_leave_no_fd(servers: list[TCPServer]) -> None:
    server = EchoServer()
    port = listen(servers, server)
    await roundtrip(await connect(port))  # warm up
    await asyncio.sleep(0.05)
    before = count_open_fds()

    async def one(i: int) -> None:
        stream = await connect(port)
        await roundtrip(stream, b"%d\n" % i)
        stream.close()

    for batch in range(20):
        await asyncio.gather(*(one(batch * 50 + i) for i in range(50)))
    await wait_until(lambda: count_open_fds() <= before + 2)  # the warm-up's two ends may linger
    assert len(server.streams) == 1001


def test_start_forks_processes(tmp_path: Any) -> None:
    # In a fresh interpreter: no IOLoop may exist before fork_processes.
    script = tmp_path / "forked.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, socket, sys
            from squall import process
            from squall.ioloop import IOLoop
            from squall.tcpserver import TCPServer

            class Server(TCPServer):
                async def handle_stream(self, stream, address):
                    await stream.write(b"%d\\n" % process.task_id())
                    stream.close()

            server = Server()
            server.bind(0, "127.0.0.1")
            port = server._pending_sockets[0].getsockname()[1]
            print(port, flush=True)
            server.start(2, max_restarts=0)
            os.write(1, b"child %d\\n" % process.task_id())  # one write: no interleaving
            IOLoop.current().call_later(3, IOLoop.current().stop)
            IOLoop.current().start()
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        # Both children report in (which one accepts a given connection is
        # the kernel's choice, so that is not asserted).
        children = {proc.stdout.readline().strip(), proc.stdout.readline().strip()}
        assert children == {"child 0", "child 1"}
        served = set()
        for _ in range(10):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                served.add(sock.makefile("rb").readline().strip())
        assert served <= {b"0", b"1"} and served
    finally:
        proc.wait(timeout=15)


@pytest.mark.parametrize("tls", [False, True])
def test_select_refuses_high_fd_connection_only(
    tls: bool, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        if hard != resource.RLIM_INFINITY and hard < 1200:
            pytest.skip("RLIMIT_NOFILE too low for descriptors above 1023")
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    io_loop = IOLoop(poller="select", make_current=False)
    server = EchoServer(ssl_options=server_context if tls else None)

    async def main() -> None:
        sockets = bind_sockets(0, "127.0.0.1")
        port = sockets[0].getsockname()[1]
        server.add_sockets(sockets)
        await asyncio.sleep(0.05)
        # Use up the descriptors below 1024, so the next accept() gets a
        # higher one, which select() cannot watch.
        filler = []
        while True:
            r, w = os.pipe()
            filler += [r, w]
            if w >= 1030:
                break
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            with ExpectLog("squall.general", ".*FD_SETSIZE", level=logging.INFO):
                await wait_until(lambda: not server.streams and _closed_by_peer(raw))
            raw.close()
        finally:
            for fd in filler:
                os.close(fd)
        # The server and its loop carry on.
        client = await connect(port, client_context if tls else None)
        await roundtrip(client)
        client.close()
        for stream in server.streams:
            stream.close()
        server.stop()
        await asyncio.sleep(0.05)

    try:
        io_loop.run_sync(main, timeout=20)
    finally:
        io_loop.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
