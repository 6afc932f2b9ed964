"""The congress's members: delegations, undertaking units, meetings and who takes part in
them; creating accounts with their congress roles; and the :class:`Member` every account
loads as once the workflows are attached to a hub (:func:`load_members`), which the
channel rules (:mod:`hub.session.channels`) and every workflow read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.auth import Principal, hash_password
from hub.errors import BadRequest, Conflict, NotFound
from hub.identity import Loaded, account, load_principal
from hub.session.schema import delegations, meeting_participants, meetings, units, users

Role = Literal["deputy", "secretariat", "unit", "supervisor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
MOBILE = re.compile(r"1[3-9][0-9]{9}")  # a mainland mobile number: 11 digits
LANDLINE = re.compile(r"0[1-9][0-9]{8,10}")  # an area code (3-4 digits) and 7-8 digits
Contact = Literal["phone", "sms", "wechat", "in_person"]
"""How a deputy prefers to be contacted (首选联系方式): 电话, 短信, 微信, 当面."""
CONTACTS: tuple[str, ...] = get_args(Contact)


async def create_delegation(conn: AsyncConnection, name: str) -> int:
    r = await conn.execute(delegations.insert().values(name=name).returning(delegations.c.id))
    return int(r.scalar_one())


async def create_unit(conn: AsyncConnection, name: str) -> int:
    r = await conn.execute(units.insert().values(name=name).returning(units.c.id))
    return int(r.scalar_one())


async def list_delegations(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every delegation, ``{id, name}``, by id."""
    rows = await conn.execute(sa.select(delegations.c.id, delegations.c.name).order_by("id"))
    return [{"id": int(r.id), "name": r.name} for r in rows]


async def list_units(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every undertaking unit, ``{id, name}``, by id."""
    rows = await conn.execute(sa.select(units.c.id, units.c.name).order_by("id"))
    return [{"id": int(r.id), "name": r.name} for r in rows]


async def create_meeting(
    conn: AsyncConnection,
    title: str,
    starts_on: date | None = None,
    ends_on: date | None = None,
    now: datetime | None = None,
) -> int:
    """A meeting; ``now`` is the hub's clock where there is one (the CLI has wall time)."""
    r = await conn.execute(
        meetings.insert()
        .values(
            title=title, starts_on=starts_on, ends_on=ends_on, created_at=now or datetime.now(UTC)
        )
        .returning(meetings.c.id)
    )
    return int(r.scalar_one())


async def add_participants(conn: AsyncConnection, meeting_id: int, user_ids: Iterable[int]) -> None:
    rows = [{"meeting_id": meeting_id, "user_id": u} for u in user_ids]
    if rows:
        await conn.execute(meeting_participants.insert(), rows)


def check_phone(raw: str | None) -> str | None:
    """A roster phone number as stored: a mobile's 11 digits (a ``+86`` prefix dropped)
    or a landline's area code and number as digits; spaces and hyphens are ignored. None
    for none. ``bad_request`` (``field: phone``) otherwise; the message never repeats the
    number, which belongs in no log."""
    if raw is None:
        return None
    digits = re.sub(r"[\s-]", "", raw)
    if not digits:
        return None
    if digits.startswith("+86"):
        digits = digits[3:]
    if MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits):
        return digits
    raise BadRequest(
        "`phone` must be a mobile number (11 digits starting 13-19, e.g. 13905801234, "
        "optionally +86) or a landline with its area code (e.g. 0580-2021234)",
        field="phone",
    )


def check_contact(raw: str | None) -> str | None:
    """A preferred contact as stored: one of :data:`CONTACTS`, or None for none;
    ``bad_request`` (``field: preferred_contact``) otherwise."""
    if raw is None or raw == "":
        return None
    if raw not in CONTACTS:
        raise BadRequest(
            f"`preferred_contact` must be one of {', '.join(CONTACTS)}", field="preferred_contact"
        )
    return raw


async def create_user(
    conn: AsyncConnection,
    username: str,
    name: str,
    role: str,
    password: str | None = None,
    delegation_id: int | None = None,
    unit_id: int | None = None,
    password_hash: str | None = None,
    phone: str | None = None,
    now: datetime | None = None,
    preferred_contact: str | None = None,
) -> int:
    """Create an account; deputies need a delegation and unit accounts a unit. ``phone``
    (the roster's mobile) is checked and normalised by :func:`check_phone`, and
    ``preferred_contact`` by :func:`check_contact`. ``now`` is the hub's clock where there
    is one (the CLI has wall time)."""
    phone = check_phone(phone)
    preferred_contact = check_contact(preferred_contact)
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if not username or len(username) > 100:
        raise BadRequest("`username` must be 1-100 characters")
    if role == "unit" and unit_id is None:
        raise BadRequest("a unit account needs `unit_id`")
    # One clear error per cause, checked before the insert, whose IntegrityError cannot
    # tell a taken username from a missing delegation or unit.
    deputy_in = delegation_id if role == "deputy" else None
    if deputy_in is not None and not await _exists(conn, delegations.c.id, deputy_in):
        raise NotFound(f"delegation {deputy_in} does not exist")
    if role == "unit" and not await _exists(conn, units.c.id, unit_id):
        raise NotFound(f"unit {unit_id} does not exist")
    if await _exists(conn, users.c.username, username):
        raise Conflict(f"username {username!r} is taken")
    if password_hash is None and password:
        password_hash = hash_password(password)
    try:
        r = await conn.execute(
            users.insert()
            .values(
                username=username,
                name=name,
                role=role,
                password_hash=password_hash,
                delegation_id=delegation_id if role == "deputy" else None,
                unit_id=unit_id if role == "unit" else None,
                created_at=now or datetime.now(UTC),
                phone=phone,
                preferred_contact=preferred_contact,
            )
            .returning(users.c.id)
        )
    except IntegrityError:  # taken meanwhile by a concurrent insert
        raise Conflict(f"username {username!r} is taken") from None
    return int(r.scalar_one())


async def _exists(conn: AsyncConnection, column: sa.Column[Any], value: object) -> bool:
    row = await conn.execute(sa.select(sa.literal(1)).where(column == value).limit(1))
    return row.first() is not None


@dataclass(frozen=True)
class Member(Principal):
    """An account with the memberships the congress's permissions depend on."""

    delegation_id: int | None = None
    unit_id: int | None = None
    meetings: frozenset[int] = field(default_factory=frozenset)


def member(p: Principal) -> Member:
    """The congress member a principal the transport hands back is (every account loads as
    one once the workflows are attached: :func:`load_members`)."""
    if not isinstance(p, Member):
        raise TypeError(f"{p!r} was not loaded by hub.session.members.load_members")
    return p


_MEMBERS = (
    sa.select(
        users.c.id,
        users.c.name,
        users.c.role,
        users.c.active,
        users.c.delegation_id,
        users.c.unit_id,
        users.c.token_version,
        meeting_participants.c.meeting_id,
    )
    .select_from(
        users.outerjoin(meeting_participants, meeting_participants.c.user_id == users.c.id)
    )
    .where(users.c.id.in_(sa.bindparam("uids", expanding=True)))
)


async def load_members(conn: AsyncConnection, user_ids: Collection[int]) -> dict[int, Loaded]:
    """The accounts and their meetings, in one query for any number of ids: the
    :class:`hub.identity.Accounts` the workflows give the hub's principal loader."""
    rows = (await conn.execute(_MEMBERS, {"uids": list(user_ids)})).all()
    found: dict[int, list[Any]] = {}
    for r in rows:
        found.setdefault(int(r.id), []).append(r)
    return {
        uid: account(
            found[uid][0] if uid in found else None,
            lambda u: Member(
                id=u.id,
                name=u.name,
                role=u.role,
                token_version=u.token_version,
                delegation_id=u.delegation_id,
                unit_id=u.unit_id,
                meetings=frozenset(
                    int(r.meeting_id) for r in found[u.id] if r.meeting_id is not None
                ),
            ),
        )
        for uid in user_ids
    }


async def load_member(engine: AsyncEngine, user_id: int) -> Member:
    """One account and its meetings, in one query; :class:`~hub.errors.Deactivated` if
    inactive."""
    return member(await load_principal(engine, user_id, load_members))
