import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
import weakref

import pytest
from squall import autoreload

# -- helpers ----------------------------------------------------------------------------


def bump(path, content):
    """Rewrite *path* so that its signature certainly changes."""
    path.write_text(content, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def fresh_state(monkeypatch):
    """Give the module pristine globals for the test."""
    monkeypatch.setattr(autoreload, "_watched_files", set())
    monkeypatch.setattr(autoreload, "_reload_hooks", [])
    monkeypatch.setattr(autoreload, "_reload_attempted", False)
    monkeypatch.setattr(autoreload, "_io_loops", weakref.WeakKeyDictionary())
    monkeypatch.setattr(autoreload, "_autoreload_is_main", False)
    monkeypatch.setattr(autoreload, "_original_argv", None)
    monkeypatch.setattr(autoreload, "_original_cwd", None)


def test_public_api():
    assert set(autoreload.__all__) == {"add_reload_hook", "main", "start", "wait", "watch"}
    for name in autoreload.__all__:
        assert callable(getattr(autoreload, name))


# -- change detection ---------------------------------------------------------------------


def test_check_files_first_sight_only_records(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    times = {}
    assert autoreload._check_files(times, [str(a)]) is None
    assert set(times) == {str(a)}
    assert autoreload._check_files(times, [str(a)]) is None


def test_check_files_sees_mtime_change(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    times = {}
    autoreload._check_files(times, [str(a)])
    st = a.stat()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000))
    assert autoreload._check_files(times, [str(a)]) == str(a)
    # The new signature is recorded: no second report for the same change.
    assert autoreload._check_files(times, [str(a)]) is None


def test_check_files_sees_size_change_with_same_mtime(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    times = {}
    autoreload._check_files(times, [str(a)])
    st = a.stat()
    a.write_text("x = 100\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert autoreload._check_files(times, [str(a)]) == str(a)


def test_check_files_returns_first_changed_and_records_all(tmp_path):
    paths = [tmp_path / name for name in ("a.py", "b.py", "c.py")]
    for p in paths:
        p.write_text("pass\n")
    times = {}
    names = [str(p) for p in paths]
    autoreload._check_files(times, names)
    bump(paths[1], "b = 1\n")
    bump(paths[2], "c = 1\n")
    assert autoreload._check_files(times, names) == names[1]
    assert autoreload._check_files(times, names) == names[2]
    assert autoreload._check_files(times, names) is None


def test_check_files_ignores_missing_and_returning_files(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    times = {}
    missing = str(tmp_path / "never.py")
    assert autoreload._check_files(times, [missing, str(a)]) is None
    assert missing not in times
    saved = a.read_bytes()
    st = a.stat()
    a.unlink()
    assert autoreload._check_files(times, [str(a)]) is None  # vanished: skipped
    a.write_bytes(saved)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert autoreload._check_files(times, [str(a)]) is None  # back unchanged
    bump(a, "x = 2\n")
    assert autoreload._check_files(times, [str(a)]) == str(a)


def test_check_files_bad_path_is_skipped(tmp_path):
    assert autoreload._check_files({}, ["bad\0path"]) is None


def test_watched_paths(fresh_state, monkeypatch, tmp_path):
    compiled = types.ModuleType("fake_compiled")
    compiled.__file__ = str(tmp_path / "fake_compiled.pyc")
    no_file = types.ModuleType("fake_nofile")
    monkeypatch.setitem(sys.modules, "fake_compiled", compiled)
    monkeypatch.setitem(sys.modules, "fake_nofile", no_file)
    monkeypatch.setitem(sys.modules, "fake_not_a_module", "just a string")
    monkeypatch.chdir(tmp_path)
    autoreload.watch("data.txt")
    autoreload.watch(tmp_path / "other.txt")
    paths = autoreload._watched_paths()
    assert str(tmp_path / "fake_compiled.py") in paths
    assert autoreload.__file__ in paths
    assert str(tmp_path / "data.txt") in paths
    assert str(tmp_path / "other.txt") in paths


def test_reload_on_update_restarts_on_change(fresh_state, monkeypatch, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("1")
    autoreload.watch(data)
    reloads = []
    monkeypatch.setattr(autoreload, "_reload", lambda: reloads.append(1))
    times = {}
    autoreload._reload_on_update(times)
    assert reloads == []
    assert str(data) in times
    bump(data, "22")
    autoreload._reload_on_update(times)
    assert reloads == [1]


def test_no_reload_after_an_attempt_or_in_forked_worker(fresh_state, monkeypatch, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("1")
    autoreload.watch(data)
    reloads = []
    monkeypatch.setattr(autoreload, "_reload", lambda: reloads.append(1))
    times = {}
    autoreload._reload_on_update(times)
    bump(data, "22")

    fake_process = types.ModuleType("squall.process")
    fake_process.task_id = lambda: 3
    monkeypatch.setitem(sys.modules, "squall.process", fake_process)
    autoreload._reload_on_update(times)
    fake_process.task_id = lambda: None
    monkeypatch.setattr(autoreload, "_reload_attempted", True)
    autoreload._reload_on_update(times)
    assert reloads == []
    monkeypatch.setattr(autoreload, "_reload_attempted", False)
    autoreload._reload_on_update(times)
    assert reloads == [1]


# -- the restart command -------------------------------------------------------------------


class FakeFlags:
    optimize = 0
    dont_write_bytecode = 0
    ignore_environment = 0
    no_user_site = 0
    isolated = 0
    safe_path = 0
    bytes_warning = 0


def set_main(monkeypatch, spec_name):
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name=spec_name) if spec_name else None
    monkeypatch.setitem(sys.modules, "__main__", main)


@pytest.fixture
def plain_interpreter(monkeypatch):
    monkeypatch.setattr(sys, "flags", FakeFlags())
    monkeypatch.setattr(sys, "warnoptions", [])
    monkeypatch.setattr(sys, "_xoptions", {})
    monkeypatch.setattr(sys, "executable", "/usr/bin/python-test")


def test_interpreter_flags(monkeypatch, plain_interpreter):
    assert autoreload._interpreter_flags() == []
    flags = FakeFlags()
    flags.optimize = 2
    flags.dont_write_bytecode = 1
    flags.isolated = 1
    flags.bytes_warning = 1
    monkeypatch.setattr(sys, "flags", flags)
    monkeypatch.setattr(sys, "warnoptions", ["error", "ignore::DeprecationWarning"])
    monkeypatch.setattr(sys, "_xoptions", {"dev": True, "importtime": "2"})
    assert autoreload._interpreter_flags() == [
        "-OO",
        "-B",
        "-I",
        "-b",
        "-W",
        "error",
        "-W",
        "ignore::DeprecationWarning",
        "-X",
        "dev",
        "-X",
        "importtime=2",
    ]


def test_reload_command_for_a_script(fresh_state, monkeypatch, plain_interpreter):
    set_main(monkeypatch, None)
    monkeypatch.setattr(sys, "argv", ["app.py", "--port=1", "x"])
    assert autoreload._reload_command() == ["/usr/bin/python-test", "app.py", "--port=1", "x"]


def test_reload_command_for_a_directory_or_zip(fresh_state, monkeypatch, plain_interpreter):
    set_main(monkeypatch, "__main__")
    monkeypatch.setattr(sys, "argv", ["appdir", "x"])
    assert autoreload._reload_command() == ["/usr/bin/python-test", "appdir", "x"]


def test_reload_command_for_a_module(fresh_state, monkeypatch, plain_interpreter):
    set_main(monkeypatch, "pkg.server")
    monkeypatch.setattr(sys, "argv", ["/src/pkg/server.py", "--port=1"])
    assert autoreload._reload_command() == [
        "/usr/bin/python-test",
        "-m",
        "pkg.server",
        "--port=1",
    ]


def test_reload_command_for_a_package(fresh_state, monkeypatch, plain_interpreter):
    set_main(monkeypatch, "pkg.__main__")
    monkeypatch.setattr(sys, "argv", ["/src/pkg/__main__.py"])
    assert autoreload._reload_command() == ["/usr/bin/python-test", "-m", "pkg"]


def test_reload_command_for_dash_c(fresh_state, monkeypatch, plain_interpreter):
    set_main(monkeypatch, None)
    monkeypatch.setattr(sys, "argv", ["-c", "a"])
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-X", "dev", "-c", "print(1)", "a"])
    assert autoreload._reload_command() == [
        "/usr/bin/python-test",
        "-X",
        "dev",
        "-c",
        "print(1)",
        "a",
    ]


def test_reload_command_under_the_wrapper(fresh_state, monkeypatch, plain_interpreter):
    set_main(monkeypatch, "whatever")
    monkeypatch.setattr(sys, "argv", ["script.py", "a"])
    monkeypatch.setattr(autoreload, "_autoreload_is_main", True)
    monkeypatch.setattr(autoreload, "_original_argv", ["/x/autoreload.py", "-m", "mod", "a"])
    assert autoreload._reload_command() == [
        "/usr/bin/python-test",
        "-m",
        "squall.autoreload",
        "-m",
        "mod",
        "a",
    ]


def test_reload_runs_hooks_then_execs(fresh_state, monkeypatch, plain_interpreter, caplog):
    set_main(monkeypatch, None)
    monkeypatch.setattr(sys, "argv", ["app.py", "a"])
    events = []

    def broken_hook():
        events.append("broken")
        raise RuntimeError("hook failed")

    autoreload.add_reload_hook(lambda: events.append("first"))
    autoreload.add_reload_hook(broken_hook)
    autoreload.add_reload_hook(lambda: events.append("last"))
    monkeypatch.setattr(os, "execv", lambda exe, args: events.append(("execv", exe, args)))
    with caplog.at_level(logging.ERROR, logger="squall.general"):
        autoreload._reload()
    assert events == [
        "first",
        "broken",
        "last",
        ("execv", "/usr/bin/python-test", ["/usr/bin/python-test", "app.py", "a"]),
    ]
    assert autoreload._reload_attempted is True
    assert "Error in autoreload hook" in caplog.text
    assert "hook failed" in caplog.text


def test_reload_falls_back_to_spawn_when_exec_fails(fresh_state, monkeypatch, plain_interpreter):
    set_main(monkeypatch, None)
    monkeypatch.setattr(sys, "argv", ["app.py"])
    events = []

    def failing_execv(exe, args):
        raise OSError("exec not supported")

    class Exited(Exception):
        pass

    def fake_exit(code):
        events.append(("exit", code))
        raise Exited

    monkeypatch.setattr(os, "execv", failing_execv)
    monkeypatch.setattr(subprocess, "Popen", lambda cmd: events.append(("popen", cmd)))
    monkeypatch.setattr(os, "_exit", fake_exit)
    with pytest.raises(Exited):
        autoreload._reload()
    assert events == [("popen", ["/usr/bin/python-test", "app.py"]), ("exit", 0)]


def test_reload_under_wrapper_returns_to_original_cwd(
    fresh_state, monkeypatch, plain_interpreter, tmp_path
):
    start_dir = tmp_path / "start"
    start_dir.mkdir()
    monkeypatch.setattr(autoreload, "_autoreload_is_main", True)
    monkeypatch.setattr(autoreload, "_original_argv", ["autoreload.py", "s.py"])
    monkeypatch.setattr(autoreload, "_original_cwd", str(start_dir))
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(os, "execv", lambda exe, args: seen.append((os.getcwd(), args)))
    autoreload._reload()
    assert seen == [
        (str(start_dir), ["/usr/bin/python-test", "-m", "squall.autoreload", "s.py"]),
    ]


# -- start() on an IOLoop and the public helpers -------------------------------------------------


@pytest.fixture
def io_loop():
    from squall.ioloop import IOLoop

    loop = IOLoop(make_current=True)
    yield loop
    loop.close(all_fds=True)


def test_start_checks_periodically_on_the_current_loop(fresh_state, monkeypatch, tmp_path, io_loop):
    data = tmp_path / "data.txt"
    data.write_text("1")
    autoreload.watch(data)
    reloads = []

    def fake_reload():
        reloads.append(io_loop.time())
        io_loop.stop()

    monkeypatch.setattr(autoreload, "_reload", fake_reload)
    autoreload.start(check_time=20)
    autoreload.start(check_time=20)  # same loop: ignored
    assert len(autoreload._io_loops) == 1
    io_loop.call_later(0.2, bump, data, "22")
    io_loop.call_later(10, io_loop.stop)  # safety net
    started = io_loop.time()
    io_loop.start()
    assert len(reloads) == 1
    assert 0.2 <= reloads[0] - started < 5


@pytest.mark.parametrize("tornado4", [False, True], ids=["keyword", "tornado4-positional"])
def test_start_on_a_given_loop(fresh_state, monkeypatch, tmp_path, io_loop, tornado4):
    from squall.ioloop import IOLoop

    other = IOLoop(make_current=False)
    try:
        data = tmp_path / "data.txt"
        data.write_text("1")
        autoreload.watch(data)
        reloads = []

        def fake_reload():
            reloads.append(IOLoop.current())
            other.stop()

        monkeypatch.setattr(autoreload, "_reload", fake_reload)
        if tornado4:
            autoreload.start(other, 20)
        else:
            autoreload.start(check_time=20, io_loop=other)
        assert list(autoreload._io_loops) == [other]
        assert IOLoop.current() is io_loop  # untouched
        other.call_later(0.2, bump, data, "22")
        other.call_later(10, other.stop)
        other.start()
        assert reloads == [other]
    finally:
        other.close()


def test_start_rejects_two_loops_or_two_times(fresh_state, io_loop):
    with pytest.raises(TypeError, match="usage"):
        autoreload.start(100, 200)
    with pytest.raises(TypeError, match="usage"):
        autoreload.start(io_loop, io_loop)
    assert len(autoreload._io_loops) == 0


def test_start_on_a_second_loop_warns(fresh_state, caplog):
    from squall.ioloop import IOLoop

    loops = [IOLoop(make_current=False) for _ in range(2)]
    try:
        with caplog.at_level(logging.WARNING, logger="squall.general"):
            for loop in loops:
                loop.make_current()
                autoreload.start()
        assert "started more than once" in caplog.text
        assert len(autoreload._io_loops) == 2
    finally:
        for loop in loops:
            loop.close()


def test_start_rejects_bad_check_time(fresh_state, io_loop):
    with pytest.raises(ValueError):
        autoreload.start(check_time=0)
    assert len(autoreload._io_loops) == 0


def test_wait_rejects_bad_check_time():
    with pytest.raises(ValueError, match="check_time"):
        autoreload.wait(check_time=-1)


def test_wait_restarts_on_change(fresh_state, monkeypatch, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("1")
    autoreload.watch(data)

    class Restarted(Exception):
        pass

    def fake_reload():
        raise Restarted

    sleeps = []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            bump(data, "22")

    monkeypatch.setattr(autoreload, "_reload", fake_reload)
    monkeypatch.setattr(time, "sleep", fake_sleep)
    with pytest.raises(Restarted):
        autoreload.wait(check_time=250)
    assert sleeps == [0.25, 0.25]


def test_watch_and_hooks(fresh_state, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    autoreload.watch("rel.txt")
    assert autoreload._watched_files == {str(tmp_path / "rel.txt")}

    def hook():
        pass

    autoreload.add_reload_hook(hook)
    assert autoreload._reload_hooks == [hook]


@pytest.mark.parametrize("argv", [["autoreload"], ["autoreload", "-m"], ["autoreload", "-x"]])
def test_main_usage(fresh_state, capsys, argv):
    assert autoreload.main(argv) == 2
    assert "Usage:" in capsys.readouterr().err
    assert autoreload._autoreload_is_main is False


# -- for real, in subprocesses ------------------------------------------------------------------

DEADLINE = 30.0


def wait_for(predicate, what, proc, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (exit status {proc.poll()})")


def lines_of(path):
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


class Child:
    """A python subprocess in its own session, killed with its group at the end."""

    def __init__(self, args, cwd):
        self.cwd = cwd
        self.err_path = cwd / "stderr.txt"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )

    def stderr(self):
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait_lines(self, path, count):
        return wait_for(
            lambda: len(lines_of(path)) >= count and lines_of(path),
            f"{count} lines in {path.name}; stderr:\n{self.stderr()}",
            self.proc,
        )

    def wait_stderr(self, text, count=1):
        wait_for(
            lambda: self.stderr().count(text) >= count,
            f"{text!r} x{count} on stderr; stderr:\n{self.stderr()}",
            self.proc,
        )

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


@pytest.fixture
def child_factory():
    children = []

    def make(args, cwd):
        child = Child(args, cwd)
        children.append(child)
        return child

    yield make
    for child in children:
        child.kill()


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses process groups")


def test_wrapper_reruns_a_failed_script_when_a_watched_file_changes(tmp_path, child_factory):
    (tmp_path / "helper.py").write_text("GREETING = 'hello'\n")
    (tmp_path / "data.txt").write_text("first\n")
    (tmp_path / "script.py").write_text(
        textwrap.dedent(
            """
            import os, sys
            import helper
            from squall import autoreload
            autoreload.watch("data.txt")
            with open("runs.txt", "a") as f:
                f.write(f"{os.getpid()} {helper.GREETING} {sys.argv!r}\\n")
            with open("data.txt") as f:
                if f.read().startswith("first"):
                    raise RuntimeError("first run fails")
            """
        )
    )
    runs = tmp_path / "runs.txt"
    child = child_factory(["-m", "squall.autoreload", "script.py", "a", "--b=c"], tmp_path)
    first = child.wait_lines(runs, 1)
    child.wait_stderr("Watching")
    assert "RuntimeError: first run fails" in child.stderr()
    bump(tmp_path / "data.txt", "second\n")  # a watch()ed, non-Python file
    lines = child.wait_lines(runs, 2)
    assert lines[0] == first[0]
    assert lines[1] == f"{child.proc.pid} hello ['script.py', 'a', '--b=c']"
    assert lines[0] == lines[1]  # same process (exec), same arguments
    child.wait_stderr("Script exited normally")
    child.wait_stderr("Watching", count=2)
    bump(tmp_path / "helper.py", "GREETING = 'bonjour'\n")  # an imported module
    lines = child.wait_lines(runs, 3)
    assert lines[2] == f"{child.proc.pid} bonjour ['script.py', 'a', '--b=c']"
    assert child.proc.poll() is None  # still watching


def test_wrapper_runs_a_module_and_watches_its_file(tmp_path, child_factory):
    module = tmp_path / "looper.py"
    module.write_text("VERSION = 1\n" + _MODULE_BODY)
    runs = tmp_path / "runs.txt"
    child = child_factory(["-m", "squall.autoreload", "-m", "looper", "x"], tmp_path)
    child.wait_lines(runs, 1)
    child.wait_stderr("Watching")
    # A syntax error: the rerun fails, the wrapper keeps watching the file.
    bump(module, "VERSION = = 2\n" + _MODULE_BODY)
    child.wait_stderr("SyntaxError")
    child.wait_stderr("Watching", count=2)
    bump(module, "VERSION = 3\n" + _MODULE_BODY)
    lines = child.wait_lines(runs, 2)
    assert lines == ["1 looper.py ['x']", "3 looper.py ['x']"]


_MODULE_BODY = """
import os, sys
with open("runs.txt", "a") as f:
    f.write(f"{VERSION} {os.path.basename(sys.argv[0])} {sys.argv[1:]!r}\\n")
"""

_SERVER = """
import os, sys
from squall import autoreload
from squall.ioloop import IOLoop

loop = IOLoop.current()

def closing():
    with open("runs.txt", "a") as f:
        f.write("hook\\n")

def ready():
    with open("runs.txt", "a") as f:
        f.write(f"run {os.getpid()} {sys.argv[1:]!r}\\n")
    if svc.settings.X == 22:
        loop.stop()  # the restarted server ends by itself

autoreload.add_reload_hook(closing)
autoreload.start(check_time=50)
loop.call_later(0.3, ready)  # after the first scan has recorded the files
loop.start()
"""


@pytest.mark.parametrize("wrapped", [False, True], ids=["python-m", "autoreload-wrapper"])
def test_running_server_restarts_itself(tmp_path, child_factory, wrapped):
    package = tmp_path / "svc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text("X = 1\n")
    (package / "__main__.py").write_text("import svc.settings\n" + _SERVER)
    runs = tmp_path / "runs.txt"
    args = ["-m", "svc", "--opt=1", "tail"]
    if wrapped:
        args = ["-m", "squall.autoreload", *args]
    child = child_factory(args, tmp_path)
    child.wait_lines(runs, 1)
    bump(package / "settings.py", "X = 22\n")
    lines = child.wait_lines(runs, 3)
    expected = f"run {child.proc.pid} ['--opt=1', 'tail']"
    assert lines == [expected, "hook", expected]
    if wrapped:
        # The restart went through the wrapper, which outlives the server.
        child.wait_stderr("Script exited normally")
        assert child.proc.poll() is None
    else:
        assert child.proc.wait(timeout=DEADLINE) == 0


# -- running the target in-process (what main() does before waiting) ------------------------------


@pytest.fixture
def run_env(fresh_state, monkeypatch, tmp_path):
    """Isolate sys.argv/sys.path and keep logging untouched while a target runs."""
    monkeypatch.setattr(sys, "argv", ["wrapper"])
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.setattr(autoreload, "_configure_logging", lambda: None)
    monkeypatch.chdir(tmp_path)
    names_before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - names_before:
        if name.startswith(("arpkg", "arhelper", "arbroken")):
            del sys.modules[name]


def test_run_script_normally(run_env, monkeypatch, caplog):
    script = run_env / "s.py"
    script.write_text("import sys\nsys.modules['x_result'].seen = list(sys.argv)\n")
    result = types.ModuleType("x_result")
    monkeypatch.setitem(sys.modules, "x_result", result)
    with caplog.at_level(logging.INFO, logger="squall.general"):
        autoreload._run_target("script", "s.py", ["a", "b"])
    assert result.seen == ["s.py", "a", "b"]
    assert sys.path[0] == str(run_env)  # the script's directory, as for python s.py
    assert "Script exited normally" in caplog.text
    assert str(script) in autoreload._watched_files


def test_run_script_exit_status(run_env, caplog):
    (run_env / "s.py").write_text("import sys\nsys.exit(3)\n")
    with caplog.at_level(logging.INFO, logger="squall.general"):
        autoreload._run_target("script", "s.py", [])
    assert "Script exited with status 3" in caplog.text


def test_run_script_exception_watches_traceback_files(run_env, caplog):
    (run_env / "arhelper.py").write_text("def boom():\n    raise KeyError('zap')\n")
    (run_env / "s.py").write_text("import arhelper\narhelper.boom()\n")
    with caplog.at_level(logging.INFO, logger="squall.general"):
        autoreload._run_target("script", "s.py", [])
    assert "Script exited with uncaught exception" in caplog.text
    assert "KeyError: 'zap'" in caplog.text
    assert str(run_env / "arhelper.py") in autoreload._watched_files
    assert not any(p.startswith("<") or "<frozen" in p for p in autoreload._watched_files)


def test_run_script_syntax_error_watches_the_broken_file(run_env, caplog):
    (run_env / "arbroken.py").write_text("x = = 1\n")
    (run_env / "s.py").write_text("import arbroken\n")
    with caplog.at_level(logging.INFO, logger="squall.general"):
        autoreload._run_target("script", "s.py", [])
    assert "SyntaxError" in caplog.text
    assert str(run_env / "arbroken.py") in autoreload._watched_files


def test_run_package_module_watches_init_and_main(run_env):
    pkg = run_env / "arpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("import sys\nassert sys.argv[1:] == ['x'], sys.argv\n")
    autoreload._run_target("module", "arpkg", ["x"])
    assert str(pkg / "__init__.py") in autoreload._watched_files
    assert str(pkg / "__main__.py") in autoreload._watched_files


def test_run_missing_module_keeps_going(run_env, caplog):
    with caplog.at_level(logging.INFO, logger="squall.general"):
        autoreload._run_target("module", "arpkg_does_not_exist", [])
    assert "No module named" in caplog.text


def test_main_refuses_a_missing_script(fresh_state, capsys, tmp_path):
    assert autoreload.main(["autoreload", str(tmp_path / "nope.py")]) == 2
    assert "no such script" in capsys.readouterr().err
