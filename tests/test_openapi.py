"""/openapi.json describes exactly the HTTP routes the app serves."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from tests.utils.servers import RunningHub

UNDESCRIBED = {"/", "/openapi.json", "/favicon.ico"}


def _served(app: Starlette) -> set[tuple[str, str]]:
    out = set()
    for r in app.routes:
        if isinstance(r, Route) and r.path not in UNDESCRIBED:
            path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", r.path)
            for m in r.methods or ():
                if m != "HEAD":
                    out.add((path, m.lower()))
    return out


async def test_every_route_is_described_and_nothing_else(hub: RunningHub) -> None:
    """Each served (path, method) has an operation in the document, and vice versa."""
    async with httpx.AsyncClient(base_url=hub.url) as c:
        doc = (await c.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    described = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert described == _served(hub.app)
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["summary"] and op["responses"]
