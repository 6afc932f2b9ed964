"""Account management (admins): create, list, edit, deactivate, reactivate users, and
reset their passwords; every change is logged on the set-up log (``hub.session.setup``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import sqlalchemy as sa
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, devices, path_int, principal, query, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.auth import check_password_policy, hash_password
from hub.errors import Close
from hub.identity import username_of
from hub.session import setup
from hub.session.members import Contact, Role
from hub.session.schema import users
from hub.shapes import Body, Id, Limit, Offset, Query, Shape, Verbatim, Words
from hub.store.log import db_errors


async def list_users(request: Request) -> Response:
    """Every account matching the filters, by id, a page at a time if ``limit`` is given;
    ``total`` counts every match."""
    await principal(request, roles=("admin", "secretariat", "supervisor"))
    q = query(request, AccountsQuery)
    where: list[sa.ColumnElement[bool]] = []
    for word in (q.q or "").split():
        like = f"%{word.lower()}%"
        where.append(
            sa.or_(
                sa.func.lower(users.c.username).like(like), sa.func.lower(users.c.name).like(like)
            )
        )
    if q.role is not None:
        where.append(users.c.role == q.role)
    if q.delegation is not None:
        where.append(users.c.delegation_id == q.delegation)
    if q.unit is not None:
        where.append(users.c.unit_id == q.unit)
    if q.active is not None:
        where.append(users.c.active == (q.active == "1"))
    s = services(request)
    async with db_errors(), s.engine.connect() as conn:
        total = (
            await conn.execute(sa.select(sa.func.count()).select_from(users).where(*where))
        ).scalar_one()
        page = (
            sa.select(
                users.c.id,
                users.c.username,
                users.c.name,
                users.c.role,
                users.c.active,
                users.c.delegation_id,
                users.c.unit_id,
            )
            .where(*where)
            .order_by(users.c.id)
            .offset(q.offset)
        )
        if q.limit is not None:
            page = page.limit(q.limit)
        rows = await conn.execute(page)
        # Column keys are str subclasses (quoted_name), which orjson refuses as keys.
        listed = [{str(k): v for k, v in r._mapping.items()} for r in rows]
    return JSON({"users": listed, "total": int(total)})


async def get_user(request: Request) -> Response:
    await principal(request, roles=("admin",))
    async with services(request).log.reading() as conn:
        return JSON(await setup.account_detail(conn, path_int(request)))


async def add_user(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await decode(request, NewAccount)
    s = services(request)
    if d.password is not None:
        check_password_policy(d.password, d.username)
    uid = await setup.add_account(
        s.node,
        me,
        username=d.username,
        name=d.name,
        role=d.role,
        password=d.password,
        delegation_id=d.delegation_id,
        unit_id=d.unit_id,
        phone=d.phone,
        preferred_contact=d.preferred_contact,
    )
    return JSON({"id": uid}, status_code=201)


async def change_user(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await decode(request, setup.AccountChange)
    return JSON(await setup.change_account(services(request).node, me, path_int(request), d))


async def deactivate(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    uid = path_int(request)
    s = services(request)
    await setup.set_account_active(s.node, me, uid, False)
    for c in list(s.connections):
        if c.principal is not None and c.principal.id == uid:
            c.close_soon(Close.DEACTIVATED, "account deactivated")
    return JSON({"id": uid, "active": False})


async def activate(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    uid = path_int(request)
    await setup.set_account_active(services(request).node, me, uid, True)
    return JSON({"id": uid, "active": True})


async def reset_password(request: Request) -> Response:
    """Set an account's password (policy checked); every token issued before stops
    working, and its sockets on this node close with 4401 (elsewhere at the next check)."""
    me = await principal(request, roles=("admin",))
    uid = path_int(request)
    s = services(request)
    password = (await decode(request, PasswordReset)).password
    check_password_policy(password, await username_of(s.engine, uid))
    hashed = await asyncio.to_thread(hash_password, password)
    await setup.reset_password(s.node, me, uid, hashed)
    devices.close_sockets(request, uid, None, "password reset: log in again")
    return JSON({"id": uid, "reset": True})


routes = [
    Route("/api/admin/users", list_users, methods=["GET"]),
    Route("/api/admin/users", add_user, methods=["POST"]),
    Route("/api/admin/users/{id:int}", get_user, methods=["GET"]),
    Route("/api/admin/users/{id:int}", change_user, methods=["PATCH"]),
    Route("/api/admin/users/{id:int}/deactivate", deactivate, methods=["POST"]),
    Route("/api/admin/users/{id:int}/activate", activate, methods=["POST"]),
    Route("/api/admin/users/{id:int}/password", reset_password, methods=["POST"]),
]


class AccountRow(Shape):
    """An account as the list shows it (never its phone)."""

    id: int
    username: str
    name: str
    role: Role
    active: bool
    delegation_id: int | None
    unit_id: int | None


class Accounts(Shape):
    users: list[AccountRow]
    total: Annotated[int, Meta(description="every account the filters match")]


class AccountsQuery(Body):
    """The account list's filters (combined with AND) and page."""

    q: Annotated[Words, Meta(description="words in the username or name")] | None = None
    role: Role | None = None
    delegation: Annotated[Id, Meta(description="a delegation's deputies")] | None = None
    unit: Annotated[Id, Meta(description="a unit's accounts")] | None = None
    active: Annotated[Literal["0", "1"], Meta(description="1: active, 0: deactivated")] | None = (
        None
    )
    limit: Annotated[Limit, Meta(description="how many at most; default all")] | None = None
    offset: Offset = 0


class NewAccount(Body):
    """An account to create."""

    username: Verbatim
    name: Verbatim
    role: Role
    password: Annotated[Verbatim, Meta(description="meets the password policy")] | None = None
    delegation_id: Annotated[Id, Meta(description="a deputy's delegation")] | None = None
    unit_id: Annotated[Id, Meta(description="a unit account's unit")] | None = None
    phone: (
        Annotated[
            Verbatim,
            Meta(
                description="the roster's mobile (11 digits, +86 optional) or a landline with "
                "its area code; shown to the secretariat and admins only"
            ),
        ]
        | None
    ) = None
    preferred_contact: (
        Annotated[
            Contact,
            Meta(
                description="how the deputy prefers to be contacted (电话, 短信, 微信, 当面); "
                "shown with the phone to the units of the deputy's items"
            ),
        ]
        | None
    ) = None


class PasswordReset(Body):
    password: Annotated[Verbatim, Meta(description="meets the password policy")]


class Created(Shape):
    id: int


class Activity(Shape):
    id: int
    active: bool


class Reset(Shape):
    id: int
    reset: bool


ID = path_id("id", "user id")
spec = {
    "/api/admin/users": {
        "get": {
            "summary": "List accounts by id, filtered, a page at a time with `limit` "
            "(admin, secretariat, supervisor)",
            "parameters": [Query(AccountsQuery)],
            "responses": {**ok(Accounts), **error_responses(400, 401, 403)},
        },
        "post": {
            "summary": "Create an account (admin); a password must meet the password policy; "
            "logged as setup.account_created on setup:1",
            "requestBody": json_body(NewAccount),
            "responses": {**ok(Created, 201), **error_responses(400, 401, 403, 404, 409, 503)},
        },
    },
    "/api/admin/users/{id}": {
        "get": {
            "summary": "An account with its phone and meetings (admin)",
            "parameters": [ID],
            "responses": {**ok(setup.AccountDetail), **error_responses(401, 403, 404)},
        },
        "patch": {
            "summary": "Change an account's name, phone, delegation (a deputy), unit (a unit "
            "account) or meetings (admin); logged as setup.account_changed on setup:1",
            "parameters": [ID],
            "requestBody": json_body(setup.AccountChange),
            "responses": {
                **ok(setup.AccountDetail),
                **error_responses(400, 401, 403, 404, 503),
            },
        },
    },
    "/api/admin/users/{id}/deactivate": {
        "post": {
            "summary": "Deactivate an account: its tokens stop working, its sockets close 4403",
            "parameters": [ID],
            "responses": {**ok(Activity), **error_responses(401, 403, 404)},
        }
    },
    "/api/admin/users/{id}/activate": {
        "post": {
            "summary": "Reactivate an account (it must log in again)",
            "parameters": [ID],
            "responses": {**ok(Activity), **error_responses(401, 403, 404)},
        }
    },
    "/api/admin/users/{id}/password": {
        "post": {
            "summary": "Reset an account's password (admin; the password policy applies): "
            "every earlier token stops working, its sockets close with 4401",
            "parameters": [ID],
            "requestBody": json_body(PasswordReset),
            "responses": {**ok(Reset), **error_responses(400, 401, 403, 404)},
        }
    },
}
