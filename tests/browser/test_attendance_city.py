"""The secretariat's attendance board at a city's size (``hub demo --size city``: 400
deputies in 25 delegations): by default only the deputies not checked in, grouped by
delegation with a count each, within a bound of elements; a check-in moves one name and
the counts, nothing else; "未签到" while the sitting is open, "缺席" only once it ended.

The city is seeded once per run and copied for each test (``city`` in ``conftest.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser.conftest import Demo, api, count_mutations, open_as, shot

MAX_BOARD_ELEMENTS = 800
MAX_CHANGED_NODES = 20
BOARD_SIZE = "() => document.getElementById('att-board').getElementsByTagName('*').length"


async def board_of(city: Demo, sitting: int) -> dict[str, Any]:
    sec = await api(city, "mishu")
    try:
        r = await sec.get(f"/api/sittings/{sitting}/attendance")
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out
    finally:
        await sec.aclose()


async def new_plenary(city: Demo, starts: datetime, ends: datetime | None) -> int:
    """A plenary sitting of the city's meeting, added as the secretariat does."""
    sec = await api(city, "mishu")
    try:
        body: dict[str, Any] = {
            "kind": "plenary",
            "title": "第二次全体会议",
            "starts_at": starts.isoformat(),
        }
        if ends is not None:
            body["ends_at"] = ends.isoformat()
        r = await sec.post(f"/api/meetings/{city.ids['meeting_id']}/sittings", json=body)
        r.raise_for_status()
        return int(r.json()["id"])
    finally:
        await sec.aclose()


async def console(browser: Any, city: Demo, sitting: int) -> Any:
    """The secretariat's console with the board of ``sitting`` drawn."""
    page = await open_as(browser, city.url, "mishu", width=1600)
    await page.wait_for_selector("#att-sitting option", state="attached")
    if await page.input_value("#att-sitting") != str(sitting):
        await page.select_option("#att-sitting", str(sitting))
    await page.wait_for_function(
        "s => document.getElementById('att-sitting').value === s && "
        "!!document.getElementById('att-counts')",
        arg=str(sitting),
    )
    await page.wait_for_timeout(300)
    return page


async def shown_groups(page: Any) -> dict[str, tuple[int, list[int]]]:
    """Per delegation group on the board: its count as shown and the deputies listed."""
    groups: dict[str, tuple[int, list[int]]] = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#att-groups .att-group')]
            .map(g => [g.dataset.delegation, [Number(g.querySelector('.att-n').textContent),
                [...g.querySelectorAll('li[data-deputy]')].map(li => Number(li.dataset.deputy))]]))"""
    )
    return groups


async def test_default_view_lists_the_not_checked_in_grouped_by_delegation(
    browser: Any, city: Demo
) -> None:
    """The plenary's board lists exactly the deputies not checked in, under their
    delegation with the right count, none of the checked in, and stays within the bound."""
    plenary = city.ids["sitting_ids"][0]
    b = await board_of(city, plenary)
    missing = {d["id"]: d for d in b["deputies"] if d["status"] != "checked_in"}
    assert 0 < len(missing) < b["expected"] == 400
    page = await console(browser, city, plenary)
    groups = await shown_groups(page)
    listed = [i for _, ids in groups.values() for i in ids]
    assert sorted(listed) == sorted(missing), (len(listed), len(missing))
    for key, (n, ids) in groups.items():
        assert n == len(ids) > 0, key
        assert {str(missing[i]["delegation_id"]) for i in ids} == {key}
    assert len(groups) > 1
    counts = await page.inner_text("#att-counts")
    assert str(b["counts"]["checked_in"]) in counts and "400" in counts
    assert await page.evaluate(BOARD_SIZE) <= MAX_BOARD_ELEMENTS
    await page.check("#att-show-in")
    lines = page.locator("#att-in .att-in-line")
    await lines.first.wait_for()
    here = next(d for d in b["deputies"] if d["status"] == "checked_in")
    assert here["name"] in await page.inner_text("#att-in")
    assert page.js_errors == []
    await page.context.close()


async def test_board_stays_small_when_nobody_has_checked_in(browser: Any, city: Demo) -> None:
    """A sitting with none of the 400 checked in yet: every name is listed, grouped into
    the 25 delegations, in at most 800 elements (not one table row per deputy)."""
    sitting = await new_plenary(city, datetime.now(UTC) - timedelta(minutes=5), None)
    page = await console(browser, city, sitting)
    await page.wait_for_function(
        "() => document.querySelectorAll('#att-groups li[data-deputy]').length === 400"
    )
    groups = await shown_groups(page)
    assert len(groups) == 25 and sum(n for n, _ in groups.values()) == 400
    count = await page.evaluate(BOARD_SIZE)
    assert count <= MAX_BOARD_ELEMENTS, count
    assert page.js_errors == []
    await page.context.close()


async def test_open_sitting_says_not_checked_in_yet_and_so_far(browser: Any, city: Demo) -> None:
    """While a sitting is open its deputies without check-in are "未签到" and the rate is
    "截至目前"; the board says "缺席" nowhere. Once a sitting has ended it says "缺席"."""
    plenary = city.ids["sitting_ids"][0]
    page = await console(browser, city, plenary)
    text = await page.inner_text("#att-board")
    assert "未签到" in text and "截至目前" in text, text[:300]
    assert "缺席" not in text
    await page.context.close()

    start = datetime.now(UTC) - timedelta(hours=3)
    ended = await new_plenary(city, start, start + timedelta(hours=1))
    page = await console(browser, city, ended)
    text = await page.inner_text("#att-board")
    assert "缺席" in text and "未签到" not in text and "截至目前" not in text, text[:300]
    assert page.js_errors == []
    await page.context.close()


async def test_one_check_in_moves_one_name(browser: Any, city: Demo) -> None:
    """A deputy checking in through the API takes their one name off the board and
    updates the counts: the nodes added, removed or changed on the board stay few."""
    plenary = city.ids["sitting_ids"][0]
    b = await board_of(city, plenary)
    who = next(d for d in b["deputies"] if d["status"] == "absent")
    username = f"d{city.ids['deputy_ids'].index(who['id']) + 1:03d}"
    page = await console(browser, city, plenary)
    await page.wait_for_selector(f'#att-groups li[data-deputy="{who["id"]}"]')
    await count_mutations(page, "att-board")
    deputy = await api(city, username)
    try:
        r = await deputy.post(f"/api/sittings/{plenary}/checkin")
        assert r.status_code == 201, r.text
    finally:
        await deputy.aclose()
    await page.wait_for_function(
        'id => !document.querySelector(`#att-groups li[data-deputy="${id}"]`)', arg=who["id"]
    )
    n_in = str(b["counts"]["checked_in"] + 1)
    await page.wait_for_function(
        "n => document.querySelector('#att-counts [data-count=\"checked_in\"] b')"
        ".textContent === n",
        arg=n_in,
    )
    await page.wait_for_timeout(1500)  # any re-read or redraw the message prompts
    changed = await page.evaluate("window.changed")
    assert 0 < changed <= MAX_CHANGED_NODES, changed
    absent = await page.inner_text('#att-counts [data-count="absent"] b')
    assert absent == str(b["counts"]["absent"] - 1)
    assert page.js_errors == []
    await page.context.close()


async def shown_statuses(page: Any) -> list[tuple[str, list[str]]]:
    """Per delegation group on the board, in order: its key and its entries' statuses."""
    groups: list[list[Any]] = await page.evaluate(
        """() => [...document.querySelectorAll('#att-groups .att-group')].map(g =>
            [g.dataset.delegation,
             [...g.querySelectorAll('li[data-deputy]')].map(li => li.dataset.status)])"""
    )
    return [(str(k), list(statuses)) for k, statuses in groups]


async def test_absent_first_and_an_absent_only_view(browser: Any, city: Demo) -> None:
    """The board puts the delegations with the most absent first and, in each, the absent
    before those asking for leave and those on leave; "只看未签到" lists the absent alone
    (the counts follow), and switched off the whole list is back."""
    plenary = city.ids["sitting_ids"][0]
    b = await board_of(city, plenary)
    absent = {}
    for d in b["deputies"]:
        absent[str(d["delegation_id"])] = absent.get(str(d["delegation_id"]), 0) + (
            d["status"] == "absent"
        )
    page = await console(browser, city, plenary)
    order = [k for k, _ in await shown_statuses(page)]
    assert [absent[k] for k in order] == sorted((absent[k] for k in order), reverse=True)
    await page.context.close()

    # A sitting nobody has checked in to yet; two deputies of the first delegation (d001
    # and d026) ask for leave, one is granted it.
    sitting = await new_plenary(city, datetime.now(UTC) - timedelta(minutes=5), None)
    leaves = []
    for username in ("d001", "d026"):
        deputy = await api(city, username)
        try:
            r = await deputy.post(f"/api/sittings/{sitting}/leave", json={"reason": "出差"})
            assert r.status_code == 201, r.text
            leaves.append(r.json()["id"])
        finally:
            await deputy.aclose()
    sec = await api(city, "mishu")
    try:
        r = await sec.post(f"/api/leave/{leaves[1]}/approve", json={})
        assert r.status_code == 200, r.text
    finally:
        await sec.aclose()
    first = str(city.ids["delegation_ids"][0])
    page = await console(browser, city, sitting)
    await page.wait_for_function(
        "() => document.querySelectorAll('#att-groups li[data-deputy]').length === 400"
    )
    groups = await shown_statuses(page)
    assert len(groups) == 25
    assert groups[-1] == (first, ["absent"] * 14 + ["leave_pending", "on_leave"])
    assert await page.inner_text("label:has(#att-only-absent)") == "只看未签到"
    assert await page.inner_text("#att-missing-title") == "未签到（含请假）"

    await page.check("#att-only-absent")
    await page.wait_for_function(
        "() => document.querySelectorAll('#att-groups li[data-deputy]').length === 398"
    )
    groups = await shown_statuses(page)
    assert {s for _, statuses in groups for s in statuses} == {"absent"}
    assert await page.inner_text("#att-missing-title") == "未签到"
    await page.locator("#attendance").scroll_into_view_if_needed()
    await shot(page, "secretariat-attendance-absent-only", full_page=False)
    counts = await shown_groups(page)
    n, ids = counts[first]
    assert n == len(ids) == 14
    await page.uncheck("#att-only-absent")
    await page.wait_for_function(
        "() => document.querySelectorAll('#att-groups li[data-deputy]').length === 400"
    )
    assert page.js_errors == []
    await page.context.close()


async def test_secretariat_closes_the_sitting_and_the_figures_are_final(
    browser: Any, city: Demo
) -> None:
    """The secretariat ends the city's plenary from the board, after confirming: the board
    turns final at once ("缺席", the rate without "截至目前", when it ended, no more button),
    a deputy who did not check in sees it ended and absent on their phone, and the
    supervisor's attendance rate, "截至目前" while it was open, turns final — all live,
    in zh-CN."""
    plenary = city.ids["sitting_ids"][0]
    b = await board_of(city, plenary)
    n_in, expected = b["counts"]["checked_in"], b["expected"]
    absent_then = b["counts"]["absent"] + b["counts"]["leave_pending"]
    who = next(d for d in b["deputies"] if d["status"] == "absent")
    username = f"d{city.ids['deputy_ids'].index(who['id']) + 1:03d}"

    sup = await open_as(browser, city.url, "jiandu", width=1600)
    await sup.wait_for_selector("#st-attendance .stat-note")
    assert "截至目前" in await sup.inner_text("#st-attendance .stat-note")
    dep = await open_as(browser, city.url, username, width=360, height=740)
    await dep.click("#tab-meeting")
    mine = f'#my-sittings li[data-sitting="{plenary}"]'
    await dep.wait_for_selector(f"{mine} button.checkin")

    page = await console(browser, city, plenary)
    text = await page.inner_text("#att-board")
    assert "未签到" in text and "截至目前" in text, text[:300]
    assert not await page.is_visible("#att-close-confirm")
    await page.click("#att-close")
    assert await page.is_visible("#att-close-confirm")
    assert "缺席" in await page.inner_text("#att-close-confirm")
    await page.click("#att-close-no")  # thought better of it: nothing happens
    assert not await page.is_visible("#att-close-confirm")
    assert (await board_of(city, plenary))["open"] is True
    await page.click("#att-close")
    await shot(page, "attendance-close-confirm", full_page=False)
    await page.click("#att-close-yes")
    await page.wait_for_selector("#att-ended")

    pct = await page.evaluate(
        "([n, e]) => String(Math.round((1000 * n) / e) / 10)", [n_in, expected]
    )
    text = await page.inner_text("#att-board")
    assert "缺席" in text and "未签到" not in text and "截至目前" not in text, text[:300]
    assert await page.inner_text("#att-rate") == f"出席率：{pct}%"
    assert "已结束" in await page.inner_text("#att-ended")
    assert await page.inner_text('#att-counts [data-count="absent"] b') == str(
        b["counts"]["absent"]
    )
    assert await page.locator("#att-close").count() == 0
    await shot(page, "attendance-closed", full_page=False)
    assert await page.locator("#att-groups li[data-deputy]").count() == expected - n_in
    final = await board_of(city, plenary)
    assert final["open"] is False and final["sitting"]["closed_at"]

    # the deputy's phone, live: ended, absent, nothing to press
    await dep.wait_for_selector(f'{mine}[data-ended="true"]')
    row = await dep.inner_text(mine)
    assert "已结束" in row and "缺席" in row, row
    assert await dep.locator(f"{mine} button").count() == 0
    await shot(dep, "deputy-sitting-ended", full_page=False)

    # the supervisor's statistics, live: the rate of the one ended sitting
    sec = await api(city, "jiandu")
    try:
        r = await sec.get(f"/api/statistics?meeting={city.ids['meeting_id']}")
        stats = r.json()["attendance"]
    finally:
        await sec.aclose()
    assert (stats["sittings"], stats["expected"], stats["checked_in"]) == (1, expected, n_in)
    assert stats["absent"] == absent_then
    shown = await sup.evaluate("r => `${(100 * r).toFixed(1)}%`", stats["rate"])
    await sup.wait_for_function(
        "() => document.querySelector('#st-attendance .stat-note')?.textContent"
        ".startsWith('1 场会议已结束，为最终结果')"
    )
    assert await sup.inner_text("#st-attendance b") == shown
    assert await sup.is_visible("#chart-attendance svg")
    for p in (page, dep, sup):
        assert p.js_errors == []
        await p.context.close()
