"""RFC 6455 frames: parsing and serialising, with no I/O.

Strategy.  :class:`FrameReader` is fed the bytes exactly as they arrive
(any split, one byte at a time if need be) and returns the events they
complete: whole messages (fragments joined, decompressed, text decoded),
pings, pongs and the close frame.  A violation of the protocol does not
raise: it ends the list with an ``(ERROR, WebSocketProtocolError)`` event,
after the events that came before it, and the reader stops.

The reader keeps the bytes of an unfinished frame as a list of chunks and
knows how many it needs before it can make progress (:attr:`bytes_needed`),
so a large frame costs one join, not one copy per chunk, and the I/O side
can ask its stream for exactly that many bytes.  A frame header is checked
as soon as it is complete, before its payload is waited for: an oversized
frame is refused at once, not after buffering it.

:func:`build_frame` serialises one frame; :func:`apply_mask` masks and
unmasks (an XOR with the 4-byte key repeated: big-integer XOR for small
payloads, one ``bytes.translate`` per key byte on strided slices for large
ones, measured fastest with the standard library alone).
"""

from __future__ import annotations

import codecs
import os
import struct
from typing import TYPE_CHECKING, Any, Final

from squall.websocket._errors import WebSocketProtocolError

if TYPE_CHECKING:
    from squall.websocket._compression import PerMessageDeflate

# Opcodes.
OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA
#: Event kind of a protocol violation (the event's value is the exception).
ERROR: Final = -1

FIN: Final = 0x80
RSV1: Final = 0x40
_RSV_ALL = 0x70
_MASK_BIT = 0x80

# Close codes (RFC 6455 section 7.4.1).
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_UNSUPPORTED_DATA: Final = 1003
CLOSE_NO_STATUS: Final = 1005  # never sent: "the close frame had no code"
CLOSE_ABNORMAL: Final = 1006  # never sent: "closed without a close frame"
CLOSE_INVALID_DATA: Final = 1007
CLOSE_POLICY_VIOLATION: Final = 1008
CLOSE_MESSAGE_TOO_BIG: Final = 1009
CLOSE_MANDATORY_EXTENSION: Final = 1010
CLOSE_INTERNAL_ERROR: Final = 1011

#: Codes a close frame may carry: the defined ones, the IANA-registered
#: 1012-1014, and the ranges for libraries (3000-3999) and applications
#: (4000-4999).  1004, 1005, 1006 and 1015 must never be sent.
_VALID_CLOSE_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)

#: Control frames carry at most this many payload bytes.
MAX_CONTROL_PAYLOAD: Final = 125

_utf8_decoder = codecs.getincrementaldecoder("utf-8")
_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack
_pack_code = struct.Struct("!H").pack

# Per key byte, the table XOR-ing every byte with it (for large payloads).
_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]
# Below this size big-integer XOR beats four translate() passes.
_TRANSLATE_FROM = 4096


def is_valid_close_code(code: int) -> bool:
    """Return whether ``code`` may appear in a close frame.

    .. versionadded:: 0.1.0
    """
    return code in _VALID_CLOSE_CODES or 3000 <= code <= 4999


def apply_mask(key: bytes, data: bytes) -> bytes:
    """Return ``data`` XOR-ed with the 4-byte ``key`` repeated (masking and unmasking).

    :param key: the masking key, 4 bytes.
    :param data: the payload.
    :raises ValueError: if ``key`` is not 4 bytes long.

    .. versionadded:: 0.1.0
    """
    if len(key) != 4:
        raise ValueError(f"a masking key is 4 bytes, not {len(key)}")
    return _mask(key, data)


def _mask(key: bytes, data: bytes) -> bytes:
    n = len(data)
    if n < _TRANSLATE_FROM:
        if not n:
            return b""
        pad = (key * ((n >> 2) + 1))[:n]
        return (int.from_bytes(data, "little") ^ int.from_bytes(pad, "little")).to_bytes(
            n, "little"
        )
    out = bytearray(n)
    tables = _XOR_TABLES
    out[0::4] = data[0::4].translate(tables[key[0]])
    out[1::4] = data[1::4].translate(tables[key[1]])
    out[2::4] = data[2::4].translate(tables[key[2]])
    out[3::4] = data[3::4].translate(tables[key[3]])
    return bytes(out)


def build_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """Serialise one frame.

    :param opcode: the frame's opcode (``OP_TEXT``, ``OP_PING`` ...).
    :param payload: the payload (already compressed, for a compressed message).
    :param fin: whether this is the last frame of its message.
    :param rsv1: set the RSV1 bit (a permessage-deflate compressed message).
    :param mask: mask the payload (every frame a client sends is masked).
    :param mask_key: the 4-byte key to mask with (default: random).
    :returns: the frame's bytes.
    :raises ValueError: for a control frame over 125 bytes or unfinished.

    .. versionadded:: 0.1.0
    """
    n = len(payload)
    if opcode >= OP_CLOSE and (n > MAX_CONTROL_PAYLOAD or not fin):
        raise ValueError("a control frame carries at most 125 bytes and cannot be fragmented")
    b0 = opcode | (FIN if fin else 0) | (RSV1 if rsv1 else 0)
    mask_bit = _MASK_BIT if mask else 0
    if n < 126:
        header = bytes((b0, n | mask_bit))
    elif n < 65536:
        header = _pack_16(b0, 126 | mask_bit, n)
    else:
        header = _pack_64(b0, 127 | mask_bit, n)
    if mask:
        if mask_key is None:
            key = os.urandom(4)
        elif len(mask_key) != 4:
            raise ValueError(f"a masking key is 4 bytes, not {len(mask_key)}")
        else:
            key = mask_key
        return header + key + _mask(key, payload)
    return header + payload


def build_close_payload(code: int | None, reason: str | bytes = "") -> bytes:
    """Return the payload of a close frame: the code and the UTF-8 reason.

    :param code: the close code, or ``None`` for an empty payload (then
        ``reason`` must be empty).
    :param reason: the reason; truncated so the payload fits in 125 bytes
        (never inside a UTF-8 sequence).
    :raises ValueError: for a code that may not be sent, or a reason
        without a code.

    .. versionadded:: 0.1.0
    """
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    if not is_valid_close_code(code):
        raise ValueError(f"{code} is not a close code that may be sent")
    data = reason.encode("utf-8") if isinstance(reason, str) else reason
    if len(data) > MAX_CONTROL_PAYLOAD - 2:
        data = data[: MAX_CONTROL_PAYLOAD - 2].decode("utf-8", "ignore").encode("utf-8")
    return _pack_code(code) + data


def parse_close_payload(payload: bytes) -> tuple[int | None, str]:
    """Return ``(code, reason)`` from a close frame's payload.

    An empty payload gives ``(None, "")``.

    :raises WebSocketProtocolError: 1002 for a 1-byte payload or a code
        that may not be sent, 1007 for a reason that is not UTF-8.

    .. versionadded:: 0.1.0
    """
    if not payload:
        return None, ""
    if len(payload) == 1:
        raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = (payload[0] << 8) | payload[1]
    if not is_valid_close_code(code):
        raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketProtocolError(
            CLOSE_INVALID_DATA, "close reason is not valid UTF-8"
        ) from None
    return code, reason


class FrameReader:
    """Turns received bytes into WebSocket events (no I/O).

    :param mask_required: ``True`` on a server (client frames must be
        masked), ``False`` on a client (server frames must not be).
    :param max_message_size: the largest message accepted, in bytes, after
        decompression; a larger one is refused with close code 1009.
        ``None`` for no limit.
    :param deflate: the negotiated permessage-deflate state, or ``None``
        (then a frame with RSV1 set is a protocol error).

    :meth:`feed` returns a list of ``(kind, value)`` events:
    ``(OP_TEXT, str)``, ``(OP_BINARY, bytes)``, ``(OP_PING, bytes)``,
    ``(OP_PONG, bytes)``, ``(OP_CLOSE, (code, reason))`` and, for a
    protocol violation, ``(ERROR, WebSocketProtocolError)``.  Nothing is
    parsed after a close frame or an error.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_decoder",
        "_deflate",
        "_done",
        "_frag_compressed",
        "_frag_opcode",
        "_frag_parts",
        "_frag_size",
        "_have",
        "_mask_required",
        "_max_size",
        "_need",
        "_parts",
        "_small_ok",
    )

    def __init__(
        self,
        *,
        mask_required: bool,
        max_message_size: int | None = None,
        deflate: PerMessageDeflate | None = None,
    ) -> None:
        self._mask_required = mask_required
        self._max_size = max_message_size
        self._deflate = deflate
        self._parts: list[bytes] = []
        self._have = 0
        self._need = 2
        self._done = False
        self._frag_opcode = 0
        self._frag_compressed = False
        self._frag_parts: list[bytes] = []
        self._frag_size = 0
        self._decoder: Any = None
        # Whether the fast path of feed() may be taken (see there): on a
        # server, outside a fragmented message, when 125 bytes are allowed.
        self._small_ok = mask_required and (max_message_size is None or max_message_size >= 125)

    @property
    def bytes_needed(self) -> int:
        """How many more bytes the reader needs before it can make progress (at least 1).

        .. versionadded:: 0.1.0
        """
        need = self._need - self._have
        return need if need > 0 else 1

    @property
    def done(self) -> bool:
        """True once a close frame or a protocol violation was read.

        .. versionadded:: 0.1.0
        """
        return self._done

    def feed(self, data: bytes) -> list[tuple[int, Any]]:
        """Add received bytes; return the events they complete (see the class).

        .. versionadded:: 0.1.0
        """
        if self._done or not data:
            return []
        parts = self._parts
        if not parts and self._small_ok:
            # Fast path: ``data`` is exactly one small, masked, unfragmented,
            # uncompressed data frame (a client's typical message).
            n = len(data) - 6
            if 0 <= n < 126 and data[1] == 0x80 | n:
                b0 = data[0]
                if b0 == 0x81:
                    try:
                        return [(OP_TEXT, _mask(data[2:6], data[6:]).decode("utf-8"))]
                    except UnicodeDecodeError:
                        pass  # the general path reports it
                elif b0 == 0x82:
                    return [(OP_BINARY, _mask(data[2:6], data[6:]))]
        if parts:
            parts.append(data)
            self._have += len(data)
            if self._have < self._need:
                return []
            buf = b"".join(parts)
            self._parts = []
            self._have = 0
        elif len(data) < self._need:
            self._parts = [data]
            self._have = len(data)
            return []
        else:
            buf = data
        events: list[tuple[int, Any]] = []
        try:
            pos = self._parse(buf, events)
        except WebSocketProtocolError as e:
            self._done = True
            self._frag_parts = []
            events.append((ERROR, e))
            return events
        if pos < len(buf):
            rest = buf[pos:]
            self._parts = [rest]
            self._have = len(rest)
        return events

    def _parse(self, buf: bytes, events: list[tuple[int, Any]]) -> int:
        """Parse whole frames from ``buf``; return where the unparsed bytes start."""
        pos = 0
        n = len(buf)
        mask_required = self._mask_required
        while True:
            avail = n - pos
            if avail < 2:
                self._need = 2
                return pos
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            if length < 126:
                hlen = 2
            elif length == 126:
                if avail < 4:
                    self._need = 4
                    return pos
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                hlen = 4
            else:
                if avail < 10:
                    self._need = 10
                    return pos
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hlen = 10
                if length >> 63:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, "frame length with the most significant bit set"
                    )
            masked = b1 & _MASK_BIT
            if masked:
                if not mask_required:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, "masked frame from the server"
                    )
                hlen += 4
            elif mask_required:
                raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "unmasked frame from the client")
            opcode = b0 & 0x0F
            if opcode >= OP_CLOSE:
                if opcode > OP_PONG:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, f"reserved opcode {opcode:#x}"
                    )
                if not b0 & FIN:
                    raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "fragmented control frame")
                if length > MAX_CONTROL_PAYLOAD:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, f"control frame of {length} bytes (at most 125)"
                    )
                if b0 & _RSV_ALL:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, "reserved bit set on a control frame"
                    )
            else:
                if opcode > OP_BINARY:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, f"reserved opcode {opcode:#x}"
                    )
                rsv = b0 & _RSV_ALL
                if rsv and (rsv != RSV1 or self._deflate is None or opcode == OP_CONTINUATION):
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR,
                        "reserved bit set without a negotiated extension"
                        if rsv != RSV1 or self._deflate is None
                        else "RSV1 set on a continuation frame",
                    )
                limit = self._max_size
                if limit is not None and self._frag_size + length > limit:
                    raise WebSocketProtocolError(
                        CLOSE_MESSAGE_TOO_BIG, f"message larger than {limit} bytes"
                    )
            end = pos + hlen + length
            if end > n:
                self._need = end - pos
                return pos
            start = pos + hlen
            payload = (
                apply_mask(buf[start - 4 : start], buf[start:end]) if masked else buf[start:end]
            )
            pos = end
            if 0 < opcode <= OP_BINARY:
                if self._frag_opcode:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, "new message inside a fragmented message"
                    )
                compressed = bool(b0 & RSV1)
                if b0 & FIN:
                    if opcode == OP_TEXT and not compressed:
                        try:
                            events.append((OP_TEXT, payload.decode("utf-8")))
                        except UnicodeDecodeError:
                            raise WebSocketProtocolError(
                                CLOSE_INVALID_DATA, "text message is not valid UTF-8"
                            ) from None
                    else:
                        events.append(self._message(opcode, payload, compressed))
                else:
                    self._small_ok = False
                    self._frag_opcode = opcode
                    self._frag_compressed = compressed
                    self._frag_parts = [payload]
                    self._frag_size = length
                    if opcode == OP_TEXT and not compressed:
                        self._decoder = _utf8_decoder()
                        self._check_text_piece(payload, False)
            elif opcode == OP_CONTINUATION:
                if not self._frag_opcode:
                    raise WebSocketProtocolError(
                        CLOSE_PROTOCOL_ERROR, "continuation frame with no message to continue"
                    )
                self._frag_parts.append(payload)
                self._frag_size += length
                fin = bool(b0 & FIN)
                if self._decoder is not None:
                    self._check_text_piece(payload, fin)
                if fin:
                    pieces = self._frag_parts
                    opcode = self._frag_opcode
                    compressed = self._frag_compressed
                    self._frag_parts = []
                    self._frag_opcode = 0
                    self._frag_size = 0
                    self._decoder = None
                    self._small_ok = self._mask_required and (
                        self._max_size is None or self._max_size >= 125
                    )
                    events.append(self._message(opcode, b"".join(pieces), compressed))
            elif opcode == OP_PING:
                events.append((OP_PING, payload))
            elif opcode == OP_PONG:
                events.append((OP_PONG, payload))
            else:
                events.append((OP_CLOSE, parse_close_payload(payload)))
                self._done = True
                self._need = 2
                return n

    def _check_text_piece(self, payload: bytes, final: bool) -> None:
        # Fragmented text fails on the first fragment that cannot be UTF-8.
        try:
            self._decoder.decode(payload, final)
        except UnicodeDecodeError:
            raise WebSocketProtocolError(
                CLOSE_INVALID_DATA, "text message is not valid UTF-8"
            ) from None

    def _message(self, opcode: int, payload: bytes, compressed: bool) -> tuple[int, Any]:
        if compressed:
            deflate = self._deflate
            if deflate is None:  # checked with the header already
                raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "compressed frame")
            payload = deflate.decompress(payload, self._max_size)
        if opcode == OP_TEXT:
            try:
                return OP_TEXT, payload.decode("utf-8")
            except UnicodeDecodeError:
                raise WebSocketProtocolError(
                    CLOSE_INVALID_DATA, "text message is not valid UTF-8"
                ) from None
        return OP_BINARY, payload


__all__ = [
    "CLOSE_ABNORMAL",
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_INVALID_DATA",
    "CLOSE_MANDATORY_EXTENSION",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_UNSUPPORTED_DATA",
    "ERROR",
    "FIN",
    "MAX_CONTROL_PAYLOAD",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "RSV1",
    "FrameReader",
    "apply_mask",
    "build_close_payload",
    "build_frame",
    "is_valid_close_code",
    "parse_close_payload",
]
