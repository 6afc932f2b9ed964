"""The list of speakers of a group deliberation, end to end."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from hub.session.speakers import speech_requests
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub
from tests.utils.session import head, http, soon, wait_for


async def _setup(hub: RunningHub, world: World) -> tuple[int, int, int, int]:
    """A group deliberation of the first delegation, a plenary, two agenda items."""
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        base = {"starts_at": soon(-1), "ends_at": soon(3)}
        r = await sec.post(
            f"/api/meetings/{world.meeting}/sittings",
            json={
                **base,
                "kind": "group",
                "title": "一团分组审议",
                "delegation_id": world.delegations[0],
            },
        )
        group = r.json()["id"]
        r = await sec.post(
            f"/api/meetings/{world.meeting}/sittings",
            json={**base, "kind": "plenary", "title": "全体会议"},
        )
        plenary = r.json()["id"]
        items = [
            (await sec.post(f"/api/meetings/{world.meeting}/agenda", json={"title": t})).json()[
                "id"
            ]
            for t in ("政府工作报告", "计划报告")
        ]
    return group, plenary, items[0], items[1]


async def _speaker_messages(c: Client, channel: str, n: int) -> list[dict[str, Any]]:
    """The next ``n`` messages about speakers on ``channel`` (presence changes skipped)."""
    out: list[dict[str, Any]] = []
    while len(out) < n:
        (f,) = await c.messages(1, channel)
        if f["kind"].startswith("speaker"):
            out.append(f)
    return out


async def _post(hub: RunningHub, who: str, path: str, payload: Any = None) -> Any:
    async with http(hub.url, who) as c:
        return await c.post(path, json=payload)


async def test_speakers_requested_ordered_started_ended(hub: RunningHub, world: World) -> None:
    """Deputies of the delegation ask to speak; the convenor reorders, starts and ends each
    speech; the delegation channel and the desk see every step in order; the speech is
    recorded with its duration."""
    group, _, item, _ = await _setup(hub, world)
    a, c = world.deputies[0], world.deputies[2]  # both in the first delegation
    ch_del = f"delegation:{world.delegations[0]}"
    ch_desk = f"desk:{world.meeting}"
    watcher = await Client.connect(hub.ws_url, world.tok(c))
    await watcher.subscribe(ch_del)
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    await sec.subscribe(ch_desk)
    sec_tok = world.tok(world.secretariat)

    ra = await _post(hub, world.tok(a), f"/api/sittings/{group}/speakers", {"agenda_item_id": item})
    assert ra.status_code == 201, ra.text
    ra = ra.json()
    assert ra["status"] == "waiting" and ra["position"] == 1
    assert ra["allowed"] == ["start", "withdraw", "order"]
    rc = (
        await _post(hub, world.tok(c), f"/api/sittings/{group}/speakers", {"agenda_item_id": item})
    ).json()
    assert rc["position"] == 2

    async with http(hub.url, sec_tok) as s:
        r = await s.put(
            f"/api/sittings/{group}/speakers/order",
            json={"agenda_item_id": item, "order": [rc["id"], ra["id"]]},
        )
        assert r.status_code == 200, r.text
        assert [q["id"] for q in r.json()["queue"]] == [rc["id"], ra["id"]]
    started = await _post(hub, sec_tok, f"/api/speakers/{rc['id']}/start")
    assert started.status_code == 200 and started.json()["status"] == "speaking"
    await asyncio.sleep(0.2)
    ended = (await _post(hub, sec_tok, f"/api/speakers/{rc['id']}/end")).json()
    assert ended["status"] == "done" and ended["allowed"] == []
    assert 0.2 <= ended["duration_s"] < 10
    await _post(hub, sec_tok, f"/api/speakers/{ra['id']}/start")

    kinds = [
        "speaker.requested",
        "speaker.requested",
        "speakers.ordered",
        "speaker.started",
        "speaker.ended",
        "speaker.started",
    ]
    for client, ch in ((watcher, ch_del), (sec, ch_desk)):
        got = await _speaker_messages(client, ch, len(kinds))
        assert [g["kind"] for g in got] == kinds
        assert [q["id"] for q in got[2]["body"]["queue"]] == [rc["id"], ra["id"]]
        assert got[3]["body"]["queue"][0]["status"] == "speaking"
        assert got[4]["body"]["request"]["duration_s"] == ended["duration_s"]
        assert [q["id"] for q in got[5]["body"]["queue"]] == [ra["id"]]

    async with http(hub.url, world.tok(world.deputies[1])) as other:
        r = await other.get(f"/api/sittings/{group}/speakers", params={"agenda_item_id": item})
        assert r.status_code == 200
        listed = r.json()["requests"]
    assert [(x["id"], x["status"]) for x in listed] == [(rc["id"], "done"), (ra["id"], "speaking")]
    assert listed[0]["deputy"] == {"id": c, "name": "代表2"}


async def test_invalid_speaker_actions_are_refused_and_write_nothing(
    hub: RunningHub, world: World
) -> None:
    """Another delegation, a plenary, a second request, someone else's withdrawal, ending a
    waiting request, two speeches at once, a stale order, the wrong role, unknown ids: each
    refused with its code (conflicts name what is allowed); nothing stored or published."""
    group, plenary, item, item2 = await _setup(hub, world)
    a, b, c = world.deputies[0], world.deputies[1], world.deputies[2]
    path = f"/api/sittings/{group}/speakers"
    ra = (await _post(hub, world.tok(a), path, {"agenda_item_id": item})).json()
    rc = (await _post(hub, world.tok(c), path, {"agenda_item_id": item})).json()
    sec = world.tok(world.secretariat)
    assert (await _post(hub, sec, f"/api/speakers/{ra['id']}/start")).status_code == 200

    desk0 = await head(hub.url, sec, f"desk:{world.meeting}")
    del0 = await head(hub.url, sec, f"delegation:{world.delegations[0]}")
    async with hub.services.engine.connect() as conn:
        rows0 = (
            await conn.execute(sa.select(speech_requests).order_by(speech_requests.c.id))
        ).all()

    cases: list[tuple[str, str, Any, int, dict[str, Any] | None]] = [
        (world.tok(b), path, {"agenda_item_id": item}, 403, None),
        (world.tok(world.outsider), path, {"agenda_item_id": item}, 403, None),
        (sec, path, {"agenda_item_id": item}, 403, None),
        (world.tok(a), f"/api/sittings/{plenary}/speakers", {"agenda_item_id": item}, 400, None),
        (world.tok(a), path, {"agenda_item_id": 999999}, 404, None),
        (world.tok(a), "/api/sittings/999999/speakers", {"agenda_item_id": item}, 404, None),
        (world.tok(a), path, {}, 400, None),
        (world.tok(a), path, {"agenda_item_id": item}, 409, {"allowed": ["end"]}),
        (
            world.tok(c),
            path,
            {"agenda_item_id": item},
            409,
            {"allowed": ["start", "withdraw", "order"]},
        ),
        (world.tok(a), f"/api/speakers/{rc['id']}/withdraw", None, 403, None),
        (world.tok(a), f"/api/speakers/{ra['id']}/withdraw", None, 409, {"allowed": ["end"]}),
        (
            sec,
            f"/api/speakers/{rc['id']}/end",
            None,
            409,
            {"allowed": ["start", "withdraw", "order"]},
        ),
        (
            sec,
            f"/api/speakers/{rc['id']}/start",
            None,
            409,
            {"allowed": ["end"], "speaking": ra["id"]},
        ),
        (world.tok(a), f"/api/speakers/{ra['id']}/end", None, 403, None),
        (
            world.supervisor and world.tok(world.supervisor),
            f"/api/speakers/{ra['id']}/end",
            None,
            403,
            None,
        ),
        (sec, "/api/speakers/999999/start", None, 404, None),
    ]
    for tok, p, payload, status, extra in cases:
        r = await _post(hub, tok, p, payload)
        assert r.status_code == status, (p, payload, r.text)
        for k, v in (extra or {}).items():
            assert r.json()[k] == v, (p, r.json())
    async with http(hub.url, sec) as s:
        r = await s.put(
            f"{path}/order", json={"agenda_item_id": item, "order": [rc["id"], ra["id"]]}
        )
        assert r.status_code == 409 and r.json()["waiting"] == [rc["id"]]
        r = await s.put(
            f"{path}/order", json={"agenda_item_id": item, "order": [rc["id"], rc["id"]]}
        )
        assert r.status_code == 409
        r = await s.put(f"{path}/order", json={"agenda_item_id": item2})
        assert r.status_code == 400
    async with http(hub.url, world.tok(a)) as d:
        r = await d.put(f"{path}/order", json={"agenda_item_id": item, "order": [rc["id"]]})
        assert r.status_code == 403
    async with http(hub.url, world.tok(world.outsider)) as d:
        assert (await d.get(path)).status_code == 403

    async with hub.services.engine.connect() as conn:
        rows = (await conn.execute(sa.select(speech_requests).order_by(speech_requests.c.id))).all()
    assert rows == rows0
    assert await head(hub.url, sec, f"desk:{world.meeting}") == desk0
    assert await head(hub.url, sec, f"delegation:{world.delegations[0]}") == del0

    # the deputy's own withdrawal of a waiting request is fine; after it, nothing is allowed
    r = await _post(hub, world.tok(c), f"/api/speakers/{rc['id']}/withdraw")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn" and r.json()["allowed"] == []
    r = await _post(hub, sec, f"/api/speakers/{rc['id']}/start")
    assert r.status_code == 409 and r.json()["allowed"] == []
    await _ask_again_after_withdrawal(hub, world, group)


async def _ask_again_after_withdrawal(hub: RunningHub, world: World, group: int) -> None:
    """After a withdrawal the deputy may ask again on the same item."""
    sec = await Client.connect(hub.ws_url, world.tok(world.secretariat))
    await sec.subscribe(f"desk:{world.meeting}")
    async with http(hub.url, world.tok(world.deputies[2])) as d:
        items = (await d.get(f"/api/meetings/{world.meeting}")).json()["agenda"]
        r = await d.post(f"/api/sittings/{group}/speakers", json={"agenda_item_id": items[0]["id"]})
        assert r.status_code == 201 and r.json()["position"] == 3
    await wait_for(sec, "speaker.requested")
