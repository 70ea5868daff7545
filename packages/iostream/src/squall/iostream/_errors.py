"""The exceptions of :mod:`squall.iostream` (the tree is drawn in its docstring)."""

from __future__ import annotations

__all__ = [
    "ConnectError",
    "ReadInProgressError",
    "StreamBufferFullError",
    "StreamClosedError",
    "StreamError",
    "TLSHandshakeError",
    "UnsatisfiableReadError",
]


class StreamError(Exception):
    """Base class of every exception raised by a Squall stream.

    Catch this to handle any stream failure; catch a subclass to tell who is
    at fault.

    .. versionadded:: 0.1.0
    """


class StreamClosedError(StreamError, OSError):
    """The stream is closed, so the operation cannot be carried out.

    Who is at fault depends on :attr:`real_error`: ``None`` when the stream
    was closed cleanly (by your code calling ``close()``, or by the peer
    closing its end), otherwise the exception that closed it (a
    :class:`ConnectionResetError` from the peer, a
    :class:`StreamBufferFullError`, ...).  It is an :class:`OSError`, as
    Tornado's was an ``IOError``, so old ``except IOError`` clauses still
    catch it.

    :param real_error: the exception that closed the stream, if any.

    .. versionadded:: 0.1.0
    """

    real_error: BaseException | None

    def __init__(self, real_error: BaseException | None = None, message: str | None = None) -> None:
        if message is None:
            message = "Stream is closed"
            if real_error is not None:
                message = f"Stream is closed: {_describe(real_error)}"
        super().__init__(message)
        self.real_error = real_error


class ConnectError(StreamClosedError):
    """Connecting failed: refused, unreachable, or not watchable by the loop.

    The peer refused, the network was unreachable, or the loop's poller
    could not watch the new socket.  The fault is the peer's or the
    network's (or the poller's limits, see
    :class:`squall.ioloop.FDSetSizeError`); :attr:`real_error` holds the
    underlying :class:`OSError`.

    .. versionadded:: 0.1.0
    """


class TLSHandshakeError(StreamClosedError):
    """The TLS handshake failed, and the stream was closed.

    Usually the peer's fault: its certificate did not validate (the message
    says why, e.g. ``certificate verify failed``), it does not speak TLS, or
    it hung up in the middle of the handshake.  :attr:`real_error` holds the
    :class:`ssl.SSLError` or :class:`OSError`.

    .. versionadded:: 0.1.0
    """


class UnsatisfiableReadError(StreamError):
    """The peer sent more than ``max_bytes`` without the delimiter or regex match.

    The peer is at fault (it sent a line or a header block longer than
    allowed); the stream has been closed.

    .. versionadded:: 0.1.0
    """


class StreamBufferFullError(StreamError):
    """A buffer limit was reached.

    On a read, the peer is at fault: it sent more than ``max_buffer_size``
    bytes before the read could complete (or your code asked for more than
    ``max_buffer_size`` at once); the stream has been closed.  On a write,
    your code is at fault: it wrote more than ``max_write_buffer_size``
    bytes faster than the peer reads them; the write was refused and the
    stream stays open.

    .. versionadded:: 0.1.0
    """


class ReadInProgressError(StreamError, RuntimeError):
    """Your code started a read while another read on the stream is pending.

    A stream has one reader at a time: wait for the pending read's Future
    (or callback) before starting the next one.  The stream is unaffected.

    .. versionadded:: 0.1.0
    """


def _describe(error: BaseException) -> str:
    text = str(error)
    name = type(error).__name__
    return f"{name}: {text}" if text else name
