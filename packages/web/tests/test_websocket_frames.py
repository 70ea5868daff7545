"""squall.websocket frames: the pure parser and serialiser, byte by byte (no I/O)."""

from __future__ import annotations

import os
import struct
from typing import Any

import pytest
from squall.websocket import WebSocketProtocolError
from squall.websocket._compression import PerMessageDeflate
from squall.websocket._frames import (
    ERROR,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    apply_mask,
    build_close_payload,
    build_frame,
    is_valid_close_code,
    parse_close_payload,
)

KEY = b"\x37\xfa\x21\x3d"


def naive_mask(key: bytes, data: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def raw_frame(
    b0: int, payload: bytes, *, masked: bool = True, length: int | None = None, key: bytes = KEY
) -> bytes:
    """A frame built by hand (so it can be wrong on purpose)."""
    n = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    if n < 126:
        header = bytes((b0, mask_bit | n))
    elif n < 65536:
        header = bytes((b0, mask_bit | 126)) + struct.pack("!H", n)
    else:
        header = bytes((b0, mask_bit | 127)) + struct.pack("!Q", n)
    if masked:
        return header + key + naive_mask(key, payload)
    return header + payload


def server_reader(**kwargs: Any) -> FrameReader:
    return FrameReader(mask_required=True, **kwargs)


def feed_all(reader: FrameReader, data: bytes, step: int | None = None) -> list[tuple[int, Any]]:
    if step is None:
        return reader.feed(data)
    events: list[tuple[int, Any]] = []
    for i in range(0, len(data), step):
        events += reader.feed(data[i : i + step])
    return events


def error_of(events: list[tuple[int, Any]]) -> WebSocketProtocolError:
    assert events, "expected an error event"
    kind, value = events[-1]
    assert kind == ERROR, events
    assert isinstance(value, WebSocketProtocolError)
    return value


# -- masking ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 4095, 4096, 4097, 65536, 100_003])
def test_apply_mask_matches_the_definition(size: int) -> None:
    data = os.urandom(size)
    masked = apply_mask(KEY, data)
    assert masked == naive_mask(KEY, data)
    assert apply_mask(KEY, masked) == data
    assert type(masked) is bytes


def test_apply_mask_needs_a_4_byte_key() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask(b"abc", b"data")


# -- serialising ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "header_len"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)]
)
def test_build_frame_length_encodings(size: int, header_len: int) -> None:
    payload = b"x" * size
    frame = build_frame(OP_BINARY, payload)
    assert len(frame) == header_len + size
    assert frame[0] == 0x82
    assert frame[header_len:] == payload
    masked = build_frame(OP_BINARY, payload, mask=True, mask_key=KEY)
    assert masked[1] & 0x80
    assert masked[header_len : header_len + 4] == KEY
    assert masked[header_len + 4 :] == naive_mask(KEY, payload)


def test_build_frame_flags() -> None:
    assert build_frame(OP_TEXT, b"a", fin=False)[0] == 0x01
    assert build_frame(OP_TEXT, b"a", rsv1=True)[0] == 0xC1
    assert build_frame(OP_CONTINUATION, b"a")[0] == 0x80


def test_build_frame_refuses_bad_control_frames() -> None:
    with pytest.raises(ValueError, match="125"):
        build_frame(OP_PING, b"x" * 126)
    with pytest.raises(ValueError, match="fragmented"):
        build_frame(OP_PING, b"x", fin=False)


def test_close_payloads() -> None:
    assert build_close_payload(None) == b""
    assert build_close_payload(1000) == b"\x03\xe8"
    assert build_close_payload(4000, "bye") == b"\x0f\xa0bye"
    # Truncated to 123 bytes, never inside a UTF-8 sequence.
    long = build_close_payload(1000, "\u00e9" * 100)
    assert len(long) <= 125
    assert long[2:].decode("utf-8") == "\u00e9" * 61
    with pytest.raises(ValueError, match="needs a close code"):
        build_close_payload(None, "reason")
    for code in (999, 1004, 1005, 1006, 1015, 2000, 5000):
        with pytest.raises(ValueError, match="may be sent"):
            build_close_payload(code)
    assert parse_close_payload(b"") == (None, "")
    assert parse_close_payload(b"\x03\xe9going") == (1001, "going")


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        (999, False),
        (1000, True),
        (1003, True),
        (1004, False),
        (1005, False),
        (1006, False),
        (1007, True),
        (1011, True),
        (1014, True),
        (1015, False),
        (1016, False),
        (2999, False),
        (3000, True),
        (4999, True),
        (5000, False),
    ],
)
def test_close_code_validity(code: int, valid: bool) -> None:
    assert is_valid_close_code(code) is valid


# -- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize("step", [None, 1, 2, 3, 7, 1000])
def test_messages_parse_whatever_the_split(step: int | None) -> None:
    stream = (
        raw_frame(0x81, b"hello")
        + raw_frame(0x82, bytes(range(256)) * 300)  # 76,800 bytes: 64-bit length
        + raw_frame(0x89, b"ping!")
        + raw_frame(0x81, "caf\u00e9 \u2603".encode())
        + raw_frame(0x82, b"")
        + raw_frame(0x8A, b"")
        + raw_frame(0x81, b"x" * 300)  # 16-bit length
    )
    reader = server_reader()
    events = feed_all(reader, stream, step)
    assert events == [
        (OP_TEXT, "hello"),
        (OP_BINARY, bytes(range(256)) * 300),
        (OP_PING, b"ping!"),
        (OP_TEXT, "caf\u00e9 \u2603"),
        (OP_BINARY, b""),
        (OP_PONG, b""),
        (OP_TEXT, "x" * 300),
    ]
    assert reader.bytes_needed == 2


@pytest.mark.parametrize("step", [None, 1, 5])
def test_fragmented_message_with_interleaved_control_frames(step: int | None) -> None:
    stream = (
        raw_frame(0x01, b"frag")
        + raw_frame(0x89, b"p1")
        + raw_frame(0x00, b"ment")
        + raw_frame(0x8A, b"p2")
        + raw_frame(0x00, "ed \u00e9".encode()[:4])
        + raw_frame(0x80, "ed \u00e9".encode()[4:])  # the split falls inside the \u00e9
        + raw_frame(0x02, b"\x00\x01")
        + raw_frame(0x80, b"\x02")
    )
    events = feed_all(server_reader(), stream, step)
    assert events == [
        (OP_PING, b"p1"),
        (OP_PONG, b"p2"),
        (OP_TEXT, "fragmented \u00e9"),
        (OP_BINARY, b"\x00\x01\x02"),
    ]


def test_bytes_needed_tracks_a_large_frame() -> None:
    reader = server_reader()
    frame = raw_frame(0x82, b"y" * 200_000)
    assert reader.feed(frame[:1]) == []
    assert reader.bytes_needed == 1
    assert reader.feed(frame[1:14]) == []
    assert reader.bytes_needed == len(frame) - 14
    assert reader.feed(frame[14:-1]) == []
    assert reader.bytes_needed == 1
    assert reader.feed(frame[-1:]) == [(OP_BINARY, b"y" * 200_000)]


def test_client_side_reads_unmasked_frames() -> None:
    reader = FrameReader(mask_required=False)
    assert reader.feed(raw_frame(0x81, b"hi", masked=False)) == [(OP_TEXT, "hi")]


def test_close_frame_ends_parsing() -> None:
    reader = server_reader()
    data = raw_frame(0x88, b"\x03\xe8bye") + raw_frame(0x81, b"after")
    assert reader.feed(data) == [(OP_CLOSE, (1000, "bye"))]
    assert reader.done
    assert reader.feed(raw_frame(0x81, b"more")) == []


def test_empty_close_frame() -> None:
    assert server_reader().feed(raw_frame(0x88, b"")) == [(OP_CLOSE, (None, ""))]


def test_events_before_an_error_are_kept() -> None:
    reader = server_reader()
    events = reader.feed(raw_frame(0x81, b"ok") + raw_frame(0x83, b""))
    assert events[0] == (OP_TEXT, "ok")
    assert error_of(events).code == 1002
    assert reader.done
    assert reader.feed(raw_frame(0x81, b"ignored")) == []


# -- violations ------------------------------------------------------------------------


VIOLATIONS = {
    "unmasked client frame": (raw_frame(0x81, b"hi", masked=False), 1002, "unmasked"),
    "rsv1 without extension": (raw_frame(0xC1, b"hi"), 1002, "reserved bit"),
    "rsv2": (raw_frame(0xA1, b"hi"), 1002, "reserved bit"),
    "rsv3": (raw_frame(0x91, b"hi"), 1002, "reserved bit"),
    "reserved data opcode 3": (raw_frame(0x83, b""), 1002, "reserved opcode"),
    "reserved data opcode 7": (raw_frame(0x87, b""), 1002, "reserved opcode"),
    "reserved control opcode B": (raw_frame(0x8B, b""), 1002, "reserved opcode"),
    "reserved control opcode F": (raw_frame(0x8F, b""), 1002, "reserved opcode"),
    "control frame of 126 bytes": (raw_frame(0x89, b"x" * 126), 1002, "at most 125"),
    "fragmented ping": (raw_frame(0x09, b"x"), 1002, "fragmented control"),
    "rsv1 on a ping": (raw_frame(0xC9, b"x"), 1002, "control frame"),
    "continuation first": (raw_frame(0x80, b"x"), 1002, "no message to continue"),
    "text inside fragmented": (
        raw_frame(0x01, b"a") + raw_frame(0x81, b"b"),
        1002,
        "inside a fragmented",
    ),
    "invalid UTF-8": (raw_frame(0x81, b"\xff\xfe"), 1007, "UTF-8"),
    "UTF-8 surrogate": (raw_frame(0x81, b"\xed\xa0\x80"), 1007, "UTF-8"),
    "overlong UTF-8": (raw_frame(0x81, b"\xc0\xaf"), 1007, "UTF-8"),
    "truncated UTF-8": (raw_frame(0x81, "\u00e9".encode()[:1]), 1007, "UTF-8"),
    "close with 1 byte": (raw_frame(0x88, b"\x03"), 1002, "1-byte"),
    "close code 1005": (raw_frame(0x88, b"\x03\xed"), 1002, "invalid close code"),
    "close code 999": (raw_frame(0x88, b"\x03\xe7"), 1002, "invalid close code"),
    "close reason not UTF-8": (raw_frame(0x88, b"\x03\xe8\xff"), 1007, "UTF-8"),
    "64-bit length with MSB": (
        bytes((0x82, 0xFF)) + b"\x80" + b"\x00" * 7 + KEY,
        1002,
        "most significant bit",
    ),
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
@pytest.mark.parametrize("step", [None, 1])
def test_violations(name: str, step: int | None) -> None:
    data, code, words = VIOLATIONS[name]
    error = error_of(feed_all(server_reader(), data, step))
    assert error.code == code
    assert words in error.reason


def test_masked_frame_from_server_is_refused() -> None:
    error = error_of(FrameReader(mask_required=False).feed(raw_frame(0x81, b"hi")))
    assert (error.code, error.reason) == (1002, "masked frame from the server")


def test_invalid_utf8_fails_on_the_first_bad_fragment() -> None:
    reader = server_reader()
    assert reader.feed(raw_frame(0x01, b"fine")) == []
    error = error_of(reader.feed(raw_frame(0x00, b"\xff")))  # not the final fragment
    assert error.code == 1007


def test_oversized_message_is_refused_from_its_header_alone() -> None:
    reader = server_reader(max_message_size=1000)
    header = bytes((0x82, 0x80 | 127)) + struct.pack("!Q", 10**9) + KEY
    error = error_of(reader.feed(header))  # no payload byte was sent
    assert (error.code, error.reason) == (1009, "message larger than 1000 bytes")


def test_fragmented_message_size_counts_every_fragment() -> None:
    reader = server_reader(max_message_size=1000)
    assert reader.feed(raw_frame(0x02, b"a" * 600)) == []
    assert error_of(reader.feed(raw_frame(0x00, b"b" * 401))).code == 1009


def test_message_at_the_limit_is_accepted() -> None:
    reader = server_reader(max_message_size=1000)
    assert reader.feed(raw_frame(0x02, b"a" * 500) + raw_frame(0x80, b"b" * 500)) == [
        (OP_BINARY, b"a" * 500 + b"b" * 500)
    ]


# -- compressed frames ---------------------------------------------------------------------


def test_compressed_messages_with_context_takeover() -> None:
    sender = PerMessageDeflate()
    reader = server_reader(deflate=PerMessageDeflate())
    text = "Hello, hello, hello! " * 50
    frames = b"".join(raw_frame(0xC1, sender.compress(text.encode())) for _ in range(3))
    assert feed_all(reader, frames, 3) == [(OP_TEXT, text)] * 3


def test_compressed_fragmented_message() -> None:
    payload = PerMessageDeflate().compress(b"abc" * 1000)
    frames = (
        raw_frame(0x42, payload[:5]) + raw_frame(0x00, payload[5:9]) + raw_frame(0x80, payload[9:])
    )
    assert server_reader(deflate=PerMessageDeflate()).feed(frames) == [(OP_BINARY, b"abc" * 1000)]


def test_rsv1_on_continuation_is_refused() -> None:
    reader = server_reader(deflate=PerMessageDeflate())
    error = error_of(reader.feed(raw_frame(0x41, b"x") + raw_frame(0xC0, b"y")))
    assert (error.code, error.reason) == (1002, "RSV1 set on a continuation frame")


def test_compression_bomb_is_refused_after_inflating_at_most_the_limit() -> None:
    bomb = PerMessageDeflate().compress(b"\x00" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    deflate = PerMessageDeflate()
    reader = server_reader(deflate=deflate, max_message_size=1024 * 1024)
    error = error_of(reader.feed(raw_frame(0xC2, bomb)))
    assert error.code == 1009
    assert deflate.inflated_bytes <= 1024 * 1024 + 1


def test_invalid_compressed_data_is_a_protocol_error() -> None:
    reader = server_reader(deflate=PerMessageDeflate())
    assert error_of(reader.feed(raw_frame(0xC1, b"\xff\xff\xff\xff"))).code == 1002


# -- the fast path for one small frame per read ----------------------------------------------


def test_one_frame_per_feed_takes_the_same_decisions() -> None:
    reader = server_reader()
    assert reader.feed(raw_frame(0x81, b"one")) == [(OP_TEXT, "one")]
    assert reader.feed(raw_frame(0x82, b"\x00two")) == [(OP_BINARY, b"\x00two")]
    assert reader.feed(raw_frame(0x01, b"frag")) == []
    # A whole message inside a fragmented one is refused, one frame per read or not.
    assert error_of(reader.feed(raw_frame(0x81, b"intruder"))).code == 1002


def test_one_frame_per_feed_after_a_fragmented_message() -> None:
    reader = server_reader()
    assert reader.feed(raw_frame(0x01, b"a")) == []
    assert reader.feed(raw_frame(0x80, b"b")) == [(OP_TEXT, "ab")]
    assert reader.feed(raw_frame(0x81, b"c")) == [(OP_TEXT, "c")]


def test_small_limit_applies_to_small_frames() -> None:
    reader = server_reader(max_message_size=10)
    assert reader.feed(raw_frame(0x81, b"x" * 10)) == [(OP_TEXT, "x" * 10)]
    assert error_of(reader.feed(raw_frame(0x81, b"x" * 11))).code == 1009


def test_small_frame_with_bad_utf8_or_flags_gets_the_general_checks() -> None:
    assert error_of(server_reader().feed(raw_frame(0x81, b"\xc3"))).code == 1007
    assert error_of(server_reader().feed(raw_frame(0xC1, b"x"))).code == 1002
    assert error_of(server_reader().feed(raw_frame(0x81, b"x", masked=False))).code == 1002
