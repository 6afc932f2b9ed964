"""Duty points (履职积分): the rules (admins), the evaluation list, a deputy's entries,
disputes (``hub.supervision.points``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, path_int, principal, query, services
from hub.api.archive import congress_tz, now
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.api.performance import PeriodQuery, period
from hub.session.schema import delegations, users
from hub.shapes import Id, Named, Query, Shape, Timestamp
from hub.supervision import points
from hub.supervision.performance import deputy_row
from hub.supervision.points import (
    Dispute,
    DisputesQuery,
    Entry,
    NewDispute,
    Period,
    Resolution,
    RuleSetInput,
    RuleSetShape,
)

READERS = ("secretariat", "supervisor", "admin")


async def list_rules(request: Request) -> Response:
    await principal(request)
    async with services(request).log.reading() as conn:
        sets = await points.load_rulesets(conn)
    t = now(request)
    current = points.in_force(sets, t)
    return JSON(
        {
            "events": points.EVENTS,
            "periods": list(points.PERIODS),
            "in_force": None if current is None else current.id,
            "rulesets": [r.as_dict() for r in sets],
        }
    )


async def add_rules(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await decode(request, RuleSetInput)
    out = await points.add_ruleset(
        services(request).node, me, d, now(request), congress_tz(request)
    )
    return JSON(out, status_code=201)


async def withdraw_rules(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    rid = path_int(request)
    await points.withdraw_ruleset(services(request).node, me, rid, now(request))
    return JSON({"id": rid, "withdrawn": True})


async def evaluation_list(request: Request) -> Response:
    """Every deputy's total of the period, highest first."""
    await principal(request, roles=READERS)
    tz = congress_tz(request)
    t = now(request)
    asked = query(request, EvaluationQuery)
    start, end = period(asked, tz, t.astimezone(tz).date())
    delegation = asked.delegation
    async with services(request).log.reading() as conn:
        q = (
            sa.select(users.c.id, users.c.name, users.c.delegation_id, delegations.c.name)
            .select_from(users.outerjoin(delegations, delegations.c.id == users.c.delegation_id))
            .where(users.c.role == "deputy")
        )
        if delegation is not None:
            q = q.where(users.c.delegation_id == delegation)
        deps = (await conn.execute(q.order_by(users.c.id))).all()
        ids = {int(d.id) for d in deps}
        tallies = await points.tally(conn, ids, start, end, t, tz)
    rows = []
    for d in deps:
        tl = tallies.get(int(d.id)) or points.Tally.empty()
        rows.append(
            {
                "deputy": {"id": int(d.id), "name": d.name},
                "delegation": None
                if d.delegation_id is None
                else {"id": int(d.delegation_id), "name": d[3]},
                **tl.as_dict(with_entries=False),
            }
        )
    rows.sort(key=lambda r: (-r["total"], r["deputy"]["id"]))
    return JSON({"from": start.isoformat(), "to": end.isoformat(), "deputies": rows})


async def deputy_points(request: Request) -> Response:
    me = await principal(request)
    did = path_int(request)
    points.check_points_reader(me, did)
    tz = congress_tz(request)
    t = now(request)
    start, end = period(query(request, PeriodQuery), tz, t.astimezone(tz).date())
    async with services(request).log.reading() as conn:
        d = await deputy_row(conn, did)
        tl = (await points.tally(conn, {did}, start, end, t, tz)).get(did) or points.Tally.empty()
    return JSON(
        {
            "deputy": {"id": int(d.id), "name": d.name},
            "from": start.isoformat(),
            "to": end.isoformat(),
            **tl.as_dict(),
        }
    )


async def list_disputes(request: Request) -> Response:
    me = await principal(request)
    async with services(request).log.reading() as conn:
        out = await points.list_disputes(conn, me, query(request, DisputesQuery).state)
    return JSON({"disputes": out})


async def open_dispute(request: Request) -> Response:
    me = await principal(request, roles=("deputy",))
    d = await decode(request, NewDispute)
    out = await points.dispute(
        services(request).node, me, d.entry, d.reason, now(request), congress_tz(request)
    )
    return JSON(out, status_code=201)


async def resolve_dispute(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await decode(request, Resolution)
    out = await points.resolve(
        services(request).node, me, path_int(request), d.upheld, d.resolution, now(request)
    )
    return JSON(out)


routes = [
    Route("/api/points/rules", list_rules, methods=["GET"]),
    Route("/api/points/rules", add_rules, methods=["POST"]),
    Route("/api/points/rules/{id:int}", withdraw_rules, methods=["DELETE"]),
    Route("/api/points", evaluation_list, methods=["GET"]),
    Route("/api/deputies/{id:int}/points", deputy_points, methods=["GET"]),
    Route("/api/points/disputes", list_disputes, methods=["GET"]),
    Route("/api/points/disputes", open_dispute, methods=["POST"]),
    Route("/api/points/disputes/{id:int}/resolve", resolve_dispute, methods=["POST"]),
]


class EvaluationQuery(PeriodQuery):
    delegation: Annotated[Id, Meta(description="only this delegation's deputies")] | None = None


class Rules(Shape):
    events: Annotated[dict[str, str], Meta(description="each event a rule may name, explained")]
    periods: list[Period]
    in_force: Annotated[int | None, Meta(description="the version in force now")]
    rulesets: list[RuleSetShape]


class Withdrawn(Shape):
    id: int
    withdrawn: bool


class Totals(Shape):
    total: float
    by_event: dict[str, float]


class Ranked(Totals):
    deputy: Named
    delegation: Named | None


class EvaluationList(Shape):
    start: Timestamp = msgspec.field(name="from")
    end: Timestamp = msgspec.field(name="to")
    deputies: Annotated[list[Ranked], Meta(description="highest first")]


class DeputyPoints(Totals):
    deputy: Named
    start: Timestamp = msgspec.field(name="from")
    end: Timestamp = msgspec.field(name="to")
    entries: list[Entry]


class Disputes(Shape):
    disputes: list[Dispute]


spec = {
    "/api/points/rules": {
        "get": {
            "summary": "The points rules: every version, and the one in force now",
            "responses": {**ok(Rules), **error_responses(401)},
        },
        "post": {
            "summary": "Add a version of the rules from `valid_from` on (admin)",
            "requestBody": json_body(RuleSetInput),
            "responses": {**ok(RuleSetShape, 201), **error_responses(400, 401, 403, 409)},
        },
    },
    "/api/points/rules/{id}": {
        "delete": {
            "summary": "Withdraw a version not yet in force (admin)",
            "parameters": [path_id("id", "rule set id")],
            "responses": {**ok(Withdrawn), **error_responses(401, 403, 404, 409)},
        }
    },
    "/api/points": {
        "get": {
            "summary": "The evaluation list: each deputy's points of the period, highest "
            "first (secretariat, supervisor, admin)",
            "parameters": [Query(EvaluationQuery)],
            "responses": {**ok(EvaluationList), **error_responses(400, 401, 403)},
        }
    },
    "/api/deputies/{id}/points": {
        "get": {
            "summary": "A deputy's points of the period with every entry (the deputy, or "
            "secretariat, supervisor, admin)",
            "parameters": [path_id("id", "deputy id"), Query(PeriodQuery)],
            "responses": {**ok(DeputyPoints), **error_responses(400, 401, 403, 404)},
        }
    },
    "/api/points/disputes": {
        "get": {
            "summary": "Disputes (a deputy: their own)",
            "parameters": [Query(DisputesQuery)],
            "responses": {**ok(Disputes), **error_responses(400, 401, 403)},
        },
        "post": {
            "summary": "Dispute one of your points entries (the deputy)",
            "requestBody": json_body(NewDispute),
            "responses": {**ok(Dispute, 201), **error_responses(400, 401, 403, 404, 409)},
        },
    },
    "/api/points/disputes/{id}/resolve": {
        "post": {
            "summary": "Uphold (the entry counts 0) or reject a dispute (admin)",
            "parameters": [path_id("id", "dispute id")],
            "requestBody": json_body(Resolution),
            "responses": {**ok(Dispute), **error_responses(400, 401, 403, 404, 409)},
        }
    },
}
