"""The chat with several worker processes, fanning out through a real Redis.

Skipped unless ``redis-server`` and the ``redis`` package are installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_helpers import EXAMPLES, Client, free_port, wait, wait_until_serving
from squall.httpclient import HTTPRequest
from squall.websocket import websocket_connect

REDIS_SERVER = shutil.which("redis-server")

pytestmark = [
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server (apt-get install redis)"),
    pytest.mark.slow,
]


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("redis.asyncio", reason="needs the redis package (pip install redis)")
    assert REDIS_SERVER is not None
    port = free_port()
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


async def connect(port: int, client: Client) -> tuple[Any, int]:
    request = HTTPRequest(
        f"ws://127.0.0.1:{port}/ws?cursor=0", headers={"Cookie": client.cookie_header()}
    )
    conn = await wait(websocket_connect(request))
    hello = json.loads(await wait(conn.read_message()))
    return conn, int(hello["worker"])


async def receive(conn: Any, body: str) -> dict[str, Any]:
    """Read pushed messages until the one with ``body`` arrives; return it."""
    while True:
        raw = await wait(conn.read_message())
        assert raw is not None, "connection closed"
        data = json.loads(raw)
        for message in data.get("messages", []) if data["type"] == "messages" else []:
            if message["body"] == body:
                return dict(message)


async def test_two_processes_share_messages_through_redis(
    io_loop: Any, tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    log_path = tmp_path / "chat.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chat",
                f"--port={port}",
                "--processes=2",
                f"--redis={redis_url}",
                f"--data-dir={tmp_path / 'data'}",
            ],
            cwd=EXAMPLES,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    client = Client(port)
    conns: list[Any] = []
    try:
        await asyncio.to_thread(wait_until_serving, port, proc)
        await client.signin("alice")
        # Connect until both workers have one of our sockets.
        by_worker: dict[int, Any] = {}
        for _ in range(60):
            conn, worker = await connect(port, client)
            conns.append(conn)
            by_worker.setdefault(worker, conn)
            if len(by_worker) == 2:
                break
        assert sorted(by_worker) == [0, 1], "the kernel never handed a connection to worker 1"
        # A post made on worker 0 reaches the socket held by worker 1, and back.
        await by_worker[0].write_message(json.dumps({"type": "post", "body": "from 0"}))
        assert (await receive(by_worker[1], "from 0"))["rev"] == 1
        await by_worker[1].write_message(json.dumps({"type": "post", "body": "from 1"}))
        assert (await receive(by_worker[0], "from 1"))["rev"] == 2
        # Long polling through whichever worker answers sees both, in order.
        data = json.loads((await client.fetch("/updates?cursor=0")).body)
        assert [(m["rev"], m["body"]) for m in data["messages"]] == [(1, "from 0"), (2, "from 1")]
    finally:
        for conn in conns:
            conn.close()
        client.close()
        stop(proc)
    output = log_path.read_text()
    assert proc.returncode == 0, output
    assert "Starting 2 processes" in output
    # The workers saw their supervisor go and stopped: nobody listens any more.
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            if time.monotonic() > deadline:
                raise AssertionError("a worker is still listening after the parent exited")
            await asyncio.sleep(0.1)
            continue
        break
