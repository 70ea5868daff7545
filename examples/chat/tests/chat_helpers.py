"""Helpers shared by the chat's tests (conftest.py puts this directory on sys.path).

* :class:`Client`: a tiny browser stand-in over ``AsyncHTTPClient`` that
  keeps cookies and sends the XSRF token;
* :func:`raw_http`: a request over a plain socket, for what a client
  library would not do (go away mid-request, send broken frames);
* :func:`wait`, :func:`eventually`: bounded waits.
"""

from __future__ import annotations

import asyncio
import http.cookies
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2]
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from chat.app import ChatConfig  # noqa: E402
from chat.server import ChatServer  # noqa: E402
from squall.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse  # noqa: E402

TIMEOUT = 10.0
SECRET = "test-cookie-secret-0123456789abcdef0123456789"


async def wait(awaitable: Any, timeout: float = TIMEOUT) -> Any:
    """Await with a time limit (every wait in these tests is bounded)."""
    return await asyncio.wait_for(awaitable, timeout)


async def eventually(check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def make_config(data_dir: Path, **overrides: Any) -> ChatConfig:
    settings: dict[str, Any] = {"cookie_secret": SECRET, "address": "127.0.0.1", "port": 0}
    settings.update(overrides)
    return ChatConfig(data_dir=str(data_dir), **settings)


class Client:
    """A browser stand-in: cookies, XSRF token, no redirects followed."""

    def __init__(self, server: ChatServer | int) -> None:
        port = server if isinstance(server, int) else server.port
        self.base = f"http://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}
        self.http = AsyncHTTPClient(force_instance=True)

    def close(self) -> None:
        self.http.close()

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def fetch(
        self,
        path: str,
        method: str = "GET",
        body: bytes | str | dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> HTTPResponse:
        all_headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        all_headers.update(headers or {})
        request = HTTPRequest(
            self.base + path,
            method=method,
            body=body,
            headers=all_headers,
            follow_redirects=False,
            request_timeout=timeout,
        )
        response: HTTPResponse = await wait(
            self.http.fetch(request, raise_error=False), timeout + 2
        )
        for line in response.headers.get_list("Set-Cookie"):
            jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    async def xsrf(self) -> str:
        if "_xsrf" not in self.cookies:
            await self.fetch("/signin")
        return self.cookies["_xsrf"]

    async def signin(self, name: str) -> HTTPResponse:
        token = await self.xsrf()
        response = await self.fetch("/signin", "POST", {"name": name, "_xsrf": token})
        assert response.code == 302, response.body
        return response

    async def post(self, text: str) -> HTTPResponse:
        token = await self.xsrf()
        return await self.fetch(
            "/message",
            "POST",
            {"body": text},
            headers={"X-XSRFToken": token, "Accept": "application/json"},
        )


async def raw_http(port: int, head: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a socket to ``port`` and send ``head`` (CRLFs added); return the streams."""
    reader, writer = await wait(asyncio.open_connection("127.0.0.1", port))
    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n\r\n")
    await writer.drain()
    return reader, writer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_serving(
    port: int, proc: subprocess.Popen[str], timeout: float = 20, path: str = "/signin"
) -> None:
    """Wait (blocking) until the server in ``proc`` answers ``GET path`` with 200."""
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(request)
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer GET {path} within {timeout}s")
