"""The archive (supervisors and admins): search, export and verify the stored record."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated

import sqlalchemy as sa
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from hub.api import JSON, download_route, principal, query, services
from hub.api.openapi import error_responses, ok
from hub.session.channels import parse_congress_channel
from hub.shapes import Body, Id, Query
from hub.store.log import db_errors
from hub.supervision import export
from hub.supervision.archive import (
    ArchivePage,
    FilterQuery,
    Filters,
    MessagesQuery,
    People,
    people,
    search,
)
from hub.supervision.verify import VerifyReport, verify_log

AUDITORS = ("supervisor", "admin")


def congress_tz(request: Request) -> tzinfo:
    """The zone (``HUB_TIMEZONE``) in which a bare date such as ``since=2026-03-01`` starts."""
    return services(request).clock.tz


def now(request: Request) -> datetime:
    """The hub's time (``services.clock``, which tests may set)."""
    return services(request).clock.now()


async def archive_messages(request: Request) -> Response:
    await principal(request, roles=AUDITORS)
    q = query(request, MessagesQuery)
    f = Filters.of(q, congress_tz(request))
    async with services(request).log.reading() as conn:
        page = await search(conn, f, q.limit, q.cursor, q.order == "desc", q.receipts == "1")
    return JSON(page.as_dict())


async def archive_people(request: Request) -> Response:
    await principal(request, roles=AUDITORS)
    async with services(request).log.reading() as conn:
        return JSON({"people": await people(conn)})


async def export_dataset(request: Request) -> Response:
    await principal(request, roles=AUDITORS)
    name = request.path_params["dataset"]
    q = query(request, ExportQuery)
    fmt = q.format
    now = services(request).clock.now()
    ds = export.dataset(name, Filters.of(q, congress_tz(request)), fmt, q.user, now)
    engine = services(request).engine
    # Fail with 503 before the 200 is sent if the database cannot be reached.
    async with db_errors(), engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
    return StreamingResponse(
        export.stream(engine, ds, fmt),
        media_type=export.FORMATS[fmt],
        headers={"content-disposition": f'attachment; filename="{name}.{fmt}"'},
    )


async def verify(request: Request) -> Response:
    await principal(request, roles=AUDITORS)
    channel = query(request, VerifyQuery).channel
    if channel is not None:
        channel = parse_congress_channel(channel).name
    report = await verify_log(services(request).engine, channel)
    return JSON(report.as_dict())


routes = [
    Route("/api/archive/messages", archive_messages, methods=["GET"]),
    Route("/api/archive/people", archive_people, methods=["GET"]),
    download_route("/api/archive/export/{dataset}", export_dataset),
    Route("/api/archive/verify", verify, methods=["GET"]),
]


class ExportQuery(FilterQuery):
    """An export: the archive's filters, the format, and (receipts) whose."""

    format: Annotated[export.Format, Meta(description="csv (default) or jsonl")] = "csv"
    user: Annotated[Id, Meta(description="receipts: of this user")] | None = None


class VerifyQuery(Body):
    channel: Annotated[str, Meta(max_length=64, description="only this channel")] | None = None


spec = {
    "/api/archive/messages": {
        "get": {
            "summary": "Find stored messages, each with who has and who read it "
            "(supervisor, admin)",
            "parameters": [Query(MessagesQuery)],
            "responses": {
                **ok(ArchivePage),
                **error_responses(400, 401, 403, 503),
            },
        }
    },
    "/api/archive/people": {
        "get": {
            "summary": "Every account by name, role and unit or delegation: what the archive's "
            "sender filter is picked from (supervisor, admin)",
            "responses": {**ok(People), **error_responses(401, 403, 503)},
        }
    },
    "/api/archive/export/{dataset}": {
        "get": {
            "summary": "Download messages, receipts, items, item events, attendance or notices as CSV "
            "(UTF-8 with BOM) or JSON Lines, streamed (supervisor, admin)",
            "parameters": [
                {
                    "name": "dataset",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": list(export.DATASETS)},
                },
                Query(ExportQuery),
            ],
            "responses": {
                "200": {
                    "description": "the rows",
                    "content": {"text/csv": {}, "application/x-ndjson": {}},
                },
                **error_responses(400, 401, 403, 503),
            },
        }
    },
    "/api/archive/verify": {
        "get": {
            "summary": "Recompute the hash chains; the first broken link of each channel "
            "(supervisor, admin)",
            "parameters": [Query(VerifyQuery)],
            "responses": {
                **ok(VerifyReport),
                **error_responses(400, 401, 403, 503),
            },
        }
    },
}
