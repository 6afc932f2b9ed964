"""Users, delegations, units, meetings and their participants; loading a Principal."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.auth import TokenClaims, hash_password, verify_password
from hub.channels import Principal
from hub.errors import BadRequest, Conflict, Deactivated, HubError, NotFound, Unauthorized
from hub.store.log import db_errors
from hub.store.schema import (
    delegations,
    meeting_participants,
    meetings,
    revoked_sessions,
    units,
    users,
)

ROLES = ("deputy", "secretariat", "unit", "supervisor", "admin")
MOBILE = re.compile(r"1[3-9][0-9]{9}")  # a mainland mobile number: 11 digits
LANDLINE = re.compile(r"0[1-9][0-9]{8,10}")  # an area code (3-4 digits) and 7-8 digits
CONTACTS = ("phone", "sms", "wechat", "in_person")
"""How a deputy prefers to be contacted (首选联系方式): 电话, 短信, 微信, 当面."""


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


_PRINCIPALS = (
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

# What one account loads to: its Principal, or the reason it may not connect.
Loaded = Principal | HubError


async def _load(
    engine: AsyncEngine, user_ids: Collection[int], sessions: Collection[str] = ()
) -> tuple[dict[int, Loaded], set[str]]:
    """Accounts and their meetings, in one query, for any number of ids; and which of
    ``sessions`` were logged out (a second query, only if any are asked about)."""
    async with db_errors(), engine.connect() as conn:
        conn = await conn.execution_options(readonly=True)
        rows = (await conn.execute(_PRINCIPALS, {"uids": list(user_ids)})).all()
        revoked: set[str] = set()
        if sessions:
            q = sa.select(revoked_sessions.c.session).where(
                revoked_sessions.c.session.in_(list(sessions))
            )
            revoked = set((await conn.execute(q)).scalars())
    found: dict[int, list[Any]] = {}
    for r in rows:
        found.setdefault(int(r.id), []).append(r)
    out: dict[int, Loaded] = {}
    for uid in user_ids:
        mine = found.get(uid)
        if not mine:
            out[uid] = Unauthorized("the token's user does not exist")
            continue
        u = mine[0]
        if not u.active:
            out[uid] = Deactivated("this account has been deactivated")
            continue
        out[uid] = Principal(
            id=u.id,
            name=u.name,
            role=u.role,
            delegation_id=u.delegation_id,
            unit_id=u.unit_id,
            meetings=frozenset(int(r.meeting_id) for r in mine if r.meeting_id is not None),
            token_version=u.token_version,
        )
    return out, revoked


async def load_principal(engine: AsyncEngine, user_id: int) -> Principal:
    """The account and its meetings, in one query; :class:`Deactivated` if inactive."""
    loaded = (await _load(engine, (user_id,)))[0][user_id]
    if isinstance(loaded, HubError):
        raise loaded
    return loaded


class PrincipalLoader:
    """Loads the accounts of concurrent logins in batches: one query for many.

    Every WebSocket ``auth`` and every API request loads its caller fresh from the
    database (a deactivation, a revoked token or a logout counts at once). When a hall
    reconnects together, thousands of loads arrive within a second; they queue here and
    go out as one ``IN (...)`` query per batch (and one for the batch's logged-out
    logins), one batch at a time, instead of one query (and one database round trip
    through the pool) each.
    """

    def __init__(self, engine: AsyncEngine, batch: int = 500) -> None:
        self.engine = engine
        self.batch = batch
        self.queries = 0
        self._waiting: dict[tuple[int, str], list[asyncio.Future[Principal]]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def authenticate(self, claims: TokenClaims) -> Principal:
        """The principal a checked token speaks for; :class:`Unauthorized` if its login
        was logged out or the account's tokens were revoked since it was issued."""
        me = await self.load(claims.user_id, claims.session)
        if me.token_version != claims.version:
            raise Unauthorized("token revoked: log in again")
        return me

    async def load(self, user_id: int, session: str = "") -> Principal:
        """The account, as of now, speaking for login ``session`` (if given)."""
        fut: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((user_id, session), []).append(fut)
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="principal-loader")
        return await fut

    async def _run(self) -> None:
        try:
            await asyncio.sleep(0)  # let the loads of this loop iteration join the batch
            while self._waiting:
                keys = list(itertools.islice(self._waiting, self.batch))
                waiting = {key: self._waiting.pop(key) for key in keys}
                self.queries += 1
                try:
                    loaded, revoked = await _load(
                        self.engine, {uid for uid, _ in keys}, {s for _, s in keys if s}
                    )
                except Exception as e:  # the database is down: every waiter hears it
                    for futs in waiting.values():
                        for f in futs:
                            if not f.done():
                                f.set_exception(e)
                    continue
                for (uid, session), futs in waiting.items():
                    result = loaded[uid]
                    if session in revoked:
                        result = Unauthorized("logged out on this device: log in again")
                    elif session and isinstance(result, Principal):
                        result = dataclasses.replace(result, session=session)
                    for f in futs:
                        if f.done():  # its caller gave up (disconnected)
                            continue
                        if isinstance(result, HubError):
                            f.set_exception(result)
                        else:
                            f.set_result(result)
        finally:
            self._runner = None


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


async def set_password(engine: AsyncEngine, user_id: int, password: str) -> None:
    """Store a new password and revoke every token issued before (on every device).
    The caller has checked the password policy."""
    hashed = await asyncio.to_thread(hash_password, password)
    async with db_errors(), engine.begin() as conn:
        r = await conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(password_hash=hashed, token_version=users.c.token_version + 1)
        )
        if r.rowcount == 0:
            raise NotFound(f"no user {user_id}")


async def username_of(engine: AsyncEngine, user_id: int) -> str:
    async with db_errors(), engine.connect() as conn:
        r = (await conn.execute(sa.select(users.c.username).where(users.c.id == user_id))).first()
    if r is None:
        raise NotFound(f"no user {user_id}")
    return str(r.username)


async def password_hash_of(engine: AsyncEngine, user_id: int) -> str | None:
    async with db_errors(), engine.connect() as conn:
        r = await conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id))
        return r.scalar()


async def log_out(engine: AsyncEngine, claims: TokenClaims) -> None:
    """Revoke one login (device): every node refuses its tokens from now on. Logins whose
    tokens have expired anyway are forgotten on the way."""
    now = datetime.now(UTC)
    async with db_errors(), engine.begin() as conn:
        await conn.execute(revoked_sessions.delete().where(revoked_sessions.c.expires_at < now))
        known = sa.select(revoked_sessions.c.session).where(
            revoked_sessions.c.session == claims.session
        )
        if (await conn.execute(known)).first() is None:
            await conn.execute(
                revoked_sessions.insert().values(
                    session=claims.session,
                    user_id=claims.user_id,
                    expires_at=datetime.fromtimestamp(claims.expires, UTC),
                )
            )


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
