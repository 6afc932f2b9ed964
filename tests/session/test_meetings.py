"""Meetings: sittings, agenda items and documents, end to end over HTTP and /ws."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import sqlalchemy as sa

from hub.config import Settings
from hub.session.documents import document_opens, documents
from hub.session.meetings import agenda_items, sittings
from hub.session.members import add_participants, create_user
from tests.utils.client import Client
from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub, running_hub
from tests.utils.session import head, http, soon, wait_for


async def _count(hub: RunningHub, table: sa.Table) -> int:
    async with hub.services.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_secretariat_builds_the_meeting_and_participants_see_it(
    hub: RunningHub, world: World
) -> None:
    """Sittings and agenda items created by the secretariat reach meeting:<id> live and are
    listed, in order, to participants and staff."""
    m = world.meeting
    dep = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    await dep.subscribe(f"meeting:{m}")
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(
            f"/api/meetings/{m}/sittings",
            json={
                "kind": "group",
                "title": "分组审议政府工作报告",
                "starts_at": soon(2),
                "ends_at": soon(4),
                "place": "二楼 201 会议室",
                "delegation_id": world.delegations[0],
            },
        )
        assert r.status_code == 201, r.text
        group = r.json()
        r = await sec.post(
            f"/api/meetings/{m}/sittings",
            json={"kind": "plenary", "title": "第一次全体会议", "starts_at": soon(1)},
        )
        plenary = r.json()
        for title in ("政府工作报告", "财政预算报告"):
            r = await sec.post(f"/api/meetings/{m}/agenda", json={"title": title})
            assert r.status_code == 201, r.text
        r = await sec.post(
            f"/api/meetings/{m}/agenda", json={"title": "法院工作报告", "position": 9}
        )
        assert r.json()["position"] == 9
    assert group["kind"] == "group" and group["delegation_id"] == world.delegations[0]
    assert group["place"] == "二楼 201 会议室" and group["starts_at"].endswith("Z")
    got = await dep.messages(5, f"meeting:{m}")
    assert [g["kind"] for g in got] == ["sitting.created"] * 2 + ["agenda.created"] * 3
    assert got[0]["body"]["sitting"] == group
    assert got[2]["body"]["agenda_item"]["position"] == 1

    for who in (world.deputies[1], world.supervisor):
        async with http(hub.url, world.tok(who)) as c:
            r = await c.get(f"/api/meetings/{m}")
            assert r.status_code == 200, r.text
            o = r.json()
            assert [s["id"] for s in o["sittings"]] == [plenary["id"], group["id"]]
            assert [a["title"] for a in o["agenda"]] == [
                "政府工作报告",
                "财政预算报告",
                "法院工作报告",
            ]
            assert [a["position"] for a in o["agenda"]] == [1, 2, 9]
    async with http(hub.url, world.tok(world.deputies[1])) as c:
        r = await c.get("/api/meetings")
        assert [x["id"] for x in r.json()["meetings"]] == [m]
    async with http(hub.url, world.tok(world.outsider)) as c:
        assert (await c.get(f"/api/meetings/{m}")).status_code == 403
        assert (await c.get("/api/meetings/999999")).status_code == 404


async def test_bad_or_unauthorised_structure_changes_write_nothing(
    hub: RunningHub, world: World
) -> None:
    """Wrong role is forbidden, bad input a bad request, unknown ids not found; none of them
    stores a row or a message."""
    m = world.meeting
    head0 = await head(hub.url, world.tok(world.secretariat), f"meeting:{m}")
    ok_sitting = {"kind": "plenary", "title": "全体会议", "starts_at": soon(1)}
    cases = [
        (world.deputies[0], f"/api/meetings/{m}/sittings", ok_sitting, 403),
        (world.supervisor, f"/api/meetings/{m}/agenda", {"title": "x"}, 403),
        (world.secretariat, "/api/meetings/999999/sittings", ok_sitting, 404),
        (world.secretariat, f"/api/meetings/{m}/sittings", {**ok_sitting, "kind": "group"}, 400),
        (
            world.secretariat,
            f"/api/meetings/{m}/sittings",
            {**ok_sitting, "kind": "group", "delegation_id": 999999},
            404,
        ),
        (
            world.secretariat,
            f"/api/meetings/{m}/sittings",
            {**ok_sitting, "delegation_id": world.delegations[0]},
            400,
        ),
        (
            world.secretariat,
            f"/api/meetings/{m}/sittings",
            {**ok_sitting, "starts_at": "2026-03-01T09:00:00"},
            400,
        ),
        (
            world.secretariat,
            f"/api/meetings/{m}/sittings",
            {**ok_sitting, "ends_at": soon(-1)},
            400,
        ),
        (world.secretariat, f"/api/meetings/{m}/agenda", {"title": " "}, 400),
        (world.secretariat, f"/api/meetings/{m}/agenda", {"title": "a\x00b"}, 400),
        (world.secretariat, f"/api/meetings/{m}/agenda", {"title": "x", "position": 2**40}, 400),
        (
            world.secretariat,
            f"/api/meetings/{m}/sittings",
            {**ok_sitting, "kind": "group", "delegation_id": 2**70},
            400,
        ),
        (
            world.secretariat,
            f"/api/meetings/{m}/sittings",
            {**ok_sitting, "starts_at": "0001-01-01T00:00:00+01:00"},
            400,
        ),
        (world.secretariat, f"/api/meetings/{2**64}/sittings", ok_sitting, 404),
        (world.secretariat, f"/api/meetings/{m}/agenda", {"title": "x", "position": 0}, 400),
    ]
    for who, path, payload, status in cases:
        async with http(hub.url, world.tok(who)) as c:
            r = await c.post(path, json=payload)
            assert r.status_code == status, (path, payload, r.text)
            assert r.json()["code"] in ("forbidden", "bad_request", "not_found")
    assert await _count(hub, sittings) == 0
    assert await _count(hub, agenda_items) == 0
    assert await head(hub.url, world.tok(world.secretariat), f"meeting:{m}") == head0


async def test_documents_are_uploaded_listed_opened_and_opens_recorded(
    hub: RunningHub, world: World
) -> None:
    """An upload is stored once by content hash, announced on meeting:<id>, listed to
    participants, served with its type and name, and every open is recorded with who."""
    m = world.meeting
    content = "关于调整会议议程的通知\n".encode() * 500
    sha = hashlib.sha256(content).hexdigest()
    dep = await Client.connect(hub.ws_url, world.tok(world.deputies[0]))
    await dep.subscribe(f"meeting:{m}")
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(
            f"/api/meetings/{m}/documents",
            params={"filename": "../议程.txt", "title": "会议议程"},
            content=content,
            headers={"content-type": "text/plain; charset=utf-8"},
        )
        assert r.status_code == 201, r.text
        doc = r.json()
        again = await sec.post(
            f"/api/meetings/{m}/documents", params={"filename": "copy.txt"}, content=content
        )
        assert again.status_code == 201
    assert doc["sha256"] == sha and doc["size"] == len(content)
    assert doc["filename"] == "议程.txt" and doc["title"] == "会议议程"
    blob = Path(hub.services.settings.data_dir) / "files" / sha[:2] / sha
    assert blob.read_bytes() == content
    assert [p.name for p in (blob.parent.parent / "tmp").iterdir()] == []
    msg = await wait_for(dep, "document.added", f"meeting:{m}")
    assert msg["body"]["document"] == doc

    async with http(hub.url, world.tok(world.deputies[1])) as c:
        r = await c.get(f"/api/meetings/{m}/documents")
        assert [d["title"] for d in r.json()["documents"]] == ["会议议程", "copy.txt"]
        for _ in range(2):
            r = await c.get(f"/api/documents/{doc['id']}")
            assert r.status_code == 200
            assert r.content == content
            assert r.headers["content-type"].startswith("text/plain")
            assert "filename*=utf-8''%E8%AE%AE%E7%A8%8B.txt" in r.headers["content-disposition"]
    # a browser link carries a short-lived download token for that document
    async with http(hub.url, world.tok(world.deputies[2])) as c:
        r = await c.post("/api/downloads", json={"path": f"/api/documents/{doc['id']}"})
        link = r.json()["url"]
    async with httpx.AsyncClient(base_url=hub.url) as anon:
        r = await anon.get(link)
        assert r.status_code == 200
        assert (await anon.get(f"/api/documents/{doc['id']}")).status_code == 401
    async with http(hub.url, world.tok(world.outsider)) as c:
        assert (await c.get(f"/api/documents/{doc['id']}")).status_code == 403
        assert (await c.get(f"/api/meetings/{m}/documents")).status_code == 403
        assert (await c.get("/api/documents/999999")).status_code == 404
    async with http(hub.url, world.tok(world.deputies[1])) as c:
        assert (await c.get(f"/api/documents/{doc['id']}/opens")).status_code == 403
    async with http(hub.url, world.tok(world.supervisor)) as c:
        r = await c.get(f"/api/documents/{doc['id']}/opens")
        assert r.status_code == 200
        o = r.json()
    # opening again within a minute is recorded once
    assert [x["user"]["id"] for x in o["opens"]] == [world.deputies[1], world.deputies[2]]
    assert o["opens"][0]["user"]["name"] == "代表1" and o["readers"] == 2


async def test_uploads_over_the_limit_or_by_others_store_nothing(
    settings: Settings, world: World
) -> None:
    """Over HUB_UPLOAD_LIMIT (declared or streamed) is too_large, a deputy's upload is
    forbidden, an empty one a bad request: no file, no row, no message."""
    m = world.meeting

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 300

    async with running_hub(settings.with_(upload_limit=1000)) as h:
        head0 = await head(h.url, world.tok(world.secretariat), f"meeting:{m}")
        async with http(h.url, world.tok(world.secretariat)) as sec:
            url = f"/api/meetings/{m}/documents"
            r = await sec.post(url, params={"filename": "big.pdf"}, content=b"x" * 1001)
            assert r.status_code == 413 and r.json()["code"] == "too_large"
            r = await sec.post(url, params={"filename": "big.pdf"}, content=chunks())
            assert r.status_code == 413, r.text
            r = await sec.post(url, params={"filename": "empty.pdf"}, content=b"")
            assert r.status_code == 400
            r = await sec.post(url, params={"filename": ""}, content=b"abc")
            assert r.status_code == 400
            r = await sec.post("/api/meetings/999999/documents?filename=a.pdf", content=b"abc")
            assert r.status_code == 404
        async with http(h.url, world.tok(world.deputies[0])) as dep:
            r = await dep.post(f"/api/meetings/{m}/documents?filename=a.pdf", content=b"abc")
            assert r.status_code == 403
        assert await _count(h, documents) == 0
        assert await _count(h, document_opens) == 0
        assert await head(h.url, world.tok(world.secretariat), f"meeting:{m}") == head0
        files = Path(h.services.settings.data_dir) / "files"
        assert [p for p in files.rglob("*") if p.is_file()] == []


async def test_meeting_deputies_are_listed_with_their_delegation(
    hub: RunningHub, world: World
) -> None:
    """The meeting's deputies (not its other participants, not deputies of other meetings)
    with their delegation's id and name, by id, for participants and staff; others are
    forbidden, an unknown meeting not found."""
    m = world.meeting
    d1, d2 = world.delegations
    want = [
        {
            "id": d,
            "name": f"代表{i}",
            "delegation_id": (d1, d2)[i % 2],
            "delegation_name": ("一团", "二团")[i % 2],
        }
        for i, d in enumerate(world.deputies)
    ]
    for who in (world.deputies[1], world.secretariat, world.supervisor, world.admin):
        async with http(hub.url, world.tok(who)) as c:
            r = await c.get(f"/api/meetings/{m}/deputies")
            assert r.status_code == 200, r.text
            assert r.json() == {"deputies": want}
    async with http(hub.url, world.tok(world.supervisor)) as c:
        r = await c.get(f"/api/meetings/{world.other_meeting}/deputies")
        assert [d["id"] for d in r.json()["deputies"]] == [world.outsider]
        r = await c.get("/api/meetings/999999/deputies")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    for who in (world.outsider, world.unit_users[0]):
        async with http(hub.url, world.tok(who)) as c:
            r = await c.get(f"/api/meetings/{m}/deputies")
            assert r.status_code == 403 and r.json()["code"] == "forbidden"


async def test_only_the_meetings_secretariat_edits_an_agenda_item(
    hub: RunningHub, world: World
) -> None:
    """An agenda item of the other meeting, made by that meeting's own secretariat: this
    meeting's secretariat, a participant of that meeting, the supervisor and the admin get
    403 `forbidden` and nothing changes; its own secretariat renames it, and
    agenda.changed reaches meeting:<id> live."""
    other = world.other_meeting
    async with hub.services.engine.begin() as conn:
        sec2 = await create_user(conn, "sec2", "另一会议秘书处", "secretariat")
        await add_participants(conn, other, [sec2])
    tok2 = tokens.issue(sec2, 0)
    async with http(hub.url, tok2) as c:
        r = await c.post(f"/api/meetings/{other}/agenda", json={"title": "政府工作报告"})
        assert r.status_code == 201, r.text
        item = r.json()
    h = await head(hub.url, tok2, f"meeting:{other}")
    for who in (world.secretariat, world.outsider, world.supervisor, world.admin):
        async with http(hub.url, world.tok(who)) as c:
            r = await c.put(f"/api/agenda/{item['id']}", json={"title": "改"})
            assert (r.status_code, r.json()["code"]) == (403, "forbidden"), (who, r.text)
    assert await head(hub.url, tok2, f"meeting:{other}") == h
    watcher = await Client.connect(hub.ws_url, tok2)
    await watcher.subscribe(f"meeting:{other}", since=h)
    async with http(hub.url, tok2) as c:
        r = await c.put(
            f"/api/agenda/{item['id']}", json={"title": "审议政府工作报告", "position": 3}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["title"], r.json()["position"]) == ("审议政府工作报告", 3)
        r = await c.put("/api/agenda/999999", json={"title": "无"})
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
    m = await wait_for(watcher, "agenda.changed", f"meeting:{other}")
    assert m["body"]["agenda_item"]["title"] == "审议政府工作报告"
    await watcher.close()
