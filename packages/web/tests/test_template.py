"""Tests for squall.template: the language (a contract with ported
templates), loaders, errors with locations, and the Jinja2 loader."""

from __future__ import annotations

import datetime
import os
import pickle
import sys
import threading
import time
import traceback
from typing import Any

import pytest
import squall.template as template_module
from squall.escape import xhtml_escape
from squall.template import (
    BaseLoader,
    DictLoader,
    Jinja2Loader,
    Loader,
    ParseError,
    Template,
    TemplateNotFoundError,
    TemplatePathError,
    filter_whitespace,
    template_location,
)


def render(text: str | bytes, **kwargs: Any) -> bytes:
    return Template(text).generate(**kwargs)


def dict_render(templates: dict[str, str], template_name: str, /, **kwargs: Any) -> bytes:
    return DictLoader(templates).load(template_name).generate(**kwargs)


# ---------------------------------------------------------------------------
# Public API


def test_public_api_is_pinned() -> None:
    assert sorted(template_module.__all__) == sorted(
        [
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
    )
    for name in template_module.__all__:
        obj = getattr(template_module, name)
        assert obj.__doc__ and "versionadded" in obj.__doc__, name
    assert template_module._DEFAULT_AUTOESCAPE == "xhtml_escape"
    assert repr(template_module._UNSET) == "<unset>"


# ---------------------------------------------------------------------------
# Text and expressions


def test_plain_text_and_bytes_output() -> None:
    out = render("Hello")
    assert out == b"Hello"
    assert isinstance(out, bytes)
    assert render("") == b""


def test_expression() -> None:
    assert render("Hello {{ name }}!", name="Ben") == b"Hello Ben!"
    assert render("{{ 1 + 2 }}") == b"3"
    assert render("{{1/2}}") == b"0.5"
    assert render("{{ [1, 2] }}") == b"[1, 2]"
    assert render("{{ None }}") == b"None"


def test_expression_with_comment_and_dict_access() -> None:
    assert render("{{ x # a Python comment }}", x=5) == b"5"
    assert render("{{ d['k'] }}", d={"k": "v"}) == b"v"


def test_multiline_expression() -> None:
    assert render("{{ a +\n   b }}", a=1, b=2) == b"3"
    assert render("{{ a +\n   b  # trailing comment\n }}", a=1, b=2) == b"3"


def test_unicode() -> None:
    out = render("\u00e9t\u00e9 {{ x }} \u2603", x="\u00fc\u00f1\u00ee")
    assert out == "\u00e9t\u00e9 \u00fc\u00f1\u00ee \u2603".encode()
    assert render("{{ '\u20ac' }}") == "\u20ac".encode()


def test_bytes_template_string() -> None:
    out = Template("caf\u00e9 {{ x }}".encode(), name="b.txt").generate(x=1)
    assert out == "caf\u00e9 1".encode()


def test_bytes_template_that_is_not_utf8_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as info:
        Template(b"line one\nline \xff two", name="bad.txt")
    assert info.value.filename == "bad.txt"
    assert info.value.lineno == 2
    assert "UTF-8" in info.value.message


def test_bytes_values_are_kept() -> None:
    assert render("{{ b }}", b=b"\xc3\xa9<") == "\u00e9&lt;".encode()
    assert render("{% raw b %}", b=b"\xff\x00") == b"\xff\x00"


def test_value_str_is_used_for_objects() -> None:
    class Thing:
        def __str__(self) -> str:
            return "<thing>"

    assert render("{{ t }}", t=Thing()) == b"&lt;thing&gt;"


def test_generate_is_repeatable_and_isolated() -> None:
    t = Template("{% if defined %}{{ x }}{% else %}-{% end %}")
    assert t.generate(defined=True, x=1) == b"1"
    assert t.generate(defined=False) == b"-"
    t2 = Template("{{ x }}")
    assert t2.generate(x=1) == b"1"
    with pytest.raises(NameError):
        t2.generate()  # x from the previous call must not leak


def test_code_attribute_is_python_with_location_comments() -> None:
    t = Template("a\n{{ x }}", name="page.txt")
    assert "def _tt_execute():" in t.code
    assert "_tt_tmp = x  # page.txt:2" in t.code
    compile(t.code, "check", "exec")
    assert repr(t) == "<Template 'page.txt'>"


def test_compiled_once() -> None:
    t = Template("{{ x }}")
    code = t.compiled
    for i in range(3):
        assert t.generate(x=i) == str(i).encode()
    assert t.compiled is code


# ---------------------------------------------------------------------------
# Escaping of the delimiters


def test_escaped_delimiters_produce_literal_text() -> None:
    assert render("{{!tail}}") == b"{{tail}}"
    assert render("{{! x }}") == b"{{ x }}"
    assert render("{%! if x %}") == b"{% if x %}"
    assert render("{#! comment #}") == b"{# comment #}"
    assert render("a{{!b}}c{{ 1 }}") == b"a{{b}}c1"


def test_lone_braces_are_text() -> None:
    assert render("{") == b"{"
    assert render("a { b } c") == b"a { b } c"
    assert render("{x}") == b"{x}"
    assert render("}}") == b"}}"
    assert render("%}") == b"%}"
    assert render("x{") == b"x{"


def test_innermost_braces_open_the_expression() -> None:
    assert render("{{{ x }}}", x=1) == b"{1}"
    assert render("\\frac{{{ a }}}{{{ b }}}", a=1, b=2) == b"\\frac{1}{2}"


# ---------------------------------------------------------------------------
# Autoescape


def test_default_autoescape_is_xhtml_escape() -> None:
    out = render("{{ v }}", v="<a href=\"x\">'&'</a>")
    assert out == b"&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
    assert out == xhtml_escape("<a href=\"x\">'&'</a>").encode()


class _Obj:
    def __str__(self) -> str:
        return "<'&\">"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "<a href=\"x\">'&'</a>",
        "\u00e9\u2603<",
        b"<b>\xc3\xa9",
        42,
        1.5,
        None,
        [1, "<"],
        _Obj(),
    ],
)
def test_default_escaping_equals_xhtml_escape_of_the_value(value: Any) -> None:
    # The generated one-call form must equal the general Tornado form.
    as_text = value if isinstance(value, (str, bytes)) else str(value)
    expected = xhtml_escape(as_text).encode()
    assert render("{{ v }}", v=value) == expected
    assert Template("{{ v }}", autoescape="escape").generate(v=value) == expected


class _SneakyStr(str):
    __slots__ = ()

    def __str__(self) -> str:
        return "sneaky"

    def replace(self, *args: Any, **kwargs: Any) -> str:
        return "replaced"


def test_default_escaping_of_str_subclass_uses_its_characters() -> None:
    value = _SneakyStr("<&>")
    assert render("{{ v }}", v=value) == b"&lt;&amp;&gt;"
    assert render("{{ v }}", v=value, xhtml_escape=xhtml_escape) == b"&lt;&amp;&gt;"
    assert render("{% raw v %}", v=value) == b"<&>"


def test_default_escaping_rejects_invalid_utf8_bytes() -> None:
    with pytest.raises(UnicodeDecodeError):
        render("{{ v }}", v=b"\xff")


def test_xhtml_escape_redefined_in_namespace_or_template() -> None:
    calls: list[bytes] = []

    def mine(value: bytes) -> str:
        calls.append(value)
        return "[" + value.decode() + "]"

    assert render("{{ v }}", v="<", xhtml_escape=mine) == b"[<]"
    assert calls == [b"<"]
    assert render("{{ v }}", v=3, xhtml_escape=mine) == b"[3]"
    loader = DictLoader({"a.html": "{{ v }}"}, namespace={"xhtml_escape": mine})
    assert loader.load("a.html").generate(v="<") == b"[<]"
    t = Template("{% set xhtml_escape = mine %}{{ v }}")
    assert t.generate(v="<", mine=mine) == b"[<]"
    t2 = Template("{% for xhtml_escape in fs %}{{ v }}{% end %}")
    assert t2.generate(v="<", fs=[mine, lambda b: b"!"]) == b"[<]!"
    # Once assigned in the template, the name is local to it (as in Tornado).
    t3 = Template("{{ v }}{% set xhtml_escape = mine %}")
    with pytest.raises(UnboundLocalError):
        t3.generate(v="<", mine=mine)


def test_raw_is_not_escaped() -> None:
    assert render("{% raw v %}", v="<b>") == b"<b>"
    assert render("{% raw '<' + v %}", v="<b>") == b"<<b>"


def test_autoescape_none_argument_and_directive() -> None:
    assert Template("{{ v }}", autoescape=None).generate(v="<b>") == b"<b>"
    assert render("{% autoescape None %}{{ v }}", v="<b>") == b"<b>"


def test_autoescape_directive_applies_to_whole_file() -> None:
    # As in Tornado: the directive sets the mode of the file, wherever it is.
    assert render("{{ v }}{% autoescape None %}{{ v }}", v="<") == b"<<"


def test_custom_autoescape_function_receives_bytes() -> None:
    seen: list[Any] = []

    def shout(value: Any) -> str:
        seen.append(value)
        result: str = value.decode().upper()
        return result

    t = Template("{{ a }} {{ b }} {{ c }}", autoescape="shout")
    assert t.generate(shout=shout, a="x", b=b"y", c=3) == b"X Y 3"
    assert seen == [b"x", b"y", b"3"]


def test_custom_autoescape_may_return_bytes() -> None:
    t = Template("{% autoescape rev %}{{ v }}")
    assert t.generate(rev=lambda b: b[::-1], v="abc") == b"cba"


def test_autoescape_from_loader_and_template_overrides() -> None:
    loader = DictLoader(
        {"a.html": "{{ v }}", "b.html": "{% autoescape xhtml_escape %}{{ v }}"},
        autoescape=None,
    )
    assert loader.load("a.html").generate(v="<") == b"<"
    assert loader.load("b.html").generate(v="<") == b"&lt;"
    loader2 = DictLoader({"a.html": "{{ v }}"}, autoescape="url_escape")
    assert loader2.load("a.html").generate(v="a b&") == b"a+b%26"


def test_autoescape_in_inheritance_follows_the_template_of_the_code() -> None:
    loader = DictLoader(
        {
            "base.html": "{% autoescape None %}{{ v }}|{% block b %}{{ v }}{% end %}",
            "child.html": '{% extends "base.html" %}{% block b %}{{ v }}{% end %}',
            "raw_child.html": (
                '{% extends "base.html" %}{% autoescape None %}{% block b %}{{ v }}{% end %}'
            ),
        }
    )
    assert loader.load("base.html").generate(v="<") == b"<|<"
    assert loader.load("child.html").generate(v="<") == b"<|&lt;"
    assert loader.load("raw_child.html").generate(v="<") == b"<|<"


def test_include_uses_the_included_templates_autoescape() -> None:
    loader = DictLoader(
        {
            "outer.html": '{{ v }}{% include "inner.html" %}',
            "inner.html": "{% autoescape None %}{{ v }}",
        }
    )
    assert loader.load("outer.html").generate(v="<") == b"&lt;<"


def test_autoescape_function_overridden_in_namespace() -> None:
    loader = DictLoader({"a.html": "{{ v }}"}, namespace={"xhtml_escape": lambda b: b"!"})
    assert loader.load("a.html").generate(v="<") == b"!"


# ---------------------------------------------------------------------------
# Comments


def test_comments() -> None:
    assert render("a{# a comment #}b") == b"ab"
    assert render("a{# {{ x }} {% if %} #}b") == b"ab"
    assert render("a{% comment anything at all %}b") == b"ab"


def test_multiline_comment_keeps_line_numbers() -> None:
    with pytest.raises(ParseError) as info:
        Template("{# one\ntwo\nthree #}\n{% bogus %}", name="c.txt")
    assert info.value.lineno == 4


# ---------------------------------------------------------------------------
# Control statements


def test_if_elif_else() -> None:
    t = Template("{% if x > 1 %}big{% elif x == 1 %}one{% else %}small{% end %}")
    assert t.generate(x=5) == b"big"
    assert t.generate(x=1) == b"one"
    assert t.generate(x=0) == b"small"


def test_empty_blocks() -> None:
    assert render("{% if True %}{% end %}x") == b"x"
    assert render("{% if False %}{% else %}{% end %}x") == b"x"
    assert render("{% for i in [] %}{% end %}x") == b"x"
    assert render("{% try %}{% except %}{% end %}x") == b"x"


def test_for_loop_and_for_else() -> None:
    assert render("{% for i in range(3) %}{{ i }},{% end %}") == b"0,1,2,"
    t = Template("{% for i in items %}{{ i }}{% else %}none{% end %}")
    assert t.generate(items=[]) == b"none"
    assert t.generate(items=[1]) == b"1none"
    assert render(
        "{% for k, v in sorted(d.items()) %}{{ k }}={{ v }};{% end %}", d={"b": 2, "a": 1}
    ) == (b"a=1;b=2;")


def test_nested_loops() -> None:
    t = Template("{% for a in range(2) %}{% for b in range(2) %}{{ a }}{{ b }} {% end %}{% end %}")
    assert t.generate() == b"00 01 10 11 "


def test_while() -> None:
    t = Template("{% set i = 0 %}{% while i < 3 %}{{ i }}{% set i += 1 %}{% end %}")
    assert t.generate() == b"012"


def test_break_and_continue() -> None:
    t = Template(
        "{% for i in range(10) %}"
        "{% if i == 1 %}{% continue %}{% end %}"
        "{% if i == 4 %}{% break %}{% end %}"
        "{{ i }}"
        "{% end %}"
    )
    assert t.generate() == b"023"
    t2 = Template(
        "{% set i = 0 %}{% while True %}{% set i += 1 %}{% if i > 3 %}{% break %}{% end %}"
        "{{ i }}{% end %}"
    )
    assert t2.generate() == b"123"


def test_try_except_else_finally() -> None:
    t = Template(
        "{% try %}{{ 1 / d }}{% except ZeroDivisionError %}div0{% else %}ok{% finally %}!{% end %}"
    )
    assert t.generate(d=1) == b"1.0ok!"
    assert t.generate(d=0) == b"div0!"
    t2 = Template(
        "{% try %}{{ missing }}{% except NameError as e %}{{ type(e).__name__ }}{% end %}"
    )
    assert t2.generate() == b"NameError"


def test_directive_whitespace_variants() -> None:
    assert render("{%if x%}y{%end%}", x=1) == b"y"
    assert render("{%   if   x   %}y{%  end  %}", x=1) == b"y"
    assert render("{% if\nx %}y{% end %}", x=1) == b"y"


# ---------------------------------------------------------------------------
# set / import / from


def test_set() -> None:
    assert render("{% set x = 2 * 21 %}{{ x }}") == b"42"
    assert render("{% set a, b = 1, 2 %}{{ a + b }}") == b"3"


def test_import_and_from() -> None:
    assert render("{% import math %}{{ math.floor(2.5) }}") == b"2"
    assert (
        render("{% from os.path import join %}{{ join('a', 'b') }}")
        == os.path.join("a", "b").encode()
    )
    assert render("{% import os.path as p %}{{ p.basename('/x/y') }}") == b"y"


def test_import_of_missing_module_fails_at_runtime() -> None:
    t = Template("{% import no_such_module_squall %}")
    with pytest.raises(ImportError):
        t.generate()


# ---------------------------------------------------------------------------
# apply


def test_apply() -> None:
    def upper(data: bytes) -> bytes:
        assert isinstance(data, bytes)
        return data.upper()

    t = Template("a{% apply upper %}b{{ x }}c{% end %}d")
    assert t.generate(upper=upper, x="y") == b"aBYCd"


def test_apply_str_result_and_nesting() -> None:
    t = Template(
        "{% apply wrap %}1{% apply wrap %}2{% end %}3{% end %}",
    )
    assert t.generate(wrap=lambda b: "[" + b.decode() + "]") == b"[1[2]3]"


def test_apply_with_builtin_helpers() -> None:
    assert render("{% apply sq %}a \n\n  b{% end %}", sq=lambda b: b" ".join(b.split())) == b"a b"
    out = render("{% apply linkify %}see http://example.com{% end %}")
    assert out == b'see <a href="http://example.com">http://example.com</a>'


def test_apply_inside_loop_sees_loop_variable() -> None:
    t = Template("{% for i in range(2) %}{% apply f %}{{ i }}{% end %}{% end %}")
    assert t.generate(f=lambda b: b + b"!") == b"0!1!"


def test_break_inside_apply_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="break"):
        Template("{% for i in x %}{% apply f %}{% break %}{% end %}{% end %}")


# ---------------------------------------------------------------------------
# module


class _Modules:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def Entry(self, title: str, n: int = 0) -> str:
        self.calls.append((title, n))
        return f"<div>{title}:{n}</div>"


def test_module_calls_tt_modules_unescaped() -> None:
    modules = _Modules()
    t = Template("{% module Entry('<x>', n=2) %}")
    assert t.generate(_tt_modules=modules) == b"<div><x>:2</div>"
    assert modules.calls == [("<x>", 2)]


def test_module_without_tt_modules_fails_at_runtime() -> None:
    with pytest.raises(NameError, match="_tt_modules"):
        render("{% module Entry('x') %}")


# ---------------------------------------------------------------------------
# Namespace


def test_builtin_namespace() -> None:
    t = Template(
        "{{ escape('<') }}|{{ xhtml_escape('&') }}|{{ url_escape('a b') }}|"
        "{% raw json_encode({'a': '</'}) %}|{{ squeeze(' a  b ') }}|{{ datetime.date(2020, 1, 2) }}|"
        "{{ _tt_utf8('x') }}|{{ _tt_string_types }}|{{ __name__ }}",
        name="ns.test.txt",
    )
    out = t.generate()
    assert out == (
        b'&amp;lt;|&amp;amp;|a+b|{"a": "<\\/"}|a b|2020-01-02|x|'
        b"(&lt;class &#x27;str&#x27;&gt;, &lt;class &#x27;bytes&#x27;&gt;)|ns_test_txt"
    )


def test_loader_namespace_and_kwargs_precedence() -> None:
    ns: dict[str, Any] = {"greet": "hi", "who": "ns"}
    loader = DictLoader({"t": "{{ greet }} {{ who }}"}, namespace=ns)
    t = loader.load("t")
    assert t.generate() == b"hi ns"
    assert t.generate(who="kw") == b"hi kw"
    ns["greet"] = "hello"  # the loader's dict is used as is
    assert t.generate() == b"hello ns"
    assert t.generate(datetime="shadowed") == b"hello ns"


# ---------------------------------------------------------------------------
# Inheritance


def test_extends_and_blocks() -> None:
    templates = {
        "base.html": "<title>{% block title %}Default{% end %}</title>"
        "<body>{% block body %}{% end %}</body>",
        "page.html": '{% extends "base.html" %}{% block body %}Hi {{ name }}{% end %}',
    }
    assert dict_render(templates, "page.html", name="Ann") == (
        b"<title>Default</title><body>Hi Ann</body>"
    )
    assert dict_render(templates, "base.html") == b"<title>Default</title><body></body>"


def test_child_text_outside_blocks_is_ignored() -> None:
    templates = {
        "base.html": "[{% block b %}{% end %}]",
        "child.html": "IGNORED{% extends 'base.html' %}IGNORED{% block b %}x{% end %}IGNORED",
    }
    assert dict_render(templates, "child.html") == b"[x]"


def test_multi_level_inheritance() -> None:
    templates = {
        "base.html": "{% block a %}A0{% end %}-{% block b %}B0{% end %}-{% block c %}C0{% end %}",
        "mid.html": "{% extends 'base.html' %}{% block a %}A1{% end %}{% block b %}B1{% end %}",
        "leaf.html": '{% extends "mid.html" %}{% block b %}B2{% end %}',
    }
    assert dict_render(templates, "leaf.html") == b"A1-B2-C0"
    assert dict_render(templates, "mid.html") == b"A1-B1-C0"


def test_nested_blocks() -> None:
    templates = {
        "base.html": "{% block outer %}<{% block inner %}i{% end %}>{% end %}",
        "inner_only.html": "{% extends 'base.html' %}{% block inner %}I{% end %}",
        "outer_only.html": "{% extends 'base.html' %}{% block outer %}O{% end %}",
        "outer_keeps_inner.html": (
            "{% extends 'base.html' %}{% block outer %}({% block inner %}n{% end %}){% end %}"
        ),
        "grandchild.html": "{% extends 'outer_keeps_inner.html' %}{% block inner %}G{% end %}",
    }
    assert dict_render(templates, "base.html") == b"<i>"
    assert dict_render(templates, "inner_only.html") == b"<I>"
    assert dict_render(templates, "outer_only.html") == b"O"
    assert dict_render(templates, "outer_keeps_inner.html") == b"(n)"
    assert dict_render(templates, "grandchild.html") == b"(G)"


def test_block_in_loop_of_base() -> None:
    templates = {
        "base.html": "{% for item in items %}{% block row %}{{ item }}{% end %};{% end %}",
        "child.html": "{% extends 'base.html' %}{% block row %}<{{ item }}>{% end %}",
    }
    assert dict_render(templates, "child.html", items=[1, 2]) == b"<1>;<2>;"
    assert dict_render(templates, "child.html", items=["&"]) == b"<&amp;>;"


def test_blocks_see_variables_set_in_base() -> None:
    templates = {
        "base.html": "{% set title = 'T' %}{% block body %}{% end %}",
        "child.html": "{% extends 'base.html' %}{% block body %}{{ title }}{% end %}",
    }
    assert dict_render(templates, "child.html") == b"T"


def test_extends_in_subdirectory_is_relative() -> None:
    templates = {
        "base.html": "root[{% block b %}{% end %}]",
        "blog/base.html": "blog[{% block b %}{% end %}]",
        "blog/post.html": "{% extends 'base.html' %}{% block b %}post{% end %}",
        "blog/top.html": "{% extends '../base.html' %}{% block b %}top{% end %}",
        "blog/abs.html": "{% extends '/base.html' %}{% block b %}abs{% end %}",
    }
    loader = DictLoader(templates)
    assert loader.load("blog/post.html").generate() == b"blog[post]"
    assert loader.load("blog/top.html").generate() == b"root[top]"
    with pytest.raises(TemplateNotFoundError):
        # A name starting with "/" is taken as is: DictLoader has no "/base.html".
        loader.load("blog/abs.html")


def test_extends_without_loader_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no template loader") as info:
        Template("x\n{% extends 'base.html' %}", name="t.html")
    assert (info.value.filename, info.value.lineno) == ("t.html", 2)


def test_extends_missing_template() -> None:
    loader = DictLoader({"child.html": "\n\n{% extends 'nope.html' %}"})
    with pytest.raises(TemplateNotFoundError) as info:
        loader.load("child.html")
    err = info.value
    assert (err.filename, err.lineno) == ("child.html", 3)
    assert "nope.html" in str(err)
    assert isinstance(err, KeyError)
    assert isinstance(err, ParseError)


def test_circular_extends_is_a_parse_error() -> None:
    loader = DictLoader(
        {
            "a.html": "{% extends 'b.html' %}",
            "b.html": "{% extends 'a.html' %}",
            "self.html": "{% extends 'self.html' %}",
        }
    )
    with pytest.raises(ParseError, match="circle") as info:
        loader.load("a.html")
    assert "a.html -> b.html -> a.html" in str(info.value)
    with pytest.raises(ParseError, match="circle"):
        loader.load("self.html")
    # The loader is still usable afterwards.
    assert loader.templates == {}
    assert loader._loading == []


def test_error_in_parent_template_names_the_parent() -> None:
    loader = DictLoader(
        {
            "base.html": "ok\n{% if %}",
            "child.html": "{% extends 'base.html' %}",
        }
    )
    with pytest.raises(ParseError) as info:
        loader.load("child.html")
    assert info.value.filename == "base.html"
    assert info.value.lineno == 2


# ---------------------------------------------------------------------------
# include


def test_include_sees_namespace_and_locals() -> None:
    templates = {
        "page.html": "{% set local = 'L' %}{% include 'part.html' %}|{{ after }}",
        "part.html": "{{ arg }}{{ local }}{% set after = 'A' %}",
    }
    assert dict_render(templates, "page.html", arg="G") == b"GL|A"


def test_include_in_loop_and_relative_paths() -> None:
    templates = {
        "blog/list.html": "{% for e in entries %}{% include 'entry.html' %}{% end %}",
        "blog/entry.html": "<{{ e }}>",
        "entry.html": "WRONG",
    }
    assert dict_render(templates, "blog/list.html", entries=["a", "b"]) == b"<a><b>"


def test_include_missing_template_has_location() -> None:
    loader = DictLoader({"page.html": "a\nb {% include 'missing.html' %}"})
    with pytest.raises(TemplateNotFoundError) as info:
        loader.load("page.html")
    assert (info.value.filename, info.value.lineno) == ("page.html", 2)
    assert info.value.template_name == "missing.html"
    assert "missing.html" in str(info.value)
    assert str(info.value).endswith("at page.html:2")


def test_recursive_include_is_a_parse_error() -> None:
    loader = DictLoader({"r.html": "x{% include 'r.html' %}"})
    with pytest.raises(ParseError, match="circle") as info:
        loader.load("r.html")
    assert info.value.filename == "r.html"


def test_include_without_loader() -> None:
    with pytest.raises(ParseError, match="no template loader"):
        Template("{% include 'x.html' %}")


def test_blocks_in_included_template_can_be_overridden() -> None:
    templates = {
        "base.html": "[{% include 'header.html' %}]",
        "header.html": "{% block title %}H{% end %}",
        "child.html": "{% extends 'base.html' %}{% block title %}C{% end %}",
    }
    assert dict_render(templates, "base.html") == b"[H]"
    assert dict_render(templates, "child.html") == b"[C]"


def test_include_inside_block_of_child() -> None:
    templates = {
        "base.html": "<{% block b %}{% end %}>",
        "child.html": "{% extends 'base.html' %}{% block b %}{% include 'p.html' %}{% end %}",
        "p.html": "{{ v }}",
    }
    assert dict_render(templates, "child.html", v="x") == b"<x>"


# ---------------------------------------------------------------------------
# Whitespace


def test_filter_whitespace_modes() -> None:
    text = "  a \t b  \n\n   c \r\n d  "
    assert filter_whitespace("all", text) == text
    assert filter_whitespace("single", text) == " a b\nc\nd "
    assert filter_whitespace("oneline", text) == " a b c d "
    with pytest.raises(ValueError, match="invalid whitespace mode"):
        filter_whitespace("none", text)


def test_default_whitespace_depends_on_name() -> None:
    text = "a    b\n\n\nc"
    assert Template(text, name="x.html").generate() == b"a b\nc"
    assert Template(text, name="x.js").generate() == b"a b\nc"
    assert Template(text, name="x.txt").generate() == text.encode()
    assert Template(text).generate() == text.encode()


def test_whitespace_argument_and_loader_setting() -> None:
    text = "a    b\n\n\nc"
    assert Template(text, name="x.html", whitespace="all").generate() == text.encode()
    assert Template(text, whitespace="oneline").generate() == b"a b c"
    loader = DictLoader({"x.txt": text, "y.html": text}, whitespace="oneline")
    assert loader.load("x.txt").generate() == b"a b c"
    assert loader.load("y.html").generate() == b"a b c"
    default = DictLoader({"x.txt": text, "y.html": text})
    assert default.load("x.txt").generate() == text.encode()
    assert default.load("y.html").generate() == b"a b\nc"
    with pytest.raises(ValueError):
        Template(text, whitespace="bogus")
    with pytest.raises(ValueError):
        DictLoader({}, whitespace="bogus")


def test_whitespace_directive() -> None:
    t = Template(
        "a  b\n\n{% whitespace oneline %}c  \n\n d{% whitespace all %}e  \n\nf",
        name="t.txt",
    )
    assert t.generate() == b"a  b\n\nc d" + b"e  \n\nf"


def test_whitespace_does_not_touch_expression_output_or_pre() -> None:
    t = Template("<p>  x  </p>{{ v }}<pre>  keep\n\n  this  </pre>", name="t.html")
    assert t.generate(v="  v  \n\n  ") == b"<p> x </p>  v  \n\n  <pre>  keep\n\n  this  </pre>"


def test_whitespace_is_filtered_chunk_by_chunk() -> None:
    # A comment splits the text: each side is filtered on its own.
    t = Template("a  \n{# c #}\n  b", name="t.html")
    assert t.generate() == b"a\n\nb"


def test_invalid_whitespace_directive() -> None:
    with pytest.raises(ParseError, match="invalid whitespace mode") as info:
        Template("\n{% whitespace bogus %}", name="w.txt")
    assert info.value.lineno == 2


def test_compress_whitespace_is_deprecated() -> None:
    text = "a    b"
    with pytest.warns(DeprecationWarning, match="compress_whitespace"):
        t = Template(text, name="x.txt", compress_whitespace=True)
    assert t.generate() == b"a b"
    with pytest.warns(DeprecationWarning):
        t = Template(text, name="x.html", compress_whitespace=False)
    assert t.generate() == b"a    b"


# ---------------------------------------------------------------------------
# Parse errors


@pytest.mark.parametrize(
    ("text", "message", "lineno"),
    [
        ("a\n{{ x", "Missing end expression }}", 2),
        ("a\n\n{% if x", "Missing end block %}", 3),
        ("{# never closed", "Missing end comment #}", 1),
        ("x {{  }}", "Empty expression", 1),
        ("\n{%   %}", "Empty block tag", 2),
        ("{% frobnicate x %}", "unknown directive {% frobnicate %}", 1),
        ("a\n{% end %}", "Extra {% end %} block", 2),
        ("\n{% if x %}\nnever closed\n", "Missing {% end %} block for {% if %}", 2),
        ("{% for x in y %}{% if 1 %}{% end %}", "Missing {% end %} block for {% for %}", 1),
        ("{% else %}", "{% else %} outside of an if / for / while / try block", 1),
        ("{% for x in y %}{% elif z %}{% end %}", "cannot be attached to a {% for %}", 1),
        ("{% if x %}{% except %}{% end %}", "cannot be attached to a {% if %}", 1),
        ("{% while x %}{% finally %}{% end %}", "cannot be attached to a {% while %}", 1),
        ("{% break %}", "{% break %} outside of a for / while loop", 1),
        ("{% if x %}{% continue %}{% end %}", "{% continue %} outside", 1),
        ("{% block %}{% end %}", "{% block %} missing name", 1),
        ("{% extends %}", "{% extends %} missing file path", 1),
        ("{% extends '' %}", "{% extends %} missing file path", 1),
        ("{% include %}", "{% include %} missing file path", 1),
        ("{% set %}", "{% set %} missing statement", 1),
        ("{% import %}", "{% import %} missing statement", 1),
        ("{% apply %}x{% end %}", "{% apply %} missing function name", 1),
        ("{% raw %}", "{% raw %} missing expression", 1),
        ("{% module %}", "{% module %} missing expression", 1),
        ("{% autoescape %}", "{% autoescape %} missing", 1),
    ],
)
def test_parse_errors(text: str, message: str, lineno: int) -> None:
    with pytest.raises(ParseError) as info:
        Template(text, name="bad.html")
    err = info.value
    assert message in err.message
    assert err.filename == "bad.html"
    assert err.lineno == lineno
    assert str(err) == f"{err.message} at bad.html:{lineno}"


@pytest.mark.parametrize(
    ("text", "lineno"),
    [
        ("ok\n{{ 1 + }}", 2),
        ("{% if x %}\n\n{% set = 3 %}{% end %}", 3),
        ("{% for in x %}{% end %}", 1),
        ("a\nb\n{% if x: %}{% end %}", 3),
        ("{% try %}{% end %}", 1),
    ],
)
def test_invalid_python_is_a_parse_error_with_location(text: str, lineno: int) -> None:
    with pytest.raises(ParseError) as info:
        Template(text, name="py.html")
    assert info.value.filename == "py.html"
    assert info.value.lineno == lineno
    assert "invalid Python" in info.value.message


def test_invalid_python_in_child_block_names_the_child() -> None:
    loader = DictLoader(
        {
            "base.html": "{% block b %}{% end %}",
            "child.html": "{% extends 'base.html' %}\n{% block b %}\n{{ 1 + }}{% end %}",
        }
    )
    with pytest.raises(ParseError) as info:
        loader.load("child.html")
    assert (info.value.filename, info.value.lineno) == ("child.html", 3)


def test_odd_template_names_and_control_characters() -> None:
    t = Template("{{ 1 }}\n{{ 1 / 0 }}", name="evil\nname\r\x00.html")
    assert "\\x0a" in t.code
    exc = _raise_from(t)
    assert template_location(exc) == ("evil\nname\r\x00.html", 2)
    with pytest.raises(ParseError, match="NUL") as info:
        Template("a\n{{ x\x00 }}", name="nul.txt")
    assert info.value.lineno == 2
    assert Template("a\x00b\r\n{{ x }}").generate(x=1) == b"a\x00b\r\n1"


def test_carriage_returns_in_tags_keep_line_mapping() -> None:
    t = Template("{{ a +\r\n b }}\n{{ 1 / 0 }}", name="crlf.txt")
    exc = _raise_from(t, a=1, b=2)
    assert template_location(exc) == ("crlf.txt", 3)


def test_parse_error_line_after_multiline_text_and_tags() -> None:
    text = "line1\nline2\n{% if x\n %}\n{{ y\n }}\n{% bogus %}"
    with pytest.raises(ParseError) as info:
        Template(text, name="m.txt")
    assert info.value.lineno == 7


def test_parse_error_str_and_pickle() -> None:
    err = ParseError("boom", "t.html", 3)
    assert str(err) == "boom at t.html:3"
    assert str(ParseError("boom")) == "boom"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.message, copy.filename, copy.lineno) == ("boom", "t.html", 3)
    nf = TemplateNotFoundError("gone", "a.html", 2, template_name="b.html")
    assert str(nf) == "gone at a.html:2"
    copy2 = pickle.loads(pickle.dumps(nf))
    assert isinstance(copy2, TemplateNotFoundError)
    assert str(copy2) == "gone at a.html:2"
    assert issubclass(TemplatePathError, ValueError)
    assert issubclass(TemplatePathError, ParseError)


# ---------------------------------------------------------------------------
# Runtime errors: line mapping


def _raise_from(t: Template, **kwargs: Any) -> BaseException:
    with pytest.raises(Exception) as info:
        t.generate(**kwargs)
    return info.value


def test_runtime_error_location_and_note() -> None:
    t = Template("line 1\nline 2 {{ x }}\nline 3 {{ 1 / zero }}\n", name="page.html")
    exc = _raise_from(t, x=1, zero=0)
    assert isinstance(exc, ZeroDivisionError)
    assert template_location(exc) == ("page.html", 3)
    assert template_location(exc.__traceback__) == ("page.html", 3)
    assert exc.__notes__ == ["in template page.html:3"]
    formatted = "".join(traceback.format_exception(exc))
    assert "# page.html:3" in formatted
    assert "1 / zero" in formatted
    assert "in template page.html:3" in formatted


def test_runtime_error_in_control_statement() -> None:
    t = Template("a\n{% for i in items %}\n{{ i }}\n{% end %}", name="loop.html")
    exc = _raise_from(t, items=5)
    assert isinstance(exc, TypeError)
    assert template_location(exc) == ("loop.html", 2)


def test_runtime_error_in_multiline_expression() -> None:
    t = Template("a\n{{ ok +\n  missing_name }}", name="ml.html")
    exc = _raise_from(t, ok=1)
    assert isinstance(exc, NameError)
    assert template_location(exc) == ("ml.html", 3)


def test_runtime_error_in_called_function_maps_to_calling_line() -> None:
    def explode() -> None:
        raise RuntimeError("boom")

    t = Template("\n\n{{ explode() }}", name="call.html")
    exc = _raise_from(t, explode=explode)
    assert template_location(exc) == ("call.html", 3)


def test_runtime_error_in_include_and_blocks() -> None:
    loader = DictLoader(
        {
            "base.html": "b1\n{% block body %}{% end %}\n{{ base_fail() }}",
            "child.html": "{% extends 'base.html' %}\n{% block body %}\n{{ child_fail() }}\n{% end %}",
            "page.html": "p1\np2 {% include 'part.html' %}",
            "part.html": "\n\n\n{{ part_fail() }}",
        }
    )

    def fail() -> None:
        raise ValueError("x")

    def ok() -> str:
        return ""

    exc = _raise_from(loader.load("child.html"), child_fail=fail, base_fail=ok)
    assert template_location(exc) == ("child.html", 3)
    exc = _raise_from(loader.load("child.html"), child_fail=ok, base_fail=fail)
    assert template_location(exc) == ("base.html", 3)
    exc = _raise_from(loader.load("page.html"), part_fail=fail)
    assert template_location(exc) == ("part.html", 4)
    formatted = "".join(traceback.format_exception(exc))
    assert "# part.html:4 (via page.html:2)" in formatted


def test_runtime_error_in_apply_block() -> None:
    t = Template("{% apply f %}\n{{ 1 / 0 }}{% end %}", name="ap.html")
    exc = _raise_from(t, f=lambda b: b)
    assert template_location(exc) == ("ap.html", 2)


def test_nested_template_rendering_notes_once() -> None:
    inner = Template("\n{{ 1 / 0 }}", name="inner.html")
    outer = Template("{% raw render() %}", name="outer.html")
    exc = _raise_from(outer, render=inner.generate)
    assert template_location(exc) == ("inner.html", 2)
    assert exc.__notes__ == ["in template inner.html:2"]


def test_template_location_without_template_frames() -> None:
    assert template_location(None) is None
    try:
        raise ValueError("x")
    except ValueError as exc:
        assert template_location(exc) is None
        assert template_location(exc.__traceback__) is None


def test_runtime_errors_of_same_named_templates_show_their_own_source() -> None:
    a = Template("{{ 1 / 0 }}  {# AAA #}")
    b = Template("\n{{ None + 1 }}")
    exc_a = _raise_from(a)
    "".join(traceback.format_exception(exc_a))  # fills linecache for a
    exc_b = _raise_from(b)
    formatted = "".join(traceback.format_exception(exc_b))
    assert "None + 1" in formatted
    assert template_location(exc_b) == ("<string>", 2)


# ---------------------------------------------------------------------------
# Loader (files)


def _write(root: Any, name: str, text: str) -> None:
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def test_loader_loads_files(tmp_path: Any) -> None:
    _write(tmp_path, "base.html", "<h1>{% block t %}{% end %}</h1>")
    _write(tmp_path, "page.html", "{% extends 'base.html' %}{% block t %}{{ x }}{% end %}")
    _write(
        tmp_path, "blog/post.html", "{% include 'bits/meta.html' %}|{% include '../base.html' %}"
    )
    _write(tmp_path, "blog/bits/meta.html", "meta \u00e9")
    loader = Loader(str(tmp_path))
    assert loader.root == str(tmp_path)
    assert loader.load("page.html").generate(x="<") == b"<h1>&lt;</h1>"
    assert loader.load("blog/post.html").generate() == "meta \u00e9|<h1></h1>".encode()
    assert loader.load("./blog//post.html") is loader.load("blog/post.html")
    assert loader.load("blog/post.html").name == "blog/post.html"
    assert Loader(tmp_path).load("page.html").generate(x=1) == b"<h1>1</h1>"


def test_loader_absolute_path_inside_root(tmp_path: Any) -> None:
    _write(tmp_path, "a.html", "A")
    loader = Loader(str(tmp_path))
    assert loader.load(os.path.join(str(tmp_path), "a.html")).generate() == b"A"
    assert loader.load(os.path.join(str(tmp_path), "a.html")) is loader.load("a.html")


@pytest.mark.parametrize(
    "name",
    ["../secret.txt", "a/../../secret.txt", "/etc/passwd", "..", ".", "", "x\x00.html"],
)
def test_loader_refuses_names_outside_root(tmp_path: Any, name: str) -> None:
    root = tmp_path / "templates"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("SECRET")
    loader = Loader(str(root))
    with pytest.raises(TemplatePathError) as info:
        loader.load(name)
    assert "SECRET" not in str(info.value)
    assert loader.templates == {}


def test_loader_refuses_sibling_directory_with_common_prefix(tmp_path: Any) -> None:
    (tmp_path / "templates").mkdir()
    _write(tmp_path, "templates-private/x.html", "PRIVATE")
    loader = Loader(str(tmp_path / "templates"))
    with pytest.raises(TemplatePathError):
        loader.load("../templates-private/x.html")
    with pytest.raises(TemplatePathError):
        loader.load(str(tmp_path / "templates-private" / "x.html"))


def test_loader_refuses_traversal_from_directives(tmp_path: Any) -> None:
    root = tmp_path / "templates"
    _write(root, "page.html", "a\n{% include '../../secret.txt' %}")
    _write(root, "sub/child.html", "{% extends '../../secret.txt' %}")
    (tmp_path / "secret.txt").write_text("SECRET")
    loader = Loader(str(root))
    with pytest.raises(TemplatePathError) as info:
        loader.load("page.html")
    assert (info.value.filename, info.value.lineno) == ("page.html", 2)
    with pytest.raises(TemplatePathError):
        loader.load("sub/child.html")


def test_loader_missing_template(tmp_path: Any) -> None:
    (tmp_path / "dir").mkdir()
    _write(tmp_path, "file.html", "x")
    loader = Loader(str(tmp_path))
    for name in ("nope.html", "dir", "file.html/x"):
        with pytest.raises(TemplateNotFoundError) as info:
            loader.load(name)
        assert info.value.filename is None
        assert info.value.template_name == name
        assert name in str(info.value)


def test_loader_cache_and_reset(tmp_path: Any) -> None:
    _write(tmp_path, "a.html", "one")
    loader = Loader(str(tmp_path))
    first = loader.load("a.html")
    _write(tmp_path, "a.html", "two")
    assert loader.load("a.html") is first
    assert first.generate() == b"one"
    loader.reset()
    second = loader.load("a.html")
    assert second is not first
    assert second.generate() == b"two"


def test_loader_remembers_requested_names_within_a_bound(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import squall.template._loader as loader_module

    monkeypatch.setattr(loader_module, "_MAX_REQUESTED_NAMES", 3)
    _write(tmp_path, "a.html", "A")
    loader = Loader(str(tmp_path))
    first = loader.load("a.html")
    for depth in range(1, 10):
        assert loader.load("./" * depth + "a.html") is first
    assert len(loader._requested) == 3
    assert list(loader.templates) == ["a.html"]
    loader.reset()
    assert loader._requested == {}
    assert loader.load("./a.html") is not first
    with pytest.raises(TemplatePathError):
        loader.load("../a.html")
    assert ("../a.html", None) not in loader._requested


def test_loader_options_are_passed_to_templates(tmp_path: Any) -> None:
    _write(tmp_path, "a.html", "{{ v }}   {{ extra }}")
    loader = Loader(str(tmp_path), autoescape=None, whitespace="all", namespace={"extra": "E"})
    t = loader.load("a.html")
    assert t.generate(v="<") == b"<   E"
    assert t.loader is loader
    assert t.autoescape is None


# ---------------------------------------------------------------------------
# DictLoader and custom loaders


def test_dict_loader_reset() -> None:
    templates = {"a.html": "one"}
    loader = DictLoader(templates)
    first = loader.load("a.html")
    assert first.generate() == b"one"
    templates["a.html"] = "two"
    assert loader.load("a.html").generate() == b"one"
    loader.reset()
    assert loader.load("a.html").generate() == b"two"
    assert loader.load("a.html") is not first


def test_dict_loader_missing_is_keyerror() -> None:
    loader = DictLoader({})
    with pytest.raises(KeyError):
        loader.load("x.html")
    with pytest.raises(TemplateNotFoundError, match="x.html"):
        loader.load("x.html")


class CountingLoader(DictLoader):
    def __init__(self, *args: Any, delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.created: list[str] = []
        self.delay = delay

    def _create_template(self, name: str) -> Template:
        self.created.append(name)
        if self.delay:
            time.sleep(self.delay)
        return super()._create_template(name)


def test_cache_compiles_each_template_once() -> None:
    loader = CountingLoader(
        {
            "base.html": "{% block b %}{% end %}",
            "a.html": "{% extends 'base.html' %}{% block b %}{% include 'p.html' %}{% end %}",
            "b.html": "{% extends 'base.html' %}{% block b %}{% include 'p.html' %}{% end %}",
            "p.html": "p",
        }
    )
    for _ in range(3):
        assert loader.load("a.html").generate() == b"p"
        assert loader.load("b.html").generate() == b"p"
    assert sorted(loader.created) == ["a.html", "b.html", "base.html", "p.html"]
    assert set(loader.templates) == {"a.html", "b.html", "base.html", "p.html"}


def test_failed_load_is_not_cached() -> None:
    templates = {"a.html": "{% if %}"}
    loader = CountingLoader(templates)
    with pytest.raises(ParseError):
        loader.load("a.html")
    templates["a.html"] = "fixed"
    assert loader.load("a.html").generate() == b"fixed"
    assert loader.created == ["a.html", "a.html"]


def test_cache_is_thread_safe() -> None:
    loader = CountingLoader(
        {
            "page.html": "{% extends 'base.html' %}{% block b %}{{ n }}{% end %}",
            "base.html": "[{% block b %}{% end %}]",
        },
        delay=0.02,
    )
    barrier = threading.Barrier(6)
    results: list[Template] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            t = loader.load("page.html")
            out = t.generate(n=1)
            with lock:
                results.append(t)
            assert out == b"[1]"
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(results) == 6
    assert all(t is results[0] for t in results)
    assert sorted(loader.created) == ["base.html", "page.html"]


def test_concurrent_generate_of_one_template() -> None:
    t = Template("{% for i in range(n) %}{{ i }}{% end %}")
    outputs: list[bytes] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for _ in range(50):
            out = t.generate(n=n)
            with lock:
                outputs.append(out)

    threads = [threading.Thread(target=worker, args=(n,)) for n in (3, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(set(outputs)) == [b"012", b"01234"]
    assert len(outputs) == 100


def test_custom_base_loader_subclass() -> None:
    class UpperLoader(BaseLoader):
        def resolve_path(self, name: str, parent_path: str | None = None) -> str:
            return name.lower()

        def _create_template(self, name: str) -> Template:
            return Template("{{ name }}:" + name, name=name, loader=self)

    loader = UpperLoader(namespace={"name": "n"})
    t = loader.load("A.TXT")
    assert t is loader.load("a.txt")
    assert t.generate() == b"n:a.txt"


def test_base_loader_hooks_are_abstract() -> None:
    loader = BaseLoader()
    with pytest.raises(NotImplementedError):
        loader.load("x")
    with pytest.raises(NotImplementedError):
        loader._create_template("x")


# ---------------------------------------------------------------------------
# Jinja2


def _need_jinja2() -> Any:
    return pytest.importorskip("jinja2")


def test_jinja2_loader_renders_bytes_with_html_autoescape(tmp_path: Any) -> None:
    _need_jinja2()
    _write(tmp_path, "page.html", "{% extends 'base.html' %}{% block b %}{{ v }}{% endblock %}")
    _write(tmp_path, "base.html", "<p>{% block b %}{% endblock %}</p>")
    _write(tmp_path, "plain.txt", "{{ v }} \u00e9")
    loader = Jinja2Loader(str(tmp_path))
    t = loader.load("page.html")
    assert t.name == "page.html"
    assert repr(t) == "<Jinja2Template 'page.html'>"
    assert t.generate(v="<b>") == b"<p>&lt;b&gt;</p>"
    assert loader.load("plain.txt").generate(v="<b>") == "<b> \u00e9".encode()
    assert loader.root == str(tmp_path)


def test_jinja2_loader_with_environment_and_namespace(tmp_path: Any) -> None:
    jinja = _need_jinja2()
    env = jinja.Environment(loader=jinja.DictLoader({"a.txt": "{{ greet }} {{ who }}"}))
    loader = Jinja2Loader(env, namespace={"greet": "hi"})
    assert loader.environment is env
    assert loader.root is None
    assert loader.load("a.txt").generate(who="you") == b"hi you"
    with pytest.raises(TypeError, match="not both"):
        Jinja2Loader(env, autoescape=True)


def test_jinja2_loader_rejects_other_arguments() -> None:
    _need_jinja2()
    with pytest.raises(TypeError, match="directory or a jinja2.Environment"):
        Jinja2Loader(42)  # type: ignore[arg-type]


def test_jinja2_loader_env_kwargs(tmp_path: Any) -> None:
    _need_jinja2()
    _write(tmp_path, "a.html", "{{ v }}")
    loader = Jinja2Loader(str(tmp_path), autoescape=False)
    assert loader.load("a.html").generate(v="<") == b"<"


def test_jinja2_loader_errors(tmp_path: Any) -> None:
    _need_jinja2()
    _write(tmp_path, "templates/bad.html", "ok\n{% if %}")
    (tmp_path / "secret.txt").write_text("SECRET")
    loader = Jinja2Loader(str(tmp_path / "templates"))
    with pytest.raises(TemplateNotFoundError) as info:
        loader.load("missing.html")
    assert info.value.template_name == "missing.html"
    with pytest.raises(TemplateNotFoundError):
        loader.load("../secret.txt")
    with pytest.raises(ParseError) as perr:
        loader.load("bad.html")
    assert perr.value.filename == "bad.html"
    assert perr.value.lineno == 2


def test_jinja2_runtime_error_location(tmp_path: Any) -> None:
    _need_jinja2()
    _write(tmp_path, "boom.html", "a\nb\n{{ 1 / zero }}")
    loader = Jinja2Loader(str(tmp_path))
    with pytest.raises(ZeroDivisionError) as info:
        loader.load("boom.html").generate(zero=0)
    location = template_location(info.value)
    assert location is not None
    assert location[0].endswith("boom.html")
    assert location[1] == 3


def test_jinja2_loader_reset_recompiles(tmp_path: Any) -> None:
    _need_jinja2()
    _write(tmp_path, "a.txt", "one")
    loader = Jinja2Loader(str(tmp_path), auto_reload=False)
    assert loader.load("a.txt").generate() == b"one"
    _write(tmp_path, "a.txt", "two")
    assert loader.load("a.txt").generate() == b"one"
    loader.reset()
    assert loader.load("a.txt").generate() == b"two"
    Jinja2Loader(str(tmp_path), cache_size=0).reset()  # no cache: nothing to do


def test_jinja2_missing_gives_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match=r"squall-web\[jinja2\]"):
        Jinja2Loader("/nonexistent")


# ---------------------------------------------------------------------------
# Tornado-style templates, end to end


def test_realistic_page() -> None:
    templates = {
        "base.html": (
            "<!DOCTYPE html>\n<html>\n  <head>\n    <title>{% block title %}Site{% end %}</title>\n"
            "  </head>\n  <body>\n    {% block body %}{% end %}\n  </body>\n</html>\n"
        ),
        "entries.html": (
            '{% extends "base.html" %}\n'
            "{% block title %}{{ title }} - {% raw escape(site) %}{% end %}\n"
            "{% block body %}\n"
            "  {% import datetime %}\n"
            "  <ul>\n"
            "  {% for entry in entries %}\n"
            "    {% if entry.get('hidden') %}{% continue %}{% end %}\n"
            "    <li>{{ entry['title'] }} ({{ entry['when'].year }})"
            "{% module Entry(entry['title']) %}</li>\n"
            "  {% end %}\n"
            "  </ul>\n"
            "  {# a comment #}\n"
            "  <script>var data = {% raw json_encode(data) %};</script>\n"
            "{% end %}\n"
        ),
    }
    when = datetime.date(2021, 5, 1)
    out = dict_render(
        templates,
        "entries.html",
        title="Blog & more",
        site="<S>",
        entries=[
            {"title": "<First>", "when": when},
            {"title": "hidden", "when": when, "hidden": True},
        ],
        data={"x": "</script>"},
        _tt_modules=_Modules(),
    )
    text = out.decode()
    assert "<title>Blog &amp; more - &lt;S&gt;</title>" in text
    assert "<li>&lt;First&gt; (2021)<div><First>:0</div></li>" in text
    assert "hidden" not in text
    assert 'var data = {"x": "<\\/script>"};' in text
    assert "comment" not in text
    assert "  \n" not in text  # "single" whitespace for .html
