"""The pages under the hub's Content-Security-Policy, download links, the password form
and server-side logout, in Chromium against a real hub."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.conftest import Demo, open_as, wait_until

SESSION = "JSON.parse(sessionStorage.getItem('hub:session')).token"


async def _me(url: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=url) as http:
        return (await http.get("/api/me", headers={"authorization": f"Bearer {token}"})).status_code


async def test_pages_run_under_the_csp_and_links_carry_no_session_token(
    browser: Any, demo_hub: Demo
) -> None:
    """Every role's page loads under the CSP without a violation; a deputy's document link
    opens the document through a download token, and no URL holds the session token."""
    for user in ("daibiao1", "mishu", "jiaotong", "jiandu", "admin"):
        page = await open_as(browser, demo_hub.url, user)
        refused: list[str] = []
        page.on(
            "console",
            lambda m, r=refused: r.append(m.text) if "Security Policy" in m.text else None,
        )
        await page.reload()
        await page.wait_for_selector("#user-name")
        assert refused == [] and page.js_errors == [], (user, refused, page.js_errors)
        if user == "daibiao1":
            session = await page.evaluate(SESSION)
            await page.click("#tab-meeting")
            link = page.locator("#my-docs li a").first
            href = await link.get_attribute("href")
            assert href is not None and session not in href
            async with page.expect_popup() as popup:
                await link.click()
            doc = await popup.value
            await doc.wait_for_load_state()
            assert "download=" in doc.url and session not in doc.url
            assert "无法" not in await doc.content() and "unauthorized" not in await doc.content()
        await page.context.close()


async def test_password_form_and_logout_revoke_tokens_on_the_server(
    browser: Any, demo_hub: Demo
) -> None:
    """The header's password form changes the password (a mismatch is caught first): the
    old token is dead, this browser stays logged in with a new one (said in Chinese) and
    its live connection comes back, another browser of the person goes to the login page;
    logout kills the token too."""
    page = await open_as(browser, demo_hub.url, "daibiao1")
    other = await open_as(browser, demo_hub.url, "daibiao1")
    token = await page.evaluate(SESSION)
    await page.click("#password-change")
    await page.fill("#pw-current", "demo2026")
    await page.fill("#pw-new", "Lantern-Quay-2026")
    await page.fill("#pw-confirm", "Lantern-Quay-2027")
    await page.click("#password-form button[type=submit]")
    await page.wait_for_selector("#password-form .error-line:not([hidden])")
    await page.fill("#pw-confirm", "Lantern-Quay-2026")
    await page.click("#password-form button[type=submit]")
    await page.wait_for_selector("#flash :text('密码已修改。其他设备已退出登录')")
    assert await _me(demo_hub.url, token) == 401
    assert await _me(demo_hub.url, await page.evaluate(SESSION)) == 200
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    await other.wait_for_url("**/static/index.html?reason=*")
    await page.reload()
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    assert "/static/deputy.html" in page.url
    assert page.js_errors == [] and other.js_errors == []
    await page.context.close()
    await other.context.close()

    page = await open_as(browser, demo_hub.url, "mishu")
    token = await page.evaluate(SESSION)
    assert await _me(demo_hub.url, token) == 200
    await page.click("#logout")
    await page.wait_for_url("**/static/index.html?reason=loggedOut")
    assert await _me(demo_hub.url, token) == 401
    await page.context.close()
