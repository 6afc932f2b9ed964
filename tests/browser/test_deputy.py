"""The deputy's page in a real browser: login, live notices and read receipts, the phone
layout, user text shown as text."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.conftest import Demo, open_as, shot
from tests.utils import TIMEOUT


async def token(base: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        r = await c.post("/api/login", json={"username": username, "password": "demo2026"})
        r.raise_for_status()
        return str(r.json()["token"])


async def send_notice(base: str, tok: str, meeting: int, body: dict[str, Any]) -> int:
    """Send a notice to the whole meeting through the notices API; its id."""
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        r = await c.post(
            f"/api/meetings/{meeting}/notices",
            json=body,
            headers={"Authorization": f"Bearer {tok}"},
        )
        r.raise_for_status()
        return int(r.json()["id"])


async def test_login_lands_on_the_role_page_and_logout_returns(
    browser: Any, demo_hub: Demo
) -> None:
    """Each role lands on its page after login; logout goes back to the login page."""
    for user, path in [
        ("daibiao1", "/static/deputy.html"),
        ("mishu", "/static/secretariat.html"),
        ("jiaotong", "/static/unit.html"),
        ("jiandu", "/static/supervisor.html"),
        ("admin", "/static/admin.html"),
    ]:
        page = await open_as(browser, demo_hub.url, user)
        assert page.url.split("#")[0].endswith(path)
        await page.click("#logout")
        await page.wait_for_url("**/static/index.html?reason=loggedOut")
        assert page.js_errors == []
        await page.context.close()


async def test_wrong_password_is_said_on_the_login_page(browser: Any, demo_hub: Demo) -> None:
    """A failed login says so in the page's language and stays on the login page."""
    ctx = await browser.new_context(base_url=demo_hub.url)
    page = await ctx.new_page()
    await page.goto("/")
    await page.fill("#username", "daibiao1")
    await page.fill("#password", "wrong")
    await page.click("#submit")
    await page.wait_for_selector("#errors .error-line")
    assert "用户名或密码错误" in await page.inner_text("#errors")
    assert page.url.endswith("/static/index.html")
    await ctx.close()


async def test_notice_arrives_live_and_read_is_confirmed(browser: Any, demo_hub: Demo) -> None:
    """A notice appears on the open page, the badge counts it, opening it sends `read`."""
    page = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    sec = await token(demo_hub.url, "mishu")
    m = demo_hub.ids["meeting_id"]
    body = {"title": "下午分组审议改在3号会议室", "text": "请准时参加。", "urgent": True}
    nid = await send_notice(demo_hub.url, sec, m, body)
    li = page.locator(f'li.notice[data-notice="{nid}"]')
    await li.wait_for()
    assert await page.inner_text("#unread-badge") == "1"
    await li.locator("button.open").click()
    await page.wait_for_selector(f'li.notice[data-notice="{nid}"][data-state="read"]')
    assert await page.locator("#unread-badge").is_hidden()
    await shot(page, "deputy-notices-360")
    assert page.js_errors == []
    await page.context.close()


async def test_a_new_device_shows_what_another_device_did(browser: Any, demo_hub: Demo) -> None:
    """A notice read and a check-in done on the phone show as read and checked in on a
    second device whose browser holds nothing yet (from the server, not from storage); the
    co-signer picker finds the meeting's other deputies by their delegation's name."""
    m = demo_hub.ids["meeting_id"]
    phone = await open_as(browser, demo_hub.url, "daibiao3", width=360, height=740)
    async with httpx.AsyncClient(base_url=demo_hub.url, timeout=TIMEOUT) as c:
        r = await c.post(
            f"/api/meetings/{m}/notices",
            json={"title": "明天上午大会发言名单", "text": "请查阅。"},
            headers={"Authorization": f"Bearer {await token(demo_hub.url, 'mishu')}"},
        )
        r.raise_for_status()
        nid = r.json()["id"]
    li = phone.locator(f'li.notice[data-notice="{nid}"]')
    await li.locator("button.open").click()
    await phone.wait_for_selector(f'li.notice[data-notice="{nid}"][data-state="read"]')
    await phone.click("#tab-meeting")
    plenary = phone.locator("#my-sittings li").first
    plenary_id = await plenary.get_attribute("data-sitting")
    await plenary.locator("button.checkin").click()
    sitting = f'#my-sittings li[data-sitting="{plenary_id}"]'
    await phone.wait_for_selector(f'{sitting}[data-state="checked_in"]')
    unread_on_phone = await phone.inner_text("#unread-badge")

    laptop = await open_as(browser, demo_hub.url, "daibiao3")
    await laptop.wait_for_selector(f'li.notice[data-notice="{nid}"][data-state="read"]')
    assert await laptop.inner_text("#unread-badge") == unread_on_phone
    await laptop.click("#tab-meeting")
    await laptop.wait_for_selector(f'{sitting}[data-state="checked_in"]')
    assert await laptop.locator(f"{sitting} button.checkin").count() == 0
    await laptop.click("#tab-items")
    await laptop.fill("#sg-cosigner", "定海")  # a delegation's name finds its deputies
    picks = laptop.locator("#suggest-form [role=option]")
    await picks.first.wait_for()
    names = await picks.all_inner_texts()
    assert len(names) == 2 and all("定海区代表团" in n for n in names), names  # not 张伟 (me)
    for p in (phone, laptop):
        assert p.js_errors == []
        await p.context.close()


async def test_user_text_is_shown_as_text(browser: Any, demo_hub: Demo) -> None:
    """A notice title containing <script> and markup is displayed literally, never run."""
    page = await open_as(browser, demo_hub.url, "daibiao2")
    sec = await token(demo_hub.url, "mishu")
    m = demo_hub.ids["meeting_id"]
    evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    nid = await send_notice(demo_hub.url, sec, m, {"title": evil, "text": evil, "confirm": True})
    li = page.locator(f'li.notice[data-notice="{nid}"]')
    await li.wait_for()
    assert await li.locator(".notice-title").inner_text() == evil
    assert await page.evaluate("window.pwned") is None
    assert await li.locator("script, img").count() == 0
    await page.context.close()
