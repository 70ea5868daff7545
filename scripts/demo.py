"""Set up a venv with Squall's packages from this checkout and start the demo.

Usage: ``python3 scripts/demo.py [--port 8888]``.  The demo is the line chat
server in ``examples/linechat`` (connect with ``nc 127.0.0.1 8888``).
"""

from __future__ import annotations

import os
import sys

from _bootstrap import ROOT, ensure_venv

PACKAGES = ["ioloop", "iostream", "http", "web", "httpclient"]


def main() -> None:
    python = ensure_venv(".venv-demo", [f"./packages/{name}" for name in PACKAGES])
    script = ROOT / "examples" / "linechat" / "server.py"
    os.execv(str(python), [str(python), str(script), *sys.argv[1:]])


if __name__ == "__main__":
    main()
