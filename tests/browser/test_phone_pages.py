"""The phone pages at a city's size (``hub demo --size city``), for older deputies and
the units: a deadline entered as a date is shown as that date, never the next day; a
reply deadline before the signing deadline is refused in the page's language; every
touch target of the deputy's and the unit's page is at least 44×44 CSS px at 360 px, with
normal and with larger text (大字); the larger-text setting stays on the device across a
reload, a new tab and a new login, and nothing runs off a 360 px screen with it.

The city is seeded once per run and copied for each test (``city`` in ``conftest.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from hub import demo
from tests.browser.conftest import TIMEOUT_MS, Demo, api, open_as, shot, wait_until

HUB_ZONE = ZoneInfo("Asia/Shanghai")  # HUB_TIMEZONE's default: the zone deadlines count in
MIN_TARGET = 44  # CSS px, each way

# Every visible interactive element, measured; a checkbox or radio is measured with its
# label (the label is what a finger presses). An element off the screen (the skip link
# until it is focused) is no target.
SMALL_TARGETS = """() => {
  const sel = 'button, a[href], input, select, textarea, summary, [role=tab], [role=option], [tabindex]:not([tabindex="-1"])';
  const out = [];
  const seen = new Set();
  const name = (e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''} "${(e.textContent || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 20)}"`;
  for (const e of document.querySelectorAll(sel)) {
    if (e.type === 'hidden') continue;
    let t = e;
    if (e.matches('input[type=checkbox], input[type=radio]')) t = e.closest('label') || (e.id && document.querySelector(`label[for="${e.id}"]`)) || e;
    if (seen.has(t)) continue;
    seen.add(t);
    if (!t.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const r = t.getBoundingClientRect();
    if (r.right <= 0 || r.left >= innerWidth) continue;
    if (r.width < 43.99 || r.height < 43.99) out.push(`${name(t)} ${r.width.toFixed(1)}x${r.height.toFixed(1)}`);
  }
  return out;
}"""

# What runs past the right edge of the screen (outside a box that scrolls on its own).
OVERFLOWING = """() => {
  const out = [];
  const scrolls = (e) => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) { const o = getComputedStyle(a).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; } return false; };
  for (const e of document.body.querySelectorAll('*')) {
    if (!e.checkVisibility()) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= 0) continue;
    if (r.right > innerWidth + 0.5 && !scrolls(e)) out.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} right=${r.right.toFixed(1)}`);
  }
  if (document.documentElement.scrollWidth > innerWidth) out.push(`page ${document.documentElement.scrollWidth}px wide`);
  return out;
}"""


@pytest.fixture
def city_settings() -> dict[str, Any]:
    return {"deadline_interval": 0}


def zh_date(day: date) -> str:
    """A date as the zh-CN pages write a deadline's day (the year only when not this one)."""
    this_year = datetime.now(HUB_ZONE).year
    return (
        f"{day.year}年{day.month}月{day.day}日"
        if day.year != this_year
        else f"{day.month}月{day.day}日"
    )


def zh_variants(day: date) -> list[str]:
    """Ways a page could write ``day`` in zh-CN (to find the day after where it must not be)."""
    return [f"{day.month}月{day.day}日", f"{day.month:02d}/{day.day:02d}"]


async def post(c: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
    r = await c.post(path, json=body)
    assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"
    return r.json()


async def new_item(city: Demo, sec: httpx.AsyncClient, dep: httpx.AsyncClient, **extra: Any) -> Any:
    """An item of unit 1 (``dw01``) made from a new opinion of ``d001``."""
    op = await post(
        dep,
        "/api/opinions",
        {"meeting_id": city.ids["meeting_id"], "text": "建议延长夜间公交运营时间。"},
    )
    body = {"opinion_ids": [op["id"]], "title": "马上办：夜间公交延时", **extra}
    return await post(sec, "/api/items", {**body, "lead_unit_id": city.ids["unit_ids"][0]})


# -- deadlines entered as a date -----------------------------------------------------------


async def test_a_date_deadline_shows_as_that_date_on_the_unit_and_deputy_pages(
    browser: Any, city: Demo
) -> None:
    """The secretariat sets a reply deadline of a date; the unit asks to extend it to a
    later date and the secretariat approves. On the unit's and the deputy's phone (in
    China, and on a phone set to New York's time) the card shows the extended date as
    "M月D日（当天结束前）", its timeline the date entered at hand-over and the one of the
    extension: never the day after."""
    today = datetime.now(HUB_ZONE).date()
    first, extended = today + timedelta(days=12), today + timedelta(days=20)
    sec, dep, unit = [await api(city, u) for u in ("mishu", "d001", "dw01")]
    try:
        item = await new_item(city, sec, dep, deadline=first.isoformat())
        i = item["id"]
        due = datetime.fromisoformat(item["reply_due"].replace("Z", "+00:00"))
        assert due.astimezone(HUB_ZONE).date() == first
        await post(unit, f"/api/items/{i}/sign", {})
        await post(
            unit,
            f"/api/items/{i}/request_extension",
            {"until": extended.isoformat(), "reason": "需协调公交公司排班"},
        )
        await post(sec, f"/api/items/{i}/approve_extension", {})
    finally:
        for c in (sec, dep, unit):
            await c.aclose()

    for who, zone in (
        ("dw01", "Asia/Shanghai"),
        ("d001", "Asia/Shanghai"),
        ("d001", "America/New_York"),
    ):
        page = await open_as(browser, city.url, who, width=360, height=740, timezone_id=zone)
        if who == "d001":
            await page.click("#tab-items")
        card = page.locator(f'li.item[data-item="{i}"]').first
        await card.wait_for()
        date_text = (await card.locator(".due .deadline-date").inner_text()).strip()
        assert date_text == f"{zh_date(extended)}（当天结束前）", (who, zone, date_text)
        await card.locator("button.details").click()
        timeline = card.locator(".timeline")
        for action, bit in (
            ("hand_over", f"办理期限 {zh_date(first)}（当天结束前）"),
            ("request_extension", f"延期至 {zh_date(extended)}（当天结束前）"),
            ("approve_extension", f"延期至 {zh_date(extended)}（当天结束前）"),
        ):
            step = timeline.locator(f'li[data-action="{action}"]')
            await step.wait_for()
            assert bit in await step.inner_text(), (who, zone, action)
        text = await card.inner_text()
        for wrong in (
            *zh_variants(first + timedelta(days=1)),
            *zh_variants(extended + timedelta(days=1)),
        ):
            assert wrong not in text, (who, zone, wrong, text)
        if zone == "Asia/Shanghai":
            await shot(page, f"{who}-deadline-date-360")
        assert page.js_errors == []
        await page.context.close()


async def test_a_reply_deadline_before_signing_is_refused_in_the_pages_language(
    browser: Any, city: Demo
) -> None:
    """On the secretariat's console, an item from an opinion with today as its reply
    deadline (before the signing deadline, the end of the next working day) is refused,
    and the page says why with the signing deadline, in Chinese and in English; no item
    is made."""
    today = datetime.now(HUB_ZONE).date().isoformat()
    sec = await api(city, "mishu")
    try:
        before = (await sec.get("/api/items", params={"limit": 1})).json()
    finally:
        await sec.aclose()
    for lang, expected in (
        ("zh-CN", ["「办理期限」不能早于签收期限", "（当天结束前）"]),
        ("en", ["\u201cDeadline\u201d may not be before the signing deadline, end of "]),
    ):
        page = await open_as(browser, city.url, "mishu", width=1600)
        if lang != "zh-CN":
            await page.evaluate("localStorage.setItem('hub:lang', 'en')")
            await page.reload()
            await page.wait_for_selector("#user-name")
        row = page.locator("#opinion-list li[data-opinion][data-status='submitted']").first
        await row.locator("input.op-pick").check()
        await page.wait_for_selector("#it-opinions li[data-opinion]")
        await page.fill("#it-lead", "局")  # the lead unit, found with the picker
        await page.locator('#item-form [role="option"]').first.click()
        await page.fill("#it-deadline", today)
        await page.click("#it-send")
        await page.wait_for_selector("#errors .error-line")
        shown = await page.inner_text("#errors")
        for bit in expected:
            assert bit in shown, (lang, shown)
        for raw in ("before_sign_due", "bad_request", "sign_due", "T15:59"):
            assert raw not in shown, (lang, shown)
        assert page.js_errors == []
        await page.context.close()
    sec = await api(city, "mishu")
    try:
        after = (await sec.get("/api/items", params={"limit": 1})).json()
    finally:
        await sec.aclose()
    assert after["total"] == before["total"]


# -- touch targets and larger text ---------------------------------------------------------


async def check(page: Any, state: str, failures: list[str]) -> None:
    """Measure the page as it is now: small targets and what overflows, by state."""
    await page.wait_for_timeout(150)  # a redraw the last click caused
    for x in await page.evaluate(SMALL_TARGETS):
        failures.append(f"{state}: target {x}")
    for x in await page.evaluate(OVERFLOWING):
        failures.append(f"{state}: overflow {x}")


async def set_large(page: Any, on: bool) -> None:
    """Press 大字 until it is as wanted (as a person would)."""
    button = page.locator("#text-size")
    if (await button.get_attribute("aria-pressed")) != ("true" if on else "false"):
        await button.click()
    await wait_until(
        page, f"document.documentElement.classList.contains('large-text') === {str(on).lower()}"
    )


async def deputy_states(page: Any, item: int, sitting: int, size: str, failures: list[str]) -> None:
    """The deputy's page in each state: notices (one open), the meeting with the leave
    form open, the items with an evaluation form open and a timeline, the co-signer
    picker's matches and a co-signer chosen, the duties."""
    await page.click("#tab-notices")
    await page.locator("#notices li.notice button.open").first.click()
    await check(page, f"{size}/notices", failures)
    await page.click("#tab-meeting")
    row = page.locator(f'#my-sittings li[data-sitting="{sitting}"]')
    await row.locator("button.leave").click()
    await row.locator("form.leave-form textarea").wait_for()
    await check(page, f"{size}/leave form", failures)
    await page.click("#tab-items")
    card = page.locator(f'li.item[data-item="{item}"]')
    await card.locator("button.act-evaluate").click()
    await card.locator("form.form-evaluate").wait_for()
    await card.locator("button.details").click()
    await card.locator(".timeline li").first.wait_for()
    await check(page, f"{size}/evaluation form", failures)
    await page.fill("#sg-cosigner", "代表团")  # the co-signer picker's matches, a chip
    await page.locator("#suggest-form [role=option]").first.wait_for()
    await page.locator("#sg-cosigner").scroll_into_view_if_needed()
    await check(page, f"{size}/co-signer matches", failures)
    await page.locator("#suggest-form [role=option]").first.click()
    await page.locator("#suggest-form ul.chosen li").first.wait_for()
    await check(page, f"{size}/co-signer chosen", failures)
    await page.click("#tab-perf")
    await page.wait_for_timeout(500)
    for summary in await page.locator("#p-perf summary").all():
        await summary.click()
    await check(page, f"{size}/duties", failures)


async def unit_states(page: Any, size: str, failures: list[str]) -> None:
    """The unit's inbox: the hand-over alert, a reply form, an extension form."""
    await page.wait_for_selector("#todo li.item")
    await check(page, f"{size}/inbox", failures)
    reply = page.locator("#todo button.act-reply").first
    await reply.click()
    await page.locator("#todo form.form-reply").first.wait_for()
    await check(page, f"{size}/reply form", failures)
    ext = page.locator("#todo button.act-request_extension").first
    await ext.click()
    await page.locator("#todo form.form-request_extension").first.wait_for()
    await check(page, f"{size}/extension form", failures)


async def test_every_touch_target_is_44px_with_normal_and_large_text(
    browser: Any, city: Demo
) -> None:
    """At 360 px, on the deputy's page (notices, the leave form, an evaluation form, the
    co-signer picker, the duties) and the unit's (the hand-over alert, a reply and an extension form), every
    visible button, link, field, picker and checkbox or radio with its label measures at
    least 44×44 CSS px, with normal text and with 大字; and nothing runs off the screen."""
    sec, dep, unit = [await api(city, u) for u in ("mishu", "d001", "dw01")]
    try:
        item = (await new_item(city, sec, dep))["id"]
        await post(unit, f"/api/items/{item}/sign", {})
        await post(unit, f"/api/items/{item}/reply", {"grade": "B", "text": "已调整夜间班次。"})
        starts = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        sitting = await post(
            sec,
            f"/api/meetings/{city.ids['meeting_id']}/sittings",
            {"kind": "plenary", "title": "第二次全体会议", "starts_at": starts},
        )
        progress = (await new_item(city, sec, dep))["id"]  # in progress: reply, extension
        await post(unit, f"/api/items/{progress}/sign", {})
        await new_item(city, sec, dep)  # a hand-over the unit has not seen: the alert
    finally:
        for c in (sec, dep, unit):
            await c.aclose()

    failures: list[str] = []
    deputy = await open_as(browser, city.url, "d001", width=360, height=740)
    unit_page = await open_as(browser, city.url, "dw01", width=360, height=740)
    for size in ("normal", "large"):
        for page in (deputy, unit_page):
            await set_large(page, size == "large")
        await deputy_states(deputy, item, sitting["id"], size, failures)
        await unit_states(unit_page, size, failures)
        await shot(deputy, f"deputy-targets-{size}-360")
        await shot(unit_page, f"unit-targets-{size}-360")
        if size == "normal":
            await deputy.reload()
            await unit_page.reload()
            await deputy.wait_for_selector("#user-name")
    assert failures == [], "\n".join(dict.fromkeys(failures))  # each kind once
    for page in (deputy, unit_page):
        assert page.js_errors == []
        await page.context.close()


BODY_SEEN = """() => {
  window.largeAtFirstBody = null;
  new MutationObserver((records, obs) => {
    if (document.body) {
      window.largeAtFirstBody = document.documentElement.classList.contains('large-text');
      obs.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
}"""


async def test_large_text_stays_on_the_device(browser: Any, city: Demo) -> None:
    """大字 pressed on the deputy's phone: the text grows at once; after a reload, in a new
    tab (logged in by the browser's lasting login), on the login page after logging out
    and after logging in again it is large from the first paint (set before the body is
    parsed); pressed again, normal everywhere."""
    page = await open_as(browser, city.url, "d001", width=360, height=740)
    ctx = page.context
    await ctx.add_init_script(script=f"({BODY_SEEN})()")
    root_px = "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    assert await page.evaluate(root_px) == 16
    assert await page.get_attribute("#text-size", "aria-pressed") == "false"
    assert await page.inner_text("#text-size") == "大字"
    await page.click("#text-size")
    assert await page.evaluate(root_px) == 20
    assert await page.get_attribute("#text-size", "aria-pressed") == "true"

    await page.reload()
    await page.wait_for_selector("#user-name")
    assert await page.evaluate("window.largeAtFirstBody") is True
    assert await page.evaluate(root_px) == 20
    assert await page.get_attribute("#text-size", "aria-pressed") == "true"

    tab = await ctx.new_page()  # a new tab is logged in (the lasting login), large already
    await tab.goto("/")
    await tab.wait_for_selector("#user-name")
    assert await tab.evaluate("window.largeAtFirstBody") is True
    assert await tab.evaluate(root_px) == 20
    assert await tab.get_attribute("#text-size", "aria-pressed") == "true"
    await tab.close()

    await page.click("#logout")
    await page.wait_for_selector("#username")
    assert await page.evaluate("window.largeAtFirstBody") is True  # the login page
    assert await page.get_attribute("#text-size", "aria-pressed") == "true"
    await page.fill("#username", "d001")
    await page.fill("#password", demo.PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#user-name", timeout=TIMEOUT_MS)
    assert await page.evaluate("window.largeAtFirstBody") is True
    await page.click("#text-size")
    assert await page.evaluate(root_px) == 16
    await page.reload()
    await page.wait_for_selector("#user-name")
    assert await page.evaluate("window.largeAtFirstBody") is False
    assert page.js_errors == []
    await ctx.close()
