"""Health, readiness and metrics."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, services


async def healthz(request: Request) -> Response:
    return JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    s = services(request)
    db = True
    try:
        async with s.engine.connect() as conn:
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
            "summary": "The database and the broker are reachable, and the broker listener listens",
            "security": [],
            "responses": {
                "200": {"description": "ready"},
                "503": {
                    "description": "database or broker unreachable, broker listener not"
                    " listening (reconnecting or stopped), or draining"
                },
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
