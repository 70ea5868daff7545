"""The :class:`Template` class and :func:`template_location`."""

from __future__ import annotations

import datetime
import itertools
import linecache
import types
import warnings
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from squall import escape

from ._codegen import CodeWriter, GeneratedSource, printable
from ._errors import ParseError
from ._lexer import WHITESPACE_MODES
from ._nodes import ExtendsBlock, File, NamedBlock, load_related
from ._parser import UNSET, Parser, _Unset

if TYPE_CHECKING:
    from ._loader import BaseLoader

__all__ = ["_DEFAULT_AUTOESCAPE", "_UNSET", "Template", "template_location"]

#: The autoescape function of templates and loaders that are not told
#: otherwise: the *name* of a function in the template namespace.
_DEFAULT_AUTOESCAPE: str | None = "xhtml_escape"

#: The "argument not given" marker of :class:`Template`'s keyword arguments.
_UNSET: Final = UNSET

_xhtml_escape = escape.xhtml_escape


def _xhtml_escape_value(value: Any) -> bytes:
    """``_tt_utf8(xhtml_escape(_tt_utf8(value or str(value))))`` in one call.

    What ``{{ expr }}`` outputs under the default autoescape; must give
    exactly what :func:`squall.escape.xhtml_escape` gives.
    """
    text: str
    if value.__class__ is str:
        text = value
    elif isinstance(value, str):
        # A subclass (markupsafe.Markup...) may redefine replace() and
        # __str__: escape its plain characters, as _tt_utf8() would encode.
        text = str.__str__(value)
    elif isinstance(value, bytes):
        text = value.decode("utf-8")
    else:
        text = str(value)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
        .encode("utf-8")
    )


def _escaping_with(function: Any) -> Any:
    """Return the general form of :func:`_xhtml_escape_value`.

    Used when the namespace redefines ``xhtml_escape``.
    """

    def escape_value(value: Any) -> bytes:
        if not isinstance(value, (str, bytes)):
            value = str(value)
        result: bytes = escape.utf8(function(escape.utf8(value)))
        return result

    return escape_value


def _binds_name(code: types.CodeType, name: str) -> bool:
    """Whether ``code`` or a function in it has a local variable ``name``."""
    if name in code.co_varnames or name in code.co_cellvars or name in code.co_freevars:
        return True
    return any(
        _binds_name(const, name) for const in code.co_consts if isinstance(const, types.CodeType)
    )


# The names every template sees (then the loader's namespace, then the
# arguments of generate()).
_BUILTIN_NAMESPACE: Final[Mapping[str, Any]] = types.MappingProxyType(
    {
        "escape": escape.xhtml_escape,
        "xhtml_escape": escape.xhtml_escape,
        "url_escape": escape.url_escape,
        "json_encode": escape.json_encode,
        "squeeze": escape.squeeze,
        "linkify": escape.linkify,
        "datetime": datetime,
        "_tt_utf8": escape.utf8,
        "_tt_string_types": (str, bytes),
        "_tt_xhtml_escape_value": _xhtml_escape_value,
    }
)

_NOTE_PREFIX = "in template "
_filename_counter = itertools.count(1)


class Template:
    """A compiled template.

    The text is parsed and compiled to Python once, here; :meth:`generate`
    then runs the compiled code with a namespace.  Templates that use
    ``{% extends %}`` or ``{% include %}`` need a ``loader`` to find the
    other templates (usually a template is created by
    :meth:`BaseLoader.load` rather than directly).

    >>> Template("Hello {{ name }}!").generate(name="<world>")
    b'Hello &lt;world&gt;!'

    :param template_string: the template text (``bytes`` are decoded as
        UTF-8).
    :param name: the template's name, used in error messages, tracebacks and
        to resolve relative ``{% extends %}``/``{% include %}`` paths.
    :param loader: the :class:`BaseLoader` that finds the templates this one
        extends or includes; its ``autoescape``, ``namespace`` and
        ``whitespace`` become this template's defaults.
    :param compress_whitespace: deprecated (Tornado 4.3): ``True`` means
        ``whitespace="single"`` and ``False`` means ``whitespace="all"``.
        Emits a :class:`DeprecationWarning`.
    :param autoescape: the name of the function (in the template namespace)
        applied to every ``{{ expr }}``, or ``None`` for no escaping.  When
        not given: the loader's, else ``"xhtml_escape"``.  An
        ``{% autoescape %}`` directive in the template overrides it for the
        whole file.
    :param whitespace: ``"all"``, ``"single"`` or ``"oneline"`` (see
        :func:`filter_whitespace`).  When not given: the loader's if it has
        one, else ``"single"`` for names ending in ``.html`` or ``.js`` and
        ``"all"`` for the rest.
    :raises ParseError: if the template (or one it extends or includes)
        is not valid; its ``filename`` and ``lineno`` say where.
    :raises ValueError: for an unknown ``whitespace`` mode.

    Attributes: ``name``, ``autoescape``, ``namespace`` (the loader's),
    ``loader``, ``code`` (the generated Python source), ``compiled`` (its
    code object) and ``file`` (the parsed template).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        template_string: str | bytes,
        name: str = "<string>",
        loader: BaseLoader | None = None,
        compress_whitespace: bool | _Unset = _UNSET,
        autoescape: str | _Unset | None = _UNSET,
        whitespace: str | None = None,
    ) -> None:
        self.name: str = escape.to_unicode(name)
        if not isinstance(compress_whitespace, _Unset):
            warnings.warn(
                "Template(compress_whitespace=...) is deprecated, use whitespace='single' or 'all'",
                DeprecationWarning,
                stacklevel=2,
            )
            if whitespace is None:
                whitespace = "single" if compress_whitespace else "all"
        if whitespace is None:
            if loader is not None and loader.whitespace:
                whitespace = loader.whitespace
            elif self.name.endswith((".html", ".js")):
                whitespace = "single"
            else:
                whitespace = "all"
        if whitespace not in WHITESPACE_MODES:
            raise ValueError(
                f"invalid whitespace mode {whitespace!r}: expected one of {WHITESPACE_MODES}"
            )
        if not isinstance(autoescape, _Unset):
            self.autoescape: str | None = autoescape
        elif loader is not None:
            self.autoescape = loader.autoescape
        else:
            self.autoescape = _DEFAULT_AUTOESCAPE
        self.namespace: dict[str, Any] = loader.namespace if loader is not None else {}
        self.loader = loader

        if isinstance(template_string, bytes):
            try:
                text = template_string.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = template_string.count(b"\n", 0, exc.start) + 1
                raise ParseError(f"template is not valid UTF-8 ({exc.reason})", self.name, line)
        else:
            text = template_string
        parser = Parser(self, text, whitespace)
        body = parser.parse()
        if not isinstance(parser.autoescape, _Unset):
            self.autoescape = parser.autoescape
        self.file = File(self, body)

        self._module_name = self.name.replace(".", "_")
        self._filename = f"{printable(self.name)}.generated.{next(_filename_counter)}.py"
        self._fast_xhtml_escape = True
        self._compile(loader)
        if self._fast_xhtml_escape and _binds_name(self.compiled, "xhtml_escape"):
            # The template assigns xhtml_escape itself ({% set %}, a loop
            # variable...): the generated code must look the name up.
            self._compile(loader, fast_xhtml_escape=False)
        self._execute_code = next(
            const
            for const in self.compiled.co_consts
            if isinstance(const, types.CodeType) and const.co_name == "_tt_execute"
        )
        # Tracebacks cache the generated lines under the unique file name:
        # drop them with the template.
        weakref.finalize(self, linecache.cache.pop, self._filename, None)

    def generate(self, **kwargs: Any) -> bytes:
        """Run the template and return its output as UTF-8 bytes.

        The template sees, in this order of precedence: the keyword
        arguments, the loader's ``namespace``, then the built-in names
        ``escape`` and ``xhtml_escape``, ``url_escape``, ``json_encode``,
        ``squeeze``, ``linkify`` (from :mod:`squall.escape`), ``datetime``
        (the module), ``_tt_utf8``, ``_tt_string_types``, ``__name__`` and
        ``__loader__``.  ``{% module %}`` needs ``_tt_modules`` in the
        namespace (the web layer passes it).

        An exception raised by the template's code propagates unchanged,
        except that a note (:pep:`678`) naming the template and line, such as
        ``"in template page.html:12"``, is added to it: it appears in every
        logged traceback.  :func:`template_location` gives the same
        information as a tuple.

        .. versionadded:: 0.1.0
        """
        namespace = {
            **_BUILTIN_NAMESPACE,
            "__name__": self._module_name,
            "__loader__": self._source,
            **self.namespace,
            **kwargs,
        }
        if self._fast_xhtml_escape and namespace["xhtml_escape"] is not _xhtml_escape:
            namespace["_tt_xhtml_escape_value"] = _escaping_with(namespace["xhtml_escape"])
        execute = types.FunctionType(self._execute_code, namespace, "_tt_execute")
        try:
            result: bytes = execute()
        except Exception as exc:
            _add_location_note(exc)
            raise
        return result

    def _compile(self, loader: BaseLoader | None, fast_xhtml_escape: bool = True) -> None:
        self.code, locations, self._fast_xhtml_escape = self._generate_python(
            loader, fast_xhtml_escape
        )
        self._source = GeneratedSource(self.code, self._filename, locations)
        try:
            self.compiled = compile(self.code, self._filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise self._syntax_error(exc, locations) from None

    def _syntax_error(self, exc: SyntaxError, locations: tuple[tuple[str, int], ...]) -> ParseError:
        """Translate a SyntaxError in the generated code to the template's line."""
        index = min(max((exc.lineno or 1) - 1, 0), len(locations) - 1)
        # Python may blame a structural line (the function's last line, say):
        # the nearest template line before it is the one to fix.
        while index > 0 and locations[index][1] == 0:
            index -= 1
        name, line = locations[index]
        detail = ""
        if exc.text and exc.text.strip():
            # Drop the location comment that ends every generated line.
            head, sep, _ = exc.text.rstrip().rpartition("  # ")
            detail = ": " + (head if sep else exc.text).strip()
        return ParseError(f"invalid Python ({exc.msg}){detail}", name, line)

    def _generate_python(
        self, loader: BaseLoader | None, fast_xhtml_escape: bool = True
    ) -> tuple[str, tuple[tuple[str, int], ...], bool]:
        ancestors = self._get_ancestors(loader)
        named_blocks: dict[str, NamedBlock] = {}
        for ancestor in reversed(ancestors):
            ancestor.find_named_blocks(loader, named_blocks)
        root = ancestors[-1]
        writer = CodeWriter(named_blocks, loader, root.template, fast_xhtml_escape)
        root.generate(writer)
        return writer.source(), writer.locations(), writer.uses_fast_xhtml_escape

    def _get_ancestors(self, loader: BaseLoader | None) -> list[File]:
        """Return this template's file, its parent's, and so on up the chain."""
        ancestors = [self.file]
        for chunk in self.file.body.chunks:
            if isinstance(chunk, ExtendsBlock):
                parent = load_related(loader, chunk.name, self, chunk.line, "extends")
                ancestors.extend(parent._get_ancestors(loader))
        return ancestors

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _frames(tb: types.TracebackType | None) -> list[tuple[types.FrameType, int]]:
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def template_location(
    tb: types.TracebackType | BaseException | None,
) -> tuple[str, int] | None:
    """Return the template name and line where an exception was raised.

    Walks the traceback (or the ``__traceback__`` of an exception) and
    returns ``(template_name, line)`` for the innermost frame that runs a
    compiled template -- the ``{{ }}`` or ``{% %}`` whose code raised, or
    which called the function that raised.  For code written inline from
    another template (a block overridden by a child, an included file),
    the name is that other template's.  Frames of Jinja2 templates
    (:class:`Jinja2Loader`) are recognised too; their name is the template's
    file name as Jinja2 reports it.

    Returns ``None`` when no frame belongs to a template.

    Typical use, in the web layer's error logging::

        location = template_location(exc)
        if location is not None:
            log.error("error in template %s:%d", *location)

    .. versionadded:: 0.1.0
    """
    if isinstance(tb, BaseException):
        tb = tb.__traceback__
    for frame, lineno in reversed(_frames(tb)):
        f_globals = frame.f_globals
        source = f_globals.get("__loader__")
        if isinstance(source, GeneratedSource) and frame.f_code.co_filename == source.filename:
            location = source.location(lineno)
            if location is not None:
                return location
        elif "__jinja_exception__" in f_globals:
            return (frame.f_code.co_filename, lineno)
    return None


def _add_location_note(exc: BaseException) -> None:
    notes = getattr(exc, "__notes__", None)
    if notes and any(isinstance(n, str) and n.startswith(_NOTE_PREFIX) for n in notes):
        return  # an inner template already said where
    location = template_location(exc.__traceback__)
    if location is not None:
        exc.add_note(f"{_NOTE_PREFIX}{location[0]}:{location[1]}")
