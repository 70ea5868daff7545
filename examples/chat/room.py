"""The room: who is waiting for news, and the recent changes to give them.

The store (SQLite) is the truth. The room keeps, in memory, the changes
after some revision ``floor`` up to ``last_rev``, with no gap, so most
requests for "what changed after my cursor" are answered without a query.

Two kinds of clients wait for changes:

* *waiters* (long polling): a callback registered with a cursor, called
  once with the changes after it, then forgotten. :meth:`Room.cancel_wait`
  removes one whose client went away;
* *listeners* (WebSocket): a callback called with every batch of changes
  until it is removed.

Whenever something may have changed -- a message posted in this process,
or a notice from another process through Redis -- :meth:`Room.notify`
reads the store from ``last_rev`` on (one query however many clients
wait) and hands out the result. A post made in this process whose
revision follows ``last_rev`` directly is handed out without a query.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterable

from squall.ioloop import IOLoop

from .store import Message, MessageStore

log = logging.getLogger("chat.room")

#: A long-poll waiter: called once with the changes (possibly none).
Waiter = Callable[["Updates"], None]
#: A listener: called with each batch of new changes.
Listener = Callable[[list[Message]], None]

_BATCH = 500


class Updates:
    """What a client gets: the changes after its cursor, and its new cursor.

    ``reset`` is true when the cursor is ahead of the room (the data was
    replaced since the client loaded the page): the client should reload.
    """

    __slots__ = ("cursor", "messages", "reset")

    def __init__(self, messages: list[Message], cursor: int, reset: bool = False) -> None:
        self.messages = messages
        self.cursor = cursor
        self.reset = reset

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "messages": [m.to_json() for m in self.messages],
            "cursor": self.cursor,
        }
        if self.reset:
            data["reset"] = True
        return data


class Room:
    """One chat room backed by a :class:`MessageStore`.

    :param store: where messages live.
    :param cache_size: how many recent changes to keep in memory.
    """

    def __init__(self, store: MessageStore, cache_size: int = 1000) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: collections.deque[Message] = collections.deque()
        self.floor = 0
        self.last_rev = 0
        self._waiters: dict[Waiter, int] = {}
        self._listeners: list[Listener] = []
        self._refreshing: asyncio.Task[None] | None = None
        self._dirty = False
        self._closed = False

    async def start(self) -> None:
        """Start from the store's current revision."""
        self.floor = self.last_rev = await self.store.current_rev()

    # -- waiting -----------------------------------------------------------------

    @property
    def waiter_count(self) -> int:
        """How many long-poll requests are waiting."""
        return len(self._waiters)

    @property
    def listener_count(self) -> int:
        """How many WebSocket connections are listening."""
        return len(self._listeners)

    def wait_for_updates(self, cursor: int, callback: Waiter) -> None:
        """Call ``callback`` (once) with the changes after ``cursor``.

        At once if there are some in memory, else as soon as one happens.
        Classic callback style, for the long-poll handler.
        """
        if self.floor <= cursor < self.last_rev:
            self._call(callback, Updates(self._cached_since(cursor), self.last_rev))
        elif cursor < self.floor:
            self._answer_soon(callback, cursor)  # older than memory: ask the store
        else:
            self._waiters[callback] = cursor
            if cursor > self.last_rev:
                # Ahead of us: another process may have written what this
                # one has not read yet. Read; if the store has nothing that
                # recent either, the waiter is told to reset.
                self.notify()

    def cancel_wait(self, callback: Waiter) -> None:
        """Forget a waiter (its client went away). Harmless if already answered."""
        self._waiters.pop(callback, None)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every later batch of changes."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``. Harmless if it was not added."""
        try:
            self._listeners.remove(listener)
        except ValueError:
            pass

    async def updates_since(self, cursor: int) -> Updates:
        """The changes after ``cursor``, from memory when possible."""
        if cursor > self.last_rev:
            await self.refresh()
        if cursor > self.last_rev:
            return Updates([], self.last_rev, reset=True)
        if cursor >= self.floor:
            return Updates(self._cached_since(cursor), self.last_rev)
        # Older than memory: ask the store. It may already hold changes this
        # process has not heard of; the cursor covers what is returned.
        messages = await self.store.since(cursor, _BATCH)
        new_cursor = messages[-1].rev if messages else self.last_rev
        return Updates(messages, max(new_cursor, cursor))

    def _cached_since(self, cursor: int) -> list[Message]:
        if cursor >= self.last_rev:
            return []
        # The cache is in revision order: walk back from the newest.
        found: list[Message] = []
        for message in reversed(self._cache):
            if message.rev <= cursor:
                break
            found.append(message)
        found.reverse()
        return found

    def _answer_soon(self, callback: Waiter, cursor: int) -> None:
        future = asyncio.ensure_future(self.updates_since(cursor))
        self._waiters[callback] = cursor

        def done(f: asyncio.Future[Updates]) -> None:
            if self._waiters.get(callback) != cursor:
                return  # cancelled (or answered) meanwhile
            del self._waiters[callback]
            try:
                updates = f.result()
            except Exception:
                log.exception("reading updates after %d failed", cursor)
                updates = Updates([], cursor)
            self._call(callback, updates)

        IOLoop.current().add_future(future, done)

    # -- changes -----------------------------------------------------------------

    def notify(self) -> None:
        """Something may have changed: read the store and tell everyone waiting."""
        if self._closed:
            return
        if self._refreshing is not None and not self._refreshing.done():
            self._dirty = True
            return
        self._refreshing = asyncio.ensure_future(self._refresh())

    async def refresh(self) -> None:
        """Read what changed now and wait until it has been handed out."""
        self.notify()
        while self._refreshing is not None and not self._refreshing.done():
            await asyncio.shield(self._refreshing)

    async def _refresh(self) -> None:
        while True:
            self._dirty = False
            try:
                messages = await self.store.since(self.last_rev, _BATCH)
            except Exception:
                log.exception("reading new messages failed")
                return
            self.publish_local(messages)
            if not self._dirty and len(messages) < _BATCH:
                break
        # Whoever is still ahead of the store after a fresh read is ahead
        # of everything: their data was replaced (the client reloads).
        ahead = [cb for cb, cursor in self._waiters.items() if cursor > self.last_rev]
        for callback in ahead:
            del self._waiters[callback]
            self._call(callback, Updates([], self.last_rev, reset=True))

    def accept(self, message: Message) -> None:
        """A change this process just wrote: hand it out now if it is the next one."""
        if message.rev == self.last_rev + 1 and not (
            self._refreshing is not None and not self._refreshing.done()
        ):
            self.publish_local([message])
        else:
            self.notify()

    def publish_local(self, messages: Iterable[Message]) -> None:
        """Add changes (in revision order, following ``last_rev``) and hand them out."""
        fresh = [m for m in messages if m.rev > self.last_rev]
        if not fresh:
            return
        old_rev = self.last_rev
        self._cache.extend(fresh)
        self.last_rev = fresh[-1].rev
        while len(self._cache) > self.cache_size:
            self.floor = self._cache.popleft().rev
        waiters, self._waiters = self._waiters, {}
        for callback, cursor in waiters.items():
            if cursor < old_rev:  # being answered from a query (_answer_soon)
                self._waiters[callback] = cursor
                continue
            if cursor > self.last_rev:  # still ahead
                self._waiters[callback] = cursor
                continue
            batch = fresh if cursor == old_rev else self._cached_since(cursor)
            self._call(callback, Updates(batch, self.last_rev))
        for listener in list(self._listeners):
            try:
                listener(fresh)
            except Exception:
                log.exception("listener %r failed", listener)

    @staticmethod
    def _call(callback: Waiter, updates: Updates) -> None:
        try:
            callback(updates)
        except Exception:
            log.exception("waiter %r failed", callback)

    # -- shutting down -----------------------------------------------------------

    def close(self) -> None:
        """Answer every waiter with nothing (their clients poll again) and stop."""
        self._closed = True
        waiters, self._waiters = self._waiters, {}
        for callback, cursor in waiters.items():
            self._call(callback, Updates([], cursor))
        self._listeners.clear()
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
