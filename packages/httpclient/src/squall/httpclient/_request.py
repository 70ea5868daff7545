"""HTTPRequest: what to fetch and how, and the view that fills in the defaults."""

from __future__ import annotations

import datetime
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from squall.httputil import HTTPHeaders, format_timestamp

__all__ = ["HTTPRequest"]


class HTTPRequest:
    r"""One HTTP request, with every option of a fetch.

    Options left as ``None`` take the value of the client's ``defaults``
    (see :class:`.AsyncHTTPClient`), then the built-in default listed here.

    :param url: the absolute ``http://`` or ``https://`` URL.
    :param method: the request method (``GET``).
    :param headers: a dict or :class:`~squall.httputil.HTTPHeaders`.
    :param body: the request body (``str`` is encoded as UTF-8).
    :param body_producer: instead of ``body``, a callable taking a
        ``write(chunk)`` function (which returns an awaitable to respect flow
        control) and returning an awaitable that completes when the whole body
        is written (streaming upload; chunked unless a ``Content-Length``
        header is given).
    :param auth_username: user name for HTTP authentication.
    :param auth_password: password for HTTP authentication.
    :param auth_mode: ``"basic"`` (default) or ``"digest"`` (RFC 7616,
        answered after the server's 401 challenge).
    :param connect_timeout: seconds allowed to connect (DNS, TCP, proxy
        tunnel and TLS); 20 by default.
    :param request_timeout: seconds allowed for the whole fetch, end to end:
        time queued behind ``max_clients``, connecting, redirects and the
        transfer; 20 by default.
    :param if_modified_since: a :class:`datetime.datetime` or timestamp for
        the ``If-Modified-Since`` header.
    :param follow_redirects: follow 301, 302, 303, 307 and 308 (default True).
    :param max_redirects: the most redirects followed (default 5).
    :param user_agent: the ``User-Agent`` header.
    :param use_gzip: Tornado 4's name for ``decompress_response``.
    :param decompress_response: ask for gzip and decode it (default True).
    :param network_interface: the local IP address to connect from.
    :param streaming_callback: called with each piece of the body as it
        arrives; the response's body is then empty.
    :param header_callback: called with the status line, then each header
        line (``"Name: value\r\n"``), then ``"\r\n"``.
    :param prepare_curl_callback: called with the ``pycurl.Curl`` object
        (curl implementation only).
    :param proxy_host: HTTP proxy host; ``http://`` URLs go through it as
        absolute-form requests, ``https://`` ones through a ``CONNECT`` tunnel.
    :param proxy_port: HTTP proxy port (default 80).
    :param proxy_username: proxy user name (``Proxy-Authorization: Basic``).
    :param proxy_password: proxy password.
    :param proxy_auth_mode: ``"basic"`` (the only mode of the pure-Python
        client; curl also takes ``"digest"``).
    :param allow_nonstandard_methods: allow other methods, and bodies where
        the method normally has none (default False).
    :param validate_cert: verify the server's certificate (default True).
    :param ca_certs: a file of CA certificates to verify against.
    :param allow_ipv6: use IPv6 when the host resolves to it (default True).
    :param client_key: a private key file for a client certificate.
    :param client_cert: a client certificate file.
    :param ssl_options: an :class:`ssl.SSLContext` or Tornado ``ssl_options``
        dict; overrides ``validate_cert``, ``ca_certs`` and the client
        certificate options.
    :param expect_100_continue: send ``Expect: 100-continue`` and hold the
        body until the server agrees (or one second passes).
    :param max_body_size: the largest response body accepted, counted after
        decompression (default: the client's, 100 MiB).
    :param max_header_size: the largest response head accepted (default:
        the client's, 64 KiB).

    .. versionadded:: 0.1.0
    """

    _DEFAULTS: dict[str, Any] = {
        "connect_timeout": 20.0,
        "request_timeout": 20.0,
        "follow_redirects": True,
        "max_redirects": 5,
        "decompress_response": True,
        "proxy_password": "",
        "allow_nonstandard_methods": False,
        "validate_cert": True,
    }

    # None until first read when no headers were given (most fetches).
    _headers: HTTPHeaders | None
    _body: bytes | None

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: dict[str, str] | HTTPHeaders | None = None,
        body: bytes | str | None = None,
        auth_username: str | None = None,
        auth_password: str | None = None,
        auth_mode: str | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        if_modified_since: datetime.datetime | float | None = None,
        follow_redirects: bool | None = None,
        max_redirects: int | None = None,
        user_agent: str | None = None,
        use_gzip: bool | None = None,
        network_interface: str | None = None,
        streaming_callback: Callable[[bytes], Any] | None = None,
        header_callback: Callable[[str], Any] | None = None,
        prepare_curl_callback: Callable[[Any], Any] | None = None,
        proxy_host: str | None = None,
        proxy_port: int | None = None,
        proxy_username: str | None = None,
        proxy_password: str | None = None,
        proxy_auth_mode: str | None = None,
        allow_nonstandard_methods: bool | None = None,
        validate_cert: bool | None = None,
        ca_certs: str | None = None,
        allow_ipv6: bool | None = None,
        client_key: str | None = None,
        client_cert: str | None = None,
        body_producer: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]]
        | None = None,
        expect_100_continue: bool = False,
        decompress_response: bool | None = None,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_body_size: int | None = None,
        max_header_size: int | None = None,
    ) -> None:
        self.url = url
        self.method = method
        self.headers = headers
        if if_modified_since is not None:
            self.headers["If-Modified-Since"] = format_timestamp(if_modified_since)
        self.body = body
        self.body_producer = body_producer
        self.auth_username = auth_username
        self.auth_password = auth_password
        self.auth_mode = auth_mode
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.decompress_response = use_gzip if decompress_response is None else decompress_response
        self.network_interface = network_interface
        self.streaming_callback = streaming_callback
        self.header_callback = header_callback
        self.prepare_curl_callback = prepare_curl_callback
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self.proxy_username = proxy_username
        self.proxy_password = proxy_password
        self.proxy_auth_mode = proxy_auth_mode
        self.allow_nonstandard_methods = allow_nonstandard_methods
        self.validate_cert = validate_cert
        self.ca_certs = ca_certs
        self.allow_ipv6 = allow_ipv6
        self.client_key = client_key
        self.client_cert = client_cert
        self.ssl_options = ssl_options
        self.expect_100_continue = expect_100_continue
        self.max_body_size = max_body_size
        self.max_header_size = max_header_size
        #: Wall-clock time (:func:`time.time`) at which the request was made.
        self.start_time = time.time()
        #: For a redirected request, the request the caller made.
        self.original_request: HTTPRequest | None = None

    @property
    def headers(self) -> HTTPHeaders:
        """The request's header fields (always an :class:`~squall.httputil.HTTPHeaders`).

        .. versionadded:: 0.1.0
        """
        headers = self._headers
        if headers is None:
            headers = self._headers = HTTPHeaders()
        return headers

    @headers.setter
    def headers(self, value: dict[str, str] | HTTPHeaders | None) -> None:
        if value is None or isinstance(value, HTTPHeaders):
            self._headers = value
        else:
            self._headers = HTTPHeaders(value)

    @property
    def body(self) -> bytes | None:
        """The request body as bytes (``None`` for no body).

        .. versionadded:: 0.1.0
        """
        return self._body

    @body.setter
    def body(self, value: bytes | str | None) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif value is not None and not isinstance(value, bytes):
            value = bytes(value)
        self._body = value

    @property
    def use_gzip(self) -> bool | None:
        """Tornado 4's name for :attr:`decompress_response`.

        .. versionadded:: 0.1.0
        """
        return self.decompress_response

    @use_gzip.setter
    def use_gzip(self, value: bool | None) -> None:
        self.decompress_response = value

    def __repr__(self) -> str:
        return f"HTTPRequest({self.method!r}, {self.url!r})"


class _RequestProxy:
    """A read-only view of an :class:`HTTPRequest` with the client's defaults filled in.

    An attribute that is ``None`` on the request reads from ``defaults``.
    """

    __slots__ = ("defaults", "request")

    def __init__(self, request: HTTPRequest, defaults: dict[str, Any] | None) -> None:
        self.request = request
        self.defaults = defaults

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.request, name)
        if value is not None:
            return value
        defaults = self.defaults
        if defaults is not None:
            return defaults.get(name)
        return None
