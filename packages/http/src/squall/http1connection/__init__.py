"""HTTP/1.1 for both sides of a connection.

The parsing rules live in :mod:`squall.http1connection._parser` (no I/O);
the connection classes feed it bytes from a stream.

Exceptions (all :class:`~squall.httputil.HTTPInputError`, the peer's fault,
each with the ``status_code`` a server answers)::

    HTTPInputError
      ├── BadFramingError                 400  ambiguous or malformed message length
      ├── InvalidHostError                400  HTTP/1.1 without exactly one valid Host
      ├── MethodNotImplementedError       501
      ├── UnsupportedTransferCodingError  501
      └── LimitExceededError
            ├── RequestLineTooLongError   414
            ├── HeadTooLargeError         431
            └── BodyTooLargeError         413

.. versionadded:: 0.1.0
"""

from squall.http1connection._connection import HTTP1Connection, HTTP1ConnectionParameters
from squall.http1connection._parser import (
    BadFramingError,
    BodyTooLargeError,
    ChunkedDecoder,
    HeadTooLargeError,
    InvalidHostError,
    MethodNotImplementedError,
    RequestLineTooLongError,
    UnsupportedTransferCodingError,
)
from squall.http1connection._server import HTTP1ServerConnection

__all__ = [
    "BadFramingError",
    "BodyTooLargeError",
    "ChunkedDecoder",
    "HTTP1Connection",
    "HTTP1ConnectionParameters",
    "HTTP1ServerConnection",
    "HeadTooLargeError",
    "InvalidHostError",
    "MethodNotImplementedError",
    "RequestLineTooLongError",
    "UnsupportedTransferCodingError",
]
