"""The ASGI application: routes, static client, error handling, start and stop."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from hub.api import (
    JSON,
    admin,
    archive,
    attendance,
    calendar,
    channels,
    conversations,
    deadlines,
    devices,
    directory,
    documents,
    error_response,
    items,
    login,
    meetings,
    notices,
    openapi,
    opinions,
    ops,
    performance,
    points,
    push,
    roster,
    search,
    setup,
    speakers,
    statistics,
    suggestions,
)
from hub.api.idempotency import IdempotencyMiddleware
from hub.api.login import LoginLimiter
from hub.assets import Assets
from hub.broker import Broker
from hub.config import Settings
from hub.errors import HubError, Internal
from hub.services import Services
from hub.session.workflows import Workflows
from hub.ws import websocket_endpoint

log = logging.getLogger("hub")

STATIC = Path(__file__).resolve().parent.parent / "static"
WS_PATH = "/ws"

ASSETS = Assets(STATIC) if STATIC.is_dir() else None
# Answers are gzip-compressed for a browser that accepts it (a list of opinions shrinks to a
# fifth on a hall's crowded network), except media that are compressed already and the
# archive's exports (streams of many megabytes, encoded off the event loop, which
# compressing on it would block; a supervisor downloads them on the office network). Tokens
# travel in headers, never cookies, so a compressed answer gives an eavesdropper nothing
# to probe (BREACH needs the browser to send a secret on an attacker's request).
PACKED = (
    "text/csv", "application/x-ndjson",
    "image/*", "audio/*", "video/*", "application/pdf", "application/zip", "application/gzip",
    "application/octet-stream",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)  # fmt: skip


def csp(script_hashes: tuple[str, ...] = ()) -> str:
    """The pages load their scripts and styles from /static only (ES modules and
    textsize.js; the one inline script is the import map, allowed by its hash; no style
    attribute) and talk to this origin only; nobody may frame them."""
    scripts = " ".join(("'self'", *script_hashes))
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


SECURITY_HEADERS = (
    (b"content-security-policy", csp(ASSETS.script_hashes if ASSETS else ()).encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # a download link's token never leaves in Referer
)


def _secured(send: Send) -> Send:
    """``send`` adding :data:`SECURITY_HEADERS` to every HTTP response (pages, API,
    errors) that does not set its own (a document's ``sandbox`` policy)."""

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            have = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in SECURITY_HEADERS if k not in have]
            message = {**message, "headers": headers}
        await send(message)

    return secured


async def _hub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "bad_request", 413: "too_large"}.get(
        exc.status_code, "bad_request"
    )
    return JSON({"code": code, "message": str(exc.detail)}, status_code=exc.status_code)


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("request %s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(Internal("internal error; it has been logged"))


async def _index(request: Request) -> Response:
    return RedirectResponse("/static/index.html")


class HubApp(Starlette):
    """Starlette, except that ``/ws`` goes straight to its endpoint, and that every HTTP
    response gets :data:`SECURITY_HEADERS`, errors included (an exception handler's answer
    is sent from outside any middleware).

    A WebSocket's ASGI task lives as long as the socket, and every middleware and router
    frame on its stack lives with it: skipping them saves about 5 KB per connection and
    hands the endpoint the server's own ``send`` (for ``hub.server.direct_writer``).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == WS_PATH:
            scope["app"] = self
            scope["hub.send"] = send
            await websocket_endpoint(WebSocket(scope, receive, send))
            return
        if scope["type"] == "http":
            send = _secured(send)
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, broker: Broker | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    services = Services(settings, broker)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    # Each API module brings its routes and their OpenAPI description.
    api_modules = [ops, login, devices, channels, admin, meetings, documents, notices]
    api_modules += [attendance, speakers]
    api_modules += [directory, archive, performance, points, statistics]
    api_modules += [opinions, items, suggestions, calendar, deadlines, push, roster, setup]
    api_modules += [conversations, search]
    routes = [
        Route("/", _index),
        openapi.route([m.spec for m in api_modules]),
        *(r for m in api_modules for r in m.routes),
    ]
    if ASSETS is not None:
        routes.append(Route("/static/{path:path}", ASSETS.serve, methods=["GET"]))
        # The pages name /static/favicon.svg; browsers and tools that ask for the
        # conventional address get the same icon rather than a 404.
        routes.append(Route("/favicon.ico", ASSETS.serve_file("favicon.svg"), methods=["GET"]))
    app = HubApp(
        routes=routes,
        # Idempotency inside gzip: it keeps and replays answers as the endpoint made them.
        middleware=[
            Middleware(GZipMiddleware, minimum_size=1024, exclude_content_types=PACKED),
            Middleware(IdempotencyMiddleware, services=services),
        ],
        lifespan=lifespan,
        exception_handlers={HubError: _hub_error, HTTPException: _http_error, Exception: _crash},
    )
    app.state.services = services
    app.state.workflows = Workflows(services)
    app.state.login_limiter = LoginLimiter(settings.login_rate, settings.login_address_rate)
    return app
