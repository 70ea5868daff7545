"""One fetch: queue slot, connection, request, response, redirects, digest.

A :class:`Fetch` is created per call of ``fetch`` and driven by a single
task (:meth:`Fetch.run`), which is also the Future the caller gets.  It is
its own :class:`~squall.httputil.HTTPMessageDelegate`, so reading a
response allocates no delegate object.  The steps, all inside one
``request_timeout`` deadline:

1. take a slot (``max_clients``), waiting in the client's queue if needed;
2. for each hop (the request, then each redirect or digest retry): check
   and prepare the request (:mod:`._prepare`), take an idle connection for
   its pool key or open one (``connect_timeout``), write the request
   through an :class:`~squall.http1connection.HTTP1Connection`, and read
   the response into this object;
3. give the connection back to the pool if the response was read to the
   end and keep-alive allows, else close it.

A reused connection that turns out to have been closed by the server before
any response arrived (the keep-alive race) is replaced by a fresh one and an
idempotent request is sent again, once.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

from squall.http1connection import (
    BodyTooLargeError,
    HeadTooLargeError,
    HTTP1Connection,
    HTTP1ConnectionParameters,
)
from squall.httpclient._errors import (
    HTTPClientError,
    HTTPProtocolError,
    HTTPStreamClosedError,
    HTTPTimeoutError,
    InvalidRequestError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from squall.httpclient._request import HTTPRequest
from squall.httpclient._response import HTTPResponse
from squall.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    RequestStartLine,
    ResponseStartLine,
)
from squall.iostream import StreamBufferFullError
from squall.simple_httpclient._auth import (
    DigestChallengeError,
    digest_authorization,
    parse_challenges,
)
from squall.simple_httpclient._connect import open_stream, ssl_key
from squall.simple_httpclient._hops import (
    ContinueWatcher,
    raise_producer_error,
    redirect_request,
)
from squall.simple_httpclient._pool import PooledConnection
from squall.simple_httpclient._prepare import (
    basic_authorization,
    check_body,
    check_headers,
    check_method,
    check_text,
    format_host_port,
    parse_url,
    proxy_authorization,
)

if TYPE_CHECKING:
    from squall.simple_httpclient._client import SimpleAsyncHTTPClient

__all__ = ["Fetch"]

_QUEUE = 0
_CONNECT = 1
_REQUEST = 2

_REDIRECT_CODES = frozenset([301, 302, 303, 307, 308])
_IDEMPOTENT_METHODS = frozenset(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"])
_BODY_METHODS = frozenset(["POST", "PUT", "PATCH"])
_BODYLESS_STANDARD_METHODS = frozenset(["GET", "HEAD", "DELETE", "OPTIONS"])
# How long an Expect: 100-continue request waits for the 100 before sending anyway.
CONTINUE_TIMEOUT = 1.0


class Fetch(HTTPMessageDelegate):
    """The state of one fetch; see the module docstring."""

    __slots__ = (
        "af",
        "body",
        "body_producer",
        "chunks",
        "client",
        "code",
        "connect_time",
        "continue_future",
        "digest_pending",
        "discard_body",
        "expect_continue",
        "expired",
        "finished",
        "follow",
        "header_callback",
        "headers",
        "host",
        "key",
        "method",
        "params",
        "phase",
        "port",
        "proxy",
        "queue_time",
        "reason",
        "request",
        "request_headers",
        "scheme",
        "source_ip",
        "start",
        "start_line",
        "streaming_callback",
        "task",
        "url",
    )

    af: socket.AddressFamily
    body: bytes | None
    body_producer: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]] | None
    chunks: list[bytes]
    code: int | None
    discard_body: bool
    expect_continue: bool
    finished: bool
    header_callback: Callable[[str], Any] | None
    headers: HTTPHeaders
    host: str
    key: Hashable
    method: str
    params: HTTP1ConnectionParameters
    port: int
    proxy: tuple[str, int, str | None] | None
    reason: str
    request_headers: HTTPHeaders
    scheme: str
    source_ip: str | None
    start: float
    start_line: RequestStartLine
    streaming_callback: Callable[[bytes], Any] | None
    url: str

    def __init__(self, client: SimpleAsyncHTTPClient, request: HTTPRequest) -> None:
        self.client = client
        self.request = request
        self.phase = _QUEUE
        self.queue_time = 0.0
        self.connect_time = 0.0
        self.continue_future: asyncio.Future[bool] | None = None
        self.digest_pending = False
        self.follow = False
        self.expired = False
        self.task: asyncio.Task[Any] | None = None

    # ------------------------------------------------------------------ driver

    async def run(self, raise_error: bool) -> HTTPResponse:
        """Do the whole fetch and return the response (or raise)."""
        client = self.client
        request = self.request
        timeout = request.request_timeout
        if timeout is None:
            timeout = client.defaults.get("request_timeout")
        loop = client._loop
        self.start = start = loop.time()
        # The deadline cancels this task; cheaper than asyncio.timeout() per fetch.
        self.task = asyncio.current_task()
        deadline = loop.call_at(start + timeout, self._expire) if timeout else None
        try:
            if client._active < client.max_clients and not client._waiters:
                client._active += 1
            else:
                await client._wait_for_slot()
                self.queue_time = loop.time() - start
            try:
                response = await self._follow()
            finally:
                client._release_slot()
        except asyncio.CancelledError:
            if not self.expired:
                raise
            task = self.task
            if task is not None:
                task.uncancel()
            raise self._timeout_error(timeout) from None
        finally:
            if deadline is not None:
                deadline.cancel()
        error = response.error
        if error is not None and (raise_error or not response._error_is_response_code):
            raise error
        return response

    def _expire(self) -> None:
        self.expired = True
        task = self.task
        if task is not None:
            task.cancel()

    def _timeout_error(self, timeout: float | None) -> HTTPTimeoutError:
        client = self.client
        waited = client._loop.time() - self.start
        if self.phase == _QUEUE:
            return HTTPTimeoutError(
                f"Timeout in request queue: waited {waited:.3g} s for one of the "
                f"max_clients={client.max_clients} slots (request_timeout={timeout} s)"
            )
        if self.phase == _CONNECT:
            return HTTPTimeoutError(
                f"Timeout while connecting to {format_host_port(self.host, self.port)} "
                f"(request_timeout={timeout} s)"
            )
        return HTTPTimeoutError(
            f"Timeout during request to {self.url} after {waited:.3g} s "
            f"(request_timeout={timeout} s)"
        )

    async def _follow(self) -> HTTPResponse:
        original = self.request
        request = original
        defaults = self.client.defaults
        max_redirects = original.max_redirects
        if max_redirects is None:
            max_redirects = defaults.get("max_redirects", 5)
        follow = original.follow_redirects
        if follow is None:
            follow = defaults.get("follow_redirects", True)
        redirects_left: int = max_redirects
        digest_tried = False
        authorization: str | None = None
        while True:
            self._prepare(request, authorization)
            self.follow = bool(follow) and redirects_left > 0
            self.digest_pending = (
                not digest_tried
                and self.body_producer is None
                and _opt(request, "auth_mode", defaults) == "digest"
            )
            await self._send()
            code = self._code()
            headers = self.headers
            if code == 401 and self.digest_pending:
                digest_tried = True
                authorization = self._answer_digest(request)
                if authorization is not None:
                    continue
                return self._response(original)
            if self.discard_body:
                next_request = self._redirect(request, original)
                if next_request is not None:
                    request = next_request
                    redirects_left -= 1
                    authorization = None
                    digest_tried = False
                    continue
            elif follow and code in _REDIRECT_CODES and "Location" in headers and max_redirects:
                response = self._response(original)
                response.error = TooManyRedirectsError(
                    code,
                    f"too many redirects: stopped after {max_redirects} (max_redirects), "
                    f"the last one to {headers['Location'][:200]!r}",
                    response,
                )
                return response
            return self._response(original)

    def _code(self) -> int:
        code = self.code
        if code is None:  # pragma: no cover - _send returns only after a response
            raise HTTPStreamClosedError(self._closed_message(None))
        return code

    def _response(self, original: HTTPRequest) -> HTTPResponse:
        client = self.client
        now = client._loop.time()
        chunks = self.chunks
        if self.streaming_callback is not None or self.discard_body:
            body = None
        elif len(chunks) == 1:
            body = chunks[0]
        else:
            body = b"".join(chunks)
        total = now - self.start
        return HTTPResponse(
            original,
            self._code(),
            headers=self.headers,
            effective_url=self.url,
            reason=self.reason,
            request_time=total,
            start_time=original.start_time,
            time_info={"queue": self.queue_time, "connect": self.connect_time, "total": total},
            _body=body,
        )

    # ------------------------------------------------------------------ preparing

    def _prepare(self, request: HTTPRequest, authorization: str | None) -> None:
        """Check ``request`` and set up this hop (raises InvalidRequestError)."""
        client = self.client
        defaults = client.defaults
        url = request.url
        target = parse_url(url)
        self.url = url
        method = request.method
        body = request._body
        producer = request.body_producer
        if method not in _BODYLESS_STANDARD_METHODS or body is not None or producer is not None:
            allow_nonstandard = _opt(request, "allow_nonstandard_methods", defaults)
            check_method(method, allow_nonstandard)
            check_body(method, body, producer is not None, allow_nonstandard)
        self.method = method
        self.body = body
        self.body_producer = producer
        user_headers = request._headers
        if user_headers:
            check_headers(user_headers)
            if "Transfer-Encoding" in user_headers:
                raise InvalidRequestError(
                    "do not set Transfer-Encoding: the client frames the body itself"
                )
            headers = HTTPHeaders(user_headers)
        else:
            headers = HTTPHeaders()
        scheme = target.scheme
        host = target.host
        port = target.port
        self.scheme = scheme
        self.host = host
        self.port = port
        if "Host" not in headers:
            headers["Host"] = target.host_header
        if "User-Agent" not in headers:
            user_agent = request.user_agent
            if user_agent is None:
                user_agent = defaults.get("user_agent")
            if user_agent:
                check_text("user_agent (the User-Agent header)", user_agent)
            headers["User-Agent"] = user_agent or client._user_agent
        decompress = request.decompress_response
        if decompress is None:
            decompress = defaults.get("decompress_response")
        if decompress and "Accept-Encoding" not in headers:
            headers["Accept-Encoding"] = "gzip"
        if authorization is not None:
            headers["Authorization"] = authorization
        else:
            username = request.auth_username
            if username is None:
                username = defaults.get("auth_username")
            password = request.auth_password
            if password is None:
                password = defaults.get("auth_password")
            if username is None and target.userinfo is not None:
                username, password = target.userinfo
            if username is not None:
                mode = _opt(request, "auth_mode", defaults)
                if mode in (None, "basic"):
                    headers["Authorization"] = basic_authorization(username, password or "")
                elif mode == "digest":
                    check_text("auth_username", username)
                    check_text("auth_password", password or "")
                else:
                    raise InvalidRequestError(f"unsupported auth_mode {mode!r}")
        if body is not None:
            headers["Content-Length"] = str(len(body))
            if method == "POST" and "Content-Type" not in headers:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif (
            producer is not None and "Content-Length" not in headers and method not in _BODY_METHODS
        ):
            raise InvalidRequestError(
                f"a body_producer with method {method} needs a Content-Length header"
            )
        expect_continue = bool(request.expect_100_continue)
        if expect_continue:
            if body is None and producer is None:
                raise InvalidRequestError("expect_100_continue needs a request body")
            headers["Expect"] = "100-continue"
        self.expect_continue = expect_continue

        proxy_host = request.proxy_host
        if proxy_host is None:
            proxy_host = defaults.get("proxy_host")
        path = target.path
        key: Hashable
        source_ip = request.network_interface
        if source_ip is None:
            source_ip = defaults.get("network_interface")
        allow_ipv6 = request.allow_ipv6
        if allow_ipv6 is None:
            allow_ipv6 = defaults.get("allow_ipv6")
        af = socket.AF_INET if allow_ipv6 is False else socket.AF_UNSPEC
        self.source_ip = source_ip
        self.af = af
        if proxy_host:
            proxy_port = _opt(request, "proxy_port", defaults) or 80
            proxy_auth = proxy_authorization(
                _opt(request, "proxy_username", defaults),
                _opt(request, "proxy_password", defaults),
                _opt(request, "proxy_auth_mode", defaults),
            )
            self.proxy = (proxy_host, int(proxy_port), proxy_auth)
            if scheme == "http":
                # Absolute-form target; any origin can share the proxy connection.
                path = target.absolute
                if proxy_auth is not None:
                    headers["Proxy-Authorization"] = proxy_auth
                key = ("http-proxy", self.proxy, source_ip, af)
            else:
                key = ("https", host, port, self._ssl_key(request), self.proxy, source_ip, af)
        else:
            self.proxy = None
            if scheme == "http":
                key = ("http", host, port, source_ip, af)
            else:
                key = ("https", host, port, self._ssl_key(request), source_ip, af)
        self.key = key
        self.start_line = RequestStartLine(method, path, "HTTP/1.1")
        self.request_headers = headers
        max_header_size = request.max_header_size
        if max_header_size is None:
            max_header_size = defaults.get("max_header_size")
        max_body_size = request.max_body_size
        if max_body_size is None:
            max_body_size = defaults.get("max_body_size")
        self.params = client._params(bool(decompress), max_header_size, max_body_size)
        self.streaming_callback = request.streaming_callback
        self.header_callback = request.header_callback

    def _ssl_key(self, request: HTTPRequest) -> tuple[Any, ...]:
        defaults = self.client.defaults
        return ssl_key(
            _opt(request, "validate_cert", defaults) is not False,
            _opt(request, "ca_certs", defaults),
            _opt(request, "client_key", defaults),
            _opt(request, "client_cert", defaults),
            _opt(request, "ssl_options", defaults),
        )

    # ------------------------------------------------------------------ connections

    async def _open(self) -> PooledConnection:
        client = self.client
        request = self.request
        defaults = client.defaults
        self.phase = _CONNECT
        loop = client._loop
        began = loop.time()
        ssl_context = None
        if self.scheme == "https":
            ssl_context = client._ssl_contexts.get(
                _opt(request, "validate_cert", defaults) is not False,
                _opt(request, "ca_certs", defaults),
                _opt(request, "client_key", defaults),
                _opt(request, "client_cert", defaults),
                _opt(request, "ssl_options", defaults),
            )
        connect_timeout = _opt(request, "connect_timeout", defaults)
        try:
            async with asyncio.timeout(connect_timeout or None):
                stream = await open_stream(
                    client.tcp_client,
                    self.scheme,
                    self.host,
                    self.port,
                    af=self.af,
                    source_ip=self.source_ip,
                    max_buffer_size=client.max_buffer_size,
                    ssl_context=ssl_context,
                    proxy=self.proxy,
                    max_header_size=self.params.max_header_size,
                )
        except TimeoutError as e:
            if isinstance(e, HTTPClientError):
                raise
            raise HTTPTimeoutError(
                f"Timeout while connecting to {format_host_port(self.host, self.port)} "
                f"(connect_timeout={connect_timeout} s)"
            ) from None
        self.connect_time += loop.time() - began
        return client._pool.new_connection(stream, self.key)

    async def _send(self) -> None:
        """Send the prepared hop and read its response into this object."""
        pool = self.client._pool
        for attempt in (0, 1):
            # The retry after a stale keep-alive connection uses a new one.
            conn = pool.take(self.key) if attempt == 0 else None
            reused = conn is not None
            if conn is None:
                conn = await self._open()
            self.phase = _REQUEST
            try:
                if self.body_producer is None and not self.expect_continue:
                    # The common case, inline: one coroutine level less per response.
                    self.code = None
                    self.chunks = []
                    self.finished = False
                    self.discard_body = False
                    stream = conn.stream
                    h1 = HTTP1Connection(stream, True, self.params)
                    h1.write_headers(self.start_line, self.request_headers, self.body)
                    h1.finish()
                    keep = await h1.read_response(self)
                    if not self.finished:
                        raise HTTPStreamClosedError(self._closed_message(None))
                    keep = keep and self.code != 101 and not stream.closed()
                else:
                    keep = await self._exchange(conn)
            except HTTPClientError:
                conn.close()
                raise
            except (HeadTooLargeError, BodyTooLargeError, StreamBufferFullError) as e:
                conn.close()
                raise ResponseTooLargeError(
                    f"the response from {self.url} is too large: {e}"
                ) from e
            except HTTPInputError as e:
                conn.close()
                raise HTTPProtocolError(f"malformed response from {self.url}: {e}") from e
            except HTTPOutputError as e:
                conn.close()
                raise InvalidRequestError(f"cannot send the request to {self.url}: {e}") from e
            except OSError as e:
                # StreamClosedError, ConnectionResetError, BrokenPipeError, ...
                conn.close()
                if (
                    reused
                    and attempt == 0
                    and self.code is None
                    and self.body_producer is None
                    and self.method in _IDEMPOTENT_METHODS
                ):
                    continue  # a keep-alive connection the server had closed
                raise HTTPStreamClosedError(self._closed_message(e)) from e
            except BaseException:
                conn.close()
                raise
            conn.requests += 1
            if keep:
                pool.give_back(conn)
            else:
                conn.close()
            return

    def _closed_message(self, error: BaseException | None) -> str:
        where = format_host_port(self.host, self.port)
        if self.code is None:
            text = f"the connection to {where} closed before a response was received"
        else:
            received = sum(len(c) for c in self.chunks)
            expected = self.headers.get("Content-Length")
            of = f" of {expected}" if expected is not None else ""
            text = (
                f"the connection to {where} closed in the middle of the response body "
                f"({received}{of} bytes received)"
            )
        real = getattr(error, "real_error", None) or error
        if real is not None and not (type(real).__name__ == "StreamClosedError" and not str(real)):
            detail = str(real) or type(real).__name__
            if "Stream is closed" not in detail:
                text += f": {detail}"
        return text

    # ------------------------------------------------------------------ one exchange

    async def _exchange(self, conn: PooledConnection) -> bool:
        """Write the request and read the response; return whether to keep the connection."""
        self.code = None
        self.reason = ""
        self.chunks = []
        self.finished = False
        self.discard_body = False
        stream = conn.stream
        producer = self.body_producer
        if self.expect_continue:
            keep = await self._exchange_expect_continue(stream)
        elif producer is None:
            h1 = HTTP1Connection(stream, True, self.params)
            h1.write_headers(self.start_line, self.request_headers, self.body)
            h1.finish()
            keep = await h1.read_response(self)
        else:
            h1 = HTTP1Connection(stream, True, self.params)
            h1.write_headers(self.start_line, self.request_headers)
            keep = await self._read_while_producing(h1, stream, producer, None)
        if not self.finished:
            raise HTTPStreamClosedError(self._closed_message(None))
        # After a 101 the connection speaks another protocol: never reuse it.
        return keep and self.code != 101 and not stream.closed()

    async def _read_while_producing(
        self,
        h1: HTTP1Connection,
        stream: Any,
        producer: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]] | None,
        reader: asyncio.Future[bool] | None,
    ) -> bool:
        """Send the body (from ``body_producer``, or ``self.body``) while reading the response.

        The response may come before the body is all sent (an early error
        answer); the upload then stops and the connection is not reused.
        """
        writer = asyncio.ensure_future(self._produce(h1, producer))

        def on_written(task: asyncio.Future[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                stream.close()  # so that the read does not wait for a body that never comes

        writer.add_done_callback(on_written)
        try:
            if reader is None:
                keep = await h1.read_response(self)
            else:
                keep = await reader
        except BaseException:
            raise_producer_error(writer)
            raise
        finally:
            if not writer.done():
                writer.cancel()
        if not writer.done() or writer.cancelled():
            return False  # the server answered before the upload ended
        raise_producer_error(writer)
        return keep

    async def _produce(
        self,
        h1: HTTP1Connection,
        producer: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]] | None,
    ) -> None:
        if producer is None:
            if self.body:
                await h1.write(self.body)
        else:
            result = producer(h1.write)
            if result is not None:
                await result
        h1.finish()

    async def _exchange_expect_continue(self, stream: Any) -> bool:
        waiter: asyncio.Future[bool] = self.client._loop.create_future()
        self.continue_future = waiter
        h1 = HTTP1Connection(ContinueWatcher(stream, waiter), True, self.params)
        h1.write_headers(self.start_line, self.request_headers)
        reader = asyncio.ensure_future(h1.read_response(self))
        try:
            await asyncio.wait(
                [reader, waiter], timeout=CONTINUE_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            refused = waiter.done() and not waiter.cancelled() and waiter.result() is False
            if refused or reader.done():
                # The server answered without wanting the body.  The declared
                # body was never sent, so the connection cannot be reused.
                await reader
                return False
            return await self._read_while_producing(h1, stream, self.body_producer, reader)
        finally:
            self.continue_future = None
            if not reader.done():
                reader.cancel()
            if not waiter.done():
                waiter.cancel()

    # ------------------------------------------------------------------ HTTPMessageDelegate

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> None:
        """Record the response head (see :class:`~squall.httputil.HTTPMessageDelegate`)."""
        code: int = start_line.code  # type: ignore[union-attr]
        self.code = code
        self.reason = start_line.reason  # type: ignore[union-attr]
        self.headers = headers
        waiter = self.continue_future
        if waiter is not None and not waiter.done():
            waiter.set_result(False)  # a final answer came before any 100 Continue
        if code == 401 and self.digest_pending:
            # Kept whole: it is either answered (and dropped) or returned.
            self.streaming_callback = None
            return
        if self.follow and code in _REDIRECT_CODES and "Location" in headers:
            self.discard_body = True
            return
        callback = self.header_callback
        if callback is not None:
            callback(f"{start_line[0]} {code} {self.reason}\r\n")
            for name, value in headers.get_all():
                callback(f"{name}: {value}\r\n")
            callback("\r\n")

    def data_received(self, chunk: bytes) -> None:
        """Keep or stream a piece of the body."""
        if self.discard_body:
            return
        callback = self.streaming_callback
        if callback is None:
            self.chunks.append(chunk)
        else:
            callback(chunk)

    def finish(self) -> None:
        """The response is complete."""
        self.finished = True

    def on_connection_close(self) -> None:
        """The connection closed before the response was complete.

        Nothing to do: :attr:`finished` stays false, and the exchange reports
        the truncated response.
        """

    # ------------------------------------------------------------------ redirects, digest

    def _redirect(self, request: HTTPRequest, original: HTTPRequest) -> HTTPRequest | None:
        return redirect_request(request, original, self._code(), self.url, self.headers["Location"])

    def _answer_digest(self, request: HTTPRequest) -> str | None:
        defaults = self.client.defaults
        username = _opt(request, "auth_username", defaults)
        password = _opt(request, "auth_password", defaults) or ""
        if username is None:
            userinfo = parse_url(self.url).userinfo
            if userinfo is None:
                return None
            username, password = userinfo
        for scheme, params in parse_challenges(self.headers.get_list("WWW-Authenticate")):
            if scheme == "digest":
                try:
                    return digest_authorization(
                        params, username, password, self.method, self.start_line.path
                    )
                except DigestChallengeError:
                    return None
        return None


def _opt(request: HTTPRequest, name: str, defaults: dict[str, Any]) -> Any:
    value = getattr(request, name)
    if value is None:
        return defaults.get(name)
    return value
