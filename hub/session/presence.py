"""Presence ("online now") across nodes, devices and crashes, and its audit trail.

Each authenticated WebSocket connection holds a **lease** row in ``presence_leases``
(user, node, expiry). Its node renews all of its leases every ``HUB_PRESENCE_TTL / 3``
seconds with one UPDATE; a user is online while any of their leases is unexpired, so a
user with two devices on two nodes stays online until both are gone, and the leases of a
killed node simply expire (no zombie members). Every node sweeps expired leases.

``presence_events`` is append-only: ``connect`` when a lease is taken, ``disconnect``
when it is given back (``reason`` ``closed`` or ``node_stopped``) or swept after it
expired (``reason`` ``expired``, stamped with the lease's last renewal). That answers
"was this deputy connected at that moment?" (:func:`connected_at`).

Connection open and close only queue an operation (no I/O on the WebSocket path); a
task stores them in batches, and when a deputy comes online or goes offline (cluster-wide,
not per device) it publishes one ``presence.changed`` ``{"online": [...], "offline":
[...]}`` per batch on ``desk:<meeting>`` of each meeting the deputy participates in.

Nodes' clocks are assumed to agree within a fraction of the TTL (NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, HubError, NotFound
from hub.loops import run_forever
from hub.protocol import iso_or_none, utc
from hub.session.common import SYSTEM, person, require_role
from hub.session.members import Member, member
from hub.session.schema import meeting_participants, users
from hub.shapes import Body, Id, Instant, Named, Shape, Timestamp
from hub.store.engine import in_chunks
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.connection import Connection
    from hub.node import Node, Writer


FLUSH = 0.05  # how long a connect or disconnect waits to be stored with others

presence_leases = sa.Table(
    "presence_leases",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("node_id", sa.String(64), nullable=False),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_presence_leases_user", "user_id", "expires_at"),
    sa.Index("ix_presence_leases_node", "node_id"),
    sa.Index("ix_presence_leases_expiry", "expires_at"),
)

presence_events = sa.Table(
    "presence_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("lease_id", sa.String(40), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("node_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # connect | disconnect
    sa.Column("reason", sa.String(20), nullable=True),  # closed | node_stopped | expired
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_presence_events_user", "user_id", "ts"),
    sa.Index("ix_presence_events_lease", "lease_id"),
)


@dataclass(eq=False)
class Lease:
    id: str
    user: Member
    connected_at: datetime
    stored: bool = False
    released: bool = False


@dataclass
class Op:
    kind: str  # connect | disconnect
    lease: Lease
    ts: datetime
    reason: str | None = None


def _lease_id(node_id: str) -> str:
    return f"{node_id[:23]}-{secrets.token_hex(8)}"


async def online_users(
    conn: AsyncConnection, now: datetime, user_ids: set[int] | None = None
) -> set[int]:
    """Users with at least one unexpired lease (of those given, or of everyone)."""
    q = sa.select(presence_leases.c.user_id).distinct().where(presence_leases.c.expires_at > now)
    if user_ids is not None:
        if not user_ids:
            return set()
        q = q.where(presence_leases.c.user_id.in_(sorted(user_ids)))
    return {int(u) for u in (await conn.execute(q)).scalars()}


async def announce(w: Writer, came: set[int], went: set[int]) -> None:
    """One ``presence.changed`` per meeting desk for deputies who came online or went."""
    ids = sorted(came | went)
    if not ids:
        return
    rows = await w.conn.execute(
        sa.select(users.c.id, users.c.name, meeting_participants.c.meeting_id)
        .join(meeting_participants, meeting_participants.c.user_id == users.c.id)
        .where(users.c.id.in_(ids), users.c.role == "deputy")
        .order_by(meeting_participants.c.meeting_id, users.c.id)
    )
    per_meeting: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        m = per_meeting.setdefault(int(r.meeting_id), {"online": [], "offline": []})
        m["online" if int(r.id) in came else "offline"].append(person(int(r.id), r.name))
    await w.lock(*(f"desk:{mid}" for mid in per_meeting))
    for mid, body in per_meeting.items():
        await w.append(f"desk:{mid}", "presence.changed", SYSTEM, body)


class Presence:
    """This node's leases: taken on connect, given back on close, renewed, swept."""

    def __init__(self, node: Node, node_id: str, ttl: float) -> None:
        self.node = node
        self.node_id = node_id
        self.ttl = ttl
        self.leases: dict[Connection, Lease] = {}
        self._ops: list[Op] = []
        self._wake = asyncio.Event()
        # Held while a batch is being stored: stopping takes it before cancelling the
        # loops, so no batch is cancelled between its commit and being marked stored
        # (it would be queued again and stored twice).
        self._storing = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(
                run_forever("storing presence", self._flush_when_woken), name="presence-flush"
            ),
            asyncio.create_task(
                run_forever("renewing presence", self._renew, self.ttl / 3),
                name="presence-renew",
            ),
        ]

    async def stop(self) -> None:
        """Give back every lease this node still holds, then stop."""
        async with self._storing:
            for t in self._tasks:
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for conn in list(self.leases):
            self.disconnected(conn, "node_stopped")
        with contextlib.suppress(HubError):
            await self.flush()

    # -- the WebSocket path: no I/O ------------------------------------------------

    def connected(self, conn: Connection) -> None:
        """An authenticated connection opened (``conn.principal`` is set)."""
        if conn.principal is None or conn in self.leases:
            return
        lease = Lease(_lease_id(self.node_id), member(conn.principal), self.node.clock.now())
        self.leases[conn] = lease
        self._ops.append(Op("connect", lease, lease.connected_at))
        self._wake.set()

    def disconnected(self, conn: Connection, reason: str = "closed") -> None:
        lease = self.leases.pop(conn, None)
        if lease is None:
            return
        lease.released = True
        self._ops.append(Op("disconnect", lease, self.node.clock.now(), reason))
        self._wake.set()

    # -- storing -------------------------------------------------------------------

    async def _flush_when_woken(self) -> None:
        await self._wake.wait()
        await asyncio.sleep(FLUSH)
        self._wake.clear()
        await self.flush()

    async def flush(self) -> None:
        """Store the queued operations; if that fails they stay queued, in order, and
        the flush loop is woken to try again."""
        async with self._storing:
            ops, self._ops = self._ops, []
            if not ops:
                return
            try:
                await self._store(ops)
            except BaseException:
                self._ops[:0] = ops
                self._wake.set()
                raise

    async def _store(self, ops: list[Op]) -> None:
        ids = {op.lease.user.id for op in ops}
        t = self.node.clock.now()
        expires = t + timedelta(seconds=self.ttl)
        # One statement per table for the whole batch (a hall reconnecting is thousands
        # of operations): the write lock is held for milliseconds, not a round trip each.
        # A lease taken and given back within one batch is inserted, then deleted.
        taken = [
            {
                "id": op.lease.id,
                "user_id": op.lease.user.id,
                "node_id": self.node_id,
                "connected_at": op.lease.connected_at,
                "renewed_at": t,
                "expires_at": expires,
            }
            for op in ops
            if op.kind == "connect"
        ]
        given_back = [op.lease.id for op in ops if op.kind != "connect"]
        events = [
            {
                "lease_id": op.lease.id,
                "user_id": op.lease.user.id,
                "node_id": self.node_id,
                "kind": op.kind,
                "reason": op.reason,
                "ts": op.ts,
            }
            for op in ops
        ]
        async with self.node.writing(while_draining=True) as w:
            before = await online_users(w.conn, w.clock.now(), ids)
            if taken:
                await w.conn.execute(presence_leases.insert(), taken)
            for part in in_chunks(given_back):
                await w.conn.execute(presence_leases.delete().where(presence_leases.c.id.in_(part)))
            await w.conn.execute(presence_events.insert(), events)
            after = await online_users(w.conn, w.clock.now(), ids)
            await announce(w, after - before, before - after)
        for op in ops:
            if op.kind == "connect":
                op.lease.stored = True

    async def _renew(self) -> None:
        await self.renew()
        await sweep(self.node)

    async def renew(self) -> None:
        """Extend this node's leases; take again any that another node swept meanwhile
        (this node could not renew in time, e.g. while the database was away)."""
        held = [lease for lease in self.leases.values() if lease.stored and not lease.released]
        t = self.node.clock.now()
        expires = t + timedelta(seconds=self.ttl)
        async with self.node.writing(while_draining=True) as w:
            res = await w.conn.execute(
                presence_leases.update()
                .where(presence_leases.c.node_id == self.node_id)
                .values(renewed_at=t, expires_at=expires)
            )
            if res.rowcount >= len(held):
                return
            present = set(
                (
                    await w.conn.execute(
                        sa.select(presence_leases.c.id).where(
                            presence_leases.c.node_id == self.node_id
                        )
                    )
                ).scalars()
            )
            # Not those given back meanwhile (their disconnect may have just been stored).
            lost = [lease for lease in held if lease.id not in present and not lease.released]
            ids = {lease.user.id for lease in lost}
            before = await online_users(w.conn, w.clock.now(), ids)
            for lease in lost:
                lease.id = _lease_id(self.node_id)
            if lost:
                await w.conn.execute(
                    presence_leases.insert(),
                    [
                        {
                            "id": lease.id,
                            "user_id": lease.user.id,
                            "node_id": self.node_id,
                            "connected_at": t,
                            "renewed_at": t,
                            "expires_at": expires,
                        }
                        for lease in lost
                    ],
                )
                await w.conn.execute(
                    presence_events.insert(),
                    [
                        {
                            "lease_id": lease.id,
                            "user_id": lease.user.id,
                            "node_id": self.node_id,
                            "kind": "connect",
                            "reason": "renewed",
                            "ts": t,
                        }
                        for lease in lost
                    ],
                )
            after = await online_users(w.conn, w.clock.now(), ids)
            await announce(w, after - before, set())


async def sweep(node: Node) -> int:
    """Remove expired leases of any node, recording ``disconnect`` (``expired``) for each
    and announcing deputies who are now offline. Safe to run on every node at once."""
    async with node.writing(while_draining=True) as w:
        gone = (
            await w.conn.execute(
                presence_leases.delete()
                .where(presence_leases.c.expires_at <= node.clock.now())
                .returning(
                    presence_leases.c.id,
                    presence_leases.c.user_id,
                    presence_leases.c.node_id,
                    presence_leases.c.renewed_at,
                )
            )
        ).all()
        if not gone:
            return 0
        await w.conn.execute(
            presence_events.insert(),
            [
                {
                    "lease_id": g.id,
                    "user_id": g.user_id,
                    "node_id": g.node_id,
                    "kind": "disconnect",
                    "reason": "expired",
                    "ts": utc(g.renewed_at),
                }
                for g in gone
            ],
        )
        ids = {int(g.user_id) for g in gone}
        await announce(w, set(), ids - await online_users(w.conn, w.clock.now(), ids))
        return len(gone)


class PresenceQuery(Body):
    """The moment asked about: ``ts``, or when notice ``notice`` went out (one of them)."""

    ts: Instant | None = None
    notice: Annotated[Id, Meta(description="a notice id")] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.ts is None) == (self.notice is None):
            raise BadRequest("give either `ts` (ISO-8601 with zone) or `notice` (a notice id)")


class Covering(Shape):
    lease: str
    node: str
    from_: Timestamp = msgspec.field(name="from")
    until: Timestamp | None
    ended: Literal["closed", "node_stopped", "expired"] | None


class PresenceAt(Shape):
    """Whether a user was connected at a moment, with the connections covering it."""

    user: Named
    at: Timestamp
    connected: bool
    connections: list[Covering]


async def connected_at(node: Node, me: Member, user_id: int, ts: datetime) -> dict[str, Any]:
    """Was ``user_id`` connected at ``ts``? With the connections that covered that moment
    (secretariat, supervisors, admins)."""
    require_role(me, "secretariat", "supervisor", "admin")
    e = presence_events
    async with node.log.reading() as conn:
        u = (await conn.execute(sa.select(users.c.name).where(users.c.id == user_id))).first()
        if u is None:
            raise NotFound(f"no user {user_id}")
        opened = list(
            await conn.execute(
                sa.select(e.c.lease_id, e.c.node_id, e.c.ts)
                .where(e.c.user_id == user_id, e.c.kind == "connect", e.c.ts <= ts)
                .order_by(e.c.ts.desc())
                .limit(1000)
            )
        )
        leases = [r.lease_id for r in opened]
        closed = {
            r.lease_id: r
            for r in await conn.execute(
                sa.select(e.c.lease_id, e.c.ts, e.c.reason).where(
                    e.c.kind == "disconnect", e.c.lease_id.in_(leases)
                )
            )
        }
        live = {
            r.id: r
            for r in await conn.execute(
                sa.select(presence_leases).where(presence_leases.c.id.in_(leases))
            )
        }
    covering = []
    t_now = node.clock.now()
    for r in opened:
        end: datetime | None = None
        how: str | None = None
        if r.lease_id in closed:
            end, how = utc(closed[r.lease_id].ts), closed[r.lease_id].reason
        elif r.lease_id in live and utc(live[r.lease_id].expires_at) <= t_now:
            end, how = utc(live[r.lease_id].renewed_at), "expired"
        elif r.lease_id not in live:
            continue  # taken and given back in a batch not stored yet: no evidence
        if end is None or end > ts:
            covering.append(
                {
                    "lease": r.lease_id,
                    "node": r.node_id,
                    "from": iso_or_none(r.ts),
                    "until": iso_or_none(end),
                    "ended": how,
                }
            )
    return {
        "user": person(user_id, u.name),
        "at": iso_or_none(ts),
        "connected": bool(covering),
        "connections": covering,
    }
