"""``/openapi.json``: the HTTP API described by the modules that serve it.

Each API module keeps its routes and, beside them, ``spec``: ``{path: {method: operation}}``
in OpenAPI 3.1. This module merges them with the shared pieces (the error body, bearer
auth). ``tests/test_openapi.py`` checks that every route is described and every described
route exists, and schemathesis checks responses against it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import __version__
from hub.api import JSON
from hub.errors import HTTP_STATUS

ERROR = {"$ref": "#/components/schemas/Error"}


def error_responses(*codes: int) -> dict[str, Any]:
    """Response entries for the error statuses an operation can return."""
    names = {status: code for code, status in HTTP_STATUS.items()}
    return {
        str(c): {
            "description": names.get(c, "error"),
            "content": {"application/json": {"schema": ERROR}},
        }
        for c in codes
    }


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def ok(schema: dict[str, Any], status: int = 200, description: str = "OK") -> dict[str, Any]:
    return {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        d["required"] = required
    return d


INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
AUTH_ERRORS = error_responses(401, 403)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A key the client makes for this request (a UUID), to send it again safely: "
    "the same request with the same key gets the first answer (header "
    "`Idempotency-Replayed: true`) and is not done twice; another request with it is "
    "refused with 422 `key_reused`; one sent while the first still runs waits for its "
    "answer, or 409 `conflict` (`key_in_flight`). Per account, kept 24 hours. "
    "See docs/protocol.md.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$"},
}


def document(specs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        for path, ops in spec.items():
            paths.setdefault(path, {}).update(ops)
    for path, ops in paths.items():
        for method, op in ops.items():
            extra: dict[str, Any] = {}
            if "{" in path:  # a path value its route's pattern does not match is a 404
                extra.update(error_responses(404))
            params = list(op.get("parameters", []))
            if method != "get" and op.get("security") != []:
                extra.update(error_responses(429))  # the account's request bucket is spent
                # Every authenticated write takes a key (hub/api/idempotency.py).
                extra.update(error_responses(400, 409, 413, 422))
                params.append(IDEMPOTENCY_KEY)
            ops[method] = {**op, "parameters": params, "responses": {**extra, **op["responses"]}}
            if not params:
                del ops[method]["parameters"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Session Hub",
            "version": __version__,
            "description": "HTTP API of Session Hub. The WebSocket protocol is in docs/protocol.md.",
        },
        "components": {
            "schemas": {
                "Error": obj(
                    ["code", "message"],
                    code={"type": "string", "enum": list(HTTP_STATUS)},
                    message=STR,
                    # Machine-readable parameters, from which a client builds its own text.
                    field={"type": "string", "description": "bad_request: the field or parameter"},
                    allowed={
                        "type": "array",
                        "items": STR,
                        "description": "conflict: next actions",
                    },
                    resets={"type": "string", "description": "quota_exceeded: when it resets"},
                    retry_after={"type": "integer", "description": "rate_limited: seconds to wait"},
                    reason={
                        "type": "string",
                        "description": "conflict, bad_request: why, for the client's text "
                        "(sitting_closed, roster_errors, roster_no_header …)",
                    },
                    report={
                        "type": "object",
                        "description": "conflict roster_errors: the roster import's report",
                    },
                )
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


def route(specs: list[dict[str, dict[str, Any]]]) -> Route:
    doc = document(specs)

    async def openapi(request: Request) -> Response:
        return JSON(doc)

    return Route("/openapi.json", openapi, methods=["GET"])


def path_id(name: str = "id", what: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": what,
        "schema": {"type": "integer"},
    }


TS = {"type": "string", "format": "date-time"}
NULL_TS = {"type": ["string", "null"], "format": "date-time"}
NULL_INT = {"type": ["integer", "null"]}
PERSON = obj(["id", "name"], id=INT, name=STR)
