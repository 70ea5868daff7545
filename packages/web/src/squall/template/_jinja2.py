"""Jinja2 behind the loader interface of :mod:`squall.template`.

Jinja2 is optional (the ``squall-web[jinja2]`` extra) and imported only when
a :class:`Jinja2Loader` is created.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ._errors import ParseError, TemplateNotFoundError

if TYPE_CHECKING:
    import jinja2

__all__ = ["Jinja2Loader", "Jinja2Template"]


def _import_jinja2() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise ImportError(
            "squall.template.Jinja2Loader needs Jinja2: install the extra with "
            "`pip install 'squall-web[jinja2]'`"
        ) from exc
    return jinja2


class Jinja2Template:
    """A Jinja2 template with the :class:`~squall.template.Template` interface.

    Made by :meth:`Jinja2Loader.load`.

    Attributes: ``name`` and ``template`` (the :class:`jinja2.Template`).

    .. versionadded:: 0.1.0
    """

    def __init__(self, template: jinja2.Template, name: str) -> None:
        self.template = template
        self.name = name

    def generate(self, **kwargs: Any) -> bytes:
        """Render the template with ``kwargs`` as its context; return UTF-8 bytes.

        Exceptions raised by the template propagate (Jinja2 rewrites their
        traceback to show the template's lines; see
        :func:`~squall.template.template_location`).

        .. versionadded:: 0.1.0
        """
        text: str = self.template.render(**kwargs)
        return text.encode("utf-8")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Jinja2Loader:
    """Loads Jinja2 templates through the same interface as :class:`Loader`.

    Use it as the web layer's template loader to write templates in Jinja2
    instead of Tornado's language: ``load(name).generate(**kwargs)`` returns
    bytes, as with the built-in templates.

    :param root_directory_or_environment: a directory of templates (a
        :class:`jinja2.Environment` with a :class:`jinja2.FileSystemLoader`
        on it is built, autoescaping templates whose names end in ``.html``,
        ``.htm`` or ``.xml``), or a ready :class:`jinja2.Environment`, used as
        it is.
    :param namespace: names added to the environment's globals (like
        :class:`BaseLoader`'s ``namespace``).
    :param env_kwargs: more arguments for :class:`jinja2.Environment`
        (overriding the defaults above); not allowed with an environment.
    :raises ImportError: if Jinja2 is not installed (the message names the
        ``squall-web[jinja2]`` extra).
    :raises TypeError: for ``env_kwargs`` together with an environment.

    Attributes: ``environment`` and ``root`` (the directory, or ``None``).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        root_directory_or_environment: str | os.PathLike[str] | jinja2.Environment,
        *,
        namespace: dict[str, Any] | None = None,
        **env_kwargs: Any,
    ) -> None:
        jinja = _import_jinja2()
        self.root: str | None
        if not isinstance(root_directory_or_environment, (str, os.PathLike)):
            if not isinstance(root_directory_or_environment, jinja.Environment):
                raise TypeError(
                    "Jinja2Loader needs a directory or a jinja2.Environment, not "
                    f"{type(root_directory_or_environment).__name__}"
                )
            if env_kwargs:
                raise TypeError(
                    "Jinja2Loader: pass either a jinja2.Environment or Environment arguments, "
                    f"not both (got {sorted(env_kwargs)})"
                )
            self.environment: jinja2.Environment = root_directory_or_environment
            self.root = None
        else:
            self.root = os.path.abspath(os.fspath(root_directory_or_environment))
            options: dict[str, Any] = {
                "loader": jinja.FileSystemLoader(self.root),
                "autoescape": jinja.select_autoescape(
                    enabled_extensions=("html", "htm", "xml"), default_for_string=True
                ),
            }
            options.update(env_kwargs)
            self.environment = jinja.Environment(**options)
        if namespace:
            self.environment.globals.update(namespace)
        self._jinja = jinja

    def load(self, name: str, parent_path: str | None = None) -> Jinja2Template:
        """Return the template called ``name``.

        Jinja2 compiles each template once and caches it (and, with
        ``auto_reload``, recompiles a file that changed).  ``parent_path`` is
        accepted for interface compatibility and ignored: Jinja2 names are
        always relative to the loader's root.

        :raises TemplateNotFoundError: if there is no such template (Jinja2
            also refuses names that leave the root directory this way).
        :raises ParseError: for a syntax error, with Jinja2's file name and line.

        .. versionadded:: 0.1.0
        """
        jinja = self._jinja
        try:
            template = self.environment.get_template(name)
        except jinja.TemplateNotFound as exc:
            raise TemplateNotFoundError(
                f"template {name!r} not found by Jinja2 ({exc.message or exc.name})",
                template_name=name,
            ) from exc
        except jinja.TemplateSyntaxError as exc:
            raise ParseError(
                exc.message or "syntax error", exc.name or exc.filename or name, exc.lineno
            ) from exc
        return Jinja2Template(template, name)

    def reset(self) -> None:
        """Empty Jinja2's template cache: the next :meth:`load` compiles again.

        .. versionadded:: 0.1.0
        """
        cache = self.environment.cache
        if cache is not None:
            cache.clear()
