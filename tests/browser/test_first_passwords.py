"""First passwords in the browser: the admin imports three new deputies, issues their
first passwords (shown once as slips to print or save), and a new deputy logs in with
one on a phone, is asked to choose their own (in Chinese, and in English on a phone set
to English), and lands on the deputy page."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, Demo, open_as, wait_until

CSV = "用户名,姓名,角色,代表团\r\nxin1,新代表甲,代表,{d}\r\nxin2,新代表乙,代表,{d}\r\nxin3,新代表丙,代表,{d}\r\n"
OWN = "我的新密码是2026年"


async def _import_and_issue(browser: Any, demo_hub: Demo) -> dict[str, str]:
    page = await open_as(browser, demo_hub.url, "admin", width=1366)
    await page.wait_for_selector("#roster:not([hidden]) #roster-file")
    data = CSV.format(d="城东代表团").encode("utf-8")
    await page.set_input_files(
        "#roster-file", files=[{"name": "新代表.csv", "mimeType": "text/csv", "buffer": data}]
    )
    await page.wait_for_selector("#roster-ready")
    await page.click("#roster-import")
    await page.wait_for_selector("#roster-done")
    issue = page.locator("#roster-issue")
    assert await issue.inner_text() == "为 3 个新账号生成初始密码"
    await issue.click()
    await page.wait_for_selector("#roster-slips")
    assert (
        await page.locator("#roster-once").inner_text()
        == "已生成 3 个初始密码。它们只显示这一次，请立即打印或保存。"
    )
    heads = await page.locator("#roster-slips th").all_inner_texts()
    assert heads == ["用户名", "姓名", "代表团/单位", "初始密码"]
    slips: dict[str, str] = {}
    for row in await page.locator("#roster-slips tbody tr").all():
        cells = await row.locator("td").all_inner_texts()
        assert cells[2] == "城东代表团", cells
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", cells[3]), cells
        slips[cells[0]] = cells[3]
    assert sorted(slips) == ["xin1", "xin2", "xin3"]
    async with page.expect_download() as dl:
        await page.click("#roster-slips-csv")
    download = await dl.value
    assert download.suggested_filename.endswith("-初始密码.csv")
    saved = (await download.path()).read_text(encoding="utf-8-sig")
    assert all(p in saved for p in slips.values()) and "新代表甲" in saved
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator("#roster").screenshot(path=str(ARTIFACTS / "roster-first-passwords.png"))
    assert page.js_errors == []
    await page.context.close()
    return slips


async def _login(browser: Any, demo_hub: Demo, locale: str, username: str, password: str) -> Any:
    ctx = await browser.new_context(
        viewport={"width": 360, "height": 740}, locale=locale, base_url=demo_hub.url
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors
    await page.goto("/")
    if locale != "zh-CN":  # the pages speak Chinese unless the person chose English
        await page.evaluate("localStorage.setItem('hub:lang', 'en')")
        await page.reload()
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#submit")
    await page.wait_for_selector("#first:not([hidden])")
    return page


async def test_new_deputy_chooses_their_own_password(browser: Any, demo_hub: Demo) -> None:
    slips = await _import_and_issue(browser, demo_hub)

    page = await _login(browser, demo_hub, "zh-CN", "xin1", slips["xin1"])
    assert await page.locator("#login").is_hidden()
    text = await page.locator("#first").inner_text()
    for want in ("设置您自己的密码", "它只能用来设置您自己的密码", "新密码", "再次输入新密码"):
        assert want in text, text
    assert not re.search(r"[A-Za-z]", text), text
    await page.fill("#new-password", OWN)
    await page.fill("#new-again", OWN + "x")
    await page.click("#first-submit")
    assert await page.locator("#errors").inner_text() == "两次输入的新密码不一致。"
    await page.fill("#new-password", "aaaaabbbbb")
    await page.fill("#new-again", "aaaaabbbbb")
    await page.click("#first-submit")
    await page.locator("#errors", has_text="密码至少要用 5 个不同的字符。").wait_for()
    await page.fill("#new-password", OWN)
    await page.fill("#new-again", OWN)
    await page.click("#first-submit")
    try:
        await page.wait_for_selector("#user-name")
    except Exception:
        raise AssertionError(await page.locator("#errors").inner_text() + page.url) from None
    assert "/static/deputy.html" in page.url
    assert await page.locator("#user-name").inner_text() == "新代表甲"
    assert page.js_errors == []
    await page.context.close()

    en = await _login(browser, demo_hub, "en", "xin2", slips["xin2"])
    text = await en.locator("#first").inner_text()
    assert "Choose your own password" in text, text
    assert not re.search(r"[\u4e00-\u9fff]", text), text
    await en.fill("#new-password", "my-own-password-2026")
    await en.fill("#new-again", "my-own-password-2026")
    await en.click("#first-submit")
    await en.wait_for_selector("#user-name")
    await wait_until(en, "window.hubClient && window.hubClient.state === 'online'")
    assert en.js_errors == []
    await en.context.close()
