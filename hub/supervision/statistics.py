"""Statistics of a meeting and/or a period, in one answer.

Scope: ``meeting`` (items, notices and sittings of that meeting) and/or ``[start, end)``
(items created, notices sent, sittings started in it). Definitions:

* **suggestions**: ``submitted`` every suggestion a deputy submitted, of which
  ``cosigning`` still wait for their co-signers (they have not reached the secretariat)
  and ``received`` reached it (state ``submitted``, after any co-signing);
  ``accepted`` / ``not_accepted`` by review; ``assigned`` handed over; ``signed`` signed
  for by a lead unit; ``replied`` answered at least once; ``closed``.
* **commit_items** (马上办): ``assigned`` (they are created handed over), ``signed``,
  ``replied``, ``closed``, and ``same_day``: first replied on the local date of their
  first hand-over.
* **item_states**: the items in scope (both kinds) by their state now.
* **evaluations** of the items in scope, each deputy's last rating of each item
  (:func:`last_ratings`; a re-handled item counts once per deputy, with the rating of the
  last round they evaluated): counts per rating, ``satisfaction_rate`` = (satisfied +
  basically satisfied) / all, ``satisfied_rate`` = satisfied / all. ``no_evaluation``: items the secretariat closed after the evaluation
  deadline without every evaluation; a missing evaluation is no rating, neither
  satisfied nor unsatisfied, and counts in no rate (the ratings given before still do).
* **overdue**: ``now`` — items whose current deadline (signing, or the reply) has passed;
  ``missed`` — items with at least one deadline missed or overdue.
* **deadlines** (see ``hub.supervision.timelines``): met, missed, overdue, pending,
  superseded; ``on_time_rate`` = met / (met + missed + overdue).
* **units**, per unit: hand-overs to it as lead (``assigned``), the median time to sign
  and to reply (seconds, of the items it signed / replied), and its deadlines' counts
  and on-time rate.
* **notices**: addressees (per notice and deputy), ``delivered`` (an ack of the
  addressee's channel up to the notice's seq or later, or a read), ``read`` (a read of
  that seq), ``missing`` (neither), ``unread`` (delivered, not read), the rates, and the
  median time from sending to reading (seconds): the notices' own rule
  (``hub.session.notices.per_addressee``), the one the tally, the archive and the export
  count by.
* **opinions** (审议意见) submitted in scope: ``total`` and per status now (``submitted``:
  not handled yet; ``noted``, ``merged``, ``committed``).
* **attendance** at the sittings that have begun: those that ended (closed by the
  secretariat, or past their scheduled end: ``hub.session.meetings.ended_clause``) are
  final, those still open count "so far" (``final`` is false while any is open);
  expected deputies, checked in, on approved leave, ``absent`` (at an ended sitting; a
  leave still pending when it ended is an absence), ``not_checked_in`` (not checked in
  yet at an open sitting, with or without a pending leave); ``rate`` = checked in /
  expected. Sittings not begun yet are left out and counted in ``not_started``.

Rates are rounded to 4 decimals; a rate over nothing is None. ``as_of`` is the hub's time
the figures were taken at.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.protocol import iso, utc
from hub.session import lifecycle as lc
from hub.session.items import RATINGS, SUGGESTION, due_expr, item_evaluations, items
from hub.session.meetings import sitting_ended, sittings
from hub.session.notices import notices, per_addressee
from hub.session.opinions import STATUSES as OPINION_STATUSES
from hub.session.opinions import opinions
from hub.session.schema import units
from hub.store.engine import in_chunks
from hub.supervision.attendance import marks
from hub.supervision.timelines import analyse, load_events


def scope(
    meeting_col: sa.ColumnElement[Any],
    meeting: int | None,
    time_col: sa.ColumnElement[Any],
    start: datetime | None,
    end: datetime | None,
) -> list[sa.ColumnElement[bool]]:
    """The conditions of a statistic's filter: one meeting (if given), ``time_col`` within
    ``[start, end)`` (each bound if given)."""
    conds = [] if meeting is None else [meeting_col == meeting]
    if start is not None:
        conds.append(time_col >= start)
    if end is not None:
        conds.append(time_col < end)
    return conds


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def median(values: Iterable[float]) -> float | None:
    v = list(values)
    return None if not v else float(statistics.median(v))


async def item_statistics(
    conn: AsyncConnection,
    meeting: int | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    tz: tzinfo,
) -> dict[str, Any]:
    q = sa.select(items).where(*scope(items.c.meeting_id, meeting, items.c.created_at, start, end))
    rows = (await conn.execute(q.order_by(items.c.id))).all()
    ids = [int(r.id) for r in rows]
    events = await load_events(conn, ids)
    timelines = [analyse(r, events[int(r.id)], now) for r in rows]

    sugg = dict.fromkeys(
        (
            "submitted",
            "cosigning",
            "received",
            "accepted",
            "not_accepted",
            "assigned",
            "signed",
            "replied",
            "closed",
        ),
        0,
    )
    by_state = dict.fromkeys(lc.STATES, 0)
    commit = dict.fromkeys(("assigned", "signed", "replied", "closed", "same_day"), 0)
    deadline_counts = dict.fromkeys(("met", "missed", "overdue", "pending", "superseded"), 0)
    per_unit: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "assigned": 0,
            "sign_s": [],
            "reply_s": [],
            **dict.fromkeys(("met", "missed", "overdue", "pending"), 0),
        }
    )
    missed_items = 0
    for t in timelines:
        actions = {s["action"] for s in t.steps}
        to_states = {s["to"] for s in t.steps}
        by_state[t.state] += 1
        if t.kind == SUGGESTION:
            sugg["submitted"] += 1
            sugg["cosigning"] += t.state == lc.COSIGNING
            sugg["received"] += lc.SUBMITTED in to_states
            sugg["accepted"] += "accept" in actions
            sugg["not_accepted"] += "not_accept" in actions
            sugg["assigned"] += "hand_over" in actions
            sugg["signed"] += "sign" in actions
            sugg["replied"] += "reply" in actions
            sugg["closed"] += t.state == lc.CLOSED
        else:
            commit["assigned"] += "hand_over" in actions
            commit["signed"] += "sign" in actions
            commit["replied"] += "reply" in actions
            commit["closed"] += t.state == lc.CLOSED
            if t.first_hand_over is not None and t.first_reply is not None:
                same = (
                    t.first_hand_over.astimezone(tz).date() == t.first_reply.astimezone(tz).date()
                )
                commit["same_day"] += same
        for s in t.steps:
            if s["action"] in ("hand_over", "reassign") and s["payload"].get("lead_unit_id"):
                per_unit[int(s["payload"]["lead_unit_id"])]["assigned"] += 1
        if t.sign is not None and t.sign_unit is not None:
            per_unit[t.sign_unit]["sign_s"].append(t.sign)
        if t.reply is not None and t.reply_unit is not None:
            per_unit[t.reply_unit]["reply_s"].append(t.reply)
        any_missed = False
        for d in t.deadlines:
            deadline_counts[d.status] += 1
            if d.unit_id is not None and d.status != "superseded":
                per_unit[d.unit_id][d.status] += 1
            any_missed |= d.status in ("missed", "overdue")
        missed_items += any_missed

    overdue_now = 0
    if ids:
        q2 = sa.select(sa.func.count()).select_from(items).where(due_expr() <= now)
        q2 = q2.where(*scope(items.c.meeting_id, meeting, items.c.created_at, start, end))
        overdue_now = int((await conn.execute(q2)).scalar_one())

    ratings = await last_ratings(conn, ids)
    total_eval = sum(ratings.values())
    no_evaluation = sum(r.state == lc.CLOSED and r.closed_reason == lc.NO_EVALUATION for r in rows)

    names = {
        int(r.id): r.name
        for r in await conn.execute(
            sa.select(units.c.id, units.c.name).where(units.c.id.in_(list(per_unit)))
        )
    }
    unit_rows = []
    for uid in sorted(per_unit):
        u = per_unit[uid]
        judged = u["met"] + u["missed"] + u["overdue"]
        unit_rows.append(
            {
                "unit": {"id": uid, "name": names.get(uid, "")},
                "assigned": u["assigned"],
                "signed": len(u["sign_s"]),
                "median_sign_s": median(u["sign_s"]),
                "replied": len(u["reply_s"]),
                "median_reply_s": median(u["reply_s"]),
                "deadlines": {k: u[k] for k in ("met", "missed", "overdue", "pending")},
                "on_time_rate": rate(u["met"], judged),
            }
        )
    judged = deadline_counts["met"] + deadline_counts["missed"] + deadline_counts["overdue"]
    return {
        "suggestions": sugg,
        "commit_items": commit,
        "item_states": by_state,
        "evaluations": {
            "total": total_eval,
            **ratings,
            "satisfaction_rate": rate(
                ratings["satisfied"] + ratings["basically_satisfied"], total_eval
            ),
            "satisfied_rate": rate(ratings["satisfied"], total_eval),
            "no_evaluation": no_evaluation,
        },
        "overdue": {"now": overdue_now, "missed": missed_items},
        "deadlines": {**deadline_counts, "on_time_rate": rate(deadline_counts["met"], judged)},
        "units": unit_rows,
    }


async def last_ratings(conn: AsyncConnection, item_ids: list[int]) -> dict[str, int]:
    """**Satisfaction, the one definition**: per item and deputy, the rating of the last
    round that deputy evaluated — a deputy's standing verdict on the item, counted once
    however many times it was re-handled (an unsatisfied first reply followed by a
    satisfied second counts as satisfied). Counts per rating over ``item_ids``."""
    e = item_evaluations.c
    ratings = dict.fromkeys(RATINGS, 0)
    for part in in_chunks(item_ids):
        last = (
            sa.select(e.item_id, e.deputy_id, sa.func.max(e.round).label("round"))
            .where(e.item_id.in_(part))
            .group_by(e.item_id, e.deputy_id)
            .subquery("last")
        )
        q = (
            sa.select(e.rating, sa.func.count())
            .join(
                last,
                sa.and_(
                    e.item_id == last.c.item_id,
                    e.deputy_id == last.c.deputy_id,
                    e.round == last.c.round,
                ),
            )
            .group_by(e.rating)
        )
        for rating, n in await conn.execute(q):
            ratings[rating] += int(n)
    return ratings


async def notice_statistics(
    conn: AsyncConnection, meeting: int | None, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """Counted per addressee by the notices' own rule (``hub.session.notices.per_addressee``,
    the rule of the tally), summed over the notices in scope."""
    p = per_addressee(*scope(notices.c.meeting_id, meeting, notices.c.created_at, start, end))
    counts: list[sa.ColumnElement[Any]] = [
        sa.func.count(sa.distinct(p.c.notice_id)),
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(p.c.delivered), 0),
        sa.func.count(p.c.read_at),
    ]
    if conn.dialect.name == "postgresql":
        # percentile_cont skips the NULLs of the unread
        took = sa.extract("epoch", p.c.read_at - p.c.sent)
        counts.append(sa.func.percentile_cont(0.5).within_group(took))
        sent, addressees, delivered_n, read_n, middle = (
            await conn.execute(sa.select(*counts))
        ).one()
        median_read = None if middle is None else float(middle)
    else:
        sent, addressees, delivered_n, read_n = (await conn.execute(sa.select(*counts))).one()
        rows = await conn.execute(sa.select(p.c.sent, p.c.read_at).where(p.c.read_at.is_not(None)))
        median_read = median((utc(r.read_at) - utc(r.sent)).total_seconds() for r in rows)
    return {
        "count": int(sent),
        "addressees": int(addressees),
        "delivered": int(delivered_n),
        "read": int(read_n),
        "missing": int(addressees) - int(delivered_n),
        "unread": int(delivered_n) - int(read_n),
        "delivery_rate": rate(int(delivered_n), int(addressees)),
        "read_rate": rate(int(read_n), int(addressees)),
        "median_time_to_read_s": median_read,
    }


async def attendance_statistics(
    conn: AsyncConnection,
    meeting: int | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    q = sa.select(sittings).where(
        *scope(sittings.c.meeting_id, meeting, sittings.c.starts_at, start, end)
    )
    rows = (await conn.execute(q.order_by(sittings.c.id))).all()
    ended = [s for s in rows if sitting_ended(s, now)]
    begun = [s for s in rows if not sitting_ended(s, now) and utc(s.starts_at) <= now]
    counted = [*ended, *begun]
    final = {int(s.id) for s in ended}
    counts = dict.fromkeys(("expected", "checked_in", "on_leave", "absent", "not_checked_in"), 0)
    for m in await marks(conn, counted):
        counts["expected"] += 1
        if m.status in ("checked_in", "on_leave"):
            counts[m.status] += 1
        elif int(m.sitting.id) in final:
            counts["absent"] += 1  # a leave still pending when the sitting ended too
        else:
            counts["not_checked_in"] += 1  # not yet: the sitting is still open
    return {
        "sittings": len(counted),
        "ended": len(ended),
        "open": len(begun),
        "not_started": len(rows) - len(counted),
        "final": not begun,
        **counts,
        "rate": rate(counts["checked_in"], counts["expected"]),
    }


async def opinion_statistics(
    conn: AsyncConnection, meeting: int | None, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    q = sa.select(opinions.c.status, sa.func.count()).group_by(opinions.c.status)
    q = q.where(*scope(opinions.c.meeting_id, meeting, opinions.c.created_at, start, end))
    by_status = dict.fromkeys(OPINION_STATUSES, 0)
    for status, n in await conn.execute(q):
        by_status[status] = int(n)
    return {"total": sum(by_status.values()), **by_status}


async def statistics_of(
    conn: AsyncConnection,
    meeting: int | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    tz: tzinfo,
) -> dict[str, Any]:
    if conn.dialect.name == "postgresql":
        # These are many small index probes: compiling them (JIT) costs more than it saves.
        await conn.exec_driver_sql("SET LOCAL jit = off")
    return {
        **await item_statistics(conn, meeting, start, end, now, tz),
        "opinions": await opinion_statistics(conn, meeting, start, end),
        "notices": await notice_statistics(conn, meeting, start, end),
        "attendance": await attendance_statistics(conn, meeting, start, end, now),
        "as_of": iso(now),
    }
