"""Exports of the record: CSV (UTF-8 with a BOM, so Excel and WPS show Chinese) or JSON
Lines, streamed.

Datasets: ``messages`` (the archive's filters), ``receipts`` (``channel``, ``meeting``,
``user``, ``since``, ``until``), ``attendance`` (``meeting``: one row per sitting and
expected deputy). Rows are read in keyset batches of :data:`BATCH` in short read
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
from hub.session.attendance import checkins, expected, leave_requests
from hub.session.meetings import sittings
from hub.store.log import db_errors
from hub.store.schema import messages, receipts, users
from hub.supervision.archive import Filters, utc

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
    if name == "attendance":
        if f.meeting is None:
            raise BadRequest("the attendance export needs `meeting`")
        return Dataset(name, ATTENDANCE_COLUMNS, attendance_rows(f.meeting))
    raise BadRequest(f"unknown export {name!r}: expected one of {', '.join(DATASETS)}")


DATASETS = ("messages", "receipts", "attendance")


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
        ins = {
            int(r.user_id): r.ts
            for r in await conn.execute(
                sa.select(checkins.c.user_id, checkins.c.ts).where(checkins.c.sitting_id == s.id)
            )
        }
        leaves = {
            int(r.user_id): r
            for r in await conn.execute(
                sa.select(leave_requests)
                .where(leave_requests.c.sitting_id == s.id)
                .order_by(leave_requests.c.id)
            )
        }  # the latest request of each deputy
        out = []
        for d in await expected(conn, s):
            uid = int(d.id)
            leave = leaves.get(uid)
            status = attendance_status(uid in ins, leave.status if leave is not None else None)
            row = {
                "meeting_id": meeting_id,
                "sitting_id": int(s.id),
                "sitting": s.title,
                "sitting_kind": s.kind,
                "starts_at": _ts(s.starts_at),
                "deputy_id": uid,
                "deputy_name": d.name,
                "delegation_id": d.delegation_id,
                "status": status,
                "checked_in_at": _ts(ins.get(uid)),
                "leave_reason": leave.reason if leave is not None else None,
                "leave_status": leave.status if leave is not None else None,
            }
            out.append(([row[c] for c in ATTENDANCE_COLUMNS], orjson.dumps(row)))
        return Batch(out, int(s.id), True)

    return read


def attendance_status(checked_in: bool, leave: str | None) -> str:
    """checked_in, on_leave (approved), leave_pending, or absent."""
    if checked_in:
        return "checked_in"
    if leave == "approved":
        return "on_leave"
    if leave == "pending":
        return "leave_pending"
    return "absent"


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
