"""The opening handshake's header arithmetic (RFC 6455 section 4), no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable

__all__ = [
    "WEBSOCKET_GUID",
    "WEBSOCKET_VERSION",
    "accept_key",
    "header_tokens",
    "is_valid_key",
    "new_key",
    "split_list",
]

#: The GUID of RFC 6455 section 1.3, appended to the key before hashing.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: The only protocol version spoken (RFC 6455).
WEBSOCKET_VERSION = "13"


def accept_key(key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` value answering ``Sec-WebSocket-Key: key``.

    .. versionadded:: 0.1.0
    """
    digest = hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def new_key() -> str:
    """Return a fresh random ``Sec-WebSocket-Key`` (16 random bytes, base64).

    .. versionadded:: 0.1.0
    """
    return base64.b64encode(os.urandom(16)).decode("ascii")


def is_valid_key(key: str | None) -> bool:
    """Return whether ``key`` is a valid ``Sec-WebSocket-Key``: 16 bytes in base64.

    .. versionadded:: 0.1.0
    """
    if not key or len(key) != 24 or not key.isascii():
        return False
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def split_list(values: Iterable[str]) -> list[str]:
    """Split comma-separated header values into their non-empty, stripped elements.

    .. versionadded:: 0.1.0
    """
    out: list[str] = []
    for value in values:
        for item in value.split(","):
            stripped = item.strip()
            if stripped:
                out.append(stripped)
    return out


def header_tokens(values: Iterable[str]) -> set[str]:
    """Return the lower-cased tokens of comma-separated header values.

    .. versionadded:: 0.1.0
    """
    return {item.lower() for item in split_list(values)}
