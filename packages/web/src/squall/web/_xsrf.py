"""Cross-site request forgery protection (the ``xsrf_cookies`` setting).

The defence is the double-submit cookie: the server sets a random token
in the ``_xsrf`` cookie, pages embed it in their forms (``xsrf_form_html``)
or scripts send it in an ``X-XSRFToken`` header, and a POST, PUT, PATCH or
DELETE whose submitted token does not match the cookie is refused with
403. Another site can make the browser send the cookie, but cannot read
it to submit the token.

Token formats (as Tornado's, so both can share a cookie):

* version 2 (default): ``2|hex(mask)|hex(token XOR mask)|timestamp``. The
  mask is new for every page, so the text differs each time although the
  token does not (this defeats BREACH-style compression attacks);
* version 1: ``hex(token)``.
"""

from __future__ import annotations

import binascii
import hmac
import os
import time
from typing import Any

from squall.escape import utf8, xhtml_escape
from squall.log import gen_log
from squall.web._cookies import _CookieHandler
from squall.web._errors import HTTPError, UsageError

__all__: list[str] = []

_TOKEN_BYTES = 16


def _xor_mask(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with ``mask`` repeated (4-byte masks, as WebSocket frames use)."""
    if not data:
        return b""
    repeated = (mask * (len(data) // len(mask) + 1))[: len(data)]
    result = int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")
    return result.to_bytes(len(data), "big")


def _decode_xsrf_token(
    text: str | bytes,
) -> tuple[int | None, bytes | None, float | None]:
    """Return ``(version, token, timestamp)`` from a cookie or submitted token.

    ``(None, None, None)`` for text that is not a token.
    """
    try:
        data = utf8(text)
        if data.startswith(b"2|"):
            parts = data.split(b"|")
            if len(parts) != 4:
                return None, None, None
            _, mask_hex, masked_hex, timestamp = parts
            mask = binascii.a2b_hex(mask_hex)
            if len(mask) != 4:
                return None, None, None
            token = _xor_mask(mask, binascii.a2b_hex(masked_hex))
            return 2, token, int(timestamp)
        if data[:1].isdigit() and b"|" in data:
            return None, None, None  # an unknown future version
        try:
            token = binascii.a2b_hex(data)
        except (binascii.Error, ValueError):
            token = data
        return 1, token, int(time.time())
    except (binascii.Error, ValueError, TypeError, UnicodeEncodeError):
        gen_log.debug("Invalid XSRF token %r", text, exc_info=True)
        return None, None, None


class _XSRFHandler(_CookieHandler):
    """XSRF methods of a request handler (see ``RequestHandler``)."""

    _raw_xsrf_token: tuple[int | None, bytes, float]

    @property
    def xsrf_token(self) -> bytes:
        """The XSRF token for this page, setting the ``_xsrf`` cookie if needed.

        Each access in one request returns the same text; every request
        masks the token anew (version 2). Settings: ``xsrf_cookie_version``
        (1 or 2), ``xsrf_cookie_name`` (default ``_xsrf``) and
        ``xsrf_cookie_kwargs`` (extra :meth:`set_cookie` arguments).

        :raises UsageError: for an unknown ``xsrf_cookie_version``.

        .. versionadded:: 0.1.0
        """
        try:
            return self._xsrf_token
        except AttributeError:
            pass
        version, token, timestamp = self._get_raw_xsrf_token()
        settings = self.application.settings
        output_version = settings.get("xsrf_cookie_version", 2)
        if output_version == 1:
            text = binascii.b2a_hex(token)
        elif output_version == 2:
            mask = os.urandom(4)
            text = b"|".join(
                [
                    b"2",
                    binascii.b2a_hex(mask),
                    binascii.b2a_hex(_xor_mask(mask, token)),
                    b"%d" % int(timestamp),
                ]
            )
        else:
            raise UsageError(f"unknown xsrf_cookie_version {output_version!r}")
        self._xsrf_token: bytes = text
        if version is None:
            cookie_kwargs: dict[str, Any] = dict(settings.get("xsrf_cookie_kwargs", {}))
            if self.current_user and "expires_days" not in cookie_kwargs:
                cookie_kwargs["expires_days"] = 30
            self.set_cookie(settings.get("xsrf_cookie_name", "_xsrf"), text, **cookie_kwargs)
        return text

    def _get_raw_xsrf_token(self) -> tuple[int | None, bytes, float]:
        """``(version, token, timestamp)`` from the cookie, or a new token (version ``None``)."""
        try:
            return self._raw_xsrf_token
        except AttributeError:
            pass
        cookie = self.get_cookie(self.application.settings.get("xsrf_cookie_name", "_xsrf"))
        version: int | None = None
        token: bytes | None = None
        timestamp: float | None = None
        if cookie:
            version, token, timestamp = _decode_xsrf_token(cookie)
        if token is None or timestamp is None:
            version, token, timestamp = None, os.urandom(_TOKEN_BYTES), time.time()
        self._raw_xsrf_token = (version, token, timestamp)
        return self._raw_xsrf_token

    def _decode_xsrf_token(
        self, cookie: str | bytes
    ) -> tuple[int | None, bytes | None, float | None]:
        return _decode_xsrf_token(cookie)

    def check_xsrf_cookie(self) -> None:
        """Check the submitted XSRF token against the cookie.

        The token comes from the ``_xsrf`` argument or the ``X-XSRFToken``
        or ``X-CSRFToken`` header. Called before ``prepare()`` for POST,
        PUT, PATCH and DELETE when the ``xsrf_cookies`` setting is on;
        override it to exempt a handler (an API authenticated otherwise).

        :raises HTTPError: 403 when the token is missing, malformed or does
            not match.

        .. versionadded:: 0.1.0
        """
        headers = self.request.headers
        submitted = (
            self.get_argument("_xsrf", None)
            or headers.get("X-Xsrftoken")
            or headers.get("X-Csrftoken")
        )
        if not submitted:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        _, token, _ = _decode_xsrf_token(submitted)
        if not token:
            raise HTTPError(403, "'_xsrf' argument has invalid format")
        _, expected, _ = self._get_raw_xsrf_token()
        if not hmac.compare_digest(token, expected):
            raise HTTPError(403, "XSRF cookie does not match POST argument")

    def xsrf_form_html(self) -> str:
        """Return a hidden ``<input>`` carrying the XSRF token, for HTML forms.

        Put it in every form that POSTs when ``xsrf_cookies`` is on
        (``{% module xsrf_form_html() %}`` in a template).

        .. versionadded:: 0.1.0
        """
        return '<input type="hidden" name="_xsrf" value="' + xhtml_escape(self.xsrf_token) + '"/>'
