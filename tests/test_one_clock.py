"""The hub has one clock (``services.clock``): every message's ``ts`` and every time a
workflow records were taken from it. Frozen at an odd instant, a session's worth of
actions over HTTP and /ws leaves no stored "when it happened" that differs from it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.store.schema import metadata
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub

FROZEN = datetime(2031, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)

# Columns that hold a time something is due, scheduled or valid until, not when it happened.
SCHEDULED = {
    ("sittings", "starts_at"),
    ("sittings", "ends_at"),
    ("items", "sign_due"),
    ("items", "reply_due"),
    ("items", "extension_until"),
    ("item_units", "opinion_due"),
    ("deadline_alerts", "due"),
    ("presence_leases", "expires_at"),
    ("revoked_sessions", "expires_at"),
    ("task_leases", "expires_at"),
    ("points_rulesets", "valid_from"),
}
# Rows made by the test's world before the hub (and its clock) existed.
SEEDED = {"users", "meetings"}


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


async def _stamps(hub: RunningHub) -> dict[tuple[str, str], set[datetime]]:
    out: dict[tuple[str, str], set[datetime]] = {}
    async with hub.services.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for col in table.columns:
                if not isinstance(col.type, sa.DateTime) or (table.name, col.name) in SCHEDULED:
                    continue
                rows = await conn.execute(sa.select(col).where(col.is_not(None)).distinct())
                values = {_aware(v) for v in rows.scalars()}
                if values:
                    out[table.name, col.name] = values
    return out


async def test_every_stored_time_comes_from_the_hubs_clock(hub: RunningHub, world: World) -> None:
    hub.services.clock.set(FROZEN)
    sec, dep, other, unit = (
        world.secretariat,
        world.deputies[0],
        world.deputies[1],
        world.unit_users[0],
    )
    at = FROZEN.isoformat()

    def hours(h: float) -> str:
        return (FROZEN + timedelta(hours=h)).isoformat()

    phone = await Client.connect(hub.ws_url, world.tok(dep))  # a presence lease
    await phone.subscribe(f"deputy:{dep}")
    async with Api(hub, world) as api:
        item = await api.commit_item()
        await api.post(unit, f"/api/items/{item['id']}/sign")
        await api.post(
            unit, f"/api/items/{item['id']}/contact", {"method": "phone", "note": "已联系"}
        )
        noted = await api.opinion(other, "请修缮码头")
        await api.post(sec, f"/api/opinions/{noted['id']}/note")
        await api.suggestion(dep, [other])
        await api.post(
            sec, f"/api/meetings/{world.meeting}/notices", {"title": "通知", "text": "请出席"}, 201
        )
        (notice,) = await phone.messages(1, f"deputy:{dep}")
        for what in ("ack", "read"):
            await phone.request(
                {"type": what, "channel": f"deputy:{dep}", "seq": notice["seq"], "ref": what}
            )
        sitting: dict[str, Any] = await api.post(
            sec,
            f"/api/meetings/{world.meeting}/sittings",
            {"kind": "plenary", "title": "全体会议", "starts_at": hours(-1), "ends_at": hours(3)},
            201,
        )
        await api.post(sec, f"/api/meetings/{world.meeting}/agenda", {"title": "审议报告"}, 201)
        # an edit (its window checked against the frozen clock: open from 90 minutes before)
        edit = {k: sitting[k] for k in ("title", "starts_at", "ends_at", "place",
                                        "checkin_closes_after", "checkin_code",
                                        "speech_limit_s")}  # fmt: skip
        await api.call(sec, "PUT", f"/api/sittings/{sitting['id']}",
                       {**edit, "checkin_opens_before": 90})  # fmt: skip
        await api.post(dep, f"/api/sittings/{sitting['id']}/checkin", None, 201)
        leave = await api.post(
            other, f"/api/sittings/{sitting['id']}/leave", {"reason": "出差"}, 201
        )
        await api.post(sec, f"/api/leave/{leave['id']}/approve", {"note": "同意"})
        reg = await api.post(
            dep,
            "/api/registrations",
            {"kind": "research", "activity_date": "2031-05-01", "title": "调研", "text": "走访"},
            201,
        )
        await api.post(world.supervisor, f"/api/registrations/{reg['id']}/confirm")
        await api.get(world.supervisor, f"/api/registrations/{reg['id']}")
        made = await api.post(
            world.admin,
            "/api/admin/users",
            {"username": "newdep", "name": "新代表", "role": "deputy",
             "delegation_id": world.delegations[0]},
            201,
        )  # fmt: skip
    hub.services.clock.set(FROZEN)  # the scan runs at the frozen instant too
    await hub.workflows.deadlines.run_once()
    await hub.services.receipts.stop()
    await asyncio.sleep(0)

    stamps = await _stamps(hub)
    wrong = {
        col: sorted(t.isoformat() for t in values if t != FROZEN)
        for col, values in stamps.items()
        if col[0] not in SEEDED and values != {FROZEN}
    }
    assert wrong == {}, f"stored times not from the hub's clock ({at}): {wrong}"
    for col in (("messages", "ts"), ("receipts", "ts"), ("item_events", "at"),
                ("checkins", "ts"), ("presence_events", "ts"), ("registrations", "created_at")):  # fmt: skip
        assert col in stamps, f"nothing stored in {col}: the test no longer covers it"
    async with hub.services.engine.connect() as conn:
        users = metadata.tables["users"]
        created = (
            await conn.execute(sa.select(users.c.created_at).where(users.c.id == made["id"]))
        ).scalar_one()
    assert _aware(created) == FROZEN
