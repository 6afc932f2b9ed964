"""A do-nothing WebSocket server that measures the load generator, not itself.

It accepts upgrades on any path and answers `subscribe` like bare_ws. On
`{"type":"blast","count":K,"first":F}` from any client it writes K ready-made message
frames (nids F..F+K-1, each ~300 bytes, timestamped at the command) to every subscriber in
one write per connection. The server's work is a few memcpy calls, so the time until the
last frame is parsed is the load generator's receive ceiling.

Run: python -m bench.blast --port 8109
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import signal
import struct
import time
from typing import cast

import orjson
import uvloop

from bench.common import HOST, raise_nofile
from bench.notices import notice_body

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
subscribers: set[BlastConn] = set()


def frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x81, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class BlastConn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        subscribers.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            key = b""
            for line in bytes(self.buf[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            del self.buf[: end + 4]
            self.open = True
        while len(self.buf) >= 6:
            ln = self.buf[1] & 0x7F
            hdr = 2
            if ln == 126:
                ln = struct.unpack_from("!H", self.buf, 2)[0]
                hdr = 4
            elif ln == 127:
                ln = struct.unpack_from("!Q", self.buf, 2)[0]
                hdr = 10
            if len(self.buf) < hdr + 4 + ln:
                return
            opcode = self.buf[0] & 0x0F
            mask = bytes(self.buf[hdr : hdr + 4])
            raw = bytes(self.buf[hdr + 4 : hdr + 4 + ln])
            del self.buf[: hdr + 4 + ln]
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(raw))
            if opcode == 1:
                self.on_text(payload)
            elif opcode == 8 and self.transport is not None:
                self.transport.close()

    def on_text(self, payload: bytes) -> None:
        msg = orjson.loads(payload)
        assert self.transport is not None
        if msg.get("type") == "subscribe":
            subscribers.add(self)
            reply = {"type": "subscribed", "channel": msg.get("channel"), "head": 0}
            self.transport.write(frame(orjson.dumps(reply)))
        elif msg.get("type") == "blast":
            blast(int(msg["count"]), int(msg["first"]))
            self.transport.write(frame(b'{"type":"blasted"}'))


def blast(count: int, first: int) -> None:
    now = time.monotonic_ns()
    chunk = b"".join(
        frame(
            orjson.dumps(
                {
                    "type": "message",
                    "channel": "meeting:1",
                    "seq": first + i,
                    "kind": "notice",
                    "body": notice_body(first + i, now),
                }
            )
        )
        for i in range(count)
    )
    for conn in subscribers:
        if conn.transport is not None and not conn.transport.is_closing():
            conn.transport.write(chunk)


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    server = await loop.create_server(BlastConn, HOST, port, backlog=4096)
    print(f"blast listening on ws://{HOST}:{port}/", flush=True)
    async with server:
        await stop


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--port", type=int, default=8109)
    args = ap.parse_args()
    raise_nofile()
    uvloop.run(main(args.port))


if __name__ == "__main__":
    cli()
