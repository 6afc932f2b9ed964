"""The unit inbox at a city's size (``hub demo --size city``): the items by the nearest
deadline, overdue on top, in Chinese; the hand-over alert sounds once per person, not
again on another login, and again for a new hand-over.

The city is seeded once per run and copied for each test (``city`` in ``conftest.py``); the
hub runs no deadline scan, so no alert message sounds besides the hand-overs'."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Demo, api, count_mutations, open_as, wait_until

MAX_CHANGED_NODES = 50  # one new card (a card is about 20 elements)


@pytest.fixture
def city_settings() -> dict[str, Any]:
    return {"deadline_interval": 0}


class Desk:
    """The secretariat hands deputy d001's new opinions over to a unit, which acts on them."""

    def __init__(self, city: Demo, sec: httpx.AsyncClient, dep: httpx.AsyncClient) -> None:
        self.city, self.sec, self.dep = city, sec, dep

    async def hand_over(self, unit_id: int, title: str, deadline: date | None = None) -> int:
        r = await self.dep.post(
            "/api/opinions", json={"meeting_id": self.city.ids["meeting_id"], "text": title}
        )
        r.raise_for_status()
        body: dict[str, Any] = {"opinion_ids": [r.json()["id"]], "title": title}
        body["lead_unit_id"] = unit_id
        if deadline is not None:
            body["deadline"] = deadline.isoformat()
        r = await self.sec.post("/api/items", json=body)
        r.raise_for_status()
        return int(r.json()["id"])


async def act(c: httpx.AsyncClient, item: int, action: str, body: dict[str, Any]) -> None:
    r = await c.post(f"/api/items/{item}/{action}", json=body)
    assert r.status_code == 200, r.text


async def rows(page: Any, board: str) -> list[int]:
    ids = await page.locator(f"#{board} li.item").evaluate_all(
        "els => els.map(e => e.dataset.item)"
    )
    return [int(i) for i in ids]


def by_deadline(x: dict[str, Any]) -> tuple[bool, datetime, int]:
    due = datetime.fromisoformat(x["due"].replace("Z", "+00:00")) if x["due"] else datetime.max
    return (x["due"] is None, due.replace(tzinfo=None), -x["id"])


async def test_inbox_lists_the_nearest_deadline_first_overdue_on_top(
    browser: Any, city: Demo
) -> None:
    """A unit with the city's two items waiting for its signature and five more: one long
    overdue for signing, one overdue for its reply, one due in ten days, one returned, one
    closed. Its to-do list runs overdue first (the most overdue on top), then by the
    nearest deadline; the other list holds those waiting on no deadline, newest first;
    every label is in Chinese."""
    s = city.hub.services
    unit_id = city.ids["unit_ids"][0]
    sec, dep, unit = [await api(city, u) for u in ("mishu", "d001", "dw01")]
    try:
        desk = Desk(city, sec, dep)
        past = datetime.now(UTC) - timedelta(days=20)
        s.clock.set(past)  # handed over three weeks ago
        late_sign = await desk.hand_over(unit_id, "马上办：渔港避风锚地扩建")
        late_reply = await desk.hand_over(
            unit_id, "马上办：海岛客运停航信息发布", deadline=(past + timedelta(days=10)).date()
        )
        await act(unit, late_reply, "sign", {})
        returned = await desk.hand_over(unit_id, "马上办：城区低洼处排涝")
        await act(unit, returned, "return", {"reason": "不属于本单位职责，建议交由属地办理。"})
        s.clock.release()
        later = await desk.hand_over(
            unit_id, "马上办：老旧小区加装电梯", deadline=date.today() + timedelta(days=10)
        )
        await act(unit, later, "sign", {})
        closed = await desk.hand_over(unit_id, "马上办：菜市场提升改造")
        await act(unit, closed, "sign", {})
        await act(unit, closed, "reply", {"grade": "A", "text": "已完成改造。"})
        await act(dep, closed, "evaluate", {"rating": "satisfied"})
        listed = (await unit.get("/api/items", params={"limit": 500})).json()["items"]
    finally:
        for c in (sec, dep, unit):
            await c.aclose()
    s.clock.release()

    # owed: an allowed action other than what one does when one wishes (items.js owedActions)
    def owed(x: dict[str, Any]) -> bool:
        return any(a["allowed"] and a["name"] not in ("ask", "message") for a in x["actions"])

    todo = sorted((x for x in listed if owed(x)), key=by_deadline)
    others = sorted((x for x in listed if not owed(x)), key=by_deadline)
    assert len(todo) == 5 and [x["id"] for x in todo[:2]] == [late_sign, late_reply]
    assert todo[-1]["id"] == later
    assert [x["id"] for x in others] == [closed, returned]

    page = await open_as(browser, city.url, "dw01")
    await wait_until(
        page, f"() => document.querySelectorAll('#todo li.item').length === {len(todo)}"
    )
    assert await rows(page, "todo") == [x["id"] for x in todo]
    assert await rows(page, "others") == [x["id"] for x in others]
    for item in (late_sign, late_reply):
        chips = await page.locator(f'#todo li.item[data-item="{item}"] .chips').inner_text()
        assert "已超期" in chips, chips
    first = page.locator("#todo li.item").first
    assert await first.is_visible()
    assert "渔港避风锚地扩建" in await first.inner_text()
    # The inbox's labels (the header's language switch says "English" on purpose).
    text = await page.locator("#main").inner_text()
    assert "承办单位收件箱" in text and "待办" in text and "其他事项" in text
    assert re.findall(r"[A-Za-z_.]{2,}", text) == [], text

    # A hand-over more overdue than any (made a month ago) arrives live: one row goes in
    # on top; the others are not rebuilt.
    await count_mutations(page, "todo")
    sec, dep = await api(city, "mishu"), await api(city, "d001")
    try:
        s.clock.set(datetime.now(UTC) - timedelta(days=30))
        oldest = await Desk(city, sec, dep).hand_over(unit_id, "马上办：夜间公交增开班次")
    finally:
        s.clock.release()
        await sec.aclose()
        await dep.aclose()
    await page.wait_for_selector(f'#todo li.item[data-item="{oldest}"]')
    await page.wait_for_timeout(1000)  # any re-read or redraw the message prompts
    assert await rows(page, "todo") == [oldest, *(x["id"] for x in todo)]
    changed = await page.evaluate("window.changed")
    assert 0 < changed <= MAX_CHANGED_NODES, changed
    assert page.js_errors == []
    await page.context.close()


async def banner(page: Any) -> tuple[bool, int]:
    """Is the hand-over alert shown, and how many times has it sounded."""
    shown = await page.locator("#handover-alert").is_visible()
    beeps = await page.evaluate("Number(document.body.dataset.beeps || 0)")
    return shown, beeps


async def test_handover_alert_sounds_once_per_person(browser: Any, city: Demo) -> None:
    """The city's unit with two items waiting for its signature: the first login alerts
    for both; acknowledged, the hub records them seen, and a fresh login (another browser,
    empty storage) does not alert again; a new hand-over alerts for it alone, and opening
    an item records it seen too."""
    index = 5  # the sixth unit: the city's items 5 and 55, both waiting to be signed
    unit_id = city.ids["unit_ids"][index]
    user = f"dw{index + 1:02d}"
    unit = await api(city, user)
    try:

        async def seen() -> dict[int, bool]:
            r = await unit.get("/api/items", params={"state": "assigned"})
            return {x["id"]: x["seen"] for x in r.json()["items"]}

        waiting = await seen()
        assert len(waiting) == 2 and not any(waiting.values())

        page = await open_as(browser, city.url, user)
        await page.wait_for_selector("#handover-alert:not([hidden])")
        assert "2 件" in await page.inner_text("#handover-text")
        assert (await banner(page))[1] == 1
        assert sorted(await rows(page, "todo")) == sorted(waiting)
        await page.click("#handover-dismiss")
        assert await page.locator("#handover-alert").is_hidden()
        for _ in range(100):
            if all((await seen()).values()):
                break
            await asyncio.sleep(0.05)
        assert all((await seen()).values())
        assert page.js_errors == []
        await page.context.close()

        # Another login, in a browser that holds nothing: the list, and no alert.
        page = await open_as(browser, city.url, user)
        await wait_until(page, "() => document.querySelectorAll('#todo li.item').length === 2")
        await page.wait_for_timeout(1500)  # the alert waits 300 ms for a burst to end
        assert await banner(page) == (False, 0)
        assert await page.locator("#todo li.item.fresh").count() == 0

        # A new hand-over alerts, for it alone.
        sec, dep = await api(city, "mishu"), await api(city, "d002")
        try:
            new = await Desk(city, sec, dep).hand_over(unit_id, "马上办：学校周边临时停车泊位")
        finally:
            await sec.aclose()
            await dep.aclose()
        await page.wait_for_selector("#handover-alert:not([hidden])")
        assert "1 件" in await page.inner_text("#handover-text")
        assert await banner(page) == (True, 1)
        assert (await seen())[new] is False
        # Opening it is seeing it.
        await page.locator(f'#todo li.item[data-item="{new}"] button.details').click()
        for _ in range(100):
            if (await seen())[new]:
                break
            await asyncio.sleep(0.05)
        assert (await seen())[new] is True
        assert page.js_errors == []
        await page.context.close()
    finally:
        await unit.aclose()
