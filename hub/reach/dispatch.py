"""Who is reached through a channel, when, how often, and what the log says of it.

When a notice is sent or re-pushed, each addressee with no live connection (presence: no
unexpired lease) who registered a device gets a **reach job** (``reach_jobs``), stored in
the same transaction as the notice's messages, so a node that dies right after the commit
leaves the job for another node (or itself, restarted) to do. The job's ``key`` is its
idempotency key: notice, person, channel and round (1 for the send, 2, 3 … for each
re-push that reached that person), unique in the table.

:class:`Dispatcher` (one per node) does the due jobs: it claims one (an UPDATE that only
one node can win, which also moves ``next_at`` past a claim lease), sends to each of the
person's devices outside any transaction, then records every device's answer as a
``reach.attempted`` message on ``desk:<meeting>`` and settles the job:

* ``accepted`` by any device: done, never sent again (the job is not pending any more,
  whatever node or restart comes later);
* ``gone`` (404/410): that device's subscription is removed; with no device left the job
  ends ``gone``;
* ``retry`` (429, 5xx, timeout): tried again after a back-off (``HUB_PUSH_RETRY`` doubling,
  or the provider's ``Retry-After``), up to ``HUB_PUSH_ATTEMPTS`` attempts, then ``failed``;
* ``failed`` (any other refusal): ended.

A node that dies between a provider's acceptance and recording it sends again once its
claim lease is over; the push carries a ``Topic`` derived from the key, so a push service
still holding the first copy replaces it rather than showing it twice.

A text message or work IM message (``hub.reach.escalate`` queues them: channels ``sms``,
``dingtalk``, ``wecom``, or ``smslog`` when none is configured) cannot be replaced, so it is
never sent twice: the claim counts the attempt (``attempts``) and the record counts what
is known of it (``recorded``). A job claimed with an attempt neither recorded nor known
(its node died after sending, or the provider never answered: a timeout, a cut
connection) is *in doubt*: before anything else the dispatcher asks the provider whether
it accepted a send with the job's key (:meth:`~hub.reach.Texter.sent`); if so the job is
``accepted`` without sending, if not it is sent now, and if the provider cannot say it is
asked again after the back-off (a work IM provider cannot be asked: it drops a repeat of
the same text itself, ``hub.reach.workim``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from hub.loops import run_forever
from hub.reach import Device, Message, Outcome, Reach, Result, Texter, mask
from hub.reach.subscriptions import devices, push_subscriptions
from hub.session.common import SYSTEM, person
from hub.session.presence import online_users
from hub.session.schema import users
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.node import Node, Writer

log = logging.getLogger("hub.reach")

POLL = 5.0  # seconds between looks for due jobs another node left or a back-off made due
BATCH = 200  # jobs taken per round
PARALLEL = 16  # sends in flight per node
MAX_BACKOFF = 600.0

reach_jobs = sa.Table(
    "reach_jobs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(100), nullable=False),
    # what the job is about: a notice, or an item handed to a unit ("item": its hand-over;
    # "overdue": an overdue alert), with the one of notice_id / item_id that names it
    sa.Column("about", sa.String(10), nullable=False, server_default="notice"),
    sa.Column("notice_id", BigId, sa.ForeignKey("notices.id"), nullable=True),
    sa.Column("item_id", BigId, sa.ForeignKey("items.id"), nullable=True),
    sa.Column("meeting_id", BigId, nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # pending accepted gone failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # attempts whose outcome is known (recorded); fewer than the attempts before this one:
    # the last claimant died after sending, the attempt is in doubt
    sa.Column("recorded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("key", name="uq_reach_jobs_key"),
    sa.Index("ix_reach_jobs_due", "state", "next_at"),
    sa.Index("ix_reach_jobs_notice", "notice_id", "user_id"),
    sa.Index("ix_reach_jobs_item", "item_id", "user_id"),
)

FINAL = ("accepted", "gone", "failed")


def job_key(notice_id: int, user_id: int, channel: str, round_: int) -> str:
    return f"{notice_id}:{user_id}:{channel}:{round_}"


@dataclass
class Queued:
    """What a send or re-push did for its addressees beyond the WebSocket."""

    live: int  # had a page open (a live connection): reached over the WebSocket
    jobs: list[int]  # reach jobs queued (offline, with a registered device)
    unreached: int  # offline with no device registered: nothing can reach them now


async def queue(
    w: Writer,
    channel: str,
    notice_id: int,
    meeting_id: int,
    user_ids: list[int],
    rounds: dict[int, int] | None = None,
) -> Queued:
    """In the notice's transaction: a reach job for each addressee with no live connection
    and a registered device (``rounds``: each person's round, 1 if not given)."""
    now = w.clock.now()
    online = await online_users(w.conn, now, set(user_ids))
    offline = sorted(set(user_ids) - online)
    have = await devices(w.conn, offline)
    rows = [
        {
            "key": job_key(notice_id, u, channel, (rounds or {}).get(u, 1)),
            "notice_id": notice_id,
            "meeting_id": meeting_id,
            "user_id": u,
            "channel": channel,
            "round": (rounds or {}).get(u, 1),
            "state": "pending",
            "attempts": 0,
            "next_at": now,
            "created_at": now,
        }
        for u in offline
        if have.get(u)
    ]
    ids: list[int] = []
    if rows:
        keys = [r["key"] for r in rows]
        await w.conn.execute(reach_jobs.insert(), rows)
        ids = [
            int(i)
            for i in (
                await w.conn.execute(sa.select(reach_jobs.c.id).where(reach_jobs.c.key.in_(keys)))
            ).scalars()
        ]
    return Queued(len(set(user_ids) & online), sorted(ids), len(offline) - len(rows))


async def rounds_of(w: Writer, notice_id: int, user_ids: list[int]) -> dict[int, int]:
    """Each person's next round of reach for this notice (after their last job's)."""
    rows = await w.conn.execute(
        sa.select(reach_jobs.c.user_id, sa.func.max(reach_jobs.c.round))
        .where(reach_jobs.c.notice_id == notice_id, reach_jobs.c.user_id.in_(user_ids))
        .group_by(reach_jobs.c.user_id)
    )
    last = {int(u): int(r) for u, r in rows}
    return {u: last.get(u, 0) + 1 for u in user_ids}


def summary(states: list[str]) -> dict[str, int]:
    """Counts of job states, every state named (pending: still being tried)."""
    c = Counter(states)
    return {s: c.get(s, 0) for s in ("accepted", "gone", "failed", "pending")}


class Dispatcher:
    """Per node: does the due reach jobs; see the module's doc."""

    def __init__(
        self,
        node: Node,
        reach: Reach,
        retry: float,
        attempts: int,
        claim: float,
        texters: list[Texter] | None = None,
        text_retry: float = 30.0,
        text_attempts: int = 8,
    ) -> None:
        self.node = node
        self.reach = reach
        self.texters = {t.name: t for t in texters or []}
        self.retry = retry
        self.attempts = max(1, attempts)
        self.text_retry = text_retry
        self.text_attempts = max(1, text_attempts)
        self.claim = claim  # seconds a claimed job is left alone by other nodes
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(PARALLEL)

    @property
    def channel(self) -> str:
        return self.reach.name

    def start(self) -> None:
        self._task = asyncio.create_task(run_forever("reach", self._round), name="reach")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.reach.close()
        for t in self.texters.values():
            await t.close()

    def wake(self) -> None:
        self._wake.set()

    async def _round(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), POLL)
        self._wake.clear()
        await self.run_due()

    async def run_due(self) -> int:
        """Do the jobs due now (of any node); how many were claimed."""
        async with self.node.log.reading() as conn:
            ids = list(
                (
                    await conn.execute(
                        sa.select(reach_jobs.c.id)
                        .where(
                            reach_jobs.c.state == "pending",
                            reach_jobs.c.next_at <= self.node.clock.now(),
                        )
                        .order_by(reach_jobs.c.next_at, reach_jobs.c.id)
                        .limit(BATCH)
                    )
                ).scalars()
            )
        done = await asyncio.gather(*(self.run_job(int(i)) for i in ids))
        return sum(done)

    async def deliver(self, job_ids: list[int], wait: float) -> dict[str, int]:
        """Do these jobs now (waiting at most ``wait`` seconds), then count their states:
        what was actually done, for a re-push's answer."""
        if job_ids:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(self.run_job(i) for i in job_ids)), wait)
        states: list[str] = []
        async with self.node.log.reading() as conn:
            for i in range(0, len(job_ids), 500):
                states += list(
                    (
                        await conn.execute(
                            sa.select(reach_jobs.c.state).where(
                                reach_jobs.c.id.in_(job_ids[i : i + 500])
                            )
                        )
                    ).scalars()
                )
        return summary(states)

    async def run_job(self, job_id: int) -> bool:
        """Claim one job, send, record. False if it was not due or another node has it."""
        async with self._limit:
            claimed = await self._claim(job_id)
            if claimed is None:
                return False
            job, who, found = claimed
            texter = self.texters.get(job.channel)
            if texter is not None:
                await self._text(job, who, texter)
                return True
            payload = {
                **subject(job),
                "type": "notice" if job.about == "notice" else "item",
                "meeting": int(job.meeting_id),
                "title": job.title,
                "urgent": bool(job.urgent),
            }
            results: list[tuple[Device, Result]] = []
            for d in found:
                r = await self.reach.send(d, payload, job.key)
                results.append((d, r))
                if r.outcome is Outcome.ACCEPTED:
                    break  # reached: the person's other devices are not needed
            await self._record(job, who, results)
            return True

    async def _claim(self, job_id: int) -> tuple[Any, str, list[Device]] | None:
        from hub.session.items import items
        from hub.session.notices import notices

        now = self.node.clock.now()
        async with self.node.writing(while_draining=True) as w:
            res = await w.conn.execute(
                reach_jobs.update()
                .where(
                    reach_jobs.c.id == job_id,
                    reach_jobs.c.state == "pending",
                    reach_jobs.c.next_at <= now,
                )
                .values(
                    next_at=now + timedelta(seconds=self.claim), attempts=reach_jobs.c.attempts + 1
                )
            )
            if res.rowcount != 1:
                return None
            job = (
                await w.conn.execute(
                    sa.select(
                        reach_jobs,
                        sa.func.coalesce(notices.c.title, items.c.title).label("title"),
                        sa.func.coalesce(notices.c.urgent, sa.false()).label("urgent"),
                        users.c.name,
                        users.c.phone,
                    )
                    .outerjoin(notices, notices.c.id == reach_jobs.c.notice_id)
                    .outerjoin(items, items.c.id == reach_jobs.c.item_id)
                    .join(users, users.c.id == reach_jobs.c.user_id)
                    .where(reach_jobs.c.id == job_id)
                )
            ).one()
            found: list[Device] = []
            if job.channel not in self.texters:
                found = (await devices(w.conn, [int(job.user_id)])).get(int(job.user_id), [])
        return job, str(job.name), found

    def _backoff(self, attempts: int, asked: float | None, base: float | None = None) -> float:
        delay = min(MAX_BACKOFF, (base or self.retry) * 2.0 ** max(0, attempts - 1))
        return max(delay, min(asked, MAX_BACKOFF)) if asked is not None else delay

    async def _record(self, job: Any, who: str, results: list[tuple[Device, Result]]) -> None:
        now = self.node.clock.now()
        attempts = int(job.attempts)  # this one included (counted by the claim)
        outcomes = {r.outcome for _, r in results}
        last_try = attempts >= self.attempts
        if Outcome.ACCEPTED in outcomes:
            state = "accepted"
        elif Outcome.RETRY in outcomes:
            state = "failed" if last_try else "pending"
        elif not results or outcomes == {Outcome.GONE}:
            state = "gone"
        else:
            state = "failed"
        asked = [r.retry_after for _, r in results if r.retry_after is not None]
        next_at: datetime = now + timedelta(
            seconds=self._backoff(attempts, max(asked) if asked else None)
        )
        gone = [d.id for d, r in results if r.outcome is Outcome.GONE]
        base = {
            **subject(job),
            "person": person(int(job.user_id), who),
            "channel": job.channel,
            "key": job.key,
            "attempt": attempts,
        }
        bodies: list[dict[str, Any]] = []
        for d, r in results:
            outcome = r.outcome.value
            if r.outcome is Outcome.RETRY:
                outcome = "failed" if last_try else "retried"
            bodies.append(
                {
                    **base,
                    "device": d.id,
                    "service": urlsplit(d.endpoint).hostname,
                    "outcome": outcome,
                    "status": r.status,
                    "reason": r.reason,
                    **({"retry_at": next_at.isoformat()} if outcome == "retried" else {}),
                }
            )
        if not results:
            bodies.append({**base, "device": None, "outcome": "gone", "reason": "no device"})
        async with self.node.writing(while_draining=True) as w:
            if gone:
                await w.conn.execute(
                    push_subscriptions.delete().where(push_subscriptions.c.id.in_(gone))
                )
            await w.conn.execute(
                reach_jobs.update()
                .where(reach_jobs.c.id == job.id, reach_jobs.c.state == "pending")
                .values(
                    state=state,
                    recorded=attempts,
                    next_at=next_at if state == "pending" else now,
                    done_at=None if state == "pending" else now,
                )
            )
            desk = f"desk:{job.meeting_id}"
            await w.lock(desk)
            for b in bodies:
                await w.append(desk, "reach.attempted", SYSTEM, b)
        if state == "pending":
            log.info("reach job %s: retrying in %.0f s", job.key, (next_at - now).total_seconds())

    async def _text(self, job: Any, who: str, texter: Texter) -> None:
        """One attempt of a text message job: ask first if the last attempt is in doubt."""
        attempts = int(job.attempts)
        phone = str(job.phone or "")
        result: Result | None = None
        known = True
        if attempts - 1 > int(job.recorded):
            found = await texter.sent(phone, job.key, job.created_at.timestamp())
            if found is not None and found.outcome is Outcome.ACCEPTED:
                result = Result(Outcome.ACCEPTED, found.status, "accepted before (in doubt)")
            elif found is not None:
                result, known = found, False  # the provider cannot say: ask again later
        if result is None:
            message = Message(
                str(job.title), int(job.notice_id or job.item_id), about=str(job.about)
            )
            result = await texter.send(phone, message, job.key)
            # No answer at all (a timeout, a connection cut): the provider may have taken
            # it, so the next attempt asks first, like after a node's death.
            known = result.outcome is not Outcome.RETRY or result.status is not None
        await self._record_text(job, who, texter, result, known)

    async def _record_text(
        self, job: Any, who: str, texter: Texter, r: Result, known: bool
    ) -> None:
        now = self.node.clock.now()
        attempts = int(job.attempts)
        last_try = attempts >= self.text_attempts
        if r.outcome is Outcome.ACCEPTED:
            state = "accepted"
        elif r.outcome is Outcome.RETRY and not last_try:
            state = "pending"
        else:
            state = "failed"
        next_at = now + timedelta(
            seconds=self._backoff(attempts, r.retry_after, base=self.text_retry)
        )
        outcome = {"pending": "retried"}.get(state, state)
        body = {
            **subject(job),
            "person": person(int(job.user_id), who),
            "channel": job.channel,
            "provider": texter.provider,
            "to": mask(str(job.phone or "")),
            "key": job.key,
            "attempt": attempts,
            "outcome": outcome,
            "status": r.status,
            "reason": r.reason,
            **({"receipt": r.ref} if r.ref else {}),
            **({"retry_at": next_at.isoformat()} if outcome == "retried" else {}),
        }
        async with self.node.writing(while_draining=True) as w:
            await w.conn.execute(
                reach_jobs.update()
                .where(reach_jobs.c.id == job.id, reach_jobs.c.state == "pending")
                .values(
                    state=state,
                    recorded=attempts if known else reach_jobs.c.recorded,
                    next_at=next_at if state == "pending" else now,
                    done_at=None if state == "pending" else now,
                )
            )
            desk = f"desk:{job.meeting_id}"
            await w.lock(desk)
            await w.append(desk, "reach.attempted", SYSTEM, body)
        if state == "pending":
            log.info("reach job %s: retrying in %.0f s", job.key, (next_at - now).total_seconds())


def subject(job: Any) -> dict[str, Any]:
    """What a job's record names: ``{"notice": id}``, or ``{"item": id, "about": …}``."""
    if job.about == "notice":
        return {"notice": int(job.notice_id)}
    return {"item": int(job.item_id), "about": job.about}


async def reach_of(conn: Any, notice_id: int) -> dict[int, list[dict[str, Any]]]:
    """Per person of a notice: on each channel, their last reach job's channel, state and
    attempts, oldest channel first (the last is the person's latest reach)."""
    rows = await conn.execute(
        sa.select(
            reach_jobs.c.user_id,
            reach_jobs.c.channel,
            reach_jobs.c.state,
            reach_jobs.c.attempts,
        )
        .where(reach_jobs.c.notice_id == notice_id)
        .order_by(reach_jobs.c.user_id, reach_jobs.c.id)
    )
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        per = out.setdefault(int(r.user_id), {})
        per.pop(r.channel, None)  # a later round replaces the earlier, and goes last
        per[r.channel] = {"channel": r.channel, "state": r.state, "attempts": int(r.attempts)}
    return {u: list(per.values()) for u, per in out.items()}
