"""Test tools for squall-web.

* ``fake_client``: drives an ``Application`` through the server delegate
  interface with a :class:`FakeConnection` that records what is written.
  No sockets, so it is fast and exact about what the application did.
* ``serve`` + ``raw_client``: a real ``HTTPServer`` on 127.0.0.1 and a
  tiny keep-alive HTTP/1.1 client over asyncio streams, for end-to-end
  tests that do not depend on squall.httpclient.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPOutputError,
    RequestStartLine,
    ResponseStartLine,
)
from web_wire import Response

TIMEOUT = 10.0


class FakeConnection(HTTPConnection):
    """An HTTPConnection that records the response instead of sending it."""

    def __init__(self, remote_ip: str = "127.0.0.1", protocol: str = "http") -> None:
        self.context = types.SimpleNamespace(remote_ip=remote_ip, protocol=protocol)
        self.start_line: ResponseStartLine | None = None
        self.headers: HTTPHeaders | None = None
        self.chunks: list[bytes] = []
        self.finished = False
        self.closed = False
        self.detached = False
        self.close_callback: Callable[[], Any] | None = None
        self.max_body_size: int | None = None
        self.body_timeout: float | None = None
        self.writes = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _future(self, callback: Callable[[], None] | None) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        if callback is not None:
            callback()
        return future

    def write_headers(
        self,
        start_line: Any,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
        callback: Callable[[], None] | None = None,
    ) -> asyncio.Future[None]:
        if self.start_line is not None:
            raise HTTPOutputError("head written twice")
        self.start_line = start_line
        self.headers = headers
        self.writes += 1
        if chunk:
            self.chunks.append(chunk)
        return self._future(callback)

    def write(
        self, chunk: bytes, callback: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        if self.start_line is None:
            raise HTTPOutputError("write() before write_headers()")
        if self.finished:
            raise HTTPOutputError("write() after finish()")
        self.writes += 1
        if chunk:
            self.chunks.append(chunk)
        return self._future(callback)

    def finish(self) -> None:
        if self.finished:
            raise HTTPOutputError("finish() called twice")
        if self.start_line is None:
            raise HTTPOutputError("finish() before write_headers()")
        self.finished = True
        if not self.done.done():
            self.done.set_result(None)

    def detach(self) -> Any:
        self.detached = True
        if not self.done.done():
            self.done.set_result(None)
        return "stream"

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        self.close_callback = callback

    def set_max_body_size(self, size: int | None) -> None:
        self.max_body_size = size

    def set_body_timeout(self, timeout: float | None) -> None:
        self.body_timeout = timeout

    def client_disconnects(self) -> None:
        """What the real connection does when the peer goes away."""
        self.closed = True
        callback, self.close_callback = self.close_callback, None
        if callback is not None:
            callback()


class FakeResponse:
    """What the application wrote on a FakeConnection."""

    def __init__(self, connection: FakeConnection) -> None:
        start_line = connection.start_line
        assert start_line is not None
        self.connection = connection
        self.code: int = start_line.code
        self.reason: str = start_line.reason
        self.headers: HTTPHeaders = connection.headers or HTTPHeaders()
        self.body = b"".join(connection.chunks)

    @property
    def text(self) -> str:
        return self.body.decode()

    def __repr__(self) -> str:
        return f"<FakeResponse {self.code} {self.reason} {self.body[:60]!r}>"


class FakeClient:
    """Sends requests to an application without sockets."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.server_conn = object()

    def start(
        self, method: str, path: str, headers: dict[str, str] | HTTPHeaders | None, version: str
    ) -> tuple[FakeConnection, HTTPMessageDelegate, Any]:
        connection = FakeConnection()
        delegate = self.app.start_request(self.server_conn, connection)
        if isinstance(headers, HTTPHeaders):
            head = headers
        else:
            head = HTTPHeaders({"Host": "example.com"})
            for name, value in (headers or {}).items():
                head[name] = value
        result = delegate.headers_received(RequestStartLine(method, path, version), head)
        return connection, delegate, result

    async def fetch(
        self,
        path: str,
        method: str = "GET",
        headers: dict[str, str] | HTTPHeaders | None = None,
        body: bytes | str | None = None,
        chunks: list[bytes] | None = None,
        version: str = "HTTP/1.1",
        timeout: float = TIMEOUT,
    ) -> FakeResponse:
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            chunks = [body]
        headers = dict(headers or {}) if not isinstance(headers, HTTPHeaders) else headers
        if chunks and not isinstance(headers, HTTPHeaders):
            headers.setdefault("Content-Length", str(sum(map(len, chunks))))
        connection, delegate, result = self.start(method, path, headers, version)
        if result is not None:
            await asyncio.wait_for(result, timeout)
        for chunk in chunks or ():
            result = delegate.data_received(chunk)
            if result is not None:
                await asyncio.wait_for(result, timeout)
        delegate.finish()
        await asyncio.wait_for(asyncio.shield(connection.done), timeout)
        return FakeResponse(connection)


@pytest.fixture
def fake_client() -> Callable[[Any], FakeClient]:
    """``fake_client(app)`` -> a FakeClient; ``await client.fetch(path, ...)``."""
    return FakeClient


@pytest.fixture
def fake_connection() -> type[FakeConnection]:
    """The FakeConnection class (make one inside a running loop)."""
    return FakeConnection


# -- real sockets -----------------------------------------------------------------


class RawClient:
    """A minimal HTTP/1.1 client over one keep-alive connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | str = b"",
        timeout: float = TIMEOUT,
    ) -> Response:
        if isinstance(body, str):
            body = body.encode()
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return await self.read_response(head_only=method == "HEAD", timeout=timeout)

    async def read_response(self, head_only: bool = False, timeout: float = TIMEOUT) -> Response:
        return await asyncio.wait_for(self._read_response(head_only), timeout)

    async def _read_response(self, head_only: bool) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, _, rest = head.decode("latin-1").partition("\r\n")
        _, code, reason = status.split(" ", 2)
        headers = HTTPHeaders.parse(rest)
        body = b""
        if head_only or int(code) in (204, 304):
            pass
        elif "Content-Length" in headers:
            body = await self.reader.readexactly(int(headers["Content-Length"]))
        elif headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.strip().split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        else:
            body = await self.reader.read()
        return Response(int(code), reason, headers, body)

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        data = await asyncio.wait_for(self.reader.read(1), timeout)
        return data == b""

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[..., int]]:
    """``serve(app, **server_kwargs)`` -> port of an HTTPServer on 127.0.0.1."""
    from squall.httpserver import HTTPServer
    from squall.testing import bind_unused_port

    servers: list[Any] = []

    def start(app: Any, **kwargs: Any) -> int:
        sock, port = bind_unused_port()
        server = HTTPServer(app, **kwargs)
        server.add_sockets([sock])
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop()

        async def close(server: Any = server) -> None:
            await server.close_all_connections(TIMEOUT)

        io_loop.run_sync(close, timeout=TIMEOUT)


@pytest.fixture
def raw_client(io_loop: Any) -> Iterator[Callable[[int], Any]]:
    """``await raw_client(port)`` -> a connected RawClient (closed after the test)."""
    clients: list[RawClient] = []

    async def connect(port: int) -> RawClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        client = RawClient(reader, writer)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
