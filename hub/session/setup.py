"""The congress's set-up, and its log: accounts, delegations, units and meetings as the
admins change them, each change appended to the set-up log ``setup:1`` in the same
transaction, with the acting person as its sender.

The set-up log is the congress-wide record of who changed how the congress is set up:
the secretariat, supervisors and admins read it (:mod:`hub.session.channels`), nobody
publishes on it raw, and its kinds (``setup.*``) are reserved for the hub
(:mod:`hub.session.kinds`). The other set-up workflows append to it through
:func:`record`: the points rules (:mod:`hub.supervision.points`), the deadline rules and
the working-day calendar (:mod:`hub.api.deadlines`, :mod:`hub.api.calendar`). A meeting's
own schedule (sittings, agenda, documents) is logged on ``meeting:<id>`` by its
workflows (:mod:`hub.session.meetings`, :mod:`hub.session.documents`).

A message names what changed, by id and by name, so a page can say who changed what
without another request; a password or a phone number never enters it (a phone change
is logged as ``"phone"`` among the ``changed`` fields, without the number).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.devices import sign_out_on
from hub.errors import BadRequest, Conflict, NotFound
from hub.identity import store_active, store_password
from hub.session.common import meeting_row, require_role
from hub.session.meetings import meeting_dict
from hub.session.members import (
    Contact,
    Member,
    Role,
    check_phone,
    create_delegation,
    create_meeting,
    create_unit,
    create_user,
)
from hub.session.schema import delegations, meeting_participants, meetings, units, users
from hub.shapes import Body, Date, Id, Shape, Title, Verbatim

if TYPE_CHECKING:
    from hub.node import Node, Writer

SETUP_CHANNEL = "setup:1"
"""The set-up log: one channel for the whole congress."""

KINDS: dict[str, str] = {
    "account_created": "setup.account_created",
    "account_changed": "setup.account_changed",
    "account_deactivated": "setup.account_deactivated",
    "account_activated": "setup.account_activated",
    "password_reset": "setup.password_reset",
    "devices_signed_out": "setup.devices_signed_out",
    "delegation_created": "setup.delegation_created",
    "delegation_renamed": "setup.delegation_renamed",
    "unit_created": "setup.unit_created",
    "unit_renamed": "setup.unit_renamed",
    "meeting_created": "setup.meeting_created",
    "meeting_changed": "setup.meeting_changed",
    "points_rules_added": "setup.points_rules_added",
    "points_rules_withdrawn": "setup.points_rules_withdrawn",
    "deadline_rule_changed": "setup.deadline_rule_changed",
    "calendar_changed": "setup.calendar_changed",
}
"""Each set-up action and the kind of its message on :data:`SETUP_CHANNEL`."""


async def record(w: Writer, me: Member, action: str, body: dict[str, Any]) -> None:
    """Append the message of ``action`` (a key of :data:`KINDS`), sent by ``me``, to the
    set-up log, inside the transaction that makes the change."""
    await w.append(SETUP_CHANNEL, KINDS[action], me, body)


# -- the shapes the API takes ---------------------------------------------------------


class MeetingInput(Body):
    """A meeting as an admin creates or edits it (every field; an edit replaces them)."""

    title: Title
    starts_on: Date | None = None
    ends_on: Date | None = None


class NameInput(Body):
    """A delegation's or a unit's name."""

    name: Title


class AccountChange(Body):
    """What to change of an account; a field left out (or null) stays as it is."""

    name: Title | None = None
    phone: (
        Annotated[
            Verbatim,
            Meta(description='the roster\'s mobile or a landline with its area code; "" clears'),
        ]
        | None
    ) = None
    delegation_id: Annotated[Id, Meta(description="a deputy's delegation")] | None = None
    unit_id: Annotated[Id, Meta(description="a unit account's unit")] | None = None
    meetings: (
        Annotated[
            list[Id],
            Meta(max_length=1000, description="the meetings it takes part in (replaces them)"),
        ]
        | None
    ) = None


class AccountDetail(Shape):
    """An account as the admin edits it (with its phone, which only staff see)."""

    id: int
    username: str
    name: str
    role: Role
    active: bool
    delegation_id: int | None
    unit_id: int | None
    phone: str | None
    preferred_contact: Contact | None
    meetings: list[int]


# -- reading ---------------------------------------------------------------------------


async def _named(conn: AsyncConnection, table: sa.Table, id_: int | None) -> dict[str, Any] | None:
    if id_ is None:
        return None
    r = (await conn.execute(sa.select(table.c.id, table.c.name).where(table.c.id == id_))).first()
    what = "delegation" if table is delegations else "unit"
    if r is None:
        raise NotFound(f"no {what} {id_}")
    return {"id": int(r.id), "name": r.name}


async def _account(conn: AsyncConnection, user_id: int, lock: bool = False) -> Any:
    q = sa.select(users).where(users.c.id == user_id)
    if lock:
        q = q.with_for_update()
    r = (await conn.execute(q)).first()
    if r is None:
        raise NotFound(f"no user {user_id}")
    return r


def _who(r: Any) -> dict[str, Any]:
    """An account as the log names it."""
    return {"id": int(r.id), "username": r.username, "name": r.name, "role": r.role}


async def _meetings_of(conn: AsyncConnection, user_id: int) -> list[int]:
    rows = await conn.execute(
        sa.select(meeting_participants.c.meeting_id)
        .where(meeting_participants.c.user_id == user_id)
        .order_by(meeting_participants.c.meeting_id)
    )
    return [int(m) for m in rows.scalars()]


async def account_detail(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    r = await _account(conn, user_id)
    return {
        "id": int(r.id),
        "username": r.username,
        "name": r.name,
        "role": r.role,
        "active": bool(r.active),
        "delegation_id": None if r.delegation_id is None else int(r.delegation_id),
        "unit_id": None if r.unit_id is None else int(r.unit_id),
        "phone": r.phone,
        "preferred_contact": r.preferred_contact,
        "meetings": await _meetings_of(conn, user_id),
    }


# -- accounts -----------------------------------------------------------------------


async def add_account(node: Node, me: Member, **fields: Any) -> int:
    """:func:`hub.session.members.create_user` by an admin, logged."""
    require_role(me, "admin")
    async with node.writing() as w:
        uid = await create_user(w.conn, now=node.clock.now(), **fields)
        await account_created(w, me, uid)
    return uid


async def account_created(w: Writer, me: Member, uid: int) -> None:
    """Log the account ``uid`` just created by ``me`` (an admin on the console, or
    :data:`~hub.session.common.SYSTEM` for ``hub user add`` on the server)."""
    r = await _account(w.conn, uid)
    body = {
        "account": _who(r),
        "delegation": await _named(w.conn, delegations, r.delegation_id),
        "unit": await _named(w.conn, units, r.unit_id),
    }
    await record(w, me, "account_created", body)


async def change_account(node: Node, me: Member, user_id: int, d: AccountChange) -> dict[str, Any]:
    """Change an account's name, phone, delegation (deputies), unit (unit accounts) or
    meetings; one message lists the fields that changed (an edit changing nothing logs
    nothing)."""
    require_role(me, "admin")
    async with node.writing() as w:
        conn = w.conn
        r = await _account(conn, user_id, lock=True)
        values: dict[str, Any] = {}
        body: dict[str, Any] = {}  # the new value of each field changed (never the phone)
        changed: list[str] = []
        if d.name is not None and d.name != r.name:
            values["name"] = body["name"] = d.name
            changed.append("name")
        if d.phone is not None:
            phone = check_phone(d.phone)
            if phone != r.phone:
                values["phone"] = phone
                changed.append("phone")
        if d.delegation_id is not None:
            if r.role != "deputy":
                raise BadRequest(
                    f"a {r.role} account has no delegation: only deputies belong to one",
                    field="delegation_id",
                )
            named = await _named(conn, delegations, d.delegation_id)
            if d.delegation_id != r.delegation_id:
                values["delegation_id"] = d.delegation_id
                body["delegation"] = named
                changed.append("delegation")
        if d.unit_id is not None:
            if r.role != "unit":
                raise BadRequest(
                    f"a {r.role} account has no unit: only unit accounts belong to one",
                    field="unit_id",
                )
            named = await _named(conn, units, d.unit_id)
            if d.unit_id != r.unit_id:
                values["unit_id"] = d.unit_id
                body["unit"] = named
                changed.append("unit")
        if d.meetings is not None:
            wanted = sorted(set(d.meetings))
            q = sa.select(meetings.c.id, meetings.c.title).where(meetings.c.id.in_(wanted))
            titles = {int(m.id): m.title for m in await conn.execute(q)}
            missing = [m for m in wanted if m not in titles]
            if missing:
                raise NotFound(f"no meeting {missing[0]}")
            if wanted != await _meetings_of(conn, user_id):
                await conn.execute(
                    meeting_participants.delete().where(meeting_participants.c.user_id == user_id)
                )
                if wanted:
                    await conn.execute(
                        meeting_participants.insert(),
                        [{"meeting_id": m, "user_id": user_id} for m in wanted],
                    )
                body["meetings"] = [{"id": m, "title": titles[m]} for m in wanted]
                changed.append("meetings")
        if values:
            await conn.execute(users.update().where(users.c.id == user_id).values(**values))
        if changed:
            who = _who(r) | ({"name": values["name"]} if "name" in values else {})
            await record(w, me, "account_changed", {"account": who, "changed": changed, **body})
        return await account_detail(conn, user_id)


async def set_account_active(node: Node, me: Member, user_id: int, active: bool) -> bool:
    """(De)activate an account, logged; deactivating revokes its tokens. False if it was so
    already (nothing changes, nothing is logged)."""
    require_role(me, "admin")
    async with node.writing() as w:
        r = await _account(w.conn, user_id, lock=True)
        if bool(r.active) == active:
            return False
        await store_active(w.conn, user_id, active)
        action = "account_activated" if active else "account_deactivated"
        await record(w, me, action, {"account": _who(r)})
    return True


async def reset_password(node: Node, me: Member, user_id: int, hashed: str) -> None:
    """Store a new password hash (its policy checked by the caller) and revoke the
    account's tokens; the log says whose, never what."""
    require_role(me, "admin")
    async with node.writing() as w:
        r = await _account(w.conn, user_id, lock=True)
        await store_password(w.conn, user_id, hashed)
        await record(w, me, "password_reset", {"account": _who(r)})


async def sign_out_devices(node: Node, me: Member, user_id: int, ttl: int) -> list[str]:
    """Sign out every browser of an account (:func:`hub.devices.sign_out_on`), logged with
    how many; the logins signed out, for closing their sockets."""
    require_role(me, "admin")
    async with node.writing() as w:
        r = await _account(w.conn, user_id)
        out = await sign_out_on(w.conn, user_id, ttl, w.clock.now())
        await record(w, me, "devices_signed_out", {"account": _who(r), "signed_out": len(out)})
    return out


# -- delegations and units ------------------------------------------------------------


async def _name_free(conn: AsyncConnection, table: sa.Table, name: str, what: str) -> None:
    r = await conn.execute(sa.select(table.c.id).where(table.c.name == name))
    if r.first() is not None:
        raise Conflict(f"a {what} named {name!r} exists already", field="name", reason="name_taken")


async def add_group(node: Node, me: Member, what: str, name: str) -> dict[str, Any]:
    """A new delegation (``what="delegation"``) or unit, logged."""
    require_role(me, "admin")
    table, create = (
        (delegations, create_delegation) if what == "delegation" else (units, create_unit)
    )
    async with node.writing() as w:
        await _name_free(w.conn, table, name, what)
        out = {"id": await create(w.conn, name), "name": name}
        await record(w, me, f"{what}_created", {what: out})
    return out


async def rename_group(node: Node, me: Member, what: str, id_: int, name: str) -> dict[str, Any]:
    """Rename a delegation or a unit, logged with its former name."""
    require_role(me, "admin")
    table = delegations if what == "delegation" else units
    async with node.writing() as w:
        was = await _named(w.conn, table, id_)
        assert was is not None
        out = {"id": id_, "name": name}
        if was["name"] == name:
            return out
        await _name_free(w.conn, table, name, what)
        await w.conn.execute(table.update().where(table.c.id == id_).values(name=name))
        await record(w, me, f"{what}_renamed", {what: out, "was": was["name"]})
    return out


# -- meetings -------------------------------------------------------------------------


def _check_dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise BadRequest("`ends_on` must not be before `starts_on`", field="ends_on")


async def add_meeting(node: Node, me: Member, d: MeetingInput) -> dict[str, Any]:
    require_role(me, "admin")
    _check_dates(d.starts_on, d.ends_on)
    async with node.writing() as w:
        mid = await create_meeting(w.conn, d.title, d.starts_on, d.ends_on, node.clock.now())
        out = meeting_dict(await meeting_row(w.conn, mid))
        await record(w, me, "meeting_created", {"meeting": out})
    return out


async def change_meeting(
    node: Node, me: Member, meeting_id: int, d: MeetingInput
) -> dict[str, Any]:
    """Replace a meeting's title and dates, logged with what they were."""
    require_role(me, "admin")
    _check_dates(d.starts_on, d.ends_on)
    async with node.writing() as w:
        was = meeting_dict(await meeting_row(w.conn, meeting_id))
        await w.conn.execute(
            meetings.update()
            .where(meetings.c.id == meeting_id)
            .values(title=d.title, starts_on=d.starts_on, ends_on=d.ends_on)
        )
        out = meeting_dict(await meeting_row(w.conn, meeting_id))
        if out != was:
            await record(w, me, "meeting_changed", {"meeting": out, "was": was})
    return out
