"""Deadline rules (``hub.session.deadline_rules``): read them; change one (admin)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, principal, services
from hub.api.openapi import error_responses, json_body, ok
from hub.session import setup
from hub.session.deadline_rules import (
    DEFAULTS,
    DeadlineRule,
    DeadlineRules,
    RuleChange,
    load_rules,
    save_rule,
    validate,
)


async def list_rules(request: Request) -> Response:
    await principal(request)
    async with services(request).log.reading() as conn:
        rules = await load_rules(conn)
    return JSON({"rules": [r.as_dict() for r in rules.values()]})


async def put_rule(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await decode(request, RuleChange)
    rule = validate(request.path_params["name"], d)
    s = services(request)
    async with s.node.writing() as w:
        was = (await load_rules(w.conn))[rule.name]
        await save_rule(w.conn, rule, me.id, s.clock.now())
        if (was.amount, was.unit) != (rule.amount, rule.unit):
            body = {"rule": rule.as_dict(), "was": {"amount": was.amount, "unit": was.unit}}
            await setup.record(w, me, "deadline_rule_changed", body)
    return JSON(rule.as_dict())


routes = [
    Route("/api/deadline-rules", list_rules, methods=["GET"]),
    Route("/api/admin/deadline-rules/{name}", put_rule, methods=["PUT"]),
]

spec = {
    "/api/deadline-rules": {
        "get": {
            "summary": "The deadline rules in force (sign, reply, co-unit opinion, second "
            "reply, the deputies' evaluation, due-soon window; per item kind)",
            "responses": {
                **ok(DeadlineRules),
                **error_responses(401),
            },
        }
    },
    "/api/admin/deadline-rules/{name}": {
        "put": {
            "summary": "Change a deadline rule (admin); applies to deadlines set afterwards; "
            "logged as setup.deadline_rule_changed on setup:1 with what it was",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"enum": list(DEFAULTS)}}
            ],
            "requestBody": json_body(RuleChange),
            "responses": {**ok(DeadlineRule), **error_responses(400, 401, 403, 404, 503)},
        }
    },
}
