"""The supervisor's dashboard at a city's size (``hub demo --size city``: 400 deputies in
25 delegations, 50 units, 60 commit-to-do items, 120 suggestions, a plenary under way):
the figures stay live while messages stream, say what they count and what they leave out
(suggestions waiting for co-signers, attendance "so far" while a sitting is open), and
people, delegations, units and items are found by typing part of a name — no <select> of
hundreds, no numeric ids to type.

The city is seeded once per run and copied for each test (``city`` in ``conftest.py``)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from tests.browser.conftest import Demo, api, open_as, shot, wait_until

STREAM_S = 10.0  # how long messages keep coming
TICK_S = 0.5  # one opinion and one suggestion every tick
MAX_GAP_S = 6.0  # the figures are redrawn at least this often while they come
MAX_OPTIONS = 10  # <option> elements on the whole page, whatever the city's size

# Pinyin initials of a few characters of the city's names, written out by hand to check
# the page's own derivation (js/pinyin.js) against.
INITIALS = {
    "王": "w", "李": "l", "张": "z", "刘": "l", "陈": "c", "杨": "y", "赵": "z", "黄": "h",
    "周": "z", "吴": "w", "徐": "x", "孙": "s", "胡": "h", "朱": "z", "高": "g", "林": "l",
    "建": "j", "国": "g", "秀": "x", "英": "y", "伟": "w", "芳": "f", "明": "m", "丽": "l",
    "强": "q", "静": "j", "海": "h", "军": "j", "敏": "m", "磊": "l", "洋": "y", "勇": "y",
    "华": "h", "志": "z", "红": "h", "文": "w", "博": "b", "东": "d", "平": "p", "刚": "g",
}  # fmt: skip


async def supervisor(browser: Any, city: Demo) -> Any:
    page = await open_as(browser, city.url, "jiandu", width=1600, height=1000)
    await page.wait_for_selector("#st-suggestions b")
    return page


async def statistics(city: Demo) -> dict[str, Any]:
    sup = await api(city, "jiandu")
    try:
        r = await sup.get("/api/statistics", params={"meeting": city.ids["meeting_id"]})
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out
    finally:
        await sup.aclose()


@pytest.mark.alone  # a stream against the figures' refresh bound: no contention
async def test_figures_refresh_while_messages_stream(browser: Any, city: Demo) -> None:
    """Opinions and suggestions arrive every half second for ten seconds: the figures are
    redrawn while they keep coming — the first within seconds, then at least every few
    seconds — not only once the stream stops, and end at the true totals."""
    m = city.ids["meeting_id"]
    page = await supervisor(browser, city)
    before = await statistics(city)
    await page.evaluate(
        """() => {
            window.seen = [];
            const text = () => {
                const s = document.querySelector('#st-suggestions b');
                const o = document.querySelector('#st-opinions b');
                return `${s ? s.textContent : ''}|${o ? o.textContent : ''}`;
            };
            let last = text();
            setInterval(() => {
                const now = text();
                if (now !== last) { window.seen.push([performance.now(), now]); last = now; }
            }, 50);
        }"""
    )
    deputies = [await api(city, f"d{i:03d}") for i in range(1, 11)]
    try:
        start = await page.evaluate("performance.now()")
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < STREAM_S:
            d = deputies[k % len(deputies)]
            r1, r2 = await asyncio.gather(
                d.post("/api/opinions", json={"meeting_id": m, "text": f"建议增设公交线路{k}。"}),
                d.post(
                    "/api/suggestions",
                    json={"meeting_id": m, "title": f"关于公交线路{k}的建议", "text": "建议增设。"},
                ),
            )
            assert r1.status_code == 201 and r2.status_code == 201, (r1.text, r2.text)
            k += 1
            await asyncio.sleep(max(0.0, t0 + k * TICK_S - time.monotonic()))
        end = await page.evaluate("performance.now()")
    finally:
        for d in deputies:
            await d.aclose()
    sg, op = before["suggestions"]["submitted"] + k, before["opinions"]["total"] + k
    await wait_until(page, f"() => window.seen.length && window.seen.at(-1)[1] === '{sg}|{op}'")
    seen: list[tuple[float, str]] = await page.evaluate("window.seen")
    during = [at for at, _ in seen if at <= end]
    assert len(during) >= 2, (during, start, end)
    gaps = [b - a for a, b in zip([start, *during], [*during, end], strict=True)]
    assert max(gaps) <= MAX_GAP_S * 1000, (gaps, seen)
    shown = [int(x.split("|")[0]) for _, x in seen]
    assert shown == sorted(shown) and shown[-1] == sg  # the suggestions figure only grows
    assert page.js_errors == []
    await page.context.close()


async def test_suggestions_figure_says_how_many_wait_for_co_signers(
    browser: Any, city: Demo
) -> None:
    """Three suggestions wait for their co-signers: the figure counts every suggestion
    submitted — the same number the item list has — and says that three of them wait,
    in Chinese and in English."""
    m, ids = city.ids["meeting_id"], city.ids["deputy_ids"]
    author = await api(city, "d001")
    try:
        for i in range(3):
            r = await author.post(
                "/api/suggestions",
                json={"meeting_id": m, "title": f"联名建议{i}", "text": "建议增设。",
                      "cosigner_ids": [ids[1], ids[2]]},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            assert r.json()["state"] == "cosigning"
    finally:
        await author.aclose()
    sec = await api(city, "mishu")
    try:
        r = await sec.get("/api/items", params={"meeting_id": m, "kind": "suggestion", "limit": 1})
        submitted = r.json()["total"]
    finally:
        await sec.aclose()
    assert submitted == len(city.ids["suggestion_ids"]) + 3
    page = await supervisor(browser, city)
    assert await page.inner_text("#st-suggestions b") == str(submitted)
    assert await page.inner_text("#st-suggestions .stat-note") == "其中 3 件待联名确认"
    bars = await page.get_attribute("#chart-suggestions svg", "aria-label")
    assert f"提交 {submitted}" in bars and f"收到 {submitted - 3}" in bars, bars
    await page.locator("#stats").scroll_into_view_if_needed()
    await shot(page, "supervisor-city-statistics", full_page=False)
    await page.evaluate("localStorage.setItem('hub:lang', 'en')")
    await page.reload()
    await page.wait_for_selector("#st-suggestions .stat-note")
    assert await page.inner_text("#st-suggestions b") == str(submitted)
    note = await page.inner_text("#st-suggestions .stat-note")
    assert note == "of which 3 waiting for co-signers", note
    assert page.js_errors == []
    await page.context.close()


async def test_attendance_is_so_far_while_the_plenary_is_open_then_final(
    browser: Any, city: Demo
) -> None:
    """The city's plenary is under way: the attendance rate shows its number "截至目前"
    (and that the group sittings, not begun, are not counted); the secretariat closes
    the plenary and the same tile turns final, live."""
    plenary = city.ids["sitting_ids"][0]
    sec = await api(city, "mishu")
    try:
        board = (await sec.get(f"/api/sittings/{plenary}/attendance")).json()
        page = await supervisor(browser, city)
        rate = round(board["counts"]["checked_in"] / board["expected"], 4)
        shown = await page.evaluate("r => `${(100 * r).toFixed(1)}%`", rate)
        assert await page.inner_text("#st-attendance b") == shown
        note = await page.inner_text("#st-attendance .stat-note")
        assert note == "截至目前（1 场会议进行中） · 4 场会议未开始，不计入", note
        assert await page.inner_text("#chart-attendance h3") == "出勤（截至目前）"
        r = await sec.post(f"/api/sittings/{plenary}/close")
        assert r.status_code == 200, r.text
    finally:
        await sec.aclose()
    await page.wait_for_function(
        "() => document.querySelector('#st-attendance .stat-note')?.textContent"
        " === '1 场会议已结束，为最终结果 · 4 场会议未开始，不计入'"
    )
    assert await page.inner_text("#st-attendance b") == shown
    assert await page.inner_text("#chart-attendance h3") == "出勤"
    assert page.js_errors == []
    await page.context.close()


async def pick(page: Any, box: str, typed: str, choice: int) -> None:
    """Type into a picker and click the match whose id is ``choice``."""
    await page.fill(box, "")
    await page.type(box, typed, delay=30)
    await page.click(f"{box} ~ .picker-list li[data-id='{choice}']")


async def archive_rows(page: Any) -> list[dict[str, Any]]:
    """The archive's rows once a search has answered: channel and sender of each."""
    await page.wait_for_function("() => !document.querySelector('#ar-search').disabled")
    rows: list[dict[str, Any]] = await page.evaluate(
        """() => [...document.querySelectorAll('#archive-rows tr[data-message]')].map((r) => ({
            channel: r.dataset.channel, place: r.querySelector('td.place').innerText,
            sender: Number(r.querySelector('td.sender').dataset.sender)}))"""
    )
    return rows


async def test_people_delegations_units_and_items_are_found_by_name(
    browser: Any, city: Demo
) -> None:
    """The archive filters by a deputy, a delegation and a unit found by typing part of
    their name (or a deputy's pinyin initials), shown by name, never by id; the timeline
    and the performance file find their item and deputy the same way; and the page holds
    a handful of <option> elements, not hundreds."""
    ids = city.ids
    m = ids["meeting_id"]
    page = await supervisor(browser, city)
    await page.wait_for_selector("#archive-rows tr[data-message]")
    assert await page.locator("option").count() <= MAX_OPTIONS
    assert await page.locator("#archive input[type=number]").count() == 0

    # a deputy by part of the name (one no other name contains): their inbox and messages
    names = ids["deputy_names"]
    k = next(i for i, n in enumerate(names) if len(n) == 3 and sum(n[1:] in x for x in names) == 1)
    name, deputy = ids["deputy_names"][k], ids["deputy_ids"][k]
    await pick(page, "#ar-deputy", name[1:], deputy)
    assert await page.text_content('#ar-picked [data-filter="deputy"]') == f"代表：{name}×"
    rows = await archive_rows(page)
    assert rows and all(
        r["channel"] == f"deputy:{deputy}" or r["sender"] == deputy for r in rows
    ), rows
    await page.click('#ar-picked [data-filter="deputy"] button')

    # a delegation by part of its name: its channel, its deputies' inboxes and messages
    sec = await api(city, "mishu")
    try:
        listed = (await sec.get(f"/api/meetings/{m}/deputies")).json()["deputies"]
        delegations = (await sec.get("/api/delegations")).json()["delegations"]
        units = (await sec.get("/api/units")).json()["units"]
    finally:
        await sec.aclose()
    group = next(g for g in delegations if g["id"] == ids["delegation_ids"][1])
    members = {d["id"] for d in listed if d["delegation_id"] == group["id"]}
    await pick(page, "#ar-delegation", group["name"][:2], group["id"])
    assert await page.text_content('#ar-picked [data-filter="delegation"]') == (
        f"代表团：{group['name']}×"
    )
    rows = await archive_rows(page)
    assert rows and all(
        r["channel"] == f"delegation:{group['id']}"
        or r["sender"] in members
        or r["channel"] in {f"deputy:{d}" for d in members}
        for r in rows
    ), rows
    await page.click('#ar-picked [data-filter="delegation"] button')

    # a unit by part of its name: its channel
    unit = next(u for u in units if u["name"] == "市交通运输局")
    await pick(page, "#ar-unit", "交通运输", unit["id"])
    rows = await archive_rows(page)
    assert rows and {r["channel"] for r in rows} == {f"unit:{unit['id']}"}, rows
    assert {r["place"] for r in rows} == {"单位 市交通运输局"}, rows  # by name, not unit:<id>
    picked = await page.text_content("#ar-picked")
    assert picked == "承办单位：市交通运输局×" and not re.search(r"\d", picked)
    # the export links carry the same filter
    href = await page.get_attribute('[data-export="messages.csv"]', "href")
    assert f"unit={unit['id']}" in (href or "")
    await shot(page, "supervisor-city-archive-unit", full_page=False)

    # a deputy's performance file, found by pinyin initials and the delegation's name
    k = next(
        i
        for i, n in enumerate(ids["deputy_names"])
        if len(n) == 3 and all(c in INITIALS for c in n)
    )
    name, deputy = ids["deputy_names"][k], ids["deputy_ids"][k]
    group = next(g for g in delegations if g["id"] == ids["delegation_ids"][k % 25])
    typed = "".join(INITIALS[c] for c in name)
    await pick(page, "#file-deputy", f"{typed} {group['name'][:2]}", deputy)
    assert await page.inner_text("#file-chosen") == name
    await page.click("#file-open")
    await page.wait_for_selector(f"#file-out h3:text-is('{name}')")

    # an item's timeline, by part of its title and its number
    item = ids["item_ids"][7]
    await pick(page, "#tl-item", f"#{item} 马上办", item)
    await page.wait_for_function(
        f"() => document.getElementById('tl-chosen').textContent.startsWith('#{item} ')"
    )
    await page.wait_for_selector('#tl-out .timeline li[data-action="hand_over"]')
    assert await page.locator("option").count() <= MAX_OPTIONS
    assert page.js_errors == []
    await page.context.close()
