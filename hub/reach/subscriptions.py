"""Each person's registered browsers (Web Push subscriptions), one row per device.

A page that may show notifications registers its browser's ``PushSubscription``
(``POST /api/push/subscriptions``: the push service's endpoint and the browser's keys
``p256dh`` and ``auth``); the person lists and removes only their own devices. The same
endpoint registered again (the browser renewed its keys, or another person logged in on
that phone) replaces the row: a device belongs to whoever registered it last. A person
keeps at most :data:`MAX_DEVICES`; registering one more forgets their oldest.

The keys are what lets the hub encrypt for that browser: they are never shown by the API,
written to the log or logged. The endpoint is shown only to its owner.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Forbidden, NotFound
from hub.protocol import iso_or_none
from hub.reach import Device
from hub.session.members import Member
from hub.shapes import NO_NUL, Body, Label, Shape, Timestamp
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.node import Node

MAX_ENDPOINT = 800
MAX_DEVICES = 10

push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("endpoint", sa.String(MAX_ENDPOINT), nullable=False),
    sa.Column("p256dh", sa.String(100), nullable=False),
    sa.Column("auth", sa.String(40), nullable=False),
    sa.Column("label", sa.String(100), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    sa.Index("ix_push_subscriptions_user", "user_id", "id"),
)


Key = Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL, description="base64url")]


class PushKeys(Body):
    p256dh: Key
    auth: Key


class SubscribeInput(Body):
    """A browser's PushSubscription, and the name its owner gives the device."""

    endpoint: Annotated[str, Meta(min_length=1, max_length=MAX_ENDPOINT, pattern=NO_NUL)]
    keys: PushKeys
    label: Annotated[Label, Meta(description="the device's name")] | None = None


class PushKey(Shape):
    """The key a browser subscribes with, and the channel that reaches it."""

    channel: str
    key: Annotated[str | None, Meta(description="VAPID application server key, base64url")]


class Subscription(Shape):
    """A registered browser, as its owner sees it (never its keys)."""

    id: int
    endpoint: Annotated[str, Meta(description="shown to its owner only")]
    service: Annotated[str, Meta(description="the push service's host")]
    label: str
    created_at: Timestamp | None


class Subscriptions(Shape):
    subscriptions: list[Subscription]


def _b64url(value: object, name: str, size: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        raise BadRequest(f"`keys.{name}` must be base64url text", field=f"keys.{name}")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest(f"`keys.{name}` must be base64url text", field=f"keys.{name}") from None
    if len(raw) != size:
        raise BadRequest(f"`keys.{name}` must be {size} bytes", field=f"keys.{name}")
    if name == "p256dh":
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise BadRequest(
                "`keys.p256dh` must be an uncompressed P-256 public key", field="keys.p256dh"
            ) from None
    return value.rstrip("=")


def check_endpoint(endpoint: object, insecure: tuple[str, ...] = ()) -> str:
    """A push service URL: https, a host name (no address: the hub must not be pointed at
    machines on its own network), at most :data:`MAX_ENDPOINT` characters. ``insecure``
    lists origins allowed over http (the tests' local push service)."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT:
        raise BadRequest(
            f"`endpoint` must be a URL of at most {MAX_ENDPOINT} characters", field="endpoint"
        )
    try:
        u = urlsplit(endpoint)
        host = u.hostname or ""
        u.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise BadRequest("`endpoint` must be a URL", field="endpoint") from None
    if f"{u.scheme}://{u.netloc}" in insecure and u.scheme == "http":
        return endpoint
    if (
        u.scheme != "https"
        or not host
        or u.username
        or u.password
        or any(c.isspace() for c in endpoint)
    ):
        raise BadRequest("`endpoint` must be an https URL of a push service", field="endpoint")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return endpoint
    raise BadRequest("`endpoint` must name its push service by host name", field="endpoint")


def _public(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "endpoint": r.endpoint,
        "service": urlsplit(r.endpoint).hostname,
        "label": r.label,
        "created_at": iso_or_none(r.created_at),
    }


async def subscribe(
    node: Node, me: Member, d: SubscribeInput, insecure: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Register (or renew) one of ``me``'s browsers."""
    url = check_endpoint(d.endpoint, insecure)
    p256dh = _b64url(d.keys.p256dh, "p256dh", 65)
    auth = _b64url(d.keys.auth, "auth", 16)
    label = d.label or ""
    t = push_subscriptions
    async with node.writing() as w:
        await w.conn.execute(t.delete().where(t.c.endpoint == url))
        new_id = (
            await w.conn.execute(
                t.insert()
                .values(
                    user_id=me.id,
                    endpoint=url,
                    p256dh=p256dh,
                    auth=auth,
                    label=label,
                    created_at=node.clock.now(),
                )
                .returning(t.c.id)
            )
        ).scalar_one()
        mine = list(
            (
                await w.conn.execute(
                    sa.select(t.c.id).where(t.c.user_id == me.id).order_by(t.c.id.desc())
                )
            ).scalars()
        )
        if len(mine) > MAX_DEVICES:
            await w.conn.execute(t.delete().where(t.c.id.in_(mine[MAX_DEVICES:])))
        row = (await w.conn.execute(sa.select(t).where(t.c.id == new_id))).one()
    return _public(row)


async def list_mine(node: Node, me: Member) -> list[dict[str, Any]]:
    t = push_subscriptions
    async with node.log.reading() as conn:
        rows = await conn.execute(sa.select(t).where(t.c.user_id == me.id).order_by(t.c.id))
        return [_public(r) for r in rows]


async def unsubscribe(node: Node, me: Member, sub_id: int) -> None:
    """Remove one of ``me``'s devices: another person's is ``forbidden``."""
    t = push_subscriptions
    async with node.writing() as w:
        r = (await w.conn.execute(sa.select(t.c.user_id).where(t.c.id == sub_id))).first()
        if r is None:
            raise NotFound(f"no push subscription {sub_id}")
        if int(r.user_id) != me.id:
            raise Forbidden(f"push subscription {sub_id} is another person's")
        await w.conn.execute(t.delete().where(t.c.id == sub_id))


async def devices(conn: AsyncConnection, user_ids: list[int]) -> dict[int, list[Device]]:
    """Each person's registered devices."""
    t = push_subscriptions
    out: dict[int, list[Device]] = {}
    if not user_ids:
        return out
    for i in range(0, len(user_ids), 500):
        rows = await conn.execute(
            sa.select(t).where(t.c.user_id.in_(user_ids[i : i + 500])).order_by(t.c.id)
        )
        for r in rows:
            out.setdefault(int(r.user_id), []).append(
                Device(int(r.id), int(r.user_id), r.endpoint, r.p256dh, r.auth)
            )
    return out
