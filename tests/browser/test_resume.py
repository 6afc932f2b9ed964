"""The pages survive a hub restart: they reconnect by themselves and show everything sent
while they were cut off, once, in order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import open_as, seed_demo, shot, wire_messages
from tests.browser.test_deputy import publish, token
from tests.utils.servers import HubProcess

# Records every message the shared client delivers to the page, cached or not.
RECORD = """
window.__seen = [];
window.hubClient.addEventListener("message", (ev) => {
  const m = ev.detail;
  window.__seen.push([m.channel, m.seq, m.cached]);
});
"""


@pytest.fixture
async def hub_env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    ids = await seed_demo(sqlite_url, tmp_path)
    return {
        "HUB_DATABASE_URL": sqlite_url,
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_SECRET": "browser-test-secret",
        "HUB_MEETING": str(ids["meeting_id"]),
    }


@contextlib.asynccontextmanager
async def hub_process(
    env: dict[str, str], port: int = 0, log: Path | None = None
) -> AsyncIterator[HubProcess]:
    h = await HubProcess(env, port=port, log=log).start()
    try:
        yield h
    finally:
        stop(h)


def stop(h: HubProcess) -> None:
    """Kill -9 (no goodbye to the clients) and release the pipe."""
    h.kill()
    if h.proc is not None and h.proc.stdout is not None:
        h.proc.stdout.close()


def notice(n: int, meeting: int) -> dict[str, Any]:
    return {
        "notice": 7000 + n,
        "meeting": meeting,
        "title": f"通知{n}",
        "text": f"第{n}条",
        "urgent": False,
        "confirm": False,
    }


async def shown(page: Any) -> list[int]:
    ids: list[int] = await page.eval_on_selector_all(
        "li.notice", "els => els.map(e => Number(e.dataset.notice))"
    )
    return sorted(ids)


async def test_hub_restart_pages_resume_without_gap_or_duplicate(
    browser: Any, hub_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed and restarted on the same port, the hub is rejoined by the page on its own;
    notices sent while it was cut off arrive once each, then live ones follow."""
    meeting = int(hub_env["HUB_MEETING"])
    channel = f"meeting:{meeting}"
    log = tmp_path / "hub.log"
    first = await HubProcess(hub_env, log=log).start()
    port = first.port
    try:
        page = await open_as(browser, first.url, "daibiao1", width=360, height=740)
        await page.evaluate(RECORD)
        sec = await token(first.url, "mishu")
        await publish(first.url, sec, channel, "notice", notice(1, meeting))
        await page.wait_for_selector('li.notice[data-notice="7001"]')
    finally:
        stop(first)
    await page.wait_for_selector('#conn[data-state="offline"]')

    # Sent while the page cannot reach the hub: through a hub on another port.
    async with hub_process(hub_env, log=log) as elsewhere:
        sec = await token(elsewhere.url, "mishu")
        for n in (2, 3):
            await publish(elsewhere.url, sec, channel, "notice", notice(n, meeting))
    await shot(page, "deputy-offline-360")

    async with hub_process(hub_env, port=port, log=log) as again:
        await page.wait_for_selector('#conn[data-state="online"]')
        await page.wait_for_selector('li.notice[data-notice="7003"]')
        await publish(again.url, sec, channel, "notice", notice(4, meeting))
        await page.wait_for_selector('li.notice[data-notice="7004"]')
        assert await shown(page) == [7001, 7002, 7003, 7004]
        seen = await page.evaluate("window.__seen")
        fresh = [seq for ch, seq, cached in seen if ch == channel and not cached]
        assert fresh == [1, 2, 3, 4], seen
        # On the wire too: the resumed subscription asked from seq 1 on, nothing twice.
        assert wire_messages(page, channel) == [1, 2, 3, 4]

        # A reload shows what the browser holds and asks the hub only for what is new.
        await page.reload()
        await page.wait_for_function("window.hubClient && window.hubClient.state === 'online'")
        await page.evaluate(RECORD)
        await publish(again.url, sec, channel, "notice", notice(5, meeting))
        await page.wait_for_selector('li.notice[data-notice="7005"]')
        assert await shown(page) == [7001, 7002, 7003, 7004, 7005]
        seen = await page.evaluate("window.__seen")
        assert [seq for ch, seq, cached in seen if ch == channel and not cached] == [5], seen
        assert wire_messages(page, channel) == [1, 2, 3, 4, 5]
        assert page.js_errors == []
    await page.context.close()
