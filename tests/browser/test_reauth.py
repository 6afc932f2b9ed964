"""The page's protocol client outlives its first token: before it expires, the client
re-authenticates on the open socket with the page's fresher token, and keeps receiving."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx

from hub.auth import Tokens
from tests.browser.conftest import Demo
from tests.browser.test_deputy import token
from tests.utils import TIMEOUT


async def publish(base: str, tok: str, channel: str, kind: str, body: dict[str, Any]) -> int:
    """A raw publish over HTTP (a kind no workflow owns); its seq."""
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        r = await c.post(
            f"/api/channels/{channel}/messages",
            json={"kind": kind, "body": body},
            headers={"Authorization": f"Bearer {tok}"},
        )
        r.raise_for_status()
        return int(r.json()["seq"])


START = """
async ({ short, userId, channel }) => {
  const { HubClient } = await import("/static/js/hub-client.js");
  window.__got = [];
  window.__events = [];
  const c = new HubClient({ token: short, userId, getToken: () => window.__fresh || null });
  for (const e of ["unauthorized", "expiring"])
    c.addEventListener(e, () => window.__events.push(e));
  c.addEventListener("message", (ev) => window.__got.push(ev.detail.body));
  window.__c = c;
  c.start();
  c.subscribe(channel);
}
"""


async def test_client_reauths_before_expiry_and_keeps_its_subscription(
    browser: Any, demo_hub: Demo
) -> None:
    """With a 3-second token and a fresher one from the page, the client sends `auth`
    again on the same socket before the first expires; a message published after that
    expiry still arrives, on the one socket, and the page never hears `unauthorized`."""
    base = demo_hub.url
    fresh = await token(base, "daibiao1")
    user_id = json.loads(base64.urlsafe_b64decode(fresh.split(".")[0] + "=="))["sub"]
    short = Tokens("test-secret", 60).issue(user_id, 0, ttl=3)
    channel = f"deputy:{user_id}"
    ctx = await browser.new_context(base_url=base)
    page = await ctx.new_page()
    sockets: list[Any] = []
    sent: list[dict[str, Any]] = []

    def on_ws(ws: Any) -> None:
        sockets.append(ws)
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page.on("websocket", on_ws)
    await page.goto("/static/index.html")
    await page.evaluate(START, {"short": short, "userId": user_id, "channel": channel})
    await page.wait_for_function("() => window.__c.state === 'online'", timeout=TIMEOUT * 1000)
    # The page logs in again meanwhile (as a later login in this tab would).
    await page.evaluate("(t) => { window.__fresh = t; }", fresh)
    await asyncio.sleep(4)  # the short token has expired meanwhile
    sec = await token(base, "mishu")
    await publish(base, sec, channel, "test.note", {"t": "after expiry"})
    await page.wait_for_function(
        "() => window.__got.some((b) => b.t === 'after expiry')", timeout=TIMEOUT * 1000
    )
    assert await page.evaluate("window.__events") == []
    assert len(sockets) == 1
    assert [f["token"] for f in sent if f.get("type") == "auth"] == [short, fresh]
    await ctx.close()
