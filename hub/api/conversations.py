"""Conversations between a deputy and the secretariat (``hub.session.conversations``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, principal, query, services
from hub.api.openapi import error_responses, json_body, ok
from hub.session import conversations as cv
from hub.shapes import Query


async def send(request: Request) -> Response:
    me = await principal(request)
    cv.check_writer(me)
    d = await decode(request, cv.ConversationInput)
    return JSON(await cv.send(services(request), me, d), status_code=201)


async def listing(request: Request) -> Response:
    me = await principal(request)
    return JSON(await cv.listing(services(request), me, query(request, cv.ConversationQuery)))


routes = [
    Route("/api/conversations", send, methods=["POST"]),
    Route("/api/conversations", listing, methods=["GET"]),
]

spec: dict[str, dict[str, Any]] = {
    "/api/conversations": {
        "post": {
            "summary": "Write in a deputy's conversation with the secretariat (信息互动): a "
            "deputy in their own, the secretariat to a deputy of the meeting; "
            "conversation.message to deputy:<id> and desk:<meeting>",
            "requestBody": json_body(cv.ConversationInput),
            "responses": {
                **ok(cv.ConversationMessage, 201),
                **error_responses(400, 401, 403, 404, 503),
            },
        },
        "get": {
            "summary": "A deputy's conversation (a deputy: their own; staff: deputy_id), or "
            "the newest messages of every deputy of a meeting (staff: meeting_id); newest "
            "first, paged",
            "parameters": [Query(cv.ConversationQuery)],
            "responses": {**ok(cv.ConversationPage), **error_responses(400, 401, 403)},
        },
    }
}
