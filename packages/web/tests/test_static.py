"""StaticFileHandler over real sockets on 127.0.0.1 (Application + HTTPServer)."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import gzip
import hashlib
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from squall.ioloop import IOLoop
from squall.testing import ExpectLog
from squall.web import Application, HTTPError, RequestHandler, StaticFileHandler
from squall.web._static import _UNSATISFIABLE, _parse_range
from web_wire import Server, parse_response

pytestmark = pytest.mark.network

TEN_YEARS = 86400 * 365 * 10
HELLO = b"Hello, static world!\n"
BIG_SIZE = 3 * 1024 * 1024 + 12345  # not a multiple of the 64 KiB chunk


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "static"
    base.mkdir()
    (base / "hello.txt").write_bytes(HELLO)
    (base / "page.html").write_bytes(b"<p>page</p>\n")
    (base / "style.css").write_bytes(b"p { color: red }\n")
    (base / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (base / "data.unknownext").write_bytes(b"?" * 10)
    (base / "archive.tar.gz").write_bytes(gzip.compress(b"tar"))
    (base / "empty.txt").write_bytes(b"")
    (base / "digits.txt").write_bytes(b"0123456789" * 100)
    (base / "big.bin").write_bytes(os.urandom(BIG_SIZE))
    (base / "text.txt").write_bytes(b"squall static text line\n" * 4000)
    (base / "dir").mkdir()
    (base / "dir" / "index.html").write_bytes(b"<p>index</p>\n")
    (base / "nodefault").mkdir()
    (base / "nodefault" / "file.txt").write_bytes(b"x")
    (base / "evil.com").mkdir()
    (base / "evil.com" / "index.html").write_bytes(b"evil")
    (base / "robots.txt").write_bytes(b"User-agent: *\n")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (tmp_path / "secretdir").mkdir()
    (tmp_path / "secretdir" / "index.html").write_bytes(b"secret index")
    (base / "link_out.txt").symlink_to(tmp_path / "secret.txt")
    (base / "linkdir_out").symlink_to(tmp_path / "secretdir")
    (base / "link_in.txt").symlink_to(base / "hello.txt")
    return base


class VersionedPage(RequestHandler):
    def get(self, path: str) -> None:
        self.write(self.static_url(path))


def make_app(root: Path, **settings: Any) -> Application:
    return Application(
        [
            (r"/url/(.*)", VersionedPage),
            (
                r"/site/(.*)",
                StaticFileHandler,
                {"path": str(root), "default_filename": "index.html"},
            ),
            (r"/plain/(.*)", StaticFileHandler, {"path": str(root)}),
            (
                r"/+slashes/(.*)",
                StaticFileHandler,
                {"path": str(root), "default_filename": "index.html"},
            ),
            (r"/(.*)", StaticFileHandler, {"path": str(root), "default_filename": "index.html"}),
        ],
        static_path=str(root),
        **settings,
    )


@pytest.fixture(autouse=True)
def _fresh_hashes() -> Iterator[None]:
    StaticFileHandler.reset()
    yield
    StaticFileHandler.reset()


@pytest.fixture
def server(io_loop: IOLoop, root: Path) -> Iterator[Server]:
    s = Server(make_app(root))
    yield s
    io_loop.run_sync(s.close, timeout=10)


def open_fds(kind: str) -> list[str]:
    """The targets of this process's open fds containing ``kind`` ("socket:", a path)."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if kind in target:
            targets.append(target)
    return targets


def version_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# -- plain GET, headers, content types -----------------------------------------------


async def test_get_file_with_validators(server: Server, root: Path) -> None:
    response = await server.fetch("/static/hello.txt")
    assert response.code == 200
    assert response.body == HELLO
    h = response.headers
    assert h["Content-Length"] == str(len(HELLO))
    assert h["Content-Type"] == "text/plain; charset=UTF-8"
    assert h["Accept-Ranges"] == "bytes"
    assert h["Etag"] == f'"{version_of(HELLO)}"'
    mtime = int((root / "hello.txt").stat().st_mtime)
    assert email.utils.parsedate_to_datetime(h["Last-Modified"]).timestamp() == mtime
    # Not versioned: no caching headers.
    assert "Cache-Control" not in h
    assert "Expires" not in h


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("page.html", "text/html; charset=UTF-8"),
        ("style.css", "text/css; charset=UTF-8"),
        ("image.png", "image/png"),
        ("data.unknownext", "application/octet-stream"),
        ("archive.tar.gz", "application/gzip"),
    ],
)
async def test_content_types(server: Server, root: Path, name: str, content_type: str) -> None:
    response = await server.fetch(f"/static/{name}")
    assert response.code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.body == (root / name).read_bytes()


async def test_text_charset_can_be_turned_off(io_loop: IOLoop, root: Path) -> None:
    class NoCharset(StaticFileHandler):
        TEXT_CHARSET = None

    s = Server(Application([(r"/(.*)", NoCharset, {"path": str(root)})]))
    try:
        response = await s.fetch("/hello.txt")
        assert response.headers["Content-Type"] == "text/plain"
    finally:
        await s.close()


async def test_empty_file(server: Server) -> None:
    response = await server.fetch("/static/empty.txt")
    assert response.code == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == "0"


async def test_head_sends_headers_and_no_body(server: Server) -> None:
    # Pipelined: a stray body after the HEAD response would corrupt the second one.
    data = await server.raw(
        b"HEAD /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /static/page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head_part, _, rest = data.partition(b"\r\n\r\n")
    head = parse_response(head_part + b"\r\n\r\n")
    assert head.code == 200
    assert head.headers["Content-Length"] == str(len(HELLO))
    assert head.headers["Etag"] == f'"{version_of(HELLO)}"'
    assert head.headers["Content-Type"] == "text/plain; charset=UTF-8"
    second = parse_response(rest)
    assert second.code == 200
    assert second.body == b"<p>page</p>\n"


async def test_post_is_405(server: Server) -> None:
    data = await server.raw(
        b"POST /static/hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    response = parse_response(data)
    assert response.code == 405
    assert "GET" in response.headers["Allow"]
    assert "HEAD" in response.headers["Allow"]


async def test_robots_txt_and_static_prefix_setting(io_loop: IOLoop, root: Path) -> None:
    s = Server(Application(static_path=str(root), static_url_prefix="/assets/"))
    try:
        assert (await s.fetch("/assets/hello.txt")).body == HELLO
        assert (await s.fetch("/robots.txt")).body == b"User-agent: *\n"
        assert (await s.fetch("/static/hello.txt")).code == 404
    finally:
        await s.close()


# -- ETag / If-None-Match ---------------------------------------------------------------


@pytest.mark.parametrize(
    "if_none_match",
    [
        "{etag}",
        "W/{etag}",
        '"nope", {etag}',
        '"a",W/{etag} , "b"',
        "*",
    ],
)
async def test_if_none_match_gives_304(server: Server, if_none_match: str) -> None:
    etag = f'"{version_of(HELLO)}"'
    response = await server.fetch(
        "/static/hello.txt", If_None_Match=if_none_match.format(etag=etag)
    )
    assert response.code == 304
    assert response.body == b""
    assert response.headers["Etag"] == etag
    assert "Content-Length" not in response.headers


async def test_if_none_match_other_tag_gives_200(server: Server) -> None:
    response = await server.fetch("/static/hello.txt", If_None_Match='"0123", W/"4567"')
    assert response.code == 200
    assert response.body == HELLO


async def test_head_if_none_match_gives_304(server: Server) -> None:
    etag = f'"{version_of(HELLO)}"'
    response = await server.fetch("/static/hello.txt", method="HEAD", If_None_Match=etag)
    assert response.code == 304


# -- Last-Modified / If-Modified-Since -------------------------------------------------


def _http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


async def test_if_modified_since(server: Server, root: Path) -> None:
    mtime = int((root / "hello.txt").stat().st_mtime)
    assert (
        await server.fetch("/static/hello.txt", If_Modified_Since=_http_date(mtime))
    ).code == 304
    later = await server.fetch("/static/hello.txt", If_Modified_Since=_http_date(mtime + 3600))
    assert later.code == 304
    assert later.body == b""
    earlier = await server.fetch("/static/hello.txt", If_Modified_Since=_http_date(mtime - 1))
    assert earlier.code == 200
    assert earlier.body == HELLO


@pytest.mark.parametrize("value", ["yesterday", "", "Mon, 99 Foo 2020 99:99:99 GMT", "\u00e9"])
async def test_malformed_if_modified_since_is_ignored(server: Server, value: str) -> None:
    response = await server.fetch("/static/hello.txt", If_Modified_Since=value)
    assert response.code == 200
    assert response.body == HELLO


async def test_if_none_match_takes_precedence(server: Server, root: Path) -> None:
    mtime = int((root / "hello.txt").stat().st_mtime)
    response = await server.fetch(
        "/static/hello.txt",
        If_None_Match='"stale"',
        If_Modified_Since=_http_date(mtime + 3600),
    )
    assert response.code == 200
    assert response.body == HELLO


async def test_modified_file_is_served_again(server: Server, root: Path) -> None:
    path = root / "hello.txt"
    first = await server.fetch("/static/hello.txt")
    stamp = first.headers["Last-Modified"]
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
    response = await server.fetch("/static/hello.txt", If_Modified_Since=stamp)
    assert response.code == 200
    assert response.headers["Last-Modified"] != stamp


# -- ranges ----------------------------------------------------------------------------

DIGITS = b"0123456789" * 100


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-19", 10, 19),
        ("bytes=995-999", 995, 999),
        ("bytes=990-5000", 990, 999),  # the end is clipped to the size
        ("bytes=-5", 995, 999),  # a suffix range
        ("bytes=-500", 500, 999),
        ("bytes=-5000", 0, 999),  # a suffix longer than the file: all of it
        ("bytes=100-", 100, 999),  # an open range
        ("bytes=0-0", 0, 0),
        ("BYTES = 3 - 4", 3, 4),  # unit is case-insensitive, whitespace tolerated
        ("bytes=3-4,", 3, 4),  # an empty list element is no second range
    ],
)
async def test_range_gives_206(server: Server, range_header: str, first: int, last: int) -> None:
    response = await server.fetch("/static/digits.txt", Range=range_header)
    assert response.code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/1000"
    assert response.headers["Content-Length"] == str(last - first + 1)
    assert response.body == DIGITS[first : last + 1]
    assert response.headers["Etag"] == f'"{version_of(DIGITS)}"'


@pytest.mark.parametrize(
    "range_header", ["bytes=1000-", "bytes=1000-1001", "bytes=5000-6000", "bytes=-0"]
)
async def test_unsatisfiable_range_gives_416(server: Server, range_header: str) -> None:
    response = await server.fetch("/static/digits.txt", Range=range_header)
    assert response.code == 416
    assert response.headers["Content-Range"] == "bytes */1000"
    assert response.body == b""


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=abc",
        "bytes=5-2",  # inverted
        "bytes=-",
        "bytes=",
        "bytes",
        "items=0-1",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=0x1-2",
        "bytes=\u0661-2",  # a non-ASCII digit
        "bytes=" + "9" * 5000 + "-",  # more digits than int() converts
    ],
)
async def test_malformed_range_is_ignored(server: Server, range_header: str) -> None:
    response = await server.fetch(
        "/static/digits.txt", Range=range_header.encode().decode("latin-1")
    )
    assert response.code == 200
    assert response.body == DIGITS
    assert "Content-Range" not in response.headers


@pytest.mark.parametrize("range_header", ["bytes=0-1,5-6", "bytes=0-1, 5-", "bytes=-1,0-0"])
async def test_multiple_ranges_give_the_whole_file(server: Server, range_header: str) -> None:
    response = await server.fetch("/static/digits.txt", Range=range_header)
    assert response.code == 200
    assert response.body == DIGITS
    assert "Content-Range" not in response.headers


async def test_range_on_empty_file(server: Server) -> None:
    assert (await server.fetch("/static/empty.txt", Range="bytes=0-")).code == 416
    suffix = await server.fetch("/static/empty.txt", Range="bytes=-10")
    assert suffix.code == 200
    assert suffix.body == b""


async def test_head_with_range(server: Server) -> None:
    response = await server.fetch("/static/digits.txt", method="HEAD", Range="bytes=10-29")
    assert response.code == 206
    assert response.headers["Content-Length"] == "20"
    assert response.headers["Content-Range"] == "bytes 10-29/1000"
    assert response.body == b""


async def test_if_range(server: Server, root: Path) -> None:
    etag = f'"{version_of(DIGITS)}"'
    matching = await server.fetch("/static/digits.txt", Range="bytes=0-4", If_Range=etag)
    assert matching.code == 206
    assert matching.body == b"01234"
    stale = await server.fetch("/static/digits.txt", Range="bytes=0-4", If_Range='"old"')
    assert stale.code == 200
    assert stale.body == DIGITS
    weak = await server.fetch("/static/digits.txt", Range="bytes=0-4", If_Range=f"W/{etag}")
    assert weak.code == 200
    date = matching.headers["Last-Modified"]
    assert (await server.fetch("/static/digits.txt", Range="bytes=0-4", If_Range=date)).code == 206
    mtime = int((root / "digits.txt").stat().st_mtime)
    old = await server.fetch(
        "/static/digits.txt", Range="bytes=0-4", If_Range=_http_date(mtime - 60)
    )
    assert old.code == 200


def test_parse_range_table() -> None:
    assert _parse_range("bytes=0-499", 1000) == (0, 500)
    assert _parse_range("bytes=500-", 1000) == (500, 1000)
    assert _parse_range("bytes=-500", 1000) == (500, 1000)
    assert _parse_range("bytes=-0", 1000) is _UNSATISFIABLE
    assert _parse_range("bytes=1000-", 1000) is _UNSATISFIABLE
    assert _parse_range("bytes=999-", 1000) == (999, 1000)
    assert _parse_range("bytes=0-1,5-6", 1000) is None
    assert _parse_range("bytes=9-1", 1000) is None
    assert _parse_range("lines=0-1", 1000) is None
    assert _parse_range("bytes=-3", 0) is None
    assert _parse_range("bytes=0-", 0) is _UNSATISFIABLE


# -- versioned URLs and caching ---------------------------------------------------------


async def test_static_url_and_cache_headers(server: Server) -> None:
    url = (await server.fetch("/url/hello.txt")).body.decode()
    assert url == f"/static/hello.txt?v={version_of(HELLO)}"
    response = await server.fetch(url)
    assert response.code == 200
    assert response.body == HELLO
    assert response.headers["Cache-Control"] == f"public, max-age={TEN_YEARS}"
    expires = email.utils.parsedate_to_datetime(response.headers["Expires"])
    expected = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=TEN_YEARS)
    assert abs((expires - expected).total_seconds()) < 60


def test_make_static_url(root: Path) -> None:
    settings = {"static_path": str(root), "static_url_prefix": "/s/"}
    assert StaticFileHandler.make_static_url(settings, "hello.txt") == (
        f"/s/hello.txt?v={version_of(HELLO)}"
    )
    assert StaticFileHandler.make_static_url(settings, "hello.txt", include_version=False) == (
        "/s/hello.txt"
    )
    with ExpectLog("squall.general", "Could not open static file"):
        assert StaticFileHandler.make_static_url(settings, "missing.txt") == "/s/missing.txt"
    with ExpectLog("squall.general", ".*not in static_path"):
        assert StaticFileHandler.get_version(settings, "../secret.txt") is None
    with ExpectLog("squall.general", ".*not in static_path"):
        assert StaticFileHandler.get_version(settings, "link_out.txt") is None


class CountingHandler(StaticFileHandler):
    calls: list[str] = []
    lock = threading.Lock()

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        with cls.lock:
            cls.calls.append(os.path.basename(abspath))
        return super().get_content_version(abspath)


async def test_version_is_computed_once_per_file(io_loop: IOLoop, root: Path) -> None:
    CountingHandler.calls = []
    app = make_app(root, static_handler_class=CountingHandler)
    s = Server(app)
    try:
        for _ in range(3):
            url = (await s.fetch("/url/hello.txt")).body.decode()
            assert (await s.fetch(url)).code == 200
            assert (await s.fetch("/static/hello.txt")).code == 200
        assert CountingHandler.calls == ["hello.txt"]
        CountingHandler.reset()
        assert (await s.fetch("/static/hello.txt")).code == 200
        assert CountingHandler.calls == ["hello.txt", "hello.txt"]
    finally:
        await s.close()


@pytest.mark.parametrize(
    "settings", [{"static_hash_cache": False}, {"debug": True, "autoreload": False}]
)
async def test_no_hash_cache_recomputes(
    io_loop: IOLoop, root: Path, settings: dict[str, Any]
) -> None:
    CountingHandler.calls = []
    s = Server(make_app(root, static_handler_class=CountingHandler, **settings))
    try:
        url = (await s.fetch("/url/hello.txt")).body.decode()
        assert url.endswith(version_of(HELLO))
        (root / "hello.txt").write_bytes(b"changed")
        url = (await s.fetch("/url/hello.txt")).body.decode()
        assert url.endswith(version_of(b"changed"))
        response = await s.fetch("/static/hello.txt")
        assert response.headers["Etag"] == f'"{version_of(b"changed")}"'
        assert len(CountingHandler.calls) == 3
    finally:
        await s.close()


def test_version_cache_is_thread_safe(root: Path) -> None:
    CountingHandler.calls = []
    settings = {"static_path": str(root)}
    barrier = threading.Barrier(8)
    results: list[str | None] = []

    def work() -> None:
        barrier.wait(5)
        results.append(CountingHandler.get_version(settings, "big.bin"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(results)) == 1 and len(results) == 8
    assert CountingHandler.calls == ["big.bin"]


# -- directories, default_filename, redirects ---------------------------------------------


async def test_default_filename(server: Server) -> None:
    response = await server.fetch("/site/dir/")
    assert response.code == 200
    assert response.body == b"<p>index</p>\n"
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    top = await server.fetch("/site/")
    assert top.code == 404  # no index.html at the root


async def test_directory_without_slash_is_redirected(server: Server) -> None:
    response = await server.fetch("/site/dir")
    assert response.code == 301
    assert response.headers["Location"] == "/site/dir/"
    with_query = await server.fetch("/site/dir?a=1&b=2")
    assert with_query.headers["Location"] == "/site/dir/?a=1&b=2"


async def test_directory_without_default_filename_is_403(server: Server) -> None:
    with ExpectLog("squall.general", ".*is a directory"):
        assert (await server.fetch("/plain/nodefault/")).code == 403
        assert (await server.fetch("/plain/nodefault")).code == 403
    assert (await server.fetch("/plain/nodefault/file.txt")).body == b"x"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",  # the catch-all route gets "/evil.com": an absolute path
        "//slashes/evil.com",  # a route accepting several slashes: a real directory
        "///slashes/evil.com",
    ],
)
async def test_no_open_redirect(server: Server, target: str) -> None:
    with ExpectLog("squall.general", ".*(not in root|another site)", required=False):
        response = await server.fetch(target)
    assert response.code == 403
    assert "Location" not in response.headers


async def test_no_open_redirect_backslash(server: Server, root: Path) -> None:
    (root / "\\evil.com").mkdir()
    (root / "\\evil.com" / "index.html").write_bytes(b"x")
    with ExpectLog("squall.general", ".*another site"):
        response = parse_response(
            await server.raw(b"GET /\\evil.com HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        )
    assert response.code == 403
    assert "Location" not in response.headers
    # Percent-encoded, the backslash is part of a path on this site.
    encoded = await server.fetch("/%5Cevil.com")
    assert encoded.code == 301
    assert encoded.headers["Location"] == "/%5Cevil.com/"


async def test_redirect_with_single_slash_is_allowed(server: Server) -> None:
    response = await server.fetch("/slashes/evil.com")
    assert response.code == 301
    assert response.headers["Location"] == "/slashes/evil.com/"


# -- traversal and bad paths ---------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/dir/../../secret.txt",
        "/static/..%2f..%2fsecret.txt",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/link_out.txt",  # a symlink leading out of the root
        "/static/linkdir_out/index.html",
        "/site/linkdir_out/",
        "/%2e%2e/secret.txt",
    ],
)
async def test_traversal_refused(server: Server, target: str) -> None:
    with ExpectLog("squall.general", ".*not in root static directory"):
        response = await server.fetch(target)
    assert response.code == 403
    assert b"secret" not in response.body


async def test_symlink_inside_root_is_served(server: Server) -> None:
    response = await server.fetch("/static/link_in.txt")
    assert response.code == 200
    assert response.body == HELLO


@pytest.mark.parametrize(
    "target", ["/static/missing.txt", "/static/dir/missing", "/static/a%00b.txt"]
)
async def test_missing_is_404(server: Server, target: str) -> None:
    with ExpectLog("squall.general", ".*NUL byte", required=False):
        response = await server.fetch(target)
    assert response.code == 404


async def test_invalid_utf8_path_is_400(server: Server) -> None:
    with ExpectLog("squall.general", ".*Invalid unicode", required=False):
        assert (await server.fetch("/static/%ff%fe.txt")).code == 400


async def test_validate_absolute_path_direct(io_loop: IOLoop, root: Path) -> None:
    # The classmethods a subclass builds on.
    absolute = StaticFileHandler.get_absolute_path(str(root), "dir/index.html")
    assert absolute == str(root / "dir" / "index.html")
    assert StaticFileHandler.get_absolute_path(str(root), "../x") == str(root.parent / "x")


# -- large files: streamed, bounded memory, disconnects ----------------------------------------


async def test_large_file_streamed_in_chunks(server: Server, root: Path) -> None:
    expected = (root / "big.bin").read_bytes()
    response = await server.fetch("/static/big.bin")
    assert response.code == 200
    assert response.headers["Content-Length"] == str(BIG_SIZE)
    assert response.body == expected
    ranged = await server.fetch("/static/big.bin", Range="bytes=70000-2000000")
    assert ranged.code == 206
    assert ranged.body == expected[70000:2000001]


class TracingHandler(StaticFileHandler):
    """Records what the response reads from the file (the version is not hashed)."""

    chunks: list[int] = []
    closed: list[bool] = []

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        return "v1"

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Iterable[bytes] | bytes:
        inner = super().get_content(abspath, start, end)
        assert not isinstance(inner, bytes)

        def trace() -> Iterator[bytes]:
            try:
                for chunk in inner:
                    cls.chunks.append(len(chunk))
                    yield chunk
            finally:
                cls.closed.append(True)

        return trace()


async def test_slow_reader_bounds_memory(io_loop: IOLoop, root: Path) -> None:
    """A client that does not read stops the reading of the file (flow control)."""
    big = root / "huge.bin"
    size = 48 * 1024 * 1024
    with open(big, "wb") as f:
        f.truncate(size)  # sparse: cheap to create
    TracingHandler.chunks = []
    TracingHandler.closed = []
    s = Server(Application([(r"/(.*)", TracingHandler, {"path": str(root)})]))
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    try:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        writer.write(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        # Read the head only, then stop reading: wait for the server to stall.
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        transport: Any = writer.transport  # uvloop's is no asyncio.ReadTransport subclass
        transport.pause_reading()
        previous = -1
        for _ in range(100):
            await asyncio.sleep(0.05)
            if len(TracingHandler.chunks) == previous:
                break
            previous = len(TracingHandler.chunks)
        sent = sum(TracingHandler.chunks)
        assert sent < size // 2, f"{sent} bytes read from a {size}-byte file for a stalled client"
        assert max(TracingHandler.chunks) <= 64 * 1024
        # Now read it all: the rest follows.
        transport.resume_reading()
        received = 0
        while True:
            data = await asyncio.wait_for(reader.read(1024 * 1024), 10)
            if not data:
                break
            received += len(data)
        assert received == size
        assert TracingHandler.closed == [True]
    finally:
        writer.close()
        await s.close()


async def test_client_disconnect_closes_file(io_loop: IOLoop, root: Path) -> None:
    big = root / "huge.bin"
    with open(big, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    TracingHandler.chunks = []
    TracingHandler.closed = []
    s = Server(Application([(r"/(.*)", TracingHandler, {"path": str(root)})]))
    try:
        sockets_before = len(open_fds("socket:"))
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readexactly(100_000), 10)
        writer.transport.abort()
        for _ in range(200):
            if TracingHandler.closed:
                break
            await asyncio.sleep(0.02)
        assert TracingHandler.closed == [True]
        assert sum(TracingHandler.chunks) < 64 * 1024 * 1024
        for _ in range(100):
            if len(open_fds("socket:")) <= sockets_before:
                break
            await asyncio.sleep(0.02)
        assert len(open_fds("socket:")) <= sockets_before
        assert open_fds(str(big)) == []
        # The server is fine.
        assert (await s.fetch("/hello.txt")).body == HELLO
    finally:
        await s.close()


async def test_big_file_hashed_off_the_loop(io_loop: IOLoop, root: Path) -> None:
    hashing_threads: list[int] = []

    class ThreadNoting(StaticFileHandler):
        @classmethod
        def _hash_or_none(cls, abs_path: str) -> str | None:
            hashing_threads.append(threading.get_ident())
            return super()._hash_or_none(abs_path)

    s = Server(Application([(r"/(.*)", ThreadNoting, {"path": str(root)})]))
    try:
        big = await s.fetch("/big.bin")
        assert big.headers["Etag"] == f'"{version_of((root / "big.bin").read_bytes())}"'
        small = await s.fetch("/hello.txt")
        assert small.headers["Etag"] == f'"{version_of(HELLO)}"'
        assert hashing_threads[0] != threading.get_ident()
        assert hashing_threads[1] == threading.get_ident()
    finally:
        await s.close()


# -- gzip -------------------------------------------------------------------------------------


async def test_compress_response(io_loop: IOLoop, root: Path) -> None:
    s = Server(make_app(root, compress_response=True))
    try:
        text = (root / "text.txt").read_bytes()
        response = await s.fetch("/static/text.txt", Accept_Encoding="gzip")
        assert response.code == 200
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.body) == text
        assert len(response.body) < len(text)
        plain = await s.fetch("/static/text.txt")
        assert "Content-Encoding" not in plain.headers
        assert plain.body == text
        image = await s.fetch("/static/image.png", Accept_Encoding="gzip")
        assert "Content-Encoding" not in image.headers
        assert image.body == (root / "image.png").read_bytes()
        etag = plain.headers["Etag"]
        assert (
            await s.fetch("/static/text.txt", Accept_Encoding="gzip", If_None_Match=etag)
        ).code == 304
        # A range is served as identity bytes, never a compressed slice.
        ranged = await s.fetch("/static/text.txt", Accept_Encoding="gzip", Range="bytes=0-9")
        assert ranged.code == 206
        assert "Content-Encoding" not in ranged.headers
        assert ranged.body == text[:10]
    finally:
        await s.close()


# -- subclassing ---------------------------------------------------------------------------------


class MemoryHandler(StaticFileHandler):
    """Serves from a dict: the override points a non-file subclass uses."""

    FILES = {"a.txt": b"abcdefghij", "b.txt": b"B" * 200_000}
    MODIFIED = datetime.datetime(2020, 1, 2, 3, 4, 5)  # naive: taken as UTC

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        return path

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if absolute_path not in self.FILES:
            raise HTTPError(404)
        return absolute_path

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Iterable[bytes] | bytes:
        return cls.FILES[abspath][start:end]

    def get_content_size(self) -> int:
        return len(self.FILES[self.absolute_path])

    def get_modified_time(self) -> datetime.datetime | None:
        return self.MODIFIED

    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Served-From", "memory")

    def get_cache_time(self, path: str, modified: datetime.datetime | None, mime_type: str) -> int:
        return 60


async def test_subclass_serving_from_memory(io_loop: IOLoop) -> None:
    s = Server(Application([(r"/m/(.*)", MemoryHandler, {"path": "unused"})]))
    try:
        response = await s.fetch("/m/a.txt")
        assert response.body == b"abcdefghij"
        assert response.headers["X-Served-From"] == "memory"
        assert response.headers["Cache-Control"] == "public, max-age=60"
        assert response.headers["Last-Modified"] == "Thu, 02 Jan 2020 03:04:05 GMT"
        assert response.headers["Etag"] == f'"{version_of(b"abcdefghij")}"'
        ranged = await s.fetch("/m/a.txt", Range="bytes=2-4")
        assert (ranged.code, ranged.body) == (206, b"cde")
        assert (await s.fetch("/m/b.txt")).body == b"B" * 200_000
        since = await s.fetch("/m/a.txt", If_Modified_Since="Thu, 02 Jan 2020 03:04:05 GMT")
        assert since.code == 304
        assert (await s.fetch("/m/zzz")).code == 404
    finally:
        await s.close()


class FailingReader(StaticFileHandler):
    """Reading fails: before the first byte, or after some were sent."""

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        return "v1"

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Iterable[bytes] | bytes:
        def chunks() -> Iterator[bytes]:
            if "late" in abspath:
                yield b"x" * 1000
            raise OSError(5, "Input/output error")

        if "early" in abspath or "late" in abspath:
            return chunks()
        return super().get_content(abspath, start, end)


@pytest.mark.parametrize("name", ["early.txt", "late.txt"])
async def test_read_error_is_500_or_closed_never_a_hang(
    io_loop: IOLoop, root: Path, name: str
) -> None:
    (root / name).write_bytes(b"y" * 5000)
    s = Server(Application([(r"/(.*)", FailingReader, {"path": str(root)})]))
    try:
        with (
            ExpectLog("squall.application", "Uncaught exception"),
            ExpectLog(
                "squall.general", ".*(after headers written|partial response)", required=False
            ),
        ):
            data = await s.raw(
                f"GET /{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            )
        if name == "early.txt":
            response = parse_response(data)
            assert response.code == 500
        else:
            # The head and the first chunk were sent: the connection is closed
            # short of the announced length, so the client sees the truncation.
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            assert b"Content-Length: 5000" in head
            assert body == b"x" * 1000
        assert (await s.fetch("/hello.txt")).code == 200
    finally:
        await s.close()


async def test_static_handler_args_setting(io_loop: IOLoop, root: Path) -> None:
    s = Server(
        Application(static_path=str(root), static_handler_args={"default_filename": "index.html"})
    )
    try:
        assert (await s.fetch("/static/dir/")).body == b"<p>index</p>\n"
        assert (await s.fetch("/static/dir")).headers["Location"] == "/static/dir/"
    finally:
        await s.close()


def test_public_api() -> None:
    # Tornado's StaticFileHandler API, which subclasses build on.
    for name in (
        "initialize",
        "get",
        "head",
        "reset",
        "get_absolute_path",
        "validate_absolute_path",
        "get_content",
        "get_content_version",
        "get_content_size",
        "get_modified_time",
        "get_content_type",
        "set_headers",
        "should_return_304",
        "compute_etag",
        "set_extra_headers",
        "get_cache_time",
        "make_static_url",
        "get_version",
        "parse_url_path",
        "_get_cached_version",
    ):
        assert callable(getattr(StaticFileHandler, name)), name
    assert StaticFileHandler.CACHE_MAX_AGE == TEN_YEARS
    assert issubclass(StaticFileHandler, RequestHandler)
    import squall.web
    import squall.web._static

    assert squall.web.StaticFileHandler is StaticFileHandler
    assert squall.web._static.__all__ == ["StaticFileHandler"]
