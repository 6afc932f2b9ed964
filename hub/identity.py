"""Users, delegations, units, meetings and their participants; loading a Principal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.auth import hash_password, verify_password
from hub.channels import Principal
from hub.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from hub.store.log import db_errors
from hub.store.schema import delegations, meeting_participants, meetings, units, users

ROLES = ("deputy", "secretariat", "unit", "supervisor", "admin")


class Deactivated(Forbidden):
    """The account was deactivated (close code 4403)."""


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
    conn: AsyncConnection, title: str, starts_on: date | None = None, ends_on: date | None = None
) -> int:
    r = await conn.execute(
        meetings.insert()
        .values(title=title, starts_on=starts_on, ends_on=ends_on, created_at=datetime.now(UTC))
        .returning(meetings.c.id)
    )
    return int(r.scalar_one())


async def add_participants(conn: AsyncConnection, meeting_id: int, user_ids: Iterable[int]) -> None:
    rows = [{"meeting_id": meeting_id, "user_id": u} for u in user_ids]
    if rows:
        await conn.execute(meeting_participants.insert(), rows)


async def create_user(
    conn: AsyncConnection,
    username: str,
    name: str,
    role: str,
    password: str | None = None,
    delegation_id: int | None = None,
    unit_id: int | None = None,
    password_hash: str | None = None,
) -> int:
    """Create an account; deputies need a delegation and unit accounts a unit."""
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if not username or len(username) > 100:
        raise BadRequest("`username` must be 1-100 characters")
    if role == "unit" and unit_id is None:
        raise BadRequest("a unit account needs `unit_id`")
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
                created_at=datetime.now(UTC),
            )
            .returning(users.c.id)
        )
    except IntegrityError:
        raise Conflict(
            f"username {username!r} is taken, or its delegation/unit does not exist"
        ) from None
    return int(r.scalar_one())


_PRINCIPAL = (
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
    .where(users.c.id == sa.bindparam("uid"))
)


async def load_principal(engine: AsyncEngine, user_id: int) -> Principal:
    """The account and its meetings, in one query (every WebSocket `auth` runs it)."""
    async with db_errors(), engine.connect() as conn:
        conn = await conn.execution_options(readonly=True)
        rows = (await conn.execute(_PRINCIPAL, {"uid": user_id})).all()
        if not rows:
            raise Unauthorized("the token's user does not exist")
        u = rows[0]
        if not u.active:
            raise Deactivated("this account has been deactivated")
        return Principal(
            id=u.id,
            name=u.name,
            role=u.role,
            delegation_id=u.delegation_id,
            unit_id=u.unit_id,
            meetings=frozenset(int(r.meeting_id) for r in rows if r.meeting_id is not None),
            token_version=u.token_version,
        )


async def find_login(engine: AsyncEngine, username: str) -> tuple[int, str | None, bool] | None:
    async with db_errors(), engine.connect() as conn:
        r = (
            await conn.execute(
                sa.select(users.c.id, users.c.password_hash, users.c.active).where(
                    users.c.username == username
                )
            )
        ).first()
        return None if r is None else (int(r.id), r.password_hash, bool(r.active))


def check_password(stored: str | None, password: str) -> bool:
    return verify_password(stored, password)


async def set_active(engine: AsyncEngine, user_id: int, active: bool) -> None:
    """(De)activate; deactivation also bumps the token version, revoking every token."""
    async with db_errors(), engine.begin() as conn:
        values: dict[str, object] = {"active": active}
        if not active:
            values["token_version"] = users.c.token_version + 1
        r = await conn.execute(users.update().where(users.c.id == user_id).values(**values))
        if r.rowcount == 0:
            raise NotFound(f"no user {user_id}")


async def revoke_tokens(engine: AsyncEngine, user_id: int) -> None:
    async with db_errors(), engine.begin() as conn:
        await conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(token_version=users.c.token_version + 1)
        )


async def user_id_by_name(engine: AsyncEngine, username_or_id: str) -> int:
    async with db_errors(), engine.connect() as conn:
        q = sa.select(users.c.id).where(users.c.username == username_or_id)
        if username_or_id.isdigit():
            q = sa.select(users.c.id).where(
                sa.or_(users.c.username == username_or_id, users.c.id == int(username_or_id))
            )
        r = (await conn.execute(q)).scalar()
        if r is None:
            raise NotFound(f"no user {username_or_id!r}")
        return int(r)
