"""Cookies, signed ("secure") cookies and the current user.

Signed values use the same two formats as Tornado, so cookies signed by a
Tornado application are read by a Squall one with the same secret and the
other way round:

* version 1: ``base64(value)|timestamp|hex(HMAC-SHA1(secret, name + base64(value) +
  timestamp))``;
* version 2 (the default): ``2|`` followed by the fields key version,
  timestamp, name and ``base64(value)``, each written ``<length>:<text>|``,
  then ``hex(HMAC-SHA256(secret, everything before))``. The key version
  selects the secret when ``cookie_secret`` is a dict (key rotation).

A signed value proves the server wrote it and when; it does not hide it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import http.cookies
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from squall.escape import utf8
from squall.httputil import format_timestamp
from squall.web._errors import UnsafeCookieError, UsageError
from squall.web._input import _InputHandler

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
]

#: The oldest signed-value format this version can read.
#:
#: .. versionadded:: 0.1.0
MIN_SUPPORTED_SIGNED_VALUE_VERSION = 1

#: The newest signed-value format this version can read.
#:
#: .. versionadded:: 0.1.0
MAX_SUPPORTED_SIGNED_VALUE_VERSION = 2

#: The format :func:`create_signed_value` writes by default.
#:
#: .. versionadded:: 0.1.0
DEFAULT_SIGNED_VALUE_VERSION = 2

#: The oldest format :func:`decode_signed_value` accepts by default.
#:
#: .. versionadded:: 0.1.0
DEFAULT_SIGNED_VALUE_MIN_VERSION = 1

# Signed values from the future (clock skew aside) are refused.
_MAX_FUTURE_SECONDS = 31 * 86400

Secret = str | bytes | Mapping[int, str | bytes]


def _field(text: bytes) -> bytes:
    return b"%d:%b" % (len(text), text)


def _signature_v1(secret: str | bytes, *parts: bytes) -> bytes:
    digest = hmac.new(utf8(secret), digestmod=hashlib.sha1)
    for part in parts:
        digest.update(part)
    return utf8(digest.hexdigest())


def _signature_v2(secret: str | bytes, text: bytes) -> bytes:
    return utf8(hmac.new(utf8(secret), text, digestmod=hashlib.sha256).hexdigest())


def create_signed_value(
    secret: Secret,
    name: str,
    value: str | bytes,
    version: int | None = None,
    clock: Callable[[], float] | None = None,
    key_version: int | None = None,
) -> bytes:
    """Sign ``value`` under ``name`` with ``secret`` and the current time.

    :param secret: the key; with format 2, a dict of keys by version
        (``key_version`` picks one).
    :param name: the name the value is bound to (a cookie's name).
    :param value: the value to sign.
    :param version: the format, 1 or 2 (default
        :data:`DEFAULT_SIGNED_VALUE_VERSION`).
    :param clock: returns the current time (default :func:`time.time`).
    :param key_version: the version of the key in ``secret`` to use.
    :returns: the signed value.
    :raises UsageError: for an unknown format, a dict secret with format 1,
        or a dict secret without ``key_version`` (or without that key).

    .. versionadded:: 0.1.0
    """
    if version is None:
        version = DEFAULT_SIGNED_VALUE_VERSION
    timestamp = b"%d" % int((clock or time.time)())
    encoded = base64.b64encode(utf8(value))
    if version == 1:
        if isinstance(secret, Mapping):
            raise UsageError("signed values of version 1 cannot use a dict of secrets")
        signature = _signature_v1(secret, utf8(name), encoded, timestamp)
        return b"|".join([encoded, timestamp, signature])
    if version == 2:
        to_sign = b"2|" + b"|".join(
            [
                _field(b"%d" % (key_version or 0)),
                _field(timestamp),
                _field(utf8(name)),
                _field(encoded),
                b"",
            ]
        )
        if isinstance(secret, Mapping):
            if key_version is None or key_version not in secret:
                raise UsageError(
                    f"cookie_secret is a dict: key_version must name one of its keys, "
                    f"not {key_version!r}"
                )
            secret = secret[key_version]
        return to_sign + _signature_v2(secret, to_sign)
    raise UsageError(f"unsupported signed value version {version!r}")


_VERSION_RE = re.compile(rb"([1-9][0-9]{0,2})\|")


def _signed_version(value: bytes) -> int:
    # Format 1 starts with base64 text, which can look like anything but
    # never like "<small number>|" (base64 has no "|").
    match = _VERSION_RE.match(value)
    return 1 if match is None else int(match.group(1))


def decode_signed_value(
    secret: Secret,
    name: str,
    value: str | bytes | None,
    max_age_days: float = 31,
    clock: Callable[[], float] | None = None,
    min_version: int | None = None,
) -> bytes | None:
    """Check a signed value and return what was signed, or ``None``.

    ``None`` is returned for anything that does not check out: no value,
    a bad signature, another name, a value older than ``max_age_days`` or
    from the future, an unknown key version, a format older than
    ``min_version``, or garbage. It never raises for bad input.

    :param secret: the key, or a dict of keys by version.
    :param name: the name the value must be bound to.
    :param value: the signed value (a cookie's value).
    :param max_age_days: the oldest value accepted, in days.
    :param clock: returns the current time (default :func:`time.time`).
    :param min_version: the oldest format accepted (default
        :data:`DEFAULT_SIGNED_VALUE_MIN_VERSION`).
    :raises UsageError: if ``min_version`` is not a supported format.

    .. versionadded:: 0.1.0
    """
    if min_version is None:
        min_version = DEFAULT_SIGNED_VALUE_MIN_VERSION
    if not MIN_SUPPORTED_SIGNED_VALUE_VERSION <= min_version <= MAX_SUPPORTED_SIGNED_VALUE_VERSION:
        raise UsageError(f"unsupported min_version {min_version!r}")
    if not value:
        return None
    try:
        data = utf8(value)
    except (TypeError, UnicodeEncodeError):
        return None
    now = (clock or time.time)()
    version = _signed_version(data)
    if version < min_version:
        return None
    try:
        if version == 1:
            return _decode_v1(secret, name, data, max_age_days, now)
        if version == 2:
            return _decode_v2(secret, name, data, max_age_days, now)
    except (ValueError, binascii.Error, KeyError, TypeError):
        return None
    return None


def _timestamp_ok(timestamp: int, max_age_days: float, now: float) -> bool:
    return now - max_age_days * 86400 <= timestamp <= now + _MAX_FUTURE_SECONDS


def _decode_v1(
    secret: Secret, name: str, data: bytes, max_age_days: float, now: float
) -> bytes | None:
    if isinstance(secret, Mapping):
        return None
    parts = data.split(b"|")
    if len(parts) != 3:
        return None
    encoded, timestamp, signature = parts
    expected = _signature_v1(secret, utf8(name), encoded, timestamp)
    if not hmac.compare_digest(signature, expected):
        return None
    # The signed text is name + value + timestamp without separators: a
    # leading zero would let digits move between value and timestamp.
    if timestamp.startswith(b"0") or not timestamp.isdigit():
        return None
    if not _timestamp_ok(int(timestamp), max_age_days, now):
        return None
    return base64.b64decode(encoded, validate=True)


def _read_field(data: bytes, pos: int) -> tuple[bytes, int]:
    colon = data.index(b":", pos)
    length_text = data[pos:colon]
    if not length_text.isdigit():
        raise ValueError("bad field length")
    end = colon + 1 + int(length_text)
    if data[end : end + 1] != b"|":
        raise ValueError("bad field end")
    return data[colon + 1 : end], end + 1


def _parse_v2(data: bytes) -> tuple[int, bytes, bytes, bytes, bytes, bytes]:
    if not data.startswith(b"2|"):
        raise ValueError("not version 2")
    key_version, pos = _read_field(data, 2)
    timestamp, pos = _read_field(data, pos)
    name, pos = _read_field(data, pos)
    encoded, pos = _read_field(data, pos)
    if not key_version.isdigit():
        raise ValueError("bad key version")
    return int(key_version), timestamp, name, encoded, data[:pos], data[pos:]


def _decode_v2(
    secret: Secret, name: str, data: bytes, max_age_days: float, now: float
) -> bytes | None:
    key_version, timestamp, signed_name, encoded, signed, signature = _parse_v2(data)
    if isinstance(secret, Mapping):
        if key_version not in secret:
            return None
        secret = secret[key_version]
    if not hmac.compare_digest(signature, _signature_v2(secret, signed)):
        return None
    if signed_name != utf8(name) or not timestamp.isdigit():
        return None
    if not _timestamp_ok(int(timestamp), max_age_days, now):
        return None
    return base64.b64decode(encoded, validate=True)


def get_signature_key_version(value: str | bytes) -> int | None:
    """Return the key version a signed value says it was signed with.

    The signature is *not* checked. ``None`` for format 1 values (which
    have no key version) and for garbage.

    .. versionadded:: 0.1.0
    """
    try:
        data = utf8(value)
        if _signed_version(data) != 2:
            return None
        return _parse_v2(data)[0]
    except (ValueError, TypeError, UnicodeEncodeError):
        return None


# -- cookie attributes -------------------------------------------------------

_COOKIE_NAME_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_UNSAFE_COOKIE_VALUE_RE = re.compile("[\x00-\x20\x7f]")
_UNSAFE_ATTRIBUTE_RE = re.compile("[\x00-\x1f\x7f;]")
_ENCODER = http.cookies.SimpleCookie()
_FLAG_ATTRIBUTES = frozenset({"httponly", "secure", "partitioned"})


def _attribute(cookie: str, key: str, value: Any) -> str:
    text = str(value)
    if _UNSAFE_ATTRIBUTE_RE.search(text) is not None:
        raise UnsafeCookieError(
            f"unsafe {key!r} attribute for cookie {cookie!r}: {text!r} "
            "(';' and control characters are not allowed)"
        )
    return text


class _CookieHandler(_InputHandler):
    """Cookie methods and the current user of a request handler (see ``RequestHandler``)."""

    # -- plain cookies ---------------------------------------------------------

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel[str]]:
        """The request's cookies (``self.request.cookies``), name to :class:`~http.cookies.Morsel`.

        .. versionadded:: 0.1.0
        """
        return self.request.cookies

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """Return the value of the request cookie ``name``, or ``default``.

        .. versionadded:: 0.1.0
        """
        morsel = self.request.cookies.get(name)
        return default if morsel is None else morsel.value

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | datetime.datetime | str | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Set a cookie in the response (``Set-Cookie``), replacing one of the same name.

        :param name: the name, an HTTP token.
        :param value: the value (no whitespace or control characters; other
            characters are quoted as :mod:`http.cookies` does).
        :param domain: the ``Domain`` attribute.
        :param expires: the ``Expires`` attribute: a timestamp, a
            :class:`datetime.datetime` (UTC) or a preformatted string.
        :param path: the ``Path`` attribute.
        :param expires_days: sets ``Expires`` that many days from now.
        :param max_age: the ``Max-Age`` attribute, in seconds.
        :param httponly: the ``HttpOnly`` flag.
        :param secure: the ``Secure`` flag.
        :param samesite: the ``SameSite`` attribute (``"Lax"``, ``"Strict"``,
            ``"None"``).
        :param kwargs: other :class:`~http.cookies.Morsel` attributes
            (``max_age`` style names work for ``max-age``).
        :raises UnsafeCookieError: (a :class:`ValueError`) for a name that
            is not a token, a value with whitespace or control characters,
            or an attribute value containing ``;`` or control characters,
            which would inject attributes or headers; the message names
            the cookie and the attribute. Also for an unknown attribute.

        .. versionadded:: 0.1.0
        """
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if not isinstance(name, str) or not name or not _COOKIE_NAME_CHARS.issuperset(name):
            raise UnsafeCookieError(f"invalid cookie name {name!r}: it must be an HTTP token")
        if not isinstance(text, str) or _UNSAFE_COOKIE_VALUE_RE.search(text) is not None:
            raise UnsafeCookieError(
                f"invalid value for cookie {name!r}: {value!r} "
                "(whitespace and control characters are not allowed)"
            )
        morsel: http.cookies.Morsel[str] = http.cookies.Morsel()
        real, coded = _ENCODER.value_encode(text)
        morsel.set(name, real, coded)
        if domain:
            morsel["domain"] = _attribute(name, "domain", domain)
        if expires_days is not None and not expires:
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=expires_days)
        if expires:
            if isinstance(expires, str):
                morsel["expires"] = _attribute(name, "expires", expires)
            else:
                morsel["expires"] = format_timestamp(expires)
        if path:
            morsel["path"] = _attribute(name, "path", path)
        if max_age is not None:
            if not isinstance(max_age, int):
                raise UnsafeCookieError(
                    f"max_age of cookie {name!r} must be an int, not {max_age!r}"
                )
            morsel["max-age"] = str(max_age)
        if httponly:
            morsel["httponly"] = True
        if secure:
            morsel["secure"] = True
        if samesite:
            morsel["samesite"] = _attribute(name, "samesite", samesite)
        for raw_key, attr in kwargs.items():
            key = raw_key.replace("_", "-").lower()
            if not morsel.isReservedKey(key):
                raise UnsafeCookieError(f"unknown attribute {key!r} for cookie {name!r}")
            if attr is None or attr is False:
                continue
            if key in _FLAG_ATTRIBUTES or attr is True:
                morsel[key] = True
            else:
                morsel[key] = _attribute(name, key, attr)
        if self._new_cookie is None:
            self._new_cookie = {}
        self._new_cookie[name] = morsel

    def clear_cookie(
        self, name: str, path: str = "/", domain: str | None = None, **kwargs: Any
    ) -> None:
        """Delete cookie ``name`` in the client (an expired, empty cookie).

        ``path`` and ``domain`` (and ``samesite``/``secure`` if given) must
        be those the cookie was set with, or the browser keeps it.

        .. versionadded:: 0.1.0
        """
        for key in ("expires", "max_age", "expires_days"):
            kwargs.pop(key, None)
        expires = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=365)
        self.set_cookie(
            name, value="", path=path, domain=domain, expires=expires, max_age=0, **kwargs
        )

    def clear_all_cookies(self, path: str = "/", domain: str | None = None, **kwargs: Any) -> None:
        """Delete every cookie the request sent (see :meth:`clear_cookie`).

        .. versionadded:: 0.1.0
        """
        for name in self.request.cookies:
            self.clear_cookie(name, path=path, domain=domain, **kwargs)

    # -- signed cookies --------------------------------------------------------

    def _cookie_secret(self) -> Secret:
        self.require_setting("cookie_secret", "secure cookies")
        secret: Secret = self.application.settings["cookie_secret"]
        return secret

    def create_signed_value(
        self, name: str, value: str | bytes, version: int | None = None
    ) -> bytes:
        """Sign ``value`` with the ``cookie_secret`` setting (see :func:`create_signed_value`).

        Uses the ``key_version`` setting when ``cookie_secret`` is a dict.

        :raises MissingSettingError: without ``cookie_secret``.

        .. versionadded:: 0.1.0
        """
        secret = self._cookie_secret()
        key_version = None
        if isinstance(secret, Mapping):
            key_version = self.application.settings.get("key_version")
            if key_version is None:
                raise UsageError("cookie_secret is a dict: set the key_version setting too")
        return create_signed_value(secret, name, value, version=version, key_version=key_version)

    def set_signed_cookie(
        self,
        name: str,
        value: str | bytes,
        expires_days: float | None = 30,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Sign ``value`` and set it as cookie ``name``; read it with :meth:`get_signed_cookie`.

        :param expires_days: lifetime of the cookie in the browser; the
            signature has its own limit, ``max_age_days`` when read.
        :param kwargs: passed to :meth:`set_cookie`.
        :raises MissingSettingError: without ``cookie_secret``.

        .. versionadded:: 0.1.0
        """
        self.set_cookie(
            name,
            self.create_signed_value(name, value, version=version),
            expires_days=expires_days,
            **kwargs,
        )

    set_secure_cookie = set_signed_cookie

    def get_signed_cookie(
        self,
        name: str,
        value: str | None = None,
        max_age_days: float = 31,
        min_version: int | None = None,
    ) -> bytes | None:
        """Return the checked value of signed cookie ``name``, or ``None``.

        :param value: check this instead of the request's cookie.
        :param max_age_days: refuse values signed longer ago than this.
        :param min_version: the oldest signed format accepted.
        :raises MissingSettingError: without ``cookie_secret``.

        .. versionadded:: 0.1.0
        """
        secret = self._cookie_secret()
        if value is None:
            value = self.get_cookie(name)
        return decode_signed_value(
            secret, name, value, max_age_days=max_age_days, min_version=min_version
        )

    get_secure_cookie = get_signed_cookie

    def get_signed_cookie_key_version(self, name: str, value: str | None = None) -> int | None:
        """Return the key version of signed cookie ``name`` (not checked), or ``None``.

        :raises MissingSettingError: without ``cookie_secret``.

        .. versionadded:: 0.1.0
        """
        self._cookie_secret()
        if value is None:
            value = self.get_cookie(name)
        if value is None:
            return None
        return get_signature_key_version(value)

    get_secure_cookie_key_version = get_signed_cookie_key_version

    # -- the current user ------------------------------------------------------

    @property
    def current_user(self) -> Any:
        """The user making the request: :meth:`get_current_user`, computed once.

        May be assigned, e.g. by an asynchronous ``prepare()`` that looks
        the user up in a database.

        .. versionadded:: 0.1.0
        """
        try:
            return self._current_user
        except AttributeError:
            self._current_user: Any = self.get_current_user()
            return self._current_user

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self._current_user = value

    def get_current_user(self) -> Any:
        """Override to identify the user (from a signed cookie, a header ...).

        The default returns ``None``: nobody is logged in.

        .. versionadded:: 0.1.0
        """
        return None

    def get_login_url(self) -> str:
        """Return the URL ``@authenticated`` redirects to: the ``login_url`` setting.

        :raises MissingSettingError: without ``login_url``.

        .. versionadded:: 0.1.0
        """
        self.require_setting("login_url", "@squall.web.authenticated")
        url: str = self.application.settings["login_url"]
        return url
