"""libcurl glue without the client: transfers, uploads, and error translation."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import pycurl
from squall.httpclient import (
    HTTPClientError,
    HTTPConnectionError,
    HTTPProtocolError,
    HTTPProxyError,
    HTTPRequest,
    HTTPResponse,
    HTTPStreamClosedError,
    HTTPTimeoutError,
    HTTPTLSError,
    InvalidRequestError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from squall.httputil import HTTPHeaders
from squall.ioloop import IOLoop

__all__ = ["CurlError", "Transfer", "Upload", "translate_error"]

curl_log = logging.getLogger("squall.curl_httpclient")

# libcurl error codes (not every pycurl exports every name).
_E_UNSUPPORTED_PROTOCOL = 1
_E_URL_MALFORMAT = 3
_E_COULDNT_RESOLVE_PROXY = 5
_E_COULDNT_RESOLVE_HOST = 6
_E_COULDNT_CONNECT = 7
_E_WEIRD_SERVER_REPLY = 8
_E_HTTP2 = 16
_E_PARTIAL_FILE = 18
_E_OPERATION_TIMEDOUT = 28
_E_TOO_MANY_REDIRECTS = 47
_E_GOT_NOTHING = 52
_E_SEND_ERROR = 55
_E_RECV_ERROR = 56
_E_BAD_CONTENT_ENCODING = 61
_E_FILESIZE_EXCEEDED = 63
_E_PROXY = 97
_TLS_ERRORS = frozenset([35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98])
_PROTOCOL_ERRORS = frozenset(
    [_E_UNSUPPORTED_PROTOCOL, _E_WEIRD_SERVER_REPLY, _E_HTTP2, _E_BAD_CONTENT_ENCODING, 92]
)
# RECV_ERROR messages that describe a malformed message rather than a broken connection.
_PROTOCOL_WORDS = ("chunk", "content-length", "header", "invalid", "malformed")
_CLOSED_ERRORS = frozenset([_E_PARTIAL_FILE, _E_GOT_NOTHING, _E_SEND_ERROR, _E_RECV_ERROR])

#: libcurl's socket interest -> IOLoop events.
POLL_EVENTS = {
    pycurl.POLL_NONE: 0,
    pycurl.POLL_IN: IOLoop.READ,
    pycurl.POLL_OUT: IOLoop.WRITE,
    pycurl.POLL_INOUT: IOLoop.READ | IOLoop.WRITE,
}
# How much a body_producer may run ahead of libcurl before write() waits.
_UPLOAD_HIGH_WATER = 256 * 1024


class CurlError(HTTPClientError):
    """A libcurl failure that no more specific error describes (code 599).

    :param errno: libcurl's ``CURLE_*`` code, kept as :attr:`errno`.
    :param message: libcurl's message.

    .. versionadded:: 0.1.0
    """

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(599, message)
        #: libcurl's error code.
        self.errno = errno

    def __str__(self) -> str:
        return f"Curl error {self.errno}: {self.message}"


class Transfer:
    """One request on one easy handle: its buffers, limits and outcome."""

    __slots__ = (
        "aborted",
        "body_size",
        "chunks",
        "code",
        "curl",
        "future",
        "header_lines",
        "header_size",
        "headers",
        "informational",
        "max_body_size",
        "max_header_size",
        "queue_time",
        "reason",
        "request",
        "start",
        "upload",
    )

    def __init__(
        self, request: HTTPRequest, future: asyncio.Future[HTTPResponse], start: float
    ) -> None:
        self.request = request
        self.future = future
        self.start = start
        self.queue_time = 0.0
        self.curl: Any = None
        self.chunks: list[bytes] = []
        self.headers = HTTPHeaders()
        self.reason = ""
        self.code = 0
        self.header_size = 0
        self.header_lines: list[str] = []
        self.informational = 0
        self.body_size = 0
        self.max_body_size = 0
        self.max_header_size = 0
        self.aborted: BaseException | None = None
        self.upload: Upload | None = None


class Upload:
    """Feeds a ``body_producer``'s writes to libcurl's read callback.

    libcurl pulls; a producer pushes.  Writes queue up here and the read
    callback pauses the transfer (``READFUNC_PAUSE``) when the queue is
    empty; the next write unpauses it, from a loop callback (never from
    inside libcurl).  A write returns a Future that waits while more than
    256 KiB are queued, so a fast producer does not fill memory.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.pieces: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.done = False
        self.paused = False
        self.curl: Any = None
        self._waiters: list[asyncio.Future[None]] = []

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        """Queue ``chunk``; the Future resolves once the queue is short enough."""
        future: asyncio.Future[None] = self._loop.create_future()
        if chunk:
            self.pieces.append(bytes(chunk))
            self.size += len(chunk)
            self._resume()
        if self.size < _UPLOAD_HIGH_WATER:
            future.set_result(None)
        else:
            self._waiters.append(future)
        return future

    def finish(self) -> None:
        """The producer is done: the read callback reports the end of the body."""
        self.done = True
        self._resume()

    def _resume(self) -> None:
        if self.paused and self.curl is not None:
            self.paused = False
            self._loop.call_soon(self._unpause)

    def _unpause(self) -> None:
        try:
            self.curl.pause(pycurl.PAUSE_CONT)
        except pycurl.error:
            pass  # the transfer ended meanwhile

    def read(self, size: int) -> Any:
        """Libcurl's READFUNCTION."""
        if not self.pieces:
            if self.done:
                return b""
            self.paused = True
            return pycurl.READFUNC_PAUSE
        piece = self.pieces.popleft()
        if len(piece) > size:
            self.pieces.appendleft(piece[size:])
            piece = piece[:size]
        self.size -= len(piece)
        if self._waiters and self.size < _UPLOAD_HIGH_WATER:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                self._loop.call_soon(_resolve, waiter)
        return piece


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def translate_error(
    curl: Any, transfer: Transfer, errnum: int, errmsg: str, max_redirects: Any
) -> BaseException:
    """Turn a libcurl failure into the :mod:`squall.httpclient` exception naming it."""
    if transfer.aborted is not None:
        return transfer.aborted
    url = transfer.request.url
    text = f"{errmsg or 'libcurl error'} (curl error {errnum})"
    try:
        connect_code = curl.getinfo(pycurl.HTTP_CONNECTCODE)
    except pycurl.error:
        connect_code = 0
    if connect_code >= 300:
        return HTTPProxyError(
            f"proxy refused CONNECT for {url}: {connect_code} ({text})",
            proxy_code=connect_code,
        )
    if errnum == _E_OPERATION_TIMEDOUT:
        return HTTPTimeoutError(f"Timeout during request to {url}: {text}")
    if errnum in (_E_COULDNT_RESOLVE_PROXY, _E_PROXY):
        return HTTPProxyError(f"proxy failed for {url}: {text}")
    if errnum in (_E_COULDNT_RESOLVE_HOST, _E_COULDNT_CONNECT):
        return HTTPConnectionError(f"cannot connect for {url}: {text}")
    if errnum in _TLS_ERRORS:
        return HTTPTLSError(f"TLS failure for {url}: {text}")
    if errnum == _E_TOO_MANY_REDIRECTS:
        return TooManyRedirectsError(
            transfer.code or 599,
            f"too many redirects: stopped after {max_redirects} (max_redirects) for {url}",
        )
    if errnum == _E_RECV_ERROR and any(word in errmsg.lower() for word in _PROTOCOL_WORDS):
        return HTTPProtocolError(f"malformed response from {url}: {text}")
    if errnum in _CLOSED_ERRORS:
        return HTTPStreamClosedError(f"the connection closed early for {url}: {text}")
    if errnum == _E_FILESIZE_EXCEEDED:
        return ResponseTooLargeError(f"the response from {url} is too large: {text}")
    if errnum in _PROTOCOL_ERRORS:
        return HTTPProtocolError(f"malformed response from {url}: {text}")
    if errnum == _E_URL_MALFORMAT:
        return InvalidRequestError(f"malformed URL {url[:100]!r}: {text}")
    return CurlError(errnum, f"{text} for {url}")
