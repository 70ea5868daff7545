"""The HTTP/1.1 parser without I/O: request heads, framing, chunked bodies.

The request corpus (``REQUEST_CASES``) is the conformance corpus: the same
cases run against the live server under every parser in
``test_http1_conformance.py``.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from squall.http1connection._parser import (
    CHUNKED,
    LENGTH,
    NO_BODY,
    UNTIL_CLOSE,
    BadFramingError,
    ChunkedDecoder,
    parse_request_head,
    parse_response_head,
    request_body_framing,
    response_body_framing,
)
from squall.httputil import HTTPInputError, ResponseStartLine

# (name, raw head without the final blank line, expected status or None for OK)
REQUEST_CASES: list[tuple[str, bytes, int | None]] = [
    ("simple get", b"GET / HTTP/1.1\r\nHost: example.com", None),
    ("http/1.0 without host", b"GET / HTTP/1.0", None),
    ("options star", b"OPTIONS * HTTP/1.1\r\nHost: a", None),
    ("absolute form", b"GET http://example.com/x?y=1 HTTP/1.1\r\nHost: other", None),
    ("absolute form, empty host", b"GET http://[::1]:8/ HTTP/1.1\r\nHost: ", None),
    ("absolute form, no authority", b"GET http:///x HTTP/1.1\r\nHost: a", 400),
    ("absolute form, userinfo", b"GET http://user@a/ HTTP/1.1\r\nHost: a", 400),
    ("absolute form, bad authority", b"GET http://a,b/ HTTP/1.1\r\nHost: a", 400),
    ("absolute form, bad port", b"GET http://a:8x/ HTTP/1.1\r\nHost: a", 400),
    ("host with port", b"GET / HTTP/1.1\r\nHost: example.com:8080", None),
    ("ipv6 host", b"GET / HTTP/1.1\r\nHost: [::1]:80", None),
    ("leading blank line", b"\r\nGET / HTTP/1.1\r\nHost: a", None),
    ("chunk framing", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", None),
    ("content length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5", None),
    (
        "repeated equal CL",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5",
        None,
    ),
    ("obs-text in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9", None),
    ("tab in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\tc", None),
    # framing ambiguity
    (
        "CL and TE",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked",
        400,
    ),
    ("differing CL", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6", 400),
    ("CL list differing", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6", 400),
    ("CL plus sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5", 400),
    ("CL hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5", 400),
    ("CL underscore", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0", 400),
    ("CL negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1", 400),
    ("CL empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ", 400),
    ("CL inner space", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0", 400),
    (
        "CL non-ascii digits",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \u0661\u0662".encode(),
        400,
    ),
    (
        "TE not final chunked",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip",
        400,
    ),
    ("TE chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked", 400),
    ("TE unknown", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip", 501),
    (
        "TE gzip then chunked",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked",
        501,
    ),
    ("TE in http/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked", 400),
    ("TE empty", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ", 400),
    # characters
    ("bare CR in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc", 400),
    ("bare LF line end", b"GET / HTTP/1.1\nHost: a", 400),
    ("bare CR line end", b"GET / HTTP/1.1\rHost: a", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c", 400),
    ("control char in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01c", 400),
    ("NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c", 400),
    ("DEL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7fc", 400),
    ("bad name char", b"GET / HTTP/1.1\r\nHost: a\r\nX(A): b", 400),
    ("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: b", 400),
    ("no colon", b"GET / HTTP/1.1\r\nHost: a\r\nJunk", 400),
    # request line
    ("lowercase method", b"get / HTTP/1.1\r\nHost: a", 501),
    ("unknown method", b"BREW / HTTP/1.1\r\nHost: a", 501),
    ("method with bad char", b"GE(T / HTTP/1.1\r\nHost: a", 400),
    ("http/0.9", b"GET /", 400),
    ("http/2.0", b"GET / HTTP/2.0\r\nHost: a", 505),
    ("http/1.2", b"GET / HTTP/1.2\r\nHost: a", 505),
    ("http/3", b"GET / HTTP/3\r\nHost: a", 400),
    ("lowercase http", b"GET / http/1.1\r\nHost: a", 400),
    ("double space", b"GET  / HTTP/1.1\r\nHost: a", 400),
    ("trailing space", b"GET / HTTP/1.1 \r\nHost: a", 400),
    ("tab separator", b"GET\t/ HTTP/1.1\r\nHost: a", 400),
    ("star for get", b"GET * HTTP/1.1\r\nHost: a", 400),
    ("relative target", b"GET foo HTTP/1.1\r\nHost: a", 400),
    ("control in target", b"GET /a\x01b HTTP/1.1\r\nHost: a", 400),
    # host
    ("missing host", b"GET / HTTP/1.1", 400),
    ("repeated host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b", 400),
    ("empty host", b"GET / HTTP/1.1\r\nHost: ", 400),
    ("comma host", b"GET / HTTP/1.1\r\nHost: a, b", 400),
    ("space host", b"GET / HTTP/1.1\r\nHost: a b", 400),
    ("userinfo host", b"GET / HTTP/1.1\r\nHost: user@a", 400),
    ("path host", b"GET / HTTP/1.1\r\nHost: a/b", 400),
    ("bad port host", b"GET / HTTP/1.1\r\nHost: a:80x", 400),
    ("unclosed ipv6 host", b"GET / HTTP/1.1\r\nHost: [::1", 400),
]


@pytest.mark.parametrize(
    ("head", "expected"), [(c[1], c[2]) for c in REQUEST_CASES], ids=[c[0] for c in REQUEST_CASES]
)
def test_request_corpus(head: bytes, expected: int | None) -> None:
    if expected is None:
        start_line, headers = parse_request_head(head)
        request_body_framing(start_line, headers)
        return
    with pytest.raises(HTTPInputError) as caught:
        start_line, headers = parse_request_head(head)
        request_body_framing(start_line, headers)
    assert caught.value.status_code == expected, str(caught.value)
    assert str(caught.value)  # always says what is wrong


def test_parsed_fields() -> None:
    start, headers = parse_request_head(
        b"POST /path?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0012\r\nX-Multi: a\r\nX-Multi: b"
    )
    assert (start.method, start.path, start.version) == ("POST", "/path?q=1", "HTTP/1.1")
    assert headers.get_list("X-Multi") == ["a", "b"]
    assert request_body_framing(start, headers) == (LENGTH, 12)


def test_framing_kinds() -> None:
    s, h = parse_request_head(b"GET / HTTP/1.1\r\nHost: a")
    assert request_body_framing(s, h) == (NO_BODY, 0)
    s, h = parse_request_head(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked")
    assert request_body_framing(s, h) == (CHUNKED, 0)
    s, h = parse_request_head(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0")
    assert request_body_framing(s, h) == (NO_BODY, 0)


def test_too_many_fields_is_431() -> None:
    head = b"GET / HTTP/1.1\r\nHost: a" + b"".join(b"\r\nX-%d: v" % i for i in range(100))
    with pytest.raises(HTTPInputError) as caught:
        parse_request_head(head, max_fields=50)
    assert caught.value.status_code == 431


def test_extra_methods_allowed() -> None:
    start, _ = parse_request_head(
        b"PROPFIND / HTTP/1.1\r\nHost: a", extra_methods=frozenset({"PROPFIND"})
    )
    assert start.method == "PROPFIND"


# -- responses -------------------------------------------------------------


def test_response_head_unfolds_and_parses() -> None:
    start, headers = parse_response_head(b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 3")
    assert start == ResponseStartLine("HTTP/1.1", 200, "OK")
    assert headers["X-A"] == "b c"
    assert response_body_framing("GET", start, headers) == (LENGTH, 3)
    assert response_body_framing("HEAD", start, headers) == (NO_BODY, 0)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 abc OK",
        b"HTTP/1.1",
        b"HTTP/1.1 200 O\x01K",
        b"ICY 200 OK",
        b"HTTP/1.1 200 OK\nX: y",
    ],
)
def test_malformed_response_heads(head: bytes) -> None:
    with pytest.raises(HTTPInputError):
        parse_response_head(head)


def test_response_framing() -> None:
    start = ResponseStartLine("HTTP/1.1", 200, "OK")
    _, h = parse_response_head(b"HTTP/1.1 200 OK")
    assert response_body_framing("GET", start, h) == (UNTIL_CLOSE, 0)
    _, h = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2")
    with pytest.raises(BadFramingError):
        response_body_framing("GET", start, h)
    _, h = parse_response_head(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
    )
    with pytest.raises(BadFramingError):
        response_body_framing("GET", start, h)
    with pytest.raises(BadFramingError):
        response_body_framing("GET", ResponseStartLine("HTTP/1.1", 204, ""), h)
    _, h = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 7")
    for code in (204, 304, 101):
        kind, _ = response_body_framing("GET", ResponseStartLine("HTTP/1.1", code, ""), h)
        assert kind == NO_BODY


# -- chunked ---------------------------------------------------------------

CHUNKED_BODY = b'5;ext=1\r\nhello\r\n6\r\n world\r\nA ; name="q"\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nNEXT'


def _feed_all(decoder: ChunkedDecoder, pieces: list[bytes]) -> bytes:
    out = bytearray()
    for piece in pieces:
        for chunk in decoder.feed(piece):
            out += chunk
    return bytes(out)


def test_chunked_whole_and_trailers() -> None:
    d = ChunkedDecoder()
    assert _feed_all(d, [CHUNKED_BODY]) == b"hello world0123456789"
    assert d.done
    assert d.trailers["X-Trailer"] == "t"
    assert d.leftover == b"NEXT"


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_chunked_split_at_every_boundary(step: int) -> None:
    d = ChunkedDecoder()
    pieces = [CHUNKED_BODY[i : i + step] for i in range(0, len(CHUNKED_BODY), step)]
    assert _feed_all(d, pieces) == b"hello world0123456789"
    assert d.done
    assert d.leftover == b"NEXT"[: len(d.leftover)]


def test_chunked_without_trailers() -> None:
    d = ChunkedDecoder()
    assert _feed_all(d, [b"3\r\nabc\r\n0\r\n\r\n"]) == b"abc"
    assert d.done
    assert len(d.trailers) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"x\r\n",  # not hex
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",  # data not followed by CRLF
        b"5\r\nhello\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",  # bare LF after size
        b"11111111111111111\r\n",  # too many digits
        b"5;a\x01b\r\nhello\r\n0\r\n\r\n",
        b"0\r\nBad Trailer: x\r\n\r\n",
        b"0\r\nX: a\rb\r\n\r\n",
    ],
)
def test_chunked_errors(body: bytes) -> None:
    d = ChunkedDecoder()
    with pytest.raises(BadFramingError):
        _feed_all(d, [body])


def test_chunked_size_line_limit() -> None:
    d = ChunkedDecoder(max_line=10)
    with pytest.raises(BadFramingError, match="too long"):
        d.feed(b"5;" + b"x" * 20)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=50))
def test_chunked_random_bytes_only_raise_http_input_error(data: bytes, step: int) -> None:
    d = ChunkedDecoder()
    try:
        for i in range(0, len(data), step):
            d.feed(data[i : i + step])
    except HTTPInputError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_request_head_random_bytes_only_raise_http_input_error(data: bytes) -> None:
    try:
        s, h = parse_request_head(data)
        request_body_framing(s, h)
    except HTTPInputError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([c[1] for c in REQUEST_CASES]), st.integers(0, 2**32), st.integers(1, 4))
def test_mutated_corpus_only_raises_http_input_error(head: bytes, seed: int, flips: int) -> None:
    rng = random.Random(seed)
    data = bytearray(head)
    for _ in range(flips):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    try:
        s, h = parse_request_head(bytes(data))
        request_body_framing(s, h)
    except HTTPInputError:
        pass


def test_chunked_round_trip_random() -> None:
    rng = random.Random(1234)
    for _ in range(50):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        encoded = bytearray()
        pos = 0
        while pos < len(payload):
            n = rng.randrange(1, 40)
            encoded += b"%x\r\n" % len(payload[pos : pos + n]) + payload[pos : pos + n] + b"\r\n"
            pos += n
        encoded += b"0\r\n\r\n"
        d = ChunkedDecoder()
        step = rng.randrange(1, 20)
        got = _feed_all(d, [bytes(encoded[i : i + step]) for i in range(0, len(encoded), step)])
        assert got == payload
        assert d.done


def test_chunked_limits_do_not_depend_on_the_split() -> None:
    # Found by fuzzing: a line or trailer exactly at its limit, split after
    # its CR, was refused although it is accepted in one piece.
    data = b"1;" + b"x" * 62 + b"\r\na\r\n0\r\n" + b"X: " + b"v" * 253 + b"\r\n\r\n"
    for i in range(len(data) + 1):
        d = ChunkedDecoder(max_line=64, max_trailer_size=256)
        assert _feed_all(d, [data[:i], data[i:]]) == b"a"
        assert d.done and d.trailers["X"] == "v" * 253
    for bad in (b"1;" + b"x" * 63 + b"\r\na\r\n0\r\n\r\n", b"0\r\nX: " + b"v" * 254 + b"\r\n\r\n"):
        for i in range(len(bad) + 1):
            with pytest.raises(BadFramingError):
                _feed_all(ChunkedDecoder(max_line=64, max_trailer_size=256), [bad[:i], bad[i:]])
