"""Load generator: N simulated phones against one server (one or more nodes), six scenarios.

The coordinator (this process) holds the publisher connection and drives the scenarios;
worker processes hold the N subscriber connections (split round-robin) and report, per
notice, when all of their clients have it. Time stamps are time.monotonic_ns(), which is
one clock for every process on the machine, so latency = receive time - publisher's
send time embedded in the notice.

Scenarios (all bounded in time):
  memory     server VmRSS before/after connecting N, per idle connection
  fanout     50 notices one after another; per-delivery latency and time-until-last-client,
             plus server CPU time (utime+stime) per delivery
  receipts   every client sends ack + read within one second (servers that store receipts)
  sustained  notices/s stepped up until p99 time-until-last exceeds the SLO (250 ms)
  reconnect  all N drop and reconnect while 20 notices are published; time until all N
             hold all 20 (servers that store; the others lose what was sent meanwhile)
  restart    the same while the server's node(s) restart: stopped (it closes every client),
             started again on the same port and data; the clients retry until it is back
             and the 20 notices go out as soon as the publisher is (needs a restart hook:
             bench/run_all.py gives one; skipped when run alone)
  ceiling    (system "blast" only) the load generator's own receive ceiling

Run one system (the server must already be running; bench/run_all.py starts them):
  python -m bench.loadgen --system bare_ws --port 8101 --server-pid PID --n 1000
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import random
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
import uvloop

from bench import wsclient
from bench.adapters import Adapter, Conn, make_adapter
from bench.common import (
    HOST,
    LOADGEN_CORE,
    cpu_seconds,
    percentiles,
    pin,
    raise_nofile,
    rss_bytes,
    self_cpu,
)
from bench.notices import notice_body

SCENARIOS = ("memory", "fanout", "receipts", "sustained", "reconnect", "restart")
BUSY = 0.9  # load generator CPU share of its core above which it, not the server, is the limit


@dataclass
class Target:
    system: str  # hub | hub_cluster | bare_ws | socketio | blast
    port: int  # the publisher's node (and every client's, with one node)
    server_pid: int | None = None
    # Several nodes: subscriber i connects to ports[i % len(ports)]; CPU and RSS are summed
    # over server_pids. Empty: the one node above.
    ports: list[int] = field(default_factory=list)
    server_pids: list[int] = field(default_factory=list)
    channel: str = "meeting:1"
    tokens: list[str] = field(default_factory=list)  # hub: one per subscriber
    publisher_token: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


@dataclass
class Options:
    n: int = 1000
    workers: int = 1
    scenarios: tuple[str, ...] = SCENARIOS
    notices: int = 50
    warmup: int = 3
    settle: float = 2.0
    connect_concurrency: int = 256
    connect_timeout: float = 30.0
    notice_timeout: float = 15.0
    step_seconds: float = 3.0
    rates: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    bisect_steps: int = 2
    slo_ms: float = 250.0
    reconnect_notices: int = 20
    reconnect_spacing: float = 0.05
    reconnect_deadline: float | None = None  # default 20 s + N/250 s
    receipt_window: float = 1.0
    blast_burst: int = 20
    time_limit: float = 900.0


def _ms(ns: float) -> float:
    return ns / 1e6


async def open_conn(
    adapter: Adapter,
    port: int,
    c: Conn,
    on_text: wsclient.OnText,
    on_close: wsclient.OnClose,
    limit_s: float,
    ready: Any,
) -> None:
    """Connect `c`, run the adapter's greeting, and wait until the server says it's ready."""
    c.ready_fut = asyncio.get_running_loop().create_future()
    ws = wsclient.WSClient(HOST, port, adapter.path, on_text, on_close)
    ws.data = c
    c.ws = ws  # before connecting: the server may speak in the handshake's own packet
    await wsclient.connect(ws, HOST, port, limit_s)
    if adapter.start(c):
        ready(c, time.monotonic_ns())
    try:
        await asyncio.wait_for(c.ready_fut, limit_s)
    except BaseException:
        ws.close()
        raise


# --------------------------------------------------------------------------- worker


class Worker:
    """Holds a share of the subscriber connections in its own process."""

    def __init__(self, wid: int, target: Target, opts: Options, pipe: Connection) -> None:
        self.wid = wid
        self.target = target
        self.opts = opts
        self.pipe = pipe
        self.adapter = make_adapter(target.system, target.channel, target.run_id)
        self.conns = [
            Conn(i, token=target.tokens[i] if target.tokens else None)
            for i in range(wid, opts.n, opts.workers)
        ]
        self.stats: dict[int, list[int]] = {}  # nid -> [count, last receive ns]
        self.lat = array.array("q")  # per-delivery latency, µs
        self.expected = 0
        self.errors: list[str] = []
        self.error_count = 0
        self.dups = 0
        self.drops = 0
        self.dropping = False
        self.expect: frozenset[int] = frozenset()
        self.held_complete = 0
        self.held_last = 0
        self.held_fut: asyncio.Future[None] | None = None
        self.held_times = array.array("q")
        self.rc_target = 0
        self.rc_done = 0
        self.rc_confirmed = 0
        self.rc_last = 0
        self.rc_lat = array.array("q")
        self.rc_fut: asyncio.Future[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.stop: asyncio.Future[None] | None = None
        self.gone: dict[int, asyncio.Future[None]] = {}  # restart: connections not yet closed

    # -- Sink -------------------------------------------------------------------------
    def ready(self, c: Conn, now: int) -> None:
        c.ready_at = now
        if c.ready_fut is not None and not c.ready_fut.done():
            c.ready_fut.set_result(None)

    def notice(self, c: Conn, nid: int, sent: int, now: int) -> None:
        if c.held is not None:
            if nid in self.expect and nid not in c.held:
                c.held.add(nid)
                if len(c.held) == len(self.expect):
                    self.held_complete += 1
                    self.held_last = now
                    self.held_times.append(now)
                    if self.held_complete == len(self.conns) and self.held_fut is not None:
                        self.held_fut.set_result(None)
            return
        if nid <= c.max_nid:
            self.dups += 1
            return
        c.max_nid = nid
        self.lat.append((now - sent) // 1000)
        st = self.stats.get(nid)
        if st is None:
            st = self.stats[nid] = [0, 0]
        st[0] += 1
        if now > st[1]:
            st[1] = now
        if st[0] == self.expected:
            self.pipe.send(("done", nid, st[0], st[1]))

    def receipt(self, c: Conn, ref: str | None, now: int) -> None:
        if c.receipts_pending <= 0:
            return
        c.receipts_pending -= 1
        self.rc_confirmed += 1
        self.rc_lat.append((now - c.receipt_sent) // 1000)
        self.rc_last = max(self.rc_last, now)
        if c.receipts_pending == 0:
            self.rc_done += 1
            if self.rc_done == self.rc_target and self.rc_fut is not None:
                self.rc_fut.set_result(None)

    def published(self, c: Conn, nid: int | None) -> None:
        pass

    def publish_failed(self, c: Conn, nid: int, text: str) -> None:
        self.error(c, text)

    def error(self, c: Conn, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < 5:
            self.errors.append(text)

    def _on_text(self, ws: wsclient.WSClient, data: bytes, now: int) -> None:
        c = ws.data
        assert isinstance(c, Conn)
        try:
            self.adapter.on_text(c, data, now, self)
        except Exception as e:
            self.error(c, f"unparsable frame {data[:80]!r}: {e!r}")

    def _on_close(self, ws: wsclient.WSClient) -> None:
        c = ws.data
        if isinstance(c, Conn) and c.ws is ws:
            fut = self.gone.pop(c.idx, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        was_open = ws.opened.done() and not ws.opened.cancelled() and not ws.opened.exception()
        if isinstance(c, Conn) and c.ws is ws and was_open and not self.dropping:
            self.drops += 1
            if ws.close_code:
                self.error(c, f"closed by the server with {ws.close_code} {ws.close_reason!r}")

    async def _open(self, c: Conn) -> None:
        ports = self.target.ports or [self.target.port]
        await open_conn(
            self.adapter,
            ports[c.idx % len(ports)],
            c,
            self._on_text,
            self._on_close,
            self.opts.connect_timeout,
            self.ready,
        )

    async def _open_all(self, failures: list[str]) -> None:
        sem = asyncio.Semaphore(self.opts.connect_concurrency)

        async def one(c: Conn) -> None:
            async with sem:
                try:
                    await self._open(c)
                except Exception as e:
                    failures.append(repr(e))

        await asyncio.gather(*(one(c) for c in self.conns))

    def _live(self) -> list[Conn]:
        return [
            c
            for c in self.conns
            if c.ws is not None and not c.ws.closed and c.ready_fut and c.ready_fut.done()
        ]

    # -- commands ---------------------------------------------------------------------
    async def cmd_connect(self) -> dict[str, Any]:
        failures: list[str] = []
        await self._open_all(failures)
        live = self._live()
        self.expected = len(live)
        return {
            "connected": len(live),
            "failed": len(failures),
            "failures": failures[:3],
            "last_ready": max((c.ready_at for c in live), default=0),
        }

    async def cmd_cpu(self) -> float:
        return self_cpu()

    async def cmd_collect(self) -> dict[str, Any]:
        out = {
            "stats": self.stats,
            "lat_us": self.lat.tobytes(),
            "errors": self.errors,
            "error_count": self.error_count,
            "dups": self.dups,
            "drops": self.drops,
            "live": len(self._live()),
        }
        self.stats = {}
        self.lat = array.array("q")
        return out

    async def cmd_receipts(self, window: float, wait: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        conns = [c for c in self._live() if c.last_seq > 0]
        self.rc_target, self.rc_done, self.rc_confirmed, self.rc_last = len(conns), 0, 0, 0
        self.rc_lat = array.array("q")
        self.rc_fut = loop.create_future()
        if not conns:
            self.rc_fut.set_result(None)
        first = time.monotonic_ns()

        def send(c: Conn) -> None:
            c.receipt_sent = time.monotonic_ns()
            c.receipts_pending = 2
            self.adapter.send_receipts(c)

        start = loop.time()
        for c in conns:
            loop.call_at(start + random.random() * window, send, c)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.rc_fut), wait)
        return {
            "sent": 2 * len(conns),
            "confirmed": self.rc_confirmed,
            "clients_complete": self.rc_done,
            "clients": len(conns),
            "first_sent": first,
            "last_confirmed": self.rc_last,
            "lat_us": self.rc_lat.tobytes(),
        }

    async def _reopen_after_restart(self, failures: list[str], deadline: float) -> None:
        """The server closes every connection when it stops: reopen each one as soon as
        it is closed, retrying while the server is still down (as a phone would)."""
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(self.opts.connect_concurrency)

        gone = {c.idx: loop.create_future() for c in self.conns}
        self.gone = gone

        async def one(c: Conn) -> None:
            if c.ws is not None and not c.ws.closed:
                await gone[c.idx]
            last: Exception | None = None
            while loop.time() < deadline:
                async with sem:
                    try:
                        await self._open(c)
                        return
                    except Exception as e:
                        last = e
                await asyncio.sleep(0.1)
            failures.append(repr(last))

        await asyncio.gather(*(one(c) for c in self.conns))

    async def cmd_reconnect(
        self,
        nids: list[int],
        deadline_s: float,
        quiet_at_ns: int,
        stores: bool,
        restart: bool = False,
    ) -> dict[str, Any]:
        """All clients reconnect: now (they drop), or as the server restarts (it closes
        them and is away for a moment)."""
        loop = asyncio.get_running_loop()
        self.expect = frozenset(nids)
        self.held_complete, self.held_last = 0, 0
        self.held_times = array.array("q")
        self.held_fut = loop.create_future()
        errors_before = self.error_count
        self.dropping = True
        for c in self.conns:
            c.held = set()
            c.reconnecting = True
            c.ready_at = 0
            if c.ws is not None and not restart:
                c.ws.close()
        failures: list[str] = []
        if restart:  # closes by the stopping server are expected, not drops
            opening = asyncio.ensure_future(
                self._reopen_after_restart(failures, loop.time() + deadline_s)
            )
        else:
            self.dropping = False
            opening = asyncio.ensure_future(self._open_all(failures))
        deadline = loop.time() + deadline_s
        try:
            if stores:
                await asyncio.wait_for(asyncio.shield(self.held_fut), deadline - loop.time())
            else:
                await asyncio.wait_for(asyncio.shield(opening), deadline - loop.time())
                await asyncio.sleep(max(0.0, (quiet_at_ns - time.monotonic_ns()) / 1e9))
        except TimeoutError:
            pass
        opening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await opening
        self.dropping = False
        live = self._live()
        held = sum(len(c.held or ()) for c in self.conns)
        for c in self.conns:
            c.held = None
            c.reconnecting = False
        return {
            "clients": len(self.conns),
            "reconnected": len(live),
            "failed": len(failures),
            "failures": failures[:3],
            "last_ready": max((c.ready_at for c in live), default=0),
            "held": held,
            "clients_complete": self.held_complete,
            "last_complete": self.held_last,
            "complete_times": self.held_times.tobytes(),
            "ready_times": array.array("q", sorted(c.ready_at for c in live)).tobytes(),
            "errors": self.errors[-3:],
            "error_count": self.error_count - errors_before,
            "drops": self.drops,
        }

    async def cmd_close(self) -> None:
        self.dropping = True
        for c in self.conns:
            if c.ws is not None:
                c.ws.close()
        if self.stop is not None and not self.stop.done():
            self.stop.set_result(None)

    # -- plumbing ---------------------------------------------------------------------
    def _on_pipe(self) -> None:
        try:
            while self.pipe.poll():
                req, cmd, kw = self.pipe.recv()
                t = asyncio.ensure_future(self._run(req, cmd, kw))
                self.tasks.add(t)
                t.add_done_callback(self.tasks.discard)
        except (EOFError, OSError):
            if self.stop is not None and not self.stop.done():
                self.stop.set_result(None)

    async def _run(self, req: int, cmd: str, kw: dict[str, Any]) -> None:
        try:
            result = await getattr(self, f"cmd_{cmd}")(**kw)
            self.pipe.send(("reply", req, True, result))
        except Exception:
            self.pipe.send(("reply", req, False, traceback.format_exc()))

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.stop = loop.create_future()
        loop.add_reader(self.pipe.fileno(), self._on_pipe)
        os.set_blocking(self.pipe.fileno(), True)  # the loop made it non-blocking; big replies
        # Never outlive a run, whatever happens to the coordinator.
        loop.call_later(self.opts.time_limit + 120, self.stop.set_result, None)
        await self.stop
        loop.remove_reader(self.pipe.fileno())
        await asyncio.sleep(0.1)


def worker_main(wid: int, target: Target, opts: Options, pipe: Connection) -> None:
    raise_nofile()
    uvloop.run(Worker(wid, target, opts, pipe).serve())


# --------------------------------------------------------------------------- coordinator


@dataclass
class Pending:
    sent: int
    fut: asyncio.Future[None]
    workers_done: int = 0


class Coordinator:
    """Holds the publisher, talks to the workers, runs the scenarios."""

    def __init__(
        self, target: Target, opts: Options, restart: Callable[[], float] | None = None
    ) -> None:
        self.target = target
        self.opts = opts
        # Stops the server's node(s) and starts them again on the same ports and data;
        # returns the seconds they were away. None: the restart scenario is skipped.
        self.restart = restart
        self.adapter = make_adapter(target.system, target.channel, target.run_id)
        self.pub = Conn(-1, publisher=True, token=target.publisher_token)
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        self.replies: dict[int, tuple[int, dict[int, Any], asyncio.Future[list[Any]]]] = {}
        self.req = itertools.count()
        self.nids = itertools.count(1)
        self.pending: dict[int, Pending] = {}
        self.errors: list[str] = []
        self.error_count = 0
        self.unconfirmed: dict[int, dict[str, Any]] = {}  # published, not yet confirmed
        self.retries: dict[int, int] = {}
        self.pub_reconnects = 0
        self.reopening: asyncio.Future[None] | None = None
        self.started = False
        self.connected = 0
        self.result: dict[str, Any] = {}

    # -- Sink (publisher) -----------------------------------------------------------
    def ready(self, c: Conn, now: int) -> None:
        if c.ready_fut is not None and not c.ready_fut.done():
            c.ready_fut.set_result(None)

    def notice(self, c: Conn, nid: int, sent: int, now: int) -> None:
        pass

    def receipt(self, c: Conn, ref: str | None, now: int) -> None:
        pass

    def published(self, c: Conn, nid: int | None) -> None:
        if nid is not None:
            self.unconfirmed.pop(nid, None)

    def publish_failed(self, c: Conn, nid: int, text: str) -> None:
        """The server refused a publish (the hub: `unavailable`, try again): resend later."""
        self.error(c, f"notice {nid}: {text}")
        tries = self.retries[nid] = self.retries.get(nid, 0) + 1
        if tries <= 20 and nid in self.unconfirmed:
            asyncio.get_running_loop().call_later(0.2 * tries, self._resend, nid)

    def _resend(self, nid: int) -> None:
        body = self.unconfirmed.get(nid)
        if body is not None and self.pub.ws is not None and not self.pub.ws.closed:
            self.adapter.publish(self.pub, nid, body)

    def _send_publish(self, nid: int, body: dict[str, Any]) -> None:
        self.unconfirmed[nid] = body
        self.adapter.publish(self.pub, nid, body)

    def error(self, c: Conn, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < 10:
            self.errors.append(f"publisher: {text}")

    def _on_text(self, ws: wsclient.WSClient, data: bytes, now: int) -> None:
        try:
            self.adapter.on_text(self.pub, data, now, self)
        except Exception as e:
            self.error(self.pub, f"unparsable frame {data[:80]!r}: {e!r}")

    def _on_close(self, ws: wsclient.WSClient) -> None:
        if self.result.get("_closing") or ws is not self.pub.ws or not self.started:
            return
        if self.result.get("_restarting"):
            return  # the restart scenario reopens the publisher itself
        how = f"with {ws.close_code} {ws.close_reason!r}" if ws.close_code else "(no close frame)"
        self.error(self.pub, f"connection closed {how}; reconnecting")
        if self.reopening is None or self.reopening.done():
            self.reopening = asyncio.ensure_future(self._reopen())

    async def _reopen(self) -> None:
        """Reconnect the publisher, as a secretary's console would, and resend what the
        server had not confirmed (the hub stores a resend once: same idempotency key)."""
        for attempt in range(60):
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
            try:
                await self._open_publisher()
            except Exception as e:
                self.error(self.pub, f"reconnect failed: {e!r}")
                continue
            self.pub_reconnects += 1
            for nid, body in list(self.unconfirmed.items()):
                self.adapter.publish(self.pub, nid, body)
            return

    async def _open_publisher(self) -> None:
        await open_conn(
            self.adapter,
            self.target.port,
            self.pub,
            self._on_text,
            self._on_close,
            self.opts.connect_timeout,
            self.ready,
        )

    # -- workers ----------------------------------------------------------------------
    async def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        for wid in range(self.opts.workers):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(
                target=worker_main, args=(wid, self.target, self.opts, theirs), daemon=True
            )
            p.start()
            theirs.close()
            self.pipes.append(mine)
            self.procs.append(p)
            loop.add_reader(mine.fileno(), self._on_pipe, wid)
            os.set_blocking(mine.fileno(), True)  # whole messages, however long
        await self._open_publisher()
        self.started = True

    def _on_pipe(self, wid: int) -> None:
        pipe = self.pipes[wid]
        try:
            while pipe.poll():
                msg = pipe.recv()
                if msg[0] == "done":
                    _, nid, _count, _last = msg
                    p = self.pending.get(nid)
                    if p is not None:
                        p.workers_done += 1
                        if p.workers_done == len(self.pipes) and not p.fut.done():
                            p.fut.set_result(None)
                else:
                    _, req, ok, result = msg
                    n, got, fut = self.replies[req]
                    got[wid] = result if ok else RuntimeError(f"worker {wid}: {result}")
                    if len(got) == n and not fut.done():
                        fut.set_result([got[i] for i in range(n)])
        except (EOFError, OSError) as e:
            asyncio.get_running_loop().remove_reader(pipe.fileno())
            for _, _, fut in self.replies.values():
                if not fut.done():
                    fut.set_exception(RuntimeError(f"worker {wid} died: {e!r}"))

    async def call(self, cmd: str, limit_s: float = 60.0, **kw: Any) -> list[Any]:
        """Run a command on every worker; their results in worker order."""
        req = next(self.req)
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.replies[req] = (len(self.pipes), {}, fut)
        for pipe in self.pipes:
            pipe.send((req, cmd, kw))
        try:
            results = await asyncio.wait_for(fut, limit_s)
        finally:
            del self.replies[req]
        for r in results:
            if isinstance(r, Exception):
                raise r
        return results

    async def close(self) -> None:
        self.result["_closing"] = True
        if self.reopening is not None:
            self.reopening.cancel()
        if self.pub.ws is not None:
            self.pub.ws.close()
        with contextlib.suppress(Exception):
            await self.call("close", limit_s=10)
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self.result.pop("_closing", None)

    # -- measuring helpers ------------------------------------------------------------
    async def loadgen_cpu(self) -> float:
        return self_cpu() + sum(await self.call("cpu"))

    def _pids(self) -> list[int]:
        t = self.target
        return t.server_pids or ([t.server_pid] if t.server_pid else [])

    def server_cpu(self) -> float:
        pids = self._pids()
        return sum(cpu_seconds(p) for p in pids) if pids else float("nan")

    def server_rss(self) -> int:
        return sum(rss_bytes(p) for p in self._pids())

    def publish(self) -> tuple[int, Pending]:
        nid = next(self.nids)
        sent = time.monotonic_ns()
        p = Pending(sent, asyncio.get_running_loop().create_future())
        self.pending[nid] = p
        self._send_publish(nid, notice_body(nid, sent))
        return nid, p

    async def collect(self) -> tuple[dict[int, list[int]], list[float], dict[str, Any]]:
        """Merge the workers' per-notice stats and latencies (ms) since the last collect."""
        import numpy as np

        parts = await self.call("collect")
        stats: dict[int, list[int]] = {}
        for part in parts:
            for nid, (count, last) in part["stats"].items():
                s = stats.setdefault(nid, [0, 0])
                s[0] += count
                s[1] = max(s[1], last)
        lat = np.concatenate(
            [np.frombuffer(p["lat_us"], dtype=np.int64) for p in parts] or [np.zeros(0)]
        )
        info = {
            "errors": [e for p in parts for e in p["errors"]][:5],
            "error_count": sum(p["error_count"] for p in parts),
            "duplicates": sum(p["dups"] for p in parts),
            "dropped_connections": sum(p["drops"] for p in parts),
            "live": sum(p["live"] for p in parts),
        }
        return stats, list(lat / 1000.0), info

    def time_to_last(self, stats: dict[int, list[int]], nids: list[int]) -> list[float]:
        """ms from send until the last of N clients had each notice; inf if some never did."""
        out = []
        for nid in nids:
            count, last = stats.get(nid, (0, 0))
            if count >= self.connected and last:
                out.append(_ms(last - self.pending[nid].sent))
            else:
                out.append(float("inf"))
        return out

    # -- scenarios --------------------------------------------------------------------
    async def connect_all(self) -> dict[str, Any]:
        pid = self._pids()
        await asyncio.sleep(0.5)
        rss0 = self.server_rss() if pid else 0
        t0 = time.monotonic_ns()
        per_worker = await self.call("connect", limit_s=self.opts.connect_timeout * 4 + 120)
        self.connected = sum(w["connected"] for w in per_worker)
        last = max(w["last_ready"] for w in per_worker)
        out: dict[str, Any] = {
            "requested": self.opts.n,
            "connected": self.connected,
            "failed": sum(w["failed"] for w in per_worker),
            "failures": [f for w in per_worker for f in w["failures"]][:3],
            "seconds": round((last - t0) / 1e9, 3) if last else None,
        }
        await asyncio.sleep(self.opts.settle)
        if pid and self.connected:
            rss1 = self.server_rss()
            out["rss_before_mb"] = round(rss0 / 2**20, 1)
            out["rss_after_mb"] = round(rss1 / 2**20, 1)
            out["rss_per_conn_kb"] = round((rss1 - rss0) / self.connected / 1024, 2)
        return out

    async def fanout(self) -> dict[str, Any]:
        o = self.opts
        for _ in range(o.warmup):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.publish()[1].fut, o.notice_timeout)
        await self.collect()
        cpu0, lg0, t0 = self.server_cpu(), await self.loadgen_cpu(), time.monotonic()
        nids: list[int] = []
        for _ in range(o.notices):
            nid, p = self.publish()
            nids.append(nid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.fut, o.notice_timeout)
            await asyncio.sleep(0.02)
        wall = time.monotonic() - t0
        cpu1, lg1 = self.server_cpu(), await self.loadgen_cpu()
        stats, lat, info = await self.collect()
        ttl = self.time_to_last(stats, nids)
        deliveries = sum(stats.get(n, (0, 0))[0] for n in nids)
        return {
            "notices": len(nids),
            "deliveries": deliveries,
            "expected_deliveries": len(nids) * self.connected,
            "incomplete_notices": sum(1 for t in ttl if t == float("inf")),
            "latency_ms": percentiles(lat).as_dict(),
            "time_to_last_ms": percentiles(ttl).as_dict(),
            "server_cpu_us_per_delivery": round((cpu1 - cpu0) / max(deliveries, 1) * 1e6, 2),
            "loadgen_busy": round((lg1 - lg0) / wall, 3),
            **info,
        }

    async def receipts(self) -> dict[str, Any]:
        import numpy as np

        if not self.adapter.receipts:
            return {"supported": False, "note": "not supported: nothing is stored"}
        o = self.opts
        cpu0, t0 = self.server_cpu(), time.monotonic_ns()
        parts = await self.call(
            "receipts",
            limit_s=o.notice_timeout * 3 + 60,
            window=o.receipt_window,
            wait=o.notice_timeout * 3,
        )
        cpu1 = self.server_cpu()
        sent = sum(p["sent"] for p in parts)
        confirmed = sum(p["confirmed"] for p in parts)
        last = max(p["last_confirmed"] for p in parts)
        lat = np.concatenate([np.frombuffer(p["lat_us"], dtype=np.int64) for p in parts]) / 1e3
        seconds = (last - t0) / 1e9 if last else float("nan")
        return {
            "supported": True,
            "sent": sent,
            "confirmed": confirmed,
            "clients": sum(p["clients"] for p in parts),
            "clients_complete": sum(p["clients_complete"] for p in parts),
            "seconds_until_last_confirmed": round(seconds, 3),
            "confirmed_per_s": round(confirmed / seconds, 1) if last else 0,
            "confirm_latency_ms": percentiles(lat).as_dict(),
            "server_cpu_us_per_receipt": round((cpu1 - cpu0) / max(confirmed, 1) * 1e6, 2),
        }

    async def _step(self, rate: float) -> dict[str, Any]:
        o = self.opts
        loop = asyncio.get_running_loop()
        count = max(5, round(rate * o.step_seconds))
        await self.collect()
        lg0, cpu0, t0 = await self.loadgen_cpu(), self.server_cpu(), time.monotonic()
        start = loop.time()
        sent: list[tuple[int, Pending]] = []
        for i in range(count):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.append(self.publish())
        publish_s = loop.time() - start
        await asyncio.wait([p.fut for _, p in sent], timeout=o.slo_ms / 1000 * 4 + 2)
        wall = time.monotonic() - t0
        lg1, cpu1 = await self.loadgen_cpu(), self.server_cpu()
        stats, lat, info = await self.collect()
        ttl = self.time_to_last(stats, [nid for nid, _ in sent])
        tp = percentiles(ttl)
        deliveries = sum(stats.get(nid, (0, 0))[0] for nid, _ in sent)
        return {
            "rate": rate,
            "achieved_rate": round((count - 1) / publish_s, 1) if publish_s > 0 else rate,
            "notices": count,
            "incomplete": sum(1 for t in ttl if t == float("inf")),
            "time_to_last_p50_ms": tp.p50,
            "time_to_last_p99_ms": tp.p99,
            "latency_p99_ms": percentiles(lat).p99,
            "deliveries_per_s": round(deliveries / wall, 1),
            "server_cpu_busy": round((cpu1 - cpu0) / wall, 3),
            "loadgen_busy": round((lg1 - lg0) / wall, 3),
            "dropped_connections": info["dropped_connections"],
            "errors": info["errors"],
            "pass": tp.p99 <= o.slo_ms,
        }

    async def _drain(self, limit_s: float = 15.0) -> None:
        futs = [p.fut for p in self.pending.values() if not p.fut.done()]
        if futs:
            await asyncio.wait(futs, timeout=limit_s)
        self.pending = {k: v for k, v in self.pending.items() if not v.fut.done()}
        await asyncio.sleep(0.5)

    async def sustained(self) -> dict[str, Any]:
        o = self.opts
        steps: list[dict[str, Any]] = []
        best: float | None = None
        fail: float | None = None
        for rate in o.rates:
            step = await self._step(rate)
            steps.append(step)
            await self._drain()
            if not step["pass"]:
                fail = rate
                break
            best = rate
        lo = best
        for _ in range(o.bisect_steps if fail is not None and lo is not None else 0):
            assert lo is not None and fail is not None
            mid = round((lo + fail) / 2, 1)
            if mid in (lo, fail):
                break
            step = await self._step(mid)
            steps.append(step)
            await self._drain()
            if step["pass"]:
                lo = best = mid
            else:
                fail = mid
        failing = next((s for s in steps if s["rate"] == fail), None)
        return {
            "slo_ms": o.slo_ms,
            "best_rate": best,
            "best_deliveries_per_s": best * self.connected if best else 0,
            "first_failing_rate": fail,
            "loadgen_limited": bool(failing and failing["loadgen_busy"] >= BUSY),
            "steps": steps,
        }

    async def reconnect(self, restart: bool = False) -> dict[str, Any]:
        """All N reconnect while notices are published: after a drop (the Wi-Fi went),
        or, with ``restart``, while the server's node(s) restart (stop, start again)."""
        import numpy as np

        o = self.opts
        await self._drain()
        deadline = o.reconnect_deadline or 20 + self.opts.n / 250
        nids = [next(self.nids) for _ in range(o.reconnect_notices)]
        t0 = time.monotonic_ns()
        quiet_at = t0 + int((o.reconnect_notices * o.reconnect_spacing + 2) * 1e9)
        task = asyncio.ensure_future(
            self.call(
                "reconnect",
                limit_s=deadline + 60,
                nids=nids,
                deadline_s=deadline,
                quiet_at_ns=quiet_at,
                stores=self.adapter.stores,
                restart=restart,
            )
        )
        away: float | None = None
        if restart:
            assert self.restart is not None
            await asyncio.sleep(0.2)  # the workers are listening for their closes
            self.result["_restarting"] = True
            if self.reopening is not None:
                self.reopening.cancel()
            try:
                away = await asyncio.get_running_loop().run_in_executor(None, self.restart)
                await self._open_publisher()  # the secretary's console is back too
            finally:
                self.result.pop("_restarting", None)
        for nid in nids:
            self._send_publish(nid, notice_body(nid, time.monotonic_ns()))
            await asyncio.sleep(o.reconnect_spacing)
        parts = await task
        clients = sum(p["clients"] for p in parts)
        complete = sum(p["clients_complete"] for p in parts)
        held = sum(p["held"] for p in parts)
        last_ready = max(p["last_ready"] for p in parts)
        last_complete = max(p["last_complete"] for p in parts)
        expected = clients * len(nids)

        def secs(key: str) -> dict[str, float]:
            ns = np.concatenate([np.frombuffer(p[key], dtype=np.int64) for p in parts])
            return percentiles((ns - t0) / 1e9).as_dict()

        return {
            "clients": clients,
            "notices": len(nids),
            "reconnected": sum(p["reconnected"] for p in parts),
            "failed": sum(p["failed"] for p in parts),
            "failures": [f for p in parts for f in p["failures"]][:3],
            "seconds_until_all_reconnected": round((last_ready - t0) / 1e9, 3)
            if last_ready
            else None,
            "clients_with_all_notices": complete,
            "seconds_until_all_hold_all": round((last_complete - t0) / 1e9, 3)
            if complete == clients and clients
            else None,
            "reconnected_s": secs("ready_times"),
            "holds_all_s": secs("complete_times"),
            "deliveries": held,
            "expected_deliveries": expected,
            "lost_fraction": round(1 - held / expected, 4) if expected else None,
            "deadline_s": deadline,
            "server_away_s": None if away is None else round(away, 3),
            "errors": [e for p in parts for e in p["errors"]][:5],
            "error_count": sum(p["error_count"] for p in parts),
            "dropped_connections": sum(p["drops"] for p in parts),
        }

    async def ceiling(self) -> dict[str, Any]:
        """Against bench/blast.py: how fast can the load generator take frames in?"""
        singles: list[float] = []
        for _ in range(10):
            ttl, _ = await self._blast(1)
            singles.append(ttl)
        burst = min(200, max(self.opts.blast_burst, 200_000 // max(self.connected, 1)))
        ttl, lg_busy = await self._blast(burst)
        frames = burst * self.connected
        return {
            "single_notice_time_to_last_ms": percentiles(singles).as_dict(),
            "burst_notices": burst,
            "burst_frames": frames,
            "burst_seconds": round(ttl / 1000, 3),
            "receive_ceiling_frames_per_s": round(frames / (ttl / 1000)) if ttl else None,
            "loadgen_busy": lg_busy,
        }

    async def _blast(self, count: int) -> tuple[float, float]:
        await self.collect()
        loop = asyncio.get_running_loop()
        first = next(self.nids)
        nids = [first] + [next(self.nids) for _ in range(count - 1)]
        lg0, t0 = await self.loadgen_cpu(), time.monotonic()
        sent = time.monotonic_ns()
        for nid in nids:
            self.pending[nid] = Pending(sent, loop.create_future())
        self.pub.send({"type": "blast", "count": count, "first": first})
        await asyncio.wait([self.pending[n].fut for n in nids], timeout=60)
        wall = time.monotonic() - t0
        lg1 = await self.loadgen_cpu()
        stats, _, _ = await self.collect()
        return max(self.time_to_last(stats, nids)), round((lg1 - lg0) / wall, 3)

    async def run(self) -> dict[str, Any]:
        r = self.result
        r.update(
            system=self.target.system,
            n=self.opts.n,
            workers=self.opts.workers,
            stores=self.adapter.stores,
        )
        limit = asyncio.timeout(self.opts.time_limit)
        try:
            async with limit:
                await self.start()
                r["connect"] = await self.connect_all()
                if self.target.system == "blast":
                    r["ceiling"] = await self.ceiling()
                    return r
                if "fanout" in self.opts.scenarios:
                    r["fanout"] = await self.fanout()
                if "receipts" in self.opts.scenarios:
                    r["receipts"] = await self.receipts()
                if "sustained" in self.opts.scenarios:
                    r["sustained"] = await self.sustained()
                if "reconnect" in self.opts.scenarios:
                    r["reconnect"] = await self.reconnect()
                if "restart" in self.opts.scenarios and self.restart is not None:
                    r["restart"] = await self.reconnect(restart=True)
        except TimeoutError as e:
            if limit.expired():
                r["aborted"] = f"time limit of {self.opts.time_limit}s reached"
            else:
                r["aborted"] = f"timed out: {e!r}"
                r["traceback"] = traceback.format_exc()
        except Exception as e:
            r["aborted"] = f"{type(e).__name__}: {e}"
            r["traceback"] = traceback.format_exc()
        finally:
            r["publisher"] = {
                "reconnects": self.pub_reconnects,
                "unconfirmed_at_end": len(self.unconfirmed),
                "error_count": self.error_count,
                "errors": self.errors,
            }
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.close(), 30)
        return r


async def run(
    target: Target, opts: Options, restart: Callable[[], float] | None = None
) -> dict[str, Any]:
    raise_nofile()
    return await Coordinator(target, opts, restart).run()


def run_sync(
    target: Target, opts: Options, restart: Callable[[], float] | None = None
) -> dict[str, Any]:
    """Run the scenarios; ``restart`` (stop and start the server again, returning the
    seconds it was away) enables the restart scenario."""
    return uvloop.run(run(target, opts, restart))


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--system", required=True, choices=["hub", "hub_cluster", "bare_ws", "socketio", "blast"]
    )
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--more-ports", default="", help="other nodes' ports, comma-separated")
    ap.add_argument("--server-pid", type=int, help="for RSS and CPU readings from /proc")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--channel", default="meeting:1")
    ap.add_argument("--tokens-file", help='hub: JSON {"publisher": T, "subscribers": [T, ...]}')
    ap.add_argument("--json", help="write the result here as well as to stdout")
    ap.add_argument("--reconnect-deadline", type=float, help="seconds (default 20 + N/250)")
    args = ap.parse_args()
    pin(LOADGEN_CORE)
    target = Target(args.system, args.port, args.server_pid, args.channel)
    if args.more_ports:
        target.ports = [args.port, *(int(p) for p in args.more_ports.split(","))]
    if args.tokens_file:
        with open(args.tokens_file, "rb") as f:
            toks = orjson.loads(f.read())
        target.publisher_token, target.tokens = toks["publisher"], toks["subscribers"]
    opts = Options(
        n=args.n,
        workers=args.workers,
        scenarios=tuple(args.scenarios.split(",")),
        reconnect_deadline=args.reconnect_deadline,
    )
    result = run_sync(target, opts)
    out = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    print(out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out)


__all__ = ["Options", "Target", "asdict", "run", "run_sync"]

if __name__ == "__main__":
    cli()
