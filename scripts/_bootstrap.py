"""Shared helper for the scripts: make a venv under the checkout and install into it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_venv(name: str, requirements: list[str]) -> Path:
    """Create ROOT/name (once) with ``requirements`` installed; return its python.

    The venv is rebuilt when the requirement list changes.
    """
    if sys.version_info < (3, 11):  # noqa: UP036 (the scripts may run on any python3)
        sys.exit(f"Squall needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    env_dir = ROOT / name
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = env_dir / ".requirements-stamp"
    wanted = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"setting up {env_dir} ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        check=True,
        cwd=ROOT,
    )
    stamp.write_text(wanted)
    return python
