"""``hub demo``: a meeting with delegations, deputies, units and staff to try the hub with."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth import hash_password
from hub.session.demo import seed_session
from hub.session.demo_items import seed_items
from hub.session.members import (
    add_participants,
    create_delegation,
    create_meeting,
    create_unit,
    create_user,
)
from hub.session.schema import users
from hub.supervision.demo import seed_supervision

PASSWORD = "demo2026"
MEETING = "市第七届人民代表大会第五次会议"
DELEGATIONS = ("定海区代表团", "普陀区代表团", "岱山县代表团")
DEPUTIES = (  # username, name, delegation, the roster's mobile (手机)
    ("daibiao1", "王建国", 0, "13905801021"),
    ("daibiao2", "李秀英", 0, "13857016632"),
    ("daibiao3", "张伟", 0, "15958073310"),
    ("daibiao4", "刘芳", 1, "13706802457"),
    ("daibiao5", "陈明", 1, "18857092216"),
    ("daibiao6", "杨丽", 1, "13967015548"),
    ("daibiao7", "赵强", 2, "15067083379"),
    ("daibiao8", "周静", 2, "13587026641"),
    ("daibiao9", "吴海", 2, "17757018825"),
)
UNITS = (
    ("jiaotong", "市交通运输局"),
    ("fayuan", "市中级人民法院"),
    ("jianchayuan", "市人民检察院"),
)
STAFF = (
    ("mishu", "大会秘书处 · 孙敏", "secretariat"),
    ("jiandu", "代表工委 · 郑磊", "supervisor"),
    ("admin", "系统管理员", "admin"),
)


async def seed(engine: AsyncEngine, data_dir: Path = Path("var")) -> dict[str, Any] | None:
    """Create the demo once; None if it is already there."""
    async with engine.begin() as conn:
        if (await conn.execute(sa.select(users.c.id).where(users.c.username == "mishu"))).first():
            return None
        # One hash for every demo account: argon2 is slow on purpose.
        pw = hash_password(PASSWORD)
        dele = [await create_delegation(conn, n) for n in DELEGATIONS]
        meeting = await create_meeting(conn, MEETING, date.today(), date.today())
        deputy_ids = [
            await create_user(
                conn, u, n, "deputy", delegation_id=dele[d], password_hash=pw, phone=phone
            )
            for u, n, d, phone in DEPUTIES
        ]
        unit_ids = []
        for u, n in UNITS:
            uid = await create_unit(conn, n)
            unit_ids.append(uid)
            await create_user(conn, u, f"{n} · 承办员", "unit", unit_id=uid, password_hash=pw)
        staff = {u: await create_user(conn, u, n, r, password_hash=pw) for u, n, r in STAFF}
        await add_participants(conn, meeting, [*deputy_ids, staff["mishu"]])
        session = await seed_session(conn, meeting, dele, DELEGATIONS, staff["mishu"], data_dir)
        session |= await seed_items(conn, meeting, session["agenda_item_ids"])
        session |= await seed_supervision(conn, staff["admin"], staff["jiandu"], deputy_ids)
    return {
        "meeting_id": meeting,
        "delegation_ids": dele,
        "deputy_ids": deputy_ids,
        "unit_ids": unit_ids,
        "staff": staff,
        **session,
    }


def logins() -> list[tuple[str, str]]:
    """(username, who) for every demo account; all share :data:`PASSWORD`."""
    out = [(u, n) for u, n, _ in STAFF]
    out += [(u, f"{n} ({DELEGATIONS[d]})") for u, n, d, _ in DEPUTIES]
    out += [(u, n) for u, n in UNITS]
    return out
