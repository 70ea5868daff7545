"""The chat's messages, kept in SQLite (the standard library's ``sqlite3``).

sqlite3 blocks, so every query runs on one dedicated worker thread through
``IOLoop.run_in_executor``: the event loop never waits on the disk, and
because there is only one thread, the connection is only ever used by the
thread that opened it.

Each row has two numbers:

* ``id``: the message's identity, in posting order;
* ``rev``: the revision, a counter over *every* change to the room (a new
  message, a link preview added to one). Clients keep the highest ``rev``
  they have seen as their *cursor* and ask for what changed after it, and
  they update their copy of a message by ``id``. Each write takes
  ``MAX(rev) + 1`` inside SQLite's write lock, so revisions are strictly
  increasing even when several processes share the file (WAL mode).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from squall.ioloop import IOLoop

_T = TypeVar("_T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rev INTEGER NOT NULL UNIQUE,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    preview_url TEXT,
    preview_title TEXT
);
"""

_COLUMNS = "id, rev, author, body, created, preview_url, preview_title"
_NEXT_REV = "(SELECT COALESCE(MAX(rev), 0) + 1 FROM messages)"


class StoreError(Exception):
    """The message store failed (disk full, a corrupt file, closed store ...)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One message as stored, at one revision."""

    id: int
    rev: int
    author: str
    body: str
    created: float
    preview_url: str | None = None
    preview_title: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The message as sent to browsers (plain text: they escape it)."""
        preview = None
        if self.preview_url and self.preview_title:
            preview = {"url": self.preview_url, "title": self.preview_title}
        return {
            "id": self.id,
            "rev": self.rev,
            "author": self.author,
            "body": self.body,
            "created": self.created,
            "preview": preview,
        }


def _message(row: tuple[Any, ...]) -> Message:
    return Message(*row)


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions, we say BEGIN ourselves.
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


def create_database(path: str) -> None:
    """Create the database file and its schema now (blocking; call before forking)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    _connect(path).close()


class MessageStore:
    """Asynchronous access to the messages table.

    :param path: the SQLite file (created with its directory if missing).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="chat-sqlite"
        )
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def _run(self, func: Callable[..., _T], *args: Any) -> _T:
        if self._closed:
            raise StoreError("the message store is closed")
        try:
            return await IOLoop.current().run_in_executor(self._executor, func, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            create_database(self.path)
            self._conn = _connect(self.path)
        return self._conn

    async def open(self) -> None:
        """Open (and if needed create) the database."""
        await self._run(self._db)

    async def close(self) -> None:
        """Close the database and stop the worker thread."""
        if self._closed:
            return

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            await self._run(close)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)

    # -- writes ----------------------------------------------------------------

    async def add(self, author: str, body: str, created: float | None = None) -> Message:
        """Store a new message and return it with its ``id`` and ``rev``."""
        when = time.time() if created is None else created
        return await self._run(self._add, author, body, when)

    def _add(self, author: str, body: str, created: float) -> Message:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            cursor = db.execute(
                f"INSERT INTO messages (rev, author, body, created) VALUES ({_NEXT_REV}, ?, ?, ?)",
                (author, body, created),
            )
            row = db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return _message(row)

    async def set_preview(self, message_id: int, url: str, title: str) -> Message | None:
        """Attach a link preview to a message (a new revision); ``None`` if it is gone."""
        return await self._run(self._set_preview, message_id, url, title)

    def _set_preview(self, message_id: int, url: str, title: str) -> Message | None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                f"UPDATE messages SET preview_url = ?, preview_title = ?, rev = {_NEXT_REV} "
                "WHERE id = ?",
                (url, title, message_id),
            )
            row = db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return None if row is None else _message(row)

    # -- reads -----------------------------------------------------------------

    async def recent(self, limit: int) -> tuple[list[Message], int]:
        """The last ``limit`` messages (oldest first) and the room's current revision.

        Both are read in one transaction, so a client that starts from this
        revision misses nothing and sees nothing twice.
        """
        return await self._run(self._recent, limit)

    def _recent(self, limit: int) -> tuple[list[Message], int]:
        db = self._db()
        db.execute("BEGIN")
        try:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM messages ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
            (rev,) = db.execute("SELECT COALESCE(MAX(rev), 0) FROM messages").fetchone()
        finally:
            db.execute("COMMIT")
        return [_message(row) for row in reversed(rows)], int(rev)

    async def since(self, rev: int, limit: int = 500) -> list[Message]:
        """Messages whose revision is above ``rev``, in revision order (at most ``limit``)."""
        return await self._run(self._since, rev, limit)

    def _since(self, rev: int, limit: int) -> list[Message]:
        rows = (
            self._db()
            .execute(
                f"SELECT {_COLUMNS} FROM messages WHERE rev > ? ORDER BY rev LIMIT ?",
                (rev, limit),
            )
            .fetchall()
        )
        return [_message(row) for row in rows]

    async def current_rev(self) -> int:
        """The highest revision in the room (0 when empty)."""
        return await self._run(self._current_rev)

    def _current_rev(self) -> int:
        (rev,) = self._db().execute("SELECT COALESCE(MAX(rev), 0) FROM messages").fetchone()
        return int(rev)
