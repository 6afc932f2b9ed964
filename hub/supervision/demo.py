"""The demo's supervision data (``hub demo``): points rules in force since the start of
the year, and three performance registrations — two confirmed by the supervisor, one
waiting for 郑磊 (jiandu) to confirm or reject. Made by the workflows themselves, in the
seeding transaction, so the deputies' inboxes hold the messages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.node import Writer
from hub.session.members import Member
from hub.session.schema import users
from hub.session.setup import SETUP_CHANNEL
from hub.supervision.points import RuleInput, add_ruleset_in, local_midnight, parse_rules
from hub.supervision.registrations import (
    Kind,
    NewRegistration,
    decide_in,
    parse_new,
    register_in,
)

RULES = [
    {"event": "attendance", "points": 1},
    {"event": "absence", "points": -2},
    {"event": "speech", "points": 2, "cap": 20, "period": "year"},
    {"event": "opinion", "points": 1, "cap": 20, "period": "year"},
    {"event": "suggestion", "points": 3, "cap": 15, "period": "year"},
    {"event": "cosign", "points": 1, "cap": 5, "period": "year"},
    {"event": "suggestion_accepted", "points": 2},
    {"event": "evaluation", "points": 0.5},
    {"event": "registration", "points": 2, "cap": 20, "period": "year"},
    {"event": "registration.inspection", "points": 3, "cap": 12, "period": "quarter"},
    {"event": "registration.research", "points": 3, "cap": 12, "period": "quarter"},
]
# (deputy index, kind, days ago, title, text, confirmed)
REGISTRATIONS: tuple[tuple[int, Kind, int, str, str, bool | None], ...] = (
    (0, "inspection", 20, "视察定海区公交枢纽建设", "随市人大常委会视察团察看三个站点，听取交通局汇报。", True),
    (0, "constituents", 9, "走访东港社区选民", "在代表联络站接待选民12人次，收集停车难、助餐点等意见。", True),
    (3, "research", 4, "海岛养老服务专题调研", "赴两个海岛乡镇调研居家养老服务，形成调研报告一份。", None),
)  # fmt: skip


async def seed_supervision(
    conn: AsyncConnection, admin: int, supervisor: int, deputy_ids: list[int]
) -> dict[str, Any]:
    clock = Clock()
    now = clock.now()
    year_start = local_midnight(date(clock.today().year, 1, 1), clock.tz)
    rules = parse_rules(msgspec.convert(RULES, list[RuleInput]))
    names = {int(u): n for u, n in await conn.execute(sa.select(users.c.id, users.c.name))}
    w = Writer(conn, clock)
    deputies = (f"deputy:{deputy_ids[who]}" for who, *_ in REGISTRATIONS)
    await w.lock(SETUP_CHANNEL, *deputies)  # every channel of the transaction in one call
    # the admin adds the year's rules as on the console: stored and logged on setup:1
    ruleset = await add_ruleset_in(
        w, Member(admin, names[admin], "admin"), year_start, rules, "代表履职积分办法（演示）", now
    )
    jiandu = Member(supervisor, names[supervisor], "supervisor")
    ids = []
    for who, kind, days, title, text, confirmed in REGISTRATIONS:
        dep = Member(deputy_ids[who], names[deputy_ids[who]], "deputy")
        day = (now - timedelta(days=days)).astimezone(clock.tz).date()
        new = NewRegistration(kind=kind, activity_date=day, title=title, text=text)
        fields = parse_new(new, clock.today())
        reg = await register_in(w, dep, fields, now)
        if confirmed:
            await decide_in(w, jiandu, reg["id"], True, None, now)
        ids.append(reg["id"])
    return {"points_ruleset_id": int(ruleset["id"]), "registration_ids": ids}
