"""Health, readiness and metrics."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Annotated, Literal

import sqlalchemy as sa
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, services
from hub.api.openapi import ok
from hub.errors import Forbidden, Unauthorized
from hub.shapes import Shape

DB_PROBE_TIMEOUT = 1.5  # seconds: a database that hangs makes /readyz answer 503 in time


async def healthz(request: Request) -> Response:
    return JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    s = services(request)
    db = True
    try:
        async with asyncio.timeout(DB_PROBE_TIMEOUT), s.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception:
        db = False
    # A node whose broker listener is not listening does not hear the other nodes, even
    # when Redis answers a ping: not ready. Such a node is not pinged (Redis may be frozen).
    listener = s.broker.state
    broker = listener == "listening" and await s.broker.ping()
    ok = db and broker and not s.draining
    return JSON(
        {
            "status": "ok" if ok else "unavailable",
            "database": db,
            "broker": broker,
            "listener": listener,
        },
        status_code=200 if ok else 503,
    )


def _check_scraper(request: Request, token: str) -> None:
    """With ``HUB_METRICS_TOKEN`` set, /metrics needs it as a bearer token; without, it
    answers only requests made on this machine (not through a proxy)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise Unauthorized("/metrics needs `Authorization: Bearer <HUB_METRICS_TOKEN>`")
        return
    host = request.client.host if request.client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    if not local or proxied:
        raise Forbidden(
            "/metrics answers only requests from this machine; set HUB_METRICS_TOKEN to "
            "scrape it from elsewhere"
        )


async def metrics(request: Request) -> Response:
    _check_scraper(request, services(request).settings.metrics_token)
    return Response(services(request).metrics.render(), media_type="text/plain; version=0.0.4")


class Health(Shape):
    status: Literal["ok"]


class Readiness(Shape):
    status: Literal["ok", "unavailable"]
    database: Annotated[bool, Meta(description="the database answers")]
    broker: Annotated[bool, Meta(description="the broker answers and its listener listens")]
    listener: Annotated[str, Meta(description="the broker listener's state")]


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics),
]

spec = {
    "/healthz": {
        "get": {
            "summary": "The process is up",
            "security": [],
            "responses": ok(Health),
        }
    },
    "/readyz": {
        "get": {
            "summary": "The database and the broker are reachable, and the broker listener listens",
            "security": [],
            "responses": {
                **ok(Readiness, description="ready"),
                **ok(
                    Readiness,
                    503,
                    "database or broker unreachable, broker listener not listening "
                    "(reconnecting or stopped), or draining",
                ),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics: with HUB_METRICS_TOKEN set, that token as a "
            "bearer; without, requests from this machine only (not through a proxy)",
            "security": [],
            "responses": {
                "200": {"description": "text exposition format"},
                "401": {"description": "HUB_METRICS_TOKEN is set and was not given"},
                "403": {"description": "no HUB_METRICS_TOKEN, and not a local request"},
            },
        }
    },
}
