"""The pieces of a fetch that are not its main line: redirects, 100-continue, uploads."""

from __future__ import annotations

import asyncio
import copy
import urllib.parse
from typing import Any

from squall.httpclient._errors import HTTPProtocolError, InvalidRequestError
from squall.httpclient._request import HTTPRequest
from squall.httputil import HTTPHeaders, HTTPOutputError
from squall.simple_httpclient._prepare import parse_url

__all__ = ["ContinueWatcher", "raise_producer_error", "redirect_request"]

# Fields that describe a body and go when a redirect turns the request into a GET.
_BODY_FIELDS = ("Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding")
# Credentials that must not follow a redirect to another origin.
_CREDENTIAL_FIELDS = ("Authorization", "Cookie")


def redirect_request(
    request: HTTPRequest, original: HTTPRequest, code: int, current_url: str, location: str
) -> HTTPRequest | None:
    """The request to send for a redirect, or None to return the redirect as it is.

    :raises HTTPProtocolError: for a Location that is not a valid http(s) URL.
    """
    try:
        url = urllib.parse.urljoin(current_url, location)
        target = parse_url(url)
    except (ValueError, InvalidRequestError) as e:
        raise HTTPProtocolError(
            f"the server redirected {current_url} to an invalid location {location[:200]!r}: {e}"
        ) from e
    method = request.method
    to_get = (code in (301, 302) and method == "POST") or (code == 303 and method != "HEAD")
    if not to_get and request.body_producer is not None:
        return None  # a streamed body cannot be sent again: return the redirect
    new = copy.copy(request)
    new.headers = HTTPHeaders(request.headers)
    new.url = url
    new.original_request = original
    if to_get:
        new.method = "GET"
        new.body = None
        new.body_producer = None
        new.expect_100_continue = False
        for name in _BODY_FIELDS:
            if name in new.headers:
                del new.headers[name]
    old = parse_url(current_url)
    if (old.scheme, old.host, old.port) != (target.scheme, target.host, target.port):
        for name in _CREDENTIAL_FIELDS:
            if name in new.headers:
                del new.headers[name]
        new.auth_username = None
        new.auth_password = None
        new.auth_mode = None
        if "Host" in new.headers:
            del new.headers["Host"]
    return new


class ContinueWatcher:
    """Stands in for the stream during an ``Expect: 100-continue`` exchange.

    It passes everything through, and looks at the first bytes read to see
    whether they are a ``100 Continue`` response (which the connection
    itself skips over).
    """

    def __init__(self, stream: Any, waiter: asyncio.Future[bool]) -> None:
        self._stream = stream
        self._waiter = waiter
        self._seen = b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def read_bytes(self, num_bytes: int, partial: bool = False) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = self._stream.read_bytes(num_bytes, partial=partial)
        if not self._waiter.done():
            future.add_done_callback(self._inspect)
        return future

    def _inspect(self, future: asyncio.Future[bytes]) -> None:
        waiter = self._waiter
        if waiter.done() or len(self._seen) >= 13:
            return
        if future.cancelled() or future.exception() is not None:
            return
        self._seen += future.result()[:13]
        seen = self._seen
        if (
            len(seen) >= 13
            and seen[:5] == b"HTTP/"
            and seen[8:12] == b" 100"
            and seen[12:13] in (b" ", b"\r")
        ):
            waiter.set_result(True)


def raise_producer_error(writer: asyncio.Future[None]) -> None:
    if not writer.done() or writer.cancelled():
        return
    error = writer.exception()
    if error is None or isinstance(error, OSError):
        return  # the connection closed under the upload: the read reports it
    if isinstance(error, HTTPOutputError):
        raise InvalidRequestError(f"the body_producer broke the request: {error}") from error
    raise error
