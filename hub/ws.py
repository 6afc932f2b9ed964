"""The ``/ws`` endpoint: one connection's life, from ``auth`` to close.

The reader loop parses each frame (``hub.protocol``), checks the frame rate, and
dispatches it; replies go through the connection's send queue, so a reply and the
messages around it keep their order. Errors become ``error`` frames; only the close
codes in ``hub.errors.Close`` end a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from hub import protocol as p
from hub.auth import Principal
from hub.connection import Connection
from hub.errors import (
    Close,
    Deactivated,
    Forbidden,
    HubError,
    Internal,
    NotFound,
    RateLimited,
    TooManyConnections,
    Unauthorized,
    Unavailable,
)
from hub.node import Subscription
from hub.server import direct_writer
from hub.services import Services

log = logging.getLogger("hub.ws")

MAX_SUBSCRIPTIONS = 200


def origin_allowed(ws: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Refuse cross-site WebSocket hijacking: a browser's Origin must be listed in
    ``HUB_ALLOWED_ORIGINS``, or be the hub's own address when that is an IP address or
    ``localhost``. The ``Host`` header alone proves nothing: a page on a name that DNS
    rebinding points at the hub sends a matching Origin and Host."""
    origin = ws.headers.get("origin")
    if origin is None:  # not a browser (a native or server-side client)
        return True
    if "*" in allowed or origin in allowed:
        return True
    host = ws.headers.get("host", "")
    if origin not in (f"http://{host}", f"https://{host}"):
        return False
    name = urlsplit(origin).hostname or ""
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class SocketSession:
    """One authenticated WebSocket connection, closed with 4401 when its token expires
    (unless a later ``auth`` of the same user brought a fresher one)."""

    __slots__ = ("conn", "expiry", "me", "s", "subs", "tasks", "ws")

    def __init__(
        self, services: Services, ws: WebSocket, conn: Connection, me: Principal, expires: int
    ) -> None:
        self.s = services
        self.ws = ws
        self.conn = conn
        self.me = me
        self.subs: dict[str, Subscription] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        # One timer handle in the event loop per connection: no task, nothing per frame.
        self.expiry: asyncio.TimerHandle | None = None
        self.expire_at(expires)

    def expire_at(self, expires: int) -> None:
        """Close the connection with 4401 at ``expires`` (unix time), replacing any earlier
        deadline."""
        if self.expiry is not None:
            self.expiry.cancel()
        self.expiry = asyncio.get_running_loop().call_later(
            max(0.0, expires - time.time()), self._expired
        )

    def _expired(self) -> None:
        self.conn.close_soon(Close.UNAUTHENTICATED, "token expired: authenticate again")

    def send(self, frame: dict[str, Any], ref: str | None) -> None:
        self.conn.enqueue(p.encode(p.with_ref(frame, ref)))

    def error(self, err: HubError, ref: str | None) -> None:
        self.s.metrics.errors.labels(err.code).inc()
        self.conn.enqueue(p.error_frame(err, ref))

    def spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def handle(self, f: p.Frame) -> None:
        if isinstance(f, p.Publish):
            await self.publish(f)
        elif isinstance(f, p.Receipt):
            self.receipt(f)
        elif isinstance(f, p.Subscribe):
            await self.subscribe(f)
        elif isinstance(f, p.Unsubscribe):
            sub = self.subs.pop(f.channel.name, None)
            if sub is not None:
                self.s.node.unsubscribe(sub)
            self.send({"type": "unsubscribed", "channel": f.channel.name}, f.ref)
        elif isinstance(f, p.Ping):
            self.send({"type": "pong"}, f.ref)
        elif isinstance(f, p.Auth):
            await self.reauth(f)

    async def reauth(self, f: p.Auth) -> None:
        """A fresher token of the same user: its expiry replaces the old one's, and the
        subscriptions go on. A token that fails leaves the connection as it was."""
        try:
            me, claims = await self.s.authenticate(f.token)
        except Deactivated:
            self.conn.close_soon(Close.DEACTIVATED, "account deactivated")
            return
        if me.id != self.me.id:
            raise Forbidden(
                f"this connection is user {self.me.id}'s: open another connection for user {me.id}"
            )
        self.me = me
        self.conn.principal = me
        self.expire_at(claims.expires)
        self.send({"type": "reauthed", "expires": p.iso(_utc(claims.expires))}, f.ref)

    async def subscribe(self, f: p.Subscribe) -> None:
        name = f.channel.name
        self.s.channels.check_subscribe(self.me, f.channel)
        if name in self.subs:
            # Subscribing again restarts the stream from the new `since`; unsubscribing
            # stops the old subscription's replay, so it sends nothing after this point.
            self.s.node.unsubscribe(self.subs.pop(name))
        elif len(self.subs) >= MAX_SUBSCRIPTIONS:
            raise RateLimited(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        sub, head = await self.s.node.subscribe(self.conn, name, f.since)
        self.subs[name] = sub
        self.send({"type": "subscribed", "channel": name, "head": head}, f.ref)
        self.s.node.start_replay(sub)

    async def publish(self, f: p.Publish) -> None:
        self.s.channels.check_publish(self.me, f.channel, f.kind)
        msg, _ = await self.s.node.publish(
            f.channel.name, f.kind, self.me, f.body, f.key, self.s.charge_publish
        )
        self.send(
            {"type": "published", "channel": msg.channel, "seq": msg.seq, "id": msg.id}, f.ref
        )

    def receipt(self, f: p.Receipt) -> None:
        self.s.channels.check_subscribe(self.me, f.channel)
        feed = self.s.node.feeds.get(f.channel.name)
        sub = self.subs.get(f.channel.name)
        known = max(sub.last_seq if sub else 0, (feed.head or 0) if feed else 0)
        if f.seq > known:
            self.spawn(self._receipt_checked(f))
        else:
            self.spawn(self._receipt(f))

    async def _receipt_checked(self, f: p.Receipt) -> None:
        try:
            if f.seq > await self.s.log.head(f.channel.name):
                raise NotFound(f"{f.channel.name} has no message {f.seq}")
        except HubError as e:
            self.error(e, f.ref)
            return
        await self._receipt(f)

    async def _receipt(self, f: p.Receipt) -> None:
        try:
            with self.s.node.work(while_draining=True):
                await self.s.receipts.add(f.what, f.channel.name, f.seq, self.me.id)
        except HubError as e:
            self.error(e, f.ref)
            return
        self.send({"type": "receipt", "of": f.what, "channel": f.channel.name, "seq": f.seq}, f.ref)

    def close(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        for sub in self.subs.values():
            self.s.node.unsubscribe(sub)
        self.subs.clear()
        for t in self.tasks:
            t.cancel()


async def _authenticate(s: Services, ws: WebSocket) -> tuple[Principal, int, str | None]:
    try:
        async with asyncio.timeout(s.settings.auth_timeout):  # no task per connection
            raw = await ws.receive()
    except TimeoutError:
        raise Unauthorized(f"no `auth` frame within {s.settings.auth_timeout:g} s") from None
    if raw["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(raw.get("code", 1000))
    frame = p.parse(_payload(raw))
    if not isinstance(frame, p.Auth):
        raise Unauthorized("the first frame must be `auth` with a token")
    me, claims = await s.authenticate(frame.token)
    return me, claims.expires, frame.ref


async def websocket_endpoint(ws: WebSocket) -> None:
    s: Services = ws.app.state.services
    if not origin_allowed(ws, s.settings.allowed_origins):
        await ws.close(code=Close.UNAUTHENTICATED, reason="origin not allowed")
        return
    if s.draining:
        await ws.close(code=Close.GOING_AWAY, reason="server shutting down")
        return
    await ws.accept()
    conn = Connection(
        ws.send_text, _closer(ws), s.settings.send_queue, direct_writer(ws.scope.get("hub.send"))
    )
    s.connected(conn)
    session: SocketSession | None = None
    try:
        try:
            me, expires, ref = await _authenticate(s, ws)
            s.limits.open(me.id)
        except TooManyConnections as e:
            conn.enqueue(p.error_frame(e))
            await conn.close(Close.TOO_MANY_CONNECTIONS, e.message[:120], flush=True)
            return
        except Deactivated as e:
            conn.enqueue(p.error_frame(e))
            await conn.close(Close.DEACTIVATED, e.message, flush=True)
            return
        except HubError as e:
            err = e if isinstance(e, Unavailable) else Unauthorized(e.message)
            conn.enqueue(p.error_frame(err, getattr(e, "ref", None)))
            code = Close.GOING_AWAY if isinstance(e, Unavailable) else Close.UNAUTHENTICATED
            await conn.close(code, err.message[:120], flush=True)
            return
        session = SocketSession(s, ws, conn, me, expires)
        conn.principal = me
        s.authenticated(conn)
        session.send(
            {
                "type": "welcome",
                "user": me.public(),
                "server_time": p.iso(s.clock.now()),
                "expires": p.iso(_utc(expires)),
            },
            ref,
        )
        await _read_loop(s, ws, session)
    except WebSocketDisconnect:
        pass
    finally:
        if session is not None:
            session.close()
            s.limits.release(session.me.id)
        await conn.finish()
        s.disconnected(conn)
        if conn.close_code is not None:
            s.metrics.closes.labels(str(conn.close_code)).inc()


async def _read_loop(s: Services, ws: WebSocket, session: SocketSession) -> None:
    # The account's bucket, shared with its other sockets and its HTTP writes.
    bucket = s.limits.bucket(session.me.id)
    refused = 0  # frames refused in a row on this connection
    conn = session.conn
    while not conn.closed:
        raw = await ws.receive()
        if raw["type"] == "websocket.disconnect":
            return
        if not bucket.allow():
            refused += 1
            if refused > bucket.burst:
                conn.close_soon(Close.TOO_SLOW, "too many frames")
                return
            session.error(RateLimited("too many frames from this account: slow down"), None)
            continue
        refused = 0
        ref = None
        try:
            frame = p.parse(_payload(raw))
            ref = frame.ref
            await session.handle(frame)
        except p.FrameError as e:
            session.error(e, e.ref)
        except HubError as e:
            session.error(e, ref)
        except Exception:
            log.exception("frame from user %s failed", session.me.id)
            session.error(Internal("internal error; it has been logged"), ref)


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _payload(message: MutableMapping[str, Any]) -> str | bytes:
    text: str | None = message.get("text")
    return text if text is not None else message.get("bytes") or b""


def _closer(ws: WebSocket) -> Any:
    async def close(code: int, reason: str) -> None:
        if ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(code=code, reason=reason)

    return close
