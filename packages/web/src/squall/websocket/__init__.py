"""WebSocket (RFC 6455) for servers and clients, with permessage-deflate (RFC 7692).

A server endpoint is a :class:`WebSocketHandler` routed like any handler::

    from squall import web, websocket

    class EchoWebSocket(websocket.WebSocketHandler):
        def on_message(self, message):
            self.write_message(message)

    app = web.Application([(r"/ws", EchoWebSocket)])

A client connects with :func:`websocket_connect`::

    conn = await websocket.websocket_connect("ws://localhost:8888/ws")
    await conn.write_message("hello")
    assert await conn.read_message() == "hello"
    conn.close()

The protocol is enforced in both directions: frames from a client must be
masked (and from a server must not be), reserved bits and opcodes are
refused unless an extension defines them, control frames are at most 125
bytes and never fragmented, text must be valid UTF-8.  A violation fails
the connection with the matching close code (1002 protocol error, 1007
invalid data, 1009 message too big) and frees it; other connections carry
on.  Messages may be fragmented (control frames may come between the
fragments) and are delivered whole.

Compression (permessage-deflate) is accepted by a server whose
:meth:`~WebSocketHandler.get_compression_options` returns a dict, and
offered by a client given ``compression_options``.  Option keys:
``compression_level`` (0-9), ``mem_level`` (1-9),
``server_no_context_takeover`` and ``client_no_context_takeover`` (restart
that side's compressor with every message), ``server_max_window_bits``
(9-15) and ``client_max_window_bits`` (8-15).  Inflating stops at the
message size limit, so a "compression bomb" costs no more memory than one
message of that size.

Exceptions::

    squall.web.WebError
     +-- WebSocketError                 base of those below
          +-- WebSocketClosedError      your code used a closed (or closing) connection
          +-- WebSocketProtocolError    the peer broke the protocol (.code: the close code)
          +-- WebSocketHandshakeError   the server refused or botched the handshake
                                        (.code: its HTTP status)

Close codes are available as constants (``CLOSE_NORMAL`` = 1000,
``CLOSE_PROTOCOL_ERROR`` = 1002, ``CLOSE_INVALID_DATA`` = 1007,
``CLOSE_MESSAGE_TOO_BIG`` = 1009 ...).

.. versionadded:: 0.1.0
"""

from squall.websocket._client import WebSocketClientConnection, websocket_connect
from squall.websocket._compression import PerMessageDeflate
from squall.websocket._errors import (
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandshakeError,
    WebSocketProtocolError,
)
from squall.websocket._frames import (
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_INVALID_DATA,
    CLOSE_MANDATORY_EXTENSION,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_UNSUPPORTED_DATA,
    FrameReader,
)
from squall.websocket._handler import WebSocketHandler
from squall.websocket._protocol import DEFAULT_MAX_MESSAGE_SIZE, WebSocketProtocol

#: Tornado's name for the protocol class (RFC 6455 is version 13).
WebSocketProtocol13 = WebSocketProtocol

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_INVALID_DATA",
    "CLOSE_MANDATORY_EXTENSION",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_UNSUPPORTED_DATA",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "FrameReader",
    "PerMessageDeflate",
    "WebSocketClientConnection",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandler",
    "WebSocketHandshakeError",
    "WebSocketProtocol",
    "WebSocketProtocol13",
    "WebSocketProtocolError",
    "websocket_connect",
]

# Public classes report the module users import them from.
for _cls in (
    FrameReader,
    PerMessageDeflate,
    WebSocketClientConnection,
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandler,
    WebSocketHandshakeError,
    WebSocketProtocol,
    WebSocketProtocolError,
):
    _cls.__module__ = __name__
del _cls
