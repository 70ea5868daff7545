"""Fuzz Squall's HTTP/1.1 parsing with atheris (libFuzzer for Python).

Each input is used three ways:

* as a request head, given to the pure-Python reference parser and, when
  httptools is installed, to the httptools parser, twice (default limits;
  then a small ``max_fields`` and two extra methods): each parse may only
  raise :class:`~squall.httputil.HTTPInputError`, and both parsers must give
  equal start lines and headers or the same exception class and status;
  accepted heads also go through ``request_body_framing``;
* as a response head, given to ``parse_response_head`` and
  ``response_body_framing``, which may only raise ``HTTPInputError``;
* as a chunked body, fed to a :class:`ChunkedDecoder` whole and in pieces
  of 1 to 8 bytes: only ``HTTPInputError`` may escape, and the split must
  not change the outcome (the body, trailers, leftover bytes, or the error
  class).

Anything else is a crash that libFuzzer reports with the input that caused
it.  See ``fuzz/README.md`` for how to run it.
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["squall"]):
    from squall.http1connection._parser import (
        ChunkedDecoder,
        parse_request_head,
        parse_response_head,
        request_body_framing,
        response_body_framing,
    )
    from squall.httputil import HTTPInputError

    try:
        from squall.http1connection._httptools import parse_request_head_httptools
    except ImportError:  # the speedups extra is not installed: pure parser only
        parse_request_head_httptools = None  # type: ignore[assignment]

EXTRA_METHODS = frozenset({"PROPFIND", "BREW"})


def request_outcome(parse: Any, data: bytes, **kwargs: Any) -> tuple[Any, ...]:
    try:
        start_line, headers = parse(data, **kwargs)
    except HTTPInputError as e:
        return ("error", type(e), e.status_code)
    try:
        framing: tuple[Any, ...] = request_body_framing(start_line, headers)
    except HTTPInputError as e:
        framing = ("error", type(e), e.status_code)
    return ("ok", type(start_line), tuple(start_line), type(headers), vars(headers), framing)


def check_request_head(data: bytes) -> None:
    for kwargs in ({}, {"max_fields": 1 + len(data) % 5, "extra_methods": EXTRA_METHODS}):
        expected = request_outcome(parse_request_head, data, **kwargs)
        if parse_request_head_httptools is not None:
            got = request_outcome(parse_request_head_httptools, data, **kwargs)
            if got != expected:
                raise AssertionError(
                    f"the parsers disagree on {data!r} ({kwargs}):\n"
                    f"  pure:      {expected!r}\n  httptools: {got!r}"
                )


def check_response_head(data: bytes) -> None:
    try:
        start_line, headers = parse_response_head(data, max_fields=50)
        response_body_framing("GET", start_line, headers)
    except HTTPInputError:
        pass


def decode(data: bytes, step: int) -> tuple[Any, ...]:
    decoder = ChunkedDecoder(max_line=64, max_trailer_size=256)
    body = bytearray()
    try:
        for i in range(0, len(data), step):
            for piece in decoder.feed(data[i : i + step]):
                body += piece
    except HTTPInputError as e:
        return ("error", type(e))
    if not decoder.done:
        return ("incomplete", bytes(body))
    return ("done", bytes(body), list(decoder.trailers.get_all()), decoder.leftover)


def check_chunked(data: bytes) -> None:
    whole = decode(data, max(1, len(data)))
    step = 1 + (data[0] % 8 if data else 0)
    split = decode(data, step)
    if whole != split:
        raise AssertionError(
            f"ChunkedDecoder depends on the split ({step} bytes) for {data!r}:\n"
            f"  whole: {whole!r}\n  split: {split!r}"
        )


def TestOneInput(data: bytes) -> None:  # noqa: N802 (the name atheris expects)
    check_request_head(data)
    check_response_head(data)
    check_chunked(data)


def main() -> None:
    if parse_request_head_httptools is None:
        print("httptools is not installed: fuzzing the pure-Python parser alone", file=sys.stderr)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
