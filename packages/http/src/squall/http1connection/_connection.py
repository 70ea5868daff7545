"""HTTP1Connection: one HTTP/1.1 message exchange over an IOStream.

Strategy.  The connection keeps its own read buffer (a ``bytes`` object,
usually empty between requests).  On a Squall stream the server side is
driven by the arriving data: the stream hands each arrival synchronously to
``HTTP1ServerConnection`` (``_server``), which serves every complete request that
can be answered at once right there, with no read Future and no Task; a
request that has to wait (a body still arriving, an asynchronous handler,
a response not yet flushed) continues in a Task, which refills the buffer
with one ``stream.read_bytes(chunk_size, partial=True)`` per arrival and
hands the connection back once it is idle.  The head is found with
``bytes.find`` (resuming where the last search stopped), parsed by
:mod:`squall.http1connection._parser`, and the body is cut from the buffer
by length or fed to a :class:`~._parser.ChunkedDecoder`.  A response of
known length is written as one bytes object; on plain TCP the stream
coalesces the responses written during one pass of the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from squall.http1connection._parser import (
    CHUNKED,
    LENGTH,
    NO_BODY,
    BodyTooLargeError,
    ChunkedDecoder,
    HeadTooLargeError,
    RequestLineTooLongError,
    parse_response_head,
    request_body_framing,
    response_body_framing,
)
from squall.http1connection._parsers import request_head_parser, resolve_parser_name
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    MalformedHeaderError,
    RequestStartLine,
    ResponseStartLine,
    responses,
)
from squall.ioloop import IOLoop
from squall.iostream import StreamClosedError
from squall.util import GzipDecompressor

if TYPE_CHECKING:
    from squall.http1connection._server import HTTP1ServerConnection

gen_log = logging.getLogger("squall.general")
app_log = logging.getLogger("squall.application")

_HEAD_END = b"\r\n\r\n"
# How long, and how much, to drain a rejected request before closing.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1 << 20
# Formatted status lines, keyed by ResponseStartLine (a few distinct ones).
_STATUS_LINES: dict[ResponseStartLine, str] = {}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _DateCache:
    """The ``Date`` header value, formatted at most once per second."""

    __slots__ = ("until", "value")

    def __init__(self) -> None:
        self.until = 0.0  # (when value goes stale: the start of the next second)
        self.value = ""

    def get(self) -> str:
        now = time.time()
        if now >= self.until:
            second = int(now)
            self.value = formatdate(second, usegmt=True)
            self.until = second + 1.0  # (after value: a reader never pairs it with the old one)
        return self.value


_date_cache = _DateCache()


class HTTP1ConnectionParameters:
    """Settings of an :class:`HTTP1Connection`.

    :param no_keep_alive: close the connection after each message.
    :param chunk_size: the most bytes read at once, and the largest body
        piece given to ``data_received``.
    :param max_header_size: the largest message head accepted (431 beyond).
    :param max_request_line: the longest request line accepted (414 beyond).
    :param max_header_fields: the most header fields accepted (431 beyond).
    :param header_timeout: seconds allowed for a whole request head, from
        its first byte (slowloris protection).
    :param max_body_size: the largest body accepted (413 beyond), after
        decompression when ``decompress`` is set.
    :param body_timeout: seconds allowed between two reads of the body.
    :param decompress: decode ``Content-Encoding: gzip`` bodies.
    :param idle_connection_timeout: seconds a kept-alive connection may wait
        for its next request.
    :param extra_methods: request methods accepted besides the standard
        ones (others get 501).
    :param send_timeout_response: answer a header timeout with 408 before
        closing (only when part of a request arrived).
    :param max_informational_responses: (client side) how many 1xx
        responses to accept before giving up on a server.
    :param parser: the request-head parser: ``"pure"`` (the reference,
        pure Python) or ``"httptools"`` (extra ``squall-http[speedups]``);
        default ``$SQUALL_HTTP_PARSER``, else httptools when installed.  Both give the same
        answer on every conformance case.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        no_keep_alive: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        header_timeout: float | None = None,
        max_body_size: int | None = None,
        body_timeout: float | None = None,
        decompress: bool = False,
        idle_connection_timeout: float | None = None,
        max_request_line: int | None = None,
        max_header_fields: int | None = None,
        extra_methods: frozenset[str] | set[str] | None = None,
        send_timeout_response: bool = True,
        max_informational_responses: int = 5,
        parser: str | None = None,
    ) -> None:
        self.no_keep_alive = no_keep_alive
        self.chunk_size = chunk_size or 65536
        self.max_header_size = max_header_size or 65536
        self.header_timeout = header_timeout
        self.max_body_size = max_body_size
        self.body_timeout = body_timeout
        self.decompress = decompress
        self.idle_connection_timeout = idle_connection_timeout
        self.max_request_line = min(max_request_line or 8192, self.max_header_size)
        self.max_header_fields = max_header_fields or 100
        self.extra_methods = frozenset(extra_methods or ())
        self.send_timeout_response = send_timeout_response
        self.max_informational_responses = max_informational_responses
        self.parser = resolve_parser_name(parser)
        self.parse_request_head = request_head_parser(self.parser)


class _Watchdog:
    """A deadline for the read in progress, enforced by a periodic sweep.

    Arming costs two attribute stores instead of a timer per read; the
    owner (an :class:`~squall.httpserver.HTTPServer`) calls :meth:`check`
    for all its connections a few times per second.  The deadline either
    cancels a pending read (``future``) or, for a connection idle with no
    read pending, calls ``on_expire``.
    """

    __slots__ = ("deadline", "fired", "future", "on_expire")

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.future: asyncio.Future[Any] | None = None
        self.on_expire: Callable[[], None] | None = None
        self.fired = False

    def check(self, now: float) -> None:
        """Cancel the read in progress (or expire the idle wait) if its deadline has passed."""
        deadline = self.deadline
        if deadline is None or deadline > now:
            return
        if self.future is not None:
            self.fired = True
            self.future.cancel()
        elif self.on_expire is not None:
            self.deadline = None
            self.on_expire()


class _Reader:
    """The connection's read buffer over a stream (shared by its messages)."""

    __slots__ = ("buf", "chunk_size", "stream", "watchdog")

    def __init__(self, stream: Any, chunk_size: int) -> None:
        self.stream = stream
        self.chunk_size = chunk_size
        self.buf = b""
        self.watchdog: _Watchdog | None = None

    async def fill(self, deadline: float | None) -> None:
        """Append the next data from the stream.

        :raises StreamClosedError: at the end of the stream.
        :raises TimeoutError: if nothing arrives before ``deadline``.
        """
        future = self.stream.read_bytes(self.chunk_size, partial=True)
        if future.done() or deadline is None:
            data = await future
        elif self.watchdog is not None:
            watchdog = self.watchdog
            watchdog.deadline = deadline
            watchdog.future = future
            try:
                data = await future
            except asyncio.CancelledError:
                if watchdog.fired:
                    watchdog.fired = False
                    raise TimeoutError("read timed out") from None
                raise
            finally:
                watchdog.deadline = watchdog.future = None
        else:
            async with asyncio.timeout_at(deadline):
                data = await future
        self.buf = self.buf + data if self.buf else data


class _HeadTimeoutError(Exception):
    """The peer did not send a complete head in time."""


# The stages of a server exchange that _read_now hands to _read_message
# (_Partial.stage): headers_received was called and ``result`` is what it
# returned; data_received was called (``result`` likewise); the delegate was
# finished and the response is not written yet.
_HEAD = 0
_BODY = 1
_FINISHED = 2


class _Partial:
    """Where :meth:`HTTP1Connection._read_now` left an exchange for the coroutine."""

    __slots__ = ("error", "kind", "length", "result", "stage")

    def __init__(
        self,
        stage: int,
        kind: int,
        length: int,
        result: Awaitable[None] | None,
        error: BaseException | None,
    ) -> None:
        self.stage = stage
        self.kind = kind
        self.length = length
        self.result = result
        self.error = error


class HTTP1Connection(HTTPConnection):
    """One HTTP/1.1 message exchange on a stream, on either side.

    On a server it reads a request (:meth:`read_response`, named after
    Tornado's method) and writes the response; on a client it writes the
    request and reads the response.  :class:`HTTP1ServerConnection` makes
    one per request.

    :param stream: the :class:`squall.iostream.IOStream`.
    :param is_client: which side this is.
    :param params: an :class:`HTTP1ConnectionParameters`.
    :param context: an object describing the connection (remote address,
        protocol); passed on to requests as ``connection.context``.

    .. versionadded:: 0.1.0
    """

    # Per-message state starts at these class-level defaults: a new
    # connection object (one per request) stores only what differs.
    _disconnect_on_finish = False
    _chunking = False
    _expected_length: int | None = None
    _written = 0
    _headers_written = False
    _write_finished = False
    _request_start_line: RequestStartLine | None = None
    _request_headers: HTTPHeaders | None = None
    _response_start_line: ResponseStartLine | None = None
    _finish_waiter: asyncio.Future[None] | None = None
    _head_response = False
    #: The trailer fields of a chunked message, once read.
    trailers: HTTPHeaders | None = None
    _read_finished = False
    _detached = False
    _close_callback: Callable[[], Any] | None = None
    _expect_continue = False
    _last_write: asyncio.Future[None] | None = None

    def __init__(
        self,
        stream: Any,
        is_client: bool,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
        _reader: _Reader | None = None,
        _server: HTTP1ServerConnection | None = None,
    ) -> None:
        self.is_client = is_client
        self.stream = stream
        params = self.params = params or HTTP1ConnectionParameters()
        self.context = context
        self._reader = _reader or _Reader(stream, params.chunk_size)
        self._server = _server
        self.no_keep_alive = params.no_keep_alive
        self._max_body_size = params.max_body_size
        self._body_timeout = params.body_timeout
        if _server is None:
            stream.set_close_callback(self._on_stream_close)

    def _clear_write_state(self) -> None:
        self._chunking = False
        self._expected_length = None
        self._written = 0
        self._headers_written = False
        self._write_finished = False

    # ------------------------------------------------------------------ settings

    def set_body_timeout(self, timeout: float | None) -> None:
        """Override the body timeout for the message being read."""
        self._body_timeout = timeout

    def set_max_body_size(self, max_body_size: int | None) -> None:
        """Override ``max_body_size`` for the message being read."""
        self._max_body_size = max_body_size

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` if the connection closes before the exchange completes."""
        self._close_callback = callback

    def _on_stream_close(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            try:
                callback()
            except Exception:
                app_log.exception("Exception in connection close callback")
        self._wake_reader()

    def _wake_reader(self) -> None:
        waiter = self._finish_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Close the stream."""
        self.stream.close()
        self._wake_reader()

    def detach(self) -> Any:
        """Hand the stream over to the caller (for protocol upgrades).

        Bytes already read past the message head are put back into the
        stream's buffer, so the new protocol sees everything the peer sent.
        """
        self._detached = True
        self._clear_write_state()
        stream = self.stream
        stream.set_close_callback(None)
        if getattr(stream, "_keep_open_on_eof", None) is not None:
            stream._keep_open_on_eof = None
        if getattr(stream, "_defer_writes", False):
            stream._set_defer_writes(False)
        leftover = self._reader.buf
        self._reader.buf = b""
        if leftover:
            stream.unread(leftover)
        self._wake_reader()
        return stream

    # ------------------------------------------------------------------ reading

    async def read_response(self, delegate: HTTPMessageDelegate) -> bool:
        """Read one message and hand it to ``delegate``.

        :returns: whether the connection can read another message.
        """
        if self.params.decompress:
            delegate = _GzipMessageDelegate(delegate, self._max_body_size, self.params.chunk_size)
        return await self._read_message(delegate)

    async def _read_head(self, first_deadline: float | None) -> bytes:
        params = self.params
        reader = self._reader
        limit = params.max_header_size
        scan = 0
        deadline = first_deadline
        loop_time = asyncio.get_running_loop().time
        while True:
            buf = reader.buf
            end = buf.find(_HEAD_END, scan)
            if end >= 0:
                if end + 4 > limit or (
                    end > params.max_request_line
                    and not self.is_client
                    and buf.find(b"\r\n", 0, params.max_request_line + 2) < 0
                ):
                    self._raise_head_too_large(buf)
                reader.buf = buf[end + 4 :]
                return buf[:end]
            if len(buf) > limit:
                self._raise_head_too_large(buf)
            # A blank line ended with a bare LF ends a head that will never
            # have its CRLF CRLF (a lenient peer's): refuse it now rather
            # than wait for a timeout.  (No CRLF CRLF is in the buffer, so a
            # LF CR LF here has a bare LF first.)
            if buf.find(b"\n\n", scan) >= 0 or buf.find(b"\n\r\n", scan) >= 0:
                raise MalformedHeaderError("bare LF in the message head (lines must end with CRLF)")
            if (
                not self.is_client
                and len(buf) > params.max_request_line
                and b"\r\n" not in buf[: params.max_request_line + 2]
            ):
                self._raise_head_too_large(buf)
            scan = max(0, len(buf) - 3)
            if buf and params.header_timeout is not None:
                head_deadline = loop_time() + params.header_timeout
                if deadline is None or deadline == first_deadline:
                    deadline = head_deadline
            try:
                await reader.fill(deadline)
            except TimeoutError:
                if reader.buf:
                    raise _HeadTimeoutError() from None
                raise

    def _raise_head_too_large(self, buf: bytes) -> None:
        params = self.params
        if not self.is_client:
            line_end = buf.find(b"\r\n", 0, params.max_request_line + 2)
            if line_end < 0:
                raise RequestLineTooLongError(
                    "request line too long",
                    params.max_request_line,
                    "HTTP1ConnectionParameters.max_request_line",
                )
        raise HeadTooLargeError(
            "message head too large",
            params.max_header_size,
            "HTTP1ConnectionParameters.max_header_size",
        )

    async def _read_message(
        self, delegate: HTTPMessageDelegate, partial: _Partial | None = None
    ) -> bool:
        # ``partial``: the rest of an exchange :meth:`_read_now` began (see
        # there): its head is read, and it continues from ``partial.stage``.
        need_delegate_close = False
        start_line: RequestStartLine | ResponseStartLine
        try:
            if partial is not None:
                kind, length, result = partial.kind, partial.length, partial.result
                stage = partial.stage
                need_delegate_close = stage != _FINISHED
                if partial.error is not None:
                    raise partial.error
            elif self.is_client:
                head = await self._read_head(None)
                start_line, headers = await self._read_final_response_head(head)
                self._response_start_line = start_line
                kind, length = response_body_framing(
                    self._request_start_line.method if self._request_start_line else "GET",
                    start_line,
                    headers,
                )
                if start_line.code == 101:
                    kind = NO_BODY
            else:
                params = self.params
                reader = self._reader
                buf = reader.buf
                end = buf.find(_HEAD_END)
                if 0 <= end <= params.max_request_line:
                    # The whole head is already here (pipelined requests, or
                    # one read brought it): no coroutine, no deadline.
                    head = buf[:end]
                    reader.buf = buf[end + 4 :]
                else:
                    idle = params.idle_connection_timeout
                    first_deadline = (
                        asyncio.get_running_loop().time() + idle
                        if idle is not None and not buf
                        else None
                    )
                    head = await self._read_head(first_deadline)
                kind, length, start_line, headers = self._begin_request(head)
            if partial is None:
                need_delegate_close = True
                stage = _HEAD
                result = delegate.headers_received(start_line, headers)
            if stage == _HEAD:
                if result is not None:
                    await result
                    result = None
                if self._detached:
                    return False
                if (
                    kind == LENGTH
                    and not self.is_client
                    and self._max_body_size is not None
                    and length > self._max_body_size
                    and not self.params.decompress
                ):
                    # Checked after headers_received, which may change the
                    # limit (set_max_body_size), and before any 100 Continue.
                    raise BodyTooLargeError(
                        "request body too large", self._max_body_size, "max_body_size"
                    )
                if kind != NO_BODY:
                    if self._expect_continue and not self._write_finished:
                        self.stream.write(_CONTINUE)
                        self._expect_continue = False
                    if kind == LENGTH:
                        reader = self._reader
                        buf = reader.buf
                        if not length:
                            pass
                        elif len(buf) >= length and length <= self.params.chunk_size:
                            # The whole body is already here (the usual small
                            # POST): one piece, no coroutine.
                            if len(buf) == length:
                                chunk, reader.buf = buf, b""
                            else:
                                chunk, reader.buf = buf[:length], buf[length:]
                            if not self._detached:
                                result = delegate.data_received(chunk)  # (awaited below)
                        else:
                            await self._read_fixed_body(length, delegate)
                    elif kind == CHUNKED:
                        await self._read_chunked_body(delegate)
                    else:
                        await self._read_body_until_close(delegate)
                stage = _BODY
            if stage == _BODY:
                if result is not None:
                    await result
                self._read_finished = True
                need_delegate_close = False
                delegate.finish()
            last = self._last_write
            if (
                not self.is_client
                and not self._detached
                # (The response is complete and, for flow control, flushed?)
                and not (self._write_finished and (last is None or last.done()))
                and not self.stream.closed()
            ):
                # Wait for the response before reading the next request, so
                # that responses go out in request order.
                waiter = self._finish_waiter = IOLoop.current().asyncio_loop.create_future()
                if self._write_finished:
                    # Finished before this wait began (a synchronous handler
                    # whose write the transport has not taken yet).
                    self._wake_when_flushed()
                await waiter
            if self._detached:
                # The application took the stream over (a protocol upgrade).
                return False
            if self.is_client and self._reader.buf and not self._detached:
                # The server sent more than the response: the connection is
                # out of step and cannot carry another request.
                self._disconnect_on_finish = True
            if self.is_client and self._disconnect_on_finish:
                self.close()
            return not self._disconnect_on_finish and not self.stream.closed()
        except _HeadTimeoutError:
            gen_log.info("Timeout reading the request head from %s", self._peer())
            if self.params.send_timeout_response and not self.is_client:
                self._send_error_response(408)
            self.close()
            return False
        except TimeoutError:
            # Idle keep-alive connection or a body that stalled.
            self.close()
            return False
        except HTTPInputError as e:
            gen_log.info("Malformed HTTP message from %s: %s", self._peer(), e)
            if self.is_client:
                self.close()
                raise
            if self._send_error_response(e.status_code):
                # Let the peer see the end of the response at once, then
                # drain what it still sends so the close does not reset.
                write_eof = getattr(self.stream, "write_eof", None)
                if write_eof is not None:
                    write_eof()
                await self._linger_close()
            self.close()
            return False
        except StreamClosedError:
            if self.is_client and not need_delegate_close:
                raise
            self.close()
            return False
        finally:
            if need_delegate_close:
                try:
                    delegate.on_connection_close()
                except Exception:
                    app_log.exception("Exception in on_connection_close")

    def _begin_request(self, head: bytes) -> tuple[int, int, RequestStartLine, HTTPHeaders]:
        """Parse a request head and take its state: ``(kind, length, start line, headers)``.

        Sets what the head decides (keep-alive, ``Expect: 100-continue``)
        and marks the server connection busy; ``kind`` and ``length`` are
        the body framing.  Calling it again for the same head changes
        nothing more.

        :raises HTTPInputError: for a malformed head or framing.
        """
        params = self.params
        req_line, headers = params.parse_request_head(
            head, max_fields=params.max_header_fields, extra_methods=params.extra_methods
        )
        self._request_start_line = req_line
        self._request_headers = headers
        fields = headers._as_list
        connection = fields.get("Connection")
        if params.no_keep_alive:
            self._disconnect_on_finish = True
        elif req_line.version == "HTTP/1.1":
            self._disconnect_on_finish = connection is not None and (
                connection[0].lower() == "close"
            )
        else:
            self._disconnect_on_finish = not self._can_keep_alive(req_line, headers)
        server = self._server
        if server is not None:
            server._idle = False
            if server._closing:
                self._disconnect_on_finish = True
        lengths = fields.get("Content-Length")
        if (
            lengths is not None
            and len(lengths) == 1
            and "Transfer-Encoding" not in fields
            and (value := lengths[0]).isdigit()
            and value.isascii()
            and len(value) < 19
        ):
            # (request_body_framing's answer for one plain number, inline.)
            length = int(value)
            kind = LENGTH if length else NO_BODY
        elif lengths is not None or "Transfer-Encoding" in fields:
            kind, length = request_body_framing(req_line, headers)
        else:
            kind = length = NO_BODY
        if kind != NO_BODY and "Expect" in fields:
            self._expect_continue = (
                req_line.version == "HTTP/1.1"
                and headers.get("Expect", "").lower() == "100-continue"
            )
        return kind, length, req_line, headers

    def _read_now(self, delegate: HTTPMessageDelegate) -> bool | Coroutine[Any, Any, bool]:
        """Serve the request at the start of the buffer, without a coroutine if nothing waits.

        The server's usual exchange -- a head and any body already
        buffered, a delegate that takes them and finishes the response at
        once -- runs here as plain calls and returns whether the
        connection goes on, as :meth:`_read_message` would.  Anything else
        returns a coroutine for the caller to run: :meth:`_read_message`
        from the start when nothing was taken yet (a head or body still to
        come, a malformed head, which it meets and answers again), or from
        where this stopped (:class:`_Partial`: an awaitable or an exception
        from the delegate, a response not written yet).
        """
        params = self.params
        reader = self._reader
        buf = reader.buf
        end = buf.find(_HEAD_END)
        if not 0 <= end <= params.max_request_line:
            return self._read_message(delegate)
        try:
            kind, length, start_line, headers = self._begin_request(buf[:end])
        except Exception:
            return self._read_message(delegate)
        if kind != NO_BODY and not (
            kind == LENGTH
            and len(buf) - end - 4 >= length
            and length <= params.chunk_size
            and not self._expect_continue
        ):
            return self._read_message(delegate)  # (a body to wait for, or 100 Continue)
        reader.buf = buf[end + 4 :]
        stage = _HEAD
        try:
            result = delegate.headers_received(start_line, headers)
            if result is not None or self._detached:
                pass
            elif kind == LENGTH:
                limit = self._max_body_size
                body = reader.buf
                if (limit is None or length <= limit) and len(body) >= length:
                    if len(body) == length:
                        chunk, reader.buf = body, b""
                    else:
                        chunk, reader.buf = body[:length], body[length:]
                    stage = _BODY
                    result = delegate.data_received(chunk)
            else:
                stage = _BODY
            if stage == _BODY and result is None:
                self._read_finished = True
                stage = _FINISHED
                delegate.finish()
                last = self._last_write
                if self._write_finished and (last is None or last.done()):
                    # Answered and flushed: on to the next request.
                    return (
                        not self._detached
                        and not self._disconnect_on_finish
                        and not self.stream.closed()
                    )
        except BaseException as e:
            # Handled as _read_message handles it at that stage.
            return self._read_message(delegate, _Partial(stage, kind, length, None, e))
        return self._read_message(delegate, _Partial(stage, kind, length, result, None))

    async def _read_final_response_head(self, head: bytes) -> tuple[ResponseStartLine, HTTPHeaders]:
        informational = 0
        while True:
            start_line, headers = parse_response_head(
                head, max_fields=self.params.max_header_fields
            )
            code = start_line.code
            if code < 100 or code >= 200 or code == 101:
                self._disconnect_on_finish = not self._can_keep_alive(start_line, headers)
                return start_line, headers
            informational += 1
            if informational > self.params.max_informational_responses:
                raise HTTPInputError(
                    f"more than {self.params.max_informational_responses} informational (1xx) "
                    "responses from the server"
                )
            head = await self._read_head(None)

    def _can_keep_alive(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> bool:
        if self.params.no_keep_alive:
            return False
        connection = headers.get("Connection")
        if connection is not None:
            connection = connection.lower()
        if start_line.version == "HTTP/1.1":
            return connection != "close"
        if (
            "Content-Length" in headers
            or (self.is_client and "Transfer-Encoding" in headers)
            or (not self.is_client and getattr(start_line, "method", "") in ("HEAD", "GET"))
        ):
            return connection == "keep-alive"
        return False

    def _check_body_size(self, received: int) -> None:
        limit = self._max_body_size
        if limit is not None and received > limit and not self.params.decompress:
            raise BodyTooLargeError("body too large", limit, "max_body_size")

    def _body_deadline(self) -> float | None:
        timeout = self._body_timeout
        if timeout is None:
            return None
        return asyncio.get_running_loop().time() + timeout

    async def _read_fixed_body(self, length: int, delegate: HTTPMessageDelegate) -> None:
        reader = self._reader
        chunk_size = self.params.chunk_size
        remaining = length
        while remaining:
            if not reader.buf:
                await reader.fill(self._body_deadline())
            buf = reader.buf
            take = min(remaining, len(buf), chunk_size)
            chunk = buf[:take] if take < len(buf) else buf
            reader.buf = buf[take:] if take < len(buf) else b""
            remaining -= take
            if not self._read_finished and not self._detached:
                result = delegate.data_received(chunk)
                if result is not None:
                    await result

    async def _read_chunked_body(self, delegate: HTTPMessageDelegate) -> None:
        reader = self._reader
        decoder = ChunkedDecoder(max_trailer_size=self.params.max_header_size)
        total = 0
        while True:
            data = reader.buf
            reader.buf = b""
            pieces = decoder.feed(data) if data else []
            for piece in pieces:
                total += len(piece)
                self._check_body_size(total)
                result = delegate.data_received(piece)
                if result is not None:
                    await result
            if decoder.done:
                reader.buf = decoder.leftover
                self.trailers = decoder.trailers
                return
            await reader.fill(self._body_deadline())

    async def _read_body_until_close(self, delegate: HTTPMessageDelegate) -> None:
        reader = self._reader
        total = 0
        while True:
            if reader.buf:
                data, reader.buf = reader.buf, b""
                total += len(data)
                self._check_body_size(total)
                result = delegate.data_received(data)
                if result is not None:
                    await result
            try:
                await reader.fill(self._body_deadline())
            except StreamClosedError:
                self._disconnect_on_finish = True
                return

    # ------------------------------------------------------------------ writing

    def _peer(self) -> str:
        return str(getattr(self.context, "remote_ip", None) or "peer")

    async def _linger_close(self) -> None:
        # Closing a socket with unread input makes the kernel send a reset,
        # which can destroy the error response before the peer reads it:
        # read and drop what the peer is still sending (briefly, and only so
        # much) before closing.
        reader = self._reader
        deadline = asyncio.get_running_loop().time() + _LINGER_SECONDS
        drained = 0
        try:
            while drained < _LINGER_BYTES:
                reader.buf = b""
                await reader.fill(deadline)
                drained += len(reader.buf)
        except (StreamClosedError, TimeoutError):
            pass
        reader.buf = b""

    def _send_error_response(self, code: int) -> bool:
        """Write a bare error response; return whether anything was written."""
        if self._headers_written or self.stream.closed():
            return False
        reason = responses.get(code, "Error")
        try:
            head = f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            self.stream.write(head.encode())
        except StreamClosedError:
            return False
        self._headers_written = True
        return True

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
        callback: Callable[[], None] | None = None,
    ) -> asyncio.Future[None]:
        """Write the head (and optionally the first body piece); see :class:`.HTTPConnection`.

        The connection adds ``Date`` (server side, if absent), the framing
        fields (``Transfer-Encoding: chunked`` when no ``Content-Length`` is
        given and the peer speaks HTTP/1.1) and ``Connection``.

        :raises HTTPOutputError: for a second head, or CR/LF in a start
            line, field name or value (nothing is written).
        """
        if self._headers_written:
            raise HTTPOutputError("the message head was already written")
        # HTTPHeaders keeps canonical names as keys: look them up directly.
        fields = headers._as_list
        has_length = "Content-Length" in fields
        if self.is_client:
            if not isinstance(start_line, RequestStartLine):
                raise HTTPOutputError("a client writes a RequestStartLine")
            self._request_start_line = start_line
            first = f"{start_line.method} {start_line.path} HTTP/1.1"
            self._chunking = (
                start_line.method in ("POST", "PUT", "PATCH")
                and not has_length
                and "Transfer-Encoding" not in fields
            )
        else:
            if not isinstance(start_line, ResponseStartLine):
                raise HTTPOutputError("a server writes a ResponseStartLine")
            code = start_line.code
            self._response_start_line = start_line
            request = self._request_start_line
            http11 = request is None or request.version == "HTTP/1.1"
            # A response that cannot have a body (RFC 9110 6.4.1): HEAD, 1xx,
            # 204, 304.  Its Content-Length describes another response.
            head_response = (
                code < 200
                or code in (204, 304)
                or (request is not None and request.method == "HEAD")
            )
            disconnect = self._disconnect_on_finish
            if self._expect_continue:
                # The application answered without reading the body.
                self._expect_continue = False
                disconnect = True
            chunking = (
                http11
                and not head_response
                and not has_length
                and "Transfer-Encoding" not in fields
            )
            if code == 101:
                disconnect = False
            elif not (chunking or has_length or head_response):
                # The body ends when the connection closes.
                disconnect = True
            if "Connection" not in fields:
                if http11:
                    if disconnect:
                        fields["Connection"] = ["close"]
                elif not disconnect:
                    fields["Connection"] = ["Keep-Alive"]
            if "Date" not in fields:
                date = _date_cache  # (its get(), inline while the second lasts)
                fields["Date"] = [date.value if time.time() < date.until else date.get()]
            cached = _STATUS_LINES.get(start_line)
            if cached is not None:
                first = cached
            else:
                first = f"HTTP/1.1 {code} {start_line.reason}"
                if len(_STATUS_LINES) < 64:
                    _STATUS_LINES[start_line] = first
            # (Stored only when they differ from the class defaults.)
            if head_response:
                self._head_response = True
            if chunking:
                self._chunking = True
            if disconnect != self._disconnect_on_finish:
                self._disconnect_on_finish = disconnect
        if self._chunking:
            fields["Transfer-Encoding"] = ["chunked"]
        elif has_length and not self._head_response:
            length = fields["Content-Length"][0]
            try:
                self._expected_length = int(length)
            except ValueError:
                raise HTTPOutputError(f"invalid Content-Length {length!r}") from None
        parts = [first]
        append = parts.append
        for name, values in fields.items():
            for value in values:
                append(f"{name}: {value}")
        append("\r\n")  # (joined: the blank line ending the head)
        head_bytes = "\r\n".join(parts).encode("latin-1")
        # The head holds exactly the CR LF pairs put between the parts unless
        # a start line, name or value brought more (one pass over the octets).
        if len(head_bytes) - len(head_bytes.translate(None, b"\r\n")) != 2 * len(parts):
            raise HTTPOutputError("CR or LF in the start line or a header field")
        self._headers_written = True
        if chunk:
            expected = self._expected_length
            if (
                expected is not None
                and len(chunk) <= expected
                and not self._chunking
                and not self._head_response
            ):
                # The usual whole response of known length: one bytes object.
                self._written = len(chunk)
                data = head_bytes + chunk
            else:
                data = head_bytes + self._format_chunk(chunk)
        else:
            data = head_bytes
        if callback is None:
            # (_write_stream's usual case, inline.)
            try:
                future: asyncio.Future[None] = self.stream.write(data)
            except StreamClosedError as e:
                return _failed_write(e)
            self._last_write = future
            return future
        return self._write_stream(data, callback)

    def _format_chunk(self, chunk: bytes) -> bytes:
        if self._head_response:
            if (
                chunk
                and self._response_start_line is not None
                and (self._response_start_line.code in (204, 304))
            ):
                raise HTTPOutputError(
                    f"a {self._response_start_line.code} response cannot have a body"
                )
            return b""
        if self._expected_length is not None:
            self._written += len(chunk)
            if self._written > self._expected_length:
                self.stream.close()
                raise HTTPOutputError(
                    f"tried to write more data than Content-Length ({self._expected_length})"
                )
        if self._chunking and chunk:
            return b"%x\r\n%b\r\n" % (len(chunk), chunk)
        return chunk

    def _write_stream(
        self, data: bytes, callback: Callable[[], None] | None
    ) -> asyncio.Future[None]:
        # (A closed stream's write raises: no need to ask it first.)
        try:
            future: asyncio.Future[None] = self.stream.write(data)
        except StreamClosedError as e:
            future = _failed_write(e)
        else:
            self._last_write = future
        if callback is not None:
            future.add_done_callback(lambda f: None if f.exception() else callback())
        return future

    def write(
        self, chunk: bytes, callback: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        """Write a piece of the body; see :class:`.HTTPConnection`."""
        if not self._headers_written:
            raise HTTPOutputError("write() called before write_headers()")
        if self._write_finished:
            raise HTTPOutputError("write() called after finish()")
        return self._write_stream(self._format_chunk(chunk), callback)

    def finish(self) -> None:
        """Complete the message; see :class:`.HTTPConnection`.

        :raises HTTPOutputError: if fewer bytes than the declared
            Content-Length were written (the connection is closed).
        """
        if self._write_finished:
            raise HTTPOutputError("finish() called twice")
        if (
            self._expected_length is not None
            and self._written != self._expected_length
            and not self._head_response
            and not self.stream.closed()
        ):
            self.stream.close()
            raise HTTPOutputError(
                f"finish() called after {self._written} of {self._expected_length} "
                "declared bytes were written"
            )
        self._write_finished = True
        if self._chunking and not self.stream.closed():
            self._last_write = self.stream.write(b"0\r\n\r\n")
        if self.is_client:
            return
        if self._disconnect_on_finish or not self._read_finished:
            # Close after the response is flushed (an unread request body
            # makes the connection unusable for another request).
            self._disconnect_on_finish = True
            self._close_after_flush()
        waiter = self._finish_waiter
        if waiter is not None and not waiter.done():
            # The keep-alive loop waits for this response.
            self._wake_when_flushed()

    def _wake_when_flushed(self) -> None:
        # Wake the keep-alive loop once the response's last write is done.
        last = self._last_write
        if last is not None and not last.done():
            last.add_done_callback(lambda _f: self._wake_reader())
        else:
            self._wake_reader()

    def _close_after_flush(self) -> None:
        last = self._last_write
        if last is not None and not last.done():
            last.add_done_callback(lambda _f: self.stream.close())
        else:
            self.stream.close()


class _GzipMessageDelegate(HTTPMessageDelegate):
    """Decode a gzip body for the wrapped delegate, enforcing the size limit."""

    def __init__(
        self, delegate: HTTPMessageDelegate, max_size: int | None, chunk_size: int
    ) -> None:
        self._delegate = delegate
        self._chunk_size = chunk_size
        self._max_size = max_size
        self._decompressor: GzipDecompressor | None = None
        self._total = 0

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        if headers.get("Content-Encoding", "").lower() == "gzip":
            self._decompressor = GzipDecompressor()
            headers.add("X-Consumed-Content-Encoding", headers["Content-Encoding"])
            del headers["Content-Encoding"]
            if "Content-Length" in headers:
                del headers["Content-Length"]
        return self._delegate.headers_received(start_line, headers)

    async def data_received(self, chunk: bytes) -> None:
        decompressor = self._decompressor
        if decompressor is None:
            self._count(len(chunk))
            result = self._delegate.data_received(chunk)
            if result is not None:
                await result
            return
        data = chunk
        while data:
            try:
                out = decompressor.decompress(data, self._chunk_size)
            except zlib.error as e:
                raise HTTPInputError(f"malformed gzip body: {e}") from e
            self._count(len(out))
            if out:
                result = self._delegate.data_received(out)
                if result is not None:
                    await result
            data = decompressor.unconsumed_tail

    def _count(self, size: int) -> None:
        self._total += size
        if self._max_size is not None and self._total > self._max_size:
            raise BodyTooLargeError(
                "body too large after decompression", self._max_size, "max_body_size"
            )

    def finish(self) -> None:
        if self._decompressor is not None:
            tail = self._decompressor.flush()
            if tail:
                self._count(len(tail))
                self._delegate.data_received(tail)
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()


def _failed_write(error: StreamClosedError) -> asyncio.Future[None]:
    """The Future of a write to a closed stream: failed, its error marked seen."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    future.exception()  # retrieved: a closed or vanished peer is not an error here
    return future
