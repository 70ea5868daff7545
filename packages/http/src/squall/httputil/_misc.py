"""Small HTTP helpers: URLs, dates, hosts, ranges, credentials, reasons."""

from __future__ import annotations

import calendar
import datetime
import email.utils
import http
import numbers
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import AnyStr

from squall.escape import utf8

__all__ = [
    "encode_username_password",
    "format_timestamp",
    "qs_to_qsl",
    "responses",
    "split_host_and_port",
    "url_concat",
]

#: Maps every status code known to :class:`http.HTTPStatus` to its reason
#: phrase, e.g. ``responses[404] == "Not Found"``.
#:
#: .. versionadded:: 0.1.0
responses: dict[int, str] = {status.value: status.phrase for status in http.HTTPStatus}


def url_concat(
    url: str,
    args: Mapping[str, str] | Sequence[tuple[str, str]] | None,
) -> str:
    """Append query arguments to ``url``, keeping those it already has.

    >>> url_concat("http://example.com/foo", {"c": "d"})
    'http://example.com/foo?c=d'
    >>> url_concat("http://example.com/foo?a=b", [("c", "d"), ("c", "d2")])
    'http://example.com/foo?a=b&c=d&c=d2'

    :param url: the URL, with or without a query.
    :param args: a mapping, or a list or tuple of ``(name, value)`` pairs
        (which may repeat a name); ``None`` returns ``url`` unchanged.
    :raises TypeError: if ``args`` is of another type.

    .. versionadded:: 0.1.0
    """
    if args is None:
        return url
    if isinstance(args, Mapping):
        extra = list(args.items())
    elif isinstance(args, (list, tuple)):
        extra = list(args)
    else:
        raise TypeError(f"'args' must be a mapping, list or tuple, not {type(args).__name__}")
    parsed = urllib.parse.urlparse(url)
    pairs = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    pairs.extend(extra)
    return urllib.parse.urlunparse(parsed._replace(query=urllib.parse.urlencode(pairs)))


def format_timestamp(
    ts: float | tuple[int, ...] | time.struct_time | datetime.datetime,
) -> str:
    """Format a time the way HTTP dates are written (RFC 9110 IMF-fixdate).

    >>> format_timestamp(1359312200)
    'Sun, 27 Jan 2013 18:43:20 GMT'

    :param ts: seconds since the epoch (``int`` or ``float``), a UTC time
        tuple or :class:`time.struct_time` (as from :func:`time.gmtime`),
        or a :class:`datetime.datetime` (naive ones are taken as UTC).
    :raises TypeError: for any other type.

    .. versionadded:: 0.1.0
    """
    if isinstance(ts, numbers.Real) and not isinstance(ts, bool):
        seconds = float(ts)
    elif isinstance(ts, (tuple, time.struct_time)):
        seconds = calendar.timegm(ts)
    elif isinstance(ts, datetime.datetime):
        seconds = calendar.timegm(ts.utctimetuple())
    else:
        raise TypeError(f"unknown timestamp type: {ts!r}")
    return email.utils.formatdate(seconds, usegmt=True)


def _split_absolute_form(target: str) -> tuple[str, str]:
    """Return ``(authority, origin form)`` of an absolute-form request target.

    ``http://host:8/a?b=1#f`` gives ``("host:8", "/a?b=1")``: the authority
    runs to the first ``/``, ``?`` or ``#`` after ``://`` (userinfo stays
    in it, for the caller's host check to refuse); an empty path becomes
    ``/``; a fragment, which a request target cannot have, is dropped.
    """
    rest = target.partition("://")[2]
    end = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter)
        if 0 <= found < end:
            end = found
    origin = rest[end:].partition("#")[0]
    if origin[:1] != "/":
        origin = "/" + origin
    return rest[:end], origin


def split_host_and_port(netloc: str) -> tuple[str, int | None]:
    """Split ``host:port`` into the host and the port (``None`` if absent).

    A bracketed IPv6 literal keeps its brackets, and an unbracketed IPv6
    address is all host.

    >>> split_host_and_port("example.com:8080")
    ('example.com', 8080)
    >>> split_host_and_port("[::1]:80"), split_host_and_port("[::1]")
    (('[::1]', 80), ('[::1]', None))

    .. versionadded:: 0.1.0
    """
    host, colon, port = netloc.rpartition(":")
    if (
        colon
        and host
        and port.isascii()
        and port.isdigit()
        and (":" not in host or (host[0] == "[" and host[-1] == "]"))
    ):
        return host, int(port)
    return netloc, None


def qs_to_qsl(qs: Mapping[str, Iterable[AnyStr]]) -> Iterable[tuple[str, AnyStr]]:
    """Turn a dict of names to lists of values into ``(name, value)`` pairs.

    The inverse of :func:`urllib.parse.parse_qs` (and of
    :func:`squall.escape.parse_qs_bytes`).

    >>> list(qs_to_qsl({"a": ["1", "2"], "b": ["3"]}))
    [('a', '1'), ('a', '2'), ('b', '3')]

    .. versionadded:: 0.1.0
    """
    for name, values in qs.items():
        for value in values:
            yield name, value


def encode_username_password(username: str | bytes, password: str | bytes) -> bytes:
    """Join credentials as ``username:password`` bytes for Basic auth.

    Text is encoded as UTF-8 (RFC 7617 ``charset="UTF-8"``).

    .. versionadded:: 0.1.0
    """
    return utf8(username) + b":" + utf8(password)


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"not a non-negative integer: {text!r}")
    return int(text)


def _parse_request_range(range_header: str) -> tuple[int | None, int | None] | None:
    """Parse a single-range ``Range: bytes=...`` header.

    Returns ``(start, end)`` with ``end`` exclusive, in the style of a
    slice: ``bytes=0-499`` is ``(0, 500)``, ``bytes=500-`` is
    ``(500, None)``, ``bytes=-500`` (the last 500 bytes) is ``(-500, None)``
    and ``bytes=-0`` (unsatisfiable) is ``(None, 0)``. Anything else
    (another unit, several ranges, garbage) gives ``None``.

    >>> _parse_request_range("bytes=0-499")
    (0, 500)
    """
    unit, _, spec = range_header.partition("=")
    if unit.strip() != "bytes":
        return None
    first, dash, last = spec.partition("-")
    if not dash:
        return None
    try:
        start = _int_or_none(first)
        end = _int_or_none(last)
    except ValueError:
        return None
    if start is None:
        if end is None:
            return None
        if end != 0:
            return -end, None
        return None, 0
    if end is not None:
        end += 1
    return start, end


def _get_content_range(start: int | None, end: int | None, total: int) -> str:
    """Format a ``Content-Range`` value for the bytes ``[start, end)``.

    >>> _get_content_range(None, 1, 4)
    'bytes 0-0/4'
    """
    first = start or 0
    last = (total if end is None else end) - 1
    return f"bytes {first}-{last}/{total}"
