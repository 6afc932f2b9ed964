"""The shared chooser (static/js/picker.js ``chooser``) at a city's size (``hub demo --size
city``: 400 deputies, 50 units): a deputy on a 360 px phone finds co-signers among 399
others by typing part of a name or its pinyin initials, the suggestion is stored with
them, and the co-signer part of the form holds a few elements, never one per deputy.

The city is seeded once per run and copied for each test (``city`` in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, api, open_as

MAX_CHOOSER_ELEMENTS = 60  # the text box, a list of at most 8 matches, a few chips
CHOOSER = "#suggest-form .chooser:has(#sg-cosigner)"
COUNT = "sel => document.querySelector(sel).getElementsByTagName('*').length"


async def pick(page: Any, typed: str, deputy: int) -> str:
    """Type ``typed`` into the co-signer picker and click the match that is ``deputy``;
    what the match showed."""
    await page.fill("#sg-cosigner", typed)
    option = page.locator(f"{CHOOSER} [role=option][data-id='{deputy}']")
    await option.wait_for()
    shown = await option.inner_text()
    size = await page.evaluate(COUNT, CHOOSER)
    assert size <= MAX_CHOOSER_ELEMENTS, size
    await option.click()
    await page.locator(f"{CHOOSER} ul.chosen li[data-id='{deputy}']").wait_for()
    return str(shown)


async def test_deputy_finds_co_signers_by_name_and_pinyin_on_a_phone(
    browser: Any, city: Demo
) -> None:
    """On a 360 px phone, d001 types two characters of a deputy's name and picks them (the
    match shows the delegation), then types another's pinyin initials and picks them; both
    show as chips, one is removed and added again; the suggestion is stored with exactly
    those two co-signers; the co-signer part never holds more than a few dozen elements."""
    me = await api(city, "d001")
    try:
        r = await me.get(f"/api/meetings/{city.ids['meeting_id']}/deputies")
        r.raise_for_status()
        others = [d for d in r.json()["deputies"] if d["id"] != city.ids["deputy_ids"][0]]
    finally:
        await me.aclose()
    assert len(others) == 399
    page = await open_as(browser, city.url, "d001", width=360, height=740)
    await page.click("#tab-items")
    await page.locator("#sg-cosigner").wait_for()
    assert await page.locator("#suggest-form input[type=checkbox]").count() == 0

    # By part of a name: the given name of someone whose given name no one else has.
    texts = [f"{d['name']} {d['delegation_name']}" for d in others]
    by_name = next(
        d for d in others if len(d["name"]) == 3 and sum(d["name"][1:] in x for x in texts) == 1
    )
    shown = await pick(page, by_name["name"][1:], by_name["id"])
    assert by_name["name"] in shown and by_name["delegation_name"] in shown, shown

    # By pinyin initials (js/pinyin.js, as the page computes them): a name whose three
    # initials no other deputy's text contains.
    keys = await page.evaluate(
        "async xs => { const p = await import('/static/js/pinyin.js');"
        " return xs.map((x) => p.initials(x)); }",
        [*(d["name"] for d in others), *texts],
    )
    names, whole = keys[: len(others)], keys[len(others) :]
    by_initials = next(
        d
        for d, k in zip(others, names, strict=True)
        if len(k) == 3 and d is not by_name and sum(k in w for w in whole) == 1
    )
    initials = names[others.index(by_initials)]
    assert initials.isascii() and initials.isalpha(), initials
    shown = await pick(page, initials, by_initials["id"])
    assert by_initials["name"] in shown, shown

    chips = page.locator(f"{CHOOSER} ul.chosen li")
    assert await chips.count() == 2
    await page.click(f"{CHOOSER} ul.chosen li[data-id='{by_name['id']}'] button")
    assert await chips.count() == 1
    await pick(page, by_name["name"][1:], by_name["id"])  # chosen again

    title = "关于城东新区公交站点的建议"
    await page.fill("#sg-title", title)
    await page.fill("#sg-text", "城东新区居民出行不便，建议增设公交站点。")
    await page.click("#sg-send")
    await page.locator("#flash .flash-line").first.wait_for()
    assert await chips.count() == 0  # the form is empty for the next suggestion
    me = await api(city, "d001")
    try:
        r = await me.get("/api/suggestions", params={"q": title})
        r.raise_for_status()
        mine = [s for s in r.json()["items"] if s["title"] == title]
    finally:
        await me.aclose()
    assert len(mine) == 1, mine
    cosigners = {d["id"] for d in mine[0]["deputies"] if d["role"] == "cosigner"}
    assert cosigners == {by_name["id"], by_initials["id"]}
    assert mine[0]["state"] == "cosigning"
    assert page.js_errors == []
    await page.context.close()
