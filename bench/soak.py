"""Soak: a bounded run against one hub process, on loopback, with connections churning.

For ``duration`` seconds the secretariat publishes notices to the meeting at a steady
rate; every deputy follows the meeting, acknowledges each notice (and reads every tenth),
sends an opinion through the opinions API now and then (the hub puts it on the
secretariat desk), and drops its connection after a
random lifetime to resume with ``since``; short-lived connections come and go beside
them; the secretariat follows the desk. Meanwhile the hub's resident memory is sampled.

At the end every deputy must hold every notice exactly once, in order, across all its
reconnections; every receipt must be confirmed; the desk must hold every opinion; no
error may have been answered; and the memory after warm-up must stay flat: the
least-squares slope of the samples (one a second) after warm-up is bounded. A slope,
not the growth between two points, so that a small steady leak (0.25 MB/s once came
from a query cache) stands out of the noise of the allocator's steps.

``tests/faults/test_soak.py`` runs it for 75 s (three minutes with
``HUB_TEST_LONG=1``); run it here for longer:

  python -m bench.soak --duration 180 --deputies 40 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 10.0


@dataclass
class SoakConfig:
    duration: float = 60.0
    warmup: float = 15.0
    rate: float = 20.0  # notices a second
    lifetime: float = 6.0  # mean seconds a deputy's connection lives before it drops
    opinion_every: int = 25  # a deputy sends an opinion about every this many notices
    churners: int = 4  # tasks opening and closing short connections
    max_slope: float = 0.05 * 2**20  # bytes a second the memory may grow after warm-up
    min_samples: int = 20  # memory samples after warm-up, for a slope worth the name


@dataclass
class SoakResult:
    duration: float = 0.0
    notices: int = 0
    deliveries: int = 0
    reconnects: int = 0
    short_connections: int = 0
    receipts_confirmed: int = 0
    receipts_unconfirmed: int = 0
    opinions: int = 0
    desk_received: int = 0
    errors: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds, bytes)
    rss_after_warmup: int = 0
    rss_end: int = 0
    rss_samples: int = 0  # samples after warm-up
    rss_slope: float = 0.0  # bytes a second, least squares over the samples after warm-up
    max_slope: float = 0.0
    min_samples: int = 0

    @property
    def rss_growth(self) -> int:
        return self.rss_end - self.rss_after_warmup

    def problems(self) -> list[str]:
        out = list(self.errors)
        if self.receipts_unconfirmed:
            out.append(f"{self.receipts_unconfirmed} receipts never confirmed")
        if self.desk_received != self.opinions:
            out.append(f"desk holds {self.desk_received} of {self.opinions} opinions")
        if self.rss_samples < self.min_samples:
            out.append(
                f"{self.rss_samples} memory samples after warm-up, fewer than "
                f"{self.min_samples}: no slope measured"
            )
        elif self.rss_slope > self.max_slope:
            out.append(
                f"memory grew {self.rss_slope / 2**20:.3f} MiB/s after warm-up "
                f"(bound {self.max_slope / 2**20:.3f} MiB/s)"
            )
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration, 1),
            "notices": self.notices,
            "deliveries": self.deliveries,
            "reconnects": self.reconnects,
            "short_connections": self.short_connections,
            "receipts_confirmed": self.receipts_confirmed,
            "opinions": self.opinions,
            "rss_after_warmup_mib": round(self.rss_after_warmup / 2**20, 1),
            "rss_end_mib": round(self.rss_end / 2**20, 1),
            "rss_growth_mib": round(self.rss_growth / 2**20, 1),
            "rss_slope_mib_per_s": round(self.rss_slope / 2**20, 4),
            "rss_mib_every_10s": [round(b / 2**20) for t, b in self.rss[::10]],
            "problems": self.problems(),
        }


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def _open(url: str, token: str) -> ClientConnection:
    ws = await connect(url, open_timeout=TIMEOUT, max_size=None)
    await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
    welcome = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    if welcome["type"] != "welcome":
        raise RuntimeError(f"not welcomed: {welcome}")
    return ws


class _Run:
    def __init__(
        self, url: str, pid: int, channel: str, desk: str, cfg: SoakConfig, res: SoakResult
    ) -> None:
        self.url = url
        self.pid = pid
        self.channel = channel
        self.desk = desk
        self.cfg = cfg
        self.res = res
        self.publishing = True
        self.published = 0  # highest seq acknowledged to the secretariat
        self.stop = asyncio.Event()
        self.stopped_at = 0.0

    async def publisher(self, token: str) -> None:
        ws = await _open(self.url, token)
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < self.cfg.duration:
            frame = {"type": "publish", "channel": self.channel, "kind": "bulletin"}
            frame |= {"body": {"i": i, "text": "会议室改在二楼"}, "key": f"soak{i}"}
            await ws.send(orjson.dumps(frame).decode())
            r = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            if r["type"] != "published":
                self.res.errors.append(f"publish {i}: {r}")
            else:
                self.published = max(self.published, r["seq"])
            i += 1
            await asyncio.sleep(max(0.0, t0 + i / self.cfg.rate - time.monotonic()))
        self.res.notices = self.published
        self.publishing = False
        await ws.close()

    async def deputy(self, n: int, token: str) -> None:
        """Follow the meeting across reconnections until every notice is held."""
        rnd = random.Random(n)
        last = 0
        pending: set[tuple[str, int]] = set()
        opinions: set[asyncio.Task[None]] = set()  # sent, not answered yet
        first = True
        api = httpx.AsyncClient(
            base_url=self.url.replace("ws", "http", 1).removesuffix("/ws"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
            # Forget an idle connection before uvicorn's keep-alive timeout (5 s) closes it:
            # a request sent on one the server is closing that instant ends in ReadError.
            limits=httpx.Limits(keepalive_expiry=2.0),
        )

        def unfinished() -> bool:
            return self.publishing or last < self.published or bool(pending or opinions)

        while unfinished():
            if not first:
                self.res.reconnects += 1
            first = False
            ws = await _open(self.url, token)
            await ws.send(
                orjson.dumps({"type": "subscribe", "channel": self.channel, "since": last}).decode()
            )
            for what, seq in sorted(pending):  # unconfirmed before the drop: send again
                await ws.send(
                    orjson.dumps({"type": what, "channel": self.channel, "seq": seq}).decode()
                )
            drop_at = time.monotonic() + rnd.expovariate(1 / self.cfg.lifetime)
            try:
                while time.monotonic() < drop_at and unfinished():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    f = orjson.loads(raw)
                    if f["type"] == "message":
                        if f["seq"] != last + 1:
                            self.res.errors.append(f"deputy {n}: seq {f['seq']} after {last}")
                        last = f["seq"]
                        self.res.deliveries += 1
                        sends = [("ack", last)] + ([("read", last)] if last % 10 == 0 else [])
                        for what, seq in sends:
                            pending.add((what, seq))
                            frame = {"type": what, "channel": self.channel, "seq": seq}
                            await ws.send(orjson.dumps(frame).decode())
                        if rnd.randrange(self.cfg.opinion_every) == 0:
                            t = asyncio.create_task(self.opinion(api, n, last))
                            opinions.add(t)
                            t.add_done_callback(opinions.discard)
                    elif f["type"] == "receipt":
                        if (f["of"], f["seq"]) in pending:
                            pending.discard((f["of"], f["seq"]))
                            self.res.receipts_confirmed += 1
                    elif f["type"] != "subscribed":
                        self.res.errors.append(f"deputy {n}: {f}")
            except websockets.ConnectionClosed as e:
                self.res.errors.append(f"deputy {n}: closed by the server {e}")
            await ws.close()
        await api.aclose()
        if last != self.published:
            self.res.errors.append(f"deputy {n} ended at {last} of {self.published}")
        self.res.receipts_unconfirmed += len(pending)

    async def opinion(self, api: httpx.AsyncClient, n: int, seq: int) -> None:
        """Deputies publish nothing raw: an opinion goes through the opinions API."""
        meeting = int(self.desk.split(":")[1])
        text = f"建议增加公交线路（{n}-{seq}）"
        try:
            r = await api.post("/api/opinions", json={"meeting_id": meeting, "text": text})
        except httpx.HTTPError as e:
            self.res.errors.append(f"deputy {n}: opinion not sent: {e!r}")
            return
        if r.status_code == 201:
            self.res.opinions += 1
        else:
            self.res.errors.append(f"deputy {n}: opinion answered {r.status_code} {r.text}")

    async def desk_follower(self, token: str) -> None:
        ws = await _open(self.url, token)
        await ws.send(orjson.dumps({"type": "subscribe", "channel": self.desk}).decode())
        last = None
        while not (self.stop.is_set() and self.res.desk_received >= self.res.opinions):
            try:
                f = orjson.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                if self.stop.is_set() and time.monotonic() > self.stopped_at + TIMEOUT:
                    break
                continue
            if f["type"] == "message":
                if last is not None and f["seq"] != last + 1:
                    self.res.errors.append(f"desk: seq {f['seq']} after {last}")
                last = f["seq"]
                # The hub also writes to the desk by itself (presence, tallies).
                self.res.desk_received += f["kind"] == "opinion.submitted"
        await ws.close()

    async def churner(self, token: str) -> None:
        while self.publishing:
            ws = await _open(self.url, token)
            await ws.send('{"type":"ping"}')
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            await ws.close()
            self.res.short_connections += 1
            await asyncio.sleep(0.05)

    async def sampler(self) -> None:
        t0 = time.monotonic()
        while self.publishing:
            self.res.rss.append((time.monotonic() - t0, rss(self.pid)))
            await asyncio.sleep(1.0)


async def run_soak(
    ws_url: str,
    pid: int,
    channel: str,
    desk: str,
    publisher: str,
    deputies: list[str],
    cfg: SoakConfig,
) -> SoakResult:
    """Run the load against a hub already serving ``ws_url`` (process ``pid``)."""
    res = SoakResult()
    run = _Run(ws_url, pid, channel, desk, cfg, res)
    t0 = time.monotonic()
    follower = asyncio.create_task(run.desk_follower(publisher))
    others = [
        asyncio.create_task(run.sampler()),
        *(
            asyncio.create_task(run.churner(deputies[i % len(deputies)]))
            for i in range(cfg.churners)
        ),
    ]
    deps = [asyncio.create_task(run.deputy(i, t)) for i, t in enumerate(deputies)]
    await run.publisher(publisher)
    try:
        await asyncio.wait_for(asyncio.gather(*deps, *others), TIMEOUT * 3)
    except TimeoutError:
        res.errors.append("deputies did not catch up within the time limit")
    run.stop.set()
    run.stopped_at = time.monotonic()
    await asyncio.wait_for(follower, TIMEOUT * 2)
    res.duration = time.monotonic() - t0
    after = [(t, b) for t, b in res.rss if t >= cfg.warmup]
    res.rss_samples, res.max_slope, res.min_samples = len(after), cfg.max_slope, cfg.min_samples
    if len(after) >= 2:
        res.rss_slope = rss_slope(after)
        res.rss_after_warmup = after[0][1]
        res.rss_end = after[-1][1]
    return res


def rss_slope(samples: list[tuple[float, int]]) -> float:
    """The least-squares slope of ``(seconds, bytes)`` samples, in bytes a second."""
    ts, bs = zip(*samples, strict=True)
    return statistics.linear_regression(ts, [float(b) for b in bs]).slope


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--warmup", type=float, default=30.0)
    ap.add_argument("--deputies", type=int, default=40)
    ap.add_argument("--rate", type=float, default=20.0, help="notices a second")
    args = ap.parse_args()

    from bench.hub_fixture import hub_env, prepare

    secret = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        seeded = prepare(data, args.deputies, secret)
        env = {**os.environ, **hub_env(data, secret), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", "0", "--log-level", "warning"],
            env=env,
            stdout=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            port = line.split("http://127.0.0.1:")[1].split("/")[0]
            ws_url = f"ws://127.0.0.1:{port}/ws"
            meeting = seeded["channel"].split(":")[1]
            cfg = SoakConfig(duration=args.duration, warmup=args.warmup, rate=args.rate)
            res = asyncio.run(
                run_soak(
                    ws_url,
                    proc.pid,
                    seeded["channel"],
                    f"desk:{meeting}",
                    seeded["publisher"],
                    seeded["subscribers"],
                    cfg,
                )
            )
        finally:
            proc.terminate()
            proc.wait(TIMEOUT * 2)
    print(orjson.dumps(res.summary(), option=orjson.OPT_INDENT_2).decode())
    raise SystemExit(1 if res.problems() else 0)


if __name__ == "__main__":
    main()
