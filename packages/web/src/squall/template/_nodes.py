"""The parsed form of a template, and the Python each piece turns into.

Each node has ``generate(writer)``, which writes its code through a
:class:`~._codegen.CodeWriter`, and ``find_named_blocks(loader, blocks)``,
which records the ``{% block %}`` nodes it holds (the last one recorded
for a name wins: that is how a child template overrides its parent).

The code for ``{{ expr }}`` is, with autoescaping::

    _tt_tmp = expr
    _tt_append(_tt_utf8(AUTOESCAPE(_tt_utf8(_tt_tmp if isinstance(_tt_tmp, _tt_string_types)
                                            else str(_tt_tmp)))))

so the autoescape function receives UTF-8 bytes and may return ``str`` or
``bytes``, as in Tornado.  For the default, ``xhtml_escape``, the second line
is ``_tt_append(_tt_xhtml_escape_value(_tt_tmp))``, one call doing the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ParseError
from ._lexer import filter_whitespace

if TYPE_CHECKING:
    from ._codegen import CodeWriter
    from ._template import Template

__all__ = [
    "ApplyBlock",
    "ChunkList",
    "ControlBlock",
    "Expression",
    "ExtendsBlock",
    "File",
    "IncludeBlock",
    "IntermediateControlBlock",
    "NamedBlock",
    "Node",
    "Statement",
    "Text",
    "load_related",
]

_TO_BYTES = "_tt_utf8(_tt_tmp if isinstance(_tt_tmp, _tt_string_types) else str(_tt_tmp))"


def load_related(loader: Any, name: str, template: Template, line: int, what: str) -> Template:
    """Load the template that ``{% extends %}`` or ``{% include %}`` names.

    Errors from the loader that do not know where they happened yet
    (template not found, circular reference) get the directive's location.
    """
    if loader is None:
        raise ParseError(f"{{% {what} %}} block found, but no template loader", template.name, line)
    try:
        loaded: Template = loader.load(name, template.name)
    except ParseError as exc:
        if exc.filename is None:
            exc.message = f"{{% {what} {name!r} %}}: {exc.message}"
            exc.filename = template.name
            exc.lineno = line
            exc.args = (exc.message, exc.filename, exc.lineno)
        raise
    return loaded


class Node:
    """A piece of a parsed template."""

    __slots__ = ()

    def each_child(self) -> tuple[Node, ...]:
        """Return the nodes directly inside this one."""
        return ()

    def generate(self, writer: CodeWriter) -> None:
        """Write the Python code for this node."""
        raise NotImplementedError

    def find_named_blocks(self, loader: Any, named_blocks: dict[str, NamedBlock]) -> None:
        """Record the named blocks in (or reachable from) this node."""
        for child in self.each_child():
            child.find_named_blocks(loader, named_blocks)


class ChunkList(Node):
    """A sequence of nodes."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: list[Node]) -> None:
        self.chunks = chunks

    def each_child(self) -> tuple[Node, ...]:
        return tuple(self.chunks)

    def generate(self, writer: CodeWriter) -> None:
        for chunk in self.chunks:
            chunk.generate(writer)


class File(Node):
    """A whole template: its code is the ``_tt_execute`` function."""

    __slots__ = ("body", "template")

    def __init__(self, template: Template, body: ChunkList) -> None:
        self.template = template
        self.body = body

    def each_child(self) -> tuple[Node, ...]:
        return (self.body,)

    def generate(self, writer: CodeWriter) -> None:
        writer.write_line("def _tt_execute():", 0)
        with writer.indent():
            writer.write_line("_tt_buffer = []", 0)
            writer.write_line("_tt_append = _tt_buffer.append", 0)
            self.body.generate(writer)
            writer.write_line("return b''.join(_tt_buffer)", 0)


class Text(Node):
    """Literal text, filtered by the whitespace mode in force where it stands."""

    __slots__ = ("line", "value", "whitespace")

    def __init__(self, value: str, line: int, whitespace: str) -> None:
        self.value = value
        self.line = line
        self.whitespace = whitespace

    def generate(self, writer: CodeWriter) -> None:
        value = self.value
        if "<pre>" not in value:
            value = filter_whitespace(self.whitespace, value)
        if value:
            try:
                data = value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ParseError(
                    f"text cannot be encoded as UTF-8: {exc.reason}",
                    writer.current_template.name,
                    self.line,
                ) from None
            writer.write_line(f"_tt_append({data!r})", self.line)


class Expression(Node):
    """``{{ expr }}``, ``{% raw expr %}`` and ``{% module expr %}``."""

    __slots__ = ("expression", "line", "raw")

    def __init__(self, expression: str, line: int, raw: bool = False) -> None:
        self.expression = expression
        self.line = line
        self.raw = raw

    def generate(self, writer: CodeWriter) -> None:
        expression = self.expression
        if "\n" in expression:
            # Brackets make a multi-line expression legal; the closing one
            # goes on its own line in case the last line ends in a comment.
            expression = f"({expression}\n)"
        writer.write_line(f"_tt_tmp = {expression}", self.line)
        autoescape = writer.current_template.autoescape
        if self.raw or autoescape is None:
            writer.write_line(f"_tt_append({_TO_BYTES})", self.line)
        elif autoescape == "xhtml_escape" and writer.fast_xhtml_escape:
            # The same result in one call (Template.generate swaps in the
            # general form when the namespace redefines xhtml_escape).
            writer.uses_fast_xhtml_escape = True
            writer.write_line("_tt_append(_tt_xhtml_escape_value(_tt_tmp))", self.line)
        else:
            writer.write_line(f"_tt_append(_tt_utf8({autoescape}({_TO_BYTES})))", self.line)


class Statement(Node):
    """A Python statement: ``{% set %}``, ``{% import %}``, ``{% break %}``..."""

    __slots__ = ("line", "statement")

    def __init__(self, statement: str, line: int) -> None:
        self.statement = statement
        self.line = line

    def generate(self, writer: CodeWriter) -> None:
        writer.write_line(self.statement, self.line)


class ControlBlock(Node):
    """``{% if %}``, ``{% for %}``, ``{% while %}``, ``{% try %}`` ... ``{% end %}``."""

    __slots__ = ("body", "line", "statement")

    def __init__(self, statement: str, line: int, body: ChunkList) -> None:
        self.statement = statement
        self.line = line
        self.body = body

    def each_child(self) -> tuple[Node, ...]:
        return (self.body,)

    def generate(self, writer: CodeWriter) -> None:
        writer.write_line(f"{self.statement}:", self.line)
        with writer.indent():
            self.body.generate(writer)
            writer.write_line("pass", self.line)


class IntermediateControlBlock(Node):
    """``{% else %}``, ``{% elif %}``, ``{% except %}``, ``{% finally %}``."""

    __slots__ = ("line", "statement")

    def __init__(self, statement: str, line: int) -> None:
        self.statement = statement
        self.line = line

    def generate(self, writer: CodeWriter) -> None:
        # Close the previous clause (it may be empty), then open this one
        # one level out.
        writer.write_line("pass", self.line)
        writer.write_line(f"{self.statement}:", self.line, writer.indent_size() - 1)


class ApplyBlock(Node):
    """``{% apply func %}...{% end %}``: ``func`` gets the block's output (bytes)."""

    __slots__ = ("body", "line", "method")

    def __init__(self, method: str, line: int, body: ChunkList) -> None:
        self.method = method
        self.line = line
        self.body = body

    def each_child(self) -> tuple[Node, ...]:
        return (self.body,)

    def generate(self, writer: CodeWriter) -> None:
        function = f"_tt_apply{writer.apply_counter}"
        writer.apply_counter += 1
        writer.write_line(f"def {function}():", self.line)
        with writer.indent():
            writer.write_line("_tt_buffer = []", self.line)
            writer.write_line("_tt_append = _tt_buffer.append", self.line)
            self.body.generate(writer)
            writer.write_line("return b''.join(_tt_buffer)", self.line)
        writer.write_line(f"_tt_append(_tt_utf8({self.method}({function}())))", self.line)


class NamedBlock(Node):
    """``{% block name %}...{% end %}``: written from its most derived override."""

    __slots__ = ("body", "line", "name", "template")

    def __init__(self, name: str, body: ChunkList, template: Template, line: int) -> None:
        self.name = name
        self.body = body
        self.template = template
        self.line = line

    def each_child(self) -> tuple[Node, ...]:
        return (self.body,)

    def generate(self, writer: CodeWriter) -> None:
        block = writer.named_blocks[self.name]
        if self.name in writer.active_blocks:
            raise ParseError(
                f"block {self.name!r} contains itself", writer.current_template.name, self.line
            )
        writer.active_blocks.append(self.name)
        try:
            with writer.include(block.template, self.line):
                block.body.generate(writer)
        finally:
            writer.active_blocks.pop()

    def find_named_blocks(self, loader: Any, named_blocks: dict[str, NamedBlock]) -> None:
        named_blocks[self.name] = self
        super().find_named_blocks(loader, named_blocks)


class ExtendsBlock(Node):
    """``{% extends "name" %}``: produces no code in place."""

    __slots__ = ("line", "name")

    def __init__(self, name: str, line: int) -> None:
        self.name = name
        self.line = line

    def generate(self, writer: CodeWriter) -> None:
        pass


class IncludeBlock(Node):
    """``{% include "name" %}``: the other template's code, inline."""

    __slots__ = ("line", "name", "template")

    def __init__(self, name: str, template: Template, line: int) -> None:
        self.name = name
        self.template = template
        self.line = line

    def find_named_blocks(self, loader: Any, named_blocks: dict[str, NamedBlock]) -> None:
        included = load_related(loader, self.name, self.template, self.line, "include")
        included.file.find_named_blocks(loader, named_blocks)

    def generate(self, writer: CodeWriter) -> None:
        included = load_related(writer.loader, self.name, self.template, self.line, "include")
        with writer.include(included, self.line):
            included.file.body.generate(writer)
