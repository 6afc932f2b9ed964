"""A sent notice corrected or withdrawn: appended, never rewritten; every addressee gets it
where they got the notice; who may, with exact codes."""

from __future__ import annotations

import sqlalchemy as sa

from hub.session.members import add_participants, create_user
from hub.session.notices import notices
from hub.store.engine import make_engine
from tests.utils.client import Client
from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub
from tests.utils.session import history, http, send_notice, wait_for


async def test_correction_reaches_every_addressee_where_the_notice_went(
    hub: RunningHub, world: World, db_url: str
) -> None:
    """A notice to one delegation and one more deputy, re-pushed to a third: its
    correction is appended on each of those channels and the desk, a deputy with the page
    open receives it live, the lists show the corrected text with 已更正's time and the
    original, and the notice's stored row and messages are unchanged."""
    m = world.meeting
    d1 = world.delegations[0]
    one = world.deputies[1]  # of the second delegation, named alone
    sent = await send_notice(
        hub, world, title="会场", text="在一楼", delegations=[d1], deputies=[one]
    )
    nid = sent["id"]
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(f"/api/notices/{nid}/repush", json={"who": "missing"})
        assert r.status_code == 200, r.text
    live = await Client.connect(hub.ws_url, world.tok(one))
    await live.subscribe(f"deputy:{one}")
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(
            f"/api/notices/{nid}/correct", json={"text": "在二楼", "reason": "楼层写错"}
        )
        assert r.status_code == 200, r.text
        got = r.json()
    assert got["status"] == "corrected" and got["text"] == "在二楼" and got["title"] == "会场"
    assert got["original"] == {"title": "会场", "text": "在一楼"}
    assert got["reason"] == "楼层写错" and got["changed_at"]
    m_live = await wait_for(live, "notice.corrected", f"deputy:{one}")
    assert m_live["body"]["text"] == "在二楼" and m_live["body"]["notice"] == nid
    await live.close()

    tok = world.tok(world.secretariat)
    channels = {c["channel"] for c in sent["channels"]} | {f"deputy:{u}" for u in world.deputies}
    for ch in sorted(channels):
        kinds = [x["kind"] for x in await history(hub.url, tok, ch)]
        if "notice" in kinds:
            assert kinds.count("notice.corrected") == 1, (ch, kinds)
            assert kinds.index("notice.corrected") > kinds.index("notice")
        else:
            assert "notice.corrected" not in kinds, (ch, kinds)
    desk = [x["kind"] for x in await history(hub.url, tok, f"desk:{m}")]
    assert desk.count("notice.corrected") == 1
    # what was sent stays as sent: in the row and in every notice message
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(sa.select(notices).where(notices.c.id == nid))).one()
    finally:
        await engine.dispose()
    assert (row.title, row.text) == ("会场", "在一楼")
    first = await history(hub.url, tok, sent["channels"][0]["channel"])
    assert [x["body"]["text"] for x in first if x["kind"] == "notice"] == ["在一楼"]

    for who in (world.secretariat, one):
        async with http(hub.url, world.tok(who)) as c:
            r = await c.get(f"/api/meetings/{m}/notices")
            assert r.status_code == 200, r.text
            (n,) = [x for x in r.json()["notices"] if x["id"] == nid]
            assert (n["status"], n["text"], n["original"]["text"]) == (
                "corrected",
                "在二楼",
                "在一楼",
            )
    # a re-push after the correction carries the corrected text
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(f"/api/notices/{nid}/repush", json={"who": "missing"})
        assert r.status_code == 200, r.text
        again = r.json()["repushed"][0]
    msgs = await history(hub.url, tok, again["channel"])
    last = [x for x in msgs if x["kind"] == "notice"][-1]
    assert last["body"]["text"] == "在二楼" and last["body"]["corrected_at"] == got["changed_at"]


async def test_withdrawal_is_final_and_keeps_the_record(hub: RunningHub, world: World) -> None:
    """A withdrawn notice reads 撤回 with its reason everywhere; its text and tally stay;
    it is not corrected, withdrawn or re-pushed again (409 conflict, notice_withdrawn)."""
    sent = await send_notice(hub, world, title="分组讨论", text="下午三点")
    nid = sent["id"]
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(f"/api/notices/{nid}/withdraw", json={"reason": "日程取消"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "withdrawn" and r.json()["text"] == "下午三点"
        for path, body in (
            ("withdraw", {"reason": "again"}),
            ("correct", {"text": "改"}),
            ("repush", {"who": "missing"}),
        ):
            r = await sec.post(f"/api/notices/{nid}/{path}", json=body)
            assert r.status_code == 409, (path, r.text)
            assert r.json()["reason"] == "notice_withdrawn"
        r = await sec.get(f"/api/notices/{nid}/tally")
        assert r.status_code == 200 and r.json()["status"] == "withdrawn"
        assert r.json()["addressees"] == len(world.deputies)
        r = await sec.get(f"/api/notices/{nid}/followup")
        assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    async with http(hub.url, world.tok(world.deputies[0])) as dep:
        r = await dep.get(f"/api/meetings/{world.meeting}/notices")
        (n,) = [x for x in r.json()["notices"] if x["id"] == nid]
        assert (n["status"], n["reason"], n["original"]["text"]) == (
            "withdrawn",
            "日程取消",
            "下午三点",
        )
    msgs = await history(hub.url, world.tok(world.secretariat), f"meeting:{world.meeting}")
    (w,) = [x for x in msgs if x["kind"] == "notice.withdrawn"]
    assert w["body"]["reason"] == "日程取消" and w["body"]["notice"] == nid


async def test_who_may_correct_or_withdraw(hub: RunningHub, world: World, db_url: str) -> None:
    """Only the secretariat of the notice's meeting: another meeting's secretariat 403
    forbidden, a deputy, a supervisor and an admin 403, a missing notice 404 not_found, a
    correction that changes nothing 400 notice_unchanged, a blank reason to withdraw 400."""
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            other = await create_user(conn, "sec2", "另一秘书处", "secretariat")
            await add_participants(conn, world.other_meeting, [other])
    finally:
        await engine.dispose()
    sent = await send_notice(hub, world, title="通知", text="正文")
    nid = sent["id"]
    cases = [
        (tokens.issue(other, 0), nid, 403, "forbidden"),
        (world.tok(world.deputies[0]), nid, 403, "forbidden"),
        (world.tok(world.supervisor), nid, 403, "forbidden"),
        (world.tok(world.admin), nid, 403, "forbidden"),
        (world.tok(world.secretariat), nid + 1000, 404, "not_found"),
    ]
    for tok, target, status, code in cases:
        async with http(hub.url, tok) as c:
            for path, body in (("correct", {"text": "改正"}), ("withdraw", {"reason": "取消"})):
                r = await c.post(f"/api/notices/{target}/{path}", json=body)
                assert (r.status_code, r.json()["code"]) == (status, code), (path, r.text)
    async with http(hub.url, world.tok(world.secretariat)) as sec:
        r = await sec.post(f"/api/notices/{nid}/correct", json={"text": "正文"})
        assert r.status_code == 400 and r.json()["reason"] == "notice_unchanged"
        r = await sec.post(f"/api/notices/{nid}/withdraw", json={"reason": "  "})
        assert r.status_code == 400, r.text
        r = await sec.get(f"/api/meetings/{world.meeting}/notices")
        (n,) = [x for x in r.json()["notices"] if x["id"] == nid]
        assert n["status"] == "sent" and "original" not in n
