r"""Tornado's template language, compiled to Python.

A template is text with Python expressions and control statements in it::

    <html>
      <head><title>{{ title }}</title></head>
      <body>
        <ul>
          {% for item in items %}
            <li>{{ escape(item) }}</li>
          {% end %}
        </ul>
      </body>
    </html>

Templates that ran under Tornado run unchanged here.  Each template is
parsed once and compiled to one Python function that appends byte strings
to a list; :meth:`Template.generate` calls it with the names it is given and
returns UTF-8 ``bytes``::

    loader = Loader("/path/to/templates")
    html = loader.load("page.html").generate(title="Hi", items=["a", "b"])

Syntax
------

``{{ expr }}``
    The value of a Python expression.  ``str`` is encoded as UTF-8,
    ``bytes`` are kept, anything else goes through ``str()``; then the
    result passes through the *autoescape* function (``xhtml_escape`` by
    default), which receives UTF-8 ``bytes``.
``{# comment #}``
    Nothing: the text is dropped.
``{{!``, ``{%!``, ``{#!``
    The literal text ``{{``, ``{%``, ``{#`` (the ``!`` is removed), for
    output that uses the same delimiters (client-side templates).
``{% if c %}`` ... ``{% elif c %}`` ... ``{% else %}`` ... ``{% end %}``
    Python's ``if``.
``{% for x in xs %}`` ... ``{% else %}`` ... ``{% end %}``
    Python's ``for``; ``{% break %}`` and ``{% continue %}`` work inside
    (but not inside an ``{% apply %}`` within the loop).
``{% while c %}`` ... ``{% end %}``
    Python's ``while``, with ``{% break %}`` and ``{% continue %}`` too.
``{% try %}`` ... ``{% except E %}`` ... ``{% else %}`` ... ``{% finally %}`` ... ``{% end %}``
    Python's ``try``.
``{% set x = expr %}``
    A Python assignment (any simple statement, in fact).
``{% import mod %}``, ``{% from mod import name %}``
    Python imports.
``{% raw expr %}``
    Like ``{{ expr }}`` but not autoescaped.
``{% autoescape func %}``, ``{% autoescape None %}``
    The autoescape function (a name in the namespace) for the whole file.
``{% apply func %}`` ... ``{% end %}``
    Calls ``func`` on the block's output (``bytes``) and outputs what it
    returns, e.g. ``{% apply linkify %}``.
``{% block name %}`` ... ``{% end %}``
    A named block that templates extending this one may replace.
``{% extends "base.html" %}``
    This template fills the blocks of ``base.html``: the output is
    ``base.html``'s, with each ``{% block %}`` replaced by the most derived
    template's version of it.  Text outside blocks in the child is ignored.
    Chains of any length work; blocks may nest.
``{% include "part.html" %}``
    The other template's code inline: it sees (and may change) the local
    names of the including template.
``{% module expr %}``
    The value of ``_tt_modules.expr``, not escaped: ``{% module
    Entry(entry) %}`` calls the ``Entry`` UI module.  The web layer puts
    ``_tt_modules`` in the namespace.
``{% whitespace mode %}``
    The whitespace mode for the literal text that follows: ``all``,
    ``single`` or ``oneline`` (see :func:`filter_whitespace`).
``{% comment text %}``
    Nothing.

Every block is closed by ``{% end %}``.  In ``{% extends %}`` and
``{% include %}`` the name may be quoted with ``"`` or ``'`` and is relative
to the directory of the current template.

The namespace
-------------

A template sees the keyword arguments of :meth:`~Template.generate`, the
loader's ``namespace``, and ``escape``/``xhtml_escape``, ``url_escape``,
``json_encode``, ``squeeze``, ``linkify``, ``datetime``, ``_tt_utf8``,
``_tt_string_types``, ``__name__`` and ``__loader__``.  Names starting with
``_tt_`` are reserved for the generated code.

Errors
------

Everything wrong with a template's text raises :class:`ParseError` (with
``filename`` and ``lineno``) when the template is created or loaded:
unclosed blocks, unknown directives, a stray ``{% end %}``, invalid Python
in an expression, a missing template (:class:`TemplateNotFoundError`), a
name outside the loader's directory (:class:`TemplatePathError`), templates
that extend or include each other in a circle.

Errors raised while a template runs propagate unchanged, with a note
(``"in template page.html:12"``) added; every generated line also ends with
a ``# page.html:12`` comment, so tracebacks show both.
:func:`template_location` returns ``("page.html", 12)`` from a traceback or
exception, for logs.

Interface for the web layer
---------------------------

``RequestHandler.render`` needs only: a loader with
``load(name, parent_path=None)`` returning an object with
``generate(**kwargs) -> bytes``, and optionally ``reset()``.
:class:`Loader`, :class:`DictLoader` and :class:`Jinja2Loader` all provide
it; a custom :class:`BaseLoader` subclass implements ``resolve_path`` and
``_create_template``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from ._errors import ParseError, TemplateNotFoundError, TemplatePathError
from ._jinja2 import Jinja2Loader, Jinja2Template
from ._lexer import filter_whitespace
from ._loader import BaseLoader, DictLoader, Loader
from ._template import _DEFAULT_AUTOESCAPE as _DEFAULT_AUTOESCAPE
from ._template import _UNSET as _UNSET
from ._template import Template, template_location

__all__ = [
    "BaseLoader",
    "DictLoader",
    "Jinja2Loader",
    "Jinja2Template",
    "Loader",
    "ParseError",
    "Template",
    "TemplateNotFoundError",
    "TemplatePathError",
    "filter_whitespace",
    "template_location",
]
