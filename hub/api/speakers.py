"""The list of speakers of a group deliberation (``hub.session.speakers``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, Handler, body, int_list, path_int, principal, query_id, services
from hub.api.openapi import INT, NULL_TS, PERSON, STR, error_responses, json_body, obj, ok, path_id
from hub.errors import BadRequest
from hub.node import Node
from hub.session import speakers as sp
from hub.session.common import id_field
from hub.session.members import Member


async def list_speakers(request: Request) -> Response:
    me = await principal(request)
    item = query_id(request, "agenda_item_id")
    return JSON(await sp.list_speakers(services(request).node, me, path_int(request), item))


async def request_to_speak(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    s = services(request)
    out = await sp.request_to_speak(s.node, me, path_int(request), id_field(d, "agenda_item_id"))
    return JSON(out, status_code=201)


async def order(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    s = services(request)
    ids = int_list(d, "order")
    if ids is None:
        raise BadRequest("missing `order`: the waiting request ids, first speaker first")
    out = await sp.order(s.node, me, path_int(request), id_field(d, "agenda_item_id"), ids)
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

REQUEST = obj(
    [
        "id",
        "sitting_id",
        "agenda_item_id",
        "deputy",
        "position",
        "status",
        "requested_at",
        "started_at",
        "ended_at",
        "duration_s",
        "allowed",
    ],
    id=INT,
    sitting_id=INT,
    agenda_item_id=INT,
    deputy=PERSON,
    position=INT,
    status={"enum": list(sp.NEXT)},
    requested_at=NULL_TS,
    started_at=NULL_TS,
    ended_at=NULL_TS,
    duration_s={"type": ["number", "null"]},
    allowed={"type": "array", "items": STR},
)
QUEUE = {"type": "array", "items": REQUEST, "description": "speaking first, then waiting in order"}
SITTING_ID = path_id("id", "sitting id (a group deliberation)")
REQUEST_ID = path_id("id", "request to speak id")
ERRORS = error_responses(400, 401, 403, 404, 409, 503)


def _transition(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [REQUEST_ID],
            "responses": {**ok(REQUEST), **ERRORS},
        }
    }


spec = {
    "/api/sittings/{id}/speakers": {
        "get": {
            "summary": "Every request to speak in the sitting (or on one agenda item), in order",
            "parameters": [
                SITTING_ID,
                {"name": "agenda_item_id", "in": "query", "schema": INT},
            ],
            "responses": {
                **ok(
                    obj(
                        ["sitting", "requests"],
                        sitting=INT,
                        requests={"type": "array", "items": REQUEST},
                    )
                ),
                **error_responses(400, 401, 403, 404),
            },
        },
        "post": {
            "summary": "Ask to speak on an agenda item (a deputy of the sitting's delegation); "
            "publishes speaker.requested on desk:<meeting> and delegation:<id>",
            "parameters": [SITTING_ID],
            "requestBody": json_body(obj(["agenda_item_id"], agenda_item_id=INT)),
            "responses": {**ok(REQUEST, 201), **ERRORS},
        },
    },
    "/api/sittings/{id}/speakers/order": {
        "put": {
            "summary": "Order the waiting list of an agenda item (secretariat): `order` lists "
            "every waiting request once; publishes speakers.ordered",
            "parameters": [SITTING_ID],
            "requestBody": json_body(
                obj(
                    ["agenda_item_id", "order"],
                    agenda_item_id=INT,
                    order={"type": "array", "items": INT},
                )
            ),
            "responses": {
                **ok(
                    obj(
                        ["sitting", "agenda_item", "queue"],
                        sitting=INT,
                        agenda_item=INT,
                        queue=QUEUE,
                    )
                ),
                **ERRORS,
            },
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
