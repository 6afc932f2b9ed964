"""A roster's first passwords: issued once to accounts without one, they only let their
holder choose their own (``POST /api/meetings/{id}/roster/passwords``, ``/api/login/first``)."""

from __future__ import annotations

import re

import httpx
import orjson
import sqlalchemy as sa

from hub.api.idempotency import idempotency_keys
from hub.store.engine import make_engine
from hub.store.schema import messages, users
from tests.utils.factories import PASSWORD, World, tokens
from tests.utils.servers import RunningHub

NEW = "我自己的新密码2026"


def bearer(uid: int) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens.issue(uid, 0)}"}


async def issue(
    http: httpx.AsyncClient, world: World, by: int, names: list[str], **kw: object
) -> httpx.Response:
    return await http.post(
        f"/api/meetings/{world.meeting}/roster/passwords",
        json={"usernames": names},
        headers={**bearer(by), **kw.get("headers", {})},  # type: ignore[dict-item]
    )


async def test_issued_password_only_chooses_ones_own(hub: RunningHub, world: World) -> None:
    """The secretariat issues dep0 a password: it is shown once, in a readable form; with
    it dep0 cannot log in (409 password_temporary) but chooses their own and is logged
    in; then the issued one is wrong, their own works, and issuing again is refused."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await issue(http, world, world.secretariat, ["dep0"])
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        (one,) = r.json()["issued"]
        assert (one["username"], one["name"], one["role"], one["delegation"]) == (
            "dep0",
            "代表0",
            "deputy",
            "一团",
        )
        temp = one["password"]
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", temp)
        assert not set(temp) & set("01oli")

        r = await http.post("/api/login", json={"username": "dep0", "password": temp})
        assert (r.status_code, r.json()["code"], r.json()["reason"]) == (
            409,
            "conflict",
            "password_temporary",
        )
        assert "token" not in r.json()
        r = await http.post(
            "/api/login/first", json={"username": "dep0", "password": temp, "new": temp}
        )
        assert (r.status_code, r.json()["field"]) == (400, "new")
        r = await http.post(
            "/api/login/first", json={"username": "dep0", "password": "wrong-one-x", "new": NEW}
        )
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
        r = await http.post(
            "/api/login/first", json={"username": "dep0", "password": temp, "new": NEW}
        )
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        me = await http.get("/api/me", headers={"authorization": f"Bearer {token}"})
        assert me.json()["id"] == world.deputies[0]

        r = await http.post("/api/login", json={"username": "dep0", "password": temp})
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
        r = await http.post("/api/login", json={"username": "dep0", "password": NEW})
        assert r.status_code == 200, r.text
        r = await http.post(
            "/api/login/first", json={"username": "dep0", "password": NEW, "new": NEW + "x"}
        )
        assert (r.status_code, r.json()["reason"]) == (409, "password_not_temporary")
        r = await issue(http, world, world.secretariat, ["dep0"])
        assert r.json() == {
            "meeting": {"id": world.meeting, "title": "第五次会议"},
            "issued": [],
            "skipped": [{"username": "dep0", "reason": "has_password"}],
        }


async def test_who_may_be_given_a_password(hub: RunningHub, world: World) -> None:
    """The secretariat: only the deputies of its meeting (not an outsider, a unit's
    account, itself or the admin); another meeting's roster is forbidden; a deputy may
    issue none. The admin: a unit's account too, never an admin's."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await issue(
            http, world, world.secretariat, ["dep1", "outsider", "unit1", "adm", "sec", "nobody"]
        )
        assert r.status_code == 200, r.text
        assert [x["username"] for x in r.json()["issued"]] == ["dep1"]
        assert r.json()["skipped"] == [
            {"username": "outsider", "reason": "not_allowed"},
            {"username": "unit1", "reason": "not_allowed"},
            {"username": "adm", "reason": "not_allowed"},
            {"username": "sec", "reason": "not_allowed"},
            {"username": "nobody", "reason": "not_found"},
        ]
        r = await http.post(
            f"/api/meetings/{world.other_meeting}/roster/passwords",
            json={"usernames": ["outsider"]},
            headers=bearer(world.secretariat),
        )
        assert (r.status_code, r.json()["code"]) == (403, "forbidden")
        r = await issue(http, world, world.deputies[2], ["dep2"])
        assert (r.status_code, r.json()["code"]) == (403, "forbidden")
        r = await issue(http, world, world.admin, ["unit1", "adm", "sec"])
        assert [x["username"] for x in r.json()["issued"]] == ["unit1"]
        assert r.json()["skipped"] == [
            {"username": "adm", "reason": "not_allowed"},
            {"username": "sec", "reason": "has_password"},
        ]
        r = await issue(http, world, world.admin, [])
        assert (r.status_code, r.json()["field"]) == (400, "usernames")


async def test_issued_again_replaces_an_unused_one_and_nothing_is_kept(
    hub: RunningHub, world: World, db_url: str
) -> None:
    """A slip lost: issuing again gives a new password and the first stops working. The
    log names the accounts and holds no password; the database holds no password in clear,
    not even for a request sent with an Idempotency-Key (a repeat issues anew)."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        first = (await issue(http, world, world.admin, ["dep3"])).json()["issued"][0]["password"]
        key = {"Idempotency-Key": "issue-dep3-again"}
        r = await issue(http, world, world.admin, ["dep3"], headers=key)
        second = r.json()["issued"][0]["password"]
        again = await issue(http, world, world.admin, ["dep3"], headers=key)
        third = again.json()["issued"][0]["password"]
        assert len({first, second, third}) == 3
        r = await http.post(
            "/api/login/first", json={"username": "dep3", "password": second, "new": NEW}
        )
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
        r = await http.post(
            "/api/login/first", json={"username": "dep3", "password": third, "new": NEW}
        )
        assert r.status_code == 200, r.text

    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            bodies = (
                (
                    await conn.execute(
                        sa.select(messages.c.body)
                        .where(messages.c.kind == "roster.passwords_issued")
                        .order_by(messages.c.id)
                    )
                )
                .scalars()
                .all()
            )
            kept = (await conn.execute(sa.select(idempotency_keys.c.body))).scalars().all()
            hashes = (await conn.execute(sa.select(users.c.password_hash))).scalars().all()
    finally:
        await engine.dispose()
    assert len(bodies) == 3
    assert orjson.loads(bodies[-1])["passwords"] == {
        "meeting_id": world.meeting,
        "accounts": ["dep3"],
        "skipped": 0,
    }
    dump = repr((bodies, kept, hashes))
    for p in (first, second, third):
        assert p not in dump


async def test_a_deputy_with_a_password_is_not_slowed_or_told_apart(
    hub: RunningHub, world: World
) -> None:
    """A wrong password for an account holding a temporary one is the same 401 as for an
    unknown username (and the secretariat's own login still works)."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        await issue(http, world, world.admin, ["dep2"])
        a = await http.post("/api/login", json={"username": "dep2", "password": "wrong-one-x"})
        b = await http.post("/api/login", json={"username": "nobody", "password": "wrong-one-x"})
        assert (a.status_code, a.json()) == (b.status_code, b.json())
        r = await http.post("/api/login", json={"username": "sec", "password": PASSWORD})
        assert r.status_code == 200
