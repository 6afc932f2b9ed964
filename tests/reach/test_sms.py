"""Escalation to text messages through Alibaba Cloud SMS, end to end: the hub's real requests
to a provider on this machine that checks the documented request format and signature and
answers success, throttling, failure and outages (docs/reach.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from hub.config import Settings
from hub.reach import Message, Outcome, mask
from hub.reach import dispatch as dispatch_module
from hub.reach.dispatch import reach_jobs
from hub.reach.escalate import is_quiet, quiet_hours
from hub.reach.sms import AliyunSms, sign
from hub.session.schema import users
from hub.store.engine import make_engine
from tests.reach.smsprovider import KEY_ID, SECRET, AliyunSmsServer, expected_signature
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import make_world
from tests.utils.servers import running_hub, settings_for
from tests.utils.session import history, http, wait_for

TITLE = "紧急：下午三时全体会议改在人民大会堂大礼堂举行"


@pytest.fixture
async def provider() -> AsyncIterator[AliyunSmsServer]:
    p = await AliyunSmsServer().start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture(autouse=True)
def quick_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch_module, "POLL", 0.1)


def sms_settings(db_url: str, tmp: Path, provider: AliyunSmsServer, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        **provider.env(),
        "sms_retry": 0.2,
        "sms_timeout": 2.0,
        "escalate_after": 0.6,
        "escalate_interval": 0.2,
    }
    return settings_for(db_url, tmp, **{**base, **kw})


async def until(check: Callable[[], Awaitable[bool]], what: str, limit: float = TIMEOUT) -> None:
    for _ in range(int(limit / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def set_phones(db_url: str, phones: dict[int, str | None]) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            for u, phone in phones.items():
                await conn.execute(users.update().where(users.c.id == u).values(phone=phone))
    finally:
        await engine.dispose()


async def jobs(db_url: str, channel: str = "sms") -> dict[int, tuple[str, int]]:
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


async def settled(db_url: str, n: int) -> bool:
    """``n`` text message jobs, none of them still pending."""
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            states = list(
                (
                    await conn.execute(
                        sa.select(reach_jobs.c.state).where(reach_jobs.c.channel == "sms")
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    return len(states) == n and "pending" not in states


# -- the client against the provider's documented format -------------------------------------


def test_signature_is_the_documented_one() -> None:
    """The hub's signing and the test provider's, written apart from each other, agree; a
    value with the characters the encoding treats specially (space, *, ~, /, Chinese)."""
    params = {
        "AccessKeyId": KEY_ID,
        "Action": "SendSms",
        "TemplateParam": '{"title":"大会 改在*下午~3/时"}',
        "Timestamp": "2026-12-07T22:00:00Z",
        "SignatureNonce": "n1",
    }
    assert sign(SECRET, "POST", params) == expected_signature(params)
    assert sign(SECRET + "x", "POST", params) != expected_signature(params)


async def test_client_success_throttle_failure_and_outage(
    provider: AliyunSmsServer, tmp_path: Path
) -> None:
    s = Settings(**provider.env(), sms_timeout=1.0)
    sms = AliyunSms(s)
    try:
        provider.script = {
            "13800000001": ["ok"],
            "13800000002": ["throttle"],
            "13800000003": ["down"],
        }
        ok = await sms.send("13800000001", Message("紧急通知", 7), "7:1:sms:1")
        assert (ok.outcome, ok.status, ok.reason) == (Outcome.ACCEPTED, 200, "OK") and ok.ref
        throttled = await sms.send("13800000002", Message("x", 7), "7:2:sms:1")
        assert (throttled.outcome, throttled.reason) == (
            Outcome.RETRY,
            "isv.BUSINESS_LIMIT_CONTROL",
        )
        down = await sms.send("13800000003", Message("x", 7), "7:3:sms:1")
        assert (down.outcome, down.status) == (Outcome.RETRY, 503)
        bad = await sms.send("2345", Message("x", 7), "7:4:sms:1")
        assert (bad.outcome, bad.reason) == (Outcome.FAILED, "isv.MOBILE_NUMBER_ILLEGAL")
        # What was received: the documented parameters, the key as OutId.
        first = provider.sends[0]
        assert (first.phone, first.out_id, first.params) == (
            "13800000001",
            "7:1:sms:1",
            {"title": "紧急通知"},
        )
        # The provider knows the accepted send by its key, and not another.
        found = await sms.sent("13800000001", "7:1:sms:1", time.time() - 60)
        assert found is not None and found.outcome is Outcome.ACCEPTED
        assert await sms.sent("13800000001", "7:9:sms:1", time.time() - 60) is None
        # A wrong secret is refused by the provider: signature checked, failed for good.
        wrong = AliyunSms(Settings(**{**provider.env(), "sms_key_secret": "nope"}))
        r = await wrong.send("13800000001", Message("x", 7), "7:5:sms:1")
        assert (r.outcome, r.status, r.reason) == (Outcome.FAILED, 400, "SignatureDoesNotMatch")
        await wrong.close()
        # A provider that does not answer in time: retried, never blocking.
        provider.script["13800000004"] = ["hang"]
        t0 = time.monotonic()
        hung = await sms.send("13800000004", Message("x", 7), "7:6:sms:1")
        assert hung.outcome is Outcome.RETRY and time.monotonic() - t0 < 3
        assert "nope" not in repr(wrong) and SECRET not in repr(sms) and SECRET not in repr(s)
    finally:
        await sms.close()


def test_quiet_hours() -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    night = quiet_hours("22:00-07:00")
    at = lambda h, m=0: datetime(2026, 12, 7, h, m, tzinfo=tz)  # noqa: E731
    assert is_quiet(at(23), night, tz) and is_quiet(at(6, 59), night, tz)
    assert not is_quiet(at(7), night, tz) and not is_quiet(at(12), night, tz)
    lunch = quiet_hours("12:00-13:30")
    assert is_quiet(at(12, 10), lunch, tz) and not is_quiet(at(13, 30), lunch, tz)
    assert not is_quiet(at(23), None, tz)
    with pytest.raises(SystemExit):
        quiet_hours("22-7")


# -- the policy, end to end ----------------------------------------------------------------------


async def test_urgent_unread_notice_escalates_to_sms_once_per_person(
    db_url: str, tmp_path: Path, provider: AliyunSmsServer
) -> None:
    world = await make_world(db_url, deputies=7)
    ok, throttled, refused, outage, bare, reader, landline = world.deputies
    phones = {
        ok: "13800000001",
        throttled: "13800000002",
        refused: "13800000003",
        outage: "13800000004",
        bare: None,
        reader: "13800000006",
        landline: "01088886666",
    }
    await set_phones(db_url, phones)
    provider.script = {
        phones[throttled]: ["throttle", "ok"],
        phones[refused]: ["fail"],
        phones[outage]: ["down", "down", "ok"],
    }
    m = world.meeting
    sec = world.tok(world.secretariat)
    settings = sms_settings(db_url, tmp_path, provider)
    async with running_hub(settings) as hub:
        page = await Client.connect(hub.ws_url, world.tok(reader))
        await page.subscribe(f"meeting:{m}")
        async with http(hub.url, sec) as s:
            r = await s.post(f"/api/meetings/{m}/notices", json={"title": TITLE, "urgent": True})
            assert r.status_code == 201, r.text
            nid = r.json()["id"]
            r = await s.post(f"/api/meetings/{m}/notices", json={"title": "一般通知"})
            plain = r.json()["id"]
        # The reader reads at once: never texted.
        got = await wait_for(page, "notice", f"meeting:{m}", lambda f: f["body"]["notice"] == nid)
        await page.send({"type": "read", "channel": f"meeting:{m}", "seq": got["seq"]})

        await until(lambda: settled(db_url, 6), "every text message job to settle")
        assert await jobs(db_url) == {
            ok: ("accepted", 1),
            throttled: ("accepted", 2),
            refused: ("failed", 1),
            outage: ("accepted", 3),
            bare: ("failed", 1),
            landline: ("failed", 1),
        }
        # Exactly what the provider received, per number: once accepted, never again.
        assert provider.tried(phones[ok]) == ["ok"]
        assert provider.tried(phones[throttled]) == ["throttle", "ok"]
        assert provider.tried(phones[refused]) == ["fail"]
        assert provider.tried(phones[outage]) == ["down", "down", "ok"]
        assert provider.tried(phones[reader]) == []
        assert {s.out_id for s in provider.sends} == {
            f"{nid}:{u}:sms:1" for u in (ok, throttled, refused, outage)
        }
        assert all(s.params == {"title": TITLE[:19] + "…"} for s in provider.sends)

        # Every attempt is a message on the desk, the number masked.
        desk = await history(hub.url, sec, f"desk:{m}")
        tried = [x["body"] for x in desk if x["kind"] == "reach.attempted"]
        seen = sorted((t["person"]["id"], t["attempt"], t["outcome"], t["reason"]) for t in tried)
        assert seen == sorted(
            [
                (ok, 1, "accepted", "OK"),
                (throttled, 1, "retried", "isv.BUSINESS_LIMIT_CONTROL"),
                (throttled, 2, "accepted", "OK"),
                (refused, 1, "failed", "isv.MOBILE_NUMBER_ILLEGAL"),
                (outage, 1, "retried", "HTTP 503"),
                (outage, 2, "retried", "HTTP 503"),
                (outage, 3, "accepted", "OK"),
                (bare, 1, "failed", "no_mobile"),
                (landline, 1, "failed", "no_mobile"),
            ]
        )
        assert all(t["notice"] == nid and t["channel"] == "sms" for t in tried)
        by_person = {t["person"]["id"]: t for t in tried if t["outcome"] == "accepted"}
        assert by_person[ok]["to"] == "138****0001" and by_person[ok]["provider"] == "aliyun"
        assert by_person[ok]["receipt"]

        # The notice's per-person detail and the counts per channel.
        async with http(hub.url, sec) as s:
            t = (await s.get(f"/api/notices/{nid}/tally")).json()
        assert t["reach"]["sms"] == {"accepted": 3, "gone": 0, "failed": 3, "pending": 0}
        per = {p["id"]: p for p in t["people"]}
        assert per[ok]["channels"] == [{"channel": "sms", "state": "accepted", "attempts": 1}]
        assert per[reader]["channels"] == [] and per[reader]["read_at"]
        assert t["unreached"] == 3  # refused, bare, landline: the secretariat calls them

        # Nothing more is queued, whatever the scans; a full number appears nowhere.
        await asyncio.sleep(1.0)
        assert len(provider.sends) == 7
        texts = orjson.dumps([desk, t]).decode()
        for phone in phones.values():
            assert phone is None or phone not in texts
        assert SECRET not in texts
        # The notice that is not urgent was not escalated.
        async with http(hub.url, sec) as s:
            t2 = (await s.get(f"/api/notices/{plain}/tally")).json()
        assert t2["reach"] == {} and all(p["channels"] == [] for p in t2["people"])
        await page.close()

    # Restarted: nothing accepted is sent again.
    async with running_hub(settings) as hub:
        await asyncio.sleep(1.0)
        assert len(provider.sends) == 7


async def test_provider_outage_never_blocks_the_hub(
    sqlite_url: str, tmp_path: Path, provider: AliyunSmsServer
) -> None:
    """The provider down for a while: attempts are retried with back-off, the hub answers
    meanwhile, and the message goes out once when the provider is back."""
    world = await make_world(sqlite_url, deputies=1)
    [d] = world.deputies
    await set_phones(sqlite_url, {d: "13900000001"})
    provider.down_all = True
    settings = sms_settings(sqlite_url, tmp_path, provider, sms_retry=0.3)
    async with running_hub(settings) as hub:
        async with http(hub.url, world.tok(world.secretariat)) as s:
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices", json={"title": "紧急", "urgent": True}
            )
            nid = r.json()["id"]

            async def retried() -> bool:
                return (await jobs(sqlite_url)).get(d, ("", 0))[1] >= 2

            await until(retried, "two attempts during the outage")
            t0 = time.monotonic()
            assert (await s.get(f"/api/notices/{nid}/tally")).status_code == 200
            assert time.monotonic() - t0 < 1.0
            provider.down_all = False
            await until(lambda: settled(sqlite_url, 1), "the message to go out")
        assert (await jobs(sqlite_url))[d][0] == "accepted"
        assert provider.tried("13900000001") == ["ok"]  # the outage's 503s came before
        desk = await history(hub.url, world.tok(world.secretariat), f"desk:{world.meeting}")
        outcomes = [x["body"]["outcome"] for x in desk if x["kind"] == "reach.attempted"]
        assert outcomes[-1] == "accepted" and set(outcomes[:-1]) == {"retried"}
        assert len(outcomes) >= 3


# -- once only across a node killed with SIGKILL ------------------------------------------------


async def test_once_only_across_kill_9_after_the_provider_accepted(
    pg_url: str, tmp_path: Path, provider: AliyunSmsServer
) -> None:
    """A node sends, the provider accepts, and the node is killed before it hears the
    answer. The next node finds the attempt in doubt, asks the provider, learns that the
    message went out, and records it: one message, never two."""
    from tests.utils.factories import SECRET as HUB_SECRET
    from tests.utils.servers import HubProcess

    world = await make_world(pg_url, deputies=2)
    a, b = world.deputies
    await set_phones(pg_url, {a: "13700000001", b: "13700000002"})
    provider.script = {"13700000001": ["hang"]}
    env = {
        "HUB_DATABASE_URL": pg_url,
        "HUB_SECRET": HUB_SECRET,
        "HUB_DATA_DIR": str(tmp_path / "a"),
        "HUB_SMS_PROVIDER": "aliyun",
        "HUB_SMS_ENDPOINT": provider.origin + "/",
        "HUB_SMS_KEY_ID": KEY_ID,
        "HUB_SMS_KEY_SECRET": SECRET,
        "HUB_SMS_SIGN_NAME": provider.env()["sms_sign_name"],
        "HUB_SMS_TEMPLATE": provider.env()["sms_template"],
        "HUB_SMS_TIMEOUT": "60",
        "HUB_REACH_CLAIM": "3",  # how long another node leaves a send it took alone
        "HUB_ESCALATE_AFTER": "0.3",
        "HUB_ESCALATE_INTERVAL": "0.2",
    }
    node = await HubProcess(env, log=tmp_path / "a.log").start()
    try:
        async with httpx.AsyncClient(
            base_url=node.url, headers={"authorization": f"Bearer {world.tok(world.secretariat)}"}
        ) as s:
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices", json={"title": "紧急", "urgent": True}
            )
            assert r.status_code == 201, r.text
            nid = r.json()["id"]

        async def accepted_by_provider() -> bool:
            return len(provider.accepted()) == 2

        await until(accepted_by_provider, "the provider to accept both messages")
        await asyncio.sleep(0.3)  # b's acceptance recorded; a's answer never comes
    finally:
        node.kill()
    assert await jobs(pg_url) == {a: ("pending", 1), b: ("accepted", 1)}

    settings = sms_settings(pg_url, tmp_path, provider, reach_claim=1.0)
    async with running_hub(settings) as hub:
        await until(lambda: settled(pg_url, 2), "the job in doubt to settle")
        assert await jobs(pg_url) == {a: ("accepted", 2), b: ("accepted", 1)}
        # One message each: the one in doubt was asked about, not sent again.
        assert provider.tried("13700000001") == ["hang"]
        assert provider.tried("13700000002") == ["ok"]
        assert [q["PhoneNumber"] for q in provider.queries] == ["13700000001"]
        desk = await history(hub.url, world.tok(world.secretariat), f"desk:{world.meeting}")
        mine = [
            x["body"]
            for x in desk
            if x["kind"] == "reach.attempted" and x["body"]["person"]["id"] == a
        ]
        assert [(t["attempt"], t["outcome"], t["reason"]) for t in mine] == [
            (2, "accepted", "accepted before (in doubt)")
        ]
        assert mine[0]["key"] == f"{nid}:{a}:sms:1" and mine[0]["to"] == mask("13700000001")


async def test_in_doubt_and_not_sent_is_sent(
    sqlite_url: str, tmp_path: Path, provider: AliyunSmsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim whose node died before the provider took anything: asked, not found, sent."""
    monkeypatch.setattr(dispatch_module, "POLL", 3600)  # the dispatcher runs when woken
    world = await make_world(sqlite_url, deputies=1)
    [d] = world.deputies
    await set_phones(sqlite_url, {d: "13600000001"})
    settings = sms_settings(sqlite_url, tmp_path, provider, reach_claim=0.5, escalate_interval=0)
    async with running_hub(settings) as hub:
        async with http(hub.url, world.tok(world.secretariat)) as s:
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices", json={"title": "紧急", "urgent": True}
            )
            nid = r.json()["id"]
        await asyncio.sleep(0.7)
        await hub.workflows.escalator.escalate(nid, "sms")
        # a claim as a node that then dies makes it: one attempt counted, none recorded
        engine = make_engine(sqlite_url)
        async with engine.begin() as conn:
            await conn.execute(
                reach_jobs.update().values(
                    attempts=1, next_at=datetime.now(UTC) - timedelta(seconds=1)
                )
            )
        await engine.dispose()
        hub.workflows.reach.wake()
        await until(lambda: settled(sqlite_url, 1), "the job in doubt to settle")
        assert (await jobs(sqlite_url))[d] == ("accepted", 2)
        assert provider.tried("13600000001") == ["ok"] and len(provider.queries) == 1


async def test_quiet_hours_hold_back_all_but_the_urgent(
    sqlite_url: str, tmp_path: Path, provider: AliyunSmsServer
) -> None:
    """With HUB_ESCALATE_ALL the notices that are not urgent are texted too, but not in
    the quiet hours: they wait, and whoever read meanwhile is not texted; urgent ones go
    out at once whatever the hour."""
    from zoneinfo import ZoneInfo

    world = await make_world(sqlite_url, deputies=2)
    a, b = world.deputies
    await set_phones(sqlite_url, {a: "13500000001", b: "13500000002"})
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    around = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    settings = sms_settings(
        sqlite_url,
        tmp_path,
        provider,
        escalate_interval=0,
        escalate_all=True,
        quiet_hours=around,
    )
    async with running_hub(settings) as hub:
        esc = hub.workflows.escalator
        page = await Client.connect(hub.ws_url, world.tok(b))
        await page.subscribe(f"meeting:{world.meeting}")
        async with http(hub.url, world.tok(world.secretariat)) as s:
            r = await s.post(f"/api/meetings/{world.meeting}/notices", json={"title": "一般"})
            plain = r.json()["id"]
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices", json={"title": "紧急", "urgent": True}
            )
            urgent = r.json()["id"]
        await asyncio.sleep(0.7)
        assert await esc.run_once() == 2  # the urgent one: b has a page open but not read it
        await until(lambda: settled(sqlite_url, 2), "the urgent texts")
        assert {s.out_id for s in provider.sends} == {f"{urgent}:{a}:sms:1", f"{urgent}:{b}:sms:1"}
        # b reads the plain notice during the quiet hours.
        got = await wait_for(
            page, "notice", f"meeting:{world.meeting}", lambda f: f["body"]["notice"] == plain
        )
        await page.send({"type": "read", "channel": f"meeting:{world.meeting}", "seq": got["seq"]})
        await asyncio.sleep(0.3)
        assert await esc.run_once() == 0
        # Morning: the quiet hours are over; only a, who has not read it, is texted.
        esc.quiet = None
        assert await esc.run_once() == 1
        await until(lambda: settled(sqlite_url, 3), "the plain notice's text")
        assert provider.sends[-1].out_id == f"{plain}:{a}:sms:1"
        await page.close()
