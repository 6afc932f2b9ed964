"""Errors reach the pages in the page's language: a refused login, the login back-off, a
bad field, a permission, missing-object or stale-page refusal, a wrong current password and
a network failure show no English (and no raw code) in zh-CN, and no Chinese in English."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from hub import demo
from hub.errors import HTTP_STATUS
from tests.browser.conftest import TIMEOUT_MS, Demo, shot, wait_until
from tests.browser.test_deputy import token
from tests.utils import TIMEOUT

LATIN = re.compile(r"[A-Za-z]")
CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")
FILLED = "() => document.getElementById('errors').textContent.trim() !== ''"
CLEAR = "() => { document.getElementById('errors').textContent = ''; }"


async def shown(page: Any, selector: str = "#errors", ready: str = FILLED) -> str:
    """The text of an error region once something is in it."""
    await wait_until(page, ready)
    return str(await page.inner_text(selector))


def foreign(text: str, lang: str) -> list[str]:
    """What in ``text`` does not belong to ``lang``: Latin letters in zh-CN (digits and
    punctuation are fine), Chinese in English, and a raw error code in either (the Latin
    check covers zh-CN; in English a code such as `internal` may be a plain word)."""
    bad = (LATIN if lang == "zh-CN" else CJK).findall(text)
    return bad + [c for c in HTTP_STATUS if "_" in c and c in text]


async def call(page: Any, method: str, path: str, body: Any = None) -> None:
    """A request through the page's own api() (it shows the refusal, as a page does)."""
    await page.evaluate(
        """async ([method, path, body]) => {
          const { api } = await import("/static/js/api.js");
          await api(method, path, body ?? undefined).catch(() => {});
        }""",
        [method, path, body],
    )


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_errors_are_shown_in_the_page_language(
    browser: Any, demo_hub: Demo, lang: str
) -> None:
    """Each refusal shows a text in the page's language, built from the code and its
    parameters; the server's English message never reaches a zh-CN page."""
    ctx = await browser.new_context(locale=lang, base_url=demo_hub.url)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    await page.goto("/")
    await page.evaluate("(l) => localStorage.setItem('hub:lang', l)", lang)
    await page.reload()
    seen: dict[str, str] = {}

    # A wrong password on the login page.
    await page.fill("#username", "daibiao1")
    await page.fill("#password", "not-the-password")
    await page.click("#submit")
    seen["login"] = await shown(page)

    # Guessing: past the free failures the login back-off answers rate_limited with
    # `retry_after`, and the page says how many seconds to wait.
    await page.fill("#username", "daibiao9")
    for _ in range(12):
        await page.evaluate(CLEAR)
        await page.fill("#password", "not-the-password")
        await page.click("#submit")
        seen["back_off"] = await shown(page)
        if seen["back_off"] != seen["login"]:
            break
    assert re.search(r"\d", seen["back_off"]), seen["back_off"]
    await page.fill("#username", "daibiao1")

    await page.fill("#password", demo.PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#user-name")
    await wait_until(page, "() => window.hubClient && window.hubClient.state === 'online'")

    # A deputy's registration with a title over the limit (the input's maxlength is
    # bypassed the way a pasted or scripted value would): a bad_request naming `title`.
    await page.click("#tab-perf")
    await page.wait_for_selector("#register-form")
    await page.evaluate("() => { document.getElementById('rg-title').value = 'x'.repeat(301); }")
    await page.fill("#rg-text", "visited a school")
    await page.click("#register-form button[type=submit]")
    seen["field"] = await shown(page)
    assert ("「标题」" if lang == "zh-CN" else "“Title”") in seen["field"], seen["field"]

    # An action the role may not take (a secretariat's), and an object that does not exist.
    await page.evaluate(CLEAR)
    await call(page, "POST", "/api/opinions/1/note", {})
    seen["forbidden"] = await shown(page)
    await page.evaluate(CLEAR)
    await call(page, "GET", "/api/opinions/999999999")
    seen["not_found"] = await shown(page)

    # The network is gone, for a read the device holds no copy of (a write would wait in
    # the outbox instead: tests/browser/test_offline.py).
    await page.evaluate(CLEAR)
    await page.route("**/api/registrations?limit=1", lambda route: route.abort())
    await call(page, "GET", "/api/registrations?limit=1")
    seen["network"] = await shown(page)
    await page.unroute("**/api/registrations?limit=1")

    # A stale page: the supervisor confirmed the registration meanwhile, so attaching
    # evidence to it is a conflict.
    reg = await page.evaluate(
        """async () => {
          const { post } = await import("/static/js/api.js");
          const day = new Date().toISOString().slice(0, 10);
          const r = await post("/api/registrations",
            { kind: "research", activity_date: day, title: "a visit", text: "visited a school" });
          return r.id;
        }"""
    )
    async with httpx.AsyncClient(base_url=demo_hub.url, timeout=TIMEOUT) as http:
        r = await http.post(
            f"/api/registrations/{reg}/confirm",
            json={},
            headers={"Authorization": f"Bearer {await token(demo_hub.url, 'jiandu')}"},
        )
        assert r.status_code == 200, r.text
    await page.evaluate(CLEAR)
    await call(page, "PUT", f"/api/registrations/{reg}/attachment?filename=a.txt", "evidence")
    seen["conflict"] = await shown(page)
    assert ("当前状态" if lang == "zh-CN" else "current state") in seen["conflict"], seen

    # The password dialog: a wrong current password, its own region.
    await page.click("#password-change")
    await page.fill("#pw-current", "not-the-password")
    await page.fill("#pw-new", "Another-pass-42")
    await page.fill("#pw-confirm", "Another-pass-42")
    await page.click("#password-form button[type=submit]")
    seen["password"] = await shown(
        page,
        "#password-form .error-line",
        "() => { const p = document.querySelector('#password-form .error-line');"
        " return p && !p.hidden && p.textContent.trim() !== ''; }",
    )

    await shot(page, f"errors-{lang}")
    assert len(set(seen.values())) == len(seen), seen  # each refusal says its own thing
    wrong = {k: foreign(v, lang) for k, v in seen.items() if foreign(v, lang)}
    assert wrong == {}, seen
    await ctx.close()
