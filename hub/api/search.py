"""Data query: one search over the caller's own (``hub.session.search``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, principal, query, services
from hub.api.openapi import error_responses, ok
from hub.session import search as sr
from hub.shapes import Query


async def search(request: Request) -> Response:
    me = await principal(request)
    return JSON(await sr.search(services(request), me, query(request, sr.SearchQuery)))


routes = [Route("/api/search", search, methods=["GET"])]

spec: dict[str, dict[str, Any]] = {
    "/api/search": {
        "get": {
            "summary": "Search one's own, by words and by state, newest first in bounded "
            "pages: a deputy their notices, their meetings' documents, their opinions, "
            "suggestions and items; a unit's account its unit's items and suggestions",
            "parameters": [Query(sr.SearchQuery)],
            "responses": {**ok(sr.SearchPage), **error_responses(400, 401, 403)},
        }
    }
}
