"""Exports of the record: CSV (UTF-8 with a BOM, so Excel and WPS show Chinese) or JSON
Lines, streamed.

Datasets: ``messages`` (the archive's filters), ``receipts`` (``channel``, ``meeting``,
``user``, ``since``, ``until``), ``items`` (one row per commit-to-do item or suggestion
as it stands) and ``item_events`` (every step of those items) by ``meeting``, ``unit``,
``deputy``, ``since``, ``until`` (of the item's creation), ``attendance`` (``meeting``:
one row per sitting and expected deputy), ``notices`` (``meeting``, ``since``, ``until``
of the sending: one row per notice as it stands, with its figures counted by the notices'
one rule, ``hub.session.notices.figures_by_notice``, the tally's). Rows are read in keyset batches in short read
transactions, a batch ending at :data:`BATCH` rows or :data:`BATCH_BYTES` of text,
whichever comes first (the rows are fetched from a cursor in chunks sized to the
budget, so a batch of large rows is cut before it is all in memory); each batch is encoded in a
worker thread, so memory holds about one batch whatever the size of the export or of a
row, the event loop serves every other connection meanwhile, and no transaction stays
open while a slow client downloads. Timestamps are ISO-8601 UTC (``…Z``); a message's
``body`` is its stored JSON text.

Every CSV line is written by :func:`csv_text`: text that a spreadsheet would run as a
formula is written as text (see there).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.errors import BadRequest
from hub.protocol import iso_or_none
from hub.session.items import item_deputies, item_events, item_units, items
from hub.session.meetings import sittings
from hub.session.notices import Version, changes_of, figures_by_notice, notices
from hub.session.schema import units, users
from hub.store.log import db_errors
from hub.store.schema import messages, receipts
from hub.supervision.archive import Filters, id_window
from hub.supervision.attendance import as_of, marks

BATCH = 5000
BATCH_BYTES = 1 << 20
FETCH = 4
FETCH_MAX = 256
BOM = "\ufeff"
Format = Literal["csv", "jsonl"]
FORMATS: dict[Format, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@dataclass(frozen=True)
class Batch:
    """The rows of one batch, and the key to continue after."""

    rows: Sequence[Any]
    last: Any
    more: bool


def _row_size(r: Sequence[Any]) -> int:
    """About the bytes a row takes once encoded (characters of its text, 8 per cell)."""
    return sum([len(v) for v in r if v.__class__ is str]) + 8 * len(r)


async def take(conn: AsyncConnection, q: sa.Select[Any], batch: int) -> tuple[list[Any], bool]:
    """The first rows of ``q`` up to ``batch`` rows or :data:`BATCH_BYTES` of text; and
    whether there may be more after them.

    Rows come from a cursor in chunks: :data:`FETCH` rows first, then as many as the rows
    so far say would fill the batch (at most :data:`FETCH_MAX`), so small rows take few
    round trips and large ones are never fetched far past the budget.
    """
    out: list[Any] = []
    size = 0
    n = FETCH
    result = await conn.stream(q.limit(batch))
    try:
        while chunk := await result.fetchmany(n):
            out.extend(chunk)
            size += sum(map(_row_size, chunk))
            if size >= BATCH_BYTES:
                return out, True
            n = max(1, min(FETCH_MAX, (BATCH_BYTES - size) * len(out) // max(size, 1)))
    finally:
        await result.close()
    return out, len(out) == batch


def _as_dict(
    columns: Sequence[str],
) -> tuple[Callable[[Any], Sequence[Any]], Callable[[Any], bytes]]:
    """Encoders of rows that are dicts keyed by ``columns``."""
    return (lambda d: [d[c] for c in columns]), orjson.dumps


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: Sequence[str]
    read: Callable[[AsyncConnection, Any, int], Any]  # (conn, after, batch) -> Batch
    cells: Callable[[Any], Sequence[Any]]  # a row as CSV cells, in ``columns`` order
    json: Callable[[Any], bytes]  # a row as one JSON object


def ts_text(col: Any, dialect: str) -> sa.ColumnElement[str]:
    """The database writes a timestamp as :func:`hub.protocol.iso` does (UTC, microseconds,
    ``Z``): the formatting runs beside the hub, not in it. SQLite keeps timestamps as UTC
    text ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", col), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return sa.func.replace(col, " ", "T").concat("Z")


def json_object(dialect: str, *pairs: Any) -> Any:
    """A JSON object built by the database (embeddable in another)."""
    if dialect == "postgresql":
        return sa.func.json_build_object(*pairs)
    return sa.func.json_object(*pairs)


def as_text(obj: Any, dialect: str) -> Any:
    return sa.cast(obj, sa.Text) if dialect == "postgresql" else obj


def json_value(col: Any, dialect: str) -> Any:
    """Stored JSON text, embedded as JSON (not as a string)."""
    return sa.cast(col, postgresql.JSON) if dialect == "postgresql" else sa.func.json(col)


def _message_rows(f: Filters, fmt: str) -> Callable[[AsyncConnection, Any, int], Any]:
    """CSV: (id, cells…); JSON Lines: (id, the line built by the database)."""

    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        m, d = messages.c, conn.dialect.name
        ts = ts_text(m.ts, d)
        if fmt == "csv":
            cols: list[Any] = [
                m.id, m.channel, m.seq, m.kind, ts, m.sender_id, m.sender_name, m.sender_role,
                m.body, m.hash,
            ]  # fmt: skip
        else:
            sender = json_object(d, "id", m.sender_id, "name", m.sender_name, "role", m.sender_role)
            line = json_object(
                d, "id", m.id, "channel", m.channel, "seq", m.seq, "kind", m.kind, "ts", ts,
                "sender", sender, "body", json_value(m.body, d), "hash", m.hash,
            )  # fmt: skip
            cols = [m.id, as_text(line, d)]
        # the first batch starts where the time range does; the next ones after the last
        start = [m.id > after] if after is not None else await id_window(conn, f)
        q = sa.select(*cols).where(*f.where(), *start)
        rows, more = await take(conn, q.order_by(m.id), batch)
        return Batch(rows, rows[-1][0] if rows else None, more)

    return read


def _from_db_cells(r: Sequence[Any]) -> Sequence[Any]:
    return r


def _from_db_json(r: Any) -> bytes:
    return str(r[1]).encode()


MESSAGE_COLUMNS = (
    "id", "channel", "seq", "kind", "ts", "sender_id", "sender_name", "sender_role", "body",
    "hash",
)  # fmt: skip


def _receipt_rows(
    where: list[sa.ColumnElement[bool]], fmt: str
) -> Callable[[AsyncConnection, Any, int], Any]:
    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        r_, d = receipts.c, conn.dialect.name
        ts = ts_text(r_.ts, d)
        if fmt == "csv":
            cols: list[Any] = [r_.id, r_.channel, r_.seq, r_.kind, r_.user_id, users.c.name, ts]
        else:
            user = json_object(d, "id", r_.user_id, "name", users.c.name)
            line = json_object(
                d, "id", r_.id, "channel", r_.channel, "seq", r_.seq, "kind", r_.kind,
                "user", user, "ts", ts,
            )  # fmt: skip
            cols = [r_.id, as_text(line, d)]
        q = (
            sa.select(*cols)
            .select_from(receipts.outerjoin(users, users.c.id == r_.user_id))
            .where(*where)
        )
        if after is not None:
            q = q.where(r_.id > after)
        rows, more = await take(conn, q.order_by(r_.id), batch)
        return Batch(rows, rows[-1][0] if rows else None, more)

    return read


RECEIPT_COLUMNS = ("id", "channel", "seq", "kind", "user_id", "user_name", "ts")


def receipts_where(f: Filters, user: int | None) -> list[sa.ColumnElement[bool]]:
    r = receipts.c
    out: list[sa.ColumnElement[bool]] = []
    if f.channel is not None:
        out.append(r.channel == f.channel)
    if f.meeting is not None:
        out.append(r.channel.in_([f"meeting:{f.meeting}", f"desk:{f.meeting}"]))
    if f.unit is not None:
        out.append(r.channel == f"unit:{f.unit}")
    if f.deputy is not None:
        out.append(r.user_id == f.deputy)
    if f.delegation is not None:
        out.append(r.user_id.in_(f.delegation_deputies()))
    if user is not None:
        out.append(r.user_id == user)
    if f.since is not None:
        out.append(r.ts >= f.since)
    if f.until is not None:
        out.append(r.ts < f.until)
    return out


def dataset(
    name: str,
    f: Filters,
    fmt: str = "csv",
    user: int | None = None,
    now: datetime | None = None,
) -> Dataset:
    """The dataset ``name`` with the request's filters applied (receipts: of ``user`` if
    given), read for ``fmt``; attendance as it stands at ``now`` (the hub's clock)."""
    if name == "messages":
        rows = _message_rows(f, fmt)
        return Dataset(name, MESSAGE_COLUMNS, rows, _from_db_cells, _from_db_json)
    if name == "receipts":
        rows = _receipt_rows(receipts_where(f, user), fmt)
        return Dataset(name, RECEIPT_COLUMNS, rows, _from_db_cells, _from_db_json)
    if name == "items":
        return Dataset(name, ITEM_COLUMNS, item_rows(f), *_as_dict(ITEM_COLUMNS))
    if name == "item_events":
        cells, _ = _as_dict(ITEM_EVENT_COLUMNS)
        return Dataset(name, ITEM_EVENT_COLUMNS, item_event_rows(f), cells, _event_json)
    if name == "attendance":
        if f.meeting is None:
            raise BadRequest("the attendance export needs `meeting`")
        if now is None:
            raise TypeError("the attendance export is read as of `now`, the hub's clock")
        rows = attendance_rows(f.meeting, now)
        return Dataset(name, ATTENDANCE_COLUMNS, rows, *_as_dict(ATTENDANCE_COLUMNS))
    if name == "notices":
        return Dataset(name, NOTICE_COLUMNS, notice_rows(f), *_as_dict(NOTICE_COLUMNS))
    raise BadRequest(f"unknown export {name!r}: expected one of {', '.join(DATASETS)}")


DATASETS = ("messages", "receipts", "items", "item_events", "attendance", "notices")

NOTICE_COLUMNS = (
    "id", "meeting_id", "title", "created_at", "status", "changed_at", "reason",
    "addressees", "delivered", "read", "missing", "unread",
)  # fmt: skip


def notice_rows(f: Filters) -> Callable[[AsyncConnection, Any, int], Any]:
    """Each notice as it stands (corrected or withdrawn) with the tally's figures."""

    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        n = notices.c
        where: list[sa.ColumnElement[bool]] = []
        if f.meeting is not None:
            where.append(n.meeting_id == f.meeting)
        if f.since is not None:
            where.append(n.created_at >= f.since)
        if f.until is not None:
            where.append(n.created_at < f.until)
        if after is not None:
            where.append(n.id > after)
        rows = (
            await conn.execute(sa.select(notices).where(*where).order_by(n.id).limit(batch))
        ).all()
        if not rows:
            return Batch([], after, False)
        ids = [int(r.id) for r in rows]
        figures = {
            int(x.notice_id): x for x in await conn.execute(figures_by_notice(n.id.in_(ids)))
        }
        changes = await changes_of(conn, ids)
        out = []
        for r in rows:
            v = Version.of(r, changes.get(int(r.id), ()))
            x = figures.get(int(r.id))
            out.append(
                {
                    "id": int(r.id),
                    "meeting_id": int(r.meeting_id),
                    "title": v.title,
                    "created_at": iso_or_none(r.created_at),
                    "status": v.status,
                    "changed_at": iso_or_none(v.changed_at),
                    "reason": v.reason,
                    **{
                        k: 0 if x is None else int(getattr(x, k))
                        for k in ("addressees", "delivered", "read", "missing", "unread")
                    },
                }
            )
        return Batch(out, ids[-1], len(rows) == batch)

    return read


ITEM_COLUMNS = (
    "id", "kind", "meeting_id", "title", "state", "round", "lead_unit_id", "lead_unit",
    "co_units", "deputies", "created_at", "handed_over_at", "sign_due", "reply_due",
    "replied_at", "grade", "closed_at", "text", "reply_text",
)  # fmt: skip


def _items_where(f: Filters) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = []
    if f.meeting is not None:
        out.append(items.c.meeting_id == f.meeting)
    if f.since is not None:
        out.append(items.c.created_at >= f.since)
    if f.until is not None:
        out.append(items.c.created_at < f.until)
    if f.unit is not None:
        out.append(
            items.c.id.in_(sa.select(item_units.c.item_id).where(item_units.c.unit_id == f.unit))
        )
    if f.deputy is not None:
        out.append(
            items.c.id.in_(
                sa.select(item_deputies.c.item_id).where(item_deputies.c.deputy_id == f.deputy)
            )
        )
    if f.delegation is not None:
        out.append(
            items.c.id.in_(
                sa.select(item_deputies.c.item_id).where(
                    item_deputies.c.deputy_id.in_(f.delegation_deputies())
                )
            )
        )
    return out


def item_rows(f: Filters) -> Callable[[AsyncConnection, Any, int], Any]:
    """One row per item as it stands, with its units and deputies (names joined by "、")."""

    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        q = sa.select(items).where(*_items_where(f))
        if after is not None:
            q = q.where(items.c.id > after)
        rows, more = await take(conn, q.order_by(items.c.id), batch)
        ids = [int(r.id) for r in rows]
        lead: dict[int, tuple[int, str]] = {}
        co: dict[int, list[str]] = {i: [] for i in ids}
        deps: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            for u in await conn.execute(
                sa.select(item_units.c.item_id, item_units.c.role, units.c.id, units.c.name)
                .join(units, units.c.id == item_units.c.unit_id)
                .where(item_units.c.item_id.in_(ids))
                .order_by(item_units.c.item_id, units.c.id)
            ):
                if u.role == "lead":
                    lead[int(u.item_id)] = (int(u.id), u.name)
                else:
                    co[int(u.item_id)].append(u.name)
            for d in await conn.execute(
                sa.select(item_deputies.c.item_id, users.c.name)
                .join(users, users.c.id == item_deputies.c.deputy_id)
                .where(item_deputies.c.item_id.in_(ids), item_deputies.c.status == "confirmed")
                .order_by(item_deputies.c.item_id, users.c.id)
            ):
                deps[int(d.item_id)].append(d.name)
        out = []
        for r in rows:
            i = int(r.id)
            row = {
                "id": i,
                "kind": r.kind,
                "meeting_id": int(r.meeting_id),
                "title": r.title,
                "state": r.state,
                "round": int(r.round),
                "lead_unit_id": lead[i][0] if i in lead else None,
                "lead_unit": lead[i][1] if i in lead else None,
                "co_units": "、".join(co[i]),
                "deputies": "、".join(deps[i]),
                "created_at": iso_or_none(r.created_at),
                "handed_over_at": iso_or_none(r.handed_over_at),
                "sign_due": iso_or_none(r.sign_due),
                "reply_due": iso_or_none(r.reply_due),
                "replied_at": iso_or_none(r.replied_at),
                "grade": r.grade,
                "closed_at": iso_or_none(r.closed_at),
                "text": r.text,
                "reply_text": r.reply_text,
            }
            out.append(row)
        return Batch(out, ids[-1] if ids else None, more)

    return read


ITEM_EVENT_COLUMNS = (
    "id", "item_id", "action", "at", "actor_id", "actor_name", "actor_role", "actor_unit_id",
    "from_state", "to_state", "round", "payload",
)  # fmt: skip


def _event_json(d: dict[str, Any]) -> bytes:
    return orjson.dumps({**d, "payload": orjson.Fragment(d["payload"])})


def item_event_rows(f: Filters) -> Callable[[AsyncConnection, Any, int], Any]:
    """Every step of the items in scope, in the order they were taken."""

    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        e = item_events.c
        q = (
            sa.select(item_events, users.c.name)
            .select_from(item_events.outerjoin(users, users.c.id == e.actor_id))
            .where(e.item_id.in_(sa.select(items.c.id).where(*_items_where(f))))
        )
        if after is not None:
            q = q.where(e.id > after)
        rows, more = await take(conn, q.order_by(e.id), batch)
        out = []
        for r in rows:
            row = {
                "id": int(r.id),
                "item_id": int(r.item_id),
                "action": r.action,
                "at": iso_or_none(r.at),
                "actor_id": int(r.actor_id),
                "actor_name": r.name if r.name is not None else "会议系统",
                "actor_role": r.actor_role,
                "actor_unit_id": r.actor_unit_id,
                "from_state": r.from_state,
                "to_state": r.to_state,
                "round": int(r.round),
                "payload": r.payload,
            }
            out.append(row)
        return Batch(out, int(rows[-1].id) if rows else None, more)

    return read


ATTENDANCE_COLUMNS = (
    "meeting_id", "sitting_id", "sitting", "sitting_kind", "starts_at", "deputy_id",
    "deputy_name", "delegation_id", "status", "checked_in_at", "leave_reason", "leave_status",
)  # fmt: skip


def attendance_rows(meeting_id: int, now: datetime) -> Callable[[AsyncConnection, Any, int], Any]:
    """One sitting per batch: each expected deputy checked in, on leave, leave pending or
    absent — at a sitting not ended at ``now``, ``not_checked_in`` (begun) or ``upcoming``
    instead of absent, as the pages say it."""

    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        q = sa.select(sittings).where(sittings.c.meeting_id == meeting_id)
        if after is not None:
            q = q.where(sittings.c.id > after)
        s = (await conn.execute(q.order_by(sittings.c.id).limit(1))).first()
        if s is None:
            return Batch([], None, False)
        out = []
        for m in await marks(conn, [s]):
            row = {
                "meeting_id": meeting_id,
                "sitting_id": int(s.id),
                "sitting": s.title,
                "sitting_kind": s.kind,
                "starts_at": iso_or_none(s.starts_at),
                "deputy_id": m.deputy_id,
                "deputy_name": m.deputy_name,
                "delegation_id": m.delegation_id,
                "status": as_of(m.status, s, now),
                "checked_in_at": iso_or_none(m.checked_in_at),
                "leave_reason": None if m.leave is None else m.leave.reason,
                "leave_status": None if m.leave is None else m.leave.status,
            }
            out.append(row)
        return Batch(out, int(s.id), True)

    return read


FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """The one CSV writer of every export: rows as CSV lines (``\r\n``).

    A text cell that starts as a spreadsheet formula would (``= + - @``, tab or carriage
    return, and the full-width ``＝ ＋ － ＠`` that Excel and WPS also take as formulas) gets
    a leading ``'``, as OWASP recommends against CSV injection, so it shows as the text it
    is and never runs. Numbers are left alone.
    """
    risky = FORMULA_START
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [("'" + v) if v.__class__ is str and v[:1] in risky else v for v in r] for r in rows
    )
    return buf.getvalue()


def encode(ds: Dataset, fmt: str, rows: Sequence[Any]) -> bytes:
    """One batch of rows in ``fmt``."""
    if fmt == "csv":
        return csv_text(map(ds.cells, rows)).encode()
    return b"\n".join(map(ds.json, rows)) + b"\n"


async def stream(
    engine: AsyncEngine, ds: Dataset, fmt: str, batch: int = BATCH
) -> AsyncIterator[bytes]:
    """The export as chunks of bytes, one per batch of rows (encoded off the event loop)."""
    if fmt == "csv":
        yield (BOM + csv_text([ds.columns])).encode()
    after: Any = None
    while True:
        async with db_errors(), engine.connect() as conn:
            conn = await conn.execution_options(readonly=True)
            b: Batch = await ds.read(conn, after, batch)
        if b.rows:
            yield await asyncio.to_thread(encode, ds, fmt, b.rows)
        if not b.more:
            return
        after = b.last
