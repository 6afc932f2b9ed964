"""Notices: send, list, the exact tally, the follow-up and its call list, re-push,
correct and withdraw (``hub.session.notices``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, path_int, principal, services
from hub.api.meetings import MEETING_ID
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.session import notices as n


async def send(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, n.NoticeInput)
    s = services(request)
    out = await n.send_notice(
        s.node,
        me,
        path_int(request),
        title=d.title,
        text=d.text or "",
        urgent=bool(d.urgent),
        confirm=bool(d.confirm),
        delegation_ids=d.delegations,
        deputy_ids=d.deputies,
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
    d = await decode(request, n.RepushInput)
    s = services(request)
    out = await n.repush(
        s.node,
        me,
        path_int(request),
        who=d.who or "missing",
        reach=request.app.state.workflows.reach,
        wait=s.settings.push_timeout,
    )
    return JSON(out)


async def correct(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, n.CorrectionInput)
    out = await n.correct_notice(
        services(request).node, me, path_int(request), d.title, d.text, d.reason
    )
    return JSON(out)


async def withdraw(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, n.WithdrawalInput)
    return JSON(await n.withdraw_notice(services(request).node, me, path_int(request), d.reason))


routes = [
    Route("/api/meetings/{id:int}/notices", list_notices, methods=["GET"]),
    Route("/api/meetings/{id:int}/notices", send, methods=["POST"]),
    Route("/api/notices/{id:int}/tally", tally, methods=["GET"]),
    Route("/api/notices/{id:int}/followup", follow_up, methods=["GET"]),
    Route("/api/notices/{id:int}/calls", call_list, methods=["GET"]),
    Route("/api/notices/{id:int}/repush", repush, methods=["POST"]),
    Route("/api/notices/{id:int}/correct", correct, methods=["POST"]),
    Route("/api/notices/{id:int}/withdraw", withdraw, methods=["POST"]),
]

NOTICE_ID = path_id("id", "notice id")
spec = {
    "/api/meetings/{id}/notices": {
        "get": {
            "summary": "Notices of a meeting: staff see all with their last tallied counts; a "
            "deputy sees the notices addressed to them, with their own delivered_at and read_at",
            "parameters": [MEETING_ID],
            "responses": {**ok(n.Notices), **error_responses(401, 403, 404)},
        },
        "post": {
            "summary": "Send a notice (secretariat) to the whole meeting (no lists), or to the "
            "deputies of `delegations` and the listed `deputies` (given but all empty: 400). "
            "Publishes `notice` on each target channel and notice.sent on desk:<meeting>",
            "parameters": [MEETING_ID],
            "requestBody": json_body(n.NoticeInput),
            "responses": {**ok(n.NoticeSent, 201), **error_responses(400, 401, 403, 404, 503)},
        },
    },
    "/api/notices/{id}/tally": {
        "get": {
            "summary": "The exact delivered/read tally now, with who has neither "
            "(missing_people) and who has it unread (staff)",
            "parameters": [NOTICE_ID],
            "responses": {**ok(n.TallyReport), **error_responses(401, 403, 404)},
        }
    },
    "/api/notices/{id}/followup": {
        "get": {
            "summary": "Who to follow up (staff), by delegation: per delegation with anyone "
            "missing (neither receipt) or unread (delivered, not read), its counts and names; "
            "the delegations with the most missing first, then the most unread",
            "parameters": [NOTICE_ID],
            "responses": {**ok(n.FollowUp), **error_responses(401, 403, 404)},
        }
    },
    "/api/notices/{id}/calls": {
        "get": {
            "summary": "The follow-up with its call list: one row per missing or unread person, "
            "in the follow-up's order, with the roster's phone number (secretariat and admins "
            "only; anyone else: 403 forbidden)",
            "parameters": [NOTICE_ID],
            "responses": {**ok(n.Calls), **error_responses(401, 403, 404)},
        }
    },
    "/api/notices/{id}/repush": {
        "post": {
            "summary": "Re-push the notice (secretariat) to the inbox deputy:<id> of each "
            "addressee with neither receipt (who=missing, the default) or not read "
            "(who=unread); publishes notice.repushed on desk:<meeting>",
            "parameters": [NOTICE_ID],
            "requestBody": json_body(n.RepushInput),
            "responses": {**ok(n.RepushAnswer), **error_responses(400, 401, 403, 404, 409, 503)},
        }
    },
    "/api/notices/{id}/correct": {
        "post": {
            "summary": "Correct a sent notice (the secretariat of its meeting): its new title "
            "and/or text and why; publishes notice.corrected on every channel the notice went "
            "to and on desk:<meeting>. Answers the notice as it now stands. Withdrawn: 409 "
            "conflict (reason notice_withdrawn); nothing changed: 400 (reason notice_unchanged)",
            "parameters": [NOTICE_ID],
            "requestBody": json_body(n.CorrectionInput),
            "responses": {**ok(n.Notice), **error_responses(400, 401, 403, 404, 409, 503)},
        }
    },
    "/api/notices/{id}/withdraw": {
        "post": {
            "summary": "Withdraw a sent notice (the secretariat of its meeting), with the "
            "reason; publishes notice.withdrawn on every channel the notice went to and on "
            "desk:<meeting>. Final: a withdrawn notice is not corrected, withdrawn or re-pushed "
            "again (409 conflict, reason notice_withdrawn)",
            "parameters": [NOTICE_ID],
            "requestBody": json_body(n.WithdrawalInput),
            "responses": {**ok(n.Notice), **error_responses(400, 401, 403, 404, 409, 503)},
        }
    },
}
