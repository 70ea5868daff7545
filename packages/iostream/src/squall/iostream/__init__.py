r"""Buffered non-blocking streams over sockets, TLS and pipes.

:class:`IOStream` wraps a socket, :class:`SSLIOStream` a TLS session over a
socket (see also :meth:`IOStream.start_tls`), :class:`PipeIOStream` a pipe.
They share :class:`BaseIOStream`'s API:

* reads: :meth:`~BaseIOStream.read_until`,
  :meth:`~BaseIOStream.read_until_regex`, :meth:`~BaseIOStream.read_bytes`,
  :meth:`~BaseIOStream.read_into`, :meth:`~BaseIOStream.read_until_close`;
* :meth:`~BaseIOStream.write`;
* :meth:`~BaseIOStream.close`, :meth:`~BaseIOStream.closed`,
  :meth:`~BaseIOStream.set_close_callback` and :attr:`~BaseIOStream.error`.

Each read and write returns an :class:`asyncio.Future` and also accepts the
classic ``callback=`` of Tornado 4::

    async def echo_line(stream):
        line = await stream.read_until(b"\n", max_bytes=4096)
        await stream.write(line)

The streams are asyncio protocols: the loop's transports (selector or
uvloop) do the system calls.

Exceptions (who is at fault is in each one's docstring)::

    Exception
     +-- StreamError                    base of every stream error
          +-- StreamClosedError          the stream is closed; .real_error says why
          |    |                         (also an OSError, as Tornado's IOError was)
          |    +-- ConnectError          connecting failed: refused, unreachable,
          |    |    |                    descriptor beyond the poller's limit
          |    |    +-- squall.tcpclient.ConnectTimeoutError
          |    |                         (also a squall.util.TimeoutError)
          |    +-- TLSHandshakeError     the TLS handshake failed: bad certificate,
          |                              peer hung up mid-handshake
          +-- UnsatisfiableReadError     the peer sent max_bytes without the delimiter
          +-- StreamBufferFullError      a read or write buffer limit was reached
          +-- ReadInProgressError        your code started a second concurrent read
                                         (also a RuntimeError)

.. versionadded:: 0.1.0
"""

from squall.iostream._base import BaseIOStream
from squall.iostream._errors import (
    ConnectError,
    ReadInProgressError,
    StreamBufferFullError,
    StreamClosedError,
    StreamError,
    TLSHandshakeError,
    UnsatisfiableReadError,
)
from squall.iostream._pipe import PipeIOStream
from squall.iostream._socket import IOStream, SSLIOStream

__all__ = [
    "BaseIOStream",
    "ConnectError",
    "IOStream",
    "PipeIOStream",
    "ReadInProgressError",
    "SSLIOStream",
    "StreamBufferFullError",
    "StreamClosedError",
    "StreamError",
    "TLSHandshakeError",
    "UnsatisfiableReadError",
]

# Public classes report this module as their home (reprs, pickling, docs).
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
