"""Channel history and publishing over HTTP, with the same permissions as ``/ws``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, body, principal, query_int, services
from hub.channels import check_publish, check_subscribe, parse_channel
from hub.errors import Unavailable
from hub.protocol import MAX_SEQ, parse_publish


async def history(request: Request) -> Response:
    me = await principal(request)
    ch = parse_channel(request.path_params["channel"])
    check_subscribe(me, ch)
    since = query_int(request, "since", 0, 0, MAX_SEQ)
    limit = query_int(request, "limit", 100, 1, 1000)
    s = services(request)
    msgs = await s.log.read(ch.name, since, limit)
    head = await s.log.head(ch.name)
    return JSON({"channel": ch.name, "head": head, "messages": [m.as_dict() for m in msgs]})


async def publish(request: Request) -> Response:
    me = await principal(request)
    ch = parse_channel(request.path_params["channel"])
    parsed = parse_publish({**await body(request), "channel": ch.name})
    check_publish(me, ch)
    s = services(request)
    if s.draining:
        raise Unavailable("server shutting down: publish again on another node")
    with s.work():
        msg, created = await s.node.publish(ch.name, parsed.kind, me, parsed.body, parsed.key)
    return JSON(
        {"channel": msg.channel, "seq": msg.seq, "id": msg.id, "created": created},
        status_code=201 if created else 200,
    )


routes = [
    Route("/api/channels/{channel}/messages", history, methods=["GET"]),
    Route("/api/channels/{channel}/messages", publish, methods=["POST"]),
]
