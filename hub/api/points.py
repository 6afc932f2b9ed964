"""Duty points (履职积分): the rules (admins), the evaluation list, a deputy's entries,
disputes (``hub.supervision.points``)."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, path_int, principal, query_id, services
from hub.api.archive import congress_tz, now
from hub.api.openapi import BOOL, INT, STR, error_responses, json_body, obj, ok
from hub.api.performance import PERIOD, period
from hub.errors import BadRequest
from hub.session.schema import delegations, users
from hub.supervision import points
from hub.supervision.performance import deputy_row

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
    out = await points.add_ruleset(
        services(request).node, me, await body(request), now(request), congress_tz(request)
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
    start, end = period(request, tz, t.astimezone(tz).date())
    delegation = query_id(request, "delegation")
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
    start, end = period(request, tz, t.astimezone(tz).date())
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
        out = await points.list_disputes(conn, me, request.query_params.get("state") or None)
    return JSON({"disputes": out})


async def open_dispute(request: Request) -> Response:
    me = await principal(request, roles=("deputy",))
    d = await body(request)
    entry, reason = d.get("entry"), d.get("reason")
    if not isinstance(entry, str) or not entry or len(entry) > 120:
        raise BadRequest("`entry` must be the key of one of your points entries, e.g. speech:17")
    if not isinstance(reason, str):
        raise BadRequest("`reason` must be a string: say what is wrong")
    out = await points.dispute(
        services(request).node, me, entry, reason, now(request), congress_tz(request)
    )
    return JSON(out, status_code=201)


async def resolve_dispute(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await body(request)
    upheld, resolution = d.get("upheld"), d.get("resolution")
    if not isinstance(upheld, bool):
        raise BadRequest("`upheld` must be true (the entry counts 0) or false (it stands)")
    if not isinstance(resolution, str):
        raise BadRequest("`resolution` must be a string: tell the deputy why")
    out = await points.resolve(
        services(request).node, me, path_int(request), upheld, resolution, now(request)
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

ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
NUM = {"type": "number"}
RULE = obj(
    ["event", "points"],
    event={"enum": list(points.EVENTS)},
    points=NUM,
    cap={"type": ["number", "null"]},
    period={"enum": list(points.PERIODS)},
)
RULESET = obj(
    ["id", "valid_from", "rules"],
    id=INT,
    valid_from=STR,
    rules={"type": "array", "items": RULE},
    note=STR,
    created_by=INT,
    created_at=STR,
)
ENTRY = obj(
    ["key", "event", "rule", "ts", "points", "ruleset"],
    key=STR,
    event=STR,
    rule=STR,
    title=STR,
    ts=STR,
    points=NUM,
    rule_points=NUM,
    capped=BOOL,
    voided=BOOL,
    ruleset=INT,
    dispute={"type": ["object", "null"]},
)
DISPUTE = obj(
    ["id", "deputy_id", "entry", "reason", "state"],
    id=INT,
    deputy_id=INT,
    entry=STR,
    reason=STR,
    state={"enum": ["open", "upheld", "rejected"]},
    resolution={"type": ["string", "null"]},
)
spec = {
    "/api/points/rules": {
        "get": {
            "summary": "The points rules: every version, and the one in force now",
            "responses": {
                **ok(
                    obj(
                        ["rulesets", "in_force"],
                        events={"type": "object"},
                        periods={"type": "array"},
                        in_force={"type": ["integer", "null"]},
                        rulesets={"type": "array", "items": RULESET},
                    )
                ),
                **error_responses(401),
            },
        },
        "post": {
            "summary": "Add a version of the rules from `valid_from` on (admin)",
            "requestBody": json_body(
                obj(
                    ["valid_from", "rules"],
                    valid_from=STR,
                    rules={"type": "array", "items": RULE},
                    note=STR,
                )
            ),
            "responses": {**ok(RULESET, 201), **error_responses(400, 401, 403, 409)},
        },
    },
    "/api/points/rules/{id}": {
        "delete": {
            "summary": "Withdraw a version not yet in force (admin)",
            "parameters": [ID],
            "responses": {
                **ok(obj(["id", "withdrawn"], id=INT, withdrawn=BOOL)),
                **error_responses(401, 403, 404, 409),
            },
        }
    },
    "/api/points": {
        "get": {
            "summary": "The evaluation list: each deputy's points of the period, highest "
            "first (secretariat, supervisor, admin)",
            "parameters": [
                *PERIOD,
                {"name": "delegation", "in": "query", "schema": {"type": "integer"}},
            ],
            "responses": {
                **ok(obj(["deputies"], deputies={"type": "array"}, **{"from": STR, "to": STR})),
                **error_responses(400, 401, 403),
            },
        }
    },
    "/api/deputies/{id}/points": {
        "get": {
            "summary": "A deputy's points of the period with every entry (the deputy, or "
            "secretariat, supervisor, admin)",
            "parameters": [ID, *PERIOD],
            "responses": {
                **ok(
                    obj(
                        ["deputy", "total", "by_event", "entries"],
                        deputy={"type": "object"},
                        total=NUM,
                        by_event={"type": "object"},
                        entries={"type": "array", "items": ENTRY},
                    )
                ),
                **error_responses(400, 401, 403, 404),
            },
        }
    },
    "/api/points/disputes": {
        "get": {
            "summary": "Disputes (a deputy: their own)",
            "parameters": [
                {
                    "name": "state",
                    "in": "query",
                    "schema": {"enum": ["open", "upheld", "rejected"]},
                }
            ],
            "responses": {
                **ok(obj(["disputes"], disputes={"type": "array", "items": DISPUTE})),
                **error_responses(400, 401, 403),
            },
        },
        "post": {
            "summary": "Dispute one of your points entries (the deputy)",
            "requestBody": json_body(obj(["entry", "reason"], entry=STR, reason=STR)),
            "responses": {**ok(DISPUTE, 201), **error_responses(400, 401, 403, 404, 409)},
        },
    },
    "/api/points/disputes/{id}/resolve": {
        "post": {
            "summary": "Uphold (the entry counts 0) or reject a dispute (admin)",
            "parameters": [ID],
            "requestBody": json_body(obj(["upheld", "resolution"], upheld=BOOL, resolution=STR)),
            "responses": {**ok(DISPUTE), **error_responses(400, 401, 403, 404, 409)},
        }
    },
}
