"""Account management over HTTP."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from hub.session.schema import users as users_table
from hub.store.engine import make_engine
from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub


async def test_staff_list_accounts(hub: RunningHub, world: World) -> None:
    """The secretariat lists every account with its role, delegation and unit."""
    sec = tokens.issue(world.secretariat, 0)
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.get("/api/admin/users", headers={"authorization": f"Bearer {sec}"})
    assert r.status_code == 200, r.text
    users = {u["id"]: u for u in r.json()["users"]}
    assert users[world.deputies[0]]["role"] == "deputy"
    assert users[world.deputies[0]]["delegation_id"] == world.delegations[0]
    assert users[world.unit_users[0]]["unit_id"] == world.units[0]


async def test_admin_sets_a_deputys_phone_and_nobody_lists_it(
    hub: RunningHub, world: World, db_url: str
) -> None:
    """The admin creates a deputy with the roster's mobile (stored normalised); a malformed
    number is a 400 naming `phone` without repeating it; the account list, which the
    secretariat and supervisors read, carries no phone."""
    admin = {"authorization": f"Bearer {tokens.issue(world.admin, 0)}"}
    new = {"username": "chen", "name": "陈明", "role": "deputy"}
    new["delegation_id"] = world.delegations[0]
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.post(
            "/api/admin/users",
            json={**new, "phone": "+86 139 0580 7788", "preferred_contact": "sms"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            "/api/admin/users",
            json={**new, "username": "chen3", "preferred_contact": "飞鸽"},
            headers=admin,
        )
        assert (r.status_code, r.json()["field"]) == (400, "preferred_contact"), r.text
        r = await http.post(
            "/api/admin/users",
            json={**new, "username": "chen2", "phone": "139058077"},
            headers=admin,
        )
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (
            400,
            "bad_request",
            "phone",
        )
        assert "139058077" not in r.text
        sup = {"authorization": f"Bearer {tokens.issue(world.supervisor, 0)}"}
        listed = await http.get("/api/admin/users", headers=sup)
        assert listed.status_code == 200 and "phone" not in listed.text
        assert "13905807788" not in listed.text
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    users_table.c.username, users_table.c.phone, users_table.c.preferred_contact
                ).where(users_table.c.username.in_(["chen", "chen2", "chen3"]))
            )
            assert [tuple(r) for r in rows] == [("chen", "13905807788", "sms")]
    finally:
        await engine.dispose()
