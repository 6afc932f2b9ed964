"""Performance registrations: a deputy records, a supervisor decides, the inbox hears."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.supervision.helpers import http
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub

ACTIVITY = {
    "kind": "inspection",
    "activity_date": "2026-03-02",
    "title": "视察城区公交枢纽建设",
    "text": "随市人大常委会视察团实地察看三个站点，听取交通局汇报。",
}


async def register(hub: RunningHub, world: World, deputy: int, **over: Any) -> dict[str, Any]:
    async with http(hub, world, deputy) as c:
        r = await c.post("/api/registrations", json={**ACTIVITY, **over})
        assert r.status_code == 201, r.text
        d: dict[str, Any] = r.json()
        return d


async def test_supervisor_decision_reaches_the_deputys_inbox(hub: RunningHub, world: World) -> None:
    """Submitting and deciding each append to deputy:<id>; the decision carries the reason."""
    d0 = world.deputies[0]
    inbox = await Client.connect(hub.ws_url, world.tok(d0))
    await inbox.subscribe(f"deputy:{d0}")
    reg = await register(hub, world, d0)
    assert reg["state"] == "submitted" and reg["deputy"] == {"id": d0, "name": "代表0"}
    [m] = await inbox.messages(1)
    assert m["kind"] == "registration.submitted" and m["body"]["registration"]["id"] == reg["id"]
    other = await register(hub, world, d0, title="走访选民")
    await inbox.messages(1)
    async with http(hub, world, world.supervisor) as c:
        ok = await c.post(f"/api/registrations/{reg['id']}/confirm")
        assert ok.status_code == 200 and ok.json()["state"] == "confirmed"
        no_reason = await c.post(f"/api/registrations/{other['id']}/reject", json={})
        assert no_reason.status_code == 400
        rej = await c.post(f"/api/registrations/{other['id']}/reject", json={"reason": "缺少照片"})
        assert rej.json()["state"] == "rejected"
        again = await c.post(f"/api/registrations/{reg['id']}/reject", json={"reason": "x"})
        assert again.status_code == 409
    got = await inbox.messages(2)
    assert [m["kind"] for m in got] == ["registration.confirmed", "registration.rejected"]
    assert got[0]["sender"]["role"] == "supervisor"
    assert got[1]["body"]["registration"]["reason"] == "缺少照片"
    await inbox.close()


async def test_only_a_supervisor_decides(hub: RunningHub, world: World) -> None:
    """The secretariat, an admin and the deputy are refused; nothing changes."""
    reg = await register(hub, world, world.deputies[0])
    for user in (world.secretariat, world.admin, world.deputies[0], world.unit_users[0]):
        async with http(hub, world, user) as c:
            r = await c.post(f"/api/registrations/{reg['id']}/confirm")
            assert r.status_code == 403, user
    async with http(hub, world, world.supervisor) as c:
        assert (await c.get(f"/api/registrations/{reg['id']}")).json()["state"] == "submitted"


async def test_deputies_see_only_their_own(hub: RunningHub, world: World) -> None:
    """A deputy lists and opens only their own registrations; units none; staff all."""
    d0, d1 = world.deputies[:2]
    mine = await register(hub, world, d0)
    theirs = await register(hub, world, d1, kind="research", title="调研养老服务")
    async with http(hub, world, d0) as c:
        listed = (await c.get("/api/registrations")).json()["registrations"]
        assert [r["id"] for r in listed] == [mine["id"]]
        assert (await c.get("/api/registrations", params={"deputy": d1})).status_code == 403
        assert (await c.get(f"/api/registrations/{theirs['id']}")).status_code == 403
        assert (await c.get(f"/api/registrations/{mine['id']}")).status_code == 200
    async with http(hub, world, world.unit_users[0]) as c:
        assert (await c.get("/api/registrations")).status_code == 403
    async with http(hub, world, world.supervisor) as c:
        listed = (await c.get("/api/registrations")).json()["registrations"]
        assert [r["id"] for r in listed] == [theirs["id"], mine["id"]]
        only = (await c.get("/api/registrations", params={"deputy": d1})).json()
        assert [r["id"] for r in only["registrations"]] == [theirs["id"]]


async def test_views_are_counted(hub: RunningHub, world: World) -> None:
    """Each read of a registration is recorded: the count grows by one per read."""
    reg = await register(hub, world, world.deputies[0])
    async with http(hub, world, world.supervisor) as c:
        counts = [
            (await c.get(f"/api/registrations/{reg['id']}")).json()["views"] for _ in range(3)
        ]
    assert counts == [1, 2, 3]


async def test_attachment_round_trip(hub: RunningHub, world: World) -> None:
    """The deputy attaches evidence before the decision; readers download the same bytes."""
    d0 = world.deputies[0]
    reg = await register(hub, world, d0)
    data = "现场照片".encode() * 100
    async with http(hub, world, d0) as c:
        r = await c.put(
            f"/api/registrations/{reg['id']}/attachment",
            params={"filename": "现场照片.jpg"},
            content=data,
            headers={"content-type": "image/jpeg"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["attachment"] == {
            "name": "现场照片.jpg",
            "content_type": "image/jpeg",
            "size": len(data),
        }
    async with http(hub, world, world.supervisor) as c:
        got = await c.get(f"/api/registrations/{reg['id']}/attachment")
        assert got.status_code == 200 and got.content == data
        await c.post(f"/api/registrations/{reg['id']}/confirm")
    async with http(hub, world, d0) as c:
        late = await c.put(
            f"/api/registrations/{reg['id']}/attachment", params={"filename": "a.jpg"}, content=b"x"
        )
        assert late.status_code == 409
    async with http(hub, world, world.deputies[1]) as c:
        assert (await c.get(f"/api/registrations/{reg['id']}/attachment")).status_code == 403


async def test_the_same_attachment_again_is_stored_once(hub: RunningHub, world: World) -> None:
    """An upload sent again (same name, same bytes: an outbox after a lost answer) answers
    the registration and appends nothing; another file is recorded as usual."""
    d0 = world.deputies[0]
    reg = await register(hub, world, d0)
    path = f"/api/registrations/{reg['id']}/attachment"
    async with http(hub, world, d0) as c:
        answers = [
            await c.put(path, params={"filename": name}, content=data)
            for name, data in [("照片.jpg", b"one"), ("照片.jpg", b"one"), ("照片.jpg", b"two")]
        ]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert answers[0].json() == answers[1].json()
        assert answers[2].json()["attachment"]["size"] == 3
        r = await c.get(f"/api/channels/deputy:{d0}/messages", params={"limit": 50})
        assert r.status_code == 200, r.text
        kinds = [m["kind"] for m in r.json()["messages"]]
    assert kinds.count("registration.attached") == 2


async def test_bad_registrations_are_refused(hub: RunningHub, world: World) -> None:
    """Unknown kind, a future date, an empty text: 400; only deputies register."""
    future = (date.today() + timedelta(days=3)).isoformat()
    async with http(hub, world, world.deputies[0]) as c:
        for over, word in (
            ({"kind": "party"}, "kind"),
            ({"activity_date": future}, "future"),
            ({"activity_date": "03/02/2026"}, "activity_date"),
            ({"text": " "}, "text"),
        ):
            r = await c.post("/api/registrations", json={**ACTIVITY, **over})
            assert r.status_code == 400 and word in r.json()["message"], r.text
    async with http(hub, world, world.secretariat) as c:
        assert (await c.post("/api/registrations", json=ACTIVITY)).status_code == 403
