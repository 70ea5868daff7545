"""UI modules: reusable page components with their own JavaScript and CSS.

A template calls a module with ``{% module Entry(entry) %}``; the module's
:meth:`UIModule.render` returns its HTML, and what its other methods
return (scripts, style sheets, head and body snippets) is collected once
per page and inserted by ``RequestHandler.render`` before ``</head>`` and
``</body>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from squall.escape import linkify

if TYPE_CHECKING:
    from squall.httputil import HTTPServerRequest
    from squall.web._handler import RequestHandler

__all__ = ["TemplateModule", "UIModule"]


class UIModule:
    """A page component, rendered by ``{% module Name(...) %}`` in templates.

    Register subclasses with the ``ui_modules`` setting (a dict, a module
    or a list of them). One instance is made per handler and name, the
    first time the page uses it, so a module used several times on a page
    contributes its scripts and styles once.

    :param handler: the handler rendering the page.

    .. versionadded:: 0.1.0
    """

    def __init__(self, handler: RequestHandler) -> None:
        #: The handler rendering the page.
        self.handler = handler
        #: The request being answered.
        self.request: HTTPServerRequest = handler.request
        #: The handler's ``ui`` namespace (ui methods and modules).
        self.ui = handler.ui

    @property
    def locale(self) -> Any:
        """The handler's locale.

        .. versionadded:: 0.1.0
        """
        return self.handler.locale

    @property
    def current_user(self) -> Any:
        """The handler's current user.

        .. versionadded:: 0.1.0
        """
        return self.handler.current_user

    def render(self, *args: Any, **kwargs: Any) -> str | bytes:
        """Return the module's HTML for one use on the page.

        :raises NotImplementedError: unless overridden.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def embedded_javascript(self) -> str | None:
        """Return JavaScript to inline at the end of the page's body, or ``None``.

        .. versionadded:: 0.1.0
        """
        return None

    def javascript_files(self) -> Iterable[str] | str | None:
        """Return script URLs (or paths for ``static_url``) to load, or ``None``.

        .. versionadded:: 0.1.0
        """
        return None

    def embedded_css(self) -> str | None:
        """Return CSS to inline in the page's head, or ``None``.

        .. versionadded:: 0.1.0
        """
        return None

    def css_files(self) -> Iterable[str] | str | None:
        """Return style sheet URLs (or paths for ``static_url``) to link, or ``None``.

        .. versionadded:: 0.1.0
        """
        return None

    def html_head(self) -> str | None:
        """Return HTML to put just before ``</head>``, or ``None``.

        .. versionadded:: 0.1.0
        """
        return None

    def html_body(self) -> str | None:
        """Return HTML to put just before ``</body>``, or ``None``.

        .. versionadded:: 0.1.0
        """
        return None

    def render_string(self, path: str, **kwargs: Any) -> bytes:
        """Render template ``path`` with the handler's namespace plus ``kwargs``.

        .. versionadded:: 0.1.0
        """
        return self.handler.render_string(path, **kwargs)


class _linkify(UIModule):  # noqa: N801 -- the name templates use
    def render(self, text: str | bytes, **kwargs: Any) -> str:
        return linkify(text, **kwargs)


class _xsrf_form_html(UIModule):  # noqa: N801 -- the name templates use
    def render(self) -> str:
        return self.handler.xsrf_form_html()


class TemplateModule(UIModule):
    """Renders a template as a module: ``{% module Template("item.html", item=x) %}``.

    The template may call ``set_resources(embedded_javascript=...,
    javascript_files=..., embedded_css=..., css_files=..., html_head=...,
    html_body=...)``; the resources of each template are collected once per
    page like those of any module.

    .. versionadded:: 0.1.0
    """

    def __init__(self, handler: RequestHandler) -> None:
        super().__init__(handler)
        self._resource_list: list[dict[str, Any]] = []
        self._resource_dict: dict[str, dict[str, Any]] = {}

    def render(self, path: str, **kwargs: Any) -> bytes:
        """Render template ``path`` with ``kwargs`` and ``set_resources``.

        :raises ValueError: (from the template) if it declares different
            resources on two uses in one page.

        .. versionadded:: 0.1.0
        """

        def set_resources(**resources: Any) -> str:
            known = self._resource_dict.get(path)
            if known is None:
                self._resource_list.append(resources)
                self._resource_dict[path] = resources
            elif known != resources:
                raise ValueError(
                    f"set_resources() called with different resources for template {path!r}"
                )
            return ""

        return self.render_string(path, set_resources=set_resources, **kwargs)

    def _resources(self, key: str) -> list[Any]:
        return [res[key] for res in self._resource_list if key in res]

    def _files(self, key: str) -> list[str]:
        files: list[str] = []
        for item in self._resources(key):
            if isinstance(item, (str, bytes)):
                files.append(item if isinstance(item, str) else item.decode())
            else:
                files.extend(item)
        return files

    def embedded_javascript(self) -> str:
        """Return the templates' ``embedded_javascript`` resources, joined.

        .. versionadded:: 0.1.0
        """
        return "\n".join(self._resources("embedded_javascript"))

    def javascript_files(self) -> list[str]:
        """Return the templates' ``javascript_files`` resources.

        .. versionadded:: 0.1.0
        """
        return self._files("javascript_files")

    def embedded_css(self) -> str:
        """Return the templates' ``embedded_css`` resources, joined.

        .. versionadded:: 0.1.0
        """
        return "\n".join(self._resources("embedded_css"))

    def css_files(self) -> list[str]:
        """Return the templates' ``css_files`` resources.

        .. versionadded:: 0.1.0
        """
        return self._files("css_files")

    def html_head(self) -> str:
        """Return the templates' ``html_head`` resources, joined.

        .. versionadded:: 0.1.0
        """
        return "".join(self._resources("html_head"))

    def html_body(self) -> str:
        """Return the templates' ``html_body`` resources, joined.

        .. versionadded:: 0.1.0
        """
        return "".join(self._resources("html_body"))


class _UIModuleNamespace:
    """``_tt_modules`` in templates: module names to render functions."""

    def __init__(self, handler: RequestHandler, ui_modules: dict[str, type[UIModule]]) -> None:
        self.handler = handler
        self.ui_modules = ui_modules

    def __getitem__(self, key: str) -> Callable[..., Any]:
        return self.handler._ui_module(key, self.ui_modules[key])

    def __getattr__(self, key: str) -> Callable[..., Any]:
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(f"no UI module named {key!r}") from e
