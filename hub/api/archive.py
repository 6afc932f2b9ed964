"""The archive (supervisors and admins): search, export and verify the stored record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from hub.api import JSON, download_route, principal, query_int, services
from hub.api.channels import MESSAGE
from hub.api.openapi import BOOL, INT, PERSON, STR, error_responses, obj, ok
from hub.errors import BadRequest
from hub.session.channels import parse_congress_channel
from hub.store.log import db_errors
from hub.supervision import export
from hub.supervision.archive import MAX_PAGE, Filters, search
from hub.supervision.verify import PROBLEMS, verify_log

AUDITORS = ("supervisor", "admin")


def congress_tz(request: Request) -> tzinfo:
    """The zone (``HUB_TIMEZONE``) in which a bare date such as ``since=2026-03-01`` starts."""
    return services(request).clock.tz


def now(request: Request) -> datetime:
    """The hub's time (``services.clock``, which tests may set)."""
    return services(request).clock.now()


async def archive_messages(request: Request) -> Response:
    await principal(request, roles=AUDITORS)
    f = Filters.parse(request.query_params, congress_tz(request))
    limit = query_int(request, "limit", 50, 1, MAX_PAGE)
    order = request.query_params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise BadRequest("`order` must be asc (oldest first) or desc")
    with_receipts = request.query_params.get("receipts", "1") != "0"
    async with services(request).log.reading() as conn:
        page = await search(
            conn,
            f,
            limit,
            request.query_params.get("cursor") or None,
            order == "desc",
            with_receipts,
        )
    return JSON(page.as_dict())


async def export_dataset(request: Request) -> Response:
    await principal(request, roles=AUDITORS)
    name = request.path_params["dataset"]
    fmt = request.query_params.get("format", "csv")
    if fmt not in export.FORMATS:
        raise BadRequest("`format` must be csv or jsonl")
    f = Filters.parse(request.query_params, congress_tz(request))
    ds = export.dataset(name, request.query_params, f, fmt)
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
    channel = request.query_params.get("channel") or None
    if channel is not None:
        channel = parse_congress_channel(channel).name
    report = await verify_log(services(request).engine, channel)
    return JSON(report.as_dict())


routes = [
    Route("/api/archive/messages", archive_messages, methods=["GET"]),
    download_route("/api/archive/export/{dataset}", export_dataset),
    Route("/api/archive/verify", verify, methods=["GET"]),
]


def _q(name: str, schema: Mapping[str, object], description: str) -> dict[str, object]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


ID = {"type": "integer", "minimum": 1}
FILTERS = [
    _q("channel", STR, "one channel, e.g. meeting:1"),
    _q("kind", STR, "message kind, e.g. notice"),
    _q("sender", ID, "sender's user id"),
    _q("unit", ID, "the unit's channel unit:<id>"),
    _q("deputy", ID, "the deputy's inbox deputy:<id>, or sent by the deputy"),
    _q(
        "delegation",
        ID,
        "the delegation's channel delegation:<id>, its deputies' inboxes, or sent by them",
    ),
    _q("meeting", ID, "meeting:<id> and desk:<id>"),
    _q("since", STR, "from (inclusive): 2026-03-01 or an ISO timestamp with zone"),
    _q("until", STR, "to (exclusive): 2026-03-02 or an ISO timestamp with zone"),
    _q("q", STR, "text contained in the body"),
]
RECEIPT = obj(
    ["user", "delivered_at", "read_at"],
    user=PERSON,
    delivered_at={"type": ["string", "null"]},
    read_at={"type": ["string", "null"]},
)
ARCHIVED = {
    **MESSAGE,
    "properties": {
        **MESSAGE["properties"],
        "recipients": {"type": ["integer", "null"]},
        "receipts": {"type": "array", "items": RECEIPT},
    },
}
BREAK = obj(
    ["channel", "seq", "problem", "detail"],
    channel=STR,
    seq=INT,
    problem={"enum": list(PROBLEMS)},
    detail=STR,
    id={"type": ["integer", "null"]},
)
spec = {
    "/api/archive/messages": {
        "get": {
            "summary": "Find stored messages, each with who has and who read it "
            "(supervisor, admin)",
            "parameters": [
                *FILTERS,
                _q("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "page size"),
                _q("cursor", STR, "`next` of the previous page"),
                _q("order", {"enum": ["asc", "desc"]}, "by message id; asc is oldest first"),
                _q("receipts", {"enum": ["0", "1"]}, "0 leaves the receipts out"),
            ],
            "responses": {
                **ok(
                    obj(
                        ["messages", "next"],
                        messages={"type": "array", "items": ARCHIVED},
                        next={"type": ["string", "null"]},
                    )
                ),
                **error_responses(400, 401, 403, 503),
            },
        }
    },
    "/api/archive/export/{dataset}": {
        "get": {
            "summary": "Download messages, receipts, items, item events or attendance as CSV "
            "(UTF-8 with BOM) or JSON Lines, streamed (supervisor, admin)",
            "parameters": [
                {
                    "name": "dataset",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": list(export.DATASETS)},
                },
                _q("format", {"enum": list(export.FORMATS)}, "csv (default) or jsonl"),
                _q("user", ID, "receipts: of this user"),
                *FILTERS,
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
            "parameters": [_q("channel", STR, "only this channel")],
            "responses": {
                **ok(
                    obj(
                        ["ok", "channels", "messages", "anchor", "breaks"],
                        ok=BOOL,
                        channels=INT,
                        messages=INT,
                        anchor=STR,
                        breaks={"type": "array", "items": BREAK},
                    )
                ),
                **error_responses(400, 401, 403, 503),
            },
        }
    },
}
