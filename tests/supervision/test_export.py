"""Exports: CSV with a BOM that Python's csv module reads back, JSON Lines, streamed in
batches, with the archive's filters; receipts and attendance."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import orjson

from hub.session.attendance import check_in, decide_leave, request_leave
from hub.session.meetings import create_sitting
from hub.session.members import load_member
from hub.supervision import export
from hub.supervision.archive import Filters
from tests.supervision.helpers import http, publish, receipt
from tests.supervision.scenario import items_scenario
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub

TRICKY = [
    "关于改善城区交通拥堵的建议",
    '含逗号，和"引号", 以及, 英文逗号',
    "第一行\n第二行\r\n第三行",
    "emoji 🚌 与 全角　空格",
]


def _csv(raw: bytes) -> list[dict[str, str]]:
    assert raw.startswith("\ufeff".encode()), "CSV must start with a UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


async def test_chinese_text_round_trips_through_csv(hub: RunningHub, world: World) -> None:
    """Bodies with Chinese, commas, quotes and newlines come back intact from csv.reader."""
    ch = f"meeting:{world.meeting}"
    for text in TRICKY:
        await publish(hub, world, ch, {"text": text, "title": "通知"})
    async with http(hub, world, world.supervisor) as c:
        r = await c.get("/api/archive/export/messages", params={"channel": ch})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _csv(r.content)
    assert list(rows[0]) == list(export.MESSAGE_COLUMNS)
    assert [orjson.loads(row["body"])["text"] for row in rows] == TRICKY
    assert [row["seq"] for row in rows] == ["1", "2", "3", "4"]
    assert {row["sender_name"] for row in rows} == {"秘书处"}
    # The same timestamps, to the microsecond, as the archive and the wire show them.
    async with http(hub, world, world.supervisor) as c:
        page = (await c.get("/api/archive/messages", params={"channel": ch})).json()
        lines = (
            await c.get("/api/archive/export/messages", params={"channel": ch, "format": "jsonl"})
        ).content.splitlines()
    assert [row["ts"] for row in rows] == [m["ts"] for m in page["messages"]]
    assert [orjson.loads(x)["ts"] for x in lines] == [m["ts"] for m in page["messages"]]
    assert [orjson.loads(x)["hash"] for x in lines] == [row["hash"] for row in rows]


async def test_jsonl_has_one_object_per_line(hub: RunningHub, world: World) -> None:
    """JSON Lines: one parsed message per line, body as an object, filters applied."""
    for text in TRICKY:
        await publish(hub, world, f"deputy:{world.deputies[1]}", {"text": text})
    await publish(hub, world, f"meeting:{world.meeting}", {"text": "不在其中"})
    async with http(hub, world, world.admin) as c:
        r = await c.get(
            "/api/archive/export/messages",
            params={"format": "jsonl", "deputy": world.deputies[1]},
        )
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = r.content.decode().splitlines()
    assert [orjson.loads(line)["body"]["text"] for line in lines] == TRICKY
    assert orjson.loads(lines[0])["sender"]["role"] == "secretariat"


async def test_export_streams_in_batches(hub: RunningHub, world: World) -> None:
    """Batches of 2 yield the header, then one chunk per batch, and every row once."""
    ch = f"meeting:{world.meeting}"
    for i in range(5):
        await publish(hub, world, ch, {"i": i})
    ds = export.dataset("messages", Filters(channel=ch))
    chunks = [c async for c in export.stream(hub.services.engine, ds, "csv", batch=2)]
    assert len(chunks) == 1 + 3
    rows = _csv(b"".join(chunks))
    assert [orjson.loads(r["body"])["i"] for r in rows] == [0, 1, 2, 3, 4]
    async with http(hub, world, world.supervisor) as c:
        r = await c.get("/api/archive/export/messages", params={"format": "jsonl"})
    assert r.headers.get("transfer-encoding") == "chunked"  # streamed, no content-length


async def test_receipts_export(hub: RunningHub, world: World) -> None:
    """Each stored ack and read is a row with the user's name; `user` filters."""
    ch = f"meeting:{world.meeting}"
    await publish(hub, world, ch, {"text": "通知"})
    d0, d1 = world.deputies[:2]
    await receipt(hub, world, d0, "ack", ch, 1)
    await receipt(hub, world, d0, "read", ch, 1)
    await receipt(hub, world, d1, "ack", ch, 1)
    async with http(hub, world, world.supervisor) as c:
        rows = _csv(
            (await c.get("/api/archive/export/receipts", params={"meeting": world.meeting})).content
        )
        mine = _csv((await c.get("/api/archive/export/receipts", params={"user": d0})).content)
    assert sorted((r["user_name"], r["kind"]) for r in rows) == [
        ("代表0", "ack"), ("代表0", "read"), ("代表1", "ack"),
    ]  # fmt: skip
    assert {r["user_id"] for r in mine} == {str(d0)}


async def test_attendance_export(hub: RunningHub, world: World) -> None:
    """One row per sitting and expected deputy: checked in, on leave, pending, absent at an
    ended sitting; at one not ended nobody is absent yet: not_checked_in once it has
    begun, upcoming before."""
    node = hub.services.node
    engine = hub.services.engine
    sec = await load_member(engine, world.secretariat)
    deps = [await load_member(engine, d) for d in world.deputies]
    start = datetime.now(UTC) + timedelta(hours=1)
    s1 = await create_sitting(node, sec, world.meeting, "plenary", "第一次全体会议", start)
    s2 = await create_sitting(node, sec, world.meeting, "plenary", "第二次全体会议", start)
    await check_in(node, deps[0], s1["id"])
    leave = await request_leave(node, deps[1], s1["id"], "出差")
    await decide_leave(node, sec, leave["id"], True)
    await request_leave(node, deps[2], s1["id"], "生病")
    await check_in(node, deps[3], s2["id"])
    now = datetime.now(UTC)
    s3 = await create_sitting(node, sec, world.meeting, "plenary", "开幕", now - timedelta(hours=1))
    s4 = await create_sitting(
        node, sec, world.meeting, "plenary", "预备会议", now - timedelta(hours=3), now
    )
    await check_in(node, deps[0], s3["id"])
    async with http(hub, world, world.supervisor) as c:
        r = await c.get("/api/archive/export/attendance", params={"meeting": world.meeting})
        missing = await c.get("/api/archive/export/attendance")
    assert missing.status_code == 400
    got = [(int(r["sitting_id"]), int(r["deputy_id"]), r["status"]) for r in _csv(r.content)]
    d0, d1, d2, d3 = world.deputies
    assert got == [
        (s1["id"], d0, "checked_in"), (s1["id"], d1, "on_leave"),
        (s1["id"], d2, "leave_pending"), (s1["id"], d3, "upcoming"),
        (s2["id"], d0, "upcoming"), (s2["id"], d1, "upcoming"),
        (s2["id"], d2, "upcoming"), (s2["id"], d3, "checked_in"),
        (s3["id"], d0, "checked_in"), (s3["id"], d1, "not_checked_in"),
        (s3["id"], d2, "not_checked_in"), (s3["id"], d3, "not_checked_in"),
        (s4["id"], d0, "absent"), (s4["id"], d1, "absent"),
        (s4["id"], d2, "absent"), (s4["id"], d3, "absent"),
    ]  # fmt: skip


async def test_export_refuses_others_and_unknown_datasets(hub: RunningHub, world: World) -> None:
    """Deputies and units get 403; an unknown dataset or format is a 400 before any row."""
    async with http(hub, world, world.deputies[0]) as c:
        assert (await c.get("/api/archive/export/messages")).status_code == 403
    async with http(hub, world, world.supervisor) as c:
        assert (await c.get("/api/archive/export/secrets")).status_code == 400
        r = await c.get("/api/archive/export/messages", params={"format": "xlsx"})
        assert r.status_code == 400
    async with http(hub, world, world.supervisor) as c:
        r = await c.post("/api/downloads", json={"path": "/api/archive/export/messages"})
        r = await c.get(r.json()["url"], headers={"authorization": ""})
        assert r.status_code == 200  # a download link carries a download token for its path


async def test_items_and_their_steps_export(hub: RunningHub, world: World) -> None:
    """One row per item with its units and deputies; one row per step of each item."""
    async with Api(hub, world) as api:
        ids = await items_scenario(hub, world, api)
    async with http(hub, world, world.supervisor) as c:
        got = _csv(
            (await c.get("/api/archive/export/items", params={"meeting": world.meeting})).content
        )
        u2 = _csv(
            (await c.get("/api/archive/export/items", params={"unit": world.units[1]})).content
        )
        steps = (
            (
                await c.get(
                    "/api/archive/export/item_events",
                    params={"format": "jsonl", "unit": world.units[1]},
                )
            )
            .content.decode()
            .splitlines()
        )
    assert len(got) == 5 and list(got[0]) == list(export.ITEM_COLUMNS)
    c2 = next(r for r in got if int(r["id"]) == ids["c2"])
    assert (c2["lead_unit"], c2["co_units"], c2["deputies"], c2["state"]) == (
        "法院", "交通局", "代表1", "rehandling",
    )  # fmt: skip
    assert [int(r["id"]) for r in u2] == [ids["c2"]]
    actions = [orjson.loads(line)["action"] for line in steps]
    assert actions == ["hand_over", "co_opinion", "sign", "reply", "evaluate"]
    assert orjson.loads(steps[0])["payload"]["lead_unit_id"] == world.units[1]
