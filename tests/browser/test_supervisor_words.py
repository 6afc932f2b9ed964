"""The supervisor's archive and a deputy's performance file say exactly what is true, in
the page's language: channels by name, kinds as labels, bodies as what they are (never
JSON), who sent each message and who acted on an item; the file's lists with dates and
states in words, who viewed it (not the deputy), printable alone and exportable."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Demo, api, open_as, shot, wait_until
from tests.browser.test_errors_zh import CJK, foreign
from tests.browser.test_supervisor import seed_activity

RAW = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")  # a kind, state or role code as the API has it


async def more_kinds(demo: Demo, meeting: int) -> None:
    """Through the HTTP API, steps of most workflows, so the archive holds their kinds: a
    sitting and an agenda item, a speech, a check-in, a leave approved, registrations
    confirmed and rejected, a suggestion, a notice corrected and one withdrawn, the
    sitting closed."""
    sec, sup = await api(demo, "mishu"), await api(demo, "jiandu")
    d1, d2, d3 = [await api(demo, f"daibiao{i}") for i in (1, 2, 3)]

    async def ok(r: Any) -> dict[str, Any]:
        assert r.status_code < 300, (r.request.url, r.text)
        out: dict[str, Any] = r.json()
        return out

    try:
        now = datetime.now(UTC)
        sitting = await ok(
            await sec.post(
                f"/api/meetings/{meeting}/sittings",
                json={"kind": "plenary", "title": "第三次全体会议", "place": "大礼堂",
                      "starts_at": (now - timedelta(minutes=30)).isoformat(),
                      "ends_at": (now + timedelta(hours=2)).isoformat()},
            )
        )  # fmt: skip
        sid = sitting["id"]
        group = (await ok(await d1.get("/api/me")))["delegation_id"]
        deliberation = await ok(
            await sec.post(
                f"/api/meetings/{meeting}/sittings",
                json={"kind": "group", "title": "分组审议", "delegation_id": group,
                      "starts_at": (now - timedelta(minutes=30)).isoformat(),
                      "ends_at": (now + timedelta(hours=2)).isoformat()},
            )
        )  # fmt: skip
        agenda = await ok(
            await sec.post(f"/api/meetings/{meeting}/agenda", json={"title": "审议计划报告"})
        )
        speech = await ok(
            await d1.post(
                f"/api/sittings/{deliberation['id']}/speakers",
                json={"agenda_item_id": agenda["id"]},
            )
        )
        speech_id = speech.get("id") or speech["request"]["id"]
        await ok(await sec.post(f"/api/speakers/{speech_id}/start"))
        await ok(await sec.post(f"/api/speakers/{speech_id}/end"))
        await ok(await d3.post(f"/api/sittings/{sid}/checkin"))
        leave = await ok(await d2.post(f"/api/sittings/{sid}/leave", json={"reason": "出差在外"}))
        await ok(await sec.post(f"/api/leave/{leave['id']}/approve"))
        for title, decision in (("社区走访", "confirm"), ("企业调研", "reject")):
            reg = await ok(
                await d1.post(
                    "/api/registrations",
                    json={"kind": "research", "activity_date": now.date().isoformat(),
                          "title": title, "text": "走访了三个社区。"},
                )
            )  # fmt: skip
            body = {"reason": "缺少佐证材料"} if decision == "reject" else None
            await ok(await sup.post(f"/api/registrations/{reg['id']}/{decision}", json=body))
        await ok(
            await d1.post(
                "/api/suggestions",
                json={
                    "meeting_id": meeting,
                    "title": "关于增设公交线路的建议",
                    "text": "建议增设。",
                },
            )
        )
        notices = []
        for title in ("会场调整", "用餐安排"):
            notices.append(
                await ok(
                    await sec.post(
                        f"/api/meetings/{meeting}/notices",
                        json={"title": title, "text": "请留意。"},
                    )
                )
            )
        await ok(
            await sec.post(
                f"/api/notices/{notices[0]['id']}/correct",
                json={"text": "改在 2 号会议室。", "reason": "会场有误"},
            )
        )
        await ok(
            await sec.post(f"/api/notices/{notices[1]['id']}/withdraw", json={"reason": "取消"})
        )
        await ok(await sec.post(f"/api/sittings/{sid}/close"))
    finally:
        for c in (sec, sup, d1, d2, d3):
            await c.aclose()


async def in_lang(page: Any, lang: str) -> None:
    if lang != "zh-CN":
        await page.evaluate(f"localStorage.setItem('hub:lang', '{lang}')")
        await page.reload()


async def strings(page: Any) -> dict[str, str]:
    table: dict[str, str] = await page.evaluate(
        """async () => {
          const { STRINGS, lang } = await import("/static/js/i18n.js");
          return STRINGS[lang()];
        }"""
    )
    return table


async def me(demo: Demo, username: str) -> dict[str, Any]:
    c = await api(demo, username)
    try:
        out: dict[str, Any] = (await c.get("/api/me")).json()
        return out
    finally:
        await c.aclose()


async def rows(page: Any) -> list[dict[str, Any]]:
    await page.wait_for_function("() => !document.querySelector('#ar-search').disabled")
    out: list[dict[str, Any]] = await page.evaluate(
        """() => [...document.querySelectorAll('#archive-rows tr[data-message]')].map((r) => ({
            kind: r.dataset.kind, channel: r.dataset.channel,
            place: r.querySelector('td.place').innerText,
            label: r.querySelector('td.kind').innerText,
            sender: r.querySelector('td.sender').innerText,
            text: r.querySelector('td.text').innerText}))"""
    )
    return out


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_archive_speaks_the_users_language(browser: Any, demo_hub: Demo, lang: str) -> None:
    """Every row: the channel by name, the kind by its label, the sender by name and role,
    the body as text; the kind filter is chosen by its label; a timeline names the clerk
    who handed the item over."""
    meeting = demo_hub.ids["meeting_id"]
    await seed_activity(demo_hub.url, meeting)
    await more_kinds(demo_hub, meeting)
    sec, dep = await me(demo_hub, "mishu"), await me(demo_hub, "daibiao1")
    c = await api(demo_hub, "mishu")
    try:
        title = (await c.get(f"/api/meetings/{meeting}")).json()["meeting"]["title"]
    finally:
        await c.aclose()
    page = await open_as(browser, demo_hub.url, "jiandu", width=1600, height=1000)
    await in_lang(page, lang)
    s = await strings(page)
    await page.wait_for_selector('#archive-rows tr[data-kind="notice"]')
    got = await rows(page)
    assert got
    for r in got:
        assert r["label"] == s.get(f"kind.{r['kind']}"), r  # every kind has its label
        assert r["kind"] not in r["label"] and not RAW.match(r["label"]), r
        assert not re.search(r"\b(meeting|desk|deputy|delegation|unit):\d", r["place"]), r
        assert "{" not in r["text"] and '":' not in r["text"], r  # never JSON
        assert not re.search(r"#\d", r["sender"]), r  # a name, not an id
        if lang == "zh-CN":
            assert foreign(r["label"] + r["sender"], lang) == [], r
        else:
            assert not CJK.search(r["label"]), r
    # every message stored so far (every kind the demo and the seed made), through the
    # page's own rendering: a label, a place by name, a text — no code, no JSON
    rendered = await page.evaluate(
        """async () => {
          const { get } = await import("/static/js/api.js");
          const m = await import("/static/js/messages.js");
          const out = [];
          for (let cursor = null; ; ) {
            const q = `/api/archive/messages?receipts=0&limit=200${cursor ? `&cursor=${cursor}` : ""}`;
            const r = await get(q);
            for (const x of r.messages) {
              const said = m.messageText(x, new Map());
              out.push({ kind: x.kind, label: m.kindLabel(x.kind), place: m.placeText(x.place),
                         title: said.title, text: said.text, sender: m.senderName(x.sender) });
            }
            if (!r.next) return out;
            cursor = r.next;
          }
        }"""
    )
    kinds = {r["kind"] for r in rendered}
    assert len(kinds) >= 20, sorted(kinds)  # the workflows', not a handful
    for r in rendered:
        said = r["title"] + r["text"]
        assert r["label"] == s[f"kind.{r['kind']}"] and r["title"], r
        assert "{" not in said and "undefined" not in said and "null" not in said, r
        assert "[object" not in said and "NaN" not in said, r
        assert not re.search(r"[a-z]+\.[a-z_]+|\b[a-z]+_[a-z_]+\b", said), r  # no raw code
        assert r["place"] != "—" and "{" not in r["place"], r
        if lang == "zh-CN":
            assert foreign(r["label"] + r["place"] + r["sender"], lang) == [], r
        else:
            assert not CJK.search(r["label"]), r
    notice = next(
        r
        for r in got
        if r["kind"] == "notice"
        and r["channel"] == f"meeting:{meeting}"
        and "分组审议地点调整" in r["text"]
    )
    assert notice["place"] == s["arch.place.meeting"].replace("{name}", title)
    assert "分组审议地点调整" in notice["text"] and "改在 3 号会议室。" in notice["text"]
    assert notice["sender"] == f"{sec['name']} · {s['role.secretariat']}"
    opinion = next(r for r in got if r["kind"] == "opinion.submitted" and "desk:" in r["channel"])
    assert opinion["place"] == s["arch.place.desk"].replace("{name}", title)
    assert "建议加快老旧小区加装电梯。" in opinion["text"] and dep["name"] in opinion["text"]
    handed = next(r for r in got if r["kind"] == "item.handed_over")
    assert "老旧小区加装电梯" in handed["text"] and s["act.hand_over"] in handed["text"]

    # the kind by its label: typed, picked, shown as a chip; the rows are of that kind
    label = s["kind.opinion.submitted"]
    await page.fill("#ar-kind", "")
    await page.type("#ar-kind", label[:4], delay=30)
    await page.click("#ar-kind ~ .picker-list li[data-id='opinion.submitted']")
    chip = await page.text_content('#ar-picked [data-filter="kind"]')
    assert chip == f"{s['arch.kind']}：{label}×", chip
    await wait_until(
        page,
        "[...document.querySelectorAll('#archive-rows tr[data-message]')].length > 0 && "
        "[...document.querySelectorAll('#archive-rows tr[data-message]')]"
        ".every(r => r.dataset.kind === 'opinion.submitted')",
    )
    href = await page.get_attribute('[data-export="messages.csv"]', "href")
    assert "kind=opinion.submitted" in (href or "")
    await page.click('#ar-picked [data-filter="kind"] button')

    # the sender by name among every account: only what the secretariat's clerk sent
    await page.type("#ar-sender", sec["name"], delay=30)
    await page.click(f"#ar-sender ~ .picker-list li[data-id='{sec['id']}']")
    chip = await page.text_content('#ar-picked [data-filter="sender"]')
    assert chip == f"{s['arch.sender']}：{sec['name']}×", chip
    await wait_until(
        page,
        "[...document.querySelectorAll('#archive-rows tr[data-message]')].length > 0 && "
        "[...document.querySelectorAll('#archive-rows tr[data-message] td.sender')]"
        f".every(c => c.dataset.sender === '{sec['id']}')",
    )
    await page.click('#ar-picked [data-filter="sender"] button')

    # the timeline names the clerk who handed the item over, not only the role
    step = page.locator('#tl-out .timeline li[data-action="hand_over"]')
    await step.wait_for()
    assert sec["name"] in await step.inner_text()
    await shot(page, f"supervisor-archive-words-{lang}", full_page=False)
    assert page.js_errors == []
    await page.context.close()


async def register(demo: Demo, title: str) -> None:
    c = await api(demo, "daibiao1")
    try:
        r = await c.post(
            "/api/registrations",
            json={"kind": "research", "activity_date": "2026-01-05", "title": title,
                  "text": "走访了三个社区。"},
        )  # fmt: skip
        r.raise_for_status()
    finally:
        await c.aclose()


async def open_file(page: Any, name: str, deputy: int) -> Any:
    await page.fill("#file-deputy", "")
    await page.type("#file-deputy", name, delay=30)
    await page.click(f"#file-deputy ~ .picker-list li[data-id='{deputy}']")
    await page.click("#file-open")
    box = page.locator("#file-out .perf-file")
    await box.wait_for()
    return box


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_performance_file_lists_views_prints_and_exports(
    browser: Any, demo_hub: Demo, lang: str
) -> None:
    """The file lists the deputy's opinion, item and registration with dates and states in
    words and every points event by its label; says who viewed it and when — the deputy's
    own view not counted; prints the file alone; exports it as CSV."""
    meeting = demo_hub.ids["meeting_id"]
    await seed_activity(demo_hub.url, meeting)
    await register(demo_hub, "社区走访调研")
    dep, sup = await me(demo_hub, "daibiao1"), await me(demo_hub, "jiandu")
    page = await open_as(browser, demo_hub.url, "jiandu", width=1600, height=1000)
    await in_lang(page, lang)
    s = await strings(page)
    await page.wait_for_selector("#file-deputy")
    box = await open_file(page, dep["name"], dep["id"])
    assert await page.inner_text("#file-out h3") == dep["name"]

    async def listed(name: str) -> str:
        return str(await box.locator(f'[data-list="{name}"]').inner_text())

    opinions, items, regs = (
        await listed("opinions"),
        await listed("items"),
        await listed("registrations"),
    )
    assert "建议加快老旧小区加装电梯。" in opinions and s["perf.opStatus.committed"] in opinions
    assert "老旧小区加装电梯" in items and s["item.commit"] in items
    assert s["perf.role.opinion"] in items and s["state.assigned"] in items
    assert "社区走访调研" in regs and s["regState.submitted"] in regs
    assert s["perf.activity.research"] in regs
    for r in await box.locator("[data-event]").all():
        event = await r.get_attribute("data-event")
        assert s[f"points.{event}"] in await r.inner_text()
    views = await listed("views")
    assert sup["name"] in views and s["role.supervisor"] in views
    assert await box.locator("[data-views]").get_attribute("data-views") == "1"
    lists = await box.locator(".file-list").all_inner_texts()
    for text in lists:
        for word in re.findall(r"[a-z_]+(?:\.[a-z_]+)+|\b[a-z]+_[a-z_]+\b", text):
            raise AssertionError(f"raw code {word!r} in the file: {text}")
        if lang == "zh-CN":
            assert foreign(text, lang) == [], text
    if lang == "en":
        chips = await box.locator(".chip").all_inner_texts()
        headings = await box.locator("h4").all_inner_texts()
        assert chips and not [x for x in [*chips, *headings] if CJK.search(x)], (chips, headings)

    # printing shows the file alone
    await page.evaluate("window.print = () => { window.printed = true; }")
    await box.locator('[data-action="print"]').click()
    assert await page.evaluate("window.printed === true")
    await page.emulate_media(media="print")
    await page.evaluate("window.scrollTo(0, 0)")
    assert await page.locator("#file-out .file-name").is_visible()
    top = await page.evaluate(
        "document.querySelector('#file-out .perf-file').getBoundingClientRect().top"
    )
    assert top < 50, top  # from the top of the first page, nothing printed before it
    assert not await page.locator("#files h2").is_visible()
    assert not await page.locator("#stat-tiles").is_visible()
    assert not await page.locator("#archive-table").is_visible()
    assert not await box.locator('[data-action="print"]').is_visible()
    await shot(page, f"supervisor-file-print-{lang}", full_page=False)
    await page.emulate_media(media="screen")

    # the export: CSV with a BOM, the deputy's rows
    async with page.expect_download() as download:
        await box.locator('[data-export="file.csv"]').click()
    saved = await (await download.value).path()
    data = await asyncio.to_thread(Path(saved).read_bytes)
    assert data.startswith(b"\xef\xbb\xbf") and "社区走访调研".encode() in data

    # the deputy opening their own file is not a view: the supervisor's two reads are
    # (the first and the export) and both show; the deputy sees who read it
    deputy = await open_as(browser, demo_hub.url, "daibiao1")
    await in_lang(deputy, lang)
    await deputy.click("#tab-perf")
    own = deputy.locator("#file .perf-file")
    await own.wait_for()
    assert await own.locator("[data-views]").get_attribute("data-views") == "2"
    assert sup["name"] in await own.locator('[data-list="views"]').inner_text()
    assert deputy.js_errors == []
    await deputy.context.close()
    await open_file(page, dep["name"], dep["id"])
    await wait_until(page, "document.querySelector('#file-out [data-views]').dataset.views === '3'")
    assert page.js_errors == []
    await page.context.close()
