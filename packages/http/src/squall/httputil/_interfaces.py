"""The layer contract: how HTTP connections and applications meet.

Three small interfaces connect the protocol code (``squall.http1connection``,
used by ``squall.httpserver`` and ``squall.simple_httpclient``) to what runs
on top of it (``squall.web``, ``squall.httpclient``, or your own code):

* :class:`HTTPServerConnectionDelegate` -- implemented by the server
  application (``HTTPServer`` hands each request to ``Application`` through
  it). Called once per request and once per closed connection.
* :class:`HTTPMessageDelegate` -- implemented by whoever *receives* one
  message: the server side for each request, the client side for each
  response. The connection feeds it the head, the body, and the end.
* :class:`HTTPConnection` -- implemented by the protocol code. Whoever
  *sends* a message writes it through this: the server side writes the
  response, the client side writes the request.

A server-side exchange, in order::

    server_delegate.start_request(server_conn, request_conn) -> msg_delegate
    msg_delegate.headers_received(RequestStartLine, HTTPHeaders)
    msg_delegate.data_received(chunk)          # zero or more times
    msg_delegate.finish()                      # or on_connection_close()
    request_conn.write_headers(ResponseStartLine, HTTPHeaders, chunk)
    request_conn.write(chunk)                  # zero or more times
    request_conn.finish()
    ...                                        # next request, keep-alive
    server_delegate.on_close(server_conn)      # once the connection closes

A client mirrors it: it writes a :class:`RequestStartLine` through the
:class:`HTTPConnection` and receives a :class:`ResponseStartLine` in its
:class:`HTTPMessageDelegate`. Neither side reaches into the other's
private state; everything goes through these methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from squall.httputil._headers import HTTPHeaders
from squall.httputil._lines import RequestStartLine, ResponseStartLine

__all__ = ["HTTPConnection", "HTTPMessageDelegate", "HTTPServerConnectionDelegate"]


class HTTPServerConnectionDelegate:
    """What a server application implements to receive requests.

    ``squall.httpserver.HTTPServer`` calls it for every request on every
    connection it accepts; ``squall.web.Application`` is the usual
    implementation.

    .. versionadded:: 0.1.0
    """

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Return the delegate that will receive a new request.

        Called when a request begins, before its head is parsed. Several
        requests may come over one connection (keep-alive), one after the
        other; each gets its own call and its own delegate.

        :param server_conn: an opaque object identifying the client
            connection; the same object is passed to :meth:`on_close`, so it
            can key per-connection state.
        :param request_conn: the :class:`HTTPConnection` through which the
            response to this request is written.
        :returns: an :class:`HTTPMessageDelegate` for the request.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def on_close(self, server_conn: object) -> None:
        """Called once, when the connection ``server_conn`` has closed.

        Any message in progress on it has already had
        :meth:`HTTPMessageDelegate.on_connection_close`. The default does
        nothing.

        .. versionadded:: 0.1.0
        """


class HTTPMessageDelegate:
    """Receives one HTTP message (a request on a server, a response on a client).

    The connection calls, in this order: :meth:`headers_received` once;
    :meth:`data_received` zero or more times; then exactly one of
    :meth:`finish` (the message is complete) or :meth:`on_connection_close`
    (the connection closed first). Nothing is called after that.

    Flow control: :meth:`headers_received` and :meth:`data_received` may
    return an awaitable; the connection reads nothing more from the peer
    until it completes, so a slow consumer slows the sender down instead of
    buffering without bound.

    Errors: an :class:`.HTTPInputError` raised by a method is treated as
    bad input from the peer (a server answers it with the error's
    ``status_code`` when it still can, and closes the connection); any
    other exception is a bug, logged by the connection, which then closes.

    The default methods do nothing, so a subclass overrides only what it
    needs.

    .. versionadded:: 0.1.0
    """

    def headers_received(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
    ) -> Awaitable[None] | None:
        """Called once, when the message head has been read and parsed.

        :param start_line: a :class:`.RequestStartLine` on the server side,
            a :class:`.ResponseStartLine` on the client side.
        :param headers: the parsed header fields.
        :returns: ``None``, or an awaitable that must complete before the
            body is read.

        .. versionadded:: 0.1.0
        """
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Called with each piece of the body, as it arrives.

        Chunks are message content: chunked framing is already removed,
        and the content is decompressed if the connection was asked to
        (then ``Content-Encoding`` is no longer in the headers). Chunk
        boundaries carry no meaning.

        :returns: ``None``, or an awaitable that must complete before more
            of the body is read.

        .. versionadded:: 0.1.0
        """
        return None

    def finish(self) -> None:
        """Called once, after the last of the body: the message is complete.

        .. versionadded:: 0.1.0
        """

    def on_connection_close(self) -> None:
        """Called instead of :meth:`finish` if the connection closed first.

        .. versionadded:: 0.1.0
        """


class HTTPConnection:
    """Writes one HTTP message: the response on a server, the request on a client.

    Call :meth:`write_headers` once, then :meth:`write` any number of
    times, then :meth:`finish` once. The connection adds the framing
    (``Transfer-Encoding: chunked`` when the length is not declared and the
    peer speaks HTTP/1.1) and decides on keep-alive.

    Misuse by the caller raises :class:`.HTTPOutputError`: writing the head
    twice, writing after :meth:`finish`, writing more (or, at
    :meth:`finish`, fewer) body bytes than a declared ``Content-Length``,
    or a body for a response that cannot have one. The futures returned
    fail with ``squall.iostream.StreamClosedError`` if the connection
    closes before the data is written.

    The ``callback`` arguments are the Tornado 4/5 style: a function called
    with no arguments once the write completes, besides the returned
    future. New code should await the future instead.

    .. versionadded:: 0.1.0
    """

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
        callback: Callable[[], None] | None = None,
    ) -> asyncio.Future[None]:
        """Write the message head, and optionally the first body chunk.

        :param start_line: a :class:`.ResponseStartLine` on a server, a
            :class:`.RequestStartLine` on a client.
        :param headers: the header fields; the connection may add framing
            fields to them.
        :param chunk: the first piece of the body, if any.
        :param callback: deprecated; called with no arguments when done.
        :returns: a future resolved once the data is flushed to the
            stream; await it to respect flow control.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def write(
        self, chunk: bytes, callback: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        """Write a piece of the body.

        :param chunk: the bytes (an empty chunk writes nothing).
        :param callback: deprecated; called with no arguments when done.
        :returns: a future resolved once the data is flushed to the
            stream; await it to respect flow control.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def finish(self) -> None:
        """Mark the message complete (writing the last chunk if chunked).

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` (no arguments) if the connection closes early.

        "Early" means before the current exchange is complete, so a server
        application learns that its client went away while it was still
        answering. ``None`` removes the callback.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def set_max_body_size(self, max_body_size: int | None) -> None:
        """Change the largest body accepted for the message being received.

        Only meaningful before the body is read (from
        :meth:`HTTPMessageDelegate.headers_received`), as a streaming
        request handler does; ``None`` restores the connection's default.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def set_body_timeout(self, timeout: float | None) -> None:
        """Change how many seconds reading the current body may take.

        Same timing rules as :meth:`set_max_body_size`; ``None`` restores
        the connection's default.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def detach(self) -> Any:
        """Take the underlying stream away from the HTTP connection.

        After this the connection neither reads from nor writes to the
        stream, nor closes it: the caller owns it. Used to switch
        protocols (``101 Switching Protocols``, WebSocket), after the head
        of the response has been written.

        :returns: the ``squall.iostream.IOStream`` of the connection.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()
