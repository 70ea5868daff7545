"""The exceptions of :mod:`squall.template`.

Every problem found while loading or compiling a template is a
:class:`ParseError` that names the template and the line::

    ParseError (Exception)                  -- the template text is wrong
    +-- TemplateNotFoundError (KeyError)    -- no template by that name
    +-- TemplatePathError (ValueError)      -- the name escapes the loader's root

Errors raised while a compiled template *runs* are not translated: they
propagate as they are, with a note naming the template and line added (see
:func:`squall.template.template_location`).
"""

from __future__ import annotations

__all__ = ["ParseError", "TemplateNotFoundError", "TemplatePathError"]


class ParseError(Exception):
    """A template could not be compiled.

    Raised when a template is created (``Template(...)`` or
    :meth:`BaseLoader.load <squall.template.BaseLoader.load>`), never while it
    is generated.  ``str(error)`` reads ``"<message> at <filename>:<lineno>"``.

    :param message: what is wrong.
    :param filename: the name of the template where it is wrong (``None``
        when not known yet).
    :param lineno: the 1-based line in that template (0 when not known).

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, filename: str | None = None, lineno: int = 0) -> None:
        super().__init__(message, filename, lineno)
        #: What is wrong, without the location.
        self.message = message
        #: The name of the template where the error is (or ``None``).
        self.filename = filename
        #: The 1-based line of the error in :attr:`filename` (or 0).
        self.lineno = lineno

    def __str__(self) -> str:
        if self.filename is None:
            return self.message
        return f"{self.message} at {self.filename}:{self.lineno}"

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str | None, int]]:
        return (type(self), (self.message, self.filename, self.lineno))


class TemplateNotFoundError(ParseError, KeyError):
    """A loader has no template by the requested name.

    Raised by :meth:`BaseLoader.load <squall.template.BaseLoader.load>`
    (``filename`` is then ``None``), and by ``{% extends %}`` and
    ``{% include %}`` (``filename`` and ``lineno`` are then those of the
    directive).  It is also a :class:`KeyError`, which is what a missing
    template in a ``DictLoader`` raised in Tornado.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        message: str,
        filename: str | None = None,
        lineno: int = 0,
        *,
        template_name: str | None = None,
    ) -> None:
        super().__init__(message, filename, lineno)
        #: The name of the template that was not found.
        self.template_name = template_name

    def __str__(self) -> str:
        return ParseError.__str__(self)

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str | None, int]]:
        # template_name is not kept by pickling: it is in the message.
        return (type(self), (self.message, self.filename, self.lineno))


class TemplatePathError(ParseError, ValueError):
    """A template name would leave the loader's root directory.

    :class:`~squall.template.Loader` refuses names such as ``../secret.txt``,
    absolute paths outside its root and names with a NUL byte, before any
    file is opened.

    .. versionadded:: 0.1.0
    """
