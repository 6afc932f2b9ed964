"""Running the app under uvicorn, with a graceful drain before uvicorn closes sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette

from hub.config import Settings


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


def uvicorn_config(app: Starlette, settings: Settings, **kw: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        ws_max_size=settings.max_frame,
        ws_per_message_deflate=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        timeout_graceful_shutdown=10,
        lifespan="on",
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


def run(app: Starlette, settings: Settings, sock: socket.socket, **kw: Any) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(serve(app, settings, sock, **kw))
    else:
        uvloop.run(serve(app, settings, sock, **kw))
