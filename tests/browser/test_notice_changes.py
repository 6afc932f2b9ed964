"""A sent notice corrected, then withdrawn, from the secretariat's console: the deputy's
phone, open all along, shows each change live and after a reload, in Chinese and in
English; the console's card and the supervisor's archive say how the notice stands."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, api, open_as, shot


async def _send(hub: Demo) -> int:
    c = await api(hub, "mishu")
    try:
        meeting = hub.ids["meeting_id"]
        r = await c.post(
            f"/api/meetings/{meeting}/notices",
            json={"title": "分组审议地点", "text": "在三楼第一会议室", "confirm": True},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])
    finally:
        await c.aclose()


async def test_correction_and_withdrawal_reach_the_open_phone(browser: Any, demo_hub: Demo) -> None:
    """The phone shows 已更正 with the time, the corrected text and the reason live, the
    original on 查看原文; after a reload the same; a withdrawal reads 已撤回 with its
    reason, asks no confirmation, leaves the unread count, and its text is there on
    request; under English the same card reads Corrected / Withdrawn."""
    sec = await open_as(browser, demo_hub.url, "mishu")
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    nid = await _send(demo_hub)
    card = dep.locator(f'li.notice[data-notice="{nid}"]')
    await card.wait_for()
    assert await dep.locator("#unread-badge").inner_text() == "1"

    # Corrected from the console: the phone's card changes while it is open.
    sent = sec.locator(f'li.notice-sent[data-notice="{nid}"]')
    await sent.locator("button.correct").click()
    await sec.fill("#nc-text", "改在五楼第二会议室")
    await sec.fill("#nc-reason", "会议室调整")
    await sec.click("#nc-send")
    await sec.wait_for_selector("#notice-change", state="detached")
    await sec.wait_for_selector(f'li.notice-sent[data-notice="{nid}"][data-status="corrected"]')
    assert (await sent.locator(".changed").inner_text()).startswith("已更正 · ")

    await dep.wait_for_selector(f'li.notice[data-notice="{nid}"][data-status="corrected"]')
    assert (await card.locator(".changed").inner_text()).startswith("已更正 · ")
    assert await card.locator(".change-reason").inner_text() == "更正说明：会议室调整"
    await card.locator("button.open").click()
    assert await card.locator(".text").inner_text() == "改在五楼第二会议室"
    await card.locator("button.show-original").click()
    assert await card.locator(".original").inner_text() == "原通知：分组审议地点 — 在三楼第一会议室"
    await shot(dep, "deputy-notice-corrected-360")

    await dep.reload()
    await dep.wait_for_selector(f'li.notice[data-notice="{nid}"][data-status="corrected"]')
    assert (await card.locator(".changed").inner_text()).startswith("已更正 · ")
    await card.locator("button.open").click()
    assert await card.locator(".text").inner_text() == "改在五楼第二会议室"

    # Withdrawn: the phone reads 已撤回 with the reason; nothing is left to confirm.
    await sent.locator("button.withdraw").click()
    await sec.fill("#nc-reason", "分组审议取消")
    await sec.click("#nc-send")
    await sec.wait_for_selector(f'li.notice-sent[data-notice="{nid}"][data-status="withdrawn"]')
    assert await sent.locator("button.correct").is_hidden()
    assert await sent.locator("button.repush").is_disabled()

    await dep.wait_for_selector(f'li.notice[data-notice="{nid}"][data-status="withdrawn"]')
    assert (await card.locator(".changed").inner_text()).startswith("已撤回 · ")
    assert await card.locator(".change-reason").inner_text() == "撤回原因：分组审议取消"
    assert await card.locator("button.confirm").is_hidden()
    assert await dep.locator("#unread-badge").is_hidden()

    await dep.reload()
    await dep.wait_for_selector(f'li.notice[data-notice="{nid}"][data-status="withdrawn"]')
    assert await card.locator(".state").inner_text() == "已撤回"
    assert await card.locator(".text").is_hidden()
    await card.locator("button.show-original").click()
    assert (
        await card.locator(".original").inner_text() == "原通知：分组审议地点 — 改在五楼第二会议室"
    )
    await shot(dep, "deputy-notice-withdrawn-360")

    # The supervisor's archive: the notice's messages say it was withdrawn, and why.
    sup = await open_as(browser, demo_hub.url, "jiandu")
    await sup.type("#ar-kind", "会议通知", delay=30)
    await sup.click("#ar-kind ~ .picker-list li[data-id='notice']")
    row = sup.locator('#archive-rows tr:has(.notice-standing[data-status="withdrawn"])').first
    await row.wait_for()
    assert "撤回原因：分组审议取消" in await row.inner_text()

    # In English the same card reads Withdrawn.
    await dep.evaluate("localStorage.setItem('hub:lang', 'en')")
    await dep.reload()
    await dep.wait_for_selector(f'li.notice[data-notice="{nid}"][data-status="withdrawn"]')
    assert (await card.locator(".changed").inner_text()).startswith("Withdrawn · ")
    assert await card.locator(".change-reason").inner_text() == (
        "Reason for withdrawal: 分组审议取消"
    )
    for p in (sec, dep, sup):
        assert p.js_errors == []
        await p.context.close()
