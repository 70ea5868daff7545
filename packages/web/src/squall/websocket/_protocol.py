"""WebSocketProtocol: one WebSocket connection over an IOStream, for either side.

Strategy.  One coroutine per connection reads: it asks the stream for
whatever has arrived (``read_bytes(64 KiB, partial=True)``, or exactly the
bytes a large frame still lacks), feeds it to the pure
:class:`~squall.websocket._frames.FrameReader`, and dispatches the events in
order.  ``on_message`` may return an awaitable: nothing more is dispatched
until it completes, so one connection's messages are handled one at a time,
in order.  A message is written with one ``stream.write`` (header and
payload together, except for large payloads).

Closing (RFC 6455 section 7): :meth:`close` sends a close frame and waits
(``close_timeout``) for the peer's; a received close frame is answered with
the same code.  Then the server closes the TCP connection, while a client
waits for the server to do so (again at most ``close_timeout``).  A
protocol violation *fails* the connection: a close frame with the code
(1002, 1007, 1009 ...) is sent and the stream closed once it is flushed.
Every path ends in the stream's close callback, which calls ``on_close``
exactly once.

Keepalive: with ``ping_interval``, a ping is sent every so often; if
nothing at all arrives within ``ping_timeout`` after one, the peer is taken
for dead and the stream is closed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from squall.escape import json_encode
from squall.iostream import StreamClosedError
from squall.websocket._compression import PerMessageDeflate
from squall.websocket._errors import WebSocketClosedError
from squall.websocket._frames import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    ERROR,
    FIN,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    FrameReader,
    build_close_payload,
    build_frame,
    is_valid_close_code,
)

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "WebSocketProtocol"]

app_log = logging.getLogger("squall.application")
gen_log = logging.getLogger("squall.general")

#: The default limit on the size of a received message (10 MiB).
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024

_READ_CHUNK = 65536
# A frame still lacking more than _READ_CHUNK bytes is read in one request
# of up to this many bytes.
_BIG_READ = 1 << 20
_DEFAULT_CLOSE_TIMEOUT = 5.0
# Headers of unmasked, uncompressed, unfragmented frames of up to 125 bytes.
_TEXT_HEADERS = [bytes((FIN | OP_TEXT, n)) for n in range(126)]
_BINARY_HEADERS = [bytes((FIN | OP_BINARY, n)) for n in range(126)]

MessageCallback = Callable[[Any], Awaitable[None] | None]


def _nothing(data: bytes) -> None:
    return None


class WebSocketProtocol:
    """A WebSocket connection over a stream that has completed the handshake.

    Used by :class:`~squall.websocket.WebSocketHandler` (as
    ``handler.ws_connection``) and
    :class:`~squall.websocket.WebSocketClientConnection` (as
    ``connection.protocol``); applications rarely touch it directly.

    :param stream: the :class:`~squall.iostream.IOStream`, detached from HTTP.
    :param is_client: True on the client side (frames sent are masked,
        frames received must not be).
    :param on_message: called with each message (``str`` or ``bytes``); may
        return an awaitable, which is awaited before the next one.
    :param on_ping: called with the payload of each ping (already answered).
    :param on_pong: called with the payload of each pong.
    :param on_close: called once, when the connection is closed.
    :param deflate: the negotiated permessage-deflate state, or None.
    :param max_message_size: the largest message accepted (close 1009
        beyond); ``None`` for no limit.
    :param ping_interval: seconds between keepalive pings (None or 0: none).
    :param ping_timeout: seconds without any data after a ping before the
        connection is closed (default ``max(3 * ping_interval, 30)``).
    :param close_timeout: seconds to wait for the peer during the closing
        handshake.
    :param log_exception: called with an exception raised by a callback
        (default: logged on ``squall.application``); the connection is
        then closed with code 1011.
    :param subprotocol: the negotiated subprotocol, or None.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        stream: Any,
        *,
        is_client: bool,
        on_message: MessageCallback,
        on_ping: Callable[[bytes], Any] | None = None,
        on_pong: Callable[[bytes], Any] | None = None,
        on_close: Callable[[], Any] | None = None,
        deflate: PerMessageDeflate | None = None,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        close_timeout: float | None = None,
        log_exception: Callable[[BaseException], None] | None = None,
        subprotocol: str | None = None,
    ) -> None:
        self.stream = stream
        self.is_client = is_client
        self.deflate = deflate
        # A server that does not compress sends short messages by table.
        self._plain = not is_client and deflate is None
        self.max_message_size = max_message_size
        #: The negotiated subprotocol, or None.
        self.selected_subprotocol = subprotocol
        #: The code of the peer's close frame (None until one arrived, or if it had none).
        self.close_code: int | None = None
        #: The reason of the peer's close frame.
        self.close_reason: str | None = None
        self.ping_interval = ping_interval or None
        if self.ping_interval and not ping_timeout:
            ping_timeout = max(3 * self.ping_interval, 30.0)
        self.ping_timeout = ping_timeout
        self.close_timeout = _DEFAULT_CLOSE_TIMEOUT if close_timeout is None else close_timeout
        self._on_message = on_message
        self._on_ping = on_ping or _nothing
        self._on_pong = on_pong or _nothing
        self._on_close = on_close
        self._log_exception = log_exception
        self._loop = asyncio.get_running_loop()
        self._reader = FrameReader(
            mask_required=not is_client, max_message_size=max_message_size, deflate=deflate
        )
        self._started = False
        self._close_sent = False
        self._close_received = False
        self._closed = False
        self._close_write: asyncio.Future[None] | None = None
        self._close_handle: asyncio.TimerHandle | None = None
        self._ping_handle: asyncio.TimerHandle | None = None
        self._pong_handle: asyncio.TimerHandle | None = None
        self._reads = 0
        self._task: asyncio.Task[None] | None = None
        #: Resolved (with None) once the connection is closed and ``on_close`` ran.
        self.closed_future: asyncio.Future[None] = self._loop.create_future()

    # ------------------------------------------------------------------ state

    def is_closing(self) -> bool:
        """Return True once closing started (by either side) or the stream closed.

        .. versionadded:: 0.1.0
        """
        return self._close_sent or self._closed or self.stream.closed()

    @property
    def closed(self) -> bool:
        """True once the stream is closed and ``on_close`` has been called.

        .. versionadded:: 0.1.0
        """
        return self._closed

    def start(self) -> None:
        """Start reading (and pinging).  Call once, after the handshake.

        .. versionadded:: 0.1.0
        """
        if self._started:
            return
        self._started = True
        self.stream.set_close_callback(self._on_stream_closed)
        if self.stream.closed():
            return
        self._task = self._loop.create_task(self._read_loop())
        if self.ping_interval:
            self._ping_handle = self._loop.call_later(self.ping_interval, self._keepalive)

    # ------------------------------------------------------------------ writing

    def write_message(
        self, message: str | bytes | bytearray | memoryview | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message.

        :param message: ``str`` (UTF-8 encoded), bytes-like, or a ``dict``
            (sent as JSON text).
        :param binary: send a binary message instead of a text one.
        :returns: a Future resolved once the message left the buffer for
            the kernel; it fails with :class:`WebSocketClosedError` if the
            connection closes first.
        :raises WebSocketClosedError: if the connection is closing or closed.
        :raises TypeError: for a message of another type.

        .. versionadded:: 0.1.0
        """
        if self._close_sent or self._closed:
            raise WebSocketClosedError("the WebSocket connection is closed")
        if type(message) is str:
            data: Any = message.encode()
            if self._plain and len(data) < 126:
                # The common case: a short text message from an uncompressed server.
                try:
                    future: asyncio.Future[None] = self.stream.write(
                        (_BINARY_HEADERS if binary else _TEXT_HEADERS)[len(data)] + data
                    )
                except StreamClosedError:
                    raise WebSocketClosedError("the WebSocket connection is closed") from None
                if future.done():
                    return future
                return self._closed_error_future(future)
        elif isinstance(message, str):
            data = message.encode("utf-8")
        elif isinstance(message, (bytes, bytearray, memoryview)):
            data = message
        elif isinstance(message, dict):
            data = json_encode(message).encode("utf-8")
        else:
            raise TypeError(f"cannot send a message of type {type(message).__name__}")
        b0 = (OP_BINARY if binary else OP_TEXT) | FIN
        deflate = self.deflate
        if deflate is not None and deflate.can_compress:
            data = deflate.compress(data)
            b0 |= RSV1
        n = len(data)
        stream = self.stream
        try:
            if self.is_client:
                frame = build_frame(b0 & 0x0F, bytes(data), rsv1=bool(b0 & RSV1), mask=True)
                future = stream.write(frame)
            elif n < 126:
                future = stream.write(bytes((b0, n)) + data)  # compressed or binary
            elif n < 65536:
                future = stream.write(bytes((b0, 126, n >> 8, n & 0xFF)) + data)
            else:
                # Large: the header alone, then the payload (not copied again).
                stream.write(bytes((b0, 127)) + n.to_bytes(8, "big"))
                future = stream.write(data)
        except StreamClosedError:
            raise WebSocketClosedError("the WebSocket connection is closed") from None
        if future.done():
            return future
        return self._closed_error_future(future)

    def _closed_error_future(self, future: asyncio.Future[None]) -> asyncio.Future[None]:
        """A Future like ``future`` whose StreamClosedError becomes WebSocketClosedError."""
        outer: asyncio.Future[None] = self._loop.create_future()

        def copy(f: asyncio.Future[None]) -> None:
            if outer.done():
                return
            if f.cancelled():
                outer.cancel()
            elif f.exception() is not None:
                outer.set_exception(WebSocketClosedError("the WebSocket connection closed"))
                outer.exception()  # a write nobody awaits is not an error
            else:
                outer.set_result(None)

        future.add_done_callback(copy)
        return outer

    def _write_control(self, opcode: int, payload: bytes) -> asyncio.Future[None] | None:
        """Write a control frame; None if the stream is closed."""
        try:
            future: asyncio.Future[None] = self.stream.write(
                build_frame(opcode, payload, mask=self.is_client)
            )
        except StreamClosedError:
            return None
        return future

    def write_ping(self, data: bytes = b"") -> None:
        """Send a ping.

        :raises ValueError: if ``data`` is longer than 125 bytes.
        :raises WebSocketClosedError: if the connection is closing or closed.

        .. versionadded:: 0.1.0
        """
        if len(data) > 125:
            raise ValueError("a ping carries at most 125 bytes")
        if self._close_sent or self._closed:
            raise WebSocketClosedError("the WebSocket connection is closed")
        if self._write_control(OP_PING, bytes(data)) is None:
            raise WebSocketClosedError("the WebSocket connection is closed")

    # ------------------------------------------------------------------ closing

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake (does nothing if it has started).

        :param code: the close code (1000 if only a reason is given).
        :param reason: the close reason (at most 123 bytes of UTF-8 are sent).
        :raises ValueError: for a close code that may not be sent.

        .. versionadded:: 0.1.0
        """
        if code is None and reason is not None:
            code = CLOSE_NORMAL
        payload = build_close_payload(code, reason or "")
        if self._close_sent or self._closed:
            return
        self._close_sent = True
        if self.stream.closed():
            return
        self._close_write = self._write_control(OP_CLOSE, payload)
        if self._close_write is not None:
            # Wait for the peer's close frame, but not forever.
            self._close_handle = self._loop.call_later(self.close_timeout, self.abort)

    def abort(self) -> None:
        """Close the stream at once, without a closing handshake.

        .. versionadded:: 0.1.0
        """
        self.stream.close()

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection: send a close frame with ``code`` and close the stream.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return
        if self._close_sent or self.stream.closed():
            self.abort()
            return
        self._close_sent = True
        self._close_after_flush(self._write_control(OP_CLOSE, build_close_payload(code, reason)))

    def _close_after_flush(self, future: asyncio.Future[None] | None) -> None:
        if future is None or future.done():
            self.stream.close()
            return
        future.add_done_callback(lambda _f: self.stream.close())
        if self._close_handle is None:
            self._close_handle = self._loop.call_later(self.close_timeout, self.abort)

    def _on_close_frame(self, code: int | None, reason: str) -> None:
        self._close_received = True
        self.close_code = code
        self.close_reason = reason
        if not self._close_sent:
            self._close_sent = True
            echo = code if code is not None and is_valid_close_code(code) else None
            self._close_write = self._write_control(OP_CLOSE, build_close_payload(echo))
        if not self.is_client:
            # The server closes the TCP connection first (RFC 6455 7.1.1).
            self._close_after_flush(self._close_write)
        elif self._close_handle is None:
            self._close_handle = self._loop.call_later(self.close_timeout, self.abort)

    def _on_stream_closed(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_sent = True
        for handle in (self._close_handle, self._ping_handle, self._pong_handle):
            if handle is not None:
                handle.cancel()
        self._close_handle = self._ping_handle = self._pong_handle = None
        callback = self._on_close
        self._on_close = None
        try:
            if callback is not None:
                result = callback()
                if result is not None and inspect.isawaitable(result):
                    asyncio.ensure_future(result).add_done_callback(self._check_callback_task)
        except Exception as e:
            self._report(e)
        finally:
            if not self.closed_future.done():
                self.closed_future.set_result(None)

    def _check_callback_task(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._report(task.exception())  # type: ignore[arg-type]

    def _report(self, error: BaseException) -> None:
        log = self._log_exception
        try:
            if log is not None:
                log(error)
                return
        except Exception:
            pass
        app_log.error(
            "Uncaught exception in a WebSocket callback",
            exc_info=(type(error), error, error.__traceback__),
        )

    # ------------------------------------------------------------------ keepalive

    def _keepalive(self) -> None:
        self._ping_handle = None
        if self.is_closing():
            return
        if self._write_control(OP_PING, b"") is None:
            return
        interval = self.ping_interval or 0.0
        self._ping_handle = self._loop.call_later(interval, self._keepalive)
        if self._pong_handle is None and self.ping_timeout:
            self._pong_handle = self._loop.call_later(
                self.ping_timeout, self._check_alive, self._reads
            )

    def _check_alive(self, reads_at_ping: int) -> None:
        self._pong_handle = None
        if self._closed:
            return
        if self._reads == reads_at_ping:
            gen_log.info(
                "WebSocket peer sent nothing for %g s after a ping: closing", self.ping_timeout
            )
            self.abort()

    # ------------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        stream = self.stream
        reader = self._reader
        read_bytes = stream.read_bytes
        is_client = self.is_client
        try:
            while True:
                need = reader.bytes_needed
                if need > _READ_CHUNK:
                    data = await read_bytes(need if need < _BIG_READ else _BIG_READ)
                else:
                    data = await read_bytes(_READ_CHUNK, partial=True)
                self._reads += 1
                events = reader.feed(data)
                for kind, value in events:
                    if 0 < kind <= OP_BINARY:
                        try:
                            result = self._on_message(value)
                            if result is not None:
                                await result
                        except WebSocketClosedError:
                            # Raised only once closing started: a reply to a
                            # message that crossed our close frame; not an error.
                            pass
                        except Exception as e:
                            self._report(e)
                            self.fail(CLOSE_INTERNAL_ERROR, "internal error")
                            return
                    elif kind == OP_PING:
                        if not self._close_sent:
                            self._write_control(OP_PONG, value)
                        self._run_callback(self._on_ping, value)
                    elif kind == OP_PONG:
                        self._run_callback(self._on_pong, value)
                    elif kind == OP_CLOSE:
                        self._on_close_frame(*value)
                        if not is_client:
                            return
                    elif kind == ERROR:
                        gen_log.info("Failing WebSocket connection: %s", value)
                        self.fail(value.code, value.reason)
                        return
        except StreamClosedError:
            return
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception as e:
            self._report(e)
            self.abort()

    def _run_callback(self, callback: Callable[[bytes], Any], value: bytes) -> None:
        try:
            result = callback(value)
            if result is not None and inspect.isawaitable(result):
                asyncio.ensure_future(result).add_done_callback(self._check_callback_task)
        except Exception as e:
            self._report(e)
