"""The errors of HTTP/1.1 parsing, each with the status a server answers.

They live apart from the parser so that the compiled build (see
``docs/guide/performance.rst``) leaves them ordinary Python classes: a
class-level ``status_code`` override must stay visible to ``except``
clauses and to code that reads it.
"""

from __future__ import annotations

from squall.httputil import HTTPInputError, LimitExceededError


class BadFramingError(HTTPInputError):
    """The peer's message length cannot be determined unambiguously (400).

    Both Content-Length and Transfer-Encoding, differing or malformed
    Content-Length values, a Transfer-Encoding not ending in ``chunked``, or a
    malformed chunk.  The connection must be closed after this error.

    .. versionadded:: 0.1.0
    """


class UnsupportedTransferCodingError(HTTPInputError):
    """The peer used a transfer coding other than ``chunked`` (501).

    .. versionadded:: 0.1.0
    """

    status_code = 501


class MethodNotImplementedError(HTTPInputError):
    """The request method is a valid token this server does not implement (501).

    .. versionadded:: 0.1.0
    """

    status_code = 501


class InvalidHostError(HTTPInputError):
    """An HTTP/1.1 request lacks exactly one valid Host header (400).

    .. versionadded:: 0.1.0
    """


class RequestLineTooLongError(LimitExceededError):
    """The request line is longer than allowed (414).

    .. versionadded:: 0.1.0
    """

    status_code = 414


class HeadTooLargeError(LimitExceededError):
    """The header block is too large or has too many fields (431).

    .. versionadded:: 0.1.0
    """

    status_code = 431


class BodyTooLargeError(LimitExceededError):
    """The body is larger than ``max_body_size`` (413).

    .. versionadded:: 0.1.0
    """

    status_code = 413
