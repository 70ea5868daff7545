"""The response side of a request handler: status, headers, body, errors.

:class:`_OutputHandler` is the lowest layer of ``RequestHandler`` (the
layers are ``_output`` <- ``_cookies`` <- ``_xsrf`` <- ``_render`` <-
``_handler``); it owns the state of the response being built.

Hot path: ``write()`` appends bytes to a list; ``finish()`` computes the
ETag (a SHA-1 over the pieces), sets ``Content-Length`` and hands the
status line, the headers and the whole body to the connection in one
``write_headers`` call. The ``Date`` header is left to the connection,
which formats it at most once a second.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import http.cookies
import logging
import re
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from squall._version_web import __version__
from squall.escape import json_encode, utf8, xhtml_escape
from squall.httputil import (
    HTTPHeaders,
    HTTPServerRequest,
    ResponseStartLine,
    format_timestamp,
    responses,
)
from squall.log import access_log, app_log, gen_log
from squall.web._errors import HTTPError, MissingSettingError, UnsafeHeaderError, UsageError

if TYPE_CHECKING:
    from squall.web._application import Application
    from squall.web._transforms import OutputTransform

__all__: list[str] = []

_SERVER = f"SquallServer/{__version__}"
_HTML = "text/html; charset=UTF-8"


_headers_of = HTTPHeaders._of


def _default_headers() -> HTTPHeaders:
    """The headers every response starts with, in a new object."""
    return _headers_of({"Server": [_SERVER], "Content-Type": [_HTML]})


# Control characters other than HTAB may not appear in a field value.
_UNSAFE_VALUE_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_MAX = 512

# The last body tagged by the default compute_etag and its tag: a handler
# answering the same bytes again (a status page, a cached document) gets the
# tag back for a comparison instead of a SHA-1 pass. One immutable pair,
# swapped whole, so threads running loops of their own read a consistent one;
# only bodies up to _ETAG_MEMO_MAX bytes are kept (the memo holds one alive).
_etag_memo: tuple[bytes, str] = (b"", '"da39a3ee5e6b4b0d3255bfef95601890afd80709"')
_ETAG_MEMO_MAX = 64 * 1024


def _body_etag(body: bytes) -> str:
    """The default entity tag of ``body``: its SHA-1 in hex, in double quotes."""
    global _etag_memo
    memo = _etag_memo
    if body == memo[0]:
        return memo[1]
    etag = f'"{hashlib.sha1(body).hexdigest()}"'
    if type(body) is bytes and len(body) <= _ETAG_MEMO_MAX:
        _etag_memo = (body, etag)
    return etag


# Entity tags in If-None-Match: "*" or an optionally weak quoted tag.
_ETAG_RE = re.compile(rb'\*|(?:W/)?"[^"]*"')

# Status lines are immutable named tuples: build each one once.
_START_LINES: dict[tuple[int, str], ResponseStartLine] = {}

_INFO = logging.INFO
_WARNING = logging.WARNING
_ERROR = logging.ERROR

_OK_LINE = ResponseStartLine("HTTP/1.1", 200, "OK")

_NO_TRANSFORMS: tuple[OutputTransform, ...] = ()

# Headers that describe the representation, dropped from 204 and 304 responses.
_REPRESENTATION_HEADERS = ("Content-Encoding", "Content-Language", "Content-Type")

# What each handler class allows, for the Allow header of a 405.
_ALLOWED_CACHE: dict[type, str] = {}


def _check_header_name(name: str) -> None:
    if name in _GOOD_NAMES:
        return
    if not name or not _TOKEN_CHARS.issuperset(name):
        raise UnsafeHeaderError(f"invalid header name {name!r}: a name must be an HTTP token")
    if len(_GOOD_NAMES) < _GOOD_NAMES_MAX:
        _GOOD_NAMES.add(name)


def _header_value(name: str, value: Any) -> str:
    """Convert a header value to ``str`` and refuse one that could split the response."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        text = value.decode("latin-1")
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, datetime.datetime):
        return format_timestamp(value)
    else:
        raise TypeError(f"unsupported value for header {name!r}: {value!r}")
    if _UNSAFE_VALUE_RE.search(text) is not None:
        raise UnsafeHeaderError(
            f"unsafe value for header {name!r}: {text!r} "
            "(CR, LF and other control characters are not allowed)"
        )
    if not text.isascii():
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            raise UnsafeHeaderError(
                f"value for header {name!r} cannot be encoded in ISO-8859-1: {text!r}"
            ) from None
    return text


def _start_line(code: int, reason: str) -> ResponseStartLine:
    key = (code, reason)
    line = _START_LINES.get(key)
    if line is None:
        line = ResponseStartLine("HTTP/1.1", code, reason)
        if len(_START_LINES) < 256:
            _START_LINES[key] = line
    return line


def _done_future() -> asyncio.Future[None]:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        from squall.ioloop import IOLoop

        loop = IOLoop.current().asyncio_loop
    future: asyncio.Future[None] = loop.create_future()
    future.set_result(None)
    return future


class _OutputHandler:
    """State and output methods of a request handler (see ``RequestHandler``)."""

    application: Application
    request: HTTPServerRequest
    _headers: HTTPHeaders
    _write_buffer: list[bytes]
    # (Class-level defaults: set_status and clear store per instance.)
    _status_code: int = 200
    _reason: str = "OK"
    SUPPORTED_METHODS: Sequence[str]

    # The state below is set by ``RequestHandler.__init__`` in one place;
    # what rarely changes is a class attribute until it does.
    _headers_written = False
    _finished = False
    _auto_finish = True
    _connection_closed = False
    _close_callback_set = False
    _transforms: Sequence[OutputTransform] = _NO_TRANSFORMS
    _new_cookie: dict[str, http.cookies.Morsel[str]] | None = None
    _ui: Any = None

    # -- settings ------------------------------------------------------------

    @property
    def settings(self) -> dict[str, Any]:
        """The application's settings (``self.application.settings``).

        .. versionadded:: 0.1.0
        """
        return self.application.settings

    def require_setting(self, name: str, feature: str = "this feature") -> None:
        """Raise unless the application has a true setting called ``name``.

        :raises MissingSettingError: naming the setting and ``feature``.

        .. versionadded:: 0.1.0
        """
        if not self.application.settings.get(name):
            raise MissingSettingError(
                f"you must define the {name!r} setting in your application to use {feature}"
            )

    # -- status and headers --------------------------------------------------

    def clear(self) -> None:
        """Reset the headers, status and body written so far to their defaults.

        Calls :meth:`set_default_headers`. Used before an error page.

        .. versionadded:: 0.1.0
        """
        self._headers = _default_headers()
        self._new_cookie = None
        self.set_default_headers()
        self._write_buffer = []
        self._status_code = 200
        self._reason = "OK"

    def set_default_headers(self) -> None:
        """Hook: set headers every response of this handler starts with.

        Called when the handler is created and on every :meth:`clear`
        (before an error page), so headers set here survive errors. The
        default does nothing.

        .. versionadded:: 0.1.0
        """

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the status of the response.

        :param status_code: an HTTP status code, 100 to 599.
        :param reason: the reason phrase; by default the standard one for
            the code, or ``"Unknown"``.
        :raises UsageError: for a code outside 100-599.
        :raises UnsafeHeaderError: for a reason with control characters.

        .. versionadded:: 0.1.0
        """
        if not isinstance(status_code, int) or not 100 <= status_code <= 599:
            raise UsageError(f"invalid HTTP status code {status_code!r}")
        self._status_code = status_code
        if reason is None:
            self._reason = responses.get(status_code, "Unknown")
        else:
            self._reason = _header_value("reason phrase", reason)

    def get_status(self) -> int:
        """Return the status code of the response.

        .. versionadded:: 0.1.0
        """
        return self._status_code

    def set_header(self, name: str, value: Any) -> None:
        """Set a response header, replacing any value it had.

        :param value: a ``str``, ``bytes`` (Latin-1), ``int`` or
            :class:`datetime.datetime` (formatted as an HTTP date).
        :raises UnsafeHeaderError: (a :class:`ValueError`) naming the header,
            if the value has CR, LF or another control character, or the
            name is not a token.
        :raises TypeError: for a value of another type.

        .. versionadded:: 0.1.0
        """
        _check_header_name(name)
        self._headers[name] = _header_value(name, value)

    def add_header(self, name: str, value: Any) -> None:
        """Add a value to a response header, keeping the ones it has.

        :raises UnsafeHeaderError: as :meth:`set_header`.

        .. versionadded:: 0.1.0
        """
        _check_header_name(name)
        self._headers.add(name, _header_value(name, value))

    def clear_header(self, name: str) -> None:
        """Remove a response header (and all its values), if set.

        .. versionadded:: 0.1.0
        """
        if name in self._headers:
            del self._headers[name]

    # -- body ------------------------------------------------------------------

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Add ``chunk`` to the response body (sent by :meth:`flush` or :meth:`finish`).

        ``str`` is encoded as UTF-8. A ``dict`` is written as JSON, with
        ``Content-Type: application/json; charset=UTF-8`` (lists are
        refused: a top-level JSON array was a cross-site leak in old
        browsers; wrap it in a dict).

        :raises UsageError: after :meth:`finish`.
        :raises TypeError: for any other type.

        .. versionadded:: 0.1.0
        """
        if self._finished:
            raise UsageError("cannot write() after finish()")
        kind = type(chunk)
        if kind is bytes:
            self._write_buffer.append(chunk)  # type: ignore[arg-type]
        elif kind is str:
            self._write_buffer.append(chunk.encode())  # type: ignore[union-attr]
        elif isinstance(chunk, dict):
            self._headers._as_list["Content-Type"] = ["application/json; charset=UTF-8"]
            self._write_buffer.append(json_encode(chunk).encode())
        elif isinstance(chunk, (bytes, str)):
            self._write_buffer.append(utf8(chunk))
        else:
            message = "write() only accepts bytes, str and dict objects"
            if isinstance(chunk, list):
                message += " (wrap a list in a dict: top-level JSON arrays are not written)"
            raise TypeError(f"{message}, not {kind.__name__}")

    def flush(
        self, include_footers: bool = False, callback: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        """Send what has been written so far to the client.

        The first flush sends the status line and headers too. Later
        :meth:`set_header` calls have no effect on what was sent.

        :param include_footers: whether this is the last piece (used by
            :meth:`finish`).
        :param callback: Tornado 4 style: called with no arguments once the
            data is written.
        :returns: a Future resolved once the data has been written to the
            socket; await it for flow control.
        :raises UsageError: if the request has no connection.

        .. versionadded:: 0.1.0
        """
        connection = self.request.connection
        if connection is None:
            raise UsageError("this request has no connection to write to")
        buffer = self._write_buffer
        chunk = buffer[0] if len(buffer) == 1 else b"".join(buffer)
        self._write_buffer = []
        if not self._headers_written:
            self._headers_written = True
            if self._transforms:
                status = self._status_code
                headers = self._headers
                for transform in self._transforms:
                    status, headers, chunk = transform.transform_first_chunk(
                        status, headers, chunk, include_footers
                    )
                self._status_code = status
                self._headers = headers
            if self.request.method == "HEAD":
                chunk = b""
            cookies = self._new_cookie
            if cookies:
                for morsel in cookies.values():
                    self._headers.add("Set-Cookie", morsel.OutputString(None))
            status = self._status_code
            return connection.write_headers(
                _OK_LINE
                if status == 200 and self._reason == "OK"
                else _start_line(status, self._reason),
                self._headers,
                chunk,
                callback,
            )
        for transform in self._transforms:
            chunk = transform.transform_chunk(chunk, include_footers)
        if self.request.method == "HEAD":
            future = _done_future()
            if callback is not None:
                callback()
            return future
        return connection.write(chunk, callback=callback)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> asyncio.Future[None]:
        """Finish the response: write ``chunk`` if given, send everything, end it.

        For a ``GET`` or ``HEAD`` answered 200 whose headers have not been
        sent yet, sets the ``Etag`` header from :meth:`compute_etag` and
        answers 304 with no body when the request's ``If-None-Match``
        matches it. Sets ``Content-Length`` unless the body was streamed
        with :meth:`flush` (then the connection uses chunked encoding).
        Then logs the request, and calls :meth:`on_finish`.

        :returns: a Future resolved once the response is written.
        :raises UsageError: if called twice, or with a body for a status
            that cannot have one (1xx, 204, 304).

        .. versionadded:: 0.1.0
        """
        if self._finished:
            raise UsageError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        request = self.request
        cls = type(self)
        if not self._headers_written:
            status = self._status_code
            headers = self._headers
            # (HTTPHeaders keys are canonical names: look them up directly.)
            fields = headers._as_list
            if status == 200 and request.method in ("GET", "HEAD") and "Etag" not in fields:
                # Hooks are looked up on the class: a default one is skipped
                # or done inline when that saves work.
                if (
                    cls.compute_etag is not _DEFAULT_COMPUTE_ETAG
                    or cls.set_etag_header is not _DEFAULT_SET_ETAG_HEADER
                ):
                    self.set_etag_header()
                    not_modified = self.check_etag_header()
                else:
                    # The default tag needs no checking; If-None-Match is rare.
                    buffer = self._write_buffer
                    body = buffer[0] if len(buffer) == 1 else b"".join(buffer)
                    memo = _etag_memo  # (_body_etag's memo, inline)
                    fields["Etag"] = [memo[1] if body == memo[0] else _body_etag(body)]
                    not_modified = (
                        "If-None-Match" in request.headers._as_list and self.check_etag_header()
                    )
                if not_modified:
                    self._write_buffer = []
                    self.set_status(304)
                    status = 304
            if status in (204, 304) or status < 200:
                if any(self._write_buffer):
                    raise UsageError(f"cannot send a body with status {status}")
                self._write_buffer = []
                for name in _REPRESENTATION_HEADERS:
                    if name in headers:
                        del headers[name]
            elif "Content-Length" not in fields:
                buffer = self._write_buffer
                length = len(buffer[0]) if len(buffer) == 1 else sum(map(len, buffer))
                fields["Content-Length"] = [str(length)]
        future = self.flush(True)  # (include_footers, positionally: cheaper)
        self._finished = True
        try:
            request.connection.finish()  # type: ignore[union-attr]  # flush checked it
        finally:
            application = self.application
            if (
                application._plain_access_log
                and cls.get_status is _DEFAULT_GET_STATUS
                and cls._request_summary is _DEFAULT_REQUEST_SUMMARY
            ):
                # Application.log_request, minus the calls when it would not log.
                status = self._status_code
                level = _INFO if status < 400 else _WARNING if status < 500 else _ERROR
                if access_log.isEnabledFor(level) or "log_function" in application.settings:
                    application.log_request(self)  # type: ignore[arg-type]
            else:
                application.log_request(self)  # type: ignore[arg-type]
            if cls.on_finish is not _DEFAULT_ON_FINISH:
                self.on_finish()
            if self._close_callback_set or self._ui is not None:
                self._break_cycles()
        return future

    def on_finish(self) -> None:
        """Hook called once the response has been sent (to clean up, log, ...).

        .. versionadded:: 0.1.0
        """

    def _log(self) -> None:
        self.application.log_request(self)  # type: ignore[arg-type]

    def _request_summary(self) -> str:
        request = self.request
        return f"{request.method} {request.uri} ({request.remote_ip})"

    def _break_cycles(self) -> None:
        # The connection's close callback points back at the handler.
        if self._close_callback_set:
            self._close_callback_set = False
            self.request.connection.set_close_callback(None)  # type: ignore[union-attr]
        # The ui methods' closures point back at the handler.
        self._ui = None

    def detach(self) -> Any:
        """Take over the connection's stream (to speak another protocol on it).

        After this, the handler writes nothing more and the HTTP server
        neither reads from nor closes the stream.

        :returns: the ``squall.iostream.IOStream``.

        .. versionadded:: 0.1.0
        """
        self._break_cycles()
        self._finished = True
        connection = self.request.connection
        if connection is None:
            raise UsageError("this request has no connection to detach")
        return connection.detach()

    # -- redirects -------------------------------------------------------------

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Redirect the client to ``url`` and finish.

        :param url: the target, sent as it is in ``Location`` (a relative
            URL is resolved by the client).
        :param permanent: 301 instead of 302.
        :param status: any 3xx code, instead of the two above.
        :raises UsageError: after the headers were sent, or for a status
            outside 300-399.
        :raises UnsafeHeaderError: if the URL holds CR, LF or control
            characters.

        .. versionadded:: 0.1.0
        """
        if self._headers_written:
            raise UsageError("cannot redirect after the headers have been written")
        if status is None:
            status = 301 if permanent else 302
        elif not isinstance(status, int) or not 300 <= status <= 399:
            raise UsageError(f"a redirect status must be 3xx, not {status!r}")
        self.set_header("Location", utf8(url))
        self.set_status(status)
        self.finish()

    # -- ETags -------------------------------------------------------------------

    def compute_etag(self) -> str | None:
        """Return the entity tag of the response body, or ``None`` for none.

        The default is a SHA-1 over the body written so far. Override it to
        use a cheaper tag, or to return ``None`` to send no ``Etag``.

        .. versionadded:: 0.1.0
        """
        buffer = self._write_buffer
        return _body_etag(buffer[0] if len(buffer) == 1 else b"".join(buffer))

    def set_etag_header(self) -> None:
        """Set the ``Etag`` header from :meth:`compute_etag`, unless it returns ``None``.

        .. versionadded:: 0.1.0
        """
        compute = self.compute_etag
        etag = compute()
        if etag is not None:
            if getattr(compute, "__func__", None) is _OutputHandler.compute_etag:
                self._headers["Etag"] = etag  # our own tag needs no checking
            else:
                self.set_header("Etag", etag)

    def check_etag_header(self) -> bool:
        """Return whether the request's ``If-None-Match`` matches the ``Etag`` header set.

        Weak comparison (RFC 9110 13.1.2): ``W/"x"`` matches ``"x"``; ``*``
        matches any tag.

        .. versionadded:: 0.1.0
        """
        if_none_match = self.request.headers.get("If-None-Match")
        if not if_none_match:
            return False
        computed = self._headers.get("Etag")
        if not computed:
            return False
        tags = _ETAG_RE.findall(utf8(if_none_match))
        if not tags:
            return False
        if tags[0] == b"*":
            return True
        mine = utf8(computed)
        if mine.startswith(b"W/"):
            mine = mine[2:]
        return any((tag[2:] if tag.startswith(b"W/") else tag) == mine for tag in tags)

    def _clear_representation_headers(self) -> None:
        for name in _REPRESENTATION_HEADERS:
            self.clear_header(name)

    # -- errors ----------------------------------------------------------------

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Answer with an error page, replacing whatever was written.

        Clears the response, sets the status and calls :meth:`write_error`
        to render the page, then finishes. If the headers were already
        sent, it can only end the response (and logs that).

        :param status_code: the status of the error.
        :param kwargs: passed to :meth:`write_error`; ``exc_info`` when an
            exception caused the error, ``reason`` for the reason phrase.

        .. versionadded:: 0.1.0
        """
        if self._headers_written:
            gen_log.error("Cannot send error response after headers written")
            if not self._finished:
                try:
                    self.finish()
                except Exception:
                    gen_log.error("Failed to flush partial response", exc_info=True)
            return
        self.clear()
        reason = kwargs.get("reason")
        exc_info = kwargs.get("exc_info")
        if exc_info is not None:
            exception = exc_info[1]
            if isinstance(exception, HTTPError) and exception.reason:
                reason = exception.reason
        try:
            self.set_status(status_code, reason=reason)
        except ValueError:  # UsageError or UnsafeHeaderError: a broken reason or code
            self.set_status(500)
            status_code = 500
        if status_code == 405:
            self._headers["Allow"] = self._allowed_methods()
        try:
            self.write_error(status_code, **kwargs)
        except Exception:
            app_log.error("Uncaught exception in write_error", exc_info=True)
        if not self._finished:
            self.finish()

    def _allowed_methods(self) -> str:
        cls = type(self)
        allowed = _ALLOWED_CACHE.get(cls)
        if allowed is None:
            names = []
            for method in self.SUPPORTED_METHODS:
                function = getattr(cls, method.lower(), None)
                if function is not None and not getattr(function, "_squall_unimplemented", False):
                    names.append(method)
            allowed = _ALLOWED_CACHE[cls] = ", ".join(names)
        return allowed

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Write the page of an error response; override it for your own pages.

        The default writes a small HTML page with the status code and
        reason; with the ``serve_traceback`` setting (implied by ``debug``)
        and an exception, the traceback as plain text instead.

        :param status_code: the status being sent.
        :param kwargs: ``exc_info``, a ``(type, value, traceback)`` triple,
            when an exception caused the error.

        .. versionadded:: 0.1.0
        """
        exc_info = kwargs.get("exc_info")
        if self.settings.get("serve_traceback") and exc_info:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            for line in traceback.format_exception(*exc_info):
                self.write(line)
            self.finish()
            return
        message = xhtml_escape(self._reason)
        self.finish(
            f"<html><title>{status_code}: {message}</title>"
            f"<body>{status_code}: {message}</body></html>"
        )


_DEFAULT_COMPUTE_ETAG = _OutputHandler.compute_etag
_DEFAULT_SET_ETAG_HEADER = _OutputHandler.set_etag_header
_DEFAULT_GET_STATUS = _OutputHandler.get_status
_DEFAULT_REQUEST_SUMMARY = _OutputHandler._request_summary
_DEFAULT_ON_FINISH = _OutputHandler.on_finish
_DEFAULT_SET_DEFAULT_HEADERS = _OutputHandler.set_default_headers
