"""Data factories: a small congress in a fresh database, with tokens for every role."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth import Tokens
from hub.session.members import (
    add_participants,
    create_delegation,
    create_meeting,
    create_unit,
    create_user,
)
from hub.store.engine import make_engine

SECRET = "test-secret"
PASSWORD = "pw-for-tests"
tokens = Tokens(SECRET, 3600)


@dataclass
class World:
    meeting: int
    other_meeting: int
    delegations: list[int]
    units: list[int]
    deputies: list[int]
    outsider: int  # a deputy who is not a participant of `meeting`
    secretariat: int
    supervisor: int
    admin: int
    unit_users: list[int]
    token: dict[int, str] = field(default_factory=dict)

    def tok(self, user_id: int) -> str:
        return self.token[user_id]


async def make_world(db_url: str, deputies: int = 4) -> World:
    engine = make_engine(db_url)
    try:
        return await _make(engine, deputies)
    finally:
        await engine.dispose()


async def _make(engine: AsyncEngine, n: int) -> World:
    async with engine.begin() as conn:
        d1 = await create_delegation(conn, "一团")
        d2 = await create_delegation(conn, "二团")
        u1 = await create_unit(conn, "交通局")
        u2 = await create_unit(conn, "法院")
        m = await create_meeting(conn, "第五次会议")
        m2 = await create_meeting(conn, "另一次会议")
        deps = [
            await create_user(conn, f"dep{i}", f"代表{i}", "deputy", delegation_id=(d1, d2)[i % 2])
            for i in range(n)
        ]
        outsider = await create_user(conn, "outsider", "局外代表", "deputy", delegation_id=d2)
        sec = await create_user(conn, "sec", "秘书处", "secretariat", password=PASSWORD)
        sup = await create_user(conn, "sup", "工委", "supervisor")
        adm = await create_user(conn, "adm", "管理员", "admin", password=PASSWORD)
        uu = [
            await create_user(conn, "unit1", "交通局承办员", "unit", unit_id=u1),
            await create_user(conn, "unit2", "法院承办员", "unit", unit_id=u2),
        ]
        await add_participants(conn, m, [*deps, sec])
        await add_participants(conn, m2, [outsider])
    w = World(m, m2, [d1, d2], [u1, u2], deps, outsider, sec, sup, adm, uu)
    for uid in [*deps, outsider, sec, sup, adm, *uu]:
        w.token[uid] = tokens.issue(uid, 0)
    return w
