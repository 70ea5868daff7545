"""The client side: websocket_connect and WebSocketClientConnection.

The connection is opened with :class:`squall.tcpclient.TCPClient` (TLS for
``wss://``, certificates checked by default), the upgrade request is
written and its answer read by a client-side
:class:`~squall.http1connection.HTTP1Connection`, which then hands the
stream over (``detach()``) to a
:class:`~squall.websocket._protocol.WebSocketProtocol`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from squall.escape import utf8
from squall.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from squall.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    RequestStartLine,
    ResponseStartLine,
)
from squall.ioloop import IOLoop
from squall.iostream import StreamClosedError
from squall.netutil import ssl_options_to_context
from squall.tcpclient import TCPClient
from squall.util import TimeoutError as _SquallTimeoutError
from squall.websocket._compression import client_accept, client_offer
from squall.websocket._errors import WebSocketClosedError, WebSocketHandshakeError
from squall.websocket._handshake import (
    WEBSOCKET_VERSION,
    accept_key,
    header_tokens,
    new_key,
    split_list,
)
from squall.websocket._protocol import DEFAULT_MAX_MESSAGE_SIZE, WebSocketProtocol

__all__ = ["WebSocketClientConnection", "websocket_connect"]

#: Defaults when neither the call nor the request says (as HTTPRequest's).
_DEFAULT_CONNECT_TIMEOUT = 20.0
_DEFAULT_REQUEST_TIMEOUT = 20.0
# The largest handshake answer head accepted.  (Frames the server sends right
# behind its 101 may be read with it: detach() puts them back in the stream.)
_MAX_HANDSHAKE_HEAD = 16384
# How much of a refusal's body is kept for the error.
_MAX_ERROR_BODY = 65536
# At most this many received messages wait for read_message(); then the
# connection stops reading until one is taken (flow control).
_QUEUE_LIMIT = 1


class _Request:
    """What websocket_connect needs from a URL or an HTTPRequest-like object."""

    def __init__(self, url: Any, connect_timeout: float | None) -> None:
        if isinstance(url, str):
            source: Any = None
            self.url = url
        else:
            source = url
            self.url = url.url

        def option(name: str, default: Any = None) -> Any:
            value = getattr(source, name, None) if source is not None else None
            return default if value is None else value

        headers = option("headers")
        if headers is None:
            self.headers = HTTPHeaders()
        elif isinstance(headers, HTTPHeaders):
            self.headers = headers.copy()
        else:
            self.headers = HTTPHeaders(dict(headers))
        self.connect_timeout: float = (
            connect_timeout
            if connect_timeout is not None
            else option("connect_timeout", _DEFAULT_CONNECT_TIMEOUT)
        )
        self.request_timeout: float = option("request_timeout", _DEFAULT_REQUEST_TIMEOUT)
        self.validate_cert: bool = option("validate_cert", True)
        self.ca_certs: str | None = option("ca_certs")
        self.client_key: str | None = option("client_key")
        self.client_cert: str | None = option("client_cert")
        self.ssl_options: Any = option("ssl_options")
        self.auth_username: str | None = option("auth_username")
        self.auth_password: str | None = option("auth_password")
        self.user_agent: str | None = option("user_agent")

    def ssl_context(self) -> ssl.SSLContext:
        options = self.ssl_options
        if isinstance(options, ssl.SSLContext):
            return options
        if options is not None:
            return ssl_options_to_context(options, server_side=False)
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_certs)
        if not self.validate_cert:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert is not None:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


class _HandshakeDelegate(HTTPMessageDelegate):
    """Collects the answer to the upgrade request; takes the stream on a 101.

    The stream is detached as soon as the 101 head is in, before the HTTP
    connection finishes the exchange: bytes the server sent right behind
    the head belong to the WebSocket connection (detach() puts them back
    in the stream).
    """

    def __init__(self, connection: HTTP1Connection) -> None:
        self.connection = connection
        self.start_line: ResponseStartLine | None = None
        self.headers: HTTPHeaders | None = None
        self.body: list[bytes] = []
        self.size = 0
        self.stream: Any = None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> None:
        if isinstance(start_line, ResponseStartLine):
            self.start_line = start_line
            if start_line.code == 101:
                self.stream = self.connection.detach()
        self.headers = headers

    def data_received(self, chunk: bytes) -> None:
        if self.size < _MAX_ERROR_BODY:
            self.body.append(chunk[: _MAX_ERROR_BODY - self.size])
            self.size += len(chunk)

    def finish(self) -> None:
        pass

    def on_connection_close(self) -> None:
        pass


class WebSocketClientConnection:
    """A client WebSocket connection; made by :func:`websocket_connect`.

    Read with :meth:`read_message` (or pass ``on_message_callback`` to
    :func:`websocket_connect`, or subclass and override :meth:`on_message`),
    send with :meth:`write_message`, end with :meth:`close`.

    :param request: the URL (``ws://`` or ``wss://``) or an
        ``HTTPRequest``-like object (``url``, ``headers``,
        ``connect_timeout``, ``request_timeout``, ``validate_cert``,
        ``ca_certs``, ``client_key``, ``client_cert``, ``ssl_options``,
        ``auth_username``, ``auth_password``, ``user_agent`` are used).
    :param on_message_callback: see :func:`websocket_connect`.
    :param compression_options: see :func:`websocket_connect`.
    :param ping_interval: see :func:`websocket_connect`.
    :param ping_timeout: see :func:`websocket_connect`.
    :param max_message_size: see :func:`websocket_connect`.
    :param subprotocols: see :func:`websocket_connect`.
    :param resolver: a :class:`squall.netutil.Resolver` for the host name.
    :param connect_timeout: overrides the request's ``connect_timeout``.

    .. versionadded:: 0.1.0
    """

    #: The connection's protocol object once connected (None before).
    protocol: WebSocketProtocol | None = None
    #: The headers of the server's 101 answer (None before).
    headers: HTTPHeaders | None = None
    #: The code of the server's close frame (None if it sent none).
    close_code: int | None = None
    #: The reason of the server's close frame.
    close_reason: str | None = None

    def __init__(
        self,
        request: Any,
        on_message_callback: Callable[[str | bytes | None], Any] | None = None,
        compression_options: dict[str, Any] | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        subprotocols: list[str] | None = None,
        resolver: Any = None,
        connect_timeout: float | None = None,
    ) -> None:
        self.request = _Request(request, connect_timeout)
        if compression_options is not None:
            client_offer(compression_options)  # raises ValueError for bad options now
        self._compression_options = compression_options
        self._on_message_callback = on_message_callback
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._max_message_size = max_message_size
        self._subprotocols = list(subprotocols) if subprotocols else []
        self._resolver = resolver
        self._loop = IOLoop.current().asyncio_loop
        self._messages: collections.deque[str | bytes | None] = collections.deque()
        self._readers: collections.deque[asyncio.Future[str | bytes | None]] = collections.deque()
        self._space: asyncio.Future[None] | None = None
        self._finished = False
        self._selected_subprotocol: str | None = None
        #: Resolved with this connection once the handshake succeeded.
        self.connect_future: asyncio.Future[WebSocketClientConnection] = self._loop.create_future()
        self._connect_task = self._loop.create_task(self._connect())

    # ------------------------------------------------------------------ connecting

    async def _connect(self) -> None:
        stream = None
        try:
            stream = await self._open_stream()
            await self._handshake(stream)
        except asyncio.CancelledError:
            if stream is not None:
                stream.close()
            self.connect_future.cancel()
            raise
        except Exception as e:
            if stream is not None:
                stream.close()
            if not self.connect_future.done():
                self.connect_future.set_exception(e)
                self.connect_future.exception()  # retrieved: the caller may not await
            return
        if not self.connect_future.done():
            self.connect_future.set_result(self)
        elif self.protocol is not None:  # cancelled meanwhile
            self.protocol.abort()

    async def _open_stream(self) -> Any:
        request = self.request
        parts = urllib.parse.urlsplit(request.url)
        scheme = parts.scheme.lower()
        if scheme not in ("ws", "wss", "http", "https"):
            raise ValueError(f"not a WebSocket URL: {request.url!r}")
        tls = scheme in ("wss", "https")
        host = parts.hostname
        if not host:
            raise ValueError(f"no host in {request.url!r}")
        port = parts.port or (443 if tls else 80)
        self._netloc = parts.netloc.rpartition("@")[2]
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.username is not None and request.auth_username is None:
            request.auth_username = urllib.parse.unquote(parts.username)
            request.auth_password = urllib.parse.unquote(parts.password or "")
        client = TCPClient(resolver=self._resolver)
        try:
            return await client.connect(
                host,
                port,
                ssl_options=request.ssl_context() if tls else None,
                timeout=request.connect_timeout or None,
            )
        finally:
            client.close()

    async def _handshake(self, stream: Any) -> None:
        request = self.request
        headers = request.headers
        if "Host" not in headers:
            headers["Host"] = self._netloc
        if request.user_agent and "User-Agent" not in headers:
            headers["User-Agent"] = request.user_agent
        if request.auth_username is not None and "Authorization" not in headers:
            credentials = f"{request.auth_username}:{request.auth_password or ''}"
            headers["Authorization"] = "Basic " + base64.b64encode(utf8(credentials)).decode()
        key = new_key()
        headers["Upgrade"] = "websocket"
        headers["Connection"] = "Upgrade"
        headers["Sec-WebSocket-Key"] = key
        headers["Sec-WebSocket-Version"] = WEBSOCKET_VERSION
        if self._subprotocols:
            headers["Sec-WebSocket-Protocol"] = ", ".join(self._subprotocols)
        if self._compression_options is not None:
            headers["Sec-WebSocket-Extensions"] = client_offer(self._compression_options)
        connection = HTTP1Connection(
            stream,
            True,
            HTTP1ConnectionParameters(max_header_size=_MAX_HANDSHAKE_HEAD),
        )
        delegate = _HandshakeDelegate(connection)
        timeout = request.request_timeout or None
        try:
            async with asyncio.timeout(timeout):
                connection.write_headers(RequestStartLine("GET", self._path, "HTTP/1.1"), headers)
                connection.finish()
                await connection.read_response(delegate)
        except TimeoutError:
            raise _SquallTimeoutError(
                f"WebSocket handshake with {self._netloc} timed out after {timeout:g} s"
            ) from None
        except HTTPInputError as e:
            raise WebSocketHandshakeError(f"malformed handshake answer: {e}") from e
        except StreamClosedError as e:
            raise WebSocketHandshakeError(
                "the server closed the connection during the handshake"
            ) from e
        start_line = delegate.start_line
        answer = delegate.headers or HTTPHeaders()
        code = start_line.code if start_line is not None else None
        if code != 101:
            raise WebSocketHandshakeError(
                f"the server refused the WebSocket handshake: HTTP {code}",
                code,
                answer,
                b"".join(delegate.body),
            )
        self._check_answer(answer, key)
        deflate = None
        if self._compression_options is not None:
            deflate = client_accept(
                ", ".join(answer.get_list("Sec-WebSocket-Extensions")), self._compression_options
            )
        elif answer.get_list("Sec-WebSocket-Extensions"):
            raise WebSocketHandshakeError(
                "the server accepted an extension that was not offered", 101, answer
            )
        stream = delegate.stream
        self.headers = answer
        self.protocol = WebSocketProtocol(
            stream,
            is_client=True,
            on_message=self._on_message,
            on_ping=self._call_on_ping,
            on_pong=self._call_on_pong,
            on_close=self._on_closed,
            deflate=deflate,
            max_message_size=self._max_message_size,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            subprotocol=self._selected_subprotocol,
        )
        self.protocol.start()

    def _check_answer(self, answer: HTTPHeaders, key: str) -> None:
        if "websocket" not in header_tokens(answer.get_list("Upgrade")):
            raise WebSocketHandshakeError("the 101 answer lacks Upgrade: websocket", 101, answer)
        if "upgrade" not in header_tokens(answer.get_list("Connection")):
            raise WebSocketHandshakeError("the 101 answer lacks Connection: Upgrade", 101, answer)
        if answer.get_list("Sec-WebSocket-Accept") != [accept_key(key)]:
            raise WebSocketHandshakeError(
                "wrong Sec-WebSocket-Accept in the 101 answer", 101, answer
            )
        selected = split_list(answer.get_list("Sec-WebSocket-Protocol"))
        if selected:
            if len(selected) != 1 or selected[0] not in self._subprotocols:
                raise WebSocketHandshakeError(
                    f"the server selected a subprotocol that was not offered: {selected}",
                    101,
                    answer,
                )
            self._selected_subprotocol = selected[0]

    # ------------------------------------------------------------------ messages

    def _on_message(self, message: str | bytes) -> Awaitable[None] | None:
        callback = self._on_message_callback
        if callback is not None:
            callback(message)
            return None
        return self.on_message(message)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Handle a message; the default queues it for :meth:`read_message`.

        Override in a subclass to handle messages as they come (may return
        an awaitable: the next message waits for it).

        .. versionadded:: 0.1.0
        """
        readers = self._readers
        while readers:
            reader = readers.popleft()
            if not reader.done():
                reader.set_result(message)
                return None
        self._messages.append(message)
        if len(self._messages) >= _QUEUE_LIMIT:
            self._space = self._loop.create_future()
            return self._space
        return None

    def read_message(
        self, callback: Callable[[asyncio.Future[str | bytes | None]], Any] | None = None
    ) -> asyncio.Future[str | bytes | None]:
        """Return a Future resolving to the next message, or ``None`` once closed.

        :param callback: classic style: called with the Future once it resolves.

        .. versionadded:: 0.1.0
        """
        future: asyncio.Future[str | bytes | None] = self._loop.create_future()
        if self._messages:
            future.set_result(self._messages.popleft())
            space = self._space
            if space is not None and len(self._messages) < _QUEUE_LIMIT:
                self._space = None
                if not space.done():
                    space.set_result(None)
        elif self._finished:
            future.set_result(None)
        else:
            self._readers.append(future)
        if callback is not None:
            IOLoop.current().add_future(future, callback)
        return future

    def _on_closed(self) -> None:
        protocol = self.protocol
        if protocol is not None:
            self.close_code = protocol.close_code
            self.close_reason = protocol.close_reason
        self._finished = True
        readers = self._readers
        while readers:
            reader = readers.popleft()
            if not reader.done():
                reader.set_result(None)
        space = self._space
        self._space = None
        if space is not None and not space.done():
            space.set_result(None)
        callback = self._on_message_callback
        if callback is not None:
            callback(None)

    def _call_on_ping(self, data: bytes) -> Any:
        return self.on_ping(data)

    def _call_on_pong(self, data: bytes) -> Any:
        return self.on_pong(data)

    def on_ping(self, data: bytes) -> None:
        """Called with the payload of each ping from the server (already answered).

        .. versionadded:: 0.1.0
        """

    def on_pong(self, data: bytes) -> None:
        """Called with the payload of each pong from the server.

        .. versionadded:: 0.1.0
        """

    # ------------------------------------------------------------------ sending

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message (see :meth:`WebSocketHandler.write_message`).

        :raises WebSocketClosedError: if not connected, closing or closed.

        .. versionadded:: 0.1.0
        """
        protocol = self.protocol
        if protocol is None:
            raise WebSocketClosedError("the WebSocket connection is not open")
        return protocol.write_message(message, binary)

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping (at most 125 bytes); :meth:`on_pong` gets the answer.

        :raises WebSocketClosedError: if not connected, closing or closed.

        .. versionadded:: 0.1.0
        """
        protocol = self.protocol
        if protocol is None:
            raise WebSocketClosedError("the WebSocket connection is not open")
        protocol.write_ping(utf8(data))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake (or give up connecting).

        :param code: the close code (1000 if only ``reason`` is given).
        :param reason: a short text for the server.

        .. versionadded:: 0.1.0
        """
        protocol = self.protocol
        if protocol is not None:
            protocol.close(code, reason)
        elif not self._connect_task.done():
            self._connect_task.cancel()

    @property
    def selected_subprotocol(self) -> str | None:
        """The subprotocol the server selected, or None.

        .. versionadded:: 0.1.0
        """
        return self._selected_subprotocol


def websocket_connect(
    url: Any,
    callback: Callable[[asyncio.Future[WebSocketClientConnection]], Any] | None = None,
    connect_timeout: float | None = None,
    on_message_callback: Callable[[str | bytes | None], Any] | None = None,
    compression_options: dict[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    subprotocols: list[str] | None = None,
    resolver: Any = None,
    io_loop: IOLoop | None = None,
) -> asyncio.Future[WebSocketClientConnection]:
    """Open a WebSocket connection; return a Future of a :class:`WebSocketClientConnection`.

    ::

        conn = await websocket_connect("ws://localhost:8888/ws")
        await conn.write_message("hello")
        reply = await conn.read_message()   # None once the connection is closed
        conn.close()

    :param url: a ``ws://`` or ``wss://`` URL, or an ``HTTPRequest`` (for
        headers, timeouts and TLS options; ``wss://`` checks the server's
        certificate unless ``validate_cert=False``).
    :param callback: classic style: called with the Future once it resolves.
    :param connect_timeout: seconds to connect (TCP and TLS); default 20.
    :param on_message_callback: called with each message, then with
        ``None`` when the connection closes; :meth:`~WebSocketClientConnection.read_message`
        is then not used.
    :param compression_options: offer permessage-deflate with these options
        (``{}`` for the defaults; keys as for
        :meth:`WebSocketHandler.get_compression_options`); None: no offer.
    :param ping_interval: seconds between keepalive pings.
    :param ping_timeout: close when nothing arrives for this long after a ping.
    :param max_message_size: the largest message accepted (10 MiB by
        default; larger closes the connection with code 1009).
    :param subprotocols: subprotocols to offer, in order of preference.
    :param resolver: a :class:`squall.netutil.Resolver` for the host name.
    :param io_loop: Tornado 4's argument, ignored (the current loop is
        used); Tornado 4's positional form ``websocket_connect(url, io_loop,
        callback, ...)`` works too.
    :returns: a Future that fails with :class:`WebSocketHandshakeError`
        (refused or invalid handshake), :class:`squall.iostream.StreamError`
        subclasses (connecting failed, TLS), :class:`squall.util.TimeoutError`
        or :class:`ValueError` (a URL that is not ``ws``/``wss``).
    :raises ValueError: for invalid ``compression_options``.

    .. versionadded:: 0.1.0
    """
    if isinstance(callback, IOLoop):
        # Tornado 4: websocket_connect(url, io_loop, callback, connect_timeout,
        # on_message_callback, compression_options, ping_interval,
        # ping_timeout, max_message_size): every later argument is one off.
        tornado4_max_size: Any = subprotocols
        callback, connect_timeout, on_message_callback = (
            connect_timeout,
            on_message_callback,
            compression_options,
        )
        compression_options, ping_interval, ping_timeout = (
            ping_interval,
            ping_timeout,
            max_message_size,
        )
        max_message_size = (
            tornado4_max_size if isinstance(tornado4_max_size, int) else DEFAULT_MAX_MESSAGE_SIZE
        )
        subprotocols = None
    connection = WebSocketClientConnection(
        url,
        on_message_callback=on_message_callback,
        compression_options=compression_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_message_size=max_message_size,
        subprotocols=subprotocols,
        resolver=resolver,
        connect_timeout=connect_timeout,
    )
    future = connection.connect_future
    if callback is not None:
        IOLoop.current().add_future(future, callback)
    return future
