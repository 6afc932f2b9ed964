"""Health, readiness and metrics."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, services

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
    broker = await s.broker.ping()
    ok = db and broker and not s.draining
    return JSON(
        {"status": "ok" if ok else "unavailable", "database": db, "broker": broker},
        status_code=200 if ok else 503,
    )


async def metrics(request: Request) -> Response:
    return Response(services(request).metrics.render(), media_type="text/plain; version=0.0.4")


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
            "responses": {"200": {"description": "OK"}},
        }
    },
    "/readyz": {
        "get": {
            "summary": "The database and the broker are reachable",
            "security": [],
            "responses": {
                "200": {"description": "ready"},
                "503": {"description": "database or broker unreachable, or draining"},
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "security": [],
            "responses": {"200": {"description": "text exposition format"}},
        }
    },
}
