"""Parsing of the ``Accept-Language`` request header (RFC 9110 section 12.5.4).

The header is a comma-separated list of language ranges, each optionally
weighted: ``da, en-GB;q=0.8, en;q=0.7``.  :func:`parse_accept_language` turns it
into locale codes in the form this package uses (``en_GB``), most preferred
first.  Everything malformed is dropped, entry by entry; the function never
raises, and its work is linear in the length of the header (one split, then a
bounded amount of work per entry, then a sort of the surviving entries).
"""

from __future__ import annotations

import re

__all__ = ["parse_accept_language"]

# A language range once "_" has been turned into "-": a primary tag of 1 to 8
# letters, then subtags of 1 to 8 letters or digits.  The pattern has no
# ambiguity (every subtag ends at "-" or at the end), and it only ever sees
# strings of at most _MAX_RANGE characters.
_RANGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_MAX_RANGE = 128
# A weight: digits with an optional fraction, or a bare fraction.  Range-checked
# after conversion.
_QVALUE = re.compile(r"[0-9]{1,5}(?:\.[0-9]{0,6})?|\.[0-9]{1,6}")


def _locale_code(language_range: str) -> str | None:
    """Turn one language range into ``ll`` or ``ll_CC``, or ``None`` if invalid."""
    tag = language_range.replace("_", "-")
    if len(tag) > _MAX_RANGE or _RANGE.fullmatch(tag) is None:
        return None
    subtags = tag.split("-")
    language = subtags[0].lower()
    if len(language) < 2:
        # "x-..." (private use) and "i-..." (grandfathered) are no languages.
        return None
    for subtag in subtags[1:]:
        size = len(subtag)
        if size == 1:
            # A singleton starts an extension or a private-use part: no region follows.
            break
        if (size == 2 and subtag.isalpha()) or (size == 3 and subtag.isdigit()):
            return f"{language}_{subtag.upper()}"
        # A 4-letter script ("Hant") or a variant: skip it, a region may follow.
    return language


def _weight(params: list[str]) -> float | None:
    """The ``q`` weight among the parameters of one entry, or ``None`` if invalid."""
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or name.strip().lower() != "q":
            continue
        value = value.strip()
        if _QVALUE.fullmatch(value) is None:
            return None
        weight = float(value)
        return weight if weight <= 1.0 else None
    return 1.0


def parse_accept_language(header: str | bytes | None) -> list[str]:
    """Return the locale codes of an ``Accept-Language`` header, preferred first.

    Each language range is normalized to the form :func:`squall.locale.get`
    expects: ``en-us`` becomes ``en_US``, ``FR`` becomes ``fr``, and a script
    or variant subtag is dropped (``zh-Hant-TW`` becomes ``zh_TW``,
    ``sr-Latn`` becomes ``sr``).  Codes are ordered by decreasing ``q`` weight;
    codes of equal weight keep the order of the header, and a code given twice
    keeps only its best place.

    Dropped without error: the wildcard ``*``, ranges with ``q=0`` (RFC 9110:
    "not acceptable"), ranges whose ``q`` is malformed or out of ``[0, 1]``,
    and anything that is not a language range.  The function never raises:
    ``None``, an empty header or pure junk give ``[]``, and ``bytes`` are
    decoded as ISO-8859-1 like any header value.

    ``RequestHandler.get_browser_locale`` passes the result to
    :func:`squall.locale.get`.

    :param header: the header value (``None`` when the request has none).
    :returns: the locale codes, most preferred first.

    .. versionadded:: 0.1.0
    """
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    if not isinstance(header, str):
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, entry in enumerate(header.split(",")):
        language_range, *params = entry.split(";")
        language_range = language_range.strip()
        if not language_range or language_range == "*":
            continue
        weight = _weight(params) if params else 1.0
        if not weight:  # None (malformed) or 0 (not acceptable)
            continue
        code = _locale_code(language_range)
        if code is not None:
            weighted.append((-weight, position, code))
    weighted.sort()
    seen: set[str] = set()
    codes: list[str] = []
    for _, _, code in weighted:
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes
