"""Tests for squall.locale: closest match, CSV and gettext loading, formatting,
Accept-Language parsing and thread safety.

The gettext fixtures are ``.po`` files under ``locale_data/gettext``; they are
compiled to ``.mo`` at test time by the small compiler below (no binary file
is committed, no external tool is needed).
"""

import ast
import codecs
import datetime
import logging
import random
import re
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from squall import locale
from squall.locale import (
    CSVLocale,
    GettextLocale,
    InvalidLocaleCodeError,
    Locale,
    LocaleError,
    TranslationDirectoryError,
    UnsupportedLocaleError,
    _registry,
    parse_accept_language,
)

DATA = Path(__file__).parent / "locale_data"
UTC = datetime.UTC
# A Wednesday, at noon UTC.
NOW = datetime.datetime(2024, 5, 15, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------
# A tiny .po -> .mo compiler (GNU gettext's msgfmt, reduced to what the
# fixtures use).  The .mo layout: a 28-byte header (magic, revision, count,
# offset of the original-strings table, offset of the translations table,
# hash table size and offset), two tables of (length, offset) pairs, then the
# NUL-terminated strings.  Originals are sorted by their bytes.

_PO_LINE = re.compile(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")\Z')


def parse_po(text: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            current[last] += ast.literal_eval(line)
            continue
        match = _PO_LINE.match(line)
        assert match, f"bad .po line: {raw!r}"
        keyword = match[1]
        if keyword in ("msgctxt", "msgid") and any(k.startswith("msgstr") for k in current):
            entries.append(current)
            current = {}
        current[keyword] = ast.literal_eval(match[2])
        last = keyword
    if current:
        entries.append(current)
    return entries


def write_mo(catalog: dict[str, str], path: Path) -> None:
    items = sorted((k.encode(), v.encode()) for k, v in catalog.items())
    count = len(items)
    originals_at = 28
    translations_at = originals_at + 8 * count
    data_at = translations_at + 8 * count
    tables: list[list[tuple[int, int]]] = [[], []]
    data = b""
    for column in (0, 1):
        for item in items:
            tables[column].append((len(item[column]), data_at + len(data)))
            data += item[column] + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, count, originals_at, translations_at, 0, data_at)
    body = b"".join(struct.pack("<2I", *pair) for pair in tables[0] + tables[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body + data)


def compile_po(po_path: Path, mo_path: Path) -> None:
    catalog = {}
    for entry in parse_po(po_path.read_text("utf-8")):
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = entry["msgctxt"] + "\x04" + msgid
        if "msgid_plural" in entry:
            forms = [entry[k] for k in sorted(k for k in entry if k.startswith("msgstr["))]
            if not all(forms):
                continue
            catalog[msgid + "\0" + entry["msgid_plural"]] = "\0".join(forms)
        elif entry["msgstr"]:
            catalog[msgid] = entry["msgstr"]
    write_mo(catalog, mo_path)


def build_gettext_tree(root: Path, domain: str = "squall_test") -> Path:
    """Compile every fixture .po into root/<lang>/LC_MESSAGES/<domain>.mo."""
    for po in sorted((DATA / "gettext").glob("*.po")):
        compile_po(po, root / po.stem / "LC_MESSAGES" / f"{domain}.mo")
    return root


# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def _restore_locale_state() -> Iterator[None]:
    """Every test starts from, and leaves, the state it found."""
    saved = _registry._state
    yield
    _registry._state = saved


@pytest.fixture
def fresh_state() -> None:
    _registry.install_catalogs({})
    locale.set_default_locale("en_US")


@pytest.fixture
def csv_locales(fresh_state: None) -> None:
    locale.load_translations(DATA / "csv")


@pytest.fixture
def gettext_locales(fresh_state: None, tmp_path: Path) -> None:
    locale.load_gettext_translations(build_gettext_tree(tmp_path / "gt"), "squall_test")


def write_csv(directory: Path, name: str, text: str, encoding: str = "utf-8") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(text.encode(encoding))


def general_log_messages(caplog: pytest.LogCaptureFixture, level: int = logging.ERROR) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "squall.general" and r.levelno >= level
    ]


# --------------------------------------------------------------------------
# Public API and names


def test_public_api() -> None:
    assert set(locale.__all__) == {
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
    }
    for name in locale.__all__:
        assert hasattr(locale, name)
    assert locale.CONTEXT_SEPARATOR == "\x04"


def test_exception_tree() -> None:
    assert issubclass(UnsupportedLocaleError, LocaleError)
    assert issubclass(UnsupportedLocaleError, ValueError)
    assert issubclass(InvalidLocaleCodeError, ValueError)
    assert issubclass(TranslationDirectoryError, OSError)
    assert issubclass(TranslationDirectoryError, LocaleError)


def test_locale_names_table() -> None:
    assert len(locale.LOCALE_NAMES) >= 60
    for code, names in locale.LOCALE_NAMES.items():
        assert re.fullmatch(r"[a-z]{2,3}_[A-Z]{2}", code), code
        assert set(names) == {"name_en", "name"}
        assert names["name"] and names["name_en"]
    assert locale.LOCALE_NAMES["en_US"] == {"name_en": "English (US)", "name": "English (US)"}


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("ja_JP", "日本語"),
        ("ru_RU", "Русский"),
        ("zh_CN", "中文(简体)"),
        ("ar_AR", "العربية"),
        ("he_IL", "עברית"),
        ("cs_CZ", "Čeština"),
        ("pt_BR", "Português (Brasil)"),
        ("uz_UZ", "O\u02bbzbekcha"),
        ("xx_XX", "Unknown"),
        ("ja", "Unknown"),
    ],
)
def test_unicode_names(code: str, name: str) -> None:
    assert CSVLocale(code, {}).name == name


def test_name_of_a_supported_locale(fresh_state: None) -> None:
    locale.set_default_locale("ko_KR")
    assert locale.get("ko").name == "한국어"
    assert locale.LOCALE_NAMES["ko_KR"]["name_en"] == "Korean"


@pytest.mark.parametrize(
    ("code", "rtl"),
    [
        ("ar_AR", True),
        ("fa_IR", True),
        ("he_IL", True),
        ("ur_PK", True),
        ("ar", True),
        ("en_US", False),
        ("hr_HR", False),
        ("fr", False),
        ("ja_JP", False),
    ],
)
def test_rtl(code: str, rtl: bool) -> None:
    assert CSVLocale(code, {}).rtl is rtl


# --------------------------------------------------------------------------
# Closest match


@pytest.fixture
def four_locales(fresh_state: None, tmp_path: Path) -> None:
    for code in ("es_LA", "fr", "pt_BR", "zh_TW"):
        write_csv(tmp_path / "four", f"{code}.csv", f'"hello","hello in {code}"\n')
    locale.load_translations(tmp_path / "four")


def test_supported_locales_include_the_default(four_locales: None) -> None:
    assert locale.get_supported_locales() == frozenset({"es_LA", "fr", "pt_BR", "zh_TW", "en_US"})


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("es_LA",), "es_LA"),  # exact
        (("es-la",), "es_LA"),  # normalized
        (("ES_la",), "es_LA"),
        (("pt_BR", "fr"), "pt_BR"),  # first match wins
        (("de_DE", "pt-br"), "pt_BR"),  # first supported one
        (("fr_CA",), "fr"),  # language only
        (("fr-ca", "pt_BR"), "fr"),  # language-only match of an earlier code beats later codes
        (("es",), "en_US"),  # "es" itself is not supported (only es_LA): default
        (("es_MX",), "en_US"),  # neither es_MX nor es
        (("de_DE",), "en_US"),
        ((), "en_US"),
        (("", "en_US_POSIX", "-", "_", "pt_BR"), "pt_BR"),  # malformed codes skipped
        (("zh_TW.UTF-8",), "zh_TW"),  # POSIX locale names lose their encoding
        (("zh_CN",), "en_US"),
    ],
)
def test_closest_match(four_locales: None, codes: tuple[str, ...], expected: Any) -> None:
    assert locale.get(*codes).code == expected
    assert Locale.get_closest(*codes).code == expected


def test_closest_match_ignores_non_strings(four_locales: None) -> None:
    assert locale.get(None, 42, "fr").code == "fr"  # type: ignore[arg-type]


def test_default_locale_changes_the_fallback(four_locales: None) -> None:
    locale.set_default_locale("fr")
    assert locale.get("de_DE").code == "fr"
    assert "en_US" not in locale.get_supported_locales()
    locale.set_default_locale("de-de")
    assert locale.get("it_IT").code == "de_DE"
    assert "de_DE" in locale.get_supported_locales()
    # The translations loaded are kept.
    assert locale.get("fr").translate("hello") == "hello in fr"


@pytest.mark.parametrize("bad", ["", "en_US_POSIX", "_US", "en_", None, 7])
def test_set_default_locale_rejects_bad_codes(fresh_state: None, bad: Any) -> None:
    with pytest.raises(InvalidLocaleCodeError):
        locale.set_default_locale(bad)
    assert locale.get().code == "en_US"


def test_locale_get_exact(four_locales: None) -> None:
    assert Locale.get("pt_BR").code == "pt_BR"
    with pytest.raises(UnsupportedLocaleError, match="'de_DE' is not supported"):
        Locale.get("de_DE")
    with pytest.raises(UnsupportedLocaleError):
        Locale.get("pt-br")  # Locale.get takes exact codes only


def test_locales_are_cached_per_code(four_locales: None) -> None:
    first = locale.get("fr_CA")
    assert locale.get("fr") is first
    assert Locale.get("fr") is first
    assert locale.get("pt_BR") is not first


def test_reload_replaces_cached_locales(fresh_state: None, tmp_path: Path) -> None:
    write_csv(tmp_path / "a", "fr.csv", '"hello","bonjour"\n')
    write_csv(tmp_path / "b", "fr.csv", '"hello","salut"\n')
    locale.load_translations(tmp_path / "a")
    old = locale.get("fr")
    assert old.translate("hello") == "bonjour"
    locale.load_translations(tmp_path / "b")
    assert locale.get("fr").translate("hello") == "salut"
    assert locale.get("fr") is not old
    assert old.translate("hello") == "bonjour"  # handed-out locales stay usable


def test_a_load_replaces_the_previous_one(fresh_state: None, tmp_path: Path) -> None:
    write_csv(tmp_path / "a", "fr.csv", '"hello","bonjour"\n')
    write_csv(tmp_path / "b", "de.csv", '"hello","hallo"\n')
    locale.load_translations(tmp_path / "a")
    locale.load_translations(tmp_path / "b")
    assert locale.get_supported_locales() == frozenset({"de", "en_US"})
    assert locale.get("fr").code == "en_US"


# --------------------------------------------------------------------------
# CSV translations


def test_csv_translate(csv_locales: None) -> None:
    es = locale.get("es_LA")
    assert isinstance(es, CSVLocale)
    assert es.translate("school") == "escuela"
    assert es.translate("not in the file") == "not in the file"
    assert es.translate("Unicode ✓") == "Unicode ✓ — sí"


def test_csv_plural_rows(csv_locales: None) -> None:
    _ = locale.get("es_LA").translate
    message = "%(name)s liked this"
    assert _(message, message, 1) == "A %(name)s le gustó esto"
    assert _(message, message, 2) == "A %(name)s les gustó esto"
    assert _(message, message, 0) == "A %(name)s les gustó esto"
    # A plural row does not translate the plain message, nor the other way round.
    assert _(message) == message
    assert _("school", "schools", 1) == "school"
    assert _("school", "schools", 3) == "schools"


def test_csv_plural_needs_a_count(csv_locales: None) -> None:
    with pytest.raises(TypeError, match="count"):
        locale.get("es_LA").translate("a", "b")
    with pytest.raises(TypeError, match="count"):
        locale.get("es_LA").pgettext("ctx", "a", "b")


def test_csv_cells_are_stripped_and_empty_translations_skipped(csv_locales: None) -> None:
    fr = locale.get("fr_FR")
    assert fr.translate("padded") == "rembourré"
    assert fr.translate("untranslated") == "untranslated"
    assert fr.translate("Line one\nline two") == "Ligne un\nligne deux"


def test_csv_pgettext_ignores_the_context_and_warns_once(
    csv_locales: None, caplog: pytest.LogCaptureFixture
) -> None:
    es = locale.get("es_LA")
    with caplog.at_level(logging.WARNING, logger="squall.general"):
        assert es.pgettext("education", "school") == "escuela"
        assert es.pgettext("fish", "school") == "escuela"
        message = "%(name)s liked this"
        assert es.pgettext("ctx", message, message, 2) == "A %(name)s les gustó esto"
    warnings = general_log_messages(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "es_LA" in warnings[0]
    assert "context" in warnings[0]


def test_csv_default_locale_without_file_translates_nothing(
    csv_locales: None, caplog: pytest.LogCaptureFixture
) -> None:
    en = locale.get("en_US")
    assert isinstance(en, CSVLocale)
    assert en.translate("school") == "school"
    with caplog.at_level(logging.WARNING, logger="squall.general"):
        assert en.pgettext("ctx", "school") == "school"
    assert general_log_messages(caplog, logging.WARNING) == []  # nothing to warn about


TEXT_WITH_ACCENTS = '"school","école"\n"Wednesday","mercredi — ✓"\n'


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]
)
def test_csv_encoding_detected_from_bom(fresh_state: None, tmp_path: Path, encoding: str) -> None:
    data = TEXT_WITH_ACCENTS.encode(encoding)
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    (tmp_path / "fr.csv").write_bytes(bom + data)
    locale.load_translations(tmp_path)
    fr = locale.get("fr")
    assert fr.translate("school") == "école"
    assert fr.translate("Wednesday") == "mercredi — ✓"


def test_csv_explicit_encoding(fresh_state: None, tmp_path: Path) -> None:
    write_csv(tmp_path, "fr.csv", TEXT_WITH_ACCENTS.replace(" — ✓", ""), "latin-1")
    locale.load_translations(tmp_path, encoding="latin-1")
    assert locale.get("fr").translate("school") == "école"


def test_csv_explicit_utf8_with_bom(fresh_state: None, tmp_path: Path) -> None:
    write_csv(tmp_path, "fr.csv", TEXT_WITH_ACCENTS, "utf-8-sig")
    locale.load_translations(tmp_path, encoding="utf-8")
    # The mark is not glued to the first original.
    assert locale.get("fr").translate("school") == "école"


def test_csv_unknown_encoding_is_the_callers_error(fresh_state: None, tmp_path: Path) -> None:
    write_csv(tmp_path, "fr.csv", TEXT_WITH_ACCENTS)
    with pytest.raises(LookupError):
        locale.load_translations(tmp_path, encoding="no-such-codec")
    assert locale.get_supported_locales() == frozenset({"en_US"})


def test_csv_undecodable_file_is_skipped(
    fresh_state: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_csv(tmp_path, "fr.csv", TEXT_WITH_ACCENTS.replace(" — ✓", ""), "latin-1")  # not UTF-8
    write_csv(tmp_path, "de.csv", '"school","Schule"\n')
    with caplog.at_level(logging.ERROR, logger="squall.general"):
        locale.load_translations(tmp_path)
    assert locale.get_supported_locales() == frozenset({"de", "en_US"})
    assert locale.get("de").translate("school") == "Schule"
    (message,) = general_log_messages(caplog)
    assert str(tmp_path / "fr.csv") in message
    assert "utf-8" in message


def test_csv_bad_rows_are_logged_with_file_and_line(
    fresh_state: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="squall.general"):
        locale.load_translations(DATA / "csv_bad")
    # The good rows of the file are loaded, and only de_DE is a locale.
    assert locale.get_supported_locales() == frozenset({"de_DE", "en_US"})
    de = locale.get("de_DE")
    assert de.translate("school") == "Schule"
    assert de.translate("multi\nline") == "mehr\nzeilig"
    assert de.translate("tree") == "Baum"
    assert de.translate("apple", "apples", 2) == "Äpfel"  # "PLURAL" is accepted
    assert de.translate("house") == "house"
    assert de.translate("lonely") == "lonely"

    path = str(DATA / "csv_bad" / "de_DE.csv")
    messages = general_log_messages(caplog)
    bad_rows = [m for m in messages if m.startswith("Bad row")]
    assert len(bad_rows) == 3, messages
    assert bad_rows[0].startswith(f"Bad row in {path} line 2:")
    assert "expected" in bad_rows[0]
    assert bad_rows[1].startswith(f"Bad row in {path} line 3:")
    assert "'dual'" in bad_rows[1]
    assert bad_rows[2].startswith(f"Bad row in {path} line 5:")
    assert "empty" in bad_rows[2]
    (bad_name,) = [m for m in messages if not m.startswith("Bad row")]
    assert "Unrecognized locale 'not-a-locale'" in bad_name


def test_csv_line_numbers_after_multiline_rows(
    fresh_state: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_csv(tmp_path, "fr.csv", '"a\nb\nc","x"\n\n"z","y","both"\n"ok","bien"\n')
    with caplog.at_level(logging.ERROR, logger="squall.general"):
        locale.load_translations(tmp_path)
    (message,) = general_log_messages(caplog)
    assert " line 5:" in message
    assert locale.get("fr").translate("ok") == "bien"


def test_csv_parser_error_skips_only_that_row(
    fresh_state: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "x" * 200_000  # beyond the csv module's field size limit
    write_csv(tmp_path, "fr.csv", f'"before","avant"\n"{huge}","trop"\n"after","après"\n')
    with caplog.at_level(logging.ERROR, logger="squall.general"):
        locale.load_translations(tmp_path)
    fr = locale.get("fr")
    assert fr.translate("before") == "avant"
    assert fr.translate("after") == "après"
    (message,) = general_log_messages(caplog)
    assert " line 2:" in message
    assert "field larger than field limit" in message


def test_csv_ignores_other_files(
    fresh_state: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_csv(tmp_path, "fr.csv", '"school","école"\n')
    write_csv(tmp_path, ".hidden.csv", '"school","caché"\n')
    write_csv(tmp_path, "README.txt", "not translations")
    (tmp_path / "de.csv.orig").write_text("junk")
    with caplog.at_level(logging.ERROR, logger="squall.general"):
        locale.load_translations(tmp_path)
    assert locale.get_supported_locales() == frozenset({"fr", "en_US"})
    assert general_log_messages(caplog) == []


def test_csv_unreadable_file_is_skipped(
    fresh_state: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "fr.csv").mkdir()  # a directory named like a translation file
    write_csv(tmp_path, "de.csv", '"school","Schule"\n')
    with caplog.at_level(logging.ERROR, logger="squall.general"):
        locale.load_translations(tmp_path)
    assert locale.get_supported_locales() == frozenset({"de", "en_US"})
    (message,) = general_log_messages(caplog)
    assert "Cannot read translation file" in message


@pytest.mark.parametrize("loader", ["csv", "gettext"])
def test_missing_directory(fresh_state: None, tmp_path: Path, loader: str) -> None:
    write_csv(tmp_path / "ok", "fr.csv", '"school","école"\n')
    locale.load_translations(tmp_path / "ok")
    missing = tmp_path / "missing"
    with pytest.raises(TranslationDirectoryError, match="missing") as info:
        if loader == "csv":
            locale.load_translations(missing)
        else:
            locale.load_gettext_translations(missing, "squall_test")
    assert isinstance(info.value.__cause__, FileNotFoundError)
    # What was loaded before is still in force.
    assert locale.get("fr").translate("school") == "école"


# --------------------------------------------------------------------------
# gettext translations


def test_test_mo_compiler_round_trip(tmp_path: Path) -> None:
    import gettext

    compile_po(DATA / "gettext" / "fr_FR.po", tmp_path / "fr.mo")
    with open(tmp_path / "fr.mo", "rb") as file:
        catalog = gettext.GNUTranslations(file)
    assert catalog.gettext("school") == "école"
    assert catalog.gettext('say "hello"') == "dire « bonjour »"
    assert catalog.info()["plural-forms"] == "nplurals=2; plural=(n > 1);"


def test_gettext_translate(gettext_locales: None) -> None:
    assert locale.get_supported_locales() == frozenset({"fr_FR", "ru_RU", "en_US"})
    # "fr" alone is not supported (only fr_FR is): the default locale.
    assert locale.get("fr").code == "en_US"
    fr = locale.get("fr-fr")
    assert isinstance(fr, GettextLocale)
    assert fr.code == "fr_FR"
    assert fr.translate("school") == "école"
    assert fr.translate('say "hello"') == "dire « bonjour »"
    assert fr.translate("not yet") == "not yet"  # empty msgstr: untranslated
    assert fr.translate("missing") == "missing"
    assert locale.get("ru_RU").translate("school") == "школа"


def test_gettext_plural_forms_follow_the_catalog(gettext_locales: None) -> None:
    fr = locale.get("fr_FR")
    # French: plural=(n > 1), so 0 is singular.
    assert fr.translate("%(num)d apple", "%(num)d apples", 0) == "%(num)d pomme"
    assert fr.translate("%(num)d apple", "%(num)d apples", 1) == "%(num)d pomme"
    assert fr.translate("%(num)d apple", "%(num)d apples", 2) == "%(num)d pommes"
    ru = locale.get("ru_RU")
    forms = {
        n: ru.translate("%(num)d file", "%(num)d files", n) % {"num": n}
        for n in (1, 2, 5, 11, 21, 22, 25, 111)
    }
    assert forms == {
        1: "1 файл",
        2: "2 файла",
        5: "5 файлов",
        11: "11 файлов",
        21: "21 файл",
        22: "22 файла",
        25: "25 файлов",
        111: "111 файлов",
    }
    # Untranslated plurals use the English rule.
    assert ru.translate("%(n)d cat", "%(n)d cats", 1) == "%(n)d cat"
    assert ru.translate("%(n)d cat", "%(n)d cats", 5) == "%(n)d cats"
    with pytest.raises(TypeError, match="count"):
        ru.translate("%(n)d cat", "%(n)d cats")


def test_gettext_pgettext(gettext_locales: None) -> None:
    fr = locale.get("fr_FR")
    assert fr.pgettext("law", "right") == "le droit"
    assert fr.pgettext("good", "right") == "le bien"
    assert fr.pgettext("organization", "club", "clubs", 1) == "le club"
    assert fr.pgettext("organization", "club", "clubs", 2) == "les clubs"
    assert fr.pgettext("stick", "club", "clubs", 1) == "le bâton"
    assert fr.pgettext("stick", "club", "clubs", 3) == "les bâtons"
    # Without a translation in that context: the context-free translation...
    assert fr.pgettext("direction", "left") == "gauche"
    assert fr.pgettext("ctx", "%(num)d apple", "%(num)d apples", 5) == "%(num)d pommes"
    # ... else the message itself, never the context.
    assert fr.pgettext("politics", "right") == "right"
    assert fr.pgettext("golf", "club", "clubs", 1) == "club"
    assert fr.pgettext("golf", "club", "clubs", 2) == "clubs"
    # The contextual entry does not leak into plain lookups.
    assert fr.translate("right") == "right"
    with pytest.raises(TypeError, match="count"):
        fr.pgettext("stick", "club", "clubs")


def test_gettext_default_locale_is_a_plain_locale(gettext_locales: None) -> None:
    en = locale.get("en_US")
    assert isinstance(en, CSVLocale)
    assert en.translate("school") == "school"
    assert en.pgettext("law", "right") == "right"


def test_gettext_bad_catalogs_are_logged_and_skipped(
    fresh_state: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = build_gettext_tree(tmp_path / "gt")
    domain_file = Path("LC_MESSAGES") / "squall_test.mo"
    (root / "de_DE" / domain_file).parent.mkdir(parents=True)
    (root / "de_DE" / domain_file).write_bytes(b"this is not a catalog")
    truncated = (root / "fr_FR" / domain_file).read_bytes()[:40]
    (root / "nl_NL" / domain_file).parent.mkdir(parents=True)
    (root / "nl_NL" / domain_file).write_bytes(truncated)
    write_mo(
        {"": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n > ;\n"},
        root / "pl_PL" / domain_file,
    )
    (root / "it_IT" / "LC_MESSAGES").mkdir(parents=True)  # no catalog for this domain
    compile_po(DATA / "gettext" / "ru_RU.po", root / "uk_UA" / "LC_MESSAGES" / "other.mo")
    (root / "README").write_text("not a locale directory")
    (root / ".git").mkdir()
    with caplog.at_level(logging.DEBUG, logger="squall.general"):
        locale.load_gettext_translations(root, "squall_test")
    assert locale.get_supported_locales() == frozenset({"fr_FR", "ru_RU", "en_US"})
    errors = general_log_messages(caplog)
    assert len(errors) == 3, errors
    for code, message in zip(("de_DE", "nl_NL", "pl_PL"), errors, strict=True):
        assert f"Cannot load translation for '{code}'" in message
        assert str(root / code / domain_file) in message
    debug = general_log_messages(caplog, logging.DEBUG)
    assert any("it_IT" in m for m in debug)
    assert locale.get("fr_FR").translate("school") == "école"


def test_gettext_directory_names_are_normalized(fresh_state: None, tmp_path: Path) -> None:
    compile_po(DATA / "gettext" / "fr_FR.po", tmp_path / "fr-ca" / "LC_MESSAGES" / "d.mo")
    locale.load_gettext_translations(tmp_path, "d")
    assert locale.get_supported_locales() == frozenset({"fr_CA", "en_US"})
    assert locale.get("fr-CA").translate("school") == "école"


def test_gettext_reload_reads_rebuilt_catalogs(fresh_state: None, tmp_path: Path) -> None:
    mo = tmp_path / "fr" / "LC_MESSAGES" / "d.mo"
    header = {"": "Content-Type: text/plain; charset=UTF-8\n"}
    write_mo({**header, "school": "école"}, mo)
    locale.load_gettext_translations(tmp_path, "d")
    assert locale.get("fr").translate("school") == "école"
    write_mo({**header, "school": "l'école"}, mo)
    locale.load_gettext_translations(tmp_path, "d")  # no stale gettext.translation() cache
    assert locale.get("fr").translate("school") == "l'école"


def test_switching_between_csv_and_gettext(fresh_state: None, tmp_path: Path) -> None:
    locale.load_gettext_translations(build_gettext_tree(tmp_path / "gt"), "squall_test")
    assert isinstance(locale.get("fr_FR"), GettextLocale)
    locale.load_translations(DATA / "csv")
    assert isinstance(locale.get("fr_FR"), CSVLocale)
    assert locale.get("ru_RU").code == "en_US"


# --------------------------------------------------------------------------
# format_date (with a fixed "now")


def en_date(when: Any, **kwargs: Any) -> str:
    return CSVLocale("en_US", {}).format_date(when, _now=NOW, **kwargs)


def ago(**delta: float) -> datetime.datetime:
    return NOW - datetime.timedelta(**delta)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (ago(seconds=0), "0 seconds ago"),
        (ago(seconds=1), "1 second ago"),
        (ago(seconds=2), "2 seconds ago"),
        (ago(seconds=49), "49 seconds ago"),
        (ago(seconds=50), "1 minute ago"),
        (ago(seconds=89), "1 minute ago"),
        (ago(minutes=2), "2 minutes ago"),
        (ago(minutes=49, seconds=59), "50 minutes ago"),
        (ago(minutes=50), "1 hour ago"),
        (ago(hours=2), "2 hours ago"),
        (ago(hours=23, minutes=59), "24 hours ago"),
        (ago(days=1), "yesterday at 12:00 pm"),
        (ago(hours=30), "yesterday at 6:00 am"),
        (ago(hours=40), "Monday at 8:00 pm"),  # a day and a half, but two calendar days
        (ago(days=2), "Monday at 12:00 pm"),
        (ago(days=4, hours=12, minutes=5), "Friday at 11:55 pm"),
        (ago(days=5), "May 10 at 12:00 pm"),
        (datetime.datetime(2023, 6, 17, 12, 0), "June 17 at 12:00 pm"),  # 333 days
        (datetime.datetime(2023, 6, 16, 12, 0), "June 16, 2023 at 12:00 pm"),  # 334 days
        (datetime.datetime(2013, 4, 28, 18, 35), "April 28, 2013 at 6:35 pm"),
        (datetime.datetime(2024, 1, 1, 0, 7), "January 1 at 12:07 am"),
    ],
)
def test_format_date_relative(when: datetime.datetime, expected: Any) -> None:
    assert en_date(when) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (ago(minutes=2), "2 minutes ago"),
        (ago(days=1), "yesterday"),
        (ago(days=2), "Monday"),
        (ago(days=30), "April 15"),
        (ago(days=400), "April 11, 2023"),
    ],
)
def test_format_date_shorter(when: datetime.datetime, expected: Any) -> None:
    assert en_date(when, shorter=True) == expected


def test_format_date_not_relative() -> None:
    assert en_date(ago(hours=2), relative=False) == "10:00 am"
    assert en_date(ago(hours=13), relative=False) == "11:00 pm"  # still "today" by age
    assert en_date(ago(days=1), relative=False) == "Tuesday at 12:00 pm"
    assert en_date(ago(days=1), relative=False, shorter=True) == "Tuesday"


def test_format_date_full_format() -> None:
    assert en_date(ago(seconds=5), full_format=True) == "May 15, 2024 at 11:59 am"
    assert en_date(ago(seconds=5), full_format=True, shorter=True) == "May 15, 2024"


def test_format_date_future() -> None:
    # Less than a minute ahead is clock skew: "now".
    assert en_date(NOW + datetime.timedelta(seconds=30)) == "0 seconds ago"
    assert en_date(NOW + datetime.timedelta(seconds=30), relative=False) == (
        "May 15, 2024 at 12:00 pm"
    )
    assert en_date(NOW + datetime.timedelta(minutes=2)) == "May 15, 2024 at 12:02 pm"
    # A day and ten seconds ahead is not "ten seconds".
    assert en_date(NOW + datetime.timedelta(days=1, seconds=10)) == "May 16, 2024 at 12:00 pm"


def test_format_date_gmt_offset() -> None:
    # UTC+2 (offsets are minutes west of UTC, as in JavaScript).
    assert en_date(ago(days=2), gmt_offset=-120) == "Monday at 2:00 pm"
    # UTC-8: both "now" and the date move, yesterday stays yesterday.
    assert en_date(ago(days=1), gmt_offset=480) == "yesterday at 4:00 am"
    # 29 hours ago is yesterday in UTC, but two days ago at UTC-12.
    assert en_date(ago(hours=29)) == "yesterday at 7:00 am"
    assert en_date(ago(hours=29), gmt_offset=720) == "Monday at 7:00 pm"
    # Relative ages do not depend on the offset.
    assert en_date(ago(minutes=3), gmt_offset=300) == "3 minutes ago"


def test_format_date_accepts_timestamps_and_aware_datetimes() -> None:
    assert en_date(NOW.timestamp() - 120) == "2 minutes ago"
    assert en_date(int(NOW.timestamp()) - 7200) == "2 hours ago"
    plus3 = datetime.timezone(datetime.timedelta(hours=3))
    aware = datetime.datetime(2024, 5, 15, 13, 0, tzinfo=plus3)  # 10:00 UTC
    assert en_date(aware) == "2 hours ago"
    assert en_date(aware, full_format=True) == "May 15, 2024 at 10:00 am"
    naive_now = NOW.replace(tzinfo=None)
    loc = CSVLocale("en_US", {})
    assert loc.format_date(ago(minutes=5), _now=naive_now) == "5 minutes ago"
    assert loc.format_date(0, full_format=True) == "January 1, 1970 at 12:00 am"


def test_format_date_without_a_fixed_now() -> None:
    loc = CSVLocale("en_US", {})
    now = datetime.datetime.now(UTC)
    text = loc.format_date(now - datetime.timedelta(seconds=2))
    match = re.fullmatch(r"(\d+) seconds ago", text)
    assert match and 2 <= int(match[1]) < 49, text
    naive = now.replace(tzinfo=None) - datetime.timedelta(minutes=2)
    assert loc.format_date(naive) == "2 minutes ago"


def test_format_date_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="str"):
        en_date("yesterday")
    with pytest.raises(TypeError):
        en_date(True)
    with pytest.raises(ValueError, match="out of range"):
        en_date(1e20)
    with pytest.raises(ValueError, match="out of range"):
        en_date(float("nan"))


def test_format_date_clocks() -> None:
    morning = datetime.datetime(2020, 3, 2, 9, 5)
    evening = datetime.datetime(2020, 3, 2, 21, 5)
    noon = datetime.datetime(2020, 3, 2, 12, 30)
    midnight = datetime.datetime(2020, 3, 2, 0, 30)

    def clock(code: str, when: datetime.datetime) -> str:
        return CSVLocale(code, {}).format_date(when, full_format=True, _now=NOW)

    assert clock("en", evening) == "March 2, 2020 at 9:05 pm"
    assert clock("en_US", noon) == "March 2, 2020 at 12:30 pm"
    assert clock("en_US", midnight) == "March 2, 2020 at 12:30 am"
    assert clock("en_GB", evening) == "March 2, 2020 at 21:05"
    assert clock("de_DE", midnight) == "March 2, 2020 at 0:30"
    assert clock("zh_CN", morning) == "March 2, 2020 at 上午9:05"
    assert clock("zh_CN", evening) == "March 2, 2020 at 下午9:05"
    assert clock("zh_CN", noon) == "March 2, 2020 at 下午12:30"


def test_format_date_translated_csv(csv_locales: None) -> None:
    fr = locale.get("fr_FR")
    assert fr._months[4] == "mai"
    assert fr._weekdays[2] == "mercredi"
    assert fr.format_date(ago(minutes=1), _now=NOW) == "il y a 1 minute"
    assert fr.format_date(ago(minutes=7), _now=NOW) == "il y a 7 minutes"
    assert fr.format_date(ago(seconds=3), _now=NOW) == "3 seconds ago"  # untranslated
    assert fr.format_date(ago(days=1), _now=NOW) == "hier à 12:00"
    assert fr.format_date(ago(days=2, hours=3), _now=NOW) == "lundi à 9:00"
    assert fr.format_date(ago(days=20), _now=NOW) == "25 avril à 12:00"
    assert fr.format_date(ago(days=20), shorter=True, _now=NOW) == "25 avril"
    assert fr.format_date(datetime.datetime(2021, 8, 3, 17, 45), _now=NOW) == (
        "3 août 2021 à 17:45"
    )


def test_format_date_translated_gettext(gettext_locales: None) -> None:
    fr = locale.get("fr_FR")
    assert fr.format_date(ago(days=1), _now=NOW) == "hier à 12:00"
    assert fr.format_date(ago(days=1, hours=1), _now=NOW) == "hier à 11:00"
    assert fr.format_date(ago(days=1), relative=False, _now=NOW) == "mardi à 12:00"
    # Not in the catalog: English, with French names where the catalog has them.
    assert fr.format_date(datetime.datetime(2024, 5, 1, 8, 0), _now=NOW) == "mai 1 at 8:00"
    ru = locale.get("ru_RU")
    assert ru.format_date(ago(minutes=1), _now=NOW) == "1 минуту назад"
    assert ru.format_date(ago(minutes=3), _now=NOW) == "3 минуты назад"
    assert ru.format_date(ago(minutes=21), _now=NOW) == "21 минуту назад"
    assert ru.format_date(ago(minutes=25), _now=NOW) == "25 минут назад"


def test_broken_translation_falls_back_to_english(caplog: pytest.LogCaptureFixture) -> None:
    broken = CSVLocale(
        "xx",
        {
            "unknown": {"%(month_name)s %(day)s": "%(mois)s", "%(commas)s and %(last)s": "%d"},
            "plural": {"%(minutes)d minutes ago": "%(minuten)d"},
        },
    )
    with caplog.at_level(logging.WARNING, logger="squall.general"):
        assert broken.format_day(NOW, dow=False) == "May 15"
        assert broken.list(["a", "b"]) == "a and b"
        assert broken.format_date(ago(minutes=5), _now=NOW) == "5 minutes ago"
    warnings = general_log_messages(caplog, logging.WARNING)
    assert len(warnings) == 3
    assert "'%(mois)s'" in warnings[0]
    assert "Locale xx" in warnings[0]


# --------------------------------------------------------------------------
# format_day, list, friendly_number


def test_format_day() -> None:
    en = CSVLocale("en_US", {})
    day = datetime.datetime(2024, 5, 15, 1, 0)
    assert en.format_day(day) == "Wednesday, May 15"
    assert en.format_day(day, dow=False) == "May 15"
    assert en.format_day(day, gmt_offset=120) == "Tuesday, May 14"  # 23:00 the day before
    assert en.format_day(day, gmt_offset=-60, dow=False) == "May 15"
    assert en.format_day(day.replace(tzinfo=UTC).timestamp()) == "Wednesday, May 15"
    with pytest.raises(TypeError):
        en.format_day("today")  # type: ignore[arg-type]


def test_format_day_translated(csv_locales: None) -> None:
    fr = locale.get("fr_FR")
    day = datetime.datetime(2024, 12, 1, 10, 0)
    assert fr.format_day(day) == "dimanche 1 décembre"
    assert fr.format_day(day, dow=False) == "1 décembre"


def test_list() -> None:
    en = CSVLocale("en_US", {})
    assert en.list([]) == ""
    assert en.list(["A"]) == "A"
    assert en.list(["A", "B"]) == "A and B"
    assert en.list(["A", "B", "C"]) == "A, B and C"
    assert en.list(iter(["A", "B", "C", "D"])) == "A, B, C and D"
    assert en.list(("Ünï", "cödé")) == "Ünï and cödé"
    assert CSVLocale("fa_IR", {}).list(["A", "B", "C"]) == "A و B and C"


def test_list_translated(csv_locales: None) -> None:
    assert locale.get("fr_FR").list(["pommes", "poires", "kiwis"]) == "pommes, poires et kiwis"


@pytest.mark.parametrize(
    ("code", "value", "expected"),
    [
        ("en_US", 0, "0"),
        ("en_US", 999, "999"),
        ("en_US", 1000, "1,000"),
        ("en_US", 1234567, "1,234,567"),
        ("en", 1234567, "1,234,567"),
        ("en_US", -1234567, "-1,234,567"),
        ("en_US", 10**12, "1,000,000,000,000"),
        ("fr_FR", 1234567, "1234567"),
        ("de_DE", -1000, "-1000"),
    ],
)
def test_friendly_number(code: str, value: int, expected: Any) -> None:
    assert CSVLocale(code, {}).friendly_number(value) == expected


def test_base_locale_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        Locale("en_US")


def test_repr() -> None:
    assert repr(CSVLocale("pt_BR", {})) == "<CSVLocale pt_BR>"


# --------------------------------------------------------------------------
# Accept-Language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US", ["en_US"]),
        ("en-us", ["en_US"]),
        ("EN", ["en"]),
        ("da, en-gb;q=0.8, en;q=0.7", ["da", "en_GB", "en"]),
        ("en;q=0.5, fr;q=0.9, de", ["de", "fr", "en"]),
        ("fr;q=0.5, de;q=0.5, it;q=0.5", ["fr", "de", "it"]),  # ties keep header order
        ("*", []),
        ("*;q=0.5, fr", ["fr"]),
        ("fr;q=0, de", ["de"]),  # q=0: not acceptable
        ("fr;q=0.000, de", ["de"]),
        ("fr;q=1.0, de;q=1", ["fr", "de"]),
        ("fr;q=1.5, de", ["de"]),  # out of range
        ("fr;q=-0.5, de", ["de"]),
        ("fr;q=abc, de", ["de"]),
        ("fr;q=, de", ["de"]),
        ("fr;q=nan, de;q=inf, it;q=1e-1, es", ["es"]),
        ("fr;q=.5, de;q=0.7", ["de", "fr"]),
        ("fr ; Q = 0.4 , de ;q=0.3", ["fr", "de"]),
        ("fr;level=1;q=0.4, de;q=0.3", ["fr", "de"]),
        ("fr;level=1, de;q=0.3", ["fr", "de"]),
        ("fr;q=0.2;q=0.9, de;q=0.3", ["de", "fr"]),  # the first q counts
        ("en-US, en-us;q=0.9, en_US;q=0.8", ["en_US"]),  # duplicates keep their best place
        ("en-US;q=0.2, en-us;q=0.9", ["en_US"]),
        ("zh-Hant-TW", ["zh_TW"]),
        ("zh-Hant", ["zh"]),
        ("sr-Latn-RS", ["sr_RS"]),
        ("es-419", ["es_419"]),
        ("de-CH-1996", ["de_CH"]),
        ("en-x-private", ["en"]),
        ("en-a-bbb-US", ["en"]),  # a region after a singleton is no region
        ("x-klingon, i-default, fr", ["fr"]),
        ("en_GB", ["en_GB"]),
        ("", []),
        (",,, ;q=0.5, ;;", []),
        ("en US, fr", ["fr"]),
        ("verylongname-US, fr", ["fr"]),  # primary tag over 8 letters
        ("1en, fr", ["fr"]),
        ("en-, -en, en--US, fr", ["fr"]),
        ("\u00e9n, fr", ["fr"]),
        ("fr\x00, de", ["de"]),
        ("  \t fr-FR \t ; q=0.9 , en", ["en", "fr_FR"]),
    ],
)
def test_parse_accept_language(header: str, expected: Any) -> None:
    assert parse_accept_language(header) == expected


def test_parse_accept_language_other_inputs() -> None:
    assert parse_accept_language(None) == []
    assert parse_accept_language(b"fr-ca;q=0.8, en") == ["en", "fr_CA"]
    assert parse_accept_language(b"\xff\xfe, de") == ["de"]
    assert parse_accept_language(12) == []  # type: ignore[arg-type]


def test_parse_accept_language_feeds_get(four_locales: None) -> None:
    codes = parse_accept_language("de-DE, fr-CA;q=0.8, pt-BR;q=0.9")
    assert codes == ["de_DE", "pt_BR", "fr_CA"]
    assert locale.get(*codes).code == "pt_BR"
    assert locale.get(*parse_accept_language("junk;;;, *")).code == "en_US"


def test_parse_accept_language_never_raises_on_junk() -> None:
    rng = random.Random(20240515)
    alphabet = "aAzZ-_;,=q. 0123456789*\t\x00é\u2028\"'"
    for _ in range(3000):
        header = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        codes = parse_accept_language(header)
        assert all(re.fullmatch(r"[a-z]{2,8}(_[A-Z]{2}|_[0-9]{3})?", c) for c in codes), (
            header,
            codes,
        )
        assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    "header",
    [
        "a-" * 200_000,
        "a" * 400_000,
        ";" * 400_000,
        "," * 400_000,
        "en;q=" + "0" * 400_000,
        "en;" + "q=0.5;" * 60_000,
        "en-" + "abcdefgh-" * 40_000 + "!",
        "fr;q=0.5," * 40_000,
    ],
)
def test_parse_accept_language_is_linear(header: str) -> None:
    # Pathological headers of 400 kB parse well within a second; a quadratic
    # algorithm would take minutes.
    started = time.perf_counter()
    codes = parse_accept_language(header)
    assert time.perf_counter() - started < 5.0
    assert codes in ([], ["fr"], ["en"])


# --------------------------------------------------------------------------
# Thread safety


def test_concurrent_loading_and_lookups(fresh_state: None, tmp_path: Path) -> None:
    """Readers never see the supported set of one load with the catalogs of another."""
    a, b = tmp_path / "a", tmp_path / "b"
    write_csv(a, "fr_FR.csv", '"hello","bonjour-A"\n')
    write_csv(b, "fr_FR.csv", '"hello","bonjour-B"\n')
    write_csv(b, "de_DE.csv", '"hello","hallo-B"\n')
    locale.load_translations(a)
    supported_a = frozenset({"fr_FR", "en_US"})
    supported_b = frozenset({"fr_FR", "de_DE", "en_US"})
    stop = threading.Event()
    failures: list[str] = []

    def writer() -> None:
        try:
            for i in range(150):
                locale.load_translations(a if i % 2 else b)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(repr(exc))
        finally:
            stop.set()

    def reader() -> None:
        try:
            while not stop.is_set():
                if locale.get_supported_locales() not in (supported_a, supported_b):
                    failures.append("partial supported set")
                fr = locale.get("fr_FR")
                if fr.code != "fr_FR" or fr.translate("hello") not in ("bonjour-A", "bonjour-B"):
                    failures.append(f"fr: {fr.code} {fr.translate('hello')}")
                de = locale.get("de_DE")
                if de.code == "de_DE" and de.translate("hello") != "hallo-B":
                    failures.append("de_DE supported without its catalog")
                if de.code not in ("de_DE", "en_US"):
                    failures.append(f"de: {de.code}")
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def test_concurrent_first_lookups_share_one_locale(fresh_state: None, tmp_path: Path) -> None:
    write_csv(tmp_path, "fr.csv", '"hello","bonjour"\n')
    locale.load_translations(tmp_path)
    barrier = threading.Barrier(4)
    results: list[Locale] = []

    def lookup() -> None:
        barrier.wait(timeout=10)
        results.append(locale.get("fr"))

    threads = [threading.Thread(target=lookup) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 4
    assert all(result is results[0] for result in results)


def test_fixture_data_is_text_only() -> None:
    for path in DATA.rglob("*"):
        if path.is_file():
            assert path.suffix in (".csv", ".po", ".txt"), path
            path.read_text("utf-8")


def test_copied_fixture_tree_loads(fresh_state: None, tmp_path: Path) -> None:
    # The CSV fixtures load from any location (no path assumptions).
    shutil.copytree(DATA / "csv", tmp_path / "copy")
    locale.load_translations(str(tmp_path / "copy"))
    assert locale.get_supported_locales() == frozenset({"es_LA", "fr_FR", "en_US"})
