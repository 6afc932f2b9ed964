"""Deliberation opinions (``hub.session.opinions``): submit, list, note, merge."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, principal, query_id, query_int, query_words, services
from hub.api.openapi import INT, STR, error_responses, json_body, obj, ok
from hub.session import opinions as op


async def submit(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    return JSON(await op.submit(services(request), me, d), status_code=201)


async def listing(request: Request) -> Response:
    me = await principal(request)
    p = request.query_params
    q = op.Query(
        meeting_id=query_id(request, "meeting_id"),
        statuses=op.parse_statuses(p.get("status")),
        agenda_item_id=query_id(request, "agenda_item_id"),
        deputy_id=query_id(request, "deputy_id"),
        delegation_id=query_id(request, "delegation_id"),
        words=query_words(request),
        order=p.get("order") or "oldest",
        before_id=query_id(request, "before_id"),
        limit=query_int(request, "limit", 100, 1, 500),
        offset=query_int(request, "offset", 0, 0, 2**62),
    )
    out = await op.listing(services(request), me, q)
    return JSON(out)


async def get(request: Request) -> Response:
    me = await principal(request)
    return JSON(await op.get(services(request), me, request.path_params["id"]))


async def note(request: Request) -> Response:
    me = await principal(request)
    return JSON(await op.note(services(request), me, request.path_params["id"]))


async def merge(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    return JSON(await op.merge(services(request), me, request.path_params["id"], d))


routes = [
    Route("/api/opinions", submit, methods=["POST"]),
    Route("/api/opinions", listing, methods=["GET"]),
    Route("/api/opinions/{id:int}", get, methods=["GET"]),
    Route("/api/opinions/{id:int}/note", note, methods=["POST"]),
    Route("/api/opinions/{id:int}/merge", merge, methods=["POST"]),
]

NULL_INT = {"type": ["integer", "null"]}
NULL_STR = {"type": ["string", "null"]}
TS = {"type": "string", "format": "date-time"}
OPINION = obj(
    [
        "id",
        "meeting_id",
        "deputy_id",
        "deputy_name",
        "agenda_item_id",
        "text",
        "attachment",
        "status",
        "merged_into",
        "item_id",
        "created_at",
        "updated_at",
    ],
    id=INT,
    meeting_id=INT,
    deputy_id=INT,
    deputy_name=STR,
    agenda_item_id=NULL_INT,
    text=STR,
    attachment=NULL_STR,
    status={"enum": list(op.STATUSES)},
    merged_into=NULL_INT,
    item_id={**NULL_INT, "description": "the commit-to-do item it became"},
    created_at=TS,
    updated_at=TS,
)
ID = {"name": "id", "in": "path", "required": True, "schema": INT}


def _q(name: str, schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": what}


CONFLICT = {"409": {**error_responses(409)["409"], "description": "not allowed now; see `allowed`"}}
spec = {
    "/api/opinions": {
        "post": {
            "summary": "Submit a deliberation opinion (a deputy of the meeting); "
            "opinion.submitted on desk:<meeting> and deputy:<me>",
            "requestBody": json_body(
                obj(
                    ["meeting_id", "text"],
                    meeting_id=INT,
                    text={"type": "string", "minLength": 1, "maxLength": 20000},
                    agenda_item_id=INT,
                    attachment={
                        "type": "string",
                        "maxLength": 300,
                        "description": "a reference to an uploaded file (e.g. document id)",
                    },
                )
            ),
            "responses": {**ok(OPINION, 201), **error_responses(400, 401, 403, 404, 503)},
        },
        "get": {
            "summary": "Opinions, a page at a time with the total the filters match: a "
            "deputy's own; the desk's (secretariat, supervisor, admin) with filters",
            "parameters": [
                _q("meeting_id", INT, "only this meeting"),
                _q(
                    "status",
                    {"type": "string", "pattern": "^[a-z]+(,[a-z]+)*$"},
                    f"only these statuses, comma-separated ({', '.join(op.STATUSES)})",
                ),
                _q("agenda_item_id", INT, "only on this agenda item"),
                _q("deputy_id", INT, "only this deputy's"),
                _q("delegation_id", INT, "only the deputies of this delegation"),
                _q(
                    "q",
                    {"type": "string", "maxLength": 100},
                    "words (space-separated, all must match) in the text or the deputy's name",
                ),
                _q("order", {"enum": list(op.ORDERS)}, "by id; default oldest"),
                _q(
                    "before_id",
                    INT,
                    "only ids below this one: the next page of a newest-first list that a "
                    "live insert does not shift (the total still counts every match)",
                ),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "default 100"),
                _q("offset", {"type": "integer", "minimum": 0}, "default 0"),
            ],
            "responses": {
                **ok(
                    obj(
                        ["opinions", "total"],
                        opinions={"type": "array", "items": OPINION},
                        total=INT,
                    )
                ),
                **error_responses(400, 401, 403),
            },
        },
    },
    "/api/opinions/{id}": {
        "get": {
            "summary": "One opinion (its deputy, or staff)",
            "parameters": [ID],
            "responses": {**ok(OPINION), **error_responses(401, 403, 404)},
        }
    },
    "/api/opinions/{id}/note": {
        "post": {
            "summary": "Mark noted (secretariat); opinion.noted on the desk and the deputy's inbox",
            "parameters": [ID],
            "responses": {**ok(OPINION), **error_responses(401, 403, 404, 503), **CONFLICT},
        }
    },
    "/api/opinions/{id}/merge": {
        "post": {
            "summary": "Merge into another opinion of the meeting (secretariat); opinions "
            "merged into this one follow it; opinion.merged to the desk and each deputy",
            "parameters": [ID],
            "requestBody": json_body(obj(["into"], into=INT)),
            "responses": {**ok(OPINION), **error_responses(400, 401, 403, 404, 503), **CONFLICT},
        }
    },
}
