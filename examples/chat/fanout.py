"""Telling the other processes that the room changed.

With one process there is nobody to tell: :class:`LocalFanout` does
nothing. With several (``--processes N``), each process only knows the
clients connected to it, so a message posted to one must reach the
others: :class:`RedisFanout` publishes a notice on a Redis pub/sub channel
after each write, and every process, on a notice, reads the new changes
from the shared SQLite file (:meth:`Room.notify`).

The notice carries only the new revision: the database stays the one
source of truth, and a process that missed a notice catches up with the
next one.

The ``redis`` package is optional and imported only here, only when
``--redis`` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any

from .room import Room

log = logging.getLogger("chat.fanout")

CHANNEL = "squall-chat:changes"


class FanoutError(Exception):
    """The fan-out cannot start (missing package, unreachable server)."""


def import_redis() -> Any:
    """Return ``redis.asyncio``, or raise :class:`FanoutError` saying how to install it."""
    try:
        import redis.asyncio
    except ImportError as exc:
        raise FanoutError(
            "--redis needs the 'redis' package (its asyncio client): pip install 'redis>=5'"
        ) from exc
    return redis.asyncio


class LocalFanout:
    """One process: nothing to tell anyone."""

    async def start(self, room: Room) -> None:
        """Nothing to set up."""

    async def publish(self, rev: int) -> None:
        """Nothing to send."""

    async def stop(self) -> None:
        """Nothing to tear down."""


class RedisFanout:
    """Notices over Redis pub/sub.

    :param url: the Redis URL (``redis://127.0.0.1:6379/0``).
    :param channel: the pub/sub channel.
    """

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._redis: Any = None
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._sender = f"{os.getpid()}"

    async def start(self, room: Room) -> None:
        """Connect, subscribe, and notify ``room`` on every notice from another process.

        :raises FanoutError: if the package is missing or the server unreachable.
        """
        aioredis = import_redis()
        self._redis = aioredis.from_url(self.url)
        self._pubsub = self._redis.pubsub()
        try:
            await self._pubsub.subscribe(self.channel)
        except (OSError, aioredis.RedisError) as exc:
            await self._close_clients()
            raise FanoutError(f"cannot subscribe on Redis at {self.url}: {exc}") from exc
        self._task = asyncio.ensure_future(self._listen(room))

    async def _listen(self, room: Room) -> None:
        backoff = 0.5
        while True:
            try:
                async for item in self._pubsub.listen():
                    backoff = 0.5
                    if item.get("type") != "message":
                        continue
                    try:
                        notice = json.loads(item["data"])
                    except (ValueError, TypeError):
                        log.warning("ignoring a malformed notice on %s", self.channel)
                        continue
                    if notice.get("from") == self._sender:
                        continue  # our own write: the room has it already
                    if int(notice.get("rev", 0)) > room.last_rev:
                        room.notify()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Lost the connection: retry, and catch up on what was missed.
                log.warning("Redis subscription lost (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe(self.channel)
                room.notify()

    async def publish(self, rev: int) -> None:
        """Tell the other processes the room reached revision ``rev``."""
        if self._redis is None:
            return
        try:
            await self._redis.publish(self.channel, json.dumps({"rev": rev, "from": self._sender}))
        except Exception as exc:
            # The message is stored; other processes will see it with the next notice.
            log.warning("publishing to Redis failed: %s", exc)

    async def stop(self) -> None:
        """Unsubscribe and close the connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close_clients()

    async def _close_clients(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None
