"""The exceptions of :mod:`squall.httputil` (see the package docstring)."""

from __future__ import annotations

__all__ = [
    "HTTPInputError",
    "HTTPOutputError",
    "LimitExceededError",
    "MalformedHeaderError",
    "MalformedMultipartError",
    "MalformedStartLineError",
    "PartHeaderTooLargeError",
    "TooManyArgumentsError",
    "TooManyPartsError",
    "UnsupportedContentEncodingError",
    "UnsupportedHTTPVersionError",
]


class HTTPInputError(Exception):
    """The peer sent HTTP that is malformed or that we refuse to accept.

    This is the base of every error that is the *other side's* fault: a
    server answers it with :attr:`status_code` and keeps serving other
    connections; a client reports it for that one response.

    .. versionadded:: 0.1.0
    """

    #: The response status a server should send for this error.
    status_code: int = 400


class MalformedStartLineError(HTTPInputError):
    """The request line or status line does not follow RFC 9112.

    .. versionadded:: 0.1.0
    """


class UnsupportedHTTPVersionError(HTTPInputError):
    """The message is well-formed but its HTTP major version is not 1.

    .. versionadded:: 0.1.0
    """

    status_code = 505


class MalformedHeaderError(HTTPInputError):
    """A header field line breaks RFC 9110/9112.

    For example a character that is not allowed in a field name, whitespace
    between the name and the colon, a control character or bare CR in a
    value, or obsolete line folding where it is not accepted.

    .. versionadded:: 0.1.0
    """


class MalformedMultipartError(HTTPInputError):
    """A ``multipart/form-data`` body cannot be parsed.

    .. versionadded:: 0.1.0
    """


class UnsupportedContentEncodingError(HTTPInputError):
    """A form body arrived with a ``Content-Encoding`` that was not decoded.

    .. versionadded:: 0.1.0
    """

    status_code = 415


class LimitExceededError(HTTPInputError):
    """The input is larger than a configured cap allows.

    The message names the cap and the setting that controls it.

    :param message: what was too large, e.g. ``"too many arguments"``.
    :param limit: the value of the cap.
    :param setting: the keyword argument and module default that set it.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, limit: int, setting: str) -> None:
        super().__init__(f"{message}: the limit is {limit} ({setting})")
        #: The value of the cap that was exceeded.
        self.limit = limit
        #: The name of the setting that controls the cap.
        self.setting = setting


class TooManyArgumentsError(LimitExceededError):
    """A query string or urlencoded body has more fields than allowed.

    .. versionadded:: 0.1.0
    """


class TooManyPartsError(LimitExceededError):
    """A ``multipart/form-data`` body has more parts than allowed.

    .. versionadded:: 0.1.0
    """


class PartHeaderTooLargeError(LimitExceededError):
    """The header block of one multipart part is larger than allowed.

    .. versionadded:: 0.1.0
    """


class HTTPOutputError(Exception):
    """Our own side misused the HTTP API.

    Raised for mistakes in the application or library code writing a
    message, never for anything the peer did: for example writing after
    :meth:`.HTTPConnection.finish`, or writing more bytes than the declared
    ``Content-Length``.

    .. versionadded:: 0.1.0
    """
