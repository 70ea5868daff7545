"""The exceptions of :mod:`squall.locale`."""

from __future__ import annotations

__all__ = [
    "InvalidLocaleCodeError",
    "LocaleError",
    "TranslationDirectoryError",
    "UnsupportedLocaleError",
]


class LocaleError(Exception):
    """Base class of the errors raised by :mod:`squall.locale`.

    Problems *inside* translation files (a bad CSV row, a corrupt ``.mo``
    file) are not raised: they are logged on ``squall.general`` with the file
    and line, and the rest of the translations load.

    .. versionadded:: 0.1.0
    """


class InvalidLocaleCodeError(LocaleError, ValueError):
    """The caller passed something that is not a locale code.

    Raised by :func:`~squall.locale.set_default_locale` for an empty code or
    one with more than two parts (``"en_US_x"``).

    .. versionadded:: 0.1.0
    """


class UnsupportedLocaleError(LocaleError, ValueError):
    """The caller asked for a locale that is not supported.

    :meth:`Locale.get <squall.locale.Locale.get>` takes only codes in
    :func:`~squall.locale.get_supported_locales`; use
    :func:`~squall.locale.get` (closest match, never fails) for codes that
    come from a request.

    .. versionadded:: 0.1.0
    """


class TranslationDirectoryError(LocaleError, OSError):
    """The translation directory given by the caller cannot be listed.

    Raised by :func:`~squall.locale.load_translations` and
    :func:`~squall.locale.load_gettext_translations` when the directory does
    not exist, is not a directory or is not readable; the underlying
    :class:`OSError` is chained as ``__cause__``.  The translations in force
    are left unchanged.

    .. versionadded:: 0.1.0
    """
