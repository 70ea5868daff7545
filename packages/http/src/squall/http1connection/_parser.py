"""HTTP/1.1 message parsing with no I/O: heads, framing, chunked bodies.

Strategy.  The connection finds the end of a message head (the first
``CRLF CRLF``) in its buffer and hands the head, as bytes, to
:func:`parse_request_head` or :func:`parse_response_head`; those return the
start line and the :class:`~squall.httputil.HTTPHeaders`, or raise an
:class:`~squall.httputil.HTTPInputError` subclass whose ``status_code`` is
the response a server should send.  :func:`request_body_framing` and
:func:`response_body_framing` turn the headers into one of three framings
(no body, a fixed length, chunked, or -- for responses -- until close).  A
:class:`ChunkedDecoder` is fed the raw bytes that follow and hands back body
data; it needs no lookahead and can be fed one byte at a time.

Everything here is strict, after RFC 9110 and RFC 9112: a bare CR or LF,
whitespace before a colon, obsolete line folding (on the server side), a
malformed or ambiguous Content-Length, a Transfer-Encoding other than a
single final ``chunked``, or a bad chunk line is an error, never a guess.
"""

from __future__ import annotations

import re
from typing import Final

from squall.http1connection._errors import (
    BadFramingError,
    BodyTooLargeError,
    HeadTooLargeError,
    InvalidHostError,
    MethodNotImplementedError,
    RequestLineTooLongError,
    UnsupportedTransferCodingError,
)
from squall.httputil import (
    HTTPHeaders,
    MalformedHeaderError,
    MalformedStartLineError,
    RequestStartLine,
    ResponseStartLine,
    UnsupportedHTTPVersionError,
)
from squall.httputil._misc import _split_absolute_form

__all__ = [
    "BadFramingError",
    "BodyTooLargeError",
    "ChunkedDecoder",
    "HeadTooLargeError",
    "InvalidHostError",
    "MethodNotImplementedError",
    "RequestLineTooLongError",
    "UnsupportedTransferCodingError",
    "parse_request_head",
    "parse_response_head",
    "request_body_framing",
    "response_body_framing",
]

# Framing kinds.
NO_BODY: Final = 0
LENGTH: Final = 1
CHUNKED: Final = 2
UNTIL_CLOSE: Final = 3

_TOKEN_STR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdefABCDEF"
_DIGITS = "0123456789"
_SUPPORTED_VERSIONS = frozenset({"HTTP/1.1", "HTTP/1.0"})
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%"

#: Methods this server understands; any other token gets 501 unless the
#: application declares it (``extra_methods``).
KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)

# Characters never allowed in a request target (RFC 9112 3.2: no whitespace
# or controls); searched for only when str.isprintable says there may be one.
_TARGET_FORBIDDEN_RE = re.compile("[\x00-\x20\x7f]")
# The control characters of a request head: all but HTAB (allowed inside
# field values), with CR and LF (allowed only as CRLF line endings).
_HEAD_CONTROLS = bytes(range(0x00, 0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"


_new_tuple = tuple.__new__


def _check_line_endings(head: bytes) -> None:
    # Every LF must be part of a CRLF, and every CR must start one.
    crlf = head.count(b"\r\n")
    if head.count(b"\n") != crlf:
        raise MalformedHeaderError("bare LF in the message head (lines must end with CRLF)")
    if head.count(b"\r") != crlf:
        raise MalformedHeaderError("bare CR in the message head")


def _is_token(text: str) -> bool:
    return bool(text) and not text.strip(_TOKEN_STR)


def parse_request_line(line: str, extra_methods: frozenset[str] = frozenset()) -> RequestStartLine:
    """Parse and check a request line (without its CRLF).

    :raises MalformedStartLineError: for anything but ``method SP target SP
        HTTP/x.y`` (including HTTP/0.9's two-part line).
    :raises UnsupportedHTTPVersionError: for a well-formed version other
        than 1.0 and 1.1 (505).
    :raises MethodNotImplementedError: for a method token that is neither
        standard nor in ``extra_methods`` (501).
    """
    parts = line.split(" ")
    if len(parts) != 3:
        if len(parts) == 2 and parts[0] and parts[1]:
            raise MalformedStartLineError("HTTP/0.9 requests are not supported")
        raise MalformedStartLineError(f"malformed request line: {line[:80]!r}")
    method, target, version = parts
    if version not in _SUPPORTED_VERSIONS:
        _check_version(version)
    if method not in KNOWN_METHODS:
        if not _is_token(method):
            raise MalformedStartLineError(f"invalid request method {method[:40]!r}")
        if method not in extra_methods:
            raise MethodNotImplementedError(f"method {method} is not implemented")
    # (No space: the line was split on them.  str.isprintable is false for
    # every other forbidden character, and cheaper than the search; it is
    # also false for some Latin-1 characters, which the search allows.)
    if not target or (not target.isprintable() and _TARGET_FORBIDDEN_RE.search(target) is not None):
        raise MalformedStartLineError(f"invalid request target {target[:80]!r}")
    if target[0] != "/":
        if target == "*":
            if method != "OPTIONS":
                raise MalformedStartLineError("the asterisk target is only for OPTIONS")
        elif method == "CONNECT":
            pass  # authority-form
        elif "://" not in target:
            raise MalformedStartLineError(f"invalid request target {target[:80]!r}")
        elif not _valid_host(_split_absolute_form(target)[0]):
            # absolute-form: its authority stands in for the Host header
            # (userinfo fails the check: RFC 9110 4.2.4 has it refused).
            raise MalformedStartLineError(f"invalid authority in request target {target[:80]!r}")
    # (tuple.__new__ skips the named tuple's Python-level __new__.)
    return _new_tuple(RequestStartLine, parts)


def _check_version(version: str) -> None:
    # Only called for a version other than HTTP/1.0 and HTTP/1.1.
    if (
        len(version) != 8
        or not version.startswith("HTTP/")
        or version[6] != "."
        or version[5] not in _DIGITS
        or version[7] not in _DIGITS
    ):
        raise MalformedStartLineError(f"malformed HTTP version {version[:20]!r}")
    raise UnsupportedHTTPVersionError(f"HTTP version {version} is not supported")


def parse_request_head(
    head: bytes,
    *,
    max_fields: int = 100,
    extra_methods: frozenset[str] = frozenset(),
) -> tuple[RequestStartLine, HTTPHeaders]:
    """Parse a request head: the bytes before the blank line, without it.

    Leading empty lines (RFC 9112 2.2) are skipped.

    :raises HTTPInputError: a subclass naming the problem, with the status a
        server should answer (400, 414 is the caller's, 431, 501, 505).
    """
    crlf = head.count(b"\r\n")
    # One pass over the octets: when the only control characters are the
    # CRLF pairs, there is no bare CR or LF and nothing else to refuse.
    clean = len(head) - len(head.translate(None, _HEAD_CONTROLS)) == 2 * crlf
    if not clean:
        _check_line_endings(head)  # (a bare CR or LF is reported first)
    text = head.decode("latin-1")
    if text[:2] == "\r\n":
        text = text.lstrip("\r\n")
    line, _, fields = text.partition("\r\n")
    start_line = parse_request_line(line, extra_methods)
    if fields:
        if crlf >= max_fields and fields.count("\n") >= max_fields:
            raise HeadTooLargeError(
                "too many header fields", max_fields, "HTTP1ConnectionParameters.max_header_fields"
            )
        if clean:
            # Only the structure of the fields is left to check.
            headers = HTTPHeaders._from_lines(fields.split("\r\n"))
        else:
            headers = HTTPHeaders.parse(fields)  # (finds and names the fault)
    else:
        headers = HTTPHeaders()
    if start_line.version == "HTTP/1.1":
        hosts = headers._as_list.get("Host")
        # (A single Host value already found valid needs no call.)
        if hosts is None or len(hosts) != 1 or hosts[0] not in _VALID_HOSTS:
            _check_host(start_line, headers)
    return start_line, headers


# Host header values already found valid (they repeat from request to request).
_VALID_HOSTS: dict[str, bool] = {}
_VALID_HOSTS_MAX = 256


def _check_host(start_line: RequestStartLine, headers: HTTPHeaders) -> None:
    hosts = headers._as_list.get("Host")
    if hosts is None or len(hosts) != 1:
        raise InvalidHostError(
            "HTTP/1.1 request without a Host header"
            if not hosts
            else "HTTP/1.1 request with more than one Host header"
        )
    host = hosts[0]
    if host in _VALID_HOSTS:
        return
    if not host and (start_line.method == "CONNECT" or start_line.path[0] not in "/*"):
        # absolute-form and authority-form: the target names the host; the
        # Host header must be present but may be empty.
        return
    if not _valid_host(host):
        raise InvalidHostError(f"invalid Host header {host[:80]!r}")
    if len(_VALID_HOSTS) < _VALID_HOSTS_MAX:
        _VALID_HOSTS[host] = True


def _valid_host(host: str) -> bool:
    if not host:
        return False
    if host[0] == "[":
        end = host.find("]")
        if end < 0:
            return False
        literal, rest = host[1:end], host[end + 1 :]
        if not literal or (
            literal.strip("0123456789abcdefABCDEF:.") and not literal.startswith("v")
        ):
            return False
    else:
        name, sep, rest = host.partition(":")
        rest = sep + rest
        # reg-name: unreserved and pct-encoded characters; sub-delims are
        # refused, as no real host contains them (comma lists, userinfo).
        if not name or name.strip(_HOST_CHARS):
            return False
    if rest:
        port = rest[1:]
        if rest[0] != ":" or (port and (not port.isascii() or not port.isdigit() or len(port) > 5)):
            return False
    return True


def _content_length(headers: HTTPHeaders) -> int | None:
    values = headers._as_list.get("Content-Length")
    if not values:
        return None
    if len(values) == 1:
        value = values[0]
        if value.isdigit() and value.isascii() and len(value) < 19:
            return int(value)  # (the usual single plain number)
    seen: set[str] = set()
    for value in values:
        for raw_item in value.split(","):
            item = raw_item.strip(" \t")
            if not item or not item.isascii() or not item.isdigit():
                raise BadFramingError(f"malformed Content-Length {value[:40]!r}")
            seen.add(item.lstrip("0") or "0")
    if len(seen) != 1:
        raise BadFramingError(f"conflicting Content-Length values {', '.join(sorted(seen))}")
    return int(seen.pop())


def _check_transfer_encoding(headers: HTTPHeaders) -> None:
    codings = [
        c.strip(" \t").lower() for v in headers.get_list("Transfer-Encoding") for c in v.split(",")
    ]
    if not codings or codings[-1] != "chunked":
        if codings and all(_is_token(c) for c in codings) and "chunked" not in codings:
            raise UnsupportedTransferCodingError(
                f"transfer coding {codings[-1]!r} is not supported (only chunked)"
            )
        raise BadFramingError("Transfer-Encoding must end with chunked")
    for coding in codings[:-1]:
        if not _is_token(coding) or coding == "chunked":
            raise BadFramingError(f"invalid Transfer-Encoding {', '.join(codings)[:80]!r}")
        raise UnsupportedTransferCodingError(
            f"transfer coding {coding!r} is not supported (only chunked)"
        )


def request_body_framing(start_line: RequestStartLine, headers: HTTPHeaders) -> tuple[int, int]:
    """Return ``(kind, length)`` for a request body: NO_BODY, LENGTH or CHUNKED.

    :raises BadFramingError: for ambiguous or malformed framing (400).
    :raises UnsupportedTransferCodingError: for codings other than chunked (501).
    """
    has_te = "Transfer-Encoding" in headers._as_list
    length = _content_length(headers)
    if has_te:
        if length is not None:
            raise BadFramingError("both Content-Length and Transfer-Encoding")
        if start_line.version == "HTTP/1.0":
            raise BadFramingError("Transfer-Encoding in an HTTP/1.0 request")
        _check_transfer_encoding(headers)
        return CHUNKED, 0
    if length is None or length == 0:
        return NO_BODY, 0
    return LENGTH, length


def parse_response_head(
    head: bytes, *, max_fields: int = 100
) -> tuple[ResponseStartLine, HTTPHeaders]:
    """Parse a response head (client side); obsolete folding is unfolded.

    :raises HTTPInputError: naming what is wrong with the status line or fields.
    """
    _check_line_endings(head)
    text = head.decode("latin-1")
    line, _, fields = text.partition("\r\n")
    parts = line.split(" ", 2)
    if len(parts) < 2:
        raise MalformedStartLineError(f"malformed status line {line[:80]!r}")
    version, code_text = parts[0], parts[1]
    reason = parts[2] if len(parts) == 3 else ""
    if len(version) != 8 or not version.startswith("HTTP/") or version[6] != ".":
        raise MalformedStartLineError(f"malformed HTTP version in status line {line[:80]!r}")
    if version[5] != "1":
        raise UnsupportedHTTPVersionError(f"HTTP version {version} is not supported")
    if len(code_text) != 3 or not code_text.isascii() or not code_text.isdigit():
        raise MalformedStartLineError(f"malformed status code {code_text[:10]!r}")
    if any(c in reason for c in "\x00\x7f") or any(ord(c) < 0x20 and c != "\t" for c in reason):
        raise MalformedStartLineError("control character in the reason phrase")
    if fields.count("\n") >= max_fields:
        raise HeadTooLargeError(
            "too many header fields", max_fields, "HTTP1ConnectionParameters.max_header_fields"
        )
    headers = HTTPHeaders.parse(fields, allow_obs_fold=True) if fields else HTTPHeaders()
    return ResponseStartLine(version, int(code_text), reason), headers


def response_body_framing(
    request_method: str, start_line: ResponseStartLine, headers: HTTPHeaders
) -> tuple[int, int]:
    """Return ``(kind, length)`` for a response body.

    HEAD responses, 1xx, 204 and 304 have no body; otherwise chunked,
    Content-Length, or (HTTP/1.0 style) until the connection closes.

    :raises BadFramingError: for ambiguous or malformed framing.
    """
    code = start_line.code
    if request_method == "HEAD" or 100 <= code < 200 or code in (204, 304):
        if code == 204 and "Transfer-Encoding" in headers:
            raise BadFramingError("204 response with Transfer-Encoding")
        return NO_BODY, 0
    has_te = "Transfer-Encoding" in headers._as_list
    length = _content_length(headers)
    if has_te:
        if length is not None:
            raise BadFramingError("response with both Content-Length and Transfer-Encoding")
        codings = [
            c.strip(" \t").lower()
            for v in headers.get_list("Transfer-Encoding")
            for c in v.split(",")
        ]
        if codings and codings[-1] == "chunked":
            _check_transfer_encoding(headers)
            return CHUNKED, 0
        return UNTIL_CLOSE, 0
    if length is None:
        return UNTIL_CLOSE, 0
    if length == 0:
        return NO_BODY, 0
    return LENGTH, length


class ChunkedDecoder:
    """Decode a chunked body, fed in pieces of any size.

    :meth:`feed` returns the body data found in the bytes given (possibly
    empty) and, once the last chunk and trailer section are complete, sets
    :attr:`done`; bytes after the end are kept in :attr:`leftover` (the next
    pipelined message).  Chunk extensions are accepted and ignored; trailer
    fields are parsed strictly into :attr:`trailers` and never affect
    framing.

    :param max_line: the longest chunk-size line or trailer line accepted.
    :param max_trailer_size: the largest trailer section accepted.
    :raises BadFramingError: from :meth:`feed`, for malformed chunks.
    """

    __slots__ = (
        "_buf",
        "_max_line",
        "_max_trailer",
        "_remaining",
        "_state",
        "done",
        "leftover",
        "trailers",
    )

    _SIZE = 0
    _DATA = 1
    _DATA_CRLF = 2
    _TRAILER = 3

    def __init__(self, max_line: int = 4096, max_trailer_size: int = 16384) -> None:
        self._state = self._SIZE
        self._buf = b""
        self._remaining = 0
        self._max_line = max_line
        self._max_trailer = max_trailer_size
        self.done = False
        self.leftover = b""
        self.trailers = HTTPHeaders()

    def feed(self, data: bytes) -> list[bytes]:
        """Consume ``data``; return the body pieces it completes."""
        if self.done:
            self.leftover += data
            return []
        buf = self._buf + data if self._buf else data
        self._buf = b""
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while pos < n:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, n - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = self._DATA_CRLF
            elif state == self._DATA_CRLF:
                if n - pos < 2:
                    if buf[pos : pos + 1] != b"\r":
                        raise BadFramingError("chunk data not followed by CRLF")
                    self._buf = buf[pos:]
                    return out
                if buf[pos : pos + 2] != b"\r\n":
                    raise BadFramingError("chunk data not followed by CRLF")
                pos += 2
                self._state = self._SIZE
            elif state == self._SIZE:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    # A line of exactly max_line bytes may still await its LF.
                    if n - pos > self._max_line + 1:
                        raise BadFramingError("chunk-size line too long")
                    self._buf = buf[pos:]
                    return out
                if end - pos > self._max_line:
                    raise BadFramingError("chunk-size line too long")
                size = self._parse_size(buf[pos:end])
                pos = end + 2
                if size == 0:
                    self._state = self._TRAILER
                else:
                    self._remaining = size
                    self._state = self._DATA
            else:  # trailer section, ends with an empty line
                if n - pos < 2:
                    self._buf = buf[pos:]
                    return out
                if buf[pos : pos + 2] == b"\r\n":
                    self.done = True
                    self.leftover = buf[pos + 2 :]
                    return out
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    # A full-size section may still await the rest of CRLF CRLF.
                    if n - pos > self._max_trailer + 3:
                        raise BadFramingError("trailer section too large")
                    self._buf = buf[pos:]
                    return out
                if end - pos > self._max_trailer:
                    raise BadFramingError("trailer section too large")
                block = buf[pos:end]
                try:
                    _check_line_endings(block)
                    self.trailers = HTTPHeaders.parse(block)
                except MalformedHeaderError as e:
                    raise BadFramingError(f"malformed trailer: {e}") from e
                self.done = True
                self.leftover = buf[end + 4 :]
                return out
        return out

    @staticmethod
    def _parse_size(line: bytes) -> int:
        text = line.decode("latin-1")
        size_text, semi, ext = text.partition(";")
        size_text = size_text.rstrip(" \t") if semi else size_text
        if not size_text or size_text.strip(_HEX) or len(size_text) > 16:
            raise BadFramingError(f"malformed chunk size {size_text[:20]!r}")
        if semi and any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in ext):
            raise BadFramingError("control character in chunk extension")
        return int(size_text, 16)
