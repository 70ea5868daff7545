"""AsyncHTTPClient (the Configurable, one per loop) and the blocking HTTPClient."""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import Callable
from typing import Any

from squall.httpclient._errors import HTTPClientError, InvalidRequestError
from squall.httpclient._request import HTTPRequest, _RequestProxy
from squall.httpclient._response import HTTPResponse
from squall.ioloop import IOLoop
from squall.util import Configurable

__all__ = ["AsyncHTTPClient", "HTTPClient"]


class AsyncHTTPClient(Configurable):
    """A non-blocking HTTP client.

    ``AsyncHTTPClient()`` returns the client of the current
    :class:`~squall.ioloop.IOLoop`, creating it on first use: every caller on
    a loop shares one instance (and its pool of connections) unless it
    passes ``force_instance=True``.  Arguments given on later calls are
    ignored, so configure the client with :meth:`configure`::

        AsyncHTTPClient.configure(None, max_clients=50, defaults={"user_agent": "me"})

    The implementation is chosen with :meth:`configure` too:
    :class:`squall.simple_httpclient.SimpleAsyncHTTPClient` (pure Python,
    the default) or :class:`squall.curl_httpclient.CurlAsyncHTTPClient`
    (libcurl, the ``squall-httpclient[curl]`` extra)::

        AsyncHTTPClient.configure("squall.curl_httpclient.CurlAsyncHTTPClient")

    Three ways to fetch, all equivalent::

        response = await AsyncHTTPClient().fetch("http://example.com/")

        @gen.engine
        def get(self):
            response = yield gen.Task(AsyncHTTPClient().fetch, url)

        AsyncHTTPClient().fetch(url, callback=on_response)

    :param force_instance: build a new client instead of the loop's shared one.
    :param max_clients: how many requests run at once; more wait in a queue
        (their ``request_timeout`` runs while they wait). Default 10.
    :param defaults: default values for :class:`.HTTPRequest` options.
    :param io_loop: Tornado 4's argument; the loop must be the current one.

    .. versionadded:: 0.1.0
    """

    _instance_cache: weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient] | None

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """Return :class:`AsyncHTTPClient`.

        .. versionadded:: 0.1.0
        """
        return AsyncHTTPClient

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """Return :class:`squall.simple_httpclient.SimpleAsyncHTTPClient`.

        .. versionadded:: 0.1.0
        """
        from squall.simple_httpclient import SimpleAsyncHTTPClient

        return SimpleAsyncHTTPClient

    @classmethod
    def _async_clients(cls) -> weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient]:
        attr_name = "_async_client_dict_" + cls.__name__
        cache = cls.__dict__.get(attr_name)
        if cache is None:
            cache = weakref.WeakKeyDictionary()
            setattr(cls, attr_name, cache)
        return cache

    def __new__(
        cls, force_instance: bool = False, io_loop: IOLoop | None = None, **kwargs: Any
    ) -> Any:
        if isinstance(force_instance, IOLoop):
            # Tornado 4: AsyncHTTPClient(io_loop, force_instance=False, **kwargs).
            io_loop, force_instance = force_instance, bool(kwargs.pop("force_instance", False))
        loop = io_loop if io_loop is not None else IOLoop.current()
        if force_instance:
            instance_cache = None
        else:
            instance_cache = cls._async_clients()
            client = instance_cache.get(loop)
            if client is not None and not client._closed:
                return client
        instance = super().__new__(cls, io_loop=loop, **kwargs)
        # A client of another class may have been configured in between.
        instance._instance_cache = instance_cache
        if instance_cache is not None:
            instance_cache[loop] = instance
        return instance

    def initialize(
        self,
        io_loop: IOLoop | None = None,
        defaults: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Set the client up (called once, by the constructor).

        .. versionadded:: 0.1.0
        """
        self.io_loop = io_loop if io_loop is not None else IOLoop.current()
        self.defaults: dict[str, Any] = dict(HTTPRequest._DEFAULTS)
        if defaults is not None:
            self.defaults.update(defaults)
        self._closed = False
        if not hasattr(self, "_instance_cache"):
            self._instance_cache = None

    @classmethod
    def configure(cls, impl: type[Configurable] | str | None, **kwargs: Any) -> None:
        """Choose the implementation and its keyword arguments.

        :param impl: an :class:`AsyncHTTPClient` subclass, its dotted name, or
            ``None`` for the default.
        :param kwargs: ``max_clients``, ``defaults``, and the options of the
            implementation (see its class).
        :raises squall.util.ConfigurationError: if ``impl`` cannot be used.

        .. versionadded:: 0.1.0
        """
        super().configure(impl, **kwargs)

    def close(self) -> None:
        """Free the client's resources (connections, the loop's shared slot).

        A closed client refuses to fetch. Closing the shared client of a loop
        is allowed; the next ``AsyncHTTPClient()`` builds a new one.

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return
        self._closed = True
        cache = self._instance_cache
        if cache is not None:
            cached = cache.get(self.io_loop)
            if cached is self:
                del cache[self.io_loop]

    def fetch(
        self,
        request: str | HTTPRequest,
        callback: Callable[[HTTPResponse], Any] | None = None,
        raise_error: bool = True,
        **kwargs: Any,
    ) -> asyncio.Future[HTTPResponse]:
        """Fetch ``request`` and return a Future for its :class:`.HTTPResponse`.

        :param request: a URL or an :class:`.HTTPRequest`.
        :param callback: classic style: called with the response once the
            fetch ends; failures arrive as ``response.error`` (code 599 when
            there is no response), never as an exception.
        :param raise_error: when False, a response with an HTTP error status
            (or an unfollowed redirect) resolves the Future instead of failing
            it.  Failures without a response still fail it.
        :param kwargs: :class:`.HTTPRequest` options, when ``request`` is a URL.
        :returns: an :class:`asyncio.Future` (await it, ``yield`` it from a
            coroutine, or wrap the call in ``gen.Task``).
        :raises RuntimeError: if the client is closed.
        :raises ValueError: for options given with an :class:`.HTTPRequest`.

        The Future fails with an :class:`.HTTPClientError`: the class itself
        for an HTTP error status, a subclass otherwise (see the module).

        .. versionadded:: 0.1.0
        """
        if self._closed:
            raise RuntimeError("fetch() called on a closed AsyncHTTPClient")
        if isinstance(request, HTTPRequest):
            if kwargs:
                raise ValueError(
                    "kwargs can't be used if request is an HTTPRequest object "
                    f"(got {sorted(kwargs)})"
                )
        else:
            request = HTTPRequest(url=request, **kwargs)
        if callback is not None:
            raise_error = False
        future = self._fetch_future(request, raise_error)
        if callback is not None:
            self.io_loop.add_future(
                future, functools.partial(_deliver_to_callback, callback, request)
            )
        return future

    def _fetch_future(
        self, request: HTTPRequest, raise_error: bool
    ) -> asyncio.Future[HTTPResponse]:
        """Start the fetch; the Future resolves to the response or fails.

        The default drives :meth:`fetch_impl`; implementations may override
        this with something cheaper.
        """
        future: asyncio.Future[HTTPResponse] = self.io_loop.asyncio_loop.create_future()
        proxy = _RequestProxy(request, self.defaults)

        def handle_response(response: HTTPResponse) -> None:
            if future.done():
                return
            error = response.error
            if error is not None and (raise_error or not response._error_is_response_code):
                future.set_exception(error)
            else:
                future.set_result(response)

        try:
            self.fetch_impl(proxy, handle_response)  # type: ignore[arg-type]
        except (InvalidRequestError, HTTPClientError) as e:
            future.set_exception(e)
        return future

    def fetch_impl(self, request: HTTPRequest, callback: Callable[[HTTPResponse], None]) -> None:
        """Run one request and call ``callback(response)`` once it ends.

        Implementations override this (or the faster private hook); errors
        are reported as ``response.error``, never raised.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()


def _deliver_to_callback(
    callback: Callable[[HTTPResponse], Any],
    request: HTTPRequest,
    future: asyncio.Future[HTTPResponse],
) -> None:
    if future.cancelled():
        response = HTTPResponse(
            request,
            599,
            error=HTTPClientError(599, "the fetch was cancelled"),
            request_time=time.time() - request.start_time,
        )
    else:
        exc = future.exception()
        if isinstance(exc, HTTPClientError) and exc.response is not None:
            response = exc.response
        elif exc is not None:
            response = HTTPResponse(
                request,
                exc.code if isinstance(exc, HTTPClientError) else 599,
                error=exc,
                request_time=time.time() - request.start_time,
            )
        else:
            response = future.result()
    callback(response)


class HTTPClient:
    """A blocking HTTP client, for scripts and tests.

    It runs its own private :class:`~squall.ioloop.IOLoop`, so it must not be
    used where a loop is already running (that would block it): use
    :class:`AsyncHTTPClient` there.  ::

        client = HTTPClient()
        try:
            print(client.fetch("http://example.com/").body)
        finally:
            client.close()

    :param async_client_class: the :class:`AsyncHTTPClient` implementation
        (default: the configured one).
    :param kwargs: passed to it (``max_clients``, ``defaults``, ...).
    :raises RuntimeError: when created inside a running event loop.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, async_client_class: type[AsyncHTTPClient] | None = None, **kwargs: Any
    ) -> None:
        _refuse_running_loop("HTTPClient()")
        self._closed = True
        previous = IOLoop.current(instance=False)
        self._io_loop = IOLoop(make_current=False)
        cls = async_client_class if async_client_class is not None else AsyncHTTPClient

        async def make_client() -> AsyncHTTPClient:
            return cls(force_instance=True, **kwargs)  # type: ignore[no-any-return]

        try:
            self._async_client: AsyncHTTPClient = self._io_loop.run_sync(make_client)
        except BaseException:
            self._io_loop.close(all_fds=True)
            raise
        finally:
            if previous is not None:
                previous.make_current()
            elif IOLoop.current(instance=False) is self._io_loop:
                IOLoop.clear_current()
        self._closed = False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Close the client and its private loop (idempotent).

        .. versionadded:: 0.1.0
        """
        if self._closed:
            return
        self._closed = True
        client = self._async_client

        async def shut_down() -> None:
            client.close()
            # Let the transports of the closed connections finish closing.
            for _ in range(3):
                await asyncio.sleep(0)

        try:
            if asyncio._get_running_loop() is None:
                self._io_loop.run_sync(shut_down)
            else:  # pragma: no cover - garbage-collected while some loop runs
                client.close()
        finally:
            self._io_loop.close(all_fds=True)

    def fetch(self, request: str | HTTPRequest, **kwargs: Any) -> HTTPResponse:
        """Fetch ``request`` and return the :class:`.HTTPResponse`.

        :param request: a URL or an :class:`.HTTPRequest`.
        :param kwargs: :class:`.HTTPRequest` options, and ``raise_error``.
        :raises HTTPClientError: for an HTTP error status (unless
            ``raise_error=False``) and for every failure without a response.
        :raises RuntimeError: when called inside a running event loop, or
            after :meth:`close`.

        .. versionadded:: 0.1.0
        """
        _refuse_running_loop("HTTPClient.fetch()")
        if self._closed:
            raise RuntimeError("fetch() called on a closed HTTPClient")
        previous = IOLoop.current(instance=False)
        try:
            return self._io_loop.run_sync(  # type: ignore[no-any-return]
                functools.partial(self._async_client.fetch, request, **kwargs)
            )
        finally:
            if previous is not None and previous is not self._io_loop:
                previous.make_current()
            elif IOLoop.current(instance=False) is self._io_loop:
                IOLoop.clear_current()


def _refuse_running_loop(what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{what} cannot be used while an event loop is running in this thread: it would "
        "block that loop. Use AsyncHTTPClient and 'await client.fetch(...)' instead."
    )
