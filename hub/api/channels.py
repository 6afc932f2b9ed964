"""Channel history and publishing over HTTP, with the same permissions as ``/ws``."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, principal, query, raw_body, services
from hub.api.openapi import error_responses, json_body, ok
from hub.channels import parse_channel
from hub.protocol import MAX_SEQ, Message, PublishFields, parse_publish_body
from hub.shapes import Body, Query, Shape


async def history(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    ch = parse_channel(request.path_params["channel"])
    s.channels.check_subscribe(me, ch)
    q = query(request, HistoryQuery)
    msgs = await s.log.read(ch.name, q.since, q.limit)
    head = await s.log.head(ch.name)
    return JSON({"channel": ch.name, "head": head, "messages": [m.as_dict() for m in msgs]})


async def publish_raw(request: Request) -> Response:
    """The same limits as a ``/ws`` publish: the body is at most ``HUB_MAX_FRAME`` bytes, it
    takes a frame from the account's bucket (as every write does, in :func:`principal`),
    and counts against its daily quota."""
    me = await principal(request)
    s = services(request)
    ch = parse_channel(request.path_params["channel"])
    parsed = parse_publish_body(await raw_body(request, s.settings.max_frame), ch)
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
    Route("/api/channels/{channel}/messages", publish_raw, methods=["POST"]),
]

CHANNEL = {
    "name": "channel",
    "in": "path",
    "required": True,
    "schema": {
        "type": "string",
        "pattern": "^(meeting|delegation|desk|deputy|unit|setup):[1-9][0-9]{0,17}$",
    },
}


class HistoryQuery(Body):
    since: Annotated[int, Meta(ge=0, le=MAX_SEQ, description="after this seq; default 0")] = 0
    limit: Annotated[int, Meta(ge=1, le=1000, description="how many at most; default 100")] = 100


class History(Shape):
    channel: str
    head: Annotated[int, Meta(description="the channel's last seq")]
    messages: list[Message]


class Stored(Shape):
    channel: str
    seq: int
    id: int
    created: Annotated[bool, Meta(description="false: already stored with this key")]


spec = {
    "/api/channels/{channel}/messages": {
        "get": {
            "summary": "A channel's stored messages after `since`, in seq order",
            "parameters": [CHANNEL, Query(HistoryQuery)],
            "responses": {
                **ok(History),
                **error_responses(400, 401, 403, 503),
            },
        },
        "post": {
            "summary": "Publish raw (the secretariat; workflow kinds are reserved, see "
            "docs/protocol.md); idempotent with `key`",
            "parameters": [CHANNEL],
            "requestBody": json_body(PublishFields),
            "responses": {
                **ok(Stored, 201, "stored"),
                **ok(Stored, 200, "already stored with this key"),
                **error_responses(400, 401, 403, 413, 429, 503),
            },
        },
    }
}
