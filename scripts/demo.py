"""Set up a venv with Squall's packages from this checkout and start the demo.

Usage: ``python3 scripts/demo.py [options]``.  The demo is the chat room in
``examples/chat`` (a web application with live updates over WebSocket and
long polling); it listens on http://127.0.0.1:8888 and keeps its messages in
``.demo-data/`` (gitignored).  Options go to the chat, e.g. ``--port 9000``
(``--help`` lists them).  The venv is ``.venv-demo``, rebuilt when the
requirements below change.
"""

from __future__ import annotations

import os
import sys

from _bootstrap import ROOT, ensure_venv

# The five packages, with the web package's Jinja2 extra (the chat's
# templates are Jinja2).  The chat's optional Redis fan-out between worker
# processes needs `redis` too: install it into .venv-demo when you want it.
REQUIREMENTS = [
    "./packages/ioloop",
    "./packages/iostream",
    "./packages/http",
    "./packages/web[jinja2]",
    "./packages/httpclient",
]


def main() -> None:
    python = ensure_venv(".venv-demo", REQUIREMENTS)
    script = ROOT / "examples" / "chat" / "run.py"
    args = sys.argv[1:]
    if not any(arg.startswith(("--data-dir", "--data_dir")) for arg in args):
        args = [f"--data-dir={ROOT / '.demo-data' / 'chat'}", *args]
    os.execv(str(python), [str(python), str(script), *args])


if __name__ == "__main__":
    main()
