"""Restart the process when its source files change (a development aid).

In a running server, call :func:`start` (``Application(debug=True)`` does it):
every *check_time* milliseconds the current IOLoop looks at the modification
time of every loaded module's file and of the files given to :func:`watch`, and
when one changes the process re-executes itself with the same interpreter,
interpreter flags and arguments. A program started with ``python -m pkg.mod``
is restarted the same way, through its module ``__spec__``.

Before re-executing, the functions given to :func:`add_reload_hook` run: use them
to close what must not outlive the process image (for example
``add_reload_hook(lambda: IOLoop.current().close(all_fds=True))``). Files and
sockets Python opened are not inherited anyway (PEP 446).

A script that does not run an IOLoop (a test runner, a batch job) can be
restarted from the outside::

    python -m squall.autoreload script.py arg1 arg2
    python -m squall.autoreload -m package.module arg1 arg2

runs the script (or module) with those arguments and, once it has finished,
whether normally, through ``sys.exit`` or with an uncaught exception (which is
logged), keeps watching its files, including the ones named in the traceback
(so a syntax error gets fixed and picked up), and runs it again when one
changes. If the script itself calls :func:`start`, a change while it runs
restarts the whole command line. :func:`wait` does the same from inside a
script, at its end.

Reloading is for development: modules are not reloaded in place, the process is
replaced, so a syntax error in a watched module just stops the restarted
process (run under ``python -m squall.autoreload`` to keep going). Worker
processes started by ``squall.process.fork_processes`` never restart
themselves.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import runpy
import signal
import subprocess
import sys
import time
import traceback
import types
import weakref
from collections.abc import Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from squall.log import gen_log

if TYPE_CHECKING:
    from squall.ioloop import IOLoop

__all__ = ["add_reload_hook", "main", "start", "wait", "watch"]

# A file's signature: modification time in ns and size. Comparing the size too
# catches a rewrite that lands within the file system's timestamp resolution.
FileSignature = tuple[int, int]

_watched_files: set[str] = set()
_reload_hooks: list[Callable[[], None]] = []
_reload_attempted = False
_io_loops: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

# Set by main() when the process was started as ``python -m squall.autoreload``:
# a restart must then re-run that wrapper with its own arguments.
_autoreload_is_main = False
_original_argv: list[str] | None = None
_original_cwd: str | None = None

_USAGE = """\
Usage:
  python -m squall.autoreload -m module.to.run [args...]
  python -m squall.autoreload path/to/script.py [args...]
"""


def start(check_time: float | IOLoop = 500, io_loop: IOLoop | float | None = None) -> None:
    """Restart the process when a loaded module or watched file changes.

    Schedules a :class:`squall.ioloop.PeriodicCallback` on the current IOLoop
    (or on *io_loop*). Calling it again for the same IOLoop does nothing.

    The Tornado 4 spelling ``start(io_loop, check_time)`` is accepted too.

    :arg check_time: milliseconds between two scans of the files.
    :arg io_loop: the loop to check on, if not the current one; the checks
        begin once it runs.
    :raises ValueError: if *check_time* is not positive.

    .. versionadded:: 0.1.0
    """
    from squall.ioloop import IOLoop, PeriodicCallback

    if isinstance(check_time, IOLoop):  # Tornado 4: start(io_loop, check_time=500)
        check_time, io_loop = (500 if io_loop is None else io_loop), check_time
    if isinstance(io_loop, (int, float)) or isinstance(check_time, IOLoop):
        raise TypeError("usage: start(check_time=500, io_loop=None)")
    current = IOLoop.current(instance=io_loop is None)
    loop = io_loop if io_loop is not None else current
    if loop is None or loop in _io_loops:
        return
    scheduler = PeriodicCallback(functools.partial(_reload_on_update, {}), check_time)
    _io_loops[loop] = True
    if len(_io_loops) > 1:
        gen_log.warning("squall.autoreload started more than once in the same process")
    if loop is current:
        scheduler.start()
    else:
        # PeriodicCallback runs on the loop current when it starts: start it
        # from inside *loop*.
        loop.add_callback(scheduler.start)


def wait(check_time: int = 500) -> None:
    """Block until a loaded module or watched file changes, then restart.

    Meant for the end of a script that does not run an IOLoop (a test runner,
    say), so that it runs again after an edit. This never returns: the process
    is replaced. It polls the files with :func:`time.sleep` rather than running
    an IOLoop, so it works whatever the state of the loops in the process.

    :arg check_time: milliseconds between two scans of the files.
    :raises ValueError: if *check_time* is not positive.

    .. versionadded:: 0.1.0
    """
    if not check_time > 0:
        raise ValueError(f"check_time must be a positive number of ms, not {check_time!r}")
    modify_times: dict[str, FileSignature] = {}
    _reload_on_update(modify_times)
    gen_log.info("Watching %d files for changes", len(modify_times))
    while True:
        time.sleep(check_time / 1000.0)
        _reload_on_update(modify_times)


def watch(filename: str | os.PathLike[str]) -> None:
    """Restart the process when *filename* changes, as for a loaded module.

    Use it for templates, configuration files and other non-Python files. A
    file that does not exist (yet) is ignored until it does.

    .. versionadded:: 0.1.0
    """
    _watched_files.add(os.path.abspath(os.fspath(filename)))


def add_reload_hook(fn: Callable[[], None]) -> None:
    """Call *fn* (no arguments) just before the process restarts.

    Hooks run in the order they were added; an exception in one is logged and
    the others still run.

    .. versionadded:: 0.1.0
    """
    _reload_hooks.append(fn)


def _file_signature(path: str) -> FileSignature | None:
    """Return the signature of *path*, or None if it cannot be read."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size)


def _check_files(
    modify_times: MutableMapping[str, FileSignature], paths: Iterable[str]
) -> str | None:
    """Record the signature of each path and return the first one that changed.

    A path seen for the first time is only recorded. A path that cannot be
    read (deleted, mid-rename) is skipped and keeps its old signature, so a
    file that comes back identical does not count as changed.

    :arg modify_times: path -> signature recorded by earlier calls; updated.
    :arg paths: the files to look at.
    :returns: the first changed path, or None.
    """
    for path in paths:
        signature = _file_signature(path)
        if signature is None:
            continue
        previous = modify_times.get(path)
        modify_times[path] = signature
        if previous is not None and previous != signature:
            return path
    return None


def _watched_paths() -> list[str]:
    """Return the files of the loaded modules and the explicitly watched ones."""
    paths: list[str] = []
    for module in list(sys.modules.values()):
        if not isinstance(module, types.ModuleType):
            continue
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path:
            continue
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        paths.append(path)
    paths.extend(_watched_files)
    return paths


def _is_forked_worker() -> bool:
    """Return True in a child made by squall.process.fork_processes."""
    process = sys.modules.get("squall.process")
    task_id = getattr(process, "task_id", None)
    return task_id is not None and task_id() is not None


def _reload_on_update(modify_times: dict[str, FileSignature]) -> None:
    """Scan the files once and restart the process if one changed."""
    if _reload_attempted or _is_forked_worker():
        return
    changed = _check_files(modify_times, _watched_paths())
    if changed is not None:
        gen_log.info("%s modified; restarting", changed)
        _reload()


def _interpreter_flags() -> list[str]:
    """Return the command-line flags that reproduce this interpreter's settings."""
    flags = sys.flags
    args: list[str] = []
    if flags.optimize:
        args.append("-" + "O" * flags.optimize)
    for name, letter in (
        ("dont_write_bytecode", "B"),
        ("ignore_environment", "E"),
        ("no_user_site", "s"),
        ("isolated", "I"),
        ("safe_path", "P"),
    ):
        if getattr(flags, name, 0):
            args.append("-" + letter)
    if flags.bytes_warning:
        args.append("-" + "b" * flags.bytes_warning)
    for option in sys.warnoptions:
        args += ["-W", option]
    for key, value in getattr(sys, "_xoptions", {}).items():
        args += ["-X", key if value is True else f"{key}={value}"]
    return args


def _reload_command() -> list[str]:
    """Return the command line that restarts this program."""
    interpreter = [sys.executable, *_interpreter_flags()]
    if _autoreload_is_main and _original_argv is not None:
        return [*interpreter, "-m", "squall.autoreload", *_original_argv[1:]]
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    name = getattr(spec, "name", None)
    if name and name != "__main__":
        # Started as ``python -m name``; a package runs as "pkg.__main__".
        name = name.removesuffix(".__main__")
        return [*interpreter, "-m", name, *sys.argv[1:]]
    if sys.argv and sys.argv[0] == "-c":
        # ``python -c code``: the code is only in the original command line,
        # which carries the interpreter flags too.
        return [sys.executable, *sys.orig_argv[1:]]
    return [*interpreter, *sys.argv]


def _reload() -> None:
    """Run the reload hooks and replace this process with a fresh run of it."""
    global _reload_attempted
    _reload_attempted = True
    for hook in list(_reload_hooks):
        try:
            hook()
        except Exception:
            gen_log.exception("Error in autoreload hook %r", hook)
    if hasattr(signal, "setitimer"):
        # Interval timers survive exec(); clear one a profiler may have set.
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
    command = _reload_command()
    if _autoreload_is_main and _original_cwd is not None:
        # The wrapper's arguments (a relative script path) are relative to it.
        os.chdir(_original_cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":
        # exec() on Windows starts a new process and lets the parent exit,
        # which confuses consoles and supervisors; do that explicitly instead.
        subprocess.Popen(command)
        os._exit(0)
    try:
        os.execv(sys.executable, command)
    except OSError:
        # execv can fail when other threads are running (macOS); start the
        # new process and get out of its way.
        subprocess.Popen(command)
        os._exit(0)


def _watch_module_file(name: str) -> bool:
    """Watch the source file of module *name*; return True if it is a package."""
    try:
        spec = importlib.util.find_spec(name)
    except Exception:  # a parent package that fails to import, a bad name
        return False
    if spec is None:
        return False
    if spec.origin and os.path.isfile(spec.origin):
        watch(spec.origin)
    return spec.submodule_search_locations is not None


def _run_target(mode: str, target: str, args: list[str]) -> None:
    """Run the script or module as ``__main__``, then watch what it used."""
    if mode == "module":
        sys.argv = [target, *args]
    else:
        watch(target)
        sys.argv = [target, *args]
        # As ``python script.py`` would: the script's directory comes first,
        # in place of the working directory that ``-m`` put there.
        script_dir = os.path.dirname(os.path.abspath(target))
        if sys.path:
            sys.path[0] = script_dir
        else:
            sys.path.insert(0, script_dir)
    try:
        try:
            if mode == "module":
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(target, run_name="__main__")
        finally:
            # runpy's fake import of the module as __main__ is gone now, so
            # watch its file (and a package's __main__) explicitly.
            if mode == "module" and _watch_module_file(target):
                _watch_module_file(target + ".__main__")
    except SystemExit as exc:
        _configure_logging()
        gen_log.info("Script exited with status %s", exc.code)
    except Exception as exc:
        _configure_logging()
        gen_log.warning("Script exited with uncaught exception", exc_info=True)
        # Watch the files of the traceback, so a fix there restarts the script
        # even if the broken module never made it into sys.modules.
        for frame in traceback.extract_tb(exc.__traceback__):
            if not frame.filename.startswith("<"):  # skip "<frozen runpy>"
                watch(frame.filename)
        if isinstance(exc, SyntaxError) and exc.filename:
            watch(exc.filename)
    else:
        _configure_logging()
        gen_log.info("Script exited normally")


def _configure_logging() -> None:
    """Make gen_log's messages visible if the script left logging unconfigured."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="[autoreload] %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Run a script or module, then restart it whenever its files change.

    This is ``python -m squall.autoreload [-m module | script.py] [args...]``;
    see the module documentation. It only returns (with status 2, after
    printing why) when the command line is invalid or the script does not
    exist.

    :arg argv: the command line, program name first; ``sys.argv`` by default.

    .. versionadded:: 0.1.0
    """
    global _autoreload_is_main, _original_argv, _original_cwd
    argv = list(sys.argv if argv is None else argv)
    rest = argv[1:]
    if rest and rest[0] == "-m" and len(rest) >= 2:
        mode, target, args = "module", rest[1], rest[2:]
    elif rest and rest[0].startswith("-m") and len(rest[0]) > 2:
        mode, target, args = "module", rest[0][2:], rest[1:]
    elif rest and not rest[0].startswith("-"):
        mode, target, args = "script", rest[0], rest[1:]
    else:
        sys.stderr.write(_USAGE)
        return 2
    if mode == "script" and not os.path.isfile(target):
        sys.stderr.write(f"squall.autoreload: no such script: {target!r}\n")
        return 2
    _autoreload_is_main = True
    _original_argv = argv
    _original_cwd = os.getcwd()
    _run_target(mode, target, args)
    sys.argv = argv
    wait()
    return 0  # pragma: no cover - wait() never returns


if __name__ == "__main__":
    # Run as ``python -m squall.autoreload``: this copy of the module is
    # ``__main__``. Delegate to the importable ``squall.autoreload`` so that the
    # script, importing it, shares the same state (and knows how to restart).
    from squall import autoreload as _autoreload

    sys.exit(_autoreload.main())
