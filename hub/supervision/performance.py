"""Performance files (履职档案): everything a deputy did, in one view, and who viewed it.

A file gathers, for one deputy: their registrations, their duty points of a period with
every entry, their attendance at sittings, their speeches, their opinions, their
suggestions and commit-to-do items, and who viewed the file and their registrations,
and when. Every read of a file by someone else (its export too) is recorded in
``performance_views`` (viewer, time) before it is answered; a deputy reading their own
file is not recorded, and is not counted (nor are such rows stored before this rule). A
deputy reads only their own file; the secretariat, supervisors and admins read every
file; units none.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import NotFound
from hub.protocol import iso, utc
from hub.session.attendance import checkins, leave_requests
from hub.session.items import item_deputies, items
from hub.session.meetings import agenda_items, sittings
from hub.session.members import Member
from hub.session.opinions import opinions
from hub.session.schema import delegations, meeting_participants, users
from hub.session.speakers import speech_requests
from hub.supervision import points
from hub.supervision.attendance import as_of
from hub.supervision.attendance import status as attendance_status
from hub.supervision.registrations import (
    check_reader,
    is_own,
    performance_views,
    registration_dict,
    registrations,
)

if TYPE_CHECKING:
    from hub.node import Node

RECENT_VIEWS = 20


async def deputy_row(conn: AsyncConnection, deputy_id: int) -> Any:
    r = (
        await conn.execute(
            sa.select(users.c.id, users.c.name, users.c.delegation_id, delegations.c.name)
            .select_from(users.outerjoin(delegations, delegations.c.id == users.c.delegation_id))
            .where(users.c.id == deputy_id, users.c.role == "deputy")
        )
    ).first()
    if r is None:
        raise NotFound(f"no deputy {deputy_id}")
    return r


async def attendance_of(conn: AsyncConnection, deputy_id: int, now: datetime) -> dict[str, Any]:
    """The sittings the deputy was expected at, each with their status, and the counts."""
    me = await deputy_row(conn, deputy_id)
    rows = (
        await conn.execute(
            sa.select(sittings)
            .join(
                meeting_participants,
                sa.and_(
                    meeting_participants.c.meeting_id == sittings.c.meeting_id,
                    meeting_participants.c.user_id == deputy_id,
                ),
            )
            .where(
                sa.or_(
                    sittings.c.delegation_id.is_(None),
                    sittings.c.delegation_id == me.delegation_id,
                )
            )
            .order_by(sittings.c.starts_at, sittings.c.id)
        )
    ).all()
    ids = [int(s.id) for s in rows]
    ins = {
        int(r.sitting_id): r.ts
        for r in await conn.execute(
            sa.select(checkins.c.sitting_id, checkins.c.ts).where(
                checkins.c.user_id == deputy_id, checkins.c.sitting_id.in_(ids)
            )
        )
    }
    leaves = {
        int(r.sitting_id): r.status
        for r in await conn.execute(
            sa.select(leave_requests.c.sitting_id, leave_requests.c.status)
            .where(leave_requests.c.user_id == deputy_id, leave_requests.c.sitting_id.in_(ids))
            .order_by(leave_requests.c.id)
        )
    }
    out = []
    for s in rows:
        status = as_of(attendance_status(int(s.id) in ins, leaves.get(int(s.id))), s, now)
        checked = ins.get(int(s.id))
        out.append(
            {
                "sitting": {"id": int(s.id), "title": s.title, "kind": s.kind},
                "starts_at": iso(utc(s.starts_at)),
                "status": status,
                "checked_in_at": None if checked is None else iso(utc(checked)),
            }
        )
    counts = Counter(a["status"] for a in out)
    return {
        "counts": {
            k: counts.get(k, 0)
            for k in (
                "checked_in",
                "on_leave",
                "leave_pending",
                "absent",
                "not_checked_in",
                "upcoming",
            )
        },
        "sittings": out,
    }


async def speeches_of(conn: AsyncConnection, deputy_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(speech_requests, sittings.c.title, agenda_items.c.title.label("agenda"))
        .join(sittings, sittings.c.id == speech_requests.c.sitting_id)
        .outerjoin(agenda_items, agenda_items.c.id == speech_requests.c.agenda_item_id)
        .where(speech_requests.c.user_id == deputy_id, speech_requests.c.status == "done")
        .order_by(speech_requests.c.started_at)
    )
    return [
        {
            "id": int(r.id),
            "sitting": {"id": int(r.sitting_id), "title": r.title},
            "agenda_item_id": int(r.agenda_item_id),
            "agenda_item": {"id": int(r.agenda_item_id), "title": r.agenda or ""},
            "started_at": iso(utc(r.started_at)),
            "duration_s": None if r.duration_ms is None else r.duration_ms / 1000,
        }
        for r in rows
    ]


async def items_of(conn: AsyncConnection, deputy_id: int) -> list[dict[str, Any]]:
    """The deputy's suggestions (as author or co-signer) and commit-to-do items (from
    their opinions), newest first."""
    rows = await conn.execute(
        sa.select(items, item_deputies.c.role, item_deputies.c.status)
        .join(item_deputies, item_deputies.c.item_id == items.c.id)
        .where(item_deputies.c.deputy_id == deputy_id)
        .order_by(items.c.id.desc())
    )
    return [
        {
            "id": int(r.id),
            "kind": r.kind,
            "meeting_id": int(r.meeting_id),
            "title": r.title,
            "state": r.state,
            "grade": r.grade,
            "role": r.role,
            "status": r.status,
            "created_at": iso(utc(r.created_at)),
            "closed_at": None if r.closed_at is None else iso(utc(r.closed_at)),
        }
        for r in rows
    ]


async def opinions_of(conn: AsyncConnection, deputy_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(opinions).where(opinions.c.deputy_id == deputy_id).order_by(opinions.c.id.desc())
    )
    return [
        {
            "id": int(r.id),
            "meeting_id": int(r.meeting_id),
            "text": r.text,
            "status": r.status,
            "item_id": None if r.item_id is None else int(r.item_id),
            "created_at": iso(utc(r.created_at)),
        }
        for r in rows
    ]


def counted(deputy_id: int) -> sa.ColumnElement[bool]:
    """The views that count: the deputy's file's and registrations', by anyone else."""
    v = performance_views.c
    return sa.and_(v.deputy_id == deputy_id, v.viewer_id != deputy_id)


async def views_of(conn: AsyncConnection, deputy_id: int) -> dict[str, Any]:
    """How often others viewed the file and the deputy's registrations, and who and when
    (the latest :data:`RECENT_VIEWS`)."""
    v = performance_views.c
    file_views, file_viewers = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(v.viewer_id))).where(
                counted(deputy_id), v.registration_id.is_(None)
            )
        )
    ).one()
    reg_views = (
        await conn.execute(
            sa.select(sa.func.count()).where(counted(deputy_id), v.registration_id.is_not(None))
        )
    ).scalar_one()
    recent = await conn.execute(
        sa.select(
            v.viewer_id, users.c.name, users.c.role, v.registration_id, registrations.c.title, v.ts
        )
        .join(users, users.c.id == v.viewer_id)
        .outerjoin(registrations, registrations.c.id == v.registration_id)
        .where(counted(deputy_id))
        .order_by(v.id.desc())
        .limit(RECENT_VIEWS)
    )
    return {
        "file": int(file_views),
        "file_viewers": int(file_viewers),
        "registrations": int(reg_views),
        "recent": [
            {
                "viewer": {"id": int(r.viewer_id), "name": r.name, "role": r.role},
                "registration_id": None if r.registration_id is None else int(r.registration_id),
                "registration_title": r.title,
                "ts": iso(utc(r.ts)),
            }
            for r in recent
        ],
    }


async def performance_file(
    node: Node,
    me: Member,
    deputy_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: tzinfo,
) -> dict[str, Any]:
    """The deputy's whole file, with points of ``[start, end)``; records the view first
    (unless it is the deputy's own)."""
    check_reader(me, deputy_id)
    async with node.writing() as w:
        await deputy_row(w.conn, deputy_id)
        if not is_own(me, deputy_id):
            await w.conn.execute(
                performance_views.insert().values(deputy_id=deputy_id, viewer_id=me.id, ts=now)
            )
    async with node.log.reading() as conn:
        d = await deputy_row(conn, deputy_id)
        regs = await conn.execute(
            sa.select(registrations)
            .where(registrations.c.deputy_id == deputy_id)
            .order_by(registrations.c.activity_date.desc(), registrations.c.id.desc())
        )
        tallies = await points.tally(conn, {deputy_id}, start, end, now, tz)
        t = tallies.get(deputy_id)
        return {
            "deputy": {
                "id": int(d.id),
                "name": d.name,
                "delegation": None
                if d.delegation_id is None
                else {"id": int(d.delegation_id), "name": d[3]},
            },
            "period": {"from": iso(start), "to": iso(end)},
            "registrations": [registration_dict(r, d.name) for r in regs],
            "points": (t.as_dict() if t else points.Tally.empty().as_dict()),
            "attendance": await attendance_of(conn, deputy_id, now),
            "speeches": await speeches_of(conn, deputy_id),
            "opinions": await opinions_of(conn, deputy_id),
            "items": await items_of(conn, deputy_id),
            "views": await views_of(conn, deputy_id),
        }


FILE_COLUMNS = ("section", "date", "title", "text", "state", "detail")
"""The export's columns: which list a row is of, its date, what, and how it stands."""


def file_rows(f: dict[str, Any]) -> list[list[Any]]:
    """The file as the export's rows (:data:`FILE_COLUMNS`), list by list, as codes (the
    states, kinds and roles of the API): the points by event, then registrations,
    attendance, speeches, opinions, items, and the views by others."""
    rows: list[list[Any]] = [
        ["points", f["period"]["from"], event, "", "", n]
        for event, n in f["points"].get("by_event", {}).items()
    ]
    rows += [
        ["registration", r["activity_date"], r["title"], r["text"], r["state"], r["kind"]]
        for r in f["registrations"]
    ]
    rows += [
        ["attendance", a["starts_at"], a["sitting"]["title"], "", a["status"], a["checked_in_at"]]
        for a in f["attendance"]["sittings"]
    ]
    rows += [
        ["speech", s["started_at"], s["sitting"]["title"], s["agenda_item"]["title"], "done",
         s["duration_s"]]
        for s in f["speeches"]
    ]  # fmt: skip
    rows += [["opinion", o["created_at"], "", o["text"], o["status"], ""] for o in f["opinions"]]
    rows += [
        ["item", i["created_at"], i["title"], i["kind"], i["state"], i["role"]] for i in f["items"]
    ]
    rows += [
        ["view", v["ts"], v["viewer"]["name"], v["registration_title"] or "", "",
         v["viewer"]["role"]]
        for v in f["views"]["recent"]
    ]  # fmt: skip
    return rows
