"""A deputy's conversation with the secretariat: both write in it, each message is in the
log on the deputy's channel and the meeting's desk, live to both, read back newest first
in pages; and nobody writes or reads another's."""

from __future__ import annotations

import sqlalchemy as sa

from hub.store.schema import messages
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub


async def test_a_deputy_and_the_secretariat_talk(hub: RunningHub, world: World) -> None:
    dep, other = world.deputies[:2]
    sec, m = world.secretariat, world.meeting
    live = await Client.connect(hub.ws_url, world.tok(dep))
    await live.subscribe(f"deputy:{dep}", since=0)
    desk = await Client.connect(hub.ws_url, world.tok(sec))
    await desk.subscribe(f"desk:{m}", since=0)
    try:
        async with Api(hub, world) as api:
            asked = await api.post(
                dep, "/api/conversations", {"meeting_id": m, "text": "请问会议材料何时发放？"}, 201
            )
            assert asked["deputy"] == {"id": dep, "name": "代表0"}
            assert asked["sender"]["id"] == dep and asked["channel"] == f"deputy:{dep}"
            body = {"meeting_id": m, "deputy_id": dep, "text": "今天下午发放。"}
            answered = await api.post(sec, "/api/conversations", body, 201)
            assert answered["sender"] == {"id": sec, "name": "秘书处", "role": "secretariat"}
            # live on the deputy's channel and on the desk
            mine = [x for x in await live.messages(2, f"deputy:{dep}")]
            assert [x["kind"] for x in mine] == ["conversation.message"] * 2
            assert [x["body"]["text"] for x in mine] == ["请问会议材料何时发放？", "今天下午发放。"]
            seen = []
            while len(seen) < 2:
                x = (await desk.messages(1, f"desk:{m}"))[0]
                if x["kind"] == "conversation.message":
                    seen.append(x["body"]["deputy"]["id"])
            assert seen == [dep, dep]
            # read back, newest first, paged by id
            page = await api.get(dep, "/api/conversations", limit=1)
            assert [x["text"] for x in page["messages"]] == ["今天下午发放。"]
            before = page["messages"][0]["id"]
            page = await api.get(dep, "/api/conversations", limit=1, before_id=before)
            assert [x["text"] for x in page["messages"]] == ["请问会议材料何时发放？"]
            both = await api.get(sec, "/api/conversations", deputy_id=dep)
            assert len(both["messages"]) == 2
            console = await api.get(sec, "/api/conversations", meeting_id=m)
            assert [x["channel"] for x in console["messages"]] == [f"desk:{m}"] * 2
            # another deputy's conversation: neither written nor read; a unit has none
            err = await api.post(
                other, "/api/conversations", {"meeting_id": m, "deputy_id": dep, "text": "x"}, 403
            )
            assert err["code"] == "forbidden"
            err = await api.call(
                other, "GET", "/api/conversations", params={"deputy_id": dep}, status=403
            )
            assert err["code"] == "forbidden"
            assert (await api.get(other, "/api/conversations"))["messages"] == []
            unit = world.unit_users[0]
            err = await api.post(unit, "/api/conversations", {"meeting_id": m, "text": "x"}, 403)
            assert err["code"] == "forbidden"
            err = await api.call(unit, "GET", "/api/conversations", status=403)
            assert err["code"] == "forbidden"
            # a meeting the deputy does not take part in; the secretariat must name a
            # deputy of the meeting
            err = await api.post(
                dep, "/api/conversations", {"meeting_id": world.other_meeting, "text": "x"}, 403
            )
            assert err["code"] == "forbidden"
            err = await api.post(sec, "/api/conversations", {"meeting_id": m, "text": "x"}, 400)
            assert err["field"] == "deputy_id"
            body = {"meeting_id": m, "deputy_id": world.outsider, "text": "x"}
            err = await api.post(sec, "/api/conversations", body, 400)
            assert err["reason"] == "not_a_participant"
            body = {"meeting_id": m, "deputy_id": world.unit_users[0], "text": "x"}
            assert (await api.post(sec, "/api/conversations", body, 404))["code"] == "not_found"
            # a raw publish of the kind is refused: only the API writes it
            r = await api.http.post(
                f"/api/channels/deputy:{dep}/messages",
                json={"kind": "conversation.message", "body": {"text": "forged"}},
                headers={"authorization": f"Bearer {world.tok(sec)}"},
            )
            assert r.status_code == 403 and r.json()["code"] == "forbidden"
    finally:
        await live.close()
        await desk.close()
    # stored in the log, one copy per channel: archived like every message
    async with hub.services.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(messages.c.channel).where(messages.c.kind == "conversation.message")
            )
        ).scalars()
        assert sorted(rows) == sorted([f"deputy:{dep}", f"desk:{m}"] * 2)


async def test_talk_about_an_item_on_its_timeline(hub: RunningHub, world: World) -> None:
    """The item's conversation is its ``message`` action: its deputies, units and the
    secretariat write, on its timeline; a deputy or unit not of the item may not."""
    owner, cosigner, other = world.deputies[:3]
    lead, co = world.unit_users
    async with Api(hub, world) as api:
        i = (await api.commit_item([owner, cosigner], lead=world.units[0]))["id"]
        for who, text in (
            (owner, "请尽快办理"),
            (lead, "已安排专人"),
            (world.secretariat, "请按期答复"),
        ):
            await api.post(who, f"/api/items/{i}/message", {"text": text})
        await api.refused(other, f"/api/items/{i}/message", {"text": "x"}, "forbidden")
        await api.refused(co, f"/api/items/{i}/message", {"text": "x"}, "forbidden")
        await api.refused(owner, f"/api/items/{i}/message", {"text": " "}, "bad_request")
        steps = (await api.get(cosigner, f"/api/items/{i}/events"))["events"]
        said = [
            (s["actor"]["name"], s["payload"]["text"]) for s in steps if s["action"] == "message"
        ]
        assert said == [
            ("代表0", "请尽快办理"),
            ("交通局承办员", "已安排专人"),
            ("秘书处", "请按期答复"),
        ]


async def test_a_message_sent_again_with_its_key_is_stored_once(
    hub: RunningHub, world: World
) -> None:
    """The page's outbox sends a write again with the same Idempotency-Key when it did not
    see the answer: the conversation keeps one message, and the retry gets the first answer."""
    dep, m = world.deputies[0], world.meeting
    headers = {"authorization": f"Bearer {world.tok(dep)}", "idempotency-key": "talk-1"}
    body = {"meeting_id": m, "text": "同一条消息"}
    async with Api(hub, world) as api:
        first = await api.http.post("/api/conversations", json=body, headers=headers)
        again = await api.http.post("/api/conversations", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers.get("idempotency-replayed") == "true"
        assert again.json() == first.json()
        page = await api.get(dep, "/api/conversations")
        assert [x["text"] for x in page["messages"]] == ["同一条消息"]
