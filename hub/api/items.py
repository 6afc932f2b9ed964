"""Items handed over to units (``hub.session.items``): commit-to-do items from opinions,
the lifecycle actions shared with suggestions, lists and timelines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, principal, query, raw_body, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.session import items as it
from hub.session import lifecycle as lc
from hub.shapes import Query


async def create(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, it.CommitInput)
    return JSON(await it.create_commit(services(request), me, d), status_code=201)


async def listing(request: Request) -> Response:
    me = await principal(request)
    return JSON(await it.listing(services(request), me, query(request, it.ItemQuery)))


async def overdue(request: Request) -> Response:
    me = await principal(request)
    f = msgspec.structs.replace(query(request, it.ItemQuery), overdue=True)
    return JSON(await it.listing(services(request), me, f))


async def seen(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, it.SeenInput)
    return JSON(await it.mark_seen(services(request), me, d))


async def get(request: Request) -> Response:
    me = await principal(request)
    return JSON(await it.get(services(request), me, request.path_params["id"]))


async def events(request: Request) -> Response:
    me = await principal(request)
    out = await it.events(services(request), me, request.path_params["id"])
    return JSON({"events": out})


def action_endpoint(action: str) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a lifecycle action: its body is decoded into the action's ``input``
    once the caller is known to be allowed the action now (a 403 or 409 before a 400)."""

    async def endpoint(request: Request) -> Response:
        me = await principal(request)
        raw = await raw_body(request)
        return JSON(await it.act(services(request), me, request.path_params["id"], action, raw))

    endpoint.__name__ = action
    return endpoint


# The lifecycle actions posted under /api/items; the review-phase ones are under
# /api/suggestions (hub.api.suggestions). Both lists are views of the lifecycle registry.
ACTIONS = tuple(a.name for a in lc.REGISTRY if a.on_existing and a.endpoint == "items")

routes = [
    Route("/api/items", create, methods=["POST"]),
    Route("/api/items", listing, methods=["GET"]),
    Route("/api/items/overdue", overdue, methods=["GET"]),
    Route("/api/items/seen", seen, methods=["POST"]),
    Route("/api/items/{id:int}", get, methods=["GET"]),
    Route("/api/items/{id:int}/events", events, methods=["GET"]),
    *(Route(f"/api/items/{{id:int}}/{a}", action_endpoint(a), methods=["POST"]) for a in ACTIONS),
]

# -- OpenAPI -------------------------------------------------------------------------------

ID = path_id("id", "item id")
CONFLICT = {"409": {**error_responses(409)["409"], "description": "not allowed now; see `allowed`"}}
# (who, summary); the request body is the action's ``input`` (hub.session.lifecycle)
ACTION_DOCS: dict[str, tuple[str, str]] = {
    "sign": ("lead unit", "Sign for the item (签收): assigned → in_progress"),
    "return": ("lead unit", "Return the item with a reason (退回): assigned → returned"),
    "reassign": (
        "secretariat",
        "Hand a returned item over again (to another unit): returned → assigned; deadlines restart",
    ),
    "co_opinion": ("co-unit", "Send the co-unit's opinion to the lead unit (协办意见)"),
    "contact": (
        "lead unit",
        "Record a contact with the item's deputy (or all, without deputy_id)",
    ),
    "request_extension": ("lead unit", "Ask for a later reply deadline"),
    "approve_extension": (
        "secretariat",
        "Approve the pending extension (optionally with another date): the reply deadline moves",
    ),
    "refuse_extension": ("secretariat", "Refuse the pending extension; the deadline stays"),
    "reply": (
        "lead unit",
        "Reply (答复) with grade A solved, B being solved, C planned, D for reference; needs "
        "every co-unit's opinion first (first round): → replied",
    ),
    "close_unevaluated": (
        "secretariat",
        "Close a replied item whose evaluation deadline has passed without every deputy's "
        "evaluation (closed_reason no_evaluation: no rating is recorded for the missing "
        "ones); if a deputy rated it unsatisfied this round it goes to re-handling instead",
    ),
    "confirm_contact": (
        "deputy of the item",
        "Confirm a contact the lead unit recorded with you (contact_id; default: the oldest "
        "waiting for you)",
    ),
    "dispute_contact": (
        "deputy of the item",
        "Dispute a contact the lead unit recorded with you, with a reason (contact_id; "
        "default: the oldest waiting for you)",
    ),
    "ask": (
        "deputy of the item",
        "Ask the lead unit a follow-up question (追问), one open at a time per deputy; the "
        "item counts it in questions_open until answered",
    ),
    "answer": (
        "lead unit",
        "Answer a deputy's follow-up question (question_id; default: the oldest waiting)",
    ),
    "message": (
        "a deputy of the item, a unit on it, the secretariat",
        "Say something about the item to its deputies, units and the secretariat while it "
        "is open (item.message, on its timeline)",
    ),
    "evaluate": (
        "deputy of the item",
        "Evaluate the reply (满意度测评), once per round; when every deputy has: → closed, or "
        "→ rehandling with a new deadline if any is unsatisfied",
    ),
}


def action_spec(action: str) -> dict[str, Any]:
    who, summary = ACTION_DOCS[action]
    op: dict[str, Any] = {
        "summary": f"{summary} ({who}); item.{lc.MESSAGE_KIND[action].split('.', 1)[1]} to the "
        "desk, the item's deputies and units",
        "parameters": [ID],
        "requestBody": json_body(lc.ACTION[action].input),
        "responses": {**ok(it.Item), **error_responses(400, 401, 403, 404, 503), **CONFLICT},
    }
    return {f"/api/items/{{id}}/{action}": {"post": op}}


spec: dict[str, dict[str, Any]] = {
    "/api/items": {
        "post": {
            "summary": "Create a commit-to-do item (马上办) from opinions and hand it over "
            "(secretariat); item.handed_over to the desk, its deputies and units",
            "requestBody": json_body(it.CommitInput),
            "responses": {
                **ok(it.Item, 201),
                **error_responses(400, 401, 403, 404, 503),
                **CONFLICT,
            },
        },
        "get": {
            "summary": "Items, by id or by deadline (`order`): a deputy's own, a unit's own, "
            "every item for staff; with filters",
            "parameters": [Query(it.ItemQuery)],
            "responses": {**ok(it.ItemPage), **error_responses(400, 401, 403)},
        },
    },
    "/api/items/overdue": {
        "get": {
            "summary": "The overdue board: items past the deadline they wait on, most "
            "overdue first (same scope and filters as /api/items)",
            "parameters": [Query(it.ItemQuery)],
            "responses": {**ok(it.ItemPage), **error_responses(400, 401, 403)},
        }
    },
    "/api/items/seen": {
        "post": {
            "summary": "Record that the caller (a unit's account) has seen these items of "
            "its unit: opened them or acknowledged the hand-over alert. Stored per person, "
            "not in the log; their `seen` is then true on every device until the item is "
            "handed over again. Another unit's item: forbidden; an unknown one: not_found; "
            "a refused request records nothing",
            "requestBody": json_body(it.SeenInput),
            "responses": {**ok(it.Seen), **error_responses(400, 401, 403, 404, 503)},
        }
    },
    "/api/items/{id}": {
        "get": {
            "summary": "One item with its text, reply, co-unit opinions and evaluations",
            "parameters": [ID],
            "responses": {**ok(it.ItemDetail), **error_responses(401, 403, 404)},
        }
    },
    "/api/items/{id}/events": {
        "get": {
            "summary": "The item's timeline (item_events), oldest first",
            "parameters": [ID],
            "responses": {**ok(it.ItemEvents), **error_responses(401, 403, 404)},
        }
    },
}
for _a in ACTIONS:
    spec.update(action_spec(_a))
