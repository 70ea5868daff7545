"""Splitting template text into tokens, and the whitespace filters.

The lexer knows only the three kinds of markup and their delimiters:

* ``{{ ... }}`` -- an expression,
* ``{% ... %}`` -- a directive (what it means is the parser's business),
* ``{# ... #}`` -- a comment, dropped here.

Everything else is text.  An opener followed by ``!`` (``{{!``, ``{%!``,
``{#!``) is not markup: the opener itself is emitted as text, the ``!`` is
dropped, and scanning goes on after it.  When more than two ``{`` follow each
other, the innermost pair opens the expression, so ``{{{x}}}`` renders ``x``
between literal braces (handy for LaTeX and similar languages).

Text is emitted in chunks that stop at every piece of markup, comments and
escapes included: the whitespace filter is applied chunk by chunk, exactly
where a Tornado template expects it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from ._errors import ParseError

__all__ = ["EXPRESSION", "TAG", "TEXT", "Token", "filter_whitespace", "tokenize"]

TEXT = 0
EXPRESSION = 1
TAG = 2

_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
_WHAT = {"{{": "expression", "{%": "block", "{#": "comment"}


class Token(NamedTuple):
    """One piece of template text."""

    kind: int
    #: The text (TEXT) or the stripped contents between the delimiters.
    value: str
    #: The 1-based line of the first character of ``value``.
    line: int


def tokenize(text: str, name: str) -> Iterator[Token]:
    """Yield the tokens of ``text`` (the template called ``name``) in order.

    :raises ParseError: for markup without its closing delimiter and for
        empty ``{{ }}`` or ``{% %}``.
    """
    find = text.find
    size = len(text)
    pos = 0
    line = 1
    while True:
        # Find the next opener, skipping lone braces and using the innermost
        # pair of a run of three or more "{".
        curly = pos
        while True:
            curly = find("{", curly)
            if curly == -1 or curly + 1 >= size:
                curly = -1
                break
            following = text[curly + 1]
            if following != "{" and following != "%" and following != "#":  # noqa: PLR1714
                curly += 1
                continue
            if following == "{" and curly + 2 < size and text[curly + 2] == "{":
                curly += 1
                continue
            break
        if curly == -1:
            if pos < size:
                yield Token(TEXT, text[pos:], line)
            return
        if curly > pos:
            chunk = text[pos:curly]
            yield Token(TEXT, chunk, line)
            line += chunk.count("\n")
        opener = text[curly : curly + 2]
        pos = curly + 2
        if pos < size and text[pos] == "!":
            # An escaped opener: the braces are text.
            yield Token(TEXT, opener, line)
            pos += 1
            continue
        closer = _CLOSERS[opener]
        end = find(closer, pos)
        if end == -1:
            raise ParseError(f"Missing end {_WHAT[opener]} {closer}", name, line)
        raw = text[pos:end]
        pos = end + 2
        if opener == "{#":
            line += raw.count("\n")
            continue
        contents = raw.strip()
        if not contents:
            what = "Empty expression" if opener == "{{" else "Empty block tag ({% %})"
            raise ParseError(what, name, line)
        if "\x00" in contents:
            raise ParseError("NUL byte in a template tag", name, line)
        if "\r" in contents:
            # Python code: the line breaks must be the ones the line map counts.
            contents = contents.replace("\r\n", "\n").replace("\r", "\n")
        leading = raw[: len(raw) - len(raw.lstrip())]
        yield Token(
            EXPRESSION if opener == "{{" else TAG,
            contents,
            line + leading.count("\n"),
        )
        line += raw.count("\n")


_BLANKS_RE = re.compile(r"[\t ]+")
_NEWLINE_RUN_RE = re.compile(r"\s*\n\s*")
_WHITESPACE_RE = re.compile(r"\s+")

#: The whitespace modes, in the order of the documentation.
WHITESPACE_MODES = ("all", "single", "oneline")


def filter_whitespace(mode: str, text: str) -> str:
    """Transform the whitespace in ``text`` according to ``mode``.

    The modes:

    * ``"all"`` -- keep all whitespace unchanged;
    * ``"single"`` -- collapse each run of blanks (spaces and tabs) into one
      space, and each run of whitespace that holds a newline into one
      newline;
    * ``"oneline"`` -- collapse each run of whitespace, newlines included,
      into one space.

    Templates apply this to their literal text (not to the output of
    expressions) chunk by chunk, and leave alone every chunk that contains
    ``<pre>``.

    :raises ValueError: for an unknown mode.

    .. versionadded:: 0.1.0
    """
    if mode == "all":
        return text
    if mode == "single":
        return _NEWLINE_RUN_RE.sub("\n", _BLANKS_RE.sub(" ", text))
    if mode == "oneline":
        return _WHITESPACE_RE.sub(" ", text)
    raise ValueError(f"invalid whitespace mode {mode!r}: expected one of {WHITESPACE_MODES}")
