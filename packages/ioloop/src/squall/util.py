"""Small utilities shared by every Squall package.

The centrepiece is :class:`Configurable`, the factory pattern through which
Squall swaps implementations: ``IOLoop()``, ``Resolver()``,
``AsyncHTTPClient()`` and ``HTTPServer()`` each build whatever implementation
was chosen with ``configure()``.

Exceptions defined here::

    ConfigurationError (ValueError)   -- your code passed a bad implementation
    TimeoutError (builtins.TimeoutError)  -- an operation ran out of time

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from types import TracebackType
from typing import Any, NoReturn, TypeVar

__all__ = [
    "ArgReplacer",
    "Configurable",
    "ConfigurationError",
    "GzipDecompressor",
    "ObjectDict",
    "TimeoutError",
    "basestring_type",
    "bytes_type",
    "errno_from_exception",
    "exec_in",
    "import_object",
    "raise_exc_info",
    "re_unescape",
    "timedelta_to_seconds",
    "u",
    "unicode_type",
]

#: The text type (``str``); kept for code written against Tornado 4.
unicode_type = str
#: The base string type (``str``); kept for code written against Tornado 4.
basestring_type = str
#: The bytes type; kept for code written against Tornado 4.
bytes_type = bytes


def u(s: str) -> str:
    """Return ``s`` (Tornado 4's text-literal helper for Python 2; kept for porting).

    .. versionadded:: 0.1.0
    """
    return s


def exec_in(code: Any, glob: dict[str, Any], loc: Mapping[str, Any] | None = None) -> None:
    """Execute ``code`` (source text or a code object) in the given namespaces.

    Kept for code written against Tornado 4.

    .. versionadded:: 0.1.0
    """
    if isinstance(code, str):
        code = compile(code, "<string>", "exec", dont_inherit=True)
    exec(code, glob, loc)


_T = TypeVar("_T")


class TimeoutError(builtins.TimeoutError):
    """An operation did not finish before its deadline.

    Raised by :func:`squall.gen.with_timeout`, :meth:`squall.ioloop.IOLoop.run_sync`,
    lock and queue waits, and the test helpers.  It subclasses the built-in
    :class:`TimeoutError`, so ``except TimeoutError`` catches it too.

    .. versionadded:: 0.1.0
    """


class ConfigurationError(ValueError):
    """Your code asked :meth:`Configurable.configure` for an unusable implementation.

    The message names the offending class or dotted name and the base it
    should derive from.

    .. versionadded:: 0.1.0
    """


class ObjectDict(dict[str, Any]):
    """A ``dict`` whose keys can also be read and written as attributes.

    >>> d = ObjectDict(a=1)
    >>> d.a
    1

    .. versionadded:: 0.1.0
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def import_object(name: str) -> Any:
    """Import and return the object named by the dotted path ``name``.

    ``import_object("os.path")`` returns the module, ``import_object("os.path.join")``
    the function.  A name without dots imports a top-level module.

    :raises ImportError: naming the part of ``name`` that could not be found.

    .. versionadded:: 0.1.0
    """
    if not isinstance(name, str) or not name or name.startswith(".") or name.endswith("."):
        raise ImportError(f"not a dotted object name: {name!r}")
    if "." not in name:
        return importlib.import_module(name)
    module_name, _, attr = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        # The prefix may itself be an attribute path (``pkg.Class.attr``).
        parent = import_object(module_name)
    else:
        parent = module
    try:
        return getattr(parent, attr)
    except AttributeError:
        try:
            return importlib.import_module(name)
        except ImportError:
            raise ImportError(f"no object {attr!r} in {module_name!r} (importing {name!r})")


def errno_from_exception(e: BaseException) -> int | None:
    """Return the errno of an ``OSError``-like exception, or ``None``.

    Works for exceptions that carry ``errno`` as an attribute or only as their
    first argument.

    .. versionadded:: 0.1.0
    """
    errno = getattr(e, "errno", None)
    if errno is not None:
        return int(errno)
    if e.args and isinstance(e.args[0], int):
        return e.args[0]
    return None


def raise_exc_info(
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
) -> NoReturn:
    """Re-raise the exception described by a ``sys.exc_info()`` triple.

    :raises TypeError: if the triple holds no exception.

    .. versionadded:: 0.1.0
    """
    _typ, value, tb = exc_info
    if value is None:
        raise TypeError("raise_exc_info called with no exception")
    try:
        raise value.with_traceback(tb)
    finally:
        # Break the reference cycle through the frame.
        value = None
        tb = None


def timedelta_to_seconds(td: timedelta) -> float:
    """Return the number of seconds in ``td`` as a float.

    .. versionadded:: 0.1.0
    """
    return td.total_seconds()


_RE_UNESCAPE = re.compile(r"\\(?:([^0-9A-Za-z])|(.))", re.DOTALL)


def re_unescape(s: str) -> str:
    r"""Undo :func:`re.escape` on ``s``.

    :raises ValueError: for a backslash escape that is not a plain escaped
        punctuation character (``\d`` and friends cannot be unescaped).

    .. versionadded:: 0.1.0
    """

    def replace(m: re.Match[str]) -> str:
        if m.group(2) is not None:
            raise ValueError(f"cannot unescape '\\\\{m.group(2)}' in {s!r}")
        return m.group(1)

    return _RE_UNESCAPE.sub(replace, s)


class GzipDecompressor:
    """Streaming gzip decompressor with a cap on each call's output.

    The interface mirrors :class:`zlib.Decompress`: call :meth:`decompress`
    for each compressed chunk, feeding :attr:`unconsumed_tail` back in when
    ``max_length`` stopped it early, then :meth:`flush`.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        # 16 + MAX_WBITS tells zlib to expect a gzip header and trailer.
        self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decompress(self, value: bytes, max_length: int = 0) -> bytes:
        """Decompress ``value`` and return at most ``max_length`` bytes (0: no cap).

        :raises zlib.error: if ``value`` is not valid gzip data.
        """
        return self._decompressor.decompress(value, max_length)

    @property
    def unconsumed_tail(self) -> bytes:
        """Input left over when the last :meth:`decompress` hit ``max_length``."""
        return self._decompressor.unconsumed_tail

    @property
    def eof(self) -> bool:
        """True once the end of the gzip stream was reached."""
        return self._decompressor.eof

    def flush(self) -> bytes:
        """Return whatever output remains buffered."""
        return self._decompressor.flush()


class ArgReplacer:
    """Find and replace one named argument of a call to ``func``.

    Used to implement the classic ``callback=`` argument, which a caller may
    pass by position or by keyword.

    :raises ValueError: if ``func`` has no parameter called ``name``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        self.name = name
        self.arg_pos: int | None = None
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            params = []
        names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if name in names:
            self.arg_pos = names.index(name)
        elif not any(p.name == name or p.kind is p.VAR_KEYWORD for p in params) and params:
            raise ValueError(f"{func!r} takes no argument named {name!r}")

    def get_old_value(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], default: Any = None
    ) -> Any:
        """Return the value the call passes for the argument, or ``default``."""
        if self.arg_pos is not None and len(args) > self.arg_pos:
            return args[self.arg_pos]
        return kwargs.get(self.name, default)

    def replace(
        self, new_value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        """Put ``new_value`` in place of the argument.

        Returns ``(old_value, args, kwargs)`` with the argument replaced (or
        added as a keyword when the call did not pass it).
        """
        if self.arg_pos is not None and len(args) > self.arg_pos:
            old = args[self.arg_pos]
            args = (*args[: self.arg_pos], new_value, *args[self.arg_pos + 1 :])
        else:
            old = kwargs.get(self.name)
            kwargs = dict(kwargs)
            kwargs[self.name] = new_value
        return old, args, kwargs


class Configurable:
    """A base class whose constructor builds the configured implementation.

    ``Base()`` on a configurable base class does not necessarily build a
    ``Base``: ``__new__`` acts as a factory and returns an instance of the
    implementation chosen by :meth:`configure` (or
    :meth:`configurable_default`), initialised through :meth:`initialize`
    with the keyword arguments given to :meth:`configure` merged under those
    of the call.  Constructing an implementation class directly builds that
    class (and still merges the configured keyword arguments).

    Subclasses define:

    * :meth:`configurable_base` -- the class that holds the configuration
      (usually the class itself);
    * :meth:`configurable_default` -- the implementation used when nothing
      was configured;
    * :meth:`initialize` -- the constructor; implementations must not define
      ``__init__``.

    .. versionadded:: 0.1.0
    """

    # Set on the configurable base class only (never inherited from another base).
    _configured_impl: type[Configurable] | None = None
    _configured_kwargs: dict[str, Any] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        base = cls.configurable_base()
        init_kwargs: dict[str, Any] = {}
        impl = cls.configured_class() if cls is base else cls
        base_kwargs = base.__dict__.get("_configured_kwargs")
        if base_kwargs:
            init_kwargs.update(base_kwargs)
        init_kwargs.update(kwargs)
        instance = super().__new__(impl)
        # initialize() plays the role of __init__, so that constructing the
        # base through the factory never calls the implementation's __init__
        # with the base's arguments.
        instance.initialize(*args, **init_kwargs)
        return instance

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """Return the class that stores the configuration for this hierarchy."""
        raise NotImplementedError(f"{cls.__name__} must define configurable_base()")

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """Return the implementation used when none was configured."""
        raise NotImplementedError(f"{cls.__name__} must define configurable_default()")

    def _initialize(self) -> None:
        pass

    #: Implementations override this instead of ``__init__``.
    initialize: Callable[..., None] = _initialize

    @classmethod
    def configure(cls, impl: type[Configurable] | str | None, **kwargs: Any) -> None:
        """Choose the implementation and keyword arguments for later constructions.

        :param impl: a subclass of the configurable base, a dotted name of
            one, or ``None`` for :meth:`configurable_default`.
        :param kwargs: merged into the keyword arguments of every later
            construction (the call's own arguments win).
        :raises ConfigurationError: if ``impl`` cannot be imported or is not
            a subclass of the configurable base.
        """
        base = cls.configurable_base()
        resolved: type[Configurable] | None
        if isinstance(impl, str):
            try:
                obj = import_object(impl)
            except ImportError as e:
                raise ConfigurationError(
                    f"cannot configure {base.__name__} with {impl!r}: {e}"
                ) from e
            resolved = obj
        else:
            resolved = impl
        if resolved is not None and not (isinstance(resolved, type) and issubclass(resolved, base)):
            raise ConfigurationError(
                f"cannot configure {base.__name__} with {impl!r}: "
                f"it is not a subclass of {base.__module__}.{base.__qualname__}"
            )
        base._configured_impl = resolved
        base._configured_kwargs = dict(kwargs)

    @classmethod
    def configured_class(cls) -> type[Configurable]:
        """Return the implementation that ``Base()`` currently builds."""
        base = cls.configurable_base()
        impl = base.__dict__.get("_configured_impl")
        if impl is None:
            impl = cls.configurable_default()
            base._configured_impl = impl
        return impl

    @classmethod
    def configured_kwargs(cls) -> dict[str, Any]:
        """Return a copy of the keyword arguments given to :meth:`configure`."""
        return dict(cls.configurable_base().__dict__.get("_configured_kwargs") or {})

    @classmethod
    def _save_configuration(cls) -> tuple[type[Configurable] | None, dict[str, Any] | None]:
        base = cls.configurable_base()
        return (base.__dict__.get("_configured_impl"), base.__dict__.get("_configured_kwargs"))

    @classmethod
    def _restore_configuration(
        cls, saved: tuple[type[Configurable] | None, dict[str, Any] | None]
    ) -> None:
        base = cls.configurable_base()
        base._configured_impl = saved[0]
        base._configured_kwargs = saved[1]

    @classmethod
    @contextmanager
    def configured(cls, impl: type[Configurable] | str | None, **kwargs: Any) -> Iterator[None]:
        """Configure for the duration of a ``with`` block, then restore.

        Meant for tests::

            with IOLoop.configured(None, poller="select"):
                loop = IOLoop()

        :raises ConfigurationError: as :meth:`configure`.
        """
        saved = cls._save_configuration()
        cls.configure(impl, **kwargs)
        try:
            yield
        finally:
            cls._restore_configuration(saved)
