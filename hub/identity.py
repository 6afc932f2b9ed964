"""Accounts: logging in, passwords and token versions, logged-out logins, and loading the
:class:`~hub.auth.Principal` a token speaks for (:class:`PrincipalLoader`, in batches).

What an account is besides (a deputy's delegation, the meetings it takes part in) is the
business of the layer built on the transport, which loads it with its own
:class:`Accounts`: the congress's are in :mod:`hub.session.members`."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.auth import Principal, TokenClaims, hash_password, verify_password
from hub.errors import Deactivated, HubError, NotFound, Unauthorized
from hub.store.log import db_errors
from hub.store.schema import revoked_sessions, users

Loaded = Principal | HubError
"""What one account loads to: its principal, or the reason it may not speak."""


class Accounts(Protocol):
    """Loads accounts by id in one query on ``conn``: each id's principal, or the reason it
    may not speak (:func:`account`). The layer built on the transport supplies one that
    loads its own :class:`Principal` subclass (the congress's:
    :func:`hub.session.members.load_members`)."""

    async def __call__(
        self, conn: AsyncConnection, user_ids: Collection[int]
    ) -> dict[int, Loaded]: ...


def account(row: Any | None, build: Callable[[Any], Principal]) -> Loaded:
    """What an account's row (with an ``active`` column) loads to: ``build(row)``, or why it
    may not speak (it does not exist; it was deactivated)."""
    if row is None:
        return Unauthorized("the token's user does not exist")
    if not row.active:
        return Deactivated("this account has been deactivated")
    return build(row)


async def load_accounts(conn: AsyncConnection, user_ids: Collection[int]) -> dict[int, Loaded]:
    """The transport's own :class:`Accounts`: the accounts table alone."""
    q = sa.select(
        users.c.id, users.c.name, users.c.role, users.c.active, users.c.token_version
    ).where(users.c.id.in_(list(user_ids)))
    found = {int(r.id): r for r in await conn.execute(q)}
    return {
        uid: account(
            found.get(uid), lambda r: Principal(r.id, r.name, r.role, token_version=r.token_version)
        )
        for uid in user_ids
    }


async def _load(
    engine: AsyncEngine,
    accounts: Accounts,
    user_ids: Collection[int],
    sessions: Collection[str] = (),
) -> tuple[dict[int, Loaded], set[str]]:
    """``accounts`` for any number of ids, and which of ``sessions`` were logged out (a
    second query, only if any are asked about)."""
    async with db_errors(), engine.connect() as conn:
        conn = await conn.execution_options(readonly=True)
        loaded = await accounts(conn, user_ids)
        revoked: set[str] = set()
        if sessions:
            q = sa.select(revoked_sessions.c.session).where(
                revoked_sessions.c.session.in_(list(sessions))
            )
            revoked = set((await conn.execute(q)).scalars())
    return loaded, revoked


async def load_principal(
    engine: AsyncEngine, user_id: int, accounts: Accounts = load_accounts
) -> Principal:
    """One account, as ``accounts`` loads it; :class:`Deactivated` if inactive,
    :class:`Unauthorized` if there is no such account."""
    loaded = (await _load(engine, accounts, (user_id,)))[0][user_id]
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

    :attr:`accounts` loads a batch: the transport's :func:`load_accounts` unless the layer
    built on the transport sets its own (the congress's members, with their memberships).
    """

    def __init__(
        self, engine: AsyncEngine, batch: int = 500, accounts: Accounts = load_accounts
    ) -> None:
        self.engine = engine
        self.batch = batch
        self.accounts = accounts
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
                        self.engine,
                        self.accounts,
                        {uid for uid, _ in keys},
                        {s for _, s in keys if s},
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


@dataclasses.dataclass(frozen=True)
class Login:
    """What logging in reads of an account."""

    id: int
    password_hash: str | None
    active: bool
    temporary: bool  # the password was issued: it only lets its holder choose their own


async def find_login(engine: AsyncEngine, username: str) -> Login | None:
    async with db_errors(), engine.connect() as conn:
        r = (
            await conn.execute(
                sa.select(
                    users.c.id, users.c.password_hash, users.c.active, users.c.password_temporary
                ).where(users.c.username == username)
            )
        ).first()
        if r is None:
            return None
        return Login(int(r.id), r.password_hash, bool(r.active), bool(r.password_temporary))


def check_password(stored: str | None, password: str) -> bool:
    return verify_password(stored, password)


async def set_active(engine: AsyncEngine, user_id: int, active: bool) -> None:
    """(De)activate in a transaction of its own (:func:`store_active`)."""
    async with db_errors(), engine.begin() as conn:
        await store_active(conn, user_id, active)


async def store_active(conn: AsyncConnection, user_id: int, active: bool) -> None:
    """(De)activate, in the caller's transaction; deactivation also bumps the token
    version, revoking every token."""
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
        await store_password(conn, user_id, hashed)


async def store_password(conn: AsyncConnection, user_id: int, hashed: str) -> None:
    """Store a password hash (the account's own: no longer a temporary one) and revoke
    every token issued before, in the caller's transaction."""
    r = await conn.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(
            password_hash=hashed,
            password_temporary=False,
            token_version=users.c.token_version + 1,
        )
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
