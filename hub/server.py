"""Running the app under uvicorn, with a graceful drain before uvicorn closes sockets."""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.protocol import State
from websockets.server import ServerProtocol

from hub.config import Settings
from hub.connection import DirectWrite, Outgoing


def direct_writer(send: object) -> DirectWrite | None:
    """A synchronous text-frame writer for a uvicorn websockets-sansio connection.

    ``send`` is the ASGI send callable (uvicorn's protocol method). Writing through the
    protocol's own framing and transport skips an await and a task switch per recipient on
    the fan-out path. It declines (returns False, writes nothing) when the transport is
    paused or the connection is not open, and the caller falls back to the ASGI send.
    None if ``send`` is not such a connection (another server or implementation).
    """
    proto = getattr(send, "__self__", None)
    conn = getattr(proto, "conn", None)
    writable = getattr(proto, "writable", None)
    if proto is None or not isinstance(conn, ServerProtocol) or writable is None:
        return None

    def write(frame: Outgoing) -> bool:
        if not writable.is_set() or conn.state is not State.OPEN or proto.disconnected:
            return False
        if conn.extensions:  # per-connection framing (compression): let the protocol frame it
            conn.send_text(frame.text.encode())
            proto.transport.write(b"".join(conn.data_to_send()))
        else:
            proto.transport.write(frame.wire())
        return True

    return write


class HubServer(uvicorn.Server):
    """uvicorn's server, but on shutdown the hub first lets in-flight actions finish,
    stores queued receipts and closes every client with 1001 (not uvicorn's 1012)."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.hub_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await self.hub_app.state.services.drain()
        await super().shutdown(sockets)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with a bound on the time from a connection's start (or a
    request's first byte) to the end of the request's headers.

    uvicorn has none: a client that never finishes its headers (slowloris) holds a socket
    for ever. One timer handle per connection, armed only while headers are awaited; past
    it the client gets 408 and the connection is closed. Idle time between requests is
    uvicorn's ``timeout_keep_alive``; after the upgrade, ``HUB_AUTH_TIMEOUT`` bounds a
    ``/ws`` connection until its ``auth``.
    """

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # not amid another response
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def http_protocol(header_timeout: float) -> type[HeaderTimeoutProtocol]:
    """The HTTP protocol class for uvicorn, with ``HUB_HEADER_TIMEOUT``."""
    return type("HubHttpProtocol", (HeaderTimeoutProtocol,), {"header_timeout": header_timeout})


def uvicorn_config(app: Starlette, settings: Settings, **kw: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=http_protocol(settings.header_timeout),
        ws="websockets-sansio",
        ws_max_size=settings.max_frame,
        ws_per_message_deflate=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        timeout_graceful_shutdown=10,
        lifespan="on",
        # The client's address (login limits, /metrics) comes from X-Forwarded-For only
        # when the TCP peer is a listed proxy; by default the header is ignored.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        **kw,
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve(app: Starlette, settings: Settings, sock: socket.socket, **kw: Any) -> None:
    server = HubServer(uvicorn_config(app, settings, **kw), app)
    await server.serve(sockets=[sock])


# Young-generation collections every 50,000 allocations instead of 700. Thousands of
# sockets keep hundreds of thousands of objects alive; with the default threshold the cyclic
# collector kept walking them during every handshake burst. Measured on a 3,000-client
# reconnect storm: server CPU 8.8-9.2 s instead of 9.8-11.8 s, all reconnected in
# 4.8-5.1 s instead of 5.4-7.5 s. Nearly all garbage is freed by reference counting anyway.
GC_THRESHOLD = (50_000, 20, 100)


def tune_gc() -> None:
    """Leave what exists at start-up (modules, the app) out of every future collection,
    and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def run(app: Starlette, settings: Settings, sock: socket.socket, **kw: Any) -> None:
    tune_gc()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(serve(app, settings, sock, **kw))
    else:
        uvloop.run(serve(app, settings, sock, **kw))
