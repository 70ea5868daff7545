"""Run Squall's whole test suite: every tox environment (see tox.ini).

Usage: ``python3 scripts/test.py [tox arguments]``, e.g. ``-e py311-ioloop``.
Creates ``.venv-tox`` with tox on first use.
"""

from __future__ import annotations

import os
import subprocess
import sys

from _bootstrap import ROOT, ensure_venv


def main() -> int:
    python = ensure_venv(".venv-tox", ["tox>=4.11,<5", "virtualenv>=20.25"])
    env = dict(os.environ)
    cmd = [str(python), "-m", "tox", *sys.argv[1:]]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
