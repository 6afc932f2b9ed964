"""Browser tests: Debian's Chromium driven by Playwright against a real hub.

The hub runs the demo seed (the accounts a user logs in with) on SQLite. Screenshots go
to ``test-artifacts/`` (gitignored). Without ``/usr/bin/chromium`` the tests skip, or
fail under ``HUB_TEST_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub import demo
from hub.demo_city import seed_city
from hub.store.engine import make_engine
from tests.utils import TIMEOUT
from tests.utils.backends import REQUIRE
from tests.utils.databases import new_sqlite
from tests.utils.servers import RunningHub, running_hub, settings_for

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000


@dataclass
class Demo:
    """A hub with the demo seed: ``ids`` is what ``hub.demo.seed`` returned."""

    hub: Any  # RunningHub, or a HubProcess with url/ws_url
    ids: dict[str, Any]
    db_url: str
    data_dir: Path

    @property
    def url(self) -> str:
        return str(self.hub.url)


def need_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        msg = f"{CHROMIUM} is missing: apt-get install chromium"
        if REQUIRE:
            pytest.fail(msg + " (HUB_TEST_REQUIRE_SERVICES=1)")
        pytest.skip(msg)


async def seed_demo(db_url: str, data_dir: Path) -> dict[str, Any]:
    """The demo seed; its document's bytes go to ``data_dir`` (the hub's)."""
    engine = make_engine(db_url)
    try:
        ids = await demo.seed(engine, data_dir)
    finally:
        await engine.dispose()
    assert ids is not None
    return ids


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    need_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def demo_hub(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Demo]:
    """A hub in this process on SQLite, with the demo accounts."""
    ids = await seed_demo(sqlite_url, tmp_path)
    async with running_hub(settings_for(sqlite_url, tmp_path)) as h:
        yield Demo(h, ids, sqlite_url, tmp_path)


async def seed_city_file(directory: Path) -> tuple[Path, dict[str, Any]]:
    """A SQLite file in ``directory`` seeded by ``hub demo --size city``'s own function,
    and what the seed returned."""
    url = await new_sqlite(directory)
    engine = make_engine(url)
    try:
        ids = await seed_city(engine, directory, "city")
    finally:
        await engine.dispose()
    assert ids is not None
    return Path(url.removeprefix("sqlite+aiosqlite:///")), ids


@pytest.fixture(scope="session")
def city_seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The city, seeded once for the whole run (seeding takes tens of seconds): its SQLite
    file, never served itself, and what the seed returned. A module that needs more on top
    overrides this fixture with one built on a copy."""
    yield asyncio.run(seed_city_file(tmp_path_factory.mktemp("city")))


@pytest.fixture
def city_settings() -> dict[str, Any]:
    """Settings of the city's hub beyond the defaults; a module overrides this fixture
    (``deadline_interval=0``: no deadline scan, so no alert besides the test's own)."""
    return {}


@pytest.fixture
async def city(
    city_seed: tuple[Path, dict[str, Any]], city_settings: dict[str, Any], tmp_path: Path
) -> AsyncIterator[Demo]:
    """A hub on a copy of the seeded city, so every test starts from the same city."""
    src, ids = city_seed
    db = tmp_path / "hub.sqlite3"
    shutil.copyfile(src, db)
    url = f"sqlite+aiosqlite:///{db}"
    async with running_hub(settings_for(url, tmp_path, **city_settings)) as h:
        yield Demo(h, ids, url, tmp_path)


async def api(hub: Demo, username: str) -> httpx.AsyncClient:
    """An HTTP client logged in as ``username`` (the caller closes it)."""
    c = httpx.AsyncClient(base_url=hub.url, timeout=TIMEOUT)
    r = await c.post("/api/login", json={"username": username, "password": demo.PASSWORD})
    r.raise_for_status()
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return c


async def open_as(
    browser: Any,
    base_url: str,
    username: str,
    width: int = 1280,
    height: int = 860,
    timezone_id: str | None = None,
) -> Any:
    """A fresh browser context logged in through the login page as ``username``; the
    device's time zone ``timezone_id`` (the machine's when None)."""
    ctx = await browser.new_context(
        viewport={"width": width, "height": height},
        locale="zh-CN",
        base_url=base_url,
        timezone_id=timezone_id,
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors
    frames: list[dict[str, Any]] = []
    page.ws_frames = frames  # every frame the hub sent to this page, parsed

    def on_ws(ws: Any) -> None:
        ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", on_ws)
    await page.goto("/")
    await page.fill("#username", username)
    await page.fill("#password", demo.PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#user-name")
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    return page


async def wait_until(page: Any, expression: str) -> None:
    """Poll a JavaScript expression (or arrow function) until it is truthy.

    ``page.wait_for_function`` evaluates its predicate with ``eval`` inside the page,
    which the pages' Content-Security-Policy (no 'unsafe-eval') forbids; ``evaluate``
    goes through the DevTools protocol, which it does not.
    """
    for _ in range(TIMEOUT_MS // 50):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still false after {TIMEOUT_MS} ms: {expression}")


COUNT_MUTATIONS = """(id) => {
    window.changed = 0;
    const size = (n) => n.nodeType === 1 ? 1 + n.getElementsByTagName('*').length : 1;
    new MutationObserver((records) => {
        for (const r of records) {
            if (r.type === 'childList') {
                for (const n of r.addedNodes) window.changed += size(n);
                for (const n of r.removedNodes) window.changed += size(n);
            } else window.changed += 1;
        }
    }).observe(document.getElementById(id),
               {subtree: true, childList: true, attributes: true, characterData: true});
}"""


async def count_mutations(page: Any, element_id: str) -> None:
    """From now on ``window.changed`` counts the nodes added, removed or changed under the
    element (an added or removed subtree counts each of its nodes)."""
    await page.evaluate(COUNT_MUTATIONS, element_id)


def wire_messages(page: Any, channel: str) -> list[int]:
    """The seqs of ``channel`` the hub sent to this page over every connection, in order."""
    return [
        f["seq"] for f in page.ws_frames if f.get("type") == "message" and f["channel"] == channel
    ]


DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


async def shot(
    page: Any, name: str, full_page: bool = True, section: str | None = None, doc: bool = False
) -> Path:
    """A screenshot in ``test-artifacts/`` (of ``section`` alone if given); one the README
    shows (``doc``) also goes to ``docs/img/`` when ``HUB_DOC_SCREENSHOTS`` is set."""
    ARTIFACTS.mkdir(exist_ok=True)
    paths = [ARTIFACTS / f"{name}.png"]
    if doc and os.environ.get("HUB_DOC_SCREENSHOTS"):
        paths.append(DOC_IMAGES / f"{name}.png")
    for path in paths:
        if section:
            await page.locator(section).screenshot(path=str(path))
        else:
            await page.screenshot(path=str(path), full_page=full_page)
    return paths[0]


__all__ = [
    "ARTIFACTS",
    "Demo",
    "RunningHub",
    "api",
    "open_as",
    "seed_city_file",
    "seed_demo",
    "shot",
    "wait_until",
    "wire_messages",
]
