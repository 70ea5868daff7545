"""Checking a request and turning it into what goes on the wire.

Everything the caller supplies is validated here, before a connection is
taken or a byte is sent: the URL (scheme, host, port, no whitespace or
control characters), the method (an RFC 9110 token), header names (tokens)
and values (no CR, LF or NUL), the body rules of the method, and the proxy
settings.  A URL is parsed once and the result cached, so repeated fetches
of the same URL cost a dictionary lookup.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Any, NamedTuple

from squall.httpclient._errors import InvalidRequestError
from squall.httputil import HTTPHeaders

__all__ = ["Target", "check_headers", "check_method", "parse_url", "proxy_authorization"]

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_RE = re.compile(r"[\x00\r\n]")
# Characters that may not appear anywhere in a URL we send: controls, space, DEL.
_BAD_URL_RE = re.compile(r"[\x00-\x20\x7f]")
_HOST_RE = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=]+")

_STANDARD_METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
_BODY_METHODS = frozenset(["POST", "PUT", "PATCH"])
_DEFAULT_PORTS = {"http": 80, "https": 443}

_URL_CACHE_SIZE = 512


class Target(NamedTuple):
    """A parsed, validated URL."""

    #: ``http`` or ``https``.
    scheme: str
    #: The host to connect to (brackets of an IPv6 literal removed).
    host: str
    #: The port to connect to.
    port: int
    #: The ``Host`` header value (``host`` or ``host:port``, brackets kept).
    host_header: str
    #: The origin-form request target: path and query (``/`` if empty).
    path: str
    #: The absolute URL without user information or fragment (for proxies).
    absolute: str
    #: ``(username, password)`` from the URL's user information, or None.
    userinfo: tuple[str, str] | None


_url_cache: dict[str, Target] = {}


def parse_url(url: str) -> Target:
    """Parse and validate an absolute http(s) URL.

    :raises InvalidRequestError: naming what is wrong.
    """
    target = _url_cache.get(url)
    if target is not None:
        return target
    target = _parse_url(url)
    if len(_url_cache) >= _URL_CACHE_SIZE:
        _url_cache.clear()
    _url_cache[url] = target
    return target


def _parse_url(url: str) -> Target:
    if not isinstance(url, str):
        raise InvalidRequestError(f"the URL must be a str, not {type(url).__name__}")
    bad = _BAD_URL_RE.search(url)
    if bad is not None:
        raise InvalidRequestError(
            f"the URL contains {bad.group()!r} at position {bad.start()} "
            "(whitespace and control characters must be percent-encoded): "
            f"{url[:100]!r}"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidRequestError(f"malformed URL {url[:100]!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidRequestError(
            f"unsupported URL scheme {parts.scheme!r} in {url[:100]!r} (use http or https)"
        )
    netloc = parts.netloc
    userinfo: tuple[str, str] | None = None
    if "@" in netloc:
        info, _, netloc = netloc.rpartition("@")
        user, _, password = info.partition(":")
        userinfo = (urllib.parse.unquote(user), urllib.parse.unquote(password))
    host = parts.hostname
    if not host:
        raise InvalidRequestError(f"the URL {url[:100]!r} has no host")
    if netloc.startswith("["):
        if ":" not in host:
            raise InvalidRequestError(f"malformed IPv6 address in {url[:100]!r}")
    elif _HOST_RE.fullmatch(host) is None:
        raise InvalidRequestError(f"malformed host {host!r} in {url[:100]!r}")
    if port is None:
        port = _DEFAULT_PORTS[scheme]
        host_header = netloc.rstrip(":")
    else:
        if port == 0:
            raise InvalidRequestError(f"port 0 in {url[:100]!r}")
        host_header = netloc if port != _DEFAULT_PORTS[scheme] else netloc.rpartition(":")[0]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if not path.startswith("/"):
        raise InvalidRequestError(f"malformed path in {url[:100]!r}")
    absolute = f"{scheme}://{netloc}{path}"
    return Target(scheme, host, port, host_header, path, absolute, userinfo)


def check_method(method: Any, allow_nonstandard: bool) -> None:
    """Refuse a method that is not an RFC 9110 token or, unless allowed, not standard.

    :raises InvalidRequestError: naming the method.
    """
    if method in _STANDARD_METHODS:
        return
    if not isinstance(method, str) or _TOKEN_RE.fullmatch(method) is None:
        raise InvalidRequestError(f"invalid request method {method!r}")
    if not allow_nonstandard:
        raise InvalidRequestError(
            f"unknown method {method!r} (pass allow_nonstandard_methods=True to send it)"
        )


def check_body(
    method: str, body: bytes | None, has_producer: bool, allow_nonstandard: bool
) -> None:
    """Apply the body rules of the method (a body for POST/PUT/PATCH only).

    :raises InvalidRequestError: unless ``allow_nonstandard`` is set.
    """
    if body is not None and has_producer:
        raise InvalidRequestError("give either body or body_producer, not both")
    if allow_nonstandard:
        return
    present = body is not None or has_producer
    expected = method in _BODY_METHODS
    if expected and not present:
        raise InvalidRequestError(
            f"body must not be None for method {method} (unless allow_nonstandard_methods=True)"
        )
    if present and not expected:
        raise InvalidRequestError(
            f"body must be None for method {method} (unless allow_nonstandard_methods=True)"
        )


def check_headers(headers: HTTPHeaders) -> None:
    """Refuse header names that are not tokens and values holding CR, LF or NUL.

    :raises InvalidRequestError: naming the field.
    """
    for name, value in headers.get_all():
        if _TOKEN_RE.fullmatch(name) is None:
            raise InvalidRequestError(f"invalid header name {name!r}")
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"the value of header {name!r} must be a str, not {type(value).__name__}"
            )
        if _BAD_VALUE_RE.search(value) is not None:
            raise InvalidRequestError(
                f"CR, LF or NUL in the value of header {name!r}: {value[:100]!r}"
            )


def check_text(what: str, value: str) -> None:
    """Refuse CR, LF or NUL in a value that ends up in a header (credentials, ...).

    :raises InvalidRequestError: naming ``what``.
    """
    if _BAD_VALUE_RE.search(value) is not None:
        raise InvalidRequestError(f"CR, LF or NUL in {what}")


def basic_authorization(username: str, password: str) -> str:
    """Return the ``Basic`` credentials for an Authorization header."""
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def proxy_authorization(username: str | None, password: str | None, mode: str | None) -> str | None:
    """Return the ``Proxy-Authorization`` value, or None without a user name.

    :raises InvalidRequestError: for a mode other than basic.
    """
    if not username:
        return None
    if mode not in (None, "basic"):
        raise InvalidRequestError(
            f"unsupported proxy_auth_mode {mode!r} (the pure-Python client supports basic)"
        )
    return basic_authorization(username, password or "")


def format_host_port(host: str, port: int) -> str:
    """``host:port`` with brackets around an IPv6 literal."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"
