"""A browser's lasting login in Chromium: a new tab of a browser that logged in is logged
in; the person sees their browsers and signs another one out, whose page goes to the
login page; the header still fits a 360 px phone."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, wait_until

ONLINE = "window.hubClient && window.hubClient.state === 'online'"


async def new_tab(page: Any, url: str) -> Any:
    """Another tab of ``page``'s browser, opening ``url``, its script errors recorded."""
    tab = await page.context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.js_errors = errors
    await tab.goto(url)
    return tab


async def test_a_new_tab_is_logged_in(browser: Any, demo_hub: Demo) -> None:
    """After logging in once, a new tab of the same browser opens the deputy page logged
    in as the same person (no sessionStorage of its own: the device cookie), and the
    login page in another tab goes straight to it."""
    first = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    name = await first.inner_text("#user-name")
    second = await new_tab(first, "/static/deputy.html")
    await wait_until(second, ONLINE)
    assert await second.inner_text("#user-name") == name
    third = await new_tab(first, "/")
    await third.wait_for_url("**/deputy.html*")
    await wait_until(third, ONLINE)
    width = await second.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    for p in (first, second, third):
        assert p.js_errors == []


async def test_a_person_signs_out_another_browser(browser: Any, demo_hub: Demo) -> None:
    """登录设备 lists both browsers of the person, this one marked 本设备, named by
    browser and system in words; 退出该设备 on the other sends its page to the login page
    and a new tab there is not logged in."""
    here = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    there = await open_as(browser, demo_hub.url, "daibiao1")
    await here.click("#devices")
    rows = here.locator("#devices-list li")
    await wait_until(here, "document.querySelectorAll('#devices-list li').length === 2")
    mine = here.locator('#devices-list li[data-current="true"]')
    assert "本设备" in await mine.inner_text()
    assert "Chrome · Linux" in await mine.inner_text()
    other = here.locator('#devices-list li[data-current="false"]')
    assert "最近使用" in await other.inner_text()
    await other.locator("button").click()
    await wait_until(here, "document.querySelectorAll('#devices-list li').length === 1")
    assert await rows.count() == 1
    await there.wait_for_url("**/index.html*")
    tab = await new_tab(there, "/static/deputy.html")
    await tab.wait_for_url("**/index.html*")
    await wait_until(here, ONLINE)
    for p in (here, there, tab):
        assert p.js_errors == []
