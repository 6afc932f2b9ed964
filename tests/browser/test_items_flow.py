"""An opinion becomes a commit-to-do item, the unit signs and replies, the deputy rates
the reply: each step made in one browser appears live in the others."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Demo, open_as, shot, wait_until

OPINION = "建议在城东新区增设公交线路，方便群众出行。<script>window.pwned=1</script>"


async def test_opinion_to_item_to_reply_to_evaluation_live(browser: Any, demo_hub: Demo) -> None:
    """Deputy → secretariat → unit → deputy, with no reload anywhere."""
    sec = await open_as(browser, demo_hub.url, "mishu")
    dep = await open_as(browser, demo_hub.url, "daibiao1", width=360, height=740)
    unit = await open_as(browser, demo_hub.url, "jiaotong")

    # The deputy submits an opinion on the phone.
    await dep.click("#tab-meeting")
    await dep.fill("#op-text", OPINION)
    await dep.click("#op-send")
    mine = dep.locator("#my-opinions li[data-opinion]", has_text="城东新区")
    await mine.wait_for()
    opinion_id = await mine.get_attribute("data-opinion")
    assert await mine.locator(".text").inner_text() == OPINION

    # It appears at once on the console, as text; the secretariat commits it to do.
    row = sec.locator(f'#opinion-list li[data-opinion="{opinion_id}"]')
    await row.wait_for()
    assert await row.locator(".text").inner_text() == OPINION
    assert await sec.evaluate("window.pwned") is None
    await row.locator("button.op-commit").click()
    await sec.wait_for_selector(f'#it-opinions li[data-opinion="{opinion_id}"]')
    await sec.fill("#it-title", "城东新区增设公交线路")
    await sec.fill("#it-lead", "交通")  # the lead unit, found with the picker
    await sec.locator('#item-form [role="option"]', has_text="市交通运输局").click()
    await sec.click("#it-send")
    card = sec.locator("#item-list li.item", has_text="城东新区增设公交线路")
    await card.wait_for()
    item_id = await card.get_attribute("data-item")
    assert await card.get_attribute("data-state") == "assigned"
    await dep.wait_for_selector(
        f'#my-opinions li[data-opinion="{opinion_id}"][data-status="committed"]'
    )

    # The unit is alerted (visible and audible) and signs.
    await unit.wait_for_selector("#handover-alert:not([hidden])")
    assert int(await unit.evaluate("document.body.dataset.beeps")) >= 1
    ucard = unit.locator(f'#todo li.item[data-item="{item_id}"]')
    await ucard.wait_for()
    # The banner counts every item still waiting for the unit's signature.
    await wait_until(
        unit,
        """() => document.getElementById("handover-text").textContent.includes(
             String(document.querySelectorAll('#todo li.item[data-state="assigned"]').length))""",
    )
    await shot(unit, "unit-new-handover")
    await shot(unit, "client-unit", full_page=False)
    await ucard.locator("button.act-sign").click()
    await sec.wait_for_selector(
        f'#item-list li.item[data-item="{item_id}"][data-state="in_progress"]'
    )
    await dep.click("#tab-items")
    await dep.wait_for_selector(
        f'#my-items li.item[data-item="{item_id}"][data-state="in_progress"]'
    )

    # The unit replies with a grade and text.
    ucard = unit.locator(f'#todo li.item[data-item="{item_id}"]')
    await ucard.locator("button.act-reply").click()
    await ucard.locator("select[name=grade]").select_option("A")
    await ucard.locator("textarea[name=text]").fill("已新开通 K12 路公交，途经城东新区。")
    await ucard.locator("form.form-reply button[type=submit]").click()
    dcard = dep.locator(f'#my-items li.item[data-item="{item_id}"]')
    await dep.wait_for_selector(f'#my-items li.item[data-item="{item_id}"][data-state="replied"]')
    await sec.wait_for_selector(f'#item-list li.item[data-item="{item_id}"][data-state="replied"]')
    assert await dep.locator("#items-badge").is_visible()
    await dcard.evaluate("e => { e.scrollIntoView(); window.scrollBy(0, -60); }")
    await shot(dep, "client-deputy", full_page=False)
    assert await dcard.locator("button.act-evaluate").is_visible()

    # The deputy rates it on the phone: three readable choices, none chosen for them, and
    # a form that says what is missing instead of recording a rating they did not pick.
    await dcard.locator("button.act-evaluate").click()
    form = dcard.locator("form.form-evaluate")
    labels = await form.locator("fieldset.ratings label").all_inner_texts()
    assert [x.strip() for x in labels] == ["满意", "基本满意", "不满意"]
    assert await form.locator("input[type=radio]:checked").count() == 0
    problem = form.locator(".form-problem")
    await form.locator("button[type=submit]").click()
    assert await problem.inner_text() == "请选择满意、基本满意或不满意"
    await form.locator("input[value=unsatisfied]").check()
    await form.locator("button[type=submit]").click()
    assert await problem.inner_text() == "选择不满意时，请填写不满意的理由"
    assert await dcard.get_attribute("data-state") == "replied"
    await dcard.locator("input[value=satisfied]").check()
    await dcard.locator("form.form-evaluate button[type=submit]").click()
    await dep.wait_for_selector(f'#my-items li.item[data-item="{item_id}"][data-state="closed"]')
    await sec.wait_for_selector(f'#item-list li.item[data-item="{item_id}"][data-state="closed"]')
    await unit.wait_for_selector(f'#others li.item[data-item="{item_id}"][data-state="closed"]')

    # The timeline lists every step.
    await dcard.locator("button.details").click()
    await dep.wait_for_selector(
        f'#my-items li.item[data-item="{item_id}"] .timeline li[data-action="evaluate"]'
    )
    actions = await dcard.locator(".timeline li").evaluate_all(
        "els => els.map(e => e.dataset.action)"
    )
    assert actions == ["hand_over", "sign", "reply", "evaluate"]
    detail = await dep.evaluate(
        f"""async () => (await fetch("/api/items/{item_id}", {{headers: {{authorization:
              "Bearer " + JSON.parse(sessionStorage.getItem("hub:session")).token}}}})).json()"""
    )
    assert [e["rating"] for e in detail["evaluations"]] == ["satisfied"]

    await shot(dep, "deputy-items-360")
    await shot(sec, "secretariat-console")
    await shot(unit, "unit-inbox")
    for p in (sec, dep, unit):
        assert p.js_errors == []
        await p.context.close()


async def _call(page: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """An API call from ``page`` with its own session."""
    return await page.evaluate(
        """async ([method, path, body]) => {
          const token = JSON.parse(sessionStorage.getItem("hub:session")).token;
          const r = await fetch(path, {method, headers: {authorization: "Bearer " + token,
            "content-type": "application/json"}, body: body ? JSON.stringify(body) : undefined});
          if (!r.ok) throw new Error(method + " " + path + " " + r.status + " " + await r.text());
          return r.json();
        }""",
        [method, path, body],
    )


async def test_lead_unit_is_not_offered_reply_while_a_co_unit_opinion_is_pending(
    browser: Any, demo_hub: Demo
) -> None:
    """The lead unit's card offers 答复 only once the co-unit has sent its opinion, says in
    Chinese why not before, and turns live when the opinion arrives."""
    dep = await open_as(browser, demo_hub.url, "daibiao1")
    sec = await open_as(browser, demo_hub.url, "mishu")
    unit = await open_as(browser, demo_hub.url, "jiaotong")
    co = await open_as(browser, demo_hub.url, "fayuan")
    lead_id, co_id = demo_hub.ids["unit_ids"][:2]
    opinion = await _call(
        dep, "POST", "/api/opinions", {"meeting_id": demo_hub.ids["meeting_id"], "text": "协办测试"}
    )
    item = await _call(
        sec,
        "POST",
        "/api/items",
        {
            "opinion_ids": [opinion["id"]],
            "title": "需要协办的事项",
            "lead_unit_id": lead_id,
            "co_unit_ids": [co_id],
        },
    )
    card = unit.locator(f'#todo li.item[data-item="{item["id"]}"]')
    await card.locator("button.act-sign").click()
    await unit.wait_for_selector(
        f'#todo li.item[data-item="{item["id"]}"][data-state="in_progress"]'
    )
    await card.locator("button.act-contact").wait_for()
    assert await card.locator("button.act-reply").count() == 0
    why = await card.locator(".why-not").inner_text()
    assert why == "答复：等待协办单位（市中级人民法院）的意见", why
    ccard = co.locator(f'li.item[data-item="{item["id"]}"]')
    await ccard.locator("button.act-co_opinion").click()
    await ccard.locator("textarea[name=text]").fill("同意主办单位方案")
    await ccard.locator("form.form-co_opinion button[type=submit]").click()
    await card.locator("button.act-reply").wait_for()
    assert await card.locator(".why-not").count() == 0
    assert await ccard.locator("button.act-co_opinion").count() == 0
    for p in (dep, sec, unit, co):
        assert p.js_errors == []
        await p.context.close()
