"""The exceptions of :mod:`squall.httpclient` (the tree is in the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from squall.httputil import responses
from squall.util import TimeoutError as _SquallTimeoutError

if TYPE_CHECKING:
    from squall.httpclient._response import HTTPResponse

__all__ = [
    "HTTPClientError",
    "HTTPConnectionError",
    "HTTPError",
    "HTTPProtocolError",
    "HTTPProxyError",
    "HTTPStreamClosedError",
    "HTTPTLSError",
    "HTTPTimeoutError",
    "InvalidRequestError",
    "ResponseTooLargeError",
    "TooManyRedirectsError",
]


class HTTPClientError(Exception):
    """A fetch did not end in a successful response.

    Raised by :meth:`.AsyncHTTPClient.fetch` (and found in
    :attr:`.HTTPResponse.error`).  The class itself is used for an HTTP
    status error (the server answered, with a code of 400 or more, or a
    redirect that was not followed); its subclasses, all with code 599
    except :class:`TooManyRedirectsError`, say what else went wrong.

    :param code: the HTTP status code, or 599 when there is no response.
    :param message: a description; the reason phrase of ``code`` by default.
    :param response: the :class:`.HTTPResponse`, when there is one.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, code: int, message: str | None = None, response: HTTPResponse | None = None
    ) -> None:
        self.code = code
        self.message = message or responses.get(code, "Unknown")
        self.response = response
        super().__init__(code, message, response)

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"

    # Exceptions end up in tracebacks next to their Future; keep repr short.
    __repr__ = __str__


#: Tornado's name for :class:`HTTPClientError`, kept as an alias.
#:
#: .. versionadded:: 0.1.0
HTTPError = HTTPClientError


class _NoResponseError(HTTPClientError):
    """Base of the code-599 errors: no HTTP response was received."""

    def __init__(self, message: str, response: HTTPResponse | None = None) -> None:
        super().__init__(599, message, response)

    def __str__(self) -> str:
        return self.message


class HTTPTimeoutError(_NoResponseError, _SquallTimeoutError):
    """The request ran out of time (code 599).

    The message says which limit was hit: ``connect_timeout`` while
    connecting, ``request_timeout`` while waiting in the client's queue
    (``max_clients`` requests were already running) or during the
    exchange.  Also a :class:`TimeoutError`, so ``except TimeoutError``
    catches it.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str = "Timeout", response: HTTPResponse | None = None) -> None:
        _NoResponseError.__init__(self, message, response)


class HTTPConnectionError(_NoResponseError):
    """No connection to the server could be made (code 599).

    The host name did not resolve, the connection was refused, the network
    is unreachable, or a local limit stopped it; the message says which and
    names the host and port.

    .. versionadded:: 0.1.0
    """


class HTTPTLSError(HTTPConnectionError):
    """The TLS handshake with the server failed (code 599).

    Usually the certificate did not verify (unknown authority, wrong host
    name, expired); the message carries the TLS library's reason.

    .. versionadded:: 0.1.0
    """


class HTTPProxyError(HTTPConnectionError):
    """The proxy could not be used (code 599).

    It refused the ``CONNECT`` tunnel (for example ``407 Proxy
    Authentication Required``; the status is in :attr:`proxy_code`) or sent
    something that is not HTTP.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, message: str, proxy_code: int | None = None, response: HTTPResponse | None = None
    ) -> None:
        super().__init__(message, response)
        #: The status code of the proxy's answer to ``CONNECT``, if it answered.
        self.proxy_code = proxy_code


class HTTPStreamClosedError(_NoResponseError):
    """The connection closed before the response was complete (code 599).

    The server closed or reset it before sending a whole response head,
    or in the middle of the body (a truncated body).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, message: str = "Stream closed", response: HTTPResponse | None = None
    ) -> None:
        super().__init__(message, response)


class HTTPProtocolError(_NoResponseError):
    """The server's response breaks HTTP/1.1 (code 599): the server's fault.

    For example an invalid status line, conflicting ``Content-Length``
    fields, ``Content-Length`` together with ``Transfer-Encoding``, a bad
    chunk, a corrupt gzip body, or more informational (1xx) responses than
    a client accepts.  :attr:`__cause__` is the parser's
    :class:`~squall.httputil.HTTPInputError`.

    .. versionadded:: 0.1.0
    """


class ResponseTooLargeError(_NoResponseError):
    """The response is larger than the request allows (code 599).

    Its head exceeded ``max_header_size`` or its body (counted after
    decompression, so a gzip bomb stops early) exceeded ``max_body_size``.

    .. versionadded:: 0.1.0
    """


class InvalidRequestError(_NoResponseError, ValueError):
    """The request itself is invalid (code 599): the caller's fault.

    Raised before a byte is sent: CR, LF or NUL in the method, URL or a
    header, an unsupported URL scheme, a body where the method takes none
    (or none where it needs one), conflicting options.  Also a
    :class:`ValueError`, as Tornado raised for these.

    .. versionadded:: 0.1.0
    """


class TooManyRedirectsError(HTTPClientError):
    """Redirects went on past ``max_redirects`` (a loop, most likely).

    :attr:`code` is the status of the last redirect and :attr:`response`
    that redirect response.

    .. versionadded:: 0.1.0
    """


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return text or type(exc).__name__
