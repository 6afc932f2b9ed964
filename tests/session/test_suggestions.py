"""Suggestions end to end: joint submission with co-signers confirming on their own
devices, review, hand-over, then the same lifecycle as commit-to-do items."""

from __future__ import annotations

from datetime import datetime

from tests.utils.factories import World
from tests.utils.items import Api, flow, inbox, kinds, snapshot
from tests.utils.servers import RunningHub


async def test_joint_suggestion_with_cosigners_to_closed(hub: RunningHub, world: World) -> None:
    """Two co-signers are asked live; one confirms, one declines; the desk reviews and
    hands it over; the author and the confirming co-signer evaluate and it closes. The
    decliner hears the decline and nothing after."""
    d0, d1, d2 = world.deputies[:3]
    sec = world.secretariat
    u0, uu0 = world.units[0], world.unit_users[0]
    hub.services.clock.set(datetime(2026, 3, 6, 10, 0))  # a Friday
    boxes = {d: await inbox(hub, world, d, f"deputy:{d}") for d in (d0, d1, d2)}
    desk = await inbox(hub, world, sec, f"desk:{world.meeting}")
    async with Api(hub, world) as api:
        s = await api.suggestion(d0, [d1, d2])
        i = s["id"]
        assert s["kind"] == "suggestion" and s["state"] == "cosigning"
        assert [(d["id"], d["role"], d["status"]) for d in s["deputies"]] == [
            (d0, "author", "confirmed"),
            (d1, "cosigner", "pending"),
            (d2, "cosigner", "pending"),
        ]
        (asked,) = await flow(boxes[d1], 1, f"deputy:{d1}")
        assert asked["kind"] == "suggestion.submitted" and asked["body"]["event"]["payload"][
            "cosigner_ids"
        ] == [d1, d2]
        await api.refused(sec, f"/api/suggestions/{i}/accept", {}, "conflict")
        await api.refused(world.deputies[3], f"/api/suggestions/{i}/cosign", {}, "forbidden")
        await api.refused(d0, f"/api/suggestions/{i}/cosign", {}, "forbidden")
        r = await api.post(d1, f"/api/suggestions/{i}/cosign")
        assert r["state"] == "cosigning"
        err = await api.refused(d1, f"/api/suggestions/{i}/cosign", {}, "conflict")
        assert "already answered" in err["message"] and err["allowed"] == [
            "cosign",
            "decline",
            "message",
        ]
        r = await api.post(d2, f"/api/suggestions/{i}/decline", {"reason": "不熟悉该领域"})
        assert r["state"] == "submitted"
        await api.refused(d0, f"/api/suggestions/{i}/accept", {}, "forbidden")
        assert (await api.post(sec, f"/api/suggestions/{i}/accept"))["state"] == "accepted"
        await api.refused(
            sec,
            f"/api/suggestions/{i}/hand_over",
            {"lead_unit_id": u0, "deadline": "2026-04-01"},
            "bad_request",
        )
        r = await api.post(
            sec, f"/api/suggestions/{i}/hand_over", {"lead_unit_id": u0, "complex": True}
        )
        assert r["state"] == "assigned" and r["complex"] is True
        # 7 working days from Friday 6 March: Tuesday 17 March; 6 months: 6 September,
        # a Sunday, so Monday 7 September (end of the local day, 16:00 UTC)
        assert r["sign_due"] == "2026-03-17T15:59:59.999999Z"
        assert r["reply_due"] == "2026-09-07T15:59:59.999999Z"
        await api.post(uu0, f"/api/items/{i}/sign")
        await api.post(uu0, f"/api/items/{i}/reply", {"grade": "C", "text": "已列入明年计划"})
        await api.refused(d2, f"/api/items/{i}/evaluate", {"rating": "satisfied"}, "forbidden")
        await api.post(d1, f"/api/items/{i}/evaluate", {"rating": "basically_satisfied"})
        r = await api.post(d0, f"/api/items/{i}/evaluate", {"rating": "satisfied"})
        assert r["state"] == "closed"
        assert [x["id"] for x in (await api.get(d2, "/api/suggestions"))["items"]] == [i]
        assert (await api.get(uu0, "/api/suggestions", state="closed"))["total"] == 1
    flow_kinds = [
        "suggestion.submitted",
        "suggestion.cosigned",
        "suggestion.declined",
        "suggestion.accepted",
        "item.handed_over",
        "item.signed",
        "item.replied",
        "item.evaluated",
        "item.evaluated",
    ]
    assert await kinds(boxes[d0], 9, f"deputy:{d0}") == flow_kinds
    assert await kinds(boxes[d1], 8, f"deputy:{d1}") == flow_kinds[1:]
    assert await kinds(boxes[d2], 3, f"deputy:{d2}") == flow_kinds[:3]
    async with Api(hub, world) as api:
        stored = await api.get(d2, f"/api/channels/deputy:{d2}/messages")
    assert [m["kind"] for m in stored["messages"]] == flow_kinds[:3]
    assert await kinds(desk, 9, f"desk:{world.meeting}") == flow_kinds


async def test_not_accepted_with_a_reason_is_final(hub: RunningHub, world: World) -> None:
    """The secretariat does not accept a suggestion, with a reason; no action is possible
    afterwards (conflict with nothing allowed)."""
    d0, sec = world.deputies[0], world.secretariat
    async with Api(hub, world) as api:
        i = (await api.suggestion(d0))["id"]
        await api.refused(sec, f"/api/suggestions/{i}/not_accept", {}, "bad_request")
        r = await api.post(sec, f"/api/suggestions/{i}/not_accept", {"reason": "属于诉讼事项"})
        assert r["state"] == "not_accepted"
        before = await snapshot(hub)
        for action in ("accept", "hand_over"):
            err = await api.refused(
                sec, f"/api/suggestions/{i}/{action}", {"lead_unit_id": world.units[0]}, "conflict"
            )
            assert err["allowed"] == []
        assert await snapshot(hub) == before
        full = await api.get(d0, f"/api/items/{i}")
        assert full["review_reason"] == "属于诉讼事项"


async def test_submission_is_checked(hub: RunningHub, world: World) -> None:
    """Co-signers must be other deputies of the meeting; only participating deputies
    submit; nothing is stored when refused."""
    d0 = world.deputies[0]
    async with Api(hub, world) as api:
        before = await snapshot(hub)
        base = {"meeting_id": world.meeting, "title": "t", "text": "x"}
        for cos in ([world.outsider], [world.secretariat], [d0], [999999]):
            await api.refused(d0, "/api/suggestions", {**base, "cosigner_ids": cos}, "bad_request")
        await api.refused(world.outsider, "/api/suggestions", base, "forbidden")
        await api.refused(world.secretariat, "/api/suggestions", base, "forbidden")
        await api.refused(d0, "/api/suggestions", {**base, "meeting_id": 424242}, "not_found")
        await api.refused(d0, "/api/suggestions", {**base, "title": ""}, "bad_request")
        assert await snapshot(hub) == before
