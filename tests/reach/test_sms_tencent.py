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
