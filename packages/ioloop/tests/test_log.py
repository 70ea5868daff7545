import logging
import logging.handlers
import re
import sys
from unittest import mock

import pytest
from squall import log
from squall.log import LogFormatter, define_logging_options, enable_pretty_logging
from squall.options import OptionParser


def make_record(msg, *args, level=logging.INFO, exc_info=None, name="squall.test"):
    return logging.LogRecord(name, level, "/src/app/handlers.py", 42, msg, args, exc_info)


@pytest.fixture
def logger():
    """A private logger outside the logger tree, its handlers closed afterwards."""
    lg = logging.Logger("squall.test.pretty")
    yield lg
    for handler in list(lg.handlers):
        lg.removeHandler(handler)
        handler.close()


@pytest.fixture
def parser():
    p = OptionParser()
    define_logging_options(p)
    return p


def test_public_api():
    assert set(log.__all__) == {
        "DEFAULT_COLORS",
        "DEFAULT_DATE_FORMAT",
        "DEFAULT_FORMAT",
        "LogFormatter",
        "access_log",
        "app_log",
        "define_logging_options",
        "enable_pretty_logging",
        "gen_log",
    }
    for name in log.__all__:
        assert hasattr(log, name)


def test_logger_names():
    assert log.access_log.name == "squall.access"
    assert log.app_log.name == "squall.application"
    assert log.gen_log.name == "squall.general"
    assert log.access_log is logging.getLogger("squall.access")


def test_default_line_layout():
    text = LogFormatter(color=False).format(make_record("hello %s", "world"))
    assert re.fullmatch(r"\[I \d{6} \d\d:\d\d:\d\d handlers:42\] hello world", text), text


def test_levels_use_their_initial():
    fmt = LogFormatter(color=False)
    for level, letter in [(logging.DEBUG, "D"), (logging.WARNING, "W"), (logging.ERROR, "E")]:
        assert fmt.format(make_record("x", level=level)).startswith(f"[{letter} ")


def test_multiline_message_is_indented():
    text = LogFormatter(color=False).format(make_record("first\nsecond\nthird"))
    lines = text.split("\n")
    assert lines[0].endswith("] first")
    assert lines[1:] == ["    second", "    third"]


def test_exception_is_indented_under_the_message():
    try:
        raise ValueError("kaput")
    except ValueError:
        exc_info = sys.exc_info()
    text = LogFormatter(color=False).format(make_record("failed", exc_info=exc_info))
    lines = text.split("\n")
    assert lines[0].endswith("] failed")
    assert lines[1] == "    Traceback (most recent call last):"
    assert lines[-1] == "    ValueError: kaput"
    assert all(line.startswith("    ") for line in lines[1:])


def test_stack_info_is_indented():
    record = make_record("here")
    record.stack_info = "Stack (most recent call last):\n  File 'x.py', line 1"
    lines = LogFormatter(color=False).format(record).split("\n")
    assert lines[1:] == ["    Stack (most recent call last):", "      File 'x.py', line 1"]


def test_bad_arguments_do_not_raise():
    text = LogFormatter(color=False).format(make_record("%d apples", "many"))
    assert "Bad message" in text
    assert "%d apples" in text


def test_custom_format_and_datefmt():
    fmt = LogFormatter(fmt="%(levelname)s|%(asctime)s|%(message)s", datefmt="%Y", color=False)
    assert re.fullmatch(r"INFO\|\d{4}\|hi", fmt.format(make_record("hi")))


def test_brace_style():
    fmt = LogFormatter(fmt="{levelname}:{message}", style="{", color=False)
    assert fmt.format(make_record("hi")) == "INFO:hi"


def test_invalid_format_for_style_raises():
    with pytest.raises(ValueError):
        LogFormatter(fmt="no fields here", style="{")


def test_no_color_when_stderr_is_not_a_tty(capsys):
    # Under capsys, stderr is not a terminal.
    text = LogFormatter(color=True).format(make_record("plain"))
    assert "\033" not in text


def test_ansi_colors_when_curses_is_missing(monkeypatch):
    monkeypatch.setattr(log, "_stderr_supports_color", lambda: True)
    monkeypatch.setitem(sys.modules, "curses", None)  # import curses -> ImportError
    fmt = LogFormatter(color=True)
    info = fmt.format(make_record("ok"))
    assert info.startswith("\033[32m[I ")
    assert "]\033[0m ok" in info
    error = fmt.format(make_record("bad", level=logging.ERROR))
    assert error.startswith("\033[31m[E ")
    # A level without a colour is left plain.
    assert "\033" not in fmt.format(make_record("odd", level=25))


def test_custom_colors(monkeypatch):
    monkeypatch.setattr(log, "_stderr_supports_color", lambda: True)
    monkeypatch.setitem(sys.modules, "curses", None)
    fmt = LogFormatter(color=True, colors={logging.INFO: 6})
    assert fmt.format(make_record("ok")).startswith("\033[36m")
    assert "\033" not in fmt.format(make_record("w", level=logging.WARNING))


def test_color_false_never_colors(monkeypatch):
    monkeypatch.setattr(log, "_stderr_supports_color", lambda: True)
    assert "\033" not in LogFormatter(color=False).format(make_record("x"))


def test_stderr_color_detection(monkeypatch):
    class FakeTTY:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.setitem(sys.modules, "curses", None)
    monkeypatch.setattr(sys, "stderr", FakeTTY(False))
    assert log._stderr_supports_color() is False
    monkeypatch.setattr(sys, "stderr", FakeTTY(True))
    monkeypatch.setenv("TERM", "dumb")
    assert log._stderr_supports_color() is False
    monkeypatch.setenv("TERM", "xterm-256color")
    assert log._stderr_supports_color() is True
    monkeypatch.setattr(sys, "stderr", object())  # no isatty at all
    assert log._stderr_supports_color() is False


def test_define_logging_options_declares_everything(parser):
    assert parser.logging == "info"
    assert parser.log_to_stderr is None
    assert parser.log_file_prefix is None
    assert parser.log_file_max_size == 100 * 1000 * 1000
    assert parser.log_file_num_backups == 10
    assert parser.log_rotate_when == "midnight"
    assert parser.log_rotate_interval == 1
    assert parser.log_rotate_mode == "size"


def test_global_parser_has_logging_options():
    from squall.options import options

    assert "log_file_prefix" in options
    assert "log-rotate-mode" in options


def test_none_leaves_logging_alone(parser, logger):
    parser.logging = "none"
    logger.setLevel(logging.ERROR)
    enable_pretty_logging(parser, logger)
    assert logger.handlers == []
    assert logger.level == logging.ERROR


def test_console_handler_by_default(parser, logger):
    parser.logging = "debug"
    enable_pretty_logging(parser, logger)
    assert logger.level == logging.DEBUG
    [handler] = logger.handlers
    assert type(handler) is logging.StreamHandler
    assert isinstance(handler.formatter, LogFormatter)


def test_no_console_when_logger_already_has_handlers(parser, logger):
    existing = logging.NullHandler()
    logger.addHandler(existing)
    enable_pretty_logging(parser, logger)
    assert logger.handlers == [existing]
    parser.log_to_stderr = True
    enable_pretty_logging(parser, logger)
    assert len(logger.handlers) == 2


def test_repeated_calls_replace_their_own_handlers(parser, logger):
    enable_pretty_logging(parser, logger)
    enable_pretty_logging(parser, logger)
    assert len(logger.handlers) == 1


def test_size_rotation(parser, logger, tmp_path):
    path = tmp_path / "app.log"
    parser.log_file_prefix = str(path)
    parser.log_file_max_size = 200
    parser.log_file_num_backups = 2
    enable_pretty_logging(parser, logger)
    [handler] = logger.handlers  # no console: a log file is set
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert handler.maxBytes == 200
    assert handler.backupCount == 2
    for i in range(20):
        logger.info("line number %d with some padding", i)
    handler.flush()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["app.log", "app.log.1", "app.log.2"]
    assert "line number 19" in path.read_text(encoding="utf-8")
    assert "\033" not in path.read_text(encoding="utf-8")


def test_time_rotation(parser, logger, tmp_path):
    parser.log_file_prefix = str(tmp_path / "app.log")
    parser.log_rotate_mode = "time"
    parser.log_rotate_when = "H"
    parser.log_rotate_interval = 3
    parser.log_file_num_backups = 4
    enable_pretty_logging(parser, logger)
    [handler] = logger.handlers
    assert isinstance(handler, logging.handlers.TimedRotatingFileHandler)
    assert handler.when == "H"
    assert handler.interval == 3 * 3600
    assert handler.backupCount == 4


def test_file_and_stderr(parser, logger, tmp_path):
    parser.log_file_prefix = str(tmp_path / "app.log")
    parser.log_to_stderr = True
    enable_pretty_logging(parser, logger)
    kinds = sorted(type(h).__name__ for h in logger.handlers)
    assert kinds == ["RotatingFileHandler", "StreamHandler"]


def test_invalid_rotate_mode(parser, logger, tmp_path):
    parser.log_file_prefix = str(tmp_path / "app.log")
    parser.log_rotate_mode = "weekly"
    with pytest.raises(ValueError, match=r"log_rotate_mode='weekly'.*size, time"):
        enable_pretty_logging(parser, logger)
    assert logger.handlers == []
    assert list(tmp_path.iterdir()) == []


def test_invalid_rotate_when(parser, logger, tmp_path):
    parser.log_file_prefix = str(tmp_path / "app.log")
    parser.log_rotate_mode = "time"
    parser.log_rotate_when = "fortnight"
    with pytest.raises(ValueError, match="log_rotate_when='fortnight'"):
        enable_pretty_logging(parser, logger)


def test_invalid_level(parser, logger):
    parser.logging = "loud"
    with pytest.raises(ValueError, match="'loud'"):
        enable_pretty_logging(parser, logger)
    assert logger.handlers == []


def test_unwritable_log_file(parser, logger, tmp_path):
    parser.log_file_prefix = str(tmp_path / "missing-dir" / "app.log")
    with pytest.raises(OSError):
        enable_pretty_logging(parser, logger)


def test_parse_callback_applies_options(logger, tmp_path, monkeypatch):
    # define_logging_options wires enable_pretty_logging(options) as a parse
    # callback; it configures the root logger, so point it at ours.
    monkeypatch.setattr(logging, "getLogger", lambda name=None: logger)
    parser = OptionParser()
    define_logging_options(parser)
    path = tmp_path / "cli.log"
    parser.parse_command_line(["prog", "--logging=warning", f"--log-file-prefix={path}"])
    assert logger.level == logging.WARNING
    [handler] = logger.handlers
    assert handler.baseFilename == str(path)
    parser.parse_command_line(["prog", "--logging=debug"], final=False)
    assert logger.level == logging.WARNING  # not final: callbacks not run yet


def test_default_options_are_the_global_ones(logger):
    from squall.options import options

    with mock.patch.object(options.mockable(), "logging", "error"):
        enable_pretty_logging(logger=logger)
    assert logger.level == logging.ERROR
    assert options.logging == "info"
