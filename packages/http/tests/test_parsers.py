"""Every request-head parser gives the reference parser's answer.

The conformance corpus (``REQUEST_CASES`` in ``test_http1_parser.py``),
exhaustive one-byte mutations of some of its heads and hypothesis-generated
heads run through the pure-Python reference and the httptools parser, which
must return equal start lines and headers or raise the same
:class:`~squall.httputil.HTTPInputError` subclass with the same status.
Then whole requests are fed to :class:`HTTP1ServerConnection` through a fake
stream, split at every byte boundary, under both parsers: the delegate must
see the same requests, and bad input must only produce the error response
named by the corpus.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from squall.http1connection import HTTP1ConnectionParameters, HTTP1ServerConnection
from squall.http1connection._parser import parse_request_head, request_body_framing
from squall.http1connection._parsers import (
    ParserUnavailableError,
    request_head_parser,
    resolve_parser_name,
)
from squall.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
    responses,
)
from squall.iostream import StreamClosedError

_spec = importlib.util.spec_from_file_location(
    "squall_http_parser_corpus_for_parsers", Path(__file__).with_name("test_http1_parser.py")
)
assert _spec is not None and _spec.loader is not None
_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_corpus)
REQUEST_CASES: list[tuple[str, bytes, int | None]] = _corpus.REQUEST_CASES

try:
    from squall.http1connection import _httptools
except ImportError:  # the speedups extra is not installed
    _httptools = None  # type: ignore[assignment]

NO_HTTPTOOLS = "httptools is not installed (pip install 'squall-http[speedups]')"
needs_httptools = pytest.mark.skipif(_httptools is None, reason=NO_HTTPTOOLS)
PARSERS = ["pure", pytest.param("httptools", marks=needs_httptools)]

Outcome = tuple[Any, ...]
Parse = Callable[..., tuple[RequestStartLine, HTTPHeaders]]


@pytest.fixture(autouse=True)
def llhttp_for_every_head(monkeypatch: pytest.MonkeyPatch) -> None:
    """Have the httptools parser use llhttp for short heads too.

    By default it hands heads of few fields to the reference parser (which
    is faster for them); here every head goes through llhttp and its
    checks, so the agreement tests test them.
    """
    if _httptools is not None:
        monkeypatch.setattr(_httptools, "_MIN_FIELDS", 0)


def outcome(parse: Parse, head: bytes, **kwargs: Any) -> Outcome:
    """What a parser makes of ``head``: its full result, or its error and status.

    Any exception other than HTTPInputError propagates and fails the test.
    """
    try:
        start_line, headers = parse(head, **kwargs)
    except HTTPInputError as e:
        assert str(e), "an HTTPInputError must say what is wrong"
        return ("error", type(e), e.status_code)
    # Every attribute HTTPHeaders keeps, not just the fields (listed: the
    # compiled build's HTTPHeaders has no __dict__ for vars()).
    state = (headers._as_list, headers._last_key)
    return ("ok", type(start_line), tuple(start_line), type(headers), state)


def both(head: bytes, **kwargs: Any) -> Outcome:
    """Parse with both parsers, assert they agree and return the outcome."""
    expected = outcome(parse_request_head, head, **kwargs)
    got = outcome(_httptools.parse_request_head_httptools, head, **kwargs)
    assert got == expected, head
    return expected


# Heads the httptools parser must parse on its own (never handing them to
# the reference parser): what clients usually send.
WRK_HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080"
BROWSER_HEAD = (
    b"GET /static/app.js?v=3 HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Referer: https://www.example.com/index.html\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=abcdef0123456789; theme=dark\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: script\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"Sec-Fetch-Site: same-origin"
)
FAST_HEADS = [
    WRK_HEAD,
    BROWSER_HEAD,
    b"GET / HTTP/1.0",
    b"HEAD /x HTTP/1.0\r\nUser-Agent: curl/8",
    b"POST /api?q=1 HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Type: application/json\r\n"
    b"Content-Length: 27",
    b"PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\nX-Tab: a\tb\r\nX-Trailing: v \t",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:   ",
    b"DELETE /%7Euser/a%20b HTTP/1.1\r\nHOST: example.com\r\nx-lower: 1\r\nX-A: b:c",
]


def test_corpus_is_loaded() -> None:
    assert len(REQUEST_CASES) > 50
    assert any(expected is None for _, _, expected in REQUEST_CASES)


# -- the corpus -----------------------------------------------------------


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("head", "expected"), [(c[1], c[2]) for c in REQUEST_CASES], ids=[c[0] for c in REQUEST_CASES]
)
def test_corpus_expected_status(parser: str, head: bytes, expected: int | None) -> None:
    parse = request_head_parser(parser)
    try:
        start_line, headers = parse(head)
        request_body_framing(start_line, headers)
    except HTTPInputError as e:
        assert e.status_code == expected, str(e)
    else:
        assert expected is None


@needs_httptools
@pytest.mark.parametrize("head", [c[1] for c in REQUEST_CASES], ids=[c[0] for c in REQUEST_CASES])
def test_corpus_parsers_agree(head: bytes) -> None:
    both(head)
    both(head, max_fields=1)
    both(head, extra_methods=frozenset({"BREW", "PROPFIND"}))


@pytest.fixture
def fast_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the httptools parser fail if it hands a head to the reference parser."""

    def no_fallback(head: bytes, **kwargs: Any) -> Any:
        raise AssertionError(f"{head!r} was handed to the reference parser")

    monkeypatch.setattr(_httptools, "parse_request_head", no_fallback)


@needs_httptools
@pytest.mark.parametrize("head", FAST_HEADS)
def test_typical_heads_take_the_fast_path(
    head: bytes, fast_path_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = outcome(parse_request_head, head)  # the module's own import: not patched
    assert expected[0] == "ok"
    monkeypatch.setattr(_httptools, "_NAMES", {})
    monkeypatch.setattr(_httptools, "_HOSTS", set())
    for _ in range(2):  # cold, then warm name and host caches
        assert outcome(_httptools.parse_request_head_httptools, head) == expected


@needs_httptools
def test_short_heads_go_to_the_reference_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the module's own threshold, not the autouse fixture's
    handed: list[bytes] = []

    def reference(head: bytes, **kwargs: Any) -> Any:
        handed.append(head)
        return parse_request_head(head, **kwargs)

    monkeypatch.setattr(_httptools, "parse_request_head", reference)
    fields = [b"Host: a.example", *(b"X-Field-%d: %d" % (i, i) for i in range(20))]
    for count in (1, _httptools._MIN_FIELDS - 1, _httptools._MIN_FIELDS, 20):
        head = b"GET /p HTTP/1.1\r\n" + b"\r\n".join(fields[:count])
        handed.clear()
        assert outcome(_httptools.parse_request_head_httptools, head) == outcome(
            parse_request_head, head
        )
        assert bool(handed) == (count < _httptools._MIN_FIELDS), count


@needs_httptools
def test_fast_path_with_extra_method(fast_path_only: None) -> None:
    head = b"PROPFIND /dav HTTP/1.1\r\nHost: a\r\nDepth: 1"
    extra = frozenset({"PROPFIND"})
    expected = outcome(parse_request_head, head, extra_methods=extra)
    assert expected[2] == ("PROPFIND", "/dav", "HTTP/1.1")
    assert outcome(_httptools.parse_request_head_httptools, head, extra_methods=extra) == expected


@needs_httptools
@pytest.mark.parametrize(
    "head",
    [
        b"OPTIONS * HTTP/1.1\r\nHost: a",
        b"GET http://example.com/x HTTP/1.1\r\nHost: other",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Multi: 1\r\nX-Multi: 2",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Multi: 1\r\nx-multi: 2",
        b"\r\nGET / HTTP/1.1\r\nHost: a",
        b"GET /caf\xe9 HTTP/1.1\r\nHost: a",
        b"GET / HTTP/1.1\r\nHost: a\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nX: b",
        b"PROPFIND / HTTP/1.1\r\nHost: a",
        b"",
    ],
)
def test_heads_left_to_the_reference_agree(head: bytes) -> None:
    both(head)
    both(head, extra_methods=frozenset({"PROPFIND"}))


# -- exhaustive mutations -------------------------------------------------

MUTATED_HEADS = [
    b"GET /a?b=c HTTP/1.1\r\nHost: example.com:80\r\nX-A: b c",
    b"POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked",
]


@needs_httptools
@pytest.mark.parametrize("head", MUTATED_HEADS)
def test_every_one_byte_mutation_agrees(head: bytes) -> None:
    """Replace each byte by each of the 256 values, and delete and double it."""
    for i in range(len(head)):
        before, after = head[:i], head[i + 1 :]
        for value in range(256):
            both(before + bytes([value]) + after)
        both(before + after)
        both(before + head[i : i + 1] * 2 + after)


# -- hypothesis -----------------------------------------------------------

# Pieces that make the parsers' decisions interesting.
_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE"]
_ODD_METHODS = ["get", "PROPFIND", "BREW", "M-SEARCH", "SETUP", "GE T", ""]
_TARGETS = ["/", "/a/b?c=d#f", "*", "http://h/x", "h:443", "/caf\xe9", "/a b", "/\t", "", "x"]
_VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "RTSP/1.0", "http/1.1", "HTTP/1.11"]
_NAMES = ["Host", "host", "HOST", "Content-Length", "Transfer-Encoding", "X-A", "x-a", "Cookie"]
_ODD_NAMES = ["", "X A", "X(A)", "X-A ", " X-A", "\tX", "X\x00", "caf\xe9"]
_VALUES = ["a", "example.com:8080", "[::1]", "5", "chunked", "gzip, chunked", "", " a ", "a\tb"]
_ODD_VALUES = ["a\rb", "a\nb", "a\x00b", "a\x7f", "caf\xe9", "a\r\n b", "user@h", "a,b"]
_SEPARATORS = ["\r\n", "\r\n", "\r\n", "\n", "\r", "\r\n\r\n", "\r\n "]

_any_of = st.sampled_from


@st.composite
def request_heads(draw: st.DrawFn) -> bytes:
    """Mostly well-formed heads with a few odd pieces."""
    method = draw(_any_of(_METHODS) | _any_of(_ODD_METHODS))
    target = draw(_any_of(_TARGETS))
    version = draw(_any_of(_VERSIONS))
    line = draw(
        _any_of([f"{method} {target} {version}", f"{method}  {target} {version}"])
        | st.just(f"{method} {target}")
    )
    parts = [draw(_any_of(["", "", "", "\r\n"])) + line]
    for _ in range(draw(st.integers(0, 6))):
        name = draw(_any_of(_NAMES) | _any_of(_ODD_NAMES))
        value = draw(_any_of(_VALUES) | _any_of(_ODD_VALUES))
        colon = draw(_any_of([": ", ":", " : ", ":\t"]))
        parts.append(draw(_any_of(_SEPARATORS)) + name + colon + value)
    return "".join(parts).encode("latin-1")


@needs_httptools
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_heads(), st.integers(1, 8), st.booleans())
def test_generated_heads_agree(head: bytes, max_fields: int, extra: bool) -> None:
    extra_methods = frozenset({"PROPFIND", "BREW"}) if extra else frozenset()
    both(head, max_fields=max_fields, extra_methods=extra_methods)
    both(head)


@needs_httptools
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_agree(data: bytes) -> None:
    both(data)
    both(b"GET / HTTP/1.1\r\nHost: a\r\n" + data)


@needs_httptools
@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([c[1] for c in REQUEST_CASES] + FAST_HEADS),
    st.lists(
        st.tuples(st.sampled_from(["replace", "insert", "delete"]), st.integers(0), st.binary()),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_heads_agree(head: bytes, edits: list[tuple[str, int, bytes]]) -> None:
    data = bytearray(head)
    for kind, position, piece in edits:
        at = position % (len(data) + 1)
        if kind == "replace":
            data[at : at + len(piece)] = piece
        elif kind == "insert":
            data[at:at] = piece or b"\r\n"
        else:
            del data[at : at + max(1, len(piece))]
    both(bytes(data))


# -- caches, threads, the registry ---------------------------------------


@needs_httptools
def test_name_cache_is_bounded_and_only_holds_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_httptools, "_NAMES", {})
    monkeypatch.setattr(_httptools, "_HOSTS", set())
    many = b"".join(b"\r\nX-Field-%d: v" % i for i in range(60))
    for round_ in range(30):
        head = b"GET / HTTP/1.1\r\nHost: h%d" % round_ + many.replace(b"X-", b"X%d-" % round_)
        expected = outcome(parse_request_head, head, max_fields=100)
        assert outcome(_httptools.parse_request_head_httptools, head) == expected
    assert len(_httptools._NAMES) == _httptools._NAMES_MAX
    assert len(_httptools._HOSTS) <= _httptools._HOSTS_MAX
    both(b"GET / HTTP/1.1\r\nHost: a\r\nX-Late-Name: 1")  # past the bound, still right
    both(b"GET / HTTP/1.1\r\nHost: a\r\nX Bad: 1")
    assert all(b" " not in name for name in _httptools._NAMES)


@needs_httptools
def test_parallel_threads_get_their_own_results() -> None:
    heads = [b"GET /%d HTTP/1.1\r\nHost: h\r\nX-N: %d" % (i, i) for i in range(8)]
    errors: list[BaseException] = []

    def work(head: bytes) -> None:
        expected = outcome(parse_request_head, head)
        try:
            for _ in range(2000):
                assert outcome(_httptools.parse_request_head_httptools, head) == expected
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(h,)) for h in heads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[0]


@needs_httptools
def test_registry_returns_the_httptools_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    assert request_head_parser("httptools") is _httptools.parse_request_head_httptools
    assert request_head_parser("pure") is parse_request_head
    monkeypatch.setenv("SQUALL_HTTP_PARSER", "httptools")
    assert resolve_parser_name(None) == "httptools"
    assert HTTP1ConnectionParameters().parse_request_head is _httptools.parse_request_head_httptools
    assert HTTP1ConnectionParameters(parser="pure").parse_request_head is parse_request_head


def test_registry_without_httptools_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httptools", None)  # makes `import httptools` fail
    adapter = sys.modules.get("squall.http1connection._httptools")
    if adapter is not None and not str(adapter.__file__).endswith(".py"):
        # The compiled build runs a module's body once per process: make
        # the adapter's import fail as it would without httptools.
        monkeypatch.setitem(sys.modules, "squall.http1connection._httptools", None)
    else:
        monkeypatch.delitem(sys.modules, "squall.http1connection._httptools", raising=False)
    with pytest.raises(ParserUnavailableError, match=r"squall-http\[speedups\]"):
        request_head_parser("httptools")
    with pytest.raises(ParserUnavailableError):
        HTTP1ConnectionParameters(parser="httptools")
    with pytest.raises(ValueError, match="unknown HTTP parser"):
        HTTP1ConnectionParameters(parser="fast")


# -- whole connections over a fake stream ----------------------------------


def _resolve(future: asyncio.Future[bytes], data: bytes) -> None:
    if not future.done():
        future.set_result(data)


class FakeStream:
    """Just what HTTP1Connection uses of an IOStream, with scripted input.

    Each ``read_bytes`` resolves (on the next loop iteration) with the next
    scripted piece; after the last one the stream closes, as when the peer
    closes.  Writes are recorded and succeed at once; none may follow
    ``write_eof``.
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = list(reversed(pieces))
        self._closed = False
        self._close_callback: Callable[[], Any] | None = None
        self._loop = asyncio.get_running_loop()
        self.written = bytearray()
        self.reads = 0
        self.eof_written = False

    def read_bytes(self, num_bytes: int, partial: bool = False) -> asyncio.Future[bytes]:
        assert partial, "HTTP1Connection reads with partial=True"
        future: asyncio.Future[bytes] = self._loop.create_future()
        if self._closed or not self._pieces:
            self.close()
            future.set_exception(StreamClosedError())
            return future
        piece = self._pieces.pop()
        if len(piece) > num_bytes:
            self._pieces.append(piece[num_bytes:])
            piece = piece[:num_bytes]
        self.reads += 1
        self._loop.call_soon(_resolve, future, piece)
        return future

    def write(self, data: bytes) -> asyncio.Future[None]:
        if self._closed:
            raise StreamClosedError()
        assert not self.eof_written, "write after write_eof"
        self.written += data
        future: asyncio.Future[None] = self._loop.create_future()
        future.set_result(None)
        return future

    def write_eof(self) -> None:
        self.eof_written = True

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        self._close_callback = callback

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            self._loop.call_soon(callback)

    def closed(self) -> bool:
        return self._closed


class Recorded:
    """One request as a message delegate saw it."""

    def __init__(self) -> None:
        self.start_line: RequestStartLine | None = None
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.trailers: list[tuple[str, str]] = []
        self.finished = False
        self.closed_early = False

    def summary(self) -> tuple[Any, ...]:
        assert self.start_line is not None
        return (
            tuple(self.start_line),
            self.headers,
            bytes(self.body),
            self.trailers,
            self.finished,
            self.closed_early,
        )


class Recorder(HTTPServerConnectionDelegate):
    """Records each request and answers it with a fixed 200 response."""

    RESPONSE_HEADERS = {"Content-Length": "2", "Date": "Thu, 01 Jan 1970 00:00:00 GMT"}

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.closed = asyncio.get_running_loop().create_future()

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        recorder = self

        class Message(HTTPMessageDelegate):
            def __init__(self) -> None:
                self.record = Recorded()

            def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
                self.record.start_line = start_line
                self.record.headers = list(headers.get_all())
                recorder.requests.append(self.record)

            def data_received(self, chunk: bytes) -> None:
                self.record.body += chunk

            def finish(self) -> None:
                self.record.finished = True
                trailers = request_conn.trailers
                self.record.trailers = list(trailers.get_all()) if trailers else []
                request_conn.write_headers(
                    ResponseStartLine("HTTP/1.1", 200, "OK"),
                    HTTPHeaders(Recorder.RESPONSE_HEADERS),
                    b"ok",
                )
                request_conn.finish()

            def on_connection_close(self) -> None:
                self.record.closed_early = True

        return Message()

    def on_close(self, server_conn: object) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def serve(
    parser: str, pieces: list[bytes], read_all: bool = False
) -> tuple[list[tuple[Any, ...]], bytes]:
    """Run one connection over ``pieces``; return what the delegate saw and the output.

    With ``read_all``, check that the connection read every piece (one read each).
    """
    stream = FakeStream(pieces)
    recorder = Recorder()
    conn = HTTP1ServerConnection(stream, HTTP1ConnectionParameters(parser=parser))
    conn.start_serving(recorder)
    await asyncio.wait_for(recorder.closed, 10)
    assert stream.closed()
    if read_all:
        assert stream.reads == len(pieces)
    return [r.summary() for r in recorder.requests], bytes(stream.written)


def splits(data: bytes) -> Iterator[list[bytes]]:
    """One byte per read, then every two-piece split."""
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


OK_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\nok"
)
# The answer to a request that asked to close the connection.
OK_CLOSE = OK_RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")

# (name, bytes sent, [(start line, headers, body, trailers)], bytes written).
CONVERSATIONS: list[tuple[str, bytes, list[tuple[Any, ...]], bytes]] = [
    (
        "pipelined get, post, get",
        b"GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-A:  b \r\n\r\n"
        b"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /last HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        [
            (
                ("GET", "/a?x=1", "HTTP/1.1"),
                [("Host", "example.com"), ("Accept", "*/*"), ("X-A", "b")],
                b"",
                [],
            ),
            (
                ("POST", "/p", "HTTP/1.1"),
                [("Host", "example.com"), ("Content-Length", "5")],
                b"hello",
                [],
            ),
            (
                ("GET", "/last", "HTTP/1.1"),
                [("Host", "example.com"), ("Connection", "close")],
                b"",
                [],
            ),
        ],
        OK_RESPONSE * 2 + OK_CLOSE,
    ),
    (
        "chunked with extensions and trailers",
        b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;ext=1\r\nhello\r\n6 ; name="q"\r\n world\r\n0;last\r\nX-Sum: 11\r\nX-More: t\r\n\r\n'
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        [
            (
                ("POST", "/up", "HTTP/1.1"),
                [("Host", "a"), ("Transfer-Encoding", "chunked")],
                b"hello world",
                [("X-Sum", "11"), ("X-More", "t")],
            ),
            (("GET", "/", "HTTP/1.1"), [("Host", "a"), ("Connection", "close")], b"", []),
        ],
        OK_RESPONSE + OK_CLOSE,
    ),
    (
        "heads the fast path leaves to the reference",
        b"\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\nX-M: 1\r\nx-m: 2\r\n\r\n"
        b"GET http://example.com/x HTTP/1.1\r\nHost: other\r\nContent-Length: 0\r\n\r\n"
        b"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
        [
            (("OPTIONS", "*", "HTTP/1.1"), [("Host", "a"), ("X-M", "1"), ("X-M", "2")], b"", []),
            (
                ("GET", "http://example.com/x", "HTTP/1.1"),
                [("Host", "other"), ("Content-Length", "0")],
                b"",
                [],
            ),
            (
                ("GET", "/ws", "HTTP/1.0"),
                [("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade")],
                b"",
                [],
            ),
        ],
        OK_RESPONSE * 3,  # HTTP/1.0 closing: no Connection field is added
    ),
]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("data", "expected", "output"),
    [c[1:] for c in CONVERSATIONS],
    ids=[c[0] for c in CONVERSATIONS],
)
async def test_requests_split_at_every_byte_boundary(
    parser: str, data: bytes, expected: list[tuple[Any, ...]], output: bytes
) -> None:
    want = [(*e, True, False) for e in expected]
    for pieces in splits(data):
        seen, written = await serve(parser, pieces, read_all=True)
        assert seen == want, pieces
        assert written == output, pieces


def error_response(status: int) -> bytes:
    reason = responses.get(status, "Error")
    return f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()


BAD_CASES = [(name, head, status) for name, head, status in REQUEST_CASES if status is not None]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("head", "status"), [(c[1], c[2]) for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
async def test_bad_heads_get_only_their_error_response(
    parser: str, head: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    # After a good request on the same connection, split at every boundary.
    good = b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
    data = good + head + b"\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n"
    with caplog.at_level(logging.INFO, logger="squall"):
        for pieces in splits(data):
            seen, written = await serve(parser, pieces)
            assert [s[0] for s in seen] == [("GET", "/first", "HTTP/1.1")], pieces
            assert written == OK_RESPONSE + error_response(status), pieces
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"5\r\nhelloXX0\r\n\r\n", 400),  # data not followed by CRLF
        (b"zz\r\n", 400),  # chunk size not hex
        (b"5;a\x01b\r\nhello\r\n0\r\n\r\n", 400),  # control character in an extension
        (b"0\r\nBad Trailer: x\r\n\r\n", 400),
    ],
)
async def test_bad_chunked_bodies_get_400(parser: str, body: bytes, status: int) -> None:
    data = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    for pieces in splits(data):
        seen, written = await serve(parser, pieces)
        assert len(seen) == 1
        assert seen[0][4:] == (False, True)  # not finished; told the connection closed
        assert written == error_response(status), pieces


async def test_both_parsers_see_the_same_random_requests() -> None:
    """Random valid conversations (fixed seed): equal under both parsers."""
    if _httptools is None:
        pytest.skip(NO_HTTPTOOLS)
    rng = random.Random(20240601)
    for _ in range(25):
        data = b""
        for _ in range(rng.randrange(1, 4)):
            target = "/" + "".join(rng.choice("abc/?=&%~") for _ in range(rng.randrange(8)))
            fields = [("Host", rng.choice(["a", "example.com:8080", "[::1]"]))]
            for _ in range(rng.randrange(4)):
                fields.append((rng.choice(["X-A", "x-b", "Accept"]), rng.choice(["1", " v ", ""])))
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
            if rng.random() < 0.5:
                fields.append(("Content-Length", str(len(body))))
                payload = body
            else:
                fields.append(("Transfer-Encoding", "chunked"))
                payload = (b"%x;e=1\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
            head = f"{rng.choice(['POST', 'PUT'])} {target} HTTP/1.1\r\n"
            head += "".join(f"{n}:{v}\r\n" for n, v in fields)
            data += head.encode() + b"\r\n" + payload
        cut = rng.randrange(1, len(data))
        pieces = [data[:cut], data[cut:]]
        assert await serve("pure", pieces) == await serve("httptools", pieces)
