"""Web Push: the hub's public key and each person's registered browsers
(``hub.reach.subscriptions``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, path_int, principal, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.reach import subscriptions as subs


async def key(request: Request) -> Response:
    await principal(request)
    reach = request.app.state.workflows.reach.reach
    return JSON({"channel": reach.name, "key": reach.public_key})


async def list_mine(request: Request) -> Response:
    me = await principal(request)
    return JSON({"subscriptions": await subs.list_mine(services(request).node, me)})


async def subscribe(request: Request) -> Response:
    me = await principal(request)
    d = await decode(request, subs.SubscribeInput)
    s = services(request)
    out = await subs.subscribe(s.node, me, d, insecure=s.settings.push_insecure_origins)
    return JSON(out, status_code=201)


async def unsubscribe(request: Request) -> Response:
    me = await principal(request)
    await subs.unsubscribe(services(request).node, me, path_int(request))
    return Response(status_code=204)


routes = [
    Route("/api/push/key", key, methods=["GET"]),
    Route("/api/push/subscriptions", list_mine, methods=["GET"]),
    Route("/api/push/subscriptions", subscribe, methods=["POST"]),
    Route("/api/push/subscriptions/{id:int}", unsubscribe, methods=["DELETE"]),
]

spec = {
    "/api/push/key": {
        "get": {
            "summary": "The key a browser subscribes with (VAPID application server key, "
            "base64url); null when no push service is configured (channel `log`)",
            "responses": {**ok(subs.PushKey), **error_responses(401)},
        }
    },
    "/api/push/subscriptions": {
        "get": {
            "summary": "The caller's registered browsers (never their keys)",
            "responses": {**ok(subs.Subscriptions), **error_responses(401)},
        },
        "post": {
            "summary": "Register (or renew) the caller's browser: its PushSubscription "
            "(https endpoint of a push service, keys p256dh and auth); the same endpoint "
            "again replaces its row; at most 10 per person (the oldest is forgotten)",
            "requestBody": json_body(subs.SubscribeInput),
            "responses": {**ok(subs.Subscription, 201), **error_responses(400, 401, 503)},
        },
    },
    "/api/push/subscriptions/{id}": {
        "delete": {
            "summary": "Remove one of the caller's browsers (another person's: 403)",
            "parameters": [path_id("id", "subscription id")],
            "responses": {
                "204": {"description": "removed"},
                **error_responses(401, 403, 404, 503),
            },
        }
    },
}
