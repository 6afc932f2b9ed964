"""Escalation: an urgent notice still unread after a delay goes out as a text message.

The policy, per notice (docs/reach.md):

1. at once, over the WebSocket to every open page;
2. at once, Web Push to the registered devices of everyone with no page open
   (``hub.reach.dispatch``);
3. an **urgent** notice still unread ``HUB_ESCALATE_AFTER`` seconds (default 300) after it
   was sent: through each configured second channel (a text message, work IM), to the
   roster's mobile number of each addressee who has not read it, **once per person per
   notice and channel** (the job's key: notice, person, channel,
   round 1 — unique in ``reach_jobs``). With ``HUB_ESCALATE_ALL`` the notices that are
   not urgent are escalated too, but never in the quiet hours (``HUB_QUIET_HOURS``, e.g.
   ``22:00-07:00`` in ``HUB_TIMEZONE``): they wait for the morning, and whoever read the
   notice meanwhile is not texted. Urgent ones ignore the quiet hours.

One node escalates at a time: the escalator of each node tries every
``HUB_ESCALATE_INTERVAL`` seconds to take the cluster's lease ``task_leases['escalation']``
(the deadline watcher's mechanism, ``hub.session.deadlines.take_lease``) and scans only if
it holds it. Each notice is escalated in one transaction under its row lock, and the jobs'
unique keys make a second scan (another node after the lease moved, a restart) queue
nothing twice. The sends are the dispatcher's, on any node.

Someone with no mobile number in the roster gets a job that ends ``failed`` at once with
reason ``no_mobile``, recorded like every attempt: the secretariat sees whom nothing
reached, and calls them.

**Items handed to a unit, and overdue alerts**, take the same path to the unit's active
accounts (:meth:`Escalator.units`, in the same scan): the unit's channel reaches open
pages live; each account with no page open and a registered device gets a Web Push at
once (the next scan); each account that has not seen the item since its hand-over
(``item_seen``) gets a text message ``HUB_ESCALATE_AFTER`` after it; an overdue alert
goes to every account of its unit as a text message at once. None of them is urgent: in
the quiet hours their text messages wait. Each is once per account, hand-over (or alert)
and channel: the key names the item and the hand-over's time, or the alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.loops import run_forever
from hub.reach.dispatch import Dispatcher, job_key, reach_jobs
from hub.reach.subscriptions import devices
from hub.session.common import SYSTEM, aware, person
from hub.session.deadlines import deadline_alerts, release_lease, take_lease
from hub.session.items import item_seen, item_units, items
from hub.session.members import MOBILE
from hub.session.notices import compute_tally, notice_row, notices, version_of
from hub.session.presence import online_users
from hub.session.schema import users
from hub.store.log import db_errors

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub.reach")

LEASE = "escalation"
WINDOW = timedelta(days=2)  # notices older than the delay by more than this are left
RELEASE_TIMEOUT = 2.0


def quiet_hours(spec: str) -> tuple[time, time] | None:
    """``"22:00-07:00"`` as (start, end); None for none."""
    if not spec:
        return None
    try:
        a, b = spec.split("-")
        start, end = time.fromisoformat(a.strip()), time.fromisoformat(b.strip())
    except ValueError:
        raise SystemExit(f"HUB_QUIET_HOURS must look like 22:00-07:00, got {spec!r}") from None
    return start, end


def is_quiet(now: datetime, hours: tuple[time, time] | None, tz: ZoneInfo) -> bool:
    if hours is None:
        return False
    start, end = hours
    t = now.astimezone(tz).time()
    return start <= t < end if start <= end else (t >= start or t < end)


class Escalator:
    """Per node: while holding the cluster's lease, queues the text messages due."""

    def __init__(self, services: Services, dispatcher: Dispatcher) -> None:
        settings = services.settings
        self.s = services
        self.dispatcher = dispatcher
        self.after = timedelta(seconds=settings.escalate_after)
        self.interval = settings.escalate_interval
        self.ttl = timedelta(seconds=max(3 * self.interval, 1.0))
        self.every = settings.escalate_all
        self.quiet = quiet_hours(settings.quiet_hours)
        self.tz = ZoneInfo(settings.timezone)
        self.holder = f"{settings.node_id}:{secrets.token_hex(4)}"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self.dispatcher.texters:
            self._task = asyncio.create_task(
                run_forever("escalation", self.run_once, self.interval), name="escalation"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._release(), RELEASE_TIMEOUT)

    async def _release(self) -> None:
        async with db_errors(), self.s.engine.begin() as conn:
            await release_lease(conn, LEASE, self.holder, self.s.clock.now())

    async def lease(self) -> bool:
        async with db_errors(), self.s.engine.begin() as conn:
            return await take_lease(conn, LEASE, self.holder, self.s.clock.now(), self.ttl)

    async def run_once(self) -> int:
        """Scan if this node holds (or can take) the lease; the jobs it queued."""
        if not self.dispatcher.texters or not await self.lease():
            return 0
        now = self.s.clock.now()
        kinds = [notices.c.urgent.is_(True)]
        if self.every and not is_quiet(now, self.quiet, self.tz):
            kinds.append(notices.c.urgent.is_(False))
        queued = 0
        for channel in self.dispatcher.texters:
            texted = (
                sa.select(sa.func.count())
                .where(reach_jobs.c.notice_id == notices.c.id, reach_jobs.c.channel == channel)
                .scalar_subquery()
            )
            async with self.s.log.reading() as conn:
                due = list(
                    (
                        await conn.execute(
                            sa.select(notices.c.id)
                            .where(
                                sa.or_(*kinds),
                                notices.c.created_at <= now - self.after,
                                notices.c.created_at > now - self.after - WINDOW,
                                # someone may still be unread and not reached on this
                                # channel (read_count is the last tally's: it can only be
                                # behind, never ahead)
                                texted < notices.c.addressees - notices.c.read_count,
                            )
                            .order_by(notices.c.id)
                        )
                    ).scalars()
                )
            for nid in due:
                queued += await self.escalate(int(nid), channel)
        queued += await self.units(now)
        if queued:
            self.dispatcher.wake()
        return queued

    async def escalate(self, notice_id: int, channel: str) -> int:
        """Queue a text message for each addressee of the notice who has not read it and
        has none yet; how many were queued to be sent."""
        node = self.s.node
        async with node.writing(while_draining=True) as w:
            n = await notice_row(w.conn, notice_id, lock=True)
            if (await version_of(w.conn, n)).status == "withdrawn":
                return 0
            t = await compute_tally(w.conn, n)
            have = set(
                (
                    await w.conn.execute(
                        sa.select(reach_jobs.c.user_id).where(
                            reach_jobs.c.notice_id == notice_id, reach_jobs.c.channel == channel
                        )
                    )
                ).scalars()
            )
            todo = [p for p in t.people if p.read_at is None and p.id not in have]
            if not todo:
                return 0
            phones = {
                int(r.id): (r.phone or "")
                for r in await w.conn.execute(
                    sa.select(users.c.id, users.c.phone).where(users.c.id.in_([p.id for p in todo]))
                )
            }
            now = node.clock.now()
            rows = []
            nobody = []
            for p in todo:
                mobile = bool(MOBILE.fullmatch(phones.get(p.id, "")))
                rows.append(
                    {
                        "key": job_key(notice_id, p.id, channel, 1),
                        "notice_id": notice_id,
                        "meeting_id": int(n.meeting_id),
                        "user_id": p.id,
                        "channel": channel,
                        "round": 1,
                        "state": "pending" if mobile else "failed",
                        "attempts": 0 if mobile else 1,
                        "recorded": 0 if mobile else 1,
                        "next_at": now,
                        "created_at": now,
                        "done_at": None if mobile else now,
                    }
                )
                if not mobile:
                    nobody.append(p)
            await w.conn.execute(reach_jobs.insert(), rows)
            if nobody:
                desk = f"desk:{n.meeting_id}"
                await w.lock(desk)
                for p in nobody:
                    await w.append(
                        desk,
                        "reach.attempted",
                        SYSTEM,
                        {
                            "notice": notice_id,
                            "person": person(p.id, p.name),
                            "channel": channel,
                            "key": job_key(notice_id, p.id, channel, 1),
                            "attempt": 1,
                            "outcome": "failed",
                            "status": None,
                            "reason": "no_mobile",
                        },
                    )
        log.info("notice %s: %d text messages queued", notice_id, len(rows) - len(nobody))
        return len(rows) - len(nobody)

    # -- items handed to a unit, overdue alerts ------------------------------------------------

    async def units(self, now: datetime) -> int:
        """Queue the reach jobs due for the units' accounts (see the module's doc); how
        many were queued."""
        quiet = is_quiet(now, self.quiet, self.tz)
        push = self.dispatcher.channel
        texts = list(self.dispatcher.texters)
        since = now - WINDOW
        async with self.s.log.reading() as conn:
            handed = (
                await conn.execute(
                    sa.select(
                        items.c.id,
                        items.c.meeting_id,
                        items.c.handed_over_at,
                        users.c.id.label("user_id"),
                        users.c.phone,
                        item_seen.c.seen_at,
                    )
                    .join(item_units, item_units.c.item_id == items.c.id)
                    .join(
                        users,
                        sa.and_(
                            users.c.unit_id == item_units.c.unit_id,
                            users.c.role == "unit",
                            users.c.active.is_(True),
                        ),
                    )
                    .outerjoin(
                        item_seen,
                        sa.and_(
                            item_seen.c.item_id == items.c.id, item_seen.c.user_id == users.c.id
                        ),
                    )
                    .where(items.c.handed_over_at > since, items.c.closed_at.is_(None))
                )
            ).all()
            overdue = (
                await conn.execute(
                    sa.select(
                        deadline_alerts.c.id,
                        items.c.id.label("item_id"),
                        items.c.meeting_id,
                        users.c.id.label("user_id"),
                        users.c.phone,
                    )
                    .join(items, items.c.id == deadline_alerts.c.item_id)
                    .join(
                        users,
                        sa.and_(
                            users.c.unit_id == deadline_alerts.c.unit_id,
                            users.c.role == "unit",
                            users.c.active.is_(True),
                        ),
                    )
                    .where(
                        deadline_alerts.c.level == "overdue", deadline_alerts.c.raised_at > since
                    )
                )
            ).all()
            accounts = sorted({int(r.user_id) for r in [*handed, *overdue]})
            online = await online_users(conn, now, set(accounts))
            have = await devices(conn, [u for u in accounts if u not in online])
        rows: list[dict[str, Any]] = []

        def job(about: str, tag: str, r: Any, item: int, channel: str) -> None:
            rows.append(
                {
                    "key": f"{tag}:{int(r.user_id)}:{channel}:1",
                    "about": about,
                    "notice_id": None,
                    "item_id": item,
                    "meeting_id": int(r.meeting_id),
                    "user_id": int(r.user_id),
                    "channel": channel,
                    "round": 1,
                    "state": "pending",
                    "attempts": 0,
                    "recorded": 0,
                    "next_at": now,
                    "created_at": now,
                    "done_at": None,
                }
            )

        for r in handed:
            at = aware(r.handed_over_at)
            assert at is not None  # the query's condition
            tag = f"item{int(r.id)}@{int(at.timestamp())}"
            if int(r.user_id) in have:
                job("item", tag, r, int(r.id), push)
            seen_at = aware(r.seen_at)
            seen = seen_at is not None and seen_at >= at
            if (
                not seen
                and not quiet
                and at <= now - self.after
                and MOBILE.fullmatch(r.phone or "")
            ):
                for channel in texts:
                    job("item", tag, r, int(r.id), channel)
        for a in overdue:
            tag = f"overdue{int(a.id)}"
            if int(a.user_id) in have:
                job("overdue", tag, a, int(a.item_id), push)
            if not quiet and MOBILE.fullmatch(a.phone or ""):
                for channel in texts:
                    job("overdue", tag, a, int(a.item_id), channel)
        if not rows:
            return 0
        async with self.s.node.writing(while_draining=True) as w:
            return await _insert_new(w.conn, rows)


async def _insert_new(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    """Insert the jobs whose key is new; how many were."""
    known = set(
        (
            await conn.execute(
                sa.select(reach_jobs.c.key).where(reach_jobs.c.key.in_([r["key"] for r in rows]))
            )
        ).scalars()
    )
    new = [r for r in rows if r["key"] not in known]
    if new:
        ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
            reach_jobs
        )
        await conn.execute(ins.on_conflict_do_nothing(index_elements=["key"]), new)
    return len(new)
