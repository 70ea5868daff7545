import datetime
import io
import os
import subprocess
import sys
import textwrap
from unittest import mock

import pytest
from squall import options as options_module
from squall.options import (
    DuplicateOptionError,
    Error,
    OptionParser,
    OptionValueError,
    UnrecognizedOptionError,
)


@pytest.fixture
def parser():
    return OptionParser()


def test_public_api():
    assert set(options_module.__all__) == {
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
    }
    for name in options_module.__all__:
        assert hasattr(options_module, name)
    assert isinstance(options_module.options, OptionParser)


def test_error_hierarchy():
    for cls in (DuplicateOptionError, UnrecognizedOptionError, OptionValueError):
        assert issubclass(cls, Error)
    assert issubclass(OptionValueError, ValueError)


# -- definition and access --------------------------------------------------------


def test_define_and_defaults(parser):
    parser.define("port", default=8888)
    parser.define("name")
    parser.define("ratio", default=0.5)
    parser.define("tags", multiple=True)
    assert parser.port == 8888
    assert parser.name is None
    assert parser.ratio == 0.5
    assert parser.tags == []


def test_type_inference(parser):
    parser.define("port", default=8888)
    parser.define("debug", default=False)
    parser.define("ids", default=[1, 2], multiple=True)
    parser.define("anything")
    parser.parse_command_line(["prog", "--port=80", "--debug", "--ids=3:4", "--anything=7"])
    assert parser.port == 80
    assert parser.debug is True
    assert parser.ids == [3, 4]
    assert parser.anything == "7"


def test_duplicate_definition(parser):
    parser.define("port", default=1)
    with pytest.raises(DuplicateOptionError, match=r"'port' already defined in .*test_options"):
        parser.define("port", default=2)
    with pytest.raises(DuplicateOptionError):
        parser.define("help")


def test_duplicate_with_other_spelling(parser):
    parser.define("log_dir")
    with pytest.raises(DuplicateOptionError):
        parser.define("log-dir")


@pytest.mark.parametrize("name", ["", "-x", "a=b", "a b"])
def test_invalid_names(parser, name):
    with pytest.raises(ValueError, match="invalid option name"):
        parser.define(name)


def test_type_must_be_callable(parser):
    with pytest.raises(TypeError, match="'x'"):
        parser.define("x", type="int")


def test_attribute_and_item_access(parser):
    parser.define("log_dir", default="/tmp")
    assert parser.log_dir == "/tmp"
    assert parser["log-dir"] == "/tmp"
    assert parser["log_dir"] == "/tmp"
    parser.log_dir = "/var"
    assert parser["log_dir"] == "/var"
    parser["log-dir"] = "/srv"
    assert parser.log_dir == "/srv"
    assert "log_dir" in parser
    assert "log-dir" in parser
    assert "nope" not in parser
    assert 3 not in parser


def test_unknown_names(parser):
    with pytest.raises(AttributeError, match="nope"):
        _ = parser.nope
    with pytest.raises(AttributeError, match="nope"):
        parser.nope = 1
    with pytest.raises(KeyError):
        _ = parser["nope"]
    with pytest.raises(KeyError):
        parser["nope"] = 1


def test_setattr_type_check(parser):
    parser.define("port", default=1)
    parser.define("ratio", default=1.0)
    parser.define("ids", type=int, multiple=True)
    with pytest.raises(OptionValueError, match=r"--port must be a int \(str '80' given\)"):
        parser.port = "80"
    parser.port = None
    parser.ratio = 3  # an int is a fine float
    assert parser.ratio == 3
    with pytest.raises(OptionValueError):
        parser.ratio = True
    parser.ids = [1, 2]
    with pytest.raises(OptionValueError, match="list of int"):
        parser.ids = 1
    with pytest.raises(OptionValueError, match="list of int"):
        parser.ids = [1, "2"]
    assert parser.ids == [1, 2]


def test_iteration_and_dicts(parser):
    parser.define("a", default=1, group="g1")
    parser.define("b_c", default=2, group="g2")
    parser.define("d", default=3)
    assert list(parser) == ["help", "a", "b_c", "d"]
    assert len(parser) == 4
    assert dict(parser.items()) == {"help": None, "a": 1, "b_c": 2, "d": 3}
    assert parser.as_dict() == {"help": None, "a": 1, "b_c": 2, "d": 3}
    assert parser.group_dict("g1") == {"a": 1}
    assert parser.group_dict("g2") == {"b_c": 2}
    assert parser.group_dict(None) == parser.as_dict()
    assert parser.group_dict("") == parser.as_dict()
    assert parser.group_dict("unknown") == {}
    assert parser.groups() == {"", "g1", "g2", __file__}


def test_group_defaults_to_defining_file(parser):
    parser.define("x")
    assert parser.group_dict(__file__) == {"x": None}


def test_module_level_define_records_the_callers_file():
    fresh = OptionParser()
    with mock.patch.object(options_module, "options", fresh):
        options_module.define("from_module_define", default=1)
    assert fresh.group_dict(__file__) == {"from_module_define": 1}


def test_callback_runs_on_every_set(parser):
    seen = []
    parser.define("port", default=1, callback=seen.append)
    parser.parse_command_line(["prog", "--port=2"])
    parser.port = 3
    assert seen == [2, 3]


# -- command line ---------------------------------------------------------------------


def test_parse_command_line_basics(parser):
    parser.define("port", default=1)
    parser.define("host", default="localhost")
    rest = parser.parse_command_line(["prog", "--port=80", "-host=example.com", "file", "--x"])
    assert parser.port == 80
    assert parser.host == "example.com"
    assert rest == ["file", "--x"]


def test_parse_returns_args_after_double_dash(parser):
    parser.define("port", default=1)
    assert parser.parse_command_line(["prog", "--port=2", "--", "--port=3"]) == ["--port=3"]
    assert parser.port == 2
    assert parser.parse_command_line(["prog"]) == []


def test_dashes_and_underscores_are_equivalent(parser):
    parser.define("log_dir")
    parser.define("max-size", default=1)
    parser.parse_command_line(["prog", "--log-dir=/a", "--max_size=5"])
    assert parser.log_dir == "/a"
    assert parser.max_size == 5
    assert parser["max-size"] == 5


def test_default_args_are_sys_argv(parser, monkeypatch):
    parser.define("port", default=1)
    monkeypatch.setattr(sys, "argv", ["prog", "--port=9", "rest"])
    assert parser.parse_command_line() == ["rest"]
    assert parser.port == 9


def test_value_with_equals_sign(parser):
    parser.define("expr")
    parser.parse_command_line(["prog", "--expr=a=b"])
    assert parser.expr == "a=b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("t", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("F", False),
    ],
)
def test_bool_values(parser, text, expected):
    parser.define("debug", default=not expected)
    parser.parse_command_line(["prog", f"--debug={text}"])
    assert parser.debug is expected


def test_bool_flag_alone_means_true(parser):
    parser.define("debug", type=bool)
    parser.parse_command_line(["prog", "--debug"])
    assert parser.debug is True


def test_bad_bool(parser):
    parser.define("debug", type=bool)
    with pytest.raises(OptionValueError, match=r"--debug.*'maybe'"):
        parser.parse_command_line(["prog", "--debug=maybe"])


def test_unknown_option(parser, capsys):
    with pytest.raises(UnrecognizedOptionError, match=r"'--nope'"):
        parser.parse_command_line(["prog", "--nope=1"])
    with pytest.raises(UnrecognizedOptionError, match=r"'--'"):
        parser.parse_command_line(["prog", "--=1"])
    assert capsys.readouterr().err == ""


def test_missing_value(parser):
    parser.define("port", type=int)
    with pytest.raises(OptionValueError, match="--port requires a value"):
        parser.parse_command_line(["prog", "--port"])


@pytest.mark.parametrize(
    ("kind", "text"),
    [(int, "eighty"), (float, "1.2.3"), (int, "1.5")],
)
def test_bad_values_name_option_and_value(parser, kind, text):
    parser.define("num", type=kind)
    with pytest.raises(OptionValueError) as info:
        parser.parse_command_line(["prog", f"--num={text}"])
    message = str(info.value)
    assert "--num" in message
    assert repr(text) in message
    assert kind.__name__ in message


def test_failed_parse_keeps_previous_value(parser):
    parser.define("port", default=1)
    with pytest.raises(OptionValueError):
        parser.parse_command_line(["prog", "--port=x"])
    assert parser.port == 1


def test_float(parser):
    parser.define("ratio", type=float)
    parser.parse_command_line(["prog", "--ratio=2.5e-1"])
    assert parser.ratio == 0.25


def test_multiple_strings(parser):
    parser.define("names", multiple=True)
    parser.parse_command_line(["prog", "--names=a,b,c"])
    assert parser.names == ["a", "b", "c"]


def test_multiple_ints_with_ranges(parser):
    parser.define("ports", type=int, multiple=True)
    parser.parse_command_line(["prog", "--ports=1,3:5,10"])
    assert parser.ports == [1, 3, 4, 5, 10]
    parser.parse_command_line(["prog", "--ports=7:7"])
    assert parser.ports == [7]


def test_multiple_bad_range(parser):
    parser.define("ports", type=int, multiple=True)
    with pytest.raises(OptionValueError, match="'5:3'"):
        parser.parse_command_line(["prog", "--ports=5:3"])
    with pytest.raises(OptionValueError, match="'x'"):
        parser.parse_command_line(["prog", "--ports=1:x"])


def test_multiple_bool_needs_value(parser):
    parser.define("flags", type=bool, multiple=True)
    with pytest.raises(OptionValueError, match="requires a value"):
        parser.parse_command_line(["prog", "--flags"])
    parser.parse_command_line(["prog", "--flags=1,0"])
    assert parser.flags == [True, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-01-02 03:04:05", datetime.datetime(2013, 1, 2, 3, 4, 5)),
        ("2013-01-02 03:04", datetime.datetime(2013, 1, 2, 3, 4)),
        ("2013-01-02T03:04", datetime.datetime(2013, 1, 2, 3, 4)),
        ("20130102 03:04:05", datetime.datetime(2013, 1, 2, 3, 4, 5)),
        ("2013-01-02", datetime.datetime(2013, 1, 2)),
        ("20130102", datetime.datetime(2013, 1, 2)),
        ("Wed Jan 02 03:04:05 2013", datetime.datetime(2013, 1, 2, 3, 4, 5)),
        ("03:04", datetime.datetime(1900, 1, 1, 3, 4)),
        ("2013-01-02T03:04:05.250000", datetime.datetime(2013, 1, 2, 3, 4, 5, 250000)),
    ],
)
def test_datetime(parser, text, expected):
    parser.define("when", type=datetime.datetime)
    parser.parse_command_line(["prog", f"--when={text}"])
    assert parser.when == expected


def test_bad_datetime(parser):
    parser.define("when", type=datetime.datetime)
    with pytest.raises(OptionValueError, match=r"--when.*'yesterday'"):
        parser.parse_command_line(["prog", "--when=yesterday"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", datetime.timedelta(seconds=45)),
        ("45", datetime.timedelta(seconds=45)),
        ("1h 2m", datetime.timedelta(hours=1, minutes=2)),
        ("1h2m3s", datetime.timedelta(hours=1, minutes=2, seconds=3)),
        ("1.5d", datetime.timedelta(days=1.5)),
        ("250ms", datetime.timedelta(milliseconds=250)),
        ("10us", datetime.timedelta(microseconds=10)),
        ("2w", datetime.timedelta(weeks=2)),
        ("3 minutes", datetime.timedelta(minutes=3)),
        ("-5s", datetime.timedelta(seconds=-5)),
        (" 1 hour 30 min ", datetime.timedelta(hours=1, minutes=30)),
    ],
)
def test_timedelta(parser, text, expected):
    parser.define("delay", type=datetime.timedelta)
    parser.parse_command_line(["prog", f"--delay={text}"])
    assert parser.delay == expected


@pytest.mark.parametrize("text", ["", "soon", "5 fortnights", "1h x", "h"])
def test_bad_timedelta(parser, text):
    parser.define("delay", type=datetime.timedelta)
    with pytest.raises(OptionValueError, match="--delay"):
        parser.parse_command_line(["prog", f"--delay={text}"])


def test_callable_type(parser):
    def upper(value):
        return value.upper()

    parser.define("shout", type=upper)
    parser.parse_command_line(["prog", "--shout=hey"])
    assert parser.shout == "HEY"
    parser.shout = "anything goes for a converter"


def test_callable_type_failure(parser):
    def strict(value):
        raise ValueError("nope, never")

    parser.define("strict", type=strict)
    with pytest.raises(OptionValueError, match=r"--strict.*'v'.*nope, never"):
        parser.parse_command_line(["prog", "--strict=v"])


def test_parse_callbacks_run_when_final(parser):
    calls = []
    parser.add_parse_callback(lambda: calls.append(1))
    parser.parse_command_line(["prog"], final=False)
    assert calls == []
    parser.parse_command_line(["prog"])
    assert calls == [1]
    parser.run_parse_callbacks()
    assert calls == [1, 1]


def test_help_flag_prints_and_exits(parser, capsys):
    parser.define("port", default=8888, help="port to listen on")
    with pytest.raises(SystemExit) as info:
        parser.parse_command_line(["prog", "--help"])
    assert info.value.code == 0
    err = capsys.readouterr().err
    assert "--port=INT" in err
    assert "port to listen on (default 8888)" in err


# -- help -----------------------------------------------------------------------------


def test_print_help_groups_by_file(parser):
    parser.define("port", default=8888, help="port to listen on")
    parser.define("ids", type=int, multiple=True, help="some ids")
    parser.define("debug", default=False, help="debug mode")
    parser.define("db", metavar="URL", group="database", help="where the data is")
    parser.define("very_long_option_name_indeed", metavar="SOMETHING_LONG", help="long")
    out = io.StringIO()
    parser.print_help(out)
    text = out.getvalue()
    assert text.startswith("Usage: ")
    assert "  --help" in text
    assert f"{__file__} options:" in text
    assert "database options:" in text
    assert "--db=URL" in text
    assert "--ids=INT,..." in text
    assert "--debug " in text  # a bool flag shows no placeholder
    assert "debug mode (default False)" in text
    assert "--very_long_option_name_indeed=SOMETHING_LONG\n" in text
    # The help option (no file) comes first, then the groups in sorted order.
    first, second = sorted([f"{__file__} options:", "database options:"])
    assert text.index("--help") < text.index(first) < text.index(second)
    for line in text.splitlines():
        assert len(line) <= 80, line


def test_print_help_defaults_to_stderr(parser, capsys):
    parser.print_help()
    assert "--help" in capsys.readouterr().err


# -- config files ---------------------------------------------------------------------


def write_config(tmp_path, body):
    path = tmp_path / "app.conf"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_parse_config_file(parser, tmp_path):
    parser.define("port", default=80)
    parser.define("host", default="localhost")
    parser.define("ratio", type=float)
    parser.define("ports", type=int, multiple=True)
    parser.define("names", multiple=True)
    parser.define("delay", type=datetime.timedelta)
    parser.define("log_dir")
    path = write_config(
        tmp_path,
        """
        import os
        port = 443
        host = "example.com"
        ratio = 2
        ports = "1:3"
        names = ["a", "b"]
        delay = "1m"
        log_dir = os.path.dirname(__file__)
        unrelated = object()
        """,
    )
    parser.parse_config_file(path)
    assert parser.port == 443
    assert parser.host == "example.com"
    assert parser.ratio == 2
    assert parser.ports == [1, 2, 3]
    assert parser.names == ["a", "b"]
    assert parser.delay == datetime.timedelta(minutes=1)
    assert parser.log_dir == str(tmp_path)


def test_config_file_string_for_int_is_parsed(parser, tmp_path):
    parser.define("port", default=80)
    parser.parse_config_file(write_config(tmp_path, 'port = "8080"\n'))
    assert parser.port == 8080


def test_config_file_wrong_type(parser, tmp_path):
    parser.define("port", default=80)
    with pytest.raises(OptionValueError, match=r"--port must be a int \(float 1.5 given\)"):
        parser.parse_config_file(write_config(tmp_path, "port = 1.5\n"))
    with pytest.raises(OptionValueError, match=r"--port.*'abc'"):
        parser.parse_config_file(write_config(tmp_path, 'port = "abc"\n'))


def test_config_file_multiple_needs_list(parser, tmp_path):
    parser.define("ports", type=int, multiple=True)
    with pytest.raises(OptionValueError, match="list of int or a comma-separated string"):
        parser.parse_config_file(write_config(tmp_path, "ports = 5\n"))


def test_config_file_final_and_callbacks(parser, tmp_path):
    calls = []
    parser.define("port", default=80)
    parser.add_parse_callback(lambda: calls.append(parser.port))
    path = write_config(tmp_path, "port = 1\n")
    parser.parse_config_file(path, final=False)
    assert calls == []
    parser.parse_config_file(str(path))
    assert calls == [1]


def test_config_file_errors(parser, tmp_path):
    with pytest.raises(OSError):
        parser.parse_config_file(tmp_path / "missing.conf")
    with pytest.raises(SyntaxError) as info:
        parser.parse_config_file(write_config(tmp_path, "port = = 1\n"))
    assert info.value.filename == str(tmp_path / "app.conf")


def test_config_then_command_line(parser, tmp_path):
    parser.define("port", default=80)
    parser.define("host", default="localhost")
    parser.parse_config_file(write_config(tmp_path, "port = 1\nhost = 'cfg'\n"), final=False)
    parser.parse_command_line(["prog", "--port=2"])
    assert (parser.port, parser.host) == (2, "cfg")


# -- mockable -------------------------------------------------------------------------


def test_mockable(parser):
    parser.define("port", default=80)
    with mock.patch.object(parser.mockable(), "port", 8080):
        assert parser.port == 8080
    assert parser.port == 80


def test_mockable_nested_and_type_checked(parser):
    parser.define("port", default=80)
    mockable = parser.mockable()
    with mock.patch.object(mockable, "port", 1):
        with mock.patch.object(mockable, "port", 2):
            assert parser.port == 2
        assert parser.port == 1
    assert parser.port == 80
    with pytest.raises(OptionValueError):
        with mock.patch.object(mockable, "port", "x"):
            pass
    assert parser.port == 80
    assert mockable.port == 80
    del mockable.port  # nothing patched: nothing to restore
    assert parser.port == 80


# -- the global parser ------------------------------------------------------------------


def test_global_functions_use_global_options(tmp_path, capsys):
    fresh = OptionParser()
    with mock.patch.object(options_module, "options", fresh):
        options_module.define("gport", default=1)
        calls = []
        options_module.add_parse_callback(lambda: calls.append(fresh.gport))
        assert options_module.parse_command_line(["prog", "--gport=2", "x"]) == ["x"]
        options_module.parse_config_file(write_config(tmp_path, "gport = 3\n"))
        options_module.print_help()
    assert fresh.gport == 3
    assert calls == [2, 3]
    assert "--gport" in capsys.readouterr().err


def test_global_parser_logging_options_are_grouped_under_log_module():
    from squall import log

    groups = options_module.options.groups()
    assert log.__file__ in groups
    names = options_module.options.group_dict(log.__file__)
    assert set(names) == {
        "logging",
        "log_to_stderr",
        "log_file_prefix",
        "log_file_max_size",
        "log_file_num_backups",
        "log_rotate_when",
        "log_rotate_interval",
        "log_rotate_mode",
    }


def run_python(code, *args, tmp_path):
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={**os.environ, "TERM": "dumb"},
        check=False,
    )


def test_command_line_configures_logging_end_to_end(tmp_path):
    code = textwrap.dedent(
        """
        import logging
        from squall.options import define, options, parse_command_line
        define("port", default=8000, help="listen here")
        rest = parse_command_line()
        logging.getLogger("squall.general").debug("port is %d rest %s", options.port, rest)
        logging.getLogger("squall.general").info("second\\nline")
        """
    )
    log_file = tmp_path / "out.log"
    result = run_python(
        code,
        "--port=81",
        "--logging=debug",
        f"--log_file_prefix={log_file}",
        "--log-rotate-mode=time",
        "extra",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # a log file and no --log_to_stderr: nothing on stderr
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("[D ")
    assert lines[0].endswith("port is 81 rest ['extra']")
    assert lines[1].endswith("] second")
    assert lines[2] == "    line"


def test_command_line_errors_and_help_end_to_end(tmp_path):
    code = "from squall.options import parse_command_line; parse_command_line()"
    result = run_python(
        code, "--log_rotate_mode=weekly", "--log_file_prefix=x.log", tmp_path=tmp_path
    )
    assert result.returncode == 1
    assert "ValueError: invalid --log_rotate_mode='weekly'" in result.stderr
    result = run_python(code, "--bogus", tmp_path=tmp_path)
    assert "UnrecognizedOptionError: Unrecognized command line option: '--bogus'" in result.stderr
    result = run_python(code, "--help", tmp_path=tmp_path)
    assert result.returncode == 0
    assert "squall/log.py options:" in result.stderr.replace(os.sep, "/")
    assert "--log_rotate_mode=size|time" in result.stderr
    result = run_python(code, tmp_path=tmp_path)
    assert result.returncode == 0
    assert result.stderr == ""
