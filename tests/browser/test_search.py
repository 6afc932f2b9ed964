"""Data query on the pages: a deputy on a phone (360 px) searches their own by words and
state, in zh-CN and in English; a unit's account searches its unit's items."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, wait_until
from tests.browser.test_errors_zh import foreign

ITEM = "增开定海至普陀夜间公交班次"  # the demo's item of 王建国, signed by 市交通运输局


async def _results(page: Any) -> list[str]:
    return [x.strip() for x in await page.locator("#search-results li").all_inner_texts()]


async def test_deputy_and_unit_search(browser: Any, demo_hub: Demo) -> None:
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    await dep.click("#tab-items")
    await dep.fill("#search-q", "公交")
    await dep.click("#search-go")
    await dep.locator("#search-results li.search-result").first.wait_for()
    texts = await _results(dep)
    mine = next(x for x in texts if ITEM in x)
    assert "马上办事项" in mine and "办理中" in mine
    total = await dep.locator("#search-total").inner_text()
    assert total == f"共 {len(texts)} 条"
    # by state: only what is in progress
    await dep.select_option("#search-state", "in_progress")
    await dep.click("#search-go")
    await wait_until(
        dep,
        """() => [...document.querySelectorAll('#search-results li')]
             .every(li => li.dataset.type === 'item' || li.dataset.type === 'suggestion')""",
    )
    assert all("办理中" in x for x in await _results(dep))
    card = await dep.locator("#search").inner_text()
    assert foreign(card, "zh-CN") == [], card
    assert await dep.evaluate("document.documentElement.scrollWidth") <= 360
    # nothing found says so
    await dep.fill("#search-q", "没有这样的词")
    await dep.click("#search-go")
    await dep.locator("#search-results li.empty").wait_for()
    assert await dep.locator("#search-results li.empty").inner_text() == "没有符合条件的结果。"

    await dep.evaluate("localStorage.setItem('hub:lang', 'en')")
    await dep.reload()
    await wait_until(dep, "window.hubClient && window.hubClient.state === 'online'")
    await dep.click("#tab-items")
    await dep.fill("#search-q", "公交")
    await dep.select_option("#search-type", "item")
    await dep.click("#search-go")
    await dep.locator("#search-results li.search-result").first.wait_for()
    first = (await _results(dep))[0]
    assert "Commit-to-do item" in first and "In progress" in first
    chrome = await dep.locator("#search").evaluate(
        """e => [...e.querySelectorAll('h2, button, option:checked, #search-total, .chip')]
             .map(x => x.innerText || x.textContent).join(' ')"""
    )
    assert foreign(chrome, "en") == [], chrome

    unit = await open_as(browser, demo_hub.url, "jiaotong")
    await unit.fill("#search-q", "停车")
    await unit.click("#search-go")
    await unit.locator("#search-results li.search-result").first.wait_for()
    assert all("停车" in x for x in await _results(unit))
    assert await unit.locator("#search-type option").all_inner_texts() == [
        "全部类别",
        "建议",
        "马上办事项",
    ]
    for p in (dep, unit):
        assert p.js_errors == []
        await p.context.close()
