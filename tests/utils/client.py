"""A protocol client over a real WebSocket connection, for tests."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from tests.utils import TIMEOUT


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}

    @classmethod
    async def connect(cls, ws_url: str, token: str | None = None, **kw: Any) -> Client:
        ws = await websockets.connect(ws_url, open_timeout=TIMEOUT, max_size=None, **kw)
        c = cls(ws)
        if token is not None:
            await c.send({"type": "auth", "token": token})
            c.welcome = await c.expect("welcome")
        return c

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        d: dict[str, Any] = orjson.loads(raw)
        return d

    async def expect(self, type_: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame, which must be of ``type_``."""
        f = await self.recv(timeout)
        assert f["type"] == type_, f"expected {type_}, got {f}"
        return f

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send and return the next frame that is not a ``message``."""
        await self.send(frame)
        while True:
            f = await self.recv()
            if f["type"] != "message":
                return f

    async def subscribe(self, channel: str, since: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "channel": channel}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        return await self.expect("subscribed")

    async def publish(
        self, channel: str, body: dict[str, Any], kind: str = "bulletin", key: str | None = None
    ) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "publish", "channel": channel, "kind": kind, "body": body}
        if key is not None:
            frame["key"] = key
        return await self.request(frame)

    async def messages(self, n: int, channel: str | None = None) -> list[dict[str, Any]]:
        """The next ``n`` message frames (of ``channel`` if given), skipping other frames."""
        out: list[dict[str, Any]] = []
        while len(out) < n:
            f = await self.recv()
            if f["type"] == "message" and (channel is None or f["channel"] == channel):
                out.append(f)
        return out

    async def close(self) -> None:
        await self.ws.close()

    async def closed_with(self) -> int | None:
        """Wait for the server to close; the close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None
