"""``POST /api/login``: a username and password for an access token; brute force slowed."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, field, principal, services
from hub.api.openapi import AUTH_ERRORS, INT, STR, error_responses, json_body, obj, ok
from hub.errors import RateLimited, Unauthorized
from hub.identity import check_password, find_login, load_principal

WINDOW = 60.0


class LoginLimiter:
    """At most ``rate`` failed attempts per minute per username and per client address."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.failures: dict[str, deque[float]] = {}

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            q = self.failures.get(key)
            if q is None:
                continue
            while q and q[0] < now - WINDOW:
                q.popleft()
            if len(q) >= self.rate:
                wait = int(q[0] + WINDOW - now) + 1
                raise RateLimited(f"too many failed logins; try again in {wait} s")

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self.failures.setdefault(key, deque()).append(now)
        if len(self.failures) > 100_000:
            self.failures.clear()


async def login(request: Request) -> Response:
    s = services(request)
    d = await body(request)
    username = field(d, "username", str)
    password = field(d, "password", str)
    limiter: LoginLimiter = request.app.state.login_limiter
    ip = request.client.host if request.client else "?"
    keys = (f"u:{username}", f"ip:{ip}")
    limiter.check(*keys)
    found = await find_login(s.engine, username)
    ok = found is not None and await asyncio.to_thread(check_password, found[1], password)
    if not ok or found is None:
        limiter.failed(*keys)
        raise Unauthorized("wrong username or password")
    me = await load_principal(s.engine, found[0])
    token = s.tokens.issue(me.id, me.token_version)
    return JSON({"token": token, "expires_in": s.tokens.ttl, "user": me.public()})


async def whoami(request: Request) -> Response:
    me = await principal(request)
    return JSON(
        {
            **me.public(),
            "delegation_id": me.delegation_id,
            "unit_id": me.unit_id,
            "meetings": sorted(me.meetings),
        }
    )


routes = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/me", whoami, methods=["GET"]),
]

USER = obj(["id", "name", "role"], id=INT, name=STR, role=STR)
spec = {
    "/api/login": {
        "post": {
            "summary": "Exchange a username and password for an access token",
            "security": [],
            "requestBody": json_body(obj(["username", "password"], username=STR, password=STR)),
            "responses": {
                **ok(obj(["token", "expires_in", "user"], token=STR, expires_in=INT, user=USER)),
                **error_responses(400, 401, 403, 413, 429),
            },
        }
    },
    "/api/me": {
        "get": {
            "summary": "The caller's account and memberships",
            "responses": {
                **ok(
                    obj(
                        ["id", "name", "role"],
                        id=INT,
                        name=STR,
                        role=STR,
                        delegation_id={"type": ["integer", "null"]},
                        unit_id={"type": ["integer", "null"]},
                        meetings={"type": "array", "items": INT},
                    )
                ),
                **AUTH_ERRORS,
            },
        }
    },
}
