"""The deputy's feedback on a phone (360 px): confirming the contact the unit recorded,
asking a follow-up question the unit answers on its inbox; the card and the timeline read
in zh-CN and in English, naming each person."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, shot, wait_until
from tests.browser.test_errors_zh import foreign

TITLE = "增开定海至普陀夜间公交班次"  # the demo's signed item, with a recorded phone contact


async def _lang(page: Any, lang: str) -> None:
    await page.evaluate("(l) => localStorage.setItem('hub:lang', l)", lang)
    await page.reload()
    await page.wait_for_selector("#user-name")
    await wait_until(page, "window.hubClient && window.hubClient.state === 'online'")


async def test_deputy_confirms_a_contact_and_asks_the_unit_answers(
    browser: Any, demo_hub: Demo
) -> None:
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    unit = await open_as(browser, demo_hub.url, "jiaotong")

    await dep.click("#tab-items")
    card = dep.locator("#my-items li.item", has_text=TITLE)
    await card.wait_for()
    item_id = await card.get_attribute("data-item")
    # the recorded contact waits for the deputy's word: one of the things on their badge
    assert await dep.locator("#items-badge").is_visible()
    await card.locator("button.act-confirm_contact").click()
    form = card.locator("form.form-confirm_contact")
    option = form.locator("select[name=contact_id] option")
    await option.first.wait_for(state="attached")
    assert "电话：已电话联系王建国代表" in await option.first.inner_text()
    await form.locator("button[type=submit]").click()
    await card.locator("button.act-confirm_contact").wait_for(state="detached")

    # a follow-up question: the card says it waits for the unit's answer
    await card.locator("button.act-ask").click()
    await card.locator("form.form-ask textarea[name=text]").fill("夜班车什么时候开通？")
    await card.locator("form.form-ask button[type=submit]").click()
    await card.locator(".chip.questions-open").wait_for()
    assert await card.locator(".chip.questions-open").inner_text() == "追问待答复"
    why = await card.locator(".why-not").inner_text()
    assert "追问：追问待承办单位答复" in why

    # the unit's inbox shows it live and answers it
    ucard = unit.locator(f'li.item[data-item="{item_id}"]').first
    await ucard.locator(".chip.questions-open").wait_for()
    await ucard.locator("button.act-answer").click()
    uform = ucard.locator("form.form-answer")
    await uform.locator("select[name=question_id] option").first.wait_for(state="attached")
    assert (
        await uform.locator("select[name=question_id] option").first.inner_text()
        == "王建国：夜班车什么时候开通？"
    )
    await uform.locator("textarea[name=text]").fill("下月起开通21路夜班车。")
    await uform.locator("button[type=submit]").click()
    await card.locator(".chip.questions-open").wait_for(state="detached")

    # a message about the item, heard live on the unit's card
    await card.locator("button.act-message").click()
    await card.locator("form.form-message textarea[name=text]").fill("谢谢，期待早日开通。")
    await card.locator("form.form-message button[type=submit]").click()
    await ucard.locator(".last-step", has_text="谢谢，期待早日开通。").wait_for()
    assert "王建国" in await ucard.locator(".last-step").inner_text()
    assert "留言" in await ucard.locator(".last-step").inner_text()

    # the timeline names each person, in zh-CN and in English
    await card.locator("button.details").click()
    await card.locator('.timeline li[data-action="message"]').wait_for()
    lines = await card.locator(".timeline li").all_inner_texts()
    steps = {
        a: t
        for a, t in zip(
            await card.locator(".timeline li").evaluate_all(
                "els => els.map(e => e.dataset.action)"
            ),
            lines,
            strict=True,
        )
    }
    assert "市交通运输局" in steps["contact"]
    assert "联系全体代表" in steps["contact"]
    assert "王建国" in steps["confirm_contact"] and "确认联系属实" in steps["confirm_contact"]
    assert "王建国" in steps["ask"] and "夜班车什么时候开通？" in steps["ask"]
    assert "答复追问" in steps["answer"] and "下月起开通21路夜班车。" in steps["answer"]
    assert "王建国" in steps["message"] and "谢谢，期待早日开通。" in steps["message"]
    questions = await card.locator(".questions").inner_text()
    assert "王建国：" in questions and "下月起开通21路夜班车。" in questions
    contacts = await card.locator(".recorded-contacts").inner_text()
    assert "王建国确认" in contacts
    text = await card.inner_text()
    assert foreign(text.replace(f"#{item_id}", ""), "zh-CN") == [], text
    await shot(dep, "deputy-item-feedback-360")

    await _lang(dep, "en")
    await dep.click("#tab-items")
    card = dep.locator(f'#my-items li.item[data-item="{item_id}"]')
    # the page may draw the device's copy first and then the server's list: open the card
    # drawn last
    answer = card.locator('.timeline li[data-action="answer"]')
    for _ in range(20):
        if await card.locator("button.details").get_attribute("aria-expanded") == "false":
            await card.locator("button.details").click()
        try:
            await answer.wait_for(timeout=1000)
            break
        except Exception:
            continue
    en = await card.locator(".timeline").inner_text()
    assert "confirmed the contact" in en and "asked a follow-up question" in en
    assert "answered the follow-up question" in en and "with all deputies" in en
    contacts = await card.locator(".recorded-contacts").inner_text()
    assert "confirmed by 王建国" in contacts
    # the English page shows Chinese only where the data is Chinese (names, texts)
    chrome = await card.evaluate(
        """e => [...e.querySelectorAll('button, .chip, label, legend, strong:not(.item-title)')]
             .map(x => x.innerText).join(' ')"""
    )
    assert foreign(chrome.replace("王建国", ""), "en") == [], chrome  # a name is data
    await shot(dep, "deputy-item-feedback-360-en")
    for p in (dep, unit):
        assert p.js_errors == []
        await p.context.close()
