"""The chat's web application: pages, the JSON API, long polling and WebSocket.

Routes:

==================  =====================================================
``GET /``           the room (sign-in required): recent history + the form
``GET/POST /signin``  a name, kept in a signed cookie
``POST /signout``   forget it
``POST /message``   post a message (XSRF-checked); JSON answer
``GET /updates``    long polling: changes after ``?cursor=N`` (JSON)
``GET /ws``         WebSocket: changes pushed, posts accepted
``/static/...``     CSS and JavaScript, with ``?v=<hash>`` URLs
anything else       404 page
==================  =====================================================

The long-polling handler is written the classic Tornado way
(``@web.asynchronous``, a callback, ``self.finish()``); the WebSocket
handler with ``async def``. Both are fed by the same :class:`Room`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import json
import logging
import os
import time
import traceback
from typing import Any

from markupsafe import Markup
from squall import web
from squall.escape import linkify
from squall.ioloop import IOLoop
from squall.process import task_id
from squall.template import Jinja2Loader
from squall.websocket import WebSocketClosedError, WebSocketHandler

from .fanout import LocalFanout, RedisFanout
from .previews import PreviewError, PreviewFetcher, first_url
from .room import Room, Updates
from .store import Message, MessageStore, StoreError

log = logging.getLogger("chat")

HERE = os.path.dirname(os.path.abspath(__file__))
USER_COOKIE = "chat_user"
MAX_NAME = 32


@dataclasses.dataclass
class ChatConfig:
    """Everything the application needs to know (the command line fills it)."""

    data_dir: str
    cookie_secret: str
    port: int = 8888
    address: str = "127.0.0.1"
    processes: int = 1
    redis: str | None = None
    allow_private_previews: bool = False
    debug: bool = False
    #: Longest message, in characters.
    max_message_length: int = 2000
    #: Messages shown when the page loads.
    history: int = 50
    #: Days a sign-in stays valid (the signed cookie's max age).
    cookie_max_age_days: float = 7.0
    #: Seconds a long poll waits before answering "nothing new".
    longpoll_timeout: float = 25.0
    #: Seconds allowed for fetching a link preview.
    preview_timeout: float = 5.0

    @property
    def database(self) -> str:
        return os.path.join(self.data_dir, "chat.sqlite3")


class ChatError(web.HTTPError):
    """An error the user should read: ``message`` is shown on the page or in the JSON."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, "%s", message)
        self.message = message


def check_message(body: Any, max_length: int) -> str:
    """Return the message text, stripped, or raise :class:`ChatError` saying what is wrong."""
    if not isinstance(body, str):
        raise ChatError(400, "the message must be text")
    text = body.strip()
    if not text:
        raise ChatError(400, "the message is empty")
    if len(text) > max_length:
        raise ChatError(
            413, f"the message is too long ({len(text)} characters; at most {max_length})"
        )
    return text


def check_name(name: str) -> str:
    """Return a usable display name, or raise :class:`ChatError`."""
    name = " ".join(name.split())
    if not name:
        raise ChatError(400, "please enter a name")
    if len(name) > MAX_NAME:
        raise ChatError(400, f"names are at most {MAX_NAME} characters")
    if not name.isprintable():
        raise ChatError(400, "names cannot contain control characters")
    return name


def render_body(text: str) -> Markup:
    """A message as HTML: escaped, with http(s) links made clickable."""
    return Markup(
        linkify(
            text,
            require_protocol=True,
            extra_params='rel="nofollow noopener noreferrer" target="_blank"',
        )
    )


def clock(timestamp: float) -> str:
    """``HH:MM`` in UTC (the page's script shows local time instead)."""
    return time.strftime("%H:%M UTC", time.gmtime(timestamp))


class ChatApplication(web.Application):
    """The web application plus the chat's state (store, room, fan-out, previews)."""

    def __init__(self, config: ChatConfig) -> None:
        self.config = config
        self.store = MessageStore(config.database)
        self.room = Room(self.store)
        self.fanout: LocalFanout | RedisFanout = (
            RedisFanout(config.redis) if config.redis else LocalFanout()
        )
        self.previews = PreviewFetcher(
            allow_private=config.allow_private_previews, timeout=config.preview_timeout
        )
        self.sockets: set[ChatSocketHandler] = set()
        self._background: set[asyncio.Future[Any]] = set()
        loader = Jinja2Loader(os.path.join(HERE, "templates"))
        loader.environment.filters["message_html"] = render_body
        loader.environment.filters["clock"] = clock
        super().__init__(
            [
                web.url(r"/", RoomHandler, name="room"),
                web.url(r"/signin", SignInHandler, name="signin"),
                web.url(r"/signout", SignOutHandler, name="signout"),
                web.url(r"/message", MessageHandler, name="message"),
                web.url(r"/updates", UpdatesHandler, name="updates"),
                web.url(r"/ws", ChatSocketHandler, name="ws"),
            ],
            cookie_secret=config.cookie_secret,
            xsrf_cookies=True,
            login_url="/signin",
            template_loader=loader,
            static_path=os.path.join(HERE, "static"),
            default_handler_class=NotFoundHandler,
            websocket_max_message_size=16 * 1024,
            websocket_ping_interval=30,
            debug=config.debug,
            # Forked workers cannot restart themselves.
            autoreload=config.debug and config.processes == 1,
        )

    async def start(self) -> None:
        """Open the database and start listening for changes."""
        await self.store.open()
        await self.room.start()
        await self.fanout.start(self.room)

    async def stop(self) -> None:
        """Close sockets, answer waiters, stop background work, close the database."""
        self.room.close()
        for handler in list(self.sockets):
            handler.close(1001, "server shutting down")
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.wait(self._background, timeout=2)
        await self.fanout.stop()
        self.previews.close()
        await self.store.close()

    def spawn(self, coroutine: Any) -> None:
        """Run a background task, kept until it ends (and cancelled at shutdown)."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def post_message(self, author: str, body: str) -> Message:
        """Store a message, hand it to everyone, and look for a link to preview."""
        message = await self.store.add(author, body)
        self.room.accept(message)
        self.spawn(self.fanout.publish(message.rev))
        url = first_url(body)
        if url is not None:
            self.spawn(self._preview(message.id, url))
        return message

    async def _preview(self, message_id: int, url: str) -> None:
        try:
            title = await self.previews.title_of(url)
        except PreviewError as exc:  # refused, or failed: no preview, that is all
            log.info("no preview for message %d: %s", message_id, exc)
            return
        updated = await self.store.set_preview(message_id, url, title)
        if updated is not None:
            self.room.accept(updated)
            await self.fanout.publish(updated.rev)


# -- handlers ------------------------------------------------------------------------


def signed_in_user(handler: web.RequestHandler) -> str | None:
    """The name in the signed cookie, if it is valid and younger than the max age."""
    config: ChatConfig = handler.application.config  # type: ignore[attr-defined]
    value = handler.get_signed_cookie(USER_COOKIE, max_age_days=config.cookie_max_age_days)
    if not value:
        return None
    try:
        return check_name(value.decode("utf-8"))
    except (UnicodeDecodeError, ChatError):
        return None


class BaseHandler(web.RequestHandler):
    """Pages: the signed-in user, and HTML errors through ``error.html``."""

    application: ChatApplication

    def get_current_user(self) -> str | None:
        return signed_in_user(self)

    @property
    def config(self) -> ChatConfig:
        return self.application.config

    @property
    def room(self) -> Room:
        return self.application.room

    def wants_json(self) -> bool:
        return False

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        message = error.message if isinstance(error, ChatError) else None
        try:
            reason = http.HTTPStatus(status_code).phrase
        except ValueError:
            reason = "Error"
        if self.wants_json():
            self.finish({"error": message or reason, "status": status_code})
            return
        details = None
        if (
            self.settings.get("serve_traceback")
            and exc_info
            and not isinstance(error, web.HTTPError)
        ):
            details = "".join(traceback.format_exception(*exc_info))
        try:
            self.render(
                "error.html",
                status_code=status_code,
                reason=reason,
                message=message,
                details=details,
            )
        except Exception:
            log.exception("rendering error.html failed")
            super().write_error(status_code, **kwargs)


class NotFoundHandler(BaseHandler):
    """Every path no route matches."""

    def prepare(self) -> None:
        raise ChatError(404, "There is no page at this address.")


class SignInHandler(BaseHandler):
    """Sign in with a name: no password, it is a demo."""

    def get(self) -> None:
        self.render("signin.html", next_url=self._next_url(), error=None, name="")

    def post(self) -> None:
        name = self.get_body_argument("name", "")
        try:
            name = check_name(name)
        except ChatError as exc:
            self.set_status(400)
            self.render("signin.html", next_url=self._next_url(), error=exc.message, name=name)
            return
        self.set_signed_cookie(
            USER_COOKIE,
            name,
            expires_days=self.config.cookie_max_age_days,
            httponly=True,
            samesite="Lax",
        )
        self.redirect(self._next_url())

    def _next_url(self) -> str:
        target = self.get_argument("next", "/")
        # Only paths on this site: never "//host" or "http://...".
        if not target.startswith("/") or target.startswith(("//", "/\\")):
            return "/"
        return target


class SignOutHandler(BaseHandler):
    def post(self) -> None:
        self.clear_cookie(USER_COOKIE)
        self.redirect(self.reverse_url("signin"))


class RoomHandler(BaseHandler):
    """The room page: recent history rendered on the server, then live updates."""

    @web.authenticated
    async def get(self) -> None:
        messages, cursor = await self.room.store.recent(self.config.history)
        transport = self.get_argument("transport", "auto")
        if transport not in ("auto", "websocket", "poll"):
            transport = "auto"
        self.render(
            "room.html",
            messages=messages,
            cursor=cursor,
            transport=transport,
            max_length=self.config.max_message_length,
        )


class ApiHandler(BaseHandler):
    """JSON endpoints: errors as JSON, sign-in required (403, not a redirect)."""

    def wants_json(self) -> bool:
        return True

    def prepare(self) -> None:
        if not self.current_user:
            raise ChatError(403, "you are not signed in (or your sign-in expired)")


class MessageHandler(ApiHandler):
    """``POST /message``: form field ``body`` (or JSON ``{"body": ...}``)."""

    async def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                data = json.loads(self.request.body)
            except ValueError:
                raise ChatError(400, "the request body is not valid JSON")
            body = data.get("body") if isinstance(data, dict) else None
        else:
            body = self.get_body_argument("body", None)
        if body is None:
            raise ChatError(400, "the message is missing (field 'body')")
        text = check_message(body, self.config.max_message_length)
        message = await self.application.post_message(self.current_user, text)
        if self.get_body_argument("next", None) == "/":
            self.redirect("/")  # the form, posted without JavaScript
            return
        self.finish({"message": message.to_json()})


class UpdatesHandler(ApiHandler):
    """``GET /updates?cursor=N``: long polling, in the classic callback style.

    The request stays open until the room has something after ``cursor``
    (or ``longpoll_timeout`` passes); if the browser goes away first,
    ``on_connection_close`` takes the waiter out of the room.
    """

    _timeout: asyncio.TimerHandle | None = None

    @web.asynchronous
    def get(self) -> None:
        try:
            self.cursor = int(self.get_argument("cursor"))
        except ValueError:
            raise ChatError(400, "cursor must be a non-negative integer")
        if self.cursor < 0:
            raise ChatError(400, "cursor must be a non-negative integer")
        self._timeout = IOLoop.current().call_later(self.config.longpoll_timeout, self.on_timeout)
        self.room.wait_for_updates(self.cursor, self.on_updates)

    def on_updates(self, updates: Updates) -> None:
        self._cancel_timeout()
        if self._finished:
            return
        self.finish(updates.to_json())

    def on_timeout(self) -> None:
        self._timeout = None
        self.room.cancel_wait(self.on_updates)
        if not self._finished:
            self.finish(Updates([], self.cursor).to_json())

    def on_connection_close(self) -> None:
        self.room.cancel_wait(self.on_updates)
        self._cancel_timeout()

    def _cancel_timeout(self) -> None:
        if self._timeout is not None:
            IOLoop.current().remove_timeout(self._timeout)
            self._timeout = None


class ChatSocketHandler(WebSocketHandler):
    """``/ws?cursor=N``: pushes changes, accepts ``{"type": "post", "body": ...}``.

    Cross-site protection takes the place of the XSRF token: the handshake
    needs the signed-in cookie (403 otherwise, before upgrading), and
    :meth:`check_origin` (the default, same origin only) refuses pages of
    other sites, which could otherwise use the browser's cookie.
    """

    application: ChatApplication
    cursor = 0
    _pending: list[Message] | None = None

    def get_current_user(self) -> str | None:
        return signed_in_user(self)

    def prepare(self) -> None:
        if not self.current_user:
            raise ChatError(403, "you are not signed in (or your sign-in expired)")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, ChatError):
            message = error.message
        else:
            message = http.HTTPStatus(status_code).phrase
        self.finish({"error": message, "status": status_code})

    async def open(self) -> None:
        try:
            cursor = int(self.get_argument("cursor", "0"))
        except ValueError:
            cursor = -1
        room = self.application.room
        self.application.sockets.add(self)
        # Changes arriving while we catch up are held, then sent in order.
        self._pending = []
        room.add_listener(self.on_changes)
        await self.send({"type": "hello", "user": self.current_user, "worker": task_id() or 0})
        if cursor < 0:
            await self.send({"type": "error", "message": "cursor must be a non-negative integer"})
            self.close(1008, "bad cursor")
            return
        self.cursor = cursor
        updates = await room.updates_since(cursor)
        pending, self._pending = self._pending, None
        if updates.reset:
            await self.send({"type": "reset", "cursor": updates.cursor})
            self.cursor = updates.cursor
        self.on_changes(updates.messages + (pending or []))

    def on_changes(self, messages: list[Message]) -> None:
        if self._pending is not None:
            self._pending.extend(messages)
            return
        # In revision order, each revision once (a catch-up read from the
        # store and the changes held meanwhile may overlap).
        by_rev = {m.rev: m for m in messages if m.rev > self.cursor}
        fresh = [by_rev[rev] for rev in sorted(by_rev)]
        if not fresh:
            return
        self.cursor = fresh[-1].rev
        self.application.spawn(
            self.send(
                {
                    "type": "messages",
                    "messages": [m.to_json() for m in fresh],
                    "cursor": self.cursor,
                }
            )
        )

    async def send(self, data: dict[str, Any]) -> None:
        try:
            await self.write_message(data)
        except WebSocketClosedError:
            pass  # on_close cleans up

    async def on_message(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            await self.send({"type": "error", "message": "messages must be JSON"})
            return
        if not isinstance(data, dict) or data.get("type") != "post":
            await self.send({"type": "error", "message": 'expected {"type": "post", "body": ...}'})
            return
        ref = data.get("ref")
        ref = ref if isinstance(ref, (str, int)) else None
        try:
            text = check_message(data.get("body"), self.application.config.max_message_length)
        except ChatError as exc:
            await self.send({"type": "error", "message": exc.message, "ref": ref})
            return
        user = self.current_user
        if not user:
            self.close(1008, "not signed in")
            return
        try:
            posted = await self.application.post_message(user, text)
        except StoreError:
            log.exception("storing a message failed")
            await self.send(
                {"type": "error", "message": "the message could not be saved", "ref": ref}
            )
            return
        await self.send({"type": "posted", "id": posted.id, "ref": ref})

    def on_close(self) -> None:
        self.application.room.remove_listener(self.on_changes)
        self.application.sockets.discard(self)
