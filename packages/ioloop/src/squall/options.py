"""Command-line and config-file options, declared where they are used.

Any module may declare the options it needs with :func:`define`; the program
then reads them from the command line with :func:`parse_command_line` and/or
from a Python config file with :func:`parse_config_file`, and every module reads
the values back as attributes of the global :data:`options`::

    from squall.options import define, options, parse_command_line

    define("port", default=8888, help="port to listen on")
    define("debug", default=False, help="run in debug mode")

    parse_command_line()            # e.g. ``app.py --port=80 --debug``
    app.listen(options.port)

Command-line syntax is ``--name=value``; a ``bool`` option may be given alone
(``--debug`` means true); dashes and underscores in names are interchangeable;
an option with ``multiple=True`` takes a comma-separated list, and integer lists
accept inclusive ranges (``--ports=8000:8003,9000``). Parsing stops at the first
argument that does not start with ``-`` or after ``--``; the rest is returned.

Values are converted to the option's type: ``str``, ``int``, ``float``,
``bool`` (true/false, yes/no, on/off, 1/0, t/f), :class:`datetime.datetime`,
:class:`datetime.timedelta` (``45s``, ``1h 30m``, ``1.5d``, ``250ms``) and any
other callable that accepts the string.

``--help`` prints every option, grouped by the file that defined it, and exits.
The logging options of :func:`squall.log.define_logging_options` are defined on
the global parser and applied by :func:`squall.log.enable_pretty_logging` once
parsing is final.

Errors are all :exc:`Error`, subclassed by who is at fault:

* :exc:`DuplicateOptionError`: the program defined a name twice;
* :exc:`UnrecognizedOptionError`: the command line names an unknown option;
* :exc:`OptionValueError`: a value is missing, has the wrong type or does not
  parse (also a :exc:`ValueError`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from squall.log import define_logging_options

__all__ = [
    "DuplicateOptionError",
    "Error",
    "OptionParser",
    "OptionValueError",
    "UnrecognizedOptionError",
    "add_parse_callback",
    "define",
    "options",
    "parse_command_line",
    "parse_config_file",
    "print_help",
]


class Error(Exception):
    """Base of the errors raised by :mod:`squall.options`.

    .. versionadded:: 0.1.0
    """


class DuplicateOptionError(Error):
    """An option was defined twice (a program error).

    .. versionadded:: 0.1.0
    """


class UnrecognizedOptionError(Error):
    """The command line names an option that was never defined (a user error).

    .. versionadded:: 0.1.0
    """


class OptionValueError(Error, ValueError):
    """A value is missing, does not parse, or has the wrong type for its option.

    The message names the option and the offending value.

    .. versionadded:: 0.1.0
    """


_UNSET: Any = object()

_DATETIME_FORMATS = (
    "%a %b %d %H:%M:%S %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%H:%M:%S",
    "%H:%M",
)

_TIMEDELTA_UNITS = {
    spelling: field
    for field, spellings in (
        ("microseconds", "us usec microsecond microseconds"),
        ("milliseconds", "ms msec millisecond milliseconds"),
        ("seconds", "s sec secs second seconds"),
        ("minutes", "m min mins minute minutes"),
        ("hours", "h hr hrs hour hours"),
        ("days", "d day days"),
        ("weeks", "w wk week weeks"),
    )
    for spelling in spellings.split()
}
# One "<number><unit>" term; the whole value is a run of them with optional blanks.
_TIMEDELTA_TERM = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)\s*")

_TRUE_WORDS = frozenset(("true", "t", "yes", "y", "on", "1"))
_FALSE_WORDS = frozenset(("false", "f", "no", "n", "off", "0"))


def _normalize(name: str) -> str:
    return name.replace("_", "-")


def _parse_datetime(value: str) -> datetime.datetime:
    text = value.strip()
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not a date/time (e.g. '2024-05-01 12:30' or '2024-05-01')") from None


def _parse_timedelta(value: str) -> datetime.timedelta:
    text = value.strip()
    if not text:
        raise ValueError("empty duration")
    total = datetime.timedelta()
    pos = 0
    while pos < len(text):
        match = _TIMEDELTA_TERM.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError("not a duration (e.g. '45s', '1h 30m', '250ms', '2d')")
        number, unit = match.groups()
        field = _TIMEDELTA_UNITS.get(unit.lower() if unit else "s")
        if field is None:
            raise ValueError(f"unknown duration unit {unit!r}")
        total += datetime.timedelta(**{field: float(number)})
        pos = match.end()
    return total


def _parse_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError("not a boolean (true/false, yes/no, on/off, 1/0)")


def _type_name(type_: type | Callable[..., Any]) -> str:
    return getattr(type_, "__name__", repr(type_))


class _Option:
    """One defined option: its declaration and its current value."""

    __slots__ = (
        "_value",
        "callback",
        "default",
        "file_name",
        "group_name",
        "help",
        "metavar",
        "multiple",
        "name",
        "type",
    )

    def __init__(
        self,
        name: str,
        *,
        default: Any,
        type_: Any,
        help: str | None,
        metavar: str | None,
        multiple: bool,
        file_name: str,
        group_name: str,
        callback: Callable[[Any], None] | None,
    ) -> None:
        self.name = name
        self.default = [] if multiple and default is None else default
        self.type = type_
        self.help = help
        self.metavar = metavar
        self.multiple = multiple
        self.file_name = file_name
        self.group_name = group_name
        self.callback = callback
        self._value: Any = _UNSET

    def value(self) -> Any:
        return self.default if self._value is _UNSET else self._value

    def _convert(self, text: str) -> Any:
        """Convert one string to the option's type, or raise OptionValueError."""
        type_ = self.type
        try:
            if type_ is str:
                return text
            if type_ is bool:
                return _parse_bool(text)
            if type_ is datetime.datetime:
                return _parse_datetime(text)
            if type_ is datetime.timedelta:
                return _parse_timedelta(text)
            return type_(text)
        except OptionValueError:
            raise
        except Exception as exc:
            raise OptionValueError(
                f"option --{self.name}: invalid {_type_name(type_)} value {text!r}: {exc}"
            ) from exc

    def parse(self, text: str) -> Any:
        """Set the value from its command-line spelling and return it."""
        if self.multiple:
            values: list[Any] = []
            for part in text.split(","):
                if self.type is int and ":" in part:
                    lo_text, _, hi_text = part.partition(":")
                    lo, hi = self._convert(lo_text), self._convert(hi_text)
                    if lo > hi:
                        raise OptionValueError(
                            f"option --{self.name}: invalid range {part!r} (start > end)"
                        )
                    values.extend(range(lo, hi + 1))
                else:
                    values.append(self._convert(part))
            new: Any = values
        else:
            new = self._convert(text)
        self._store(new)
        return new

    def _accepts(self, item: Any) -> bool:
        if self.type is float and isinstance(item, int) and not isinstance(item, bool):
            return True
        if isinstance(self.type, type):
            return isinstance(item, self.type)
        return True  # a converter function: any value it could have produced

    def set(self, value: Any) -> None:
        """Set the value from Python, checking its type."""
        if self.multiple:
            if not isinstance(value, list) or not all(self._accepts(v) for v in value):
                raise OptionValueError(
                    f"option --{self.name} must be a list of {_type_name(self.type)} "
                    f"({value!r} given)"
                )
        elif value is not None and not self._accepts(value):
            raise OptionValueError(
                f"option --{self.name} must be a {_type_name(self.type)} "
                f"({type(value).__name__} {value!r} given)"
            )
        self._store(value)

    def _store(self, value: Any) -> None:
        self._value = value
        if self.callback is not None:
            self.callback(value)


class OptionParser:
    """A collection of options, readable as attributes once parsed.

    Most programs use the global instance :data:`options` through the
    module-level functions; separate instances are useful for tests and
    libraries. Every parser defines ``--help``.

    Options are looked up by name with dashes and underscores equivalent::

        options.log_file_prefix  ==  options["log-file-prefix"]

    Setting ``options.name = value`` checks the type (a ``float`` option also
    takes an ``int``). Iterating yields the option names as defined.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        # Set through __dict__ because __setattr__ is reserved for option values.
        self.__dict__["_options"] = {}
        self.__dict__["_parse_callbacks"] = []
        self._add(
            "help",
            default=None,
            type_=bool,
            help="Show this help information and exit.",
            metavar=None,
            multiple=False,
            group=None,
            callback=self._help_callback,
            file_name="",
        )

    _options: dict[str, _Option]
    _parse_callbacks: list[Callable[[], None]]

    # -- mapping-ish access -------------------------------------------------

    def _get(self, name: str) -> _Option | None:
        return self._options.get(_normalize(name))

    def __getattr__(self, name: str) -> Any:
        option = self._get(name)
        if option is None:
            raise AttributeError(f"Unrecognized option {name!r}")
        return option.value()

    def __setattr__(self, name: str, value: Any) -> None:
        option = self._get(name)
        if option is None:
            raise AttributeError(f"Unrecognized option {name!r}")
        option.set(value)

    def __getitem__(self, name: str) -> Any:
        option = self._get(name)
        if option is None:
            raise KeyError(name)
        return option.value()

    def __setitem__(self, name: str, value: Any) -> None:
        option = self._get(name)
        if option is None:
            raise KeyError(name)
        option.set(value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize(name) in self._options

    def __iter__(self) -> Iterator[str]:
        return iter([option.name for option in self._options.values()])

    def __len__(self) -> int:
        return len(self._options)

    def items(self) -> list[tuple[str, Any]]:
        """Return ``(name, value)`` for every option.

        .. versionadded:: 0.1.0
        """
        return [(option.name, option.value()) for option in self._options.values()]

    def groups(self) -> set[str]:
        """Return the names of the option groups.

        An option's group is the *group* given to :meth:`define`, or else the
        path of the file that defined it.

        .. versionadded:: 0.1.0
        """
        return {option.group_name for option in self._options.values()}

    def group_dict(self, group: str | None) -> dict[str, Any]:
        """Return ``{name: value}`` for the options of *group* (all if it is empty).

        Handy for passing a group of options on as keyword arguments::

            define("template_path", group="application")
            define("static_path", group="application")
            app = Application(handlers, **options.group_dict("application"))

        :arg group: a name from :meth:`groups`; ``None`` or ``""`` for every option.

        .. versionadded:: 0.1.0
        """
        return {
            option.name: option.value()
            for option in self._options.values()
            if not group or option.group_name == group
        }

    def as_dict(self) -> dict[str, Any]:
        """Return ``{name: value}`` for every option.

        .. versionadded:: 0.1.0
        """
        return {option.name: option.value() for option in self._options.values()}

    # -- definition -----------------------------------------------------------

    def define(
        self,
        name: str,
        default: Any = None,
        type: Any = None,
        help: str | None = None,
        metavar: str | None = None,
        multiple: bool = False,
        group: str | None = None,
        callback: Callable[[Any], None] | None = None,
    ) -> None:
        """Define a new option.

        :arg name: the option name; ``--name`` on the command line, and the
            attribute name on this parser. Dashes and underscores are equivalent.
        :arg default: the value before anything sets it (``[]`` when *multiple*
            and no default is given).
        :arg type: the value type: ``str``, ``int``, ``float``, ``bool``,
            :class:`datetime.datetime`, :class:`datetime.timedelta`, or any
            callable that converts a string. By default the type of *default*
            (of its first item when *multiple*), else ``str``.
        :arg help: the description shown by ``--help``.
        :arg metavar: the placeholder for the value in ``--help`` (``--port=PORT``).
        :arg multiple: the value is a list, given as comma-separated items.
        :arg group: the heading under which ``--help`` lists the option, and the
            name for :meth:`group_dict`; by default the defining file.
        :arg callback: called with the new value whenever the option is set,
            parsed or not.
        :raises DuplicateOptionError: if an option of that name already exists.
        :raises ValueError: if *name* is empty or contains ``=`` or blanks, or
            starts with ``-``.
        :raises TypeError: if *type* is not callable.

        .. versionadded:: 0.1.0
        """
        self._add(
            name,
            default=default,
            type_=type,
            help=help,
            metavar=metavar,
            multiple=multiple,
            group=group,
            callback=callback,
            file_name=_caller_file(),
        )

    def _add(
        self,
        name: str,
        *,
        default: Any,
        type_: Any,
        help: str | None,
        metavar: str | None,
        multiple: bool,
        group: str | None,
        callback: Callable[[Any], None] | None,
        file_name: str,
    ) -> None:
        key = _normalize(name)
        existing = self._options.get(key)
        if existing is not None:
            where = existing.file_name or "squall.options"
            raise DuplicateOptionError(f"Option {name!r} already defined in {where}")
        if not name or name.startswith("-") or "=" in name or any(c.isspace() for c in name):
            raise ValueError(f"invalid option name {name!r}")
        kind = type_
        if kind is None:
            if multiple and isinstance(default, list) and default:
                kind = default[0].__class__
            elif not multiple and default is not None:
                kind = default.__class__
            else:
                kind = str
        elif not callable(kind):
            raise TypeError(f"option {name!r}: type must be a type or a callable, not {kind!r}")
        self._options[key] = _Option(
            name,
            default=default,
            type_=kind,
            help=help,
            metavar=metavar,
            multiple=multiple,
            file_name=file_name,
            group_name=group or file_name,
            callback=callback,
        )

    # -- parsing --------------------------------------------------------------

    def parse_command_line(self, args: list[str] | None = None, final: bool = True) -> list[str]:
        """Set options from a command line and return the arguments left over.

        :arg args: the command line, program name first; ``sys.argv`` by default.
        :arg final: run the parse callbacks afterwards (pass ``False`` when
            another parse will follow).
        :returns: the arguments from the first one not starting with ``-``
            (or the ones after ``--``).
        :raises UnrecognizedOptionError: for an option that was not defined.
        :raises OptionValueError: for a missing or invalid value.

        .. versionadded:: 0.1.0
        """
        if args is None:
            args = sys.argv
        remaining: list[str] = []
        for index in range(1, len(args)):
            arg = args[index]
            if not arg.startswith("-"):
                remaining = args[index:]
                break
            if arg == "--":
                remaining = args[index + 1 :]
                break
            name, equals, value = arg.lstrip("-").partition("=")
            option = self._get(name)
            if option is None or not name:
                raise UnrecognizedOptionError(
                    f"Unrecognized command line option: {arg.partition('=')[0]!r} (see --help)"
                )
            if not equals:
                if option.type is not bool or option.multiple:
                    raise OptionValueError(
                        f"option --{option.name} requires a value (--{option.name}=VALUE)"
                    )
                value = "true"
            option.parse(value)
        if final:
            self.run_parse_callbacks()
        return list(remaining)

    def parse_config_file(self, path: str | os.PathLike[str], final: bool = True) -> None:
        """Set options from a Python config file.

        The file is executed as Python code; each global whose name matches a
        defined option sets it. A string value for a non-string option is parsed
        as on the command line (``port = "80"`` and ``port = 80`` both work);
        any other value must have the option's type (a list for *multiple*
        options, which also take a comma-separated string). Other globals are
        ignored, and ``__file__`` is the file's absolute path while it runs::

            port = 80
            debug = True
            log_file_prefix = "/var/log/app.log"

        :arg path: the config file.
        :arg final: run the parse callbacks afterwards.
        :raises OSError: if the file cannot be read.
        :raises SyntaxError: if it is not valid Python (other exceptions raised
            by the code propagate too).
        :raises OptionValueError: if a value does not fit its option.

        .. versionadded:: 0.1.0
        """
        full_path = os.path.abspath(path)
        with open(full_path, "rb") as source:
            code = compile(source.read(), full_path, "exec")
        config: dict[str, Any] = {"__file__": full_path}
        exec(code, config, config)
        for name, value in config.items():
            option = self._get(name)
            if option is None or name.startswith("__"):
                continue
            if isinstance(value, str) and (option.type is not str or option.multiple):
                option.parse(value)
            elif option.multiple and not isinstance(value, list):
                raise OptionValueError(
                    f"option {name!r} in {full_path} must be a list of "
                    f"{_type_name(option.type)} or a comma-separated string "
                    f"({value!r} given)"
                )
            else:
                option.set(value)
        if final:
            self.run_parse_callbacks()

    # -- help and callbacks -----------------------------------------------------

    def print_help(self, file: TextIO | None = None) -> None:
        """Print the usage line and every option, grouped by defining file.

        :arg file: where to write; ``sys.stderr`` by default.

        .. versionadded:: 0.1.0
        """
        out = sys.stderr if file is None else file
        lines = [f"Usage: {os.path.basename(sys.argv[0]) if sys.argv else 'program'} [OPTIONS]"]
        lines += ["", "Options:"]
        by_group: dict[str, list[_Option]] = {}
        for option in self._options.values():
            by_group.setdefault(option.group_name, []).append(option)
        for group in sorted(by_group):
            if group:
                lines += ["", f"{group} options:"]
            lines.append("")
            for option in sorted(by_group[group], key=lambda o: o.name):
                lines.extend(_help_lines(option))
        out.write("\n".join(lines) + "\n")

    def _help_callback(self, value: bool) -> None:
        if value:
            self.print_help()
            sys.exit(0)

    def add_parse_callback(self, callback: Callable[[], None]) -> None:
        """Call *callback* (no arguments) each time parsing finishes (``final=True``).

        .. versionadded:: 0.1.0
        """
        self._parse_callbacks.append(callback)

    def run_parse_callbacks(self) -> None:
        """Run the callbacks registered with :meth:`add_parse_callback`, in order.

        .. versionadded:: 0.1.0
        """
        for callback in list(self._parse_callbacks):
            callback()

    def mockable(self) -> _Mockable:
        """Return a view of this parser that :func:`unittest.mock.patch.object` can patch.

        ``mock.patch.object(options, "port", 1)`` does not work on the parser
        itself; patch the view instead and the value is restored afterwards::

            with mock.patch.object(options.mockable(), "port", 1):
                assert options.port == 1

        .. versionadded:: 0.1.0
        """
        return _Mockable(self)


def _help_lines(option: _Option) -> list[str]:
    """Return the ``--help`` lines describing *option*."""
    spelled = f"--{option.name}"
    if option.metavar:
        spelled += f"={option.metavar}"
    elif option.type is not bool or option.multiple:
        spelled += f"={_type_name(option.type).upper()}"
    if option.multiple:
        spelled += ",..."
    text = option.help or ""
    if option.default is not None and option.default not in ("", []):
        text += f" (default {option.default})"
    wrapped = textwrap.wrap(text, 79 - 34) or [""]
    if len(spelled) > 30:
        head = [f"  {spelled}"]
        rest = wrapped
    else:
        head = [f"  {spelled:<30}  {wrapped[0]}".rstrip()]
        rest = wrapped[1:]
    return head + [f"{'':34}{line}" for line in rest]


_OWN_FILE = os.path.normcase(os.path.abspath(__file__))


def _caller_file() -> str:
    """Return the file of the code that called define() ("" for this module)."""
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename
        if os.path.normcase(os.path.abspath(path)) != _OWN_FILE:
            return path
        if frame.f_back is None:
            break
        frame = frame.f_back
    return ""


class _Mockable:
    """A stand-in for an :class:`OptionParser` that ``mock.patch`` can set and delete on."""

    def __init__(self, parser: OptionParser) -> None:
        self.__dict__["_parser"] = parser
        self.__dict__["_saved"] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)

    def __setattr__(self, name: str, value: Any) -> None:
        previous = getattr(self._parser, name)
        setattr(self._parser, name, value)  # may raise: then nothing to undo
        saved: dict[str, list[Any]] = self._saved
        saved.setdefault(name, []).append(previous)

    def __delattr__(self, name: str) -> None:
        # Undo the latest set of *name*, so nested patches unwind in order.
        stack: list[Any] = self._saved.get(name) or []
        if stack:
            setattr(self._parser, name, stack.pop())


options = OptionParser()
"""The global option parser used by the module-level functions.

.. versionadded:: 0.1.0
"""


def define(
    name: str,
    default: Any = None,
    type: Any = None,
    help: str | None = None,
    metavar: str | None = None,
    multiple: bool = False,
    group: str | None = None,
    callback: Callable[[Any], None] | None = None,
) -> None:
    """Define an option on the global :data:`options` (see :meth:`OptionParser.define`).

    :raises DuplicateOptionError: if an option of that name already exists.

    .. versionadded:: 0.1.0
    """
    options.define(
        name,
        default=default,
        type=type,
        help=help,
        metavar=metavar,
        multiple=multiple,
        group=group,
        callback=callback,
    )


def parse_command_line(args: list[str] | None = None, final: bool = True) -> list[str]:
    """Parse the command line into the global :data:`options`.

    See :meth:`OptionParser.parse_command_line`.

    :raises UnrecognizedOptionError: for an option that was not defined.
    :raises OptionValueError: for a missing or invalid value.

    .. versionadded:: 0.1.0
    """
    return options.parse_command_line(args, final=final)


def parse_config_file(path: str | os.PathLike[str], final: bool = True) -> None:
    """Parse a Python config file into the global :data:`options`.

    See :meth:`OptionParser.parse_config_file`.

    :raises OptionValueError: if a value does not fit its option.

    .. versionadded:: 0.1.0
    """
    options.parse_config_file(path, final=final)


def print_help(file: TextIO | None = None) -> None:
    """Print the help of the global :data:`options` (to stderr by default).

    .. versionadded:: 0.1.0
    """
    options.print_help(file)


def add_parse_callback(callback: Callable[[], None]) -> None:
    """Run *callback* when parsing of the global :data:`options` is final.

    .. versionadded:: 0.1.0
    """
    options.add_parse_callback(callback)


# The logging options live on the global parser, applied once parsing is final.
define_logging_options(options)
