"""Duty points: versioned rules with caps, scored from the record, disputes; numbers are
worked out by hand in each test."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hub.supervision.points import Event, Rule, RuleSet, score
from tests.supervision.helpers import http
from tests.supervision.scenario import items_scenario
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub

Y = date.today().year - 1  # a whole past year: every activity date is allowed
TZ = ZoneInfo("Asia/Shanghai")

V1 = {
    "valid_from": f"{Y}-01-01",
    "note": "年初通过的积分办法",
    "rules": [
        {"event": "registration", "points": 2, "cap": 5, "period": "year"},
        {"event": "registration.research", "points": 3},
    ],
}
V2 = {
    "valid_from": f"{Y}-07-01",
    "note": "年中修订：登记加分提高",
    "rules": [{"event": "registration", "points": 4, "cap": 10, "period": "year"}],
}
# (activity date, kind): what deputy 0 did in year Y, all confirmed.
DONE = [
    (f"{Y - 1}-12-31", "inspection"),  # before any rules: no entry
    (f"{Y}-02-10", "inspection"),  # v1: 2            used 2
    (f"{Y}-03-05", "constituents"),  # v1: 2          used 4
    (f"{Y}-04-01", "training"),  # v1: 2 capped to 1   used 5
    (f"{Y}-05-20", "research"),  # v1 research rule: 3, no cap
    (f"{Y}-07-01", "inspection"),  # v2 from that day: 4, used 9
    (f"{Y}-08-15", "inspection"),  # v2: 4 capped to 1, used 10
    (f"{Y}-09-01", "research"),  # v2 has no research rule: registration, 0 (cap full)
]


async def _setup(hub: RunningHub, world: World) -> list[dict[str, Any]]:
    d0 = world.deputies[0]
    async with http(hub, world, world.admin) as c:
        for v in (V1, V2):
            r = await c.post("/api/points/rules", json=v)
            assert r.status_code == 201, r.text
    regs = []
    async with http(hub, world, d0) as c:
        for day, kind in DONE:
            body = {"kind": kind, "activity_date": day, "title": f"{kind} {day}", "text": "做了"}
            regs.append((await c.post("/api/registrations", json=body)).json())
        # Rejected and undecided registrations earn nothing.
        body = {"kind": "research", "activity_date": f"{Y}-06-01", "title": "x", "text": "x"}
        rejected = (await c.post("/api/registrations", json=body)).json()
        await c.post("/api/registrations", json={**body, "title": "pending"})
    async with http(hub, world, world.supervisor) as c:
        for reg in regs:
            assert (await c.post(f"/api/registrations/{reg['id']}/confirm")).status_code == 200
        await c.post(f"/api/registrations/{rejected['id']}/reject", json={"reason": "不符"})
    return regs


async def _points(hub: RunningHub, world: World, user: int, **params: Any) -> dict[str, Any]:
    async with http(hub, world, user) as c:
        r = await c.get(f"/api/deputies/{world.deputies[0]}/points", params=params)
        assert r.status_code == 200, r.text
        d: dict[str, Any] = r.json()
        return d


async def test_rule_change_mid_year(hub: RunningHub, world: World) -> None:
    """Events before 1 July use v1, from 1 July v2; the yearly cap counts both versions."""
    regs = await _setup(hub, world)
    got = await _points(hub, world, world.supervisor, year=Y)
    assert [e["points"] for e in got["entries"]] == [2, 2, 1, 3, 4, 1, 0]
    assert [e["capped"] for e in got["entries"]] == [False, False, True, False, False, True, True]
    rulesets = [e["ruleset"] for e in got["entries"]]
    assert rulesets[:4] == [rulesets[0]] * 4 and rulesets[4:] == [rulesets[4]] * 3
    assert rulesets[0] != rulesets[4]
    assert [e["key"] for e in got["entries"]] == [f"registration:{r['id']}" for r in regs[1:]]
    assert got["total"] == 13
    assert got["by_event"] == {"registration": 10, "registration.research": 3}
    # Only the second half: the cap was already mostly used before 1 July.
    second = await _points(
        hub, world, world.deputies[0], **{"from": f"{Y}-07-01", "to": f"{Y}-12-31"}
    )
    assert [e["points"] for e in second["entries"]] == [4, 1, 0] and second["total"] == 5
    before = await _points(hub, world, world.supervisor, year=Y - 1)
    assert before["total"] == 0 and before["entries"] == []


async def test_upheld_dispute_voids_the_entry(hub: RunningHub, world: World) -> None:
    """A deputy disputes an entry; upheld, it counts 0; the inbox hears both steps."""
    regs = await _setup(hub, world)
    d0 = world.deputies[0]
    inbox = await Client.connect(hub.ws_url, world.tok(d0))
    await inbox.subscribe(f"deputy:{d0}")  # from the head on: only what follows
    research = f"registration:{regs[4]['id']}"
    async with http(hub, world, d0) as c:
        r = await c.post("/api/points/disputes", json={"entry": research, "reason": "重复登记"})
        assert r.status_code == 201, r.text
        dispute = r.json()
        again = await c.post("/api/points/disputes", json={"entry": research, "reason": "再次"})
        assert again.status_code == 409
        none = await c.post("/api/points/disputes", json={"entry": "speech:999", "reason": "x"})
        assert none.status_code == 404
    async with http(hub, world, world.deputies[1]) as c:
        r = await c.post("/api/points/disputes", json={"entry": research, "reason": "x"})
        assert r.status_code == 404  # not their entry
    async with http(hub, world, world.supervisor) as c:
        r = await c.post(
            f"/api/points/disputes/{dispute['id']}/resolve",
            json={"upheld": True, "resolution": "x"},
        )
        assert r.status_code == 403
    async with http(hub, world, world.admin) as c:
        r = await c.post(
            f"/api/points/disputes/{dispute['id']}/resolve",
            json={"upheld": True, "resolution": "确属重复，撤销该项"},
        )
        assert r.status_code == 200 and r.json()["state"] == "upheld"
    got = await _points(hub, world, d0, year=Y)
    assert [e["points"] for e in got["entries"]] == [2, 2, 1, 0, 4, 1, 0]
    assert got["entries"][3]["voided"] is True and got["total"] == 10
    kinds = [m["kind"] for m in await inbox.messages(2, channel=f"deputy:{d0}")]
    assert kinds == ["points.disputed", "points.dispute_resolved"]
    await inbox.close()


async def test_evaluation_list_ranks_deputies(hub: RunningHub, world: World) -> None:
    """The list has every deputy, highest total first; deputies may not read it."""
    await _setup(hub, world)
    async with http(hub, world, world.supervisor) as c:
        rows = (await c.get("/api/points", params={"year": Y})).json()["deputies"]
    assert rows[0]["deputy"]["id"] == world.deputies[0] and rows[0]["total"] == 13
    assert [r["total"] for r in rows[1:]] == [0] * (len(world.deputies))  # + the outsider
    async with http(hub, world, world.deputies[0]) as c:
        assert (await c.get("/api/points")).status_code == 403
        other = await c.get(f"/api/deputies/{world.deputies[1]}/points")
        assert other.status_code == 403


async def test_period_outside_the_calendar_is_a_bad_request(hub: RunningHub, world: World) -> None:
    """Dates at the ends of the calendar (whose next day or UTC time does not exist) get a
    400 that says which dates are accepted, on every period-taking endpoint."""
    paths = ["/api/points", f"/api/deputies/{world.deputies[0]}/points"]
    async with http(hub, world, world.supervisor) as c:
        for path in paths:
            for params in ({"to": "9999-12-31"}, {"from": "0001-01-01"}, {"from": "1999-12-31"}):
                r = await c.get(path, params=params)
                assert r.status_code == 400, (path, params, r.text)
                assert "2000-01-01" in r.json()["message"]
            ok = await c.get(path, params={"from": "2000-01-01", "to": "2100-12-31"})
            assert ok.status_code == 200, ok.text


async def test_rules_are_versions(hub: RunningHub, world: World) -> None:
    """No version may start before the latest; only one not yet in force is withdrawn."""
    async with http(hub, world, world.admin) as c:
        assert (await c.post("/api/points/rules", json=V2)).status_code == 201
        early = await c.post("/api/points/rules", json=V1)
        assert early.status_code == 409
        future = {**V2, "valid_from": f"{date.today().year + 1}-01-01"}
        later = (await c.post("/api/points/rules", json=future)).json()
        listed = (await c.get("/api/points/rules")).json()
        assert [r["id"] for r in listed["rulesets"]][-1] == later["id"]
        assert listed["in_force"] != later["id"]
        assert (await c.delete(f"/api/points/rules/{later['id']}")).status_code == 200
        first = listed["rulesets"][0]["id"]
        assert (await c.delete(f"/api/points/rules/{first}")).status_code == 409
        bad = await c.post(
            "/api/points/rules",
            json={**future, "rules": [{"event": "applause", "points": 1}]},
        )
        assert bad.status_code == 400 and "rules[0].event" in bad.json()["message"]
    async with http(hub, world, world.supervisor) as c:
        assert (await c.post("/api/points/rules", json=future)).status_code == 403


def _ev(key: str, event: str, when: str) -> Event:
    return Event(1, key, event, datetime.fromisoformat(when).astimezone(UTC), key)


def test_monthly_and_quarterly_caps_and_penalties() -> None:
    """Caps reset with their period (local time); negative points are never capped."""
    rs = RuleSet(
        1,
        datetime(2026, 1, 1, tzinfo=TZ).astimezone(UTC),
        {
            "speech": Rule("speech", Decimal(2), Decimal(3), "month"),
            "attendance": Rule("attendance", Decimal("0.5"), Decimal(1), "quarter"),
            "absence": Rule("absence", Decimal(-1), Decimal(1), "year"),
        },
        "",
        1,
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    events = [
        _ev("speech:1", "speech", "2026-03-01T10:00:00+08:00"),  # 2
        _ev("speech:2", "speech", "2026-03-02T10:00:00+08:00"),  # 1 (cap 3 in March)
        # 1 April 07:00 in Beijing is still 31 March in UTC: local time decides, April.
        _ev("speech:3", "speech", "2026-04-01T07:00:00+08:00"),  # 2
        _ev("attendance:1", "attendance", "2026-03-30T09:00:00+08:00"),  # 0.5
        _ev("attendance:2", "attendance", "2026-03-31T09:00:00+08:00"),  # 0.5
        _ev("attendance:3", "attendance", "2026-03-31T15:00:00+08:00"),  # 0 (Q1 cap 1)
        _ev("attendance:4", "attendance", "2026-04-02T09:00:00+08:00"),  # 0.5 (Q2)
        _ev("absence:1", "absence", "2026-05-01T09:00:00+08:00"),  # -1
        _ev("absence:2", "absence", "2026-05-02T09:00:00+08:00"),  # -1
        _ev("evaluation:1", "opinion", "2026-05-02T09:00:00+08:00"),  # no rule: no entry
    ]
    events.sort(key=lambda e: (e.ts, e.key))
    got = {e["key"]: e["points"] for _, e in score(events, [rs], {}, TZ)}
    assert got == {
        "speech:1": 2,
        "speech:2": 1,
        "speech:3": 2,
        "attendance:1": 0.5,
        "attendance:2": 0.5,
        "attendance:3": 0,
        "attendance:4": 0.5,
        "absence:1": -1,
        "absence:2": -1,
    }


async def test_points_from_opinions_suggestions_and_evaluations(
    hub: RunningHub, world: World
) -> None:
    """The scenario's workflow events earn what the rules say, worked out per deputy:
    d0 suggestion 3 + co-sign 1 + opinion 1 + evaluation 0.5; d1 opinion 1 + evaluation
    0.5 (its co-signature is still pending); d2 suggestion 3 + accepted 2; d3 suggestion 3
    (not accepted)."""
    rules = {
        "valid_from": "2030-01-01",
        "rules": [
            {"event": "opinion", "points": 1},
            {"event": "suggestion", "points": 3},
            {"event": "cosign", "points": 1},
            {"event": "suggestion_accepted", "points": 2},
            {"event": "evaluation", "points": 0.5},
        ],
    }
    async with Api(hub, world) as api:
        await api.post(world.admin, "/api/points/rules", rules, status=201)
        await items_scenario(hub, world, api)
        got = await api.get(world.supervisor, "/api/points", year=2030)
    d0, d1, d2, d3 = world.deputies
    totals = [(r["deputy"]["id"], r["total"]) for r in got["deputies"]]
    assert totals == [(d0, 5.5), (d2, 5), (d3, 3), (d1, 1.5), (world.outsider, 0)]
    assert got["deputies"][0]["by_event"] == {
        "cosign": 1, "evaluation": 0.5, "opinion": 1, "suggestion": 3,
    }  # fmt: skip
