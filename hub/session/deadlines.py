"""Deadline alerts: "due soon" and "overdue", raised once per deadline for the cluster.

Watched deadlines (the rules that set them are in ``hub.session.deadline_rules``):

============  ==========================================  ============================
deadline      running while                               alerted to
============  ==========================================  ============================
sign          the item is ``assigned`` (sign or return)   the lead unit and the desk
reply         the item is ``in_progress``                 the lead unit and the desk
rereply       the item is ``rehandling``                  the lead unit and the desk
co_opinion    a co-unit has not sent its opinion yet      that co-unit and the desk
              (first round, ``assigned``/``in_progress``)
evaluation    the item is ``replied`` (set by the reply,   the deputies who have not
              rule ``<kind>.evaluation``)                 evaluated yet, and the desk
============  ==========================================  ============================

A deadline is *due soon* from ``due - <kind>.due_soon`` and *overdue* from ``due`` on.
Each alert is a message like any other (``item.due_soon`` / ``item.overdue`` on
``unit:<id>`` — for the evaluation deadline on ``deputy:<id>`` of each deputy still to
evaluate — and ``desk:<meeting id>``, sent by the system, actor 0), a row in
``item_events`` and a row in ``deadline_alerts``, all in one transaction. The unique
key of ``deadline_alerts`` (item, deadline, unit, due, level) makes a second raise of
the same alert — by another node, or after a restart — insert nothing and send nothing;
an evaluation alert is one per item and level, keyed with the item's lead unit (whose
reply waits for the evaluation). Once the evaluation deadline has passed, the
secretariat may close the item without the missing evaluations (``close_unevaluated``,
``hub.session.lifecycle``).
A deadline that moves (an extension, a reassignment, re-handling) is a new deadline and
gets its own alerts. A deadline first seen already overdue gets only the overdue alert.

One node scans at a time: the watcher of each node tries every
``HUB_DEADLINE_INTERVAL`` seconds to take the lease row ``task_leases['deadlines']`` with
one atomic ``UPDATE … WHERE expires_at <= now OR holder = me``, for
``HUB_DEADLINE_LEASE`` seconds, and scans only if it holds it. A node that dies simply
stops renewing; another takes over when the lease expires. Time is ``services.clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.loops import run_forever
from hub.protocol import iso
from hub.session import lifecycle as lc
from hub.session.common import SYSTEM, aware
from hub.session.deadline_rules import load_rules, window
from hub.session.items import insert_event, item_units, items, load, summary
from hub.store.log import db_errors
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.services import Services


LEASE = "deadlines"
RELEASE_TIMEOUT = 2.0  # seconds a stopping node tries to give the lease back
DEADLINES = ("sign", "reply", "rereply", "co_opinion", "evaluation")
LEVELS = ("due_soon", "overdue")
ALERT_KIND = {"due_soon": "item.due_soon", "overdue": "item.overdue"}
"""The message of each alert level (an alert is not an action: ``hub.session.lifecycle``)."""

task_leases = sa.Table(
    "task_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

deadline_alerts = sa.Table(
    "deadline_alerts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), nullable=False),
    # sign | reply | rereply | co_opinion | evaluation
    sa.Column("deadline", sa.String(16), nullable=False),
    sa.Column("unit_id", BigId, sa.ForeignKey("units.id"), nullable=False),
    sa.Column("due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("level", sa.String(10), nullable=False),  # due_soon | overdue
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint(
        "item_id", "deadline", "unit_id", "due", "level", name="uq_deadline_alerts"
    ),
)


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# -- the lease --------------------------------------------------------------------------------


async def take_lease(
    conn: AsyncConnection, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease ``name`` until ``now + ttl``; False if another holds it."""
    await conn.execute(
        _insert(conn, task_leases)
        .values(name=name, holder="", expires_at=datetime(1970, 1, 1, tzinfo=UTC))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    r = await conn.execute(
        task_leases.update()
        .where(
            task_leases.c.name == name,
            sa.or_(task_leases.c.expires_at <= now, task_leases.c.holder == holder),
        )
        .values(holder=holder, expires_at=now + ttl)
    )
    return r.rowcount == 1


async def release_lease(conn: AsyncConnection, name: str, holder: str, now: datetime) -> None:
    await conn.execute(
        task_leases.update()
        .where(task_leases.c.name == name, task_leases.c.holder == holder)
        .values(expires_at=now)
    )


# -- finding what is due ------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    item_id: int
    deadline: str
    unit_id: int
    due: datetime
    level: str


def level_at(now: datetime, due: datetime, soon: timedelta) -> str | None:
    if now >= due:
        return "overdue"
    if now >= due - soon:
        return "due_soon"
    return None


async def due_alerts(conn: AsyncConnection, now: datetime) -> list[Alert]:
    """Every alert due at ``now`` that has not been raised yet, oldest deadline first."""
    rules = await load_rules(conn)
    soon = {k: window(rules[f"{k}.due_soon"]) for k in ("commit", "suggestion")}
    horizon = now + max(soon.values())
    lead = item_units.alias("lead")
    found: list[Alert] = []
    rows = await conn.execute(
        sa.select(items.c.id, items.c.kind, items.c.state, items.c.sign_due, items.c.reply_due)
        .add_columns(lead.c.unit_id)
        .join(lead, sa.and_(lead.c.item_id == items.c.id, lead.c.role == "lead"))
        .where(
            sa.or_(
                sa.and_(items.c.state == lc.ASSIGNED, items.c.sign_due <= horizon),
                sa.and_(
                    items.c.state.in_([lc.IN_PROGRESS, lc.REHANDLING]),
                    items.c.reply_due <= horizon,
                ),
            )
        )
    )
    for r in rows:
        if r.state == lc.ASSIGNED:
            deadline, due = "sign", aware(r.sign_due)
        else:
            deadline = "reply" if r.state == lc.IN_PROGRESS else "rereply"
            due = aware(r.reply_due)
        assert due is not None
        lvl = level_at(now, due, soon[r.kind])
        if lvl is not None:
            found.append(Alert(r.id, deadline, r.unit_id, due, lvl))
    co = await conn.execute(
        sa.select(items.c.id, items.c.kind, item_units.c.unit_id, item_units.c.opinion_due)
        .join(item_units, item_units.c.item_id == items.c.id)
        .where(
            items.c.state.in_([lc.ASSIGNED, lc.IN_PROGRESS]),
            items.c.round == 1,
            item_units.c.role == "co",
            item_units.c.opinion_at.is_(None),
            item_units.c.opinion_due <= horizon,
        )
    )
    for r in co:
        due = aware(r.opinion_due)
        assert due is not None
        lvl = level_at(now, due, soon[r.kind])
        if lvl is not None:
            found.append(Alert(r.id, "co_opinion", r.unit_id, due, lvl))
    ev = await conn.execute(
        sa.select(items.c.id, items.c.kind, items.c.evaluation_due)
        .add_columns(lead.c.unit_id)
        .join(lead, sa.and_(lead.c.item_id == items.c.id, lead.c.role == "lead"))
        .where(items.c.state == lc.REPLIED, items.c.evaluation_due <= horizon)
    )
    for r in ev:
        due = aware(r.evaluation_due)
        assert due is not None
        lvl = level_at(now, due, soon[r.kind])
        if lvl is not None:
            found.append(Alert(r.id, "evaluation", r.unit_id, due, lvl))
    if not found:
        return []
    raised = {
        (a.item_id, a.deadline, a.unit_id, aware(a.due), a.level)
        for a in await conn.execute(
            sa.select(deadline_alerts).where(
                deadline_alerts.c.item_id.in_({f.item_id for f in found})
            )
        )
    }
    fresh = [a for a in found if (a.item_id, a.deadline, a.unit_id, a.due, a.level) not in raised]
    return sorted(fresh, key=lambda a: (a.due, a.item_id, a.unit_id))


def _still_due(ctx: Any, a: Alert) -> bool:
    """The deadline is still the one the scan saw (the item has not moved on since)."""
    r = ctx.row
    if a.deadline == "sign":
        return bool(r.state == lc.ASSIGNED and aware(r.sign_due) == a.due)
    if a.deadline == "evaluation":
        return bool(r.state == lc.REPLIED and aware(r.evaluation_due) == a.due)
    if a.deadline in ("reply", "rereply"):
        state = lc.IN_PROGRESS if a.deadline == "reply" else lc.REHANDLING
        return bool(r.state == state and aware(r.reply_due) == a.due)
    if r.state not in (lc.ASSIGNED, lc.IN_PROGRESS) or r.round != 1:
        return False
    return any(
        u.unit_id == a.unit_id and u.opinion_at is None and aware(u.opinion_due) == a.due
        for u in ctx.units
        if u.role == "co"
    )


# -- raising -----------------------------------------------------------------------------------


async def raise_alert(s: Services, a: Alert) -> bool:
    """Store and send one alert; False if it was raised already or no longer applies."""
    now = s.clock.now()
    async with s.node.writing(while_draining=True) as w:
        ctx = await load(w.conn, a.item_id, lock=True)
        if not _still_due(ctx, a):
            return False
        aid = (
            await w.conn.execute(
                _insert(w.conn, deadline_alerts)
                .values(
                    item_id=a.item_id,
                    deadline=a.deadline,
                    unit_id=a.unit_id,
                    due=a.due,
                    level=a.level,
                    raised_at=now,
                )
                .on_conflict_do_nothing()
                .returning(deadline_alerts.c.id)
            )
        ).scalar()
        if aid is None:
            return False
        payload: dict[str, Any]
        if a.deadline == "evaluation":
            f = ctx.facts()
            waiting = sorted(f.deputies - f.evaluated)
            payload = {"deadline": a.deadline, "deputy_ids": waiting, "due": iso(a.due)}
            to = [*(f"deputy:{d}" for d in waiting), f"desk:{ctx.row.meeting_id}"]
        else:
            payload = {"deadline": a.deadline, "unit_id": a.unit_id, "due": iso(a.due)}
            to = [f"unit:{a.unit_id}", f"desk:{ctx.row.meeting_id}"]
        event = await insert_event(w.conn, ctx, a.level, SYSTEM, ctx.state, payload, now)
        body = {"item": summary(ctx, now), "event": event}
        await w.lock(*to)
        for channel in to:
            await w.append(channel, ALERT_KIND[a.level], SYSTEM, body)
    return True


async def scan(s: Services) -> list[Alert]:
    """Raise every alert due now; the ones raised by this call."""
    async with s.log.reading() as conn:
        todo = await due_alerts(conn, s.clock.now())
    return [a for a in todo if await raise_alert(s, a)]


class DeadlineWatcher:
    """The per-node task that scans for due deadlines while it holds the cluster's lease."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.interval = services.settings.deadline_interval
        self.ttl = timedelta(seconds=services.settings.deadline_lease)
        self.holder = f"{services.settings.node_id}:{secrets.token_hex(4)}"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(
                run_forever("deadline scan", self.run_once, self.interval), name="deadlines"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Give the lease back so another node scans at once; with the database down, or
        # slow to answer, do not hold up the shutdown: the lease simply expires.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._release(), RELEASE_TIMEOUT)

    async def _release(self) -> None:
        async with db_errors(), self.s.engine.begin() as conn:
            await release_lease(conn, LEASE, self.holder, self.s.clock.now())

    async def lease(self) -> bool:
        async with db_errors(), self.s.engine.begin() as conn:
            return await take_lease(conn, LEASE, self.holder, self.s.clock.now(), self.ttl)

    async def run_once(self) -> list[Alert]:
        """Scan if this node holds (or can take) the lease; the alerts it raised."""
        if not await self.lease():
            return []
        return await scan(self.s)
