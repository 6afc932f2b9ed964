"""Notices across three browsers: the secretariat sends one, the deputy's page shows it,
and the secretariat's live tally moves from delivered to read when the deputy opens it."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, shot


async def test_notice_tally_moves_from_delivered_to_read(browser: Any, demo_hub: Demo) -> None:
    """Sent from the console to the whole meeting: delivered when the deputy's page holds
    it, read once the deputy opens it, each change appearing live on the console."""
    sec = await open_as(browser, demo_hub.url, "mishu")
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    unit = await open_as(browser, demo_hub.url, "jiaotong")

    # A hand-picked audience with nobody ticked is refused on the page, not sent to all.
    await sec.fill("#n-title", "代表团分组会议地点调整")
    await sec.check("#n-aud-delegations")
    await sec.click("#n-send")
    assert await sec.locator("#n-problem").inner_text() == "请至少勾选一个代表团"
    assert await sec.locator("#n-confirm-send").is_hidden()
    await sec.check("#n-aud-deputies")
    await sec.click("#n-send")
    assert await sec.locator("#n-problem").inner_text() == "请至少勾选一位代表"
    assert await sec.locator("li.notice-sent").count() == 0

    # Nothing leaves before the officer has seen how many it goes to; going back sends nothing.
    await sec.check("#n-aud-meeting")
    await sec.fill("#n-title", "明天上午九时全体会议改在大礼堂")
    await sec.fill("#n-text", "请各位代表提前十分钟入场。")
    await sec.check("#n-urgent")
    await sec.click("#n-send")
    assert await sec.locator("#n-confirm-text").inner_text() == "发送给 9 人，确认发送？"
    await sec.click("#n-confirm-no")
    assert await sec.locator("#n-confirm-send").is_hidden()
    assert await sec.locator("li.notice-sent").count() == 0
    await sec.click("#n-send")
    await sec.click("#n-confirm-yes")
    card = sec.locator("li.notice-sent").first
    await card.wait_for()
    notice_id = await card.get_attribute("data-notice")
    assert await card.locator(".recipients").inner_text() == "应收 9"

    # The deputy's page holds it: acked automatically, so the console shows it delivered.
    li = dep.locator(f'li.notice[data-notice="{notice_id}"]')
    await li.wait_for()
    await sec.wait_for_selector(f'li.notice-sent[data-notice="{notice_id}"][data-delivered="1"]')
    assert await card.get_attribute("data-read") == "0"
    assert await card.locator(".t-missing b").inner_text() == "8"
    assert await card.locator(".follow-counts").inner_text() == "未送达 8 人 · 未读 1 人"

    # The follow-up: who has not got it and who has not read it, by delegation, and the
    # call list with the roster's numbers.
    await card.locator("button.follow-up").click()
    await sec.wait_for_selector("#followup .fu-call-table tbody tr")
    first = sec.locator(
        f'#followup .fu-group[data-delegation="{demo_hub.ids["delegation_ids"][0]}"]'
    )
    assert "李秀英" in await first.locator(".fu-missing").inner_text()
    assert "王建国" in await first.locator(".fu-unread").inner_text()
    row = sec.locator(f'#followup tr[data-person="{demo_hub.ids["deputy_ids"][0]}"]')
    assert await row.locator("td").all_inner_texts() == [
        "王建国",
        "定海区代表团",
        "未读",
        "13905801021",
        "—",
    ]
    await shot(sec, "secretariat-followup", full_page=False)
    await sec.click("#followup .fu-close")
    await sec.wait_for_selector("#followup", state="detached")

    # Opening it on the phone sends `read`: the console's tally follows.
    await li.locator("button.open").click()
    await sec.wait_for_selector(f'li.notice-sent[data-notice="{notice_id}"][data-read="1"]')
    assert await card.locator(".t-read b").inner_text() == "1"

    # Re-push to those who have neither receipt.
    await card.locator("button.repush").click()
    await sec.wait_for_selector(
        f'li.notice-sent[data-notice="{notice_id}"] .repush-note:has-text("8")'
    )

    await shot(sec, "secretariat-notices")
    await sec.locator("#compose").scroll_into_view_if_needed()
    await shot(sec, "client-secretariat", full_page=False)
    await shot(dep, "deputy-notice-read-360")
    await shot(unit, "unit-empty")
    for p in (sec, dep, unit):
        assert p.js_errors == []
        await p.context.close()
