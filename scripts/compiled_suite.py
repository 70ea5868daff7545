"""Run the http, web and httpclient suites on the compiled build of squall-http.

Used by tox's ``compiled`` environment (run inside it).  Installs the
packages from this checkout with ``SQUALL_COMPILE=1`` (mypyc, see
``packages/http/hatch_build.py``), checks that the compiled modules are the
ones imported, and runs pytest.  A machine without a C compiler or the
Python headers skips it with a message (exit 0): the compiled build is
optional.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from _bootstrap import ROOT

PACKAGES = ROOT / "packages"


def missing_toolchain() -> str | None:
    """What the compiled build needs and this machine lacks, or None."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        return f"no Python headers ({include}/Python.h)"
    return None


def main() -> int:
    missing = missing_toolchain()
    if missing is not None:
        print(f"compiled build skipped: {missing}")
        return 0
    env = dict(os.environ, SQUALL_COMPILE="1")
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(
        [
            *pip,
            str(PACKAGES / "ioloop"),
            str(PACKAGES / "iostream"),
            f"{PACKAGES / 'http'}[test,speedups]",
            f"{PACKAGES / 'web'}[test]",
            f"{PACKAGES / 'httpclient'}[test]",
        ],
        check=True,
        env=env,
    )
    probe = "import squall.http1connection._connection as m; print(m.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd="/"
    ).stdout.strip()
    if where.endswith(".py"):
        print(f"the compiled build was not installed: {where}")
        return 1
    print(f"compiled build in use: {where}")
    suites = [str(PACKAGES / name / "tests") for name in ("http", "web", "httpclient")]
    return subprocess.call([sys.executable, "-m", "pytest", *suites, *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
