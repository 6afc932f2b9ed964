"""Channel history and publishing over HTTP, with the same permissions as ``/ws``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, principal, query_int, services
from hub.api.openapi import BOOL, INT, STR, error_responses, json_body, obj, ok
from hub.channels import parse_channel
from hub.protocol import MAX_SEQ, parse_publish


async def history(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    ch = parse_channel(request.path_params["channel"])
    s.channels.check_subscribe(me, ch)
    since = query_int(request, "since", 0, 0, MAX_SEQ)
    limit = query_int(request, "limit", 100, 1, 1000)
    msgs = await s.log.read(ch.name, since, limit)
    head = await s.log.head(ch.name)
    return JSON({"channel": ch.name, "head": head, "messages": [m.as_dict() for m in msgs]})


async def publish(request: Request) -> Response:
    """The same limits as a ``/ws`` publish: the body is at most ``HUB_MAX_FRAME`` bytes, it
    takes a frame from the account's bucket (as every write does, in :func:`principal`),
    and counts against its daily quota."""
    me = await principal(request)
    s = services(request)
    ch = parse_channel(request.path_params["channel"])
    parsed = parse_publish({**await body(request, s.settings.max_frame), "channel": ch.name})
    s.channels.check_publish(me, ch, parsed.kind)
    msg, created = await s.node.publish(
        ch.name, parsed.kind, me, parsed.body, parsed.key, s.charge_publish
    )
    return JSON(
        {"channel": msg.channel, "seq": msg.seq, "id": msg.id, "created": created},
        status_code=201 if created else 200,
    )


routes = [
    Route("/api/channels/{channel}/messages", history, methods=["GET"]),
    Route("/api/channels/{channel}/messages", publish, methods=["POST"]),
]

CHANNEL = {
    "name": "channel",
    "in": "path",
    "required": True,
    "schema": {
        "type": "string",
        "pattern": "^(meeting|delegation|desk|deputy|unit):[1-9][0-9]{0,17}$",
    },
}
MESSAGE = obj(
    ["channel", "seq", "id", "kind", "sender", "body", "ts"],
    channel=STR,
    seq=INT,
    id=INT,
    kind=STR,
    sender=obj(["id", "name", "role"], id=INT, name=STR, role=STR),
    body={"type": "object"},
    ts=STR,
)
PUBLISHED = obj(["channel", "seq", "id", "created"], channel=STR, seq=INT, id=INT, created=BOOL)
spec = {
    "/api/channels/{channel}/messages": {
        "get": {
            "summary": "A channel's stored messages after `since`, in seq order",
            "parameters": [
                CHANNEL,
                {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
            ],
            "responses": {
                **ok(
                    obj(
                        ["channel", "head", "messages"],
                        channel=STR,
                        head=INT,
                        messages={"type": "array", "items": MESSAGE},
                    )
                ),
                **error_responses(400, 401, 403, 503),
            },
        },
        "post": {
            "summary": "Publish raw (the secretariat; workflow kinds are reserved, see "
            "docs/protocol.md); idempotent with `key`",
            "parameters": [CHANNEL],
            "requestBody": json_body(
                obj(
                    ["kind"],
                    kind={"type": "string", "pattern": "^[a-z][a-z0-9_.\\-]{0,63}$"},
                    body={"type": "object"},
                    key={"type": "string", "minLength": 1, "maxLength": 128},
                )
            ),
            "responses": {
                **ok(PUBLISHED, 201, "stored"),
                **ok(PUBLISHED, 200, "already stored with this key"),
                **error_responses(400, 401, 403, 413, 429, 503),
            },
        },
    }
}
