"""The check-in window and code, editing a sitting, the speech timer and a deputy's own
speeches, between the deputy's phone (360 px) and the secretariat's console (1366 px), in
zh-CN and in English: while a sitting is open nobody reads 缺席 / Absent; check-in before
the window opens says when it opens; the code is shown large on the board, typed on the
phone, a wrong one refused in the page's words; the convenor's timer counts down and shows
the time over; afterwards the deputy reads that they spoke, and for how long."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, Demo, api, open_as, shot, wait_until
from tests.browser.test_errors_zh import CLEAR, call, foreign, shown

RAW = re.compile(r"\[object|undefined|NaN|checkin_|not_checked_in|sitting_")
TEXTS = {
    "zh-CN": {
        "not_yet": "未签到",
        "absent": "缺席",
        "soon": "签到将于 {} 开始",
        "wrong": "签到码不正确",
        "left": "剩余",
        "over": "超时",
        "spoke": "已发言，用时",
    },
    "en": {
        "not_yet": "Not checked in yet",
        "absent": "Absent",
        "soon": "Check-in opens at {}",
        "wrong": "That is not the check-in code",
        "left": "left",
        "over": "Over by",
        "spoke": "Spoke for",
    },
}


def _iso(d: datetime) -> str:
    return d.astimezone(UTC).isoformat()


def _hhmm(d: datetime) -> str:
    return d.astimezone(UTC).astimezone(_beijing()).strftime("%H:%M")


def _beijing() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


async def _lang(page: Any, lang: str) -> None:
    await page.evaluate("(l) => localStorage.setItem('hub:lang', l)", lang)
    await page.reload()
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")


def _clean(text: str, lang: str, where: str) -> None:
    """No raw code or broken value; in zh-CN no Latin letters beyond the names we gave."""
    assert not RAW.findall(text), (where, RAW.findall(text), text)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_window_code_timer_and_my_speeches(browser: Any, demo_hub: Demo, lang: str) -> None:
    """A sitting whose check-in opens in 90 minutes and an open one that the secretariat
    edits on its console to ask for a code: the phone says when check-in opens (and the
    server's refusal says the same), shows 未签到 / "Not checked in yet" on the open
    sitting, never 缺席 / Absent; the board shows the code large; a wrong code is refused
    in the page's language, the right one checks in. A speech runs past a 10-second limit:
    the console counts down, then shows the time over; the deputy then reads that they
    spoke, how long, and that it was over time."""
    words = TEXTS[lang]
    now = datetime.now(UTC)
    later = now + timedelta(hours=2)
    sec_api = await api(demo_hub, "mishu")
    try:
        meeting = (await sec_api.get("/api/meetings")).json()["meetings"][0]["id"]
        r = await sec_api.post(
            f"/api/meetings/{meeting}/sittings",
            json={"kind": "plenary", "title": "闭幕大会", "starts_at": _iso(later),
                  "checkin_opens_before": 30, "checkin_closes_after": 30},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        soon_s = r.json()
        r = await sec_api.post(
            f"/api/meetings/{meeting}/sittings",
            json={"kind": "plenary", "title": "第二次全体会议", "starts_at": _iso(now - timedelta(minutes=5)),
                  "ends_at": _iso(now + timedelta(hours=3)), "checkin_opens_before": 30,
                  "checkin_closes_after": 60},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        open_s = r.json()
        ov = (await sec_api.get(f"/api/meetings/{meeting}")).json()
    finally:
        await sec_api.aclose()
    dep_api = await api(demo_hub, "daibiao1")
    try:
        mine = (await dep_api.get("/api/me")).json()["delegation_id"]
    finally:
        await dep_api.aclose()
    group = next(s for s in ov["sittings"] if s["kind"] == "group" and s["delegation_id"] == mine)

    sec = await open_as(browser, demo_hub.url, "mishu", width=1366, height=900)
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    await _lang(sec, lang)
    await _lang(dep, lang)
    await dep.click("#tab-meeting")

    # Before the window: the phone says when check-in opens; the button waits.
    soon_li = dep.locator(f'#my-sittings li[data-sitting="{soon_s["id"]}"]')
    await soon_li.wait_for()
    opens = _hhmm(later - timedelta(minutes=30))
    assert words["soon"].format(opens) in await soon_li.inner_text()
    assert await soon_li.get_attribute("data-window") == "soon"
    assert await soon_li.locator("button.checkin").is_disabled()
    # ... and the server's refusal (another device, an old page) says the same.
    await call(dep, "POST", f"/api/sittings/{soon_s['id']}/checkin", {})
    refused = await shown(dep)
    assert words["soon"].format(opens) in refused, refused
    assert not foreign(refused, lang), refused
    await dep.evaluate(CLEAR)

    # The open sitting: not checked in yet, never absent, on the phone and the board.
    open_li = dep.locator(f'#my-sittings li[data-sitting="{open_s["id"]}"]')
    await open_li.wait_for()
    text = await open_li.inner_text()
    assert words["not_yet"] in text and words["absent"] not in text, text
    # ... and in the deputy's own file (履职), which the supervisor reads too.
    await dep.click("#tab-perf")
    row = dep.locator("#file li", has_text="第二次全体会议")
    await row.wait_for(state="attached")
    filed = await row.text_content()
    assert words["not_yet"] in filed and words["absent"] not in filed, filed
    await dep.click("#tab-meeting")
    await sec.select_option("#att-sitting", str(open_s["id"]))
    await sec.wait_for_selector("#att-counts")
    board = await sec.inner_text("#attendance")
    assert words["not_yet"] in board and words["absent"] not in board.replace(
        words["not_yet"], ""
    ), board

    # The secretariat edits the open sitting on its console: a code, a new place.
    edit = sec.locator(f'#setup-sittings li[data-sitting="{open_s["id"]}"] button.edit-sitting')
    await edit.click()
    assert await sec.input_value("#s-title") == "第二次全体会议"
    assert await sec.input_value("#s-closes") == "60"
    await sec.fill("#s-place", "会议中心大礼堂")
    await sec.check("#s-code")
    await sec.click("#s-save")
    await sec.locator(
        f'#setup-sittings li[data-sitting="{open_s["id"]}"]', has_text="会议中心大礼堂"
    ).wait_for()
    # The board shows the code large, to put on the hall's screen.
    code_el = sec.locator("#att-code b")
    await code_el.wait_for()
    code = (await code_el.inner_text()).strip()
    assert re.fullmatch(r"\d{6}", code), code
    await shot(sec, f"secretariat-checkin-code-{lang}-1366")
    await sec.locator("#attendance").screenshot(path=str(ARTIFACTS / f"board-code-{lang}.png"))

    # The phone learns of the edit live and asks for the code; a wrong one is refused.
    code_in = open_li.locator("input.checkin-code")
    await code_in.wait_for()
    assert "会议中心大礼堂" in await open_li.inner_text()
    assert code not in await dep.inner_text("body")
    box = await code_in.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, box  # a finger's size
    assert await dep.evaluate("document.documentElement.scrollWidth") <= 360
    await code_in.fill(f"{(int(code) + 1) % 1_000_000:06d}")
    await open_li.locator("button.checkin").click()
    wrong = await shown(dep)
    assert words["wrong"] in wrong and not foreign(wrong, lang), wrong
    await dep.evaluate(CLEAR)
    code_in = open_li.locator("input.checkin-code")
    await code_in.fill(code)
    await open_li.locator("button.checkin").click()
    await dep.wait_for_selector(
        f'#my-sittings li[data-sitting="{open_s["id"]}"][data-state="checked_in"]'
    )
    await shot(dep, f"deputy-checkin-window-{lang}-360")

    # The speech timer: a 10-second limit on the group deliberation.
    c = await api(demo_hub, "mishu")
    try:
        body = {k: group[k] for k in ("title", "starts_at", "ends_at", "place",
                                      "checkin_opens_before", "checkin_closes_after",
                                      "checkin_code")}  # fmt: skip
        r = await c.put(f"/api/sittings/{group['id']}", json={**body, "speech_limit_s": 10})
        assert r.status_code == 200, r.text
    finally:
        await c.aclose()
    await dep.click("#spk-request")
    mine = dep.locator('#my-speech [data-status="waiting"]')
    await mine.wait_for()
    request_id = await mine.get_attribute("data-request")
    await sec.select_option("#spk-sitting", str(group["id"]))
    await sec.select_option("#spk-item", await dep.locator("#spk-item").input_value())
    waiting = sec.locator(f'#spk-waiting li[data-request="{request_id}"]')
    await waiting.wait_for()
    await waiting.locator("button.primary").click()
    timer = sec.locator("#spk-timer")
    await timer.wait_for()
    assert words["left"] in await timer.inner_text()
    assert "0:10" in await sec.inner_text("#spk-limit")
    await sec.wait_for_selector('#spk-timer[data-over="true"]', timeout=20_000)
    over = await timer.inner_text()
    assert words["over"] in over and not foreign(over, lang), over
    await shot(sec, f"secretariat-speech-timer-{lang}-1366")
    await sec.locator("#speakers").screenshot(path=str(ARTIFACTS / f"speech-timer-{lang}.png"))
    await sec.locator(
        f'#spk-box [data-request="{request_id}"][data-status="speaking"] button'
    ).click()

    # Afterwards the deputy reads that they spoke, for how long, and over time.
    done = dep.locator(f'#my-speeches li[data-request="{request_id}"][data-status="done"]')
    await done.wait_for()
    said = await done.inner_text()
    assert words["spoke"] in said and words["over"].split()[0] in said, said
    await shot(dep, f"deputy-my-speeches-{lang}-360")

    for page, where in ((dep, "deputy"), (sec, "secretariat")):
        _clean(await page.inner_text("body"), lang, where)
        assert page.js_errors == []
        await page.context.close()
