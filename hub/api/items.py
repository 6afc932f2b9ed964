"""Items handed over to units (``hub.session.items``): commit-to-do items from opinions,
the lifecycle actions shared with suggestions, lists and timelines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, principal, query_id, query_int, query_words, services
from hub.api.openapi import BOOL, INT, STR, error_responses, json_body, obj, ok
from hub.errors import BadRequest
from hub.session import items as it
from hub.session import lifecycle as lc
from hub.session.members import CONTACTS


def filters(request: Request, kind: str | None = None, overdue: bool = False) -> it.Filters:
    q = request.query_params
    raw_overdue = q.get("overdue", "")
    if raw_overdue not in ("", "true", "false", "1", "0"):
        raise BadRequest("`overdue` must be true or false", field="overdue")
    return it.Filters(
        meeting_id=query_id(request, "meeting_id"),
        kind=kind or q.get("kind") or None,
        states=tuple(s for s in q.get("state", "").split(",") if s),
        unit_id=query_id(request, "unit_id"),
        deputy_id=query_id(request, "deputy_id"),
        overdue=overdue or raw_overdue in ("true", "1"),
        words=query_words(request),
        order=q.get("order") or "oldest",
        before_id=query_id(request, "before_id"),
        limit=query_int(request, "limit", 100, 1, 500),
        offset=query_int(request, "offset", 0, 0, 2**62),
    )


async def create(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    return JSON(await it.create_commit(services(request), me, d), status_code=201)


async def listing(request: Request) -> Response:
    me = await principal(request)
    return JSON(await it.listing(services(request), me, filters(request)))


async def overdue(request: Request) -> Response:
    me = await principal(request)
    return JSON(await it.listing(services(request), me, filters(request, overdue=True)))


async def seen(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    return JSON(await it.mark_seen(services(request), me, d))


async def get(request: Request) -> Response:
    me = await principal(request)
    return JSON(await it.get(services(request), me, request.path_params["id"]))


async def events(request: Request) -> Response:
    me = await principal(request)
    out = await it.events(services(request), me, request.path_params["id"])
    return JSON({"events": out})


def action_endpoint(action: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        me = await principal(request)
        d = await body(request)
        return JSON(await it.act(services(request), me, request.path_params["id"], action, d))

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

TS = {"type": "string", "format": "date-time"}
NULL_TS = {"type": ["string", "null"], "format": "date-time"}
NULL_STR = {"type": ["string", "null"]}
DEADLINE = {
    "type": "string",
    "description": "YYYY-MM-DD (the end of that day in HUB_TIMEZONE) or an ISO datetime "
    "with offset; in the future",
}
REASON = {"type": "string", "minLength": 1, "maxLength": 2000}
TEXT = {"type": "string", "minLength": 1, "maxLength": 20000}
NAMED = obj(["id", "name"], id=INT, name=STR)
ITEM = obj(
    [
        "id",
        "kind",
        "meeting_id",
        "title",
        "state",
        "round",
        "lead_unit",
        "co_units",
        "deputies",
        "due",
        "overdue",
    ],
    id=INT,
    kind={"enum": list(lc.KINDS)},
    meeting_id=INT,
    title=STR,
    state={"enum": list(lc.STATES)},
    round={**INT, "description": "handling round: 1, then 2 after re-handling …"},
    complex=BOOL,
    lead_unit={"oneOf": [NAMED, {"type": "null"}]},
    co_units={"type": "array", "items": NAMED},
    deputies={
        "type": "array",
        "items": obj(
            ["id", "name", "role", "status"],
            id=INT,
            name=STR,
            role={"enum": ["author", "cosigner", "opinion"]},
            status={"enum": ["confirmed", "pending", "declined"]},
        ),
    },
    sign_due=NULL_TS,
    reply_due=NULL_TS,
    due={**NULL_TS, "description": "the deadline the item waits on now (sign or reply)"},
    overdue=BOOL,
    extension_until={**NULL_TS, "description": "an extension request waiting for a decision"},
    grade={"enum": [*lc.GRADES, None]},
    created_at=TS,
    handed_over_at=NULL_TS,
    replied_at=NULL_TS,
    closed_at=NULL_TS,
    closed_reason={
        "enum": [*lc.CLOSED_REASONS, None],
        "description": "closed by the deputies' evaluations, or by the secretariat after the "
        "evaluation deadline without them (no_evaluation: counted as no rating)",
    },
    evaluation_due={**NULL_TS, "description": "while replied: the deputies' evaluation deadline"},
    updated_at=TS,
    seen={
        **BOOL,
        "description": "for a unit's account (answers and lists, never in messages): whether "
        "this person has seen the item since it was last handed over (POST /api/items/seen, "
        "or an action of theirs on it)",
    },
    actions={
        "type": "array",
        "description": "for the caller (answers and lists, never in messages): each action "
        "in play on the item now that is theirs, allowed or not; a refused one has the "
        "reason as a code the pages translate",
        "items": obj(
            ["name", "allowed", "path"],
            name={"enum": list(lc.ACTIONS)},
            allowed=BOOL,
            path={**STR, "description": "where it is posted"},
            reason=obj(
                ["code", "params"],
                code={"enum": list(lc.REASON_CODES)},
                params={"type": "object"},
            ),
        ),
    },
)
ITEM_DETAIL = {
    "allOf": [
        ITEM,
        obj(
            ["text"],
            text=STR,
            extension_reason=NULL_STR,
            reply_text=NULL_STR,
            review_reason=NULL_STR,
            return_reason=NULL_STR,
            unit_opinions={
                "type": "array",
                "items": obj(
                    ["unit_id"], unit_id=INT, opinion_due=NULL_TS, text=NULL_STR, at=NULL_TS
                ),
            },
            evaluations={
                "type": "array",
                "items": obj(
                    ["round", "deputy_id", "rating"],
                    round=INT,
                    deputy_id=INT,
                    rating={"enum": list(lc.RATINGS)},
                    reason=NULL_STR,
                    at=TS,
                ),
            },
            contacts={
                "type": "array",
                "description": "only for an account of a unit now on the item: how to reach "
                "its deputies (the roster's phone and preferred contact); absent for anyone else",
                "items": obj(
                    ["deputy_id", "name", "phone", "preferred_contact"],
                    deputy_id=INT,
                    name=STR,
                    phone=NULL_STR,
                    preferred_contact={"enum": [*CONTACTS, None]},
                ),
            },
        ),
    ]
}
EVENT = obj(
    ["id", "item_id", "action", "actor", "from", "to", "round", "payload", "at"],
    id=INT,
    item_id=INT,
    action=STR,
    actor=obj(["id", "role"], id=INT, role=STR, unit_id={"type": ["integer", "null"]}),
    to=STR,
    round=INT,
    payload={"type": "object"},
    at=TS,
    **{"from": NULL_STR},
)
ID = {"name": "id", "in": "path", "required": True, "schema": INT}
CONFLICT = {"409": {**error_responses(409)["409"], "description": "not allowed now; see `allowed`"}}
ASSIGNMENT = obj(
    ["lead_unit_id"],
    lead_unit_id=INT,
    co_unit_ids={"type": "array", "items": INT},
    deadline={
        **DEADLINE,
        "description": "reply deadline (commit-to-do items only); "
        "default: the rule commit.reply. " + DEADLINE["description"],
    },
)

# (who, summary, request body or None)
ACTION_DOCS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "sign": ("lead unit", "Sign for the item (签收): assigned → in_progress", obj([], note=REASON)),
    "return": (
        "lead unit",
        "Return the item with a reason (退回): assigned → returned",
        obj(["reason"], reason=REASON),
    ),
    "reassign": (
        "secretariat",
        "Hand a returned item over again (to another unit): returned → assigned; deadlines restart",
        ASSIGNMENT,
    ),
    "co_opinion": (
        "co-unit",
        "Send the co-unit's opinion to the lead unit (协办意见)",
        obj(["text"], text=TEXT),
    ),
    "contact": (
        "lead unit",
        "Record a contact with the item's deputy (or all, without deputy_id)",
        obj(
            ["method", "note"],
            method={"enum": list(lc.CONTACT_METHODS)},
            note=REASON,
            deputy_id=INT,
        ),
    ),
    "request_extension": (
        "lead unit",
        "Ask for a later reply deadline",
        obj(["until", "reason"], until=DEADLINE, reason=REASON),
    ),
    "approve_extension": (
        "secretariat",
        "Approve the pending extension (optionally with another date): the reply deadline moves",
        obj([], until=DEADLINE),
    ),
    "refuse_extension": (
        "secretariat",
        "Refuse the pending extension; the deadline stays",
        obj([], reason=REASON),
    ),
    "reply": (
        "lead unit",
        "Reply (答复) with grade A solved, B being solved, C planned, D for reference; needs "
        "every co-unit's opinion first (first round): → replied",
        obj(["grade", "text"], grade={"enum": list(lc.GRADES)}, text=TEXT),
    ),
    "close_unevaluated": (
        "secretariat",
        "Close a replied item whose evaluation deadline has passed without every deputy's "
        "evaluation (closed_reason no_evaluation: no rating is recorded for the missing "
        "ones); if a deputy rated it unsatisfied this round it goes to re-handling instead",
        obj([], note=REASON),
    ),
    "evaluate": (
        "deputy of the item",
        "Evaluate the reply (满意度测评), once per round; when every deputy has: → closed, or "
        "→ rehandling with a new deadline if any is unsatisfied",
        obj(
            ["rating"],
            rating={"enum": list(lc.RATINGS)},
            reason={**REASON, "description": "required for unsatisfied"},
        ),
    ),
}


def _q(name: str, schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": what}


LIST_PARAMS = [
    _q("meeting_id", INT, "only this meeting"),
    _q("kind", {"enum": list(lc.KINDS)}, "commit or suggestion"),
    _q("state", STR, "comma-separated states, e.g. assigned,in_progress"),
    _q("unit_id", INT, "only items this unit is on (lead or co)"),
    _q("deputy_id", INT, "only items of this deputy"),
    _q("overdue", {"enum": ["true", "false"]}, "only items past the deadline they wait on"),
    _q(
        "q",
        {"type": "string", "maxLength": 100},
        "words (space-separated, all must match) in the title or the text",
    ),
    _q(
        "order",
        {"enum": list(it.ORDERS)},
        "oldest (default) or newest, by id; deadline: the items waiting on a deadline "
        "first, the nearest (most overdue) first, then the others newest first "
        "(/api/items/overdue: always most overdue first)",
    ),
    _q(
        "before_id",
        INT,
        "only ids below this one: the next page of a newest-first list that a new item "
        "does not shift (the total still counts every match)",
    ),
    _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "default 100"),
    _q("offset", {"type": "integer", "minimum": 0}, "default 0"),
]
LIST = ok(
    obj(
        ["items", "total", "by_state"],
        items={"type": "array", "items": ITEM},
        total={**INT, "description": "every item the filters match, not only this page"},
        by_state={
            "type": "object",
            "additionalProperties": INT,
            "description": "the items the other filters match, per state, as if no `state` "
            "were asked for (a state none is in is left out)",
        },
    )
)


def action_spec(action: str) -> dict[str, Any]:
    who, summary, schema = ACTION_DOCS[action]
    op: dict[str, Any] = {
        "summary": f"{summary} ({who}); item.{lc.MESSAGE_KIND[action].split('.', 1)[1]} to the "
        "desk, the item's deputies and units",
        "parameters": [ID],
        "responses": {**ok(ITEM), **error_responses(400, 401, 403, 404, 503), **CONFLICT},
    }
    if schema is not None:
        op["requestBody"] = json_body(schema, required=bool(schema.get("required")))
    return {f"/api/items/{{id}}/{action}": {"post": op}}


spec: dict[str, dict[str, Any]] = {
    "/api/items": {
        "post": {
            "summary": "Create a commit-to-do item (马上办) from opinions and hand it over "
            "(secretariat); item.handed_over to the desk, its deputies and units",
            "requestBody": json_body(
                {
                    "allOf": [
                        ASSIGNMENT,
                        obj(
                            ["opinion_ids", "title"],
                            opinion_ids={"type": "array", "items": INT, "minItems": 1},
                            title={"type": "string", "minLength": 1, "maxLength": 300},
                            text={**TEXT, "description": "default: the opinions' texts"},
                        ),
                    ]
                }
            ),
            "responses": {**ok(ITEM, 201), **error_responses(400, 401, 403, 404, 503), **CONFLICT},
        },
        "get": {
            "summary": "Items, by id or by deadline (`order`): a deputy's own, a unit's own, "
            "every item for staff; with filters",
            "parameters": LIST_PARAMS,
            "responses": {**LIST, **error_responses(400, 401, 403)},
        },
    },
    "/api/items/overdue": {
        "get": {
            "summary": "The overdue board: items past the deadline they wait on, most "
            "overdue first (same scope and filters as /api/items)",
            "parameters": LIST_PARAMS,
            "responses": {**LIST, **error_responses(400, 401, 403)},
        }
    },
    "/api/items/seen": {
        "post": {
            "summary": "Record that the caller (a unit's account) has seen these items of "
            "its unit: opened them or acknowledged the hand-over alert. Stored per person, "
            "not in the log; their `seen` is then true on every device until the item is "
            "handed over again. Another unit's item: forbidden; an unknown one: not_found; "
            "a refused request records nothing",
            "requestBody": json_body(
                obj(
                    ["item_ids"],
                    item_ids={
                        "type": "array",
                        "items": INT,
                        "minItems": 1,
                        "maxItems": it.MAX_SEEN,
                        "uniqueItems": True,
                    },
                )
            ),
            "responses": {
                **ok(
                    obj(
                        ["item_ids", "seen_at"],
                        item_ids={"type": "array", "items": INT},
                        seen_at=TS,
                    )
                ),
                **error_responses(400, 401, 403, 404, 503),
            },
        }
    },
    "/api/items/{id}": {
        "get": {
            "summary": "One item with its text, reply, co-unit opinions and evaluations",
            "parameters": [ID],
            "responses": {**ok(ITEM_DETAIL), **error_responses(401, 403, 404)},
        }
    },
    "/api/items/{id}/events": {
        "get": {
            "summary": "The item's timeline (item_events), oldest first",
            "parameters": [ID],
            "responses": {
                **ok(obj(["events"], events={"type": "array", "items": EVENT})),
                **error_responses(401, 403, 404),
            },
        }
    },
}
for _a in ACTIONS:
    spec.update(action_spec(_a))
