"""Servers and helpers for the squall-httpclient tests (loaded by conftest.py).

Test modules import it as ``_httpclient_test_helpers`` (conftest.py puts it
in ``sys.modules``; the tests run with ``--import-mode=importlib``).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine, responses
from squall.netutil import bind_sockets

# ---------------------------------------------------------------------- servers


def respond(
    request: HTTPServerRequest,
    body: bytes = b"",
    code: int = 200,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    reason: str | None = None,
) -> None:
    """Answer ``request`` with a complete response."""
    h = HTTPHeaders()
    for name, value in headers.items() if isinstance(headers, dict) else headers or []:
        h.add(name, value)
    if "Content-Length" not in h and "Transfer-Encoding" not in h and code not in (204, 304):
        h["Content-Length"] = str(len(body))
    conn = request.connection
    assert conn is not None
    conn.write_headers(
        ResponseStartLine("HTTP/1.1", code, reason or responses.get(code, "Unknown")),
        h,
        body or None,
    )
    conn.finish()


Handler = Callable[[HTTPServerRequest], Awaitable[None] | None]


class AppServer:
    """Squall's HTTPServer on 127.0.0.1, routing by path, counting connections."""

    def __init__(self, routes: dict[str, Handler], ssl_options: Any = None, **kwargs: Any) -> None:
        self.routes = routes
        self.requests: list[HTTPServerRequest] = []
        self._contexts: list[object] = []
        self.server = HTTPServer(self._dispatch, ssl_options=ssl_options, **kwargs)
        socks = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port: int = socks[0].getsockname()[1]
        self.scheme = "https" if ssl_options is not None else "http"
        self.server.add_sockets(socks)

    @property
    def connections(self) -> int:
        """How many TCP connections carried requests so far."""
        return len(self._contexts)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def _dispatch(self, request: HTTPServerRequest) -> Awaitable[None] | None:
        self.requests.append(request)
        context = request.connection.context  # type: ignore[union-attr]
        if not any(c is context for c in self._contexts):
            self._contexts.append(context)
        handler = self.routes.get(request.path)
        if handler is None:
            respond(request, b"no such route", 404)
            return None
        return handler(request)

    async def close(self) -> None:
        self.server.stop()
        await self.server.close_all_connections(timeout=2)


class RawServer:
    """An asyncio socket server running ``handler(reader, writer)`` per connection."""

    def __init__(self, server: asyncio.base_events.Server, ssl_context: Any = None) -> None:
        self._server = server
        self.port: int = server.sockets[0].getsockname()[1]
        self.connections = 0
        self.errors: list[BaseException] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.scheme = "https" if ssl_context is not None else "http"

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    async def close(self) -> None:
        self._server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_head(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """Read one request head (through the blank line)."""
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)


async def read_request(reader: asyncio.StreamReader, timeout: float = 5.0) -> tuple[bytes, bytes]:
    """Read one request with a Content-Length body (or none): ``(head, body)``."""
    head = await read_head(reader, timeout)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
    return head, body


# ---------------------------------------------------------------------- proxy


class ProxyServer:
    """A forward proxy: absolute-form requests are relayed, CONNECT is tunnelled.

    With ``credentials`` it answers 407 unless ``Proxy-Authorization``
    carries them.  It records each request head it received (``heads``),
    and the number of client connections it accepted.
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.heads: list[bytes] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _authorized(self, head: bytes) -> bool:
        if self.credentials is None:
            return True
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return f"proxy-authorization: basic {token}".lower().encode() in head.lower()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        inner = asyncio.ensure_future(self._relay(reader, writer))
        self._tasks.add(inner)
        try:
            await inner
        except asyncio.CancelledError:
            if not inner.cancelled():
                raise
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except TimeoutError:
            pass
        finally:
            writer.close()
            self._tasks.discard(inner)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            except asyncio.IncompleteReadError:
                return
            self.heads.append(head)
            method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            if not self._authorized(head):
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n'
                )
                await writer.drain()
                continue
            if method == b"CONNECT":
                host, _, port = target.rpartition(b":")
                up_reader, up_writer = await asyncio.open_connection(host.decode(), int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await _pipe_both(reader, writer, up_reader, up_writer)
                return
            # Absolute-form: relay this one request (and its response) upstream.
            url = target.decode()
            rest = url.split("://", 1)[1]
            authority, _, path = rest.partition("/")
            host, _, port = authority.rpartition(":")
            lines = head.split(b"\r\n")
            lines[0] = b"%s /%s HTTP/1.1" % (method, path.encode())
            lines = [line for line in lines if not line.lower().startswith(b"proxy-authorization:")]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            try:
                up_writer.write(b"\r\n".join(lines) + body)
                response_head = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), 10)
                response_length = 0
                for line in response_head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        response_length = int(value.strip())
                response_body = (
                    await up_reader.readexactly(response_length) if response_length else b""
                )
            finally:
                up_writer.close()
            writer.write(response_head + response_body)
            await writer.drain()


async def _pipe_both(
    r1: asyncio.StreamReader,
    w1: asyncio.StreamWriter,
    r2: asyncio.StreamReader,
    w2: asyncio.StreamWriter,
) -> None:
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    await asyncio.gather(pipe(r1, w2), pipe(r2, w1))


# ---------------------------------------------------------------------- TLS


class TLS:
    """A throwaway CA, and a certificate for 127.0.0.1 and localhost signed by it."""

    def __init__(self, directory: Any) -> None:
        trustme = pytest.importorskip("trustme", reason="trustme is needed for the TLS tests")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = str(directory / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        self.cert_file = str(directory / "server.pem")
        cert.private_key_and_cert_chain_pem.write_to_path(self.cert_file)
        client = ca.issue_cert("client@squall.test")
        self.client_cert_file = str(directory / "client-cert.pem")
        self.client_key_file = str(directory / "client-key.pem")
        client.cert_chain_pems[0].write_to_path(self.client_cert_file)
        client.private_key_pem.write_to_path(self.client_key_file)

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca_file)
        return context
