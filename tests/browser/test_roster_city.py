"""The roster import in the browser, zh-CN at 1366 px, at a city's size (``hub demo --size
city``: 400 deputies with phones): the admin chooses an Excel file of 1,000 rows (the 400
deputies as the hub holds them, a few new phone numbers, 600 new deputies), sees its
errors first in Chinese with 导入 disabled, fixes the file, previews a page at a time,
imports, and the same file again has nothing to import; the secretariat of the meeting
may import deputies only; and a unit reads the phone of the deputy of its item.

The city is seeded once per run and copied for each test (``city`` in ``conftest.py``)."""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
import orjson
import sqlalchemy as sa

from hub.session.schema import delegations, meeting_participants, users
from hub.store.engine import make_engine
from hub.store.schema import messages
from tests.browser.conftest import ARTIFACTS, Demo, api, open_as, wait_until

WIDTH = 1366
HEADER = ["用户名", "姓名", "角色", "代表团", "单位", "手机", "首选联系方式", "参加会议"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SEEDED_IMPORTS = 2  # the city's own rosters (hub.demo_city): staff and units, deputies
MAX_TABLE_ELEMENTS = 600  # one page of 50 rows of 5 cells, and the pager
LATIN = re.compile(r"[A-Za-z]")


async def roster_rows(city: Demo) -> list[list[Any]]:
    """The city's deputies as a roster sheet lists them (the hub's values exactly)."""
    engine = make_engine(city.db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(users.c.username, users.c.name, delegations.c.name, users.c.phone)
                .join(delegations, delegations.c.id == users.c.delegation_id)
                .where(users.c.role == "deputy")
                .order_by(users.c.username)
            )
            return [[u, n, "代表", d, None, int(p), None, None] for u, n, d, p in rows]
    finally:
        await engine.dispose()


def xlsx(rows: list[list[Any]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["市第七届人民代表大会第五次会议代表名册"])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def shot(page: Any, name: str, section: str = "#roster") -> None:
    """A screenshot of the section alone (the page is long at a city's size)."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator(section).screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def choose(page: Any, name: str, data: bytes, mime: str = XLSX) -> None:
    await page.set_input_files(
        "#roster-file", files=[{"name": name, "mimeType": mime, "buffer": data}]
    )


async def test_admin_previews_fixes_and_imports_a_thousand_rows(browser: Any, city: Demo) -> None:
    """1,000 rows with two in error: the errors come first with their reasons in Chinese,
    the counts say so and 导入 stays disabled; the fixed file previews 50 rows a page
    with the changes named; 导入 writes it (the result, the new delegation, one log
    message); the same file again is all 无变化 with 导入 disabled."""
    rows = await roster_rows(city)
    assert len(rows) == 400
    for r in rows[:5]:
        r[5] = 13800000000 + int(r[0][1:])  # a new mobile number
        r[6] = "微信"
    new = [
        [f"x{i:03d}", f"新代表{i}", "代表", "新区代表团", None, None, "当面", None]
        for i in range(600)
    ]
    broken = [*rows, *new]
    broken[700] = [*broken[700][:5], "12345", "飞鸽", None]  # a bad phone and contact
    broken[900] = ["d001", *broken[900][1:]]  # a username used twice
    page = await open_as(browser, city.url, "admin", width=WIDTH)
    await page.wait_for_selector("#roster:not([hidden]) #roster-file")
    await choose(page, "名册.xlsx", xlsx(broken))
    await page.wait_for_selector("#roster-counts")
    counts = await page.locator("#roster-counts").inner_text()
    assert "错误 2" in counts and "新增 598" in counts and "更新 5" in counts, counts
    assert "无变化 395" in counts, counts
    assert await page.locator("#roster-import").is_disabled()
    assert "2 行错误" in await page.locator("#roster-blocked").inner_text()
    assert await page.locator("#roster-filter").input_value() == "error"
    first = page.locator("#roster-rows tr").first
    assert await first.get_attribute("data-row") == "703"  # spreadsheet row: title, header
    reasons = await page.locator(
        "#roster-rows tr[data-result='error'] td:nth-child(5)"
    ).all_inner_texts()
    assert any("手机号码格式不对" in r for r in reasons), reasons
    assert any("首选联系方式「飞鸽」无法识别" in r for r in reasons), reasons
    assert any("用户名与第 3 行重复" in r for r in reasons), reasons
    for r in reasons:
        assert not LATIN.search(r), r
    await shot(page, "roster-errors")

    fixed = [*rows, *new]
    await choose(page, "名册（修改后）.xlsx", xlsx(fixed))
    await wait_until(page, "() => document.querySelector('#roster-ready') !== null")
    assert await page.locator("#roster-import").is_enabled()
    counts = await page.locator("#roster-counts").inner_text()
    assert "新增 600" in counts and "更新 5" in counts and "错误 0" in counts, counts
    assert "将新建代表团：新区代表团" in await page.locator("#roster-new-delegations").inner_text()
    assert await page.locator("#roster-filter").input_value() == "all"
    assert await page.locator("#roster-page").inner_text() == "第 1 / 20 页（共 1000 行）"
    assert await page.locator("#roster-rows tr").count() == 50
    size = await page.evaluate(
        "document.getElementById('roster-table').getElementsByTagName('*').length"
    )
    assert size <= MAX_TABLE_ELEMENTS, size
    await page.click("#roster-next")
    assert await page.locator("#roster-page").inner_text() == "第 2 / 20 页（共 1000 行）"
    await page.select_option("#roster-filter", "updated")
    updated = await page.locator("#roster-rows tr td:nth-child(5)").all_inner_texts()
    assert updated == ["变更：手机、首选联系方式"] * 5, updated
    await shot(page, "roster-preview")

    await page.click("#roster-import")
    await page.wait_for_selector("#roster-done")
    assert (
        await page.locator("#roster-done").inner_text()
        == "已导入：新增 600 个账号，更新 5 个，无变化 395 个。"
    )
    assert await page.locator("#roster-import").is_disabled()
    assert "已新建代表团：新区代表团" in await page.locator("#roster-new-delegations").inner_text()
    await shot(page, "roster-imported")
    engine = make_engine(city.db_url)
    try:
        async with engine.connect() as conn:
            n = await conn.scalar(
                sa.select(sa.func.count()).select_from(users).where(users.c.role == "deputy")
            )
            log = (
                (
                    await conn.execute(
                        sa.select(messages.c.body)
                        .where(messages.c.kind == "roster.imported")
                        .order_by(messages.c.id)
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    assert n == 1000 and len(log) == SEEDED_IMPORTS + 1
    body = orjson.loads(log[-1])["roster"]
    assert (body["new"], body["updated"], body["created_delegations"]) == (600, 5, ["新区代表团"])
    assert not re.search(r"1[3-9]\d{9}", log[-1])

    await choose(page, "名册（修改后）.xlsx", xlsx(fixed))
    await wait_until(page, "() => document.querySelector('#roster-nothing') !== null")
    assert "无变化 1000" in await page.locator("#roster-counts").inner_text()
    assert await page.locator("#roster-import").is_disabled()
    text = await page.locator("#roster").inner_text()
    assert "roster" not in text and "undefined" not in text and "[object" not in text
    assert page.js_errors == []
    await page.context.close()


async def test_secretariat_imports_deputies_only(browser: Any, city: Demo) -> None:
    """The meeting's secretariat (mishu) has the import in its console; a GBK CSV with a
    unit account's row gets that row's reason in Chinese and no 导入; a file of a deputy
    is imported; a file that is no roster is said so in Chinese."""
    page = await open_as(browser, city.url, "mishu", width=WIDTH)
    await page.wait_for_selector("#roster:not([hidden]) #roster-file")
    sheet = ",".join(HEADER) + "\nnew01,钱学文,代表,定海区代表团,,13905801234,电话,是\n"
    await choose(page, "名册.csv", (sheet + "dw01,某承办员,,,,,,\n").encode("gbk"), "text/csv")
    await page.wait_for_selector("#roster-blocked")
    reason = await page.locator("#roster-rows tr[data-result='error'] td:nth-child(5)").inner_text()
    assert "大会秘书处只能导入代表，此行是「承办单位」账号" in reason, reason
    assert await page.locator("#roster-import").is_disabled()
    await choose(page, "名册.csv", sheet.encode("gbk"), "text/csv")
    await wait_until(page, "() => document.querySelector('#roster-ready') !== null")
    await page.click("#roster-import")
    await page.wait_for_selector("#roster-done")
    assert "新增 1 个账号" in await page.locator("#roster-done").inner_text()
    await choose(page, "说明.pdf", b"%PDF-1.4\x00\x01", "application/pdf")
    await page.wait_for_selector("#roster-problem")
    assert "请上传 CSV 或 Excel（.xlsx）文件" in await page.locator("#roster-problem").inner_text()
    assert page.js_errors == []
    await page.context.close()


async def test_unit_sees_the_phone_of_its_items_deputy(browser: Any, city: Demo) -> None:
    """A unit opens an item handed to it: the deputy's name, phone (a tel: link) and
    preferred contact, in Chinese; the roster gave them."""
    admin, sec, dep = [await api(city, u) for u in ("admin", "mishu", "d001")]
    try:
        data = (",".join(HEADER) + "\nd001,,,,,13905807788,微信,\n").encode()
        d001 = await dep.get("/api/me")
        name = d001.json()["name"]
        data = data.replace(b"d001,,", f"d001,{name},".encode())
        r = await admin.post(f"/api/meetings/{city.ids['meeting_id']}/roster/import", content=data)
        assert r.status_code == 200 and r.json()["counts"]["updated"] == 1, r.text
        r = await dep.post(
            "/api/opinions",
            json={"meeting_id": city.ids["meeting_id"], "text": "建议延长夜间公交运营时间。"},
        )
        r.raise_for_status()
        r = await sec.post(
            "/api/items",
            json={
                "opinion_ids": [r.json()["id"]],
                "title": "马上办：夜间公交",
                "lead_unit_id": city.ids["unit_ids"][0],
            },
        )
        r.raise_for_status()
        item = r.json()["id"]
    finally:
        for c in (admin, sec, dep):
            await c.aclose()
    page = await open_as(browser, city.url, "dw01", width=WIDTH)
    card = page.locator(f'li.item[data-item="{item}"]').first
    await card.wait_for()
    await card.locator("button.details").click()
    contact = card.locator(".contacts li").first
    await contact.wait_for()
    text = await contact.inner_text()
    assert name in text and "13905807788" in text and "首选：微信" in text, text
    assert await contact.locator("a").get_attribute("href") == "tel:13905807788"
    await shot(page, "roster-unit-contacts", f'li.item[data-item="{item}"] >> nth=0')
    assert page.js_errors == []
    await page.context.close()


async def test_the_city_is_seeded_through_the_roster_import(city: Demo) -> None:
    """``hub demo --size city`` makes its accounts as a congress would: the first two
    messages on the meeting's desk are the admin's roster import (the secretariat, the
    supervisor, 50 units and their clerks) and the secretariat's (400 deputies in 25 new
    delegations, each a participant with the mobile the roster gave), with no phone
    number in the log."""
    engine = make_engine(city.db_url)
    try:
        async with engine.connect() as conn:
            desk = (
                await conn.execute(
                    sa.select(messages.c.kind, messages.c.sender_role, messages.c.body)
                    .where(messages.c.channel == f"desk:{city.ids['meeting_id']}")
                    .order_by(messages.c.seq)
                    .limit(2)
                )
            ).all()
            deputies = (
                await conn.execute(
                    sa.select(users.c.phone, meeting_participants.c.meeting_id)
                    .select_from(users)
                    .outerjoin(meeting_participants, meeting_participants.c.user_id == users.c.id)
                    .where(users.c.role == "deputy")
                )
            ).all()
    finally:
        await engine.dispose()
    assert [(k, r) for k, r, _ in desk] == [
        ("roster.imported", "admin"),
        ("roster.imported", "secretariat"),
    ]
    staff, deps = (orjson.loads(b)["roster"] for _, _, b in desk)
    assert (staff["new"], len(staff["created_units"]), staff["joined"]) == (52, 50, 1)
    assert (deps["new"], len(deps["created_delegations"]), deps["joined"]) == (400, 25, 400)
    assert len(deputies) == 400
    assert all(phone and m == city.ids["meeting_id"] for phone, m in deputies)
    for _, _, b in desk:
        assert not re.search(r"1[3-9]\d{9}", b)
