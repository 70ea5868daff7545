"""WebSocketHandler: the server side, a RequestHandler that upgrades its request.

``get()`` checks the opening handshake (400 for a malformed one and 426
for another version, with ``Sec-WebSocket-Version: 13``; 403 for a
cross-origin one), negotiates the subprotocol and permessage-deflate,
writes the ``101 Switching Protocols`` head, takes the stream over from
HTTP with :meth:`RequestHandler.detach`, calls
:meth:`WebSocketHandler.open` and starts a
:class:`~squall.websocket._protocol.WebSocketProtocol` on the stream.
Other methods are answered 405 by ``RequestHandler``.
"""

from __future__ import annotations

import asyncio
import inspect
import urllib.parse
from collections.abc import Awaitable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from squall.escape import utf8
from squall.web import RequestHandler, stream_request_body
from squall.websocket._compression import server_accept
from squall.websocket._errors import WebSocketClosedError
from squall.websocket._handshake import (
    WEBSOCKET_VERSION,
    accept_key,
    header_tokens,
    is_valid_key,
    split_list,
)
from squall.websocket._protocol import DEFAULT_MAX_MESSAGE_SIZE, WebSocketProtocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from squall.web._transforms import OutputTransform

__all__ = ["WebSocketHandler"]


# Why stream_request_body (and the _execute override below): the HTTP/1.1
# server must not read from the connection while it speaks WebSocket.  Its
# keep-alive loop waits, before reading further, for the Future that a
# streaming handler's delegate returns from headers_received; the handler
# keeps that Future pending until the WebSocket connection is over.  (Until
# HTTP1ServerConnection stops its loop on detach() by itself, this is what
# keeps it away from the stream; afterwards it is merely redundant.)
@stream_request_body
class WebSocketHandler(RequestHandler):
    """Base class of WebSocket endpoints: route it like any handler.

    Override :meth:`open`, :meth:`on_message` and :meth:`on_close`; send
    with :meth:`write_message`::

        class EchoWebSocket(WebSocketHandler):
            def open(self):
                print("WebSocket opened")

            def on_message(self, message):
                self.write_message("You said: " + message)

            def on_close(self):
                print("WebSocket closed")

        app = Application([(r"/ws", EchoWebSocket)])

    ``open`` and ``on_message`` may be coroutines; no message is delivered
    before ``open`` completes, and the next message of a connection is
    delivered only once ``on_message`` has completed for the previous one.

    Application settings read: ``websocket_ping_interval`` (seconds between
    keepalive pings), ``websocket_ping_timeout`` (close the connection when
    nothing arrives for that long after a ping; default three intervals,
    at least 30 s) and ``websocket_max_message_size`` (default 10 MiB; a
    larger message closes the connection with code 1009).

    The handshake is refused with 400 (and ``Sec-WebSocket-Version: 13``)
    when ``Upgrade``, ``Connection``, ``Sec-WebSocket-Version`` or
    ``Sec-WebSocket-Key`` is missing or wrong, with 426 Upgrade Required
    (and the same header) for a version other than 13, with 403 when
    :meth:`check_origin` refuses the ``Origin``, and with 405 for a method
    other than GET.

    .. versionadded:: 0.1.0
    """

    #: The connection once upgraded (None before, and after it closed).
    ws_connection: WebSocketProtocol | None = None
    #: The code of the client's close frame (None if it sent none).
    close_code: int | None = None
    #: The reason of the client's close frame.
    close_reason: str | None = None
    _selected_subprotocol: str | None = None
    _nodelay: bool | None = None
    _hold: asyncio.Future[None] | None = None
    _on_close_called = False
    open_args: Sequence[Any] = ()
    open_kwargs: Mapping[str, Any] = MappingProxyType({})

    # -- settings --------------------------------------------------------------

    @property
    def ping_interval(self) -> float | None:
        """Seconds between keepalive pings (the ``websocket_ping_interval`` setting).

        .. versionadded:: 0.1.0
        """
        value: float | None = self.settings.get("websocket_ping_interval")
        return value

    @property
    def ping_timeout(self) -> float | None:
        """Seconds to wait for data after a ping (the ``websocket_ping_timeout`` setting).

        .. versionadded:: 0.1.0
        """
        value: float | None = self.settings.get("websocket_ping_timeout")
        return value

    @property
    def max_message_size(self) -> int:
        """The largest message accepted (``websocket_max_message_size``, default 10 MiB).

        .. versionadded:: 0.1.0
        """
        return self.settings.get(  # type: ignore[no-any-return]
            "websocket_max_message_size", DEFAULT_MAX_MESSAGE_SIZE
        )

    # -- hooks -----------------------------------------------------------------

    def open(self, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        """Called when the connection is open, with the route's path arguments.

        May be a coroutine: messages are delivered once it completes.

        .. versionadded:: 0.1.0
        """
        return None

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Handle a message: ``str`` for text, ``bytes`` for binary.

        May be a coroutine: the next message waits until it completes.
        An exception is logged and closes the connection with code 1011.

        :raises NotImplementedError: unless overridden.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def on_ping(self, data: bytes) -> None:
        """Called with the payload of each ping received (already answered).

        .. versionadded:: 0.1.0
        """

    def on_pong(self, data: bytes) -> None:
        """Called with the payload of each pong received.

        .. versionadded:: 0.1.0
        """

    def on_close(self) -> None:
        """Called once the connection is closed (by either side, or lost).

        :attr:`close_code` and :attr:`close_reason` hold what the client
        sent in its close frame, if it sent one.

        .. versionadded:: 0.1.0
        """

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Choose one of the subprotocols the client offers, or None for none.

        Called only when the client sends ``Sec-WebSocket-Protocol``.

        :param subprotocols: the offered names, in the client's order.
        :returns: one of them (echoed in the response), or None.

        .. versionadded:: 0.1.0
        """
        return None

    @property
    def selected_subprotocol(self) -> str | None:
        """The subprotocol :meth:`select_subprotocol` chose, or None.

        .. versionadded:: 0.1.0
        """
        return self._selected_subprotocol

    def get_compression_options(self) -> dict[str, Any] | None:
        """Return compression options to accept permessage-deflate, or None (the default).

        ``{}`` accepts it with the defaults.  Keys: ``compression_level``,
        ``mem_level``, ``server_no_context_takeover``,
        ``client_no_context_takeover``, ``server_max_window_bits``,
        ``client_max_window_bits`` (see :mod:`squall.websocket`).

        .. versionadded:: 0.1.0
        """
        return None

    def check_origin(self, origin: str) -> bool:
        """Return whether a browser page from ``origin`` may connect.

        The default accepts only the same origin: the host (and port) of
        ``origin`` must equal the request's ``Host``.  A cross-origin
        handshake is refused with 403.  Requests without ``Origin`` (most
        non-browser clients) are not checked.  Override to allow others::

            def check_origin(self, origin):
                return urllib.parse.urlsplit(origin).hostname == "example.com"

        .. versionadded:: 0.1.0
        """
        netloc = urllib.parse.urlsplit(origin.lower()).netloc
        host = self.request.headers.get("Host")
        return host is not None and netloc == host.lower()

    # -- sending ---------------------------------------------------------------

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message: ``str`` or ``bytes`` as text (or binary), a ``dict`` as JSON.

        :param binary: send a binary message.
        :returns: a Future resolved once the message is handed to the
            kernel (await it for flow control).
        :raises WebSocketClosedError: if the connection is closing or closed.

        .. versionadded:: 0.1.0
        """
        connection = self.ws_connection
        if connection is None:
            raise WebSocketClosedError("the WebSocket connection is closed")
        return connection.write_message(message, binary)

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping (at most 125 bytes of payload); :meth:`on_pong` gets the answer.

        :raises WebSocketClosedError: if the connection is closing or closed.
        :raises ValueError: if ``data`` is too long.

        .. versionadded:: 0.1.0
        """
        connection = self.ws_connection
        if connection is None:
            raise WebSocketClosedError("the WebSocket connection is closed")
        connection.write_ping(utf8(data))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection (a closing handshake; does nothing if closing already).

        :param code: the close code (1000 if only ``reason`` is given).
        :param reason: a short text for the client.
        :raises ValueError: for a code that may not be sent.

        .. versionadded:: 0.1.0
        """
        connection = self.ws_connection
        if connection is not None:
            connection.close(code, reason)

    def set_nodelay(self, value: bool) -> None:
        """Turn Nagle's algorithm off (``True``) for this connection's socket.

        May be called before the connection is open (in ``prepare`` or
        ``open``) or after.

        .. versionadded:: 0.1.0
        """
        self._nodelay = value
        connection = self.ws_connection
        if connection is not None:
            connection.stream.set_nodelay(value)

    # -- the handshake ---------------------------------------------------------

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Check and answer the opening handshake, then run the connection.

        .. versionadded:: 0.1.0
        """
        self.open_args = args
        self.open_kwargs = kwargs
        request = self.request
        headers = request.headers
        if "websocket" not in header_tokens(headers.get_list("Upgrade")):
            self._refuse(400, 'Can "Upgrade" only to "WebSocket".')
            return
        if "upgrade" not in header_tokens(headers.get_list("Connection")):
            self._refuse(400, '"Connection" must be "Upgrade".')
            return
        if request.version != "HTTP/1.1":
            self._refuse(400, "A WebSocket handshake needs HTTP/1.1.")
            return
        version = headers.get("Sec-WebSocket-Version")
        if version != WEBSOCKET_VERSION:
            # A version this server does not speak: 426, naming the one it
            # does (RFC 6455 4.4); no version at all is a malformed request.
            if version is None:
                self._refuse(400, "Missing Sec-WebSocket-Version: only 13 is supported.")
            else:
                self._refuse(426, "Unsupported Sec-WebSocket-Version: only 13 is supported.")
            return
        key = headers.get("Sec-WebSocket-Key")
        if not is_valid_key(key):
            self._refuse(400, "Missing or invalid Sec-WebSocket-Key.")
            return
        if "Content-Length" in headers or "Transfer-Encoding" in headers:
            self._refuse(400, "A WebSocket handshake has no body.")
            return
        origin = headers.get("Origin") or headers.get("Sec-Websocket-Origin")
        if origin is not None and not self.check_origin(origin):
            self.set_status(403)
            self.finish("Cross origin websockets not allowed")
            return
        offered = split_list(headers.get_list("Sec-WebSocket-Protocol"))
        if offered:
            selected = self.select_subprotocol(offered)
            if selected is not None:
                if selected not in offered:
                    raise ValueError(
                        f"select_subprotocol returned {selected!r}, which was not offered"
                    )
                self._selected_subprotocol = selected
                self.set_header("Sec-WebSocket-Protocol", selected)
        deflate = None
        options = self.get_compression_options()
        if options is not None:
            accepted = server_accept(
                ", ".join(headers.get_list("Sec-WebSocket-Extensions")), options
            )
            if accepted is not None:
                self.set_header("Sec-WebSocket-Extensions", accepted[0])
                deflate = accepted[1]
        self.set_status(101)
        self.clear_header("Content-Type")
        self.set_header("Upgrade", "websocket")
        self.set_header("Connection", "Upgrade")
        self.set_header("Sec-WebSocket-Accept", accept_key(key))  # type: ignore[arg-type]
        self._transforms = ()
        self.flush()
        self.application.log_request(self)
        stream = self.detach()
        if self._nodelay is not None:
            stream.set_nodelay(self._nodelay)
        connection = WebSocketProtocol(
            stream,
            is_client=False,
            on_message=self.on_message,
            on_ping=self.on_ping,
            on_pong=self.on_pong,
            on_close=self._on_ws_closed,
            deflate=deflate,
            max_message_size=self.max_message_size,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            log_exception=self._log_ws_exception,
            subprotocol=self._selected_subprotocol,
        )
        self.ws_connection = connection
        try:
            self.on_finish()
            result = self.open(*args, **kwargs)
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception as e:
            self._log_ws_exception(e)
            connection.abort()
        connection.start()

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Sec-WebSocket-Version", WEBSOCKET_VERSION)
        self.finish(message)

    def _log_ws_exception(self, error: BaseException) -> None:
        self.log_exception(type(error), error, error.__traceback__)

    def _on_ws_closed(self) -> None:
        connection = self.ws_connection
        if connection is not None:
            self.close_code = connection.close_code
            self.close_reason = connection.close_reason
        self.ws_connection = None
        try:
            if not self._on_close_called:
                self._on_close_called = True
                self.on_close()
        finally:
            self._release_hold()

    # -- keeping the HTTP layer away (see the comment above the class) --------

    def _run(
        self,
        transforms: Sequence[OutputTransform],
        path_args: Sequence[str | bytes | None],
        path_kwargs: Mapping[str, str | bytes | None],
        decoded: bool,
    ) -> asyncio.Future[None] | None:
        hold = self._prepared_future
        self._prepared_future = None
        body = getattr(self.request, "_body_future", None)
        if body is not None and not body.done():
            body.set_result(None)  # a handshake has no body (get() refuses one)
        task = super()._run(transforms, path_args, path_kwargs, decoded)
        if hold is not None:
            self._hold = hold
            if task is None:
                self._release_hold()
            else:
                task.add_done_callback(self._handshake_done)
        return task

    def _handshake_done(self, task: asyncio.Future[None]) -> None:
        connection = self.ws_connection
        if connection is None or connection.closed:
            self._release_hold()

    def _release_hold(self) -> None:
        hold = self._hold
        self._hold = None
        if hold is not None and not hold.done():
            hold.set_result(None)
