"""Write the fuzzer's seed corpus, ``fuzz/corpus/``, from the conformance corpus.

Every case of ``REQUEST_CASES`` (``packages/http/tests/test_http1_parser.py``)
becomes one seed file holding its request head, plus a few whole requests,
response heads and chunked bodies, so that the fuzzer starts from inputs
that reach deep into each parser.  The test module is not imported (it
needs pytest): the ``REQUEST_CASES`` expression is read from its source and
evaluated without builtins.

Run from anywhere: ``python fuzz/make_corpus.py`` (rewrites the directory).
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "packages" / "http" / "tests" / "test_http1_parser.py"
CORPUS = HERE / "corpus"

EXTRA_SEEDS: dict[str, bytes] = {
    "browser-head": (
        b"GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
        b"Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n"
        b"Cookie: a=b; c=d"
    ),
    "upgrade-head": b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade",
    "connect-head": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443",
    "extra-method-head": b"PROPFIND /dav HTTP/1.1\r\nHost: a\r\nDepth: 1",
    "pipelined-requests": (
        b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3"
        b"\r\n\r\nabc"
    ),
    "response-head": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n c",
    "response-chunked": b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip, chunked",
    "chunked-body": (
        b'5;ext=1\r\nhello\r\n6\r\n world\r\nA ; name="q"\r\n0123456789\r\n0\r\n'
        b"X-Trailer: t\r\n\r\nNEXT"
    ),
    "chunked-simple": b"3\r\nabc\r\n0\r\n\r\n",
    "chunked-bad-crlf": b"5\r\nhelloXX0\r\n\r\n",
    "chunked-bad-trailer": b"0\r\nBad Trailer: x\r\n\r\n",
}


def request_cases() -> list[tuple[str, bytes, int | None]]:
    """Evaluate the ``REQUEST_CASES`` literal of the test module."""
    tree = ast.parse(TESTS.read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "REQUEST_CASES"
            and node.value is not None
        ):
            code = compile(ast.Expression(node.value), str(TESTS), "eval")
            cases: list[tuple[str, bytes, int | None]] = eval(code, {"__builtins__": {}})
            return cases
    raise SystemExit(f"REQUEST_CASES not found in {TESTS}")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main() -> None:
    cases = request_cases()
    seeds = {f"request-{slug(name)}": head for name, head, _ in cases}
    if len(seeds) != len(cases):
        raise SystemExit("two REQUEST_CASES names give the same file name")
    seeds.update(EXTRA_SEEDS)
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir()
    for name, data in sorted(seeds.items()):
        (CORPUS / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {CORPUS}")


if __name__ == "__main__":
    main()
