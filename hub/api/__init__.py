"""The HTTP API: JSON in and out, bearer tokens, errors as ``{"code", "message"}`` (plus
machine-readable parameters such as ``field``, from which the pages build their own text)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import shapes
from hub.errors import (
    Forbidden,
    HubError,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
)
from hub.params import MAX_ID
from hub.services import Services
from hub.session.members import Member, member
from hub.shapes import B

MAX_JSON = 256 * 1024


class _PathInt(IntegerConvertor):
    """``{name:int}`` in a route: at most 18 digits, so it always fits a BIGINT (a longer
    number matches no route: 404, not a database error)."""

    regex = "[0-9]{1,18}"


# Before any API module builds its routes (they are built when the module is imported).
register_url_convertor("int", _PathInt())


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def services(request: Request) -> Services:
    s: Services = request.app.state.services
    return s


def error_response(err: HubError) -> JSON:
    return JSON(err.as_dict(), status_code=err.status)


async def raw_body(request: Request, limit: int = MAX_JSON) -> bytes:
    """The request's body; :class:`TooLarge` past ``limit`` bytes, read no further."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def decode(request: Request, shape: type[B], limit: int = MAX_JSON) -> B:
    """The request's JSON body as ``shape`` (:func:`hub.shapes.decode`): :class:`BadRequest`
    naming the field at fault, :class:`TooLarge` past ``limit`` bytes."""
    return shapes.decode(await raw_body(request, limit), shape)


def query(request: Request, shape: type[B]) -> B:
    """The request's query parameters as ``shape`` (:func:`hub.shapes.convert`)."""
    return shapes.convert(request.query_params, shape)


# The GET routes a download token opens (declared with :func:`download_route`).
DOWNLOADS: list[Route] = []


def download_route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
    """A GET route a browser opens as a plain link: besides the bearer header it takes
    ``?download=<token>``, a short-lived token for this one path (``POST /api/downloads``)."""
    route = Route(path, endpoint, methods=["GET"])
    DOWNLOADS.append(route)
    return route


def is_download(path: str) -> bool:
    return any(r.path_regex.match(path) for r in DOWNLOADS)


async def principal(request: Request, roles: Iterable[str] | None = None) -> Member:
    """The caller, from ``Authorization: Bearer <token>`` (or, on a GET download route,
    ``?download=`` with a download token for that path); checks the role if given.
    The token's claims are left in ``request.state.claims``.

    A session token is never read from the URL: a URL is logged, kept in history and
    forwarded, and a forwarded link must not let its reader act as the sender.
    """
    s = services(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    download = request.query_params.get("download", "")
    if scheme.lower() == "bearer" and token:
        me, claims = await s.authenticate(token.strip())
    elif download and request.method == "GET" and is_download(request.url.path):
        me, claims = await s.authenticate(download, download_path=request.url.path)
    else:
        raise Unauthorized("missing `Authorization: Bearer <token>` header")
    if request.method != "GET" and not s.limits.allow(me.id):
        # Every write takes from the same bucket as the account's frames on /ws.
        raise RateLimited("too many requests and frames from this account: slow down")
    request.state.claims = claims  # the token's login, for logout and download links
    if roles is not None and me.role not in roles:
        raise Forbidden(f"a {me.role} may not do this; needs one of: {', '.join(roles)}")
    return member(me)


Handler = Callable[[Request], Awaitable[Response]]


def path_int(request: Request, name: str = "id") -> int:
    """An id from the path; one no row can have is simply not found."""
    v: int = request.path_params[name]
    if not 1 <= v <= MAX_ID:
        raise NotFound(f"no such {name} {v}")
    return v
