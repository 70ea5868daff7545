"""HTTPServerRequest: a request as the server application sees it."""

from __future__ import annotations

import asyncio
import http.cookies
import time
from collections.abc import Callable
from typing import Any

import squall.httputil as _settings
from squall.escape import _parse_form
from squall.httputil._body import (
    HTTPFile,
    _check_argument_count,
    _parse_query_arguments,
    parse_body_arguments,
)
from squall.httputil._errors import HTTPOutputError
from squall.httputil._headers import HTTPHeaders
from squall.httputil._interfaces import HTTPConnection
from squall.httputil._lines import RequestStartLine
from squall.httputil._misc import _split_absolute_form, split_host_and_port
from squall.httputil._params import parse_cookie

__all__ = ["HTTPServerRequest"]


# host -> host_name, for the few Host values a server sees (bounded).
_HOST_NAMES: dict[str, str] = {}
_HOST_NAMES_MAX = 256


class HTTPServerRequest:
    """A single HTTP request received by a server.

    Built by the server layer (or a test) from the parsed head; the body
    arrives later and is parsed by :meth:`_parse_body` once complete.
    Query arguments and cookies are parsed lazily, on first access, so a
    handler that never reads them never pays for them.

    Its attributes:

    * ``method``, ``uri``, ``version``: from the request line
      (``"GET"``, ``"/a?b=1"``, ``"HTTP/1.1"``); ``path`` and ``query`` are
      ``uri`` split at the first ``?``. A target in absolute form
      (``http://host:8/a?b=1``, which a server must accept, RFC 9112 3.2.2)
      is split: ``uri`` is its origin form (``/a?b=1``) and ``host`` its
      authority, in place of the ``Host`` header.
    * ``headers``: the :class:`.HTTPHeaders`.
    * ``body``: the body, ``bytes`` (``b""`` until it has been read).
    * ``remote_ip``: the peer's address (``None`` if unknown) and
      ``protocol``: ``"http"`` or ``"https"``; both come from
      ``connection.context`` when the connection has one.
    * ``host``: the ``Host`` header (or the ``host`` argument, or
      ``"127.0.0.1"``); ``host_name``: it lowercased, without the port.
    * ``arguments``: query and body arguments together, ``name -> [bytes]``;
      ``query_arguments`` and ``body_arguments``: each source alone.
    * ``files``: uploads, ``name -> [HTTPFile]``.
    * ``connection``: the :class:`.HTTPConnection` to write the response
      through; ``server_connection``: the object identifying the client
      connection (see :class:`.HTTPServerConnectionDelegate`).

    :param method: the method.
    :param uri: the request target.
    :param version: the HTTP version.
    :param headers: the header fields (default: empty).
    :param body: the body (default: ``b""``).
    :param host: overrides the ``Host`` header.
    :param files: the uploads (default: empty).
    :param connection: the connection the request came on.
    :param start_line: a :class:`.RequestStartLine`, instead of ``method``,
        ``uri`` and ``version``.
    :param server_connection: the server-side connection object.

    .. versionadded:: 0.1.0
    """

    path: str
    query: str
    # Lazily filled parts start at these class-level defaults (fewer
    # stores per request).
    _finish_time: float | None = None
    _query_arguments: dict[str, list[bytes]] | None = None
    _arguments: dict[str, list[bytes]] | None = None
    _cookies: http.cookies.SimpleCookie | None = None

    def __init__(
        self,
        method: str | None = None,
        uri: str | None = None,
        version: str = "HTTP/1.0",
        headers: HTTPHeaders | None = None,
        body: bytes | None = None,
        host: str | None = None,
        files: dict[str, list[HTTPFile]] | None = None,
        connection: HTTPConnection | None = None,
        start_line: RequestStartLine | None = None,
        server_connection: object | None = None,
    ) -> None:
        if start_line is not None:
            method, uri, version = start_line
        if uri and uri[0] != "/" and "://" in uri:
            authority, uri = _split_absolute_form(uri)
            if not host:
                host = authority
        self.method = method
        self.uri = uri
        self.version = version
        if headers is None:
            headers = HTTPHeaders()
        self.headers = headers
        self.body = body or b""
        try:  # (a server's connection and context have these: no getattr calls)
            context = connection.context  # type: ignore[union-attr]
            remote_ip = context.remote_ip
            protocol = context.protocol
        except AttributeError:
            context = getattr(connection, "context", None)
            remote_ip = getattr(context, "remote_ip", None)
            protocol = getattr(context, "protocol", "http")
        self.remote_ip: str | None = remote_ip
        self.protocol: str = protocol
        if not host:
            hosts = headers._as_list.get("Host")
            host = (hosts[0] if len(hosts) == 1 else ",".join(hosts)) if hosts else None
            host = host or "127.0.0.1"
        self.host = host
        host_name = _HOST_NAMES.get(host)
        if host_name is None:
            host_name = split_host_and_port(host.lower())[0]
            if len(_HOST_NAMES) < _HOST_NAMES_MAX:
                _HOST_NAMES[host] = host_name
        self.host_name = host_name
        self.files: dict[str, list[HTTPFile]] = files or {}
        self.connection = connection
        self.server_connection = server_connection
        self._start_time = time.time()
        if uri is not None:
            self.path, _, self.query = uri.partition("?")
        else:
            self.path = self.query = ""
        self.body_arguments: dict[str, list[bytes]] = {}

    # -- lazily parsed parts -----------------------------------------------

    @property
    def query_arguments(self) -> dict[str, list[bytes]]:
        """The arguments from the query string, ``name -> [bytes]``.

        Parsed on first access (blank values kept).

        :raises TooManyArgumentsError: if the query has more fields than
            :data:`DEFAULT_MAX_ARGUMENTS`; a server answers 400.

        .. versionadded:: 0.1.0
        """
        args = self._query_arguments
        if args is None:
            args = self._query_arguments = _parse_query_arguments(self.query)
        return args

    @query_arguments.setter
    def query_arguments(self, value: dict[str, list[bytes]]) -> None:
        self._query_arguments = value

    @property
    def arguments(self) -> dict[str, list[bytes]]:
        """The query and body arguments together, ``name -> [bytes]``.

        Built on first access; body values follow query values.

        :raises TooManyArgumentsError: as :attr:`query_arguments`.

        .. versionadded:: 0.1.0
        """
        args = self._arguments
        if args is None:
            # (Lists are copied: appending here must not change the others.
            # One source alone, the usual case, is copied in C.)
            query = self.query_arguments
            body = self.body_arguments
            if not body or not query:
                source = body or query
                args = dict(zip(source, map(list, source.values()), strict=True))
            else:
                args = {name: list(values) for name, values in query.items()}
                for name, values in body.items():
                    merged = args.get(name)
                    if merged is None:
                        args[name] = list(values)
                    else:
                        merged.extend(values)
            self._arguments = args
        return args

    @arguments.setter
    def arguments(self, value: dict[str, list[bytes]]) -> None:
        self._arguments = value

    def _argument_source(self) -> dict[str, list[bytes]]:
        """Where to read an argument (``RequestHandler.get_argument``), without copying.

        :attr:`arguments` once built; until then, when the arguments all
        come from one source -- the query string, or the body when there is
        no query string -- that source, of which :attr:`arguments` would
        be a copy. Otherwise :attr:`arguments`, built now.
        """
        args = self._arguments
        if args is not None:
            return args
        body = self.body_arguments
        if not body:
            return self.query_arguments
        if not self.query and not self._query_arguments:
            return body
        return self.arguments

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel[str]]:
        """The cookies sent with the request, as :class:`http.cookies.Morsel` objects.

        Parsed on first access with :func:`parse_cookie`; several ``Cookie``
        fields are combined. Cookies whose names :mod:`http.cookies` refuses
        are skipped. Never raises.

        .. versionadded:: 0.1.0
        """
        jar = self._cookies
        if jar is None:
            jar = http.cookies.SimpleCookie()
            values = self.headers.get_list("Cookie")
            if values:
                for name, value in parse_cookie("; ".join(values)).items():
                    try:
                        jar[name] = value
                    except http.cookies.CookieError:
                        pass
            self._cookies = jar
        return jar

    # -- body --------------------------------------------------------------

    def _parse_body(self) -> None:
        """Parse :attr:`body` into :attr:`body_arguments` and :attr:`files`.

        Called by the server layer once the whole body has arrived; the
        body arguments are also added to :attr:`arguments`.

        :raises HTTPInputError: (a subclass) for a malformed or oversized
            form body; a server answers with its ``status_code``.
        """
        fields = self.headers._as_list
        content_types = fields.get("Content-Type")
        if not content_types:
            return
        content_type = content_types[0] if len(content_types) == 1 else ",".join(content_types)
        if (
            content_type == "application/x-www-form-urlencoded"
            and "Content-Encoding" not in fields
            and self._arguments is None
            and not self.body_arguments
        ):
            # The usual form, inline: what parse_body_arguments does with it
            # (anything to merge with takes the general way).
            body = self.body
            if len(body) >= _settings.DEFAULT_MAX_ARGUMENTS:
                _check_argument_count(body, None, "urlencoded body")
            self.body_arguments.update(_parse_form(body))
            return
        parse_body_arguments(
            content_type,
            self.body,
            self.body_arguments,
            self.files,
            self.headers,
        )
        if self._arguments is not None:
            for name, values in self.body_arguments.items():
                self._arguments.setdefault(name, []).extend(values)

    # -- information -------------------------------------------------------

    def supports_http_1_1(self) -> bool:
        """Return whether the request was made with HTTP/1.1.

        .. deprecated:: 0.1.0
           Compare :attr:`version` with ``"HTTP/1.1"`` instead.

        .. versionadded:: 0.1.0
        """
        return self.version == "HTTP/1.1"

    def full_url(self) -> str:
        """Return the URL the request was made to, rebuilt from its parts.

        >>> HTTPServerRequest("GET", "/a?b=1", headers=HTTPHeaders(Host="x:8")).full_url()
        'http://x:8/a?b=1'

        .. versionadded:: 0.1.0
        """
        return f"{self.protocol}://{self.host}{self.uri or ''}"

    def request_time(self) -> float:
        """Return the seconds the request took (so far, if not finished).

        .. versionadded:: 0.1.0
        """
        end = time.time() if self._finish_time is None else self._finish_time
        return end - self._start_time

    def get_ssl_certificate(self, binary_form: bool = False) -> Any:
        """Return the client's TLS certificate, or ``None``.

        Only available over TLS when the server was set up to request
        client certificates (``ssl.CERT_OPTIONAL`` or ``CERT_REQUIRED``).

        :param binary_form: return the DER bytes instead of the decoded
            dict (see :meth:`ssl.SSLSocket.getpeercert`).

        .. versionadded:: 0.1.0
        """
        stream = getattr(self.connection, "stream", None)
        sock = getattr(stream, "socket", None)
        getpeercert = getattr(sock, "getpeercert", None)
        if getpeercert is None:
            return None
        try:
            return getpeercert(binary_form=binary_form)
        except (ValueError, OSError):
            return None

    # -- deprecated writing API (Tornado 4/5) ------------------------------

    def write(
        self, chunk: bytes, callback: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        """Write ``chunk`` to the response through :attr:`connection`.

        :raises HTTPOutputError: if the request has no connection.

        .. deprecated:: 0.1.0
           Use :attr:`connection` (``write_headers``/``write``) or, in a
           web application, ``RequestHandler.write``.

        .. versionadded:: 0.1.0
        """
        return self._require_connection().write(chunk, callback=callback)

    def finish(self) -> None:
        """Finish the response through :attr:`connection`.

        :raises HTTPOutputError: if the request has no connection.

        .. deprecated:: 0.1.0
           Use :attr:`connection` ``.finish()`` or, in a web application,
           ``RequestHandler.finish``.

        .. versionadded:: 0.1.0
        """
        self._require_connection().finish()
        self._finish_time = time.time()

    def _require_connection(self) -> HTTPConnection:
        if self.connection is None:
            raise HTTPOutputError("this request has no connection to write to")
        return self.connection

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("protocol", "host", "method", "uri", "version", "remote_ip")
        )
        return f"{type(self).__name__}({fields})"
