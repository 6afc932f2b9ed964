"""Logging in and out: ``POST /api/login`` (brute force slowed; opens this browser's
lasting login, ``hub.api.devices``), ``/api/logout`` (this device), ``/api/password`` (own), ``/api/downloads`` (a link's short-lived token),
``/api/me``, and ``/api/login/demo`` (only under ``hub serve --demo``; 204 otherwise)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Annotated
from urllib.parse import urlsplit

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import demo
from hub.api import JSON, decode, devices, is_download, principal, services
from hub.api.devices import Account, LoggedIn
from hub.api.openapi import AUTH_ERRORS, error_responses, json_body, ok
from hub.auth import DOWNLOAD_TTL, TokenClaims, check_password_policy
from hub.devices import keep as keep_device
from hub.devices import open_device, sign_out
from hub.errors import BadRequest, Conflict, Forbidden, RateLimited, Unauthorized
from hub.identity import (
    Login,
    check_password,
    find_login,
    load_principal,
    log_out,
    password_hash_of,
    set_password,
    username_of,
)
from hub.shapes import Body, Shape, Verbatim

WINDOW = 60.0
FORGET = 900.0  # a username+address pair with no failure for this long starts afresh
MAX_DELAY = 60.0
WRONG = "wrong username or password"


class LoginLimiter:
    """Slows password guessing without letting anyone lock an account out.

    * Per username **and** address: after ``free`` failures each further attempt waits
      1 s, 2 s, 4 s … (at most a minute) after the last failure. Failures from other
      addresses never delay a login, so a right password is never refused because
      someone elsewhere guessed wrong.
    * Per address: at most ``per_address`` failures a minute, sized for a hall of
      deputies behind one NAT address.
    """

    def __init__(self, free: int, per_address: int) -> None:
        self.free = free
        self.per_address = per_address
        self.pairs: dict[tuple[str, str], tuple[int, float]] = {}
        self.addresses: dict[str, deque[float]] = {}

    def check(self, username: str, address: str) -> None:
        """:class:`RateLimited`, saying when to try again, if this attempt must wait."""
        now = time.monotonic()
        q = self.addresses.get(address)
        if q is not None and len(q) >= self.per_address and q[0] > now - WINDOW:
            wait = int(q[0] + WINDOW - now) + 1
            raise RateLimited(
                f"too many failed logins from your address; try again in {wait} s",
                retry_after=wait,
            )
        failures, last = self.pairs.get((username, address), (0, 0.0))
        if failures >= self.free and now - last < FORGET:
            ready = last + min(MAX_DELAY, 2.0 ** (failures - self.free))
            if now < ready:
                wait = int(ready - now) + 1
                raise RateLimited(
                    f"too many failed logins for {username!r}; try again in {wait} s",
                    retry_after=wait,
                )

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        failures, last = self.pairs.get((username, address), (0, 0.0))
        if now - last >= FORGET:
            failures = 0
        self.pairs[(username, address)] = (failures + 1, now)
        self.addresses.setdefault(address, deque(maxlen=self.per_address)).append(now)
        if len(self.pairs) > 100_000 or len(self.addresses) > 100_000:  # bound the memory
            self.pairs.clear()
            self.addresses.clear()

    def succeeded(self, username: str, address: str) -> None:
        self.pairs.pop((username, address), None)


def _address(request: Request) -> str:
    # The TCP peer, or what a trusted proxy (HUB_TRUSTED_PROXIES) says the client was.
    return request.client.host if request.client else "?"


async def _checked(request: Request, username: str, password: str) -> Login:
    """The account whose username and password these are, after one full argon2
    verification whatever the account (so neither the reply nor its timing tells an
    unknown username, a wrong password, a deactivated account or a temporary password
    apart); :class:`Unauthorized` otherwise, slowed by the limiter."""
    s = services(request)
    limiter: LoginLimiter = request.app.state.login_limiter
    address = _address(request)
    limiter.check(username, address)
    found = await find_login(s.engine, username)
    usable = found is not None and found.active
    stored = found.password_hash if found is not None and usable else None
    right = await asyncio.to_thread(check_password, stored, password)  # always: same time
    if usable and found is not None and found.temporary:
        # a temporary password's hash is light: spend what a full one costs
        await asyncio.to_thread(check_password, None, password)
    if found is None or not right:
        limiter.failed(username, address)
        raise Unauthorized(WRONG)
    limiter.succeeded(username, address)
    return found


async def _logged_in(request: Request, user_id: int) -> Response:
    """The answer of a login: an access token, and this browser's lasting login."""
    s = services(request)
    me = await load_principal(s.engine, user_id)
    agent, ttl = request.headers.get("user-agent", ""), s.settings.device_ttl
    session, credential = await open_device(
        s.engine, me.id, me.token_version, agent, ttl, s.clock.now()
    )
    token = s.tokens.issue(me.id, me.token_version, session=session)
    response = JSON({"token": token, "expires_in": s.tokens.ttl, "user": me.public()})
    devices.set_cookie(response, request, credential)  # this browser's lasting login
    return response


async def login(request: Request) -> Response:
    """One answer, after one argon2 verification, for an unknown username, a wrong
    password and a deactivated account. A right temporary password logs nobody in: its
    holder is told to choose their own (``/api/login/first``)."""
    d = await decode(request, Credentials)
    found = await _checked(request, d.username, d.password)
    if found.temporary:
        raise Conflict(
            "this password was issued to you: choose your own with POST /api/login/first",
            reason="password_temporary",
        )
    return await _logged_in(request, found.id)


async def first_login(request: Request) -> Response:
    """The holder of a temporary password (issued with the roster) chooses their own and
    is logged in: the temporary one stops working."""
    s = services(request)
    d = await decode(request, FirstLogin)
    found = await _checked(request, d.username, d.password)
    if not found.temporary:
        raise Conflict(
            "this account's password is its own already: log in with POST /api/login",
            reason="password_not_temporary",
        )
    if d.new == d.password:
        raise BadRequest("the new password must not be the issued one", field="new")
    check_password_policy(d.new, d.username)
    await set_password(s.engine, found.id, d.new)
    return await _logged_in(request, found.id)


async def logout(request: Request) -> Response:
    """Revoke this device's token (and its download links) on every node."""
    s = services(request)
    me = await principal(request)
    claims: TokenClaims = request.state.claims
    await log_out(s.engine, claims)
    await sign_out(s.engine, me.id, s.tokens.ttl, s.clock.now(), session=claims.session)
    devices.close_sockets(request, me.id, [claims.session], "logged out")
    response = JSON({"logged_out": True})
    devices.clear_cookie(response)
    return response


async def change_password(request: Request) -> Response:
    """Change one's own password: the current one is required, the new one must meet the
    policy; every token issued before (every device, this one too) stops working, and
    every other browser is signed out. This browser stays logged in: the answer carries
    its new token."""
    s = services(request)
    me = await principal(request)
    d = await decode(request, NewPassword)
    current, new = d.current, d.new
    limiter: LoginLimiter = request.app.state.login_limiter
    username = await username_of(s.engine, me.id)
    address = _address(request)
    limiter.check(username, address)
    stored = await password_hash_of(s.engine, me.id)
    if not await asyncio.to_thread(check_password, stored, current):
        limiter.failed(username, address)
        raise Forbidden("the current password is wrong")
    check_password_policy(new, username)
    await set_password(s.engine, me.id, new)
    claims: TokenClaims = request.state.claims
    kept = await keep_device(s.engine, me.id, claims.session, s.clock.now())
    devices.close_sockets(request, me.id, None, "password changed: log in again")
    if kept is None:
        return JSON({"changed": True})
    token = s.tokens.issue(me.id, kept, session=claims.session)  # this browser stays
    return JSON({"changed": True, "token": token, "expires_in": s.tokens.ttl})


async def download_token(request: Request) -> Response:
    """A link for one download route, valid for DOWNLOAD_TTL seconds and GET only."""
    s = services(request)
    await principal(request)
    claims: TokenClaims = request.state.claims
    link = (await decode(request, DownloadFor)).path
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not is_download(parts.path):
        raise BadRequest(
            f"{link[:200]!r} is not a download: expected a path such as /api/documents/1"
        )
    dl = s.tokens.issue_download(claims, parts.path)
    query = f"{parts.query}&" if parts.query else ""
    return JSON({"url": f"{parts.path}?{query}download={dl}", "expires_in": DOWNLOAD_TTL})


async def demo_logins(request: Request) -> Response:
    """The demo accounts and their password, only when the hub runs with ``--demo``.

    Otherwise 204, not 404: the login page asks on every load, and a deployment's
    every login page would log a failed request.
    """
    if not services(request).settings.demo:
        return Response(status_code=204)
    accounts = [{"username": u, "who": who} for u, who in demo.logins()]
    return JSON({"password": demo.PASSWORD, "accounts": accounts})


async def whoami(request: Request) -> Response:
    me = await principal(request)
    return JSON(
        {
            **me.public(),
            "delegation_id": me.delegation_id,
            "unit_id": me.unit_id,
            "meetings": sorted(me.meetings),
            # the zone in which the hub counts dates and deadlines: the pages show times in it
            "timezone": services(request).clock.tz.key,
        }
    )


routes = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/login/first", first_login, methods=["POST"]),
    Route("/api/login/demo", demo_logins, methods=["GET"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/password", change_password, methods=["POST"]),
    Route("/api/downloads", download_token, methods=["POST"]),
    Route("/api/me", whoami, methods=["GET"]),
]


class Credentials(Body):
    username: Verbatim
    password: Verbatim


class FirstLogin(Body):
    username: Verbatim
    password: Annotated[Verbatim, Meta(description="the temporary password issued")]
    new: Annotated[Verbatim, Meta(description="the password from now on (the policy applies)")]


class NewPassword(Body):
    current: Annotated[Verbatim, Meta(description="the password in use")]
    new: Annotated[Verbatim, Meta(description="the password from now on (the policy applies)")]


class DownloadFor(Body):
    path: Annotated[Verbatim, Meta(description="a download route's path, e.g. /api/documents/1")]


class DemoAccount(Shape):
    username: str
    who: str


class DemoLogins(Shape):
    password: str
    accounts: list[DemoAccount]


class LoggedOut(Shape):
    logged_out: bool


class PasswordChanged(Shape):
    changed: bool
    token: str | None = None  # this browser's new token (none for a token of no browser)
    expires_in: Annotated[int | None, Meta(description="seconds")] = None


class DownloadLink(Shape):
    url: str
    expires_in: Annotated[int, Meta(description="seconds")]


class Me(Account):
    delegation_id: int | None
    unit_id: int | None
    meetings: list[int]
    timezone: Annotated[
        str,
        Meta(
            description="HUB_TIMEZONE: the zone dates and deadlines are counted in (a date "
            "deadline is the end of that day there)"
        ),
    ]


spec = {
    "/api/login": {
        "post": {
            "summary": "Exchange a username and password for an access token (one login, "
            "one device). A wrong username, a wrong password and a deactivated account get "
            "the same 401; a right temporary password gets 409 `conflict` with reason "
            "`password_temporary` (choose one's own: `/api/login/first`)",
            "security": [],
            "requestBody": json_body(Credentials),
            "responses": {**ok(LoggedIn), **error_responses(400, 401, 409, 413, 429)},
        }
    },
    "/api/login/first": {
        "post": {
            "summary": "The holder of a temporary password (issued with the roster, "
            "`POST /api/meetings/{id}/roster/passwords`) chooses their own and is logged in, "
            "as by `/api/login`; the temporary one stops working. 409 `conflict` with reason "
            "`password_not_temporary` for an account whose password is its own",
            "security": [],
            "requestBody": json_body(FirstLogin),
            "responses": {**ok(LoggedIn), **error_responses(400, 401, 409, 413, 429)},
        }
    },
    "/api/login/demo": {
        "get": {
            "summary": "The demo accounts and their password (only under `hub serve --demo`)",
            "security": [],
            "responses": {**ok(DemoLogins), "204": {"description": "this hub runs no demo"}},
        }
    },
    "/api/logout": {
        "post": {
            "summary": "Log out this device: its token and download links stop working on "
            "every node, its sockets close with 4401",
            "responses": {**ok(LoggedOut), **AUTH_ERRORS},
        }
    },
    "/api/password": {
        "post": {
            "summary": "Change one's own password (the current one is required); every "
            "earlier token stops working and every other browser is signed out; this "
            "browser stays logged in with the new `token` (absent for a token that is no "
            "browser's login)",
            "requestBody": json_body(NewPassword),
            "responses": {**ok(PasswordChanged), **error_responses(400, 401, 403, 429)},
        }
    },
    "/api/downloads": {
        "post": {
            "summary": f"A link for one GET download route (a document, an attachment, an "
            f"export), valid {DOWNLOAD_TTL} s: `url` carries `?download=<token>` that opens "
            f"that path only, with GET only",
            "requestBody": json_body(DownloadFor),
            "responses": {**ok(DownloadLink), **error_responses(400, 401, 403)},
        }
    },
    "/api/me": {
        "get": {
            "summary": "The caller's account and memberships",
            "responses": {**ok(Me), **AUTH_ERRORS},
        }
    },
}
