"""Template loaders: find templates by name, compile each once, cache them."""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Mapping
from typing import Any

from ._errors import ParseError, TemplateNotFoundError, TemplatePathError
from ._template import _DEFAULT_AUTOESCAPE, Template

__all__ = ["BaseLoader", "DictLoader", "Loader"]

_MAX_REQUESTED_NAMES = 4096


def _parent_directory(name: str, parent_path: str | None) -> str | None:
    """Return the directory ``name`` is relative to, or ``None`` for the root."""
    if (
        parent_path
        and not parent_path.startswith("<")
        and not parent_path.startswith("/")
        and not name.startswith("/")
    ):
        return posixpath.dirname(parent_path)
    return None


class BaseLoader:
    """Base class of the template loaders: a cache of compiled templates.

    :meth:`load` compiles each template once and keeps it until
    :meth:`reset`.  It is thread-safe: when several threads load the same
    template at once, one compiles it and the others get that same object.

    Subclasses implement :meth:`resolve_path` (turn a name, possibly
    relative to the template that refers to it, into the cache key) and
    :meth:`_create_template` (build the :class:`Template` for a resolved
    name, passing ``loader=self``).

    :param autoescape: the default autoescape function name of the
        templates (``None`` disables autoescaping); ``"xhtml_escape"`` when
        not given.
    :param namespace: extra names for every template of this loader (a
        ``dict``, used as is: later changes are seen).
    :param whitespace: the default whitespace mode of the templates
        (``"all"``, ``"single"`` or ``"oneline"``); when ``None`` it depends
        on each template's name (see :class:`Template`).
    :raises ValueError: for an unknown whitespace mode.

    Attributes: ``autoescape``, ``namespace``, ``whitespace``, ``templates``
    (the cache: resolved name -> :class:`Template`) and ``lock``.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        autoescape: str | None = _DEFAULT_AUTOESCAPE,
        namespace: dict[str, Any] | None = None,
        whitespace: str | None = None,
    ) -> None:
        if whitespace is not None and whitespace not in ("all", "single", "oneline"):
            raise ValueError(f"invalid whitespace mode {whitespace!r}")
        self.autoescape = autoescape
        self.namespace: dict[str, Any] = namespace if namespace is not None else {}
        self.whitespace = whitespace
        self.templates: dict[str, Template] = {}
        # Reentrant: compiling a template loads the ones it extends or
        # includes, in the same thread.
        self.lock = threading.RLock()
        self._loading: list[str] = []
        # (name, parent_path) as asked -> template: load() on the hot path
        # is then one dict lookup, without resolving the path again.
        self._requested: dict[tuple[str, str | None], Template] = {}

    def reset(self) -> None:
        """Forget every compiled template.

        The next :meth:`load` of each name reads and compiles it again.

        .. versionadded:: 0.1.0
        """
        with self.lock:
            self.templates = {}
            self._requested = {}

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """Return the cache key of ``name``, referred to from ``parent_path``.

        ``parent_path`` is the name of the template containing the
        ``{% extends %}`` or ``{% include %}`` (``None`` for a direct load).

        :raises TemplatePathError: (in subclasses) for a name that is not
            allowed.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError()

    def load(self, name: str, parent_path: str | None = None) -> Template:
        """Return the compiled template called ``name``.

        :param name: the template's name, such as ``"page.html"``.
        :param parent_path: the name of the template that refers to it, for
            names relative to that template's directory.
        :raises TemplateNotFoundError: if there is no such template.
        :raises TemplatePathError: if the name is not allowed.
        :raises ParseError: if the template (or one it extends or includes)
            is not valid, or templates extend or include each other in a
            circle.

        .. versionadded:: 0.1.0
        """
        template = self._requested.get((name, parent_path))
        if template is not None:
            return template
        key = self.resolve_path(name, parent_path=parent_path)
        with self.lock:
            template = self.templates.get(key)
            if template is None:
                if key in self._loading:
                    chain = " -> ".join([*self._loading[self._loading.index(key) :], key])
                    raise ParseError(f"templates extend or include each other in a circle: {chain}")
                self._loading.append(key)
                try:
                    template = self._create_template(key)
                finally:
                    self._loading.pop()
                self.templates[key] = template
            if len(self._requested) < _MAX_REQUESTED_NAMES:
                # Bounded: "a.html", "./a.html", ".//a.html"... are different
                # requests for one template.
                self._requested[(name, parent_path)] = template
            return template

    def _create_template(self, name: str) -> Template:
        """Build the template for a resolved name (subclass hook).

        :raises TemplateNotFoundError: if there is no such template.
        """
        raise NotImplementedError()


class Loader(BaseLoader):
    """Loads templates from files under a root directory.

    Names are ``/``-separated paths relative to ``root_directory``; a name in
    ``{% extends %}`` or ``{% include %}`` is relative to the directory of
    the template that contains it (so ``{% include "part.html" %}`` in
    ``blog/post.html`` loads ``blog/part.html``), unless it starts with
    ``/``.  Names that lead outside the root (``../secret``, an absolute
    path elsewhere) are refused with :class:`TemplatePathError`; the check
    is on the path as written (symbolic links inside the root are
    followed).  Files are read as UTF-8.

    :param root_directory: the directory holding the templates.
    :param kwargs: ``autoescape``, ``namespace``, ``whitespace`` (see
        :class:`BaseLoader`).

    .. versionadded:: 0.1.0
    """

    def __init__(self, root_directory: str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: The absolute path of the root directory.
        self.root = os.path.abspath(os.fspath(root_directory))

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """Return ``name`` as a normalised path relative to :attr:`root`.

        :raises TemplatePathError: if ``name`` leads outside the root
            directory or holds a NUL byte.

        .. versionadded:: 0.1.0
        """
        if not isinstance(name, str):
            raise TypeError(f"template name must be str, not {type(name).__name__}")
        if "\x00" in name:
            raise TemplatePathError(f"template name {name!r} contains a NUL byte")
        directory = _parent_directory(name, parent_path)
        joined = name if directory is None else posixpath.join(directory, name)
        full = os.path.abspath(os.path.join(self.root, joined))
        if full == self.root or os.path.commonpath([self.root, full]) != self.root:
            raise TemplatePathError(
                f"template name {name!r} is outside the template directory {self.root!r}"
            )
        return os.path.relpath(full, self.root).replace(os.sep, "/")

    def _create_template(self, name: str) -> Template:
        path = os.path.join(self.root, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise TemplateNotFoundError(
                f"template {name!r} not found in {self.root!r}", template_name=name
            ) from None
        return Template(data, name=name, loader=self)


class DictLoader(BaseLoader):
    """Loads templates from a mapping of name to template text.

    Names in ``{% extends %}`` and ``{% include %}`` are relative to the
    directory part of the including template's name, as for
    :class:`Loader`.  The mapping is read when a template is first loaded;
    call :meth:`~BaseLoader.reset` after changing it.

    :param dict: name -> template text (``str`` or UTF-8 ``bytes``).
    :param kwargs: ``autoescape``, ``namespace``, ``whitespace`` (see
        :class:`BaseLoader`).

    .. versionadded:: 0.1.0
    """

    def __init__(self, dict: Mapping[str, str | bytes], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: The mapping templates are read from.
        self.dict = dict

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """Return ``name``, made relative to ``parent_path``'s directory.

        .. versionadded:: 0.1.0
        """
        directory = _parent_directory(name, parent_path)
        if directory is not None:
            name = posixpath.normpath(posixpath.join(directory, name))
        return name

    def _create_template(self, name: str) -> Template:
        try:
            text = self.dict[name]
        except KeyError:
            raise TemplateNotFoundError(
                f"template {name!r} not found in the DictLoader", template_name=name
            ) from None
        return Template(text, name=name, loader=self)
