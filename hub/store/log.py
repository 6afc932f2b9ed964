"""The message log: append-only, one gap-free sequence per channel, hash-chained.

Guarantees:

* ``append_many`` (and ``append``, one message) locks the channel's row first, holding
  the lock until commit, and gives its messages the seqs after the row's head, so
  concurrent publishers on any number of processes get 1, 2, 3 … with no gap or
  duplicate, and commit in seq order. Several messages go in one statement.
* The caller fans a message out only after the transaction that appended it commits.
* A stored message is never updated or deleted. Each carries
  ``hash = sha256(previous hash | channel | seq | kind | sender | body | ts)``, so an
  edit, deletion or reordering done behind the hub's back breaks the chain.
* An idempotency key is stored with the message: appending again with the same
  (channel, sender, key) returns the stored message and stores nothing; so does a second
  draft with the key of an earlier one in the same ``append_many``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.auth import Principal
from hub.errors import HubError, Unavailable
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


@dataclass(frozen=True, slots=True)
class Draft:
    """A message to append: what a publisher sends, before the log gives it a seq.
    ``admit`` (a quota) runs in the storing transaction for a new message; if it raises a
    :class:`~hub.errors.HubError` that message alone is refused and takes no seq."""

    kind: str
    sender: Principal
    body: str  # the JSON text, stored as it is
    key: str | None = None
    admit: Admit | None = None


Admit = Callable[[AsyncConnection, StoredMessage], Awaitable[None]]

Appended = tuple[StoredMessage, bool] | HubError
"""What :func:`append_many` made of one draft: ``(message, created)``, or the error that
refused it alone."""


def _lock_head(
    insert: Callable[[sa.Table], postgresql.Insert | sqlite.Insert],
) -> sa.Executable:
    """Lock the row of channel ``:channel`` (creating it at head 0) and read its head: the
    no-op update takes the row lock, held until commit, and reads the head committed
    before it."""
    return (
        insert(channels)
        .values(name=sa.bindparam("channel"), head=0)
        .on_conflict_do_update(index_elements=[channels.c.name], set_={"head": channels.c.head})
        .returning(channels.c.head)
    )


def _bump_head(
    insert: Callable[[sa.Table], postgresql.Insert | sqlite.Insert],
) -> sa.Executable:
    """Lock the row of channel ``:channel`` (creating it) and add ``:n`` to its head, in
    one statement; returns the new head."""
    ins = insert(channels)
    return (
        ins.values(name=sa.bindparam("channel"), head=sa.bindparam("n"))
        .on_conflict_do_update(
            index_elements=[channels.c.name], set_={"head": channels.c.head + ins.excluded.head}
        )
        .returning(channels.c.head)
    )


# The statements of append_many, built once (building one costs more than running it).
LOCK_HEAD = {"postgresql": _lock_head(postgresql.insert), "sqlite": _lock_head(sqlite.insert)}
BUMP_HEAD = {"postgresql": _bump_head(postgresql.insert), "sqlite": _bump_head(sqlite.insert)}
HASH_AT = sa.select(messages.c.hash).where(
    messages.c.channel == sa.bindparam("channel"), messages.c.seq == sa.bindparam("at")
)
INSERT = messages.insert().returning(messages.c.id, sort_by_parameter_order=True)
SET_HEAD = (
    channels.update()
    .where(channels.c.name == sa.bindparam("channel"))
    .values(head=sa.bindparam("new_head"))
)


def _twins_by_arrays() -> sa.Select[Any]:
    """PostgreSQL's lookup of idempotency keys: the (sender, key) pairs as two arrays
    (``:senders``, ``:keys``), each looked up in the unique index on (channel, sender,
    key) by a LATERAL subquery whatever the table's statistics say (a fresh table's
    would pick a scan of the channel). One statement whatever the number of keys,
    prepared once."""
    asked = (
        sa.func.unnest(
            sa.bindparam("senders", type_=postgresql.ARRAY(sa.BigInteger)),
            sa.bindparam("keys", type_=postgresql.ARRAY(sa.String)),
        )
        .table_valued(sa.column("s", sa.BigInteger), sa.column("key", sa.String))
        .render_derived(name="asked")
    )
    twin = (
        sa.select(*COLUMNS, messages.c.idem_key)
        .where(
            messages.c.channel == sa.bindparam("channel"),
            messages.c.sender_id == asked.c.s,
            messages.c.idem_key == asked.c.key,
        )
        .limit(sa.literal_column("1"))  # keeps a lookup per pair (never flattened to a join)
        .lateral("twin")
    )
    return sa.select(twin).select_from(asked).join(twin, sa.true())


TWINS_BY_ARRAYS = _twins_by_arrays()


async def _twins(
    conn: AsyncConnection, channel: str, drafts: Sequence[Draft]
) -> dict[tuple[int, str], StoredMessage]:
    """The stored messages of ``channel`` with the (sender, key) of a draft, by that pair."""
    pairs = sorted({(d.sender.id, d.key) for d in drafts if d.key is not None})
    if not pairs:
        return {}
    if conn.dialect.name == "postgresql":
        params = {
            "channel": channel,
            "senders": [s for s, _ in pairs],
            "keys": [k for _, k in pairs],
        }
        results = [await conn.execute(TWINS_BY_ARRAYS, params)]
    else:
        senders = sorted({s for s, _ in pairs})
        results = [
            await conn.execute(
                sa.select(*COLUMNS, messages.c.idem_key).where(
                    messages.c.channel == channel,
                    messages.c.sender_id.in_(senders),
                    messages.c.idem_key.in_(part),
                )
            )
            for part in in_chunks(sorted({k for _, k in pairs}))
        ]
    return {(r.sender_id, r.idem_key): stored_message(r) for rows in results for r in rows}


async def append_many(
    conn: AsyncConnection,
    channel: str,
    drafts: Sequence[Draft],
    now: datetime,
    known_tail: tuple[int, str] | None = None,
) -> list[Appended]:
    """Append ``drafts`` to ``channel``, in their order, inside the caller's transaction:
    one row lock, one read of the head and of the last hash, one INSERT of the new rows,
    one update of the head. The seqs follow the head with no gap and the hash chain
    continues from one message to the next.

    ``known_tail`` is a (seq, hash) of the channel known to be committed (the caller's
    last commit): when the head is that seq, the hash is not read again.

    A batch whose drafts have neither key nor ``admit`` moves the head as it locks the row
    (one statement fewer): every one of them takes a seq.

    A draft whose (sender, key) is stored already, or came earlier in ``drafts``, is
    answered with that message and ``created`` False, storing nothing. One per draft,
    in order.
    """
    # Drafts without keys or admission all take a seq: the head moves by their number as
    # the row is locked (one statement). Otherwise it is locked first and set at the end.
    taken = len(drafts) if all(d.key is None and d.admit is None for d in drafts) else None
    if taken:
        bump = {"channel": channel, "n": taken}
        head = (await conn.execute(BUMP_HEAD[conn.dialect.name], bump)).scalar_one() - taken
    else:
        head = (await conn.execute(LOCK_HEAD[conn.dialect.name], {"channel": channel})).scalar_one()
    prev = GENESIS
    if known_tail is not None and known_tail[0] == head:
        prev = known_tail[1]
    elif head > 0:
        prev = (await conn.execute(HASH_AT, {"channel": channel, "at": head})).scalar_one()
    known = await _twins(conn, channel, drafts)
    out: list[Appended] = []
    new: list[StoredMessage] = []
    at: list[int] = []  # the index in ``out`` of each of ``new``
    stamp = iso(now)
    for d in drafts:
        twin = None if d.key is None else known.get((d.sender.id, d.key))
        if twin is not None:
            out.append((twin, False))
            continue
        seq = head + 1
        digest = chain_hash(prev, channel, seq, d.kind, d.sender.id, d.body, stamp)
        # id 0 until inserted; ``admit`` sees the sender and the body.
        msg = StoredMessage(
            0, channel, seq, d.kind, d.sender.id, d.sender.name, d.sender.role, d.body, now, digest
        )
        if d.admit is not None:
            try:
                await d.admit(conn, msg)
            except HubError as e:
                out.append(e)
                continue
        head, prev = seq, digest
        if d.key is not None:
            known[d.sender.id, d.key] = msg
        at.append(len(out))
        out.append((msg, True))
        new.append(msg)
    if not new:
        return out
    ids = await conn.execute(
        INSERT,
        [
            {
                "channel": channel,
                "seq": m.seq,
                "kind": m.kind,
                "sender_id": m.sender_id,
                "sender_name": m.sender_name,
                "sender_role": m.sender_role,
                "body": m.body,
                "ts": now,
                "idem_key": drafts[i].key,
                "hash": m.hash,
            }
            for i, m in zip(at, new, strict=True)
        ],
    )
    if not taken:
        await conn.execute(SET_HEAD, {"channel": channel, "new_head": head})
    with_id = {m.seq: replace(m, id=r.id) for m, r in zip(new, ids, strict=True)}
    # A repeat within ``drafts`` gets the stored message too, with its id.
    return [
        (with_id[o[0].seq], o[1]) if not isinstance(o, HubError) and o[0].id == 0 else o
        for o in out
    ]


async def append(
    conn: AsyncConnection,
    channel: str,
    kind: str,
    sender: Principal,
    body: dict[str, Any] | str,
    key: str | None = None,
    now: datetime | None = None,
) -> tuple[StoredMessage, bool]:
    """Append one message inside the caller's transaction (:func:`append_many` of one).

    Returns ``(message, created)``; ``created`` is False when ``key`` matched an earlier
    message of the same sender on the channel (that message is returned, nothing stored).
    """
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    (got,) = await append_many(
        conn, channel, [Draft(kind, sender, text, key)], now or datetime.now(UTC)
    )
    assert not isinstance(got, HubError)  # no admit: nothing refuses it
    return got


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
