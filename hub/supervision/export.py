"""Exports of the record: CSV (UTF-8 with a BOM, so Excel and WPS show Chinese) or JSON
Lines, streamed.

Datasets: ``messages`` (the archive's filters), ``receipts`` (``channel``, ``meeting``,
``user``, ``since``, ``until``), ``items`` (one row per commit-to-do item or suggestion
as it stands) and ``item_events`` (every step of those items) by ``meeting``, ``unit``,
``deputy``, ``since``, ``until`` (of the item's creation), ``attendance`` (``meeting``:
one row per sitting and expected deputy). Rows are read in keyset batches of :data:`BATCH` in short read
transactions and encoded batch by batch, so memory holds one batch whatever the size of
the export, and no transaction stays open while a slow client downloads. Timestamps
are ISO-8601 UTC (``…Z``); a message's ``body`` is its stored JSON text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.errors import BadRequest
from hub.protocol import iso
from hub.session.items import item_deputies, item_events, item_units, items
from hub.session.meetings import sittings
from hub.store.log import db_errors
from hub.store.schema import messages, receipts, units, users
from hub.supervision.archive import Filters, utc
from hub.supervision.attendance import marks

BATCH = 5000
BOM = "\ufeff"
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _ts(v: datetime | None) -> str | None:
    return None if v is None else iso(utc(v))


@dataclass(frozen=True)
class Batch:
    """Rows of one batch as (CSV cells, JSON object) pairs, and the key to continue after."""

    rows: list[tuple[list[Any], bytes]]
    last: Any
    more: bool


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: Sequence[str]
    read: Callable[[AsyncConnection, Any, int], Any]  # (conn, after, batch) -> Batch


def _message_rows(f: Filters) -> Callable[[AsyncConnection, Any, int], Any]:
    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        m = messages.c
        q = sa.select(
            m.id, m.channel, m.seq, m.kind, m.ts, m.sender_id, m.sender_name, m.sender_role,
            m.body, m.hash,
        ).where(*f.where())  # fmt: skip
        if after is not None:
            q = q.where(m.id > after)
        rows = (await conn.execute(q.order_by(m.id).limit(batch))).all()
        out = []
        for r in rows:
            ts = _ts(r.ts)
            cells = [
                r.id, r.channel, r.seq, r.kind, ts, r.sender_id, r.sender_name, r.sender_role,
                r.body, r.hash,
            ]  # fmt: skip
            obj = orjson.dumps(
                {
                    "id": r.id,
                    "channel": r.channel,
                    "seq": r.seq,
                    "kind": r.kind,
                    "ts": ts,
                    "sender": {"id": r.sender_id, "name": r.sender_name, "role": r.sender_role},
                    "body": orjson.Fragment(r.body),
                    "hash": r.hash,
                }
            )
            out.append((cells, obj))
        return Batch(out, rows[-1].id if rows else None, len(rows) == batch)

    return read


MESSAGE_COLUMNS = (
    "id", "channel", "seq", "kind", "ts", "sender_id", "sender_name", "sender_role", "body",
    "hash",
)  # fmt: skip


def _receipt_rows(
    where: list[sa.ColumnElement[bool]],
) -> Callable[[AsyncConnection, Any, int], Any]:
    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        r_ = receipts.c
        q = (
            sa.select(r_.id, r_.channel, r_.seq, r_.kind, r_.user_id, users.c.name, r_.ts)
            .select_from(receipts.outerjoin(users, users.c.id == r_.user_id))
            .where(*where)
        )
        if after is not None:
            q = q.where(r_.id > after)
        rows = (await conn.execute(q.order_by(r_.id).limit(batch))).all()
        out = []
        for r in rows:
            ts = _ts(r.ts)
            cells = [r.id, r.channel, r.seq, r.kind, r.user_id, r.name, ts]
            obj = orjson.dumps(
                {
                    "id": r.id,
                    "channel": r.channel,
                    "seq": r.seq,
                    "kind": r.kind,
                    "user": {"id": r.user_id, "name": r.name},
                    "ts": ts,
                }
            )
            out.append((cells, obj))
        return Batch(out, rows[-1].id if rows else None, len(rows) == batch)

    return read


RECEIPT_COLUMNS = ("id", "channel", "seq", "kind", "user_id", "user_name", "ts")


def receipts_where(params: Any, f: Filters) -> list[sa.ColumnElement[bool]]:
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
    user = params.get("user")
    if user:
        try:
            out.append(r.user_id == int(user))
        except ValueError:
            raise BadRequest("`user` must be a user id") from None
    if f.since is not None:
        out.append(r.ts >= f.since)
    if f.until is not None:
        out.append(r.ts < f.until)
    return out


def dataset(name: str, params: Any, f: Filters) -> Dataset:
    """The dataset ``name`` with the request's filters applied."""
    if name == "messages":
        return Dataset(name, MESSAGE_COLUMNS, _message_rows(f))
    if name == "receipts":
        return Dataset(name, RECEIPT_COLUMNS, _receipt_rows(receipts_where(params, f)))
    if name == "items":
        return Dataset(name, ITEM_COLUMNS, item_rows(f))
    if name == "item_events":
        return Dataset(name, ITEM_EVENT_COLUMNS, item_event_rows(f))
    if name == "attendance":
        if f.meeting is None:
            raise BadRequest("the attendance export needs `meeting`")
        return Dataset(name, ATTENDANCE_COLUMNS, attendance_rows(f.meeting))
    raise BadRequest(f"unknown export {name!r}: expected one of {', '.join(DATASETS)}")


DATASETS = ("messages", "receipts", "items", "item_events", "attendance")

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
    return out


def item_rows(f: Filters) -> Callable[[AsyncConnection, Any, int], Any]:
    """One row per item as it stands, with its units and deputies (names joined by "、")."""

    async def read(conn: AsyncConnection, after: Any, batch: int) -> Batch:
        q = sa.select(items).where(*_items_where(f))
        if after is not None:
            q = q.where(items.c.id > after)
        rows = (await conn.execute(q.order_by(items.c.id).limit(batch))).all()
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
                "created_at": _ts(r.created_at),
                "handed_over_at": _ts(r.handed_over_at),
                "sign_due": _ts(r.sign_due),
                "reply_due": _ts(r.reply_due),
                "replied_at": _ts(r.replied_at),
                "grade": r.grade,
                "closed_at": _ts(r.closed_at),
                "text": r.text,
                "reply_text": r.reply_text,
            }
            out.append(([row[c] for c in ITEM_COLUMNS], orjson.dumps(row)))
        return Batch(out, ids[-1] if ids else None, len(rows) == batch)

    return read


ITEM_EVENT_COLUMNS = (
    "id", "item_id", "action", "at", "actor_id", "actor_name", "actor_role", "actor_unit_id",
    "from_state", "to_state", "round", "payload",
)  # fmt: skip


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
        rows = (await conn.execute(q.order_by(e.id).limit(batch))).all()
        out = []
        for r in rows:
            row = {
                "id": int(r.id),
                "item_id": int(r.item_id),
                "action": r.action,
                "at": _ts(r.at),
                "actor_id": int(r.actor_id),
                "actor_name": r.name if r.name is not None else "会议系统",
                "actor_role": r.actor_role,
                "actor_unit_id": r.actor_unit_id,
                "from_state": r.from_state,
                "to_state": r.to_state,
                "round": int(r.round),
                "payload": r.payload,
            }
            obj = orjson.dumps({**row, "payload": orjson.Fragment(r.payload)})
            out.append(([row[c] for c in ITEM_EVENT_COLUMNS], obj))
        return Batch(out, int(rows[-1].id) if rows else None, len(rows) == batch)

    return read


ATTENDANCE_COLUMNS = (
    "meeting_id", "sitting_id", "sitting", "sitting_kind", "starts_at", "deputy_id",
    "deputy_name", "delegation_id", "status", "checked_in_at", "leave_reason", "leave_status",
)  # fmt: skip


def attendance_rows(meeting_id: int) -> Callable[[AsyncConnection, Any, int], Any]:
    """One sitting per batch: each expected deputy checked in, on leave, leave pending or
    absent (as the secretariat's board shows it)."""

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
                "starts_at": _ts(s.starts_at),
                "deputy_id": m.deputy_id,
                "deputy_name": m.deputy_name,
                "delegation_id": m.delegation_id,
                "status": m.status,
                "checked_in_at": _ts(m.checked_in_at),
                "leave_reason": None if m.leave is None else m.leave.reason,
                "leave_status": None if m.leave is None else m.leave.status,
            }
            out.append(([row[c] for c in ATTENDANCE_COLUMNS], orjson.dumps(row)))
        return Batch(out, int(s.id), True)

    return read


def _csv_line(cells: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(cells)
    return buf.getvalue()


async def stream(
    engine: AsyncEngine, ds: Dataset, fmt: str, batch: int = BATCH
) -> AsyncIterator[bytes]:
    """The export as chunks of bytes, one per batch of rows."""
    if fmt == "csv":
        yield (BOM + _csv_line(ds.columns)).encode()
    after: Any = None
    while True:
        async with db_errors(), engine.connect() as conn:
            conn = await conn.execution_options(readonly=True)
            b: Batch = await ds.read(conn, after, batch)
        if fmt == "csv" and b.rows:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerows(cells for cells, _ in b.rows)
            yield buf.getvalue().encode()
        elif b.rows:
            yield b"\n".join(obj for _, obj in b.rows) + b"\n"
        if not b.more:
            return
        after = b.last
