"""Every page loads without a single failed request (no 404 for the icon or anything else)."""

from __future__ import annotations

from typing import Any

from hub import demo
from tests.browser.conftest import TIMEOUT_MS, Demo, wait_until

PAGES = (
    ("daibiao1", "deputy"),
    ("mishu", "secretariat"),
    ("jiaotong", "unit"),
    ("jiandu", "supervisor"),
    ("admin", "admin"),
)


async def _icon(page: Any) -> str:
    """The address of the icon ``page`` names."""
    href = await page.evaluate("() => document.querySelector('link[rel=icon]')?.href ?? null")
    assert isinstance(href, str), f"{page.url} names no icon"
    return href


async def test_login_and_every_role_page_have_no_failed_request(
    browser: Any, demo_hub: Demo
) -> None:
    """The login page and each role's page: no response with status >= 400, the icon each
    names is served, and nothing is refused by the Content-Security-Policy."""
    for user, page_name in PAGES:
        ctx = await browser.new_context(locale="zh-CN", base_url=demo_hub.url)
        ctx.set_default_timeout(TIMEOUT_MS)
        failed: list[str] = []
        refused: list[str] = []
        ctx.on(
            "response",
            lambda r, f=failed: f.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page = await ctx.new_page()
        page.on(
            "console",
            lambda m, r=refused: r.append(m.text) if "Security Policy" in m.text else None,
        )
        await page.goto("/")
        icons = [await _icon(page)]
        await page.fill("#username", user)
        await page.fill("#password", demo.PASSWORD)
        await page.click("#submit")
        await page.wait_for_selector("#user-name")
        await wait_until(page, "() => window.hubClient && window.hubClient.state === 'online'")
        assert f"/static/{page_name}.html" in page.url, page.url
        icons.append(await _icon(page))
        # Chromium fetches a page's icon outside the page, unseen by response events:
        # ask for the very address each page names.
        for icon in icons:
            r = await ctx.request.get(icon)
            assert r.status == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert failed == [], (user, failed)
        assert refused == [], (user, refused)
        await ctx.close()
