"""The archive at scale: 1,000,000 stored messages on PostgreSQL.

Generates a session's worth of record in a fresh PostgreSQL database — 500 deputies in
10 delegations, 30 units, one meeting with 20 sittings, 200 notices, 259 items with
their steps, and N messages with correct per-channel hash chains and the receipts the
clients would have sent — by bulk COPY, then starts ``hub serve`` on it (loopback) and
measures through HTTP:

* an archive page (50 messages with their receipts) for a mix of filters and cursors:
  p50/p95/max (target p95 < 200 ms);
* the statistics of the meeting (target < 1 s);
* a full export of the messages as CSV and as JSON Lines: rows/s (target > 50,000);
* ``GET /api/archive/verify`` over the whole log.

The numbers go into the "Archive at scale" section of docs/benchmarks.md (only that
section is replaced). Every phase has a time limit; the whole run takes a few minutes.

    .venv/bin/python -m bench.archive_scale [--messages 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench.common import write_section

REPO = Path(__file__).resolve().parent.parent
PG = os.environ.get("HUB_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
DB = "hub_archive_bench"
START = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
BATCH = 50_000
DEPUTIES, DELEGATIONS, UNITS, SITTINGS, NOTICES = 500, 10, 30, 20, 200
SUGGESTIONS, COMMITS = 224, 35
MARK_START, MARK_END = "<!-- archive-scale:start -->", "<!-- archive-scale:end -->"

WORDS = (
    "关于", "加强", "城区", "交通", "拥堵", "治理", "的建议", "海岛", "公交", "航班",
    "教育", "医疗", "养老", "服务", "体系", "建设", "请各位代表", "准时", "参加", "全体会议",
    "分组审议", "政府工作报告", "预算", "法院", "检察院", "工作报告", "住宿", "安排", "改期",
    "地点", "调整", "下午", "上午", "三点", "会议室", "渔业", "港口", "环境保护", "乡村振兴",
    "就业", "住房", "食品安全", "社区", "防汛", "电力", "供水", "旅游", "文化", "科技",
)  # fmt: skip
RARE = "舟山跨海大桥"  # in about one body in 5,000


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def with_db(url: str, name: str) -> str:
    return url.rpartition("/")[0] + "/" + name


def chain_hash(
    prev: str, channel: str, seq: int, kind: str, sender: int, body: str, ts: str
) -> str:
    h = hashlib.sha256()
    for part in (prev, channel, str(seq), kind, str(sender), body, ts):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the people and the workflows ---------------------------------------------------------


@dataclass
class World:
    deputies: list[int] = field(default_factory=list)
    delegation_of: dict[int, int] = field(default_factory=dict)
    units: list[int] = field(default_factory=list)
    unit_users: list[int] = field(default_factory=list)
    secretariat: int = 0
    supervisor: int = 0
    meeting: int = 0
    notice_times: list[datetime] = field(default_factory=list)


async def seed_people(conn: asyncpg.Connection) -> World:
    w = World()
    now = START - timedelta(days=10)
    dels = [
        await conn.fetchval("INSERT INTO delegations (name) VALUES ($1) RETURNING id", f"代表团{i}")
        for i in range(DELEGATIONS)
    ]
    for i in range(DEPUTIES):
        d = dels[i % DELEGATIONS]
        uid = await conn.fetchval(
            "INSERT INTO users (username, name, role, delegation_id, created_at) "
            "VALUES ($1, $2, 'deputy', $3, $4) RETURNING id",
            f"dep{i}", f"代表{i}", d, now,
        )  # fmt: skip
        w.deputies.append(uid)
        w.delegation_of[uid] = d
    for i in range(UNITS):
        u = await conn.fetchval("INSERT INTO units (name) VALUES ($1) RETURNING id", f"承办单位{i}")
        w.units.append(u)
        w.unit_users.append(
            await conn.fetchval(
                "INSERT INTO users (username, name, role, unit_id, created_at) "
                "VALUES ($1, $2, 'unit', $3, $4) RETURNING id",
                f"unit{i}",
                f"承办员{i}",
                u,
                now,
            )
        )
    for attr, role in (("secretariat", "secretariat"), ("supervisor", "supervisor")):
        uid = await conn.fetchval(
            "INSERT INTO users (username, name, role, created_at) VALUES ($1, $2, $3, $4) "
            "RETURNING id",
            role, role, role, now,
        )  # fmt: skip
        setattr(w, attr, uid)
    w.meeting = await conn.fetchval(
        "INSERT INTO meetings (title, created_at) VALUES ('市第七届人民代表大会第五次会议', $1) "
        "RETURNING id",
        now,
    )
    await conn.copy_records_to_table(
        "meeting_participants",
        records=[(w.meeting, u) for u in [*w.deputies, w.secretariat]],
        columns=["meeting_id", "user_id"],
    )
    return w


async def seed_sittings(conn: asyncpg.Connection, w: World, rnd: random.Random) -> None:
    """20 ended sittings; about 90 % check in, 4 % on approved leave."""
    checks, leaves = [], []
    for i in range(SITTINGS):
        starts = START + timedelta(days=i // 4, hours=2 * (i % 4))
        group = i % 2 == 1
        dele = rnd.choice(list(set(w.delegation_of.values()))) if group else None
        sid = await conn.fetchval(
            "INSERT INTO sittings (meeting_id, kind, title, starts_at, ends_at, place, "
            "delegation_id, created_at) VALUES ($1, $2, $3, $4, $5, '', $6, $7) RETURNING id",
            w.meeting, "group" if group else "plenary", f"第{i + 1}次会议", starts,
            starts + timedelta(hours=2), dele, starts - timedelta(days=1),
        )  # fmt: skip
        for d in w.deputies:
            if dele is not None and w.delegation_of[d] != dele:
                continue
            x = rnd.random()
            if x < 0.9:
                checks.append((sid, d, starts + timedelta(minutes=rnd.randint(-20, 10))))
            elif x < 0.94:
                leaves.append((sid, d, "出差", "approved", starts - timedelta(hours=5)))
    await conn.copy_records_to_table(
        "checkins", records=checks, columns=["sitting_id", "user_id", "ts"]
    )
    await conn.copy_records_to_table(
        "leave_requests",
        records=leaves,
        columns=["sitting_id", "user_id", "reason", "status", "created_at"],
    )


async def seed_items(conn: asyncpg.Connection, w: World, rnd: random.Random) -> int:
    """224 suggestions and 35 commit-to-do items at every stage, with their events."""
    n_events = 0
    for i in range(SUGGESTIONS + COMMITS):
        commit = i >= SUGGESTIONS
        t = START + timedelta(hours=rnd.uniform(0, 96))
        author = rnd.choice(w.deputies)
        lead = rnd.choice(w.units)
        steps: list[tuple[str, str | None, str, dict[str, Any], timedelta, int, str]] = []
        sec, unit_user = w.secretariat, w.unit_users[w.units.index(lead)]
        sign_due = t + timedelta(days=1 if commit else 9)
        reply_due = t + timedelta(days=3 if commit else 90)
        hand = {
            "lead_unit_id": lead, "co_unit_ids": [], "complex": False,
            "sign_due": iso(sign_due), "reply_due": iso(reply_due), "co_opinion_due": None,
        }  # fmt: skip
        if commit:
            steps.append(("hand_over", None, "assigned", hand, timedelta(0), sec, "secretariat"))
        else:
            steps.append(
                ("submit", None, "submitted", {"title": "建议"}, timedelta(0), author, "deputy")
            )
            steps.append(
                (
                    "accept",
                    "submitted",
                    "accepted",
                    {},
                    timedelta(hours=rnd.uniform(2, 48)),
                    sec,
                    "secretariat",
                )
            )
            steps.append(
                (
                    "hand_over",
                    "accepted",
                    "assigned",
                    hand,
                    timedelta(hours=rnd.uniform(1, 24)),
                    sec,
                    "secretariat",
                )
            )
        steps.append(
            (
                "sign",
                "assigned",
                "in_progress",
                {},
                timedelta(hours=rnd.uniform(0.2, 40)),
                unit_user,
                "unit",
            )
        )
        steps.append(
            (
                "reply",
                "in_progress",
                "replied",
                {"grade": "A", "text": "已办理"},
                timedelta(hours=rnd.uniform(1, 80)),
                unit_user,
                "unit",
            )
        )
        rating = rnd.choice(("satisfied", "satisfied", "basically_satisfied", "unsatisfied"))
        to = "rehandling" if rating == "unsatisfied" else "closed"
        steps.append(("evaluate", "replied", to, {"rating": rating}, timedelta(hours=rnd.uniform(1, 30)), author, "deputy"))  # fmt: skip
        keep = rnd.randint(1, len(steps))  # how far this item got
        steps = steps[:keep]
        at = t
        times = []
        for s in steps:
            at += s[4]
            times.append(at)
        state = steps[-1][2]
        item = await conn.fetchval(
            "INSERT INTO items (kind, meeting_id, title, text, state, round, complex, created_by,"
            " created_at, updated_at, handed_over_at, sign_due, reply_due, closed_at) VALUES "
            "($1, $2, $3, $4, $5, 1, false, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            "commit" if commit else "suggestion", w.meeting, f"事项{i}", "内容", state,
            sec if commit else author, t, times[-1], t, sign_due, reply_due,
            times[-1] if state == "closed" else None,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO item_units (item_id, unit_id, role, assigned_at) VALUES ($1, $2, 'lead', $3)",
            item, lead, t,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO item_deputies (item_id, deputy_id, role, status) VALUES ($1, $2, $3, 'confirmed')",
            item, author, "opinion" if commit else "author",
        )  # fmt: skip
        await conn.copy_records_to_table(
            "item_events",
            records=[
                (
                    item,
                    a,
                    actor,
                    role,
                    lead if role == "unit" else None,
                    frm,
                    to_,
                    1,
                    json.dumps(p, ensure_ascii=False),
                    tm,
                )
                for (a, frm, to_, p, _, actor, role), tm in zip(steps, times, strict=True)
            ],
            columns=[
                "item_id",
                "action",
                "actor_id",
                "actor_role",
                "actor_unit_id",
                "from_state",
                "to_state",
                "round",
                "payload",
                "at",
            ],
        )
        if steps[-1][0] == "evaluate":
            await conn.execute(
                "INSERT INTO item_evaluations (item_id, round, deputy_id, rating, at) "
                "VALUES ($1, 1, $2, $3, $4)",
                item, author, rating, times[-1],
            )  # fmt: skip
        n_events += len(steps)
    return n_events


# -- the log --------------------------------------------------------------------------------


@dataclass
class Log:
    """The message stream being generated: per channel its head and last hash."""

    heads: dict[str, int] = field(default_factory=dict)
    last: dict[str, str] = field(default_factory=dict)
    notice_seqs: list[tuple[int, int, datetime]] = field(default_factory=list)  # (notice, seq, ts)


def messages(w: World, n: int, rnd: random.Random, log: Log) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of message rows in time (and id) order, each chained to its channel."""
    span = timedelta(days=30).total_seconds()
    notice_at = sorted(rnd.sample(range(n), NOTICES))
    next_notice = 0
    desk, meeting = f"desk:{w.meeting}", f"meeting:{w.meeting}"
    batch: list[tuple[Any, ...]] = []
    for i in range(n):
        ts = START + timedelta(seconds=span * i / n)
        text = "".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 14)))
        if rnd.random() < 0.0002:
            text += RARE
        if next_notice < NOTICES and notice_at[next_notice] == i:
            next_notice += 1
            channel, kind, sender, srole = meeting, "notice", w.secretariat, "secretariat"
            body = {"notice": next_notice, "meeting": w.meeting, "title": "会议通知", "text": text}
        else:
            x = rnd.random()
            body = {"text": text, "n": i}
            if x < 0.05:
                channel, kind = (
                    meeting,
                    rnd.choice(("sitting.created", "agenda.created", "document.added")),
                )
                sender, srole = w.secretariat, "secretariat"
            elif x < 0.15:
                channel, kind = (
                    desk,
                    rnd.choice(("opinion.submitted", "attendance.checked_in", "notice.tally")),
                )
                sender = rnd.choice(w.deputies)
                srole = "deputy"
            elif x < 0.20:
                channel = f"delegation:{rnd.choice(list(set(w.delegation_of.values())))}"
                kind, sender, srole = "speaker.requested", rnd.choice(w.deputies), "deputy"
            elif x < 0.80:
                channel = f"deputy:{rnd.choice(w.deputies)}"
                kind = rnd.choice(
                    ("notice", "item.replied", "item.handed_over", "registration.confirmed")
                )
                sender, srole = w.secretariat, "secretariat"
            else:
                channel = f"unit:{rnd.choice(w.units)}"
                kind = rnd.choice(("item.handed_over", "item.overdue", "item.evaluated"))
                sender, srole = w.secretariat, "secretariat"
        text_body = orjson.dumps(body).decode()
        seq = log.heads.get(channel, 0) + 1
        log.heads[channel] = seq
        digest = chain_hash(
            log.last.get(channel, "0" * 64), channel, seq, kind, sender, text_body, iso(ts)
        )
        log.last[channel] = digest
        if kind == "notice" and channel == meeting:
            log.notice_seqs.append((body["notice"], seq, ts))
        batch.append((i + 1, channel, seq, kind, sender, "", srole, text_body, ts, None, digest))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def load_messages(conn: asyncpg.Connection, w: World, n: int, rnd: random.Random) -> Log:
    log = Log()
    names = {u: f"代表{i}" for i, u in enumerate(w.deputies)}
    names[w.secretariat] = "大会秘书处"
    cols = [
        "id", "channel", "seq", "kind", "sender_id", "sender_name", "sender_role", "body", "ts",
        "idem_key", "hash",
    ]  # fmt: skip
    for batch in messages(w, n, rnd, log):
        rows = [(*r[:5], names.get(r[4], ""), *r[6:]) for r in batch]
        await conn.copy_records_to_table("messages", records=rows, columns=cols)
    await conn.execute("SELECT setval(pg_get_serial_sequence('messages', 'id'), $1)", n)
    await conn.copy_records_to_table(
        "channels", records=list(log.heads.items()), columns=["name", "head"]
    )
    return log


async def load_notices(conn: asyncpg.Connection, w: World, log: Log, rnd: random.Random) -> int:
    """The notices, one delivery per deputy each, and the receipts: 90 % ack each notice
    within minutes (10 % only later, with a later notice), 75 % read it."""
    channel = f"meeting:{w.meeting}"
    deliveries, acks = [], []
    for notice, seq, ts in log.notice_seqs:
        await conn.execute(
            "INSERT INTO notices (id, meeting_id, title, text, urgent, confirm, audience, sent_by,"
            " created_at, addressees) VALUES ($1, $2, '会议通知', '', false, false, "
            "'{\"meeting\": true}', $3, $4, $5)",
            notice, w.meeting, w.secretariat, ts, len(w.deputies),
        )  # fmt: skip
        for d in w.deputies:
            deliveries.append((notice, d, channel, seq, "sent", ts))
            if rnd.random() < 0.9:
                got = ts + timedelta(seconds=rnd.uniform(0.2, 300))
                acks.append((channel, seq, d, "ack", got))
                if rnd.random() < 0.83:
                    acks.append(
                        (channel, seq, d, "read", got + timedelta(seconds=rnd.uniform(5, 3600)))
                    )
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('notices', 'id'), $1)", len(log.notice_seqs)
    )
    await conn.copy_records_to_table(
        "notice_deliveries",
        records=deliveries,
        columns=["notice_id", "user_id", "channel", "seq", "kind", "ts"],
    )
    return await _receipts(conn, acks)


async def load_inbox_receipts(conn: asyncpg.Connection, rnd: random.Random) -> int:
    """Deputies ack their inbox in batches (after about every 5th message) and read half."""
    rows = await conn.fetch(
        "SELECT channel, seq, ts FROM messages WHERE channel LIKE 'deputy:%' ORDER BY channel, seq"
    )
    out = []
    for r in rows:
        uid = int(r["channel"].split(":")[1])
        t = r["ts"] + timedelta(seconds=rnd.uniform(0.1, 60))
        if rnd.random() < 0.2:
            out.append((r["channel"], r["seq"], uid, "ack", t))
        if rnd.random() < 0.5:
            out.append((r["channel"], r["seq"], uid, "read", t + timedelta(seconds=30)))
    return await _receipts(conn, out)


async def _receipts(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> int:
    for i in range(0, len(rows), BATCH):
        await conn.copy_records_to_table(
            "receipts",
            records=rows[i : i + BATCH],
            columns=["channel", "seq", "user_id", "kind", "ts"],
        )
    return len(rows)


# -- measuring --------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]


def archive_queries(w: World, rnd: random.Random) -> list[tuple[str, dict[str, Any], int]]:
    """(type, params, pages to follow) — 24 requests of each type, mixed."""
    out: list[tuple[str, dict[str, Any], int]] = []
    for _ in range(8):
        d = rnd.choice(w.deputies)
        t0 = START + timedelta(days=rnd.uniform(0, 29))
        out += [
            ("channel (a deputy's inbox)", {"channel": f"deputy:{d}"}, 3),
            ("channel (the meeting, 500 recipients)", {"channel": f"meeting:{w.meeting}",
             "since": iso(t0)}, 3),
            ("kind=notice (500 recipients each)", {"kind": "notice"}, 3),
            ("deputy (inbox or sent by)", {"deputy": d}, 3),
            ("unit", {"unit": rnd.choice(w.units)}, 3),
            ("sender", {"sender": rnd.choice(w.deputies)}, 3),
            ("time range (1 hour)", {"since": iso(t0), "until": iso(t0 + timedelta(hours=1))}, 3),
            ("text (common word)", {"q": rnd.choice(("改期", "海岛公交", "乡村振兴"))}, 3),
            ("text (rare phrase)", {"q": RARE}, 3),
            ("meeting + kind", {"meeting": w.meeting, "kind": "opinion.submitted"}, 3),
            ("newest first (no filter)", {"order": "desc"}, 3),
        ]  # fmt: skip
    rnd.shuffle(out)
    return out


async def measure_archive(
    c: httpx.AsyncClient, w: World, rnd: random.Random, deadline: float
) -> dict[str, Any]:
    per: dict[str, list[float]] = {}
    rows = 0
    for kind, params, pages in archive_queries(w, rnd):
        cursor = None
        for _ in range(pages):
            if time.monotonic() > deadline:
                break
            q = {"limit": 50, **params, **({"cursor": cursor} if cursor else {})}
            t = time.perf_counter()
            r = await c.get("/api/archive/messages", params=q)
            ms = (time.perf_counter() - t) * 1000
            r.raise_for_status()
            page = r.json()
            rows += len(page["messages"])
            per.setdefault(kind, []).append(ms)
            cursor = page["next"]
            if not cursor:
                break
    every = [x for v in per.values() for x in v]
    return {
        "requests": len(every),
        "messages_returned": rows,
        "p50_ms": round(pct(every, 50), 1),
        "p95_ms": round(pct(every, 95), 1),
        "max_ms": round(max(every), 1),
        "by_query": {
            k: {
                "n": len(v),
                "p50_ms": round(pct(v, 50), 1),
                "p95_ms": round(pct(v, 95), 1),
                "max_ms": round(max(v), 1),
            }
            for k, v in per.items()
        },
    }


async def measure_statistics(c: httpx.AsyncClient, w: World) -> dict[str, Any]:
    times = []
    body: dict[str, Any] = {}
    for _ in range(7):
        t = time.perf_counter()
        r = await c.get("/api/statistics", params={"meeting": w.meeting})
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        body = r.json()
    return {
        "p50_ms": round(pct(times, 50), 1),
        "max_ms": round(max(times), 1),
        "items": body["suggestions"]["received"] + body["commit_items"]["assigned"],
        "notice_addressees": body["notices"]["addressees"],
        "attendance_expected": body["attendance"]["expected"],
    }


async def measure_export(c: httpx.AsyncClient, fmt: str, params: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    rows = 0
    size = 0
    first_byte = None
    async with c.stream(
        "GET", "/api/archive/export/messages", params={"format": fmt, **params}, timeout=600
    ) as r:
        r.raise_for_status()
        async for chunk in r.aiter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - t
            rows += chunk.count(b"\n")  # no line break inside a row: bodies are JSON
            size += len(chunk)
    s = time.perf_counter() - t
    if fmt == "csv":
        rows -= 1  # the header
    return {
        "rows": rows,
        "seconds": round(s, 2),
        "rows_per_s": round(rows / s),
        "mb": round(size / 1e6, 1),
        "first_byte_ms": round((first_byte or 0) * 1000, 1),
    }


# -- running ----------------------------------------------------------------------------------


async def build(n: int, seed: int) -> tuple[World, dict[str, Any]]:
    admin = await asyncpg.connect(plain(PG))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DB}"')
    finally:
        await admin.close()
    from hub.store.migrate import upgrade

    url = with_db(PG, DB)
    await asyncio.to_thread(upgrade, url)
    rnd = random.Random(seed)
    conn = await asyncpg.connect(plain(url))
    timings: dict[str, Any] = {}
    try:
        t = time.perf_counter()
        w = await seed_people(conn)
        await seed_sittings(conn, w, rnd)
        timings["item_events"] = await seed_items(conn, w, rnd)
        t1 = time.perf_counter()
        log = await load_messages(conn, w, n, rnd)
        timings["messages_load_s"] = round(time.perf_counter() - t1, 1)
        timings["channels"] = len(log.heads)
        t1 = time.perf_counter()
        timings["receipts"] = await load_notices(conn, w, log, rnd)
        timings["receipts"] += await load_inbox_receipts(conn, rnd)
        timings["receipts_load_s"] = round(time.perf_counter() - t1, 1)
        await conn.execute("VACUUM ANALYZE")
        timings["build_s"] = round(time.perf_counter() - t, 1)
        timings["database_mb"] = round(
            await conn.fetchval("SELECT pg_database_size(current_database())") / 1e6
        )
    finally:
        await conn.close()
    return w, timings


class Server:
    """``python -m hub serve`` on the bench database, loopback, port picked by the OS."""

    def __init__(self, secret: str, data_dir: Path) -> None:
        env = {
            **os.environ,
            "HUB_DATABASE_URL": with_db(PG, DB),
            "HUB_SECRET": secret,
            "HUB_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", "0", "--log-level", "warning"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m is None:
            self.stop()
            raise RuntimeError(f"hub did not start: {line!r}")
        self.url = f"http://127.0.0.1:{m.group(1)}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        if self.proc.poll() is None:
            self.proc.kill()


async def run(n: int, seed: int, keep: bool) -> dict[str, Any]:
    started = datetime.now(UTC)
    load_before = [round(x, 1) for x in os.getloadavg()]
    t = time.perf_counter()
    w, built = await asyncio.wait_for(build(n, seed), 420)
    print(f"built {n:,} messages in {built['build_s']} s: {built}", flush=True)
    secret = secrets.token_urlsafe(24)
    from hub.auth import Tokens

    token = Tokens(secret, 3600).issue(w.supervisor, 0)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(secret, Path(tmp))
        try:
            async with httpx.AsyncClient(
                base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=60
            ) as c:
                for _ in range(100):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await c.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                await c.get("/api/archive/messages", params={"limit": 5})  # warm the pool
                rnd = random.Random(seed + 1)
                archive = await measure_archive(c, w, rnd, time.monotonic() + 180)
                print(f"archive: p95 {archive['p95_ms']} ms", flush=True)
                stats = await measure_statistics(c, w)
                print(f"statistics: {stats}", flush=True)
                csv_ = await measure_export(c, "csv", {})
                print(f"export csv: {csv_}", flush=True)
                jsonl = await measure_export(c, "jsonl", {})
                print(f"export jsonl: {jsonl}", flush=True)
                t1 = time.perf_counter()
                v = await c.get("/api/archive/verify", timeout=300)
                verify = {
                    "seconds": round(time.perf_counter() - t1, 1),
                    **{k: v.json()[k] for k in ("ok", "channels", "messages")},
                }
                print(f"verify: {verify}", flush=True)
        finally:
            server.stop()
    if not keep:
        admin = await asyncpg.connect(plain(PG))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        finally:
            await admin.close()
    return {
        "load_before": load_before,
        "load_after": [round(x, 1) for x in os.getloadavg()],
        "started": started.isoformat(timespec="seconds"),
        "total_s": round(time.perf_counter() - t, 1),
        "messages": n,
        "build": built,
        "archive": archive,
        "statistics": stats,
        "export_csv": csv_,
        "export_jsonl": jsonl,
        "verify": verify,
    }


def section(r: dict[str, Any]) -> str:
    """The Markdown of the "Archive at scale" section."""
    a, s, b = r["archive"], r["statistics"], r["build"]
    found = re.search(
        r"\d+(\.\d+)?",
        subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout,
    )
    pg = f"PostgreSQL {found.group(0)}" if found else "PostgreSQL"
    ok = lambda good: "✅" if good else "❌"  # noqa: E731
    L = [
        MARK_START,
        "## Archive at scale (supervision)",
        "",
        f"Generated by `python -m bench.archive_scale --messages {r['messages']}` on "
        f"{r['started']} (UTC), {r['total_s']} s in all. {pg} on this machine, "
        "the hub as `hub serve` (one process, default settings) on 127.0.0.1, requests one "
        "at a time from one client with a supervisor's token. The machine was shared: load "
        f"average {r['load_before'][0]} before the run and {r['load_after'][0]} after it "
        f"(on {os.cpu_count()} cores).",
        "",
        f"The record: {r['messages']:,} messages in {b['channels']:,} channels with correct "
        f"hash chains, {b['receipts']:,} receipts, {DEPUTIES} deputies, {UNITS} units, "
        f"{NOTICES} notices to all deputies, {SITTINGS} sittings, {SUGGESTIONS + COMMITS} "
        f"items with {b['item_events']:,} steps; {b['database_mb']:,} MB on disk. Generated "
        f"in Python and loaded with COPY in {b['build_s']} s "
        f"(messages {b['messages_load_s']} s, receipts {b['receipts_load_s']} s).",
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        f"| archive page (50 messages with receipts), p95 | {a['p95_ms']} ms (p50 "
        f"{a['p50_ms']}, max {a['max_ms']}; {a['requests']} requests) | < 200 ms | "
        f"{ok(a['p95_ms'] < 200)} |",
        f"| statistics of the meeting | {s['p50_ms']} ms (max {s['max_ms']}) | < 1 s | "
        f"{ok(s['max_ms'] < 1000)} |",
        f"| export CSV, all messages | {r['export_csv']['rows_per_s']:,} rows/s "
        f"({r['export_csv']['rows']:,} rows, {r['export_csv']['mb']} MB in "
        f"{r['export_csv']['seconds']} s; first byte {r['export_csv']['first_byte_ms']} ms) "
        f"| > 50,000 rows/s | {ok(r['export_csv']['rows_per_s'] > 50_000)} |",
        f"| export JSON Lines, all messages | {r['export_jsonl']['rows_per_s']:,} rows/s "
        f"({r['export_jsonl']['mb']} MB in {r['export_jsonl']['seconds']} s) | > 50,000 rows/s "
        f"| {ok(r['export_jsonl']['rows_per_s'] > 50_000)} |",
        f"| `GET /api/archive/verify` (every chain) | {r['verify']['seconds']} s for "
        f"{r['verify']['messages']:,} messages in {r['verify']['channels']:,} channels, ok = "
        f"{r['verify']['ok']} | | |",
        "",
        "Archive pages by filter (each query followed for up to 3 pages by its cursor):",
        "",
        "| filter | requests | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        *(
            f"| {k} | {v['n']} | {v['p50_ms']} | {v['p95_ms']} | {v['max_ms']} |"
            for k, v in sorted(a["by_query"].items())
        ),
        "",
        f"Machine: `nproc` = {os.cpu_count()}, Python {platform.python_version()}.",
        MARK_END,
    ]
    return "\n".join(L)


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = ap.parse_args()
    result = asyncio.run(run(args.messages, args.seed, args.keep))
    write_section(args.out, section(result), MARK_START, MARK_END)
    if args.json:
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"wrote the archive section of {args.out}")


if __name__ == "__main__":
    cli()
