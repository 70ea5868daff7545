"""squall.web: render(), UI modules and methods, locale and static URL hooks."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from squall import web
from squall.testing import ExpectLog


def write_templates(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (root / name).write_text(text)
    return str(root)


class Page(web.RequestHandler):
    def initialize(self, template: str = "page.html", **kwargs: Any) -> None:
        self.template = template
        self.kwargs = kwargs

    def get(self) -> None:
        self.render(self.template, title="<Hi>", **self.kwargs)


class Entry(web.UIModule):
    def render(self, text: str) -> str:
        return f"<p>{text}</p>"

    def embedded_javascript(self) -> str:
        return "var entry = 1;"

    def javascript_files(self) -> list[str]:
        return ["https://cdn.example/entry.js", "/js/local.js"]

    def embedded_css(self) -> str:
        return ".entry { color: red }"

    def css_files(self) -> str:
        return "/css/entry.css"

    def html_head(self) -> str:
        return '<meta name="entry">'

    def html_body(self) -> str:
        return "<!-- entry body -->"


def shout(handler: web.RequestHandler, text: str) -> str:
    return f"{text.upper()} from {type(handler).__name__}"


PAGE = """<html><head><title>{{ title }}</title></head><body>
{% module Entry("one") %}{% module Entry("two") %}
{{ shout("hey") }}|{{ current_user }}|{{ request.path }}
</body></html>"""


async def test_render_with_modules_and_methods(fake_client: Any, tmp_path: Path) -> None:
    path = write_templates(tmp_path, {"page.html": PAGE})
    app = web.Application(
        [(r"/", Page)],
        template_path=path,
        ui_modules={"Entry": Entry},
        ui_methods={"shout": shout, "_private": shout, "NotAMethod": shout},
    )
    response = await fake_client(app).fetch("/page")
    assert response.code == 404
    response = await fake_client(app).fetch("/")
    assert response.code == 200
    html = response.text
    assert "<title>&lt;Hi&gt;</title>" in html
    assert "<p>one</p><p>two</p>" in html
    assert "HEY from Page|None|/" in html
    head, body = html.split("</head>")
    # CSS (linked then embedded) and html_head go before </head>, once.
    assert head.count('<link href="/css/entry.css" type="text/css" rel="stylesheet"/>') == 1
    assert '<style type="text/css">\n.entry { color: red }\n</style>' in head
    assert '<meta name="entry">' in head
    # Scripts and html_body before </body>, once each.
    assert body.count('<script src="https://cdn.example/entry.js"') == 1
    assert body.count('<script src="/js/local.js"') == 1
    assert "var entry = 1;" in body
    assert body.index("<!-- entry body -->") < body.index("</body>")
    assert sorted(app.ui_methods) == ["shout"]


async def test_ui_modules_from_module_and_list(fake_client: Any, tmp_path: Path) -> None:
    modules = types.ModuleType("my_modules")
    modules.Entry = Entry  # type: ignore[attr-defined]
    modules.not_a_module = 42  # type: ignore[attr-defined]
    methods = types.ModuleType("my_methods")
    methods.shout = shout  # type: ignore[attr-defined]
    app = web.Application([], ui_modules=[modules, {}], ui_methods=[methods])
    assert app.ui_modules["Entry"] is Entry
    assert "not_a_module" not in app.ui_modules
    assert {"linkify", "xsrf_form_html", "Template"} <= set(app.ui_modules)
    assert app.ui_methods["shout"] is shout


async def test_template_module_and_builtin_modules(fake_client: Any, tmp_path: Path) -> None:
    path = write_templates(
        tmp_path,
        {
            "page.html": (
                "<html><head></head><body>"
                '{% module Template("item.html", n=1) %}{% module Template("item.html", n=2) %}'
                '{% module linkify("see http://example.com") %}'
                "{% module xsrf_form_html() %}"
                "</body></html>"
            ),
            "item.html": (
                '{{ set_resources(embedded_css=".item{}", javascript_files=["/item.js"]) }}'
                "<i>{{ n }}</i>"
            ),
        },
    )
    app = web.Application([(r"/", Page)], template_path=path)
    html = (await fake_client(app).fetch("/")).text
    assert "<i>1</i><i>2</i>" in html
    assert html.count(".item{}") == 1
    assert html.count('<script src="/item.js"') == 1
    assert '<a href="http://example.com">http://example.com</a>' in html
    assert '<input type="hidden" name="_xsrf" value="2|' in html


async def test_template_error_is_500_naming_template(fake_client: Any, tmp_path: Path) -> None:
    path = write_templates(tmp_path, {"page.html": "line one\n{{ 1 / 0 }}\n"})
    app = web.Application([(r"/", Page)], template_path=path)
    with ExpectLog(
        "squall.application", r"Uncaught exception GET / \(127.0.0.1\) \(in template page.html:2\)"
    ):
        response = await fake_client(app).fetch("/")
    assert response.code == 500


async def test_missing_template_is_500(fake_client: Any, tmp_path: Path) -> None:
    app = web.Application([(r"/", Page, {"template": "nope.html"})], template_path=str(tmp_path))
    with ExpectLog("squall.application", "Uncaught exception"):
        assert (await fake_client(app).fetch("/")).code == 500


async def test_autoescape_and_whitespace_settings(fake_client: Any, tmp_path: Path) -> None:
    path = write_templates(tmp_path, {"page.html": "<b>  {{ title }}  </b>\n\n\n"})
    app = web.Application(
        [(r"/", Page)], template_path=path, autoescape=None, template_whitespace="all"
    )
    web.RequestHandler._template_loaders.pop(path, None)
    assert (await fake_client(app).fetch("/")).text == "<b>  <Hi>  </b>\n\n\n"


class FakeTemplate:
    def __init__(self, loader: FakeLoader, name: str) -> None:
        self.loader = loader
        self.name = name

    def generate(self, **namespace: Any) -> bytes:
        self.loader.namespaces.append(namespace)
        return f"{self.name}:{namespace.get('title')}".encode()


class FakeLoader:
    def __init__(self) -> None:
        self.namespaces: list[dict[str, Any]] = []
        self.resets = 0

    def load(self, name: str, parent_path: str | None = None) -> FakeTemplate:
        return FakeTemplate(self, name)

    def reset(self) -> None:
        self.resets += 1


async def test_template_loader_setting_and_namespace(fake_client: Any) -> None:
    loader = FakeLoader()
    app = web.Application(
        [(r"/", Page)],
        template_loader=loader,
        compiled_template_cache=False,
        ui_methods={"shout": shout},
    )
    web.RequestHandler._template_loaders.clear()
    client = fake_client(app)
    response = await client.fetch("/")
    assert response.text == "page.html:<Hi>"
    namespace = loader.namespaces[0]
    for name in (
        "handler",
        "request",
        "current_user",
        "locale",
        "_",
        "pgettext",
        "static_url",
        "xsrf_form_html",
        "reverse_url",
        "modules",
        "_tt_modules",
        "shout",
    ):
        assert name in namespace, name
    assert namespace["_"]("hello") == "hello"
    await client.fetch("/")
    await client.fetch("/")
    # compiled_template_cache=False resets the cached loaders before each
    # request (the first request had none cached yet).
    assert loader.resets == 2
    # Another application with another loader for the same path gets its own.
    other = FakeLoader()
    app2 = web.Application([(r"/", Page)], template_loader=other)
    assert (await fake_client(app2).fetch("/")).text == "page.html:<Hi>"
    assert len(other.namespaces) == 1


async def test_jinja2_loader_setting(fake_client: Any, tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    from squall.template import Jinja2Loader

    path = write_templates(tmp_path, {"page.html": "<i>{{ title }}</i> {{ request.path }}"})
    app = web.Application([(r"/", Page)], template_loader=Jinja2Loader(path))
    web.RequestHandler._template_loaders.clear()
    assert (await fake_client(app).fetch("/")).text == "<i>&lt;Hi&gt;</i> /"


async def test_default_template_path_is_callers_directory(fake_client: Any) -> None:
    seen = []

    class Where(web.RequestHandler):
        def create_template_loader(self, template_path: str) -> Any:
            seen.append(template_path)
            return FakeLoader()

        def get(self) -> None:
            self.write(self.render_string("x.html"))

    web.RequestHandler._template_loaders.clear()
    await fake_client(web.Application([(r"/", Where)])).fetch("/")
    assert seen == [os.path.dirname(os.path.abspath(__file__))]
    web.RequestHandler._template_loaders.clear()


async def test_render_after_finish_refused(fake_client: Any) -> None:
    class Twice(web.RequestHandler):
        def get(self) -> None:
            self.finish("x")
            self.render("page.html")

    with ExpectLog("squall.application", "Uncaught exception") as log:
        await fake_client(web.Application([(r"/", Twice)])).fetch("/")
    assert "cannot render() after finish()" in str(log.records[0].exc_info[1])  # type: ignore[index]


# -- locale -------------------------------------------------------------------------


async def test_browser_locale_from_accept_language(
    fake_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import squall.locale

    asked = []
    real_get = squall.locale.get

    def spy(*codes: str) -> Any:
        asked.append(codes)
        return real_get(*codes)

    monkeypatch.setattr(squall.locale, "get", spy)

    class Lang(web.RequestHandler):
        def get(self) -> None:
            self.write(self.locale.code)

    client = fake_client(web.Application([(r"/", Lang)]))
    response = await client.fetch("/", headers={"Accept-Language": "fr-FR;q=0.5, de, xx;q=0"})
    assert response.text == "en_US"
    assert asked == [("de", "fr_FR")]
    asked.clear()
    await client.fetch("/")
    assert asked == [("en_US",)]


async def test_user_locale_override(fake_client: Any) -> None:
    import squall.locale

    class Chosen(web.RequestHandler):
        def get_user_locale(self) -> Any:
            return squall.locale.get("en_US")

        def get_browser_locale(self, default: str = "en_US") -> Any:
            raise AssertionError("not used when the user chose")

        def get(self) -> None:
            self.write(self.locale.code)

    assert (await fake_client(web.Application([(r"/", Chosen)])).fetch("/")).text == "en_US"


# -- static URL hooks ----------------------------------------------------------------


class FakeStatic(web.RequestHandler):
    resets = 0

    def initialize(self, path: str, **kwargs: Any) -> None:
        self.root = path

    def get(self, path: str) -> None:
        self.write(f"static {path} from {self.root}")

    @classmethod
    def make_static_url(
        cls, settings: dict[str, Any], path: str, include_version: bool = True
    ) -> str:
        url: str = settings.get("static_url_prefix", "/static/") + path
        return url + "?v=1" if include_version else url

    @classmethod
    def reset(cls) -> None:
        cls.resets += 1


class Links(web.RequestHandler):
    include_host = False

    def get(self) -> None:
        self.write(
            " ".join(
                [
                    self.static_url("a.css"),
                    self.static_url("a.css", include_version=False),
                    self.static_url("b.js", include_host=True),
                ]
            )
        )


async def test_static_hooks(fake_client: Any, tmp_path: Path) -> None:
    app = web.Application(
        [(r"/links", Links)],
        static_path=str(tmp_path),
        static_handler_class=FakeStatic,
        static_url_prefix="/assets/",
        static_hash_cache=False,
    )
    client = fake_client(app)
    response = await client.fetch("/links", headers={"Host": "h.example"})
    assert response.text == "/assets/a.css?v=1 /assets/a.css http://h.example/assets/b.js?v=1"
    response = await client.fetch("/assets/x/y.txt")
    assert response.text == f"static x/y.txt from {tmp_path}"
    assert (await client.fetch("/favicon.ico")).text.startswith("static favicon.ico")
    assert (await client.fetch("/robots.txt")).text.startswith("static robots.txt")
    assert FakeStatic.resets >= 4  # static_hash_cache=False resets before each request


async def test_static_url_needs_static_path(fake_client: Any) -> None:
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(web.Application([(r"/", Links)])).fetch("/")
    assert response.code == 500
    error = log.records[0].exc_info[1]  # type: ignore[index]
    assert isinstance(error, web.MissingSettingError)
    assert "static_path" in str(error)


def test_default_static_handler_class(tmp_path: Path) -> None:
    app = web.Application([], static_path=str(tmp_path))
    targets = [rule.target for rule in app.wildcard_router.rules]
    assert [t.__name__ for t in targets] == ["StaticFileHandler"] * 3
    assert web.StaticFileHandler is targets[0]


def test_missing_static_module_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "squall.web._static", None)
    with pytest.raises(ImportError, match="static_handler_class"):
        web.Application([], static_path=str(tmp_path))
