"""End to end: the demo, as ``run.py`` starts it, driven in headless Chromium.

Two browser contexts (separate cookie jars) sign in as different users.
Alice's page uses WebSocket; Bob's is forced onto the long-polling fallback
(``?transport=poll``), so both live paths run in a real browser. Alice
posts, Bob sees it appear without reloading; Bob posts a link, Alice sees
the message and then its preview; a reload shows the history rendered by
the server; a screenshot is saved in the test's directory (and copied to
``docs/_static/chat.png`` when ``SQUALL_UPDATE_SCREENSHOT=1``).

Needs Debian's Chromium (``/usr/bin/chromium``) and Playwright's Python
package; never ``playwright install``: the system browser is used.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_helpers import EXAMPLES, free_port, wait_until_serving

CHROMIUM = os.environ.get("SQUALL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = EXAMPLES.parent
DOCS_SCREENSHOT = REPO / "docs" / "_static" / "chat.png"
PAGE_TITLE = "Squall: asynchronous networking in the Tornado tradition"

pytestmark = [
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"needs Chromium at {CHROMIUM} (Debian: apt-get install chromium)",
    ),
    pytest.mark.slow,
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs Playwright's Python package (pip install playwright)"
)


class _TitledPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<!doctype html><html><head><title>{PAGE_TITLE}</title></head><body>hi</body>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def link_target() -> Iterator[str]:
    """A local page to preview (the demo runs with --allow-private-previews)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TitledPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/docs"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """The demo started by its script, as a user would; its base URL."""
    port = free_port()
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(EXAMPLES / "chat" / "run.py"),
                f"--port={port}",
                f"--data-dir={tmp_path / 'data'}",
                "--allow-private-previews",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_until_serving(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = log_path.read_text()
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log


def sign_in(context: Any, base: str, name: str, path: str = "/") -> Any:
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors
    page.goto(base + path)
    assert "/signin" in page.url  # anonymous visitors are sent to the sign-in page
    page.fill("#name", name)
    page.click("button[type=submit]")
    page.wait_for_url(base + path)
    assert page.inner_text("#me") == name
    return page


def test_two_users_chat_live(demo: str, link_target: str, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            alice_context = browser.new_context(viewport={"width": 900, "height": 560})
            bob_context = browser.new_context(viewport={"width": 900, "height": 560})
            alice = sign_in(alice_context, demo, "Alice")
            bob = sign_in(bob_context, demo, "Bob", "/?transport=poll")
            alice.wait_for_selector("#room[data-live=websocket]")
            bob.wait_for_selector("#room[data-live=poll]")
            assert alice.inner_text("#status") == "live · WebSocket"
            assert bob.inner_text("#status") == "live · long polling"

            # Alice posts over her WebSocket; Bob's long poll brings it.
            text = "Hello Bob! <b>this is not bold</b>"
            alice.fill("#body", text)
            alice.press("#body", "Enter")
            bob_message = bob.locator("li.message", has_text="Hello Bob!")
            bob_message.wait_for()
            assert bob_message.locator(".author").inner_text() == "Alice"
            assert bob_message.locator(".body").inner_text() == text
            assert bob_message.locator(".body b").count() == 0  # text, never HTML
            assert alice.input_value("#body") == ""

            # Bob posts a link over HTTP; Alice's socket brings it, then its preview.
            bob.fill("#body", f"Hi Alice, have a look: {link_target}")
            bob.click("#post button[type=submit]")
            alice_message = alice.locator("li.message", has_text="have a look")
            alice_message.wait_for()
            assert alice_message.locator(".body a").get_attribute("href") == link_target
            alice_message.locator(".preview").wait_for()
            assert alice_message.locator(".preview").inner_text() == PAGE_TITLE
            bob.locator("li.message .preview").wait_for()

            # Bad input gets a clear message and nothing is sent.
            alice.fill("#body", "   ")
            alice.press("#body", "Enter")
            assert alice.inner_text("#error") == "The message is empty."

            # A reload shows the history, rendered by the server.
            alice.reload()
            alice.wait_for_selector("#room[data-live=websocket]")
            bodies = alice.locator("li.message .body").all_inner_texts()
            assert bodies == [text, f"Hi Alice, have a look: {link_target}"]
            authors = alice.locator("li.message .author").all_inner_texts()
            assert authors == ["Alice", "Bob"]
            assert alice.locator("li.message.mine").count() == 1
            assert alice.locator("li.message .preview").inner_text() == PAGE_TITLE

            screenshot = tmp_path / "chat.png"
            alice.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size > 10_000
            if os.environ.get("SQUALL_UPDATE_SCREENSHOT") == "1":
                shutil.copyfile(screenshot, DOCS_SCREENSHOT)
            print(f"screenshot: {screenshot}")

            assert alice.errors == []
            assert bob.errors == []
        finally:
            browser.close()
