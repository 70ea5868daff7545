"""Logging support: Squall's loggers, a readable formatter, and console/file set-up.

Squall logs to three loggers, named like Tornado's so that an existing logging
configuration only needs the prefix changed:

* ``squall.access`` (:data:`access_log`): one line per HTTP request served;
* ``squall.application`` (:data:`app_log`): errors raised by application code
  (uncaught exceptions in handlers and callbacks);
* ``squall.general`` (:data:`gen_log`): everything else Squall itself reports
  (network errors, autoreload, configuration problems).

Squall never configures logging on import. :func:`enable_pretty_logging` does it
on request, and :mod:`squall.options` calls it after the command line (or a config
file) has been parsed, driven by the ``--logging``, ``--log_to_stderr`` and
``--log_file_*`` / ``--log_rotate_*`` options that :func:`define_logging_options`
declares.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_COLORS",
    "DEFAULT_DATE_FORMAT",
    "DEFAULT_FORMAT",
    "LogFormatter",
    "access_log",
    "app_log",
    "define_logging_options",
    "enable_pretty_logging",
    "gen_log",
]

access_log = logging.getLogger("squall.access")
"""Logger for per-request access lines (``squall.access``).

.. versionadded:: 0.1.0
"""

app_log = logging.getLogger("squall.application")
"""Logger for errors raised by application code (``squall.application``).

.. versionadded:: 0.1.0
"""

gen_log = logging.getLogger("squall.general")
"""Logger for everything else Squall reports (``squall.general``).

.. versionadded:: 0.1.0
"""

DEFAULT_FORMAT = (
    "%(color)s[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d]%(end_color)s %(message)s"
)
"""The default line layout of :class:`LogFormatter`: ``[I 240101 12:00:00 web:2250] text``.

.. versionadded:: 0.1.0
"""

DEFAULT_DATE_FORMAT = "%y%m%d %H:%M:%S"
"""The default ``asctime`` layout of :class:`LogFormatter` (``yymmdd HH:MM:SS``).

.. versionadded:: 0.1.0
"""

DEFAULT_COLORS: dict[int, int] = {
    logging.DEBUG: 4,  # blue
    logging.INFO: 2,  # green
    logging.WARNING: 3,  # yellow
    logging.ERROR: 1,  # red
    logging.CRITICAL: 5,  # magenta
}
"""Default map from log level to terminal colour number (the 8 ANSI colours, 0-7).

.. versionadded:: 0.1.0
"""

_ANSI_RESET = "\033[0m"
_INDENT = "\n    "
_ROTATE_MODES = ("size", "time")


def _stderr_supports_color() -> bool:
    """Return True when ``sys.stderr`` is a terminal that understands colour.

    A terminal qualifies when curses reports colours for it, or, where curses
    is missing or cannot describe the terminal, when ``TERM`` names something
    other than ``dumb`` (or, on Windows, the terminal is known to speak ANSI).
    """
    stream = sys.stderr
    try:
        if stream is None or not stream.isatty():
            return False
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
    try:
        import curses

        curses.setupterm()
        if curses.tigetnum("colors") > 0:
            return True
    except Exception:
        pass  # no curses, or no terminfo entry: fall back to the ANSI guess
    if os.name == "nt":
        return "WT_SESSION" in os.environ or "ANSICON" in os.environ
    term = os.environ.get("TERM", "")
    return bool(term) and term != "dumb"


def _color_sequences(colors: Mapping[int, int]) -> tuple[dict[int, str], str]:
    """Return the escape sequence starting each level's colour, and the reset one.

    The terminfo capabilities are used when curses knows the terminal, plain
    ANSI escapes otherwise.
    """
    try:
        import curses

        curses.setupterm()
        set_fg = curses.tigetstr("setaf") or curses.tigetstr("setf")
        reset = curses.tigetstr("sgr0")
        if set_fg and reset is not None:
            starts = {
                level: curses.tparm(set_fg, code).decode("ascii", "replace")
                for level, code in colors.items()
            }
            return starts, reset.decode("ascii", "replace")
    except Exception:
        pass
    return {level: f"\033[3{code}m" for level, code in colors.items()}, _ANSI_RESET


class LogFormatter(logging.Formatter):
    """A log formatter for Squall's console and file output.

    Each record becomes one line laid out by *fmt* (by default the level
    initial, the time, the module and the line number, then the message).
    Messages that span several lines and attached tracebacks are indented by
    four spaces under the first line, so every record starts in column 0 and a
    log is easy to scan and grep.

    The format string may use, besides the standard :class:`logging.LogRecord`
    attributes, ``%(color)s`` and ``%(end_color)s``: they enclose the part of
    the line that is coloured by level when colour is in use, and are empty
    otherwise.

    A formatter never raises while formatting: if the message's ``%`` arguments
    do not match its format, the line says so and shows the raw record instead.

    :arg fmt: the line layout, in *style* (default :data:`DEFAULT_FORMAT`).
    :arg datefmt: the :func:`time.strftime` layout of ``asctime``
        (default :data:`DEFAULT_DATE_FORMAT`).
    :arg style: ``"%"``, ``"{"`` or ``"$"``, as for :class:`logging.Formatter`.
    :arg color: use colour if ``sys.stderr`` is a terminal that supports it
        (curses, or ANSI escapes). ``False`` never colours (use it for files).
    :arg colors: map from log level to a colour number 0-7
        (default :data:`DEFAULT_COLORS`).
    :raises ValueError: if *fmt* is not valid for *style*.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        fmt: str = DEFAULT_FORMAT,
        datefmt: str = DEFAULT_DATE_FORMAT,
        style: str = "%",
        color: bool = True,
        colors: Mapping[int, int] = DEFAULT_COLORS,
    ) -> None:
        super().__init__(fmt=fmt, datefmt=datefmt, style=style)  # type: ignore[arg-type]
        self._colors: dict[int, str] = {}
        self._normal = ""
        if color and _stderr_supports_color():
            self._colors, self._normal = _color_sequences(colors)

    def format(self, record: logging.LogRecord) -> str:
        """Format *record* as described in the class documentation.

        :arg record: the record to format.
        :returns: the formatted text, without a trailing newline.

        .. versionadded:: 0.1.0
        """
        try:
            message = record.getMessage()
        except Exception as exc:
            message = f"Bad message ({exc!r}): {record.__dict__!r}"
        record.message = message
        record.asctime = self.formatTime(record, self.datefmt)
        start = self._colors.get(record.levelno)
        if start is None:
            record.color = record.end_color = ""
        else:
            record.color = start
            record.end_color = self._normal
        formatted = self.formatMessage(record)

        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        extra = [formatted.rstrip()]
        if record.exc_text:
            extra.append(record.exc_text.rstrip())
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info).rstrip())
        text = "\n".join(extra) if len(extra) > 1 else formatted
        if "\n" in text:
            text = text.replace("\n", _INDENT)
        return text


def _level_from_name(name: str) -> int:
    """Return the numeric logging level called *name* (case-insensitive)."""
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise ValueError(
            f"invalid logging level {name!r} (option --logging): "
            "expected debug, info, warning, error, critical or none"
        )
    return level


def _file_handler(options: Any) -> logging.Handler:
    """Build the rotating file handler that *options* ask for."""
    mode = options.log_rotate_mode
    prefix = options.log_file_prefix
    if mode == "size":
        return logging.handlers.RotatingFileHandler(
            filename=prefix,
            mode="a",
            maxBytes=options.log_file_max_size,
            backupCount=options.log_file_num_backups,
            encoding="utf-8",
        )
    if mode == "time":
        try:
            return logging.handlers.TimedRotatingFileHandler(
                filename=prefix,
                when=options.log_rotate_when,
                interval=options.log_rotate_interval,
                backupCount=options.log_file_num_backups,
                encoding="utf-8",
            )
        except ValueError as exc:
            raise ValueError(
                f"invalid --log_rotate_when={options.log_rotate_when!r} or "
                f"--log_rotate_interval={options.log_rotate_interval!r}: {exc}"
            ) from exc
    raise ValueError(
        f"invalid --log_rotate_mode={mode!r}: expected one of {', '.join(_ROTATE_MODES)}"
    )


def enable_pretty_logging(options: Any = None, logger: logging.Logger | None = None) -> None:
    """Configure *logger* from the logging options: level, log file, console.

    What is done, in order:

    * if ``options.logging`` is ``None`` or ``"none"`` nothing is touched;
    * the logger's level is set to ``options.logging``;
    * if ``options.log_file_prefix`` is set, a file handler writing to that path
      is added; it rotates by size (``log_rotate_mode="size"``: at
      ``log_file_max_size`` bytes) or by time (``"time"``: every
      ``log_rotate_interval`` units of ``log_rotate_when``), keeping
      ``log_file_num_backups`` old files;
    * a handler writing to stderr, coloured when possible, is added if
      ``options.log_to_stderr`` is true, or if it is ``None`` and the logger has
      no handler at this point.

    Calling it again (for instance after a config file and then the command line
    were parsed) replaces the handlers an earlier call installed on the same
    logger instead of adding duplicates; other handlers are left alone.

    :arg options: an object with the attributes declared by
        :func:`define_logging_options`; the global :data:`squall.options.options`
        by default.
    :arg logger: the logger to configure; the root logger by default.
    :raises ValueError: if ``options.logging`` is not a level name, or
        ``options.log_rotate_mode`` is neither ``"size"`` nor ``"time"``, or the
        time rotation settings are invalid.
    :raises OSError: if the log file cannot be opened.

    .. versionadded:: 0.1.0
    """
    if options is None:
        from squall.options import options as global_options

        options = global_options
    if options.logging is None or str(options.logging).lower() == "none":
        return
    level = _level_from_name(str(options.logging))
    file_handler = _file_handler(options) if options.log_file_prefix else None

    if logger is None:
        logger = logging.getLogger()
    for old in [h for h in logger.handlers if getattr(h, "_squall_pretty", False)]:
        logger.removeHandler(old)
        old.close()
    logger.setLevel(level)
    if file_handler is not None:
        file_handler.setFormatter(LogFormatter(color=False))
        file_handler._squall_pretty = True  # type: ignore[attr-defined]
        logger.addHandler(file_handler)
    if options.log_to_stderr or (options.log_to_stderr is None and not logger.handlers):
        console = logging.StreamHandler()
        console.setFormatter(LogFormatter())
        console._squall_pretty = True  # type: ignore[attr-defined]
        logger.addHandler(console)


def define_logging_options(options: Any = None) -> None:
    """Declare the logging options on *options* and apply them after parsing.

    The options are ``logging`` (level name or ``none``), ``log_to_stderr``,
    ``log_file_prefix``, ``log_file_max_size``, ``log_file_num_backups``,
    ``log_rotate_mode`` (``size`` or ``time``), ``log_rotate_when`` and
    ``log_rotate_interval``. A parse callback calls
    :func:`enable_pretty_logging` with *options* once parsing is final.

    The global :data:`squall.options.options` already has them; call this for
    another :class:`squall.options.OptionParser`.

    :arg options: the :class:`squall.options.OptionParser` to extend; the global
        one by default.
    :raises squall.options.Error: if one of these options is already defined.

    .. versionadded:: 0.1.0
    """
    if options is None:
        from squall.options import options as global_options

        options = global_options
    options.define(
        "logging",
        default="info",
        help="Log level (debug, info, warning, error, critical); "
        "'none' leaves the logging configuration alone.",
        metavar="debug|info|warning|error|none",
    )
    options.define(
        "log_to_stderr",
        type=bool,
        default=None,
        help="Log to stderr (in colour on a terminal). By default stderr is used "
        "when no log file is set and no other logging is configured.",
    )
    options.define(
        "log_file_prefix",
        type=str,
        default=None,
        metavar="PATH",
        help="Path of the log file. Give each process its own "
        "(for example by including the port number).",
    )
    options.define(
        "log_file_max_size",
        type=int,
        default=100 * 1000 * 1000,
        help="Size in bytes at which the log file is rotated (log_rotate_mode=size).",
    )
    options.define(
        "log_file_num_backups",
        type=int,
        default=10,
        help="Number of rotated log files to keep.",
    )
    options.define(
        "log_rotate_when",
        type=str,
        default="midnight",
        help="Unit of the time rotation interval: S, M, H, D, W0-W6 or midnight "
        "(log_rotate_mode=time).",
    )
    options.define(
        "log_rotate_interval",
        type=int,
        default=1,
        help="Number of log_rotate_when units between rotations (log_rotate_mode=time).",
    )
    options.define(
        "log_rotate_mode",
        type=str,
        default="size",
        metavar="size|time",
        help="Rotate the log file by size or by time.",
    )
    options.add_parse_callback(lambda: enable_pretty_logging(options))
