"""Notices: send, list, the exact tally, the follow-up and its call list, re-push
(``hub.session.notices``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, field, int_list, path_int, principal, services
from hub.api.meetings import MEETING_ID
from hub.api.openapi import (
    BOOL,
    INT,
    NULL_INT,
    NULL_TS,
    PERSON,
    STR,
    error_responses,
    json_body,
    obj,
    ok,
    path_id,
)
from hub.session import notices as n


async def send(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    s = services(request)
    out = await n.send_notice(
        s.node,
        me,
        path_int(request),
        title=field(d, "title", str),
        text=field(d, "text", str, required=False) or "",
        urgent=bool(field(d, "urgent", bool, required=False)),
        confirm=bool(field(d, "confirm", bool, required=False)),
        delegation_ids=int_list(d, "delegations"),
        deputy_ids=int_list(d, "deputies"),
        reach=request.app.state.workflows.reach,
    )
    return JSON(out, status_code=201)


async def list_notices(request: Request) -> Response:
    me = await principal(request)
    out = await n.list_notices(services(request).node, me, path_int(request))
    return JSON({"notices": out})


async def tally(request: Request) -> Response:
    me = await principal(request)
    return JSON(await n.tally(services(request).node, me, path_int(request)))


async def follow_up(request: Request) -> Response:
    me = await principal(request)
    return JSON(await n.follow_up(services(request).node, me, path_int(request)))


async def call_list(request: Request) -> Response:
    me = await principal(request)
    return JSON(await n.call_list(services(request).node, me, path_int(request)))


async def repush(request: Request) -> Response:
    me = await principal(request)
    d = await body(request)
    s = services(request)
    out = await n.repush(
        s.node,
        me,
        path_int(request),
        who=field(d, "who", str, required=False) or "missing",
        reach=request.app.state.workflows.reach,
        wait=s.settings.push_timeout,
    )
    return JSON(out)


routes = [
    Route("/api/meetings/{id:int}/notices", list_notices, methods=["GET"]),
    Route("/api/meetings/{id:int}/notices", send, methods=["POST"]),
    Route("/api/notices/{id:int}/tally", tally, methods=["GET"]),
    Route("/api/notices/{id:int}/followup", follow_up, methods=["GET"]),
    Route("/api/notices/{id:int}/calls", call_list, methods=["GET"]),
    Route("/api/notices/{id:int}/repush", repush, methods=["POST"]),
]

IDS = {"type": "array", "items": INT}
NOTICE = obj(
    [
        "id",
        "meeting_id",
        "title",
        "text",
        "urgent",
        "confirm",
        "audience",
        "created_at",
        "addressees",
    ],
    id=INT,
    meeting_id=INT,
    title=STR,
    text=STR,
    urgent=BOOL,
    confirm=BOOL,
    audience=obj(
        ["meeting", "delegations", "deputies"], meeting=BOOL, delegations=IDS, deputies=IDS
    ),
    created_at=NULL_TS,
    addressees=INT,
    delivered={**INT, "description": "staff only: delivered count of the last tally"},
    read={**INT, "description": "staff only: read count of the last tally"},
    delivered_at={
        **NULL_TS,
        "description": "a deputy's list only: when the notice reached one of their devices "
        "(an ack at or past it, or a read); null when not yet",
    },
    read_at={
        **NULL_TS,
        "description": "a deputy's list only: when they read (or confirmed) it; null when not yet",
    },
)
PEOPLE = {"type": "array", "items": PERSON}
REACH_STATES = obj(
    ["accepted", "gone", "failed", "pending"],
    accepted={**INT, "description": "the push service took it"},
    gone={**INT, "description": "the device's subscription had expired (removed)"},
    failed={**INT, "description": "refused, or still failing after every retry"},
    pending={**INT, "description": "still being retried"},
)
REACH = {
    "type": "object",
    "description": "beyond the WebSocket (docs/reach.md): `live` had a page open, "
    "`unreached` had none and no registered device; one more key names the channel "
    "(`webpush`, or `log` when none is configured) with its counts",
    "required": ["live", "unreached"],
    "properties": {"live": INT, "unreached": INT},
    "additionalProperties": True,
}
NOTICE_ID = path_id("id", "notice id")
NULL_STR = {"type": ["string", "null"]}
FOLLOW_UP = obj(
    [
        "notice",
        "notice_title",
        "meeting_id",
        "addressees",
        "delivered",
        "read",
        "missing",
        "unread",
        "delegations",
    ],
    notice=INT,
    notice_title=STR,
    meeting_id=INT,
    addressees=INT,
    delivered=INT,
    read=INT,
    missing={**INT, "description": "addressees with neither receipt"},
    unread={**INT, "description": "delivered but not read"},
    delegations={
        "type": "array",
        "items": obj(
            [
                "delegation_id",
                "delegation_name",
                "addressees",
                "missing",
                "unread",
                "missing_people",
                "unread_people",
            ],
            delegation_id=NULL_INT,
            delegation_name=NULL_STR,
            addressees={**INT, "description": "of this delegation"},
            missing=INT,
            unread=INT,
            missing_people=PEOPLE,
            unread_people=PEOPLE,
        ),
    },
)
CALL = obj(
    ["id", "name", "delegation_id", "delegation_name", "state", "phone"],
    id=INT,
    name=STR,
    delegation_id=NULL_INT,
    delegation_name=NULL_STR,
    state={"enum": ["missing", "unread"]},
    phone={**NULL_STR, "description": "digits as the roster holds them; null when it holds none"},
)
CALLS = {
    **FOLLOW_UP,
    "required": [*FOLLOW_UP["required"], "calls"],
    "properties": {**FOLLOW_UP["properties"], "calls": {"type": "array", "items": CALL}},
}
spec = {
    "/api/meetings/{id}/notices": {
        "get": {
            "summary": "Notices of a meeting: staff see all with their last tallied counts; a "
            "deputy sees the notices addressed to them, with their own delivered_at and read_at",
            "parameters": [MEETING_ID],
            "responses": {
                **ok(obj(["notices"], notices={"type": "array", "items": NOTICE})),
                **error_responses(401, 403, 404),
            },
        },
        "post": {
            "summary": "Send a notice (secretariat) to the whole meeting (no lists), or to the "
            "deputies of `delegations` and the listed `deputies` (given but all empty: 400). Publishes `notice` on each "
            "target channel and notice.sent on desk:<meeting>",
            "parameters": [MEETING_ID],
            "requestBody": json_body(
                obj(
                    ["title"],
                    title=STR,
                    text=STR,
                    urgent=BOOL,
                    confirm={**BOOL, "description": "the deputy confirms by sending `read`"},
                    delegations={**IDS, "description": "delegation ids"},
                    deputies={
                        **IDS,
                        "description": "deputy user ids (each gets it on deputy:<id>)",
                    },
                )
            ),
            "responses": {
                **ok(
                    {
                        **NOTICE,
                        "properties": {
                            **NOTICE["properties"],
                            "channels": {
                                "type": "array",
                                "items": obj(["channel", "seq"], channel=STR, seq=INT),
                            },
                            "reach": REACH,
                        },
                    },
                    201,
                ),
                **error_responses(400, 401, 403, 404, 503),
            },
        },
    },
    "/api/notices/{id}/tally": {
        "get": {
            "summary": "The exact delivered/read tally now, with who has neither "
            "(missing_people) and who has it unread (staff)",
            "parameters": [NOTICE_ID],
            "responses": {
                **ok(
                    obj(
                        [
                            "notice",
                            "notice_title",
                            "meeting_id",
                            "addressees",
                            "delivered",
                            "read",
                            "missing",
                            "missing_people",
                            "unread_people",
                            "people",
                        ],
                        notice=INT,
                        notice_title=STR,
                        meeting_id=INT,
                        addressees=INT,
                        delivered=INT,
                        read=INT,
                        missing={**INT, "description": "addressees with neither receipt"},
                        missing_people=PEOPLE,
                        unread_people={**PEOPLE, "description": "delivered but not read"},
                        people={
                            "type": "array",
                            "items": obj(
                                ["id", "name", "delegation_id", "delivered_at", "read_at"],
                                id=INT,
                                name=STR,
                                delegation_id=NULL_INT,
                                delivered_at=NULL_TS,
                                read_at=NULL_TS,
                                reach={
                                    "type": ["object", "null"],
                                    "description": "their last reach beyond the WebSocket",
                                    "properties": {
                                        "channel": STR,
                                        "state": {
                                            "enum": ["pending", "accepted", "gone", "failed"]
                                        },
                                        "attempts": INT,
                                    },
                                },
                            ),
                        },
                        reach={
                            "type": "object",
                            "description": "per channel, the states of the people's last reach",
                            "additionalProperties": REACH_STATES,
                        },
                    )
                ),
                **error_responses(401, 403, 404),
            },
        }
    },
    "/api/notices/{id}/followup": {
        "get": {
            "summary": "Who to follow up (staff), by delegation: per delegation with anyone "
            "missing (neither receipt) or unread (delivered, not read), its counts and names; "
            "the delegations with the most missing first, then the most unread",
            "parameters": [NOTICE_ID],
            "responses": {**ok(FOLLOW_UP), **error_responses(401, 403, 404)},
        }
    },
    "/api/notices/{id}/calls": {
        "get": {
            "summary": "The follow-up with its call list: one row per missing or unread person, "
            "in the follow-up's order, with the roster's phone number (secretariat and admins "
            "only; anyone else: 403 forbidden)",
            "parameters": [NOTICE_ID],
            "responses": {**ok(CALLS), **error_responses(401, 403, 404)},
        }
    },
    "/api/notices/{id}/repush": {
        "post": {
            "summary": "Re-push the notice (secretariat) to the inbox deputy:<id> of each "
            "addressee with neither receipt (who=missing, the default) or not read "
            "(who=unread); publishes notice.repushed on desk:<meeting>",
            "parameters": [NOTICE_ID],
            "requestBody": json_body(obj(who={"enum": ["missing", "unread"]}), required=False),
            "responses": {
                **ok(
                    obj(
                        ["notice", "who", "repushed"],
                        notice=INT,
                        who=STR,
                        repushed={
                            "type": "array",
                            "items": obj(
                                ["id", "name", "channel", "seq"],
                                id=INT,
                                name=STR,
                                channel=STR,
                                seq=INT,
                            ),
                        },
                        reach=REACH,
                    )
                ),
                **error_responses(400, 401, 403, 404, 503),
            },
        }
    },
}
