"""Performance registrations (履职登记): a deputy records an activity, a supervisor decides.

A deputy records what they did outside the session (an inspection, research, meeting
constituents, training …) with its date, a text and optionally one attached file. The
registration is ``submitted``; a supervisor ``confirmed`` or ``rejected`` it (a reason is
required to reject). Each step changes the row and appends a message to the deputy's
inbox ``deputy:<id>`` in the same transaction (``registration.submitted``,
``registration.confirmed``, ``registration.rejected``), so the deputy's devices hear of
the decision and the log keeps it. Only confirmed registrations earn duty points.

Every read of one registration by someone else than its deputy is recorded in
``performance_views`` (who, when), as is every such read of a deputy's performance file
(``hub.supervision.performance``); the deputy's own reads are neither recorded nor
counted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.protocol import iso, utc
from hub.session.channels import READERS_OF_ALL
from hub.session.members import Member
from hub.session.schema import users
from hub.shapes import (
    Body,
    Date,
    Day,
    Id,
    MaybeShortText,
    Named,
    Shape,
    Text,
    Timestamp,
    Title,
)
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.node import Node, Writer
    from hub.session.documents import StagedBlob

Kind = Literal["inspection", "research", "constituents", "training", "other"]
KINDS: tuple[str, ...] = get_args(Kind)
State = Literal["submitted", "confirmed", "rejected"]
STATES: tuple[str, ...] = get_args(State)
DECIDED_KIND = {"confirmed": "registration.confirmed", "rejected": "registration.rejected"}
"""The message a decision appends to the deputy's inbox."""


class NewRegistration(Body):
    """An activity a deputy registers."""

    kind: Kind
    activity_date: Annotated[Date, Meta(description="when it was done: today or before")]
    title: Title
    text: Annotated[Text, Meta(description="what was done")]


class Decision(Body):
    """A supervisor's decision: a reason is required to reject."""

    reason: MaybeShortText | None = None


class RegistrationsQuery(Body):
    deputy: Annotated[Id, Meta(description="only this deputy's")] | None = None
    state: State | None = None
    cursor: Annotated[Id, Meta(description="`next` of the previous page")] | None = None
    limit: Annotated[int, Meta(ge=1, le=200, description="how many at most; default 50")] = 50


class Attachment(Shape):
    name: str
    content_type: str
    size: int


class Registration(Shape):
    id: int
    deputy: Named
    kind: Kind
    activity_date: Day
    title: str
    text: str
    attachment: Attachment | None
    state: State
    created_at: Timestamp
    decided_by: int | None
    decided_at: Timestamp | None
    reason: str | None
    views: Annotated[int, Meta(description="one registration: how often it was read")] = 0


class Registrations(Shape):
    registrations: list[Registration]
    next: Annotated[str | None, Meta(description="the cursor of the next page")]


registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("activity_date", sa.Date, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("attachment_name", sa.String(255), nullable=True),
    sa.Column("attachment_type", sa.String(200), nullable=True),
    sa.Column("attachment_size", sa.BigInteger, nullable=True),
    sa.Column("attachment_sha256", sa.String(64), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", BigId, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Index("ix_registrations_deputy", "deputy_id", "id"),
    sa.Index("ix_registrations_state", "state", "id"),
)

performance_views = sa.Table(
    "performance_views",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("deputy_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("viewer_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    # set when one registration was opened, NULL for the whole performance file
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id"), nullable=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_performance_views_deputy", "deputy_id", "ts"),
    sa.Index("ix_performance_views_registration", "registration_id"),
)


def registration_dict(r: Any, deputy_name: str | None = None) -> dict[str, Any]:
    attachment = None
    if r.attachment_sha256 is not None:
        attachment = {
            "name": r.attachment_name,
            "content_type": r.attachment_type,
            "size": int(r.attachment_size),
        }
    return {
        "id": int(r.id),
        "deputy": {"id": int(r.deputy_id), "name": deputy_name or ""},
        "kind": r.kind,
        "activity_date": r.activity_date.isoformat(),
        "title": r.title,
        "text": r.text,
        "attachment": attachment,
        "state": r.state,
        "created_at": iso(utc(r.created_at)),
        "decided_by": None if r.decided_by is None else int(r.decided_by),
        "decided_at": None if r.decided_at is None else iso(utc(r.decided_at)),
        "reason": r.reason,
    }


def parse_new(d: NewRegistration, today: date) -> dict[str, Any]:
    """A new registration's columns; its activity is done by ``today``."""
    if d.activity_date > today:
        raise BadRequest(
            "`activity_date` is in the future: register an activity once done",
            field="activity_date",
        )
    return {"kind": d.kind, "activity_date": d.activity_date, "title": d.title, "text": d.text}


async def _row(conn: AsyncConnection, reg_id: int, lock: bool = False) -> Any:
    q = sa.select(registrations, users.c.name).join(users, users.c.id == registrations.c.deputy_id)
    q = q.where(registrations.c.id == reg_id)
    if lock:
        q = q.with_for_update(of=registrations)
    r = (await conn.execute(q)).first()
    if r is None:
        raise NotFound(f"no registration {reg_id}")
    return r


def check_reader(me: Member, deputy_id: int) -> None:
    """A deputy reads only their own; units nothing; the secretariat, supervisors and
    admins everything."""
    if me.role in READERS_OF_ALL:
        return
    if me.role == "deputy" and me.id == deputy_id:
        return
    raise Forbidden(f"a {me.role} may read only their own performance record")


def is_own(me: Member, deputy_id: int) -> bool:
    """A deputy reading their own record: not a view (neither recorded nor counted)."""
    return me.role == "deputy" and me.id == deputy_id


async def register(node: Node, me: Member, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A deputy records an activity (``fields`` from :func:`parse_new`)."""
    async with node.writing() as w:
        return await register_in(w, me, fields, now)


async def register_in(
    w: Writer, me: Member, fields: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """:func:`register` inside the caller's transaction."""
    if me.role != "deputy":
        raise Forbidden("only a deputy registers their own activities")
    rid = (
        await w.conn.execute(
            registrations.insert()
            .values(deputy_id=me.id, state="submitted", created_at=now, **fields)
            .returning(registrations.c.id)
        )
    ).scalar_one()
    out = registration_dict(await _row(w.conn, int(rid)), me.name)
    await w.append(f"deputy:{me.id}", "registration.submitted", me, {"registration": out})
    return out


def _check_attachable(me: Member, r: Any) -> None:
    if me.role != "deputy" or int(r.deputy_id) != me.id:
        raise Forbidden("only the deputy who registered the activity attaches its evidence")
    if r.state != "submitted":
        raise Conflict(f"registration {r.id} is already {r.state}", state=r.state)


async def check_can_attach(node: Node, me: Member, reg_id: int) -> None:
    """Before the bytes are read: the registration exists, is the caller's own and awaits a
    decision (:func:`attach` checks again in its transaction)."""
    async with node.log.reading() as conn:
        _check_attachable(me, await _row(conn, reg_id))


async def attach(
    node: Node, me: Member, reg_id: int, name: str, content_type: str, blob: StagedBlob
) -> dict[str, Any]:
    """Set the attachment of the caller's own registration while it awaits a decision, and
    keep the uploaded blob. The attachment it has already (same name, same bytes) changes
    nothing and is not recorded again: an upload sent again after a lost answer (a page's
    outbox) is stored once."""
    async with node.writing() as w:
        r = await _row(w.conn, reg_id, lock=True)
        _check_attachable(me, r)
        if r.attachment_sha256 == blob.sha256 and r.attachment_name == name:
            return registration_dict(r, me.name)
        await w.conn.execute(
            registrations.update()
            .where(registrations.c.id == reg_id)
            .values(
                attachment_name=name,
                attachment_type=content_type[:200] or "application/octet-stream",
                attachment_size=blob.size,
                attachment_sha256=blob.sha256,
            )
        )
        out = registration_dict(await _row(w.conn, reg_id), me.name)
        await w.append(f"deputy:{me.id}", "registration.attached", me, {"registration": out})
        await blob.keep()
    return out


async def decide(
    node: Node, me: Member, reg_id: int, confirm: bool, reason: str | None, now: datetime
) -> dict[str, Any]:
    """A supervisor confirms or rejects (with a reason) a submitted registration; the
    deputy's inbox gets the decision in the same transaction."""
    async with node.writing() as w:
        return await decide_in(w, me, reg_id, confirm, reason, now)


async def decide_in(
    w: Writer, me: Member, reg_id: int, confirm: bool, reason: str | None, now: datetime
) -> dict[str, Any]:
    """:func:`decide` inside the caller's transaction."""
    if me.role != "supervisor":
        raise Forbidden("only a supervisor (代表工委) confirms or rejects registrations")
    if not confirm and (reason is None or not reason.strip()):
        raise BadRequest("`reason` is required to reject: tell the deputy what is missing")
    r = await _row(w.conn, reg_id, lock=True)
    if r.state != "submitted":
        raise Conflict(f"registration {reg_id} is already {r.state}", state=r.state)
    state = "confirmed" if confirm else "rejected"
    await w.conn.execute(
        registrations.update()
        .where(registrations.c.id == reg_id)
        .values(
            state=state,
            decided_by=me.id,
            decided_at=now,
            reason=reason.strip() if reason else None,
        )
    )
    out = registration_dict(await _row(w.conn, reg_id), r.name)
    await w.append(f"deputy:{r.deputy_id}", DECIDED_KIND[state], me, {"registration": out})
    return out


async def get(node: Node, me: Member, reg_id: int, now: datetime) -> dict[str, Any]:
    """One registration; the read is recorded as a view of it, unless the deputy reads
    their own (not recorded, and not counted)."""
    v = performance_views.c
    async with node.writing() as w:
        r = await _row(w.conn, reg_id)
        check_reader(me, int(r.deputy_id))
        if not is_own(me, int(r.deputy_id)):
            await w.conn.execute(
                performance_views.insert().values(
                    deputy_id=r.deputy_id, viewer_id=me.id, registration_id=reg_id, ts=now
                )
            )
        views = (
            await w.conn.execute(
                sa.select(sa.func.count()).where(
                    v.registration_id == reg_id, v.viewer_id != r.deputy_id
                )
            )
        ).scalar_one()
        return {**registration_dict(r, r.name), "views": int(views)}


async def attachment_of(node: Node, me: Member, reg_id: int) -> dict[str, Any]:
    async with node.log.reading() as conn:
        r = await _row(conn, reg_id)
    check_reader(me, int(r.deputy_id))
    if r.attachment_sha256 is None:
        raise NotFound(f"registration {reg_id} has no attachment")
    return {
        "sha256": r.attachment_sha256,
        "name": r.attachment_name,
        "content_type": r.attachment_type,
    }


async def listing(
    conn: AsyncConnection,
    me: Member,
    deputy_id: int | None,
    state: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Registrations, newest first; a deputy sees only their own. ``(page, next after)``."""
    if me.role == "deputy":
        if deputy_id is not None and deputy_id != me.id:
            raise Forbidden("a deputy may read only their own registrations")
        deputy_id = me.id
    elif me.role not in READERS_OF_ALL:
        raise Forbidden(f"a {me.role} may not read performance registrations")
    q = sa.select(registrations, users.c.name).join(users, users.c.id == registrations.c.deputy_id)
    if deputy_id is not None:
        q = q.where(registrations.c.deputy_id == deputy_id)
    if state is not None:
        q = q.where(registrations.c.state == state)
    if after is not None:
        q = q.where(registrations.c.id < after)
    rows = (await conn.execute(q.order_by(registrations.c.id.desc()).limit(limit + 1))).all()
    page = [registration_dict(r, r.name) for r in rows[:limit]]
    return page, (int(rows[limit - 1].id) if len(rows) > limit else None)
