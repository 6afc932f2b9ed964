"""Suggestions (代表建议): submission, co-signing, review and hand-over.

A suggestion is an item of kind ``suggestion`` (``hub.session.items``) from the moment
it is submitted; after hand-over it is handled with the item actions of
``hub.api.items`` (``/api/items/{id}/sign`` …), like a commit-to-do item.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, principal, query, services
from hub.api.items import CONFLICT, ID, action_endpoint
from hub.api.openapi import error_responses, json_body, ok
from hub.session import items as it
from hub.session import lifecycle as lc
from hub.session import suggestions
from hub.shapes import Query


async def submit(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, lc.SuggestionInput)
    return JSON(await suggestions.submit(services(request), me, d), status_code=201)


async def listing(request: Request) -> Response:
    me = await principal(request)
    f = msgspec.structs.replace(query(request, it.ItemQuery), kind=it.SUGGESTION)
    return JSON(await it.listing(services(request), me, f))


ACTIONS = tuple(a.name for a in lc.REGISTRY if a.on_existing and a.endpoint == "suggestions")

routes = [
    Route("/api/suggestions", submit, methods=["POST"]),
    Route("/api/suggestions", listing, methods=["GET"]),
    *(
        Route(f"/api/suggestions/{{id:int}}/{a}", action_endpoint(a), methods=["POST"])
        for a in ACTIONS
    ),
]

# Each action's summary; its request body is its ``input`` (hub.session.lifecycle).
ACTION_DOCS: dict[str, str] = {
    "cosign": "Confirm your co-signature (a co-signer asked, on their own device); when every "
    "co-signer has answered: cosigning → submitted",
    "decline": "Decline to co-sign (a co-signer asked); the suggestion goes on without you",
    "accept": "Accept the suggestion (立案) (secretariat): submitted → accepted",
    "not_accept": "Do not accept it, with a reason (secretariat): submitted → not_accepted (final)",
    "hand_over": "Hand the accepted suggestion over to a lead unit and co-units (交办) "
    "(secretariat): accepted → assigned; deadlines by the rules suggestion.* (reply_complex "
    "if complex)",
}


def _action_spec(action: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": f"{ACTION_DOCS[action]}; {lc.MESSAGE_KIND[action]} to the desk and the deputies",
        "parameters": [ID],
        "requestBody": json_body(lc.ACTION[action].input),
        "responses": {**ok(it.Item), **error_responses(400, 401, 403, 404, 503), **CONFLICT},
    }
    return {f"/api/suggestions/{{id}}/{action}": {"post": op}}


spec: dict[str, dict[str, Any]] = {
    "/api/suggestions": {
        "post": {
            "summary": "Submit a suggestion (a deputy of the meeting), alone or jointly: "
            "co-signers are asked on their inbox; suggestion.submitted",
            "requestBody": json_body(lc.SuggestionInput),
            "responses": {**ok(it.Item, 201), **error_responses(400, 401, 403, 404, 503)},
        },
        "get": {
            "summary": "Suggestions: /api/items with kind=suggestion",
            "parameters": [Query(it.ItemQuery, without=("kind",))],
            "responses": {**ok(it.ItemPage), **error_responses(400, 401, 403)},
        },
    },
}
for _a in ACTIONS:
    spec.update(_action_spec(_a))
