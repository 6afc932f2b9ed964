"""The deputy's page on a congested hall network: Chromium with its network emulated.

A real ``hub serve --demo`` (SQLite, in-process broker) on a free port; Debian's Chromium
through Playwright, its network throttled with the DevTools protocol
(``Network.emulateNetworkConditions``) to the profiles below. For each profile:

- **login page**: a fresh browser (empty cache) opens ``/``; the clock runs until the
  login form can be used;
- **first visit**: the deputy logs in there; the clock runs from the request for the
  deputy page (the login's own answer, an argon2 check of about half a second, is left
  out) until the page is settled: the live connection is up, the notices are drawn and
  no request is pending. The page's scripts are not cached yet, apart from the few the
  login page shares with it;
- **repeat visit**: the same tab reloads the deputy page; the clock runs from the reload.

Two moments are timed for each visit (``docs/benchmarks.md`` says which the budgets are
for): **usable**, the page drawn (``document.body.dataset.drawn`` set by ``drawParts``,
from the device's copies on a repeat visit or from the hub) with its notices; **settled**,
also the live connection up, the hub asked again for everything drawn from the copies
(``drawn`` is "hub") and no request pending for half a second (the clock stops at the last
one's end).

Printed and written as JSON (``--out``): seconds, requests and bytes received for each.
The budgets (issue: ≤ 1.5 s first visit, ≤ 0.5 s repeat visit on fast 3G) are in
``docs/benchmarks.md``, not asserted here.

    .venv/bin/python -m bench.network [--runs 3] [--out /tmp/net.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hub import demo

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]

# Chromium DevTools' own presets: round trip in ms, throughput in bytes/s.
PROFILES = {
    "fast 3G": {"latency": 150, "down": 200 * 1024, "up": 94 * 1024},
    "slow 3G": {"latency": 400, "down": 50 * 1024, "up": 50 * 1024},
}
KINDS = ("login page", "first", "repeat")
USABLE = "() => !!document.body.dataset.drawn && document.querySelector('#notices li') !== null"
SETTLED = (
    "() => window.hubClient && window.hubClient.state === 'online'"
    " && document.body.dataset.drawn === 'hub'"
    " && document.querySelector('#notices li') !== null"
)


def start_hub(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``hub serve --demo`` on a free port; its process and base URL."""
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_SECRET": "bench-network"}
    env.pop("HUB_DATABASE_URL", None)
    env.pop("HUB_BROKER_URL", None)
    cmd = [sys.executable, "-m", "hub", "serve", "--demo", "--port", "0", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("hub serve --demo did not print its address")


class Meter:
    """Requests and bytes the page received over the (emulated) network."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.pending: set[str] = set()
        self.last = 0.0
        self.page_requested = 0.0  # when a page (a document) was last requested

    def on(self, cdp: Any) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._done)
        cdp.on("Network.loadingFailed", self._done)
        cdp.on("Network.requestServedFromCache", self._cached)

    def _sent(self, e: dict[str, Any]) -> None:
        if e.get("type") == "WebSocket" or e["request"]["url"].startswith("data:"):
            return
        self.pending.add(e["requestId"])
        self.requests += 1
        if e.get("type") == "Document":
            self.page_requested = time.monotonic()

    def _cached(self, e: dict[str, Any]) -> None:
        if e["requestId"] in self.pending:
            self.requests -= 1  # served by the cache: it never reached the network

    def _done(self, e: dict[str, Any]) -> None:
        if e["requestId"] in self.pending:
            self.pending.discard(e["requestId"])
            self.bytes += int(e.get("encodedDataLength", 0))
            self.last = time.monotonic()

    def reset(self) -> None:
        self.requests = self.bytes = 0
        self.pending.clear()
        self.last = 0.0


async def until(page: Any, condition: str) -> float:
    """When ``condition`` first holds on the page (``time.monotonic()``)."""
    while True:
        try:
            if await page.evaluate(condition):
                return time.monotonic()
        except Exception:  # the login page navigating to the deputy page
            pass
        await asyncio.sleep(0.01)


async def settle(page: Any, meter: Meter, start: float) -> tuple[float, float]:
    """Seconds from ``start`` until the page is usable, and until it is settled."""
    usable = await until(page, USABLE)
    ready = await until(page, SETTLED)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 0.5:  # nothing pending for half a second
        if meter.pending:
            quiet_since = time.monotonic()
        await asyncio.sleep(0.02)
    return usable - start, max(ready, meter.last) - start


def outcome(times: tuple[float, float], meter: Meter) -> dict[str, Any]:
    usable, settled = times
    return {"usable": round(usable, 3), "seconds": round(settled, 3),
            "requests": meter.requests, "bytes": meter.bytes}  # fmt: skip


async def visit(browser: Any, url: str, profile: dict[str, int]) -> dict[str, Any]:
    ctx = await browser.new_context(
        base_url=url, locale="zh-CN", viewport={"width": 360, "height": 740}
    )
    page = await ctx.new_page()
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": profile["latency"],
         "downloadThroughput": profile["down"], "uploadThroughput": profile["up"]},
    )  # fmt: skip
    meter = Meter()
    meter.on(cdp)
    start = time.monotonic()
    await page.goto("/")
    await page.wait_for_selector("#submit")
    login_s = round(time.monotonic() - start, 3)
    login_out = {"usable": login_s, "seconds": login_s, "requests": meter.requests,
                 "bytes": meter.bytes}  # fmt: skip
    await page.fill("#username", "daibiao1")
    await page.fill("#password", demo.PASSWORD)
    meter.reset()
    await page.click("#submit")
    await page.wait_for_url("**/deputy.html")
    first_out = outcome(await settle(page, meter, meter.page_requested), meter)
    meter.reset()
    start = time.monotonic()
    await page.reload()
    repeat_out = outcome(await settle(page, meter, start), meter)
    await ctx.close()
    return {"login page": login_out, "first": first_out, "repeat": repeat_out}


async def measure(url: str, runs: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    out: dict[str, Any] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for name, profile in PROFILES.items():
                samples = [await visit(browser, url, profile) for _ in range(runs)]
                out[name] = {
                    kind: {
                        "usable_median": round(
                            statistics.median(s[kind]["usable"] for s in samples), 3
                        ),
                        "seconds_median": round(
                            statistics.median(s[kind]["seconds"] for s in samples), 3
                        ),
                        "seconds": [s[kind]["seconds"] for s in samples],
                        "requests": samples[-1][kind]["requests"],
                        "bytes": samples[-1][kind]["bytes"],
                    }
                    for kind in KINDS
                }
        finally:
            await browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        proc, url = start_hub(Path(d))
        try:
            result = asyncio.run(measure(url, a.runs))
        finally:
            proc.terminate()
            proc.wait(10)
    for name, r in result.items():
        for kind in KINDS:
            x = r[kind]
            print(f"{name:8} {kind:10} usable {x['usable_median']:5.2f} s  settled "
                  f"{x['seconds_median']:5.2f} s  {x['requests']:3} requests  "
                  f"{x['bytes'] / 1024:7.1f} KiB  (runs: {x['seconds']})")  # fmt: skip
    if a.out:
        a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
