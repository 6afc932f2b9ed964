"""Names of delegations and undertaking units, for any signed-in user (``hub.session.members``).

Names are not secret inside the hub: every page shows them (a notice's audience, an item's
lead unit, a group deliberation's delegation).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, principal, services
from hub.api.openapi import AUTH_ERRORS, ok
from hub.session.members import list_delegations, list_units
from hub.shapes import Named, Shape


async def delegations(request: Request) -> Response:
    await principal(request)
    async with services(request).log.reading() as conn:
        return JSON({"delegations": await list_delegations(conn)})


async def units(request: Request) -> Response:
    await principal(request)
    async with services(request).log.reading() as conn:
        return JSON({"units": await list_units(conn)})


routes = [
    Route("/api/delegations", delegations, methods=["GET"]),
    Route("/api/units", units, methods=["GET"]),
]


class Delegations(Shape):
    delegations: list[Named]


class Units(Shape):
    units: list[Named]


spec = {
    "/api/delegations": {
        "get": {
            "summary": "Every delegation (代表团) with its name, by id (any signed-in user)",
            "responses": {**ok(Delegations), **AUTH_ERRORS},
        }
    },
    "/api/units": {
        "get": {
            "summary": "Every undertaking unit (承办单位) with its name, by id (any signed-in "
            "user)",
            "responses": {**ok(Units), **AUTH_ERRORS},
        }
    },
}
