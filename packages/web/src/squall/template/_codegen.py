"""Writing the generated Python source, and remembering where each line came from.

A compiled template is one function, ``_tt_execute()``, that appends byte
strings to a list and returns their join.  The body of the template that
is the root of the inheritance chain is written into it; named blocks are
written from the template that overrides them and included templates are
written inline, so one function can hold lines from several templates.

:class:`CodeWriter` keeps, for every physical line it writes, the template
name and line the code came from.  Each line also ends with a comment such
as ``# page.html:12 (via base.html:3)``, so that a traceback read by a
person names the template too; :func:`squall.template.template_location`
uses the recorded map.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._nodes import NamedBlock
    from ._template import Template

__all__ = ["CodeWriter", "GeneratedSource", "printable"]

_INDENT = "    "

# Template names go into comments: no control character may end the line.
_COMMENT_SAFE = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}


def printable(text: str) -> str:
    r"""Return ``text`` with its control characters written as ``\xNN``."""
    return text.translate(_COMMENT_SAFE)


class GeneratedSource:
    """The generated source of a template and its line map.

    An instance is the ``__loader__`` of every namespace a template runs in:
    :mod:`linecache` (hence :mod:`traceback`) reads the generated lines
    through :meth:`get_source`, and
    :func:`~squall.template.template_location` finds it in a frame's globals
    to translate a line number.
    """

    __slots__ = ("__weakref__", "filename", "locations", "source")

    def __init__(self, source: str, filename: str, locations: tuple[tuple[str, int], ...]) -> None:
        self.source = source
        self.filename = filename
        self.locations = locations

    def get_source(self, name: str) -> str:
        """Return the generated Python source (the loader protocol)."""
        return self.source

    def location(self, lineno: int) -> tuple[str, int] | None:
        """Return ``(template_name, line)`` for a 1-based generated line."""
        if 1 <= lineno <= len(self.locations):
            return self.locations[lineno - 1]
        return None


class CodeWriter:
    """Accumulates the lines of generated code with their origin."""

    def __init__(
        self,
        named_blocks: dict[str, NamedBlock],
        loader: Any,
        current_template: Template,
        fast_xhtml_escape: bool = True,
    ) -> None:
        #: Whether ``{{ }}`` under ``xhtml_escape`` may use the one-call form.
        self.fast_xhtml_escape = fast_xhtml_escape
        #: Whether some expression used it.
        self.uses_fast_xhtml_escape = False
        self.named_blocks = named_blocks
        self.loader = loader
        self.current_template = current_template
        self.apply_counter = 0
        self.include_stack: list[tuple[Template, int]] = []
        self.active_blocks: list[str] = []
        self._indent = 0
        self._lines: list[str] = []
        self._locations: list[tuple[str, int]] = []

    @contextmanager
    def indent(self) -> Iterator[None]:
        """Indent the lines written inside the ``with`` one more level."""
        self._indent += 1
        try:
            yield
        finally:
            self._indent -= 1

    def indent_size(self) -> int:
        """Return the current indentation level."""
        return self._indent

    @contextmanager
    def include(self, template: Template, line: int) -> Iterator[None]:
        """Write code of ``template`` (reached from ``line`` of the current one)."""
        self.include_stack.append((self.current_template, line))
        self.current_template = template
        try:
            yield
        finally:
            self.current_template = self.include_stack.pop()[0]

    def write_line(self, code: str, line: int, indent: int | None = None) -> None:
        """Write ``code`` (one statement, maybe several physical lines).

        ``line`` is the template line of the first physical line; the later
        physical lines (multi-line expressions) map to the following template
        lines.  Only the first physical line is indented and only the last
        gets the location comment, so code inside brackets or string literals
        is not changed.
        """
        if indent is None:
            indent = self._indent
        name = self.current_template.name
        comment = f"  # {name}:{line}"
        if self.include_stack:
            via = ", ".join(
                f"{tmpl.name}:{lineno}" for tmpl, lineno in reversed(self.include_stack)
            )
            comment += f" (via {via})"
        comment = printable(comment)
        physical = code.split("\n")
        last = len(physical) - 1
        for offset, text in enumerate(physical):
            written = _INDENT * indent + text if offset == 0 else text
            if offset == last:
                written += comment
            self._lines.append(written)
            self._locations.append((name, line + offset))

    def source(self) -> str:
        """Return the code written so far."""
        return "\n".join(self._lines) + "\n"

    def locations(self) -> tuple[tuple[str, int], ...]:
        """Return the ``(template_name, line)`` of each generated line."""
        return tuple(self._locations)
