"""squall.websocket: permessage-deflate negotiation and compression, handshake helpers (no I/O)."""

from __future__ import annotations

import os
import zlib

import pytest
from squall.websocket import WebSocketHandshakeError, WebSocketProtocolError
from squall.websocket._compression import (
    PerMessageDeflate,
    client_accept,
    client_offer,
    parse_extensions,
    server_accept,
)
from squall.websocket._handshake import (
    accept_key,
    header_tokens,
    is_valid_key,
    new_key,
    split_list,
)

# -- handshake helpers ------------------------------------------------------------------


def test_accept_key_rfc6455_example() -> None:
    # RFC 6455 section 1.3.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_keys() -> None:
    key = new_key()
    assert is_valid_key(key)
    assert new_key() != key
    assert is_valid_key("dGhlIHNhbXBsZSBub25jZQ==")
    for bad in (None, "", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=!", "YWJj", "é" * 24):
        assert not is_valid_key(bad)
    # 24 characters of valid base64 that are not 16 bytes (padding in the middle).
    assert not is_valid_key("dGhlIHNhbXBsZSBu==25jZQ=")


def test_header_lists() -> None:
    assert split_list(["a, b", " ,c ,", ""]) == ["a", "b", "c"]
    assert header_tokens(["keep-alive, Upgrade"]) == {"keep-alive", "upgrade"}


# -- the extension grammar ---------------------------------------------------------------


def test_parse_extensions() -> None:
    assert parse_extensions("") == []
    assert parse_extensions("permessage-deflate") == [("permessage-deflate", [])]
    assert parse_extensions(
        'Permessage-Deflate; client_max_window_bits; server_max_window_bits="10" , foo;bar=1'
    ) == [
        (
            "permessage-deflate",
            [("client_max_window_bits", None), ("server_max_window_bits", "10")],
        ),
        ("foo", [("bar", "1")]),
    ]
    assert parse_extensions(", a ,, b") == [("a", []), ("b", [])]


@pytest.mark.parametrize(
    "value", ["a;", "a b", "a; =1", "a; b=", 'a; b="x y"', "a; b=@", '"a"', "a;;b"]
)
def test_parse_extensions_refuses_bad_syntax(value: str) -> None:
    with pytest.raises(ValueError):
        parse_extensions(value)


# -- server side --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer", "options", "response", "attrs"),
    [
        ("permessage-deflate", {}, "permessage-deflate", {}),
        (
            "permessage-deflate; client_max_window_bits",
            {},
            "permessage-deflate",
            {"decompress_wbits": 15},
        ),
        (
            "permessage-deflate; client_max_window_bits",
            {"client_max_window_bits": 10},
            "permessage-deflate; client_max_window_bits=10",
            {"decompress_wbits": 10},
        ),
        (
            "permessage-deflate; client_max_window_bits=9",
            {"client_max_window_bits": 12},
            "permessage-deflate; client_max_window_bits=9",
            {"decompress_wbits": 9},
        ),
        (
            "permessage-deflate; server_max_window_bits=12",
            {},
            "permessage-deflate; server_max_window_bits=12",
            {"compress_wbits": 12},
        ),
        (
            "permessage-deflate; server_max_window_bits=12",
            {"server_max_window_bits": 10},
            "permessage-deflate; server_max_window_bits=10",
            {"compress_wbits": 10},
        ),
        (
            "permessage-deflate",
            {"server_max_window_bits": 11},
            "permessage-deflate; server_max_window_bits=11",
            {"compress_wbits": 11},
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            {},
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            {"compress_reset": True, "decompress_reset": True},
        ),
        (
            "permessage-deflate",
            {"server_no_context_takeover": True, "client_no_context_takeover": True},
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            {"compress_reset": True, "decompress_reset": True},
        ),
        # The first acceptable offer wins; unacceptable ones are skipped.
        (
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8, "
            "permessage-deflate; client_no_context_takeover",
            {},
            "permessage-deflate; client_no_context_takeover",
            {"decompress_reset": True},
        ),
    ],
)
def test_server_accept(
    offer: str, options: dict[str, object], response: str, attrs: dict[str, object]
) -> None:
    accepted = server_accept(offer, options)
    assert accepted is not None
    assert accepted[0] == response
    for name, value in attrs.items():
        assert getattr(accepted[1], name) == value


@pytest.mark.parametrize(
    "offer",
    [
        None,
        "",
        "x-other",
        "permessage-deflate; unknown_param",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; broken syntax",
    ],
)
def test_server_declines(offer: str | None) -> None:
    assert server_accept(offer, {}) is None


@pytest.mark.parametrize(
    "options",
    [
        {"level": 5},
        {"compression_level": 10},
        {"mem_level": 0},
        {"server_max_window_bits": 8},
        {"client_max_window_bits": 16},
        {"client_max_window_bits": True},
    ],
)
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        server_accept("permessage-deflate", options)
    with pytest.raises(ValueError):
        client_offer(options)


# -- client side ---------------------------------------------------------------------------


def test_client_offer() -> None:
    assert client_offer({}) == "permessage-deflate; client_max_window_bits"
    assert client_offer(
        {
            "server_no_context_takeover": True,
            "client_no_context_takeover": True,
            "server_max_window_bits": 10,
            "client_max_window_bits": 11,
        }
    ) == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=11"
    )


def test_client_accept() -> None:
    assert client_accept(None, {}) is None
    assert client_accept("", {}) is None
    deflate = client_accept("permessage-deflate", {})
    assert deflate is not None
    assert (deflate.compress_wbits, deflate.decompress_wbits) == (15, 15)
    deflate = client_accept(
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10; "
        "client_no_context_takeover; server_no_context_takeover",
        {},
    )
    assert deflate is not None
    assert deflate.compress_wbits == 10
    assert deflate.decompress_wbits == 12
    assert deflate.compress_reset and deflate.decompress_reset
    # zlib cannot compress with an 8-bit window: send uncompressed instead.
    deflate = client_accept("permessage-deflate; client_max_window_bits=8", {})
    assert deflate is not None and not deflate.can_compress


@pytest.mark.parametrize(
    ("response", "options"),
    [
        ("x-other", {}),
        ("permessage-deflate, permessage-deflate", {}),
        ("permessage-deflate; foo", {}),
        ("permessage-deflate; server_no_context_takeover=1", {}),
        ("permessage-deflate; client_max_window_bits=12; client_max_window_bits=12", {}),
        ("permessage-deflate; server_max_window_bits=12", {"server_max_window_bits": 10}),
        ("permessage-deflate; client_max_window_bits=12", {"client_max_window_bits": 10}),
        ("permessage-deflate; server_max_window_bits=7", {}),
        ("permessage-deflate; a b", {}),
    ],
)
def test_client_refuses_bad_answers(response: str, options: dict[str, object]) -> None:
    with pytest.raises(WebSocketHandshakeError) as info:
        client_accept(response, options)
    assert info.value.code == 101


# -- compressing -----------------------------------------------------------------------------


def test_rfc7692_examples() -> None:
    # RFC 7692 section 7.2.3.1 and 7.2.3.2: "Hello", twice, sharing the context.
    receiver = PerMessageDeflate()
    assert receiver.decompress(bytes.fromhex("f248cdc9c90700"), None) == b"Hello"
    assert receiver.decompress(bytes.fromhex("f200110000"), None) == b"Hello"
    # 7.2.3.3: a stored (uncompressed) block.
    assert PerMessageDeflate().decompress(bytes.fromhex("000500faff48656c6c6f00"), None) == b"Hello"
    sender = PerMessageDeflate()
    first = sender.compress(b"Hello")
    second = sender.compress(b"Hello")
    assert len(second) < len(first)  # the second refers back to the first


@pytest.mark.parametrize("reset", [False, True])
def test_round_trip(reset: bool) -> None:
    sender = PerMessageDeflate(compress_reset=reset, compress_wbits=10, mem_level=5)
    receiver = PerMessageDeflate(decompress_reset=reset, decompress_wbits=10)
    text = os.urandom(300).hex().encode()  # 600 bytes that compress poorly on their own
    messages = [b"", b"a", bytes(range(256)) * 20, text, text]
    sizes = []
    for message in messages:
        data = sender.compress(message)
        assert not data.endswith(b"\x00\x00\xff\xff")
        sizes.append(len(data))
        assert receiver.decompress(data, None) == message
    if reset:
        assert sizes[4] == sizes[3]
    else:
        assert sizes[4] < sizes[3] // 4  # the second copy refers back to the first


def test_context_takeover_state_is_kept_only_without_reset() -> None:
    kept = PerMessageDeflate()
    kept.compress(b"x")
    kept.decompress(PerMessageDeflate().compress(b"x"), None)
    assert kept._compressor is not None and kept._decompressor is not None
    reset = PerMessageDeflate(compress_reset=True, decompress_reset=True)
    reset.compress(b"x")
    reset.decompress(PerMessageDeflate().compress(b"x"), None)
    assert reset._compressor is None and reset._decompressor is None


def test_decompression_is_capped() -> None:
    bomb = PerMessageDeflate().compress(b"A" * (20 * 1024 * 1024))
    receiver = PerMessageDeflate()
    with pytest.raises(WebSocketProtocolError) as info:
        receiver.decompress(bomb, 65536)
    assert info.value.code == 1009
    assert receiver.inflated_bytes == 65537
    exact = PerMessageDeflate()
    assert exact.decompress(PerMessageDeflate().compress(b"B" * 65536), 65536) == b"B" * 65536


def test_zlib_raw_deflate_interoperates() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(b"interop " * 100) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert PerMessageDeflate().decompress(data[:-4], None) == b"interop " * 100
