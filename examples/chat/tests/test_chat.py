"""The chat demo: pages, posting, long polling, WebSocket, previews, restarts, bad input."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from chat.app import USER_COOKIE, ChatApplication, check_message
from chat.previews import (
    PreviewFetcher,
    PreviewRefusedError,
    check_url,
    extract_title,
    first_url,
    is_public_address,
)
from chat.server import ChatServer, UsageError, parse_config
from chat.store import StoreError
from chat_helpers import (
    EXAMPLES,
    SECRET,
    TIMEOUT,
    Client,
    eventually,
    free_port,
    raw_http,
    wait,
    wait_until_serving,
)
from squall import web
from squall.httpclient import HTTPClientError, HTTPRequest
from squall.httpserver import HTTPServer
from squall.netutil import OverrideResolver, Resolver, bind_sockets
from squall.websocket import WebSocketHandshakeError, websocket_connect

StartChat = Callable[..., Awaitable[ChatServer]]
ClientFor = Callable[[ChatServer], Client]


def app_of(server: ChatServer) -> ChatApplication:
    assert server.app is not None
    return server.app


async def ws_connect(server: ChatServer, client: Client, cursor: int = 0, **headers: str) -> Any:
    request = HTTPRequest(
        f"ws://127.0.0.1:{server.port}/ws?cursor={cursor}",
        headers={"Cookie": client.cookie_header(), **headers},
    )
    conn = await wait(websocket_connect(request))
    hello = json.loads(await wait(conn.read_message()))
    assert hello["type"] == "hello"
    return conn


async def read_json(conn: Any, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` (skipping others)."""
    while True:
        raw = await wait(conn.read_message())
        assert raw is not None, f"connection closed while waiting for {kind!r}"
        data: dict[str, Any] = json.loads(raw)
        if data["type"] == kind:
            return data


# -- pages and sign-in -------------------------------------------------------------------


async def test_anonymous_visitor_is_sent_to_sign_in(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    response = await client.fetch("/")
    assert response.code == 302
    assert response.headers["Location"] == "/signin?next=%2F"
    page = await client.fetch("/signin")
    assert page.code == 200
    assert b'name="_xsrf"' in page.body


async def test_room_shows_history_escaped(chat: ChatServer, client_for: ClientFor) -> None:
    alice = client_for(chat)
    await alice.signin("alice")
    assert (await alice.post("first <b>bold</b> & co")).code == 200
    assert (await alice.post("<script>alert(1)</script> see https://example.com/x.")).code == 200
    page = await alice.fetch("/")
    assert page.code == 200
    html = page.body.decode()
    assert 'signed in as <strong id="me">alice</strong>' in html
    assert "first &lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://example.com/x" rel="nofollow noopener noreferrer"' in html
    # Static URLs carry a content hash; the file is served under it.
    assert "/static/chat.js?v=" in html
    start = html.index("/static/chat.js?v=")
    url = html[start : html.index('"', start)]
    script = await alice.fetch(url)
    assert script.code == 200
    assert b"WebSocket" in script.body


async def test_sign_in_refuses_empty_and_long_names(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    token = await client.xsrf()
    for name, text in [("   ", b"please enter a name"), ("x" * 33, b"at most 32 characters")]:
        response = await client.fetch("/signin", "POST", {"name": name, "_xsrf": token})
        assert response.code == 400
        assert text in response.body
    assert USER_COOKIE not in client.cookies


async def test_sign_in_never_redirects_off_site(chat: ChatServer, client_for: ClientFor) -> None:
    client = client_for(chat)
    token = await client.xsrf()
    for target in ["//evil.example/", "http://evil.example/", "/\\evil.example"]:
        response = await client.fetch(
            "/signin", "POST", {"name": "bob", "next": target, "_xsrf": token}
        )
        assert response.code == 302
        assert response.headers["Location"] == "/"


async def test_sign_out_forgets_the_user(chat: ChatServer, client_for: ClientFor) -> None:
    client = client_for(chat)
    await client.signin("carol")
    assert (await client.fetch("/")).code == 200
    response = await client.fetch("/signout", "POST", {"_xsrf": await client.xsrf()})
    assert response.code == 302
    assert USER_COOKIE not in client.cookies
    assert (await client.fetch("/")).code == 302


async def test_404_page(chat: ChatServer, client_for: ClientFor) -> None:
    response = await client_for(chat).fetch("/no/such/page")
    assert response.code == 404
    assert b"404 \xc2\xb7 Not Found" in response.body
    assert b"There is no page at this address." in response.body


async def test_500_goes_through_write_error(
    chat: ChatServer, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(chat)
    await client.signin("dave")

    async def broken(*args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app_of(chat).store, "recent", broken)
    response = await client.fetch("/")
    assert response.code == 500
    assert b"500 \xc2\xb7 Internal Server Error" in response.body
    assert b"disk on fire" not in response.body  # no traceback without --debug
    # The API answers errors in JSON.
    monkeypatch.setattr(app_of(chat), "post_message", broken)
    response = await client.post("hello")
    assert response.code == 500
    assert json.loads(response.body) == {"error": "Internal Server Error", "status": 500}


# -- posting and bad input -------------------------------------------------------------


async def test_post_returns_the_message(chat: ChatServer, client_for: ClientFor) -> None:
    client = client_for(chat)
    await client.signin("erin")
    response = await client.post("  hello  ")
    assert response.code == 200
    message = json.loads(response.body)["message"]
    assert message["author"] == "erin"
    assert message["body"] == "hello"
    assert message["id"] == 1
    assert message["rev"] == 1
    # JSON bodies work too.
    response = await client.fetch(
        "/message",
        "POST",
        json.dumps({"body": "as json"}),
        headers={"Content-Type": "application/json", "X-XSRFToken": await client.xsrf()},
    )
    assert json.loads(response.body)["message"]["body"] == "as json"


@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_empty_message_is_400(chat: ChatServer, client_for: ClientFor, text: str) -> None:
    client = client_for(chat)
    await client.signin("frank")
    response = await client.post(text)
    assert response.code == 400
    assert json.loads(response.body) == {"error": "the message is empty", "status": 400}


async def test_oversized_message_is_413(chat: ChatServer, client_for: ClientFor) -> None:
    client = client_for(chat)
    await client.signin("grace")
    assert (await client.post("x" * 2000)).code == 200
    response = await client.post("x" * 2001)
    assert response.code == 413
    assert json.loads(response.body)["error"] == (
        "the message is too long (2001 characters; at most 2000)"
    )
    # A body far beyond any message is refused by the HTTP layer itself...
    response = await client.post("y" * 200_000)
    assert response.code == 413
    # ...and the server keeps serving.
    assert (await client.post("still here")).code == 200


async def test_missing_or_wrong_xsrf_token_is_403(chat: ChatServer, client_for: ClientFor) -> None:
    client = client_for(chat)
    await client.signin("heidi")
    response = await client.fetch("/message", "POST", {"body": "no token"})
    assert response.code == 403
    response = await client.fetch(
        "/message", "POST", {"body": "bad token"}, headers={"X-XSRFToken": "2|00|00|0"}
    )
    assert response.code == 403
    # A token from another browser does not match this one's cookie.
    other = client_for(chat)
    response = await client.fetch(
        "/message", "POST", {"body": "their token"}, headers={"X-XSRFToken": await other.xsrf()}
    )
    assert response.code == 403
    response = await client.fetch("/signin", "POST", {"name": "mallory"})
    assert response.code == 403
    assert app_of(chat).room.last_rev == 0  # nothing was stored


def signed_cookie(name: str, age_days: float) -> str:
    value = web.create_signed_value(
        SECRET, USER_COOKIE, name, clock=lambda: time.time() - age_days * 86400
    )
    return value.decode()


async def test_expired_cookie_signs_the_user_out(chat: ChatServer, client_for: ClientFor) -> None:
    client = client_for(chat)
    token = await client.xsrf()
    client.cookies[USER_COOKIE] = signed_cookie("ivan", age_days=6.9)
    assert (await client.fetch("/")).code == 200  # young enough (max age 7 days)
    client.cookies[USER_COOKIE] = signed_cookie("ivan", age_days=7.1)
    response = await client.fetch("/")
    assert response.code == 302
    assert response.headers["Location"].startswith("/signin")
    response = await client.fetch(
        "/message", "POST", {"body": "hello"}, headers={"X-XSRFToken": token}
    )
    assert response.code == 403
    assert "sign-in expired" in json.loads(response.body)["error"]
    assert (await client.fetch("/updates?cursor=0")).code == 403
    with pytest.raises(WebSocketHandshakeError) as info:
        await ws_connect(chat, client)
    assert info.value.code == 403


async def test_forged_cookie_is_refused(chat: ChatServer, client_for: ClientFor) -> None:
    client = client_for(chat)
    token = await client.xsrf()
    forged = web.create_signed_value("another secret", USER_COOKIE, "admin").decode()
    client.cookies[USER_COOKIE] = forged
    response = await client.fetch(
        "/message", "POST", {"body": "hi"}, headers={"X-XSRFToken": token}
    )
    assert response.code == 403


def test_check_message_limits() -> None:
    assert check_message(" a ", 5) == "a"
    with pytest.raises(web.HTTPError) as info:
        check_message(42, 5)
    assert info.value.status_code == 400
    with pytest.raises(web.HTTPError) as info:
        check_message("123456", 5)
    assert info.value.status_code == 413


# -- long polling ------------------------------------------------------------------------


async def test_long_poll_waits_for_the_next_message(
    chat: ChatServer, client_for: ClientFor
) -> None:
    alice, bob = client_for(chat), client_for(chat)
    await alice.signin("alice")
    await bob.signin("bob")
    await alice.post("before")
    poll = asyncio.ensure_future(bob.fetch("/updates?cursor=1"))
    room = app_of(chat).room
    await eventually(lambda: room.waiter_count == 1)
    assert not poll.done()
    await alice.post("after")
    response = await wait(poll)
    assert response.code == 200
    data = json.loads(response.body)
    assert [m["body"] for m in data["messages"]] == ["after"]
    assert data["cursor"] == 2
    assert room.waiter_count == 0


async def test_long_poll_answers_at_once_when_behind(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    await client.signin("judy")
    for i in range(3):
        await client.post(f"m{i}")
    data = json.loads((await client.fetch("/updates?cursor=1")).body)
    assert [m["body"] for m in data["messages"]] == ["m1", "m2"]
    assert data["cursor"] == 3


async def test_cursors_older_than_memory_are_read_from_the_store(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    await client.signin("jo")
    room = app_of(chat).room
    room.cache_size = 2
    for i in range(5):
        await client.post(f"m{i}")
    assert room.floor == 3
    data = json.loads((await client.fetch("/updates?cursor=1")).body)
    assert [m["body"] for m in data["messages"]] == ["m1", "m2", "m3", "m4"]
    assert data["cursor"] == 5
    conn = await ws_connect(chat, client, cursor=0)
    caught_up = await read_json(conn, "messages")
    assert [m["rev"] for m in caught_up["messages"]] == [1, 2, 3, 4, 5]
    await client.post("m5")
    assert [m["rev"] for m in (await read_json(conn, "messages"))["messages"]] == [6]
    conn.close()


async def test_long_poll_times_out_with_nothing(
    start_chat: StartChat, client_for: ClientFor
) -> None:
    chat = await start_chat(longpoll_timeout=0.3)
    client = client_for(chat)
    await client.signin("ken")
    response = await client.fetch("/updates?cursor=0")
    assert json.loads(response.body) == {"messages": [], "cursor": 0}
    assert app_of(chat).room.waiter_count == 0


async def test_long_poll_cursor_from_the_future_resets(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    await client.signin("leo")
    data = json.loads((await client.fetch("/updates?cursor=999")).body)
    assert data == {"messages": [], "cursor": 0, "reset": True}


@pytest.mark.parametrize("query", ["", "?cursor=", "?cursor=abc", "?cursor=-1"])
async def test_long_poll_bad_cursor_is_400(
    chat: ChatServer, client_for: ClientFor, query: str
) -> None:
    client = client_for(chat)
    await client.signin("mia")
    response = await client.fetch("/updates" + query)
    assert response.code == 400
    assert "error" in json.loads(response.body)


async def test_long_poll_waiter_removed_when_client_goes_away(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    await client.signin("nina")
    room = app_of(chat).room
    head = f"GET /updates?cursor=0 HTTP/1.1\nHost: 127.0.0.1\nCookie: {client.cookie_header()}"
    _, writer = await raw_http(chat.port, head)
    await eventually(lambda: room.waiter_count == 1)
    writer.close()
    await eventually(lambda: room.waiter_count == 0)
    # Posting afterwards calls nobody, and everything keeps working.
    assert (await client.post("anyone there?")).code == 200
    data = json.loads((await client.fetch("/updates?cursor=0")).body)
    assert [m["body"] for m in data["messages"]] == ["anyone there?"]


# -- WebSocket ---------------------------------------------------------------------------


async def test_websocket_pushes_and_accepts_posts(chat: ChatServer, client_for: ClientFor) -> None:
    alice, bob = client_for(chat), client_for(chat)
    await alice.signin("alice")
    await bob.signin("bob")
    await alice.post("old news")
    conn = await ws_connect(chat, alice, cursor=0)
    caught_up = await read_json(conn, "messages")
    assert [m["body"] for m in caught_up["messages"]] == ["old news"]
    # Bob (long polling) and Alice's socket both see a post made over the socket.
    poll = asyncio.ensure_future(bob.fetch("/updates?cursor=1"))
    await eventually(lambda: app_of(chat).room.waiter_count == 1)
    await conn.write_message(json.dumps({"type": "post", "body": "over the socket", "ref": "r1"}))
    posted = await read_json(conn, "posted")
    assert posted["ref"] == "r1"
    pushed = await read_json(conn, "messages")
    assert [(m["author"], m["body"]) for m in pushed["messages"]] == [("alice", "over the socket")]
    data = json.loads((await wait(poll)).body)
    assert [m["body"] for m in data["messages"]] == ["over the socket"]
    # And a post over HTTP is pushed to the socket.
    await bob.post("over HTTP")
    pushed = await read_json(conn, "messages")
    assert [(m["author"], m["body"]) for m in pushed["messages"]] == [("bob", "over HTTP")]
    conn.close()
    await eventually(lambda: app_of(chat).room.listener_count == 0)


async def test_websocket_bad_posts_get_errors_not_a_closed_socket(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    await client.signin("olga")
    conn = await ws_connect(chat, client)
    for raw, expected in [
        ("not json", "messages must be JSON"),
        (json.dumps({"type": "dance"}), 'expected {"type": "post", "body": ...}'),
        (json.dumps({"type": "post", "body": "  ", "ref": 7}), "the message is empty"),
        (json.dumps({"type": "post", "body": "z" * 2001}), "too long"),
        (json.dumps({"type": "post", "body": ["list"]}), "the message must be text"),
    ]:
        await conn.write_message(raw)
        error = await read_json(conn, "error")
        assert expected in error["message"]
    await conn.write_message(json.dumps({"type": "post", "body": "fine"}))
    assert (await read_json(conn, "posted"))["id"] == 1
    conn.close()


async def test_websocket_post_the_store_refuses_gets_an_error(
    chat: ChatServer, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(chat)
    await client.signin("sue")
    conn = await ws_connect(chat, client)

    async def full_disk(*args: Any) -> Any:
        raise StoreError("database or disk is full")

    monkeypatch.setattr(app_of(chat).store, "add", full_disk)
    await conn.write_message(json.dumps({"type": "post", "body": "lost?", "ref": "a"}))
    error = await read_json(conn, "error")
    assert error == {"type": "error", "message": "the message could not be saved", "ref": "a"}
    monkeypatch.undo()
    await conn.write_message(json.dumps({"type": "post", "body": "saved", "ref": "b"}))
    assert (await read_json(conn, "posted"))["ref"] == "b"
    conn.close()


async def test_websocket_needs_sign_in_and_same_origin(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    with pytest.raises(WebSocketHandshakeError) as info:
        await ws_connect(chat, client)
    assert info.value.code == 403
    await client.signin("pat")
    with pytest.raises(WebSocketHandshakeError) as info:
        await ws_connect(chat, client, Origin="http://evil.example")
    assert info.value.code == 403
    conn = await ws_connect(chat, client, Origin=f"http://127.0.0.1:{chat.port}")
    conn.close()


async def test_malformed_websocket_frame_closes_with_1002(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    await client.signin("quinn")
    bystander = await ws_connect(chat, client)
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET /ws?cursor=0 HTTP/1.1\nHost: 127.0.0.1:{chat.port}\nUpgrade: websocket\n"
        f"Connection: Upgrade\nSec-WebSocket-Key: {key}\nSec-WebSocket-Version: 13\n"
        f"Cookie: {client.cookie_header()}"
    )
    reader, writer = await raw_http(chat.port, head)
    status = await wait(reader.readuntil(b"\r\n\r\n"))
    assert status.startswith(b"HTTP/1.1 101 ")
    # An unmasked text frame: clients must mask every frame (RFC 6455 5.1).
    writer.write(bytes([0x81, 0x05]) + b"hello")
    await writer.drain()
    data = await wait(reader.read())  # everything until the server closes
    frames = parse_frames(data)
    assert [opcode for opcode, _ in frames] == [0x1, 0x8]  # the hello, then close
    assert struct.unpack("!H", frames[-1][1][:2])[0] == 1002
    writer.close()
    # Everyone else carries on.
    await client.post("still alive")
    pushed = await read_json(bystander, "messages")
    assert [m["body"] for m in pushed["messages"]] == ["still alive"]
    bystander.close()


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames into (opcode, payload) pairs."""
    frames = []
    pos = 0
    while pos < len(data):
        opcode, length = data[pos] & 0x0F, data[pos + 1] & 0x7F
        pos += 2
        if length == 126:
            (length,) = struct.unpack("!H", data[pos : pos + 2])
            pos += 2
        elif length == 127:
            (length,) = struct.unpack("!Q", data[pos : pos + 8])
            pos += 8
        frames.append((opcode, data[pos : pos + length]))
        pos += length
    return frames


async def test_too_big_websocket_message_closes_with_1009(
    chat: ChatServer, client_for: ClientFor
) -> None:
    client = client_for(chat)
    await client.signin("rita")
    conn = await ws_connect(chat, client)
    await conn.write_message("x" * 20_000)
    while await wait(conn.read_message()) is not None:
        pass
    assert conn.close_code == 1009


# -- persistence -------------------------------------------------------------------------


async def test_restart_keeps_history(
    start_chat: StartChat, client_for: ClientFor, tmp_path: Path
) -> None:
    data_dir = tmp_path / "persistent"
    first = await start_chat(data_dir)
    client = client_for(first)
    await client.signin("sam")
    await client.post("written before the restart")
    await first.stop()

    second = await start_chat(data_dir)
    again = client_for(second)
    again.cookies = dict(client.cookies)  # same secret: still signed in
    page = await again.fetch("/")
    assert page.code == 200
    assert b"written before the restart" in page.body
    assert b'data-cursor="1"' in page.body
    await again.post("and after")
    data = json.loads((await again.fetch("/updates?cursor=1")).body)
    assert [(m["id"], m["body"]) for m in data["messages"]] == [(2, "and after")]


async def test_shutdown_answers_waiting_long_polls(
    start_chat: StartChat, client_for: ClientFor
) -> None:
    chat = await start_chat()
    client = client_for(chat)
    await client.signin("tom")
    poll = asyncio.ensure_future(client.fetch("/updates?cursor=0"))
    await eventually(lambda: app_of(chat).room.waiter_count == 1)
    conn = await ws_connect(chat, client)
    await wait(chat.stop())
    response = await wait(poll)
    assert response.code == 200
    assert json.loads(response.body)["messages"] == []
    assert await wait(conn.read_message()) is None
    assert conn.close_code == 1001


# -- link previews -----------------------------------------------------------------------


class TitlePage(web.RequestHandler):
    hits = 0

    def get(self, name: str) -> None:
        TitlePage.hits += 1
        if name == "big":
            self.write("<html><head><title>big</title></head><body>" + "x" * 2_000_000)
        elif name == "text":
            self.set_header("Content-Type", "text/plain")
            self.write("<title>not html</title>")
        elif name == "redirect":
            self.redirect("/page/hello")
        else:
            self.write(
                "<html><head><title>\n  Hello &amp; <welcome> &lt;script&gt;alert(1)&lt;/script&gt;"
                "\n</title></head><body></body></html>"
            )


@pytest.fixture
def page_server(io_loop: Any) -> Any:
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(web.Application([(r"/page/(\w+)", TitlePage)]))
    server.add_sockets(sockets)
    TitlePage.hits = 0
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=TIMEOUT)


EXPECTED_TITLE = "Hello & <welcome> <script>alert(1)</script>"


async def test_link_preview_from_a_local_server_when_allowed(
    start_chat: StartChat, client_for: ClientFor, page_server: str
) -> None:
    chat = await start_chat(allow_private_previews=True)
    client = client_for(chat)
    await client.signin("uma")
    conn = await ws_connect(chat, client)
    await client.post(f"look: {page_server}/page/hello!")
    first = await read_json(conn, "messages")
    assert first["messages"][0]["preview"] is None
    updated = await read_json(conn, "messages")
    (message,) = updated["messages"]
    assert message["id"] == first["messages"][0]["id"]
    assert message["rev"] > first["messages"][0]["rev"]
    assert message["preview"] == {"url": f"{page_server}/page/hello", "title": EXPECTED_TITLE}
    # The page shows the title escaped.
    html = (await client.fetch("/")).body.decode()
    assert "Hello &amp; &lt;welcome&gt; &lt;script&gt;alert(1)&lt;/script&gt;</a>" in html
    assert "<welcome>" not in html
    conn.close()


async def test_no_preview_of_loopback_without_the_flag(
    chat: ChatServer, client_for: ClientFor, page_server: str
) -> None:
    client = client_for(chat)
    await client.signin("vic")
    await client.post(f"{page_server}/page/hello")
    fetcher = app_of(chat).previews
    with pytest.raises(PreviewRefusedError, match="non-public"):
        await fetcher.title_of(f"{page_server}/page/hello")
    with pytest.raises(PreviewRefusedError, match="non-public"):
        await fetcher.title_of("http://localhost:9/")
    await asyncio.sleep(0.2)
    assert TitlePage.hits == 0
    data = json.loads((await client.fetch("/updates?cursor=0")).body)
    assert [m["preview"] for m in data["messages"]] == [None]


async def test_preview_checks_every_connection_not_just_the_first_lookup(
    io_loop: Any, page_server: str
) -> None:
    # A public-looking name that resolves to loopback when connecting (as
    # after DNS rebinding) is refused by the client's resolver itself.
    port = int(page_server.rsplit(":", 1)[1])
    mapping = {"rebind.example": "127.0.0.1"}
    fetcher = PreviewFetcher(resolver=OverrideResolver(resolver=Resolver(), mapping=mapping))
    try:
        with pytest.raises(PreviewRefusedError, match="non-public"):
            await fetcher.title_of(f"http://rebind.example:{port}/page/hello")
        # The client alone (without the first check) refuses too.
        with pytest.raises(HTTPClientError, match="non-public"):
            await wait(fetcher.client.fetch(f"http://rebind.example:{port}/page/hello"))
    finally:
        fetcher.close()
    assert TitlePage.hits == 0


async def test_preview_limits(io_loop: Any, page_server: str) -> None:
    fetcher = PreviewFetcher(allow_private=True, max_body_size=100_000)
    try:
        assert await fetcher.title_of(f"{page_server}/page/redirect") == EXPECTED_TITLE
        with pytest.raises(Exception, match="failed"):
            await fetcher.title_of(f"{page_server}/page/big")
        with pytest.raises(Exception, match="not an HTML page"):
            await fetcher.title_of(f"{page_server}/page/text")
        for url in ["ftp://example.com/", "javascript:alert(1)", "http:///x", "http://u:p@h/"]:
            with pytest.raises(PreviewRefusedError):
                await fetcher.title_of(url)
    finally:
        fetcher.close()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("not an address", False),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_url_checks_and_extraction() -> None:
    assert first_url("see https://example.com/a_(b)). ok") == "https://example.com/a_(b"
    assert first_url("HTTP://EXAMPLE.COM/x, then") == "HTTP://EXAMPLE.COM/x"
    assert first_url("no links, javascript:alert(1)") is None
    assert check_url("https://example.com/") == ("example.com", 443)
    assert check_url("http://example.com:8080/") == ("example.com", 8080)
    for bad in ["file:///etc/passwd", "http://", "http://a:b@example.com/", "http://h:99999/"]:
        with pytest.raises(PreviewRefusedError):
            check_url(bad)


def test_extract_title() -> None:
    assert extract_title(b"<title> a\n\n b </title>") == "a b"
    assert extract_title(b"<meta property='og:title' content='OG'><body>") == "OG"
    assert extract_title(b"<body><title>too late</title>") is None
    assert extract_title(
        "<title>caf\xe9</title>".encode("latin-1"), "text/html; charset=latin-1"
    ) == ("caf\xe9")
    assert extract_title(b'<meta charset="latin-1"><title>\xe9t\xe9</title>') == "\xe9t\xe9"
    long = extract_title(b"<title>" + b"w" * 500 + b"</title>")
    assert long is not None and len(long) == 200 and long.endswith("\u2026")
    assert extract_title(b"<title>\x00\x07bell</title>") == "bell"
    assert extract_title(b"") is None


# -- the command line --------------------------------------------------------------------


def test_processes_without_redis_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs --redis URL: each process only knows"):
        parse_config(["--processes", "2", f"--data-dir={tmp_path}"])
    with pytest.raises(UsageError, match="--processes must be"):
        parse_config(["--processes=-1", f"--data-dir={tmp_path}"])
    config = parse_config(["--port", "9000", "--data-dir", str(tmp_path), "--debug"])
    assert (config.port, config.debug, config.processes) == (9000, True, 1)
    assert config.cookie_secret == parse_config([f"--data-dir={tmp_path}"]).cookie_secret


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat", *args],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_cli_refuses_processes_without_redis(tmp_path: Path) -> None:
    result = run_module("--processes=2", f"--data-dir={tmp_path}")
    assert result.returncode == 2
    assert "chat: error: --processes 2 needs --redis URL" in result.stderr
    result = run_module("--no-such-option")
    assert result.returncode == 2
    assert "no-such-option" in result.stderr


def test_run_script_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "chat" / "run.py"),
            "--port",
            str(port),
            f"--data-dir={tmp_path / 'd'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_serving(port, proc)
        proc.terminate()
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "chat listening on http://127.0.0.1:" in output
    assert "shutting down" in output
    assert (tmp_path / "d" / "chat.sqlite3").exists()
