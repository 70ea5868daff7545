"""The read half of a stream: the buffer and the read state machine.

Incoming bytes land, through ``get_buffer``/``buffer_updated``, directly in
one ``bytearray``; the unread bytes are ``buf[start:end]``.  The array is
never resized in place (a memoryview of it is always exported): when the
tail runs short it is replaced by a new one holding only the unread bytes,
which happens rarely, since a fully consumed buffer simply rewinds to
offset 0.  While receives keep filling it, it doubles (up to four read
chunks), so bulk transfers take fewer, larger receives.

At most one read is pending.  Each read kind is a small branch of
:meth:`_StreamReader._try_read`, run when the read starts and after every
chunk that arrives; a delimiter search resumes where the previous one
stopped.  A ``read_into`` whose target is still empty lends the target
itself to the transport, so bulk data is copied once, by the kernel.
Reading is paused when nobody reads and a chunk is buffered, and resumed by
the next read that needs more.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

from squall import stack_context
from squall.iostream._errors import (
    ReadInProgressError,
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
)

app_log = logging.getLogger("squall.application")
gen_log = logging.getLogger("squall.general")

# Read kinds (``_read_kind``); 0 means no read is pending.
_UNTIL = 1
_REGEX = 2
_BYTES = 3
_INTO = 4
_CLOSE = 5

_DEFAULT_MAX_BUFFER_SIZE = 100 * 1024 * 1024
_DEFAULT_READ_CHUNK_SIZE = 64 * 1024
# get_buffer() rebuilds the buffer when fewer free bytes than this remain.
_MIN_FREE = 4096
# A fresh buffer's size; it grows fourfold while receives fill it (up to
# 4 * read_chunk_size) and is released when drained.
_INITIAL_CAPACITY = 8192
# Drained buffers up to this size are released (larger ones belong to bulk
# transfers and are kept).
_RELEASE_MAX = 64 * 1024
_EMPTY_BUFFER = bytearray()
_EMPTY_VIEW = memoryview(_EMPTY_BUFFER)
# In bulk mode, a receive smaller than this switches back to the buffer.
_BULK_MIN = 64 * 1024
# The scratch buffer a consumer's receives go into (one per thread).
_SCRATCH_SIZE = 64 * 1024
_scratch = threading.local()


class _StreamReader:
    """Buffering and reads; :class:`~squall.iostream.BaseIOStream` adds the rest."""

    # Slots: a stream has more attributes than CPython's key-sharing
    # instance dicts hold (30), and an unshared dict costs ~1.5 KB per
    # connection.
    __slots__ = (
        "_buf",
        "_bulk",
        "_bulk_capable",
        "_bulk_protocol",
        "_consumer",
        "_consumer_protocol",
        "_end",
        "_eof",
        "_grow",
        "_into_direct",
        "_into_filled",
        "_into_view",
        "_keep_open_on_eof",
        "_max_capacity",
        "_protocol",
        "_read_arg",
        "_read_future",
        "_read_kind",
        "_read_max",
        "_read_partial",
        "_reading_paused",
        "_scan",
        "_scratch",
        "_start",
        "_streaming",
        "_streaming_ctx",
        "_view",
        "max_buffer_size",
        "read_chunk_size",
    )

    # Provided by BaseIOStream.
    _loop: asyncio.AbstractEventLoop
    _closed: bool
    _rtransport: Any
    error: BaseException | None

    def close(self, exc_info: Any = False) -> None:
        raise NotImplementedError()

    def _init_reader(self, max_buffer_size: int | None, read_chunk_size: int | None) -> None:
        self.max_buffer_size = max_buffer_size or _DEFAULT_MAX_BUFFER_SIZE
        # Half of max_buffer_size at most, so a full chunk always fits.
        self.read_chunk_size = max(
            1, min(read_chunk_size or _DEFAULT_READ_CHUNK_SIZE, self.max_buffer_size // 2)
        )
        self._buf = bytearray()
        self._view = memoryview(self._buf)
        # The buffer starts at read_chunk_size and doubles, up to this, while
        # receives keep filling it (bulk transfers).
        self._max_capacity = min(self.max_buffer_size, 4 * self.read_chunk_size)
        self._grow = False
        self._start = 0
        self._end = 0
        self._read_future: asyncio.Future[Any] | None = None
        self._read_kind = 0
        self._read_arg: Any = None
        self._read_max: int | None = None
        self._read_partial = False
        self._scan = 0
        self._into_view: memoryview | None = None
        self._into_filled = 0
        self._into_direct = False
        self._streaming: Callable[[bytes], Any] | None = None
        self._streaming_ctx: contextvars.Context | None = None
        self._reading_paused = False
        # Bulk mode (see _enter_bulk): possible on plain selector transports.
        self._bulk_capable = False
        self._bulk = False
        self._bulk_protocol: Any = None
        self._protocol: Any = None
        self._consumer: Callable[[bytes], None] | None = None
        # On a plain socket, the protocol installed while a consumer is set
        # (see _set_consumer); None where the transport cannot take it.
        self._consumer_protocol: Any = None
        # Set while the consumer's receive went into the thread's scratch buffer.
        self._scratch = False
        # Half-close (see BaseIOStream._eof_received): the peer sent EOF but
        # the stream stays open for writing.
        self._eof = False
        self._keep_open_on_eof: Callable[[], bool] | None = None

    def reading(self) -> bool:
        """Return True while a read is pending.

        .. versionadded:: 0.1.0
        """
        return self._read_future is not None

    # ------------------------------------------------------------------ consumer

    def _set_consumer(self, consumer: Callable[[bytes], None] | None) -> None:
        """Hand arriving bytes to ``consumer(data)``, synchronously (``None`` stops it).

        The consumer gets the bytes that arrive while no read is pending.
        A private hook for protocol layers that parse the bytes themselves
        (the HTTP server's keep-alive loop): it saves a Future and a trip
        through the loop per arrival, and the bytes are received into a
        scratch buffer shared by the thread's streams rather than the
        stream's own, so a busy keep-alive connection allocates no buffer.
        The consumer must not raise.  Bytes already buffered are not
        passed: take them first with :meth:`_take_buffered`.  Reading
        resumes if it was paused.  If the peer already half-closed the
        stream (nothing more can arrive), the stream is closed instead.
        """
        if consumer is not None and self._eof:
            self.close()
            return
        self._consumer = consumer
        direct = self._consumer_protocol
        if direct is not None:
            # Plain socket: while there is a consumer, the transport hands
            # each receive to _consumer_data_received as a bytes object (one
            # call per arrival instead of get_buffer and buffer_updated).
            transport = self._rtransport
            if consumer is not None:
                if not self._bulk and transport.get_protocol() is not direct:
                    transport.set_protocol(direct)
            elif transport.get_protocol() is direct:
                transport.set_protocol(self._protocol)
        if consumer is not None and self._reading_paused and self._read_kind == 0:
            self._resume_reading()

    def _consumer_data_received(self, data: bytes) -> None:
        # The consumer protocol's data_received (see _set_consumer).
        consumer = self._consumer
        if consumer is not None and not self._read_kind and self._start == self._end:
            consumer(data)
        else:
            self._data_received(data)

    def _take_buffered(self) -> bytes:
        """Remove and return every buffered byte (``b""`` if none)."""
        if self._end == self._start:
            return b""
        return self._take(self._end)

    # ------------------------------------------------------------------ reads

    def read_until(
        self,
        delimiter: bytes,
        callback: Callable[[bytes], Any] | None = None,
        max_bytes: int | None = None,
    ) -> asyncio.Future[bytes]:
        """Read up to and including ``delimiter``.

        :param delimiter: the bytes that end the read.
        :param callback: classic style: called with the data.
        :param max_bytes: fail if the delimiter is not within this many
            bytes (delimiter included).
        :returns: a Future resolving to the data, delimiter included.
        :raises ReadInProgressError: if another read is pending.
        :raises StreamClosedError: if the stream is closed and the buffer
            does not hold the delimiter.

        The Future fails with :class:`UnsatisfiableReadError` when
        ``max_bytes`` is exceeded, :class:`StreamBufferFullError` when
        ``max_buffer_size`` bytes arrived without the delimiter (both close
        the stream), and :class:`StreamClosedError` when the stream closes
        first.

        .. versionadded:: 0.1.0
        """
        if self._read_future is not None:
            self._check_read_free()
        future = self._loop.create_future()
        start = self._start
        pos = self._buf.find(delimiter, start, self._end)
        if pos >= 0 and callback is None:
            stop = pos + len(delimiter)
            if max_bytes is None or stop - start <= max_bytes:
                future.set_result(self._take(stop))
                return future
        self._read_kind = _UNTIL
        self._read_arg = delimiter
        self._read_max = max_bytes
        if pos < 0 and callback is None and not (self._closed or self._eof):
            # Not in the buffer: skip the search _start_read would repeat.
            end = self._end
            if (max_bytes is None or end - start < max_bytes) and end - start < (
                self.max_buffer_size
            ):
                scan = end - len(delimiter) + 1
                self._scan = scan if scan > start else start
                self._read_future = future
                if self._reading_paused:
                    self._resume_reading()
                return future
        self._scan = start
        return self._start_read(future, callback)

    def read_until_regex(
        self,
        regex: bytes | re.Pattern[bytes],
        callback: Callable[[bytes], Any] | None = None,
        max_bytes: int | None = None,
    ) -> asyncio.Future[bytes]:
        """Read up to and including the end of the first match of ``regex``.

        :param regex: a compiled bytes pattern (compile it once), or bytes.
        :param callback: classic style: called with the data.
        :param max_bytes: fail if more than this many bytes arrive without
            a match.
        :returns: a Future resolving to the data, match included.
        :raises ReadInProgressError: if another read is pending.
        :raises StreamClosedError: if the stream is closed and the buffer
            holds no match.

        The Future fails like :meth:`read_until`'s.

        .. versionadded:: 0.1.0
        """
        if self._read_future is not None:
            self._check_read_free()
        if not isinstance(regex, re.Pattern):
            regex = re.compile(regex)
        future = self._loop.create_future()
        self._read_kind = _REGEX
        self._read_arg = regex
        self._read_max = max_bytes
        return self._start_read(future, callback)

    def read_bytes(
        self,
        num_bytes: int,
        callback: Callable[[bytes], Any] | None = None,
        streaming_callback: Callable[[bytes], Any] | None = None,
        partial: bool = False,
    ) -> asyncio.Future[bytes]:
        """Read ``num_bytes`` bytes.

        :param num_bytes: how many bytes to read.
        :param callback: classic style: called with the data.
        :param streaming_callback: called with each chunk as it arrives;
            the Future then resolves to ``b""`` once ``num_bytes`` bytes
            have been delivered.
        :param partial: resolve as soon as at least one byte is available,
            with up to ``num_bytes`` bytes.
        :returns: a Future resolving to the bytes.
        :raises ReadInProgressError: if another read is pending.
        :raises StreamClosedError: if the stream is closed and the buffer
            cannot satisfy the read.
        :raises ValueError: if ``num_bytes`` is negative.

        The Future fails with :class:`StreamBufferFullError` (and the
        stream closes) if ``num_bytes`` exceeds ``max_buffer_size`` without
        ``partial`` or ``streaming_callback``.

        .. versionadded:: 0.1.0
        """
        if self._read_future is not None:
            self._check_read_free()
        if num_bytes < 0:
            raise ValueError(f"num_bytes must be >= 0, not {num_bytes}")
        future = self._loop.create_future()
        start = self._start
        if streaming_callback is None and callback is None:
            size = self._end - start
            if size >= num_bytes:
                future.set_result(self._take(start + num_bytes))
                return future
            if partial and size:
                future.set_result(self._take(self._end))
                return future
        self._read_kind = _BYTES
        self._read_arg = num_bytes
        self._read_partial = partial
        if streaming_callback is not None:
            self._streaming = streaming_callback
            self._streaming_ctx = contextvars.copy_context()
        elif not partial and num_bytes > len(self._buf) - start and not (self._closed or self._eof):
            if num_bytes > self.max_buffer_size:
                self._read_kind = 0
                self._read_failed_early(
                    future,
                    StreamBufferFullError(
                        f"read_bytes({num_bytes}) exceeds max_buffer_size "
                        f"({self.max_buffer_size} bytes)"
                    ),
                )
                return future
            self._reserve(num_bytes)
        return self._start_read(future, callback)

    def read_into(
        self,
        buf: bytearray | memoryview,
        callback: Callable[[int], Any] | None = None,
        partial: bool = False,
    ) -> asyncio.Future[int]:
        """Read into ``buf`` until it is full.

        Bytes already buffered are copied first; the rest is received
        straight into ``buf``.  Do not touch ``buf`` until the read is done.

        :param buf: a writable bytes-like object (``bytearray``, writable
            ``memoryview``).
        :param callback: classic style: called with the byte count.
        :param partial: resolve as soon as at least one byte was stored.
        :returns: a Future resolving to the number of bytes stored.
        :raises ReadInProgressError: if another read is pending.
        :raises StreamClosedError: if the stream is closed and the buffer
            cannot satisfy the read.
        :raises TypeError: if ``buf`` is read-only.

        .. versionadded:: 0.1.0
        """
        if self._read_future is not None:
            self._check_read_free()
        view = memoryview(buf)
        if view.readonly:
            raise TypeError("read_into needs a writable buffer")
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        future = self._loop.create_future()
        self._read_kind = _INTO
        self._into_view = view
        self._into_filled = 0
        self._read_partial = partial
        return self._start_read(future, callback)

    def read_until_close(
        self,
        callback: Callable[[bytes], Any] | None = None,
        streaming_callback: Callable[[bytes], Any] | None = None,
    ) -> asyncio.Future[bytes]:
        """Read everything until the stream closes.

        :param callback: classic style: called with the data.
        :param streaming_callback: called with each chunk as it arrives;
            the Future then resolves to ``b""``.
        :returns: a Future resolving to all the bytes.
        :raises ReadInProgressError: if another read is pending.

        The Future fails with :class:`StreamBufferFullError` (and the
        stream closes) if more than ``max_buffer_size`` bytes arrive
        without a ``streaming_callback``.  A stream closed by an error
        still resolves it with what arrived; see :attr:`error`.

        .. versionadded:: 0.1.0
        """
        if self._read_future is not None:
            self._check_read_free()
        future = self._loop.create_future()
        self._read_kind = _CLOSE
        if streaming_callback is not None:
            self._streaming = streaming_callback
            self._streaming_ctx = contextvars.copy_context()
        return self._start_read(future, callback)

    def _check_read_free(self) -> None:
        # A read Future cancelled by its owner (a timeout, say) frees the
        # stream for the next read; the buffered bytes stay.
        future = self._read_future
        if future is not None and future.done():
            self._clear_read()
            return
        raise ReadInProgressError(
            "a read is already pending on this stream; wait for it before starting another"
        )

    def _start_read(
        self, future: asyncio.Future[Any], callback: Callable[[Any], Any] | None
    ) -> asyncio.Future[Any]:
        self._read_future = future
        self._try_read()
        if not future.done():
            if self._closed or self._eof:
                self._clear_read()
                raise StreamClosedError(real_error=self.error)
            if self._reading_paused:
                self._resume_reading()
        if callback is not None:
            future.add_done_callback(functools.partial(self._deliver, callback))
        return future

    def _clear_read(self) -> None:
        self._read_future = None
        self._read_kind = 0
        self._read_arg = None
        self._into_view = None
        self._into_direct = False
        self._streaming = None
        self._streaming_ctx = None

    def _complete_read(self, result: Any) -> None:
        future = self._read_future
        self._read_future = None
        self._read_kind = 0
        if future is not None and not future.done():
            future.set_result(result)

    def _read_failed_early(self, future: asyncio.Future[Any], error: BaseException) -> None:
        gen_log.info("closing stream: %s", error)
        future.set_exception(error)
        self.close(exc_info=error)

    def _read_failed(self, error: BaseException) -> None:
        future = self._read_future
        self._clear_read()
        gen_log.info("closing stream: %s", error)
        if future is not None and not future.done():
            future.set_exception(error)
        self.close(exc_info=error)

    def _try_read(self) -> None:
        """Complete (or fail) the pending read if the buffer allows it."""
        future = self._read_future
        if future is None:
            return
        if future.done():  # cancelled by its owner
            self._clear_read()
            return
        kind = self._read_kind
        start = self._start
        end = self._end
        if kind == _UNTIL:
            delimiter = self._read_arg
            pos = self._buf.find(delimiter, self._scan, end)
            max_bytes = self._read_max
            if pos >= 0:
                stop = pos + len(delimiter)
                if max_bytes is not None and stop - start > max_bytes:
                    self._read_failed(
                        UnsatisfiableReadError(
                            f"delimiter {delimiter!r} not found within {max_bytes} bytes"
                        )
                    )
                else:
                    self._complete_read(self._take(stop))
                return
            size = end - start
            if max_bytes is not None and size >= max_bytes:
                self._read_failed(
                    UnsatisfiableReadError(
                        f"delimiter {delimiter!r} not found within {max_bytes} bytes"
                    )
                )
            elif size >= self.max_buffer_size:
                self._read_failed(
                    StreamBufferFullError(
                        f"delimiter {delimiter!r} not found within max_buffer_size "
                        f"({self.max_buffer_size} bytes)"
                    )
                )
            else:
                scan = end - len(delimiter) + 1
                self._scan = scan if scan > start else start
        elif kind == _BYTES:
            num_bytes = self._read_arg
            size = end - start
            streaming = self._streaming
            if streaming is not None:
                if size and num_bytes:
                    take = size if size < num_bytes else num_bytes
                    self._read_arg = num_bytes = num_bytes - take
                    self._stream_chunk(streaming, self._take(start + take))
                if not num_bytes:
                    self._clear_read()
                    future.set_result(b"")
            elif size >= num_bytes:
                self._complete_read(self._take(start + num_bytes))
            elif size and self._read_partial:
                self._complete_read(self._take(end))
        elif kind == _INTO:
            view = self._into_view
            if view is None:
                self._clear_read()
                return
            filled = self._into_filled
            size = end - start
            if size:
                take = min(len(view) - filled, size)
                view[filled : filled + take] = self._view[start : start + take]
                self._discard(start + take)
                filled += take
                self._into_filled = filled
            if filled == len(view) or (filled and self._read_partial):
                self._into_view = None
                self._complete_read(filled)
        elif kind == _REGEX:
            match = self._read_arg.search(self._buf, start, end)
            max_bytes = self._read_max
            if match is not None:
                stop = match.end()
                if max_bytes is not None and stop - start > max_bytes:
                    self._read_failed(
                        UnsatisfiableReadError(
                            f"regex {self._read_arg.pattern!r} not matched within {max_bytes} bytes"
                        )
                    )
                else:
                    self._complete_read(self._take(stop))
                return
            size = end - start
            if max_bytes is not None and size > max_bytes:
                self._read_failed(
                    UnsatisfiableReadError(
                        f"regex {self._read_arg.pattern!r} not matched within {max_bytes} bytes"
                    )
                )
            elif size >= self.max_buffer_size:
                self._read_failed(
                    StreamBufferFullError(
                        f"regex {self._read_arg.pattern!r} not matched within "
                        f"max_buffer_size ({self.max_buffer_size} bytes)"
                    )
                )
        elif kind == _CLOSE:
            size = end - start
            streaming = self._streaming
            if streaming is not None:
                if size:
                    self._stream_chunk(streaming, self._take(end))
                if self._closed or self._eof:
                    self._clear_read()
                    future.set_result(b"")
            elif self._closed or self._eof:
                self._complete_read(self._take(end))
            elif size >= self.max_buffer_size:
                self._read_failed(
                    StreamBufferFullError(
                        f"read_until_close received more than max_buffer_size "
                        f"({self.max_buffer_size} bytes)"
                    )
                )

    def _stream_chunk(self, streaming: Callable[[bytes], Any], chunk: bytes) -> None:
        self._loop.call_soon(self._run_callback, streaming, chunk, context=self._streaming_ctx)

    # ------------------------------------------------------------------ buffer

    def _take(self, stop: int) -> bytes:
        """Remove and return the buffered bytes up to offset ``stop``."""
        data = self._view[self._start : stop].tobytes()
        if stop == self._end:
            self._drained()
        else:
            self._start = stop
        return data

    def _discard(self, stop: int) -> None:
        if stop == self._end:
            self._drained()
        else:
            self._start = stop

    def _drained(self) -> None:
        # Every buffered byte was consumed.  Unless receives are filling the
        # buffer (a bulk transfer, which keeps it), give the memory back: an
        # idle keep-alive connection then holds no buffer at all, and the
        # next receive allocates a small one.
        self._start = self._end = 0
        if not self._grow and 0 < len(self._buf) <= _RELEASE_MAX:
            self._buf = _EMPTY_BUFFER
            self._view = _EMPTY_VIEW

    def _rebuild(self, capacity: int) -> None:
        """Replace the buffer by one of ``capacity`` bytes holding the unread bytes."""
        size = self._end - self._start
        new = bytearray(capacity)
        if size:
            new[:size] = self._view[self._start : self._end]
        self._buf = new
        self._view = memoryview(new)
        self._start = 0
        self._end = size

    def _reserve(self, total: int) -> None:
        """Make room for ``total`` unread bytes from the read offset on."""
        if len(self._buf) - self._start < total:
            self._rebuild(max(total, self.read_chunk_size))

    def _get_buffer(self, sizehint: int) -> memoryview:
        # (A get_buffer need not be followed by buffer_updated: a TLS read or
        # a receive may find nothing. The next update is for the buffer
        # returned last, so its kind is set afresh each time.)
        self._into_direct = False
        if self._consumer is not None and self._start == self._end and not self._read_kind:
            # The consumer takes every byte at once: receive into the
            # thread's scratch buffer (get_buffer and buffer_updated are
            # called back to back, so one buffer per thread suffices).
            self._scratch = True
            scratch: memoryview
            try:
                scratch = _scratch.view
            except AttributeError:
                scratch = _scratch.view = memoryview(bytearray(_SCRATCH_SIZE))
            return scratch
        self._scratch = False
        if self._read_kind == _INTO and self._start == self._end:
            # Receive straight into the caller's buffer.
            view = self._into_view
            if view is not None:
                self._into_direct = True
                return view[self._into_filled :]
        end = self._end
        capacity = len(self._buf)
        if capacity - end < _MIN_FREE or self._grow:
            size = end - self._start
            if self._grow:
                # The last receive filled the buffer: more is coming fast.
                self._grow = False
                capacity = min(4 * capacity, self._max_capacity)
            elif not capacity:
                capacity = min(_INITIAL_CAPACITY, self.read_chunk_size)
            while capacity - size < _MIN_FREE:
                capacity *= 2
            self._rebuild(capacity)
            end = self._end
        return self._view[end:]

    def _buffer_updated(self, nbytes: int) -> None:
        if self._scratch:
            self._scratch = False
            data = _scratch.view[:nbytes].tobytes()
            consumer = self._consumer
            if consumer is not None and not self._read_kind:
                consumer(data)
            else:  # (cannot happen between the two calls; kept for safety)
                self._data_received(data)
            return
        if self._into_direct:
            self._into_direct = False
            filled = self._into_filled + nbytes
            self._into_filled = filled
            view = self._into_view
            future = self._read_future
            if future is None or view is None or future.done():
                self._clear_read()
            elif filled == len(view) or self._read_partial:
                self._into_view = None
                self._complete_read(filled)
            return
        end = self._end + nbytes
        self._end = end
        if end == len(self._buf):
            if end < self._max_capacity:
                self._grow = True
            elif self._bulk_capable and not self._bulk:
                self._enter_bulk()
        if self._read_kind:
            self._try_read()
        elif self._consumer is not None:
            self._consumer(self._take(self._end))
            return
        if (
            not self._read_kind
            and self._end - self._start >= self.read_chunk_size
            and not self._reading_paused
        ):
            self._pause_reading()

    def _enter_bulk(self) -> None:
        """Receive into fresh bytes objects: a large read can then take one as is.

        Selector transports receive either into our buffer (then a read
        copies out of it) or into a new bytes object; while receives keep
        filling the largest buffer, the second saves a copy per chunk.
        """
        self._bulk = True
        self._rtransport.set_protocol(self._bulk_protocol)

    def _data_received_bulk(self, data: bytes) -> None:
        if len(data) < _BULK_MIN or self._read_kind == _INTO:
            # Small chunks again, or a read_into (which receives in place):
            # back to receiving into the buffer.
            self._bulk = False
            self._rtransport.set_protocol(self._protocol)
        elif (
            self._read_kind == _BYTES
            and self._start == self._end
            and self._read_partial
            and self._streaming is None
            and len(data) <= self._read_arg
        ):
            future = self._read_future
            if future is not None and not future.done():
                self._complete_read(data)  # no copy
                return
        self._data_received(data)

    def _data_received(self, data: bytes) -> None:
        # Transports without buffered-protocol support (pipes) use this.
        nbytes = len(data)
        end = self._end
        if len(self._buf) - end < nbytes:
            size = end - self._start
            self._rebuild(max(2 * len(self._buf), size + nbytes, self.read_chunk_size))
            end = self._end
        self._view[end : end + nbytes] = data
        self._buffer_updated(nbytes)

    def _pause_reading(self) -> None:
        transport = self._rtransport
        if transport is not None and not self._closed:
            self._reading_paused = True
            transport.pause_reading()

    def _resume_reading(self) -> None:
        self._reading_paused = False
        transport = self._rtransport
        if transport is not None and not self._closed:
            transport.resume_reading()

    # ------------------------------------------------------------------ callbacks

    def _deliver(self, callback: Callable[[Any], Any], future: asyncio.Future[Any]) -> None:
        # Done-callback of a read with a classic callback: failures are
        # reported by closing the stream (see set_close_callback).
        if future.cancelled() or future.exception() is not None:
            return
        self._run_callback(callback, future.result())

    def _deliver_no_arg(self, callback: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        self._run_callback(callback)

    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback; an uncaught exception closes the stream."""
        try:
            result = callback(*args)
        except Exception:
            if stack_context.handle_exception(*sys.exc_info()):
                return
            app_log.error(
                "Uncaught exception in stream callback %r, closing the stream",
                callback,
                exc_info=True,
            )
            self.close(exc_info=True)
            return
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(self._check_callback_task)

    def _check_callback_task(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            app_log.error(
                "Uncaught exception in stream callback, closing the stream",
                exc_info=(type(error), error, error.__traceback__),
            )
            self.close(exc_info=error)
