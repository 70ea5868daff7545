"""What only the curl client does (the shared behaviour is in test_httpclient.py)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

pycurl = pytest.importorskip("pycurl", reason="pycurl is not installed (the curl extra)")

from _httpclient_test_helpers import (  # type: ignore[import-not-found]  # noqa: E402
    AppServer,
    RawServer,
    read_head,
    respond,
)
from squall.curl_httpclient import CurlAsyncHTTPClient, CurlError  # noqa: E402
from squall.httpclient import HTTPClientError, InvalidRequestError  # noqa: E402
from squall.httputil import HTTPServerRequest  # noqa: E402

StartApp = Callable[..., AppServer]
StartRaw = Callable[..., Awaitable[RawServer]]


@pytest.fixture
def curl_client(io_loop: Any) -> Any:
    client = CurlAsyncHTTPClient(force_instance=True)
    yield client
    client.close()
    io_loop.run_sync(lambda: asyncio.sleep(0.01))


def hello(request: HTTPServerRequest) -> None:
    respond(request, b"Hello world!")


async def test_prepare_curl_callback(curl_client: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    seen: list[Any] = []
    response = await curl_client.fetch(server.url("/hello"), prepare_curl_callback=seen.append)
    assert response.body == b"Hello world!"
    assert len(seen) == 1 and isinstance(seen[0], pycurl.Curl)


async def test_time_info(curl_client: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    response = await curl_client.fetch(server.url("/hello"))
    assert {"queue", "namelookup", "connect", "pretransfer", "starttransfer", "total"} <= set(
        response.time_info
    )


async def test_ssl_context_refused(curl_client: Any) -> None:
    with pytest.raises(InvalidRequestError, match="SSLContext"):
        await curl_client.fetch("https://127.0.0.1:9/", ssl_options=ssl.create_default_context())


async def test_unmapped_curl_error(curl_client: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    with pytest.raises(CurlError) as info:
        await curl_client.fetch(server.url("/hello"), network_interface="no-such-interface0")
    assert info.value.code == 599
    assert info.value.errno == 45  # CURLE_INTERFACE_FAILED
    assert "Curl error 45" in str(info.value)


async def test_close_fails_transfers_in_flight(curl_client: Any, raw_server: StartRaw) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(5)

    server = await raw_server(silent)
    future = curl_client.fetch(server.url("/"))
    await asyncio.sleep(0.1)
    curl_client.close()
    with pytest.raises(HTTPClientError, match="closed"):
        await future


async def test_many_queued_requests(io_loop: Any, app_server: StartApp) -> None:
    server = app_server({"/hello": hello})
    client = CurlAsyncHTTPClient(force_instance=True, max_clients=4)
    try:
        responses = await asyncio.gather(*(client.fetch(server.url("/hello")) for _ in range(300)))
        assert all(r.body == b"Hello world!" for r in responses)
        assert server.connections <= 4
    finally:
        client.close()
