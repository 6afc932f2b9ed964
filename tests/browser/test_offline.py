"""The installable, offline-capable deputy page and unit inbox in a real browser: the
manifest, the service worker, an offline reload showing what was received, a repeat visit
drawn from the device's copies first, the outbox sending an
opinion once when the connection returns (after a reload, after a lost answer), drafts
kept across a reload."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from hub import demo
from tests.browser.conftest import Demo, api, open_as, shot, wait_until

# Lost answers, reloads and network cuts raced against the outbox: run by themselves.
pytestmark = pytest.mark.alone

OP_TEXT = "离线时写的审议意见：建议增加无障碍通道"
WORKER_READY = "navigator.serviceWorker.controller !== null"


async def _opinions(hub: Demo, text: str) -> int:
    """How many of daibiao1's opinions the hub stores with ``text``."""
    c = await api(hub, "daibiao1")
    try:
        r = await c.get(f"/api/opinions?meeting_id={hub.ids['meeting_id']}&limit=500")
        r.raise_for_status()
        return sum(1 for o in r.json()["opinions"] if o["text"] == text)
    finally:
        await c.aclose()


async def _deputy(browser: Any, hub: Demo) -> Any:
    return await _installed(browser, hub, "daibiao1", width=360, height=740)


async def _installed(browser: Any, hub: Demo, user: str, **size: int) -> Any:
    """``user``'s page, once the service worker controls it."""
    page = await open_as(browser, hub.url, user, **size)
    await wait_until(page, "navigator.serviceWorker.getRegistration().then((r) => !!r?.active)")
    if not await page.evaluate(WORKER_READY):
        # Installed while this page was loading: it controls the page from the next load.
        await page.reload()
        await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    await wait_until(page, WORKER_READY)
    return page


async def test_the_manifest_is_linked_and_valid_and_the_worker_installs(
    browser: Any, demo_hub: Demo
) -> None:
    """Every page links the manifest; it names the app, a start URL in its scope, a
    standalone display and PNG icons of 192 and 512 px that the hub serves; the service
    worker is active with the app shell in its cache."""
    page = await _deputy(browser, demo_hub)
    href = await page.get_attribute("link[rel=manifest]", "href")
    assert href and href.startswith("/static/manifest.webmanifest?v=")
    r = await page.request.get(href)
    assert r.headers["content-type"].startswith("application/manifest+json")
    m = json.loads(await r.text())
    assert m["name"] == "人大会议服务平台" and m["short_name"]
    assert m["display"] == "standalone"
    assert m["start_url"].startswith(m["scope"]) and m["scope"] == "/static/"
    sizes = {i["sizes"]: i for i in m["icons"] if i["type"] == "image/png"}
    assert {"192x192", "512x512"} <= set(sizes)
    for size, icon in sizes.items():
        png = await (await page.request.get(icon["src"])).body()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(png[16:20], "big")
        assert f"{width}x{width}" == size
    async with httpx.AsyncClient(base_url=demo_hub.url) as http:
        for p in ("index", "deputy", "secretariat", "unit", "supervisor"):
            html = (await http.get(f"/static/{p}.html")).text
            assert '<link rel="manifest" href="/static/manifest.webmanifest?v=' in html, p
    state = await page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.state)")
    assert state == "activated"
    cached = await page.evaluate(
        """async () => {
            const names = await caches.keys();
            const c = await caches.open(names.find((n) => n.startsWith('hub-shell-')));
            return (await c.keys()).map((r) => new URL(r.url).pathname);
        }"""
    )
    assert {"/static/deputy.html", "/static/js/deputy.js", "/static/css/hub.css"} <= set(cached)
    assert page.js_errors == []


async def test_an_offline_reload_shows_the_received_notices(browser: Any, demo_hub: Demo) -> None:
    """With the network gone, a reload shows the deputy page with the notices, the meeting
    and its documents already received, and says when it was last in sync."""
    page = await _deputy(browser, demo_hub)
    c = await api(demo_hub, "mishu")
    try:
        for title in ("第一次全体会议", "分组审议安排"):
            r = await c.post(
                f"/api/meetings/{demo_hub.ids['meeting_id']}/notices",
                json={"title": title, "text": "请准时出席。"},
            )
            assert r.status_code == 201, r.text
    finally:
        await c.aclose()
    await wait_until(page, "document.querySelectorAll('#notices li.notice').length === 2")
    titles = await page.locator("#notices .notice-title").all_inner_texts()
    meeting = await page.inner_text("#meeting-title")
    await page.context.set_offline(True)
    await page.reload()
    await page.wait_for_selector("#notices li.notice")
    assert await page.locator("#notices .notice-title").all_inner_texts() == titles
    assert await page.inner_text("#meeting-title") == meeting
    await page.click("#tab-meeting")
    await page.wait_for_selector("#my-docs li")
    await page.wait_for_selector("#conn[data-state=offline]")
    assert "显示的是" in await page.inner_text("#conn")
    await page.click("#tab-notices")
    await shot(page, "offline-deputy", full_page=False, doc=True)
    assert page.js_errors == []


async def test_an_opinion_written_offline_is_delivered_once(browser: Any, demo_hub: Demo) -> None:
    """An opinion submitted offline waits in the outbox (shown), survives a reload, and is
    stored exactly once when the connection returns."""
    page = await _deputy(browser, demo_hub)
    await page.click("#tab-meeting")
    await page.context.set_offline(True)
    await page.fill("#op-text", OP_TEXT)
    await page.click("#op-send")
    await page.wait_for_selector("#outbox li[data-outbox]")
    assert "等待发送（1）" in await page.inner_text("#outbox")
    assert OP_TEXT in await page.inner_text("#outbox")
    assert await page.input_value("#op-text") == ""
    await page.reload()
    await page.wait_for_selector("#outbox li[data-outbox]")
    assert await _opinions(demo_hub, OP_TEXT) == 0
    await page.context.set_offline(False)
    await page.wait_for_selector("#outbox", state="hidden")
    await page.click("#tab-meeting")
    await page.wait_for_selector(f"#my-opinions li:has-text('{OP_TEXT}')")
    await page.reload()
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    assert await _opinions(demo_hub, OP_TEXT) == 1
    assert page.js_errors == []


async def test_an_opinion_whose_answer_was_lost_is_stored_once(
    browser: Any, demo_hub: Demo
) -> None:
    """The hub stores the opinion but its answer never reaches the page: the outbox sends
    it again with the same key and the hub answers the first answer, one opinion stored."""
    page = await _deputy(browser, demo_hub)
    await page.click("#tab-meeting")
    lost = []

    async def lose_answer(route: Any) -> None:
        if lost or route.request.method != "POST":
            await route.continue_()
            return
        await route.fetch()  # the hub receives and stores it
        lost.append(route.request.headers.get("idempotency-key"))
        await route.abort()  # the page never hears back

    await page.route("**/api/opinions", lose_answer)
    text = OP_TEXT + "（回复丢失）"
    await page.fill("#op-text", text)
    await page.click("#op-send")
    await page.wait_for_selector("#outbox li[data-outbox]")
    for _ in range(300):  # the hub has stored it and the answer is dropped
        if lost:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    await page.unroute("**/api/opinions")
    await page.wait_for_selector("#outbox", state="hidden")
    assert len(lost) == 1 and lost[0]
    assert await _opinions(demo_hub, text) == 1
    assert page.js_errors == []


async def test_a_draft_survives_a_reload(browser: Any, demo_hub: Demo) -> None:
    """An opinion being written and a suggestion's text are still there after a reload."""
    page = await _deputy(browser, demo_hub)
    await page.click("#tab-meeting")
    await page.fill("#op-text", "写到一半的意见")
    await page.click("#tab-items")
    await page.fill("#sg-text", "写到一半的建议")
    await page.reload()
    await page.click("#tab-meeting")
    assert await page.input_value("#op-text") == "写到一半的意见"
    await page.click("#tab-items")
    assert await page.input_value("#sg-text") == "写到一半的建议"
    assert page.js_errors == []


STALE_TITLE = "（设备上的旧标题）"
REWRITE_COPY = """async ([key, title]) => {
    const db = await new Promise((ok, no) => {
        const r = indexedDB.open('hub');
        r.onsuccess = () => ok(r.result);
        r.onerror = () => no(r.error);
    });
    const tx = db.transaction('copies', 'readwrite');
    const store = tx.objectStore('copies');
    const copy = await new Promise((ok) => { const r = store.get(key); r.onsuccess = () => ok(r.result); });
    copy.data.meeting.title = title;
    store.put(copy, key);
    await new Promise((ok) => { tx.oncomplete = ok; });
    db.close();
}"""


async def test_a_repeat_visit_is_drawn_from_the_copies_then_from_the_hub(
    browser: Any, demo_hub: Demo
) -> None:
    """A reload draws the deputy page from the device's copies while the hub has not
    answered a single API request yet, then asks the hub again and draws what changed
    (a copy made stale on purpose is replaced by the hub's answer)."""
    page = await _deputy(browser, demo_hub)
    mid = demo_hub.ids["meeting_id"]
    title = await page.inner_text("#meeting-title")
    me = await page.evaluate("JSON.parse(sessionStorage.getItem('hub:session')).user.id")
    await page.evaluate(REWRITE_COPY, [f"{me}:/api/meetings/{mid}", STALE_TITLE])
    release = asyncio.Event()
    held: list[str] = []

    async def hold(route: Any) -> None:
        held.append(route.request.url)
        await release.wait()
        await route.continue_()

    await page.route("**/api/**", hold)
    await page.reload()
    await wait_until(page, "document.body.dataset.drawn === 'copies'")
    assert await page.inner_text("#meeting-title") == STALE_TITLE
    assert await page.locator("#attendance .body").inner_text()
    assert held  # the hub was asked, and has not answered
    release.set()
    await wait_until(page, "document.body.dataset.drawn === 'hub'")
    assert await page.inner_text("#meeting-title") == title
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    await page.unroute("**/api/**")
    assert page.js_errors == []


async def test_an_offline_reload_shows_the_units_inbox(browser: Any, demo_hub: Demo) -> None:
    """The unit inbox keeps copies too: with the network gone, a reload shows the items
    handed over to the unit and says when it was last in sync."""
    dep, sec = await api(demo_hub, "daibiao1"), await api(demo_hub, "mishu")
    try:
        r = await dep.post(
            "/api/opinions",
            json={"meeting_id": demo_hub.ids["meeting_id"], "text": "路口红绿灯太短"},
        )
        assert r.status_code == 201, r.text
        r = await sec.post(
            "/api/items",
            json={"opinion_ids": [r.json()["id"]], "title": "延长路口绿灯时间",
                  "lead_unit_id": demo_hub.ids["unit_ids"][0]},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        item = r.json()["id"]
    finally:
        await dep.aclose()
        await sec.aclose()
    page = await _installed(browser, demo_hub, "jiaotong")
    card = f'#todo li.item[data-item="{item}"]'
    await page.wait_for_selector(card)
    await page.context.set_offline(True)
    await page.reload()
    await page.wait_for_selector(card)
    assert "延长路口绿灯时间" in await page.inner_text(card)
    await page.wait_for_selector("#conn[data-state=offline]")
    assert "显示的是" in await page.inner_text("#conn")
    assert page.js_errors == []


async def _as(hub: Demo, user: str, path: str) -> Any:
    c = await api(hub, user)
    try:
        r = await c.get(path)
        assert r.status_code == 200, r.text
        return r.json()
    finally:
        await c.aclose()


async def test_leave_speaking_and_a_dispute_made_offline_are_stored_once(
    browser: Any, demo_hub: Demo
) -> None:
    """A dispute of a points entry, a leave request and a request to speak made offline
    wait in the outbox (across a reload), are each stored once when the connection
    returns, and the page then shows them as the hub answered."""
    mid = demo_hub.ids["meeting_id"]
    sittings = (await _as(demo_hub, "daibiao1", f"/api/meetings/{mid}"))["sittings"]
    plenary = next(s["id"] for s in sittings if s["kind"] == "plenary")
    c = await api(demo_hub, "daibiao1")
    try:  # a check-in earns a points entry to dispute
        assert (await c.post(f"/api/sittings/{plenary}/checkin", json={})).status_code == 201
    finally:
        await c.aclose()
    page = await _deputy(browser, demo_hub)
    await page.click("#tab-perf")
    await page.click("#points details summary")
    entry = page.locator("#points li[data-entry]:has(button.link)").first
    await entry.wait_for()
    await page.context.set_offline(True)
    await entry.locator("button.link").click()
    await entry.locator("textarea").fill("当天在外地调研，签到记录有误")
    await entry.locator("button[type=submit]").click()
    await page.click("#tab-meeting")
    group = await page.locator("#spk-sitting").input_value()
    row = page.locator(f'#my-sittings li[data-sitting="{group}"]')
    await row.locator("button.leave").click()
    await row.locator("textarea").fill("参加市政府专题会议")
    await row.locator("form.leave-form button[type=submit]").click()
    await page.click("#spk-request")
    await wait_until(page, "document.querySelectorAll('#outbox li[data-outbox]').length === 3")
    assert "等待发送（3）" in await page.inner_text("#outbox")
    await page.reload()
    await wait_until(page, "document.querySelectorAll('#outbox li[data-outbox]').length === 3")
    await page.context.set_offline(False)
    await page.wait_for_selector("#outbox", state="hidden")
    await page.click("#tab-meeting")
    await page.wait_for_selector(
        f'#my-sittings li[data-sitting="{group}"][data-state="leave:pending"]'
    )
    await page.wait_for_selector('#my-speech [data-status="waiting"]')
    me = await page.evaluate("window.hubClient.userId")
    speakers = await _as(demo_hub, "daibiao1", f"/api/sittings/{group}/speakers")
    assert sum(1 for x in speakers["requests"] if x["deputy"]["id"] == me) == 1
    disputes = (await _as(demo_hub, "daibiao1", "/api/points/disputes"))["disputes"]
    assert len(disputes) == 1
    overview = await _as(demo_hub, "daibiao1", f"/api/meetings/{mid}")
    mine = next(s for s in overview["sittings"] if s["id"] == int(group))
    assert mine["my_status"] == "leave_pending"
    assert page.js_errors == []


async def test_a_registration_with_its_evidence_waits_offline(browser: Any, demo_hub: Demo) -> None:
    """A performance registration with a file made offline waits with its file (named in
    the outbox); when the connection returns the registration is stored once with the
    file as its evidence."""
    page = await _deputy(browser, demo_hub)
    await page.click("#tab-perf")
    await page.wait_for_selector("#register-form")
    await page.context.set_offline(True)
    await page.fill("#rg-title", "走访选民（离线登记）")
    await page.fill("#rg-text", "走访了三个社区的选民。")
    photo = "现场照片.jpg".encode()
    await page.set_input_files(
        "#rg-file", files=[{"name": "现场照片.jpg", "mimeType": "image/jpeg", "buffer": photo * 50}]
    )
    await page.click("#rg-send")
    await page.wait_for_selector("#outbox li[data-outbox]")
    assert "现场照片.jpg" not in await page.inner_text("#outbox")  # the registration waits first
    await page.context.set_offline(False)
    await page.wait_for_selector("#outbox", state="hidden")
    await page.wait_for_selector("#my-registrations li:has-text('走访选民（离线登记）')")
    regs = (await _as(demo_hub, "daibiao1", "/api/registrations?limit=200"))["registrations"]
    mine = [r for r in regs if r["title"] == "走访选民（离线登记）"]
    assert len(mine) == 1
    assert mine[0]["attachment"] == {
        "name": "现场照片.jpg",
        "content_type": "image/jpeg",
        "size": len(photo) * 50,
    }
    assert page.js_errors == []


async def test_logging_out_with_unsent_writes_asks_first(browser: Any, demo_hub: Demo) -> None:
    """退出 with a write still waiting asks (in zh-CN, and in English): staying keeps it on
    the page to be sent; deleting logs out and it is never sent."""
    page = await _deputy(browser, demo_hub)
    await page.click("#tab-meeting")
    await page.context.set_offline(True)
    text = OP_TEXT + "（退出前未发送）"
    await page.fill("#op-text", text)
    await page.click("#op-send")
    await page.wait_for_selector("#outbox li[data-outbox]")
    await page.click("#logout")
    dialog = page.locator("#unsent-dialog")
    await dialog.wait_for()
    assert "还有 1 项没有发送" in await dialog.inner_text()
    assert "删除" in await dialog.inner_text()
    await page.click("#unsent-stay")
    await dialog.wait_for(state="detached")
    assert page.url.endswith("deputy.html#meeting")
    await page.select_option("#lang", "en")
    await page.wait_for_selector("#outbox li[data-outbox]")
    await page.click("#logout")
    await dialog.wait_for()
    said = await dialog.inner_text()
    assert "1 not sent yet" in said and "Delete them and log out" in said
    await page.click("#unsent-discard")
    await page.wait_for_url("**/index.html*")
    await page.context.set_offline(False)
    await page.fill("#username", "daibiao1")
    await page.fill("#password", demo.PASSWORD)
    await page.click("#submit")
    await page.wait_for_url("**/deputy.html*")
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    assert await page.locator("#outbox").is_hidden()
    assert await _opinions(demo_hub, text) == 0
    assert page.js_errors == []
