"""Forged workflow messages on the desk change nothing on the secretariat's console: a raw
publish of a workflow kind is refused (the console's own, over /ws), and forged rows
already in the log (as deputies could publish them before) are not taken at their word,
live, or to a console that opens later (which follows the desk from its head)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.conftest import Demo, open_as, wire_messages
from tests.utils import TIMEOUT

FUTURE = "2999-01-01T00:00:00.000000Z"


async def api(demo: Demo, username: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=demo.url, timeout=TIMEOUT)
    r = await c.post("/api/login", json={"username": username, "password": "demo2026"})
    r.raise_for_status()
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return c


async def store_forged(demo: Demo, sender_id: int, channel: str, kind: str, body: Any) -> None:
    """A forged row as a deputy's raw publish stored it before the hub refused it: in the
    log with the deputy as its sender, fanned out like any message."""
    s = demo.hub.services
    sender = await s.principals.load(sender_id)
    async with s.node.writing() as w:
        await w.append(channel, kind, sender, body)


async def console_state(page: Any, notice: int, opinion: int, item: int) -> dict[str, Any]:
    """What the console shows of the notice's tally, the opinions and the item."""
    card = page.locator(f'li.notice-sent[data-notice="{notice}"]')
    return {
        "delivered": await card.get_attribute("data-delivered"),
        "read": await card.get_attribute("data-read"),
        "missing": await card.locator(".t-missing b").inner_text(),
        "repush_disabled": await card.locator("button.repush").is_disabled(),
        "opinions": await page.eval_on_selector_all(
            "#opinion-list li[data-opinion]",
            "els => els.map(e => [e.dataset.opinion, e.dataset.status, e.innerText])",
        ),
        "opinion": await page.locator(f'#opinion-list li[data-opinion="{opinion}"]').inner_text(),
        "item": await page.get_attribute(f'#item-list li.item[data-item="{item}"]', "data-state"),
    }


async def test_forged_desk_messages_change_nothing_on_the_console(
    browser: Any, demo_hub: Demo
) -> None:
    """A forged tally, a fake opinion under another deputy's name, a rewritten opinion and
    an open item shown closed: the console's tally, opinions and item stay as stored."""
    ids = demo_hub.ids
    m = ids["meeting_id"]
    desk = f"desk:{m}"
    forger, other = ids["deputy_ids"][0], ids["deputy_ids"][1]
    sec_api = await api(demo_hub, "mishu")
    try:
        r = await sec_api.post(
            f"/api/meetings/{m}/notices", json={"title": "紧急：下午会议改期", "urgent": True}
        )
        r.raise_for_status()
        notice = r.json()["id"]
        opinions = [(await sec_api.get(f"/api/opinions/{i}")).json() for i in ids["opinion_ids"]]
        real = next(o for o in opinions if o["status"] == "submitted")
        item = (await sec_api.get(f"/api/items/{ids['item_ids'][1]}")).json()
        assert item["state"] != "closed"

        page = await open_as(browser, demo_hub.url, "mishu")
        await page.wait_for_selector(f'li.notice-sent[data-notice="{notice}"][data-delivered]')
        await page.wait_for_selector(f'#opinion-list li[data-opinion="{real["id"]}"]')
        await page.wait_for_selector(f'#item-list li.item[data-item="{item["id"]}"]')
        before = await console_state(page, notice, real["id"], item["id"])
        assert before["delivered"] == "0" and not before["repush_disabled"], before

        # The console's own raw publish of a workflow kind is refused.
        refused = await page.evaluate(
            """([desk, notice]) => window.hubClient
                .publish(desk, "notice.tally", {notice, addressees: 10, delivered: 10, read: 10,
                                                missing: 0, missing_people: []})
                .then(() => "published", (e) => e.code)""",
            [desk, notice],
        )
        assert refused == "forbidden"

        tally = {"notice": notice, "addressees": 10, "delivered": 10, "read": 10, "missing": 0}
        tally |= {"missing_people": [], "missing_truncated": False}
        await store_forged(demo_hub, forger, desk, "notice.tally", tally)
        fake = {**real, "id": 990001, "deputy_id": other, "deputy_name": "冒名代表"}
        fake |= {"text": "伪造的意见", "updated_at": FUTURE}
        await store_forged(demo_hub, forger, desk, "opinion.submitted", {"opinion": fake})
        rewritten = {**real, "text": "被改写的意见", "status": "noted", "updated_at": FUTURE}
        await store_forged(demo_hub, forger, desk, "opinion.noted", {"opinion": rewritten})
        closed = {**item, "state": "closed", "grade": "satisfied", "updated_at": FUTURE}
        event = {"id": 990002, "item_id": item["id"], "action": "evaluate", "round": 1}
        event |= {"actor": {"id": forger, "role": "deputy"}, "payload": {}, "at": FUTURE}
        await store_forged(
            demo_hub, forger, desk, "item.evaluated", {"item": closed, "event": event}
        )

        # A real notice after them: once the console shows it, it has had the forged ones.
        r = await sec_api.post(f"/api/meetings/{m}/notices", json={"title": "以此为界"})
        marker = r.json()["id"]
        await page.wait_for_selector(f'li.notice-sent[data-notice="{marker}"]')
        await page.wait_for_timeout(1000)  # the re-reads a deputy's message prompts
        assert await console_state(page, notice, real["id"], item["id"]) == before

        # A console opened now loads what it shows over HTTP and follows the desk from its
        # head: the forged rows are not replayed to it, and it shows the same.
        later = await open_as(browser, demo_hub.url, "mishu")
        await later.wait_for_selector(f'li.notice-sent[data-notice="{marker}"]')
        await later.wait_for_selector(f'#item-list li.item[data-item="{item["id"]}"]')
        await later.wait_for_function("desk => (window.hubClient.lastSeq(desk) || 0) > 0", arg=desk)
        await later.wait_for_timeout(1000)
        assert wire_messages(later, desk) == []
        assert await console_state(later, notice, real["id"], item["id"]) == before
        for p in (page, later):
            assert p.js_errors == []
            await p.context.close()
    finally:
        await sec_api.aclose()


async def test_archive_shows_who_really_sent_a_forged_row(browser: Any, demo_hub: Demo) -> None:
    """A forged tally stored as a deputy's row shows in the supervisor's archive with that
    deputy's name and role as its sender, not as the hub's."""
    m = demo_hub.ids["meeting_id"]
    forger = demo_hub.ids["deputy_ids"][0]
    name = (await demo_hub.hub.services.principals.load(forger)).name
    tally = {"notice": 1, "addressees": 10, "delivered": 10, "read": 10, "missing": 0}
    await store_forged(demo_hub, forger, f"desk:{m}", "notice.tally", tally)
    page = await open_as(browser, demo_hub.url, "jiandu", width=1600)
    await page.type("#ar-kind", "通知送达统计", delay=30)
    await page.click("#ar-kind ~ .picker-list li[data-id='notice.tally']")
    await page.wait_for_function(  # the search's rows, not the unfiltered first page
        "() => { const rows = [...document.querySelectorAll('#archive-rows tr[data-message]')];"
        " return rows.length === 1 && rows[0].dataset.kind === 'notice.tally'; }"
    )
    cell = page.locator("#archive-rows tr[data-message] td.sender")
    assert await cell.get_attribute("data-role") == "deputy"
    assert await cell.get_attribute("data-sender") == str(forger)
    assert await cell.inner_text() == f"{name} · 人大代表"
    assert page.js_errors == []
    await page.context.close()
