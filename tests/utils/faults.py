"""Tools for fault tests: a TCP proxy that can cut PostgreSQL away, a client that resumes
on another node, a publisher that resends with the same keys, and process memory.

Faults are only ever made on things the test owns: its own hub processes, its own
redis-server, its own database's backends, its own proxy. Never the shared servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import asyncpg
import sqlalchemy as sa
import websockets

from hub.store.engine import make_engine
from hub.store.schema import messages, receipts
from tests.utils import TIMEOUT
from tests.utils.client import Client

# Fault nodes take frames as fast as the tests send them (the flood limit has its own test).
FAST = {"HUB_FRAME_RATE": "100000", "HUB_FRAME_BURST": "100000"}


def rss(pid: int, field_: str = "VmRSS") -> int:
    """A process's resident memory (or its peak, ``VmHWM``) in bytes, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field_ + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field_} for pid {pid}")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a backend; :meth:`cut` drops every connection and
    refuses new ones (the backend looks down), :meth:`restore` listens again."""

    def __init__(self, backend_host: str, backend_port: int) -> None:
        self.backend = (backend_host, backend_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            br, bw = await asyncio.open_connection(*self.backend)
        except OSError:
            w.close()
            return
        self._writers |= {w, bw}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(r, bw), pipe(br, w))
        self._writers -= {w, bw}

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()


# -- faults made by a proxy: frozen, reset, refused at the protocol level (Redis) --------

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""What a refusing proxy does with a client connection instead of forwarding it."""


class FaultProxy(TcpProxy):
    """A :class:`TcpProxy` (``cut``/``restore``: refused at the TCP level) that can also
    :meth:`freeze` (every socket stays open, nothing is forwarded either way, new
    connections are accepted and hang too, as with a server stopped by SIGSTOP) and
    :meth:`thaw` (what was held is forwarded and traffic flows again), :meth:`reset`
    every connection (RST) while still accepting new ones, and :meth:`refuse_with` an
    answer at the protocol level (a server that is up but says no, e.g.
    :func:`redis_refusal`) until :meth:`forward`. The proxy speaks bytes: it serves
    Redis and PostgreSQL alike."""

    def __init__(self, backend_host: str, backend_port: int) -> None:
        super().__init__(backend_host, backend_port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._answer: Answer | None = None

    @property
    def frozen(self) -> bool:
        return not self._flowing.is_set()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self._writers.add(w)
        try:
            if self._answer is not None:
                with contextlib.suppress(Exception):
                    await self._answer(r, w)
                w.close()
                return
            try:
                br, bw = await asyncio.open_connection(*self.backend)
            except OSError:
                w.close()
                return
            self._writers.add(bw)
            await asyncio.gather(self._pipe(r, bw), self._pipe(br, w))
            self._writers.discard(bw)
        finally:
            self._writers.discard(w)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await src.read(65536):
                await self._flowing.wait()  # frozen: hold it (and read no more) until thawed
                dst.write(data)
                await dst.drain()
        dst.close()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def reset(self) -> None:
        """Abort every open connection (the clients see a reset); keep accepting."""
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def refuse_with(self, answer: Answer, drop: bool = True) -> None:
        """Answer every new connection with ``answer`` instead of forwarding it; with
        ``drop``, first reset the open ones (as a server restarting would)."""
        self._answer = answer
        if drop:
            self.reset()

    def forward(self) -> None:
        """Forward new connections again (after :meth:`refuse_with`)."""
        self._answer = None


REDIS_LOADING = "LOADING Redis is loading the dataset in memory"
REDIS_MAX_CLIENTS = "ERR max number of clients reached"


def resp_commands(buf: bytes) -> tuple[int, bytes]:
    """How many complete Redis commands (RESP arrays or inline lines) ``buf`` starts
    with, and the incomplete rest."""
    n, i = 0, 0
    while (end := buf.find(b"\r\n", i)) >= 0:
        if buf[i : i + 1] != b"*":  # an inline command: one line
            n, i = n + 1, end + 2
            continue
        k = end + 2
        for _ in range(int(buf[i + 1 : end])):
            e = buf.find(b"\r\n", k)
            if e < 0:
                return n, buf[i:]
            k = e + 2 + int(buf[k + 1 : e]) + 2  # $<len>\r\n<bytes>\r\n
        if k > len(buf):
            break
        n, i = n + 1, k
    return n, buf[i:]


def redis_refusal(error: str, at_once: bool = False) -> Answer:
    """Redis up but refusing: every command is answered ``-<error>`` (``LOADING`` after a
    restart); with ``at_once``, the error is sent on accepting and the connection closed,
    as Redis does with ``ERR max number of clients reached``."""
    line = b"-" + error.encode() + b"\r\n"

    async def answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if at_once:
            w.write(line)
            await w.drain()
            return
        pending = b""
        while data := await r.read(65536):
            n, pending = resp_commands(pending + data)
            w.write(line * n)
            await w.drain()

    return answer


async def terminate_backends(db_url: str) -> int:
    """``pg_terminate_backend`` every other connection to this test's own database."""
    plain = db_url.replace("postgresql+asyncpg://", "postgresql://")
    name = plain.rpartition("/")[2]
    conn = await asyncpg.connect(plain)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        return sum(1 for r in rows if r[0])
    finally:
        await conn.close()


async def stored(db_url: str, channel: str) -> list[tuple[int, int, str | None, str]]:
    """``(seq, id, key, body)`` of every stored message of ``channel``, in seq order."""
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(messages.c.seq, messages.c.id, messages.c.idem_key, messages.c.body)
                .where(messages.c.channel == channel)
                .order_by(messages.c.seq)
            )
            return [(r.seq, r.id, r.idem_key, r.body) for r in rows]
    finally:
        await engine.dispose()


async def stored_receipts(db_url: str, user_id: int) -> set[tuple[str, str, int]]:
    """``(kind, channel, seq)`` of every stored receipt of a user."""
    return set(await stored_receipt_counts(db_url, user_id))


@dataclass
class Follower:
    """A client that follows one channel and, whenever its connection ends, resumes on
    the next node in ``urls`` with ``since`` = the last seq it holds."""

    token: str
    channel: str
    urls: list[str]
    seqs: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)
    connects: int = 0
    client: Client | None = None
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, until: int) -> None:
        """Follow until seq ``until`` is held; each URL is tried in turn after a close."""
        for url in itertools.cycle(self.urls):
            try:
                await self._follow(url, until)
                return
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                await asyncio.sleep(0.1)
            except websockets.ConnectionClosed as e:
                self.closes.append(e.rcvd.code if e.rcvd else None)
                if url == self.urls[0] and len(self.urls) > 1:
                    self.urls = self.urls[1:]  # that node is gone: stay on the others

    async def _follow(self, url: str, until: int) -> None:
        self.client = c = await Client.connect(url, self.token)
        self.connects += 1
        since = self.seqs[-1] if self.seqs else 0
        await c.subscribe(self.channel, since=since)
        self.subscribed.set()
        while not self.seqs or self.seqs[-1] < until:
            f = await c.recv(TIMEOUT * 3)
            if f["type"] == "message" and f["channel"] == self.channel:
                self.seqs.append(f["seq"])
                self.bodies.append(f["body"])
        await c.close()


@dataclass
class Publisher:
    """Publishes numbered notices ``{"p": name, "i": i}`` with key ``<name><i>``, one at a
    time. When its connection ends it moves to the next node in ``urls`` and resends there
    the notice it holds no ``published`` reply for (same key); past the last, it stops."""

    token: str
    channel: str
    urls: list[str]
    name: str = "n"
    next: int = 0  # the next notice to publish
    acked: dict[int, tuple[int, int]] = field(default_factory=dict)  # i -> (seq, id)
    refused: set[int] = field(default_factory=set)  # got `unavailable` at least once
    unanswered: set[int] = field(default_factory=set)  # the connection ended before a reply
    errors: list[dict[str, Any]] = field(default_factory=list)  # any other reply
    closes: list[int | None] = field(default_factory=list)

    async def run(self, n: int, pause: float = 0.0) -> None:
        """Publish until notice ``n - 1`` is acknowledged, or no node is left."""
        while self.next < n and self.urls:
            try:
                c = await Client.connect(self.urls[0], self.token)
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            try:
                while self.next < n:
                    i = self.next
                    r = await c.publish(self.channel, {"p": self.name, "i": i}, key=self.key(i))
                    if r["type"] == "published":
                        self.acked[i] = (r["seq"], r["id"])
                        self.next += 1
                        if pause:
                            await asyncio.sleep(pause)
                    elif r.get("code") == "unavailable":
                        self.refused.add(i)
                        await asyncio.sleep(0.02)
                    else:
                        self.errors.append(r)
                        self.next += 1
                await c.close()
            except websockets.ConnectionClosed as e:
                self.closes.append(e.rcvd.code if e.rcvd else None)
                self.unanswered.add(self.next)
                self.urls = self.urls[1:]

    def key(self, i: int) -> str:
        return f"{self.name}{i}"


@dataclass
class Acknowledger:
    """A deputy's client that sends `ack` and `read` for every message of a channel as it
    arrives, and records which receipts the server confirmed before the connection ended."""

    token: str
    channel: str
    sent: set[tuple[str, int]] = field(default_factory=set)
    confirmed: set[tuple[str, int]] = field(default_factory=set)
    refused: set[tuple[str, int]] = field(default_factory=set)
    other: list[dict[str, Any]] = field(default_factory=list)
    close: int | None = None
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, url: str) -> None:
        """Until the server closes the connection."""
        c = await Client.connect(url, self.token)
        await c.subscribe(self.channel, since=0)
        self.subscribed.set()
        try:
            while True:
                f = await c.recv(TIMEOUT * 3)
                if f["type"] == "message":
                    for what in ("ack", "read"):
                        ref = f"{what}:{f['seq']}"
                        await c.send(
                            {"type": what, "channel": self.channel, "seq": f["seq"], "ref": ref}
                        )
                        self.sent.add((what, f["seq"]))
                elif f["type"] == "receipt":
                    self.confirmed.add((f["of"], f["seq"]))
                elif f["type"] == "error" and f["code"] == "unavailable" and "ref" in f:
                    what, _, seq = f["ref"].partition(":")
                    self.refused.add((what, int(seq)))
                else:
                    self.other.append(f)
        except websockets.ConnectionClosed as e:
            self.close = e.rcvd.code if e.rcvd else None

    async def resend(self, url: str, receipts: set[tuple[str, int]]) -> None:
        """Send again, on another node, receipts that were not confirmed; wait for each."""
        c = await Client.connect(url, self.token)
        for what, seq in sorted(receipts):
            r = await c.request({"type": what, "channel": self.channel, "seq": seq})
            assert r["type"] == "receipt", r
            self.confirmed.add((what, seq))
        await c.close()


async def until(
    cond: Callable[[], bool], timeout: float = TIMEOUT * 2, step: float = 0.005
) -> None:
    """Poll ``cond`` until it holds; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting"
        await asyncio.sleep(step)


# -- PostgreSQL faults ---------------------------------------------------------------------

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104

CANNOT_CONNECT_NOW = ("57P03", "the database system is not accepting connections")
STARTING_UP = ("57P03", "the database system is starting up")
TOO_MANY_CONNECTIONS = ("53300", "sorry, too many clients already")


def pg_error_response(sqlstate: str, message: str) -> bytes:
    """A FATAL ErrorResponse ('E' message) as PostgreSQL sends it to refuse a startup."""
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    fields += b"\0"
    return b"E" + struct.pack("!I", 4 + len(fields)) + fields


class PgProxy:
    """Forwards 127.0.0.1:<port> to a PostgreSQL server and makes it fail on demand:

    * :meth:`reset`: every connection dropped, new ones reset (the host is gone);
    * :meth:`refuse`: every connection dropped, and each new one answered at the protocol
      level with PostgreSQL's own FATAL ErrorResponse to its startup (57P03 "not accepting
      connections" or "starting up", 53300 "too many clients");
    * :meth:`freeze`: sockets stay open, nothing is forwarded either way, new connections
      are accepted and never answered (a hung server);
    * :meth:`restore`: forward again (what a freeze held back is forwarded then).
    """

    def __init__(self, backend_host: str, backend_port: int) -> None:
        self.backend = (backend_host, backend_port)
        self.port = 0
        self.mode = "forward"
        self.refusal = CANNOT_CONNECT_NOW
        self.refused = 0  # startups answered with the refusal
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    async def to(cls, db_url: str) -> tuple[PgProxy, str]:
        """A started proxy to the server of ``db_url``, and the URL through it."""
        u = urlparse(db_url.replace("+asyncpg", ""))
        proxy = await cls(u.hostname or "127.0.0.1", u.port or 5432).start()
        return proxy, db_url.replace(f"{u.hostname}:{u.port}", f"127.0.0.1:{proxy.port}")

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self._writers.add(w)
        try:
            if self.mode == "reset":
                w.transport.abort()
            elif self.mode == "refuse":
                await self._refuse(r, w)
            else:
                await self._forward(r, w)
        finally:
            self._writers.discard(w)

    async def _refuse(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                (length,) = struct.unpack("!I", await r.readexactly(4))
                body = await r.readexactly(length - 4)
                if struct.unpack("!I", body[:4])[0] in (SSL_REQUEST, GSSENC_REQUEST):
                    w.write(b"N")  # no encryption: the startup follows in plain text
                    continue
                self.refused += 1
                w.write(pg_error_response(*self.refusal))
                await w.drain()
                break
        w.close()

    async def _forward(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await self._flowing.wait()
        try:
            br, bw = await asyncio.open_connection(*self.backend)
        except OSError:
            w.transport.abort()
            return
        self._writers.add(bw)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pipe(r, bw), pipe(br, w))
        finally:
            self._writers.discard(bw)

    def _drop_all(self) -> None:
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def reset(self) -> None:
        self.mode = "reset"
        self._flowing.set()
        self._drop_all()

    def refuse(self, refusal: tuple[str, str] = CANNOT_CONNECT_NOW) -> None:
        self.mode, self.refusal = "refuse", refusal
        self._flowing.set()
        self._drop_all()

    def freeze(self) -> None:
        self.mode = "freeze"
        self._flowing.clear()

    def restore(self) -> None:
        self.mode = "forward"
        self._flowing.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._flowing.set()
        self._drop_all()


async def stored_receipt_counts(db_url: str, user_id: int) -> dict[tuple[str, str, int], int]:
    """How many times each ``(kind, channel, seq)`` receipt of a user is stored."""
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(receipts.c.kind, receipts.c.channel, receipts.c.seq).where(
                    receipts.c.user_id == user_id
                )
            )
            return dict(Counter((r.kind, r.channel, r.seq) for r in rows))
    finally:
        await engine.dispose()
