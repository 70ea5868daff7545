"""CurlAsyncHTTPClient: the multi handle, the queue, and request setup."""

from __future__ import annotations

import asyncio
import collections
import heapq
from collections.abc import Awaitable, Callable
from typing import Any

import pycurl
from squall._version_httpclient import __version__
from squall.curl_httpclient._transfer import (
    POLL_EVENTS,
    Transfer,
    Upload,
    curl_log,
    translate_error,
)
from squall.httpclient import (
    AsyncHTTPClient,
    HTTPClientError,
    HTTPProtocolError,
    HTTPRequest,
    HTTPResponse,
    HTTPTimeoutError,
    InvalidRequestError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from squall.httputil import HTTPHeaders, HTTPInputError, parse_response_start_line
from squall.ioloop import IOLoop
from squall.simple_httpclient._prepare import (
    check_body,
    check_headers,
    check_method,
    check_text,
    parse_url,
)

__all__ = ["CurlAsyncHTTPClient"]

_MiB = 1024 * 1024
_BODY_METHODS = frozenset(["POST", "PUT", "PATCH"])
_REDIRECT_CODES = frozenset([301, 302, 303, 307, 308])
_LABELS = {"user_agent": "user_agent (the User-Agent header)"}
# More informational (1xx) responses than this before the final one are refused.
_MAX_INFORMATIONAL = 5


class CurlAsyncHTTPClient(AsyncHTTPClient):
    """An :class:`.AsyncHTTPClient` on libcurl (see the module docstring).

    :param max_clients: how many transfers run at once (default 10); others
        wait in a queue, their ``request_timeout`` running.
    :param defaults: default :class:`.HTTPRequest` options.
    :param max_body_size: the default largest response body, after
        decompression (100 MiB).
    :param max_header_size: the default largest response head (64 KiB).
    :param max_connections: the size of libcurl's connection cache
        (default ``max(max_clients, 10)``).

    .. versionadded:: 0.1.0
    """

    def initialize(  # type: ignore[override]
        self,
        io_loop: IOLoop | None = None,
        max_clients: int = 10,
        defaults: dict[str, Any] | None = None,
        max_body_size: int | None = None,
        max_header_size: int | None = None,
        max_connections: int | None = None,
    ) -> None:
        """Set the client up; see the class docstring for the arguments.

        .. versionadded:: 0.1.0
        """
        super().initialize(io_loop=io_loop, defaults=defaults)
        if not isinstance(max_clients, int) or max_clients < 1:
            raise ValueError(f"max_clients must be a positive int, not {max_clients!r}")
        self.max_clients = max_clients
        self.max_body_size = max_body_size if max_body_size is not None else 100 * _MiB
        self.max_header_size = max_header_size or 65536
        self._loop = self.io_loop.asyncio_loop
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._set_timer)
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._handle_socket)
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_connections or max(max_clients, 10))
        self._free: list[Any] = [pycurl.Curl() for _ in range(max_clients)]
        self._all_handles = list(self._free)
        self._queue: collections.deque[Transfer] = collections.deque()
        self._active: dict[Any, Transfer] = {}
        self._fds: dict[int, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._queue_timer: asyncio.TimerHandle | None = None
        self._deadlines: list[tuple[float, int, Transfer]] = []
        self._sequence = 0
        self._user_agent = f"Squall/{__version__} (curl)"

    def close(self) -> None:
        """Fail the transfers in flight and queued, and free libcurl's handles.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return
        super().close()
        for handle in (self._timer, self._queue_timer):
            if handle is not None:
                handle.cancel()
        self._timer = self._queue_timer = None
        for transfer in list(self._active.values()):
            self._abandon(transfer, HTTPClientError(599, "the client was closed"))
        while self._queue:
            transfer = self._queue.popleft()
            if not transfer.future.done():
                transfer.future.set_exception(HTTPClientError(599, "the client was closed"))
        for fd in list(self._fds):
            self.io_loop.remove_handler(fd)
        self._fds.clear()
        for curl in self._all_handles:
            curl.close()
        self._multi.close()

    # ------------------------------------------------------------------ fetching

    def _fetch_future(
        self, request: HTTPRequest, raise_error: bool
    ) -> asyncio.Future[HTTPResponse]:
        outer: asyncio.Future[HTTPResponse] = self._loop.create_future()
        inner: asyncio.Future[HTTPResponse] = self._loop.create_future()
        transfer = Transfer(request, inner, self._loop.time())

        def deliver(done: asyncio.Future[HTTPResponse]) -> None:
            if outer.done():
                return
            error = done.exception()
            if error is not None:
                outer.set_exception(error)
                return
            response = done.result()
            if response.error is not None and (raise_error or not response._error_is_response_code):
                outer.set_exception(response.error)
            else:
                outer.set_result(response)

        def on_outer_done(done: asyncio.Future[HTTPResponse]) -> None:
            if done.cancelled() and not inner.done():
                self._abandon(transfer, None)
                inner.cancel()

        inner.add_done_callback(deliver)
        outer.add_done_callback(on_outer_done)
        try:
            self._check(request)
        except HTTPClientError as e:
            inner.set_exception(e)
            return outer
        self._queue.append(transfer)
        if not self._free:
            timeout = self._opt(request, "request_timeout")
            if timeout:
                self._sequence += 1
                heapq.heappush(
                    self._deadlines, (transfer.start + timeout, self._sequence, transfer)
                )
        self._process_queue()
        return outer

    def fetch_impl(self, request: HTTPRequest, callback: Callable[[HTTPResponse], None]) -> None:
        """Run ``request`` and call ``callback(response)`` (Tornado's hook).

        .. versionadded:: 0.1.0
        """
        real: HTTPRequest = getattr(request, "request", request)
        future = self._fetch_future(real, False)

        def done(f: asyncio.Future[HTTPResponse]) -> None:
            if f.cancelled():
                response = HTTPResponse(real, 599, error=HTTPClientError(599, "cancelled"))
            else:
                error = f.exception()
                response = f.result() if error is None else HTTPResponse(real, 599, error=error)
            callback(response)

        future.add_done_callback(done)

    def _opt(self, request: HTTPRequest, name: str) -> Any:
        value = getattr(request, name)
        if value is None:
            return self.defaults.get(name)
        return value

    def _check(self, request: HTTPRequest) -> None:
        """The checks of the pure-Python client, and what libcurl cannot do."""
        allow = self._opt(request, "allow_nonstandard_methods")
        parse_url(request.url)
        check_method(request.method, allow)
        check_body(request.method, request.body, request.body_producer is not None, allow)
        if request.headers:
            check_headers(request.headers)
            if "Transfer-Encoding" in request.headers:
                raise InvalidRequestError(
                    "do not set Transfer-Encoding: the client frames the body itself"
                )
        for name in (
            "auth_username",
            "auth_password",
            "proxy_username",
            "proxy_password",
            "user_agent",
        ):
            value = self._opt(request, name)
            if value:
                check_text(_LABELS.get(name, name), value)
        ssl_options = self._opt(request, "ssl_options")
        if ssl_options is not None and not isinstance(ssl_options, dict):
            raise InvalidRequestError(
                "the curl client cannot use an ssl.SSLContext as ssl_options; use "
                "validate_cert, ca_certs, client_cert and client_key"
            )
        if (
            request.body_producer is not None
            and "Content-Length" not in request.headers
            and request.method not in _BODY_METHODS
        ):
            raise InvalidRequestError(
                f"a body_producer with method {request.method} needs a Content-Length header"
            )
        if request.expect_100_continue and request.body is None and request.body_producer is None:
            raise InvalidRequestError("expect_100_continue needs a request body")

    # ------------------------------------------------------------------ queue

    def _process_queue(self) -> None:
        now = self._loop.time()
        while self._queue and self._free:
            transfer = self._queue.popleft()
            if transfer.future.done():
                continue
            transfer.queue_time = now - transfer.start
            curl = self._free.pop()
            curl.reset()
            transfer.curl = curl
            try:
                self._setup(curl, transfer, now)
            except Exception as e:
                self._free.append(curl)
                transfer.future.set_exception(e)
                continue
            self._active[curl] = transfer
            self._multi.add_handle(curl)
        if self._deadlines:
            self._arm_queue_timer()

    def _arm_queue_timer(self) -> None:
        heap = self._deadlines
        # Drop entries of transfers that have left the queue.
        while heap and (heap[0][2].curl is not None or heap[0][2].future.done()):
            heapq.heappop(heap)
        if not heap or self._closed:
            if self._queue_timer is not None:
                self._queue_timer.cancel()
                self._queue_timer = None
            return
        deadline = heap[0][0]
        timer = self._queue_timer
        if timer is not None:
            if timer.when() <= deadline:
                return
            timer.cancel()
        self._queue_timer = self._loop.call_at(deadline, self._expire_queue)

    def _expire_queue(self) -> None:
        self._queue_timer = None
        now = self._loop.time()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, _, transfer = heapq.heappop(heap)
            if transfer.curl is None and not transfer.future.done():
                timeout = self._opt(transfer.request, "request_timeout")
                transfer.future.set_exception(
                    HTTPTimeoutError(
                        f"Timeout in request queue: waited {now - transfer.start:.3g} s for "
                        f"one of the max_clients={self.max_clients} slots "
                        f"(request_timeout={timeout} s)"
                    )
                )
        self._arm_queue_timer()

    # ------------------------------------------------------------------ libcurl glue

    def _set_timer(self, msecs: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if msecs >= 0 and not self._closed:
            self._timer = self._loop.call_later(msecs / 1000.0, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._socket_action(pycurl.SOCKET_TIMEOUT, 0)

    def _handle_socket(self, event: int, fd: int, multi: Any, data: Any) -> None:
        if event == pycurl.POLL_REMOVE:
            if self._fds.pop(fd, None) is not None:
                self.io_loop.remove_handler(fd)
            return
        events = POLL_EVENTS[event]
        try:
            if fd in self._fds:
                self.io_loop.update_handler(fd, events)
            else:
                self.io_loop.add_handler(fd, self._on_socket, events)
            self._fds[fd] = events
        except Exception:
            # The poller refused the descriptor (select and fd >= 1024): the
            # transfer on it times out rather than bringing the loop down.
            curl_log.warning("cannot watch libcurl's socket %d", fd, exc_info=True)

    def _on_socket(self, fd: int, events: int) -> None:
        action = 0
        if events & IOLoop.READ:
            action |= pycurl.CSELECT_IN
        if events & IOLoop.WRITE:
            action |= pycurl.CSELECT_OUT
        if events & IOLoop.ERROR:
            action |= pycurl.CSELECT_ERR
        self._socket_action(fd, action)

    def _socket_action(self, fd: int, action: int) -> None:
        if self._closed:
            return
        while True:
            try:
                ret, _ = self._multi.socket_action(fd, action)
            except pycurl.error as e:
                ret = e.args[0]
            if ret != pycurl.E_CALL_MULTI_PERFORM:
                break
        self._collect()

    def _collect(self) -> None:
        while True:
            queued, ok_list, err_list = self._multi.info_read()
            for curl in ok_list:
                self._done(curl, 0, "")
            for curl, errnum, errmsg in err_list:
                self._done(curl, errnum, errmsg)
            if queued == 0:
                break
        self._process_queue()

    # ------------------------------------------------------------------ finishing

    def _release(self, curl: Any) -> Transfer | None:
        transfer = self._active.pop(curl, None)
        if transfer is None:
            return None
        try:
            self._multi.remove_handle(curl)
        except pycurl.error:
            pass
        self._free.append(curl)
        return transfer

    def _abandon(self, transfer: Transfer, error: BaseException | None) -> None:
        curl = transfer.curl
        if curl is not None and curl in self._active:
            self._release(curl)
            if not self._closed:
                self._loop.call_soon(self._process_queue)
        elif transfer in self._queue:
            self._queue.remove(transfer)
        if error is not None and not transfer.future.done():
            transfer.future.set_exception(error)

    def _done(self, curl: Any, errnum: int, errmsg: str) -> None:
        transfer = self._release(curl)
        if transfer is None or transfer.future.done():
            return
        info = self._time_info(curl, transfer)
        effective_url = curl.getinfo(pycurl.EFFECTIVE_URL)
        if errnum:
            error = translate_error(
                curl, transfer, errnum, errmsg, self._opt(transfer.request, "max_redirects")
            )
            if isinstance(error, TooManyRedirectsError) and transfer.code:
                response = self._response(transfer, effective_url, info)
                error.response = response
                response.error = error
                response._error_is_response_code = True
                transfer.future.set_result(response)
            else:
                transfer.future.set_exception(error)
            return
        if not transfer.code:
            transfer.code = curl.getinfo(pycurl.HTTP_CODE)
        transfer.future.set_result(self._response(transfer, effective_url, info))

    def _response(
        self, transfer: Transfer, effective_url: str, info: dict[str, float]
    ) -> HTTPResponse:
        request = transfer.request
        body: bytes | None
        if request.streaming_callback is not None:
            body = None
        elif len(transfer.chunks) == 1:
            body = transfer.chunks[0]
        else:
            body = b"".join(transfer.chunks)
        return HTTPResponse(
            request,
            transfer.code,
            headers=transfer.headers,
            effective_url=effective_url,
            reason=transfer.reason or None,
            request_time=info["total"],
            start_time=request.start_time,
            time_info=info,
            _body=body,
        )

    def _time_info(self, curl: Any, transfer: Transfer) -> dict[str, float]:
        queue = transfer.queue_time
        return {
            "queue": queue,
            "namelookup": curl.getinfo(pycurl.NAMELOOKUP_TIME),
            "connect": curl.getinfo(pycurl.CONNECT_TIME),
            "appconnect": curl.getinfo(pycurl.APPCONNECT_TIME),
            "pretransfer": curl.getinfo(pycurl.PRETRANSFER_TIME),
            "starttransfer": curl.getinfo(pycurl.STARTTRANSFER_TIME),
            "redirect": curl.getinfo(pycurl.REDIRECT_TIME),
            "total": queue + curl.getinfo(pycurl.TOTAL_TIME),
        }

    # ------------------------------------------------------------------ request setup

    def _setup(self, curl: Any, transfer: Transfer, now: float) -> None:
        request = transfer.request
        opt = self._opt
        target = parse_url(request.url)
        curl.setopt(pycurl.URL, request.url)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.NOSIGNAL, 1)
        headers = HTTPHeaders(request.headers)
        if "User-Agent" not in headers:
            curl.setopt(pycurl.USERAGENT, opt(request, "user_agent") or self._user_agent)
        # libcurl adds "Expect: 100-continue" to large uploads by itself: only when asked.
        if request.expect_100_continue:
            headers["Expect"] = "100-continue"
        elif "Expect" not in headers:
            headers["Expect"] = ""
        transfer.max_body_size = opt(request, "max_body_size") or self.max_body_size
        transfer.max_header_size = opt(request, "max_header_size") or self.max_header_size
        curl.setopt(pycurl.HEADERFUNCTION, lambda line: self._on_header(transfer, line))
        curl.setopt(pycurl.WRITEFUNCTION, lambda data: self._on_body(transfer, data))

        curl.setopt(pycurl.FOLLOWLOCATION, bool(opt(request, "follow_redirects")))
        curl.setopt(pycurl.MAXREDIRS, int(opt(request, "max_redirects") or 0))
        connect_timeout = opt(request, "connect_timeout")
        if connect_timeout:
            curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(1000 * connect_timeout)))
        request_timeout = opt(request, "request_timeout")
        if request_timeout:
            remaining = request_timeout - (now - transfer.start)
            curl.setopt(pycurl.TIMEOUT_MS, max(1, int(1000 * remaining)))
        if opt(request, "decompress_response"):
            curl.setopt(pycurl.ACCEPT_ENCODING, "gzip")
        self._setup_proxy(curl, request)
        if target.scheme == "https":
            self._setup_tls(curl, request)
        if opt(request, "allow_ipv6") is False:
            curl.setopt(pycurl.IPRESOLVE, pycurl.IPRESOLVE_V4)
        network_interface = opt(request, "network_interface")
        if network_interface:
            curl.setopt(pycurl.INTERFACE, network_interface)
        chunked = self._setup_method(curl, transfer, headers)
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        curl.setopt(
            pycurl.HTTPHEADER,
            [f"{name}: {value}" if value else f"{name}:" for name, value in headers.get_all()],
        )
        username = opt(request, "auth_username")
        password = opt(request, "auth_password") or ""
        if username is None and target.userinfo is not None:
            username, password = target.userinfo
        if username is not None:
            mode = opt(request, "auth_mode")
            if mode in (None, "basic"):
                curl.setopt(pycurl.HTTPAUTH, pycurl.HTTPAUTH_BASIC)
            elif mode == "digest":
                curl.setopt(pycurl.HTTPAUTH, pycurl.HTTPAUTH_DIGEST)
            else:
                raise InvalidRequestError(f"unsupported auth_mode {mode!r}")
            curl.setopt(pycurl.USERNAME, username)
            curl.setopt(pycurl.PASSWORD, password)
        callback = request.prepare_curl_callback
        if callback is not None:
            callback(curl)

    def _setup_proxy(self, curl: Any, request: HTTPRequest) -> None:
        opt = self._opt
        proxy_host = opt(request, "proxy_host")
        if not proxy_host:
            curl.setopt(pycurl.PROXY, "")  # and ignore http_proxy from the environment
            return
        curl.setopt(pycurl.PROXY, proxy_host)
        curl.setopt(pycurl.PROXYPORT, int(opt(request, "proxy_port") or 80))
        proxy_username = opt(request, "proxy_username")
        if proxy_username:
            proxy_password = opt(request, "proxy_password") or ""
            curl.setopt(pycurl.PROXYUSERNAME, proxy_username)
            curl.setopt(pycurl.PROXYPASSWORD, proxy_password)
            mode = opt(request, "proxy_auth_mode")
            if mode in (None, "basic"):
                curl.setopt(pycurl.PROXYAUTH, pycurl.HTTPAUTH_BASIC)
            elif mode == "digest":
                curl.setopt(pycurl.PROXYAUTH, pycurl.HTTPAUTH_DIGEST)
            else:
                raise InvalidRequestError(f"unsupported proxy_auth_mode {mode!r}")

    def _setup_tls(self, curl: Any, request: HTTPRequest) -> None:
        opt = self._opt
        validate = opt(request, "validate_cert") is not False
        ssl_options = opt(request, "ssl_options") or {}
        curl.setopt(pycurl.SSL_VERIFYPEER, 1 if validate else 0)
        curl.setopt(pycurl.SSL_VERIFYHOST, 2 if validate else 0)
        ca_certs = opt(request, "ca_certs") or ssl_options.get("ca_certs")
        if ca_certs is not None:
            curl.setopt(pycurl.CAINFO, ca_certs)
        client_cert = opt(request, "client_cert") or ssl_options.get("certfile")
        if client_cert is not None:
            curl.setopt(pycurl.SSLCERT, client_cert)
        client_key = opt(request, "client_key") or ssl_options.get("keyfile")
        if client_key is not None:
            curl.setopt(pycurl.SSLKEY, client_key)

    def _setup_method(self, curl: Any, transfer: Transfer, headers: HTTPHeaders) -> bool:
        """Set the method and the body source; return whether the body is chunked."""
        request = transfer.request
        method = request.method
        body = request.body
        producer = request.body_producer
        if method == "GET":
            curl.setopt(pycurl.HTTPGET, 1)
        elif method == "HEAD":
            curl.setopt(pycurl.NOBODY, 1)
        elif method == "POST":
            curl.setopt(pycurl.POST, 1)
        elif method == "PUT":
            curl.setopt(pycurl.UPLOAD, 1)
        else:
            curl.setopt(pycurl.CUSTOMREQUEST, method)
            if body is not None or producer is not None:
                curl.setopt(pycurl.UPLOAD, 1)
        length: int
        if body is not None:
            data = memoryview(body)
            position = 0

            def read(size: int) -> bytes:
                nonlocal position
                piece = data[position : position + size]
                position += len(piece)
                return bytes(piece)

            def seek(offset: int, origin: int) -> int:
                nonlocal position
                if origin != 0 or not 0 <= offset <= len(data):
                    return pycurl.SEEKFUNC_CANTSEEK  # type: ignore[no-any-return]
                position = offset  # libcurl rewinds to resend the body (307, 308, auth)
                return pycurl.SEEKFUNC_OK  # type: ignore[no-any-return]

            curl.setopt(pycurl.READFUNCTION, read)
            curl.setopt(pycurl.SEEKFUNCTION, seek)
            length = len(body)
        elif producer is not None:
            upload = Upload(self._loop)
            upload.curl = transfer.curl
            transfer.upload = upload
            curl.setopt(pycurl.READFUNCTION, upload.read)
            declared = headers.get("Content-Length")
            length = int(declared) if declared is not None else -1
            self._loop.create_task(self._produce(transfer, upload, producer))
        elif method in _BODY_METHODS:
            length = 0
        else:
            return False
        if method == "POST":
            curl.setopt(pycurl.POSTFIELDSIZE, length)
        else:
            curl.setopt(pycurl.INFILESIZE, length)
        return length < 0

    async def _produce(
        self,
        transfer: Transfer,
        upload: Upload,
        producer: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]],
    ) -> None:
        try:
            result = producer(upload.write)
            if result is not None:
                await result
        except Exception as e:
            if not transfer.future.done():
                self._abandon(transfer, e)
            return
        upload.finish()

    # ------------------------------------------------------------------ libcurl callbacks

    def _on_header(self, transfer: Transfer, raw: bytes) -> int | None:
        transfer.header_size += len(raw)
        if transfer.header_size > transfer.max_header_size:
            transfer.aborted = ResponseTooLargeError(
                f"the response from {transfer.request.url} is too large: its head exceeds "
                f"max_header_size ({transfer.max_header_size} bytes)"
            )
            return -1
        line = raw.decode("latin-1")
        if line.startswith("HTTP/"):
            try:
                start_line = parse_response_start_line(line.rstrip("\r\n"))
            except HTTPInputError as e:
                return self._refuse(transfer, str(e))
            transfer.code = start_line.code
            transfer.reason = start_line.reason
            transfer.headers = HTTPHeaders()
            transfer.header_size = len(raw)
            transfer.header_lines = [line]
            return None
        if line not in ("\r\n", "\n"):
            stripped = line.rstrip("\r\n")
            if stripped and stripped[0] not in " \t":
                name, sep, value = stripped.partition(":")
                if sep:
                    transfer.headers.add(name.strip(), value.strip(" \t"))
            transfer.header_lines.append(line)
            return None
        # The end of a head: check it, then hand it to header_callback.
        code = transfer.code
        headers = transfer.headers
        if 100 <= code < 200:
            transfer.informational += 1
            if transfer.informational > _MAX_INFORMATIONAL:
                return self._refuse(
                    transfer,
                    f"more than {_MAX_INFORMATIONAL} informational (1xx) responses",
                )
            return None
        if "Transfer-Encoding" in headers and "Content-Length" in headers:
            return self._refuse(transfer, "response with both Content-Length and Transfer-Encoding")
        lengths = {v.strip() for v in headers.get_list("Content-Length") for v in v.split(",")}
        if len(lengths) > 1 or any(not v.isdigit() for v in lengths):
            return self._refuse(transfer, f"invalid Content-Length {sorted(lengths)!r}")
        header_callback = transfer.request.header_callback
        if header_callback is not None and not self._is_followed_redirect(transfer):
            for header_line in [*transfer.header_lines, line]:
                self._loop.call_soon(header_callback, header_line)
        return None

    def _refuse(self, transfer: Transfer, reason: str) -> int:
        transfer.aborted = HTTPProtocolError(
            f"malformed response from {transfer.request.url}: {reason}"
        )
        return -1

    def _is_followed_redirect(self, transfer: Transfer) -> bool:
        return (
            transfer.code in _REDIRECT_CODES
            and bool(self._opt(transfer.request, "follow_redirects"))
            and "Location" in transfer.headers
        )

    def _on_body(self, transfer: Transfer, data: bytes) -> int | None:
        transfer.body_size += len(data)
        if transfer.body_size > transfer.max_body_size:
            transfer.aborted = ResponseTooLargeError(
                f"the response from {transfer.request.url} is too large: its body exceeds "
                f"max_body_size ({transfer.max_body_size} bytes, counted after decompression)"
            )
            return 0  # not len(data): libcurl aborts with a write error
        callback = transfer.request.streaming_callback
        if callback is None:
            transfer.chunks.append(data)
        else:
            self._loop.call_soon(callback, data)
        return None
