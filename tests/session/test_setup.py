"""The set-up log (``setup:1``): every change an admin makes to accounts, delegations,
units, meetings, the rules and the calendar appends one message naming who changed what,
never a password or a phone number; the secretariat, supervisors and admins read it,
deputies and units do not, nobody publishes on it; the supervisor's archive finds it.
And the admin-only set-up API: exact refusals for the others."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from hub import demo
from hub.session.schema import meeting_participants, users
from hub.store.engine import make_engine
from hub.store.log import MessageLog
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub
from tests.utils.session import history, http

STRONG = "Qiang-Mima-2026!"


async def _call(c: httpx.AsyncClient, method: str, path: str, body: Any, status: int) -> Any:
    r = await c.request(method, path, json=body)
    assert r.status_code == status, r.text
    return r.json()


async def test_each_setup_action_logs_one_message_with_who_and_what(
    hub: RunningHub, world: World
) -> None:
    """Each admin action appends exactly one message to setup:1, sent by the admin, naming
    what changed; the password and the phone number appear in none of them; an edit
    changing nothing logs nothing."""
    adm = world.tok(world.admin)
    steps: list[tuple[str, dict[str, Any]]] = []  # (kind, what the body must hold)

    async def step(method: str, path: str, body: Any, status: int, kind: str, **want: Any) -> Any:
        before = len(await history(hub.url, adm, "setup:1"))
        out = await _call(c, method, path, body, status)
        log = await history(hub.url, adm, "setup:1")
        assert len(log) == before + 1, (path, log[before:])
        m = log[-1]
        assert (m["kind"], m["sender"]["id"]) == (kind, world.admin), m
        for k, v in want.items():
            assert m["body"][k] == v, (kind, k, m["body"])
        steps.append((kind, m["body"]))
        return out

    async with http(hub.url, adm) as c:
        d = await step(
            "POST", "/api/admin/delegations", {"name": "三团"}, 201, "setup.delegation_created"
        )
        assert steps[-1][1]["delegation"] == {"id": d["id"], "name": "三团"}
        await step(
            "PUT",
            f"/api/admin/delegations/{d['id']}",
            {"name": "第三代表团"},
            200,
            "setup.delegation_renamed",
            was="三团",
            delegation={"id": d["id"], "name": "第三代表团"},
        )
        u = await step("POST", "/api/admin/units", {"name": "市教育局"}, 201, "setup.unit_created")
        await step(
            "PUT",
            f"/api/admin/units/{u['id']}",
            {"name": "市教育局（体育局）"},
            200,
            "setup.unit_renamed",
            was="市教育局",
        )
        m = await step(
            "POST",
            "/api/admin/meetings",
            {"title": "常委会第十次会议", "starts_on": "2026-04-01"},
            201,
            "setup.meeting_created",
        )
        assert steps[-1][1]["meeting"]["title"] == "常委会第十次会议"
        await step(
            "PUT",
            f"/api/admin/meetings/{m['id']}",
            {"title": "常委会第十次会议", "starts_on": "2026-04-02", "ends_on": "2026-04-03"},
            200,
            "setup.meeting_changed",
        )
        assert steps[-1][1]["was"]["starts_on"] == "2026-04-01"
        new = {
            "username": "xin",
            "name": "辛代表",
            "role": "deputy",
            "password": STRONG,
            "delegation_id": d["id"],
            "phone": "13905807788",
        }
        uid = (
            await step(
                "POST",
                "/api/admin/users",
                new,
                201,
                "setup.account_created",
                delegation={"id": d["id"], "name": "第三代表团"},
            )
        )["id"]
        assert steps[-1][1]["account"] == {
            "id": uid,
            "username": "xin",
            "name": "辛代表",
            "role": "deputy",
        }
        change = {
            "phone": "13905801111",
            "delegation_id": world.delegations[0],
            "meetings": [m["id"], world.meeting],
        }
        got = await step(
            "PATCH",
            f"/api/admin/users/{uid}",
            change,
            200,
            "setup.account_changed",
            changed=["phone", "delegation", "meetings"],
        )
        assert got["meetings"] == sorted([m["id"], world.meeting])
        assert got["phone"] == "13905801111" and got["delegation_id"] == world.delegations[0]
        # the same values again: nothing changes, nothing is logged
        before = len(await history(hub.url, adm, "setup:1"))
        await _call(c, "PATCH", f"/api/admin/users/{uid}", change, 200)
        assert len(await history(hub.url, adm, "setup:1")) == before
        await step(
            "PATCH",
            f"/api/admin/users/{uid}",
            {"name": "辛明"},
            200,
            "setup.account_changed",
            changed=["name"],
            name="辛明",
        )
        await step(
            "POST",
            f"/api/admin/users/{uid}/password",
            {"password": STRONG + "x"},
            200,
            "setup.password_reset",
        )
        await step(
            "POST", f"/api/admin/users/{uid}/deactivate", None, 200, "setup.account_deactivated"
        )
        await step("POST", f"/api/admin/users/{uid}/activate", None, 200, "setup.account_activated")
        await step(
            "POST",
            f"/api/users/{uid}/devices/sign-out",
            None,
            200,
            "setup.devices_signed_out",
            signed_out=0,
        )
        rules = {"valid_from": "2099-01-01", "rules": [{"event": "speech", "points": 2}]}
        rs = await step("POST", "/api/points/rules", rules, 201, "setup.points_rules_added")
        await step(
            "DELETE", f"/api/points/rules/{rs['id']}", None, 200, "setup.points_rules_withdrawn"
        )
        await step(
            "PUT",
            "/api/admin/deadline-rules/commit.reply",
            {"amount": 5, "unit": "working_days"},
            200,
            "setup.deadline_rule_changed",
            was={"amount": 3, "unit": "working_days"},
        )
        year = {
            "holidays": [{"date": "2026-10-01", "name": "国庆节"}],
            "workdays": [{"date": "2026-09-27", "name": "国庆节调休"}],
        }
        await step(
            "PUT", "/api/admin/calendar/2026", year, 200, "setup.calendar_changed", year=2026
        )
        before = len(await history(hub.url, adm, "setup:1"))
        await _call(c, "PUT", "/api/admin/calendar/2026", year, 200)  # the same year again
        await _call(
            c,
            "PUT",
            "/api/admin/deadline-rules/commit.reply",
            {"amount": 5, "unit": "working_days"},
            200,
        )
        assert len(await history(hub.url, adm, "setup:1")) == before
    for kind, body in steps:
        text = str(body)
        assert STRONG not in text and "1390580" not in text, (kind, body)
    assert len(steps) == 17


async def test_setup_log_readers_and_no_raw_publish(hub: RunningHub, world: World) -> None:
    """The secretariat, a supervisor and an admin subscribe to setup:1; a deputy and a unit
    account are refused with `forbidden`, over /ws and HTTP; nobody publishes on it raw,
    not even the secretariat, who may publish raw everywhere else."""
    for who in (world.secretariat, world.supervisor, world.admin):
        c = await Client.connect(hub.ws_url, world.tok(who))
        try:
            await c.subscribe("setup:1")
            r = await c.request({"type": "publish", "channel": "setup:1", "kind": "probe"})
            assert (r["type"], r["code"]) == ("error", "forbidden"), r
        finally:
            await c.close()
    for who in (world.deputies[0], world.unit_users[0]):
        c = await Client.connect(hub.ws_url, world.tok(who))
        try:
            r = await c.request({"type": "subscribe", "channel": "setup:1", "ref": "s"})
            assert (r["type"], r["code"]) == ("error", "forbidden"), r
        finally:
            await c.close()
        async with http(hub.url, world.tok(who)) as h:
            r = await h.get("/api/channels/setup:1/messages")
            assert (r.status_code, r.json()["code"]) == (403, "forbidden")


async def test_supervisors_archive_shows_the_setup_log(hub: RunningHub, world: World) -> None:
    """The supervisor's archive, filtered to setup:1 (and to a kind), returns the set-up
    messages with the admin as their sender."""
    async with http(hub.url, world.tok(world.admin)) as c:
        await _call(c, "POST", "/api/admin/units", {"name": "市水利局"}, 201)
        await _call(c, "POST", "/api/admin/delegations", {"name": "四团"}, 201)
    async with http(hub.url, world.tok(world.supervisor)) as s:
        page = await _call(s, "GET", "/api/archive/messages?channel=setup:1", None, 200)
        kinds = [(m["kind"], m["sender"]["id"]) for m in page["messages"]]
        assert kinds == [
            ("setup.unit_created", world.admin),
            ("setup.delegation_created", world.admin),
        ]
        page = await _call(s, "GET", "/api/archive/messages?kind=setup.unit_created", None, 200)
        assert [m["body"]["unit"]["name"] for m in page["messages"]] == ["市水利局"]


async def test_setup_api_refuses_everyone_but_admins(hub: RunningHub, world: World) -> None:
    """Creating and renaming a delegation, a unit or a meeting, and editing an account, is
    the admins': the secretariat and a supervisor get 403 `forbidden` on real objects, and
    nothing is stored or logged."""
    cases = [
        ("POST", "/api/admin/delegations", {"name": "五团"}),
        ("PUT", f"/api/admin/delegations/{world.delegations[0]}", {"name": "改名"}),
        ("POST", "/api/admin/units", {"name": "市林业局"}),
        ("PUT", f"/api/admin/units/{world.units[0]}", {"name": "改名"}),
        ("POST", "/api/admin/meetings", {"title": "会议"}),
        ("PUT", f"/api/admin/meetings/{world.meeting}", {"title": "改名"}),
        ("PATCH", f"/api/admin/users/{world.deputies[0]}", {"name": "改名"}),
        ("GET", f"/api/admin/users/{world.deputies[0]}", None),
    ]
    for who in (world.secretariat, world.supervisor, world.deputies[0]):
        async with http(hub.url, world.tok(who)) as c:
            for method, path, body in cases:
                r = await c.request(method, path, json=body)
                assert (r.status_code, r.json()["code"]) == (403, "forbidden"), (who, path)
    assert await history(hub.url, world.tok(world.admin), "setup:1") == []


async def test_setup_refusals_name_the_field(hub: RunningHub, world: World) -> None:
    """A taken name is a 409 naming `name`; a delegation for a non-deputy, an unknown
    meeting or reversed dates are refused with what was wrong."""
    async with http(hub.url, world.tok(world.admin)) as c:
        r = await c.post("/api/admin/delegations", json={"name": "一团"})
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "conflict", "name")
        r = await c.patch(
            f"/api/admin/users/{world.secretariat}", json={"delegation_id": world.delegations[0]}
        )
        assert (r.status_code, r.json()["field"]) == (400, "delegation_id"), r.text
        r = await c.patch(f"/api/admin/users/{world.deputies[0]}", json={"meetings": [999999]})
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text
        r = await c.post(
            "/api/admin/meetings",
            json={"title": "会", "starts_on": "2026-04-02", "ends_on": "2026-04-01"},
        )
        assert (r.status_code, r.json()["field"]) == (400, "ends_on"), r.text
        r = await c.patch(f"/api/admin/users/{world.deputies[0]}", json={"phone": "1377777"})
        assert (r.status_code, r.json()["field"]) == (400, "phone")
        assert "1377777" not in r.text
    assert await history(hub.url, world.tok(world.admin), "setup:1") == []


async def test_assigned_meetings_take_effect(hub: RunningHub, world: World) -> None:
    """An account assigned to a meeting reads it at once; unassigned, it is refused."""
    dep = world.outsider
    async with http(hub.url, world.tok(dep)) as d:
        r = await d.get(f"/api/meetings/{world.meeting}")
        assert (r.status_code, r.json()["code"]) == (403, "forbidden")
        async with http(hub.url, world.tok(world.admin)) as c:
            await _call(c, "PATCH", f"/api/admin/users/{dep}", {"meetings": [world.meeting]}, 200)
        assert (await d.get(f"/api/meetings/{world.meeting}")).status_code == 200
    async with hub.services.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(meeting_participants.c.meeting_id).where(
                meeting_participants.c.user_id == dep
            )
        )
        assert world.meeting in set(rows.scalars())


async def test_account_list_filters_and_pages(hub: RunningHub, world: World) -> None:
    """The account list filters by words, role and delegation and pages with limit and
    offset; `total` counts every match."""
    async with http(hub.url, world.tok(world.admin)) as c:
        everyone = await _call(c, "GET", "/api/admin/users", None, 200)
        assert everyone["total"] == len(everyone["users"])
        deps = await _call(c, "GET", "/api/admin/users?role=deputy&limit=2", None, 200)
        n = sum(1 for u in everyone["users"] if u["role"] == "deputy")
        assert deps["total"] == n and len(deps["users"]) == 2
        rest = await _call(c, "GET", "/api/admin/users?role=deputy&limit=2&offset=2", None, 200)
        assert {u["id"] for u in rest["users"]}.isdisjoint({u["id"] for u in deps["users"]})
        d0 = world.delegations[0]
        got = await _call(c, "GET", f"/api/admin/users?delegation={d0}", None, 200)
        assert {u["delegation_id"] for u in got["users"]} == {d0}
        name = next(u for u in everyone["users"] if u["id"] == world.secretariat)["name"]
        got = await _call(c, "GET", "/api/admin/users", None, 200)
        got = await c.get("/api/admin/users", params={"q": name})
        assert world.secretariat in {u["id"] for u in got.json()["users"]}


async def test_demo_sets_up_through_the_logged_steps(db_url: str, tmp_path: Path) -> None:
    """`hub demo` adds its sittings, agenda and document through the secretariat's steps:
    meeting:<id> holds sitting.created, agenda.created and document.added, sent by the
    secretariat; its points rules are on setup:1, added by the admin."""
    engine = make_engine(db_url)
    try:
        seeded = await demo.seed(engine, tmp_path)
        assert seeded is not None
        log = MessageLog(engine)
        msgs = await log.read(f"meeting:{seeded['meeting_id']}", 0, 1000)
        kinds = [m.kind for m in msgs]
        assert kinds.count("sitting.created") == len(seeded["sitting_ids"])
        assert kinds.count("agenda.created") == len(seeded["agenda_item_ids"])
        assert kinds.count("document.added") == 1
        async with engine.connect() as conn:
            sec = (
                await conn.execute(sa.select(users.c.id).where(users.c.username == "mishu"))
            ).scalar_one()
        assert {m.sender_id for m in msgs if m.kind.startswith(("sitting", "agenda"))} == {sec}
        assert all(m.ts <= datetime.now(UTC) for m in msgs)
        # the year's points rules, added by the admin as on the console
        rules = [m for m in await log.read("setup:1", 0, 1000) if m.kind.startswith("setup.points")]
        assert [(m.kind, m.sender_role) for m in rules] == [("setup.points_rules_added", "admin")]
    finally:
        await engine.dispose()
