"""Translation and locale-aware formatting for Squall applications.

Load translations once at start-up, from CSV files
(:func:`load_translations`) or gettext catalogs
(:func:`load_gettext_translations`); then pick a locale per request with
:func:`get` (``RequestHandler.get_browser_locale`` feeds it the codes of the
``Accept-Language`` header, parsed by :func:`parse_accept_language`)::

    from squall import locale

    locale.load_translations("translations")   # es_LA.csv, fr_FR.csv, ...
    user_locale = locale.get("es_MX", "en_US")  # closest: es_LA, es, default
    _ = user_locale.translate
    _("%(name)s liked this", "%(name)s liked this", count) % {"name": name}
    user_locale.format_date(posted_at)          # "2 minutes ago"

The API is Tornado's ``tornado.locale``.  Loading is thread-safe: the new
translations are built aside and published in one step, while other threads
keep reading a consistent snapshot (see :mod:`squall.locale._registry`).

Exceptions (problems *inside* translation files are logged, not raised)::

    LocaleError (Exception)
    +-- InvalidLocaleCodeError (LocaleError, ValueError)   -- set_default_locale("")
    +-- UnsupportedLocaleError (LocaleError, ValueError)   -- Locale.get("xx")
    +-- TranslationDirectoryError (LocaleError, OSError)   -- directory unreadable

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from ._accept import parse_accept_language
from ._errors import (
    InvalidLocaleCodeError,
    LocaleError,
    TranslationDirectoryError,
    UnsupportedLocaleError,
)
from ._loading import load_gettext_translations, load_translations
from ._locale import CONTEXT_SEPARATOR, CSVLocale, GettextLocale, Locale, get
from ._names import LOCALE_NAMES
from ._registry import get_supported_locales, set_default_locale

__all__ = [
    "CONTEXT_SEPARATOR",
    "LOCALE_NAMES",
    "CSVLocale",
    "GettextLocale",
    "InvalidLocaleCodeError",
    "Locale",
    "LocaleError",
    "TranslationDirectoryError",
    "UnsupportedLocaleError",
    "get",
    "get_supported_locales",
    "load_gettext_translations",
    "load_translations",
    "parse_accept_language",
    "set_default_locale",
]
