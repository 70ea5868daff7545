"""BaseIOStream: transports, writes and closing (reads are in ``_reader``).

Strategy.  A stream does no I/O of its own: it is the protocol of an asyncio
transport (socket, TLS or pipe), so the loop (selector or libuv) does the
``recv``/``send`` calls and keeps the descriptor registered for the whole
life of the connection.  The protocol's methods are the stream's own bound
methods, so the transport calls straight into the read buffer (see
``_reader``).

Writes go straight to the transport, whose buffer limits are set to zero:
the transport then says (``pause_writing``/``resume_writing``) exactly when
its buffer holds data and when it has drained, which is when write Futures
resolve.  A write the kernel takes at once returns a shared, already
resolved Future.  TLS transports encrypt a whole write at once, so large
writes to them are fed in chunks as the socket drains.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeAlias

from squall.ioloop import FD_SETSIZE, FDSetSizeError, IOLoop, PollerError, get_poller
from squall.iostream._errors import StreamBufferFullError, StreamClosedError
from squall.iostream._reader import _CLOSE, _MIN_FREE, _StreamReader

app_log = logging.getLogger("squall.application")
gen_log = logging.getLogger("squall.general")

_ExcInfo: TypeAlias = (
    bool
    | BaseException
    | tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    | None
)

# Large writes to TLS transports are handed over in chunks of this size.
_WRITE_CHUNK = 256 * 1024


class _ToStream:
    """The rare protocol callbacks, forwarded to ``self.stream``."""

    __slots__ = ()
    stream: BaseIOStream

    def eof_received(self) -> bool:
        return self.stream._eof_received()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.stream._connection_lost(exc)

    def pause_writing(self) -> None:
        self.stream._pause_writing()

    def resume_writing(self) -> None:
        self.stream._resume_writing()


class _BytesProtocol(_ToStream, asyncio.Protocol):
    """A stream's protocol when data should arrive as bytes objects.

    Used in bulk mode (``stream._data_received_bulk``: large receives
    taken without a copy) and while a consumer takes every arrival on a
    plain socket (``stream._consumer_data_received``: one call per
    arrival).  Two slots: one of these per mode and connection costs
    about a hundred bytes.
    """

    __slots__ = ("data_received", "stream")

    def __init__(self, stream: BaseIOStream, data_received: Callable[[bytes], None]) -> None:
        self.stream = stream
        self.data_received = data_received  # type: ignore[method-assign, assignment]


class _StreamProtocol(_ToStream, asyncio.BufferedProtocol):
    """The asyncio protocol of a stream.

    The two calls made for every receive are the stream's own bound methods,
    stored on the instance, so the transport calls straight into the
    stream; the rare ones delegate (fewer objects per connection).
    :meth:`bind` moves the protocol to another stream (``start_tls`` hands
    the connection over).
    """

    def __init__(self, stream: BaseIOStream) -> None:
        self.bind(stream)

    def bind(self, stream: BaseIOStream) -> None:
        self.stream = stream
        self.get_buffer = stream._get_buffer  # type: ignore[method-assign]
        self.buffer_updated = stream._buffer_updated  # type: ignore[method-assign]

    def data_received(self, data: bytes) -> None:
        self.stream._data_received(data)

    def connection_made(self, transport: Any) -> None:
        self.stream._connection_made(transport)


class _WriteBatch:
    """The streams with deferred writes, flushed together once per loop pass.

    One callback per pass of the loop, however many streams wrote during
    it (see :meth:`BaseIOStream._set_defer_writes`).  A stream adds itself
    (``BaseIOStream.write``, inline): to ``streams``, scheduling
    :meth:`flush` unless ``scheduled``.
    """

    __slots__ = ("loop", "scheduled", "streams")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.streams: list[BaseIOStream] = []
        self.scheduled = False

    def flush(self) -> None:
        self.scheduled = False
        streams = self.streams
        self.streams = []
        for stream in streams:
            try:
                stream._flush_deferred()
            except Exception:
                app_log.exception("Error sending deferred writes on %r", stream)
                stream.close(exc_info=True)


def _write_batch(io_loop: IOLoop) -> _WriteBatch:
    batch: _WriteBatch | None = getattr(io_loop, "_squall_write_batch", None)
    if batch is None:
        batch = _WriteBatch(io_loop.asyncio_loop)
        io_loop._squall_write_batch = batch  # type: ignore[attr-defined]
    return batch


def fd_refusal(io_loop: IOLoop, fd: int) -> FDSetSizeError | None:
    """Return the error the loop's poller would raise for ``fd``, or None.

    Only the select poller refuses descriptors (those >= ``FD_SETSIZE``).
    The stream checks before a transport registers the descriptor in a
    deferred callback, where a refusal would reach nobody.
    """
    if fd < FD_SETSIZE:
        return None
    try:
        max_fd = get_poller(io_loop.poller).max_fd
    except PollerError:
        max_fd = getattr(getattr(io_loop.asyncio_loop, "_selector", None), "max_fd", None)
    if max_fd is not None and fd > max_fd:
        return FDSetSizeError(fd)
    return None


def _exception_from(exc_info: _ExcInfo) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1]
    if exc_info:
        return sys.exc_info()[1]
    return None


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Mark a failed Future's exception as seen, so that a write nobody
    # awaited does not log "exception was never retrieved" at shutdown.
    if not future.cancelled():
        future.exception()


class BaseIOStream(_StreamReader):
    """A buffered, non-blocking byte stream over an asyncio transport.

    Subclasses (:class:`IOStream`, :class:`SSLIOStream`,
    :class:`PipeIOStream`) connect it to a socket, a TLS session or a
    pipe.  Every read and write returns an :class:`asyncio.Future`; the
    classic ``callback=`` arguments of Tornado 4 are accepted too (the
    callback receives the result; the Future is returned all the same).

    Only one read may be pending at a time (a second one raises
    :class:`ReadInProgressError`); any number of writes may be.

    :param max_buffer_size: the most bytes the read buffer may hold
        (default 100 MiB); a read that needs more fails with
        :class:`StreamBufferFullError` and closes the stream.
    :param read_chunk_size: the size of the read buffer, and so the most
        bytes one receive call delivers (default 64 KiB).
    :param max_write_buffer_size: the most bytes the write buffer may hold
        (default: unlimited); a write beyond it raises
        :class:`StreamBufferFullError`.
    :param io_loop: the loop to run on (default: the current one); kept for
        Tornado 4 code, which passed it.

    .. versionadded:: 0.1.0
    """

    #: The exception that closed the stream, or None.
    error: BaseException | None

    __slots__ = (
        "_chunked_writes",
        "_close_callback",
        "_closed",
        "_defer_writes",
        "_deferred",
        "_done_future",
        "_loop",
        "_on_ready",
        "_pending_size",
        "_pending_writes",
        "_ready",
        "_ready_error",
        "_ready_waiters",
        "_rtransport",
        "_write_paused",
        "_write_waiters",
        "_wtransport",
        "error",
        "io_loop",
        "max_write_buffer_size",
    )

    def __init__(
        self,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        *,
        io_loop: IOLoop | None = None,
    ) -> None:
        self.io_loop = io_loop if io_loop is not None else IOLoop.current()
        self._loop = self.io_loop.asyncio_loop
        self._init_reader(max_buffer_size, read_chunk_size)
        self.max_write_buffer_size = max_write_buffer_size
        self.error = None
        self._rtransport: Any = None
        self._wtransport: Any = None
        self._closed = False
        self._write_paused = False
        # Lists, not deques: they are almost always empty, and an empty
        # deque costs ~700 bytes per connection.
        self._write_waiters: list[asyncio.Future[None]] = []
        # Bytes not yet handed to the transport: written before it existed,
        # or chunks of a large TLS write (see _queue_write).
        self._pending_writes: list[bytes | memoryview] = []
        self._pending_size = 0
        self._chunked_writes = False
        # Write coalescing (see _set_defer_writes): bytes written during
        # this pass of the loop, handed to the transport at the next by the
        # loop's batch (None: no coalescing).
        self._defer_writes: _WriteBatch | None = None
        self._deferred: list[bytes] | None = None
        self._done_future: asyncio.Future[None] = self._loop.create_future()
        self._done_future.set_result(None)
        # Futures resolved with the stream once it is connected (and its
        # TLS handshake done); failed with _ready_error otherwise.
        self._ready = False
        self._ready_waiters: list[asyncio.Future[Any]] = []
        self._ready_error: BaseException | None = None
        self._on_ready: Callable[[BaseIOStream], None] | None = None
        self._close_callback: tuple[Callable[[], Any], contextvars.Context] | None = None
        self._protocol = _StreamProtocol(self)

    # ------------------------------------------------------------------ info

    def fileno(self) -> int:
        """Return the stream's file descriptor (-1 once it is closed).

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def closed(self) -> bool:
        """Return True once the stream is closed (by either side).

        Bytes that arrived before the close can still be read.

        .. versionadded:: 0.1.0
        """
        return self._closed

    def writing(self) -> bool:
        """Return True while written bytes wait to be sent.

        .. versionadded:: 0.1.0
        """
        return self._write_paused or bool(self._pending_writes) or self._deferred is not None

    def set_nodelay(self, value: bool) -> None:
        """Turn Nagle's algorithm off (``True``) or on, where it applies.

        Streams that are not TCP sockets ignore it.

        .. versionadded:: 0.1.0
        """

    # ------------------------------------------------------------------ writes

    def write(
        self, data: bytes | bytearray | memoryview, callback: Callable[[], Any] | None = None
    ) -> asyncio.Future[None]:
        """Write ``data`` to the stream.

        The bytes are handed to the transport at once (it sends what the
        kernel takes and keeps the rest without copying it again and
        again).  Do not modify a mutable ``data`` before the Future
        resolves.

        :param data: the bytes to send.
        :param callback: classic style: called with no argument once sent.
        :returns: a Future resolved once every byte written so far has left
            the stream's buffer for the kernel; it fails with
            :class:`StreamClosedError` if the stream closes first.
        :raises StreamClosedError: if the stream is closed.
        :raises StreamBufferFullError: if the bytes waiting to be sent would
            exceed ``max_write_buffer_size`` (nothing is written; the stream
            stays open).

        .. versionadded:: 0.1.0
        """
        if self._closed:
            raise StreamClosedError(real_error=self.error)
        transport = self._wtransport
        limit = self.max_write_buffer_size
        if transport is None:
            if limit is not None and self._pending_size + len(data) > limit:
                raise StreamBufferFullError(
                    f"write of {len(data)} bytes exceeds max_write_buffer_size ({limit} bytes)"
                )
            self._pending_writes.append(bytes(data))
            self._pending_size += len(data)
        else:
            if transport.is_closing():
                # A send already failed (the peer reset the connection) and
                # asyncio is closing the transport; further writes would only
                # be logged one by one.  The stream is closed from now on.
                self.close()
                raise StreamClosedError(
                    message="Stream is closed: the connection was lost while writing"
                )
            if (
                limit is not None
                and transport.get_write_buffer_size() + self._pending_size + len(data) > limit
            ):
                raise StreamBufferFullError(
                    f"write of {len(data)} bytes exceeds max_write_buffer_size ({limit} bytes)"
                )
            if self._pending_writes or (self._chunked_writes and len(data) > _WRITE_CHUNK):
                if self._deferred is not None:
                    self._flush_deferred()
                self._queue_write(data)
            elif (batch := self._defer_writes) is not None and not self._chunked_writes:
                # (Not on TLS: its transport encrypts and flow-controls each
                # write itself.)
                deferred = self._deferred
                if type(data) is not bytes:
                    data = bytes(data)  # the caller may reuse its buffer
                if deferred is None:
                    self._deferred = [data]
                    batch.streams.append(self)  # (the batch's add(), inline)
                    if not batch.scheduled:
                        batch.scheduled = True
                        batch.loop.call_soon(batch.flush)
                else:
                    deferred.append(data)
            else:
                transport.write(data)
            if callback is None and not self._write_paused and not self._pending_writes:
                # Sent at once (the usual case): every such write shares one
                # resolved Future, which is all an awaiting caller needs.
                return self._done_future
        future: asyncio.Future[None] = self._loop.create_future()
        if self._write_paused or self._pending_writes:
            self._write_waiters.append(future)
        else:
            future.set_result(None)
        if callback is not None:
            future.add_done_callback(functools.partial(self._deliver_no_arg, callback))
        return future

    def _set_defer_writes(self, defer: bool) -> None:
        """Coalesce writes: hand them to the transport at the loop's next pass.

        A private switch for servers that answer many connections in one
        pass of the loop (the HTTP server): their responses then go out
        together once every ready connection was read, so the peer is woken
        once for a batch rather than once per response, which saves the
        kernel much work (a wake-up across cores is expensive, the more so
        in a virtual machine).  Turning it off sends what is deferred.
        """
        self._defer_writes = _write_batch(self.io_loop) if defer else None
        if not defer and self._deferred is not None:
            self._flush_deferred()

    def _flush_deferred(self) -> None:
        """Hand the deferred bytes to the transport (in order, once)."""
        deferred = self._deferred
        if deferred is None:
            return
        self._deferred = None
        transport = self._wtransport
        if self._closed or transport is None or transport.is_closing():
            return
        transport.write(deferred[0] if len(deferred) == 1 else b"".join(deferred))

    def write_eof(self) -> bool:
        """Half-close: send end-of-file once the written bytes are sent.

        Reading goes on (a server uses it to let a rejected client see the
        end of the response while the rest of its request is drained).
        TLS streams and pipes without a write end cannot do it.

        :returns: whether the end-of-file was (or will be) sent.

        .. versionadded:: 0.1.0
        """
        transport = self._wtransport
        if self._closed or transport is None or self._pending_writes:
            return False
        if self._deferred is not None:
            self._flush_deferred()
        try:
            if not transport.can_write_eof():
                return False
            transport.write_eof()
        except (OSError, RuntimeError, NotImplementedError):
            return False
        return True

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of the bytes not yet read.

        For a protocol that read ahead and hands the stream over (an HTTP
        connection upgraded to WebSocket): the next read sees ``data`` first.

        .. versionadded:: 0.1.0
        """
        if not data:
            return
        unread = self._view[self._start : self._end].tobytes()
        combined = bytes(data) + unread
        new = bytearray(len(combined) + _MIN_FREE)
        new[: len(combined)] = combined
        self._buf = new
        self._view = memoryview(new)
        self._start = 0
        self._end = len(combined)
        if self._read_kind:
            self._try_read()

    def _queue_write(self, data: bytes | bytearray | memoryview) -> None:
        # TLS transports encrypt a whole write at once and push it all down
        # to the socket transport, whatever its buffer holds: feed them in
        # chunks, each once the previous ones have drained.
        view = memoryview(data).cast("B")
        pending = self._pending_writes
        for offset in range(0, len(view), _WRITE_CHUNK):
            pending.append(view[offset : offset + _WRITE_CHUNK])
        self._pending_size += len(view)
        self._flush_pending()

    def _flush_pending(self) -> None:
        transport = self._wtransport
        pending = self._pending_writes
        while pending and not self._write_paused:
            chunk = pending.pop(0)
            self._pending_size -= len(chunk)
            transport.write(chunk)

    def _pause_writing(self) -> None:
        self._write_paused = True

    def _resume_writing(self) -> None:
        self._write_paused = False
        if self._pending_writes:
            self._flush_pending()
            if self._write_paused:
                return
        waiters = self._write_waiters
        self._write_waiters = []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    # ------------------------------------------------------------------ transport

    def _connection_made(self, transport: Any) -> None:
        # Socket streams override this; pipes bind their transports directly.
        self._set_transports(transport, transport)

    def _set_transports(self, rtransport: Any, wtransport: Any) -> None:
        """Start using the transports; flush early writes; announce readiness."""
        if self._closed:
            for transport in (rtransport, wtransport):
                if transport is not None:
                    transport.abort()
            return
        self._rtransport = rtransport
        self._wtransport = wtransport
        # A plain socket (one transport, no TLS) can take bytes protocols:
        # the consumer's always, bulk mode's on selector loops.
        plain = (
            rtransport is wtransport
            and rtransport is not None
            and rtransport.get_extra_info("sslcontext") is None
            and isinstance(rtransport.get_protocol(), _StreamProtocol)
        )
        self._bulk_capable = plain and isinstance(self._loop, asyncio.SelectorEventLoop)
        if self._bulk_capable and self._bulk_protocol is None:
            self._bulk_protocol = _BytesProtocol(self, self._data_received_bulk)
        if not plain:
            self._consumer_protocol = None
        elif self._consumer_protocol is None:
            self._consumer_protocol = _BytesProtocol(self, self._consumer_data_received)
        if rtransport is not None and self._reading_paused:
            rtransport.pause_reading()
        if wtransport is not None:
            # Zero limits: pause_writing means "bytes are waiting", resume
            # means "all sent", which is when write Futures resolve.
            # (TLS transports pause at size >= high, so there high is 1.)
            tls = wtransport.get_extra_info("sslcontext") is not None
            wtransport.set_write_buffer_limits(high=1 if tls else 0, low=0)
            self._chunked_writes = tls
            if self._pending_writes:
                self._resume_writing()
        self._ready = True
        waiters = self._ready_waiters
        self._ready_waiters = []
        for future in waiters:
            if not future.done():
                future.set_result(self)
        on_ready = self._on_ready
        if on_ready is not None:
            self._on_ready = None
            on_ready(self)

    def _eof_received(self) -> bool:
        # The peer will send nothing more.  As in Tornado, the stream closes
        # (buffered bytes stay readable); we close the transport ourselves.
        # An owner may keep the write side open (where the transport can
        # half-close) by setting _keep_open_on_eof to a function that says
        # whether it still needs to answer what it read (the HTTP server,
        # for a client that half-closed after sending its request).  Reads
        # that need more bytes fail with StreamClosedError from then on.
        transport = self._wtransport
        keep_open = self._keep_open_on_eof
        if (
            keep_open is not None
            and not self._closed
            and transport is not None
            and transport is self._rtransport
            and transport.can_write_eof()
            and keep_open()
        ):
            self._eof = True
            self._end_pending_read()
            return True
        self.close()
        return True

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        if exc is not None:
            self.error = exc
        self._closed = True
        self._close_transports()
        self._signal_closed()

    def _new_ready_future(self) -> asyncio.Future[Any]:
        future = self._loop.create_future()
        if self._ready:
            future.set_result(self)
        elif self._closed:
            future.set_exception(self._ready_error or StreamClosedError(real_error=self.error))
        else:
            self._ready_waiters.append(future)
        return future

    # ------------------------------------------------------------------ closing

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` (on the loop) when the stream closes.

        It runs once, after the pending read and writes have been failed.
        If the stream is already closed it is scheduled at once.  ``None``
        removes it.

        .. versionadded:: 0.1.0
        """
        if callback is None:
            self._close_callback = None
            return
        self._close_callback = (callback, contextvars.copy_context())
        if self._closed:
            self._schedule_close_callback()

    def close(self, exc_info: _ExcInfo = False) -> None:
        """Close the stream.

        Bytes not yet sent are dropped; bytes already received stay
        readable.  Pending writes fail with :class:`StreamClosedError`, the
        pending read too unless it is :meth:`read_until_close`, and the
        close callback is scheduled.  Closing twice does nothing.

        :param exc_info: the reason, kept as :attr:`error`: an exception,
            a ``sys.exc_info()`` tuple, or True for the exception being
            handled.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return
        error = _exception_from(exc_info)
        if error is not None:
            self.error = error
        if self._deferred is not None and error is None:
            self._flush_deferred()  # (a clean close sends what was written)
        self._closed = True
        self._close_transports()
        self._signal_closed()

    def _close_transports(self) -> None:
        rtransport = self._rtransport
        wtransport = self._wtransport
        if wtransport is not None:
            if self._write_paused or self.error is not None:
                wtransport.abort()
            else:
                wtransport.close()
        if rtransport is not None and rtransport is not wtransport:
            rtransport.close()
        self._close_resources()

    def _close_resources(self) -> None:
        """Release what the subclass holds besides the transports."""

    def _signal_closed(self) -> None:
        error = self.error
        self._end_pending_read()
        waiters = self._write_waiters
        self._write_waiters = []
        for future in waiters:
            if not future.done():
                future.set_exception(StreamClosedError(real_error=error))
                _retrieve(future)
        self._pending_writes.clear()
        self._pending_size = 0
        self._deferred = None
        ready = self._ready_waiters
        self._ready_waiters = []
        for future in ready:
            if not future.done():
                future.set_exception(self._ready_error or StreamClosedError(real_error=error))
                _retrieve(future)
        self._on_ready = None
        if self._close_callback is not None:
            self._schedule_close_callback()

    def _end_pending_read(self) -> None:
        """Nothing more will arrive: complete a read_until_close, fail any other read."""
        if self._read_future is None:
            return
        if self._read_kind == _CLOSE:
            self._try_read()
            return
        future = self._read_future
        self._clear_read()
        if not future.done():
            future.set_exception(StreamClosedError(real_error=self.error))
            _retrieve(future)

    def _schedule_close_callback(self) -> None:
        entry = self._close_callback
        if entry is None:
            return
        self._close_callback = None
        callback, context = entry
        self._loop.call_soon(self._run_callback, callback, context=context)
