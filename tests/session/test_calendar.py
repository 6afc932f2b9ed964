"""The working-day calendar and the deadline rules: pure arithmetic, then the admin
endpoints that load holidays and change rules, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub.clock import Clock
from hub.errors import BadRequest
from hub.params import parse_deadline
from hub.session.calendar import WorkingCalendar
from hub.session.deadline_rules import DEFAULTS, Rule, add_months, due
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub

# A National Day week: 1-7 October off, Sunday 27 September and Saturday 10 October worked.
GOLDEN_WEEK = {
    **{date(2026, 10, d): False for d in range(1, 8)},
    date(2026, 9, 27): True,
    date(2026, 10, 10): True,
}
CLOCK = Clock("Asia/Shanghai")


def end(year: int, month: int, day: int) -> datetime:
    """The end of that day in Shanghai: 23:59:59.999999 local (a deadline of that date)."""
    return datetime(year, month, day, 23, 59, 59, 999999, tzinfo=CLOCK.tz)


def test_weekends_are_skipped() -> None:
    """Friday + 1 working day is Monday; Saturday + 0 is Monday; 5 working days is a week."""
    cal = WorkingCalendar()
    fri = date(2026, 3, 6)
    assert cal.add_working_days(fri, 1) == date(2026, 3, 9)
    assert cal.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 9)
    assert cal.add_working_days(fri, 0) == fri
    assert cal.add_working_days(fri, 5) == date(2026, 3, 13)
    assert cal.working_days_between(fri, date(2026, 3, 13)) == 5


def test_holidays_and_make_up_days() -> None:
    """Seven working days from Friday 25 September cross a worked Sunday, the holiday
    week and end on the worked Saturday 10 October."""
    cal = WorkingCalendar(GOLDEN_WEEK)
    assert cal.is_working(date(2026, 9, 27)) and not cal.is_working(date(2026, 10, 5))
    got = [cal.add_working_days(date(2026, 9, 25), n) for n in range(1, 8)]
    assert got == [
        date(2026, 9, 27),
        date(2026, 9, 28),
        date(2026, 9, 29),
        date(2026, 9, 30),
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 10),
    ]


def test_month_rules_clamp_and_move_off_holidays() -> None:
    """31 January + 1 month is 28 February; a period ending on a holiday ends on the next
    working day; working-day rules end at the end of the local day; hour rules are exact."""
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    cal = WorkingCalendar(GOLDEN_WEEK)
    start = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    three_months = Rule("suggestion.reply", 3, "months")
    assert due(start, three_months, cal, CLOCK) == end(2026, 10, 8)
    assert due(start, Rule("x", 6, "days"), cal, CLOCK) == end(2026, 7, 7)
    assert due(start, Rule("x", 4, "hours"), cal, CLOCK) == datetime(2026, 7, 1, 6, tzinfo=UTC)
    late_friday = datetime(2026, 9, 25, 15, 30, tzinfo=UTC)  # 23:30 Friday in Shanghai
    sign = DEFAULTS["suggestion.sign"]
    assert due(late_friday, sign, cal, CLOCK) == end(2026, 10, 10)


def test_deadline_input() -> None:
    """A date means the end of that local day (its last instant: the same local date); a
    datetime needs an offset; the past is refused; each refusal names the field."""
    c = Clock("Asia/Shanghai")
    c.set(datetime(2026, 3, 2, 9, 0))
    assert parse_deadline("2026-03-05", "deadline", c) == end(2026, 3, 5)
    assert parse_deadline("2026-03-02T17:00:00+08:00", "d", c) == datetime(
        2026, 3, 2, 9, tzinfo=UTC
    )
    assert CLOCK.local(parse_deadline("2026-03-05", "deadline", c)).date() == date(2026, 3, 5)
    for bad in ("2026-03-01", "2026-03-05T10:00:00", "soon", 5, "2026-02-30", "9999-12-31"):
        with pytest.raises(BadRequest) as refused:
            parse_deadline(bad, "deadline", c)
        assert refused.value.extra["field"] == "deadline"
    with pytest.raises(BadRequest) as refused:
        parse_deadline("2026-03-01", "until", c)
    assert refused.value.extra == {"field": "until", "reason": "past"}


async def test_admin_loads_a_year_and_hand_over_uses_it(hub: RunningHub, world: World) -> None:
    """The admin loads 2026's holidays and make-up days; everyone can read them; a
    suggestion handed over on Friday 25 September must be signed by 10 October."""
    adm, sec, d0 = world.admin, world.secretariat, world.deputies[0]
    body = {
        "holidays": [{"date": f"2026-10-0{d}", "name": "国庆节"} for d in range(1, 8)],
        "workdays": [
            {"date": "2026-09-27", "name": "国庆调休"},
            {"date": "2026-10-10", "name": "国庆调休"},
        ],
    }
    async with Api(hub, world) as api:
        await api.call(sec, "PUT", "/api/admin/calendar/2026", body, status=403)
        for bad in (
            {"holidays": [{"date": "2027-01-01"}]},
            {"holidays": [{"date": "2026-13-01"}]},
            {"holidays": [{"date": "2026-10-01"}], "workdays": [{"date": "2026-10-01"}]},
            {"holidays": "2026-10-01"},
        ):
            await api.call(adm, "PUT", "/api/admin/calendar/2026", bad, status=400)
        await api.call(
            adm, "PUT", "/api/admin/calendar/2026", {"holidays": [{"date": "2026-05-01"}]}
        )
        r = await api.call(adm, "PUT", "/api/admin/calendar/2026", body)
        assert len(r["holidays"]) == 7 and len(r["workdays"]) == 2
        got = await api.get(d0, "/api/calendar/2026")
        assert got == r and "2026-05-01" not in str(got)  # a load replaces the year
        assert (await api.get(d0, "/api/calendar/2027"))["holidays"] == []

        hub.services.clock.set(datetime(2026, 9, 25, 10, 0))
        i = (await api.suggestion(d0))["id"]
        await api.post(sec, f"/api/suggestions/{i}/accept")
        r = await api.post(sec, f"/api/suggestions/{i}/hand_over", {"lead_unit_id": world.units[0]})
    assert r["sign_due"] == "2026-10-10T15:59:59.999999Z"
    assert r["reply_due"] == "2026-12-25T15:59:59.999999Z"


async def test_admin_changes_a_deadline_rule(hub: RunningHub, world: World) -> None:
    """The admin lengthens the return window to 10 working days; hand-overs afterwards
    use it; bad rules are refused."""
    adm, sec = world.admin, world.secretariat
    async with Api(hub, world) as api:
        rules = {r["name"]: r for r in (await api.get(sec, "/api/deadline-rules"))["rules"]}
        assert rules["suggestion.sign"]["amount"] == 7
        assert rules["suggestion.reply_complex"] == {
            "name": "suggestion.reply_complex",
            "amount": 6,
            "unit": "months",
            "description": DEFAULTS["suggestion.reply_complex"].description,
        }
        path = "/api/admin/deadline-rules/suggestion.sign"
        await api.call(sec, "PUT", path, {"amount": 10, "unit": "working_days"}, status=403)
        await api.call(adm, "PUT", path, {"amount": -1, "unit": "working_days"}, status=400)
        await api.call(adm, "PUT", path, {"amount": 10, "unit": "weeks"}, status=400)
        await api.call(
            adm,
            "PUT",
            "/api/admin/deadline-rules/commit.due_soon",
            {"amount": 1, "unit": "months"},
            status=400,
        )
        await api.call(
            adm, "PUT", "/api/admin/deadline-rules/nope", {"amount": 1, "unit": "days"}, status=404
        )
        r = await api.call(adm, "PUT", path, {"amount": 10, "unit": "working_days"})
        assert r["amount"] == 10
        hub.services.clock.set(datetime(2026, 3, 6, 10, 0))
        i = (await api.suggestion(world.deputies[0]))["id"]
        await api.post(sec, f"/api/suggestions/{i}/accept")
        r = await api.post(sec, f"/api/suggestions/{i}/hand_over", {"lead_unit_id": world.units[0]})
    assert r["sign_due"] == "2026-03-20T15:59:59.999999Z"  # Friday 6 March + 10 working days
