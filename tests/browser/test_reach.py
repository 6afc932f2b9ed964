"""The secretariat reads what reached a notice's people beyond open pages: an urgent
notice left unread goes out as text messages (through a provider on this machine that
checks the real request format), and the card, the follow-up's call list and the
supervisor's archive say per channel what was done, in Chinese."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.reach import dispatch
from tests.browser.conftest import Demo, api, open_as, seed_demo, shot, wait_until
from tests.reach.smsprovider import AliyunSmsServer
from tests.utils.servers import running_hub, settings_for


@pytest.fixture
async def sms_hub(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Demo, AliyunSmsServer]]:
    monkeypatch.setattr(dispatch, "POLL", 0.2)
    provider = await AliyunSmsServer().start()
    provider.script = {"13857016632": ["fail"]}  # 李秀英's number is refused
    ids = await seed_demo(sqlite_url, tmp_path)
    settings = settings_for(
        sqlite_url,
        tmp_path,
        **provider.env(),
        sms_retry=0.2,
        escalate_after=1.0,
        escalate_interval=0.3,
    )
    try:
        async with running_hub(settings) as h:
            yield Demo(h, ids, sqlite_url, tmp_path), provider
    finally:
        await provider.stop()


async def test_text_messages_on_the_card_the_call_list_and_the_archive(
    browser: Any, sms_hub: tuple[Demo, AliyunSmsServer]
) -> None:
    demo, provider = sms_hub
    sec = await open_as(browser, demo.url, "mishu")
    c = await api(demo, "mishu")
    try:
        r = await c.post(
            f"/api/meetings/{demo.ids['meeting_id']}/notices",
            json={"title": "明天上午九时全体会议改在大礼堂", "urgent": True},
        )
        assert r.status_code == 201, r.text
        nid = r.json()["id"]
    finally:
        await c.aclose()
    card = sec.locator(f'li.notice-sent[data-notice="{nid}"]')
    line = card.locator(".reach-line")
    await sec.wait_for_selector(
        f'li.notice-sent[data-notice="{nid}"] .reach-line:has-text("短信 8 · 未达 1")'
    )
    assert await line.inner_text() == "短信 8 · 未达 1"
    assert len(provider.accepted()) == 8

    await card.locator("button.follow-up").click()
    await sec.wait_for_selector("#followup .fu-call-table tbody tr")
    assert "短信 8 · 未达 1" in await sec.locator("#followup .fu-summary").inner_text()
    heads = await sec.locator("#followup .fu-call-table th").all_inner_texts()
    assert heads[-1] == "提醒渠道"
    ok = sec.locator(f'#followup tr[data-person="{demo.ids["deputy_ids"][0]}"] td')
    refused = sec.locator(f'#followup tr[data-person="{demo.ids["deputy_ids"][1]}"] td')
    assert (await ok.all_inner_texts())[-1] == "短信 已受理"
    assert (await refused.all_inner_texts())[-1] == "短信 未成功"
    await shot(sec, "reach-detail", section="#followup", doc=True)
    await sec.click("#followup .fu-close")

    # A re-push says what it actually did beyond the pages, per channel.
    await card.locator("button.repush").click()
    note = card.locator(".repush-note")
    await sec.wait_for_selector(
        f'li.notice-sent[data-notice="{nid}"] .repush-note:has-text("未达")'
    )
    assert (
        await note.inner_text()
        == "已重新推送给 9 人。 在线 0 · 已推送（仅记录，未配置） 0 · 未达 9"
    )
    assert sec.js_errors == []
    await sec.context.close()

    # The supervisor's archive shows each attempt in words, the number masked.
    sup = await open_as(browser, demo.url, "jiandu")
    await sup.type("#ar-kind", "提醒发送", delay=30)
    await sup.click("#ar-kind ~ .picker-list li[data-id='reach.attempted']")
    # the filtered page replaces the first one: every row is an attempt
    await wait_until(
        sup,
        """() => { const rows = [...document.querySelectorAll('#archive-rows tr[data-message]')];
                   return rows.length === 9 && rows.every(r => r.dataset.kind === 'reach.attempted'); }""",
    )
    assert set(
        await sup.locator("#archive-rows tr[data-message] td:nth-child(3)").all_inner_texts()
    ) == {"提醒发送"}
    texts = await sup.locator("#archive-rows td.text").all_inner_texts()
    assert len(texts) == 9
    assert "短信 · 王建国 · 139****1021 · 已受理 · 第 1 次" in texts
    assert "短信 · 李秀英 · 138****6632 · 未成功 · 第 1 次" in texts
    assert all("13905801021" not in t for t in texts)
    assert sup.js_errors == []
    await sup.context.close()
