"""The pages survive a hub restart: they reconnect by themselves and show everything sent
while they were cut off, once, in order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import open_as, seed_demo, shot, wait_until, wire_messages
from tests.browser.test_deputy import token
from tests.utils import TIMEOUT
from tests.utils.servers import HubProcess

# Records every message the shared client hands to the page, cached or not.
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
        "HUB_UNIT": str(ids["unit_ids"][0]),
    }


def stop(h: HubProcess) -> None:
    """Kill -9 (no goodbye to the clients) and release the pipe."""
    h.kill()
    if h.proc is not None and h.proc.stdout is not None:
        h.proc.stdout.close()


@contextlib.asynccontextmanager
async def hub_process(
    env: dict[str, str], port: int = 0, log: Path | None = None
) -> AsyncIterator[HubProcess]:
    h = await HubProcess(env, port=port, log=log).start()
    try:
        yield h
    finally:
        stop(h)


async def send_notice(base: str, meeting: int, title: str) -> int:
    sec = await token(base, "mishu")
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        r = await c.post(
            f"/api/meetings/{meeting}/notices",
            json={"title": title, "text": title},
            headers={"Authorization": f"Bearer {sec}"},
        )
        r.raise_for_status()
        return int(r.json()["id"])


async def hand_over(base: str, meeting: int, unit: int, title: str) -> int:
    """A deputy's opinion made into an item for ``unit``."""
    sec = {"Authorization": f"Bearer {await token(base, 'mishu')}"}
    dep = {"Authorization": f"Bearer {await token(base, 'daibiao1')}"}
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        r = await c.post("/api/opinions", json={"meeting_id": meeting, "text": title}, headers=dep)
        r.raise_for_status()
        body = {"opinion_ids": [r.json()["id"]], "title": title, "lead_unit_id": unit}
        r = await c.post("/api/items", json=body, headers=sec)
        r.raise_for_status()
        return int(r.json()["id"])


def assert_once_in_order(page: Any, channel: str, start: int = 1) -> list[int]:
    """What the hub sent this page on ``channel`` over all its connections: ``start``,
    ``start`` + 1 … (1 unless the page began at the channel's head)."""
    seqs = wire_messages(page, channel)
    assert seqs == list(range(start, start + len(seqs))), (channel, seqs)
    return seqs


async def test_hub_restart_pages_resume_without_gap_or_duplicate(
    browser: Any, hub_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed and restarted on the same port, the hub is rejoined by the three pages on
    their own; what was sent while they were cut off arrives once each, then live."""
    meeting = int(hub_env["HUB_MEETING"])
    unit_id = int(hub_env["HUB_UNIT"])
    log = tmp_path / "hub.log"
    first = await HubProcess(hub_env, log=log).start()
    port = first.port
    try:
        dep = await open_as(browser, first.url, "daibiao1", width=360, height=740)
        sec = await open_as(browser, first.url, "mishu")
        unit = await open_as(browser, first.url, "jiaotong")
        await dep.evaluate(RECORD)
        n1 = await send_notice(first.url, meeting, "通知一")
        await dep.wait_for_selector(f'li.notice[data-notice="{n1}"]')
        await sec.wait_for_selector(f'li.notice-sent[data-notice="{n1}"]')
    finally:
        stop(first)
    for p in (dep, sec, unit):
        await p.wait_for_selector('#conn[data-state="offline"]')

    # Sent while the pages cannot reach the hub: through a hub on another port.
    async with hub_process(hub_env, log=log) as elsewhere:
        n2 = await send_notice(elsewhere.url, meeting, "通知二")
        n3 = await send_notice(elsewhere.url, meeting, "通知三")
        item = await hand_over(elsewhere.url, meeting, unit_id, "停电期间交办的事项")
    await shot(dep, "deputy-offline-360")

    async with hub_process(hub_env, port=port, log=log) as again:
        for p in (dep, sec, unit):
            # The banner says so for a few seconds, then hides.
            await p.wait_for_selector('body[data-conn="online"]', state="attached")
        await dep.wait_for_selector(f'li.notice[data-notice="{n3}"]')
        for n in (n2, n3):
            await sec.wait_for_selector(f'li.notice-sent[data-notice="{n}"]')
        await unit.wait_for_selector(f'#todo li.item[data-item="{item}"]')
        await unit.wait_for_selector("#handover-alert:not([hidden])")

        n4 = await send_notice(again.url, meeting, "通知四")
        await dep.wait_for_selector(f'li.notice[data-notice="{n4}"]')
        await sec.wait_for_selector(f'li.notice-sent[data-notice="{n4}"]')

        for n in (n1, n2, n3, n4):
            assert await dep.locator(f'li.notice[data-notice="{n}"]').count() == 1
            assert await sec.locator(f'li.notice-sent[data-notice="{n}"]').count() == 1
        assert await unit.locator(f'li.item[data-item="{item}"]').count() == 1
        held = assert_once_in_order(dep, f"meeting:{meeting}")
        assert_once_in_order(dep, f"deputy:{await dep.evaluate('window.hubClient.userId')}")
        # The console follows the desk from the head it read on loading.
        desk = wire_messages(sec, f"desk:{meeting}")
        assert desk and desk[0] > 1
        assert_once_in_order(sec, f"desk:{meeting}", start=desk[0])
        # The inbox too (from the head it read on loading: the demo's items came before).
        inbox = wire_messages(unit, f"unit:{unit_id}")
        assert inbox and inbox[0] > 1
        assert_once_in_order(unit, f"unit:{unit_id}", start=inbox[0])
        seen = await dep.evaluate("window.__seen")
        fresh = [s for ch, s, cached in seen if ch == f"meeting:{meeting}" and not cached]
        assert fresh == held[held.index(fresh[0]) :], seen

        # A reload shows what the browser holds and asks the hub only for what is new.
        await dep.reload()
        await wait_until(dep, "window.hubClient && window.hubClient.state === 'online'")
        await dep.evaluate(RECORD)
        n5 = await send_notice(again.url, meeting, "通知五")
        await dep.wait_for_selector(f'li.notice[data-notice="{n5}"]')
        assert await dep.locator("li.notice").count() >= 5
        seqs = assert_once_in_order(dep, f"meeting:{meeting}")
        assert seqs[-1] == held[-1] + 1
        seen = await dep.evaluate("window.__seen")
        assert [s for ch, s, c in seen if ch == f"meeting:{meeting}" and not c] == [seqs[-1]]
        for p in (dep, sec, unit):
            assert p.js_errors == []
            await p.context.close()
