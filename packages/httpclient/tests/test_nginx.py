"""The clients against a real nginx on 127.0.0.1.

The ``nginx`` fixture starts the ``nginx`` found on PATH (or in /usr/sbin)
with the configuration in ``nginx.conf.in`` under a temporary prefix, and
stops it after the module.  It installs nothing: without nginx, or when it
cannot start, every test here is skipped with the reason.  nginx's
``stub_status`` counts the connections it accepted, which is how these
tests see connection reuse from the server's side.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from squall.httpclient import (
    AsyncHTTPClient,
    HTTPClientError,
    HTTPTLSError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)

Client = AsyncHTTPClient

BIG_TEXT = b"".join(b"line %06d of a text file served by nginx\n" % i for i in range(20_000))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_nginx() -> str | None:
    """The nginx binary: on PATH, else in the usual sbin directories."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin:/sbin"
    return shutil.which("nginx", path=path)


class Nginx:
    """A running nginx: its ports and the helpers the tests need."""

    def __init__(self, port: int, tls_port: int, root: Path, process: subprocess.Popen[bytes]):
        self.port = port
        self.tls_port = tls_port
        self.root = root
        self.process = process
        self._probes = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def tls_url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.tls_port}{path}"

    def accepted(self) -> int:
        """How many connections nginx has accepted (stub_status), read out of band.

        The connections made to read the status are not counted.
        """
        self._probes += 1
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        # "...server accepts handled requests\n 12 12 40 \n..."
        lines = data.decode().split("\r\n\r\n", 1)[1].splitlines()
        counts = lines[lines.index("server accepts handled requests") + 1].split()
        return int(counts[0]) - self._probes


def start_nginx(directory: Path, cert_file: str | None) -> Nginx:
    """Start nginx from nginx.conf.in under ``directory``; skip if it cannot run."""
    binary = find_nginx()
    if binary is None:
        pytest.skip("nginx is not installed (not found on PATH nor in /usr/sbin)")
    if cert_file is None:
        pytest.skip("trustme is needed for the nginx TLS listener")
    root = directory / "root"
    (root / "files").mkdir(parents=True)
    (root / "files" / "big.txt").write_bytes(BIG_TEXT)
    (root / "files" / "tiny.txt").write_bytes(b"tiny\n")
    port, tls_port = _free_port(), _free_port()
    template = Path(__file__).with_name("nginx.conf.in").read_text()
    config = template
    for name, value in {
        "prefix": str(directory),
        "port": str(port),
        "tls_port": str(tls_port),
        "cert": cert_file,
        "root": str(root),
    }.items():
        config = config.replace("{" + name + "}", value)
    conf_file = directory / "nginx.conf"
    conf_file.write_text(config)
    stderr_file = directory / "stderr.log"
    with stderr_file.open("wb") as stderr:
        process = subprocess.Popen(
            [
                binary,
                "-p",
                str(directory),
                "-c",
                str(conf_file),
                "-e",
                str(directory / "error.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            errors = stderr_file.read_text(errors="replace")
            errors += (
                (directory / "error.log").read_text(errors="replace")
                if (directory / "error.log").exists()
                else ""
            )
            pytest.skip(f"nginx ({binary}) could not start: {errors.strip()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            with socket.create_connection(("127.0.0.1", tls_port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                process.wait(5)
                pytest.skip("nginx did not start listening within 10 seconds")
            time.sleep(0.05)
    return Nginx(port, tls_port, root, process)


def stop_nginx(nginx: Nginx) -> None:
    nginx.process.terminate()
    try:
        nginx.process.wait(5)
    except subprocess.TimeoutExpired:
        nginx.process.kill()
        nginx.process.wait(5)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, tls: Any) -> Iterator[Nginx]:
    """A running nginx for this module (skips the tests when it cannot run)."""
    server = start_nginx(tmp_path_factory.mktemp("nginx"), tls.cert_file)
    try:
        yield server
    finally:
        stop_nginx(server)


async def test_get(client: Client, nginx: Nginx) -> None:
    response = await client.fetch(nginx.url("/small"))
    assert response.code == 200
    assert response.body == b"hello from nginx\n"
    assert response.headers["Server"].startswith("nginx")


async def test_1000_sequential_requests_use_one_connection(client: Client, nginx: Nginx) -> None:
    before = nginx.accepted()
    for _ in range(1000):
        response = await client.fetch(nginx.url("/small"))
        assert response.body == b"hello from nginx\n"
    assert nginx.accepted() - before == 1


async def test_concurrent_requests_reuse_connections(
    client_factory: Callable[..., Client], nginx: Nginx
) -> None:
    client = client_factory(max_clients=20)
    before = nginx.accepted()
    for _ in range(5):
        responses = await asyncio.gather(*(client.fetch(nginx.url("/small")) for _ in range(100)))
        assert all(r.body == b"hello from nginx\n" for r in responses)
    assert nginx.accepted() - before <= 20


async def test_static_file_and_gzip(client: Client, nginx: Nginx) -> None:
    response = await client.fetch(nginx.url("/files/big.txt"))
    assert response.body == BIG_TEXT
    raw = await client.fetch(
        nginx.url("/files/big.txt"),
        decompress_response=False,
        headers={"Accept-Encoding": "gzip"},
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    assert len(raw.body) < len(BIG_TEXT) // 3
    assert gzip.decompress(raw.body) == BIG_TEXT


async def test_max_body_size_counts_decompressed_bytes(client: Client, nginx: Nginx) -> None:
    # The gzip stream is far below the limit; the text it expands to is not.
    with pytest.raises(ResponseTooLargeError):
        await client.fetch(nginx.url("/files/big.txt"), max_body_size=len(BIG_TEXT) // 2)
    response = await client.fetch(nginx.url("/files/big.txt"), max_body_size=len(BIG_TEXT))
    assert len(response.body) == len(BIG_TEXT)


async def test_head_then_get(client: Client, nginx: Nginx) -> None:
    before = nginx.accepted()
    head = await client.fetch(nginx.url("/files/tiny.txt"), method="HEAD")
    assert head.code == 200 and head.body == b"" and head.headers["Content-Length"] == "5"
    get = await client.fetch(nginx.url("/files/tiny.txt"))
    assert get.body == b"tiny\n"
    assert nginx.accepted() - before == 1


async def test_errors_and_redirects(client: Client, nginx: Nginx) -> None:
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(nginx.url("/files/nothing-here"))
    assert info.value.code == 404
    response = await client.fetch(nginx.url("/redirect"))
    assert response.body == b"hello from nginx\n"
    assert response.effective_url == nginx.url("/small")
    with pytest.raises(TooManyRedirectsError):
        await client.fetch(nginx.url("/loop"), max_redirects=3)


async def test_post(client: Client, nginx: Nginx) -> None:
    before = nginx.accepted()
    for size in (0, 10, 200_000):
        response = await client.fetch(nginx.url("/post"), method="POST", body=b"x" * size)
        assert response.code == 201 and response.body == b"created\n"

    async def producer(write: Callable[[bytes], Awaitable[None]]) -> None:
        for _ in range(10):
            await write(b"y" * 10_000)

    response = await client.fetch(nginx.url("/post"), method="POST", body_producer=producer)
    assert response.code == 201
    response = await client.fetch(
        nginx.url("/post"), method="POST", body=b"z" * 1000, expect_100_continue=True
    )
    assert response.code == 201
    assert nginx.accepted() - before == 1


async def test_server_limits_requests_per_connection(client: Client, nginx: Nginx) -> None:
    before = nginx.accepted()
    for _ in range(10):
        response = await client.fetch(nginx.url("/three-per-connection"))
        assert response.body == b"three\n"
    assert nginx.accepted() - before == 4


async def test_server_closes_idle_connection(client: Client, nginx: Nginx) -> None:
    before = nginx.accepted()
    for _ in range(3):
        response = await client.fetch(nginx.url("/brief"))
        assert response.body == b"brief\n"
        await asyncio.sleep(0.6)  # nginx closes the idle connection after 300 ms
    assert nginx.accepted() - before == 3


async def test_https(client: Client, nginx: Nginx, tls: Any) -> None:
    before = nginx.accepted()
    for _ in range(10):
        response = await client.fetch(nginx.tls_url("/small"), ca_certs=tls.ca_file)
        assert response.body == b"hello from nginx\n"
    assert nginx.accepted() - before == 1
    with pytest.raises(HTTPTLSError):
        await client.fetch(nginx.tls_url("/small"))
