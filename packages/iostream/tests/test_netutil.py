"""Tests for squall.netutil and squall.platform.caresresolver (loopback only)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import importlib.util
import os
import socket
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from squall import netutil
from squall.ioloop import IOLoop
from squall.netutil import (
    BlockingResolver,
    DefaultExecutorResolver,
    DefaultLoopResolver,
    ExecutorResolver,
    OverrideResolver,
    Resolver,
    ResolverClosedError,
    ResolverError,
    ThreadedResolver,
    add_accept_handler,
    bind_sockets,
    bind_unix_socket,
    is_valid_ip,
    ssl_options_to_context,
    ssl_wrap_socket,
)
from squall.platform import caresresolver
from squall.testing import ExpectLog, count_open_fds

HAVE_PYCARES = importlib.util.find_spec("pycares") is not None
FAILING_HOST = "nonexistent.invalid"  # RFC 6761: never resolves


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


HAVE_IPV6 = _ipv6_available()
needs_ipv6 = pytest.mark.skipif(not HAVE_IPV6, reason="no IPv6 on loopback")


needs_proc_fd = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")


@pytest.fixture
def closing() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    yield socks
    for s in socks:
        s.close()


def test_public_api() -> None:
    assert set(netutil.__all__) == {
        "_DEFAULT_BACKLOG",
        "BlockingResolver",
        "DefaultExecutorResolver",
        "DefaultLoopResolver",
        "ExecutorResolver",
        "OverrideResolver",
        "ResolveResult",
        "Resolver",
        "ResolverClosedError",
        "ResolverError",
        "ThreadedResolver",
        "_client_ssl_defaults",
        "_server_ssl_defaults",
        "add_accept_handler",
        "bind_sockets",
        "bind_unix_socket",
        "is_valid_ip",
        "ssl_options_to_context",
        "ssl_wrap_socket",
    }
    for name in netutil.__all__:
        assert hasattr(netutil, name), name
    assert caresresolver.__all__ == ["CaresResolver"]
    assert 128 <= netutil._DEFAULT_BACKLOG <= 4096
    assert issubclass(ResolverError, IOError)
    assert issubclass(ResolverClosedError, ResolverError)


# ---------------------------------------------------------------- bind_sockets


def test_bind_sockets_ipv4(closing: list[socket.socket]) -> None:
    socks = bind_sockets(0, "127.0.0.1")
    closing.extend(socks)
    assert len(socks) == 1
    sock = socks[0]
    assert sock.family == socket.AF_INET
    host, port = sock.getsockname()
    assert host == "127.0.0.1"
    assert port > 0
    assert sock.getblocking() is False
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    assert not sock.get_inheritable()
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


@needs_ipv6
def test_bind_sockets_ipv6(closing: list[socket.socket]) -> None:
    socks = bind_sockets(0, "::1", family=socket.AF_INET6)
    closing.extend(socks)
    assert len(socks) == 1
    sock = socks[0]
    assert sock.family == socket.AF_INET6
    assert sock.getsockname()[0] == "::1"
    assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    assert sock.getblocking() is False


def _fake_getaddrinfo(
    entries: list[tuple[socket.AddressFamily, str]],
) -> Callable[..., list[tuple[Any, ...]]]:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for family, addr in entries:
            sockaddr: tuple[Any, ...] = (
                (addr, port) if family == socket.AF_INET else (addr, port, 0, 0)
            )
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    return getaddrinfo


@needs_ipv6
def test_bind_sockets_port_zero_shares_one_port(
    monkeypatch: pytest.MonkeyPatch, closing: list[socket.socket]
) -> None:
    # A name resolving to both loopbacks: every socket gets the same port.
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        _fake_getaddrinfo([(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]),
    )
    socks = bind_sockets(0, "both-loopbacks")
    closing.extend(socks)
    assert sorted(s.family for s in socks) == [socket.AF_INET, socket.AF_INET6]
    ports = {s.getsockname()[1] for s in socks}
    assert len(ports) == 1
    assert ports.pop() > 0


def test_bind_sockets_deduplicates_addresses(
    monkeypatch: pytest.MonkeyPatch, closing: list[socket.socket]
) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        _fake_getaddrinfo([(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.1")]),
    )
    socks = bind_sockets(0, "twice")
    closing.extend(socks)
    assert len(socks) == 1


def test_bind_sockets_port_zero_retries_when_port_taken(
    monkeypatch: pytest.MonkeyPatch, closing: list[socket.socket]
) -> None:
    from squall.netutil import _sockets

    real = _sockets._bind_once
    calls = []

    def flaky(*args: Any) -> list[socket.socket]:
        calls.append(args)
        if len(calls) == 1:
            raise OSError(errno.EADDRINUSE, "taken on the second address")
        return real(*args)

    monkeypatch.setattr(_sockets, "_bind_once", flaky)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        _fake_getaddrinfo([(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.2")]),
    )
    socks = bind_sockets(0, "two")
    closing.extend(socks)
    assert len(calls) == 2
    assert len({s.getsockname()[1] for s in socks}) == 1


def test_bind_sockets_port_in_use_is_clear(closing: list[socket.socket]) -> None:
    first = bind_sockets(0, "127.0.0.1")
    closing.extend(first)
    port = first[0].getsockname()[1]
    with pytest.raises(OSError) as info:
        bind_sockets(port, "127.0.0.1")
    assert info.value.errno == errno.EADDRINUSE
    assert "127.0.0.1" in str(info.value)
    assert str(port) in str(info.value)


@needs_proc_fd
def test_bind_sockets_failure_closes_what_it_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    # The second address is not local (TEST-NET-1): bind fails with
    # EADDRNOTAVAIL, and the first socket must be closed again.
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        _fake_getaddrinfo([(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "192.0.2.1")]),
    )
    before = count_open_fds(None)
    with pytest.raises(OSError) as info:
        bind_sockets(0, "half-local")
    assert info.value.errno == errno.EADDRNOTAVAIL
    assert "192.0.2.1" in str(info.value)
    assert count_open_fds(None) == before


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")
def test_bind_sockets_reuse_port(closing: list[socket.socket]) -> None:
    first = bind_sockets(0, "127.0.0.1", reuse_port=True)
    closing.extend(first)
    port = first[0].getsockname()[1]
    second = bind_sockets(port, "127.0.0.1", reuse_port=True)
    closing.extend(second)
    assert second[0].getsockname()[1] == port
    assert second[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)


def test_bind_sockets_reuse_port_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(socket, "SO_REUSEPORT", raising=False)
    with pytest.raises(ValueError, match="reuse_port"):
        bind_sockets(0, "127.0.0.1", reuse_port=True)


@pytest.mark.parametrize("port", [-1, 65536, "80", 1.5, True])
def test_bind_sockets_rejects_bad_port(port: Any) -> None:
    with pytest.raises(ValueError, match="port"):
        bind_sockets(port, "127.0.0.1")


def test_bind_sockets_numeric_host_flag() -> None:
    with pytest.raises(socket.gaierror):
        bind_sockets(0, "localhost", flags=socket.AI_PASSIVE | socket.AI_NUMERICHOST)


def test_bind_sockets_backlog(closing: list[socket.socket]) -> None:
    socks = bind_sockets(0, "127.0.0.1", backlog=5)
    closing.extend(socks)
    assert socks[0].getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)


# ------------------------------------------------------------ bind_unix_socket


@pytest.fixture
def sock_path(tmp_path: Path) -> str:
    return str(tmp_path / "s.sock")


def _connect_unix(path: str) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    client.connect(path)
    return client


def test_bind_unix_socket(sock_path: str, closing: list[socket.socket]) -> None:
    sock = bind_unix_socket(sock_path)
    closing.append(sock)
    st = os.stat(sock_path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert sock.getblocking() is False
    closing.append(_connect_unix(sock_path))


def test_bind_unix_socket_mode(sock_path: str, closing: list[socket.socket]) -> None:
    closing.append(bind_unix_socket(sock_path, mode=0o660))
    assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o660


def test_bind_unix_socket_replaces_stale_file(sock_path: str, closing: list[socket.socket]) -> None:
    old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old.bind(sock_path)
    old.close()  # the file stays behind, nobody listens
    assert os.path.exists(sock_path)
    sock = bind_unix_socket(sock_path)
    closing.append(sock)
    closing.append(_connect_unix(sock_path))


def test_bind_unix_socket_refuses_live_socket(sock_path: str, closing: list[socket.socket]) -> None:
    first = bind_unix_socket(sock_path)
    closing.append(first)
    with pytest.raises(OSError) as info:
        bind_unix_socket(sock_path)
    assert info.value.errno == errno.EADDRINUSE
    assert sock_path in str(info.value)
    # The running server was left alone.
    closing.append(_connect_unix(sock_path))


def test_bind_unix_socket_refuses_regular_file(sock_path: str) -> None:
    with open(sock_path, "w") as f:
        f.write("precious")
    with pytest.raises(ValueError, match="not a socket"):
        bind_unix_socket(sock_path)
    with open(sock_path) as f:
        assert f.read() == "precious"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux")
def test_bind_unix_socket_abstract(closing: list[socket.socket]) -> None:
    name = f"\0squall-test-{os.getpid()}-{time.monotonic_ns()}"
    closing.append(bind_unix_socket(name))
    closing.append(_connect_unix(name))


# ---------------------------------------------------------- add_accept_handler


class _Listener:
    def __init__(self) -> None:
        self.sock = bind_sockets(0, "127.0.0.1")[0]
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[tuple[socket.socket, Any]] = []
        self.clients: list[socket.socket] = []

    def on_connection(self, connection: socket.socket, address: Any) -> None:
        self.accepted.append((connection, address))

    def connect(self) -> socket.socket:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setblocking(False)
        try:
            client.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.clients.append(client)
        return client

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"accepted {len(self.accepted)} of {n} connections")
            await asyncio.sleep(0.01)

    def close(self) -> None:
        for conn, _ in self.accepted:
            conn.close()
        for c in self.clients:
            c.close()
        self.sock.close()


@pytest.fixture
def listener(io_loop: IOLoop) -> Iterator[_Listener]:
    lst = _Listener()
    yield lst
    lst.close()


async def test_accept_handler_accepts_many(listener: _Listener) -> None:
    remove = add_accept_handler(listener.sock, listener.on_connection)
    for _ in range(150):
        listener.connect()
    await listener.wait_for(150)
    client_ports = {c.getsockname()[1] for c in listener.clients}
    assert {addr[1] for _, addr in listener.accepted} == client_ports
    for conn, addr in listener.accepted:
        assert addr[0] == "127.0.0.1"
        assert isinstance(conn, socket.socket)
    remove()
    remove()  # idempotent


async def test_accept_handler_tornado4_io_loop_argument(
    listener: _Listener, io_loop: IOLoop
) -> None:
    remove = add_accept_handler(listener.sock, listener.on_connection, io_loop=io_loop)
    listener.connect()
    await listener.wait_for(1)
    remove()


async def test_accept_handler_remove_stops_accepting(listener: _Listener) -> None:
    remove = add_accept_handler(listener.sock, listener.on_connection)
    listener.connect()
    await listener.wait_for(1)
    remove()
    listener.connect()
    await asyncio.sleep(0.1)
    assert len(listener.accepted) == 1
    # The connection waits in the queue for whoever accepts next.
    listener.sock.setblocking(True)
    listener.sock.settimeout(5)
    conn, _ = listener.sock.accept()
    conn.close()


async def test_accept_handler_callback_error_is_logged(listener: _Listener) -> None:
    calls = []

    def callback(connection: socket.socket, address: Any) -> None:
        calls.append(connection)
        if len(calls) == 1:
            connection.close()
            raise RuntimeError("boom in accept callback")
        listener.on_connection(connection, address)

    remove = add_accept_handler(listener.sock, callback)
    with ExpectLog("squall.application", "Exception in callback"):
        listener.connect()
        await asyncio.sleep(0)
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    listener.connect()
    await listener.wait_for(1)
    assert len(calls) == 2
    remove()


class _FlakySocket:
    """A listening socket whose accept() fails as scripted first."""

    def __init__(self, real: socket.socket, errors: list[OSError]) -> None:
        self.real = real
        self.errors = errors
        self.accept_calls = 0

    def fileno(self) -> int:
        return self.real.fileno()

    def close(self) -> None:
        self.real.close()

    def accept(self) -> tuple[socket.socket, Any]:
        self.accept_calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.real.accept()


async def test_accept_handler_skips_aborted_connection(listener: _Listener) -> None:
    flaky = _FlakySocket(listener.sock, [ConnectionAbortedError(errno.ECONNABORTED, "aborted")])
    remove = add_accept_handler(flaky, listener.on_connection)  # type: ignore[arg-type]
    listener.connect()
    await listener.wait_for(1)
    assert flaky.accept_calls >= 2
    remove()


async def test_accept_handler_backs_off_on_emfile(listener: _Listener) -> None:
    flaky = _FlakySocket(listener.sock, [OSError(errno.EMFILE, "Too many open files")])
    with ExpectLog("squall.general", r"accept\(\) on .* failed .*Too many open files"):
        remove = add_accept_handler(flaky, listener.on_connection)  # type: ignore[arg-type]
        listener.connect()
        await listener.wait_for(1)
    remove()
    # Without the pause the readable socket would have been retried in a
    # tight loop; with it, accept() ran a handful of times.
    assert flaky.accept_calls < 10


async def test_accept_handler_backoff_cancelled_by_remove(listener: _Listener) -> None:
    flaky = _FlakySocket(listener.sock, [OSError(errno.ENFILE, "File table overflow")])
    with ExpectLog("squall.general", r"accept\(\) on"):
        remove = add_accept_handler(flaky, listener.on_connection)  # type: ignore[arg-type]
        listener.connect()
        deadline = time.monotonic() + 10
        while flaky.accept_calls == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    remove()
    await asyncio.sleep(0.2)  # past the first pause
    assert listener.accepted == []
    assert flaky.accept_calls == 1


# ------------------------------------------------------------------ is_valid_ip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", True),
        ("4.4.4.4", True),
        ("::1", True),
        ("2620:0:1cfe:face:b00c::3", True),
        ("::ffff:127.0.0.1", True),
        ("www.example.com", False),
        ("localhost", False),
        ("4.4.4.4<", False),
        (" 127.0.0.1", False),
        ("127.0.0.1 ", False),
        ("", False),
        (" ", False),
        ("\n", False),
        ("\x00", False),
        ("127.0.0.1\x00", False),
        ("a" * 1000, False),
        ("1.2.3.4.5", False),
        ("1::2::3", False),
    ],
)
def test_is_valid_ip(value: str, expected: bool) -> None:
    assert is_valid_ip(value) is expected


# ------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    d = tmp_path_factory.mktemp("certs")
    paths = {
        "ca": str(d / "ca.pem"),
        "cert": str(d / "cert.pem"),
        "key": str(d / "key.pem"),
    }
    ca.cert_pem.write_to_path(paths["ca"])
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    return paths


def test_ssl_context_passes_through() -> None:
    ctx = ssl.create_default_context()
    assert ssl_options_to_context(ctx) is ctx
    assert ssl_options_to_context(ctx, server_side=True) is ctx


def test_ssl_options_unknown_keys_are_named() -> None:
    with pytest.raises(ValueError) as info:
        ssl_options_to_context({"certfile": "x", "keyfle": "y", "verify": True})
    assert "'keyfle'" in str(info.value)
    assert "'verify'" in str(info.value)


def test_ssl_options_wrong_type() -> None:
    with pytest.raises(TypeError, match="ssl_options"):
        ssl_options_to_context(["certfile"])  # type: ignore[arg-type]


def test_ssl_options_bad_cert_reqs() -> None:
    with pytest.raises(ValueError, match="cert_reqs"):
        ssl_options_to_context({"cert_reqs": 7})


def test_ssl_options_missing_file() -> None:
    with pytest.raises(OSError):
        ssl_options_to_context({"certfile": "/nonexistent/cert.pem"})


def test_ssl_options_server_context(certs: dict[str, str]) -> None:
    ctx = ssl_options_to_context({"certfile": certs["cert"], "keyfile": certs["key"]})
    assert ctx.protocol == ssl.PROTOCOL_TLS_SERVER
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.options & ssl.OP_NO_COMPRESSION


def test_ssl_options_server_requiring_client_certs(certs: dict[str, str]) -> None:
    ctx = ssl_options_to_context(
        {
            "certfile": certs["cert"],
            "keyfile": certs["key"],
            "cert_reqs": ssl.CERT_REQUIRED,
            "ca_certs": certs["ca"],
        },
        server_side=True,
    )
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.cert_store_stats()["x509_ca"] == 1


def test_ssl_options_client_context_verifies_by_default(certs: dict[str, str]) -> None:
    ctx = ssl_options_to_context({"ca_certs": certs["ca"]})
    assert ctx.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    ctx = ssl_options_to_context({"cert_reqs": ssl.CERT_NONE}, server_side=False)
    assert ctx.verify_mode == ssl.CERT_NONE
    assert not ctx.check_hostname


def test_ssl_options_ciphers() -> None:
    ssl_options_to_context({"ciphers": "ECDHE+AESGCM"}, server_side=False)
    with pytest.raises(ssl.SSLError):
        ssl_options_to_context({"ciphers": "NO-SUCH-CIPHER"}, server_side=False)


def _handshake(
    server_options: Any, client_options: Any, server_hostname: str | None
) -> tuple[ssl.SSLSocket, ssl.SSLSocket]:
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    server = ssl_wrap_socket(a, server_options, server_side=True, do_handshake_on_connect=False)
    client = ssl_wrap_socket(
        b, client_options, server_hostname=server_hostname, do_handshake_on_connect=False
    )
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            server.do_handshake()
        except (OSError, ssl.SSLError) as e:
            errors.append(e)

    t = threading.Thread(target=serve)
    t.start()
    try:
        client.do_handshake()
    except BaseException:
        client.close()
        raise
    finally:
        t.join(10)
        if errors:
            server.close()
    if errors:
        client.close()
        raise errors[0]
    return server, client


def test_ssl_wrap_socket_handshake_with_dicts(certs: dict[str, str]) -> None:
    server, client = _handshake(
        {"certfile": certs["cert"], "keyfile": certs["key"]},
        {"ca_certs": certs["ca"]},
        "localhost",
    )
    try:
        assert not client.server_side
        assert server.server_side
        client.sendall(b"ping")
        assert server.recv(4) == b"ping"
    finally:
        server.close()
        client.close()


def test_ssl_wrap_socket_checks_host_name(certs: dict[str, str]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(
            {"certfile": certs["cert"], "keyfile": certs["key"]},
            {"ca_certs": certs["ca"]},
            "not-the-name.example",
        )


def test_ssl_wrap_socket_side_from_context(certs: dict[str, str]) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certs["cert"], certs["key"])
    client_ctx = ssl.create_default_context(cafile=certs["ca"])
    a, b = socket.socketpair()
    with a, b:
        # server_side=None: taken from the context's protocol.
        wrapped = ssl_wrap_socket(a, server_ctx, do_handshake_on_connect=False)
        assert wrapped.server_side
        wrapped.close()
        wrapped = ssl_wrap_socket(
            b, client_ctx, server_hostname="localhost", do_handshake_on_connect=False
        )
        assert not wrapped.server_side
        wrapped.close()


# -------------------------------------------------------------------- resolvers


def _make_override() -> Resolver:
    r: Resolver = OverrideResolver(resolver=BlockingResolver(), mapping={})
    return r


def _make_executor() -> Resolver:
    pool = concurrent.futures.ThreadPoolExecutor(2)
    r: Resolver = ExecutorResolver(executor=pool, close_executor=True)
    return r


def _make_cares() -> Resolver:
    r: Resolver = caresresolver.CaresResolver()
    return r


RESOLVER_FACTORIES: dict[str, Callable[[], Resolver]] = {
    "loop": DefaultLoopResolver,
    "threaded": ThreadedResolver,
    "blocking": BlockingResolver,
    "executor": _make_executor,
    "default_executor": DefaultExecutorResolver,
    "override": _make_override,
}
if HAVE_PYCARES:
    RESOLVER_FACTORIES["cares"] = _make_cares


@pytest.fixture(params=sorted(RESOLVER_FACTORIES))
def resolver(request: pytest.FixtureRequest, io_loop: IOLoop) -> Iterator[Resolver]:
    r = RESOLVER_FACTORIES[request.param]()
    yield r
    r.close()


async def test_resolve_localhost(resolver: Resolver) -> None:
    result = await resolver.resolve("localhost", 80)
    assert (socket.AF_INET, ("127.0.0.1", 80)) in result
    for family, addr in result:
        assert family in (socket.AF_INET, socket.AF_INET6)
        assert addr[1] == 80


async def test_resolve_ipv4_literal(resolver: Resolver) -> None:
    assert await resolver.resolve("127.0.0.1", 8080, socket.AF_INET) == [
        (socket.AF_INET, ("127.0.0.1", 8080))
    ]


@needs_ipv6
async def test_resolve_ipv6_literal(resolver: Resolver) -> None:
    result = await resolver.resolve("::1", 443, socket.AF_INET6)
    assert len(result) == 1
    family, addr = result[0]
    assert family == socket.AF_INET6
    assert addr[:2] == ("::1", 443)


async def test_resolve_family_filter(resolver: Resolver) -> None:
    result = await resolver.resolve("localhost", 80, socket.AF_INET)
    assert result
    assert all(family == socket.AF_INET for family, _ in result)


async def test_resolve_unknown_host(resolver: Resolver) -> None:
    with pytest.raises(ResolverError) as info:
        await resolver.resolve(FAILING_HOST, 80)
    err = info.value
    assert isinstance(err, IOError)
    assert FAILING_HOST in str(err)
    assert err.host == FAILING_HOST
    assert err.port == 80


@pytest.mark.parametrize("host", ["..", "a..b.invalid"])
async def test_resolve_malformed_name(resolver: Resolver, host: str) -> None:
    with pytest.raises(ResolverError) as info:
        await resolver.resolve(host, 80)
    assert repr(host) in str(info.value)


async def test_resolve_wrong_family_for_literal(resolver: Resolver) -> None:
    with pytest.raises(ResolverError, match=r"127\.0\.0\.1"):
        await resolver.resolve("127.0.0.1", 80, socket.AF_INET6)


async def test_resolve_result_is_connectable(resolver: Resolver) -> None:
    listen = bind_sockets(0, "127.0.0.1")[0]
    try:
        port = listen.getsockname()[1]
        result = await resolver.resolve("localhost", port, socket.AF_INET)
        family, addr = result[0]
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(addr)
    finally:
        listen.close()


async def test_resolve_classic_callback(resolver: Resolver) -> None:
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    returned = resolver.resolve("127.0.0.1", 81, socket.AF_INET, callback=got.set_result)
    assert await got == [(socket.AF_INET, ("127.0.0.1", 81))]
    assert await returned == await got


async def test_resolve_concurrently(resolver: Resolver) -> None:
    results = await asyncio.gather(
        *(resolver.resolve("127.0.0.1", 1000 + i, socket.AF_INET) for i in range(10)),
        resolver.resolve(FAILING_HOST, 80),
        return_exceptions=True,
    )
    for i, result in enumerate(results[:10]):
        assert result == [(socket.AF_INET, ("127.0.0.1", 1000 + i))]
    assert isinstance(results[10], ResolverError)


def test_resolve_bad_arguments(resolver: Resolver) -> None:
    with pytest.raises(TypeError, match="host"):
        resolver.resolve(b"localhost", 80)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="port"):
        resolver.resolve("localhost", "80")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        resolver.resolve("localhost", 70000)


async def test_resolve_after_close(io_loop: IOLoop) -> None:
    closable = [
        BlockingResolver(),
        ThreadedResolver(),
        _make_executor(),
        DefaultExecutorResolver(),
        OverrideResolver(resolver=BlockingResolver(), mapping={}),
    ]
    if HAVE_PYCARES:
        closable.append(_make_cares())
    for r in closable:
        r.close()
        with pytest.raises(ResolverClosedError, match="localhost"):
            await r.resolve("localhost", 80)
    # The loop resolver holds nothing and keeps working.
    r2 = DefaultLoopResolver()
    r2.close()
    assert await r2.resolve("127.0.0.1", 80, socket.AF_INET)


async def test_resolver_configurable(io_loop: IOLoop) -> None:
    assert type(Resolver()) is DefaultLoopResolver
    with Resolver.configured("squall.netutil.ThreadedResolver", num_threads=2):
        r = Resolver()
        assert isinstance(r, ThreadedResolver)
        assert await r.resolve("127.0.0.1", 80, socket.AF_INET) == [
            (socket.AF_INET, ("127.0.0.1", 80))
        ]
    with Resolver.configured(BlockingResolver):
        assert type(Resolver()) is BlockingResolver
    assert type(Resolver()) is DefaultLoopResolver


async def test_resolvers_accept_tornado4_io_loop(io_loop: IOLoop) -> None:
    resolvers: list[Resolver] = [
        DefaultLoopResolver(io_loop=io_loop),
        BlockingResolver(io_loop=io_loop),
        ThreadedResolver(io_loop=io_loop, num_threads=2),
        DefaultExecutorResolver(io_loop=io_loop),
        ExecutorResolver(executor=None, io_loop=io_loop),
    ]
    if HAVE_PYCARES:
        resolvers.append(caresresolver.CaresResolver(io_loop=io_loop))
    for r in resolvers:
        assert r.io_loop is io_loop
        assert await r.resolve("127.0.0.1", 80, socket.AF_INET) == [
            (socket.AF_INET, ("127.0.0.1", 80))
        ]
        r.close()


def test_threaded_resolver_bad_num_threads() -> None:
    with pytest.raises(ValueError, match="num_threads"):
        ThreadedResolver(num_threads=0)


async def test_threaded_resolver_shares_pool(io_loop: IOLoop) -> None:
    a, b = ThreadedResolver(), ThreadedResolver()
    assert a.executor is b.executor
    a.close()
    assert await b.resolve("127.0.0.1", 80, socket.AF_INET)


async def test_executor_resolver_closes_its_executor(io_loop: IOLoop) -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    ExecutorResolver(executor=pool, close_executor=True).close()
    with pytest.raises(RuntimeError):
        pool.submit(int)
    pool2 = concurrent.futures.ThreadPoolExecutor(1)
    ExecutorResolver(executor=pool2, close_executor=False).close()
    assert pool2.submit(int).result(5) == 0
    pool2.shutdown()


class _RecordingResolver(Resolver):
    def initialize(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.closed = False

    def resolve(
        self, host: str, port: int, family: int = socket.AF_UNSPEC, callback: Any = None
    ) -> asyncio.Future[list[tuple[int, Any]]]:
        self.calls.append((host, port, family))
        fut: asyncio.Future[list[tuple[int, Any]]] = asyncio.get_running_loop().create_future()
        fut.set_result([(socket.AF_INET, (host, port))])
        return fut

    def close(self) -> None:
        self.closed = True


async def test_override_resolver_mapping(io_loop: IOLoop) -> None:
    inner = _RecordingResolver()
    r = OverrideResolver(
        resolver=inner,
        mapping={
            "google.com": "127.0.0.1",
            ("login.example.com", 443): ("localhost", 1443),
            ("login.example.com", 443, socket.AF_INET6): ("::1", 2443),
            ("login.example.com", 80): ("127.0.0.2", 8080),
        },
    )
    assert await r.resolve("google.com", 80) == [(socket.AF_INET, ("127.0.0.1", 80))]
    await r.resolve("login.example.com", 443)
    await r.resolve("login.example.com", 443, socket.AF_INET6)
    await r.resolve("login.example.com", 80, socket.AF_INET)
    await r.resolve("other.example", 80)
    assert inner.calls == [
        ("127.0.0.1", 80, socket.AF_UNSPEC),
        ("localhost", 1443, socket.AF_UNSPEC),
        ("::1", 2443, socket.AF_INET6),
        ("127.0.0.2", 8080, socket.AF_INET),
        ("other.example", 80, socket.AF_UNSPEC),
    ]
    r.close()
    assert inner.closed


async def test_override_resolver_with_real_resolver(io_loop: IOLoop) -> None:
    r = OverrideResolver(resolver=BlockingResolver(), mapping={"service.test": "127.0.0.1"})
    assert await r.resolve("service.test", 80, socket.AF_INET) == [
        (socket.AF_INET, ("127.0.0.1", 80))
    ]
    r.close()


def test_resolver_error_attributes() -> None:
    err = ResolverError("cannot resolve host 'x'", "x", 80)
    assert str(err) == "cannot resolve host 'x'"
    assert (err.host, err.port) == ("x", 80)
    with pytest.raises(OSError):
        raise err


# ------------------------------------------------------------------- c-ares


def test_cares_resolver_without_pycares(monkeypatch: pytest.MonkeyPatch, io_loop: IOLoop) -> None:
    monkeypatch.setitem(sys.modules, "pycares", None)
    monkeypatch.setattr(caresresolver, "_pycares", None)
    with pytest.raises(ImportError, match=r"squall-iostream\[cares\]"):
        caresresolver.CaresResolver()
    with Resolver.configured("squall.platform.caresresolver.CaresResolver"):
        with pytest.raises(ImportError, match="pycares"):
            Resolver()


needs_pycares = pytest.mark.skipif(not HAVE_PYCARES, reason="pycares is not installed")


def _silent_server(port: int) -> dict[str, Any]:
    # pycares 4 takes no port in the server list: give it separately.
    return {"servers": ["127.0.0.1"], "udp_port": port, "tcp_port": port}


@pytest.fixture
def silent_dns_server() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that reads DNS queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@needs_pycares
async def test_cares_query_times_out(io_loop: IOLoop, silent_dns_server: int) -> None:
    r = caresresolver.CaresResolver(
        **_silent_server(silent_dns_server), timeout=0.2, tries=1, lookups="b"
    )
    try:
        start = time.monotonic()
        with pytest.raises(ResolverError, match=r"squall\.test"):
            await asyncio.wait_for(r.resolve("squall.test", 80), 10)
        assert time.monotonic() - start < 8
    finally:
        r.close()


@needs_pycares
async def test_cares_close_fails_pending_queries(io_loop: IOLoop, silent_dns_server: int) -> None:
    r = caresresolver.CaresResolver(
        **_silent_server(silent_dns_server), timeout=5, tries=1, lookups="b"
    )
    pending = r.resolve("squall.test", 80)
    await asyncio.sleep(0.05)
    assert r._fds  # the query's socket is watched by the loop
    r.close()
    with pytest.raises(ResolverClosedError, match=r"squall\.test"):
        await pending
    assert not r._fds
    r.close()  # idempotent


@needs_pycares
async def test_cares_uses_hosts_file_without_dns(io_loop: IOLoop, silent_dns_server: int) -> None:
    r = caresresolver.CaresResolver(**_silent_server(silent_dns_server), timeout=0.5)
    try:
        result = await asyncio.wait_for(r.resolve("localhost", 80, socket.AF_INET), 10)
        assert result == [(socket.AF_INET, ("127.0.0.1", 80))]
    finally:
        r.close()
