"""SimpleAsyncHTTPClient: the pure-Python AsyncHTTPClient."""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import Callable
from typing import Any

from squall._version_httpclient import __version__
from squall.http1connection import HTTP1ConnectionParameters
from squall.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from squall.ioloop import IOLoop
from squall.netutil import OverrideResolver, Resolver
from squall.simple_httpclient._connect import SSLContextCache
from squall.simple_httpclient._fetch import Fetch
from squall.simple_httpclient._pool import ConnectionPool

__all__ = ["SimpleAsyncHTTPClient"]

_MiB = 1024 * 1024


class SimpleAsyncHTTPClient(AsyncHTTPClient):
    """The pure-Python HTTP/1.1 client (the default :class:`.AsyncHTTPClient`).

    Beyond Tornado's client of the same name it keeps connections alive and
    reuses them (see :mod:`squall.simple_httpclient`), goes through HTTP
    proxies (``CONNECT`` for https), answers Digest challenges, and refuses
    unsafe input before sending anything.

    :param max_clients: how many fetches run at once; more wait in a queue,
        their ``request_timeout`` running (default 10).
    :param hostname_mapping: a dict of host names (or ``(host, port)``
        pairs) to the addresses to use instead, e.g. ``{"example.com":
        "127.0.0.1"}`` (an :class:`~squall.netutil.OverrideResolver`).
    :param max_buffer_size: the read buffer limit of each connection (100 MiB).
    :param resolver: the :class:`~squall.netutil.Resolver` to use (default:
        a new ``Resolver()``, closed with the client).
    :param defaults: default :class:`.HTTPRequest` options.
    :param max_header_size: the default largest response head (64 KiB).
    :param max_body_size: the default largest response body, after
        decompression (100 MiB, or ``max_buffer_size`` if that is smaller).
    :param max_idle_connections: the most idle keep-alive connections kept
        (default ``max(max_clients, 10)``); 0 turns keep-alive off.
    :param idle_timeout: seconds an idle connection is kept (default 30).

    .. versionadded:: 0.1.0
    """

    def initialize(  # type: ignore[override]
        self,
        io_loop: IOLoop | None = None,
        max_clients: int = 10,
        hostname_mapping: dict[Any, Any] | None = None,
        max_buffer_size: int = 100 * _MiB,
        resolver: Resolver | None = None,
        defaults: dict[str, Any] | None = None,
        max_header_size: int | None = None,
        max_body_size: int | None = None,
        max_idle_connections: int | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        """Set the client up; see the class docstring for the arguments.

        .. versionadded:: 0.1.0
        """
        super().initialize(io_loop=io_loop, defaults=defaults)
        if not isinstance(max_clients, int) or max_clients < 1:
            raise ValueError(f"max_clients must be a positive int, not {max_clients!r}")
        self.max_clients = max_clients
        self.max_buffer_size = max_buffer_size
        self.max_header_size = max_header_size or 65536
        self.max_body_size = max_body_size if max_body_size is not None else max_buffer_size
        self._loop = self.io_loop.asyncio_loop
        self._active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._own_resolver = resolver is None
        if resolver is None:
            resolver = Resolver()
        if hostname_mapping is not None:
            resolver = OverrideResolver(resolver=resolver, mapping=hostname_mapping)
        self.resolver = resolver
        from squall.tcpclient import TCPClient

        self.tcp_client = TCPClient(resolver=resolver)
        if max_idle_connections is None:
            max_idle_connections = max(max_clients, 10)
        self._pool = ConnectionPool(self._loop, max_idle_connections, idle_timeout)
        self._ssl_contexts = SSLContextCache()
        self._param_cache: dict[tuple[bool, int | None, int | None], HTTP1ConnectionParameters] = {}
        self._user_agent = f"Squall/{__version__}"

    def close(self) -> None:
        """Close idle connections and the resolver it created; refuse further fetches.

        Fetches in flight run to their end; their connections are then closed.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return
        super().close()
        self._pool.close()
        self.tcp_client.close()
        if self._own_resolver:
            self.resolver.close()

    # ------------------------------------------------------------------ fetching

    def _fetch_future(
        self, request: HTTPRequest, raise_error: bool
    ) -> asyncio.Future[HTTPResponse]:
        if type(self).fetch_impl is not SimpleAsyncHTTPClient.fetch_impl:
            return super()._fetch_future(request, raise_error)
        return self._loop.create_task(Fetch(self, request).run(raise_error))

    def fetch_impl(self, request: HTTPRequest, callback: Callable[[HTTPResponse], None]) -> None:
        """Run ``request`` and call ``callback(response)`` (Tornado's hook).

        :meth:`.AsyncHTTPClient.fetch` does not go through this method unless
        a subclass overrides it; errors arrive as ``response.error``.

        .. versionadded:: 0.1.0
        """
        real = getattr(request, "request", request)
        task = self._loop.create_task(Fetch(self, real).run(False))
        task.add_done_callback(functools.partial(_call_back, callback, real))

    # ------------------------------------------------------------------ slots

    async def _wait_for_slot(self) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()  # granted, but we are leaving
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise

    def _release_slot(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter
                return
        self._active -= 1

    def _params(
        self, decompress: bool, max_header_size: int | None, max_body_size: int | None
    ) -> HTTP1ConnectionParameters:
        key = (decompress, max_header_size, max_body_size)
        params = self._param_cache.get(key)
        if params is None:
            params = HTTP1ConnectionParameters(
                decompress=decompress,
                max_header_size=max_header_size or self.max_header_size,
                max_body_size=max_body_size if max_body_size is not None else self.max_body_size,
                max_header_fields=1000,
            )
            if len(self._param_cache) > 64:
                self._param_cache.clear()
            self._param_cache[key] = params
        return params


def _call_back(
    callback: Callable[[HTTPResponse], None],
    request: HTTPRequest,
    task: asyncio.Future[HTTPResponse],
) -> None:
    if task.cancelled():
        response = HTTPResponse(
            request,
            599,
            error=HTTPClientError(599, "the fetch was cancelled"),
            request_time=time.time() - request.start_time,
        )
    else:
        exc = task.exception()
        if exc is None:
            response = task.result()
        elif isinstance(exc, HTTPClientError) and exc.response is not None:
            response = exc.response
        else:
            response = HTTPResponse(
                request, 599, error=exc, request_time=time.time() - request.start_time
            )
    callback(response)
