"""permessage-deflate (RFC 7692): negotiation and the compressor/decompressor pair.

Negotiation is plain functions over header values: :func:`server_accept`
picks the first acceptable offer of a client, :func:`client_offer` writes a
client's offer and :func:`client_accept` checks the server's answer.  Each
side then holds one :class:`PerMessageDeflate`.

Compression options (``WebSocketHandler.get_compression_options()`` and
``websocket_connect(compression_options=...)``) are a dict; ``{}`` means
"compress with the defaults".  Keys:

* ``compression_level`` (0-9, default 6) and ``mem_level`` (1-9, default 8):
  passed to :func:`zlib.compressobj`;
* ``server_no_context_takeover`` / ``client_no_context_takeover`` (bool):
  ask that the server's / client's compressor restart with every message
  (less memory, worse compression); a server also honours the client's
  request;
* ``server_max_window_bits`` (9-15) / ``client_max_window_bits`` (8-15):
  the largest LZ77 window the server's / client's compressor may use.

Decompression is capped: :meth:`PerMessageDeflate.decompress` never
inflates more than the message size limit plus one byte, so a "compression
bomb" (a few kilobytes inflating to gigabytes) costs only that much before
the connection is failed with close code 1009.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import Any

from squall.websocket._errors import WebSocketHandshakeError, WebSocketProtocolError

__all__ = [
    "EXTENSION_NAME",
    "PerMessageDeflate",
    "client_accept",
    "client_offer",
    "parse_extensions",
    "server_accept",
]

EXTENSION_NAME = "permessage-deflate"

_TAIL = b"\x00\x00\xff\xff"
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_OWS_RE = re.compile(r"[ \t]*")
_BITS_RE = re.compile(r"(?:[89]|1[0-5])\Z")

_OPTION_KEYS = frozenset(
    {
        "compression_level",
        "mem_level",
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)
_PARAMS = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)

Extension = tuple[str, list[tuple[str, str | None]]]


def parse_extensions(value: str) -> list[Extension]:
    """Parse a ``Sec-WebSocket-Extensions`` value into ``(name, [(param, value)])``.

    Names are lower-cased; a parameter without ``=`` has the value ``None``;
    quoted values are unquoted.

    :raises ValueError: if the value does not follow the RFC 6455 grammar.

    .. versionadded:: 0.1.0
    """
    result: list[Extension] = []
    pos = 0
    n = len(value)

    def skip(pos: int) -> int:
        match = _OWS_RE.match(value, pos)
        return match.end() if match else pos

    def token(pos: int, what: str) -> tuple[str, int]:
        match = _TOKEN_RE.match(value, pos)
        if match is None:
            raise ValueError(f"expected {what} at offset {pos} in {value!r}")
        return match.group(), match.end()

    while True:
        pos = skip(pos)
        if pos < n and value[pos] == ",":  # empty list elements are allowed
            pos += 1
            continue
        if pos >= n:
            return result
        name, pos = token(pos, "an extension name")
        params: list[tuple[str, str | None]] = []
        while True:
            pos = skip(pos)
            if pos >= n or value[pos] == ",":
                break
            if value[pos] != ";":
                raise ValueError(f"expected ';' or ',' at offset {pos} in {value!r}")
            pos = skip(pos + 1)
            param, pos = token(pos, "a parameter name")
            pos = skip(pos)
            param_value: str | None = None
            if pos < n and value[pos] == "=":
                pos = skip(pos + 1)
                quoted = _QUOTED_RE.match(value, pos)
                if quoted is not None:
                    param_value = re.sub(r"\\(.)", r"\1", quoted.group(1))
                    pos = quoted.end()
                    if _TOKEN_RE.fullmatch(param_value) is None:
                        raise ValueError(f"quoted parameter value is not a token in {value!r}")
                else:
                    param_value, pos = token(pos, "a parameter value")
            params.append((param.lower(), param_value))
        result.append((name.lower(), params))


def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(options) - _OPTION_KEYS
    if unknown:
        raise ValueError(f"unknown compression options: {', '.join(sorted(unknown))}")
    checked = dict(options)
    for key, low, high in (
        ("compression_level", -1, 9),
        ("mem_level", 1, 9),
        ("server_max_window_bits", 9, 15),
        ("client_max_window_bits", 8, 15),
    ):
        value = checked.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high
        ):
            raise ValueError(f"compression option {key} must be an int from {low} to {high}")
    return checked


def _bits(value: str | None) -> int | None:
    """The integer of a window-bits parameter value, or None if invalid."""
    if value is None or _BITS_RE.match(value) is None:
        return None
    return int(value)


class PerMessageDeflate:
    """The compressor and decompressor of one connection, as negotiated.

    :param compress_wbits: the window of our compressor (9-15).
    :param compress_reset: restart our compressor with every message (no
        context takeover on our side).
    :param decompress_wbits: the window of the peer's compressor (8-15).
    :param decompress_reset: the peer restarts its compressor with every
        message, so ours is dropped between messages (saves memory).
    :param compression_level: passed to :func:`zlib.compressobj`.
    :param mem_level: passed to :func:`zlib.compressobj`.
    :param can_compress: ``False`` to send every message uncompressed (when
        the peer demands a window zlib cannot produce, 8 bits).

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_compressor",
        "_decompressor",
        "can_compress",
        "compress_reset",
        "compress_wbits",
        "compression_level",
        "decompress_reset",
        "decompress_wbits",
        "inflated_bytes",
        "mem_level",
    )

    def __init__(
        self,
        *,
        compress_wbits: int = 15,
        compress_reset: bool = False,
        decompress_wbits: int = 15,
        decompress_reset: bool = False,
        compression_level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 8,
        can_compress: bool = True,
    ) -> None:
        self.compress_wbits = compress_wbits
        self.compress_reset = compress_reset
        self.decompress_wbits = decompress_wbits
        self.decompress_reset = decompress_reset
        self.compression_level = compression_level
        self.mem_level = mem_level
        self.can_compress = can_compress
        #: Bytes inflated so far, over the life of the connection.
        self.inflated_bytes = 0
        self._compressor: Any = None
        self._decompressor: Any = None

    def compress(self, data: bytes) -> bytes:
        """Return the compressed payload of a message (RFC 7692 section 7.2.1).

        .. versionadded:: 0.1.0
        """
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(
                self.compression_level, zlib.DEFLATED, -self.compress_wbits, self.mem_level
            )
            if not self.compress_reset:
                self._compressor = compressor
        out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_TAIL):
            out = out[:-4]
        return out or b"\x00"

    def decompress(self, data: bytes, max_size: int | None) -> bytes:
        """Return the inflated message, inflating at most ``max_size + 1`` bytes.

        :param data: the message's payload, fragments joined.
        :param max_size: the largest message accepted, or None.
        :raises WebSocketProtocolError: 1009 if the message inflates past
            ``max_size``; 1002 if the data is not valid deflate data.

        .. versionadded:: 0.1.0
        """
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = zlib.decompressobj(-self.decompress_wbits)
            if not self.decompress_reset:
                self._decompressor = decompressor
        out: bytes
        try:
            if max_size is None:
                out = decompressor.decompress(data + _TAIL)
            else:
                out = decompressor.decompress(data + _TAIL, max_size + 1)
                if len(out) > max_size or decompressor.unconsumed_tail:
                    self.inflated_bytes += len(out)
                    raise WebSocketProtocolError(
                        1009, f"message inflates to more than {max_size} bytes"
                    )
        except zlib.error as e:
            raise WebSocketProtocolError(1002, f"invalid compressed data: {e}") from None
        self.inflated_bytes += len(out)
        return out


def server_accept(
    offers: str | None, options: Mapping[str, Any]
) -> tuple[str, PerMessageDeflate] | None:
    """Accept the first acceptable permessage-deflate offer of a client.

    :param offers: the ``Sec-WebSocket-Extensions`` value of the request
        (several fields joined with commas), or None.
    :param options: the server's compression options (see the module).
    :returns: the ``Sec-WebSocket-Extensions`` value of the response and
        the :class:`PerMessageDeflate` to use, or None to decline
        compression (no valid offer).
    :raises ValueError: for invalid ``options``.

    .. versionadded:: 0.1.0
    """
    opts = _check_options(options)
    if not offers:
        return None
    try:
        extensions = parse_extensions(offers)
    except ValueError:
        return None
    for name, params in extensions:
        if name != EXTENSION_NAME:
            continue
        accepted = _server_accept_offer(params, opts)
        if accepted is not None:
            return accepted
    return None


def _server_accept_offer(
    params: list[tuple[str, str | None]], opts: dict[str, Any]
) -> tuple[str, PerMessageDeflate] | None:
    offered: dict[str, str | None] = {}
    for key, value in params:
        if key not in _PARAMS or key in offered:
            return None
        offered[key] = value
    for key in ("server_no_context_takeover", "client_no_context_takeover"):
        if key in offered and offered[key] is not None:
            return None
    response = [EXTENSION_NAME]
    compress_reset = "server_no_context_takeover" in offered or bool(
        opts.get("server_no_context_takeover")
    )
    if compress_reset:
        response.append("server_no_context_takeover")
    decompress_reset = "client_no_context_takeover" in offered or bool(
        opts.get("client_no_context_takeover")
    )
    if decompress_reset:
        response.append("client_no_context_takeover")
    compress_wbits = opts.get("server_max_window_bits") or 15
    if "server_max_window_bits" in offered:
        asked = _bits(offered["server_max_window_bits"])
        if asked is None or asked == 8:  # zlib cannot compress with a 256-byte window
            return None
        compress_wbits = min(asked, compress_wbits)
        response.append(f"server_max_window_bits={compress_wbits}")
    elif compress_wbits != 15:
        response.append(f"server_max_window_bits={compress_wbits}")
    decompress_wbits = 15
    if "client_max_window_bits" in offered:
        hint = offered["client_max_window_bits"]
        limit = 15
        if hint is not None:
            parsed = _bits(hint)
            if parsed is None:
                return None
            limit = parsed
        wanted = opts.get("client_max_window_bits")
        if wanted is not None:
            decompress_wbits = min(wanted, limit)
            response.append(f"client_max_window_bits={decompress_wbits}")
        else:
            decompress_wbits = limit
    deflate = PerMessageDeflate(
        compress_wbits=compress_wbits,
        compress_reset=compress_reset,
        decompress_wbits=decompress_wbits,
        decompress_reset=decompress_reset,
        compression_level=opts.get("compression_level", zlib.Z_DEFAULT_COMPRESSION),
        mem_level=opts.get("mem_level", 8),
    )
    return "; ".join(response), deflate


def client_offer(options: Mapping[str, Any]) -> str:
    """Return a client's ``Sec-WebSocket-Extensions`` offer for ``options``.

    :raises ValueError: for invalid ``options``.

    .. versionadded:: 0.1.0
    """
    opts = _check_options(options)
    offer = [EXTENSION_NAME]
    if opts.get("server_no_context_takeover"):
        offer.append("server_no_context_takeover")
    if opts.get("client_no_context_takeover"):
        offer.append("client_no_context_takeover")
    if opts.get("server_max_window_bits") is not None:
        offer.append(f"server_max_window_bits={opts['server_max_window_bits']}")
    if opts.get("client_max_window_bits") is not None:
        offer.append(f"client_max_window_bits={opts['client_max_window_bits']}")
    else:
        offer.append("client_max_window_bits")
    return "; ".join(offer)


def client_accept(response: str | None, options: Mapping[str, Any]) -> PerMessageDeflate | None:
    """Check the server's answer to :func:`client_offer`.

    :param response: the response's ``Sec-WebSocket-Extensions`` value, or
        None (the server declined: no compression).
    :param options: the options the offer was made from.
    :returns: the :class:`PerMessageDeflate` to use, or None.
    :raises WebSocketHandshakeError: if the server accepted something that
        was not offered or answered with invalid parameters.

    .. versionadded:: 0.1.0
    """
    opts = _check_options(options)
    if not response:
        return None
    try:
        extensions = parse_extensions(response)
    except ValueError as e:
        raise WebSocketHandshakeError(f"invalid Sec-WebSocket-Extensions: {e}", 101) from None
    if not extensions:
        return None
    if len(extensions) != 1 or extensions[0][0] != EXTENSION_NAME:
        raise WebSocketHandshakeError(
            f"the server accepted extensions that were not offered: {response!r}", 101
        )
    answered: dict[str, str | None] = {}
    for key, value in extensions[0][1]:
        if key not in _PARAMS or key in answered:
            raise WebSocketHandshakeError(
                f"invalid permessage-deflate parameters from the server: {response!r}", 101
            )
        answered[key] = value
    for key in ("server_no_context_takeover", "client_no_context_takeover"):
        if key in answered and answered[key] is not None:
            raise WebSocketHandshakeError(f"{key} takes no value: {response!r}", 101)
    decompress_wbits = 15
    if "server_max_window_bits" in answered:
        bits = _bits(answered["server_max_window_bits"])
        offered = opts.get("server_max_window_bits")
        if bits is None or (offered is not None and bits > offered):
            raise WebSocketHandshakeError(f"invalid server_max_window_bits: {response!r}", 101)
        decompress_wbits = bits
    compress_wbits = opts.get("client_max_window_bits") or 15
    if "client_max_window_bits" in answered:
        bits = _bits(answered["client_max_window_bits"])
        if bits is None or bits > compress_wbits:
            raise WebSocketHandshakeError(f"invalid client_max_window_bits: {response!r}", 101)
        compress_wbits = bits
    return PerMessageDeflate(
        compress_wbits=max(compress_wbits, 9),
        compress_reset="client_no_context_takeover" in answered
        or bool(opts.get("client_no_context_takeover")),
        decompress_wbits=decompress_wbits,
        decompress_reset="server_no_context_takeover" in answered,
        compression_level=opts.get("compression_level", zlib.Z_DEFAULT_COMPRESSION),
        mem_level=opts.get("mem_level", 8),
        can_compress=compress_wbits != 8,
    )
