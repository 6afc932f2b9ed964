"""The deputies' feedback on an item's handling: a contact the lead unit recorded is
confirmed or disputed by the deputies it concerns, a deputy's follow-up question waits for
the lead unit's answer; every step on the item's timeline naming its person, and each
refused with its exact code when it is not the caller's to take."""

from __future__ import annotations

from hub.session.members import create_unit, create_user
from tests.utils.client import Client
from tests.utils.factories import World, tokens
from tests.utils.items import Api, flow
from tests.utils.servers import RunningHub


async def _other_unit(hub: RunningHub, world: World) -> int:
    async with hub.services.engine.begin() as conn:
        u3 = await create_unit(conn, "教育局")
        user = await create_user(conn, "unit3", "教育局承办员", "unit", unit_id=u3)
    world.token[user] = tokens.issue(user, 0)
    return user


async def test_a_recorded_contact_is_confirmed_or_disputed_by_its_deputies(
    hub: RunningHub, world: World
) -> None:
    owner, cosigner, other = world.deputies[:3]
    lead, co = world.unit_users
    async with Api(hub, world) as api:
        item = await api.commit_item([owner, cosigner], lead=world.units[0], co=[world.units[1]])
        i = item["id"]
        await api.post(lead, f"/api/items/{i}/sign")
        # nothing recorded yet: nothing to confirm, and the action is not offered
        await api.refused(owner, f"/api/items/{i}/confirm_contact", {}, "conflict")
        got = await api.get(owner, f"/api/items/{i}")
        assert "confirm_contact" not in {a["name"] for a in got["actions"]}
        await api.post(lead, f"/api/items/{i}/contact", {"method": "visit", "note": "上门走访"})
        contact = (await api.get(owner, f"/api/items/{i}"))["recorded_contacts"][0]
        assert contact["deputy_ids"] == [owner, cosigner] == contact["waiting"]
        path = f"/api/items/{i}/confirm_contact"
        # not theirs: another deputy, the lead unit, the secretariat
        await api.refused(other, path, {}, "forbidden")
        await api.refused(lead, path, {}, "forbidden")
        await api.refused(co, path, {}, "forbidden")
        await api.refused(world.secretariat, path, {}, "forbidden")
        # a dispute needs its reason; an unknown contact is refused by name
        await api.refused(owner, f"/api/items/{i}/dispute_contact", {}, "bad_request")
        err = await api.refused(owner, path, {"contact_id": contact["id"] + 999}, "bad_request")
        assert (err["field"], err["reason"]) == ("contact_id", "unknown_contact")
        await api.post(owner, path, {"contact_id": contact["id"]})
        await api.refused(owner, path, {}, "conflict")  # once
        await api.post(cosigner, f"/api/items/{i}/dispute_contact", {"reason": "没有人来过"})
        d = await api.get(world.secretariat, f"/api/items/{i}")
        fb = {f["deputy_id"]: f for f in d["recorded_contacts"][0]["feedback"]}
        assert d["recorded_contacts"][0]["waiting"] == []
        assert fb[owner]["confirmed"] is True and fb[owner]["reason"] is None
        assert fb[cosigner]["confirmed"] is False and fb[cosigner]["reason"] == "没有人来过"
        # on the timeline, naming each person; the unit reads it too
        steps = (await api.get(lead, f"/api/items/{i}/events"))["events"]
        named = [(s["action"], s["actor"]["name"]) for s in steps[-3:]]
        assert named == [
            ("contact", "交通局承办员"),
            ("confirm_contact", "代表0"),
            ("dispute_contact", "代表1"),
        ]
        assert steps[-1]["payload"] == {
            "contact_id": contact["id"],
            "method": "visit",
            "reason": "没有人来过",
        }
        r = await api.http.get(
            f"/api/items/{i}/events", headers={"authorization": f"Bearer {world.tok(other)}"}
        )
        assert r.status_code == 403 and r.json()["code"] == "forbidden"


async def test_a_contact_with_one_deputy_waits_on_that_deputy_only(
    hub: RunningHub, world: World
) -> None:
    owner, cosigner = world.deputies[:2]
    lead = world.unit_users[0]
    async with Api(hub, world) as api:
        i = (await api.commit_item([owner, cosigner], lead=world.units[0]))["id"]
        await api.post(lead, f"/api/items/{i}/sign")
        body = {"method": "phone", "note": "电话沟通", "deputy_id": owner}
        await api.post(lead, f"/api/items/{i}/contact", body)
        await api.refused(cosigner, f"/api/items/{i}/confirm_contact", {}, "conflict")
        cid = (await api.get(owner, f"/api/items/{i}"))["recorded_contacts"][0]["id"]
        await api.post(lead, f"/api/items/{i}/contact", {"method": "meeting", "note": "座谈"})
        # naming the first does not help the co-signer: it is not theirs
        err = await api.refused(
            cosigner,
            f"/api/items/{i}/dispute_contact",
            {"contact_id": cid, "reason": "不是我"},
            "bad_request",
        )
        assert err["reason"] == "contact_not_waiting"
        got = await api.post(cosigner, f"/api/items/{i}/confirm_contact")  # the second
        assert "confirm_contact" not in {a["name"] for a in got["actions"]}
        await api.post(owner, f"/api/items/{i}/confirm_contact", {"contact_id": cid})
        await api.post(owner, f"/api/items/{i}/confirm_contact")


async def test_a_follow_up_question_waits_for_the_lead_units_answer(
    hub: RunningHub, world: World
) -> None:
    owner, cosigner, other = world.deputies[:3]
    lead, co = world.unit_users
    third = await _other_unit(hub, world)
    async with Api(hub, world) as api:
        item = await api.commit_item([owner, cosigner], lead=world.units[0], co=[world.units[1]])
        i = item["id"]
        await api.post(lead, f"/api/items/{i}/sign")
        inbox = await Client.connect(hub.ws_url, world.tok(lead))
        await inbox.subscribe(f"unit:{world.units[0]}", since=0)
        try:
            await flow(inbox, 2, f"unit:{world.units[0]}")  # handed over, signed
            await api.refused(other, f"/api/items/{i}/ask", {"text": "?"}, "forbidden")
            await api.refused(lead, f"/api/items/{i}/ask", {"text": "?"}, "forbidden")
            asked = await api.post(owner, f"/api/items/{i}/ask", {"text": "何时完工？"})
            assert asked["questions_open"] == 1
            # one open question per deputy; the other deputy may ask theirs
            err = await api.refused(owner, f"/api/items/{i}/ask", {"text": "再问"}, "conflict")
            assert "waits for the unit's answer" in err["message"]
            mine = {a["name"]: a for a in (await api.get(owner, f"/api/items/{i}"))["actions"]}
            assert mine["ask"]["allowed"] is False
            assert mine["ask"]["reason"]["code"] == "question_open"
            # the unit hears the question live, naming the deputy
            (m,) = await flow(inbox, 1, f"unit:{world.units[0]}")
            assert m["kind"] == "item.asked"
            assert m["body"]["event"]["actor"]["name"] == "代表0"
            assert m["body"]["item"]["questions_open"] == 1
            path = f"/api/items/{i}/answer"
            # only the lead unit answers: not a co-unit, not another unit, not a deputy
            await api.refused(co, path, {"text": "答"}, "forbidden")
            await api.refused(third, path, {"text": "答"}, "forbidden")
            await api.refused(owner, path, {"text": "答"}, "forbidden")
            await api.refused(lead, path, {}, "bad_request")
            q = (await api.get(lead, f"/api/items/{i}"))["questions"][0]
            assert q["answer"] is None and q["deputy_id"] == owner
            answered = await api.post(lead, path, {"question_id": q["id"], "text": "月底完工"})
            assert answered["questions_open"] == 0
            await api.refused(lead, path, {"text": "再答"}, "conflict")
            d = await api.get(owner, f"/api/items/{i}")
            assert d["questions"][0]["answer"]["text"] == "月底完工"
            assert d["questions"][0]["answer"]["unit_id"] == world.units[0]
            steps = (await api.get(owner, f"/api/items/{i}/events"))["events"]
            assert [(s["action"], s["actor"]["name"]) for s in steps[-2:]] == [
                ("ask", "代表0"),
                ("answer", "交通局承办员"),
            ]
            assert steps[-1]["payload"]["deputy_id"] == owner
            await api.post(owner, f"/api/items/{i}/ask", {"text": "还有问题"})  # again now
        finally:
            await inbox.close()
