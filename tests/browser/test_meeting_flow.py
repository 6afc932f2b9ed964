"""Attendance and speakers between the deputy's phone and the secretariat's console:
check-in and leave appear live on the board, a request to speak is started and ended by
the convenor while the deputy watches."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, shot


async def test_checkin_leave_and_speech_live(browser: Any, demo_hub: Demo) -> None:
    """Check in, leave approved, speech started and ended: each seen live on the other page."""
    sec = await open_as(browser, demo_hub.url, "mishu")
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    me = await dep.evaluate("window.hubClient.userId")
    await dep.click("#tab-meeting")

    # Check in to the plenary: the console's board shows it without a reload.
    plenary = dep.locator("#my-sittings li").first
    plenary_id = await plenary.get_attribute("data-sitting")
    await sec.select_option("#att-sitting", plenary_id)
    # Not checked in yet, and online (the phone is connected): listed under the delegation.
    absent = sec.locator(f'#att-groups li[data-deputy="{me}"][data-status="absent"]')
    await sec.wait_for_selector(
        f'#att-groups li[data-deputy="{me}"][data-status="absent"][data-online="true"]'
    )
    name = (await absent.inner_text()).strip()
    await plenary.locator("button.checkin").click()
    await dep.wait_for_selector(
        f'#my-sittings li[data-sitting="{plenary_id}"][data-state="checked_in"]'
    )
    await absent.wait_for(state="detached")
    await sec.check("#att-show-in")
    await sec.locator("#att-in .att-in-line", has_text=name).wait_for()

    # Ask for leave from the group deliberation; the secretariat approves it.
    group_id = await dep.locator("#spk-sitting").input_value()
    group = dep.locator(f'#my-sittings li[data-sitting="{group_id}"]')
    await group.locator("button.leave").click()
    await group.locator("textarea").fill("参加市政府专题会议")
    await group.locator("form.leave-form button[type=submit]").click()
    await sec.select_option("#att-sitting", group_id)
    row = sec.locator(f'#att-groups li[data-deputy="{me}"][data-status="leave_pending"]')
    await row.wait_for()
    assert "参加市政府专题会议" in await row.inner_text()
    await row.locator("button.primary").click()
    await sec.wait_for_selector(f'#att-groups li[data-deputy="{me}"][data-status="on_leave"]')
    await dep.wait_for_selector(
        f'#my-sittings li[data-sitting="{group_id}"][data-state="leave:approved"]'
    )

    # Request to speak; the convenor starts and ends the speech.
    await dep.click("#spk-request")
    mine = dep.locator('#my-speech [data-status="waiting"]')
    await mine.wait_for()
    request_id = await mine.get_attribute("data-request")
    await sec.select_option("#spk-sitting", group_id)
    await sec.select_option("#spk-item", await dep.locator("#spk-item").input_value())
    waiting = sec.locator(f'#spk-waiting li[data-request="{request_id}"]')
    await waiting.wait_for()
    await waiting.locator("button.primary").click()
    await dep.wait_for_selector(f'#my-speech [data-request="{request_id}"][data-status="speaking"]')
    await shot(sec, "secretariat-speakers")
    await sec.locator(
        f'#spk-box [data-request="{request_id}"][data-status="speaking"] button'
    ).click()
    # No longer current: it moves to the deputy's own speeches, as spoken.
    await dep.wait_for_selector(f'#my-speech p[data-request="{request_id}"]', state="detached")
    await dep.wait_for_selector(f'#my-speeches li[data-request="{request_id}"][data-status="done"]')
    await shot(dep, "deputy-meeting-after-360")
    for p in (sec, dep):
        assert p.js_errors == []
        await p.context.close()
