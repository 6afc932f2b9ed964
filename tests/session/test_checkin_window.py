"""A sitting's check-in window and code, editing a sitting, and the speech limit: check-in
only between the window's opening and closing (by the hub's one clock), with the code
shown in the hall when the sitting asks for one, which no deputy can read; every edit an
append to the log, refused once the sitting has ended or by anyone but the secretariat
of its meeting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hub.config import Settings
from hub.session.attendance import checkins
from hub.session.meetings import sittings
from hub.session.members import add_participants, create_user
from tests.utils.client import Client
from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub
from tests.utils.session import head, history, http, wait_for

START = datetime(2030, 3, 5, 9, 0)  # local (Asia/Shanghai): 01:00Z


def _iso(local: datetime) -> str:
    return local.replace(tzinfo=None).isoformat() + "+08:00"


async def _post(hub: RunningHub, token: str, path: str, body: Any = None) -> Any:
    async with http(hub.url, token) as c:
        return await c.post(path, json=body)


async def _put(hub: RunningHub, token: str, path: str, body: Any) -> Any:
    async with http(hub.url, token) as c:
        return await c.put(path, json=body)


async def _get(hub: RunningHub, token: str, path: str) -> Any:
    async with http(hub.url, token) as c:
        r = await c.get(path)
        assert r.status_code == 200, r.text
        return r.json()


async def _sitting(hub: RunningHub, world: World, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "plenary",
        "title": "全体会议",
        "starts_at": _iso(START),
        "ends_at": _iso(START + timedelta(hours=3)),
        **extra,
    }
    r = await _post(
        hub, world.tok(world.secretariat), f"/api/meetings/{world.meeting}/sittings", body
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _refused(r: Any, status: int, code: str, **params: Any) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    for k, v in params.items():
        assert body[k] == v, (k, body)
    return body


async def _count(hub: RunningHub) -> int:
    async with hub.services.engine.connect() as conn:
        q = sa.select(sa.func.count()).select_from(checkins)
        return int((await conn.execute(q)).scalar_one())


def _edit(s: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {
        k: s[k]
        for k in (
            "title",
            "starts_at",
            "ends_at",
            "place",
            "checkin_opens_before",
            "checkin_closes_after",
            "checkin_code",
            "speech_limit_s",
        )
    }
    return {**body, **changes}


async def test_check_in_only_within_the_window(hub: RunningHub, world: World) -> None:
    """Opens 30 min before 09:00, closes 30 min after: at 08:29 refused with
    checkin_not_open and opens_at 08:30, at 09:31 with checkin_over and closes_at 09:30;
    at the edges (08:30, 09:30) accepted. Refusals store nothing."""
    clock = hub.services.clock
    clock.set(START - timedelta(hours=2))
    s = await _sitting(hub, world, checkin_opens_before=30, checkin_closes_after=30)
    assert s["checkin_opens_at"] == "2030-03-05T00:30:00.000000Z"
    assert s["checkin_closes_at"] == "2030-03-05T01:30:00.000000Z"
    a, b, c, _ = world.deputies
    path = f"/api/sittings/{s['id']}/checkin"
    try:
        clock.set(START - timedelta(minutes=31))
        r = await _post(hub, world.tok(a), path)
        _refused(r, 409, "conflict", reason="checkin_not_open", opens_at=s["checkin_opens_at"])
        clock.set(START - timedelta(minutes=30))
        assert (await _post(hub, world.tok(a), path)).status_code == 201
        clock.set(START + timedelta(minutes=30))
        assert (await _post(hub, world.tok(b), path)).status_code == 201
        clock.set(START + timedelta(minutes=30, seconds=1))
        r = await _post(hub, world.tok(c), path)
        body = _refused(r, 409, "conflict", reason="checkin_over", closes_at=s["checkin_closes_at"])
        assert body["allowed"] == []
        assert await _count(hub) == 2
        # a leave request is not bound to the window
        r = await _post(hub, world.tok(c), f"/api/sittings/{s['id']}/leave", {"reason": "出差"})
        assert r.status_code == 201, r.text
    finally:
        clock.release()


async def test_defaults_come_from_the_environment(settings: Settings, world: World) -> None:
    """A sitting made without a window or speech limit takes HUB_CHECKIN_OPENS_BEFORE,
    HUB_CHECKIN_CLOSES_AFTER and HUB_SPEECH_LIMIT; given ones (null: no limit) win."""
    from tests.utils.servers import running_hub

    env = {"HUB_CHECKIN_OPENS_BEFORE": "45", "HUB_CHECKIN_CLOSES_AFTER": "15",
           "HUB_SPEECH_LIMIT": "240"}  # fmt: skip
    read = Settings.from_env(env)
    assert (read.checkin_opens_before, read.checkin_closes_after, read.speech_limit) == (
        45,
        15,
        240,
    )
    assert Settings.from_env({"HUB_CHECKIN_CLOSES_AFTER": "none"}).checkin_closes_after is None
    assert Settings.from_env({}).checkin_opens_before == 60
    for bad in ({"HUB_CHECKIN_OPENS_BEFORE": "-5"}, {"HUB_CHECKIN_CLOSES_AFTER": "2000"},
                {"HUB_SPEECH_LIMIT": "5"}):  # fmt: skip
        with pytest.raises(SystemExit):
            Settings.from_env(bad)
    tuned = settings.with_(checkin_opens_before=45, checkin_closes_after=15, speech_limit=240)
    async with running_hub(tuned) as hub:
        s = await _sitting(hub, world)
        assert (s["checkin_opens_before"], s["checkin_closes_after"], s["speech_limit_s"]) == (
            45,
            15,
            240,
        )
        assert s["checkin_opens_at"] == "2030-03-05T00:15:00.000000Z"
        t = await _sitting(hub, world, checkin_opens_before=None, checkin_closes_after=0,
                           speech_limit_s=None)  # fmt: skip
        assert (t["checkin_opens_before"], t["checkin_closes_after"], t["speech_limit_s"]) == (
            None,
            0,
            None,
        )
        assert (
            t["checkin_opens_at"] is None
            and t["checkin_closes_at"] == "2030-03-05T01:00:00.000000Z"
        )


async def test_check_in_code_is_needed_and_never_shown_to_deputies(
    hub: RunningHub, world: World
) -> None:
    """A sitting with a code: check-in without it is bad_request checkin_code_needed, with a
    wrong one checkin_code_wrong (field code), with the board's code accepted. The code
    is on the board (staff) only: not in the overview a deputy reads, nor in any message
    on the meeting's channel."""
    clock = hub.services.clock
    clock.set(START - timedelta(minutes=10))
    try:
        s = await _sitting(hub, world, checkin_code=True)
        assert s["checkin_code"] is True
        board = await _get(hub, world.tok(world.secretariat), f"/api/sittings/{s['id']}/attendance")
        code = board["checkin_code"]
        assert isinstance(code, str) and len(code) == 6 and code.isdigit()
        a, b = world.deputies[:2]
        path = f"/api/sittings/{s['id']}/checkin"
        r = await _post(hub, world.tok(a), path)
        _refused(r, 400, "bad_request", reason="checkin_code_needed", field="code")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        r = await _post(hub, world.tok(a), path, {"code": wrong})
        _refused(r, 400, "bad_request", reason="checkin_code_wrong", field="code")
        assert await _count(hub) == 0
        assert (await _post(hub, world.tok(a), path, {"code": code})).status_code == 201
        assert (await _post(hub, world.tok(b), path, {"code": f" {code} "})).status_code == 201

        ov = await _get(hub, world.tok(a), f"/api/meetings/{world.meeting}")
        assert code not in str(ov)
        msgs = await history(hub.url, world.tok(a), f"meeting:{world.meeting}")
        assert msgs and code not in str(msgs)
        # a deputy cannot read the board
        async with http(hub.url, world.tok(a)) as c:
            r = await c.get(f"/api/sittings/{s['id']}/attendance")
        _refused(r, 403, "forbidden")
    finally:
        clock.release()


async def test_editing_a_sitting_appends_each_version(hub: RunningHub, world: World) -> None:
    """The secretariat moves a sitting, changes its place and window and turns the code on:
    the row changes, sitting.edited {sitting, changed} reaches the meeting's channel live
    with the fields that changed; the new window applies to check-in at once. The same
    values again append nothing; turning the code on again keeps it, off drops it."""
    clock = hub.services.clock
    clock.set(START - timedelta(hours=1))
    try:
        s = await _sitting(hub, world, checkin_opens_before=30, checkin_closes_after=30)
        sec = world.tok(world.secretariat)
        dep = world.deputies[0]
        dev = await Client.connect(hub.ws_url, world.tok(dep))
        await dev.subscribe(f"meeting:{world.meeting}")
        later = START + timedelta(hours=1)
        body = _edit(s, title="第二次全体会议", starts_at=_iso(later), ends_at=_iso(later + timedelta(hours=3)),
                     place="人民大会堂", checkin_opens_before=120, checkin_code=True)  # fmt: skip
        r = await _put(hub, sec, f"/api/sittings/{s['id']}", body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["title"] == "第二次全体会议" and out["place"] == "人民大会堂"
        assert out["starts_at"] == "2030-03-05T02:00:00.000000Z" and out["checkin_code"] is True
        assert out["checkin_opens_at"] == "2030-03-05T00:00:00.000000Z"
        live = await wait_for(dev, "sitting.edited", f"meeting:{world.meeting}")
        assert live["body"]["sitting"] == out
        assert live["body"]["changed"] == [
            "title", "starts_at", "ends_at", "place", "checkin_opens_before", "checkin_code",
        ]  # fmt: skip
        async with hub.services.engine.connect() as conn:
            row = (await conn.execute(sa.select(sittings).where(sittings.c.id == s["id"]))).one()
        assert row.title == "第二次全体会议" and row.checkin_code is not None
        code = row.checkin_code
        await dev.close()

        # the new window: 08:00 is now open (opens 120 min before 10:00)
        r = await _post(hub, world.tok(dep), f"/api/sittings/{s['id']}/checkin", {"code": code})
        assert r.status_code == 201, r.text

        h = await head(hub.url, sec, f"meeting:{world.meeting}")
        r = await _put(hub, sec, f"/api/sittings/{s['id']}", _edit(out))
        assert r.status_code == 200 and r.json() == out
        assert await head(hub.url, sec, f"meeting:{world.meeting}") == h  # nothing appended
        r = await _put(hub, sec, f"/api/sittings/{s['id']}", _edit(out, speech_limit_s=600))
        assert r.json()["speech_limit_s"] == 600
        async with hub.services.engine.connect() as conn:
            kept = (
                await conn.execute(
                    sa.select(sittings.c.checkin_code).where(sittings.c.id == s["id"])
                )
            ).scalar()
        assert kept == code  # the code stays while it stays on
        r = await _put(
            hub, sec, f"/api/sittings/{s['id']}", _edit(out, speech_limit_s=600, checkin_code=False)
        )
        assert r.json()["checkin_code"] is False
        edits = [m for m in await history(hub.url, sec, f"meeting:{world.meeting}")
                 if m["kind"] == "sitting.edited"]  # fmt: skip
        assert [m["body"]["changed"] for m in edits][1:] == [["speech_limit_s"], ["checkin_code"]]
    finally:
        clock.release()


async def test_edit_refused_once_ended_by_others_and_when_wrong(
    hub: RunningHub, world: World
) -> None:
    """An edit of a closed sitting is conflict sitting_closed, of one past its scheduled
    end sitting_ended; a deputy's is forbidden, another meeting's secretariat's forbidden,
    an unknown sitting not_found; an end before the start or already past is bad_request
    (field ends_at). None of them changes the row or appends."""
    sec = world.tok(world.secretariat)
    clock = hub.services.clock
    clock.set(START + timedelta(minutes=10))
    try:
        s = await _sitting(hub, world)
        sid = s["id"]
        h = await head(hub.url, sec, f"meeting:{world.meeting}")
        r = await _put(
            hub, world.tok(world.deputies[0]), f"/api/sittings/{sid}", _edit(s, title="改")
        )
        _refused(r, 403, "forbidden")
        async with hub.services.engine.begin() as conn:
            sec2 = await create_user(conn, "sec2", "另一会议秘书处", "secretariat")
            await add_participants(conn, world.other_meeting, [sec2])
        r = await _put(hub, tokens.issue(sec2, 0), f"/api/sittings/{sid}", _edit(s, title="改"))
        _refused(r, 403, "forbidden")
        r = await _put(hub, sec, "/api/sittings/999999", _edit(s))
        _refused(r, 404, "not_found")
        r = await _put(hub, sec, f"/api/sittings/{sid}", _edit(s, ends_at=s["starts_at"]))
        _refused(r, 400, "bad_request", field="ends_at")
        past = (START + timedelta(minutes=5)).isoformat() + "+08:00"
        r = await _put(hub, sec, f"/api/sittings/{sid}", _edit(s, ends_at=past))
        _refused(r, 400, "bad_request", field="ends_at")
        r = await _put(hub, sec, f"/api/sittings/{sid}", {"title": "改"})
        _refused(r, 400, "bad_request")
        assert await head(hub.url, sec, f"meeting:{world.meeting}") == h

        assert (await _post(hub, sec, f"/api/sittings/{sid}/close")).status_code == 200
        r = await _put(hub, sec, f"/api/sittings/{sid}", _edit(s, title="改"))
        _refused(r, 409, "conflict", reason="sitting_closed", allowed=[])

        t = await _sitting(hub, world)
        clock.set(START + timedelta(hours=3))  # its scheduled end
        r = await _put(hub, sec, f"/api/sittings/{t['id']}", _edit(t, title="改"))
        _refused(r, 409, "conflict", reason="sitting_ended", allowed=[])
        async with hub.services.engine.connect() as conn:
            titles = {r.title for r in await conn.execute(sa.select(sittings.c.title))}
        assert "改" not in titles
    finally:
        clock.release()


async def test_no_window_means_until_the_end(hub: RunningHub, world: World) -> None:
    """A sitting without a window (null, as sittings made before windows existed) takes
    check-in from its creation until it ends."""
    clock = hub.services.clock
    clock.set(START - timedelta(days=1))
    try:
        s = await _sitting(hub, world, checkin_opens_before=None, checkin_closes_after=None)
        a, b = world.deputies[:2]
        assert (
            await _post(hub, world.tok(a), f"/api/sittings/{s['id']}/checkin")
        ).status_code == 201
        clock.set(START + timedelta(hours=2, minutes=59))
        assert (
            await _post(hub, world.tok(b), f"/api/sittings/{s['id']}/checkin")
        ).status_code == 201
    finally:
        clock.release()


async def test_wrong_codes_are_limited(hub: RunningHub, world: World) -> None:
    """Five wrong codes from one deputy within ten minutes: the sixth attempt, even with
    the right code, is rate_limited with retry_after; ten minutes after the first miss the
    right code checks in. Another deputy is not held back by them."""
    clock = hub.services.clock
    clock.set(START - timedelta(minutes=10))
    try:
        s = await _sitting(hub, world, checkin_code=True)
        board = await _get(hub, world.tok(world.secretariat), f"/api/sittings/{s['id']}/attendance")
        code = board["checkin_code"]
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        a, b = world.deputies[:2]
        path = f"/api/sittings/{s['id']}/checkin"
        for _ in range(5):
            r = await _post(hub, world.tok(a), path, {"code": wrong})
            _refused(r, 400, "bad_request", reason="checkin_code_wrong")
            clock.advance(timedelta(seconds=30))
        r = await _post(hub, world.tok(a), path, {"code": code})
        body = _refused(r, 429, "rate_limited")
        assert 0 < body["retry_after"] <= 600 - 150 + 1, body
        assert (await _post(hub, world.tok(b), path, {"code": code})).status_code == 201
        clock.advance(timedelta(seconds=body["retry_after"]))
        assert (await _post(hub, world.tok(a), path, {"code": code})).status_code == 201
    finally:
        clock.release()
