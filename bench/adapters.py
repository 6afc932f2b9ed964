"""Per-system client protocols, hidden behind one small interface.

The load generator only knows `Conn` (one simulated phone or the publisher) and `Sink`
(where parsed events go). Each adapter turns the system's wire protocol into
`ready`, `notice`, `receipt`, `published`, `publish_failed` and `error` events. A publish
carries the benchmark's notice id where the system echoes something back (`ref`, or the
Socket.IO ack id), so the publisher knows which notices are confirmed and can resend the
others after a reconnect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from bench.wsclient import WSClient


class Sink(Protocol):
    def ready(self, c: Conn, now: int) -> None: ...
    def notice(self, c: Conn, nid: int, sent: int, now: int) -> None: ...
    def receipt(self, c: Conn, ref: str | None, now: int) -> None: ...
    def published(self, c: Conn, nid: int | None) -> None: ...
    def publish_failed(self, c: Conn, nid: int, text: str) -> None: ...
    def error(self, c: Conn, text: str) -> None: ...


@dataclass(slots=True, eq=False)
class Conn:
    """One client: a deputy's phone (subscriber) or the secretariat's publisher."""

    idx: int
    publisher: bool = False
    token: str | None = None
    ws: WSClient | None = None
    ready_fut: asyncio.Future[None] | None = None
    ready_at: int = 0
    last_seq: int = 0  # highest message seq seen (the hub's `since` on reconnect)
    max_nid: int = -1  # highest benchmark notice id counted, to ignore duplicates
    held: set[int] | None = None  # reconnect scenario: which of the expected notices arrived
    reconnecting: bool = False
    receipt_sent: int = 0
    receipts_pending: int = 0

    def send(self, frame: dict[str, Any] | bytes) -> None:
        if self.ws is not None:
            self.ws.send_text(frame if isinstance(frame, bytes) else orjson.dumps(frame))


class Adapter:
    name = "?"
    path = "/ws"
    stores = False  # does the server store messages (replay after reconnect)?
    receipts = False  # does the server store and confirm ack/read receipts?

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def start(self, c: Conn) -> bool:
        """Called once the WebSocket is open; True if the client is ready right away."""
        raise NotImplementedError

    def on_text(self, c: Conn, data: bytes, now: int, sink: Sink) -> None:
        raise NotImplementedError

    def publish(self, c: Conn, nid: int, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def send_receipts(self, c: Conn) -> None:
        raise NotImplementedError(f"{self.name} stores no receipts")


def _nid(ref: object) -> int | None:
    """The notice id in a publish's `ref` ("n<nid>")."""
    if isinstance(ref, str) and ref.startswith("n") and ref[1:].isdigit():
        return int(ref[1:])
    return None


def _error(c: Conn, m: dict[str, Any], sink: Sink) -> None:
    text = f"{m.get('code')}: {m.get('message')}"
    nid = _nid(m.get("ref"))
    if nid is not None:
        sink.publish_failed(c, nid, text)
    else:
        sink.error(c, text)


def _notice(c: Conn, m: dict[str, Any], now: int, sink: Sink) -> None:
    seq = m.get("seq")
    if isinstance(seq, int) and seq > c.last_seq:
        c.last_seq = seq
    body = m.get("body")
    if isinstance(body, dict) and "nid" in body:
        sink.notice(c, body["nid"], body["t"], now)


class BareWsAdapter(Adapter):
    """bench/alternatives/bare_ws.py (and bench/blast.py, which answers the same frames)."""

    name = "bare_ws"

    def start(self, c: Conn) -> bool:
        if c.publisher:
            return True
        c.send({"type": "subscribe", "channel": self.channel})
        return False

    def on_text(self, c: Conn, data: bytes, now: int, sink: Sink) -> None:
        m = orjson.loads(data)
        t = m.get("type")
        if t == "message":
            _notice(c, m, now, sink)
        elif t == "subscribed":
            sink.ready(c, now)
        elif t == "published":
            sink.published(c, _nid(m.get("ref")))
        elif t == "error":
            _error(c, m, sink)

    def publish(self, c: Conn, nid: int, body: dict[str, Any]) -> None:
        c.send(
            {
                "type": "publish",
                "channel": self.channel,
                "kind": "bulletin",
                "body": body,
                "ref": f"n{nid}",
            }
        )


class SocketIOAdapter(Adapter):
    """Socket.IO v5 over Engine.IO v4, spoken directly on the websocket transport."""

    name = "socketio"
    path = "/socket.io/?EIO=4&transport=websocket"

    def start(self, c: Conn) -> bool:
        return False  # the server speaks first: Engine.IO open packet "0{...}"

    def on_text(self, c: Conn, data: bytes, now: int, sink: Sink) -> None:
        if data.startswith(b'42["message",'):
            _notice(c, orjson.loads(data[2:])[1], now, sink)
        elif data == b"2":
            c.send(b"3")  # Engine.IO ping -> pong
        elif data.startswith(b"0{"):
            c.send(b"40")  # connect to the default namespace
        elif data.startswith(b"40"):
            if c.publisher:
                sink.ready(c, now)
            else:
                sub = orjson.dumps(["subscribe", {"channel": self.channel}])
                c.send(b"420" + sub)  # ack id 0
        elif data.startswith(b"430"):
            sink.ready(c, now)
        elif data.startswith(b"43"):
            sink.published(c, int(data[2 : data.index(b"[")]))
        elif data.startswith(b"44"):
            sink.error(c, data.decode(errors="replace"))

    def publish(self, c: Conn, nid: int, body: dict[str, Any]) -> None:
        frame = ["publish", {"channel": self.channel, "kind": "bulletin", "body": body}]
        c.send(b"42" + str(nid).encode() + orjson.dumps(frame))  # ack id = notice id


class HubAdapter(Adapter):
    """Session Hub protocol v1 (hub/protocol.py): auth, subscribe with since, receipts."""

    name = "hub"
    stores = True
    receipts = True

    def __init__(self, channel: str, run_id: str = "bench") -> None:
        super().__init__(channel)
        self.run_id = run_id

    def start(self, c: Conn) -> bool:
        c.send({"type": "auth", "token": c.token})
        return False

    def on_text(self, c: Conn, data: bytes, now: int, sink: Sink) -> None:
        m = orjson.loads(data)
        t = m.get("type")
        if t == "message":
            _notice(c, m, now, sink)
        elif t == "receipt":
            sink.receipt(c, m.get("ref"), now)
        elif t == "welcome":
            if c.publisher:
                sink.ready(c, now)
            else:
                sub: dict[str, Any] = {"type": "subscribe", "channel": self.channel}
                if c.reconnecting:  # ask for what was missed while away
                    sub["since"] = c.last_seq
                c.send(sub)
        elif t == "subscribed":
            if m.get("channel") == self.channel:
                sink.ready(c, now)
        elif t == "published":
            sink.published(c, _nid(m.get("ref")))
        elif t == "error":
            _error(c, m, sink)

    def publish(self, c: Conn, nid: int, body: dict[str, Any]) -> None:
        c.send(
            {
                "type": "publish",
                "channel": self.channel,
                "kind": "bulletin",
                "body": body,
                "key": f"{self.run_id}-{nid}",  # a resend after a reconnect is stored once
                "ref": f"n{nid}",
            }
        )

    def send_receipts(self, c: Conn) -> None:
        c.send({"type": "ack", "channel": self.channel, "seq": c.last_seq, "ref": "a"})
        c.send({"type": "read", "channel": self.channel, "seq": c.last_seq, "ref": "r"})


def make_adapter(system: str, channel: str, run_id: str = "bench") -> Adapter:
    if system in ("bare_ws", "blast"):
        return BareWsAdapter(channel)
    if system == "socketio":
        return SocketIOAdapter(channel)
    if system in ("hub", "hub_cluster"):
        return HubAdapter(channel, run_id)
    raise ValueError(f"unknown system {system!r}: expected hub, bare_ws, socketio or blast")
