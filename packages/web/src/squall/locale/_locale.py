"""The :class:`Locale` classes and :func:`get`."""

from __future__ import annotations

import datetime
import gettext
from collections.abc import Iterable, Mapping
from typing import Any

from squall.log import gen_log

from . import _registry
from ._errors import UnsupportedLocaleError
from ._names import LOCALE_NAMES

__all__ = ["CONTEXT_SEPARATOR", "CSVLocale", "GettextLocale", "Locale", "get"]

CONTEXT_SEPARATOR = "\x04"
"""What joins a message context to its message in a gettext catalog.

``pgettext("law", "right")`` looks up ``"law\\x04right"``: this is GNU
gettext's convention, which ``xgettext --keyword=pgettext:1c,2`` and
:mod:`gettext` follow.

.. versionadded:: 0.1.0
"""

# Languages written right to left.
_RTL_LANGUAGES = frozenset({"ar", "ckb", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})
# Locales that write times on a 12-hour clock; every other locale uses 24 hours.
_TWELVE_HOUR_LOCALES = frozenset({"en", "en_US", "zh_CN"})
_UTC = datetime.UTC


def _(message: str) -> str:
    """Mark a message for extraction tools (xgettext, pybabel) without translating it."""
    return message


# format_date picks one of these templates, then translates it through the locale.
_FORMAT_DATE_TEMPLATES = (
    _("%(time)s"),
    _("yesterday"),
    _("yesterday at %(time)s"),
    _("%(weekday)s"),
    _("%(weekday)s at %(time)s"),
    _("%(month_name)s %(day)s"),
    _("%(month_name)s %(day)s at %(time)s"),
    _("%(month_name)s %(day)s, %(year)s"),
    _("%(month_name)s %(day)s, %(year)s at %(time)s"),
)
del _


def _as_utc(value: datetime.datetime | float) -> datetime.datetime:
    """An aware UTC datetime from a datetime (naive means UTC) or a POSIX timestamp."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=_UTC)
        return value.astimezone(_UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.datetime.fromtimestamp(value, _UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"timestamp out of range: {value!r}") from exc
    raise TypeError(f"expected a datetime or a POSIX timestamp, not {type(value).__name__}")


def get(*locale_codes: str) -> Locale:
    """Return the supported locale closest to the given codes.

    The codes are tried in order (the most preferred first, as
    :func:`~squall.locale.parse_accept_language` returns them).  For each code,
    normalized to ``ll_CC`` (``"en-us"`` -> ``"en_US"``), the exact locale is
    taken if supported, else the language alone (``"es"`` for ``"es_MX"``) if
    supported.  When no code matches, the default locale is returned (see
    :func:`~squall.locale.set_default_locale`).  Empty and malformed codes are
    skipped, so this never fails.  Only the bare language code is tried as a
    fallback: with just ``es_LA`` supported, ``get("es")`` and ``get("es_MX")``
    give the default; name the file ``es.csv`` to serve every Spanish request.

    :param locale_codes: locale codes such as ``"fr_CA"``, ``"en-US"``, ``"de"``.
    :returns: a :class:`Locale` (a :class:`CSVLocale` or :class:`GettextLocale`
        depending on how translations were loaded).

    .. versionadded:: 0.1.0
    """
    return Locale.get_closest(*locale_codes)


def _locale_for(state: _registry._State, code: str) -> Locale:
    """The cached :class:`Locale` of *code* in *state*, built on first use."""
    locale = state.cache.get(code)
    if locale is not None:
        return locale
    if code not in state.supported:
        raise UnsupportedLocaleError(
            f"locale {code!r} is not supported (supported: {', '.join(sorted(state.supported))})"
        )
    catalog = state.catalogs.get(code)
    if isinstance(catalog, gettext.NullTranslations):
        locale = GettextLocale(code, catalog)
    else:
        locale = CSVLocale(code, catalog or {})
    # setdefault: if two threads build the same locale, both get the first one stored.
    return state.cache.setdefault(code, locale)


class Locale:
    """The translations and formatting conventions of one locale.

    Get instances with :func:`get` / :meth:`get_closest` (closest supported
    match) or :meth:`get` (exact code); they are cached and shared, and
    immutable once built.  Subclasses implement :meth:`translate` and
    :meth:`pgettext`: :class:`CSVLocale` and :class:`GettextLocale`.

    Attributes: ``code`` (``"fr_FR"``), ``name`` (the locale's name in its own
    language, from :data:`~squall.locale.LOCALE_NAMES`, ``"Unknown"`` when it
    is not listed) and ``rtl`` (``True`` for a right-to-left language).

    :param code: the locale code.

    .. versionadded:: 0.1.0
    """

    @classmethod
    def get_closest(cls, *locale_codes: str) -> Locale:
        """Return the supported locale closest to the given codes.

        See :func:`squall.locale.get`, which calls this.

        :param locale_codes: locale codes, the most preferred first.
        :returns: the closest supported locale, or the default locale.

        .. versionadded:: 0.1.0
        """
        state = _registry.current()
        for code in locale_codes:
            if not code or not isinstance(code, str):
                continue
            normalized = _registry.normalize_code(code)
            if normalized is None:
                continue
            if normalized in state.supported:
                return _locale_for(state, normalized)
            language = normalized.partition("_")[0]
            if language in state.supported:
                return _locale_for(state, language)
        return _locale_for(state, state.default)

    @classmethod
    def get(cls, code: str) -> Locale:
        """Return the locale with exactly this code.

        :param code: a code in :func:`~squall.locale.get_supported_locales`.
        :returns: the (cached) locale.
        :raises UnsupportedLocaleError: *code* is not supported.

        .. versionadded:: 0.1.0
        """
        return _locale_for(_registry.current(), code)

    def __init__(self, code: str) -> None:
        #: The locale code, such as ``"pt_BR"``.
        self.code = code
        names = LOCALE_NAMES.get(code)
        #: The name of the locale in its own language (``"Unknown"`` if not listed).
        self.name: str = names["name"] if names else "Unknown"
        #: ``True`` when the language is written right to left.
        self.rtl: bool = code.partition("_")[0] in _RTL_LANGUAGES
        _ = self.translate
        self._months: tuple[str, ...] = (
            _("January"),
            _("February"),
            _("March"),
            _("April"),
            _("May"),
            _("June"),
            _("July"),
            _("August"),
            _("September"),
            _("October"),
            _("November"),
            _("December"),
        )
        self._weekdays: tuple[str, ...] = (
            _("Monday"),
            _("Tuesday"),
            _("Wednesday"),
            _("Thursday"),
            _("Friday"),
            _("Saturday"),
            _("Sunday"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.code}>"

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """Return the translation of *message*.

        With *plural_message* and *count*, the form for *count* is chosen
        (in English: *message* when ``count == 1``, *plural_message*
        otherwise; a translation follows its language's plural rules).  An
        untranslated message is returned as given.

        :param message: the message (the singular form when plural).
        :param plural_message: the plural form, for a count-dependent message.
        :param count: how many; required with *plural_message*.
        :returns: the translated text.
        :raises TypeError: *plural_message* was given without *count*.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """Return the translation of *message* in *context*.

        The context tells apart identical English words with different
        translations: ``pgettext("law", "right")`` vs ``pgettext("good",
        "right")``.  Arguments as in :meth:`translate`.

        :param context: the message context.
        :param message: the message (the singular form when plural).
        :param plural_message: the plural form, for a count-dependent message.
        :param count: how many; required with *plural_message*.
        :returns: the translated text.
        :raises TypeError: *plural_message* was given without *count*.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError

    def _fill(self, template: str, original: str, fields: Mapping[str, Any]) -> str:
        """``template % fields``; a broken translation falls back to the original."""
        try:
            return template % fields
        except (KeyError, ValueError, TypeError) as exc:
            gen_log.warning(
                "Locale %s: bad translation %r of %r (%s); using the original",
                self.code,
                template,
                original,
                exc,
            )
            return original % fields

    def _time(self, local: datetime.datetime) -> str:
        if self.code not in _TWELVE_HOUR_LOCALES:
            return f"{local.hour}:{local.minute:02d}"
        hour12 = local.hour % 12 or 12
        if self.code == "zh_CN":
            return f"{'下午' if local.hour >= 12 else '上午'}{hour12}:{local.minute:02d}"
        return f"{hour12}:{local.minute:02d} {'pm' if local.hour >= 12 else 'am'}"

    def format_date(
        self,
        date: datetime.datetime | float,
        gmt_offset: float = 0,
        relative: bool = True,
        shorter: bool = False,
        full_format: bool = False,
        *,
        _now: datetime.datetime | None = None,
    ) -> str:
        """Format a moment for people, relative to now by default.

        In English, going back in time: ``"5 seconds ago"``, ``"2 minutes
        ago"``, ``"3 hours ago"`` (less than a day, *relative* only),
        ``"yesterday at 3:15 pm"``, ``"Tuesday at 3:15 pm"`` (less than five
        days), ``"April 28 at 3:15 pm"`` (less than 334 days, so never the
        same month a year ago), then ``"April 28, 2012 at 3:15 pm"``.  Dates
        in the future use the full form, except less than a minute ahead in
        relative mode, which is taken as clock skew and reads as now.  Every
        piece (templates, weekday and month names) is translated through this
        locale.  Times use a 12-hour clock for ``en``, ``en_US`` and
        ``zh_CN``, 24 hours elsewhere.

        :param date: a :class:`~datetime.datetime` (naive means UTC; aware
            ones are converted) or a POSIX timestamp.
        :param gmt_offset: the reader's offset *west* of UTC in minutes, as
            JavaScript's ``Date.getTimezoneOffset()`` gives it (``-60`` for
            UTC+1).
        :param relative: allow ``"... ago"`` and ``"yesterday"``; when false,
            a moment of the last day shows as its time.
        :param shorter: leave out the time of day where there is a date part
            (``"yesterday"``, ``"April 28"``).
        :param full_format: always give month, day, year and time.
        :returns: the formatted text.
        :raises TypeError: *date* is neither a datetime nor a number.
        :raises ValueError: *date* is a timestamp out of the datetime range.

        .. versionadded:: 0.1.0
        """
        when = _as_utc(date)
        # _now (private) pins the current time, for deterministic tests.
        now = datetime.datetime.now(_UTC) if _now is None else _as_utc(_now)
        if when > now:
            if relative and (when - now).total_seconds() < 60:
                when = now
            else:
                full_format = True
        shift = datetime.timedelta(minutes=gmt_offset)
        local = when - shift
        age = now - when
        _ = self.translate

        original = ""
        if not full_format:
            if relative and age.days == 0:
                return self._ago(age.seconds)
            yesterday = (now - shift - datetime.timedelta(days=1)).date()
            if age.days == 0:
                original = "%(time)s"
            elif age.days == 1 and relative and local.date() == yesterday:
                original = "yesterday" if shorter else "yesterday at %(time)s"
            elif age.days < 5:
                original = "%(weekday)s" if shorter else "%(weekday)s at %(time)s"
            elif age.days < 334:
                original = (
                    "%(month_name)s %(day)s" if shorter else "%(month_name)s %(day)s at %(time)s"
                )
        if not original:
            original = (
                "%(month_name)s %(day)s, %(year)s"
                if shorter
                else "%(month_name)s %(day)s, %(year)s at %(time)s"
            )
        fields = {
            "month_name": self._months[local.month - 1],
            "weekday": self._weekdays[local.weekday()],
            "day": str(local.day),
            "year": str(local.year),
            "time": self._time(local),
        }
        return self._fill(self.translate(original), original, fields)

    def _ago(self, seconds: int) -> str:
        """``"N seconds/minutes/hours ago"`` for an age under a day."""
        _ = self.translate
        if seconds < 50:
            text = _("1 second ago", "%(seconds)d seconds ago", seconds)
            return self._fill_ago(text, "second", seconds)
        if seconds < 50 * 60:
            minutes = round(seconds / 60)
            text = _("1 minute ago", "%(minutes)d minutes ago", minutes)
            return self._fill_ago(text, "minute", minutes)
        hours = round(seconds / 3600)
        text = _("1 hour ago", "%(hours)d hours ago", hours)
        return self._fill_ago(text, "hour", hours)

    def _fill_ago(self, text: str, unit: str, amount: int) -> str:
        original = f"1 {unit} ago" if amount == 1 else f"%({unit}s)d {unit}s ago"
        return self._fill(text, original, {unit + "s": amount})

    def format_day(
        self, date: datetime.datetime | float, gmt_offset: float = 0, dow: bool = True
    ) -> str:
        """Format the day of a moment: ``"Monday, January 22"`` or ``"January 22"``.

        :param date: a :class:`~datetime.datetime` (naive means UTC) or a
            POSIX timestamp.
        :param gmt_offset: the reader's offset west of UTC in minutes (see
            :meth:`format_date`).
        :param dow: include the day of the week.
        :returns: the formatted, translated text.
        :raises TypeError: *date* is neither a datetime nor a number.
        :raises ValueError: *date* is a timestamp out of the datetime range.

        .. versionadded:: 0.1.0
        """
        local = _as_utc(date) - datetime.timedelta(minutes=gmt_offset)
        _ = self.translate
        fields = {
            "month_name": self._months[local.month - 1],
            "weekday": self._weekdays[local.weekday()],
            "day": str(local.day),
        }
        if dow:
            return self._fill(
                _("%(weekday)s, %(month_name)s %(day)s"),
                "%(weekday)s, %(month_name)s %(day)s",
                fields,
            )
        return self._fill(_("%(month_name)s %(day)s"), "%(month_name)s %(day)s", fields)

    def friendly_number(self, value: int) -> str:
        """Format an integer with thousands separators where the locale is known.

        ``"1,234,567"`` for English (``en``, ``en_US``); other locales get
        plain digits, which every reader understands.

        :param value: the number.
        :returns: the formatted number.

        .. versionadded:: 0.1.0
        """
        if self.code in ("en", "en_US"):
            return f"{value:,}"
        return str(value)

    def list(self, parts: Iterable[str]) -> str:
        """Join items as a human-readable list: ``"A, B and C"``.

        The final conjunction is the translation of ``"%(commas)s and
        %(last)s"``; Persian joins with ``" و "`` instead of commas.

        :param parts: the items (strings).
        :returns: ``""`` for no item, the item itself for one, the joined
            text otherwise.

        .. versionadded:: 0.1.0
        """
        items = tuple(parts)
        if not items:
            return ""
        if len(items) == 1:
            return items[0]
        separator = " و " if self.code.startswith("fa") else ", "
        template = "%(commas)s and %(last)s"
        fields = {"commas": separator.join(items[:-1]), "last": items[-1]}
        return self._fill(self.translate(template), template, fields)


def _require_count(count: int | None) -> int:
    if count is None:
        raise TypeError("count is required when plural_message is given")
    return count


class CSVLocale(Locale):
    """A locale whose translations come from a CSV file.

    See :func:`~squall.locale.load_translations` for the file format.  CSV
    files have no message contexts: :meth:`pgettext` translates without the
    context (and logs a warning once per locale).

    :param code: the locale code.
    :param translations: ``{"plural"|"singular"|"unknown": {original:
        translation}}``, as built by ``load_translations``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, code: str, translations: dict[str, dict[str, str]]) -> None:
        #: The translation tables, by plural kind.
        self.translations = translations
        self._warned_context = False
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """See :meth:`Locale.translate`.

        .. versionadded:: 0.1.0
        """
        if plural_message is None:
            table = self.translations.get("unknown")
        elif _require_count(count) == 1:
            table = self.translations.get("singular")
        else:
            table = self.translations.get("plural")
            message = plural_message
        if table is None:
            return message
        return table.get(message, message)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """See :meth:`Locale.pgettext`; the context is ignored for CSV files.

        .. versionadded:: 0.1.0
        """
        if self.translations and not self._warned_context:
            self._warned_context = True
            gen_log.warning(
                "Locale %s: CSV translations have no message contexts; "
                "pgettext(%r, ...) ignores the context",
                self.code,
                context,
            )
        return self.translate(message, plural_message, count)


class GettextLocale(Locale):
    r"""A locale whose translations come from a gettext ``.mo`` catalog.

    Plural forms follow the catalog's ``Plural-Forms`` header (through its
    ``ngettext``).  :meth:`pgettext` looks up ``context + "\x04" + message``
    and falls back to the context-free translation of *message*.

    :param code: the locale code.
    :param translations: the catalog (a :class:`gettext.GNUTranslations`, or
        any :class:`gettext.NullTranslations`).

    .. versionadded:: 0.1.0
    """

    def __init__(self, code: str, translations: gettext.NullTranslations) -> None:
        #: The catalog.
        self.translations = translations
        #: The catalog's ``ngettext``.
        self.ngettext = translations.ngettext
        #: The catalog's ``gettext``.
        self.gettext = translations.gettext
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """See :meth:`Locale.translate`.

        .. versionadded:: 0.1.0
        """
        if plural_message is None:
            return self.gettext(message)
        return self.ngettext(message, plural_message, _require_count(count))

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """See :meth:`Locale.pgettext`.

        .. versionadded:: 0.1.0
        """
        prefix = context + CONTEXT_SEPARATOR
        if plural_message is None:
            result = self.gettext(prefix + message)
            if CONTEXT_SEPARATOR in result:
                result = self.gettext(message)
            return result
        n = _require_count(count)
        result = self.ngettext(prefix + message, prefix + plural_message, n)
        if CONTEXT_SEPARATOR in result:
            result = self.ngettext(message, plural_message, n)
        return result
