"""Request lines and status lines (RFC 9112 section 3 and 4)."""

from __future__ import annotations

import re
from typing import NamedTuple

from squall.httputil._errors import MalformedStartLineError, UnsupportedHTTPVersionError
from squall.httputil._headers import _excerpt, _is_token

__all__ = [
    "RequestStartLine",
    "ResponseStartLine",
    "parse_request_start_line",
    "parse_response_start_line",
]

_DIGITS = "0123456789"

# A request target holds no whitespace or control character; a reason
# phrase may hold HTAB and SP but no other control character.
_BAD_TARGET_RE = re.compile(r"[\x00-\x20\x7f]")
_BAD_REASON_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RequestStartLine(NamedTuple):
    """The first line of a request: ``GET /index.html HTTP/1.1``.

    .. versionadded:: 0.1.0
    """

    #: The method, such as ``"GET"`` (case-sensitive).
    method: str
    #: The request target as sent, such as ``"/index.html?q=1"``.
    path: str
    #: The protocol version, such as ``"HTTP/1.1"``.
    version: str


class ResponseStartLine(NamedTuple):
    """The first line of a response: ``HTTP/1.1 200 OK``.

    .. versionadded:: 0.1.0
    """

    #: The protocol version, such as ``"HTTP/1.1"``.
    version: str
    #: The three-digit status code.
    code: int
    #: The reason phrase (possibly empty); it carries no meaning.
    reason: str


def _check_version(version: str, line: str) -> None:
    # HTTP-version = "HTTP/" DIGIT "." DIGIT
    if (
        len(version) != 8
        or not version.startswith("HTTP/")
        or version[5] not in _DIGITS
        or version[6] != "."
        or version[7] not in _DIGITS
    ):
        raise MalformedStartLineError(f"malformed HTTP version in {_excerpt(line)}")
    if version[5] != "1":
        raise UnsupportedHTTPVersionError(f"unsupported HTTP version {version!r}")


def parse_request_start_line(line: str) -> RequestStartLine:
    """Parse a request line such as ``GET /foo?a=1 HTTP/1.1``.

    The three parts must be separated by single spaces; the method must be
    a token; the request target must be non-empty and free of whitespace
    and control characters; the version must read ``HTTP/1.x``.

    >>> parse_request_start_line("GET /foo HTTP/1.1")
    RequestStartLine(method='GET', path='/foo', version='HTTP/1.1')

    :param line: the line without its line ending.
    :raises MalformedStartLineError: if the line is malformed.
    :raises UnsupportedHTTPVersionError: for a well-formed version other
        than HTTP/1.x.

    .. versionadded:: 0.1.0
    """
    parts = line.split(" ")
    if len(parts) != 3:
        raise MalformedStartLineError(f"malformed HTTP request line {_excerpt(line)}")
    method, target, version = parts
    if not _is_token(method):
        raise MalformedStartLineError(f"malformed HTTP method in {_excerpt(line)}")
    if not target or _BAD_TARGET_RE.search(target) is not None:
        raise MalformedStartLineError(f"malformed request target in {_excerpt(line)}")
    _check_version(version, line)
    return RequestStartLine(method, target, version)


def parse_response_start_line(line: str) -> ResponseStartLine:
    """Parse a status line such as ``HTTP/1.1 200 OK``.

    The reason phrase may be empty, and the space before it may be missing
    (as some old servers send it); it may hold no control character other
    than HTAB.

    >>> parse_response_start_line("HTTP/1.1 200 OK")
    ResponseStartLine(version='HTTP/1.1', code=200, reason='OK')

    :param line: the line without its line ending.
    :raises MalformedStartLineError: if the line is malformed.
    :raises UnsupportedHTTPVersionError: for a well-formed version other
        than HTTP/1.x.

    .. versionadded:: 0.1.0
    """
    version, _, rest = line.partition(" ")
    _check_version(version, line)
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or code.strip(_DIGITS):
        raise MalformedStartLineError(f"malformed HTTP status code in {_excerpt(line)}")
    if _BAD_REASON_RE.search(reason) is not None:
        raise MalformedStartLineError(f"control character in HTTP reason phrase {_excerpt(line)}")
    return ResponseStartLine(version, int(code), reason)
