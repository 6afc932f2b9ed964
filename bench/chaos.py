"""Chaos soak: two hub nodes on PostgreSQL + Redis, faults injected at random, then a check
that no client lost, got twice or got out of order any notice and that the log verifies.

Loopback only, bounded, stops by itself. Each node reaches Redis and PostgreSQL through
proxies of this process's own (``tests/utils/faults.py``), in front of the local servers
(a database of its own, created and dropped; a Redis channel prefix of its own), so every
fault is made on something the run owns. For ``--minutes`` the faults come one after the
other, in a random order (each kind once per round), on node A, node B or both:

- ``redis_freeze``: Redis's sockets stay open and nothing is forwarded, 1-5 s;
- ``redis_flap``: Redis connections reset and refused, again and again, 2-4 s;
- ``redis_refuse``: Redis answers ``-LOADING …`` to every command, or
  ``-ERR max number of clients reached`` to every new connection, 1-4 s;
- ``pg_reset``: every PostgreSQL connection reset, one to four times;
- ``pg_refuse``: PostgreSQL answers new connections with an ErrorResponse (57P03 "the
  database system is starting up", or 53300 "sorry, too many clients already"), 1-3 s;
- ``pg_freeze``: PostgreSQL's sockets stay open and nothing is forwarded, 0.5-2 s;
- ``kill_node``: ``kill -9`` of one node, started again on its port 0.5-3 s later.

Meanwhile two secretariat clients (one per node) publish numbered notices with keys,
resending an unanswered or refused one with the same key, and deputies follow the meeting,
each resuming with ``since`` on the other node when its connection ends. At the end
(faults lifted, publishing stopped) every deputy must hold every stored notice exactly
once and in order, the log must hold exactly the acknowledged notices with the seq and
id they were acknowledged with, and ``hub verify`` must pass.

  python -m bench.chaos --minutes 10 --json chaos.json

``bench/tests/test_chaos.py`` runs it for a minute (the README's test command, so CI too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import asyncpg
import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from bench.common import free_port
from tests.utils.faults import (
    REDIS_LOADING,
    REDIS_MAX_CLIENTS,
    Answer,
    FaultProxy,
    redis_refusal,
)

HUB_SERVE = [sys.executable, "-m", "hub", "serve"]
TIMEOUT = 20.0  # one request's answer, a node's start, the final catch-up (x3)
FAULTS = (
    "redis_freeze",
    "redis_flap",
    "redis_refuse",
    "pg_reset",
    "pg_refuse",
    "pg_freeze",
    "kill_node",
)


def pg_refusal(code: str, message: str) -> Answer:
    """PostgreSQL up but refusing: the startup packet is answered with a FATAL
    ErrorResponse (SQLSTATE ``code``) and the connection closed; an SSL request first
    gets 'N' (no SSL), as from a server without SSL."""
    fields = b"SFATAL\0VFATAL\0C" + code.encode() + b"\0M" + message.encode() + b"\0\0"
    error = b"E" + struct.pack("!I", 4 + len(fields)) + fields

    async def answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            length, request = struct.unpack("!II", await r.readexactly(8))
            await r.readexactly(length - 8)
            if request not in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                break
            w.write(b"N")
            await w.drain()
        w.write(error)
        await w.drain()

    return answer


PG_STARTING = pg_refusal("57P03", "the database system is starting up")
PG_TOO_MANY = pg_refusal("53300", "sorry, too many clients already")


@dataclass
class ChaosConfig:
    minutes: float = 10.0
    deputies: int = 8
    rate: float = 20.0  # notices a second, per publisher
    seed: int = 0
    pg: str = "postgresql://postgres@127.0.0.1:5432/test"  # where to create the database
    redis: str = "redis://127.0.0.1:6379/0"
    logs: Path | None = None  # keep the nodes' logs here


@dataclass
class ChaosResult:
    seconds: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    fault_log: list[str] = field(default_factory=list)
    acknowledged: int = 0
    stored: int = 0
    deliveries: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # publish answers other than ok
    unanswered: int = 0  # publishes whose connection ended or timed out before a reply
    follower_reconnects: int = 0
    verify: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "faults": dict(sorted(self.faults.items())),
            "faults_total": sum(self.faults.values()),
            "acknowledged": self.acknowledged,
            "stored": self.stored,
            "deliveries": self.deliveries,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "out_of_order": self.out_of_order,
            "publish_refusals": dict(sorted(self.refusals.items())),
            "publish_unanswered": self.unanswered,
            "follower_reconnects": self.follower_reconnects,
            "verify": self.verify,
            "problems": self.problems,
            "fault_log": self.fault_log,
        }


class Node:
    """``python -m hub serve`` on a fixed port, through its own Redis and PostgreSQL
    proxies; :meth:`kill` is ``kill -9``, :meth:`start` starts it again on the port."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*HUB_SERVE, "--port", str(self.port), "--log-level", "warning"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        end = time.monotonic() + TIMEOUT
        while True:
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"node {self.name} did not start; see {self.log}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


async def _open(url: str, token: str) -> ClientConnection:
    ws = await connect(url, open_timeout=TIMEOUT, max_size=None)
    await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
    welcome = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    if welcome["type"] != "welcome":
        await ws.close()
        raise ConnectionError(f"not welcomed: {welcome}")
    return ws


CLIENT_FAULTS = (OSError, websockets.WebSocketException, TimeoutError, ConnectionError)


class Publisher:
    """Numbered notices with key ``<name><i>``, one at a time; a notice refused or left
    unanswered is sent again with its key, on the other node after a closed connection."""

    def __init__(self, name: str, token: str, channel: str, urls: list[str], rate: float):
        self.name = name
        self.token = token
        self.channel = channel
        self.urls = urls
        self.rate = rate
        self.acked: dict[str, tuple[int, int]] = {}
        self.refusals: Counter[str] = Counter()
        self.unanswered = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``, and then until the notice in hand is acknowledged."""
        i = 0
        for url in _cycle(self.urls):
            try:
                ws = await _open(url, self.token)
            except CLIENT_FAULTS:
                await asyncio.sleep(0.2)
                continue
            try:
                while True:
                    key = f"{self.name}{i}"
                    frame = {"type": "publish", "channel": self.channel, "kind": "bulletin"}
                    frame |= {"body": {"p": self.name, "i": i}, "key": key}
                    await ws.send(orjson.dumps(frame).decode())
                    r = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    if r["type"] == "published":
                        self.acked[key] = (r["seq"], r["id"])
                        i += 1
                        if stop.is_set():
                            await ws.close()
                            return
                        await asyncio.sleep(1 / self.rate)
                    else:
                        self.refusals[r.get("code", r["type"])] += 1
                        await asyncio.sleep(0.2)
            except CLIENT_FAULTS:
                self.unanswered += 1
                await ws.close()
                await asyncio.sleep(0.1)


class Follower:
    """A deputy following the meeting, resuming with ``since`` on the next node whenever
    its connection ends; records every seq in the order it came."""

    def __init__(self, token: str, channel: str, urls: list[str]):
        self.token = token
        self.channel = channel
        self.urls = urls
        self.seqs: list[int] = []
        self.connects = 0

    @property
    def last(self) -> int:
        return max(self.seqs, default=0)

    async def run(self, until: asyncio.Future[int]) -> None:
        """Until the seq ``until`` resolves to is held."""
        for url in _cycle(self.urls):
            if until.done() and self.last >= until.result():
                return
            try:
                ws = await _open(url, self.token)
            except CLIENT_FAULTS:
                await asyncio.sleep(0.2)
                continue
            self.connects += 1
            try:
                await ws.send(
                    orjson.dumps(
                        {"type": "subscribe", "channel": self.channel, "since": self.last}
                    ).decode()
                )
                while not (until.done() and self.last >= until.result()):
                    try:
                        f = orjson.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    except TimeoutError:
                        continue
                    if f["type"] == "message" and f["channel"] == self.channel:
                        self.seqs.append(f["seq"])
                    elif f["type"] == "error":  # the subscribe refused (database away)
                        await asyncio.sleep(0.2)
                        break
                await ws.close()
            except CLIENT_FAULTS:
                await asyncio.sleep(0.1)


def _cycle(urls: list[str]) -> Any:
    while True:
        yield from urls


class Chaos:
    def __init__(self, cfg: ChaosConfig, res: ChaosResult, workdir: Path) -> None:
        self.cfg = cfg
        self.res = res
        self.rnd = random.Random(cfg.seed)
        self.workdir = workdir
        self.nodes: list[Node] = []
        self.redis_proxies: list[FaultProxy] = []
        self.pg_proxies: list[FaultProxy] = []
        self.t0 = time.monotonic()

    async def setup(self, db_url: str, prefix: str, secret: str) -> None:
        r = urlparse(self.cfg.redis)
        p = urlparse(db_url.replace("+asyncpg", ""))
        for name in "ab":
            rp = await FaultProxy(r.hostname or "127.0.0.1", r.port or 6379).start()
            pp = await FaultProxy(p.hostname or "127.0.0.1", p.port or 5432).start()
            env = {
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "HUB_DATABASE_URL": f"postgresql+asyncpg://{p.username or 'postgres'}"
                f"@127.0.0.1:{pp.port}{p.path}",
                "HUB_REDIS_URL": f"redis://127.0.0.1:{rp.port}/0",
                "HUB_REDIS_PREFIX": prefix,
                "HUB_SECRET": secret,
                "HUB_DATA_DIR": str(self.workdir / name),
                "HUB_FRAME_RATE": "100000",
                "HUB_FRAME_BURST": "100000",
                "HUB_PUBLISH_QUOTA": "0",  # a long soak publishes more than a day's quota
                "HUB_REDIS_HEALTH_INTERVAL": "0.5",
                "HUB_REDIS_SOCKET_TIMEOUT": "1.0",
                "HUB_DEADLINE_INTERVAL": "0",
            }
            node = Node(name, env, (self.cfg.logs or self.workdir) / f"node-{name}.log")
            await node.start()
            self.nodes.append(node)
            self.redis_proxies.append(rp)
            self.pg_proxies.append(pp)

    def _note(self, text: str) -> None:
        self.res.fault_log.append(f"{time.monotonic() - self.t0:7.1f}s {text}")

    def _targets(self) -> list[int]:
        return self.rnd.choice([[0], [1], [0, 1]])

    async def inject(self, kind: str) -> None:
        rnd = self.rnd
        on = self._targets()
        names = "+".join("ab"[i] for i in on)
        self.res.faults[kind] += 1
        if kind == "redis_freeze":
            secs = rnd.uniform(1, 5)
            self._note(f"redis frozen on {names} for {secs:.1f}s")
            for i in on:
                self.redis_proxies[i].freeze()
            await asyncio.sleep(secs)
            for i in on:
                self.redis_proxies[i].thaw()
        elif kind == "redis_flap":
            secs = rnd.uniform(2, 4)
            self._note(f"redis flapping (reset, refused) on {names} for {secs:.1f}s")
            end = time.monotonic() + secs
            flaps = 0
            while time.monotonic() < end:
                flaps += 1
                refused = flaps % 2 == 0  # reset, then reset and refused for a moment
                for i in on:
                    if refused:
                        await self.redis_proxies[i].cut()
                    else:
                        self.redis_proxies[i].reset()
                await asyncio.sleep(rnd.uniform(0.1, 0.5))
                if refused:
                    for i in on:
                        await self.redis_proxies[i].restore()
                await asyncio.sleep(rnd.uniform(0.1, 0.5))
        elif kind == "redis_refuse":
            secs = rnd.uniform(1, 4)
            error = rnd.choice([REDIS_LOADING, REDIS_MAX_CLIENTS])
            self._note(f"redis answers -{error.split()[0]} on {names} for {secs:.1f}s")
            for i in on:
                self.redis_proxies[i].refuse_with(
                    redis_refusal(error, at_once=error == REDIS_MAX_CLIENTS)
                )
            await asyncio.sleep(secs)
            for i in on:
                self.redis_proxies[i].forward()
        elif kind == "pg_reset":
            times = rnd.randint(1, 4)
            self._note(f"postgresql connections reset {times} times on {names}")
            for _ in range(times):
                for i in on:
                    self.pg_proxies[i].reset()
                await asyncio.sleep(rnd.uniform(0.1, 0.6))
        elif kind == "pg_refuse":
            secs = rnd.uniform(1, 3)
            starting = rnd.random() < 0.5
            what = "57P03 starting up" if starting else "53300 too many clients"
            self._note(f"postgresql answers {what} on {names} for {secs:.1f}s")
            for i in on:
                # Starting up: the connections went with the restart; too many clients:
                # the open ones go on, new ones are refused.
                self.pg_proxies[i].refuse_with(
                    PG_STARTING if starting else PG_TOO_MANY, drop=starting
                )
            await asyncio.sleep(secs)
            for i in on:
                self.pg_proxies[i].forward()
        elif kind == "pg_freeze":
            secs = rnd.uniform(0.5, 2)
            self._note(f"postgresql frozen on {names} for {secs:.1f}s")
            for i in on:
                self.pg_proxies[i].freeze()
            await asyncio.sleep(secs)
            for i in on:
                self.pg_proxies[i].thaw()
        elif kind == "kill_node":
            node = self.nodes[rnd.randrange(2)]
            secs = rnd.uniform(0.5, 3)
            self._note(f"kill -9 node {node.name}, started again after {secs:.1f}s")
            node.kill()
            await asyncio.sleep(secs)
            await node.start()
        else:
            raise ValueError(f"unknown fault {kind!r}")

    async def faults(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            for kind in self.rnd.sample(FAULTS, len(FAULTS)):
                if time.monotonic() >= end:
                    return
                await self.inject(kind)
                await asyncio.sleep(self.rnd.uniform(0.5, 2))

    async def teardown(self) -> None:
        for p in self.redis_proxies + self.pg_proxies:
            p.thaw()
            p.forward()
            await p.close()
        for node in self.nodes:
            node.kill()


async def _admin(pg: str, sql: str) -> None:
    conn = await asyncpg.connect(pg.replace("+asyncpg", ""))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _stored(db_url: str, channel: str) -> dict[str, tuple[int, int]]:
    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT idem_key, seq, id FROM messages WHERE channel = $1 ORDER BY seq", channel
        )
    finally:
        await conn.close()
    return {r["idem_key"]: (r["seq"], r["id"]) for r in rows}


async def _verify(db_url: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        "verify",
        env={**os.environ, "HUB_DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT * 3)
    report: dict[str, Any] = orjson.loads(out) if out else {}
    report["exit"] = proc.returncode
    return {k: report.get(k) for k in ("exit", "ok", "channels", "messages", "breaks")}


async def run_chaos(cfg: ChaosConfig) -> ChaosResult:
    from bench.hub_fixture import _seed
    from hub.store.migrate import upgrade

    res = ChaosResult()
    name = f"chaos_{secrets.token_hex(6)}"
    db_url = with_database(cfg.pg, name).replace("postgresql://", "postgresql+asyncpg://")
    secret = secrets.token_urlsafe(24)
    await _admin(cfg.pg, f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(upgrade, db_url)
        seeded = await _seed(db_url, secret, cfg.deputies)
        with tempfile.TemporaryDirectory(prefix="hubchaos-") as tmp:
            chaos = Chaos(cfg, res, Path(tmp))
            try:
                await chaos.setup(db_url, f"hubchaos-{secrets.token_hex(6)}:", secret)
                await _run(chaos, cfg, res, seeded, db_url)
            finally:
                await chaos.teardown()
    finally:
        await _admin(cfg.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return res


async def _run(
    chaos: Chaos, cfg: ChaosConfig, res: ChaosResult, seeded: dict[str, Any], db_url: str
) -> None:
    channel = seeded["channel"]
    urls = [n.ws_url for n in chaos.nodes]
    t0 = time.monotonic()
    stop = asyncio.Event()
    head: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    pubs = [
        Publisher(name, seeded["publisher"], channel, urls[i:] + urls[:i], cfg.rate)
        for i, name in enumerate("ab")
    ]
    followers = [
        Follower(tok, channel, urls[i % 2 :] + urls[: i % 2])
        for i, tok in enumerate(seeded["subscribers"])
    ]
    following = [asyncio.create_task(f.run(head)) for f in followers]
    publishing = [asyncio.create_task(p.run(stop)) for p in pubs]
    try:
        await chaos.faults(cfg.minutes * 60)
        chaos._note("faults over")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*publishing), TIMEOUT * 3)
        stored = await _stored(db_url, channel)
        head.set_result(len(stored))
        try:
            await asyncio.wait_for(asyncio.gather(*following), TIMEOUT * 3)
        except TimeoutError:
            res.problems.append("deputies did not catch up within the time limit")
    finally:
        for t in following + publishing:
            t.cancel()
    res.seconds = time.monotonic() - t0

    acked = {k: v for p in pubs for k, v in p.acked.items()}
    res.acknowledged = len(acked)
    res.stored = len(stored)
    res.refusals = sum((p.refusals for p in pubs), Counter())
    res.unanswered = sum(p.unanswered for p in pubs)
    seqs = sorted(v[0] for v in stored.values())
    if seqs != list(range(1, len(seqs) + 1)):
        res.problems.append("the log's seqs are not 1..n")
    if stored != acked:
        missing = [k for k in acked if stored.get(k) != acked[k]]
        extra = [k for k in stored if k not in acked]
        res.problems.append(f"acknowledged but not stored as acknowledged: {missing[:10]}")
        res.problems.append(f"stored but never acknowledged: {extra[:10]}")
    for f in followers:
        res.deliveries += len(f.seqs)
        res.follower_reconnects += f.connects - 1
        res.duplicated += len(f.seqs) - len(set(f.seqs))
        res.lost += len(set(range(1, len(stored) + 1)) - set(f.seqs))
        res.out_of_order += sum(1 for a, b in zip(f.seqs, f.seqs[1:], strict=False) if b != a + 1)
    for what in ("lost", "duplicated", "out_of_order"):
        if getattr(res, what):
            res.problems.append(f"{getattr(res, what)} {what.replace('_', ' ')}")
    res.verify = await _verify(db_url)
    if res.verify["exit"] != 0 or not res.verify["ok"]:
        res.problems.append(f"hub verify failed: {res.verify}")


def with_database(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="how long faults are injected")
    ap.add_argument("--deputies", type=int, default=8)
    ap.add_argument("--rate", type=float, default=20.0, help="notices a second per publisher")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    ap.add_argument("--pg", default=os.environ.get("HUB_TEST_PG", ChaosConfig.pg))
    ap.add_argument("--redis", default=os.environ.get("HUB_TEST_REDIS", ChaosConfig.redis))
    ap.add_argument("--logs", type=Path, help="keep the nodes' logs in this directory")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args()
    for url in (args.pg, args.redis):
        host = urlparse(url.replace("+asyncpg", "")).hostname or ""
        if not host.startswith("127.") and host not in ("localhost", "::1"):
            raise SystemExit(f"loopback only: {url}")
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    cfg = ChaosConfig(
        minutes=args.minutes,
        deputies=args.deputies,
        rate=args.rate,
        seed=seed,
        pg=args.pg,
        redis=args.redis,
        logs=args.logs,
    )
    res = asyncio.run(run_chaos(cfg))
    out = orjson.dumps({"seed": seed, **res.summary()}, option=orjson.OPT_INDENT_2)
    if args.json:
        args.json.write_bytes(out)
    print(out.decode())
    raise SystemExit(1 if res.problems else 0)


if __name__ == "__main__":
    main()
