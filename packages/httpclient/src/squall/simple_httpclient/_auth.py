"""HTTP Digest authentication (RFC 7616), client side.

The first request goes out without credentials; a ``401`` carrying a
``WWW-Authenticate: Digest ...`` challenge is answered once, by repeating
the request with an ``Authorization: Digest ...`` header computed here.
Supported: algorithms MD5, SHA-256 and SHA-512-256 and their ``-sess``
variants, ``qop=auth`` or no qop (RFC 2069 style).  ``qop=auth-int`` alone
is refused (it would hash the body, which may be streamed).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable

__all__ = ["DigestChallengeError", "digest_authorization", "parse_challenges"]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
# One auth-param (name=value) or a scheme name, with the separators around it.
_CHALLENGE_ITEM_RE = re.compile(
    rf"\s*(?:(?P<name>{_TOKEN})\s*=\s*(?P<value>{_TOKEN}|{_QUOTED})|(?P<scheme>{_TOKEN})"
    r"(?:\s+(?P<t68>[A-Za-z0-9\-._~+/]+=*)(?=\s*(?:,|$)))?)\s*(?:,|$)"
)
_UNQUOTE_RE = re.compile(r"\\(.)")


class DigestChallengeError(Exception):
    """The server's Digest challenge cannot be answered (the 401 stands)."""


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Parse ``WWW-Authenticate`` values into ``[(scheme, params), ...]``.

    Scheme names are lower-cased, parameter names too; quoted values are
    unquoted.  Anything unparsable ends the parse of that value.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        pos = 0
        end = len(value)
        while pos < end:
            match = _CHALLENGE_ITEM_RE.match(value, pos)
            if match is None or match.end() == pos:
                break
            pos = match.end()
            if match.group("scheme") is not None:
                challenges.append((match.group("scheme").lower(), {}))
            elif challenges:
                raw = match.group("value")
                if raw.startswith('"'):
                    raw = _UNQUOTE_RE.sub(r"\1", raw[1:-1])
                challenges[-1][1][match.group("name").lower()] = raw
    return challenges


def _hasher(algorithm: str) -> Callable[[str], str]:
    base = algorithm.upper().removesuffix("-SESS")
    name = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}.get(base)
    if name is None:
        raise DigestChallengeError(f"unsupported Digest algorithm {algorithm!r}")
    try:
        hashlib.new(name)
    except ValueError:
        raise DigestChallengeError(f"Digest algorithm {algorithm!r} is not available") from None

    def digest(text: str) -> str:
        return hashlib.new(name, text.encode("utf-8")).hexdigest()

    return digest


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_authorization(
    challenge: dict[str, str],
    username: str,
    password: str,
    method: str,
    uri: str,
    nonce_count: int = 1,
    cnonce: str | None = None,
) -> str:
    """Answer a Digest ``challenge`` with an ``Authorization`` header value.

    :param challenge: the challenge's parameters (from :func:`parse_challenges`).
    :param uri: the request target as sent (path and query).
    :raises DigestChallengeError: if the challenge lacks a realm or nonce, or
        asks for an algorithm or qop this client does not implement.
    """
    realm = challenge.get("realm")
    nonce = challenge.get("nonce")
    if realm is None or nonce is None:
        raise DigestChallengeError("the server's Digest challenge has no realm or nonce")
    algorithm = challenge.get("algorithm", "MD5")
    h = _hasher(algorithm)
    qops = [q.strip().lower() for q in challenge.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise DigestChallengeError(f"unsupported Digest qop {challenge.get('qop')!r}")
    qop = "auth" if qops else None
    if cnonce is None:
        cnonce = os.urandom(16).hex()
    nc = f"{nonce_count:08x}"
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    if qop is not None:
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    fields = [
        f"username={_quote(username)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"algorithm={algorithm}",
        f"response={_quote(response)}",
    ]
    if "opaque" in challenge:
        fields.append(f"opaque={_quote(challenge['opaque'])}")
    if qop is not None:
        fields += [f"qop={qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
    return "Digest " + ", ".join(fields)
