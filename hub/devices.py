"""Lasting logins: one per browser (device), kept by a refresh credential.

Logging in opens a **device**: a row of ``devices`` naming the account, the login
(``session``, the ``sid`` every access token of that device carries, so logging it out
revokes them as before) and the current refresh credential, stored as its SHA-256 only.
The browser keeps the credential in an httpOnly, ``SameSite=Strict`` cookie whose path is
:data:`COOKIE_PATH`, so no script reads it and it goes to the refresh endpoint alone.

A credential is ``<device key>.<n>.<secret>``: the device's random key, the number of the
rotation and a random secret. :func:`refresh` trades the current one for a short-lived
access token and the next credential (``n + 1``): each credential works once.

* **Reuse**: a credential of an earlier rotation presented again means two parties hold
  the device's credentials (a stolen cookie, or the thief came first): the device is
  signed out (:func:`refresh` raises :class:`Unauthorized` with ``reason: "reused"``),
  its access tokens revoked. The one
  exception is the previous credential within :data:`GRACE` seconds of its rotation (two
  tabs of the browser refreshing at once): it gets an access token and no new credential
  (the browser holds the new one already).
* A device signs out when the person logs out on it, signs it out from another device,
  an admin signs out all of the person's devices, or the account's token version changes
  (a password change or reset, deactivation): a device remembers the version it was
  opened with, and refreshes only while the account has it. A password changed on a
  device keeps that one signed in (:func:`keep`).

The hub keeps a signed-out device's row (``signed_out_at``) until it would have expired,
so a stolen credential tried afterwards is told it is signed out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.errors import NotFound, Unauthorized
from hub.shapes import Shape
from hub.store.log import db_errors
from hub.store.schema import BigId, metadata, revoked_sessions, users

COOKIE = "hub_device"
COOKIE_PATH = "/api/devices"
GRACE = 10.0  # seconds the previous credential still refreshes (two tabs at once)
MAX_AGENT = 200
ENDED = "this browser's login has ended: log in again"

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("key", sa.String(32), nullable=False, unique=True),
    sa.Column("session", sa.String(32), nullable=False, unique=True),
    sa.Column("token_version", sa.Integer, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("previous_hash", sa.String(64), nullable=True),
    sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("agent", sa.String(MAX_AGENT), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("signed_out_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_devices_user", "user_id"),
)


class Device(Shape):
    """One of the caller's signed-in devices (browsers)."""

    id: int
    agent: str  # the browser's User-Agent when it logged in
    created_at: str
    last_used_at: str  # when it last logged in or refreshed
    current: bool  # the device this request comes from


class Devices(Shape):
    devices: list[Device]


class SignedOut(Shape):
    signed_out: int  # how many devices were signed out


@dataclass(frozen=True)
class Refreshed:
    user_id: int
    session: str
    token_version: int
    credential: str | None  # the next credential, None within the grace of a rotation


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _credential(key: str, n: int) -> tuple[str, str]:
    secret = secrets.token_urlsafe(32)
    return f"{key}.{n}.{secret}", _hash(secret)


async def open_device(
    engine: AsyncEngine, user_id: int, version: int, agent: str, ttl: int, now: datetime
) -> tuple[str, str]:
    """A new device for a login: its session (the access tokens' ``sid``) and its first
    credential."""
    key, session = secrets.token_urlsafe(16), secrets.token_urlsafe(12)
    credential, digest = _credential(key, 0)
    async with db_errors(), engine.begin() as conn:
        await conn.execute(devices.delete().where(devices.c.expires_at < now))
        await conn.execute(
            devices.insert().values(
                user_id=user_id, key=key, session=session, token_version=version, n=0,
                secret_hash=digest, rotated_at=now, agent=agent[:MAX_AGENT], created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )  # fmt: skip
    return session, credential


async def refresh(
    engine: AsyncEngine, credential: str, device_ttl: int, access_ttl: int, now: datetime
) -> Refreshed:
    """Trade ``credential`` for the next one (the device then lasts ``device_ttl`` seconds
    more); see the module's docstring for reuse (its access tokens, ``access_ttl`` seconds
    long, are revoked). :class:`Unauthorized` (say: log in again) for anything but the
    current credential of a signed-in device of an active account at its version."""
    key, _, rest = credential.partition(".")
    n_text, _, secret = rest.partition(".")
    if not (key and n_text.isdigit() and secret and credential.isascii()):
        raise Unauthorized("no lasting login on this browser: log in")
    n, digest = int(n_text), _hash(secret)
    async with db_errors(), engine.begin() as conn:
        row = (
            await conn.execute(
                sa.select(devices, users.c.active, users.c.token_version.label("version"))
                .join(users, users.c.id == devices.c.user_id)
                .where(devices.c.key == key)
            )
        ).first()
        if row is None or row.signed_out_at is not None or _aware(row.expires_at) <= now:
            raise Unauthorized(ENDED)
        if not row.active or row.version != row.token_version:
            raise Unauthorized("this account's logins were revoked: log in again")
        found = Refreshed(row.user_id, row.session, row.version, None)
        if n == row.n and hmac.compare_digest(digest, row.secret_hash):
            nxt, nxt_hash = _credential(key, n + 1)
            done = await conn.execute(
                devices.update()
                .where(devices.c.id == row.id, devices.c.n == n)
                .values(
                    n=n + 1, secret_hash=nxt_hash, previous_hash=digest, rotated_at=now,
                    expires_at=now + timedelta(seconds=device_ttl),
                )
            )  # fmt: skip
            # Another refresh with this credential rotated it meanwhile: as in the grace.
            return replace(found, credential=nxt if done.rowcount else None)
        recent = (now - _aware(row.rotated_at)).total_seconds() <= GRACE
        if n == row.n - 1 and recent and hmac.compare_digest(digest, row.previous_hash or ""):
            return found
        if n >= row.n:
            raise Unauthorized(ENDED)
        await _sign_out(conn, [row.session], row.user_id, access_ttl, now)
    raise Unauthorized(
        "this browser's login was used from elsewhere: it is signed out; log in again",
        reason="reused",
    )


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # SQLite gives naive datetimes


async def _sign_out(
    conn: AsyncConnection, sessions: list[str], user_id: int, ttl: int, now: datetime
) -> None:
    """Sign out devices: no more refresh, and their access tokens (which live at most
    ``ttl`` seconds) revoked on every node."""
    if not sessions:
        return
    await conn.execute(
        devices.update()
        .where(devices.c.session.in_(sessions), devices.c.signed_out_at.is_(None))
        .values(signed_out_at=now)
    )
    known = set(
        (
            await conn.execute(
                sa.select(revoked_sessions.c.session).where(
                    revoked_sessions.c.session.in_(sessions)
                )
            )
        ).scalars()
    )
    for s in sessions:
        if s not in known:
            await conn.execute(
                revoked_sessions.insert().values(
                    session=s, user_id=user_id, expires_at=now + timedelta(seconds=ttl)
                )
            )


async def sign_out(
    engine: AsyncEngine,
    user_id: int,
    ttl: int,
    now: datetime,
    *,
    device_id: int | None = None,
    session: str | None = None,
) -> list[str]:
    """Sign out ``user_id``'s device ``device_id`` (:class:`NotFound` if it has none such
    signed in), the device of login ``session``, or (neither given) all of them. Returns
    the sessions signed out, for closing their sockets."""
    async with db_errors(), engine.begin() as conn:
        return await sign_out_on(conn, user_id, ttl, now, device_id=device_id, session=session)


async def sign_out_on(
    conn: AsyncConnection,
    user_id: int,
    ttl: int,
    now: datetime,
    *,
    device_id: int | None = None,
    session: str | None = None,
) -> list[str]:
    """:func:`sign_out` in the caller's transaction (one that also records who did it)."""
    q = sa.select(devices.c.id, devices.c.session).where(
        devices.c.user_id == user_id, devices.c.signed_out_at.is_(None), devices.c.expires_at > now
    )
    if device_id is not None:
        q = q.where(devices.c.id == device_id)
    if session is not None:
        q = q.where(devices.c.session == session)
    found = [r.session for r in await conn.execute(q)]
    if device_id is not None and not found:
        raise NotFound(f"you have no signed-in device {device_id}")
    await _sign_out(conn, found, user_id, ttl, now)
    return found


async def keep(engine: AsyncEngine, user_id: int, session: str, now: datetime) -> int | None:
    """After the account's token version changed on this device's own request (a
    password change): this device (of login ``session``) alone takes the new version and
    stays signed in; the others stay signed out. Returns the new version, or None when the
    login is no signed-in device (a token from ``hub token``)."""
    version = sa.select(users.c.token_version).where(users.c.id == user_id).scalar_subquery()
    async with db_errors(), engine.begin() as conn:
        done = await conn.execute(
            devices.update()
            .where(
                devices.c.user_id == user_id,
                devices.c.session == session,
                devices.c.signed_out_at.is_(None),
                devices.c.expires_at > now,
            )
            .values(token_version=version)
        )
        if not done.rowcount:
            return None
        return int(
            (
                await conn.execute(sa.select(users.c.token_version).where(users.c.id == user_id))
            ).scalar_one()
        )


async def list_devices(
    engine: AsyncEngine, user_id: int, current: str, now: datetime
) -> dict[str, Any]:
    """``user_id``'s signed-in devices, the most recently used first."""
    q = (
        sa.select(devices)
        .where(
            devices.c.user_id == user_id,
            devices.c.signed_out_at.is_(None),
            devices.c.expires_at > now,
        )
        .order_by(devices.c.rotated_at.desc(), devices.c.id.desc())
    )
    async with db_errors(), engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return {
        "devices": [
            {
                "id": r.id,
                "agent": r.agent,
                "created_at": _aware(r.created_at).isoformat(),
                "last_used_at": _aware(r.rotated_at).isoformat(),
                "current": r.session == current,
            }
            for r in rows
        ]
    }
