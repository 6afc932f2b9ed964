"""One notice, every surface that shows its figures: the tally, the follow-up, the archive,
the statistics and the export count the same addressees, delivered, read, missing and
unread (docs/workflows.md, "Delivered and read — the one definition")."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.supervision.helpers import http, receipt
from tests.utils.factories import World
from tests.utils.servers import RunningHub

FIGURES = ("addressees", "delivered", "read", "missing", "unread")


async def test_a_notices_figures_agree_on_every_surface(hub: RunningHub, world: World) -> None:
    """A notice to the meeting's four deputies, its sender (a participant) holding and
    reading their own copy, deputy 0 reading it on two devices, deputy 1 only holding it,
    deputy 2 holding its re-push, deputy 3 nothing: 4 addressees, 3 delivered, 1 read,
    1 missing, 2 unread — on the tally, the follow-up, the archive's notice message, the
    statistics and the notices export alike; the tally's unread are exactly whom a re-push
    to the unread reaches; the archive counts no receipt of the sender."""
    m = world.meeting
    sec = world.secretariat
    d0, d1, d2, d3 = world.deputies
    async with http(hub, world, sec) as c:
        r = await c.post(f"/api/meetings/{m}/notices", json={"title": "议程", "text": "九点开会"})
        assert r.status_code == 201, r.text
        nid = r.json()["id"]
        seq = r.json()["channels"][0]["seq"]
    ch = f"meeting:{m}"
    await receipt(hub, world, sec, "ack", ch, seq)
    await receipt(hub, world, sec, "read", ch, seq)
    for _device in range(2):
        await receipt(hub, world, d0, "ack", ch, seq)
        await receipt(hub, world, d0, "read", ch, seq)
    await receipt(hub, world, d1, "ack", ch, seq)
    async with http(hub, world, sec) as c:
        r = await c.post(f"/api/notices/{nid}/repush", json={"who": "missing"})
        assert r.status_code == 200, r.text
        (again,) = [x for x in r.json()["repushed"] if x["id"] == d2]
    await receipt(hub, world, d2, "ack", again["channel"], again["seq"])

    want = {"addressees": 4, "delivered": 3, "read": 1, "missing": 1, "unread": 2}
    seen: dict[str, dict[str, Any]] = {}
    async with http(hub, world, world.supervisor) as c:
        tally = (await c.get(f"/api/notices/{nid}/tally")).json()
        seen["tally"] = tally
        seen["follow-up"] = (await c.get(f"/api/notices/{nid}/followup")).json()
        page = (
            await c.get("/api/archive/messages", params={"channel": ch, "kind": "notice"})
        ).json()
        (msg,) = page["messages"]
        seen["archive"] = msg["notice"]
        stats = (await c.get("/api/statistics", params={"meeting": m})).json()
        seen["statistics"] = stats["notices"]
        raw = (await c.get("/api/archive/export/notices", params={"meeting": m})).content
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    (row,) = [x for x in rows if int(x["id"]) == nid]
    seen["export"] = {k: int(row[k]) for k in FIGURES}
    for surface, got in seen.items():
        assert {k: got[k] for k in FIGURES} == want, surface
    assert len(tally["unread_people"]) == want["unread"]
    assert len(tally["missing_people"]) == want["missing"]
    assert sec not in {r["user"]["id"] for r in msg["receipts"]}, "the sender's own copy"

    unread = {p["id"] for p in tally["unread_people"]}
    assert unread == {d1, d2}
    async with http(hub, world, sec) as c:
        r = await c.post(f"/api/notices/{nid}/repush", json={"who": "unread"})
        assert r.status_code == 200, r.text
        assert {p["id"] for p in r.json()["repushed"]} == unread
    assert d3 not in unread
