"""The roster import (代表名册导入): preview a CSV or XLSX file, then import it
(``hub.session.roster``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, path_int, principal, query, services
from hub.api.documents import check_upload_headers
from hub.api.meetings import MEETING_ID
from hub.api.openapi import error_responses, json_body, ok
from hub.errors import BadRequest, TooLarge
from hub.node import Node
from hub.session import roster
from hub.session.documents import FileName, clean_filename
from hub.session.members import Member
from hub.session.roster_sheet import MAX_BYTES
from hub.shapes import Body, Query, Shape, Verbatim

Step = Callable[[Node, Member, int, bytes, str], Awaitable[dict[str, Any]]]


async def _file(request: Request) -> bytes:
    """The request body (the file's bytes), at most ``MAX_BYTES``; read no further."""
    check_upload_headers(request, MAX_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise TooLarge(f"the roster file is over {MAX_BYTES} bytes", limit=MAX_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def _endpoint(step: Step) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        me = await principal(request)
        s = services(request)
        mid = path_int(request)
        # Who may, before a byte of the file is read.
        await roster.check_importer(s.node, me, mid)
        raw_name = query(request, RosterQuery).filename
        filename = clean_filename(raw_name) if raw_name else ""
        data = await _file(request)
        if not data:
            raise BadRequest("send the file's bytes as the request body", field="file")
        return JSON(await step(s.node, me, mid, data, filename))

    return handle


async def issue_passwords(request: Request) -> Response:
    """Temporary passwords for the named accounts, answered once and never kept."""
    me = await principal(request)
    s = services(request)
    mid = path_int(request)
    await roster.check_importer(s.node, me, mid)
    d = await decode(request, PasswordsFor)
    out = await roster.issue_passwords(s.node, me, mid, d.usernames)
    return JSON(out, headers={"Cache-Control": "no-store"})


routes = [
    Route("/api/meetings/{id:int}/roster/passwords", issue_passwords, methods=["POST"]),
    Route("/api/meetings/{id:int}/roster/preview", _endpoint(roster.preview), methods=["POST"]),
    Route(
        "/api/meetings/{id:int}/roster/import", _endpoint(roster.import_roster), methods=["POST"]
    ),
]


class RosterQuery(Body):
    filename: (
        Annotated[FileName, Meta(description="the file's name, kept in the report and the log")]
        | None
    ) = None


Result = Literal["new", "updated", "unchanged", "error"]


class RosterRow(Shape):
    row: Annotated[int, Meta(description="the row's number as the spreadsheet shows it")]
    username: str
    name: str
    result: Result
    changes: Annotated[
        list[str],
        Meta(
            description="what an update changes (names of fields, never their values): "
            + ", ".join(roster.FIELDS)
        ),
    ]
    errors: Annotated[
        list[dict[str, Any]],
        Meta(description="each a `code` with its parameters (column, role, first, value …)"),
    ]


class RosterMeeting(Shape):
    id: int
    title: str


class RosterCounts(Shape):
    new: int
    updated: int
    unchanged: int
    error: int


class RosterReport(Shape):
    """What an import does (or, previewed, would do), row by row."""

    meeting: RosterMeeting
    filename: str
    sha256: str
    format: Literal["csv", "xlsx"]
    encoding: str | None
    sheet: str | None
    header_row: int | None
    columns: Annotated[dict[str, str], Meta(description="each column's header and its field")]
    unknown_columns: list[str]
    ignored_columns: list[str]
    counts: RosterCounts
    created_delegations: list[str]
    created_units: list[str]
    rows: list[RosterRow]
    imported: bool
    written: bool


class PasswordsFor(Body):
    usernames: Annotated[
        list[Verbatim],
        Meta(
            max_length=roster.ISSUE_MAX,
            description="the accounts (usernames) to give a temporary password, e.g. those "
            "an import created",
        ),
    ]


IssueSkip = Literal["not_found", "not_allowed", "inactive", "has_password"]


class IssuedPassword(Shape):
    username: str
    name: str
    role: str
    delegation: str | None
    unit: str | None
    password: Annotated[
        str, Meta(description="the temporary password: shown here once, never stored in clear")
    ]


class SkippedAccount(Shape):
    username: str
    reason: Annotated[
        IssueSkip,
        Meta(
            description="no such account; not one the caller may give a password to; "
            "deactivated; or it has its own password already"
        ),
    ]


class IssuedPasswords(Shape):
    meeting: RosterMeeting
    issued: list[IssuedPassword]
    skipped: list[SkippedAccount]


PARAMS = [MEETING_ID, Query(RosterQuery)]
BODY = {
    "required": True,
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
}
WHO = (
    "an admin, or the secretariat of the meeting (deputies only). The body is the file's "
    f"bytes: CSV (UTF-8, UTF-16 or GBK) or XLSX, at most {MAX_BYTES} bytes."
)
spec = {
    "/api/meetings/{id}/roster/passwords": {
        "post": {
            "summary": "Give each named account that has no password of its own a temporary "
            "password, answered here once (`Cache-Control: no-store`; never stored in clear, "
            "never logged, not kept for an `Idempotency-Key` repeat): it only lets its holder "
            "choose their own (`POST /api/login/first`). An admin, for any account but an "
            "admin's; the secretariat, for the deputies of its meeting. Appends "
            "roster.passwords_issued on desk:<id> naming the accounts",
            "parameters": [MEETING_ID],
            "requestBody": json_body(PasswordsFor),
            "responses": {**ok(IssuedPasswords), **error_responses(400, 401, 403, 404, 503)},
        }
    },
    "/api/meetings/{id}/roster/preview": {
        "post": {
            "summary": "Preview a roster import: each row's result (new, updated, unchanged, "
            "error with its reasons) and the delegations and units it would create; writes "
            "nothing. " + WHO,
            "parameters": PARAMS,
            "requestBody": BODY,
            "responses": {**ok(RosterReport), **error_responses(400, 401, 403, 404, 413)},
        }
    },
    "/api/meetings/{id}/roster/import": {
        "post": {
            "summary": "Import a roster in one transaction: every row, or nothing (409 "
            "`conflict` with reason `roster_errors` and the `report` if any row is in "
            "error). The same file again writes nothing. An import that changes something "
            "appends roster.imported on desk:<id>. " + WHO,
            "parameters": PARAMS,
            "requestBody": BODY,
            "responses": {**ok(RosterReport), **error_responses(400, 401, 403, 404, 409, 413, 503)},
        }
    },
}
