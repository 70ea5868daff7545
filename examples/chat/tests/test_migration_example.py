"""The migration guide's worked example: Tornado 4/5 code, ported by renaming, runs.

``docs/guide/migration_example_tornado.py`` is the Tornado original shown in
``docs/guide/migration.rst``. These tests port it the way the guide says
(replace ``tornado`` with ``squall``, nothing else) and run the result
against a fake upstream service: each of the four asynchronous styles, the
Tornado template, secure cookies, the ``ExceptionStackContext`` and, in a
subprocess, ``main()`` with ``AsyncIOMainLoop().install()``,
``parse_command_line`` and ``IOLoop.instance().start()``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from chat_helpers import EXAMPLES, Client, free_port, wait, wait_until_serving
from squall import web
from squall.httpclient import AsyncHTTPClient
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop, PeriodicCallback
from squall.iostream import IOStream
from squall.netutil import Resolver, bind_sockets
from squall.tcpserver import TCPServer
from squall.testing import ExpectLog

ORIGINAL = EXAMPLES.parent / "docs" / "guide" / "migration_example_tornado.py"

WEATHER = {"paris": {"temp": 14, "sky": "rain"}, "nice": {"temp": 22, "sky": "sunny"}}


def ported_source() -> str:
    """The original with every ``tornado`` replaced by ``squall``: the whole migration."""
    text = ORIGINAL.read_text(encoding="utf-8")
    assert "squall" not in text  # pure Tornado code
    return text.replace("tornado", "squall")


@pytest.fixture(scope="module")
def port_module(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, Path]:
    """The ported program, imported once (it defines global options, as Tornado code does)."""
    path = tmp_path_factory.mktemp("port") / "weather.py"
    path.write_text(ported_source(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("weather_port", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


class Upstream(web.RequestHandler):
    broken = False

    def get(self, what: str, city: str | None = None) -> None:
        if Upstream.broken:
            self.write("this is not JSON")
            return
        if what == "cities":
            self.write(json.dumps(sorted(WEATHER)))
        elif city in WEATHER:
            self.write(WEATHER[city])
        elif city == "boom":
            raise web.HTTPError(500)
        else:
            raise web.HTTPError(404)


def serve(app: web.Application) -> tuple[HTTPServer, int]:
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(app)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


@pytest.fixture
def upstream(io_loop: IOLoop) -> Iterator[str]:
    Upstream.broken = False
    server, port = serve(
        web.Application([(r"/(cities)", Upstream), (r"/(weather)/(\w+)", Upstream)])
    )
    yield f"http://127.0.0.1:{port}"
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=10)


@pytest.fixture
def ported(
    io_loop: IOLoop, port_module: tuple[ModuleType, Path], upstream: str
) -> Iterator[tuple[ModuleType, Any, int]]:
    module, _ = port_module
    app = module.make_app(upstream)
    server, port = serve(app)
    yield module, app, port
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=10)


def test_the_port_is_only_a_rename() -> None:
    original = ORIGINAL.read_text(encoding="utf-8").splitlines()
    ported = ported_source().splitlines()
    changed = [(a, b) for a, b in zip(original, ported, strict=True) if a != b]
    assert changed, "the example should use Tornado"
    assert all(a.replace("tornado", "squall") == b for a, b in changed)
    # As the guide says: every changed line is an import.
    assert all(a.startswith(("from tornado", "import tornado")) for a, _ in changed)
    assert len(changed) == 6


async def test_the_four_styles_run(ported: tuple[ModuleType, Any, int]) -> None:
    _, _, port = ported
    client = Client(port)
    try:
        # 1. @web.asynchronous + callback
        response = await client.fetch("/now/paris")
        assert json.loads(response.body) == {"city": "paris", "temp": 14}
        with ExpectLog("squall.access", "404 GET /now/atlantis"):
            assert (await client.fetch("/now/atlantis")).code == 404
        with ExpectLog("squall.access", "502 GET /now/boom"):
            assert (await client.fetch("/now/boom")).code == 502
        # 2. @gen.engine + gen.Task
        response = await client.fetch("/compare/paris/nice")
        assert json.loads(response.body) == {"warmer": "nice"}
        # 3. @gen.coroutine + gen.Return + a Tornado template
        response = await client.fetch("/report")
        assert response.body == (
            b"<table><tr><td>nice</td><td>22</td><td>sunny</td></tr>"
            b"<tr><td>paris</td><td>14</td><td>rain</td></tr></table>"
        )
        # 4. async def + secure cookies
        for expected in (1, 2, 3):
            response = await client.fetch("/visits")
            assert json.loads(response.body) == {"visits": expected}
    finally:
        client.close()


async def test_coroutine_style_maps_client_errors(
    ported: tuple[ModuleType, Any, int], upstream: str
) -> None:
    _, _, port = ported
    Upstream.broken = True  # /cities is not JSON: ValueError, not HTTPError -> 500
    client = Client(port)
    try:
        with ExpectLog("squall.application", "Uncaught exception GET /report"):
            assert (await client.fetch("/report")).code == 500
    finally:
        client.close()


async def test_stack_context_catches_callback_errors(
    ported: tuple[ModuleType, Any, int], upstream: str
) -> None:
    _, app, port = ported
    cache = app.settings["cache"]
    cache.refresh()
    await wait(_until(lambda: cache.cities == ["nice", "paris"]))
    Upstream.broken = True
    with ExpectLog("squall.application", "refreshing the city list failed"):
        cache.refresh()
        await wait(_until(lambda: cache.errors == 1))
    assert cache.cities == ["nice", "paris"]  # kept, and the loop carries on
    client = Client(port)
    try:
        response = await client.fetch("/cities")
        assert json.loads(response.body) == {"cities": ["nice", "paris"]}
    finally:
        client.close()


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.01)


async def test_main_runs_as_a_program(
    io_loop: IOLoop, tmp_path: Path, upstream: str, port_module: tuple[ModuleType, Path]
) -> None:
    _, path = port_module
    port = free_port()
    log_path = tmp_path / "weather.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(path), f"--port={port}", f"--upstream={upstream}"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    client = Client(port)
    try:
        await asyncio.to_thread(wait_until_serving, port, proc, path="/cities")
        response = await client.fetch("/now/nice")
        assert json.loads(response.body) == {"city": "nice", "temp": 22}
        await wait(_until_cities(client))
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
    log = log_path.read_text()
    assert "Traceback" not in log, log


async def _until_cities(client: Client) -> None:
    while True:
        response = await client.fetch("/cities")
        if json.loads(response.body)["cities"]:
            return
        await asyncio.sleep(0.05)


def test_io_loop_arguments_as_the_guide_says(io_loop: IOLoop) -> None:
    # Accepted wherever Tornado 4 code passed it, so such code runs unchanged.
    client = AsyncHTTPClient(force_instance=True, io_loop=io_loop)
    client.close()
    Resolver(io_loop=io_loop).close()
    app = web.Application()
    callback = PeriodicCallback(lambda: None, 1000, io_loop=io_loop)
    assert not callback.is_running()
    HTTPServer(app, io_loop=io_loop)
    TCPServer(io_loop=io_loop)
    with socket.socket() as sock:
        IOStream(sock, io_loop=io_loop).close()
