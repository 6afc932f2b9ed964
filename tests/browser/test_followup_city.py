"""A notice's follow-up at a city's size (``hub demo --size city``: 400 deputies in 25
delegations, 30 notices with receipts): who has not got it and who has not read it,
grouped by delegation with counts that agree with the tally; a call list with the
roster's phone numbers for the secretariat alone; notice cards that hold counts, not
names; and the oldest notice's follow-up as complete as the newest's.

The city is seeded once per run and copied for each test (``city`` in ``conftest.py``)."""

from __future__ import annotations

import re
from typing import Any

import orjson
import sqlalchemy as sa

from hub.session.schema import users
from hub.store.engine import make_engine
from hub.store.schema import messages
from tests.browser.conftest import Demo, api, open_as, shot
from tests.utils.client import Client

MAX_CARD_ELEMENTS = 30  # one notice card: title, counts, bar, buttons; never a name each
LATIN = re.compile(r"[A-Za-z]")


async def as_user(city: Demo, username: str, path: str) -> tuple[int, Any]:
    c = await api(city, username)
    try:
        r = await c.get(path)
        return r.status_code, r.json()
    finally:
        await c.aclose()


async def ok(city: Demo, username: str, path: str) -> Any:
    status, body = await as_user(city, username, path)
    assert status == 200, body
    return body


async def roster_phones(city: Demo) -> dict[int, str | None]:
    engine = make_engine(city.db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(users.c.id, users.c.phone))
            return {int(r.id): r.phone for r in rows}
    finally:
        await engine.dispose()


def check_follow_up_against_tally(f: dict[str, Any], tally: dict[str, Any]) -> None:
    """The follow-up holds exactly the tally's missing and unread people, each under their
    own delegation, with counts that add up, the most missing first."""
    delegation_of = {p["id"]: p["delegation_id"] for p in tally["people"]}
    for k in ("addressees", "delivered", "read", "missing"):
        assert f[k] == tally[k], k
    assert f["unread"] == len(tally["unread_people"]) == tally["delivered"] - tally["read"]
    groups = f["delegations"]
    missing = [p for g in groups for p in g["missing_people"]]
    unread = [p for g in groups for p in g["unread_people"]]
    assert sorted(missing, key=lambda p: p["id"]) == sorted(
        tally["missing_people"], key=lambda p: p["id"]
    )
    assert sorted(unread, key=lambda p: p["id"]) == sorted(
        tally["unread_people"], key=lambda p: p["id"]
    )
    for g in groups:
        assert g["missing"] == len(g["missing_people"])
        assert g["unread"] == len(g["unread_people"])
        assert g["missing"] + g["unread"] > 0
        for p in g["missing_people"] + g["unread_people"]:
            assert delegation_of[p["id"]] == g["delegation_id"]
        assert g["addressees"] == sum(1 for d in delegation_of.values() if d == g["delegation_id"])
    keys = [(-g["missing"], -g["unread"]) for g in groups]
    assert keys == sorted(keys)
    assert sum(g["missing"] for g in groups) == f["missing"]


async def test_follow_up_is_the_tally_grouped_by_delegation(city: Demo) -> None:
    """For the oldest and the newest of the 30 notices, GET /followup lists exactly the
    tally's missing and unread people under their delegation (named as the directory names
    it), with per-delegation counts, the delegations with the most missing first."""
    dele_names = {
        d["id"]: d["name"] for d in (await ok(city, "mishu", "/api/delegations"))["delegations"]
    }
    for nid in (city.ids["notice_ids"][0], city.ids["notice_ids"][-1]):
        tally = await ok(city, "mishu", f"/api/notices/{nid}/tally")
        f = await ok(city, "mishu", f"/api/notices/{nid}/followup")
        # (An ack covers every earlier message of its channel: old notices reached nearly
        # everyone, but only an exact `read` reads one.)
        assert f["addressees"] == 400 and 0 < f["missing"] + f["unread"] < 400
        check_follow_up_against_tally(f, tally)
        assert len(f["delegations"]) > 5
        for g in f["delegations"]:
            assert g["delegation_name"] == dele_names[g["delegation_id"]]
        # The supervisor reads the follow-up too (as the tally), without a phone in it.
        sup = await ok(city, "jiandu", f"/api/notices/{nid}/followup")
        assert sup == f
        assert "phone" not in orjson.dumps(sup).decode()


async def test_call_list_is_the_secretariats_alone(city: Demo) -> None:
    """The call list of a notice: the secretariat and the admin get every missing and
    unread person in the follow-up's order with the roster's phone number; a deputy (an
    addressee of it), a unit and a supervisor get exactly 403 `forbidden` for the same
    real notice, and a deputy and a unit the same for the follow-up."""
    nid = city.ids["notice_ids"][0]
    f = await ok(city, "mishu", f"/api/notices/{nid}/followup")
    phones = await roster_phones(city)
    for who in ("mishu", "admin"):
        r = await ok(city, who, f"/api/notices/{nid}/calls")
        expected = [
            (p["id"], g["delegation_id"], state)
            for g in f["delegations"]
            for state in ("missing", "unread")
            for p in g[f"{state}_people"]
        ]
        assert [(c["id"], c["delegation_id"], c["state"]) for c in r["calls"]] == expected
        assert {k: v for k, v in r.items() if k != "calls"} == f
        for c in r["calls"]:
            assert c["phone"] == phones[c["id"]] and re.fullmatch(r"1[3-9]\d{9}", c["phone"])
    for who in ("d001", "dw01", "jiandu"):
        status, body = await as_user(city, who, f"/api/notices/{nid}/calls")
        assert (status, body["code"]) == (403, "forbidden"), (who, body)
        assert "phone" not in body and "calls" not in body
    for who in ("d001", "dw01"):
        status, body = await as_user(city, who, f"/api/notices/{nid}/followup")
        assert (status, body["code"]) == (403, "forbidden"), (who, body)


async def test_no_phone_number_in_the_log(city: Demo) -> None:
    """After the city's notices, re-pushes and a call list read, no stored message (the log
    is forever and replayed to many) holds any deputy's phone number."""
    nid = city.ids["notice_ids"][-1]
    await ok(city, "mishu", f"/api/notices/{nid}/calls")
    sec = await api(city, "mishu")
    try:
        for who in ("missing", "unread"):
            r = await sec.post(f"/api/notices/{nid}/repush", json={"who": who})
            assert r.status_code == 200 and r.json()["repushed"], r.text
    finally:
        await sec.aclose()
    numbers = {p for p in (await roster_phones(city)).values() if p}
    assert len(numbers) == 400
    engine = make_engine(city.db_url)
    try:
        async with engine.connect() as conn:
            bodies = (await conn.execute(sa.select(messages.c.body))).scalars().all()
    finally:
        await engine.dispose()
    assert len(bodies) > 2000
    found = {n for b in bodies for n in re.findall(r"1[3-9]\d{9}", b) if n in numbers}
    assert not found


async def console(browser: Any, city: Demo, lang: str = "zh-CN") -> Any:
    page = await open_as(browser, city.url, "mishu", width=1600)
    if lang != "zh-CN":
        await page.evaluate("(l) => localStorage.setItem('hub:lang', l)", lang)
        await page.reload()
    await page.wait_for_selector("#notice-list li.notice-sent")
    return page


async def test_notice_cards_hold_counts_not_names(browser: Any, city: Demo) -> None:
    """Each of the 30 notice cards shows its counts ("未送达 N 人 · 未读 M 人", as the
    server counts them) in a handful of elements and no deputy's name; opening a follow-up
    adds nothing to the cards."""
    names = set(city.ids["deputy_names"])
    meeting = city.ids["meeting_id"]
    listed = (await ok(city, "mishu", f"/api/meetings/{meeting}/notices"))["notices"]
    page = await console(browser, city)
    cards = page.locator("#notice-list li.notice-sent")
    assert await cards.count() == len(listed) == 30
    sizes = (
        "() => [...document.querySelectorAll('#notice-list li.notice-sent')]"
        ".map(li => li.getElementsByTagName('*').length)"
    )
    before = await page.evaluate(sizes)
    assert max(before) <= MAX_CARD_ELEMENTS, before
    for n in listed:
        card = page.locator(f'li.notice-sent[data-notice="{n["id"]}"]')
        text = await card.inner_text()
        assert not [x for x in names if x in text], text
        missing, unread = n["addressees"] - n["delivered"], n["delivered"] - n["read"]
        assert f"未送达 {missing} 人 · 未读 {unread} 人" in text, text
    await page.locator("#notices").scroll_into_view_if_needed()
    await shot(page, "secretariat-notice-cards-city", full_page=False)
    await page.locator(
        f'li.notice-sent[data-notice="{city.ids["notice_ids"][-1]}"] button.follow-up'
    ).click()
    await page.wait_for_selector("#followup .fu-call-table tbody tr")
    assert await page.evaluate(sizes) == before
    assert page.js_errors == []
    await page.context.close()


async def test_oldest_notice_follow_up_is_complete(browser: Any, city: Demo) -> None:
    """The oldest notice (older than the latest ten) opens the same complete follow-up as
    the server's: every delegation with its counts and every name, the most missing
    first, and a call list with each person's phone; all of it in Chinese; closed, the
    dialog is gone."""
    nid = city.ids["notice_ids"][0]
    f = await ok(city, "mishu", f"/api/notices/{nid}/followup")
    calls = (await ok(city, "mishu", f"/api/notices/{nid}/calls"))["calls"]
    page = await console(browser, city)
    card = page.locator(f'li.notice-sent[data-notice="{nid}"]')
    await card.locator("button.follow-up").click()
    await page.wait_for_selector("#followup .fu-call-table tbody tr")
    shown = await page.evaluate(
        """() => [...document.querySelectorAll('#followup .fu-group')].map(g => [
             g.dataset.delegation, Number(g.dataset.missing), Number(g.dataset.unread),
             g.querySelector('.fu-missing')?.textContent ?? '',
             g.querySelector('.fu-unread')?.textContent ?? ''])"""
    )
    assert len(shown) == len(f["delegations"])
    for (key, missing, unread, missing_text, unread_text), g in zip(
        shown, f["delegations"], strict=True
    ):
        assert (key, missing, unread) == (str(g["delegation_id"]), g["missing"], g["unread"])
        assert all(p["name"] in missing_text for p in g["missing_people"])
        assert all(p["name"] in unread_text for p in g["unread_people"])
    rows = await page.evaluate(
        """() => [...document.querySelectorAll('#followup .fu-call-table tbody tr')]
             .map(tr => [Number(tr.dataset.person), ...[...tr.cells].map(td => td.textContent)])"""
    )
    state = {"missing": "未送达", "unread": "未读"}
    assert rows == [
        [c["id"], c["name"], c["delegation_name"], state[c["state"]], c["phone"], "—"]
        for c in calls
    ]
    text = await page.inner_text("#followup")
    assert f"未送达 {f['missing']} 人 · 未读 {f['unread']} 人" in text
    assert not LATIN.findall(text), LATIN.findall(text)
    await shot(page, "secretariat-followup-city", full_page=False)
    await page.locator("#followup .fu-call-table").scroll_into_view_if_needed()
    await shot(page, "secretariat-followup-calls", full_page=False)
    await page.click("#followup .fu-close")
    await page.wait_for_selector("#followup", state="detached")
    assert page.js_errors == []
    await page.context.close()


async def test_call_list_copies_and_reads_in_english(browser: Any, city: Demo) -> None:
    """The call list copies as tab-separated lines (a header and one per person, with the
    phone) and prints alone; under English its labels are English."""
    nid = city.ids["notice_ids"][3]
    calls = (await ok(city, "mishu", f"/api/notices/{nid}/calls"))["calls"]
    page = await console(browser, city, "en")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.locator(f'li.notice-sent[data-notice="{nid}"] button.follow-up').click()
    await page.wait_for_selector("#followup .fu-call-table tbody tr")
    heads = await page.locator("#followup .fu-call-table th").all_inner_texts()
    assert heads == ["Name", "Delegation", "State", "Phone", "Reached by"]
    text = await page.inner_text("#followup")
    assert "Call list" in text and "not delivered" in text and "By delegation" in text
    await page.click("#followup .fu-copy")
    copied = await page.evaluate("() => navigator.clipboard.readText()")
    lines = copied.split("\n")
    assert lines[0] == "Name\tDelegation\tState\tPhone\tReached by"
    assert len(lines) == len(calls) + 1
    assert lines[1].split("\t")[0] == calls[0]["name"]
    assert lines[1].split("\t")[3] == calls[0]["phone"]
    # Printed, the page shows the dialog alone, without its buttons.
    await page.click("#followup .fu-print")
    await page.emulate_media(media="print")
    await page.evaluate("() => document.body.classList.add('printing-followup')")
    assert not await page.locator("#main").is_visible()
    assert await page.locator("#followup .fu-call-table").is_visible()
    assert not await page.locator("#followup .fu-copy").is_visible()
    assert page.js_errors == []
    await page.context.close()


async def test_open_follow_up_follows_the_tally(browser: Any, city: Demo) -> None:
    """While a notice's follow-up is open, a missing deputy's phone acking it moves them
    from not delivered to unread in the call list, and the counts on the dialog and the
    card follow."""
    nid = city.ids["notice_ids"][-1]
    m = city.ids["meeting_id"]
    f = await ok(city, "mishu", f"/api/notices/{nid}/followup")
    who = f["delegations"][0]["missing_people"][0]["id"]
    username = f"d{city.ids['deputy_ids'].index(who) + 1:03d}"
    page = await console(browser, city)
    card = page.locator(f'li.notice-sent[data-notice="{nid}"]')
    await card.locator("button.follow-up").click()
    await page.wait_for_selector(f'#followup tr[data-person="{who}"][data-state="missing"]')
    deputy = await api(city, username)
    try:
        r = await deputy.get(f"/api/channels/meeting:{m}/messages", params={"limit": 1})
        head = r.json()["head"]
        token = deputy.headers["Authorization"].removeprefix("Bearer ")
    finally:
        await deputy.aclose()
    phone = await Client.connect(city.hub.ws_url, token)
    try:
        await phone.subscribe(f"meeting:{m}", since=head)
        await phone.send({"type": "ack", "channel": f"meeting:{m}", "seq": head})
        await page.wait_for_selector(f'#followup tr[data-person="{who}"][data-state="unread"]')
    finally:
        await phone.close()
    counts = f"未送达 {f['missing'] - 1} 人 · 未读 {f['unread'] + 1} 人"
    assert counts in await page.inner_text("#followup .fu-summary")
    assert await card.locator(".follow-counts").inner_text() == counts
    assert page.js_errors == []
    await page.context.close()
