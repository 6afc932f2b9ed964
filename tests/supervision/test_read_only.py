"""A supervisor reads everything and changes nothing: every write endpoint of the hub
refuses them, except deciding performance registrations, which is theirs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.routing import Route

from hub.session.meetings import create_agenda_item, create_sitting
from hub.session.members import load_member
from hub.session.speakers import request_to_speak
from hub.tables import metadata
from tests.supervision.helpers import http
from tests.supervision.scenario import items_scenario
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub

# Writes a supervisor may make: logging in and out, its own password, download links,
# its own devices for Web Push and its own browsers' logins, and deciding registrations.
THEIRS = {
    ("POST", "/api/login"),
    ("POST", "/api/login/first"),  # choosing one's own password: a login, no token
    ("POST", "/api/push/subscriptions"),
    ("DELETE", "/api/push/subscriptions/{id:int}"),
    ("POST", "/api/logout"),
    ("POST", "/api/password"),
    ("POST", "/api/devices/refresh"),  # their own browsers' lasting logins
    ("POST", "/api/devices/{id:int}/sign-out"),
    ("POST", "/api/downloads"),
    ("POST", "/api/registrations/{id:int}/confirm"),
    ("POST", "/api/registrations/{id:int}/reject"),
}


async def _objects(hub: RunningHub, world: World) -> dict[str, int]:
    """One existing object of each kind a write endpoint acts on, so that a refusal is
    about the caller and not about a missing object."""
    node, engine = hub.services.node, hub.services.engine
    sec = await load_member(engine, world.secretariat)
    d0 = await load_member(engine, world.deputies[0])
    async with Api(hub, world) as api:
        ids = await items_scenario(hub, world, api)
        hub.services.clock.release()
        opinion = await api.opinion(world.deputies[1])
        notice = await api.post(
            world.secretariat,
            f"/api/meetings/{world.meeting}/notices",
            {"title": "通知", "text": "x"},
            status=201,
        )
        now = datetime.now(UTC)
        group = await create_sitting(
            node, sec, world.meeting, "group", "分组审议", now, now + timedelta(hours=2),
            delegation_id=world.delegations[0],
        )  # fmt: skip
        agenda = await create_agenda_item(node, sec, world.meeting, "政府工作报告")
        speech = await request_to_speak(node, d0, group["id"], agenda["id"])
        leave = await api.post(
            world.deputies[2], f"/api/sittings/{group['id']}/leave", {"reason": "出差"}, status=201
        )
        future = {
            "valid_from": f"{now.year + 5}-01-01",
            "rules": [{"event": "speech", "points": 1}],
        }
        ruleset = await api.post(world.admin, "/api/points/rules", future, status=201)
        reg = await api.post(
            world.deputies[0],
            "/api/registrations",
            {"kind": "training", "activity_date": "2026-01-05", "title": "培训", "text": "x"},
            status=201,
        )
        done = await api.post(
            world.deputies[0],
            "/api/registrations",
            {"kind": "research", "activity_date": "2026-01-06", "title": "调研", "text": "x"},
            status=201,
        )
        await api.post(world.supervisor, f"/api/registrations/{done['id']}/confirm")
        dispute = await api.post(
            world.deputies[0],
            "/api/points/disputes",
            {"entry": f"registration:{done['id']}", "reason": "日期有误"},
            status=201,
        )
    return {
        "dispute": dispute["id"],
        "item": ids["c2"],
        "suggestion": ids["s1"],
        "opinion": opinion["id"],
        "notice": notice["id"],
        "sitting": group["id"],
        "speaker": speech["id"],
        "leave": leave["id"],
        "ruleset": ruleset["id"],
        "registration": reg["id"],
        "agenda": agenda["id"],
        "user": world.deputies[3],
        "meeting": world.meeting,
        "delegation": world.delegations[0],
        "unit": world.units[0],
    }


def _concrete(path: str, ids: dict[str, int], world: World) -> str:
    """A real path for a route pattern, with the id of an existing object."""
    kind = {
        "items": "item", "suggestions": "suggestion", "opinions": "opinion",
        "notices": "notice", "sittings": "sitting", "speakers": "speaker", "leave": "leave",
        "rules": "ruleset", "registrations": "registration", "users": "user",
        "meetings": "meeting", "disputes": "dispute", "agenda": "agenda",
        "delegations": "delegation", "units": "unit",
    }  # fmt: skip
    parts = path.split("/")
    for i, p in enumerate(parts):
        if p.startswith("{id"):
            parts[i] = str(ids[kind[parts[i - 1]]])
    out = "/".join(parts)
    out = out.replace("{channel}", f"meeting:{world.meeting}")
    out = out.replace("{year:int}", "2031").replace("{name}", "commit.sign")
    return re.sub(r"\{[^}]+\}", "1", out)


def _valid_request(method: str, path: str, ids: dict[str, int], world: World) -> dict[str, Any]:
    """A well-formed request for the endpoints that check their input before the caller:
    the refusal must then be about who asks, not about what was sent."""
    m = world.meeting
    bodies: dict[str, dict[str, Any]] = {
        "/api/channels/{channel}/messages": {"kind": "notice", "body": {"text": "x"}},
        "/api/items": {"opinion_ids": [ids["opinion"]], "title": "t", "lead_unit_id": world.units[0]},
        "/api/items/seen": {"item_ids": [ids["item"]]},
        "/api/meetings/{id:int}/agenda": {"title": "议程"},
        "/api/agenda/{id:int}": {"title": "议程"},
        "/api/meetings/{id:int}/notices": {"title": "通知", "text": "x"},
        "/api/meetings/{id:int}/sittings": {
            "kind": "plenary", "title": "t", "starts_at": "2030-03-04T09:00:00+08:00",
        },
        "/api/notices/{id:int}/withdraw": {"reason": "取消"},
        "/api/opinions": {"meeting_id": m, "text": "意见"},
        "/api/opinions/{id:int}/merge": {"into": ids["opinion"] - 1},
        "/api/sittings/{id:int}": {
            "title": "t", "starts_at": "2030-03-04T09:00:00+08:00", "ends_at": None,
            "place": None, "checkin_opens_before": None, "checkin_closes_after": None,
            "checkin_code": False, "speech_limit_s": None,
        },
        "/api/sittings/{id:int}/leave": {"reason": "出差"},
        "/api/sittings/{id:int}/speakers": {"agenda_item_id": ids["agenda"]},
        "/api/sittings/{id:int}/speakers/order": {
            "agenda_item_id": ids["agenda"], "order": [ids["speaker"]],
        },
        "/api/suggestions": {"meeting_id": m, "title": "建议", "text": "x"},
    }  # fmt: skip
    if path == "/api/meetings/{id:int}/documents":
        return {"content": b"%PDF-1.4", "params": {"filename": "a.pdf"}}
    return {"json": bodies.get(path, {})}


async def _snapshot(hub: RunningHub) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with hub.services.engine.connect() as conn:
        for t in metadata.sorted_tables:
            rows = await conn.execute(sa.select(t))
            out[t.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def test_every_write_endpoint_refuses_a_supervisor(hub: RunningHub, world: World) -> None:
    """Each POST/PUT/DELETE of the app answers a supervisor 403 and changes no row of any
    table; confirming a registration is the one write that goes through."""
    ids = await _objects(hub, world)
    before = await _snapshot(hub)
    writes = [
        (m, r.path)
        for r in hub.app.routes
        if isinstance(r, Route)
        for m in sorted((r.methods or set()) - {"GET", "HEAD"})
    ]
    assert len(writes) > 40  # the whole hub, not only supervision
    answered = {}
    async with http(hub, world, world.supervisor) as c:
        for method, path in writes:
            if (method, path) in THEIRS:
                continue
            kw = _valid_request(method, path, ids, world)
            r = await c.request(method, _concrete(path, ids, world), **kw)
            answered[(method, path)] = r.status_code
    assert {k: v for k, v in answered.items() if v != 403} == {}
    assert await _snapshot(hub) == before
    async with http(hub, world, world.supervisor) as c:
        r = await c.post(f"/api/registrations/{ids['registration']}/confirm")
        assert r.status_code == 200 and r.json()["state"] == "confirmed"


async def test_supervisor_reads_everything(hub: RunningHub, world: World) -> None:
    """The supervisor's reads of the record all succeed: archive, export, verify,
    statistics, timelines, points, files, registrations."""
    ids = await _objects(hub, world)
    paths = [
        "/api/archive/messages",
        "/api/archive/export/messages",
        "/api/archive/verify",
        f"/api/statistics?meeting={world.meeting}",
        f"/api/items/{ids['item']}/timeline",
        "/api/points",
        "/api/points/rules",
        "/api/points/disputes",
        f"/api/deputies/{world.deputies[0]}/points",
        f"/api/deputies/{world.deputies[0]}/file",
        "/api/registrations",
        f"/api/registrations/{ids['registration']}",
    ]
    async with http(hub, world, world.supervisor) as c:
        codes = {p: (await c.get(p)).status_code for p in paths}
    assert codes == dict.fromkeys(paths, 200)
    async with httpx.AsyncClient(base_url=hub.url) as c:
        assert (await c.get("/api/archive/verify")).status_code == 401
