"""Turning tokens into nodes: what each ``{% directive %}`` means.

One recursive function per nesting level: :meth:`Parser.parse_body` reads
tokens until the ``{% end %}`` of the block it was called for (or the end of
the template at the top level) and returns the nodes in between.  The
parser tracks the enclosing block (for ``else``/``elif``/``except``/
``finally`` and ``end``) and the enclosing loop (for ``break`` and
``continue``), and the whitespace mode in force for literal text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._errors import ParseError
from ._lexer import EXPRESSION, TEXT, WHITESPACE_MODES, tokenize
from ._nodes import (
    ApplyBlock,
    ChunkList,
    ControlBlock,
    Expression,
    ExtendsBlock,
    IncludeBlock,
    IntermediateControlBlock,
    NamedBlock,
    Node,
    Statement,
    Text,
)

if TYPE_CHECKING:
    from ._template import Template

__all__ = ["UNSET", "Parser"]


class _Unset:
    """The type of :data:`UNSET`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


#: "No value given" (``None`` is a meaningful autoescape setting).
UNSET: Final = _Unset()

# The clauses that may continue a block, and the blocks each may continue.
_INTERMEDIATE = {
    "else": ("if", "for", "while", "try"),
    "elif": ("if",),
    "except": ("try",),
    "finally": ("try",),
}
_CONTROL = frozenset({"if", "for", "while", "try"})
_LOOPS = frozenset({"for", "while"})
_KNOWN = (
    "apply", "autoescape", "block", "break", "comment", "continue", "elif", "else", "end",
    "except", "extends", "finally", "for", "from", "if", "import", "include", "module", "raw",
    "set", "try", "whitespace", "while",
)  # fmt: skip


def _unquote(value: str) -> str:
    return value.strip('"').strip("'")


class Parser:
    """Parses one template's text (call :meth:`parse` once)."""

    def __init__(self, template: Template, text: str, whitespace: str) -> None:
        self.template = template
        self.name = template.name
        self.whitespace = whitespace
        #: The argument of the last ``{% autoescape %}``, or UNSET.
        self.autoescape: str | _Unset | None = UNSET
        self._tokens = tokenize(text, self.name)

    def parse(self) -> ChunkList:
        """Return the template's top-level nodes.

        :raises ParseError: for any error in the template text.
        """
        return ChunkList(self.parse_body(None, None, 0))

    def _error(self, message: str, line: int) -> ParseError:
        return ParseError(message, self.name, line)

    def parse_body(self, in_block: str | None, in_loop: str | None, block_line: int) -> list[Node]:
        """Parse up to the ``{% end %}`` of ``in_block`` (``None``: to the end)."""
        chunks: list[Node] = []
        append = chunks.append
        for kind, value, line in self._tokens:
            if kind == TEXT:
                append(Text(value, line, self.whitespace))
                continue
            if kind == EXPRESSION:
                append(Expression(value, line))
                continue

            parts = value.split(None, 1)
            operator = parts[0]
            suffix = parts[1].strip() if len(parts) > 1 else ""

            allowed = _INTERMEDIATE.get(operator)
            if allowed is not None:
                if in_block is None:
                    raise self._error(
                        f"{{% {operator} %}} outside of an {' / '.join(allowed)} block", line
                    )
                if in_block not in allowed:
                    raise self._error(
                        f"{{% {operator} %}} cannot be attached to a {{% {in_block} %}} block",
                        line,
                    )
                append(IntermediateControlBlock(f"{operator} {suffix}".rstrip(), line))
                continue

            if operator == "end":
                if in_block is None:
                    raise self._error("Extra {% end %} block", line)
                return chunks

            if operator in _CONTROL:
                body = self.parse_body(operator, operator if operator in _LOOPS else in_loop, line)
                append(ControlBlock(f"{operator} {suffix}".rstrip(), line, ChunkList(body)))
            elif operator == "block":
                if not suffix:
                    raise self._error("{% block %} missing name", line)
                body = self.parse_body(operator, in_loop, line)
                append(NamedBlock(suffix, ChunkList(body), self.template, line))
            elif operator == "apply":
                if not suffix:
                    raise self._error("{% apply %} missing function name", line)
                # The block becomes a function: break/continue cannot reach
                # a loop outside it.
                body = self.parse_body(operator, None, line)
                append(ApplyBlock(suffix, line, ChunkList(body)))
            elif operator in ("break", "continue"):
                if in_loop is None:
                    raise self._error(f"{{% {operator} %}} outside of a for / while loop", line)
                append(Statement(operator, line))
            elif operator == "comment":
                pass
            elif operator in ("extends", "include"):
                target = _unquote(suffix)
                if not target:
                    raise self._error(f"{{% {operator} %}} missing file path", line)
                if operator == "extends":
                    append(ExtendsBlock(target, line))
                else:
                    append(IncludeBlock(target, self.template, line))
            elif operator in ("import", "from"):
                if not suffix:
                    raise self._error(f"{{% {operator} %}} missing statement", line)
                append(Statement(f"{operator} {suffix}", line))
            elif operator == "set":
                if not suffix:
                    raise self._error("{% set %} missing statement", line)
                append(Statement(suffix, line))
            elif operator == "raw":
                if not suffix:
                    raise self._error("{% raw %} missing expression", line)
                append(Expression(suffix, line, raw=True))
            elif operator == "module":
                if not suffix:
                    raise self._error("{% module %} missing expression", line)
                append(Expression("_tt_modules." + suffix, line, raw=True))
            elif operator == "autoescape":
                if not suffix:
                    raise self._error("{% autoescape %} missing function name (or None)", line)
                self.autoescape = None if suffix == "None" else suffix
            elif operator == "whitespace":
                if suffix not in WHITESPACE_MODES:
                    raise self._error(
                        f"invalid whitespace mode {suffix!r}: expected one of {WHITESPACE_MODES}",
                        line,
                    )
                self.whitespace = suffix
            else:
                raise self._error(
                    f"unknown directive {{% {operator} %}} (known: {', '.join(_KNOWN)})", line
                )

        if in_block is not None:
            raise self._error(
                f"Missing {{% end %}} block for {{% {in_block} %}} (the template ends before it"
                " is closed)",
                block_line,
            )
        return chunks
