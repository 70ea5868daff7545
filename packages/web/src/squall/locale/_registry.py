"""The process-wide locale state: default locale, loaded catalogs, cache.

All of it lives in one immutable :class:`_State` snapshot held by the module
global ``_state``.  Readers take the snapshot once and use only it, without a
lock; writers build a complete new snapshot under ``_write_lock`` and publish it
with a single assignment.  So a reader never sees the catalogs of one load with
the supported set of another, and loading translations while requests are
being served in other threads is safe.

Each snapshot carries its own :class:`~squall.locale.Locale` cache (a plain
dict keyed by code): a locale built from one generation of catalogs can never
be handed out once newer catalogs are published.
"""

from __future__ import annotations

import gettext
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from ._errors import InvalidLocaleCodeError

if TYPE_CHECKING:
    from ._locale import Locale

__all__ = ["get_supported_locales", "set_default_locale"]

#: The translations of one CSV locale: ``{"plural"|"singular"|"unknown": {original: translation}}``.
CSVCatalog: TypeAlias = dict[str, dict[str, str]]
#: What one locale code maps to once translations are loaded.
Catalog: TypeAlias = CSVCatalog | gettext.NullTranslations


@dataclass(frozen=True, slots=True)
class _State:
    default: str
    catalogs: Mapping[str, Catalog]
    supported: frozenset[str]
    cache: dict[str, Locale] = field(default_factory=dict)


_write_lock = threading.Lock()
_state = _State(default="en_US", catalogs={}, supported=frozenset({"en_US"}))


def current() -> _State:
    """Return the snapshot in force (read it once per operation)."""
    return _state


def normalize_code(code: str) -> str | None:
    """Return *code* as ``ll`` or ``ll_CC`` (``"EN-us"`` -> ``"en_US"``).

    An encoding suffix (``"de_DE.UTF-8"``) is dropped.  ``None`` for an empty
    code or one with more than two parts.
    """
    code = code.partition(".")[0].replace("-", "_")
    if not code:
        return None
    language, sep, region = code.partition("_")
    if not sep:
        return language.lower()
    if not language or not region or "_" in region:
        return None
    return f"{language.lower()}_{region.upper()}"


def install_catalogs(catalogs: Mapping[str, Catalog]) -> None:
    """Publish *catalogs* (replacing all loaded translations) in one step."""
    global _state
    with _write_lock:
        default = _state.default
        _state = _State(default, catalogs, frozenset(catalogs) | {default})


def set_default_locale(code: str) -> None:
    """Set the locale used when no requested locale is supported.

    The default is always among :func:`get_supported_locales`, with or without
    a translation file: it is the language the application's source strings
    are written in.  The code is normalized (``"en-us"`` -> ``"en_US"``).
    Locales handed out earlier stay valid; later :func:`get` calls see the new
    default.

    :param code: a locale code such as ``"en_US"`` or ``"fr"``.
    :raises InvalidLocaleCodeError: *code* is not a string of the form ``ll``
        or ``ll_CC``.

    .. versionadded:: 0.1.0
    """
    normalized = normalize_code(code) if isinstance(code, str) else None
    if normalized is None:
        raise InvalidLocaleCodeError(f"not a locale code: {code!r}")
    global _state
    with _write_lock:
        catalogs = _state.catalogs
        _state = _State(normalized, catalogs, frozenset(catalogs) | {normalized})


def get_supported_locales() -> frozenset[str]:
    """Return the codes of the supported locales.

    These are the locales with loaded translations plus the default locale
    (see :func:`set_default_locale`).

    :returns: a frozenset of locale codes.

    .. versionadded:: 0.1.0
    """
    return _state.supported
