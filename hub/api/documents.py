"""Meeting documents: upload (secretariat), list, open (recorded), who opened
(``hub.session.documents``)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from hub.api import JSON, download_route, path_int, principal, query, services
from hub.api.meetings import MEETING_ID
from hub.api.openapi import error_responses, ok, path_id
from hub.errors import BadRequest, NotFound, TooLarge
from hub.session import documents as docs
from hub.shapes import Query


def check_upload_headers(request: Request, limit: int) -> None:
    """Before the body is read: a declared length over ``limit`` is ``too_large``, a
    multipart form a ``bad_request`` (an upload's body is the file's bytes)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the file is over the upload limit of {limit} bytes")
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise BadRequest("send the file's bytes as the request body, not as a multipart form")


async def upload(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    mid = path_int(request)
    limit = s.settings.upload_limit
    q = query(request, docs.UploadQuery)
    filename = docs.clean_filename(q.filename)
    title = q.title or filename
    check_upload_headers(request, limit)
    await docs.check_can_upload(s.node, me, mid)
    async with docs.staged_blob(s.settings.data_dir, request.stream(), limit) as blob:
        out = await docs.add_document(
            s.node,
            me,
            mid,
            title=title,
            filename=filename,
            content_type=request.headers.get("content-type") or "application/octet-stream",
            blob=blob,
        )
    return JSON(out, status_code=201)


async def list_documents(request: Request) -> Response:
    me = await principal(request)
    out = await docs.list_documents(services(request).node, me, path_int(request))
    return JSON({"documents": out})


async def open_document(request: Request) -> Response:
    me = await principal(request)
    s = services(request)
    d = await docs.open_document(s.node, me, path_int(request))
    missing = f"the file of document {d['id']} is missing from the store"
    return stored_file(request, d["sha256"], d["content_type"], d["filename"], "inline", missing)


def stored_file(
    request: Request, sha256: str, content_type: str, name: str, how: str, missing: str
) -> FileResponse:
    """An uploaded file from the store, opened ``inline`` or saved (``attachment``) as
    ``name``; :class:`NotFound` saying ``missing`` when its blob is gone."""
    path = docs.blob_path(services(request).settings.data_dir, sha256)
    if not path.is_file():
        raise NotFound(missing)
    return FileResponse(
        path,
        media_type=content_type,
        headers={
            "content-disposition": f"{how}; filename*=utf-8''{quote(name)}",
            "x-content-type-options": "nosniff",
            # an uploaded HTML or SVG file opened in the browser runs no script here
            "content-security-policy": "sandbox",
        },
    )


async def opens(request: Request) -> Response:
    me = await principal(request)
    return JSON(await docs.document_opens_of(services(request).node, me, path_int(request)))


routes = [
    Route("/api/meetings/{id:int}/documents", list_documents, methods=["GET"]),
    Route("/api/meetings/{id:int}/documents", upload, methods=["POST"]),
    download_route("/api/documents/{id:int}", open_document),
    Route("/api/documents/{id:int}/opens", opens, methods=["GET"]),
]

DOC_ID = path_id("id", "document id")
spec = {
    "/api/meetings/{id}/documents": {
        "get": {
            "summary": "The meeting's documents (participants and staff)",
            "parameters": [MEETING_ID],
            "responses": {**ok(docs.Documents), **error_responses(401, 403, 404)},
        },
        "post": {
            "summary": "Upload a document (secretariat): the request body is the file's bytes, "
            "Content-Type its type; at most HUB_UPLOAD_LIMIT bytes. Publishes document.added "
            "on meeting:<id>",
            "parameters": [MEETING_ID, Query(docs.UploadQuery)],
            "requestBody": {
                "required": True,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {
                **ok(docs.Document, 201),
                **error_responses(400, 401, 403, 404, 413, 503),
            },
        },
    },
    "/api/documents/{id}": {
        "get": {
            "summary": "Open a document: its bytes (inline). An open is recorded once per "
            "person per minute. A browser link carries ?download=<token> from POST "
            "/api/downloads",
            "parameters": [DOC_ID],
            "responses": {
                "200": {
                    "description": "the file",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **error_responses(401, 403, 404),
            },
        }
    },
    "/api/documents/{id}/opens": {
        "get": {
            "summary": "Who opened a document and when (secretariat, supervisor, admin)",
            "parameters": [DOC_ID],
            "responses": {**ok(docs.DocumentOpens), **error_responses(401, 403, 404)},
        }
    },
}
