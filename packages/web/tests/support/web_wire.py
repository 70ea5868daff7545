"""A minimal HTTP/1.1 client over raw sockets, for tests that check the bytes on the wire.

Shared by the web suite's socket tests (static files, WSGI). The test run
puts this folder on ``sys.path`` (``pythonpath`` in pytest.ini): the suites
import in pytest's importlib mode, where test modules cannot import each
other.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders
from squall.netutil import bind_sockets

WAIT = 10.0


class Response:
    """A parsed response: status, reason, headers and the (de-chunked) body."""

    def __init__(self, code: int, reason: str, headers: HTTPHeaders, body: bytes) -> None:
        self.code = code
        self.reason = reason
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.code} {dict(self.headers)} {self.body[:80]!r}>"


def _dechunk(data: bytes) -> bytes:
    out: list[bytes] = []
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[:size])
        data = data[size + 2 :]


def parse_response(data: bytes) -> Response:
    """Parse one whole response (head and body) from ``data``."""
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"no complete head in {data[:200]!r}"
    status_line, _, header_text = head.decode("latin-1").partition("\r\n")
    _version, code, reason = status_line.split(" ", 2)
    headers = HTTPHeaders.parse(header_text + "\r\n")
    if headers.get("Transfer-Encoding") == "chunked":
        body = _dechunk(body)
    return Response(int(code), reason, headers, body)


class Server:
    """An :class:`HTTPServer` for ``app`` on a free port of 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.server = HTTPServer(app)
        socks = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port: int = socks[0].getsockname()[1]
        self.server.add_sockets(socks)

    async def raw(self, data: bytes, timeout: float = WAIT) -> bytes:
        """Send ``data`` on a new connection; return all that comes back."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            return await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()

    async def fetch(
        self,
        path: str,
        method: str = "GET",
        body: bytes = b"",
        version: str = "HTTP/1.1",
        **headers: str,
    ) -> Response:
        """One request with ``Connection: close``; ``_`` in header names becomes ``-``."""
        lines = [f"{method} {path} {version}", "Connection: close"]
        if "Host" not in headers:
            lines.append("Host: 127.0.0.1")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        data = await self.raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return parse_response(data)

    async def close(self) -> None:
        self.server.stop()
        await self.server.close_all_connections(2)
