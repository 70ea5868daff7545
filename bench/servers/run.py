"""Start one benchmark server by kind: ``python bench/servers/run.py --kind K ...``.

Kinds: ``bare``, ``tornado-http``, ``squall-http``, ``tornado-web``,
``squall-web``, ``aiohttp-web``.  Every other option is passed to the
server module (see ``_common.parse_args``): ``--app``, ``--port``,
``--cpu``, ``--uvloop``, ``--httptools``.
"""

from __future__ import annotations

import importlib
import sys

KINDS = {
    "bare": "bare",
    "tornado-http": "tornado_http",
    "squall-http": "squall_http",
    "tornado-web": "tornado_web",
    "squall-web": "squall_web",
    # The same server on the compiled build (the harness sets PYTHONPATH).
    "squall-web-compiled": "squall_web",
    "aiohttp-web": "aiohttp_web",
}


def main() -> None:
    argv = sys.argv[1:]
    if "--kind" not in argv or argv.index("--kind") + 1 >= len(argv):
        sys.exit(f"usage: run.py --kind {{{','.join(KINDS)}}} [server options]")
    i = argv.index("--kind")
    kind = argv[i + 1]
    if kind not in KINDS:
        sys.exit(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    sys.argv = [f"{KINDS[kind]}.py", *argv[:i], *argv[i + 2 :]]
    importlib.import_module(KINDS[kind]).main()


if __name__ == "__main__":
    main()
