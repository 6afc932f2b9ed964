"""The secretariat's opinions console at a city's size (``hub demo --size city``: 400
deputies, 1,000 opinions, a desk of thousands of messages): a page costs what it shows,
a new opinion changes one row, a fresh login starts from the present, and a deputy's
opinions are found by name.

The meeting is seeded once per run by the command's own function and copied for each
test, so every test starts from the same city (``city`` in ``conftest.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

from hub import demo
from tests.browser.conftest import Demo, api, count_mutations, open_as, wire_messages

MAX_OPINION_ELEMENTS = 1000
MAX_CHANGED_NODES = 50


async def console(browser: Any, city: Demo) -> Any:
    """The secretariat's console, its opinions list drawn."""
    page = await open_as(browser, city.url, "mishu", width=1600)
    await page.wait_for_selector("#opinion-list li[data-opinion]")
    await page.wait_for_timeout(500)
    return page


async def test_opinions_card_stays_small_at_city_size(browser: Any, city: Demo) -> None:
    """With 1,000 opinions the opinions card holds at most 1,000 elements: a page of rows,
    no row carrying a list of every other opinion."""
    page = await console(browser, city)
    count = await page.evaluate(
        "document.getElementById('opinions').getElementsByTagName('*').length"
    )
    rows = await page.locator("#opinion-list li[data-opinion]").count()
    assert rows > 0 and count <= MAX_OPINION_ELEMENTS, (count, rows)
    assert page.js_errors == []
    await page.context.close()


async def test_one_new_opinion_changes_one_row(browser: Any, city: Demo) -> None:
    """A deputy's new opinion reaches the console as one new row on top: the nodes added,
    removed or changed in the opinions card stay within a small bound."""
    page = await console(browser, city)
    await count_mutations(page, "opinions")
    deputy = await api(city, "d007")
    try:
        r = await deputy.post(
            "/api/opinions",
            json={"meeting_id": city.ids["meeting_id"], "text": "建议在城东新区增设公交站点。"},
        )
        r.raise_for_status()
        new = r.json()["id"]
    finally:
        await deputy.aclose()
    first = page.locator("#opinion-list li[data-opinion]").first
    await page.wait_for_selector(f'#opinion-list li[data-opinion="{new}"]')
    assert await first.get_attribute("data-opinion") == str(new)
    await page.wait_for_timeout(1500)  # any re-read or redraw the message prompts
    changed = await page.evaluate("window.changed")
    assert 0 < changed <= MAX_CHANGED_NODES, changed
    assert page.js_errors == []
    await page.context.close()


async def test_a_burst_of_opinions_keeps_one_page_newest_first(browser: Any, city: Demo) -> None:
    """Sixty opinions posted at once by six deputies while the console is open: it shows
    the newest fifty, newest first, none missing or out of place (the rows a burst reads
    again can come back after a newer one), and the list stays one page long; "more"
    brings the next page, which goes on where the first one ends."""
    page = await console(browser, city)
    deputies = [await api(city, f"d{i:03d}") for i in range(21, 27)]

    async def post(i: int) -> int:
        r = await deputies[i % len(deputies)].post(
            "/api/opinions",
            json={"meeting_id": city.ids["meeting_id"], "text": f"第{i + 1}条：建议增设公交站点。"},
        )
        r.raise_for_status()
        return int(r.json()["id"])

    try:
        posted = sorted(await asyncio.gather(*(post(i) for i in range(60))), reverse=True)
    finally:
        for d in deputies:
            await d.aclose()
    shown = "#opinion-list li[data-opinion]"
    await page.wait_for_selector(f'{shown}[data-opinion="{posted[0]}"]')
    await page.wait_for_timeout(1500)  # the last rows read again, the total counted
    ids = [int(x) for x in await page.locator(shown).evaluate_all(
        "rows => rows.map(r => r.dataset.opinion)")]  # fmt: skip
    assert ids == posted[:50], ids
    await page.click("#op-more")
    await page.wait_for_function("sel => document.querySelectorAll(sel).length === 100", arg=shown)
    ids = [int(x) for x in await page.locator(shown).evaluate_all(
        "rows => rows.map(r => r.dataset.opinion)")]  # fmt: skip
    assert ids[:60] == posted and ids == sorted(ids, reverse=True), ids
    assert page.js_errors == []
    await page.context.close()


async def test_fresh_login_shows_the_newest_opinion_without_replaying(
    browser: Any, city: Demo
) -> None:
    """A fresh browser shows the 1,000th (newest) opinion first, with the total, and
    follows the desk from its head: no message of the desk's history comes over the
    socket, neither at the first login nor at the next one after logging out."""
    ids = city.ids
    desk = f"desk:{ids['meeting_id']}"
    newest = ids["opinion_ids"][-1]
    sec = await api(city, "mishu")
    try:
        head = (await sec.get(f"/api/channels/{desk}/messages", params={"limit": 1})).json()
        open_total = (
            await sec.get(
                "/api/opinions",
                params={"meeting_id": ids["meeting_id"], "status": "submitted,noted"},
            )
        ).json()["total"]
    finally:
        await sec.aclose()
    assert head["head"] > 2000
    page = await console(browser, city)
    for attempt in range(2):
        first = page.locator("#opinion-list li[data-opinion]").first
        assert await first.get_attribute("data-opinion") == str(newest)
        assert await first.is_visible()
        assert str(open_total) in await page.inner_text("#op-count")
        await page.wait_for_function("([d, h]) => window.hubClient.lastSeq(d) >= h",
                                     arg=[desk, head["head"]])  # fmt: skip
        assert wire_messages(page, desk) == [], attempt
        if attempt == 0:
            await page.click("#logout")
            await page.wait_for_selector("#username")
            await page.fill("#username", "mishu")
            await page.fill("#password", demo.PASSWORD)
            await page.click("#submit")
            await page.wait_for_selector("#opinion-list li[data-opinion]")
            await page.wait_for_timeout(500)
    assert page.js_errors == []
    await page.context.close()


async def test_find_a_deputys_opinions_by_name(browser: Any, city: Demo) -> None:
    """Typing a deputy's name in the search box, or picking the deputy in the picker from
    a few characters, shows that deputy's opinions and only theirs, with their total."""
    names: list[str] = city.ids["deputy_names"]
    sec = await api(city, "mishu")
    try:
        # A deputy with several open opinions whose name is in no other deputy's name.
        for dep_id, name in zip(city.ids["deputy_ids"], names, strict=True):
            if any(name in other for other in names if other != name):
                continue
            r = await sec.get(
                "/api/opinions",
                params={"deputy_id": dep_id, "status": "submitted,noted", "limit": 1},
            )
            if r.json()["total"] >= 3:
                expected = r.json()["total"]
                break
        else:
            raise AssertionError("no deputy with three open opinions in the city seed")
    finally:
        await sec.aclose()
    page = await console(browser, city)
    shown = "#opinion-list li[data-opinion]"

    async def only(name: str, total: int) -> None:
        await page.wait_for_function(
            """([sel, name, total]) => {
                const rows = [...document.querySelectorAll(sel)];
                return rows.length === total &&
                    rows.every(r => r.querySelector('strong').textContent === name);
            }""",
            arg=[shown, name, total],
        )
        assert str(total) in await page.inner_text("#op-count")

    await page.fill("#op-q", name)
    await only(name, expected)
    await page.fill("#op-q", "")
    await page.wait_for_function("sel => document.querySelectorAll(sel).length > 40", arg=shown)
    await page.fill("#op-deputy", name)
    option = page.locator('#opinions [role="option"]', has_text=name).first
    await option.click()
    await only(name, expected)
    assert page.js_errors == []
    await page.context.close()


async def test_merge_target_chosen_with_the_picker(browser: Any, city: Demo) -> None:
    """Merging an opinion: its target is found by number in the picker (no list of every
    opinion on the card), and the row shows it merged."""
    page = await console(browser, city)
    rows = page.locator("#opinion-list li[data-opinion][data-status='submitted']")
    source = await rows.nth(0).get_attribute("data-opinion")
    target = await rows.nth(1).get_attribute("data-opinion")
    row = page.locator(f'#opinion-list li[data-opinion="{source}"]')
    await row.locator("button.op-merge").click()
    await row.locator(".op-into input").fill(f"#{target}")
    await row.locator(f'[role="option"][data-id="{target}"]').click()
    await page.wait_for_selector(f'#opinion-list li[data-opinion="{source}"][data-status="merged"]')
    assert f"#{target}" in await row.inner_text()
    assert page.js_errors == []
    await page.context.close()


async def test_notice_to_deputies_chosen_with_the_picker(browser: Any, city: Demo) -> None:
    """A notice to chosen deputies: each is found by name with the picker (the form holds
    no checkbox per deputy of the meeting), and the notice reaches exactly those two."""
    names: list[str] = city.ids["deputy_names"]
    page = await console(browser, city)
    compose = await page.evaluate(
        "document.getElementById('compose').getElementsByTagName('*').length"
    )
    assert compose <= 100, compose
    await page.check("#n-aud-deputies")
    for name in names[10:12]:
        await page.fill("#n-dep-pick", name)
        await page.locator('#compose [role="option"]', has_text=name).first.click()
        await page.wait_for_selector(f'#n-deputies-chosen li:has-text("{name}")')
    await page.fill("#n-title", "请两位代表留步")
    await page.click("#n-send")
    assert "2" in await page.inner_text("#n-confirm-text")
    await page.click("#n-confirm-yes")
    sent = page.locator("#notice-list li.notice-sent").first
    await sent.locator("text=请两位代表留步").wait_for()
    sec = await api(city, "mishu")
    try:
        r = await sec.get(f"/api/meetings/{city.ids['meeting_id']}/notices")
        newest = max(r.json()["notices"], key=lambda n: n["id"])
    finally:
        await sec.aclose()
    assert newest["title"] == "请两位代表留步" and newest["addressees"] == 2
    assert page.js_errors == []
    await page.context.close()
