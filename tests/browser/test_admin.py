"""The admin's console in a real browser: an admin lands on it after login, and in zh-CN
creates a meeting, a delegation, a unit and an account, assigns the account to the
meeting, changes a deadline rule and a calendar day; the recent changes (the set-up log
setup:1) then say who changed what, by name, in Chinese; the page shows no English and no
raw code in zh-CN, and its own words carry no Chinese in English."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import TIMEOUT_MS, Demo, api, open_as, shot, wait_until
from tests.browser.test_errors_zh import CJK, LATIN, foreign

WIDTH = 1366
ADMIN = "系统管理员"  # the demo admin's name
# The console's own words (not the data it lists: names, titles, usernames).
CHROME = "h1, h2, h3, label, button, legend, th, nav a, .chip, #acc-role option, #cal-kind option"


async def changes(page: Any) -> list[str]:
    return list(await page.locator("#changes-list li").all_inner_texts())


async def wait_change(page: Any, text: str) -> None:
    await wait_until(
        page,
        f"""() => [...document.querySelectorAll('#changes-list li')]
                 .some((li) => li.textContent.includes({text!r}))""",
    )


async def usernames(demo: Demo) -> list[str]:
    c = await api(demo, "admin")
    try:
        return [u["username"] for u in (await c.get("/api/admin/users")).json()["users"]]
    finally:
        await c.aclose()


async def test_admin_sets_up_the_congress_and_the_log_says_who(
    browser: Any, demo_hub: Demo
) -> None:
    """Meeting, delegation, unit, account with its meeting, a deadline rule and a holiday,
    all from the console in zh-CN; each shows in the recent changes as a Chinese sentence
    naming the admin and what changed, live; no Latin letter but usernames on the page."""
    page = await open_as(browser, demo_hub.url, "admin", width=WIDTH)
    assert page.url.split("#")[0].endswith("/static/admin.html")
    await page.wait_for_selector("#acc-list li")
    year = (await page.evaluate("new Date().getFullYear()")) or 2026

    await page.fill("#m-title", "市人大常委会第十次会议")
    await page.fill("#m-starts", f"{year}-12-20")
    await page.fill("#m-ends", f"{year}-12-21")
    await page.click("#m-save")
    await wait_change(page, f"{ADMIN} 新建了会议「市人大常委会第十次会议」")
    await page.wait_for_selector("#meeting-list li:has-text('市人大常委会第十次会议')")

    await page.fill("#delegation-name", "新城区代表团")
    await page.click("#delegation-form button[type=submit]")
    await wait_change(page, f"{ADMIN} 新建了代表团「新城区代表团」")
    await page.fill("#unit-name", "市文化和旅游局")
    await page.click("#unit-form button[type=submit]")
    await wait_change(page, f"{ADMIN} 新建了承办单位「市文化和旅游局」")

    await page.fill("#new-username", "zhangxin")
    await page.fill("#new-name", "张新")
    await page.select_option("#new-role", "deputy")
    await page.select_option("#new-delegation", label="新城区代表团")
    await page.fill("#new-password", "Xin-Daibiao-2026!")
    await page.click("#new-create")
    await wait_change(page, f"{ADMIN} 新建了账号 张新（zhangxin，人大代表）")
    await page.wait_for_selector("#acc-form")
    await page.check("#acc-meetings label:has-text('市人大常委会第十次会议') input")
    await page.fill("#acc-phone", "13905807788")
    await page.click("#acc-save")
    await wait_change(page, f"{ADMIN} 修改了账号 张新 的电话、参加的会议")

    rule = page.locator("form[data-rule='commit.sign']")
    await rule.locator("input").fill("2")
    await rule.locator("button").click()
    await wait_change(page, f"{ADMIN} 将「马上办：签收或退回」由 1 个工作日 改为 2 个工作日")

    await page.fill("#cal-date", f"{year}-10-08")
    await page.fill("#cal-name", "国庆节")
    await page.select_option("#cal-kind", "holiday")
    await page.click("#cal-add")
    await wait_change(page, f"{ADMIN} 更新了 {year} 年工作日历（节假日 1 天，调休上班 0 天）")
    await page.wait_for_selector(f"#cal-list li[data-day='{year}-10-08']")

    logged = await changes(page)
    # the seven changes above, after the demo's own: the year's points rules
    assert len(logged) == 8, logged
    assert "积分规则" in logged[-1], logged
    assert all(ADMIN in line for line in logged), logged
    assert "13905807788" not in "".join(logged) and "Xin-Daibiao" not in "".join(logged)

    text = await page.inner_text("#main")
    for name in sorted(await usernames(demo_hub), key=len, reverse=True):
        text = text.replace(name, "")
    # the roster import's hint names file formats by their names
    text = re.sub(r"CSV|UTF-8|GBK|Excel|\.xlsx", "", text)
    assert foreign(text, "zh-CN") == [], [
        line for line in text.splitlines() if foreign(line, "zh-CN")
    ]
    assert page.js_errors == []
    await shot(page, "admin-console")
    await page.context.close()


async def test_admin_console_in_english_has_no_chinese_words(browser: Any, demo_hub: Demo) -> None:
    """In English the console's own words (headings, labels, buttons, roles, chips) carry
    no Chinese; the recent changes are English sentences around the stored names."""
    page = await open_as(browser, demo_hub.url, "admin", width=WIDTH)
    await page.evaluate("localStorage.setItem('hub:lang', 'en')")
    c = await api(demo_hub, "admin")
    try:
        r = await c.post("/api/admin/units", json={"name": "市文化和旅游局"})
        assert r.status_code == 201, r.text
    finally:
        await c.aclose()
    await page.reload()
    await page.wait_for_selector("#acc-list li")
    await page.wait_for_selector("#changes-list li[data-kind='setup.unit_created']")
    words = await page.locator(CHROME).all_inner_texts()
    bad = [w for w in words if CJK.search(w) or foreign(w, "en")]
    assert bad == [], bad
    line = (await changes(page))[0]
    assert re.fullmatch(r".* 系统管理员 created the unit “市文化和旅游局”", line), line
    assert page.js_errors == []
    await page.context.close()


@pytest.mark.parametrize("lang", ["zh-CN"])
async def test_taken_name_is_said_in_the_page_language(
    browser: Any, demo_hub: Demo, lang: str
) -> None:
    """A delegation name already taken is refused with a sentence saying so."""
    page = await open_as(browser, demo_hub.url, "admin", width=WIDTH)
    await page.fill("#delegation-name", "定海区代表团")
    await page.click("#delegation-form button[type=submit]")
    await page.wait_for_selector("#errors :text('这个名称已被使用')", timeout=TIMEOUT_MS)
    await page.context.close()


async def test_secretariat_edits_an_agenda_item_and_closes_a_sitting(
    browser: Any, demo_hub: Demo
) -> None:
    """On the secretariat's setup card the meeting's secretariat renames an agenda item in
    place and closes a sitting that has started (a second click confirms); both come back
    over the meeting's channel and the card shows them, in Chinese."""
    mid = demo_hub.ids["meeting_id"]
    c = await api(demo_hub, "mishu")
    try:
        started = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        body = {"kind": "plenary", "title": "第二次全体会议", "starts_at": started}
        r = await c.post(f"/api/meetings/{mid}/sittings", json=body)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
    finally:
        await c.aclose()
    page = await open_as(browser, demo_hub.url, "mishu", width=WIDTH)
    first = page.locator("#setup-agenda li").first
    await first.locator("button").click()
    await first.locator("input").fill("听取和审议政府工作报告")
    await first.locator("button[type=submit]").click()
    await page.wait_for_selector("#setup-agenda li:has-text('1. 听取和审议政府工作报告')")
    close = page.locator(f"#setup-sittings button[data-close='{sid}']")
    await close.click()
    assert await close.inner_text() == "确认结束？再点一次"
    await close.click()
    await page.wait_for_selector(f"#setup-sittings li[data-sitting='{sid}']:has-text('（已结束）')")
    assert await close.count() == 0
    text = (await page.inner_text("#setup")).replace(" KB", "")  # a document's size
    assert not LATIN.search(text), text
    assert page.js_errors == []
    await page.context.close()


async def test_admin_resolves_a_dispute_and_versions_the_points_rules(
    browser: Any, demo_hub: Demo
) -> None:
    """A deputy's dispute shows by the deputy's name and the entry's activity in Chinese,
    and is upheld with a decision; a version of the points rules from next year is added
    from the rules in force and withdrawn; the recent changes say both by name."""
    dep = await api(demo_hub, "daibiao1")
    try:
        me = (await dep.get("/api/me")).json()
        entries = (await dep.get(f"/api/deputies/{me['id']}/points")).json()["entries"]
        key = next(e["key"] for e in entries if e["key"].startswith("registration:"))
        r = await dep.post("/api/points/disputes", json={"entry": key, "reason": "日期登记有误"})
        assert r.status_code == 201, r.text
    finally:
        await dep.aclose()
    page = await open_as(browser, demo_hub.url, "admin", width=WIDTH)
    item = page.locator("#dispute-list li").first
    await item.wait_for()
    text = await item.inner_text()
    assert me["name"] in text and "履职登记" in text and "日期登记有误" in text, text
    assert not LATIN.search(text), text
    await item.locator("input").fill("核实后同意")
    await item.locator("button.primary").click()
    await page.wait_for_selector("#disputes-none")

    year = await page.evaluate("new Date().getFullYear()")
    await page.fill("#points-from", f"{year + 1}-01-01")
    await page.locator("#points-form input[data-event='speech']").fill("2")
    await page.click("#points-add")
    await wait_change(page, f"{ADMIN} 新增了积分规则版本（自 {year + 1}/01/01 起施行）")
    version = page.locator("#points-versions li:has-text('尚未施行')")
    await version.locator("button").click()
    await wait_change(page, f"{ADMIN} 撤回了自 {year + 1}/01/01 起施行的积分规则版本")
    await page.wait_for_selector("#points-versions li:has-text('尚未施行')", state="detached")
    assert page.js_errors == []
    await page.context.close()
