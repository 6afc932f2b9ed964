"""Deliberation opinions (``hub.session.opinions``): submit, list, note, merge."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, principal, query, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.session import opinions as op
from hub.shapes import Query


async def submit(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, op.SubmitOpinion)
    return JSON(await op.submit(services(request), me, d), status_code=201)


async def listing(request: Request) -> Response:
    me = await principal(request)
    q = query(request, op.OpinionQuery)
    return JSON(await op.listing(services(request), me, q))


async def get(request: Request) -> Response:
    me = await principal(request)
    return JSON(await op.get(services(request), me, request.path_params["id"]))


async def note(request: Request) -> Response:
    me = await principal(request)
    return JSON(await op.note(services(request), me, request.path_params["id"]))


async def merge(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, op.MergeOpinion)
    return JSON(await op.merge(services(request), me, request.path_params["id"], d.into))


routes = [
    Route("/api/opinions", submit, methods=["POST"]),
    Route("/api/opinions", listing, methods=["GET"]),
    Route("/api/opinions/{id:int}", get, methods=["GET"]),
    Route("/api/opinions/{id:int}/note", note, methods=["POST"]),
    Route("/api/opinions/{id:int}/merge", merge, methods=["POST"]),
]

ID = path_id("id", "opinion id")
CONFLICT = {"409": {**error_responses(409)["409"], "description": "not allowed now; see `allowed`"}}
spec = {
    "/api/opinions": {
        "post": {
            "summary": "Submit a deliberation opinion (a deputy of the meeting); "
            "opinion.submitted on desk:<meeting> and deputy:<me>",
            "requestBody": json_body(op.SubmitOpinion),
            "responses": {**ok(op.Opinion, 201), **error_responses(400, 401, 403, 404, 503)},
        },
        "get": {
            "summary": "Opinions, a page at a time with the total the filters match: a "
            "deputy's own; the desk's (secretariat, supervisor, admin) with filters",
            "parameters": [Query(op.OpinionQuery)],
            "responses": {**ok(op.OpinionPage), **error_responses(400, 401, 403)},
        },
    },
    "/api/opinions/{id}": {
        "get": {
            "summary": "One opinion (its deputy, or staff)",
            "parameters": [ID],
            "responses": {**ok(op.Opinion), **error_responses(401, 403, 404)},
        }
    },
    "/api/opinions/{id}/note": {
        "post": {
            "summary": "Mark noted (secretariat); opinion.noted on the desk and the deputy's inbox",
            "parameters": [ID],
            "responses": {**ok(op.Opinion), **error_responses(401, 403, 404, 503), **CONFLICT},
        }
    },
    "/api/opinions/{id}/merge": {
        "post": {
            "summary": "Merge into another opinion of the meeting (secretariat); opinions "
            "merged into this one follow it; opinion.merged to the desk and each deputy",
            "parameters": [ID],
            "requestBody": json_body(op.MergeOpinion),
            "responses": {**ok(op.Opinion), **error_responses(400, 401, 403, 404, 503), **CONFLICT},
        }
    },
}
