"""The client's files in a real browser (``hub.assets``): a repeat visit asks the network
for the page at most, every script and style coming from the browser's cache, and the
page runs under the CSP with its import map."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, wait_until


async def test_a_repeat_visit_fetches_only_the_page(browser: Any, demo_hub: Demo) -> None:
    """After a deputy's first visit, reloading the page fetches at most ``deputy.html``
    from the hub and nothing else under ``/static/``: the modules, styles and icon come
    from the browser's cache or the service worker."""
    page = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    assert page.js_errors == []
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    static: dict[str, str] = {}  # request id -> path under /static/
    cached: set[str] = set()

    def on_request(e: dict[str, Any]) -> None:
        url = e["request"]["url"]
        if "/static/" in url:
            static[e["requestId"]] = url.split("/static/", 1)[1]

    cdp.on("Network.requestWillBeSent", on_request)
    cdp.on("Network.requestServedFromCache", lambda e: cached.add(e["requestId"]))
    cdp.on(
        "Network.responseReceived",
        lambda e: (
            (e["response"].get("fromDiskCache") or e["response"].get("fromServiceWorker"))
            and cached.add(e["requestId"])
        ),
    )
    await page.reload()
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")
    await wait_until(page, "document.querySelector('#notices li') !== null")
    fetched = [path for rid, path in static.items() if rid not in cached]
    assert fetched in ([], ["deputy.html"])  # the page: from the service worker, or the hub
    assert len(static) > 10  # the scripts were asked for, and the cache answered
    assert page.js_errors == []
