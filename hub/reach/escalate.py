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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hub.loops import run_forever
from hub.reach.dispatch import Dispatcher, job_key, reach_jobs
from hub.session.common import SYSTEM, person
from hub.session.deadlines import release_lease, take_lease
from hub.session.members import MOBILE
from hub.session.notices import compute_tally, notice_row, notices, version_of
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
