"""A minimal asyncio WebSocket client (RFC 6455) for driving thousands of connections.

Why not the `websockets` client: one process has to receive hundreds of thousands of
frames per second. This protocol does only what a load generator needs: the upgrade
handshake, unmasked server frames (text, ping, close, fragmentation) and masked client
text frames. No compression is offered, so every server under test sends plain frames.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from typing import cast

from websockets.speedups import apply_mask

OnText = Callable[["WSClient", bytes, int], None]
OnClose = Callable[["WSClient"], None]


class HandshakeError(ConnectionError):
    pass


class WSClient(asyncio.Protocol):
    """One client connection. `on_text(client, payload, recv_ns)` is called per text frame."""

    __slots__ = (
        "_buf",
        "_frag",
        "_host",
        "_open",
        "_path",
        "close_code",
        "close_reason",
        "closed",
        "data",
        "on_close",
        "on_text",
        "opened",
        "transport",
    )

    def __init__(self, host: str, port: int, path: str, on_text: OnText, on_close: OnClose) -> None:
        self._host = f"{host}:{port}"
        self._path = path
        self.on_text = on_text
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._frag: bytearray | None = None
        self._open = False
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed = False
        self.close_code: int | None = None  # from the server's close frame, if any
        self.close_reason = ""
        self.data: object = None  # per-connection state owned by the adapter

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET {self._path} HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status + b" ":
                self._fail(HandshakeError(status.decode(errors="replace")))
                return
            del buf[: end + 4]
            self._open = True
            if not self.opened.done():
                self.opened.set_result(None)
        now = time.monotonic_ns()
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = struct.unpack_from("!Q", buf, pos + 2)[0]
                hdr = 10
            if n - pos < hdr + ln:
                break
            payload = bytes(buf[pos + hdr : pos + hdr + ln])
            pos += hdr + ln
            self._frame(b0 & 0x80, b0 & 0x0F, payload, now)
            if self.closed:
                return
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before handshake"))
        self._mark_closed()

    # -- frames ----------------------------------------------------------------------
    def _frame(self, fin: int, opcode: int, payload: bytes, now: int) -> None:
        if opcode == 1 or opcode == 2:
            if fin:
                self.on_text(self, payload, now)
            else:
                self._frag = bytearray(payload)
        elif opcode == 0:
            if self._frag is not None:
                self._frag += payload
                if fin:
                    whole, self._frag = bytes(self._frag), None
                    self.on_text(self, whole, now)
        elif opcode == 9:
            self._send(0xA, payload)
        elif opcode == 8:
            if len(payload) >= 2:
                self.close_code = (payload[0] << 8) | payload[1]
                self.close_reason = payload[2:].decode(errors="replace")
            self._send(0x8, payload[:2])
            self.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        t.write(head + mask + apply_mask(payload, mask))

    def send_text(self, text: bytes | str) -> None:
        self._send(0x1, text.encode() if isinstance(text, str) else text)

    def close(self) -> None:
        """Drop the connection (TCP FIN, no close handshake), as a phone losing signal would."""
        if self.transport is not None:
            self.transport.close()
        self._mark_closed()

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        self.close()

    def _mark_closed(self) -> None:
        if not self.closed:
            self.closed = True
            self.on_close(self)


async def connect(proto: WSClient, host: str, port: int, limit_s: float = 30.0) -> None:
    """Open `proto`'s connection and finish the upgrade handshake.

    Frames that arrive with the handshake reach `on_text` at once, so set up whatever it
    needs (`proto.data`, references to `proto`) before calling this.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(limit_s):
            await loop.create_connection(lambda: proto, host, port)
            await proto.opened
    except BaseException:
        proto.close()
        raise
