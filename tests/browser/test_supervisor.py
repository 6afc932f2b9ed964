"""The supervisor's dashboard: statistics, archive search with receipts, export links,
item timelines, the chain verification; and the pages' shared qualities (every string
in every language, the phone layout)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import Demo, open_as, shot, wait_until
from tests.browser.test_deputy import token
from tests.utils import TIMEOUT


async def seed_activity(base: str, meeting: int) -> dict[str, int]:
    """A notice and a commit-to-do item, through the HTTP API; the totals after."""
    sec = await token(base, "mishu")
    dep = await token(base, "daibiao1")
    auth = {"Authorization": f"Bearer {sec}"}
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        r = await c.post(
            f"/api/meetings/{meeting}/notices",
            json={"title": "分组审议地点调整", "text": "改在 3 号会议室。"},
            headers=auth,
        )
        r.raise_for_status()
        r = await c.post(
            "/api/opinions",
            json={"meeting_id": meeting, "text": "建议加快老旧小区加装电梯。"},
            headers={"Authorization": f"Bearer {dep}"},
        )
        r.raise_for_status()
        units = {
            u["username"]: u["unit_id"]
            for u in (await c.get("/api/admin/users", headers=auth)).json()["users"]
        }
        r = await c.post(
            "/api/items",
            json={
                "opinion_ids": [r.json()["id"]],
                "title": "老旧小区加装电梯",
                "lead_unit_id": units["jiaotong"],
            },
            headers=auth,
        )
        r.raise_for_status()
        q = f"/api/items?meeting_id={meeting}&kind=commit&limit=1"
        commits = (await c.get(q, headers=auth)).json()["total"]
        notices = len(
            (await c.get(f"/api/meetings/{meeting}/notices", headers=auth)).json()["notices"]
        )
    return {"commits": commits, "notices": notices}


async def test_supervisor_sees_statistics_archive_timeline_and_verification(
    browser: Any, demo_hub: Demo
) -> None:
    """Figures, the archived notice with its receipts, a timeline, exports, verify OK."""
    meeting = demo_hub.ids["meeting_id"]
    totals = await seed_activity(demo_hub.url, meeting)
    page = await open_as(browser, demo_hub.url, "jiandu", width=1920, height=1080)
    await page.wait_for_selector("#stat-tiles")
    assert await page.inner_text("#st-commits b") == str(totals["commits"])
    assert await page.inner_text("#st-notices b") == str(totals["notices"])
    assert await page.locator("#chart-states svg[role=img]").count() == 1

    await page.type("#ar-kind", "会议通知", delay=30)
    await page.click("#ar-kind ~ .picker-list li[data-id='notice']")
    row = page.locator(
        f'#archive-rows tr[data-message][data-channel="meeting:{meeting}"]',
        has_text="分组审议地点调整",
    )
    await row.wait_for()
    await wait_until(
        page,
        "[...document.querySelectorAll('#archive-rows tr')].every(r => r.dataset.kind === 'notice' && r.querySelector('td.kind').innerText === '会议通知')",
    )
    assert "0/9" in await row.inner_text()

    # An export link downloads CSV with a BOM, for Excel and WPS.
    # Its href holds no token: the click fetches a download token for it.
    href = await page.get_attribute('[data-export="messages.csv"]', "href")
    assert href is not None and "token" not in href and "download=" not in href
    async with page.expect_download() as download:
        await page.click('[data-export="messages.csv"]')
    saved = await (await download.value).path()
    assert (await asyncio.to_thread(Path(saved).read_bytes)).startswith(b"\xef\xbb\xbf")

    await page.wait_for_selector('#tl-out .timeline li[data-action="hand_over"]')

    await page.click("#verify-run")
    await page.wait_for_selector('#verify-out [data-ok="true"]')
    await shot(page, "supervisor-dashboard")
    await page.evaluate("window.scrollTo(0, 0)")
    await shot(page, "client-supervisor", full_page=False)
    assert page.js_errors == []
    await page.context.close()


async def test_every_language_has_every_string(browser: Any, demo_hub: Demo) -> None:
    """Each language table lists exactly the keys of the default one."""
    ctx = await browser.new_context(base_url=demo_hub.url)
    page = await ctx.new_page()
    await page.goto("/static/index.html")
    missing = await page.evaluate(
        """async () => {
          const { STRINGS } = await import("/static/js/i18n.js");
          const base = Object.keys(STRINGS["zh-CN"]);
          const out = {};
          for (const [lang, table] of Object.entries(STRINGS)) {
            const keys = Object.keys(table);
            out[lang] = [...base.filter((k) => !keys.includes(k)), ...keys.filter((k) => !base.includes(k))];
          }
          return out;
        }"""
    )
    assert all(not v for v in missing.values()), missing
    await ctx.close()


async def test_english_switch_is_remembered(browser: Any, demo_hub: Demo) -> None:
    """Choosing English on the login page carries over to the signed-in page."""
    ctx = await browser.new_context(base_url=demo_hub.url)
    page = await ctx.new_page()
    await page.goto("/")
    await page.select_option("#lang", "en")
    await page.wait_for_selector("text=Log in")
    await page.fill("#username", "daibiao3")
    await page.fill("#password", "demo2026")
    await page.click("#submit")
    await page.wait_for_selector("#tab-notices:has-text('Notices')")
    assert await page.get_attribute("html", "lang") == "en"
    await ctx.close()


async def test_deputy_page_fits_a_phone(browser: Any, demo_hub: Demo) -> None:
    """At 360 px wide no tab scrolls sideways, and the controls keep their labels."""
    page = await open_as(browser, demo_hub.url, "daibiao4", width=360, height=740)
    for tab in ("notices", "meeting", "items", "perf"):
        await page.click(f"#tab-{tab}")
        await page.wait_for_timeout(300)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (tab, width)
        unlabelled = await page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter((e) => e.type !== 'hidden' && e.offsetParent !== null)
                .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map((e) => e.id || e.name || e.outerHTML.slice(0, 60))"""
        )
        assert unlabelled == [], (tab, unlabelled)
        await shot(page, f"deputy-{tab}-360")
    assert page.js_errors == []
    await page.context.close()


async def test_throttle_runs_at_once_then_at_most_every_interval(
    browser: Any, demo_hub: Demo
) -> None:
    """ui.js throttle: asked every 50 ms for 1.5 s, a 100 ms task with a 400 ms bound runs
    at once, then again and again while the asks keep coming (never starved), never two
    at a time, never sooner than 400 ms after the last start, and once more after the
    last ask."""
    ctx = await browser.new_context(base_url=demo_hub.url)
    page = await ctx.new_page()
    await page.goto("/static/index.html")
    runs = await page.evaluate(
        """async () => {
          const { throttle } = await import("/static/js/ui.js");
          const runs = [];
          let running = 0;
          const t0 = performance.now();
          const ask = throttle(async () => {
            running += 1;
            runs.push({ start: performance.now() - t0, overlap: running > 1 });
            await new Promise((r) => setTimeout(r, 100));
            running -= 1;
          }, 400);
          while (performance.now() - t0 < 1500) {
            ask();
            await new Promise((r) => setTimeout(r, 50));
          }
          const last = performance.now() - t0;
          await new Promise((r) => setTimeout(r, 800));
          return { runs, last };
        }"""
    )
    starts = [r["start"] for r in runs["runs"]]
    assert starts[0] < 50  # leading: at once
    assert all(not r["overlap"] for r in runs["runs"])
    assert all(b - a >= 395 for a, b in itertools.pairwise(starts)), starts
    assert len([s for s in starts if s < runs["last"]]) >= 3, starts  # not starved
    assert starts[-1] >= runs["last"] - 400, starts  # trailing: the last asks are served
    await ctx.close()


async def test_pickers_find_names_by_pinyin_initials(browser: Any, demo_hub: Demo) -> None:
    """The pickers' match (picker.js) takes a name's pinyin initials: common characters
    (GB2312 level 1), rarer ones given names use (鑫, 琪, 珺), both readings of a surname
    read two ways (单 Dan or Shan), and the initials of each word of a longer text."""
    ctx = await browser.new_context(base_url=demo_hub.url)
    page = await ctx.new_page()
    await page.goto("/static/index.html")
    got = await page.evaluate(
        """async () => {
          const { matches } = await import("/static/js/picker.js");
          const cases = [
            ["王建国", "wjg"], ["王建国", "wj"], ["张鑫琪", "zxq"], ["李珺昊", "ljh"],
            ["单立新", "dlx"], ["单立新", "slx"], ["曾志伟", "zzw"], ["市交通运输局", "jtys"],
            ["王建国 定海区代表团", "dhq"], ["王建国", "wjh"], ["张鑫琪", "zxj"],
            ["王建国 定海区代表团", "gd"],
          ];
          return cases.map(([text, typed]) => matches(text, typed));
        }"""
    )
    assert got == [True] * 9 + [False] * 3
    await ctx.close()
