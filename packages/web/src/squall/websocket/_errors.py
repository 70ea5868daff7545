"""The exceptions of :mod:`squall.websocket` (the tree is drawn in the package docstring)."""

from __future__ import annotations

from squall.web import WebError

__all__ = [
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandshakeError",
    "WebSocketProtocolError",
]


class WebSocketError(WebError):
    """Base class of every exception defined by :mod:`squall.websocket`.

    .. versionadded:: 0.1.0
    """


class WebSocketClosedError(WebSocketError):
    """Your code used a WebSocket connection that is closed (or closing).

    Raised by ``write_message`` and ``ping`` once :meth:`close` was called or
    the connection went away; the Future of a write that could not be sent
    before the connection closed fails with it too.

    .. versionadded:: 0.1.0
    """


class WebSocketProtocolError(WebSocketError):
    """The peer broke RFC 6455 (or RFC 7692): the connection is failed.

    The connection is closed with :attr:`code` (1002 protocol error, 1007
    invalid data, 1009 message too big ...), which is sent to the peer in a
    close frame when possible.

    :param code: the close code the connection is failed with.
    :param reason: what was wrong, sent as the close reason.

    .. versionadded:: 0.1.0
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} (close code {code})")
        #: The close code the connection is failed with.
        self.code = code
        #: What was wrong.
        self.reason = reason


class WebSocketHandshakeError(WebSocketError):
    """The server refused the opening handshake or answered it wrongly.

    Raised by :func:`~squall.websocket.websocket_connect`.  A refusal (any
    status but 101) keeps the status in :attr:`code` and the start of the
    body in :attr:`body`; an invalid 101 answer (wrong
    ``Sec-WebSocket-Accept``, an extension or subprotocol that was not
    offered ...) has ``code == 101``.

    :param message: what went wrong.
    :param code: the HTTP status of the answer (``None`` if there was none).
    :param headers: the headers of the answer, if any.
    :param body: the body of the answer, if any.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        message: str,
        code: int | None = None,
        headers: object | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message)
        #: The HTTP status code of the answer, or None.
        self.code = code
        #: The :class:`~squall.httputil.HTTPHeaders` of the answer, or None.
        self.headers = headers
        #: The body of the answer (empty for a 101).
        self.body = body
