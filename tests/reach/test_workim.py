"""Escalation through government work IM — DingTalk work notifications and WeCom app
messages — against their APIs on this machine: the token (and a new one when it expires),
the user found by the roster's mobile number, busy answers retried, a send with no answer
sent again and kept once by the provider's duplicate check (docs/reach.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.reach import dispatch as dispatch_module
from hub.reach.dispatch import reach_jobs
from hub.store.engine import make_engine
from tests.reach.test_sms import set_phones, until
from tests.reach.workimserver import SECRET, WorkImServer
from tests.utils.factories import make_world
from tests.utils.servers import running_hub, settings_for
from tests.utils.session import history, http


@pytest.fixture(params=["dingtalk", "wecom"])
async def im(request: pytest.FixtureRequest) -> AsyncIterator[WorkImServer]:
    s = await WorkImServer(request.param).start()
    try:
        yield s
    finally:
        await s.stop()


async def im_jobs(db_url: str, channel: str) -> dict[int, tuple[str, int]]:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(reach_jobs.c.user_id, reach_jobs.c.state, reach_jobs.c.attempts).where(
                    reach_jobs.c.channel == channel
                )
            )
            return {int(r[0]): (r[1], int(r[2])) for r in rows}
    finally:
        await engine.dispose()


async def test_escalation_through_work_im(
    sqlite_url: str, tmp_path: Path, im: WorkImServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch_module, "POLL", 0.1)
    world = await make_world(sqlite_url, deputies=5)
    ok, busy, silent, stranger, refused = world.deputies
    phones = {u: f"1330000000{i}" for i, u in enumerate(world.deputies)}
    await set_phones(sqlite_url, phones)
    im.directory = {phones[u]: f"user{u}" for u in (ok, busy, silent, refused)}
    im.script = {
        f"user{busy}": ["busy", "ok"],
        f"user{silent}": ["hang"],
        f"user{refused}": ["fail"],
    }
    settings = settings_for(
        sqlite_url,
        tmp_path,
        **im.env(),
        sms_retry=0.2,
        sms_timeout=1.0,
        escalate_after=0.5,
        escalate_interval=0.2,
    )
    async with running_hub(settings) as hub:
        assert list(hub.workflows.reach.texters) == [im.kind]  # no SMS configured: IM only
        async with http(hub.url, world.tok(world.secretariat)) as s:
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices",
                json={"title": "紧急：全体会议提前到八时半", "urgent": True},
            )
            nid = r.json()["id"]

        async def settled() -> bool:
            js = await im_jobs(sqlite_url, im.kind)
            return len(js) == 5 and all(st != "pending" for st, _ in js.values())

        await until(settled, "every work IM job to settle")
        assert await im_jobs(sqlite_url, im.kind) == {
            ok: ("accepted", 1),
            busy: ("accepted", 2),
            silent: ("accepted", 2),
            stranger: ("failed", 1),
            refused: ("failed", 1),
        }
        # The one with no answer was sent twice and delivered once: the provider dropped
        # the repeat (the same text).
        assert [a for u, a in im.sends if u == f"user{silent}"] == ["hang", "ok"]
        assert sorted(d.user for d in im.delivered) == sorted(
            f"user{u}" for u in (ok, busy, silent)
        )
        text = im.delivered[0].text
        assert "紧急：全体会议提前到八时半" in text and str(nid) in text
        desk = await history(hub.url, world.tok(world.secretariat), f"desk:{world.meeting}")
        tried = [x["body"] for x in desk if x["kind"] == "reach.attempted"]
        reasons = {t["person"]["id"]: t["reason"] for t in tried if t["outcome"] == "failed"}
        assert reasons[stranger] == "no_account"
        assert all(t["channel"] == im.kind and t["provider"] == im.kind for t in tried)
        assert all(phones[ok] not in str(t) and SECRET not in str(t) for t in tried)
        async with http(hub.url, world.tok(world.secretariat)) as s:
            t = (await s.get(f"/api/notices/{nid}/tally")).json()
        assert t["reach"][im.kind] == {"accepted": 3, "gone": 0, "failed": 2, "pending": 0}
        assert im.tokens_issued == 1  # one token for every call

        # The token expires: the next call is refused, a new token fetched, the call made.
        im.expire_tokens()
        async with http(hub.url, world.tok(world.secretariat)) as s:
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices",
                json={"title": "紧急：第二次", "urgent": True, "deputies": [ok]},
            )
            assert r.status_code == 201, r.text

        async def second() -> bool:
            return len(im.delivered) == 4

        await until(second, "the second notice delivered")
        assert im.tokens_issued == 2 and im.delivered[-1].user == f"user{ok}"
