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

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_UNQUOTE_RE = re.compile(r"\\(.)")
_SPACE = " \t"


class DigestChallengeError(Exception):
    """The server's Digest challenge cannot be answered (the 401 stands)."""


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Parse ``WWW-Authenticate`` values into ``[(scheme, params), ...]``.

    ``Basic realm="a", Digest realm="b", nonce="c"`` gives two challenges.
    Scheme and parameter names are lower-cased; quoted values are
    unquoted.  A token68 credential (``Negotiate abc==``) is skipped, and
    anything unparsable ends the parse of that value.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        pos = 0
        end = len(value)
        while pos < end:
            if value[pos] in _SPACE or value[pos] == ",":
                pos += 1
                continue
            match = _TOKEN_RE.match(value, pos)
            if match is None:
                break
            word = match.group()
            pos = match.end()
            after = pos
            while after < end and value[after] in _SPACE:
                after += 1
            if after < end and value[after] == "=" and challenges:
                after += 1
                while after < end and value[after] in _SPACE:
                    after += 1
                quoted = _QUOTED_RE.match(value, after)
                if quoted is not None:
                    param = _UNQUOTE_RE.sub(r"\1", quoted.group(1))
                    pos = quoted.end()
                else:
                    token = _TOKEN_RE.match(value, after)
                    if token is None:
                        # token68 padding ("abc==") or garbage: skip to the next comma.
                        comma = value.find(",", after)
                        pos = end if comma < 0 else comma
                        continue
                    param = token.group()
                    pos = token.end()
                challenges[-1][1][word.lower()] = param
            elif after < end and value[after] == "=":
                break
            else:
                challenges.append((word.lower(), {}))
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
