"""Escalation through Tencent Cloud SMS: the hub's real requests to a provider on this
machine that recomputes the TC3-HMAC-SHA256 signature and answers success, throttling,
failure and outages; a send the provider took without the hub hearing back is found in
the delivery reports and never repeated (docs/reach.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.config import Settings
from hub.reach import Message, Outcome, tencent
from hub.reach import dispatch as dispatch_module
from hub.reach.tencent import TencentSms
from tests.reach.tencentprovider import SECRET_KEY, TencentSmsServer
from tests.reach.test_sms import jobs, set_phones, settled, until
from tests.utils.factories import make_world
from tests.utils.servers import running_hub, settings_for
from tests.utils.session import history, http


@pytest.fixture
async def provider() -> AsyncIterator[TencentSmsServer]:
    p = await TencentSmsServer().start()
    try:
        yield p
    finally:
        await p.stop()


async def test_client_signs_and_reads_every_answer(
    provider: TencentSmsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sms = TencentSms(Settings(**provider.env(), sms_timeout=1.0))
    try:
        provider.script = {
            "13800000002": ["throttle"],
            "13800000003": ["down"],
            "13800000004": ["hang"],
        }
        ok = await sms.send("13800000001", Message("紧急通知", 7), "9:1:sms:1")
        assert (ok.outcome, ok.reason) == (Outcome.ACCEPTED, "Ok") and ok.ref
        assert provider.sends[0].params == ["紧急通知"] and provider.sends[0].context == "9:1:sms:1"
        r = await sms.send("13800000002", Message("x", 7), "9:2:sms:1")
        assert (r.outcome, r.reason) == (
            Outcome.RETRY,
            "LimitExceeded.PhoneNumberThirtySecondLimit",
        )
        r = await sms.send("13800000003", Message("x", 7), "9:3:sms:1")
        assert (r.outcome, r.status) == (Outcome.RETRY, 502)
        r = await sms.send("1380000", Message("x", 7), "9:5:sms:1")
        assert (r.outcome, r.reason) == (
            Outcome.FAILED,
            "InvalidParameterValue.IncorrectPhoneNumber",
        )
        t0 = time.monotonic()
        r = await sms.send("13800000004", Message("x", 7), "9:4:sms:1")
        assert (r.outcome, r.status) == (Outcome.RETRY, None) and time.monotonic() - t0 < 3
        # The reports name what the provider took, by key; none yet is "cannot say".
        since = time.time() - 30
        found = await sms.sent("13800000004", "9:4:sms:1", since)
        assert found is not None and found.outcome is Outcome.ACCEPTED
        early = await sms.sent("13800000001", "9:7:sms:1", since)
        assert early is not None and early.outcome is Outcome.RETRY
        monkeypatch.setattr(tencent, "REPORT_WAIT", 0.0)
        assert await sms.sent("13800000001", "9:7:sms:1", since) is None
        # A wrong key: the provider refuses the signature, for good.
        wrong = TencentSms(Settings(**{**provider.env(), "sms_key_secret": "nope"}))
        r = await wrong.send("13800000001", Message("x", 7), "9:6:sms:1")
        assert (r.outcome, r.reason) == (Outcome.FAILED, "AuthFailure.SignatureFailure")
        await wrong.close()
        assert SECRET_KEY not in repr(sms)
    finally:
        await sms.close()


async def test_escalation_through_tencent(
    sqlite_url: str, tmp_path: Path, provider: TencentSmsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch_module, "POLL", 0.1)
    world = await make_world(sqlite_url, deputies=4)
    ok, throttled, refused, silent = world.deputies
    phones = {
        ok: "13800000001",
        throttled: "13800000002",
        refused: "13800000003",
        silent: "13800000004",
    }
    await set_phones(sqlite_url, phones)
    provider.script = {
        phones[throttled]: ["throttle", "down", "ok"],
        phones[refused]: ["fail"],
        phones[silent]: ["hang"],
    }
    settings = settings_for(
        sqlite_url,
        tmp_path,
        **provider.env(),
        sms_retry=0.2,
        sms_timeout=1.0,
        escalate_after=0.5,
        escalate_interval=0.2,
    )
    async with running_hub(settings) as hub:
        async with http(hub.url, world.tok(world.secretariat)) as s:
            r = await s.post(
                f"/api/meetings/{world.meeting}/notices", json={"title": "紧急", "urgent": True}
            )
            nid = r.json()["id"]
        await until(lambda: settled(sqlite_url, 4), "every text message job to settle")
        assert await jobs(sqlite_url) == {
            ok: ("accepted", 1),
            throttled: ("accepted", 3),
            refused: ("failed", 1),
            silent: ("accepted", 2),
        }
        # The send the hub never heard back about was found in the reports, not repeated.
        assert provider.tried(phones[silent]) == ["hang"]
        assert provider.tried(phones[throttled]) == ["throttle", "down", "ok"]
        assert [p["PhoneNumber"] for p in provider.pulls] == ["+8613800000004"]
        desk = await history(hub.url, world.tok(world.secretariat), f"desk:{world.meeting}")
        tried = [x["body"] for x in desk if x["kind"] == "reach.attempted"]
        silent_tries = [
            (t["attempt"], t["outcome"], t["reason"]) for t in tried if t["person"]["id"] == silent
        ]
        assert silent_tries == [
            (1, "retried", "TimeoutError"),
            (2, "accepted", "accepted before (in doubt)"),
        ]
        assert all(t["provider"] == "tencent" and t["notice"] == nid for t in tried)
        assert {t["to"] for t in tried} == {
            "138****0001",
            "138****0002",
            "138****0003",
            "138****0004",
        }
        await asyncio.sleep(0.5)
        assert len(provider.sends) == 6


async def test_once_only_across_kill_9_through_tencent(
    pg_url: str, tmp_path: Path, provider: TencentSmsServer
) -> None:
    """A node sends through Tencent Cloud, the provider takes it, the node is killed before
    it hears back; the next node finds the send in the delivery reports by its
    SessionContext and records it: one message, never two."""
    import httpx

    from tests.utils.factories import SECRET as HUB_SECRET
    from tests.utils.servers import HubProcess

    world = await make_world(pg_url, deputies=1)
    [a] = world.deputies
    await set_phones(pg_url, {a: "13700000009"})
    provider.script = {"13700000009": ["hang"]}
    env = {
        "HUB_DATABASE_URL": pg_url,
        "HUB_SECRET": HUB_SECRET,
        "HUB_DATA_DIR": str(tmp_path / "a"),
        **{f"HUB_{k.upper()}": str(v) for k, v in provider.env().items()},
        "HUB_SMS_TIMEOUT": "60",
        "HUB_REACH_CLAIM": "3",
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

        async def taken() -> bool:
            return len(provider.accepted()) == 1

        await until(taken, "the provider to take the message")
    finally:
        node.kill()
    assert await jobs(pg_url) == {a: ("pending", 1)}
    settings = settings_for(pg_url, tmp_path, **provider.env(), sms_retry=0.2, reach_claim=1.0)
    async with running_hub(settings):
        await until(lambda: settled(pg_url, 1), "the job in doubt to settle")
        assert await jobs(pg_url) == {a: ("accepted", 2)}
        assert provider.tried("13700000009") == ["hang"]
        assert [p["PhoneNumber"] for p in provider.pulls] == ["+8613700000009"]
