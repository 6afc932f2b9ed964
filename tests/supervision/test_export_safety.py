"""Exports are safe to open and safe to serve: no cell runs as a spreadsheet formula, and
a batch is bounded in bytes, not only in rows."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from hub.config import Settings
from hub.session.attendance import request_leave
from hub.session.meetings import create_sitting
from hub.session.members import load_member
from hub.session.notices import send_notice
from hub.session.schema import units, users
from hub.store.engine import make_engine
from hub.store.log import append
from hub.supervision import export
from hub.supervision.archive import Filters
from tests.supervision.helpers import http, publish, receipt
from tests.utils.client import Client
from tests.utils.factories import SECRET, World, make_world
from tests.utils.items import Api
from tests.utils.servers import HubProcess, RunningHub, running_hub

# What OWASP lists as formula starts, and the full-width forms Excel and WPS also run.
FORMULA_START = tuple("=+-@\t\r＝＋－＠")
SEC_NAME = "=cmd|' /C calc'!A0"
DEPUTY_NAME = "+SUM(1,1)"
UNIT_USER_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"
UNIT_NAME = '＝HYPERLINK("http://evil.example")'
TITLE = '=HYPERLINK("http://evil.example","点击")'
LEAVE = "-2+3+cmd|' /C calc'!A0"


csv.field_size_limit(1 << 24)  # the large-row test's bodies are over the 128 KiB default


def _rows(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


async def _name_everyone_hostile(db_url: str, world: World) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            for uid, name in (
                (world.secretariat, SEC_NAME),
                (world.deputies[0], DEPUTY_NAME),
                (world.unit_users[0], UNIT_USER_NAME),
            ):
                await conn.execute(users.update().where(users.c.id == uid).values(name=name))
            await conn.execute(
                units.update().where(units.c.id == world.units[0]).values(name=UNIT_NAME)
            )
    finally:
        await engine.dispose()


async def _messages(hub: RunningHub, world: World) -> None:
    await publish(hub, world, f"meeting:{world.meeting}", {"text": "通知"})


async def _receipts(hub: RunningHub, world: World) -> None:
    ch = f"meeting:{world.meeting}"
    await publish(hub, world, ch, {"text": "通知"})
    await receipt(hub, world, world.deputies[0], "ack", ch, 1)


async def _items(hub: RunningHub, world: World) -> None:
    async with Api(hub, world) as api:
        item = await api.commit_item([world.deputies[0]], lead=world.units[0], title=TITLE)
        await api.post(world.unit_users[0], f"/api/items/{item['id']}/sign")


async def _attendance(hub: RunningHub, world: World) -> None:
    node, engine = hub.services.node, hub.services.engine
    sec = await load_member(engine, world.secretariat)
    dep = await load_member(engine, world.deputies[0])
    start = datetime.now(UTC) + timedelta(hours=1)
    s = await create_sitting(node, sec, world.meeting, "plenary", TITLE, start)
    await request_leave(node, dep, s["id"], LEAVE)


async def _notices(hub: RunningHub, world: World) -> None:
    sec = await load_member(hub.services.engine, world.secretariat)
    await send_notice(hub.services.node, sec, world.meeting, TITLE, "正文")


# dataset: (what puts hostile text in it, the column and the hostile value it must hold)
CASES: dict[str, tuple[Callable[[RunningHub, World], Awaitable[None]], str, str]] = {
    "messages": (_messages, "sender_name", SEC_NAME),
    "receipts": (_receipts, "user_name", DEPUTY_NAME),
    "items": (_items, "title", TITLE),
    "item_events": (_items, "actor_name", UNIT_USER_NAME),
    "attendance": (_attendance, "leave_reason", LEAVE),
    "notices": (_notices, "title", TITLE),
}


@pytest.mark.parametrize("dataset", list(CASES))
async def test_no_csv_cell_starts_a_formula(
    dataset: str, settings: Settings, world: World, db_url: str
) -> None:
    """Names, titles, leave reasons and replies that start like a formula (= + - @, tab,
    CR, full-width) are written with a leading ' in every CSV export; JSON Lines keeps
    them as they are."""
    setup, column, value = CASES[dataset]
    assert tuple(CASES) == export.DATASETS  # a new export gets a case here
    await _name_everyone_hostile(db_url, world)
    async with running_hub(settings) as hub:
        await setup(hub, world)
        async with http(hub, world, world.supervisor) as c:
            params = {"meeting": world.meeting} if dataset == "attendance" else {}
            r = await c.get(f"/api/archive/export/{dataset}", params=params)
            lines = await c.get(
                f"/api/archive/export/{dataset}", params={**params, "format": "jsonl"}
            )
    assert r.status_code == 200, r.text
    rows = _rows(r.content)
    assert "'" + value in [row[column] for row in rows]
    risky = [v for row in rows for v in row.values() if v.startswith(FORMULA_START)]
    assert risky == []
    assert orjson.dumps(value)[1:-1] in lines.content  # as a JSON string, unaltered


def test_csv_cells_keep_numbers_and_plain_text() -> None:
    """Numbers, empty cells and text that starts with anything else are written as given."""
    row = [-5, 3.5, None, "", "代表", "a=b", "'quoted", "＝x", "\tx", "\rx"]
    got = next(csv.reader(io.StringIO(export.csv_text([row]), newline="")))
    assert got == ["-5", "3.5", "", "", "代表", "a=b", "'quoted", "'＝x", "'\tx", "'\rx"]


async def test_a_batch_of_large_rows_is_cut_by_bytes(db_url: str, world: World) -> None:
    """Rows of 300 KiB each: a batch stops at about BATCH_BYTES, not at BATCH rows, and the
    export still has every row once."""
    engine = make_engine(db_url)
    try:
        sec = await load_member(engine, world.secretariat)
        ch = f"meeting:{world.meeting}"
        async with engine.begin() as conn:
            for i in range(12):
                await append(conn, ch, "notice", sec, {"i": i, "text": "x" * 300_000})
        ds = export.dataset("messages", Filters(channel=ch))
        chunks = [c async for c in export.stream(engine, ds, "csv")]
    finally:
        await engine.dispose()
    assert len(chunks) > 3  # the header, then several batches of ~1 MiB of text
    assert max(map(len, chunks)) < 2 * export.BATCH_BYTES
    assert [int(r["seq"]) for r in _rows(b"".join(chunks))] == list(range(1, 13))


def _rss(pid: int) -> int:
    """The resident memory of a process, bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


DOWNLOAD = """
import sys, httpx
n = 0
with httpx.stream("GET", sys.argv[1], headers={"authorization": sys.argv[2]}, timeout=60) as r:
    r.raise_for_status()
    for chunk in r.iter_bytes():
        n += len(chunk)
print(n)
"""


@pytest.mark.slow
async def test_a_large_export_neither_stalls_the_node_nor_grows_its_memory(
    tmp_path: Path, db_url: str
) -> None:
    """While a 100 MB CSV export streams from a node, a ping on the same node is answered
    within 250 ms every time, and the node's memory grows by less than 64 MiB."""
    world = await make_world(db_url)
    engine = make_engine(db_url)
    try:
        sec = await load_member(engine, world.secretariat)
        async with engine.begin() as conn:
            for i in range(1000):  # 100 KB bodies: 100 MB of rows
                await append(conn, "meeting:1", "notice", sec, {"i": i, "text": "x" * 100_000})
    finally:
        await engine.dispose()
    node = HubProcess(
        {"HUB_DATABASE_URL": db_url, "HUB_SECRET": SECRET, "HUB_DATA_DIR": str(tmp_path)},
        log=tmp_path / "hub.log",
    )
    await node.start()
    try:
        assert node.proc is not None
        pid = node.proc.pid
        ws = await Client.connect(node.ws_url, world.tok(world.deputies[0]))
        before = _rss(pid)
        download = await asyncio.create_subprocess_exec(
            sys.executable, "-c", DOWNLOAD,
            f"{node.url}/api/archive/export/messages?channel=meeting:1",
            f"Bearer {world.tok(world.supervisor)}",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        done = asyncio.ensure_future(download.communicate())
        peak = before

        async def watch_memory() -> None:
            nonlocal peak
            while True:
                peak = max(peak, _rss(pid))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch_memory())
        latencies: list[float] = []
        while not done.done():
            t0 = time.monotonic()
            await ws.send({"type": "ping"})
            await ws.expect("pong")
            latencies.append(time.monotonic() - t0)
            await asyncio.sleep(0.02)
        watcher.cancel()
        out, _ = await done
        await ws.close()
    finally:
        node.kill()
    assert download.returncode == 0
    assert int(out) > 100_000_000  # the whole export arrived
    assert len(latencies) > 10
    assert max(latencies) < 0.25, f"slowest pongs {sorted(latencies)[-5:]} s"
    assert peak - before < 64 << 20, f"grew by {(peak - before) >> 20} MiB"
