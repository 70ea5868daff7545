"""Templates, UI modules, locale and URL helpers of a request handler.

:mod:`squall.template`, :mod:`squall.locale` and the static file handler
(``squall.web._static``) are imported only when first used.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from squall.escape import utf8, xhtml_escape
from squall.util import ObjectDict
from squall.web._errors import UsageError
from squall.web._xsrf import _XSRFHandler

if TYPE_CHECKING:
    from squall.web._uimodules import UIModule

__all__: list[str] = []

_WEB_DIR = os.path.dirname(os.path.abspath(__file__))


def _static_handler_class(settings: dict[str, Any]) -> Any:
    """The ``static_handler_class`` setting, or ``squall.web._static.StaticFileHandler``.

    :raises ImportError: naming the module, when the default is wanted and
        ``squall.web._static`` is not installed.
    """
    cls = settings.get("static_handler_class")
    if cls is not None:
        return cls
    try:
        from squall.web._static import StaticFileHandler  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        if exc.name not in ("squall.web._static",):
            raise
        raise ImportError(
            "static files need squall.web.StaticFileHandler (squall/web/_static.py), which "
            "is not installed; set the static_handler_class setting",
            name="squall.web._static",
        ) from exc
    return StaticFileHandler


def _locale_module() -> Any:
    import squall.locale  # type: ignore[import-not-found,unused-ignore]

    return squall.locale


def _is_absolute(path: str) -> bool:
    return path.startswith(("/", "http:", "https:"))


def _insert_before(html: bytes, marker: bytes, text: bytes, last: bool) -> bytes:
    """Insert ``text`` and a newline before ``marker`` (or at the end when it is absent)."""
    pos = html.rfind(marker) if last else html.find(marker)
    if pos < 0:
        return html + text + b"\n"
    return html[:pos] + text + b"\n" + html[pos:]


class _RenderHandler(_XSRFHandler):
    """Rendering methods of a request handler (see ``RequestHandler``)."""

    # Template loaders by template path, shared by every handler class.
    _template_loaders: dict[Any, Any] = {}
    _template_loader_lock = threading.Lock()

    _active_modules: dict[str, UIModule]

    # -- templates -------------------------------------------------------------

    def render(self, template_name: str, **kwargs: Any) -> Any:
        """Render template ``template_name`` with ``kwargs`` and finish with it.

        Scripts and styles declared by the UI modules the page used are
        inserted: linked and embedded CSS and ``html_head`` before
        ``</head>``, linked and embedded JavaScript and ``html_body`` before
        ``</body>``.

        :returns: the Future of :meth:`finish`.
        :raises UsageError: after :meth:`finish`.

        .. versionadded:: 0.1.0
        """
        if self._finished:
            raise UsageError("cannot render() after finish()")
        html = self.render_string(template_name, **kwargs)
        modules = getattr(self, "_active_modules", None)
        if modules:
            html = self._insert_module_resources(html, list(modules.values()))
        return self.finish(html)

    def _insert_module_resources(self, html: bytes, modules: list[UIModule]) -> bytes:
        js_embed: list[bytes] = []
        js_files: list[str] = []
        css_embed: list[bytes] = []
        css_files: list[str] = []
        heads: list[bytes] = []
        bodies: list[bytes] = []

        def add_files(target: list[str], files: Iterable[str] | str | bytes | None) -> None:
            if not files:
                return
            if isinstance(files, (str, bytes)):
                target.append(files if isinstance(files, str) else files.decode())
            else:
                target.extend(files)

        for module in modules:
            embed = module.embedded_javascript()
            if embed:
                js_embed.append(utf8(embed))
            add_files(js_files, module.javascript_files())
            embed = module.embedded_css()
            if embed:
                css_embed.append(utf8(embed))
            add_files(css_files, module.css_files())
            head = module.html_head()
            if head:
                heads.append(utf8(head))
            body = module.html_body()
            if body:
                bodies.append(utf8(body))
        if js_files:
            html = _insert_before(html, b"</body>", utf8(self.render_linked_js(js_files)), True)
        if js_embed:
            html = _insert_before(html, b"</body>", utf8(self.render_embed_js(js_embed)), True)
        if css_files:
            html = _insert_before(html, b"</head>", utf8(self.render_linked_css(css_files)), False)
        if css_embed:
            html = _insert_before(html, b"</head>", utf8(self.render_embed_css(css_embed)), False)
        if heads:
            html = _insert_before(html, b"</head>", b"".join(heads), False)
        if bodies:
            html = _insert_before(html, b"</body>", b"".join(bodies), True)
        return html

    def _unique_urls(self, paths: Iterable[str]) -> list[str]:
        urls: list[str] = []
        seen: set[str] = set()
        for path in paths:
            url = path if _is_absolute(path) else self.static_url(path)
            if url not in seen:
                seen.add(url)
                urls.append(url)
        return urls

    def render_linked_js(self, js_files: Iterable[str]) -> str:
        """Return ``<script src=...>`` tags for ``js_files``.

        Relative paths go through :meth:`static_url`; duplicates are dropped.

        .. versionadded:: 0.1.0
        """
        return "".join(
            f'<script src="{xhtml_escape(url)}" type="text/javascript"></script>'
            for url in self._unique_urls(js_files)
        )

    def render_embed_js(self, js_embed: Iterable[bytes]) -> bytes:
        """Return one ``<script>`` element holding the inline scripts.

        .. versionadded:: 0.1.0
        """
        return (
            b'<script type="text/javascript">\n//<![CDATA[\n'
            + b"\n".join(js_embed)
            + b"\n//]]>\n</script>"
        )

    def render_linked_css(self, css_files: Iterable[str]) -> str:
        """Return ``<link rel="stylesheet">`` tags for ``css_files``.

        .. versionadded:: 0.1.0
        """
        return "".join(
            f'<link href="{xhtml_escape(url)}" type="text/css" rel="stylesheet"/>'
            for url in self._unique_urls(css_files)
        )

    def render_embed_css(self, css_embed: Iterable[bytes]) -> bytes:
        """Return one ``<style>`` element holding the inline styles.

        .. versionadded:: 0.1.0
        """
        return b'<style type="text/css">\n' + b"\n".join(css_embed) + b"\n</style>"

    def render_string(self, template_name: str, **kwargs: Any) -> bytes:
        """Render a template and return the result (without sending it).

        The template is found by the loader of :meth:`get_template_path`
        (default: the directory of the module that called), made once per
        path by :meth:`create_template_loader` and cached. The namespace is
        :meth:`get_template_namespace` plus ``kwargs``.

        .. versionadded:: 0.1.0
        """
        template_path = self.get_template_path()
        if not template_path:
            frame = sys._getframe(1)
            while frame.f_back is not None and (
                os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _WEB_DIR
            ):
                frame = frame.f_back
            template_path = os.path.dirname(os.path.abspath(frame.f_code.co_filename))
        # Loaders are cached by path; with a template_loader setting, by that
        # loader too, so two applications with different loaders do not mix.
        setting = self.application.settings.get("template_loader")
        key: Any = template_path if setting is None else (template_path, id(setting))
        loaders = _RenderHandler._template_loaders
        with _RenderHandler._template_loader_lock:
            loader = loaders.get(key)
            if loader is None:
                loader = loaders[key] = self.create_template_loader(template_path)
        template = loader.load(template_name)
        namespace = self.get_template_namespace()
        namespace.update(kwargs)
        result = template.generate(**namespace)
        if isinstance(result, str):
            return result.encode()
        data: bytes = result
        return data

    def get_template_namespace(self) -> dict[str, Any]:
        """Return the names every template of this handler sees.

        ``handler``, ``request``, ``current_user``, ``locale``, ``_`` (the
        locale's ``translate``), ``pgettext``, ``static_url``,
        ``xsrf_form_html``, ``reverse_url``, and the ui methods and modules.
        Override to add your own.

        .. versionadded:: 0.1.0
        """
        namespace: dict[str, Any] = {
            "handler": self,
            "request": self.request,
            "current_user": self.current_user,
            "static_url": self.static_url,
            "xsrf_form_html": self.xsrf_form_html,
            "reverse_url": self.reverse_url,
        }
        try:
            locale = self.locale
        except ImportError as exc:
            if exc.name != "squall.locale":
                raise
        else:
            namespace["locale"] = locale
            namespace["_"] = locale.translate
            namespace["pgettext"] = locale.pgettext
        namespace.update(self.ui)
        return namespace

    def create_template_loader(self, template_path: str) -> Any:
        """Return the template loader for ``template_path``.

        The ``template_loader`` setting, if set, is used for every path
        (a :class:`squall.template.Loader`, a ``Jinja2Loader``, anything
        with ``load(name)`` returning an object with ``generate(**ns)``).
        Otherwise a :class:`squall.template.Loader`, given the
        ``autoescape`` and ``template_whitespace`` settings when set.

        .. versionadded:: 0.1.0
        """
        settings = self.application.settings
        if "template_loader" in settings:
            return settings["template_loader"]
        from squall import template

        kwargs: dict[str, Any] = {}
        if "autoescape" in settings:
            # None means "do not escape": only pass it when it was set.
            kwargs["autoescape"] = settings["autoescape"]
        if "template_whitespace" in settings:
            kwargs["whitespace"] = settings["template_whitespace"]
        return template.Loader(template_path, **kwargs)

    def get_template_path(self) -> str | None:
        """Return the template directory: the ``template_path`` setting by default.

        ``None`` means the directory of the module calling
        :meth:`render_string`.

        .. versionadded:: 0.1.0
        """
        path: str | None = self.application.settings.get("template_path")
        return path

    # -- ui methods and modules ------------------------------------------------

    @property
    def ui(self) -> ObjectDict:
        """The ``ui`` namespace: ui methods (bound to this handler) and ``modules``.

        .. versionadded:: 0.1.0
        """
        ui = self._ui
        if ui is not None:
            return ui  # type: ignore[no-any-return]
        from squall.web._uimodules import _UIModuleNamespace

        application = self.application
        ui = ObjectDict(
            (name, self._ui_method(method)) for name, method in application.ui_methods.items()
        )
        modules = _UIModuleNamespace(self, application.ui_modules)  # type: ignore[arg-type]
        ui["_tt_modules"] = modules
        ui["modules"] = modules
        self._ui = ui
        return ui

    @ui.setter
    def ui(self, value: ObjectDict) -> None:
        self._ui = value

    def _ui_module(self, name: str, module: type[UIModule]) -> Callable[..., Any]:
        def render(*args: Any, **kwargs: Any) -> Any:
            try:
                active = self._active_modules
            except AttributeError:
                active = self._active_modules = {}
            instance = active.get(name)
            if instance is None:
                instance = active[name] = module(self)  # type: ignore[arg-type]
            return instance.render(*args, **kwargs)

        return render

    def _ui_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *args, **kwargs: method(self, *args, **kwargs)

    # -- locale ----------------------------------------------------------------

    @property
    def locale(self) -> Any:
        """The locale of this request: :meth:`get_user_locale`, else :meth:`get_browser_locale`.

        Computed once; may be assigned. Needs :mod:`squall.locale`.

        .. versionadded:: 0.1.0
        """
        try:
            return self._locale
        except AttributeError:
            pass
        locale = self.get_user_locale()
        if locale is None:
            locale = self.get_browser_locale()
        self._locale: Any = locale
        return locale

    @locale.setter
    def locale(self, value: Any) -> None:
        self._locale = value

    def get_user_locale(self) -> Any:
        """Override to return the user's chosen ``squall.locale.Locale``, or ``None``.

        ``None`` (the default) falls back to :meth:`get_browser_locale`.

        .. versionadded:: 0.1.0
        """
        return None

    def get_browser_locale(self, default: str = "en_US") -> Any:
        """Return the best supported locale for the request's ``Accept-Language``.

        Languages are tried by decreasing ``q`` (those with ``q=0`` never,
        see :func:`squall.locale.parse_accept_language`); ``default`` when
        the header is absent or names nothing usable.

        .. versionadded:: 0.1.0
        """
        locale = _locale_module()
        header = self.request.headers.get("Accept-Language")
        if header:
            codes = locale.parse_accept_language(header)
            if codes:
                return locale.get(*codes)
        return locale.get(default)

    # -- URLs ------------------------------------------------------------------

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """Return the URL of static file ``path``, versioned by its content hash.

        Needs the ``static_path`` setting. The ``static_handler_class``'s
        ``make_static_url`` builds the URL (``static_url_prefix`` +
        ``path`` + ``?v=<hash>``).

        :param include_host: prefix ``protocol://host`` (default: the
            handler's ``include_host`` attribute, else no).
        :param kwargs: passed to ``make_static_url`` (``include_version``).
        :raises MissingSettingError: without ``static_path``.

        .. versionadded:: 0.1.0
        """
        self.require_setting("static_path", "static_url")
        settings = self.application.settings
        make_url = _static_handler_class(settings).make_static_url
        if include_host is None:
            include_host = getattr(self, "include_host", False)
        url: str = make_url(settings, path, **kwargs)
        if include_host:
            return f"{self.request.protocol}://{self.request.host}{url}"
        return url

    def reverse_url(self, name: str, *args: Any) -> str:
        """Return the URL of the route called ``name`` (``Application.reverse_url``).

        .. versionadded:: 0.1.0
        """
        return self.application.reverse_url(name, *args)
