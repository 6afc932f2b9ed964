"""Committed raw publishes per second on ONE channel, on PostgreSQL, through
``Node.publish`` (the path of ``/ws`` ``publish`` and ``POST /api/channels/{c}/messages``
after parsing and permissions), and the latency of one publish at a time.

    python -m bench.publish_rate --publishers 32 --seconds 5 --json out.json

Each run makes a fresh migrated database (through ``HUB_BENCH_PG_ADMIN``) and drops it.
Phases: one publisher awaiting each publish (latency p50/p99); then ``--publishers``
publishers, each awaiting each of its publishes, for ``--seconds`` (answered publishes a
second, the hub process's CPU, the PostgreSQL sessions opened meanwhile). At the end the
log is checked: seqs 1..N with no gap and the hash chain intact (``verify_log``). The
database first gets ``--history`` messages on other channels and its statistics
(see ``_seed``).

It imports ``hub`` from wherever Python finds it first, so the same script measures
another checkout: ``PYTHONPATH=/path/to/other/checkout python bench/publish_rate.py``
(the report names the ``hub`` it ran).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
from typing import Any

import asyncpg

import hub
from hub.auth import Principal
from hub.broker.memory import MemoryBroker
from hub.metrics import Metrics
from hub.node import Node
from hub.store.engine import make_engine
from hub.store.log import MessageLog
from hub.store.migrate import upgrade
from hub.supervision.verify import verify_log

PG_BASE = os.environ.get("HUB_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
PG_ADMIN = os.environ.get(
    "HUB_BENCH_PG_ADMIN", PG_BASE.replace("postgresql+asyncpg://", "postgresql://") + "/test"
)
CH = "meeting:1"
SEC = Principal(id=1, name="秘书处", role="secretariat")
PAD = "会议通知" * 60  # a ~300-byte notice, as in the fan-out scenarios


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def _sessions(admin: asyncpg.Connection, db: str) -> int:
    """Sessions PostgreSQL has opened on ``db`` so far (PostgreSQL 14+)."""
    return int(await admin.fetchval("SELECT sessions FROM pg_stat_database WHERE datname=$1", db))


async def _seed(url: str, history: int) -> None:
    """A log that has lived a while: ``history`` messages on other channels, and table
    statistics (as autovacuum keeps them). On an empty table PostgreSQL plans the
    prepared lookups for a handful of rows (scans) and keeps those plans until the first
    ANALYZE, which measures the planner, not the hub."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            "INSERT INTO messages (channel, seq, kind, sender_id, sender_name, sender_role,"
            " body, ts, idem_key, hash) SELECT 'unit:' || (g % 50 + 1), g / 50 + 1, 'notice',"
            " 1, 'x', 'secretariat', '{}', now(), 'h' || g, md5(g::text)"
            " FROM generate_series(0, $1 - 1) g",
            history,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def run(publishers: int, seconds: float, single: int, history: int) -> dict[str, Any]:
    db = f"hubbench_rate_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = f"{PG_BASE}/{db}"
    try:
        await asyncio.to_thread(upgrade, url)
        await _seed(url, history)
        node = Node(MessageLog(make_engine(url)), MemoryBroker(), Metrics(), 60.0)
        n = 0

        async def publish() -> None:
            nonlocal n
            n += 1
            await node.publish(CH, "notice", SEC, {"n": n, "text": PAD}, f"k{n}")

        for _ in range(20):  # warm the pool and the statement caches
            await publish()
        lat = []
        for _ in range(single):
            t0 = time.perf_counter()
            await publish()
            lat.append((time.perf_counter() - t0) * 1000)

        done = 0
        end = 0.0

        async def publisher() -> None:
            nonlocal done
            while time.perf_counter() < end:
                await publish()
                done += 1

        s0 = await _sessions(admin, db)
        c0, w0 = time.process_time(), time.perf_counter()
        end = w0 + seconds
        await asyncio.gather(*(publisher() for _ in range(publishers)))
        wall = time.perf_counter() - w0
        cpu = time.process_time() - c0
        opened = await _sessions(admin, db) - s0

        head = await node.log.head(CH)
        report = await verify_log(node.log.engine, CH)
        await node.stop()
        await node.log.engine.dispose()
        return {
            "hub": os.path.dirname(os.path.dirname(hub.__file__)),
            "publishers": publishers,
            "committed_per_s": round(done / wall, 1),
            "hub_cores": round(cpu / wall, 2),
            "pg_sessions_opened": opened,
            "single_p50_ms": round(statistics.median(lat), 3),
            "single_p99_ms": round(_pct(lat, 0.99), 3),
            "stored": head,
            "answered": n,
            "history": history,
            "chain_ok": report.breaks == [] and report.messages == head == n,
        }
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--publishers", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--single", type=int, default=300, help="publishes one at a time")
    ap.add_argument("--history", type=int, default=20000, help="messages on other channels")
    ap.add_argument("--json", help="also write the result here")
    a = ap.parse_args()
    out = asyncio.run(run(a.publishers, a.seconds, a.single, a.history))
    print(json.dumps(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
