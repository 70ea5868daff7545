"""HTTP1ServerConnection: the server's keep-alive loop over one connection.

Strategy.  On a Squall stream the loop is driven by the arriving data: the
stream hands each arrival synchronously to the connection, which serves
every complete request that can be answered at once right there (through
``HTTP1Connection._read_now``), with no read Future and no Task; a request
that has to wait (a body still arriving, an asynchronous handler, a
response not yet flushed) continues in a Task, which hands the connection
back to the data-driven mode once it is idle again.  Each request gets its
own :class:`~squall.http1connection.HTTP1Connection`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from squall.http1connection._connection import (
    HTTP1Connection,
    HTTP1ConnectionParameters,
    _Reader,
    _Watchdog,
)
from squall.httputil import HTTPMessageDelegate, HTTPServerConnectionDelegate
from squall.iostream import StreamClosedError

app_log = logging.getLogger("squall.application")


class _Resume:
    """Awaitable that continues a coroutine which already suspended once.

    The keep-alive loop runs each request's coroutine by hand
    (``coro.send(None)``); most finish without suspending.  One that
    suspends, on ``future``, is handed to a Task through this object, which
    forwards what the Task sends or throws, as ``await coro`` would have.
    """

    __slots__ = ("coro", "future")

    def __init__(self, coro: Any, future: Any) -> None:
        self.coro = coro
        self.future = future

    def __await__(self) -> Any:
        coro = self.coro
        value = self.future
        self.coro = self.future = None
        while True:
            try:
                sent = yield value
            except BaseException as e:
                try:
                    value = coro.throw(e)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def _not_serving(server_conn: object, request_conn: object) -> HTTPMessageDelegate:
    # HTTP1ServerConnection's start_request until start_serving gives one.
    raise RuntimeError("start_serving() was not called")


class HTTP1ServerConnection:
    """The server side of an HTTP/1.1 connection: the keep-alive loop.

    :meth:`start_serving` reads requests one after another, making an
    :class:`HTTP1Connection` for each and asking the
    :class:`~squall.httputil.HTTPServerConnectionDelegate` for a message
    delegate; responses are written in request order.

    Strategy.  On a Squall stream the loop is driven by the arriving data:
    the stream hands each arrival straight to the connection (no read
    Future, no Task), and a request whose head is complete and whose
    response is written at once is served right there.  A request that
    has to wait (a body still arriving, an asynchronous handler, a
    response not yet flushed) continues in a Task, which hands the
    connection back to the data-driven mode once it is idle again.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        stream: Any,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
    ) -> None:
        self.stream = stream
        self.params = params or HTTP1ConnectionParameters()
        self.context = context
        self._reader = _Reader(stream, self.params.chunk_size)
        self._delegate: HTTPServerConnectionDelegate | None = None
        self._start_request: Callable[[Any, Any], HTTPMessageDelegate] = _not_serving
        self._task: asyncio.Future[None] | None = None
        self._direct = False
        self._ended = False
        self._ended_future: asyncio.Future[None] | None = None
        self._current: HTTP1Connection | None = None
        self._closing = False
        self._idle = True
        stream.set_close_callback(self._on_stream_close)
        if hasattr(stream, "_keep_open_on_eof"):
            # A client that half-closes after its request still gets the
            # response (RFC 9112 9.6).
            stream._keep_open_on_eof = self._reading_request

    def _reading_request(self) -> bool:
        # Whether a request is partly read (or waiting in the buffer).
        if self._reader.buf:
            return True
        current = self._current
        return current is not None and not current._read_finished and not current._detached

    @property
    def idle(self) -> bool:
        """True while waiting for the next request (no request in flight)."""
        return self._idle

    @property
    def _serving_future(self) -> asyncio.Future[None] | None:
        # Resolves once the connection has ended (compatibility name).
        if self._delegate is None:
            return None
        if self._ended_future is None:
            self._ended_future = asyncio.get_running_loop().create_future()
            if self._ended:
                self._ended_future.set_result(None)
        return self._ended_future

    def use_watchdog(self) -> _Watchdog:
        """Enforce read deadlines through :meth:`_Watchdog.check` sweeps.

        Called by a server that sweeps its connections periodically; without
        it each timed read arms its own timer.
        """
        if self._reader.watchdog is None:
            self._reader.watchdog = _Watchdog()
        return self._reader.watchdog

    def start_serving(self, delegate: HTTPServerConnectionDelegate) -> None:
        """Start the request loop with ``delegate``."""
        self._delegate = delegate
        # (A delegate may name a shorter way to its start_request: the
        # server's, straight to the application's dispatcher.)
        starter = getattr(delegate, "_request_starter", None)
        self._start_request = starter() if starter is not None else delegate.start_request
        stream = self.stream
        # The data-driven mode needs the stream's consumer hook, and a
        # sweeping watchdog when idle connections time out.
        self._direct = hasattr(stream, "_set_consumer") and (
            self.params.idle_connection_timeout is None or self._reader.watchdog is not None
        )
        if self._direct:
            # Responses written while the loop serves the connections that
            # are ready go out together, after them (see the stream).
            set_defer_writes = getattr(stream, "_set_defer_writes", None)
            if set_defer_writes is not None:
                set_defer_writes(True)
            watchdog = self._reader.watchdog
            if watchdog is not None:
                watchdog.on_expire = stream.close
            if self._go_idle():
                asyncio.get_running_loop().call_soon(self._serve_buffered)
        else:
            self._task = asyncio.ensure_future(self._serve(delegate))

    async def close(self) -> None:
        """Close the connection and wait for the request loop to end."""
        self.stream.close()
        waiter = self._serving_future
        if waiter is not None:
            await waiter

    def close_when_idle(self) -> None:
        """Close now if idle, else once the request in flight is answered.

        The response of the request in flight carries ``Connection: close``.
        """
        self._closing = True
        if self._idle and not self._reader.buf:
            self.stream.close()
        elif self._current is not None:
            self._current._disconnect_on_finish = True

    def _on_stream_close(self) -> None:
        current = self._current
        if current is not None:
            current._on_stream_close()
        elif self._direct and self._task is None:
            # Idle, with no Task to notice: end here.
            self._end()

    # ------------------------------------------------------------ data-driven mode

    def _go_idle(self) -> bool:
        """Wait for the next request without a Task.

        :returns: True if bytes are already buffered (the caller serves them).
        """
        stream = self.stream
        data = stream._take_buffered()
        if data:
            self._reader.buf = data
            return True
        stream._set_consumer(self._serve_buffered)
        self._arm_idle_deadline()
        return False

    def _arm_idle_deadline(self) -> None:
        idle = self.params.idle_connection_timeout
        if idle is not None:
            watchdog = self._reader.watchdog
            assert watchdog is not None
            # (time.monotonic is the loop's clock; asking the loop for it
            # would cost a getpid() system call per request.)
            watchdog.deadline = time.monotonic() + idle

    def _serve_buffered(self, data: bytes | None = None) -> None:
        """Serve the buffered requests that complete without waiting.

        Also the stream's consumer: called with ``data``, synchronously,
        when bytes arrive while the connection is idle.  The consumer stays
        set meanwhile: nothing arrives during a synchronous call.  It is
        removed when a Task takes over.
        """
        reader = self._reader
        watchdog = reader.watchdog
        if data is not None:
            if watchdog is not None:
                watchdog.deadline = None
            reader.buf = data
        if self._ended or self._task is not None:
            return
        delegate = self._delegate
        assert delegate is not None
        stream = self.stream
        params = self.params
        context = self.context
        idle = params.idle_connection_timeout
        monotonic = time.monotonic
        if data is None and stream.closed():
            # (A scheduled call: the stream may have closed since.  Bytes
            # handed over by the stream, or left by a request that kept the
            # connection open, come from an open one.)
            self._end()
            return
        while reader.buf:
            if self._closing:
                break
            conn = HTTP1Connection(stream, False, params, context, reader, self)
            self._current = conn
            try:
                request_delegate = self._start_request(self, conn)
                if params.decompress:
                    outcome: Any = conn.read_response(request_delegate)
                else:
                    outcome = conn._read_now(request_delegate)
                if outcome is True or outcome is False:
                    keep_going = outcome
                    coro = None
                else:
                    coro = outcome
                    try:
                        waiting_on = coro.send(None)
                    except StopIteration as stop:
                        keep_going = stop.value
                        coro = None
                if coro is not None:
                    # It has to wait: a Task takes the rest of the loop over.
                    stream._set_consumer(None)
                    self._task = asyncio.ensure_future(
                        self._serve(delegate, _Resume(coro, waiting_on))
                    )
                    return
            except Exception:
                app_log.exception("Uncaught exception in HTTP request handling")
                keep_going = False
                conn.close()
            self._idle = True
            if not keep_going:
                break
            self._current = None
            if not reader.buf:
                if self._closing:
                    break
                if stream._consumer is None:
                    # (A request's handler may have read from the stream.)
                    if not self._go_idle():
                        return
                else:
                    # (keep_going means the stream is open.)
                    if idle is not None and watchdog is not None:
                        watchdog.deadline = monotonic() + idle
                    return
        self._end()

    def _end(self) -> None:
        """Close the stream (unless it was detached) and tell the delegate, once."""
        if self._ended:
            return
        self._ended = True
        stream = self.stream
        if self._direct:
            stream._set_consumer(None)
        current, self._current = self._current, None
        if current is None or not current._detached:
            stream.close()
        delegate = self._delegate
        if delegate is not None:
            try:
                delegate.on_close(self)
            except Exception:
                app_log.exception("Exception in on_close")
        waiter = self._ended_future
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------ the Task

    async def _serve(
        self, delegate: HTTPServerConnectionDelegate, resume: _Resume | None = None
    ) -> None:
        stream = self.stream
        params = self.params
        context = self.context
        reader = self._reader
        loop_time = asyncio.get_running_loop().time
        conn: HTTP1Connection | None = None
        request_delegate: HTTPMessageDelegate | None = None
        try:
            while not self._closing:
                if resume is None:
                    if not reader.buf:
                        if self._direct:
                            if stream.closed():
                                break
                            # Idle again: back to the data-driven mode.
                            self._task = None
                            if self._go_idle():
                                asyncio.get_running_loop().call_soon(self._serve_buffered)
                            return
                        # Idle between requests: wait here, with no
                        # per-request objects and a shallow stack (keeps idle
                        # connections small).
                        idle = params.idle_connection_timeout
                        try:
                            await reader.fill(None if idle is None else loop_time() + idle)
                        except (StreamClosedError, TimeoutError):
                            break
                    conn = HTTP1Connection(stream, False, params, context, reader, self)
                    self._current = conn
                try:
                    if resume is not None:
                        pending, resume = resume, None
                        keep_going = await pending
                    else:
                        assert conn is not None
                        request_delegate = self._start_request(self, conn)
                        if params.decompress:
                            keep_going = await conn.read_response(request_delegate)
                        else:
                            keep_going = await conn._read_message(request_delegate)
                except Exception:
                    app_log.exception("Uncaught exception in HTTP request handling")
                    keep_going = False
                    if self._current is not None:
                        self._current.close()
                self._idle = True
                if not keep_going:
                    break
                # Drop the finished exchange (and the handler, request and
                # headers it references) before waiting for the next one.
                self._current = None
                conn = request_delegate = None
        finally:
            if self._task is not None or not self._direct:
                self._task = None
                self._end()
