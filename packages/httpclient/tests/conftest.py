"""Test tools for squall-httpclient.

* ``client``: a fresh instance of the client implementation under test.
  A test that uses it runs once per implementation: ``simple`` (pure
  Python) and ``curl`` (skipped when pycurl is not installed);
  ``SQUALL_HTTPCLIENT=simple`` or ``=curl`` keeps only one.
* ``app_server``: starts Squall's own ``HTTPServer`` on 127.0.0.1 with a
  table of routes, and counts the TCP connections it accepted.
* ``raw_server``: a bare asyncio socket server running a handler
  coroutine per connection, for servers that misbehave on purpose.
* ``proxy_server``: a forward HTTP proxy (absolute-form requests and
  ``CONNECT``, optional Basic authentication) that records what it saw.
* ``tls``: a throwaway certificate authority and server certificate for
  127.0.0.1 (trustme), or a skip when trustme is missing.

Every wait is bounded; servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from squall.httpclient import AsyncHTTPClient


def _load_helpers() -> Any:
    name = "_httpclient_test_helpers"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("helpers.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


helpers = _load_helpers()
AppServer = helpers.AppServer
RawServer = helpers.RawServer
ProxyServer = helpers.ProxyServer
TLS = helpers.TLS
Handler = helpers.Handler
RawHandler = helpers.RawHandler

HAVE_PYCURL = importlib.util.find_spec("pycurl") is not None
IMPLEMENTATIONS = {
    "simple": "squall.simple_httpclient.SimpleAsyncHTTPClient",
    "curl": "squall.curl_httpclient.CurlAsyncHTTPClient",
}


def _selected() -> list[str]:
    wanted = os.environ.get("SQUALL_HTTPCLIENT", "").strip().lower()
    if wanted in IMPLEMENTATIONS:
        return [wanted]
    return list(IMPLEMENTATIONS)


@pytest.fixture(params=_selected())
def impl(request: pytest.FixtureRequest) -> str:
    """The name of the client implementation under test."""
    name: str = request.param
    if name == "curl" and not HAVE_PYCURL:
        pytest.skip("pycurl is not installed (pip install squall-httpclient[curl])")
    return name


def make_client(impl: str, **kwargs: Any) -> AsyncHTTPClient:
    """A new (unshared) client of implementation ``impl``."""
    from squall.util import import_object

    cls = import_object(IMPLEMENTATIONS[impl])
    client: AsyncHTTPClient = cls(force_instance=True, **kwargs)
    return client


@pytest.fixture
def client_factory(io_loop: Any, impl: str) -> Iterator[Callable[..., AsyncHTTPClient]]:
    """Build clients of the implementation under test; all closed at teardown."""
    made: list[AsyncHTTPClient] = []

    def factory(**kwargs: Any) -> AsyncHTTPClient:
        client = make_client(impl, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
    if made:
        # Let the transports of the pooled connections finish closing.
        io_loop.run_sync(lambda: asyncio.sleep(0.01), timeout=5)


@pytest.fixture
def client(client_factory: Callable[..., AsyncHTTPClient]) -> AsyncHTTPClient:
    """A fresh client of the implementation under test."""
    return client_factory()


# ---------------------------------------------------------------------- servers


@pytest.fixture
def app_server(io_loop: Any) -> Iterator[Callable[..., AppServer]]:
    """Start AppServers for the test; stopped at teardown."""
    servers: list[AppServer] = []

    def start(routes: dict[str, Handler], **kwargs: Any) -> AppServer:
        server = AppServer(routes, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        io_loop.run_sync(server.close, timeout=5)


@pytest.fixture
def raw_server(io_loop: Any) -> Iterator[Callable[..., Awaitable[RawServer]]]:
    """Start raw socket servers (``await raw_server(handler)``); closed at teardown."""
    servers: list[RawServer] = []

    async def start(handler: RawHandler, ssl_context: Any = None) -> RawServer:
        holder: list[RawServer] = []

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = holder[0]
            raw.connections += 1
            # The handler runs in a task of its own, cancelled at teardown
            # (cancelling asyncio's connection task itself logs an error).
            inner = asyncio.ensure_future(handler(reader, writer))
            raw.tasks.append(inner)
            try:
                await inner
            except asyncio.CancelledError:
                if not inner.cancelled():
                    raise
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                pass
            except Exception as e:  # a test handler's bug: keep it for the test to see
                raw.errors.append(e)
            finally:
                writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_context)
        raw = RawServer(server, ssl_context)
        holder.append(raw)
        servers.append(raw)
        return raw

    yield start
    for server in servers:
        io_loop.run_sync(server.close, timeout=5)


@pytest.fixture
def proxy_server(io_loop: Any) -> Iterator[Callable[..., Awaitable[ProxyServer]]]:
    """Start forward proxies (``await proxy_server(credentials=None)``)."""
    proxies: list[ProxyServer] = []

    async def start(credentials: tuple[str, str] | None = None) -> ProxyServer:
        proxy = ProxyServer(credentials)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        io_loop.run_sync(proxy.close, timeout=5)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLS:
    return TLS(tmp_path_factory.mktemp("tls"))
