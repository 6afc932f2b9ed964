"""Account management (admins): create, list, deactivate, reactivate users, and reset
their passwords."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, devices, principal, services
from hub.api.openapi import AUTH_ERRORS, error_responses, json_body, ok, path_id
from hub.auth import check_password_policy
from hub.errors import Close
from hub.identity import set_active, set_password, username_of
from hub.session.members import Contact, Role, create_user
from hub.session.schema import users
from hub.shapes import Body, Id, Shape, Verbatim
from hub.store.log import db_errors


async def list_users(request: Request) -> Response:
    await principal(request, roles=("admin", "secretariat", "supervisor"))
    s = services(request)
    async with db_errors(), s.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                users.c.id,
                users.c.username,
                users.c.name,
                users.c.role,
                users.c.active,
                users.c.delegation_id,
                users.c.unit_id,
            ).order_by(users.c.id)
        )
        # Column keys are str subclasses (quoted_name), which orjson refuses as keys.
        return JSON({"users": [{str(k): v for k, v in r._mapping.items()} for r in rows]})


async def add_user(request: Request) -> Response:
    await principal(request, roles=("admin",))
    d = await decode(request, NewAccount)
    s = services(request)
    if d.password is not None:
        check_password_policy(d.password, d.username)
    async with db_errors(), s.engine.begin() as conn:
        uid = await create_user(
            conn,
            username=d.username,
            name=d.name,
            role=d.role,
            password=d.password,
            delegation_id=d.delegation_id,
            unit_id=d.unit_id,
            now=s.clock.now(),
            phone=d.phone,
            preferred_contact=d.preferred_contact,
        )
    return JSON({"id": uid}, status_code=201)


async def deactivate(request: Request) -> Response:
    await principal(request, roles=("admin",))
    uid = int(request.path_params["id"])
    s = services(request)
    await set_active(s.engine, uid, False)
    for c in list(s.connections):
        if c.principal is not None and c.principal.id == uid:
            c.close_soon(Close.DEACTIVATED, "account deactivated")
    return JSON({"id": uid, "active": False})


async def activate(request: Request) -> Response:
    await principal(request, roles=("admin",))
    uid = int(request.path_params["id"])
    await set_active(services(request).engine, uid, True)
    return JSON({"id": uid, "active": True})


async def reset_password(request: Request) -> Response:
    """Set an account's password (policy checked); every token issued before stops
    working, and its sockets on this node close with 4401 (elsewhere at the next check)."""
    await principal(request, roles=("admin",))
    uid = int(request.path_params["id"])
    s = services(request)
    password = (await decode(request, PasswordReset)).password
    check_password_policy(password, await username_of(s.engine, uid))
    await set_password(s.engine, uid, password)
    devices.close_sockets(request, uid, None, "password reset: log in again")
    return JSON({"id": uid, "reset": True})


routes = [
    Route("/api/admin/users", list_users, methods=["GET"]),
    Route("/api/admin/users", add_user, methods=["POST"]),
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
            "summary": "List accounts (admin, secretariat, supervisor)",
            "responses": {**ok(Accounts), **AUTH_ERRORS},
        },
        "post": {
            "summary": "Create an account (admin); a password must meet the password policy",
            "requestBody": json_body(NewAccount),
            "responses": {**ok(Created, 201), **error_responses(400, 401, 403, 404, 409)},
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
