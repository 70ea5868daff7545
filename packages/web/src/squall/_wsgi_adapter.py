"""WSGIAdapter: a Squall web application served by a WSGI server (PEP 3333).

Re-exported by :mod:`squall.wsgi`; see :class:`WSGIAdapter` there.

Strategy. The adapter plays the part of the HTTP server for one request:
it turns the ``environ`` into an :class:`~squall.httputil.HTTPServerRequest`,
routes it with ``Application.find_handler``, and drives the delegate it
gets through the :class:`~squall.httputil.HTTPMessageDelegate` calls the
HTTP/1.1 connection would make (head, whole body, end). The handler writes
into a :class:`_ResponseBuffer`, an :class:`~squall.httputil.HTTPConnection`
that keeps the response in memory; when the handler has finished, the
buffer becomes the ``start_response`` call and the body list.

The request runs on a private asyncio loop, made current but not running
while the delegate is driven, so a synchronous handler runs exactly as
under Tornado 5's adapter: no loop is running, and it may block (a
blocking ``HTTPClient`` works). Whatever the handler left for the loop (a
coroutine method's Task, ``add_callback`` callbacks, done callbacks of
``flush(callback=...)``) then runs until the loop has nothing ready: the
loop's selector, :class:`_IdleSelector`, stops it as soon as the loop asks
to wait (for I/O or a timer), so the adapter never waits. A response still
unfinished then is abandoned: the handler gets ``on_connection_close``,
every Task of the loop is cancelled and run to its end (no "never awaited"
or "Task was destroyed" reports), the loop is closed, and
:class:`WSGIAdapterError` is raised to the WSGI server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import selectors
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from squall.http1connection import BadFramingError, BodyTooLargeError
from squall.httpserver import _DEFAULT_MAX_BODY_SIZE
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
    responses,
)
from squall.httputil._headers import _is_token
from squall.ioloop import AsyncIOMainLoop, IOLoop
from squall.log import app_log, gen_log
from squall.web._errors import WebError
from squall.web._output import _UNSAFE_VALUE_RE

if TYPE_CHECKING:
    from squall.web import Application

__all__ = ["WSGIAdapter", "WSGIAdapterError"]

_StartResponse = Callable[..., Callable[[bytes], None]]

_READ_SIZE = 65536

# Headers about one connection, not the response (RFC 9110 7.6.1): PEP
# 3333 forbids an application to send them; the WSGI server sets its own.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

# PATH_INFO is percent-decoded: encode again all but what a path segment
# may hold as it is (RFC 3986 pchar) and "/". QUERY_STRING is raw: encode
# only what cannot appear in a request line (controls, space, non-ASCII).
_PATH_SAFE = "/:@!$&'()*+,;="
_QUERY_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))


class WSGIAdapterError(WebError):
    """A handler run by :class:`WSGIAdapter` cannot be answered under WSGI.

    Raised to the WSGI server (which answers 500) when the handler did not
    finish its response synchronously: it is ``@asynchronous`` and finishes
    later, or its coroutine waits for I/O or a timer. The message names the
    handler and the request. Also raised for a route to a
    ``@stream_request_body`` handler (a ``WebSocketHandler`` is one), which
    needs the body, or the connection, as it arrives.

    .. versionadded:: 0.1.0
    """


class WSGIAdapter:
    """Makes a :class:`~squall.web.Application` a WSGI application (PEP 3333).

    The Tornado 5 ``tornado.wsgi.WSGIAdapter``, which Tornado 6 removed::

        application = squall.web.Application([(r"/", MainHandler)])
        wsgi_app = squall.wsgi.WSGIAdapter(application)
        # then serve wsgi_app with gunicorn, uWSGI, mod_wsgi, wsgiref ...

    Each call ``wsgi_app(environ, start_response)`` runs one request through
    the application and returns its body as a list of ``bytes`` (empty for
    ``HEAD``, 204 and 304). The request is built as the HTTP server would:
    the URI from ``SCRIPT_NAME`` and ``PATH_INFO`` (percent-encoded again
    from PEP 3333's Latin-1 text) and ``QUERY_STRING``; the headers from
    the ``HTTP_*`` keys, ``CONTENT_TYPE`` and ``CONTENT_LENGTH``; ``host``
    from ``HTTP_HOST``, else ``SERVER_NAME`` and ``SERVER_PORT``;
    ``remote_ip`` from ``REMOTE_ADDR``; ``protocol`` from
    ``wsgi.url_scheme``. Exactly ``CONTENT_LENGTH`` bytes of body are read
    from ``wsgi.input`` (none without it, unless the server sets
    ``wsgi.input_terminated``: then up to the end). Form bodies are parsed,
    and a malformed one is answered by the handler with the status the HTTP
    server would give (400, or 415 for an encoded form). A
    ``CONTENT_LENGTH`` that is not a number, or a body shorter than it, is
    answered 400; a body over ``max_body_size``, 413.

    The response is the handler's: status and reason, headers (each
    ``Set-Cookie`` separately; ``Connection``, ``Transfer-Encoding`` and
    the other hop-by-hop fields left to the WSGI server, which also adds
    ``Date``), and body, with ``Content-Length`` added when the handler
    streamed it with ``flush()`` (the adapter buffers the whole response).
    Errors get the application's error pages, and requests are logged on
    ``squall.access``, as under the HTTP server.

    Only synchronous handlers can be served: the response must be finished
    when the handler returns, or after the work it left ready to run, with
    no waiting for I/O or timers. Plain methods and ``@gen.coroutine`` or
    ``async def`` ones that do not wait qualify; an ``@asynchronous``
    handler finishing later, or a coroutine awaiting the network, a
    ``sleep`` or an executor, does not: the adapter calls its
    ``on_connection_close``, cancels its coroutine and raises
    :class:`WSGIAdapterError`. Nor can ``@stream_request_body`` handlers,
    ``WebSocketHandler`` among them, be served (:class:`WSGIAdapterError`
    too).

    The handler runs on the thread of the call, with a new IOLoop made
    current for the request and closed after it: ``IOLoop.current()``
    returns it, callbacks added to it run before the response is returned
    (or are cancelled if they would wait), and whatever is bound to it (an
    ``AsyncHTTPClient``) lasts one request. No loop is running while a
    synchronous handler runs, so blocking code works in it, the blocking
    ``HTTPClient`` and ``IOLoop.current().run_sync(...)`` included. Called
    from a thread whose event loop is running, the adapter runs the request
    in a helper thread and blocks until it is done.

    :param application: the application.
    :param max_body_size: the largest request body read, in bytes (default
        100 MiB, as ``HTTPServer``).

    .. versionadded:: 0.1.0
    """

    def __init__(self, application: Application, max_body_size: int | None = None) -> None:
        self.application = application
        self.max_body_size = _DEFAULT_MAX_BODY_SIZE if max_body_size is None else max_body_size

    def __call__(self, environ: dict[str, Any], start_response: _StartResponse) -> list[bytes]:
        """Answer one request: the WSGI application interface.

        :param environ: the PEP 3333 environment of the request.
        :param start_response: the WSGI server's callable, called once with
            the status (``"200 OK"``) and the header list.
        :returns: the response body, as a list of ``bytes``.
        :raises WSGIAdapterError: if the handler did not finish its response
            synchronously (see the class documentation).

        .. versionadded:: 0.1.0
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            status, headers, body = self._serve(environ)
        else:
            # Async code called us (WSGIContainer on dummy_executor ...): no
            # second loop can run on this thread, so the request gets one.
            status, headers, body = _in_helper_thread(self._serve, environ)
        start_response(status, headers)
        return body

    def _serve(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        try:
            head = _read_request(environ, self.max_body_size)
        except HTTPInputError as e:
            gen_log.info(
                "Malformed WSGI request from %s: %s", environ.get("REMOTE_ADDR") or "unknown", e
            )
            return _error_response(e.status_code)
        selector = _IdleSelector()
        loop = asyncio.SelectorEventLoop(selector)
        io_loop = AsyncIOMainLoop(asyncio_loop=loop)
        previous = IOLoop.current(instance=False)
        io_loop.make_current()
        connection = _ResponseBuffer(loop, head.method == "HEAD", head.remote_ip, head.protocol)
        try:
            request = HTTPServerRequest(
                head.method,
                head.uri,
                head.version,
                head.headers,
                None,
                head.host,
                connection=connection,
            )
            name = self._deliver(request, head.body, connection)
            _run_until_idle(loop, selector)  # what the handler left ready
            if not connection.finished:
                connection.abandon()
                if connection.error is None:
                    raise WSGIAdapterError(
                        f"{name} did not finish {_summary(request)} synchronously: under "
                        "WSGIAdapter a handler must finish its response before it returns, "
                        "without waiting for I/O or timers (no @asynchronous finish later, "
                        "no awaiting the network, a sleep or an executor); serve the "
                        "application with squall.httpserver.HTTPServer instead"
                    )
        finally:
            try:
                _shut_down(loop, selector)
            finally:
                io_loop.close()
                if previous is None:
                    IOLoop.clear_current()
                else:
                    previous.make_current()
        if connection.error is not None:
            app_log.error(
                "Broken response of %s to %s under WSGIAdapter: %s",
                name,
                _summary(request),
                connection.error,
            )
            return _error_response(500)
        return connection.wsgi_response()

    def _deliver(self, request: HTTPServerRequest, body: bytes, connection: _ResponseBuffer) -> str:
        """Route ``request`` and feed it to its delegate; return the handler's name."""
        delegate = self.application.find_handler(request)
        if delegate is None:  # (a plain Router; an Application always answers)
            connection.answer_error(404)
            return "no route"
        name = _handler_name(delegate)
        if getattr(delegate, "stream_request_body", False):
            raise WSGIAdapterError(
                f"{name} streams its request body (@stream_request_body, as WebSocketHandler "
                "does), which WSGIAdapter cannot serve: the WSGI server reads the body "
                "before the application runs, and gives no stream to take over"
            )
        start_line = RequestStartLine(request.method or "GET", request.uri or "/", request.version)
        try:
            connection.keep(delegate.headers_received(start_line, request.headers))
            if body:
                connection.keep(delegate.data_received(body))
            delegate.finish()
        except HTTPInputError as e:
            # The delegate refused the request (a handler answers body
            # errors itself): what the HTTP connection does.
            gen_log.info("Malformed HTTP message from %s: %s", request.remote_ip, e)
            connection.answer_error(e.status_code)
        return name


# -- the request -------------------------------------------------------------


class _Head(NamedTuple):
    method: str
    uri: str
    version: str
    headers: HTTPHeaders
    host: str | None
    remote_ip: str | None
    protocol: str
    body: bytes


def _read_request(environ: dict[str, Any], max_body_size: int) -> _Head:
    """The request in ``environ``, its body read.

    :raises HTTPInputError: (``BadFramingError``, ``BodyTooLargeError``)
        for a bad ``CONTENT_LENGTH`` or body.
    """
    script = environ.get("SCRIPT_NAME") or ""
    path = _quote(script + (environ.get("PATH_INFO") or ""), _PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    query = environ.get("QUERY_STRING") or ""
    uri = f"{path}?{_quote(query, _QUERY_SAFE)}" if query else path
    scheme = environ.get("wsgi.url_scheme") or "http"
    headers = HTTPHeaders()
    for key, value in environ.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue  # (CONTENT_TYPE and CONTENT_LENGTH are the ones that count)
            headers.add(key[5:].replace("_", "-"), value)
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        headers["Content-Type"] = content_type
    length_text = (environ.get("CONTENT_LENGTH") or "").strip()
    if length_text:
        if not (length_text.isascii() and length_text.isdigit()):
            raise BadFramingError(f"invalid CONTENT_LENGTH {length_text!r}")
        # (Checked before int(): a few thousand digits would make it raise.)
        length = int(length_text) if len(length_text) <= 18 else max_body_size + 1
        if length > max_body_size:
            raise BodyTooLargeError("body too large", max_body_size, "max_body_size")
        headers["Content-Length"] = str(length)
        body = _read_exactly(environ["wsgi.input"], length) if length else b""
    elif environ.get("wsgi.input_terminated"):
        body = _read_to_end(environ["wsgi.input"], max_body_size)
    else:
        body = b""
    host = environ.get("HTTP_HOST")
    if not host:
        name = environ.get("SERVER_NAME") or ""
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"  # an IPv6 address
        port = environ.get("SERVER_PORT") or ""
        default = (scheme == "http" and port == "80") or (scheme == "https" and port == "443")
        host = f"{name}:{port}" if name and port and not default else name
    return _Head(
        method=environ["REQUEST_METHOD"],
        uri=uri,
        version=environ.get("SERVER_PROTOCOL") or "HTTP/1.0",
        headers=headers,
        host=host or None,
        remote_ip=environ.get("REMOTE_ADDR") or None,
        protocol=scheme,
        body=body,
    )


def _quote(text: str, safe: str) -> str:
    try:
        raw = text.encode("latin-1")  # PEP 3333: one code point per octet
    except UnicodeEncodeError:
        raw = text.encode("utf-8")  # (a server that decoded UTF-8 instead)
    return urllib.parse.quote(raw, safe=safe)


def _read_exactly(stream: Any, length: int) -> bytes:
    pieces: list[bytes] = []
    remaining = length
    while remaining:
        piece = stream.read(min(remaining, _READ_SIZE))
        if not piece:
            raise BadFramingError(f"the body ended after {length - remaining} of {length} bytes")
        pieces.append(piece)
        remaining -= len(piece)
    return b"".join(pieces)


def _read_to_end(stream: Any, limit: int) -> bytes:
    pieces: list[bytes] = []
    total = 0
    while True:
        piece = stream.read(_READ_SIZE)
        if not piece:
            return b"".join(pieces)
        total += len(piece)
        if total > limit:
            raise BodyTooLargeError("body too large", limit, "max_body_size")
        pieces.append(piece)


def _handler_name(delegate: HTTPMessageDelegate) -> str:
    handler = getattr(delegate, "handler", None)
    cls = type(handler) if handler is not None else getattr(delegate, "handler_class", None)
    return (cls or type(delegate)).__qualname__


def _summary(request: HTTPServerRequest) -> str:
    return f"{request.method} {request.uri} ({request.remote_ip})"


def _error_page(code: int) -> tuple[str, HTTPHeaders, bytes]:
    """Reason, headers and body of an error page of the adapter's own."""
    reason = responses.get(code, "Unknown")
    body = f"<html><title>{code}: {reason}</title><body>{code}: {reason}</body></html>".encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "text/html; charset=UTF-8"
    headers["Content-Length"] = str(len(body))
    return reason, headers, body


def _error_response(code: int) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """An error response of the adapter's own, for the WSGI server."""
    reason, headers, body = _error_page(code)
    return f"{code} {reason}", list(headers.get_all()), [body]


# -- the response -------------------------------------------------------------


class _Context:
    """What ``HTTPServerRequest`` reads from ``connection.context``."""

    __slots__ = ("protocol", "remote_ip")

    def __init__(self, remote_ip: str | None, protocol: str) -> None:
        self.remote_ip = remote_ip
        self.protocol = protocol


class _ResponseBuffer(HTTPConnection):
    """The connection of one request: keeps the response for ``start_response``.

    Checks what the HTTP/1.1 connection checks (one head, no write after
    ``finish()``, the body against a declared ``Content-Length``, no body
    for 204 and 304) and what WSGI needs (Latin-1 header fields without
    control characters, no 1xx status); a breach raises
    :class:`~squall.httputil.HTTPOutputError` to the handler and is kept
    in :attr:`error`. The futures returned are already done; ``callback``
    arguments run on the loop's next pass.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        is_head: bool,
        remote_ip: str | None,
        protocol: str,
    ) -> None:
        self.loop = loop
        self.is_head = is_head
        self.context = _Context(remote_ip, protocol)
        self.start_line: ResponseStartLine | None = None
        self.headers: HTTPHeaders | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.declared: int | None = None
        self.bodiless = is_head
        self.finished = False
        self.abandoned = False
        self.error: HTTPOutputError | None = None
        self.close_callback: Callable[[], Any] | None = None
        self.tasks: list[asyncio.Future[Any]] = []

    # -- HTTPConnection ----------------------------------------------------------

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
        callback: Callable[[], None] | None = None,
    ) -> asyncio.Future[None]:
        """Keep the status line and headers (and the first piece of the body)."""
        if self.abandoned:
            return self._written(None)
        if self.start_line is not None:
            self._fail("the message head was already written")
        if not isinstance(start_line, ResponseStartLine):
            self._fail("a server writes a ResponseStartLine")
        code = start_line.code
        if code < 200:
            self._fail(
                f"a WSGI application cannot send a {code} response (no informational "
                "responses, no protocol switch: WebSocket needs Squall's HTTP server)"
            )
        _check_field("reason phrase", start_line.reason, self._fail)
        for name, value in headers.get_all():
            if not _is_token(name):
                self._fail(f"invalid header name {name!r}")
            _check_field(f"header {name}", value, self._fail)
        lengths = headers.get_list("Content-Length")
        if lengths:
            text = lengths[0].strip()
            if len(lengths) > 1 or not (text.isascii() and text.isdigit()) or len(text) > 18:
                self._fail(f"invalid Content-Length {', '.join(lengths)!r}")
            self.declared = int(text)
        self.start_line = start_line
        self.headers = headers
        self.bodiless = self.is_head or code in (204, 304)
        if chunk:
            self._append(chunk)
        return self._written(callback)

    def write(
        self, chunk: bytes, callback: Callable[[], None] | None = None
    ) -> asyncio.Future[None]:
        """Keep a piece of the body."""
        if self.abandoned:
            return self._written(None)
        if self.start_line is None:
            self._fail("write() called before write_headers()")
        if self.finished:
            self._fail("write() called after finish()")
        self._append(chunk)
        return self._written(callback)

    def finish(self) -> None:
        """Mark the response complete (checking the declared length)."""
        if self.abandoned:
            return
        if self.start_line is None:
            self._fail("finish() called before write_headers()")
        if self.finished:
            self._fail("finish() called twice")
        declared = self.declared
        if declared is not None and not self.bodiless and self.size != declared:
            self._fail(f"finish() called after {self.size} of {declared} declared bytes")
        self.finished = True
        self.close_callback = None

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback`` if the adapter abandons the response."""
        self.close_callback = callback

    def set_max_body_size(self, max_body_size: int | None) -> None:
        """Do nothing: the body was read before the handler ran."""

    def set_body_timeout(self, timeout: float | None) -> None:
        """Do nothing: the body was read before the handler ran."""

    def detach(self) -> Any:
        """Refuse: WSGI gives no stream to take over."""
        self._fail("a WSGI application has no stream to detach (WebSocket is not supported)")

    # -- for the adapter -----------------------------------------------------------

    def answer_error(self, code: int) -> None:
        """Answer a bare error page, unless the response has begun."""
        if self.start_line is not None or self.abandoned:
            return
        reason, headers, body = _error_page(code)
        self.write_headers(ResponseStartLine("HTTP/1.1", code, reason), headers, body)
        self.finish()

    def keep(self, result: Any) -> None:
        """Leave an awaitable returned by the delegate (flow control) to the loop."""
        if result is not None and not isinstance(result, asyncio.Future):
            self.tasks.append(asyncio.ensure_future(result))

    def abandon(self) -> None:
        """Give the response up: tell the handler, ignore what it writes later."""
        self.abandoned = True
        callback, self.close_callback = self.close_callback, None
        if callback is not None:
            try:
                callback()
            except Exception:
                app_log.exception("Exception in connection close callback")

    def wsgi_response(self) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """The ``start_response`` arguments and the body of the finished response."""
        start_line = self.start_line
        headers = self.headers
        if start_line is None or headers is None:  # pragma: no cover - finish() checks
            raise HTTPOutputError("the response has no head")
        code = start_line.code
        status = f"{code} {start_line.reason or responses.get(code, 'Unknown')}"
        fields = [
            (name, value) for name, value in headers.get_all() if name.lower() not in _HOP_BY_HOP
        ]
        if self.bodiless:
            return status, fields, []
        body = b"".join(self.chunks)
        if self.declared is None:
            fields.append(("Content-Length", str(len(body))))
        return status, fields, [body]

    # -- helpers -------------------------------------------------------------------

    def _append(self, chunk: bytes) -> None:
        if not chunk or self.is_head:
            return  # (a HEAD answer keeps the GET's Content-Length, not its body)
        start_line = self.start_line
        if start_line is not None and start_line.code in (204, 304):
            self._fail(f"a {start_line.code} response cannot have a body")
        declared = self.declared
        if declared is not None and self.size + len(chunk) > declared:
            self._fail(f"tried to write more data than Content-Length ({declared})")
        self.chunks.append(chunk)
        self.size += len(chunk)

    def _written(self, callback: Callable[[], None] | None) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self.loop.create_future()
        future.set_result(None)
        if callback is not None:
            future.add_done_callback(lambda _f: callback())
        return future

    def _fail(self, message: str) -> NoReturn:
        error = HTTPOutputError(message)
        if self.error is None:
            self.error = error
        raise error


def _check_field(what: str, value: str, fail: Callable[[str], NoReturn]) -> None:
    if _UNSAFE_VALUE_RE.search(value) is not None:
        fail(f"{what} has CR, LF or another control character: {value!r}")
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            fail(f"{what} is not Latin-1 text (PEP 3333): {value!r}")


# -- the private loop -----------------------------------------------------------


class _IdleSelector(selectors.DefaultSelector):
    """A selector that can stop its loop instead of waiting.

    An asyncio loop polls with timeout 0 while it has callbacks ready or a
    timer due, and with a longer one (or ``None``) when it would wait for
    I/O or a later timer. While :attr:`on_idle` is set (by
    :func:`_run_until_idle`), such a poll calls it and does not wait;
    otherwise the selector waits as usual (a handler may run the loop
    itself, with ``IOLoop.current().run_sync``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.on_idle: Callable[[], object] | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        on_idle = self.on_idle
        if on_idle is not None and (timeout is None or timeout > 0):
            on_idle()
            timeout = 0
        return super().select(timeout)


def _run_until_idle(loop: asyncio.AbstractEventLoop, selector: _IdleSelector) -> None:
    """Run ``loop`` until it has nothing ready to do (it would have to wait)."""
    selector.on_idle = loop.stop
    try:
        loop.run_forever()
    finally:
        selector.on_idle = None


def _shut_down(loop: asyncio.AbstractEventLoop, selector: _IdleSelector) -> None:
    """Cancel what is left on ``loop``, let it end, and close the loop."""
    try:
        tasks = asyncio.all_tasks(loop)
        if tasks:
            for task in tasks:
                task.cancel()
            _run_until_idle(loop, selector)  # (the cancellations are delivered)
        loop.create_task(loop.shutdown_asyncgens())
        _run_until_idle(loop, selector)
        for task in asyncio.all_tasks(loop):
            # It swallowed its cancellation and waits again: nothing more
            # can be done; the loop reports it when it is collected.
            app_log.warning("Task %r still pending after its request under WSGIAdapter", task)
    finally:
        loop.close()


def _in_helper_thread(
    function: Callable[[dict[str, Any]], tuple[str, list[tuple[str, str]], list[bytes]]],
    environ: dict[str, Any],
) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="squall-wsgi") as pool:
        return pool.submit(context.run, function, environ).result()


# Documented (and shown in tracebacks) where users import them from.
WSGIAdapter.__module__ = "squall.wsgi"
WSGIAdapterError.__module__ = "squall.wsgi"
