"""Suggestions (代表建议): submission, co-signing, review and hand-over.

A suggestion is an item of kind ``suggestion`` (``hub.session.items``) from the moment
it is submitted; after hand-over it is handled with the item actions of
``hub.api.items`` (``/api/items/{id}/sign`` …), like a commit-to-do item.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, principal, services
from hub.api.items import CONFLICT, ID, ITEM, LIST, LIST_PARAMS, REASON, TEXT, action_endpoint
from hub.api.items import filters as item_filters
from hub.api.openapi import BOOL, INT, error_responses, json_body, obj, ok
from hub.session import items as it
from hub.session import lifecycle as lc
from hub.session import suggestions


async def submit(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    return JSON(await suggestions.submit(services(request), me, d), status_code=201)


async def listing(request: Request) -> Response:
    me = await principal(request)
    f = item_filters(request, kind=it.SUGGESTION)
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

ACTION_DOCS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "cosign": (
        "Confirm your co-signature (a co-signer asked, on their own device); when every "
        "co-signer has answered: cosigning → submitted",
        obj([], note=REASON),
    ),
    "decline": (
        "Decline to co-sign (a co-signer asked); the suggestion goes on without you",
        obj([], reason=REASON),
    ),
    "accept": (
        "Accept the suggestion (立案) (secretariat): submitted → accepted",
        obj([], note=REASON),
    ),
    "not_accept": (
        "Do not accept it, with a reason (secretariat): submitted → not_accepted (final)",
        obj(["reason"], reason=REASON),
    ),
    "hand_over": (
        "Hand the accepted suggestion over to a lead unit and co-units (交办) (secretariat): "
        "accepted → assigned; deadlines by the rules suggestion.* (reply_complex if complex)",
        obj(
            ["lead_unit_id"],
            lead_unit_id=INT,
            co_unit_ids={"type": "array", "items": INT},
            complex={**BOOL, "description": "wide-ranging or difficult: the longer reply rule"},
        ),
    ),
}


def _action_spec(action: str) -> dict[str, Any]:
    summary, schema = ACTION_DOCS[action]
    op: dict[str, Any] = {
        "summary": f"{summary}; {lc.MESSAGE_KIND[action]} to the desk and the deputies",
        "parameters": [ID],
        "responses": {**ok(ITEM), **error_responses(400, 401, 403, 404, 503), **CONFLICT},
    }
    if schema is not None:
        op["requestBody"] = json_body(schema, required=bool(schema.get("required")))
    return {f"/api/suggestions/{{id}}/{action}": {"post": op}}


spec: dict[str, dict[str, Any]] = {
    "/api/suggestions": {
        "post": {
            "summary": "Submit a suggestion (a deputy of the meeting), alone or jointly: "
            "co-signers are asked on their inbox; suggestion.submitted",
            "requestBody": json_body(
                obj(
                    ["meeting_id", "title", "text"],
                    meeting_id=INT,
                    title={"type": "string", "minLength": 1, "maxLength": 300},
                    text=TEXT,
                    cosigner_ids={
                        "type": "array",
                        "items": INT,
                        "description": "deputies of the meeting asked to co-sign (联名)",
                    },
                )
            ),
            "responses": {**ok(ITEM, 201), **error_responses(400, 401, 403, 404, 503)},
        },
        "get": {
            "summary": "Suggestions: /api/items with kind=suggestion",
            "parameters": [p for p in LIST_PARAMS if p["name"] != "kind"],
            "responses": {**LIST, **error_responses(400, 401, 403)},
        },
    },
}
for _a in ACTIONS:
    spec.update(_action_spec(_a))
