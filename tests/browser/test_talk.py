"""A deputy on a phone (360 px) writes to the secretariat; the console shows it live in its
bounded list and replies; the deputy reads the reply live — in zh-CN, then in English."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, shot, wait_until
from tests.browser.test_errors_zh import foreign


async def test_deputy_and_secretariat_talk_live(browser: Any, demo_hub: Demo) -> None:
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    sec = await open_as(browser, demo_hub.url, "mishu")

    await dep.click("#tab-meeting")
    await dep.locator("#talk .empty").wait_for()
    assert await dep.locator("#talk .empty").inner_text() == "还没有与秘书处的沟通"
    await dep.fill("#talk-text", "请问明天的分组审议在哪个会议室？")
    await dep.click("#talk form.talk-form button[type=submit]")
    mine = dep.locator("#talk li.talk.mine")
    await mine.wait_for()
    assert await mine.locator(".text").inner_text() == "请问明天的分组审议在哪个会议室？"

    # live on the console, naming the deputy; the secretariat replies to them
    row = sec.locator("#talk li.talk", has_text="分组审议")
    await row.wait_for()
    assert "王建国" in await row.locator(".meta").inner_text()
    await row.locator("button.talk-reply").click()
    assert await sec.locator("#talk .talk-to").inner_text() == "回复王建国"
    await sec.fill("#talk-reply-text", "在三楼第二会议室。")
    await sec.click("#talk form.talk-form button[type=submit]")
    mine_sec = sec.locator("#talk li.talk.mine")
    await mine_sec.wait_for()
    assert "致王建国" in await mine_sec.inner_text()

    reply = dep.locator("#talk li.talk:not(.mine)")
    await reply.wait_for()
    assert await reply.locator(".text").inner_text() == "在三楼第二会议室。"
    assert "大会秘书处" in await reply.locator(".meta").inner_text()
    card = await dep.locator("#talk").inner_text()
    assert foreign(card, "zh-CN") == [], card
    # the phone's width holds the card: nothing wider than the screen
    assert await dep.evaluate("document.documentElement.scrollWidth") <= 360
    await shot(dep, "deputy-talk-360")
    await shot(sec, "secretariat-talk")

    # the same thread read in English after a reload, from the server
    await dep.evaluate("localStorage.setItem('hub:lang', 'en')")
    await dep.reload()
    await wait_until(dep, "window.hubClient && window.hubClient.state === 'online'")
    await dep.click("#tab-meeting")
    await dep.locator("#talk li.talk:not(.mine)").wait_for()
    assert await dep.locator("#talk h2").inner_text() == "Talk with the secretariat"
    chrome = await dep.locator("#talk").evaluate(
        "e => [...e.querySelectorAll('h2, label, button')].map(x => x.innerText).join(' ')"
    )
    assert chrome == "Talk with the secretariat Your message to the secretariat Send", chrome
    assert "Secretariat" in await dep.locator("#talk li.talk:not(.mine) .meta").inner_text()
    for p in (dep, sec):
        assert p.js_errors == []
        await p.context.close()
