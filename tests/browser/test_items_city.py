"""The secretariat's console at a city's size with more items than one request lists: the
whole console stays within its budget of elements, the item board shows a page of the
newest items with their total, a message about an item changes its one row (or puts a new
one on top) and never rebuilds a list, items are found by words and by unit, units are
chosen with the picker, and the board speaks Chinese.

The run's city (``hub demo --size city``) gets, once for this module, 400 more suggestions
(a congress receives hundreds in a session: 224 in Zhoushan's, 2,626 over two), so the
meeting has 580 items, more than the 500 one request may list; each test runs on a copy."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.broker.memory import MemoryBroker
from hub.clock import Clock
from hub.metrics import Metrics
from hub.node import Node
from hub.session.lifecycle import SuggestionInput
from hub.session.members import Member
from hub.session.schema import users
from hub.session.suggestions import submit_in
from hub.store.engine import make_engine
from hub.store.log import MessageLog
from tests.browser.conftest import Demo, api, count_mutations, open_as, wait_until

EXTRA_SUGGESTIONS = 400
MAX_CONSOLE_ELEMENTS = 5000
MAX_ITEM_ELEMENTS = 1000
MAX_FORM_ELEMENTS = 60
MAX_CHANGED_NODES = 60
MAX_OVERDUE_CHANGED = 40
PAGE = 20
ROWS = "#item-list li.item"
TOPICS = ("夜间公交班次", "渔港避风锚地", "老旧小区改造", "婴幼儿托育")


async def _more_suggestions(
    city: Path, ids: dict[str, Any], directory: Path
) -> tuple[Path, dict[str, Any]]:
    """A copy of the city in ``directory`` with :data:`EXTRA_SUGGESTIONS` more suggestions."""
    path = directory / "hub.sqlite3"
    shutil.copyfile(city, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(users.c.id, users.c.name, users.c.delegation_id).where(
                        users.c.id.in_(ids["deputy_ids"])
                    )
                )
            ).all()
        deputies = [
            Member(r.id, r.name, "deputy", delegation_id=r.delegation_id,
                      meetings=frozenset({ids["meeting_id"]}))
            for r in rows
        ]  # fmt: skip
        node = Node(MessageLog(engine), MemoryBroker(), Metrics(), 60.0)
        extra = []
        async with node.writing() as w:
            # One transaction of many steps: every channel they append to, locked first.
            await w.lock(f"desk:{ids['meeting_id']}", *(f"deputy:{d.id}" for d in deputies))
            for k in range(EXTRA_SUGGESTIONS):
                topic = TOPICS[k % len(TOPICS)]
                s = await submit_in(
                    w, Clock(), deputies[k % len(deputies)],
                    SuggestionInput(meeting_id=ids["meeting_id"],
                                    title=f"关于第{k + 1}片区{topic}的建议",
                                    text=f"第{k + 1}片区群众反映{topic}问题突出，建议尽快研究解决。"),
                )  # fmt: skip
                extra.append(s["id"])
    finally:
        await engine.dispose()
    return path, {**ids, "extra_suggestion_ids": extra}


@pytest.fixture(scope="module")
def city_seed(
    city_seed: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The run's city with more suggestions, built once for this module on a copy."""
    yield asyncio.run(_more_suggestions(*city_seed, tmp_path_factory.mktemp("city-items")))


async def items_api(city: Demo, **params: Any) -> dict[str, Any]:
    sec = await api(city, "mishu")
    try:
        r = await sec.get("/api/items", params={"meeting_id": city.ids["meeting_id"], **params})
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out
    finally:
        await sec.aclose()


async def console(browser: Any, city: Demo) -> Any:
    """The console with every part loaded: items, opinions, notices, overdue, attendance."""
    page = await open_as(browser, city.url, "mishu", width=1600)
    for sel in (
        ROWS,
        "#opinion-list li[data-opinion]",
        "#notice-list li.notice-sent",
        "#overdue-list li",
        "#att-counts",
        "#setup-agenda li",
    ):
        await page.wait_for_selector(sel, state="attached")
    await page.wait_for_timeout(1000)
    return page


async def row_ids(page: Any) -> list[int]:
    ids: list[int] = await page.eval_on_selector_all(
        ROWS, "els => els.map(e => Number(e.dataset.item))"
    )
    return ids


async def settled(page: Any) -> int:
    """``window.changed`` once the page has not changed for 1.5 s (the re-reads and the
    recount a message prompts wait up to 1 s)."""
    last, still = -1, 0
    for _ in range(60):
        await page.wait_for_timeout(250)
        now: int = await page.evaluate("window.changed")
        still = still + 1 if now == last else 0
        if still == 6:
            return now
        last = now
    raise AssertionError(f"the console kept changing: {last}")


async def test_whole_console_stays_within_budget(browser: Any, city: Demo) -> None:
    """With 580 items, 1,000 opinions, 30 notices and 400 deputies, the whole console holds
    at most 5,000 elements once everything is loaded, the item board at most 1,000: one
    page of rows with the total, and no row or form carrying a list of every unit."""
    total = (await items_api(city, limit=1))["total"]
    assert total > 500
    page = await console(browser, city)
    sizes = await page.evaluate(
        """() => Object.fromEntries([['page', document], ...[...document.querySelectorAll(
            'main section')].map(s => [s.id, s])].map(([k, e]) => [k,
            e.getElementsByTagName('*').length]))"""
    )
    assert sizes["page"] <= MAX_CONSOLE_ELEMENTS, sizes
    assert sizes["items"] <= MAX_ITEM_ELEMENTS, sizes
    assert len(await row_ids(page)) == PAGE
    assert await page.inner_text("#it-count") == f"共 {total} 项，已显示 {PAGE} 项"
    form = await page.evaluate(
        "document.getElementById('item-form').getElementsByTagName('*').length"
    )
    assert form <= MAX_FORM_ELEMENTS, form
    assert page.js_errors == []
    await page.context.close()


async def test_newest_item_first_after_a_fresh_login(browser: Any, city: Demo) -> None:
    """A fresh login shows the meeting's newest item first (not the oldest 500), and 显示更多
    goes on with the next older ones."""
    newest = city.ids["extra_suggestion_ids"][-1]
    page = await console(browser, city)
    first = page.locator(ROWS).first
    assert await first.get_attribute("data-item") == str(newest)
    assert await first.is_visible()
    await page.click("#it-more")
    await page.wait_for_function("sel => document.querySelectorAll(sel).length > 20", arg=ROWS)
    ids = await row_ids(page)
    assert ids == sorted(ids, reverse=True) and len(ids) == 2 * PAGE and ids[0] == newest, ids
    assert ids == list(range(newest, newest - 2 * PAGE, -1))
    assert page.js_errors == []
    await page.context.close()


async def test_an_item_message_changes_one_row(browser: Any, city: Demo) -> None:
    """A unit signs an item not shown, a deputy submits a new suggestion, a unit signs an
    item shown (nearest deadline first): each changes the counts and the one row it
    concerns, or adds one on top; the nodes changed in the whole console stay within a
    small bound, and no list is drawn again."""
    page = await console(browser, city)
    assigned = (await items_api(city, state="assigned", order="deadline", limit=500))["items"]
    shown = await row_ids(page)
    await count_mutations(page, "main")

    async def sign(item: dict[str, Any]) -> None:
        unit = f"dw{city.ids['unit_ids'].index(item['lead_unit']['id']) + 1:02d}"
        c = await api(city, unit)
        try:
            (await c.post(f"/api/items/{item['id']}/sign")).raise_for_status()
        finally:
            await c.aclose()

    async def changed() -> int:
        await wait_until(page, "() => window.changed > 0")
        n = await settled(page)
        await page.evaluate("window.changed = 0")
        return n

    # newest first, an item not shown: only the counts change
    await sign(assigned[-1])
    assert 0 < await changed() <= MAX_CHANGED_NODES
    assert await row_ids(page) == shown

    # a new suggestion: one row on top
    dep = await api(city, "d011")
    try:
        r = await dep.post(
            "/api/suggestions",
            json={"meeting_id": city.ids["meeting_id"], "title": "关于城东新区增设公交站点的建议",
                  "text": "城东新区公交站点少，建议增设。"},
        )  # fmt: skip
        r.raise_for_status()
        new = r.json()["id"]
    finally:
        await dep.aclose()
    assert 0 < await changed() <= MAX_CHANGED_NODES
    assert await row_ids(page) == [new, *shown]
    total = (await items_api(city, limit=1))["total"]
    assert await page.inner_text("#it-count") == f"共 {total} 项，已显示 {PAGE + 1} 项"

    # nearest deadline first, a row waiting to be signed: it shows in_progress in place
    await page.select_option("#it-order", "deadline")
    await page.wait_for_function(
        "sel => document.querySelector(sel)?.dataset.state === 'assigned'", arg=ROWS
    )
    await settled(page)
    shown = await row_ids(page)
    await page.evaluate("window.changed = 0")
    target = next(i for i in assigned if i["id"] in shown and i["id"] != assigned[-1]["id"])
    await sign(target)
    assert 0 < await changed() <= MAX_CHANGED_NODES
    assert await row_ids(page) == shown
    row = page.locator(f'{ROWS}[data-item="{target["id"]}"]')
    assert await row.get_attribute("data-state") == "in_progress"
    assert page.js_errors == []
    await page.context.close()


async def test_find_items_by_words_and_by_unit(browser: Any, city: Demo) -> None:
    """Words typed in the search box find the items with them in the title or text; a unit
    picked with the picker from a few characters shows that unit's items, with the total."""
    page = await console(browser, city)

    async def only(expected: dict[str, Any], check: str) -> None:
        ids = [i["id"] for i in expected["items"]]
        await page.wait_for_function(
            """([sel, ids]) => {
                const rows = [...document.querySelectorAll(sel)].map(r => Number(r.dataset.item));
                return rows.length === ids.length && rows.every((r, i) => r === ids[i]);
            }""",
            arg=[ROWS, ids],
        )
        n = expected["total"]
        assert await page.inner_text("#it-count") == f"共 {n} 项，已显示 {min(n, PAGE)} 项"
        for text in await page.locator(ROWS).all_inner_texts():
            assert check in text, text

    words = "马上办 渔港避风锚地"
    expected = await items_api(city, q=words, order="newest", limit=PAGE)
    assert 0 < expected["total"] < PAGE
    await page.fill("#it-q", words)
    await only(expected, "马上办")
    await page.fill("#it-q", "")
    await page.wait_for_function("sel => document.querySelectorAll(sel).length === 20", arg=ROWS)

    unit_id = city.ids["unit_ids"][3]
    unit = await api(city, "mishu")
    try:
        name = next(
            u["name"] for u in (await unit.get("/api/units")).json()["units"] if u["id"] == unit_id
        )
    finally:
        await unit.aclose()
    expected = await items_api(city, unit_id=unit_id, order="newest", limit=PAGE)
    assert expected["total"] > 0
    await page.fill("#it-unit", name[1:4])
    await page.locator('#items [role="option"]', has_text=name).first.click()
    await only(expected, name)
    assert name in await page.inner_text("#it-unit-chosen")
    await page.click("#it-unit-clear")
    await page.wait_for_function("sel => document.querySelectorAll(sel).length === 20", arg=ROWS)
    assert page.js_errors == []
    await page.context.close()


async def test_returned_item_reassigned_with_the_unit_picker(browser: Any, city: Demo) -> None:
    """Reassigning a returned item (filtered by state): the form opened on its row chooses
    the lead unit with the picker, holds no entry per unit, and the row shows the item
    handed over to the unit chosen."""
    page = await console(browser, city)
    await page.select_option("#it-state", "returned")
    await page.wait_for_function(
        """sel => { const r = [...document.querySelectorAll(sel)];
                    return r.length > 0 && r.every(x => x.dataset.state === 'returned'); }""",
        arg=ROWS,
    )
    row = page.locator(ROWS).first
    item = await row.get_attribute("data-item")
    await row.locator("button.act-reassign").click()
    form = row.locator("form.form-reassign")
    size = await form.evaluate("f => f.getElementsByTagName('*').length")
    assert size <= MAX_FORM_ELEMENTS, size
    await form.locator("input[role=combobox]").first.fill("交通")
    await form.locator('[role="option"]', has_text="市交通运输局").click()
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector(f'{ROWS}[data-item="{item}"][data-state="assigned"]')
    assert (
        "主办单位：市交通运输局" in await page.locator(f'{ROWS}[data-item="{item}"]').inner_text()
    )
    assert page.js_errors == []
    await page.context.close()


async def test_overdue_board_shows_a_page_and_changes_one_row(browser: Any, city: Demo) -> None:
    """Ten days on, every deadline of the city's items has passed: the overdue board shows
    the 20 most overdue with their total, and a unit signing one of them changes that row
    (it moves on to the reply deadline), not the board."""
    city.hub.services.clock.advance(timedelta(days=10))
    r = await items_api(city, limit=500)
    overdue = sorted((i for i in r["items"] if i["overdue"]), key=lambda i: (i["due"], i["id"]))
    assert len(overdue) > PAGE
    page = await console(browser, city)
    rows = "#overdue-list li[data-item]"
    await page.wait_for_function("sel => document.querySelectorAll(sel).length === 20", arg=rows)
    shown = await page.eval_on_selector_all(rows, "els => els.map(e => Number(e.dataset.item))")
    assert shown == [i["id"] for i in overdue[:PAGE]]
    assert await page.inner_text("#overdue-count") == f"共 {len(overdue)} 项，已显示 {PAGE} 项"
    await count_mutations(page, "overdue")
    first = overdue[0]
    assert first["state"] == "assigned"
    unit = f"dw{city.ids['unit_ids'].index(first['lead_unit']['id']) + 1:02d}"
    c = await api(city, unit)
    try:
        (await c.post(f"/api/items/{first['id']}/sign")).raise_for_status()
    finally:
        await c.aclose()
    await wait_until(page, "() => window.changed > 0")
    changed = await settled(page)
    assert changed <= MAX_OVERDUE_CHANGED, changed
    after = await page.eval_on_selector_all(rows, "els => els.map(e => Number(e.dataset.item))")
    assert len(after) == PAGE and first["id"] not in after[:11], after  # behind the 11 to sign
    assert page.js_errors == []
    await page.context.close()


async def test_item_board_speaks_chinese(browser: Any, city: Demo) -> None:
    """In zh-CN the board's filters, counts, rows, forms and the overdue board carry no
    English words, raw codes or ids in place of names."""
    page = await console(browser, city)
    labels = await page.evaluate(
        """() => ['it-q', 'it-unit', 'it-kind', 'it-state', 'it-order'].map(id => {
            const e = document.getElementById(id);
            return [e.getAttribute('aria-label'), e.getAttribute('placeholder')];
        })"""
    )
    assert labels == [
        ["搜索事项", "事项标题或内容"],
        ["按承办单位筛选", "输入单位名称或拼音首字母"],
        ["事项类型", None],
        ["状态", None],
        ["排序", None],
    ]
    options = await page.eval_on_selector_all(
        "#it-state option, #it-order option, #it-kind option", "os => os.map(o => o.textContent)"
    )
    assert "待秘书处处理（" in " ".join(options) and "期限最近在前" in options, options
    await page.select_option("#it-state", "returned")
    await page.wait_for_selector(f'{ROWS}[data-state="returned"] button.act-reassign')
    await page.locator(ROWS).first.locator("button.act-reassign").click()
    text = await page.evaluate(
        """() => ['items', 'overdue'].map(id => {
            const e = document.getElementById(id);
            const attrs = [...e.querySelectorAll('[aria-label], [placeholder]')]
                .map(x => `${x.getAttribute('aria-label') || ''} ${x.getAttribute('placeholder') || ''}`);
            return [e.innerText, ...attrs].join('\\n');
        }).join('\\n')"""
    )
    latin = re.findall(r"[A-Za-z_]{2,}|\[object|undefined|null", text)
    assert latin == [], latin
    assert "主办单位" in text and "协办单位" in text
    assert page.js_errors == []
    await page.context.close()
