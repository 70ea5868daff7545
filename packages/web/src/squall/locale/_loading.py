"""Loading translations: CSV files and gettext catalogs.

Both loaders read every file first, then publish the result in one step
(:func:`._registry.install_catalogs`), so concurrent readers see either the
old translations or the new ones, never a mix.  A problem inside one file is
logged with the file (and the line, for CSV) and skips only that row or file.
"""

from __future__ import annotations

import codecs
import csv
import gettext
import io
import os
import re

from squall.log import gen_log

from . import _registry
from ._errors import TranslationDirectoryError

__all__ = ["load_gettext_translations", "load_translations"]

# The name of a CSV translation file, without ".csv": "es", "es_LA", "es_419".
_CSV_LOCALE = re.compile(r"[a-z]+(?:_[A-Z0-9]+)?")
_PLURAL_KINDS = frozenset({"plural", "singular", "unknown"})
# Byte order marks and the codec that reads them (UTF-32 before UTF-16: the
# UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)


def _list_directory(directory: str | os.PathLike[str]) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError as exc:
        raise TranslationDirectoryError(
            f"cannot list the translation directory {os.fspath(directory)!r}: {exc}"
        ) from exc


def load_translations(directory: str | os.PathLike[str], encoding: str | None = None) -> None:
    """Load translations from the CSV files in *directory*.

    Each file is named after its locale (``es_LA.csv``, ``fr.csv``) and holds
    one translation per row::

        "original","translation"
        "%(name)s liked this","A %(name)s le gustó esto"
        "%(name)s liked this","A %(name)s les gustó esto","plural"
        "%(name)s liked this","A %(name)s le gustó esto","singular"

    The optional third column is ``plural`` or ``singular`` for the forms of
    a count-dependent message (``translate(message, plural_message,
    count)``): the ``singular`` row is keyed by the singular English text, the
    ``plural`` row by the plural English text.  Rows without it translate
    plain ``translate(message)`` calls.  Cells are stripped of surrounding
    white space (also inside the quotes, and ``"a", "b"`` reads as ``"a","b"``);
    a row with an empty translation counts as untranslated.

    The encoding is taken from a byte order mark (UTF-8, UTF-16 or UTF-32),
    UTF-8 without one, unless *encoding* is given.  The new translations
    replace all loaded ones (CSV or gettext) in one step, and the supported
    locales become the files' locales plus the default locale.

    Not fatal, logged on ``squall.general`` with the file and line, the rest
    loading normally: a file name that is not a locale code, a file that
    cannot be read or decoded (the whole file is skipped), a row with fewer
    than two columns or an empty original, an unknown third column.

    :param directory: the directory holding the ``<locale>.csv`` files.
    :param encoding: the encoding of every file, overriding detection.
    :raises TranslationDirectoryError: *directory* cannot be listed.
    :raises LookupError: *encoding* is not a known codec.

    .. versionadded:: 0.1.0
    """
    if encoding is not None:
        codecs.lookup(encoding)
    catalogs: dict[str, _registry.CSVCatalog] = {}
    for name in _list_directory(directory):
        if name.startswith(".") or not name.endswith(".csv"):
            continue
        path = os.path.join(directory, name)
        code = name[: -len(".csv")]
        if _CSV_LOCALE.fullmatch(code) is None:
            gen_log.error("Unrecognized locale %r (path: %s)", code, path)
            continue
        catalog = _read_csv_catalog(path, encoding)
        if catalog is not None:
            catalogs[code] = catalog
    _registry.install_catalogs(catalogs)
    gen_log.debug("Supported locales: %s", sorted(_registry.get_supported_locales()))


def _decode(path: str, encoding: str | None) -> str | None:
    """The text of the file at *path*, or ``None`` (logged) if unreadable."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        gen_log.error("Cannot read translation file %s: %s", path, exc)
        return None
    if encoding is None:
        encoding = "utf-8"
        for bom, codec in _BOMS:
            if data.startswith(bom):
                encoding = codec
                break
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        gen_log.error(
            "Cannot decode translation file %s as %s (byte %d): %s; file skipped",
            path,
            encoding,
            exc.start,
            exc.reason,
        )
        return None
    # An explicit "utf-8" leaves the mark of a UTF-8 file in the text.
    return text.removeprefix("\ufeff")


def _read_csv_catalog(path: str, encoding: str | None) -> _registry.CSVCatalog | None:
    """The translations of one CSV file; bad rows are logged and skipped."""
    text = _decode(path, encoding)
    if text is None:
        return None
    catalog: _registry.CSVCatalog = {}
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    next_line = 1
    while True:
        line = next_line
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            gen_log.error("Bad row in %s line %d: %s", path, line, exc)
            if reader.line_num < next_line:  # pragma: no cover - the reader made no progress
                break
            next_line = reader.line_num + 1
            continue
        next_line = reader.line_num + 1
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) < 2:
            gen_log.error(
                "Bad row in %s line %d: expected 'original','translation'[,'plural'|'singular']",
                path,
                line,
            )
            continue
        original, translation = cells[0], cells[1]
        kind = cells[2].lower() if len(cells) > 2 and cells[2] else "unknown"
        if not original:
            gen_log.error("Bad row in %s line %d: the original text is empty", path, line)
            continue
        if kind not in _PLURAL_KINDS:
            gen_log.error(
                "Bad row in %s line %d: unrecognized plural indicator %r "
                "(expected 'plural' or 'singular')",
                path,
                line,
                cells[2],
            )
            continue
        if translation:
            catalog.setdefault(kind, {})[original] = translation
    return catalog


def load_gettext_translations(directory: str | os.PathLike[str], domain: str) -> None:
    r"""Load gettext catalogs: ``<directory>/<locale>/LC_MESSAGES/<domain>.mo``.

    Catalogs are made with the usual tools, for instance::

        xgettext --language=Python --keyword=_:1,2 --keyword=pgettext:1c,2 \
            --keyword=pgettext:1c,2,3 -o mydomain.po *.py *.html
        msgfmt mydomain.po -o translations/fr_FR/LC_MESSAGES/mydomain.mo

    Plural forms follow each catalog's ``Plural-Forms`` header, and
    :meth:`~squall.locale.Locale.pgettext` contexts are supported.  The
    catalogs are read directly (not through :func:`gettext.translation`'s
    process-wide cache), so loading again picks up rebuilt files.  The new
    translations replace all loaded ones (CSV or gettext) in one step, and the
    supported locales become the catalogs' locales plus the default locale.

    Locale directories without the domain's ``.mo`` file are skipped.  A
    catalog that cannot be read or parsed is logged on ``squall.general``
    with its path and skipped; the others load.

    :param directory: the directory holding one subdirectory per locale.
    :param domain: the catalog name (the ``.mo`` file name without ``.mo``).
    :raises TranslationDirectoryError: *directory* cannot be listed.

    .. versionadded:: 0.1.0
    """
    catalogs: dict[str, gettext.NullTranslations] = {}
    for name in _list_directory(directory):
        locale_dir = os.path.join(directory, name)
        if name.startswith(".") or not os.path.isdir(locale_dir):
            continue
        path = os.path.join(locale_dir, "LC_MESSAGES", domain + ".mo")
        try:
            with open(path, "rb") as file:
                catalog = gettext.GNUTranslations(file)
        except FileNotFoundError:
            gen_log.debug("No %s catalog for locale %r (%s)", domain, name, path)
            continue
        except Exception as exc:
            gen_log.error("Cannot load translation for %r from %s: %r", name, path, exc)
            continue
        catalogs[_registry.normalize_code(name) or name] = catalog
    _registry.install_catalogs(catalogs)
    gen_log.debug("Supported locales: %s", sorted(_registry.get_supported_locales()))
