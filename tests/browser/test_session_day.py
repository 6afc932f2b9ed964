"""A day of a city congress run from the browser alone, from an empty database.

The engineer creates the first admin account (``hub user add``) on a freshly migrated
database; everything after is done in Chromium, in zh-CN, at 1366 px for the admin, the
secretariat and the supervisor and at 360 px for the deputies and the unit:

1. the admin creates the meeting, imports the roster spreadsheet (secretariat, supervisor,
   a unit's clerk, deputies of two delegations) and prints the first passwords;
2. each person logs in with their first password and chooses their own;
3. the secretariat schedules a plenary and a group deliberation, an agenda item, and sends
   a notice to the whole meeting (confirming the count);
4. the deputies read it, check in, ask for leave (approved), request to speak (started
   and ended by the convenor), send an opinion; the secretariat hands it to the unit,
   which signs and replies; the deputy rates the reply;
5. the secretariat closes both sittings;
6. the supervisor reads the attendance, the statistics and a deputy's performance file,
   each saying what happened.

Each step's screen is saved in ``test-artifacts/day-NN-*.png``; with
``HUB_DOC_SCREENSHOTS=1`` also in ``docs/img/`` (the README shows them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.browser.conftest import TIMEOUT_MS, need_chromium, shot, wait_until
from tests.utils.databases import new_sqlite
from tests.utils.servers import running_hub, settings_for

ZONE = "Asia/Shanghai"
ADMIN_PASSWORD = "管理员的开机密码2026"
MEETING = "市第十六届人民代表大会第三次会议"
ROSTER = (
    "用户名,姓名,角色,代表团,单位,手机,首选联系方式\r\n"
    "mishu,王秘书,秘书处,,,,\r\n"
    "gongwei,赵工委,代表工委,,,,\r\n"
    "jtj,钱承办,承办单位,,市交通运输局,,\r\n"
    + "".join(
        f"d0{i},{name},代表,{dele},,1390571000{i},电话\r\n"
        for i, (name, dele) in enumerate(
            [
                ("张建国", "东城区代表团"),
                ("李秀英", "东城区代表团"),
                ("王海峰", "东城区代表团"),
                ("陈丽华", "西城区代表团"),
                ("刘志强", "西城区代表团"),
                ("杨晓梅", "西城区代表团"),
            ],
            start=1,
        )
    )
)
OPINION = "建议在城东新区增设公交线路，方便群众出行。"
LATIN = re.compile(r"\b[a-z_]{4,}\b")  # raw codes (state names, kinds) on a zh-CN page


async def step(page: Any, n: int, name: str, section: str | None = None) -> None:
    await shot(page, f"day-{n:02d}-{name}", full_page=False, section=section, doc=True)


async def context(browser: Any, url: str, width: int) -> Any:
    ctx = await browser.new_context(
        viewport={"width": width, "height": 860 if width > 800 else 740},
        locale="zh-CN",
        base_url=url,
        timezone_id=ZONE,
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors
    return page


async def log_in(page: Any, username: str, password: str) -> None:
    await page.goto("/")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#submit")
    await page.wait_for_selector("#user-name")
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")


async def first_login(browser: Any, url: str, username: str, temp: str, width: int) -> Any:
    """Log in with a first password, choose one's own, land on one's page."""
    page = await context(browser, url, width)
    await page.goto("/")
    await page.fill("#username", username)
    await page.fill("#password", temp)
    await page.click("#submit")
    await page.wait_for_selector("#first:not([hidden])")
    own = "我自己定的新密码2026"
    await page.fill("#new-password", own)
    await page.fill("#new-again", own)
    await page.click("#first-submit")
    await page.wait_for_selector("#user-name")
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    return page


def wall(dt: datetime) -> str:
    """A datetime-local input's value in the hub's zone."""
    return dt.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


USERNAMES = {"admin", "mishu", "gongwei", "jtj", *(f"d0{i}" for i in range(1, 7))}


def no_raw_codes(text: str, where: str, allowed: set[str] = USERNAMES) -> None:
    """No state name, kind or key: only the people's usernames (and what ``allowed``
    adds) may be Latin words on a zh-CN page."""
    found = [w for w in LATIN.findall(text) if w not in allowed | {"xlsx", "csv"}]
    assert not found, f"{where}: {found}"
    assert "[object" not in text and "undefined" not in text, where


async def test_a_day_of_session_from_an_empty_database(browser: Any, tmp_path: Path) -> None:
    need_chromium()
    db = await new_sqlite(tmp_path)
    env = {**os.environ, "HUB_DATABASE_URL": db, "HUB_DATA_DIR": str(tmp_path)}
    made = subprocess.run(
        [sys.executable, "-m", "hub", "user", "add", "--username", "admin", "--role", "admin",
         "--name", "系统管理员", "--password", ADMIN_PASSWORD],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    async with running_hub(settings_for(db, tmp_path)) as hub:
        url = hub.url
        await day(browser, url)


async def day(browser: Any, url: str) -> None:
    now = datetime.now(ZoneInfo(ZONE))

    # 1. The admin: the meeting, the roster, the first passwords.
    admin = await context(browser, url, 1366)
    await log_in(admin, "admin", ADMIN_PASSWORD)
    assert "/static/admin.html" in admin.url
    await admin.fill("#m-title", MEETING)
    await admin.fill("#m-starts", now.strftime("%Y-%m-%d"))
    await admin.fill("#m-ends", (now + timedelta(days=3)).strftime("%Y-%m-%d"))
    await admin.click("#m-save")
    await admin.locator("#meeting-list li", has_text=MEETING).wait_for()
    await admin.locator("#changes-list li", has_text=MEETING).wait_for()
    await admin.wait_for_selector("#roster-file")
    await admin.set_input_files(
        "#roster-file",
        files=[{"name": "代表名册.csv", "mimeType": "text/csv", "buffer": ROSTER.encode()}],
    )
    await admin.wait_for_selector("#roster-ready")
    counts = await admin.locator("#roster-counts").inner_text()
    assert "新增 9" in counts and "错误 0" in counts, counts
    await step(admin, 1, "admin-roster-preview")
    await admin.click("#roster-import")
    await admin.wait_for_selector("#roster-done")
    await admin.click("#roster-issue")
    await admin.wait_for_selector("#roster-slips")
    slips: dict[str, str] = {}
    for row in await admin.locator("#roster-slips tbody tr").all():
        cells = await row.locator("td").all_inner_texts()
        slips[cells[0]] = cells[3]
    assert sorted(slips) == ["d01", "d02", "d03", "d04", "d05", "d06", "gongwei", "jtj", "mishu"]
    await step(admin, 2, "admin-first-passwords", "#roster")
    parts = {p for pw in slips.values() for p in pw.split("-")}
    no_raw_codes(await admin.locator("#main").inner_text(), "admin console", USERNAMES | parts)
    await admin.locator("#changes-list li", has_text="系统管理员").first.wait_for()

    # 2. Everyone chooses their own password.
    sec = await first_login(browser, url, "mishu", slips["mishu"], 1366)
    assert "/static/secretariat.html" in sec.url
    d1 = await first_login(browser, url, "d01", slips["d01"], 360)
    d2 = await first_login(browser, url, "d02", slips["d02"], 360)
    unit = await first_login(browser, url, "jtj", slips["jtj"], 360)
    await step(d1, 3, "deputy-first-login")

    # 3. The secretariat's schedule and a notice to all.
    await sec.fill("#s-title", "第一次全体会议")
    await sec.fill("#s-starts", wall(now - timedelta(minutes=10)))
    await sec.fill("#s-ends", wall(now + timedelta(hours=3)))
    await sec.fill("#s-place", "人民大会堂")
    await sec.click("#s-save")
    plenary = sec.locator("#setup-sittings li", has_text="第一次全体会议")
    await plenary.wait_for()
    await sec.select_option("#s-kind", "group")
    await sec.select_option("#s-delegation", label="东城区代表团")
    await sec.fill("#s-title", "东城区代表团分组审议")
    await sec.fill("#s-starts", wall(now - timedelta(minutes=5)))
    await sec.fill("#s-ends", wall(now + timedelta(hours=3)))
    await sec.fill("#s-place", "第三会议室")
    await sec.click("#s-save")
    group = sec.locator("#setup-sittings li", has_text="东城区代表团分组审议")
    await group.wait_for()
    await sec.fill("#a-title", "审议政府工作报告")
    await sec.click("#agenda-form button[type=submit]")
    await sec.locator("#setup-agenda li", has_text="审议政府工作报告").wait_for()
    await step(sec, 4, "secretariat-schedule", "#setup")

    await sec.fill("#n-title", "关于第一次全体会议的通知")
    await sec.fill("#n-text", "请各位代表今天上午准时出席，凭手机签到。")
    await sec.click("#n-send")
    await sec.wait_for_selector("#n-confirm-send:not([hidden])")
    assert await sec.locator("#n-confirm-text").inner_text() == "发送给 6 人，确认发送？"
    await sec.click("#n-confirm-yes")
    await sec.locator("#notice-list li.notice-sent", has_text="关于第一次全体会议的通知").wait_for()

    # 4. The deputies: the notice, check-in, leave, a speech, an opinion.
    await d1.click("#tab-notices")
    notice = d1.locator("#notices li.notice", has_text="关于第一次全体会议的通知")
    await notice.wait_for()
    await notice.locator("button.open").click()
    await step(d1, 5, "deputy-notice")
    await d1.click("#tab-meeting")
    mine = d1.locator("#my-sittings li", has_text="第一次全体会议")
    await mine.locator("button.checkin").click()
    await d1.wait_for_selector("#my-sittings li[data-state='checked_in']")
    grp1 = d1.locator("#my-sittings li", has_text="东城区代表团分组审议")
    await grp1.locator("button.checkin").click()
    await wait_until(
        d1, "document.querySelectorAll(\"#my-sittings li[data-state='checked_in']\").length === 2"
    )
    await d2.click("#tab-meeting")
    await d2.locator("#my-sittings li", has_text="第一次全体会议").locator("button.checkin").click()
    await d2.wait_for_selector("#my-sittings li[data-state='checked_in']")
    grp2 = d2.locator("#my-sittings li", has_text="东城区代表团分组审议")
    await grp2.locator("button.leave").click()
    await grp2.locator("textarea").fill("参加市政府专题会议")
    await grp2.locator("form.leave-form button[type=submit]").click()
    group_id = await group.get_attribute("data-sitting")
    await sec.select_option("#att-sitting", group_id)
    leave = sec.locator("#att-groups li[data-status='leave_pending']")
    await leave.wait_for()
    await leave.locator("button.primary").click()
    await sec.wait_for_selector("#att-groups li[data-status='on_leave']")
    await d2.wait_for_selector("#my-sittings li[data-state='leave:approved']")
    await step(sec, 6, "secretariat-attendance", "#attendance")

    await d1.select_option("#spk-sitting", group_id)
    await d1.click("#spk-request")
    waiting = d1.locator('#my-speech [data-status="waiting"]')
    await waiting.wait_for()
    request_id = await waiting.get_attribute("data-request")
    await sec.select_option("#spk-sitting", group_id)
    await sec.select_option("#spk-item", await d1.locator("#spk-item").input_value())
    queued = sec.locator(f'#spk-waiting li[data-request="{request_id}"]')
    await queued.wait_for()
    await queued.locator("button.primary").click()
    await d1.wait_for_selector(f'#my-speech [data-request="{request_id}"][data-status="speaking"]')
    await step(sec, 7, "secretariat-speech-timer", "#speakers")
    await sec.locator(
        f'#spk-box [data-request="{request_id}"][data-status="speaking"] button'
    ).click()
    await d1.wait_for_selector(f'[data-request="{request_id}"][data-status="done"]')

    await d1.fill("#op-text", OPINION)
    await d1.click("#op-send")
    op = d1.locator("#my-opinions li[data-opinion]", has_text="城东新区")
    await op.wait_for()
    opinion_id = await op.get_attribute("data-opinion")
    await step(d1, 8, "deputy-meeting")

    # The secretariat hands it to the unit; the unit signs and replies; the deputy rates.
    row = sec.locator(f'#opinion-list li[data-opinion="{opinion_id}"]')
    await row.wait_for()
    await row.locator("button.op-commit").click()
    await sec.wait_for_selector(f'#it-opinions li[data-opinion="{opinion_id}"]')
    await sec.fill("#it-title", "城东新区增设公交线路")
    await sec.fill("#it-lead", "交通")
    await sec.locator('#item-form [role="option"]', has_text="市交通运输局").click()
    await sec.click("#it-send")
    card = sec.locator("#item-list li.item", has_text="城东新区增设公交线路")
    await card.wait_for()
    item_id = await card.get_attribute("data-item")
    ucard = unit.locator(f'#todo li.item[data-item="{item_id}"]')
    await ucard.wait_for()
    await step(unit, 9, "unit-handover")
    await ucard.locator("button.act-sign").click()
    await sec.wait_for_selector(
        f'#item-list li.item[data-item="{item_id}"][data-state="in_progress"]'
    )
    await ucard.locator("button.act-reply").click()
    await ucard.locator("select[name=grade]").select_option("A")
    await ucard.locator("textarea[name=text]").fill("已新开通 K12 路公交，途经城东新区。")
    await ucard.locator("form.form-reply button[type=submit]").click()
    await d1.click("#tab-items")
    dcard = d1.locator(f'#my-items li.item[data-item="{item_id}"]')
    await d1.wait_for_selector(f'#my-items li.item[data-item="{item_id}"][data-state="replied"]')
    await dcard.locator("button.act-evaluate").click()
    await dcard.locator("input[value=satisfied]").check()
    await dcard.locator("form.form-evaluate button[type=submit]").click()
    await d1.wait_for_selector(f'#my-items li.item[data-item="{item_id}"][data-state="closed"]')
    await step(d1, 10, "deputy-item-rated")

    # A suggestion from the other deputy, on the phone.
    await d2.click("#tab-items")
    await d2.fill("#sg-title", "关于延长地铁末班车时间的建议")
    await d2.fill("#sg-text", "建议将地铁末班车延长至 23:30，方便夜间返程的群众。")
    await d2.click("#sg-send")
    sug = d2.locator("#my-items li.item", has_text="关于延长地铁末班车时间的建议")
    await sug.wait_for()
    no_raw_codes(await sug.inner_text(), "deputy's suggestion")

    # 5. The secretariat closes both sittings.
    for li in (plenary, group):
        close = li.locator("button[data-close]")
        await close.click()
        assert await close.inner_text() == "确认结束？再点一次"
        await close.click()
        await li.locator("button[data-close]").wait_for(state="detached")
    plenary_id = await plenary.get_attribute("data-sitting")
    await sec.select_option("#att-sitting", plenary_id)
    # Closed: the rate is final (no longer "as of now"), 2 of the 6 deputies checked in.
    await wait_until(
        sec, "() => document.querySelector('#att-rate')?.textContent.startsWith('出席率：')"
    )
    rate = await sec.inner_text("#att-rate")
    assert rate == "出席率：33.3%", rate
    await step(sec, 11, "secretariat-closed", "#attendance")
    no_raw_codes(await sec.locator("#main").inner_text(), "secretariat console")

    # 6. The supervisor: attendance, statistics, the deputy's file.
    sup = await first_login(browser, url, "gongwei", slips["gongwei"], 1366)
    await sup.wait_for_selector("#st-attendance b")
    await wait_until(
        sup, "() => document.querySelector('#st-attendance b')?.textContent.trim() !== '—'"
    )
    assert await sup.inner_text("#st-suggestions b") == "1"
    await step(sup, 13, "supervisor-statistics", "#stats")
    await sup.fill("#file-deputy", "")
    await sup.type("#file-deputy", "张建国", delay=30)
    await sup.locator("#file-deputy ~ .picker-list li", has_text="张建国").first.click()
    await sup.click("#file-open")
    file = sup.locator("#file-out .perf-file")
    await file.wait_for()
    text = await file.inner_text()
    for want in ("张建国", "城东新区", "第一次全体会议", "东城区代表团分组审议", "已办结"):
        assert want in text, (want, text)
    no_raw_codes(text, "performance file")
    await step(sup, 12, "supervisor-file", "#file-out")

    for p in (admin, sec, d1, d2, unit, sup):
        assert p.js_errors == [], p.js_errors
        await p.context.close()
