"""Fixtures for the chat demo's tests.

* ``chat``: a running chat server on 127.0.0.1 (fresh data directory);
  ``start_chat`` starts more (or again on the same data directory);
* ``client_for(server)``: a :class:`chat_helpers.Client` closed after the test.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
# The helpers beside this file, and the package `chat` in examples/.
for path in (TESTS, TESTS.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from chat.server import ChatServer  # noqa: E402
from chat_helpers import TIMEOUT, Client, make_config  # noqa: E402
from squall.netutil import bind_sockets  # noqa: E402


@pytest.fixture
def start_chat(io_loop: Any, tmp_path: Path) -> Iterator[Callable[..., Awaitable[ChatServer]]]:
    """``await start_chat(data_dir=None, **config)`` -> a started :class:`ChatServer`.

    Servers still running after the test are stopped.
    """
    servers: list[ChatServer] = []

    async def start(data_dir: Path | None = None, **overrides: Any) -> ChatServer:
        config = make_config(data_dir or tmp_path / "data", **overrides)
        server = ChatServer(config, bind_sockets(0, "127.0.0.1"))
        servers.append(server)
        await asyncio.wait_for(server.start(), TIMEOUT)
        return server

    yield start
    for server in servers:
        if server.app is not None:
            io_loop.run_sync(server.stop, timeout=TIMEOUT)


@pytest.fixture
def chat(io_loop: Any, start_chat: Callable[..., Awaitable[ChatServer]]) -> ChatServer:
    """A running chat server with an empty data directory."""
    server: ChatServer = io_loop.run_sync(start_chat, timeout=TIMEOUT)
    return server


@pytest.fixture
def client_for(io_loop: Any) -> Iterator[Callable[[ChatServer], Client]]:
    """``client_for(server)`` -> a new :class:`Client` (closed after the test)."""
    clients: list[Client] = []

    def make(server: ChatServer) -> Client:
        client = Client(server)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
