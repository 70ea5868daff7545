"""Squall's demo: a chat room with live updates.

Run it with ``python -m chat`` from ``examples/`` or ``python
examples/chat/run.py`` (see :mod:`chat.server` for the options). The pieces:

* :mod:`chat.app` -- the web application: pages (Jinja2), the JSON API, long
  polling written in the classic style, WebSocket written with ``async def``;
* :mod:`chat.room` -- who waits for which changes;
* :mod:`chat.store` -- the messages in SQLite, queried off the event loop;
* :mod:`chat.previews` -- link previews, fetched with ``AsyncHTTPClient``
  without letting users reach private addresses;
* :mod:`chat.fanout` -- Redis pub/sub between worker processes;
* :mod:`chat.server` -- options, processes, graceful shutdown.
"""
