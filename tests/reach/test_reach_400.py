"""Done when: a notice to 400 deputies, 100 of them with no page open, ends — without anyone
touching it — with every person either read-confirmed or reached on a second channel, each
attempt visible on the desk and in the archive (issue 15; docs/reach.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from py_vapid import Vapid

from hub.reach import dispatch
from tests.reach.pushservice import PushService
from tests.reach.smsprovider import AliyunSmsServer
from tests.reach.test_sms import set_phones, until
from tests.reach.test_webpush import register, vapid_public
from tests.utils import TIMEOUT
from tests.utils.factories import make_world
from tests.utils.servers import running_hub, settings_for
from tests.utils.session import add_deputies, connect_many, http, wait_for


@pytest.fixture
async def services() -> AsyncIterator[tuple[AliyunSmsServer, PushService]]:
    sms = await AliyunSmsServer().start()
    push = await PushService().start()
    try:
        yield sms, push
    finally:
        await sms.stop()
        await push.stop()


@pytest.mark.slow
async def test_400_deputies_100_offline_everyone_read_or_reached(
    pg_url: str,
    tmp_path: Path,
    services: tuple[AliyunSmsServer, PushService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dispatch, "POLL", 0.2)
    sms, push = services
    world = await make_world(pg_url, deputies=4)
    bulk = await add_deputies(pg_url, world.meeting, world.delegations, 396)
    toks = {**{d: world.tok(d) for d in world.deputies}, **bulk}
    everyone = sorted(toks)
    assert len(everyone) == 400
    await set_phones(pg_url, {u: f"139{u:08d}" for u in everyone})
    online, offline = everyone[:300], everyone[300:]
    readers, idle = online[:280], online[280:]  # 20 have the page open and do not read
    pushed = offline[:50]  # half the offline registered a phone's browser for Web Push
    v = Vapid()
    v.generate_keys()
    push.public_key = vapid_public(v)
    settings = settings_for(
        pg_url,
        tmp_path,
        **sms.env(),
        vapid_private_key=v.private_pem().decode(),
        vapid_subject="mailto:ops@example.cn",
        push_insecure_origins=(push.origin,),
        push_retry=0.2,
        sms_retry=0.2,
        escalate_after=8.0,
        escalate_interval=0.5,
    )
    async with running_hub(settings) as hub:
        for u in pushed:
            push.browser(f"b{u}")
            await register(hub, toks[u], push, f"b{u}")
        clients = await connect_many(hub.ws_url, [toks[u] for u in online])
        await asyncio.gather(*(c.subscribe(f"meeting:{world.meeting}") for c in clients))
        sec = world.tok(world.secretariat)
        async with http(hub.url, sec) as s:
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices",
                json={"title": "紧急：大会表决提前到十点", "urgent": True, "confirm": True},
            )
            assert r.status_code == 201, r.text
            sent = r.json()
        nid = sent["id"]
        assert sent["addressees"] == 400
        assert sent["reach"]["webpush"] == {"queued": 50}

        async def read(c: object, u: int) -> None:
            m = await wait_for(c, "notice", f"meeting:{world.meeting}")  # type: ignore[arg-type]
            await c.send({"type": "ack", "channel": m["channel"], "seq": m["seq"]})  # type: ignore[attr-defined]
            if u in readers:
                await c.send({"type": "read", "channel": m["channel"], "seq": m["seq"]})  # type: ignore[attr-defined]

        await asyncio.gather(*(read(c, u) for c, u in zip(clients, online, strict=True)))

        # Nobody touches anything from here: the hub escalates by itself.
        async def done() -> bool:
            async with http(hub.url, sec) as s:
                t = (await s.get(f"/api/notices/{nid}/tally")).json()
            return t["reach"].get("sms", {}).get("accepted") == 120 and t["read"] == 280

        await until(done, "every unread person texted", limit=TIMEOUT * 4)
        async with http(hub.url, sec) as s:
            t = (await s.get(f"/api/notices/{nid}/tally")).json()
        per = {p["id"]: p for p in t["people"]}
        for u in everyone:
            p = per[u]
            texted = any(r["channel"] == "sms" and r["state"] == "accepted" for r in p["channels"])
            assert (p["read_at"] is not None) != texted, (u, p)
        assert t["unreached"] == 0
        assert t["reach"] == {
            "sms": {"accepted": 120, "gone": 0, "failed": 0, "pending": 0},
            "webpush": {"accepted": 50, "gone": 0, "failed": 0, "pending": 0},
        }
        assert sorted(s_.phone for s_ in sms.sends) == sorted(
            f"139{u:08d}" for u in [*idle, *offline]
        )
        assert len(push.received) == 50

        # Each attempt on the desk, and in the supervisor's archive.
        got: list[dict[str, object]] = []
        cursor = None
        async with http(hub.url, world.tok(world.supervisor)) as sup:
            while True:
                q = {"kind": "reach.attempted", "meeting": world.meeting, "limit": 200}
                if cursor:
                    q["cursor"] = cursor
                page = (await sup.get("/api/archive/messages", params=q)).json()
                got += page["messages"]
                cursor = page.get("next")
                if not cursor:
                    break
        assert len(got) == 170
        channels = sorted(m["body"]["channel"] for m in got)  # type: ignore[index]
        assert channels == ["sms"] * 120 + ["webpush"] * 50
        await asyncio.gather(*(c.close() for c in clients))
