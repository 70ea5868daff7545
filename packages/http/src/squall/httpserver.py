"""HTTPServer: a TCPServer that speaks HTTP/1.1 to an application.

The application is either an :class:`~squall.httputil.HTTPServerConnectionDelegate`
(``squall.web.Application`` is one) or, Tornado 4 style, a callable taking
an :class:`~squall.httputil.HTTPServerRequest` once its body has arrived.

Typical use::

    server = HTTPServer(app, xheaders=True)
    server.listen(8888)
    IOLoop.current().start()

Graceful shutdown::

    server.stop()                              # stop accepting
    await server.close_all_connections(30)     # let requests in flight finish

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from squall.http1connection import (
    HTTP1ConnectionParameters,
    HTTP1ServerConnection,
)
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.ioloop import PeriodicCallback
from squall.netutil import is_valid_ip
from squall.tcpserver import TCPServer
from squall.util import Configurable

__all__ = ["HTTPServer"]

# The largest request body read unless max_body_size says otherwise (also
# squall.wsgi.WSGIAdapter's default).
_DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024


class HTTPServer(TCPServer, Configurable, HTTPServerConnectionDelegate):
    """A non-blocking, single-threaded HTTP/1.1 server.

    :param request_callback: an :class:`~squall.httputil.HTTPServerConnectionDelegate`
        or a callable receiving each complete :class:`~squall.httputil.HTTPServerRequest`.
    :param no_keep_alive: close every connection after one request.
    :param xheaders: trust ``X-Real-Ip``/``X-Forwarded-For`` for
        ``remote_ip`` and ``X-Scheme``/``X-Forwarded-Proto`` for ``protocol``
        (behind a reverse proxy such as nginx).
    :param trusted_downstream: proxy addresses to skip when reading
        ``X-Forwarded-For`` from the right.
    :param ssl_options: an :class:`ssl.SSLContext` or a dict of
        :func:`ssl.wrap_socket`-style options, for HTTPS.
    :param protocol: the ``request.protocol`` to report (default ``http``
        or ``https``).
    :param decompress_request: decode gzip request bodies.
    :param max_buffer_size: the stream's read buffer limit.

    ``chunk_size``, ``max_header_size``, ``header_timeout``,
    ``max_body_size``, ``body_timeout``, ``idle_connection_timeout``,
    ``max_request_line``, ``max_header_fields`` and ``extra_methods`` are
    described in :class:`~squall.http1connection.HTTP1ConnectionParameters`.

    .. versionadded:: 0.1.0
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Configurable.__new__ called initialize(); nothing to do here.
        pass

    def initialize(
        self,
        request_callback: HTTPServerConnectionDelegate | Callable[[HTTPServerRequest], Any],
        no_keep_alive: bool = False,
        xheaders: bool = False,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        protocol: str | None = None,
        decompress_request: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        idle_connection_timeout: float | None = None,
        body_timeout: float | None = None,
        max_body_size: int | None = None,
        max_buffer_size: int | None = None,
        trusted_downstream: list[str] | None = None,
        header_timeout: float | None = None,
        max_request_line: int | None = None,
        max_header_fields: int | None = None,
        extra_methods: frozenset[str] | set[str] | None = None,
        io_loop: Any = None,
    ) -> None:
        """Set the server up; see the class docstring for the arguments.

        ``io_loop`` is accepted for Tornado 4 code and ignored: the server
        runs on the loop that is current when it starts listening.
        """
        self.request_callback = request_callback
        self.xheaders = xheaders
        self.protocol = protocol
        self.conn_params = HTTP1ConnectionParameters(
            decompress=decompress_request,
            chunk_size=chunk_size,
            max_header_size=max_header_size,
            header_timeout=header_timeout if header_timeout is not None else 60.0,
            max_body_size=max_body_size if max_body_size is not None else _DEFAULT_MAX_BODY_SIZE,
            body_timeout=body_timeout,
            no_keep_alive=no_keep_alive,
            idle_connection_timeout=(
                idle_connection_timeout if idle_connection_timeout is not None else 3600.0
            ),
            max_request_line=max_request_line,
            max_header_fields=max_header_fields,
            extra_methods=extra_methods,
        )
        TCPServer.__init__(
            self,
            ssl_options=ssl_options,
            max_buffer_size=max_buffer_size,
            read_chunk_size=chunk_size,
        )
        self._connections: set[HTTP1ServerConnection] = set()
        self.trusted_downstream = set(trusted_downstream or ())
        self._sweeper: PeriodicCallback | None = None

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """Return :class:`HTTPServer`."""
        return HTTPServer

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """Return :class:`HTTPServer`."""
        return HTTPServer

    # ------------------------------------------------------------------ connections

    def handle_stream(self, stream: Any, address: Any) -> None:
        """Start serving HTTP on a newly accepted stream."""
        context = _HTTPRequestContext(stream, address, self.protocol, self.trusted_downstream)
        conn = HTTP1ServerConnection(stream, self.conn_params, context)
        if self._sweep_interval is not None:
            conn.use_watchdog()
            if self._sweeper is None:
                self._sweeper = PeriodicCallback(self._sweep, self._sweep_interval * 1000)
                self._sweeper.start()
        self._connections.add(conn)
        conn.start_serving(self)

    @property
    def _sweep_interval(self) -> float | None:
        params = self.conn_params
        timeouts = [
            t
            for t in (params.header_timeout, params.idle_connection_timeout, params.body_timeout)
            if t is not None
        ]
        if not timeouts:
            return None
        return max(0.02, min(1.0, min(timeouts) / 4))

    def _sweep(self) -> None:
        # Enforce the read deadlines of every connection (see _Watchdog).
        # Idle deadlines are armed from time.monotonic (see
        # HTTP1ServerConnection._go_idle); read deadlines from the loop's
        # clock, which is the same clock on asyncio and uvloop.
        now = time.monotonic()
        for conn in self._connections:
            watchdog = conn._reader.watchdog
            if watchdog is not None and watchdog.deadline is not None:
                watchdog.check(now)

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Return the message delegate for a new request (the layer contract)."""
        callback = self.request_callback
        delegate: HTTPMessageDelegate
        if isinstance(callback, HTTPServerConnectionDelegate):
            delegate = callback.start_request(server_conn, request_conn)
        else:
            delegate = _CallableAdapter(callback, request_conn, server_conn)
        if self.xheaders:
            delegate = _ProxyAdapter(delegate, request_conn)
        return delegate

    def _request_starter(self) -> Callable[[object, HTTPConnection], HTTPMessageDelegate]:
        """What a connection calls for :meth:`start_request` (private).

        The application's own starter when this method would only forward
        to it (a delegate, no ``xheaders``, ``start_request`` not
        overridden): one call less per request.
        """
        callback = self.request_callback
        if (
            type(self).start_request is not HTTPServer.start_request
            or self.xheaders
            or not isinstance(callback, HTTPServerConnectionDelegate)
        ):
            return self.start_request
        starter = getattr(callback, "_request_starter", None)
        return starter() if starter is not None else callback.start_request

    def on_close(self, server_conn: object) -> None:
        """Forget a closed connection."""
        if isinstance(server_conn, HTTP1ServerConnection):
            self._connections.discard(server_conn)

    @property
    def connection_count(self) -> int:
        """The number of open client connections."""
        return len(self._connections)

    async def close_all_connections(self, timeout: float | None = None) -> None:
        """Close every connection gracefully; return when all are closed.

        Idle keep-alive connections close at once.  A request in flight is
        answered (its response carries ``Connection: close``) and its
        connection closes after it.  Connections still open after
        ``timeout`` seconds are closed by force.  Call :meth:`stop` first so
        no new connections arrive.
        """
        for conn in list(self._connections):
            conn.close_when_idle()
        waiting = [c._serving_future for c in self._connections if c._serving_future is not None]
        if waiting:
            _done, pending = await asyncio.wait(waiting, timeout=timeout)
            if pending:
                for conn in list(self._connections):
                    await conn.close()
        # Connections whose loop already ended but whose on_close is pending.
        self._connections.clear()
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None


class _HTTPRequestContext:
    """What the request sees as ``request.connection.context``."""

    __slots__ = (
        "_orig_protocol",
        "_orig_remote_ip",
        "address",
        "address_family",
        "protocol",
        "remote_ip",
        "trusted_downstream",
    )

    def __init__(
        self,
        stream: Any,
        address: Any,
        protocol: str | None,
        trusted_downstream: set[str],
    ) -> None:
        self.address = address
        sock = getattr(stream, "socket", None)
        self.address_family = sock.family if sock is not None else None
        if self.address_family in (socket.AF_INET, socket.AF_INET6) and address is not None:
            self.remote_ip = address[0]
        else:
            # Unix sockets and pipes have no meaningful address.
            self.remote_ip = "0.0.0.0"
        if protocol:
            self.protocol = protocol
        elif type(stream).__name__ == "SSLIOStream" or getattr(stream, "_ssl_object", None):
            self.protocol = "https"
        else:
            self.protocol = "http"
        self._orig_remote_ip = self.remote_ip
        self._orig_protocol = self.protocol
        self.trusted_downstream = trusted_downstream

    def __str__(self) -> str:
        if self.address_family in (socket.AF_INET, socket.AF_INET6):
            return str(self.remote_ip)
        return str(self.address)

    def _apply_xheaders(self, headers: HTTPHeaders) -> None:
        ip = headers.get("X-Forwarded-For", self.remote_ip) or self.remote_ip
        # The rightmost address not from a trusted proxy is the client's.
        for candidate in reversed([part.strip() for part in ip.split(",")]):
            if candidate not in self.trusted_downstream:
                ip = candidate
                break
        ip = headers.get("X-Real-Ip", ip) or ip
        if is_valid_ip(ip):
            self.remote_ip = ip
        proto = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", self.protocol))
        if proto:
            proto = proto.split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            self.protocol = proto

    def _unapply_xheaders(self) -> None:
        self.remote_ip = self._orig_remote_ip
        self.protocol = self._orig_protocol


class _CallableAdapter(HTTPMessageDelegate):
    """Collects a request and hands it to a plain callable (Tornado 4 style)."""

    def __init__(
        self,
        request_callback: Callable[[HTTPServerRequest], Any],
        request_conn: HTTPConnection,
        server_conn: object,
    ) -> None:
        self.connection = request_conn
        self.server_connection = server_conn
        self.request_callback = request_callback
        self.request: HTTPServerRequest | None = None
        self._chunks: list[bytes] = []

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        self.request = HTTPServerRequest(
            connection=self.connection,
            start_line=start_line,
            headers=headers,
            server_connection=self.server_connection,
        )
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self._chunks.append(chunk)
        return None

    def finish(self) -> None:
        request = self.request
        assert request is not None
        request.body = b"".join(self._chunks)
        request._parse_body()
        result = self.request_callback(request)
        if result is not None and asyncio.iscoroutine(result):
            # Keep a reference until it finishes; the IOLoop logs failures.
            from squall.ioloop import IOLoop

            IOLoop.current().add_future(asyncio.ensure_future(result), lambda f: f.result())

    def on_connection_close(self) -> None:
        self._chunks = []


class _ProxyAdapter(HTTPMessageDelegate):
    """Applies X-Real-Ip / X-Forwarded-* to the connection context per request."""

    def __init__(self, delegate: HTTPMessageDelegate, request_conn: HTTPConnection) -> None:
        self.connection = request_conn
        self.delegate = delegate

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        context = getattr(self.connection, "context", None)
        if isinstance(context, _HTTPRequestContext):
            context._apply_xheaders(headers)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()
        self._cleanup()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()
        self._cleanup()

    def _cleanup(self) -> None:
        context = getattr(self.connection, "context", None)
        if isinstance(context, _HTTPRequestContext):
            context._unapply_xheaders()
