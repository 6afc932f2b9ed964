"""``/openapi.json``: the HTTP API described by the modules that serve it.

Each API module keeps its routes and, beside them, ``spec``: ``{path: {method: operation}}``
in OpenAPI 3.1. A request body, an answer or a set of query parameters is named there by
the Struct that also checks it (:class:`hub.shapes.Schema`, :class:`hub.shapes.Query`);
this module fills in their JSON Schema and merges the modules' operations with the shared
pieces (the error body, bearer auth). ``tests/test_openapi.py`` checks that every route is described and every described
route exists, and schemathesis checks responses against it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import __version__
from hub.api import JSON
from hub.errors import HTTP_STATUS
from hub.shapes import Query, Schema, Shape, parameters, schemas


class Error(Shape):
    """Every error's body: a code, a message for a developer, and machine-readable
    parameters from which a client builds its own text."""

    code: Annotated[str, Meta(extra_json_schema={"enum": list(HTTP_STATUS)})]
    message: str
    field: Annotated[str, Meta(description="bad_request: the field or parameter")] | None = None
    allowed: Annotated[list[str], Meta(description="conflict: next actions")] | None = None
    resets: Annotated[str, Meta(description="quota_exceeded: when it resets")] | None = None
    retry_after: Annotated[int, Meta(description="rate_limited: seconds to wait")] | None = None
    reason: (
        Annotated[
            str,
            Meta(
                description="conflict, bad_request: why, for the client's text "
                "(sitting_closed, roster_errors, roster_no_header …)"
            ),
        ]
        | None
    ) = None
    report: (
        Annotated[
            dict[str, Any], Meta(description="conflict roster_errors: the roster import's report")
        ]
        | None
    ) = None


ERROR = Schema(Error)


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


def json_body(shape: type, required: bool | None = None) -> dict[str, Any]:
    """A JSON request body: the Struct it is decoded into (required when the Struct has a
    required field, as an absent body counts as ``{}``)."""
    if required is None:
        info = msgspec.inspect.type_info(shape)
        assert isinstance(info, msgspec.inspect.StructType), shape
        required = any(f.required for f in info.fields)
    return {"required": required, "content": {"application/json": {"schema": Schema(shape)}}}


def ok(shape: Any, status: int = 200, description: str = "OK") -> dict[str, Any]:
    """A JSON answer: the Struct (or ``list[Struct]`` …) it is."""
    return {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": Schema(shape)}},
        }
    }


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


def _shapes(node: Any, found: dict[Any, None]) -> None:
    """Every shape named by a :class:`Schema` or :class:`Query` in ``node``, in order."""
    if isinstance(node, Schema | Query):
        found[node.shape] = None
    elif isinstance(node, dict):
        for v in node.values():
            _shapes(v, found)
    elif isinstance(node, list):
        for v in node:
            _shapes(v, found)


def _filled(node: Any, refs: dict[Any, dict[str, Any]], components: dict[str, Any]) -> Any:
    """``node`` with each :class:`Schema` replaced by its JSON Schema and each
    :class:`Query` by its parameters."""
    if isinstance(node, Schema):
        return refs[node.shape]
    if isinstance(node, dict):
        return {k: _filled(v, refs, components) for k, v in node.items()}
    if isinstance(node, list):
        out: list[Any] = []
        for v in node:
            if isinstance(v, Query):
                out += parameters(components[v.shape.__name__], v.without)
            else:
                out.append(_filled(v, refs, components))
        return out
    return node


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
    found: dict[Any, None] = {}
    _shapes(paths, found)
    refs, components = schemas(list(found))
    paths = _filled(paths, dict(zip(found, refs, strict=True)), components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Session Hub",
            "version": __version__,
            "description": "HTTP API of Session Hub. The WebSocket protocol is in docs/protocol.md.",
        },
        "components": {
            "schemas": components,
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
