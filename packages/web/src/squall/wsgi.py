"""WSGI support, both ways: WSGI applications on Squall, Squall applications under WSGI.

:class:`WSGIContainer` runs a WSGI application (Flask, Django, ...) on
Squall's HTTP server; :class:`WSGIAdapter` (Tornado 5's, which Tornado 6
removed) does the reverse, serving a :class:`~squall.web.Application`
whose handlers are synchronous from any WSGI server (gunicorn, uWSGI,
mod_wsgi, ...). See each class for the details and the limits.

:class:`WSGIContainer` adapts a `PEP 3333 <https://peps.python.org/pep-3333/>`_
application to Squall's request callback interface, so it can be served by
:class:`~squall.httpserver.HTTPServer` directly or mixed with Squall handlers
through :class:`~squall.web.FallbackHandler`::

    wsgi_app = WSGIContainer(flask_app)

    # the whole server is the WSGI application
    HTTPServer(wsgi_app).listen(8888)

    # or: Squall handlers first, the WSGI application for everything else
    app = Application([
        (r"/ws", MyWebSocketHandler),
        (r".*", FallbackHandler, {"fallback": wsgi_app}),
    ])

WSGI is synchronous: the application, its body iterable and its ``close()``
run in an executor (by default the IOLoop's thread pool), so a slow
application does not stall the loop; its other requests, and every other
connection, keep being served. Pass ``executor=squall.concurrent.dummy_executor``
to run it on the loop's thread instead (only for applications that never
block).

The response is streamed: each piece the application yields is written to
the client as it comes (the status line and headers with the first
non-empty one, as PEP 3333 asks), and the next piece is asked for only once
the previous one was handed to the socket, so a large or endless body
needs no memory beyond one piece. A response without ``Content-Length``
is sent chunked (HTTP/1.1) or delimited by closing the connection
(HTTP/1.0), except a list or tuple body, whose length is known and sent.

Failures of the application (an exception, or a breach of PEP 3333 such as
a body of ``str``) are logged on ``squall.application`` with the request;
the client gets a 500 if nothing was sent yet, otherwise the connection is
closed (the response cannot be completed). Each request is logged on
``squall.access``.

Exceptions::

    squall.web.WebError
     +-- WSGIApplicationError   -- the WSGI application broke PEP 3333
     +-- WSGIAdapterError       -- a handler under WSGIAdapter did not finish synchronously

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from squall._version_web import __version__
from squall._wsgi_adapter import _HOP_BY_HOP, WSGIAdapter, WSGIAdapterError
from squall.concurrent import DummyExecutor
from squall.httputil import (
    HTTPHeaders,
    HTTPOutputError,
    HTTPServerRequest,
    ResponseStartLine,
    responses,
    split_host_and_port,
)
from squall.httputil._headers import _is_token
from squall.ioloop import IOLoop
from squall.iostream import StreamClosedError
from squall.log import access_log, app_log, gen_log
from squall.web._errors import WebError
from squall.web._output import _UNSAFE_VALUE_RE

__all__ = ["WSGIAdapter", "WSGIAdapterError", "WSGIApplicationError", "WSGIContainer"]

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_StartResponse = Callable[..., Callable[[bytes], None]]
_WSGIApp = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]

_STATUS_RE = re.compile(r"([1-5][0-9][0-9])(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")

_SERVER_HEADER = f"SquallServer/{__version__}"

_ERROR_BODY = (
    b"<html><title>500: Internal Server Error</title><body>500: Internal Server Error</body></html>"
)

# next()'s default at the end of the body iterable (StopIteration cannot
# cross an executor future).
_END = object()


class WSGIApplicationError(WebError):
    """The WSGI application broke PEP 3333: the application's fault.

    Raised to the application from ``start_response`` or ``write()`` when
    it misuses them (a status that is not ``"200 OK"``-like, headers that
    are not ``(str, str)`` pairs or contain CR/LF, a second
    ``start_response`` without ``exc_info``, ``write()`` before
    ``start_response``), and logged when its body is not ``bytes`` or
    disagrees with its ``Content-Length``. The client gets a 500, or a
    closed connection if the response had started.

    .. versionadded:: 0.1.0
    """


class WSGIContainer:
    """Makes a WSGI application usable as a Squall request callback.

    See the module documentation. An instance is a callable taking an
    :class:`~squall.httputil.HTTPServerRequest`, suitable for
    ``HTTPServer(container)`` and for ``FallbackHandler``'s ``fallback``.

    :param wsgi_application: the PEP 3333 application.
    :param executor: the :class:`concurrent.futures.Executor` the
        application runs in; ``None`` (the default) for the IOLoop's
        default executor (a thread pool);
        :data:`squall.concurrent.dummy_executor` to run it on the loop's
        thread.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        wsgi_application: _WSGIApp,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.wsgi_application = wsgi_application
        self.executor = executor
        self._inline = isinstance(executor, DummyExecutor)
        # Tasks in flight: the loop only keeps weak references to them.
        self._tasks: set[asyncio.Future[None]] = set()

    def __call__(self, request: HTTPServerRequest) -> None:
        """Start answering ``request``; the response is written in the background.

        :param request: a complete request (its body read), with a
            ``connection`` to write the response to.

        .. versionadded:: 0.1.0
        """
        task = asyncio.ensure_future(self.handle_request(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle_request(self, request: HTTPServerRequest) -> None:
        """Run the application for ``request`` and write its response; never raises.

        ``__call__`` runs it as a task; await it yourself to know when the
        response is complete.

        .. versionadded:: 0.1.0
        """
        response = _Response(self, request)
        result: Iterable[bytes] | None = None
        try:
            result = await self._run(
                self.wsgi_application, self.environ(request), response.start_response
            )
            if result is None:
                raise WSGIApplicationError("the application returned None, not an iterable")
            if isinstance(result, (list, tuple)):
                await response.send_sequence(result)
            else:
                iterator: Iterator[bytes] = await self._run(iter, result)
                while True:
                    chunk = await self._run(next, iterator, _END)
                    if chunk is _END:
                        break
                    await response.send(chunk)
            await response.finish()
        except StreamClosedError:
            gen_log.debug("Client disconnected during WSGI request %s", _summary(request))
            response.abort()
        except Exception as exc:
            response.fail(exc)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    await self._run(close)
                except Exception:
                    app_log.error(
                        "Exception closing the body of WSGI request %s",
                        _summary(request),
                        exc_info=True,
                    )

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._inline:
            return function(*args)
        return await IOLoop.current().run_in_executor(self.executor, function, *args)

    def environ(self, request: HTTPServerRequest) -> dict[str, Any]:
        """Return the PEP 3333 ``environ`` dictionary for ``request``.

        ``PATH_INFO`` is the percent-decoded path as Latin-1 text (bytes
        mapped one to one, as PEP 3333 says), ``SCRIPT_NAME`` is empty,
        ``SERVER_NAME``/``SERVER_PORT`` come from the ``Host`` header (the
        port defaulting to 80 or 443), ``CONTENT_LENGTH`` is the length of
        the body as received (after any decompression), each other header
        is ``HTTP_<NAME>`` (several values joined with ``,``; ``Cookie``
        with ``;``). Header names containing ``_`` are left out: they would
        be indistinguishable from ``-`` in ``environ`` (a header smuggling
        trick against proxies that check one spelling).

        .. versionadded:: 0.1.0
        """
        body = request.body or b""
        host, port = split_host_and_port(request.host)
        if port is None:
            port = 443 if request.protocol == "https" else 80
        path = request.path or "/"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": request.query,
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": request.version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": request.protocol,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": not self._inline,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        if request.remote_ip is not None:
            environ["REMOTE_ADDR"] = request.remote_ip
        headers = request.headers
        values: dict[str, list[str]] = {}
        for name, value in headers.get_all():
            values.setdefault(name, []).append(value)
        for name, items in values.items():
            if name == "Content-Type":
                environ["CONTENT_TYPE"] = items[0]
            elif name == "Content-Length" or "_" in name:
                continue
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
                environ[key] = ("; " if name == "Cookie" else ",").join(items)
        if body or "Content-Length" in headers:
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ


class _Response:
    """The state of one response: start_response, the headers, what was sent."""

    def __init__(self, container: WSGIContainer, request: HTTPServerRequest) -> None:
        self.container = container
        self.request = request
        self.loop = IOLoop.current()
        self.loop_thread = threading.get_ident()
        self.is_head = request.method == "HEAD"
        self.status: tuple[int, str] | None = None
        self.headers: HTTPHeaders | None = None
        self.declared_length: int | None = None
        self.headers_sent = False
        self.sent = 0
        self.pending: list[bytes] = []
        self.finished = False

    # -- called by the application (maybe in another thread) ----------------

    def start_response(
        self,
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: _ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.headers_sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise WSGIApplicationError("start_response() called twice without exc_info")
        parsed_status = _parse_status(status)
        headers, declared = _parse_headers(response_headers)
        self.status = parsed_status
        self.headers = headers
        self.declared_length = declared
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write()`` callable: send ``data`` before the body iterable."""
        if self.status is None:
            raise WSGIApplicationError("write() called before start_response()")
        data = _check_bytes(data)
        if threading.get_ident() == self.loop_thread:
            # Running inline: the loop cannot wait for itself. Buffered, and
            # sent when the application returns.
            self.pending.append(data)
            return
        future = asyncio.run_coroutine_threadsafe(self.send(data), self.loop.asyncio_loop)
        future.result()

    # -- on the loop's thread ------------------------------------------------

    async def send_sequence(self, chunks: list[bytes] | tuple[bytes, ...]) -> None:
        """Send a body known in full (a list or tuple): its length is known."""
        pieces = [_check_bytes(chunk) for chunk in chunks]
        await self._send_pending()
        total = self.sent + sum(map(len, pieces))
        declared = self.declared_length
        # A HEAD answer may leave the body out and keep the GET length.
        if declared is not None and total != declared and not self.is_head:
            raise WSGIApplicationError(
                f"the body has {total} bytes but its Content-Length is {declared}"
            )
        if not self.headers_sent and declared is None and self.headers is not None:
            self.declared_length = total
            self.headers["Content-Length"] = str(total)
        for piece in pieces:
            await self._send_one(piece)

    async def send(self, data: bytes) -> None:
        """Send a piece of the body (and the headers, before the first non-empty one)."""
        data = _check_bytes(data)
        await self._send_pending()
        await self._send_one(data)

    async def _send_pending(self) -> None:
        while self.pending:
            pending, self.pending = self.pending, []
            for data in pending:
                await self._send_one(data)

    async def _send_one(self, data: bytes) -> None:
        if not data:
            return
        if self.status is None:
            raise WSGIApplicationError("the body started before start_response() was called")
        declared = self.declared_length
        if declared is not None and self.sent + len(data) > declared and not self.is_head:
            raise WSGIApplicationError(
                f"the body is longer than its Content-Length ({declared} bytes)"
            )
        self.sent += len(data)
        if self.is_head:
            # No body for HEAD; the headers wait for the length to be known.
            return
        connection = self._connection()
        if not self.headers_sent:
            await self._write_headers(connection, data)
        else:
            await _written(connection.write(data))

    async def finish(self) -> None:
        await self._send_pending()
        if self.status is None:
            raise WSGIApplicationError("the application returned without calling start_response()")
        declared = self.declared_length
        code = self.status[0]
        if (
            declared is not None
            and self.sent != declared
            and not _bodiless(code)
            and not self.is_head
        ):
            raise WSGIApplicationError(
                f"the body has {self.sent} bytes but its Content-Length is {declared}"
            )
        connection = self._connection()
        if not self.headers_sent:
            if self.headers is not None and not _bodiless(code) and declared is None:
                self.headers["Content-Length"] = str(self.sent)
            await self._write_headers(connection, b"")
        self.finished = True
        try:
            connection.finish()
        except HTTPOutputError:
            if not self._stream_closed():
                raise
        self._log(code)

    def fail(self, exc: Exception) -> None:
        """Log the application's failure; answer 500, or close if the response started."""
        request = self.request
        app_log.error(
            "Uncaught exception in WSGI application %s\n%r",
            _summary(request),
            request,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        if self.finished:
            return
        self.finished = True
        connection = request.connection
        if connection is None:
            return
        if self.headers_sent:
            self._close()
            self._log(self.status[0] if self.status else 500)
            return
        headers = HTTPHeaders(
            {
                "Content-Type": "text/html; charset=UTF-8",
                "Content-Length": str(len(_ERROR_BODY)),
                "Server": _SERVER_HEADER,
            }
        )
        self.headers_sent = True
        try:
            connection.write_headers(
                ResponseStartLine("HTTP/1.1", 500, "Internal Server Error"), headers, _ERROR_BODY
            )
            connection.finish()
        except (HTTPOutputError, StreamClosedError):
            self._close()
        self._log(500)

    def abort(self) -> None:
        """The client went away: release the connection."""
        if not self.finished:
            self.finished = True
            self._close()

    # -- helpers ---------------------------------------------------------------

    def _connection(self) -> Any:
        connection = self.request.connection
        if connection is None:
            raise HTTPOutputError("this request has no connection to write to")
        return connection

    async def _write_headers(self, connection: Any, first_chunk: bytes) -> None:
        status = self.status
        headers = self.headers
        if status is None or headers is None:  # pragma: no cover - checked by the callers
            raise WSGIApplicationError("start_response() was not called")
        code, reason = status
        if _bodiless(code):
            if "Content-Length" in headers:
                del headers["Content-Length"]
        elif "Content-Type" not in headers:
            headers["Content-Type"] = "text/html; charset=UTF-8"
        if "Server" not in headers:
            headers["Server"] = _SERVER_HEADER
        self.headers_sent = True
        await _written(
            connection.write_headers(
                ResponseStartLine("HTTP/1.1", code, reason), headers, first_chunk
            )
        )

    def _stream_closed(self) -> bool:
        stream = getattr(self.request.connection, "stream", None)
        closed = getattr(stream, "closed", None)
        return bool(closed is not None and closed())

    def _close(self) -> None:
        connection = self.request.connection
        close = getattr(connection, "close", None)
        if close is not None:
            close()
            return
        stream = getattr(connection, "stream", None)
        if stream is not None:
            stream.close()

    def _log(self, status_code: int) -> None:
        request = self.request
        if status_code < 400:
            log_method = access_log.info
        elif status_code < 500:
            log_method = access_log.warning
        else:
            log_method = access_log.error
        log_method("%d %s %.2fms", status_code, _summary(request), 1000.0 * request.request_time())


async def _written(future: asyncio.Future[None]) -> None:
    """Wait for a write; if it was done at once, still let the loop run once.

    A lost connection is only noticed in a later loop iteration, and the
    transport drops writes silently until then: without this, a body
    produced on the loop's thread could spin on a dead connection.
    """
    if future.done():
        future.result()
        await asyncio.sleep(0)
    else:
        await future


def _summary(request: HTTPServerRequest) -> str:
    return f"{request.method} {request.uri} ({request.remote_ip})"


def _bodiless(code: int) -> bool:
    return code in (204, 304) or code < 200


def _check_bytes(data: Any) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise WSGIApplicationError(
        f"a WSGI response body must be bytes, not {type(data).__name__} (PEP 3333)"
    )


def _parse_status(status: Any) -> tuple[int, str]:
    if not isinstance(status, str):
        raise WSGIApplicationError(f"the status must be a str like '200 OK', not {status!r}")
    match = _STATUS_RE.fullmatch(status)
    if match is None:
        raise WSGIApplicationError(f"invalid status {status!r} (expected like '200 OK')")
    code = int(match.group(1))
    reason = match.group(2) or responses.get(code, "Unknown")
    try:
        reason.encode("latin-1")
    except UnicodeEncodeError:
        raise WSGIApplicationError(f"the reason phrase of {status!r} is not Latin-1") from None
    return code, reason


def _parse_headers(response_headers: Any) -> tuple[HTTPHeaders, int | None]:
    if not isinstance(response_headers, list):
        raise WSGIApplicationError(
            f"the response headers must be a list of (name, value), not {response_headers!r}"
        )
    headers = HTTPHeaders()
    declared: int | None = None
    for item in response_headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise WSGIApplicationError(f"a response header must be a (name, value) tuple: {item!r}")
        name, value = item
        if not isinstance(name, str) or not _is_token(name):
            raise WSGIApplicationError(f"invalid response header name {name!r}")
        if not isinstance(value, str) or _UNSAFE_VALUE_RE.search(value) is not None:
            raise WSGIApplicationError(
                f"invalid value for response header {name!r}: {value!r} "
                "(a str without CR, LF or other control characters)"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise WSGIApplicationError(
                f"the value of response header {name!r} is not Latin-1: {value!r}"
            ) from None
        lower = name.lower()
        if lower in _HOP_BY_HOP:
            continue  # the server decides how the connection is managed
        if lower == "content-length":
            text = value.strip()
            if not (text.isascii() and text.isdigit()) or (
                declared is not None and int(text) != declared
            ):
                raise WSGIApplicationError(f"invalid Content-Length {value!r}")
            declared = int(text)
            headers["Content-Length"] = text
            continue
        headers.add(name, value.strip())
    return headers, declared
