"""The request-head parser built on httptools (llhttp), extra ``squall-http[speedups]``.

Strategy.  llhttp parses the head in C and hands over the request target
and each field as ``bytes``; the callbacks are C methods (a list's
``append``, a dict's ``__setitem__``), so no Python code runs while it
parses.  Its answer is used only when these checks show that the reference
parser, :func:`squall.http1connection._parser.parse_request_head`, would
return exactly the same start line and headers:

* llhttp took the head (plus the final CRLF CRLF) as one request whose
  request line is exactly ``METHOD SP target SP HTTP/1.x CRLF`` from the
  first byte on, with a method the server serves and an origin-form target
  (``/...``) free of whitespace and control characters;
* it reported as many fields as there are LFs in the head: every line after
  the request line is one field (none empty, folded, repeated byte for byte
  or taken from a second message);
* every field name is a token, and no two names are equal once
  canonicalised (a bounded cache maps names seen to their canonical form);
* an HTTP/1.1 request has one valid Host (valid hosts are cached too).

Short heads (fewer than ``_MIN_FIELDS`` field lines: most requests of
API clients) are handed to the reference parser straight away: for them
it is faster than llhttp plus the checks below.

What is left to llhttp is what every version since httptools 0.6 refuses:
a control character (CR and LF included) in a field value, and a field line
not ended by CRLF.  ``tests/test_parsers.py`` checks that on the installed
version with every one-byte mutation of two heads.  Anything else -- a bad
request, but also a rare good one (``OPTIONS *``, an absolute-form target,
a repeated field, a leading empty line, a non-ASCII target) -- is handed to
the reference parser, whose answer (result or
:class:`~squall.httputil.HTTPInputError`) is returned.  So the two parsers
agree on every input, and the checks only decide how often the fast path
is taken.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser
from squall.http1connection._parser import KNOWN_METHODS, _check_host, parse_request_head
from squall.httputil import HTTPHeaders, RequestStartLine
from squall.httputil._headers import _is_token, _normalize_header

__all__ = ["parse_request_head_httptools"]

_END: Final = b"\r\n\r\n"
_NO_METHODS: Final[frozenset[str]] = frozenset()

# bytes method -> (str method, bytes method + SP), for the methods served
# without ``extra_methods``.
_METHODS: Final[dict[bytes, tuple[str, bytes]]] = {
    m.encode(): (m, m.encode() + b" ") for m in KNOWN_METHODS
}
# Bytes never allowed in a request target (older llhttp lets TAB, FF through).
_TARGET_CONTROLS: Final = bytes([*range(0x21), 0x7F])

# Field names seen, as sent -> canonical spelling; only tokens get in, so a
# hit also means "valid".  Bounded: random names cannot grow it forever.
_NAMES: dict[bytes, str] = {}
_NAMES_MAX: Final = 1000
# Host values already checked valid (for an origin-form target).
_HOSTS: set[str] = set()
_HOSTS_MAX: Final = 256

# Heads with fewer fields go to the reference parser, which is faster for
# them: both spend ~0.25 µs a field line, and llhttp's way has ~0.35 µs more
# fixed cost (a parser per head, the checks above).  Measured with
# CPython 3.11 and httptools 0.9: 1 field 1.59 µs pure vs 1.93 µs here, 6
# fields 2.93 vs 3.14, 10 fields 4.09 vs 4.07, 16 fields 5.67 vs 5.47.
_MIN_FIELDS = 10

_new_tuple = tuple.__new__
_new_headers = HTTPHeaders.__new__


class _Protocol:
    """The callbacks llhttp calls: C methods of a list and a dict."""

    __slots__ = ("fields", "on_header", "on_url", "urls")

    def __init__(self) -> None:
        self.urls: list[bytes] = []
        self.fields: dict[bytes, bytes] = {}
        self.on_url: Callable[[bytes], None] = self.urls.append
        self.on_header: Callable[[bytes, bytes], None] = self.fields.__setitem__


class _FallbackError(Exception):
    """The fast path cannot vouch for this head: ask the reference parser."""


# Idle protocol objects.  list.pop and list.append are atomic, so threads
# running their own loops never share one.
_pool: list[_Protocol] = []


def _new_name(raw: bytes) -> str:
    """Return the canonical spelling of a field name not in the cache yet.

    :raises _FallbackError: if the name is not a token.
    """
    text = raw.decode("latin-1")
    if not _is_token(text):
        raise _FallbackError
    name = _normalize_header(text)
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[raw] = name
    return name


def parse_request_head_httptools(
    head: bytes,
    *,
    max_fields: int = 100,
    extra_methods: frozenset[str] = _NO_METHODS,
) -> tuple[RequestStartLine, HTTPHeaders]:
    """Parse a request head with httptools; same contract as the reference parser.

    Returns what :func:`~squall.http1connection._parser.parse_request_head`
    returns for ``head`` (the bytes before the blank line), or raises the
    same :class:`~squall.httputil.HTTPInputError` subclass: any head the
    fast path cannot vouch for is parsed by the reference parser.

    :param head: the request head, without the final ``CRLF CRLF``.
    :param max_fields: the most header fields accepted (431 beyond).
    :param extra_methods: methods served besides the standard ones.
    :raises HTTPInputError: with the status a server should answer.

    .. versionadded:: 0.1.0
    """
    lf = head.count(b"\n")
    if lf > max_fields or lf < _MIN_FIELDS:
        return parse_request_head(head, max_fields=max_fields, extra_methods=extra_methods)
    try:
        proto = _pool.pop()
    except IndexError:
        proto = _Protocol()
    fields = proto.fields
    urls = proto.urls
    try:
        parser = HttpRequestParser(proto)
        try:
            parser.feed_data(head + _END)
        except HttpParserUpgrade:
            pass  # the head is complete; what follows it is not ours to parse
        # One field per line after the request line (none empty, folded or
        # repeated byte for byte) and one request.
        if len(fields) != lf or len(urls) != 1:
            raise _FallbackError
        url = urls[0]
        method_b = parser.get_method()
        entry = _METHODS.get(method_b)
        if entry is None:
            text = method_b.decode("latin-1")
            if text not in extra_methods:
                raise _FallbackError
            entry = (text, method_b + b" ")
        method, prefix = entry
        # The request line must be exactly prefix + url + " HTTP/1.x" + CRLF.
        start = len(prefix)
        end = start + len(url) + 9
        if not (end == len(head) or head.startswith(b"\r\n", end)):
            raise _FallbackError
        if head.startswith(b" HTTP/1.1", end - 9):
            version = "HTTP/1.1"
        elif head.startswith(b" HTTP/1.0", end - 9):
            version = "HTTP/1.0"
        else:
            raise _FallbackError
        if (
            head[start] != 0x2F  # origin-form: "/..."
            or not head.startswith(prefix)
            or not head.startswith(url, start)
            or len(url.translate(None, _TARGET_CONTROLS)) != len(url)
        ):
            raise _FallbackError
        as_list: dict[str, list[str]] = {}
        names = _NAMES
        name = None
        for raw, value in fields.items():
            name = names.get(raw) or _new_name(raw)
            as_list[name] = [value.decode("latin-1").rstrip(" \t")]
        if len(as_list) != lf:
            raise _FallbackError  # the same name spelled in two ways
    except (_FallbackError, HttpParserError):
        fields.clear()
        urls.clear()
        _pool.append(proto)
        return parse_request_head(head, max_fields=max_fields, extra_methods=extra_methods)
    fields.clear()
    urls.clear()
    _pool.append(proto)
    start_line: RequestStartLine = _new_tuple(
        RequestStartLine, (method, url.decode("latin-1"), version)
    )
    headers = _new_headers(HTTPHeaders)
    headers._as_list = as_list
    headers._last_key = name
    if version == "HTTP/1.1":
        hosts = as_list.get("Host")
        if hosts is None or hosts[0] not in _HOSTS:
            # The reference parser would have got this far with the same
            # start line and headers: its host check decides.
            _check_host(start_line, headers)
            if hosts is not None and len(_HOSTS) < _HOSTS_MAX:
                _HOSTS.add(hosts[0])
    return start_line, headers
