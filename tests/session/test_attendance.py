"""Attendance (check-in, leave, the board) and presence across nodes, devices and a crash."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.broker.memory import MemoryBroker
from hub.config import Settings
from hub.session.attendance import checkins, leave_requests
from hub.session.presence import presence_events
from hub.store.engine import make_engine
from tests.utils import TIMEOUT
from tests.utils.backends import REDIS_URL, need, redis_prefix
from tests.utils.client import Client
from tests.utils.factories import SECRET, World, make_world
from tests.utils.servers import HubProcess, RunningHub, running_hub
from tests.utils.session import head, http, soon, wait_for


async def _sitting(url: str, world: World, **extra: Any) -> dict[str, Any]:
    payload = {"kind": "plenary", "title": "全体会议", "starts_at": soon(-1), "ends_at": soon(3)}
    async with http(url, world.tok(world.secretariat)) as sec:
        r = await sec.post(f"/api/meetings/{world.meeting}/sittings", json={**payload, **extra})
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out


async def _board(url: str, world: World, sitting: int) -> dict[str, Any]:
    async with http(url, world.tok(world.secretariat)) as sec:
        r = await sec.get(f"/api/sittings/{sitting}/attendance")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


def _status(board: dict[str, Any]) -> dict[int, tuple[str, bool]]:
    return {d["id"]: (d["status"], d["online"]) for d in board["deputies"]}


async def _until(check: Any, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_check_in_leave_and_board_live(hub: RunningHub, world: World) -> None:
    """Check-in, a leave request and its approval reach the desk live (the decision also
    the deputy's inbox); the board shows checked in / on leave / leave pending / absent
    and who is online now."""
    m = world.meeting
    a, b, c, d = world.deputies
    s = await _sitting(hub.url, world)
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    await sec.subscribe(f"desk:{m}")
    dev_a = await Client.connect(hub.ws_url, world.tok(a))
    dev_b = await Client.connect(hub.ws_url, world.tok(b))
    await dev_b.subscribe(f"deputy:{b}")
    came: set[int] = set()
    while came != {a, b}:  # one message, or one per batch of connections
        f = await wait_for(sec, "presence.changed", f"desk:{m}")
        assert not f["body"]["offline"]
        came |= {p["id"] for p in f["body"]["online"]}

    async with http(hub.url, world.tok(a)) as c_a:
        r = await c_a.post(f"/api/sittings/{s['id']}/checkin")
        assert r.status_code == 201, r.text
    live = await wait_for(sec, "attendance.checked_in", f"desk:{m}")
    assert (
        live["body"]["deputy"] == {"id": a, "name": "代表0"} and live["body"]["sitting"] == s["id"]
    )

    async with http(hub.url, world.tok(b)) as c_b:
        r = await c_b.post(f"/api/sittings/{s['id']}/leave", json={"reason": "因病住院"})
        assert r.status_code == 201, r.text
        leave_b = r.json()
    assert leave_b["status"] == "pending" and leave_b["allowed"] == ["approve", "refuse"]
    asked = await wait_for(sec, "attendance.leave_requested", f"desk:{m}")
    assert asked["body"]["leave"]["reason"] == "因病住院"
    async with http(hub.url, world.tok(c)) as c_c:
        r = await c_c.post(f"/api/sittings/{s['id']}/leave", json={"reason": "出差"})
        leave_c = r.json()

    async with http(hub.url, world.tok(world.secretariat)) as c_sec:
        r = await c_sec.post(f"/api/leave/{leave_b['id']}/approve", json={"note": "同意"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved" and r.json()["allowed"] == []
    decided = await wait_for(dev_b, "attendance.leave_decided", f"deputy:{b}")
    assert decided["body"]["leave"]["status"] == "approved"
    assert decided["body"]["leave"]["note"] == "同意"
    await wait_for(sec, "attendance.leave_decided", f"desk:{m}")

    board = await _board(hub.url, world, s["id"])
    assert _status(board) == {
        a: ("checked_in", True),
        b: ("on_leave", True),
        c: ("leave_pending", False),
        d: ("absent", False),
    }
    assert board["counts"] == {
        "checked_in": 1,
        "on_leave": 1,
        "leave_pending": 1,
        "absent": 1,
        "online": 2,
    }
    assert board["expected"] == 4 and board["sitting"]["id"] == s["id"]
    row = next(x for x in board["deputies"] if x["id"] == c)
    assert row["leave"]["id"] == leave_c["id"] and row["name"] == "代表2"

    await dev_a.close()
    gone = await wait_for(sec, "presence.changed", f"desk:{m}", lambda f: f["body"]["offline"])
    assert gone["body"]["offline"] == [{"id": a, "name": "代表0"}]
    assert _status(await _board(hub.url, world, s["id"]))[a] == ("checked_in", False)

    # a group deliberation expects only its delegation
    g = await _sitting(hub.url, world, kind="group", delegation_id=world.delegations[1])
    assert {x["id"] for x in (await _board(hub.url, world, g["id"]))["deputies"]} == {b, d}


async def test_invalid_attendance_actions_are_refused_and_write_nothing(
    hub: RunningHub, world: World
) -> None:
    """Double check-in, leave after check-in, a second pending leave, a second decision,
    the wrong role, another delegation's sitting, an ended sitting, unknown ids: each
    refused with its code (conflicts name what is allowed), and nothing stored."""
    m = world.meeting
    a, b, c, _ = world.deputies
    s = (await _sitting(hub.url, world))["id"]
    ended = (await _sitting(hub.url, world, starts_at=soon(-3), ends_at=soon(-1)))["id"]
    group_d2 = (await _sitting(hub.url, world, kind="group", delegation_id=world.delegations[1]))[
        "id"
    ]
    async with http(hub.url, world.tok(a)) as c_a:
        assert (await c_a.post(f"/api/sittings/{s}/checkin")).status_code == 201
    async with http(hub.url, world.tok(b)) as c_b:
        r = await c_b.post(f"/api/sittings/{s}/leave", json={"reason": "出差"})
        leave = r.json()["id"]
    async with http(hub.url, world.tok(world.secretariat)) as c_sec:
        assert (await c_sec.post(f"/api/leave/{leave}/refuse")).status_code == 200

    sec_tok = world.tok(world.secretariat)
    desk0 = await head(hub.url, sec_tok, f"desk:{m}")
    inbox0 = await head(hub.url, sec_tok, f"deputy:{b}")
    sec = world.secretariat
    cases: list[tuple[int, str, dict[str, Any] | None, int, list[str] | None]] = [
        (a, f"/api/sittings/{s}/checkin", None, 409, []),
        (a, f"/api/sittings/{s}/leave", {"reason": "x"}, 409, []),
        (c, f"/api/sittings/{s}/leave", {"reason": "  "}, 400, None),
        (c, f"/api/sittings/{s}/leave", {}, 400, None),
        (c, f"/api/sittings/{ended}/checkin", None, 409, []),
        (c, f"/api/sittings/{ended}/leave", {"reason": "x"}, 409, []),
        (a, f"/api/sittings/{group_d2}/checkin", None, 403, None),
        (world.outsider, f"/api/sittings/{s}/checkin", None, 403, None),
        (sec, f"/api/sittings/{s}/checkin", None, 403, None),
        (c, "/api/sittings/999999/checkin", None, 404, None),
        (sec, f"/api/leave/{leave}/approve", None, 409, []),
        (sec, "/api/leave/999999/approve", None, 404, None),
        (b, f"/api/leave/{leave}/approve", None, 403, None),
        (world.supervisor, f"/api/leave/{leave}/refuse", None, 403, None),
    ]
    for who, path, payload, status, allowed in cases:
        async with http(hub.url, world.tok(who)) as cl:
            r = await cl.post(path, json=payload)
            assert r.status_code == status, (who, path, r.text)
            if allowed is not None:
                assert r.json()["code"] == "conflict" and r.json()["allowed"] == allowed
    async with http(hub.url, world.tok(a)) as c_a:
        assert (await c_a.get(f"/api/sittings/{s}/attendance")).status_code == 403

    # after a refusal the deputy may ask again; a pending request blocks another
    async with http(hub.url, world.tok(b)) as c_b:
        r = await c_b.post(f"/api/sittings/{s}/leave", json={"reason": "再次请假"})
        assert r.status_code == 201
        r = await c_b.post(f"/api/sittings/{s}/leave", json={"reason": "第三次"})
        assert r.status_code == 409
        assert r.json()["allowed"] == ["approve", "refuse"] and r.json()["leave_id"]
    async with hub.services.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(checkins))).scalar() == 1
        statuses = (
            await conn.execute(sa.select(leave_requests.c.status).order_by(leave_requests.c.id))
        ).scalars()
        assert list(statuses) == ["refused", "pending"]
    assert await head(hub.url, sec_tok, f"desk:{m}") == desk0 + 1  # the second request only
    assert await head(hub.url, sec_tok, f"deputy:{b}") == inbox0


async def _overview(url: str, world: World, who: int) -> dict[int, dict[str, Any]]:
    """The meeting overview's sittings as ``who`` reads them, by id."""
    async with http(url, world.tok(who)) as c:
        r = await c.get(f"/api/meetings/{world.meeting}")
        assert r.status_code == 200, r.text
        return {s["id"]: s for s in r.json()["sittings"]}


async def test_a_deputy_reads_their_own_attendance_in_the_overview(
    hub: RunningHub, world: World
) -> None:
    """In the meeting overview a deputy's sittings carry their own status as the board
    shows it, their check-in time and latest leave request (a refused leave leaves them
    absent); sittings of another delegation carry null; staff get no such fields."""
    a, b = world.deputies[:2]
    d1, d2 = world.delegations
    checked = (await _sitting(hub.url, world))["id"]
    own_group = (await _sitting(hub.url, world, kind="group", delegation_id=d1))["id"]
    other_group = (await _sitting(hub.url, world, kind="group", delegation_id=d2))["id"]
    pending, refused, approved = [(await _sitting(hub.url, world))["id"] for _ in range(3)]
    async with http(hub.url, world.tok(a)) as c_a:
        r = await c_a.post(f"/api/sittings/{checked}/checkin")
        checked_at = r.json()["ts"]
        leave = {}
        for s in (pending, refused, approved):
            r = await c_a.post(f"/api/sittings/{s}/leave", json={"reason": "出差"})
            assert r.status_code == 201, r.text
            leave[s] = r.json()["id"]
    async with http(hub.url, world.tok(world.secretariat)) as c_sec:
        assert (await c_sec.post(f"/api/leave/{leave[refused]}/refuse")).status_code == 200
        assert (await c_sec.post(f"/api/leave/{leave[approved]}/approve")).status_code == 200

    mine = await _overview(hub.url, world, a)
    got = {s: (x["my_status"], (x["my_leave"] or {}).get("status")) for s, x in mine.items()}
    assert got == {
        checked: ("checked_in", None),
        own_group: ("absent", None),
        other_group: (None, None),
        pending: ("leave_pending", "pending"),
        refused: ("absent", "refused"),
        approved: ("on_leave", "approved"),
    }
    assert mine[checked]["my_checked_in_at"] == checked_at
    assert all(x["my_checked_in_at"] is None for s, x in mine.items() if s != checked)
    assert mine[pending]["my_leave"]["id"] == leave[pending]
    assert mine[pending]["my_leave"]["deputy"] == {"id": a, "name": "代表0"}
    for s in mine:
        if s != other_group:
            row = next(d for d in (await _board(hub.url, world, s))["deputies"] if d["id"] == a)
            assert row["status"] == mine[s]["my_status"]
            assert row["checked_in_at"] == mine[s]["my_checked_in_at"]

    # another deputy of the other delegation sees only their own, which is nothing yet
    theirs = await _overview(hub.url, world, b)
    assert {s: x["my_status"] for s, x in theirs.items()} == {
        **dict.fromkeys(mine, "absent"),
        own_group: None,
    }
    assert all(x["my_leave"] is None for x in theirs.values())
    for who in (world.secretariat, world.supervisor):
        assert all("my_status" not in x for x in (await _overview(hub.url, world, who)).values())


async def test_presence_across_two_nodes_and_two_devices(settings: Settings, world: World) -> None:
    """A deputy on two devices on two nodes is online until both are gone, with one
    presence change each way on the desk; either node's board agrees; the audit tells
    when the deputy was connected."""
    bus = MemoryBroker()
    async with (
        running_hub(settings.with_(node_id="node-a"), bus) as na,
        running_hub(settings.with_(node_id="node-b"), bus.attach()) as nb,
    ):
        s = await _sitting(na.url, world)
        dep = world.deputies[0]
        sec = await Client.connect(nb.ws_url, world.tok(world.secretariat))
        await sec.subscribe(f"desk:{world.meeting}")
        before = datetime.now(UTC)
        phone = await Client.connect(na.ws_url, world.tok(dep))
        came = await wait_for(sec, "presence.changed")
        assert came["body"] == {"online": [{"id": dep, "name": "代表0"}], "offline": []}
        laptop = await Client.connect(nb.ws_url, world.tok(dep))
        await _until(_events(na, dep, "connect", 2))
        async with http(nb.url, world.tok(dep)) as c:
            assert (await c.post(f"/api/sittings/{s['id']}/checkin")).status_code == 201
        # the second device changed nothing on the desk: the next message is the check-in
        assert (await sec.messages(1))[0]["kind"] == "attendance.checked_in"
        during = datetime.now(UTC)
        for node in (na, nb):
            assert _status(await _board(node.url, world, s["id"]))[dep] == ("checked_in", True)

        await phone.close()
        await _until(_events(na, dep, "disconnect", 1))
        for node in (na, nb):
            assert _status(await _board(node.url, world, s["id"]))[dep] == ("checked_in", True)
        await laptop.close()
        went = await wait_for(sec, "presence.changed")
        assert went["body"] == {"online": [], "offline": [{"id": dep, "name": "代表0"}]}
        after = datetime.now(UTC)
        for node in (na, nb):
            assert _status(await _board(node.url, world, s["id"]))[dep] == ("checked_in", False)

        async with http(na.url, world.tok(world.supervisor)) as c:
            got = {}
            for name, ts in (("before", before), ("during", during), ("after", after)):
                r = await c.get(f"/api/presence/{dep}/at", params={"ts": ts.isoformat()})
                assert r.status_code == 200, r.text
                got[name] = r.json()
            assert (await c.get(f"/api/presence/{dep}/at")).status_code == 400
            assert (
                await c.get("/api/presence/999999/at", params={"ts": during.isoformat()})
            ).status_code == 404
        assert not got["before"]["connected"] and not got["after"]["connected"]
        assert got["during"]["connected"]
        assert sorted(x["node"] for x in got["during"]["connections"]) == ["node-a", "node-b"]
        assert {x["ended"] for x in got["during"]["connections"]} == {"closed"}
        async with http(na.url, world.tok(dep)) as c:
            r = await c.get(f"/api/presence/{dep}/at", params={"ts": during.isoformat()})
            assert r.status_code == 403
        assert await _events(na, dep, "disconnect", 2)()


def _events(h: RunningHub, user: int, kind: str, n: int) -> Any:
    """A check: at least ``n`` presence events of ``kind`` are stored for ``user``."""

    async def check() -> bool:
        async with h.services.engine.connect() as conn:
            q = (
                sa.select(sa.func.count())
                .select_from(presence_events)
                .where(presence_events.c.kind == kind, presence_events.c.user_id == user)
            )
            return int((await conn.execute(q)).scalar_one()) >= n

    return check


@pytest.mark.slow
async def test_killed_node_presence_expires(pg_url: str, tmp_path: Path) -> None:
    """Two node processes on PostgreSQL and Redis: when the node holding a deputy's only
    connection is killed with SIGKILL, the other node expires its lease within the TTL,
    records the disconnect and tells the desk; the audit shows when it was connected."""
    need(REDIS_URL, "Redis")
    world = await make_world(pg_url)
    prefix = redis_prefix()
    ttl = 1.5

    def env(name: str) -> dict[str, str]:
        return {
            "HUB_DATABASE_URL": pg_url,
            "HUB_REDIS_URL": REDIS_URL,
            "HUB_REDIS_PREFIX": prefix,
            "HUB_SECRET": SECRET,
            "HUB_DATA_DIR": str(tmp_path / name),
            "HUB_PRESENCE_TTL": str(ttl),
            "HUB_NODE_ID": name,
        }

    a = HubProcess(env("node-a"), log=tmp_path / "a.log")
    b = HubProcess(env("node-b"), log=tmp_path / "b.log")
    await asyncio.gather(a.start(), b.start())
    try:
        s = await _sitting(a.url, world)
        dep = world.deputies[1]
        sec = await Client.connect(a.ws_url, world.tok(world.secretariat))
        await sec.subscribe(f"desk:{world.meeting}")
        victim = await Client.connect(b.ws_url, world.tok(dep))
        await wait_for(sec, "presence.changed", where=lambda f: bool(f["body"]["online"]))
        assert _status(await _board(a.url, world, s["id"]))[dep] == ("absent", True)
        during = datetime.now(UTC)
        await asyncio.sleep(ttl)  # at least one renewal by node-b
        assert _status(await _board(a.url, world, s["id"]))[dep] == ("absent", True)

        assert b.proc is not None
        b.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await b.wait()
        went = await wait_for(
            sec, "presence.changed", where=lambda f: bool(f["body"]["offline"]), timeout=ttl * 4
        )
        assert went["body"]["offline"] == [{"id": dep, "name": "代表1"}]
        assert time.monotonic() - killed < ttl * 2 + 1
        assert _status(await _board(a.url, world, s["id"]))[dep] == ("absent", False)

        async with http(a.url, world.tok(world.secretariat)) as c:
            r = await c.get(f"/api/presence/{dep}/at", params={"ts": during.isoformat()})
            conn_ = r.json()["connections"]
            assert r.json()["connected"] and conn_[0]["node"] == "node-b"
            assert conn_[0]["ended"] == "expired"
            r = await c.get(f"/api/presence/{dep}/at", params={"ts": datetime.now(UTC).isoformat()})
            assert r.json()["connected"] is False
        engine = make_engine(pg_url)
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        sa.select(presence_events.c.kind, presence_events.c.reason)
                        .where(presence_events.c.user_id == dep)
                        .order_by(presence_events.c.id)
                    )
                ).all()
        finally:
            await engine.dispose()
        assert [tuple(r) for r in rows] == [("connect", None), ("disconnect", "expired")]
        await victim.ws.close()
        await sec.close()
    finally:
        a.kill()
        b.kill()


async def test_board_says_whether_the_sitting_is_open_and_names_delegations(
    hub: RunningHub, world: World
) -> None:
    """The board's ``open`` is true until the sitting has ended and false after (its
    absent are only not checked in yet while open); each deputy carries their delegation's
    name as ``/api/delegations`` has it."""
    now_on = await _sitting(hub.url, world)
    ended = await _sitting(hub.url, world, starts_at=soon(-3), ends_at=soon(-1))
    assert (await _board(hub.url, world, now_on["id"]))["open"] is True
    board = await _board(hub.url, world, ended["id"])
    assert board["open"] is False
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        names = {
            g["id"]: g["name"] for g in (await sec.get("/api/delegations")).json()["delegations"]
        }
    assert any(d["delegation_id"] is not None for d in board["deputies"])
    for d in board["deputies"]:
        want = None if d["delegation_id"] is None else names[d["delegation_id"]]
        assert d["delegation_name"] == want, d
