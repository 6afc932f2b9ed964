"""A browser's lasting login (``hub.devices``): ``POST /api/devices/refresh`` trades the
device cookie for an access token; ``GET /api/devices`` lists one's own signed-in
browsers, ``POST /api/devices/{id}/sign-out`` signs one out, and
``POST /api/users/{id}/devices/sign-out`` (admin) signs out all of a person's."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import devices
from hub.api import JSON, path_int, principal, services
from hub.api.openapi import error_responses, ok, path_id
from hub.errors import Close, Unauthorized
from hub.session import setup
from hub.session.members import Role
from hub.shapes import Shape


def set_cookie(response: Response, request: Request, credential: str) -> None:
    """Give the browser its device credential: httpOnly (no script reads it), SameSite
    Strict (no other site's page sends it), sent to the refresh endpoint alone."""
    response.set_cookie(
        devices.COOKIE,
        credential,
        max_age=services(request).settings.device_ttl,
        path=devices.COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(
        devices.COOKIE, path=devices.COOKIE_PATH, httponly=True, samesite="strict"
    )


def close_sockets(
    request: Request, user_id: int, sessions: Collection[str] | None, reason: str
) -> None:
    """Close this node's sockets of ``user_id`` (of those logins, or all if ``sessions``
    is None) with 4401; other nodes close theirs at their next account check
    (``HUB_ACCOUNT_CHECK``)."""
    for c in list(services(request).connections):
        p = c.principal
        if p is not None and p.id == user_id and (sessions is None or p.session in sessions):
            c.close_soon(Close.UNAUTHENTICATED, reason)


async def refresh(request: Request) -> Response:
    """A new access token for this browser's device, and the device's next credential.

    A browser with no device cookie gets 204, not 401: the login page asks on every load,
    and a browser that never logged in is no failure."""
    s = services(request)
    credential = request.cookies.get(devices.COOKIE, "")
    if not credential:
        return Response(status_code=204)
    try:
        got = await devices.refresh(
            s.engine, credential, s.settings.device_ttl, s.tokens.ttl, s.clock.now()
        )
    except Unauthorized as e:
        response = JSON(e.as_dict(), status_code=e.status)
        clear_cookie(response)
        return response
    token = s.tokens.issue(got.user_id, got.token_version, session=got.session)
    me, _ = await s.authenticate(token)
    response = JSON({"token": token, "expires_in": s.tokens.ttl, "user": me.public()})
    if got.credential is not None:
        set_cookie(response, request, got.credential)
    return response


async def list_devices(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    return JSON(await devices.list_devices(s.engine, me.id, me.session, s.clock.now()))


async def sign_out_device(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    out = await devices.sign_out(
        s.engine, me.id, s.tokens.ttl, s.clock.now(), device_id=path_int(request)
    )
    close_sockets(request, me.id, out, "signed out from another device")
    return JSON({"signed_out": len(out)})


async def sign_out_all(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    s = services(request)
    user_id = path_int(request)
    out = await setup.sign_out_devices(s.node, me, user_id, s.tokens.ttl)
    close_sockets(request, user_id, out, "signed out by an administrator")
    return JSON({"signed_out": len(out)})


routes = [
    Route("/api/devices/refresh", refresh, methods=["POST"]),
    Route("/api/devices", list_devices, methods=["GET"]),
    Route("/api/devices/{id:int}/sign-out", sign_out_device, methods=["POST"]),
    Route("/api/users/{id:int}/devices/sign-out", sign_out_all, methods=["POST"]),
]


class Account(Shape):
    id: int
    name: str
    role: Role


class LoggedIn(Shape):
    """A login's answer, and a refresh's: the access token and whose it is."""

    token: str
    expires_in: Annotated[int, Meta(description="seconds")]
    user: Account


spec = {
    "/api/devices/refresh": {
        "post": {
            "summary": "A new access token for this browser, from its device cookie "
            f"(`{devices.COOKIE}`, httpOnly, SameSite=Strict, path {devices.COOKIE_PATH}), "
            "which it rotates: each cookie works once. A cookie used again after its "
            "rotation signs the device out (401 with reason `reused`). No cookie: 204",
            "security": [],
            "responses": {
                **ok(LoggedIn),
                "204": {"description": "no device cookie: this browser has no lasting login"},
                **error_responses(401),
            },
        }
    },
    "/api/devices": {
        "get": {
            "summary": "My signed-in browsers (devices), the most recently used first",
            "responses": {**ok(devices.Devices), **error_responses(401, 403)},
        }
    },
    "/api/devices/{id}/sign-out": {
        "post": {
            "summary": "Sign out one of my devices: it refreshes no more and its access "
            "tokens stop working on every node",
            "parameters": [path_id("id", "device id")],
            "responses": {**ok(devices.SignedOut), **error_responses(401, 403, 404)},
        }
    },
    "/api/users/{id}/devices/sign-out": {
        "post": {
            "summary": "Sign out every device of a person (admin); logged as "
            "setup.devices_signed_out on setup:1",
            "parameters": [path_id("id", "user id")],
            "responses": {**ok(devices.SignedOut), **error_responses(401, 403, 404, 503)},
        }
    },
}
