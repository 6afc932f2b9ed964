"""The message log: append-only, one gap-free sequence per channel, hash-chained.

Guarantees:

* ``append`` assigns the next seq of the channel atomically (the channel row's head is
  incremented first, holding its lock until commit), so concurrent publishers on any
  number of processes get 1, 2, 3 … with no gap or duplicate, and commit in seq order.
* The caller fans a message out only after the transaction that appended it commits.
* A stored message is never updated or deleted. Each carries
  ``hash = sha256(previous hash | channel | seq | kind | sender | body | ts)``, so an
  edit, deletion or reordering done behind the hub's back breaks the chain.
* An idempotency key is stored with the message: appending again with the same
  (channel, sender, key) returns the stored message and stores nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.auth import Principal
from hub.errors import Unavailable
from hub.protocol import iso
from hub.store.engine import in_chunks
from hub.store.schema import channels, messages

GENESIS = "0" * 64


def chain_hash(
    prev: str, channel: str, seq: int, kind: str, sender_id: int, body: str, ts: str
) -> str:
    h = hashlib.sha256()
    for part in (prev, channel, str(seq), kind, str(sender_id), body, ts):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    channel: str
    seq: int
    kind: str
    sender_id: int
    sender_name: str
    sender_role: str
    body: str  # the JSON text exactly as stored
    ts: datetime
    hash: str

    def frame(self) -> str:
        """The ``message`` frame, encoded once and shared by every recipient."""
        return orjson.dumps(
            {
                "type": "message",
                "channel": self.channel,
                "seq": self.seq,
                "id": self.id,
                "kind": self.kind,
                "sender": {
                    "id": self.sender_id,
                    "name": self.sender_name,
                    "role": self.sender_role,
                },
                "body": orjson.Fragment(self.body),
                "ts": iso(self.ts),
            }
        ).decode()

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = orjson.loads(self.frame())
        del d["type"]
        return d


def stored_message(r: Any) -> StoredMessage:
    """A row of :data:`COLUMNS` as a :class:`StoredMessage` (timestamps in UTC)."""
    ts = r.ts if r.ts.tzinfo else r.ts.replace(tzinfo=UTC)
    return StoredMessage(
        r.id,
        r.channel,
        r.seq,
        r.kind,
        r.sender_id,
        r.sender_name,
        r.sender_role,
        r.body,
        ts,
        r.hash,
    )


COLUMNS = (
    messages.c.id,
    messages.c.channel,
    messages.c.seq,
    messages.c.kind,
    messages.c.sender_id,
    messages.c.sender_name,
    messages.c.sender_role,
    messages.c.body,
    messages.c.ts,
    messages.c.hash,
)

DB_DOWN = (OperationalError, InterfaceError, PoolTimeout, OSError, ConnectionError, TimeoutError)

# SQLSTATEs (and classes: two characters) that say "not now", never "wrong request": the
# server refuses connections (57P03 starting up, shutting down, in recovery; 53300 too many
# connections), ended the session (57P01, 25P03 idle in transaction), cancelled the
# statement (57014 statement_timeout), gave up waiting for a lock (55P03 lock_timeout), or
# rolled the transaction back to break a deadlock or a serialization conflict.
TRANSIENT_STATES = ("08", "53", "57", "58", "25P03", "55P03", "40001", "40P01")


def sqlstate(e: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind an exception, however wrapped (SQLAlchemy's
    ``DBAPIError.orig``, the driver adapter's ``__cause__``), or None."""
    seen: BaseException | None = e
    for _ in range(4):
        if seen is None:
            return None
        code = getattr(seen, "sqlstate", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def unavailable(e: BaseException) -> bool:
    """Whether ``e`` says the database cannot serve now (down, refusing, restarting, too
    busy, too slow, or a transaction it rolled back) rather than a bug in the request."""
    if isinstance(e, DB_DOWN):
        return True
    state = sqlstate(e)
    if state is not None:
        return state.startswith(TRANSIENT_STATES)
    return isinstance(e, DBAPIError) and e.connection_invalidated


@asynccontextmanager
async def db_errors() -> AsyncIterator[None]:
    """Turn every "the database cannot serve now" into :class:`Unavailable`.

    The one place database errors are classified (:func:`unavailable`): unreachable,
    refusing connections (starting up, shutting down, too many connections), a session it
    ended, a statement or lock wait over its timeout, a deadlock or serialization failure.
    Anything else (a bug) passes through unchanged.
    """
    try:
        yield
    except Exception as e:
        if not unavailable(e):
            raise
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            msg = "the database connection was lost; nothing was stored, try again"
        else:
            msg = "the database is unavailable; nothing was stored, try again"
        raise Unavailable(msg) from e


async def lock_channels(conn: AsyncConnection, names: Iterable[str]) -> None:
    """Lock the rows of ``names`` in ``channels`` (creating those not there yet) in sorted
    order, in the caller's transaction: one statement, whose no-op update takes each row's
    lock in the order of its VALUES."""
    rows = [{"name": n, "head": 0} for n in sorted(names)]
    if not rows:
        return
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(channels)
    await conn.execute(
        ins.values(rows).on_conflict_do_update(
            index_elements=[channels.c.name], set_={"head": channels.c.head}
        )
    )


def _next_seq(dialect: str, channel: str) -> sa.Executable:
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(channels)
    return (
        ins.values(name=channel, head=1)
        .on_conflict_do_update(index_elements=[channels.c.name], set_={"head": channels.c.head + 1})
        .returning(channels.c.head)
    )


async def append(
    conn: AsyncConnection,
    channel: str,
    kind: str,
    sender: Principal,
    body: dict[str, Any] | str,
    key: str | None = None,
    now: datetime | None = None,
) -> tuple[StoredMessage, bool]:
    """Append one message inside the caller's transaction.

    Returns ``(message, created)``; ``created`` is False when ``key`` matched an earlier
    message of the same sender on the channel (that message is returned; the caller should
    roll back, which also undoes the head increment).
    """
    seq = (await conn.execute(_next_seq(conn.dialect.name, channel))).scalar_one()
    if key is not None:
        old = (
            await conn.execute(
                sa.select(*COLUMNS).where(
                    messages.c.channel == channel,
                    messages.c.sender_id == sender.id,
                    messages.c.idem_key == key,
                )
            )
        ).first()
        if old is not None:
            return stored_message(old), False
    prev = GENESIS
    if seq > 1:
        prev = (
            await conn.execute(
                sa.select(messages.c.hash).where(
                    messages.c.channel == channel, messages.c.seq == seq - 1
                )
            )
        ).scalar_one()
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    ts = now or datetime.now(UTC)
    digest = chain_hash(prev, channel, seq, kind, sender.id, text, iso(ts))
    msg_id = (
        await conn.execute(
            messages.insert()
            .values(
                channel=channel,
                seq=seq,
                kind=kind,
                sender_id=sender.id,
                sender_name=sender.name,
                sender_role=sender.role,
                body=text,
                ts=ts,
                idem_key=key,
                hash=digest,
            )
            .returning(messages.c.id)
        )
    ).scalar_one()
    return (
        StoredMessage(
            msg_id, channel, seq, kind, sender.id, sender.name, sender.role, text, ts, digest
        ),
        True,
    )


class MessageLog:
    """Reads of the log, and single-message publishes in their own transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with db_errors(), self.engine.connect() as conn:
            yield await conn.execution_options(readonly=True)

    async def read(self, channel: str, after: int, limit: int = 500) -> list[StoredMessage]:
        """Messages of ``channel`` with seq > ``after``, in seq order, at most ``limit``."""
        async with self.reading() as conn:
            rows = await conn.execute(
                sa.select(*COLUMNS)
                .where(messages.c.channel == channel, messages.c.seq > after)
                .order_by(messages.c.seq)
                .limit(limit)
            )
            return [stored_message(r) for r in rows]

    async def tail(self, channel: str, limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages of ``channel``, in seq order; the last one's seq is
        the channel's head (a message and its head are committed together)."""
        async with self.reading() as conn:
            rows = await conn.execute(
                sa.select(*COLUMNS)
                .where(messages.c.channel == channel)
                .order_by(messages.c.seq.desc())
                .limit(limit)
            )
            return [stored_message(r) for r in rows][::-1]

    async def head(self, channel: str) -> int:
        async with self.reading() as conn:
            h = (
                await conn.execute(sa.select(channels.c.head).where(channels.c.name == channel))
            ).scalar()
            return int(h or 0)

    async def heads(self, names: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        async with self.reading() as conn:
            for part in in_chunks(names):
                rows = await conn.execute(
                    sa.select(channels.c.name, channels.c.head).where(channels.c.name.in_(part))
                )
                out.update({r.name: int(r.head) for r in rows})
        return out

    async def get(self, channel: str, seq: int) -> StoredMessage | None:
        async with self.reading() as conn:
            r = (
                await conn.execute(
                    sa.select(*COLUMNS).where(messages.c.channel == channel, messages.c.seq == seq)
                )
            ).first()
            return None if r is None else stored_message(r)
