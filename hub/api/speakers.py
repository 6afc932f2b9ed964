"""The list of speakers of a group deliberation (``hub.session.speakers``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, Handler, decode, path_int, principal, query, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.node import Node
from hub.session import speakers as sp
from hub.session.members import Member
from hub.shapes import Query


async def list_speakers(request: Request) -> Response:
    me = await principal(request)
    q = query(request, sp.SpeakersQuery)
    node = services(request).node
    return JSON(await sp.list_speakers(node, me, path_int(request), q.agenda_item_id))


async def request_to_speak(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, sp.SpeakInput)
    s = services(request)
    out = await sp.request_to_speak(s.node, me, path_int(request), d.agenda_item_id)
    return JSON(out, status_code=201)


async def order(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, sp.OrderInput)
    s = services(request)
    out = await sp.order(s.node, me, path_int(request), d.agenda_item_id, d.order)
    return JSON(out)


Transition = Callable[[Node, Member, int], Awaitable[dict[str, Any]]]


def _action(fn: Transition) -> Handler:
    async def handler(request: Request) -> Response:
        me = await principal(request)
        s = services(request)
        return JSON(await fn(s.node, me, path_int(request)))

    return handler


routes = [
    Route("/api/sittings/{id:int}/speakers", list_speakers, methods=["GET"]),
    Route("/api/sittings/{id:int}/speakers", request_to_speak, methods=["POST"]),
    Route("/api/sittings/{id:int}/speakers/order", order, methods=["PUT"]),
    Route("/api/speakers/{id:int}/withdraw", _action(sp.withdraw), methods=["POST"]),
    Route("/api/speakers/{id:int}/start", _action(sp.start), methods=["POST"]),
    Route("/api/speakers/{id:int}/end", _action(sp.end), methods=["POST"]),
]

SITTING_ID = path_id("id", "sitting id (a group deliberation)")
REQUEST_ID = path_id("id", "request to speak id")
ERRORS = error_responses(400, 401, 403, 404, 409, 503)


def _transition(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [REQUEST_ID],
            "responses": {**ok(sp.SpeechRequest), **ERRORS},
        }
    }


spec = {
    "/api/sittings/{id}/speakers": {
        "get": {
            "summary": "Every request to speak in the sitting (or on one agenda item), in order",
            "parameters": [SITTING_ID, Query(sp.SpeakersQuery)],
            "responses": {**ok(sp.Speakers), **error_responses(400, 401, 403, 404)},
        },
        "post": {
            "summary": "Ask to speak on an agenda item (a deputy of the sitting's delegation); "
            "publishes speaker.requested on desk:<meeting> and delegation:<id>",
            "parameters": [SITTING_ID],
            "requestBody": json_body(sp.SpeakInput),
            "responses": {**ok(sp.SpeechRequest, 201), **ERRORS},
        },
    },
    "/api/sittings/{id}/speakers/order": {
        "put": {
            "summary": "Order the waiting list of an agenda item (secretariat): `order` lists "
            "every waiting request once; publishes speakers.ordered",
            "parameters": [SITTING_ID],
            "requestBody": json_body(sp.OrderInput),
            "responses": {**ok(sp.Queue), **ERRORS},
        }
    },
    "/api/speakers/{id}/withdraw": _transition(
        "Withdraw one's waiting request (the deputy); publishes speaker.withdrawn"
    ),
    "/api/speakers/{id}/start": _transition(
        "Start a waiting speaker's speech (secretariat; one at a time per sitting); "
        "publishes speaker.started"
    ),
    "/api/speakers/{id}/end": _transition(
        "End the speech, recording its duration (secretariat); publishes speaker.ended"
    ),
}
